//! iCalendar (RFC 5545) for the hearing of Awb 9:10, as iTIP (RFC 5546) expects it: an
//! invitation (`METHOD:REQUEST`) that Outlook, Gmail and Apple Calendar accept, and the few
//! facts of an answer (`METHOD:REPLY`) that klachtd reads. Times are written in UTC, so no
//! VTIMEZONE is needed; lines end in CRLF and are folded at 75 octets.

use chrono::{DateTime, Utc};

/// A hearing to invite one person to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation<'a> {
    /// Ties the event to its case: the case reference is in it, and an answer carries it back.
    pub uid: &'a str,
    /// Bumped when the hearing is moved (RFC 5546: a later SEQUENCE replaces an earlier one).
    pub sequence: u32,
    pub stamp: DateTime<Utc>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub summary: &'a str,
    pub location: &'a str,
    pub description: &'a str,
    pub organizer_name: &'a str,
    pub organizer_email: &'a str,
    pub attendee_name: &'a str,
    pub attendee_email: &'a str,
}

/// The invitation as a `METHOD:REQUEST` calendar object.
pub fn request(i: &Invitation) -> String {
    let utc = |t: &DateTime<Utc>| t.format("%Y%m%dT%H%M%SZ").to_string();
    let lines = [
        "BEGIN:VCALENDAR".to_string(),
        "PRODID:-//klachtd//Awb 9:10 hearing//NL".into(),
        "VERSION:2.0".into(),
        "CALSCALE:GREGORIAN".into(),
        "METHOD:REQUEST".into(),
        "BEGIN:VEVENT".into(),
        format!("UID:{}", text(i.uid)),
        format!("SEQUENCE:{}", i.sequence),
        format!("DTSTAMP:{}", utc(&i.stamp)),
        format!("DTSTART:{}", utc(&i.start)),
        format!("DTEND:{}", utc(&i.end)),
        format!("SUMMARY:{}", text(i.summary)),
        format!("LOCATION:{}", text(i.location)),
        format!("DESCRIPTION:{}", text(i.description)),
        format!("ORGANIZER;CN={}:mailto:{}", param(i.organizer_name), address(i.organizer_email)),
        format!("ATTENDEE;CN={};ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:{}", param(i.attendee_name), address(i.attendee_email)),
        "STATUS:CONFIRMED".into(),
        "TRANSP:OPAQUE".into(),
        "END:VEVENT".into(),
        "END:VCALENDAR".into(),
    ];
    lines.iter().map(|l| fold(l)).collect::<Vec<_>>().join("")
}

/// TEXT value escaping (RFC 5545 3.3.11): backslash, semicolon, comma, newline.
fn text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.replace("\r\n", "\n").chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A parameter value (CN): quoted, without the characters a quoted value cannot hold.
fn param(value: &str) -> String {
    let clean: String = value.chars().filter(|c| !c.is_control() && *c != '"').collect();
    format!("\"{clean}\"")
}

/// An address in a `mailto:` URI: nothing that could end the line or the value.
fn address(value: &str) -> String {
    value.trim().chars().filter(|c| !c.is_control() && !c.is_whitespace() && !matches!(c, ';' | ',' | ':' | '"')).collect()
}

/// One content line, folded after at most 75 octets (never inside a UTF-8 sequence), each
/// continuation starting with a space; CRLF after every physical line.
fn fold(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 8);
    let mut width = 0;
    for c in line.chars() {
        let n = c.len_utf8();
        // The first line holds 75 octets, a continuation 74 after its leading space.
        if width + n > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += n;
    }
    out.push_str("\r\n");
    out
}

/// What an answer to an invitation says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub uid: String,
    /// `ACCEPTED`, `DECLINED`, `TENTATIVE` (or whatever the client wrote), upper case.
    pub partstat: String,
    pub attendee: Option<String>,
}

/// The UID and the attendee's PARTSTAT of a `METHOD:REPLY` object; `None` for anything else.
pub fn reply(calendar: &str) -> Option<Reply> {
    // Unfold: a line that starts with a space or tab continues the previous one.
    let unfolded = calendar.replace("\r\n ", "").replace("\r\n\t", "").replace("\n ", "").replace("\n\t", "");
    let lines: Vec<&str> = unfolded.lines().map(str::trim_end).collect();
    if !lines.iter().any(|l| l.eq_ignore_ascii_case("METHOD:REPLY")) {
        return None;
    }
    let value = |name: &str| {
        lines.iter().find_map(|l| {
            let (head, value) = l.split_once(':')?;
            let prop = head.split(';').next()?;
            prop.eq_ignore_ascii_case(name).then(|| (head.to_string(), value.to_string()))
        })
    };
    let uid = value("UID")?.1.trim().to_string();
    let (head, attendee) = value("ATTENDEE")?;
    let partstat = head
        .split(';')
        .skip(1)
        .find_map(|p| p.split_once('=').filter(|(k, _)| k.eq_ignore_ascii_case("PARTSTAT")).map(|(_, v)| v.trim_matches('"').to_ascii_uppercase()))?;
    let attendee = attendee.strip_prefix("mailto:").or_else(|| attendee.strip_prefix("MAILTO:")).map(|a| a.trim().to_string());
    Some(Reply { uid, partstat, attendee })
}

/// The answer a mail carries: its `text/calendar` part (inline or attached) as a REPLY.
pub fn reply_in_mail(raw: &[u8]) -> Option<Reply> {
    let message = mail_parser::MessageParser::default().parse(raw)?;
    message.parts.iter().find_map(|part| {
        use mail_parser::MimeHeaders;
        let ct = part.content_type()?;
        let calendar = ct.ctype().eq_ignore_ascii_case("text") && ct.subtype().is_some_and(|s| s.eq_ignore_ascii_case("calendar"))
            || ct.ctype().eq_ignore_ascii_case("application") && ct.subtype().is_some_and(|s| s.eq_ignore_ascii_case("ics"));
        if !calendar {
            return None;
        }
        reply(&String::from_utf8_lossy(part.contents()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn invitation<'a>(description: &'a str, attendee_name: &'a str) -> Invitation<'a> {
        Invitation {
            uid: "KL-2026-0001.hearing.1@dienst.test",
            sequence: 0,
            stamp: at("2026-12-01T09:00:00Z"),
            start: at("2026-12-10T13:30:00Z"),
            end: at("2026-12-10T14:30:00Z"),
            summary: "[KL-2026-0001] Hoorzitting over uw klacht",
            location: "Stadskantoor, kamer 3; Den Haag",
            description,
            organizer_name: "Klachtenbehandeling",
            organizer_email: "klachten@dienst.test",
            attendee_name,
            attendee_email: "mia@example.test",
        }
    }

    #[test]
    fn a_request_has_the_properties_clients_need() {
        let ics = request(&invitation("Regel één,\nregel twee; met \\ teken.", "Mia \"Vos\""));
        assert!(ics.starts_with("BEGIN:VCALENDAR\r\n") && ics.ends_with("END:VCALENDAR\r\n"), "{ics}");
        assert!(!ics.replace("\r\n", "").contains('\n'), "only CRLF line ends");
        for line in [
            "METHOD:REQUEST",
            "UID:KL-2026-0001.hearing.1@dienst.test",
            "DTSTART:20261210T133000Z",
            "DTEND:20261210T143000Z",
            "LOCATION:Stadskantoor\\, kamer 3\\; Den Haag",
            "ORGANIZER;CN=\"Klachtenbehandeling\":mailto:klachten@dienst.test",
            "ATTENDEE;CN=\"Mia Vos\";ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:mia@example.test",
        ] {
            assert!(ics.replace("\r\n ", "").contains(&format!("{line}\r\n")), "{line} missing in\n{ics}");
        }
        assert!(ics.replace("\r\n ", "").contains("DESCRIPTION:Regel één\\,\\nregel twee\\; met \\\\ teken.\r\n"), "{ics}");
    }

    #[test]
    fn long_lines_are_folded_at_75_octets_between_characters() {
        let long = "é".repeat(100);
        let ics = request(&invitation(&long, "Mia"));
        for line in ics.split("\r\n") {
            assert!(line.len() <= 75, "{} octets: {line}", line.len());
        }
        assert!(ics.replace("\r\n ", "").contains(&format!("DESCRIPTION:{long}\r\n")));
    }

    #[test]
    fn a_reply_gives_its_uid_and_answer() {
        let outlook = "BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:KL-2026-0001.hearing.1@dien\r\n st.test\r\nATTENDEE;PARTSTAT=ACCEPTED;CN=\"Mia Vos\":mailto:mia@example.test\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        assert_eq!(
            reply(outlook),
            Some(Reply { uid: "KL-2026-0001.hearing.1@dienst.test".into(), partstat: "ACCEPTED".into(), attendee: Some("mia@example.test".into()) })
        );
        let gmail = "BEGIN:VCALENDAR\nMETHOD:REPLY\nBEGIN:VEVENT\nATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=declined;CN=mia@example.test;X-NUM-GUESTS=0:MAILTO:mia@example.test\nUID:x@y\nEND:VEVENT\nEND:VCALENDAR";
        assert_eq!(reply(gmail).map(|r| r.partstat), Some("DECLINED".into()));
        assert_eq!(reply(&request(&invitation("x", "Mia"))), None, "a request is no reply");
        let mail = format!(
            "From: mia@example.test\r\nSubject: Accepted: x\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nJa.\r\n--B\r\nContent-Type: text/calendar; method=REPLY; charset=utf-8\r\n\r\n{outlook}--B--\r\n"
        );
        assert_eq!(reply_in_mail(mail.as_bytes()).map(|r| r.partstat), Some("ACCEPTED".into()));
        assert_eq!(reply_in_mail(b"From: a@b.c\r\nSubject: x\r\n\r\nMETHOD:REPLY\r\n"), None);
    }
}
