//! Case references such as `KL-2026-0001`: what complainants quote in their replies; and a
//! case's row id, which the store hands out and takes back.

use std::fmt;
use std::str::FromStr;

/// A case reference: prefix, year of registration and a sequence number within that year.
/// Ordered by prefix, year and number (so `KL-2026-10000` comes after `KL-2026-9999`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CaseRef {
    prefix: String,
    year: i32,
    number: u32,
}

impl CaseRef {
    pub fn new(prefix: &str, year: i32, number: u32) -> Self {
        Self { prefix: prefix.to_ascii_uppercase(), year, number }
    }

    /// Parses a whole string as a reference (`KL-2026-0001`, case-insensitive).
    pub fn parse(s: &str, prefix: &str) -> Option<Self> {
        let s = s.trim();
        let (p, rest) = s.split_once('-')?;
        if !p.eq_ignore_ascii_case(prefix) {
            return None;
        }
        let (year, number) = rest.split_once('-')?;
        if year.len() != 4 || !all_digits(year) || number.len() < 4 || number.len() > 9 || !all_digits(number) {
            return None;
        }
        Some(Self::new(prefix, year.parse().ok()?, number.parse().ok()?))
    }

    /// Parses a whole string as a reference with any prefix of 1-8 letters, as
    /// `organisation.reference_prefix` allows: the shape of a reference typed by a person,
    /// before the store says whether the case exists.
    pub fn parse_any(s: &str) -> Option<Self> {
        let prefix = s.trim().split_once('-')?.0;
        let letters = !prefix.is_empty() && prefix.len() <= 8 && prefix.bytes().all(|b| b.is_ascii_alphabetic());
        letters.then(|| Self::parse(s, prefix)).flatten()
    }

    /// Every reference with our prefix that occurs in a text such as a subject line,
    /// e.g. `Re: [KL-2026-0001] Ontvangstbevestiging`.
    pub fn find_all(text: &str, prefix: &str) -> Vec<Self> {
        let mut found = Vec::new();
        let bytes = text.as_bytes();
        let plen = prefix.len();
        let mut i = 0;
        while i + plen <= bytes.len() {
            let at_word_start = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
            if at_word_start && bytes[i..i + plen].eq_ignore_ascii_case(prefix.as_bytes()) {
                let end = bytes[i + plen..].iter().position(|b| !(b.is_ascii_alphanumeric() || *b == b'-')).map_or(bytes.len(), |p| i + plen + p);
                if let Some(r) = Self::parse(&text[i..end], prefix) {
                    if !found.contains(&r) {
                        found.push(r);
                    }
                }
                i = end.max(i + 1);
            } else {
                i += 1;
            }
        }
        found
    }

    /// Every reference in `text`, also as people write them by hand: `KL 2026 0005`,
    /// `KL2026-0005`, `KL/2026/0005`, `kl-2026-5`. Separators are a hyphen, space, slash, dot or
    /// underscore (none between prefix and year); a number of fewer than four digits only
    /// between hyphens, so a time or an amount after a year is no reference.
    pub fn find_loose(text: &str, prefix: &str) -> Vec<Self> {
        let mut found = Vec::new();
        let bytes = text.as_bytes();
        let plen = prefix.len();
        let sep = |b: u8| matches!(b, b'-' | b' ' | b'/' | b'.' | b'_');
        let digits_at = |i: usize| bytes[i.min(bytes.len())..].iter().take_while(|b| b.is_ascii_digit()).count();
        for i in 0..bytes.len().saturating_sub(plen) {
            let at_word_start = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
            if !at_word_start || !bytes[i..i + plen].eq_ignore_ascii_case(prefix.as_bytes()) {
                continue;
            }
            let mut j = i + plen;
            let first_sep = bytes.get(j).copied().filter(|b| sep(*b));
            if first_sep.is_some() {
                j += 1;
            }
            if digits_at(j) != 4 {
                continue;
            }
            let year = &text[j..j + 4];
            j += 4;
            let Some(second_sep) = bytes.get(j).copied().filter(|b| sep(*b)) else { continue };
            j += 1;
            let n = digits_at(j);
            let short_ok = first_sep == Some(b'-') && second_sep == b'-';
            let ends_word = bytes.get(j + n).is_none_or(|b| !b.is_ascii_alphanumeric());
            if n == 0 || n > 9 || (n < 4 && !short_ok) || !ends_word {
                continue;
            }
            if let (Ok(year), Ok(number)) = (year.parse(), text[j..j + n].parse()) {
                let r = Self::new(prefix, year, number);
                if number > 0 && !found.contains(&r) {
                    found.push(r);
                }
            }
        }
        found
    }

    /// References in the opening of a mail's text: its first [`OPENING_LINES`] lines that are
    /// not quotes (`>`), where a writer says what the mail is about ("over mijn klacht met
    /// kenmerk KL 2026 0016", also written loosely, see [`Self::find_loose`]). A reference deep
    /// in a quoted thread or a signature is not the mail's own subject.
    pub fn find_in_opening(text: &str, prefix: &str) -> Vec<Self> {
        let opening: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('>')).take(OPENING_LINES).collect();
        Self::find_loose(&opening.join("\n"), prefix)
    }

    pub fn year(&self) -> i32 {
        self.year
    }
}

/// A text that is no case reference, where one was asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a case reference such as KL-2026-0001")]
pub struct NotAReference(pub String);

/// A reference with any prefix (see [`CaseRef::parse_any`]), as a person types one.
impl FromStr for CaseRef {
    type Err = NotAReference;
    fn from_str(s: &str) -> Result<Self, NotAReference> {
        Self::parse_any(s).ok_or_else(|| NotAReference(s.to_string()))
    }
}

impl serde::Serialize for CaseRef {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A case's row id: what the store knows a case by once it has found it by its reference.
/// Only the store makes one (from a row it read), so an id is never confused with another
/// number, such as a message's or an outgoing mail's row id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CaseId(i64);

impl CaseId {
    /// The id as the database stores it; for the store, which binds it.
    pub fn new(id: i64) -> Self {
        Self(id)
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for CaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// How many non-empty lines of a mail's text count as its opening.
pub const OPENING_LINES: usize = 10;

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

impl fmt::Display for CaseRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{:04}", self.prefix, self.year, self.number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_four_digits_at_least() {
        assert_eq!(CaseRef::new("kl", 2026, 7).to_string(), "KL-2026-0007");
        assert_eq!(CaseRef::new("KL", 2026, 12345).to_string(), "KL-2026-12345");
    }

    #[test]
    fn parses_round_trip_and_rejects_noise() {
        let r = CaseRef::parse("kl-2026-0042", "KL").unwrap();
        assert_eq!(r.to_string(), "KL-2026-0042");
        assert!(CaseRef::parse("KL-26-0042", "KL").is_none());
        assert!(CaseRef::parse("XX-2026-0042", "KL").is_none());
        assert!(CaseRef::parse("KL-2026-", "KL").is_none());
        assert!(CaseRef::parse("KL-2026-42", "KL").is_none());
        assert_eq!(CaseRef::parse_any("wp-2026-0042").map(|r| r.to_string()).as_deref(), Some("WP-2026-0042"));
        for bad in ["KL-2026-0001\0", "K1-2026-0001", "ABCDEFGHI-2026-0001", "-2026-0001", "KL 2026 0001", "KL-2026-0001/../x"] {
            assert!(CaseRef::parse_any(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn finds_references_in_subjects() {
        let found = CaseRef::find_all("Re: AW: [KL-2026-0001] Ontvangstbevestiging", "KL");
        assert_eq!(found, vec![CaseRef::new("KL", 2026, 1)]);
        let two = CaseRef::find_all("KL-2026-0001 en kl-2025-0100, KL-2026-0001", "KL");
        assert_eq!(two.len(), 2);
        assert!(CaseRef::find_all("SKL-2026-0001 BKL-2026-0002x", "KL").is_empty());
        assert!(CaseRef::find_all("geen kenmerk", "KL").is_empty());
    }

    #[test]
    fn finds_references_in_the_opening_of_a_text_only() {
        let text = "Geachte heer,\n\nOver mijn klacht met kenmerk KL-2026-0016: er is nog niets gebeurd.\n";
        assert_eq!(CaseRef::find_in_opening(text, "KL"), vec![CaseRef::new("KL", 2026, 16)]);
        let quoted = "Nog een vraag.\n\n> Uw klacht is geregistreerd onder KL-2026-0002.\n";
        assert!(CaseRef::find_in_opening(quoted, "KL").is_empty(), "a quote is not the mail's own subject");
        let late = format!("{}Zie ook KL-2026-0003", "regel\n".repeat(OPENING_LINES));
        assert!(CaseRef::find_in_opening(&late, "KL").is_empty());
    }

    #[test]
    fn finds_references_written_by_hand() {
        let want = vec![CaseRef::new("KL", 2026, 5)];
        for text in ["kenmerk KL 2026 0005.", "KL2026-0005", "(kl/2026/0005)", "KL.2026.0005", "kl-2026-5", "KL-2026-0005", "KL_2026_0005"] {
            assert_eq!(CaseRef::find_loose(text, "KL"), want, "{text}");
        }
        for text in ["KL 2026 5 euro", "SKL 2026 0005", "KL 2026 00051234567890", "KL 26 0005", "KL 2026 0005x", "kl 2026 12:30", "KL-2026-0"] {
            assert!(CaseRef::find_loose(text, "KL").is_empty(), "{text}");
        }
        assert_eq!(CaseRef::find_in_opening("Over KL 2026 0016 nog iets.", "KL"), vec![CaseRef::new("KL", 2026, 16)]);
    }
}
