//! What the MIME structure of a mail says about who made it: reports, calendar parts and a
//! newsletter's layout. Only the mail's own parts count, never those of a mail it carries
//! (mail-parser keeps a `message/rfc822` part's parts inside that part): a person who forwards
//! an invitation or a bounce sends their own mail.

use mail_parser::{MimeHeaders, PartType};

use super::text::single_line;

/// The calendar part of a mail itself (iTIP, RFC 5546).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarPart {
    /// `REQUEST`, `CANCEL`, `REPLY`, ..., upper-cased.
    pub method: String,
    /// The organiser's address, lower-cased, when the calendar names one.
    pub organizer: Option<String>,
    /// The attendees' addresses, lower-cased.
    pub attendees: Vec<String>,
    /// The calendar is the mail itself or an alternative of its body (as calendar clients send
    /// invitations), not a file attached beside someone's text.
    pub alternative: bool,
}

/// Whether the root of the mail is `multipart/report` (RFC 6522): a delivery status
/// notification, a read receipt or an abuse feedback report.
pub fn report_root(msg: &mail_parser::Message<'_>) -> bool {
    msg.root_part()
        .content_type()
        .is_some_and(|ct| ct.ctype().eq_ignore_ascii_case("multipart") && ct.subtype().is_some_and(|s| s.eq_ignore_ascii_case("report")))
}

/// Whether the mail carries an abuse feedback report (ARF, RFC 5965) as its own part: inside
/// `multipart/report` or, as some providers send it, `multipart/mixed`; or Microsoft's JMRP
/// report of a mail.
pub fn feedback_report(msg: &mail_parser::Message<'_>) -> bool {
    msg.parts.iter().any(|p| {
        p.content_type().is_some_and(|ct| ct.ctype().eq_ignore_ascii_case("message") && ct.subtype().is_some_and(|s| s.eq_ignore_ascii_case("feedback-report")))
    }) || msg.root_part().content_type().and_then(|ct| ct.attribute("report-type")).is_some_and(|t| t.eq_ignore_ascii_case("feedback-report"))
        // Microsoft's junk mail reporting program (JMRP) attaches the reported mail with its
        // own marker header instead.
        || msg.parts.iter().filter_map(|p| p.message()).any(|m| m.header_raw("X-HmXmrOriginalRecipient").is_some())
}

/// The first `text/calendar` (or `application/ics`) part of the mail itself.
pub fn calendar(msg: &mail_parser::Message<'_>) -> Option<CalendarPart> {
    let alternatives: Vec<u32> = msg
        .parts
        .iter()
        .filter(|p| {
            p.content_type()
                .is_some_and(|ct| ct.ctype().eq_ignore_ascii_case("multipart") && ct.subtype().is_some_and(|s| s.eq_ignore_ascii_case("alternative")))
        })
        .filter_map(|p| match &p.body {
            PartType::Multipart(children) => Some(children.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    msg.parts.iter().enumerate().find_map(|(i, p)| {
        let ct = p.content_type()?;
        let sub = ct.subtype().unwrap_or("").to_ascii_lowercase();
        let is_calendar = (ct.ctype().eq_ignore_ascii_case("text") && sub == "calendar") || (ct.ctype().eq_ignore_ascii_case("application") && sub == "ics");
        if !is_calendar {
            return None;
        }
        let body = unfold(&String::from_utf8_lossy(p.contents()));
        let method = ct.attribute("method").map(str::to_string).or_else(|| body.lines().find_map(|l| property(l, "METHOD").map(str::to_string)))?;
        let organizer = body.lines().find_map(|l| property(l, "ORGANIZER")).and_then(mailto);
        let attendees = body.lines().filter_map(|l| property(l, "ATTENDEE")).filter_map(mailto).collect();
        let alternative = i == 0 || alternatives.contains(&(i as u32));
        Some(CalendarPart { method: single_line(&method, 30).to_ascii_uppercase(), organizer, attendees, alternative })
    })
}

/// Joins folded content lines (RFC 5545 3.1).
fn unfold(text: &str) -> String {
    text.replace("\r\n ", "").replace("\r\n\t", "").replace("\n ", "").replace("\n\t", "")
}

/// The value of a calendar property line `NAME;params:value` or `NAME:value`.
fn property<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let line = line.trim();
    let head = line.get(..name.len())?;
    let rest = &line[name.len()..];
    (head.eq_ignore_ascii_case(name) && (rest.starts_with(':') || rest.starts_with(';'))).then(|| {
        // Parameters may quote a colon (`CN="Dekker: advocaat"`); the value follows the last
        // colon outside quotes, which for a `mailto:` value is the one before `mailto`.
        let lower = rest.to_ascii_lowercase();
        match lower.find("mailto:") {
            Some(i) => rest[i..].trim(),
            None => rest.rsplit_once(':').map_or("", |(_, v)| v).trim(),
        }
    })
}

fn mailto(value: &str) -> Option<String> {
    let address = value.get(7..).filter(|_| value.get(..7).is_some_and(|m| m.eq_ignore_ascii_case("mailto:")))?.trim();
    address.contains('@').then(|| single_line(address, 200).to_ascii_lowercase())
}

/// Whether an HTML body has a newsletter's marks: a link to unsubscribe or to read the mail in
/// a browser, or a tracking pixel. People's mail clients write neither.
pub fn bulk_layout(html: &str) -> bool {
    let lower = html.to_ascii_lowercase();
    let link_words = [
        "unsubscribe",
        "afmelden",
        "uitschrijven",
        "abmelden",
        "désinscri",
        "desinscri",
        "désabonner",
        "view in browser",
        "view this email in your browser",
        "view online",
        "bekijk in je browser",
        "bekijk in uw browser",
        "bekijk deze e-mail in",
        "bekijk de online versie",
        "online bekijken",
        "e-mailvoorkeuren",
        "email preferences",
        "manage preferences",
    ];
    let mut at = 0;
    while let Some(rel) = lower[at..].find("<a") {
        let start = at + rel;
        let end = lower[start..].find("</a").map_or(lower.len(), |e| start + e);
        let anchor = &lower[start..end];
        if link_words.iter().any(|w| anchor.contains(w)) {
            return true;
        }
        at = end.max(start + 2);
    }
    // A 1x1 image: the open-tracking pixel.
    let compact: String = lower.chars().filter(|c| !c.is_whitespace()).collect();
    compact.match_indices("<img").any(|(i, _)| {
        let tag = &compact[i..compact[i..].find('>').map_or(compact.len(), |e| i + e)];
        ["width=\"1\"", "width='1'", "width=1", "width:1px"].iter().any(|w| tag.contains(w))
            && ["height=\"1\"", "height='1'", "height=1", "height:1px"].iter().any(|h| tag.contains(h))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::MessageParser;

    #[test]
    fn calendar_parts_name_organiser_and_place() {
        let raw = b"From: a@example.nl\r\nSubject: x\r\nContent-Type: multipart/alternative; boundary=A\r\n\r\n--A\r\nContent-Type: text/plain\r\n\r\nUitnodiging\r\n\
                    --A\r\nContent-Type: text/calendar; method=REQUEST\r\n\r\nBEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nORGANIZER;CN=\"Dekker: advocaat\":mailto:M.Dekker@advocaat.nl\r\n\
                    ATTENDEE;ROLE=REQ-PARTICIPANT;CN=Klachten:mailto:klachten@dienst\r\n .nl\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n--A--\r\n";
        let msg = MessageParser::default().parse(&raw[..]).unwrap();
        let c = calendar(&msg).unwrap();
        assert_eq!((c.method.as_str(), c.organizer.as_deref(), c.alternative), ("REQUEST", Some("m.dekker@advocaat.nl"), true));
        assert_eq!(c.attendees, ["klachten@dienst.nl"], "a folded line is unfolded");
        let attached = String::from_utf8_lossy(raw).replace("multipart/alternative", "multipart/mixed");
        let msg = MessageParser::default().parse(attached.as_bytes()).unwrap();
        assert!(!calendar(&msg).unwrap().alternative, "a calendar file beside the text");
    }

    #[test]
    fn newsletter_layout() {
        assert!(bulk_layout("<p>Nieuws</p><a href=\"https://x.nl/u?id=1\">Afmelden</a>"));
        assert!(bulk_layout("<a href=x><span>View this email in your browser</span></a>"));
        assert!(bulk_layout("<img src=\"https://t.example/o.gif\" width=\"1\" height=\"1\" alt=\"\">"));
        assert!(!bulk_layout("<p>Ik wil me afmelden voor de cursus, maar dat lukt niet.</p><a href=\"https://x.nl\">mijn dossier</a>"));
        assert!(!bulk_layout("<img src=\"cid:logo\" width=\"120\" height=\"40\">"));
    }
}
