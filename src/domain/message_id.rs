//! Message-IDs of the mail klachtd writes.

/// A Message-ID (without brackets): `TAG.RANDOM@DOMAIN`, where the tag (e.g.
/// `KL-2026-0001.ack`) tells a handler reading headers which case and letter it was, and
/// `random` (from the caller's random source) makes it unique.
pub fn message_id(tag: &str, domain: &str, random: &[u8; 8]) -> String {
    format!("{tag}.{}@{domain}", super::inbound::hex(random))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_letter_and_the_domain() {
        assert_eq!(message_id("KL-2026-0001.ack", "dienst.test", &[0, 1, 2, 0xab, 4, 5, 6, 0xff]), "KL-2026-0001.ack.000102ab040506ff@dienst.test");
    }
}
