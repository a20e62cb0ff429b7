//! Mailbox names as they go over the wire: modified UTF-7 for non-ASCII (RFC 3501 5.1.3),
//! quoting for the commands async-imap sends as given (LIST's pattern), the personal namespace
//! (RFC 2342) under which our folders belong, and the server's answer in one readable line.
//! Pure functions; the I/O is in the mailbox worker.

/// A mailbox name in modified UTF-7: printable ASCII stays as it is (`&` becomes `&-`), any
/// other run of characters becomes `&` + base64 of its UTF-16 (with `,` for `/`) + `-`.
pub fn encode_utf7(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut pending: Vec<u16> = Vec::new();
    let flush = |pending: &mut Vec<u16>, out: &mut String| {
        if pending.is_empty() {
            return;
        }
        let bytes: Vec<u8> = pending.iter().flat_map(|u| u.to_be_bytes()).collect();
        out.push('&');
        out.push_str(&base64_modified(&bytes));
        out.push('-');
        pending.clear();
    };
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut pending, &mut out);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut units = [0u16; 2];
            pending.extend_from_slice(c.encode_utf16(&mut units));
        }
    }
    flush(&mut pending, &mut out);
    out
}

/// Base64 with `,` instead of `/` and no padding, as modified UTF-7 wants it.
fn base64_modified(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// A quoted string for a command argument that async-imap passes on as it is.
pub fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The personal namespace of a server: the prefix our folders go under and its delimiter.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Namespace {
    pub prefix: String,
    pub delimiter: Option<char>,
}

impl Namespace {
    /// The name on the wire of a configured folder: encoded, and under the personal namespace
    /// unless it is INBOX or already given with the prefix.
    pub fn folder(&self, configured: &str) -> String {
        let encoded = encode_utf7(configured);
        if self.prefix.is_empty() || encoded.eq_ignore_ascii_case("INBOX") || encoded.starts_with(&self.prefix) {
            encoded
        } else {
            format!("{}{encoded}", self.prefix)
        }
    }
}

/// The first personal namespace of an untagged NAMESPACE response
/// (`* NAMESPACE (("INBOX." ".")) NIL NIL`); `None` if the line is not one or names none.
pub fn parse_namespace(line: &str) -> Option<Namespace> {
    let rest = line.strip_prefix("* NAMESPACE ")?.trim_start();
    let rest = rest.strip_prefix("((")?;
    let (prefix, rest) = imap_string(rest)?;
    let (delimiter, _) = imap_string(rest.trim_start())?;
    Some(Namespace { prefix: prefix?, delimiter: delimiter.and_then(|d| d.chars().next()) })
}

/// One quoted string or NIL at the start of `text`, and what follows it.
fn imap_string(text: &str) -> Option<(Option<String>, &str)> {
    if let Some(rest) = text.strip_prefix("NIL") {
        return Some((None, rest));
    }
    let mut chars = text.strip_prefix('"')?.char_indices();
    let mut value = String::new();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => value.push(chars.next()?.1),
            '"' => return Some((Some(value), &text[i + 2..])),
            c => value.push(c),
        }
    }
    None
}

/// The server's refusal in one line, as it said it: `NO Permission denied`, not async-imap's
/// `No Response: code: None, info: Some("Permission denied")`.
pub fn server_said(e: &async_imap::error::Error) -> String {
    let (word, text) = match e {
        async_imap::error::Error::No(text) => ("NO", text),
        async_imap::error::Error::Bad(text) => ("BAD", text),
        other => return other.to_string(),
    };
    let info = text.split_once("info: Some(\"").and_then(|(_, rest)| rest.rsplit_once("\")")).map(|(info, _)| info.replace("\\\"", "\""));
    format!("{word} {}", info.as_deref().unwrap_or(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_names_stay_and_others_are_modified_utf7() {
        assert_eq!(encode_utf7("Klachten verwerkt"), "Klachten verwerkt");
        assert_eq!(encode_utf7("A&B"), "A&-B");
        // RFC 3501's own example, and a Dutch one.
        assert_eq!(encode_utf7("~peter/mail/台北/日本語"), "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
        assert_eq!(encode_utf7("Afgehandeld-geëxporteerd"), "Afgehandeld-ge&AOs-xporteerd");
        assert_eq!(encode_utf7("€"), "&IKw-");
    }

    #[test]
    fn quoting_escapes_quotes_and_backslashes() {
        assert_eq!(quoted("Klachten verwerkt"), "\"Klachten verwerkt\"");
        assert_eq!(quoted(r#"a"b\c"#), r#""a\"b\\c""#);
    }

    #[test]
    fn the_personal_namespace_is_read_from_the_response() {
        assert_eq!(parse_namespace(r#"* NAMESPACE (("INBOX." ".")) NIL NIL"#), Some(Namespace { prefix: "INBOX.".into(), delimiter: Some('.') }));
        assert_eq!(
            parse_namespace(r#"* NAMESPACE (("" "/")) (("Other Users/" "/")) (("Public/" "/"))"#),
            Some(Namespace { prefix: String::new(), delimiter: Some('/') })
        );
        assert_eq!(parse_namespace(r#"* NAMESPACE (("" NIL)) NIL NIL"#), Some(Namespace { prefix: String::new(), delimiter: None }));
        assert_eq!(parse_namespace("* NAMESPACE NIL NIL NIL"), None);
        assert_eq!(parse_namespace("* OK hello"), None);
    }

    #[test]
    fn folders_go_under_the_namespace_unless_given_with_it() {
        let cyrus = Namespace { prefix: "INBOX.".into(), delimiter: Some('.') };
        assert_eq!(cyrus.folder("Klachtd-Verwerkt"), "INBOX.Klachtd-Verwerkt");
        assert_eq!(cyrus.folder("INBOX.Klachten"), "INBOX.Klachten");
        assert_eq!(cyrus.folder("INBOX"), "INBOX");
        assert_eq!(cyrus.folder("Geëxporteerd"), "INBOX.Ge&AOs-xporteerd");
        assert_eq!(Namespace::default().folder("Klachtd-Verwerkt"), "Klachtd-Verwerkt");
    }

    #[test]
    fn refusals_read_as_the_server_said_them() {
        let no = async_imap::error::Error::No("code: None, info: Some(\"Permission denied\")".into());
        assert_eq!(server_said(&no), "NO Permission denied");
    }
}
