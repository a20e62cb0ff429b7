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

/// Subject prefixes of a reply: a quoted header block under them heads a quoted reply, not a
/// forward.
pub fn is_reply_subject(subject: &str) -> bool {
    let lower = subject.trim_start().to_lowercase();
    ["re:", "antw:", "aw:", "sv:", "r:", "ref:", "réf:", "re :"].iter().any(|p| lower.starts_with(p))
}

/// Lines that only ever introduce a forwarded message (Gmail, Thunderbird, Apple Mail, in
/// English and Dutch), also when quoted with `> ` (Apple Mail forwarding a forward). Outlook's
/// "-----Original Message-----" also heads replies, so it counts only when the subject is no
/// reply's: a colleague may rewrite a forward's subject, a reply keeps its "RE:".
fn is_forward_marker(line: &str, reply_subject: bool) -> bool {
    let l = line.trim().trim_start_matches(|c: char| c == '>' || c.is_whitespace()).trim_matches(|c: char| c == '-' || c.is_whitespace()).to_lowercase();
    matches!(
        l.as_str(),
        "forwarded message"
            | "doorgestuurd bericht"
            | "begin forwarded message:"
            | "begin doorgestuurd bericht:"
            | "weitergeleitete nachricht"
            | "message transféré"
    ) || (!reply_subject
        && matches!(
            l.as_str(),
            "original message"
                | "oorspronkelijk bericht"
                | "original appointment"
                | "oorspronkelijke afspraak"
                | "ursprüngliche nachricht"
                | "message d'origine"
        ))
}

/// Whether `lines[i]` opens an Outlook-style header block: a "From:/Van:" line followed within
/// a few lines by its date and its recipient or subject.
fn opens_header_block(lines: &[&str], i: usize) -> bool {
    let clean = |l: &str| l.trim_start_matches(|c: char| c == '>' || c.is_whitespace()).to_string();
    if field(&clean(lines[i]), &["from", "van", "von", "de"]).is_none() {
        return false;
    }
    let next: Vec<String> = lines.iter().skip(i + 1).take(5).map(|l| clean(l)).collect();
    let has = |names: &[&str]| next.iter().any(|l| field(l, names).is_some());
    has(&["date", "datum", "sent", "verzonden", "gesendet", "envoyé"]) && has(&["to", "aan", "an", "à", "subject", "onderwerp", "betreff", "objet"])
}

/// Where the forwarded mails in `text` start: after each forward marker, at each Outlook-style
/// header block (unless the subject is a reply's), or under a forward subject at the first
/// "From:/Van:" line.
fn block_starts(lines: &[&str], subject: &str) -> Vec<usize> {
    let reply = is_reply_subject(subject);
    let mut starts = Vec::new();
    for i in 0..lines.len() {
        if is_forward_marker(lines[i], reply) {
            starts.push(i + 1);
        } else if !reply && opens_header_block(lines, i) && starts.last().is_none_or(|&s| s + 3 <= i) {
            starts.push(i);
        }
    }
    if starts.is_empty() && is_forward_subject(subject) {
        if let Some(i) = lines.iter().position(|l| field(l.trim_start_matches('>').trim(), &["from", "van"]).is_some()) {
            starts.push(i);
        }
    }
    starts
}

/// The original sender of an inline forward in `text`. A forward of a forward shows several
/// header blocks; the deepest one is the mail that started it, the complainant's.
pub fn inline(subject: &str, text: &str) -> Option<Forwarded> {
    let lines: Vec<&str> = text.lines().collect();
    block_starts(&lines, subject).into_iter().rev().find_map(|start| header_block(&lines, start))
}

/// What the sender wrote themselves: the text above any forwarded mail, quote (`>`), quote
/// attribution ("On ... wrote:") or signature separator.
pub fn own_text<'a>(subject: &str, text: &'a str) -> &'a str {
    let lines: Vec<&str> = text.lines().collect();
    let first_block = block_starts(&lines, subject).first().copied();
    let end = lines
        .iter()
        .enumerate()
        .position(|(i, l)| {
            let t = l.trim().to_lowercase();
            Some(i) == first_block
                || t.starts_with('>')
                || t == "--"
                || (["on ", "op ", "am ", "le ", "el "].iter().any(|p| t.starts_with(p))
                    && t.ends_with(':')
                    && [" wrote", " schreef", " schrieb", " a écrit", " escribió"].iter().any(|w| t.contains(w)))
                || is_forward_marker(l, is_reply_subject(subject))
        })
        .unwrap_or(lines.len());
    // Where that line starts in `text` (lines are slices of it).
    let offset = lines.get(end).map_or(text.len(), |l| l.as_ptr() as usize - text.as_ptr() as usize);
    &text[..offset]
}

/// The sender and date of the header block that starts at `lines[start]`.
fn header_block(lines: &[&str], start: usize) -> Option<Forwarded> {
    let mut found = Forwarded { name: None, address: None, date: None };
    let mut seen_from = false;
    // The block is a few lines (From, Sent/Date, To, Cc, Subject); Outlook may put a blank
    // line or an underscore rule above it.
    for line in lines.iter().skip(start).take(12) {
        let line = line.trim_start_matches(|c: char| c == '>' || c.is_whitespace()).trim();
        if line.is_empty() || line.starts_with("___") {
            if seen_from {
                break;
            }
            continue;
        }
        if let Some(value) = field(line, &["from", "van", "von", "de"]) {
            if seen_from {
                break;
            }
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

    #[test]
    fn apple_mail_quoted_forward_and_rewritten_subjects() {
        // Apple Mail forwarding a forward quotes the inner header block with "> ".
        let quoted = "Zie hieronder.\n\n> Begin forwarded message:\n> \n> From: An Smit <an@example.nl>\n> Subject: Klacht\n> Date: 23 November 2026 at 11:40:12 CET\n> To: info@dienst.nl\n> \n> Tekst";
        assert_eq!(inline("Klacht van mevrouw Smit", quoted).unwrap().address.as_deref(), Some("an@example.nl"));
        // A colleague who rewrote the subject of an Outlook forward: the block itself tells.
        let outlook = "Kun jij dit oppakken?\n\nVan: Kees de Boer <kees@example.nl>\nVerzonden: maandag 23 november 2026 10:02\nAan: Info <info@dienst.nl>\nOnderwerp: klacht\n\nGeachte heer,";
        assert_eq!(inline("Klacht meneer De Boer, graag oppakken", outlook).unwrap().address.as_deref(), Some("kees@example.nl"));
        assert_eq!(inline("RE: klacht", outlook), None, "under a reply subject it is a quoted reply");
    }

    #[test]
    fn a_forward_of_a_forward_names_the_deepest_sender() {
        let text = "Ter info.\n\n---------- Forwarded message ---------\nFrom: Collega <collega@dienst.nl>\nDate: di 24 nov 2026\nSubject: Fwd: Klacht\n\nVoor jou.\n\n\
                    ---------- Forwarded message ---------\nFrom: Petra Jansen <petra@example.nl>\nDate: Mon, 23 Nov 2026 at 09:14\nSubject: Klacht\n\nTekst.";
        let f = inline("Fwd: Fwd: Klacht", text).unwrap();
        assert_eq!((f.address.as_deref(), f.date.as_deref()), (Some("petra@example.nl"), Some("Mon, 23 Nov 2026 at 09:14")));
    }

    #[test]
    fn own_text_stops_at_forwards_and_quotes() {
        let text = "Mijn eigen woorden.\n\n---------- Forwarded message ---------\nFrom: x@example.nl\n\nHun woorden.";
        assert_eq!(own_text("Fwd: x", text).trim(), "Mijn eigen woorden.");
        assert_eq!(own_text("Re: x", "Ja.\n\nOp ma 23 nov 2026 schreef Jan <jan@example.nl>:\n> vraag").trim(), "Ja.");
        assert_eq!(own_text("x", "Alles van mij.\n-- \nJan").trim(), "Alles van mij.");
    }
}
