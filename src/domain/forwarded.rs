//! Who really complained when a colleague or a representative forwards a complaint: the
//! original sender and date, from an attached message or from the header block that mail
//! clients write above an inline forward. The acknowledgement still goes to whoever wrote to
//! us; this only tells the handler.

use super::text::single_line;

/// The original sender and date of a forwarded mail, as the forward shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forwarded {
    pub name: Option<String>,
    /// Lower-cased; `None` when the forward shows a name only (Outlook does for contacts).
    pub address: Option<String>,
    /// The date as the forward writes it (clients and languages differ; it is for a person).
    pub date: Option<String>,
}

impl Forwarded {
    /// "Name <address>", or whichever of the two is known.
    pub fn sender(&self) -> Option<String> {
        match (&self.name, &self.address) {
            (Some(n), Some(a)) => Some(format!("{n} <{a}>")),
            (Some(n), None) => Some(n.clone()),
            (None, Some(a)) => Some(a.clone()),
            (None, None) => None,
        }
    }
}

/// Subject prefixes of a forward: English, Dutch (Outlook "Doorst:"), German, French, Spanish.
pub fn is_forward_subject(subject: &str) -> bool {
    let lower = subject.trim_start().to_lowercase();
    ["fwd:", "fw:", "doorst:", "doorgestuurd:", "wg:", "tr:", "rv:", "fwd ", "[fwd:"].iter().any(|p| lower.starts_with(p))
}

/// Lines that only ever introduce a forwarded message (Gmail, Thunderbird, Apple Mail, in
/// English and Dutch). Outlook's "-----Original Message-----" also heads replies, so it counts
/// only under a forward subject.
fn is_forward_marker(line: &str, forward_subject: bool) -> bool {
    let l = line.trim().trim_matches(|c: char| c == '-' || c.is_whitespace()).to_lowercase();
    matches!(l.as_str(), "forwarded message" | "doorgestuurd bericht" | "begin forwarded message:" | "begin doorgestuurd bericht:")
        || (forward_subject && matches!(l.as_str(), "original message" | "oorspronkelijk bericht"))
}

/// The original sender of an inline forward in `text`: the first header block after a forward
/// marker, or (under a forward subject) the first Outlook-style "From:/Van:" block.
pub fn inline(subject: &str, text: &str) -> Option<Forwarded> {
    let lines: Vec<&str> = text.lines().collect();
    let forward_subject = is_forward_subject(subject);
    let start = match lines.iter().position(|l| is_forward_marker(l, forward_subject)) {
        Some(i) => i + 1,
        None if forward_subject => lines.iter().position(|l| field(l, &["from", "van"]).is_some())?,
        None => return None,
    };
    let mut found = Forwarded { name: None, address: None, date: None };
    let mut seen_from = false;
    // The block is a few lines (From, Sent/Date, To, Cc, Subject); Outlook may put a blank
    // line or an underscore rule above it.
    for line in lines.iter().skip(start).take(12) {
        let line = line.trim_start_matches('>').trim();
        if line.is_empty() || line.starts_with("___") {
            if seen_from {
                break;
            }
            continue;
        }
        if let Some(value) = field(line, &["from", "van", "von", "de"]) {
            let (name, address) = person(value);
            found.name = name;
            found.address = address;
            seen_from = true;
        } else if let Some(value) = field(line, &["date", "datum", "sent", "verzonden", "gesendet", "envoyé"]) {
            found.date = Some(single_line(value, 100)).filter(|d| !d.is_empty());
        }
    }
    seen_from.then_some(found).filter(|f| f.name.is_some() || f.address.is_some())
}

/// The value of `Name: value` when the name (case-insensitive, `*Name:*` of Outlook's bold
/// HTML turned to text too) is one of `names`.
fn field<'a>(line: &'a str, names: &[&str]) -> Option<&'a str> {
    let (key, value) = line.split_once(':')?;
    let key = key.trim().trim_matches('*').trim().to_lowercase();
    names.contains(&key.as_str()).then(|| value.trim().trim_start_matches('*').trim())
}

/// "Jan de Vries <jan@example.nl>", "Jan de Vries [mailto:jan@example.nl]", "jan@example.nl"
/// or a bare name.
pub fn person(value: &str) -> (Option<String>, Option<String>) {
    let value = value.trim();
    for (open, close) in [('<', '>'), ('[', ']')] {
        if let (Some(a), Some(b)) = (value.rfind(open), value.rfind(close)) {
            if a < b {
                let inner = value[a + 1..b].trim();
                let inner = inner.strip_prefix("mailto:").unwrap_or(inner);
                if looks_like_address(inner) {
                    let name = single_line(value[..a].trim().trim_matches('"').trim(), 200);
                    return ((!name.is_empty()).then_some(name), Some(inner.to_ascii_lowercase()));
                }
            }
        }
    }
    if looks_like_address(value) {
        return (None, Some(value.to_ascii_lowercase()));
    }
    let name = single_line(value.trim_matches('"'), 200);
    ((!name.is_empty()).then_some(name), None)
}

fn looks_like_address(s: &str) -> bool {
    s.split_once('@').is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !s.chars().any(|c| c.is_whitespace() || c.is_control()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gmail_forward() {
        let text = "Zie onder, deze klacht kwam bij mij binnen.\n\n---------- Forwarded message ---------\nFrom: Petra Jansen <Petra.Jansen@example.nl>\n\
                    Date: Mon, 23 Nov 2026 at 09:14\nSubject: Klacht over mijn traject\nTo: <info@dienst.nl>\n\nIk ben het niet eens met...";
        let f = inline("Fwd: Klacht over mijn traject", text).unwrap();
        assert_eq!(f.name.as_deref(), Some("Petra Jansen"));
        assert_eq!(f.address.as_deref(), Some("petra.jansen@example.nl"));
        assert_eq!(f.date.as_deref(), Some("Mon, 23 Nov 2026 at 09:14"));
        assert_eq!(f.sender().unwrap(), "Petra Jansen <petra.jansen@example.nl>");
    }

    #[test]
    fn outlook_dutch_forward_with_mailto_and_rule() {
        let text = "Ter info.\n\n________________________________\nVan: Kees de Boer [mailto:kees@example.nl]\nVerzonden: maandag 23 november 2026 10:02\n\
                    Aan: Info <info@dienst.nl>\nOnderwerp: klacht\n\nGeachte heer,";
        let f = inline("Doorst: klacht", text).unwrap();
        assert_eq!((f.name.as_deref(), f.address.as_deref()), (Some("Kees de Boer"), Some("kees@example.nl")));
        assert_eq!(f.date.as_deref(), Some("maandag 23 november 2026 10:02"));
        // Outlook's HTML turned to text puts the field names in bold.
        let bold = "\n*Van:* Kees de Boer <kees@example.nl>\n*Verzonden:* maandag 23 november 2026 10:02\n";
        assert_eq!(inline("FW: klacht", bold).unwrap().address.as_deref(), Some("kees@example.nl"));
    }

    #[test]
    fn apple_mail_forward() {
        let text = "Begin forwarded message:\n\nFrom: \"An Smit\" <an@example.nl>\nSubject: Klacht\nDate: 23 November 2026 at 11:40:12 CET\nTo: info@dienst.nl\n\nTekst";
        let f = inline("Fwd: Klacht", text).unwrap();
        assert_eq!((f.name.as_deref(), f.address.as_deref()), (Some("An Smit"), Some("an@example.nl")));
        assert_eq!(f.date.as_deref(), Some("23 November 2026 at 11:40:12 CET"));
    }

    #[test]
    fn no_forward_no_original() {
        assert_eq!(inline("Klacht", "Van: mij\nIk klaag."), None, "a From-like line without forward subject or marker");
        assert_eq!(inline("Fwd: x", "alleen tekst"), None);
        // Outlook heads a quoted reply so too: under a reply subject it is no forward.
        let reply = "Mijn antwoord.\n\n-----Original Message-----\nFrom: Coach <coach@dienst.nl>\nSent: maandag\n";
        assert_eq!(inline("RE: afspraak", reply), None);
        assert_eq!(inline("FW: afspraak", reply).unwrap().address.as_deref(), Some("coach@dienst.nl"));
        assert!(is_forward_subject("FW: klacht") && is_forward_subject("Doorst: klacht") && !is_forward_subject("Forward thinking"));
    }
}
