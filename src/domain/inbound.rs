//! What we read out of one incoming mail. Parsing is mail-parser's; this module decides which
//! facts the procedure needs and normalises them, so the rest never touches MIME.

use mail_parser::{Address, HeaderValue, MessageParser, MimeHeaders};
use ring::digest;

use super::forwarded::{self, Forwarded};
use super::mime::{self, CalendarPart};
use super::text::{display_filename, html_to_text, remove_invisible, single_line, tidy_lines};

/// A person's mailbox as found in a header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// Display name, cleaned to one line; `None` when the header had none.
    pub name: Option<String>,
    /// Lower-cased address.
    pub address: String,
}

/// The Return-Path as delivered; an empty one (`<>`) marks a bounce or other automatic mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReturnPath {
    Absent,
    Empty,
    Address(String),
}

/// What an attached part is to the case. Only documents count as the complaint's documents
/// (R3); the others are kept for what they prove.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachmentRole {
    Document,
    /// An S/MIME (`smime.p7s`) or PGP/MIME (`signature.asc`) signature: proves who sent the mail.
    Signature,
    /// The machine-readable parts of a delivery report (`message/delivery-status`,
    /// `text/rfc822-headers`, `message/disposition-notification`).
    Report,
}

impl AttachmentRole {
    pub fn as_str(self) -> &'static str {
        match self {
            AttachmentRole::Document => "document",
            AttachmentRole::Signature => "signature",
            AttachmentRole::Report => "report",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Attachment {
    /// For display only; see [`display_filename`].
    pub filename: String,
    pub content_type: String,
    pub data: Vec<u8>,
    pub role: AttachmentRole,
}

/// The facts of one incoming mail.
#[derive(Debug, Clone)]
pub struct InboundMail {
    /// Message-ID without angle brackets.
    pub message_id: Option<String>,
    /// In-Reply-To and References, without angle brackets, deduplicated.
    pub thread_ids: Vec<String>,
    pub from: Option<Person>,
    pub reply_to: Option<Person>,
    pub subject: String,
    /// The description as plain text (HTML-only mail converted, scripts dropped).
    pub text: String,
    pub attachments: Vec<Attachment>,
    pub auto_submitted: Option<String>,
    pub precedence: Option<String>,
    pub list_id: bool,
    pub return_path: ReturnPath,
    /// `multipart/report` or a `message/delivery-status` part: a delivery report.
    pub delivery_report: bool,
    /// The root is `multipart/report`: a report made by a machine, not one a person attached.
    pub report_root: bool,
    /// An abuse feedback report (ARF) of the mail itself, in `multipart/report` or
    /// `multipart/mixed`.
    pub feedback_report: bool,
    /// A delivery report that says delivery failed (`Action: failed`), not one that reports a
    /// delay, a success or a read receipt.
    pub delivery_failed: bool,
    /// Vendor auto-reply markers (X-Autoreply, X-Autorespond, X-Auto-Response-Suppress).
    pub vendor_autoreply: bool,
    /// SHA-256 of the raw message: the identity of a mail without Message-ID.
    pub content_hash: String,
    /// The top-level header fields as (lower-cased name, value on one line), topmost first: the
    /// first of a name is the one the server nearest to us added. For vendor, bulk and spam
    /// filter markers (see `classify`).
    pub headers: Vec<(String, String)>,
    /// The iTIP method (`REQUEST`, `CANCEL`, `REPLY`, ...) of a calendar part of the mail itself
    /// (not of an attached mail), upper-cased.
    pub calendar_method: Option<String>,
    /// The calendar part of the mail itself, with its organiser and place.
    pub calendar: Option<CalendarPart>,
    /// The HTML body has a newsletter's marks (unsubscribe or view-online link, tracking pixel).
    pub bulk_layout: bool,
    /// The original sender and date when the mail forwards another one (attached or inline).
    pub forwarded: Option<Forwarded>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseError {
    #[error("the message could not be parsed as an e-mail")]
    NotAMessage,
    #[error("the message has no From, Subject, Date or Message-ID header")]
    NoHeaders,
}

impl InboundMail {
    /// The first (topmost) value of a header field, lower-cased name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    pub fn has_header(&self, name: &str) -> bool {
        self.headers.iter().any(|(n, _)| n == name)
    }

    /// The key under which this mail is deduplicated: its Message-ID, or the hash of its bytes.
    pub fn dedupe_key(&self) -> String {
        match &self.message_id {
            Some(id) => format!("mid:{id}"),
            None => format!("sha256:{}", self.content_hash),
        }
    }
}

pub fn parse(raw: &[u8]) -> Result<InboundMail, ParseError> {
    let msg = MessageParser::default().parse(raw).ok_or(ParseError::NotAMessage)?;
    if msg.from().is_none() && msg.subject().is_none() && msg.date().is_none() && msg.message_id().is_none() {
        return Err(ParseError::NoHeaders);
    }

    let mut thread_ids = Vec::new();
    for value in [msg.in_reply_to(), msg.references()] {
        for id in header_texts(value) {
            let id = strip_angles(&id);
            if !id.is_empty() && !thread_ids.contains(&id) {
                thread_ids.push(id);
            }
        }
    }

    let mut text = body_text(&msg);
    let mut parts: Vec<_> = msg.attachments().filter(|part| !part.is_message() || !part.is_empty()).collect();
    if text.is_empty() {
        // Broken MIME (say, a multipart without its closing boundary) makes mail-parser file
        // the text as an attachment; an unnamed text/plain part is the description after all.
        if let Some(pos) = parts.iter().position(|p| p.attachment_name().is_none() && p.is_text() && !p.is_text_html()) {
            let part = parts.remove(pos);
            text = part_text(&msg, part).map(|t| tidy_lines(&remove_invisible(&t))).unwrap_or_default();
        }
    }
    let attachments = parts
        .into_iter()
        .map(|part| {
            let content_type = part
                .content_type()
                .map(|ct| match ct.subtype() {
                    Some(sub) => format!("{}/{}", ct.ctype(), sub),
                    None => ct.ctype().to_string(),
                })
                .map(|ct| single_line(&ct.to_ascii_lowercase(), 100))
                .unwrap_or_else(|| "application/octet-stream".to_string());
            let role = attachment_role(&content_type, part.attachment_name());
            // An unnamed signature or report part gets the name it is known by instead of
            // "bijlage", so a handler sees what it is.
            let filename = match (part.attachment_name(), role, content_type.as_str()) {
                (None, AttachmentRole::Signature, "application/pgp-signature") => "signature.asc".to_string(),
                (None, AttachmentRole::Signature, _) => "smime.p7s".to_string(),
                (None, AttachmentRole::Report, "text/rfc822-headers") => "returned-headers.txt".to_string(),
                (None, AttachmentRole::Report, "message/disposition-notification") => "read-receipt.txt".to_string(),
                (None, AttachmentRole::Report, _) => "delivery-status.txt".to_string(),
                (None, AttachmentRole::Document, "message/rfc822") => "forwarded-message.eml".to_string(),
                (name, _, _) => display_filename(name),
            };
            Attachment { filename, content_type, data: part.contents().to_vec(), role }
        })
        .collect::<Vec<_>>();

    let header_text = |name: &str| msg.header_raw(name).map(|v| single_line(v, 200).to_ascii_lowercase());
    let raw_bytes = msg.raw_message();
    let headers: Vec<(String, String)> = msg
        .root_part()
        .headers()
        .iter()
        .map(|h| {
            let value = raw_bytes.get(h.offset_start as usize..h.offset_end as usize).unwrap_or_default();
            (h.name.as_str().to_ascii_lowercase(), single_line(&String::from_utf8_lossy(value), 500))
        })
        .collect();
    let mut subject = single_line(msg.subject().unwrap_or(""), 300);
    // Raw 8-bit header bytes that are no UTF-8 (an old client writing ISO-8859-1 without
    // encoded words): windows-1252 as for bodies, instead of replacement characters.
    if subject.contains('\u{FFFD}') {
        if let Some(legacy) = legacy_header(&msg, "subject") {
            subject = single_line(&legacy, 300);
        }
    }
    let mut from = first_person(msg.from());
    if let Some(person) = from.as_mut().filter(|p| p.name.as_deref().is_some_and(|n| n.contains('\u{FFFD}'))) {
        if let Some(name) = legacy_header(&msg, "from").and_then(|v| forwarded::person(&v).0) {
            person.name = Some(name);
        }
    }
    let forwarded = attached_original(&msg).or_else(|| forwarded::inline(&subject, &text));
    let return_path = match msg.header_raw("Return-Path") {
        None => ReturnPath::Absent,
        Some(raw) => {
            let inner = strip_angles(raw.trim());
            // Some MTAs write the null sender of a bounce as `<MAILER-DAEMON>` or
            // `<MAILER-DAEMON@host>`.
            if inner.is_empty() || inner.split('@').next().is_some_and(|local| local.eq_ignore_ascii_case("mailer-daemon")) {
                ReturnPath::Empty
            } else {
                ReturnPath::Address(inner.to_ascii_lowercase())
            }
        }
    };
    let delivery_report = msg
        .root_part()
        .content_type()
        .is_some_and(|ct| ct.ctype().eq_ignore_ascii_case("multipart") && ct.subtype().is_some_and(|s| s.eq_ignore_ascii_case("report")))
        || msg.parts.iter().any(|p| {
            p.content_type().is_some_and(|ct| {
                ct.ctype().eq_ignore_ascii_case("message")
                    && ct.subtype().is_some_and(|s| s.eq_ignore_ascii_case("delivery-status") || s.eq_ignore_ascii_case("disposition-notification"))
            })
        });

    let calendar = mime::calendar(&msg);
    let bulk_layout = msg.html_bodies().next().and_then(|p| part_text(&msg, p)).is_some_and(|html| mime::bulk_layout(&html));
    let delivery_failed = msg.parts.iter().any(|p| {
        p.content_type().is_some_and(|ct| ct.ctype().eq_ignore_ascii_case("message") && ct.subtype().is_some_and(|s| s.eq_ignore_ascii_case("delivery-status")))
            && String::from_utf8_lossy(p.contents())
                .lines()
                .any(|l| l.split_once(':').is_some_and(|(k, v)| k.trim().eq_ignore_ascii_case("action") && v.trim().eq_ignore_ascii_case("failed")))
    });
    // A delivery report names the mail it is about only inside: linking by that mail's
    // Message-ID keeps the report with the case whose letter did not arrive.
    if delivery_report {
        for id in reported_message_ids(&msg) {
            if !thread_ids.contains(&id) {
                thread_ids.push(id);
            }
        }
    }

    Ok(InboundMail {
        message_id: msg.message_id().map(strip_angles).filter(|id| !id.is_empty()),
        thread_ids,
        from,
        reply_to: first_person(msg.reply_to()),
        subject,
        text,
        attachments,
        auto_submitted: header_text("Auto-Submitted"),
        precedence: header_text("Precedence"),
        // List-Unsubscribe alone is no list: see `classify` for it with other bulk markers.
        list_id: msg.header_raw("List-Id").is_some(),
        return_path,
        delivery_report,
        delivery_failed,
        vendor_autoreply: ["X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress"].iter().any(|h| msg.header_raw(*h).is_some()),
        content_hash: hex(digest::digest(&digest::SHA256, raw).as_ref()),
        headers,
        calendar_method: calendar.as_ref().map(|c| c.method.clone()),
        calendar,
        bulk_layout,
        report_root: mime::report_root(&msg),
        feedback_report: mime::feedback_report(&msg),
        forwarded,
    })
}

/// The value of the top-level header `name` decoded as windows-1252, if its raw bytes are not
/// UTF-8.
fn legacy_header(msg: &mail_parser::Message<'_>, name: &str) -> Option<String> {
    let header = msg.root_part().headers().iter().find(|h| h.name.as_str().eq_ignore_ascii_case(name))?;
    let raw = msg.raw_message().get(header.offset_start as usize..header.offset_end as usize)?;
    if std::str::from_utf8(raw).is_ok() {
        return None;
    }
    mail_parser::decoders::charsets::map::charset_decoder(b"windows-1252").map(|decode| decode(raw))
}

fn attachment_role(content_type: &str, name: Option<&str>) -> AttachmentRole {
    let name = name.unwrap_or("").to_ascii_lowercase();
    match content_type {
        "application/pkcs7-signature" | "application/x-pkcs7-signature" | "application/pgp-signature" => AttachmentRole::Signature,
        "message/delivery-status" | "message/global-delivery-status" | "text/rfc822-headers" | "message/disposition-notification" => AttachmentRole::Report,
        // Some clients label a detached signature application/octet-stream; its name tells.
        _ if name.ends_with(".p7s") => AttachmentRole::Signature,
        _ => AttachmentRole::Document,
    }
}

/// The sender and date of a mail forwarded as an attachment (`message/rfc822`, "forward as
/// attachment"), when someone other than the sender wrote it. Only under a forward subject: a
/// complainant who attaches a mail they got (say, from their coach) as evidence forwards no
/// complaint of someone else.
fn attached_original(msg: &mail_parser::Message<'_>) -> Option<Forwarded> {
    if !forwarded::is_forward_subject(msg.subject().unwrap_or("")) {
        return None;
    }
    let sender = first_person(msg.from()).map(|p| p.address);
    msg.attachments().filter_map(|p| p.message()).find_map(|inner| deepest_original(inner, sender.as_deref()))
}

/// The sender of an attached mail, or when that mail forwards another one in its turn
/// (attached or inline), the sender of the deepest one: the mail that started it.
fn deepest_original(inner: &mail_parser::Message<'_>, sender: Option<&str>) -> Option<Forwarded> {
    let person = first_person(inner.from())?;
    let subject = inner.subject().unwrap_or("");
    if forwarded::is_forward_subject(subject) {
        let attached = inner.attachments().filter_map(|p| p.message()).find_map(|m| deepest_original(m, Some(&person.address)));
        if let Some(deeper) = attached.or_else(|| inner.body_text(0).and_then(|t| forwarded::inline(subject, &t))) {
            return Some(deeper);
        }
    }
    if Some(person.address.as_str()) == sender {
        return None;
    }
    Some(Forwarded { name: person.name, address: Some(person.address), date: inner.date().map(|d| d.to_rfc3339()) })
}

/// The Message-IDs of the original mail a delivery report returns: from its `message/rfc822`
/// part, or the headers in a `text/rfc822-headers` part (RFC 3462).
fn reported_message_ids(msg: &mail_parser::Message<'_>) -> Vec<String> {
    msg.parts
        .iter()
        .filter_map(|part| {
            if let Some(inner) = part.message() {
                return inner.message_id().map(strip_angles);
            }
            let ct = part.content_type()?;
            let headers_only = ct.subtype().is_some_and(|s| s.eq_ignore_ascii_case("rfc822-headers"));
            headers_only.then(|| MessageParser::default().parse_headers(part.contents())).flatten()?.message_id().map(strip_angles)
        })
        .filter(|id| !id.is_empty())
        .collect()
}

/// The first text body, or the first HTML body converted to text.
fn body_text(msg: &mail_parser::Message<'_>) -> String {
    if let Some(part) = msg.text_bodies().next().filter(|p| p.is_text() && !p.is_text_html()) {
        if let Some(text) = part_text(msg, part) {
            return tidy_lines(&remove_invisible(&text));
        }
    }
    if let Some(html) = msg.html_bodies().next().and_then(|p| part_text(msg, p)) {
        return html_to_text(&html);
    }
    String::new()
}

/// The text of a part. A part that declares no charset (or UTF-8, or `unknown-8bit`) and is not
/// valid UTF-8 is legacy 8-bit mail: it is read as windows-1252 (the superset of ISO-8859-1 that mail clients assume), not
/// with replacement characters for every accented letter. The raw mail is kept as it came.
fn part_text<'a>(msg: &'a mail_parser::Message<'_>, part: &'a mail_parser::MessagePart<'_>) -> Option<std::borrow::Cow<'a, str>> {
    use mail_parser::decoders::{base64::base64_decode, charsets::map::charset_decoder, quoted_printable::quoted_printable_decode};
    use std::borrow::Cow;
    let text = part.text_contents()?;
    // A declared legacy charset was decoded as declared. UTF-8, `unknown-8bit` (RFC 1428) and
    // the like promise nothing: a mail that says UTF-8 but carries Latin-1 bytes is common.
    let declared = part.content_type().and_then(|ct| ct.attribute("charset")).map(str::to_ascii_lowercase);
    let promises_nothing = declared
        .as_deref()
        .is_none_or(|c| matches!(c.trim_matches('"'), "utf-8" | "utf8" | "us-ascii" | "unknown-8bit" | "x-unknown" | "unknown" | "8bit" | "default"));
    if !promises_nothing || !text.contains('\u{FFFD}') {
        return Some(Cow::Borrowed(text));
    }
    let raw = msg.raw_message().get(part.offset_body as usize..part.offset_end as usize)?;
    let bytes = match part.encoding {
        mail_parser::Encoding::QuotedPrintable => quoted_printable_decode(raw),
        mail_parser::Encoding::Base64 => base64_decode(raw),
        mail_parser::Encoding::None => Some(raw.to_vec()),
    };
    match (bytes, charset_decoder(b"windows-1252")) {
        (Some(bytes), Some(decode)) if std::str::from_utf8(&bytes).is_err() => Some(Cow::Owned(decode(&bytes))),
        // Valid UTF-8 after all (the replacement character was in the mail) or undecodable.
        _ => Some(Cow::Borrowed(text)),
    }
}

fn first_person(addr: Option<&Address<'_>>) -> Option<Person> {
    let first = addr?.first()?;
    let address = first.address()?.trim().to_ascii_lowercase();
    if !address.contains('@') || address.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return None;
    }
    let name = first.name().map(|n| single_line(n.trim_matches('"'), 200)).filter(|n| !n.is_empty() && !n.eq_ignore_ascii_case(&address));
    Some(Person { name, address })
}

fn header_texts(value: &HeaderValue<'_>) -> Vec<String> {
    match value {
        HeaderValue::Text(t) => t.split_whitespace().map(str::to_string).collect(),
        HeaderValue::TextList(list) => list.iter().map(|t| t.to_string()).collect(),
        _ => Vec::new(),
    }
}

fn strip_angles(id: &str) -> String {
    single_line(id.trim().trim_start_matches('<').trim_end_matches('>'), 500)
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_complaint() {
        let raw = b"From: \"Jan de Vries\" <Jan@Example.NL>\r\nTo: klachten@dienst.nl\r\nSubject: Klacht over mijn coach\r\n\
                    Message-ID: <abc@example.nl>\r\nDate: Fri, 20 Nov 2026 10:00:00 +0100\r\n\r\nIk ben ontevreden.\r\n";
        let m = parse(raw).unwrap();
        assert_eq!(m.message_id.as_deref(), Some("abc@example.nl"));
        assert_eq!(m.from, Some(Person { name: Some("Jan de Vries".into()), address: "jan@example.nl".into() }));
        assert_eq!(m.subject, "Klacht over mijn coach");
        assert_eq!(m.text, "Ik ben ontevreden.");
        assert_eq!(m.dedupe_key(), "mid:abc@example.nl");
        assert_eq!(m.return_path, ReturnPath::Absent);
    }

    #[test]
    fn encoded_words_and_latin1() {
        let raw = b"From: =?ISO-8859-1?Q?Jos=E9_M=FCller?= <jose@example.nl>\r\nSubject: =?UTF-8?B?S2xhY2h0IMOpw6lu?=\r\n\
                    Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\nCaf\xe9 gesloten\r\n";
        let m = parse(raw).unwrap();
        assert_eq!(m.from.as_ref().unwrap().name.as_deref(), Some("José Müller"));
        assert_eq!(m.subject, "Klacht één");
        assert_eq!(m.text, "Café gesloten");
        assert!(m.message_id.is_none());
        assert!(m.dedupe_key().starts_with("sha256:"));
    }

    #[test]
    fn raw_utf8_headers() {
        let raw = "From: Zoë Ångström <zoe@example.nl>\r\nSubject: Ügyfél klacht\r\n\r\ntekst\r\n".as_bytes();
        let m = parse(raw).unwrap();
        assert_eq!(m.from.unwrap().name.as_deref(), Some("Zoë Ångström"));
        assert_eq!(m.subject, "Ügyfél klacht");
    }

    #[test]
    fn html_only_mail_becomes_text() {
        let raw = b"From: a@example.nl\r\nSubject: x\r\nContent-Type: text/html\r\n\r\n<p>Hallo</p><script>steal()</script><p>daar</p>\r\n";
        let m = parse(raw).unwrap();
        assert!(m.text.contains("Hallo") && m.text.contains("daar"), "{}", m.text);
        assert!(!m.text.contains("steal"));
    }

    #[test]
    fn threading_ids_from_both_headers() {
        let raw = b"From: a@example.nl\r\nSubject: Re: x\r\nIn-Reply-To: <ack-1@klachtd>\r\nReferences: <orig@example.nl> <ack-1@klachtd>\r\n\r\nok\r\n";
        let m = parse(raw).unwrap();
        assert_eq!(m.thread_ids, vec!["ack-1@klachtd".to_string(), "orig@example.nl".to_string()]);
    }

    #[test]
    fn hostile_attachment_name_is_tamed() {
        let raw = b"From: a@example.nl\r\nSubject: x\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n\
                    Content-Type: text/plain\r\n\r\nzie bijlage\r\n--B\r\nContent-Type: application/pdf\r\n\
                    Content-Disposition: attachment; filename=\"../../etc/cron.d/evil\"\r\nContent-Transfer-Encoding: base64\r\n\r\nSGFsbG8=\r\n--B--\r\n";
        let m = parse(raw).unwrap();
        assert_eq!(m.attachments.len(), 1);
        assert_eq!(m.attachments[0].filename, "evil");
        assert_eq!(m.attachments[0].data, b"Hallo");
        assert_eq!(m.attachments[0].content_type, "application/pdf");
    }

    #[test]
    fn broken_mime_keeps_its_text_as_description() {
        let raw = b"From: a@example.nl\r\nSubject: x\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"nooit\"\r\n\r\n\
                    --nooit\r\nContent-Type: text/plain\r\n\r\nTekst zonder einde\r\n";
        let m = parse(raw).unwrap();
        assert_eq!(m.text, "Tekst zonder einde");
        assert!(m.attachments.is_empty());
    }

    #[test]
    fn bounce_markers() {
        let raw = b"From: MAILER-DAEMON@mx.example.nl\r\nReturn-Path: <>\r\nSubject: Undelivered\r\nAuto-Submitted: auto-replied\r\n\
                    Content-Type: multipart/report; report-type=delivery-status; boundary=R\r\n\r\n--R\r\nContent-Type: text/plain\r\n\r\nfailed\r\n\
                    --R\r\nContent-Type: message/delivery-status\r\n\r\nStatus: 5.1.1\r\n--R--\r\n";
        let m = parse(raw).unwrap();
        assert_eq!(m.return_path, ReturnPath::Empty);
        assert!(m.delivery_report);
        assert!(m.thread_ids.is_empty(), "this report does not say which mail it returns");
        assert_eq!(m.auto_submitted.as_deref(), Some("auto-replied"));
    }

    #[test]
    fn nul_bytes_are_stripped_from_everything_stored() {
        let raw = b"From: =?UTF-8?Q?Jan=00_de_Vries?= <jan@example.nl>\r\nSubject: =?UTF-8?Q?Klacht=00=01?=\r\nMIME-Version: 1.0\r\n\
                    Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain; charset=utf-8\r\n\
                    Content-Transfer-Encoding: quoted-printable\r\n\r\nMijn=00 klacht=1B.\r\n--B\r\nContent-Type: application/pdf\r\n\
                    Content-Disposition: attachment; filename=\"=?UTF-8?Q?brief=00.pdf?=\"\r\n\r\nx\r\n--B--\r\n";
        let m = parse(raw).unwrap();
        assert_eq!(m.text, "Mijn klacht.");
        assert!(!m.subject.contains('\0') && m.subject.starts_with("Klacht"), "{:?}", m.subject);
        let name = m.from.unwrap().name.unwrap();
        assert!(!name.contains('\0'), "{name:?}");
        assert!(!m.attachments[0].filename.contains('\0'), "{:?}", m.attachments[0].filename);
    }

    #[test]
    fn legacy_8bit_text_without_charset_is_windows_1252() {
        let raw =
            b"From: Piet <piet@example.nl>\r\nSubject: Klacht\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
                    Mijn uitkering is \xe9\xe9n maand te laat; \x80 12,50 \x96 na\xefef.\r\n";
        assert_eq!(parse(raw).unwrap().text, "Mijn uitkering is één maand te laat; € 12,50 – naïef.");
        // No Content-Type at all (RFC 822 mail from an old client), and quoted-printable.
        let bare = b"From: Piet <piet@example.nl>\r\nSubject: Klacht\r\n\r\nCaf\xe9 dicht\r\n";
        assert_eq!(parse(bare).unwrap().text, "Café dicht");
        // The same old client writes its headers in 8 bits too.
        let headers = b"From: Jos\xe9 M\xfcller <jose@example.nl>\r\nSubject: Klacht \xe9\xe9n\r\nContent-Type: text/plain\r\n\r\nx\r\n";
        let m = parse(headers).unwrap();
        assert_eq!((m.subject.as_str(), m.from.unwrap().name.as_deref()), ("Klacht één", Some("José Müller")));
        let qp = b"From: Piet <piet@example.nl>\r\nSubject: Klacht\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=E9=E9n dag te laat=\r\n.\r\n";
        assert_eq!(parse(qp).unwrap().text, "één dag te laat.");
        // Valid UTF-8 without a charset stays as it is; a declared charset is obeyed.
        let utf8 = "From: a@example.nl\r\nSubject: x\r\nContent-Type: text/plain\r\n\r\néén\r\n".as_bytes();
        assert_eq!(parse(utf8).unwrap().text, "één");
        let declared = b"From: a@example.nl\r\nSubject: x\r\nContent-Type: text/plain; charset=iso-8859-15\r\n\r\n\xa4 5\r\n";
        assert_eq!(parse(declared).unwrap().text, "€ 5");
    }

    #[test]
    fn signatures_and_report_parts_are_named_and_marked() {
        // PGP/MIME as Thunderbird sends it (named), and an S/MIME signature without a name.
        let pgp = b"From: a@example.nl\r\nSubject: x\r\nMIME-Version: 1.0\r\nContent-Type: multipart/signed; micalg=pgp-sha256; protocol=\"application/pgp-signature\"; boundary=\"S\"\r\n\r\n\
                    --S\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nMijn klacht.\r\n--S\r\nContent-Type: application/pgp-signature; name=\"OpenPGP_signature.asc\"\r\n\
                    Content-Description: OpenPGP digital signature\r\nContent-Disposition: attachment; filename=\"OpenPGP_signature.asc\"\r\n\r\n-----BEGIN PGP SIGNATURE-----\r\n\r\nwsF5BAABCAAjFiEE\r\n-----END PGP SIGNATURE-----\r\n--S--\r\n";
        let m = parse(pgp).unwrap();
        assert_eq!(m.text, "Mijn klacht.");
        assert_eq!((m.attachments[0].filename.as_str(), m.attachments[0].role), ("OpenPGP_signature.asc", AttachmentRole::Signature));
        let unnamed = String::from_utf8_lossy(pgp)
            .replace("; name=\"OpenPGP_signature.asc\"", "")
            .replace("Content-Disposition: attachment; filename=\"OpenPGP_signature.asc\"\r\n", "");
        assert_eq!(parse(unnamed.as_bytes()).unwrap().attachments[0].filename, "signature.asc");
        let smime = unnamed.replace("application/pgp-signature\r\n", "application/pkcs7-signature\r\n");
        let m = parse(smime.as_bytes()).unwrap();
        assert_eq!((m.attachments[0].filename.as_str(), m.attachments[0].role), ("smime.p7s", AttachmentRole::Signature));
        // The machine parts of a delivery report.
        let report = b"From: MAILER-DAEMON@mx.example.nl\r\nSubject: Undelivered\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=R\r\n\r\n\
                       --R\r\nContent-Type: text/plain\r\n\r\nfailed\r\n--R\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.nl\r\n\r\nAction: failed\r\n\
                       --R\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: klachten@dienst.nl\r\nSubject: x\r\n\r\n--R--\r\n";
        let m = parse(report).unwrap();
        let parts: Vec<_> = m.attachments.iter().map(|a| (a.filename.as_str(), a.role)).collect();
        assert_eq!(parts, [("delivery-status.txt", AttachmentRole::Report), ("returned-headers.txt", AttachmentRole::Report)]);
        // An ordinary PDF stays a document.
        assert_eq!(attachment_role("application/pdf", Some("brief.pdf")), AttachmentRole::Document);
    }

    #[test]
    fn forwarded_complaints_name_the_original_sender() {
        let attached = b"From: Collega <collega@dienst.nl>\r\nSubject: FW: Klacht\r\nContent-Type: multipart/mixed; boundary=F\r\n\r\n--F\r\nContent-Type: text/plain\r\n\r\nZie bijlage.\r\n\
                         --F\r\nContent-Type: message/rfc822\r\n\r\nFrom: Petra Jansen <Petra@Example.nl>\r\nSubject: Klacht\r\nDate: Mon, 23 Nov 2026 09:14:00 +0100\r\n\r\nTekst.\r\n--F--\r\n";
        let m = parse(attached).unwrap();
        let f = m.forwarded.unwrap();
        assert_eq!(
            (f.name.as_deref(), f.address.as_deref(), f.date.as_deref()),
            (Some("Petra Jansen"), Some("petra@example.nl"), Some("2026-11-23T09:14:00+01:00"))
        );
        assert_eq!(m.attachments[0].filename, "forwarded-message.eml");
        let inline = b"From: Collega <collega@dienst.nl>\r\nSubject: Fwd: Klacht\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nTer info.\r\n\r\n\
                       ---------- Forwarded message ---------\r\nFrom: Petra Jansen <petra@example.nl>\r\nDate: Mon, 23 Nov 2026 at 09:14\r\nSubject: Klacht\r\n\r\nTekst.\r\n";
        assert_eq!(parse(inline).unwrap().forwarded.unwrap().address.as_deref(), Some("petra@example.nl"));
        // A complainant who attaches their own earlier mail forwards nothing of someone else,
        // nor does one who attaches a mail they got as evidence (no forward subject).
        let own = String::from_utf8_lossy(attached).replace("Petra Jansen <Petra@Example.nl>", "Collega <collega@dienst.nl>");
        assert!(parse(own.as_bytes()).unwrap().forwarded.is_none());
        let evidence = String::from_utf8_lossy(attached).replace("Subject: FW: Klacht", "Subject: Klacht over mijn coach");
        assert!(parse(evidence.as_bytes()).unwrap().forwarded.is_none());
    }

    #[test]
    fn calendar_method_from_parameter_or_calendar() {
        let param =
            b"From: a@example.nl\r\nSubject: x\r\nContent-Type: text/calendar; method=CANCEL; charset=utf-8\r\n\r\nBEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n";
        assert_eq!(parse(param).unwrap().calendar_method.as_deref(), Some("CANCEL"));
        let body = b"From: a@example.nl\r\nSubject: x\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nx\r\n--B\r\nContent-Type: application/ics; name=invite.ics\r\n\r\nBEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nEND:VCALENDAR\r\n--B--\r\n";
        assert_eq!(parse(body).unwrap().calendar_method.as_deref(), Some("REPLY"));
        assert!(
            parse(b"From: a@example.nl\r\nSubject: x\r\n\r\nMETHOD:REQUEST\r\n").unwrap().calendar_method.is_none(),
            "text that looks like a calendar is not one"
        );
    }

    #[test]
    fn garbage_is_rejected() {
        assert!(parse(b"").is_err());
        assert_eq!(parse(b"\x00\x01\x02 nothing here").unwrap_err(), ParseError::NoHeaders);
    }

    #[test]
    fn a_delivery_report_is_linked_by_the_mail_it_returns() {
        let headers = b"From: MAILER-DAEMON@mx.example.nl\r\nReturn-Path: <>\r\nSubject: Undelivered Mail\r\nMessage-ID: <dsn-1@mx.example.nl>\r\n\
                        Content-Type: multipart/report; report-type=delivery-status; boundary=R\r\n\r\n--R\r\nContent-Type: text/plain\r\n\r\nfailed\r\n\
                        --R\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.nl\r\n\r\nFinal-Recipient: rfc822; weg@example.nl\r\nStatus: 5.1.1\r\n\
                        --R\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: klachten@dienst.nl\r\nSubject: [KL-2026-0001] Ontvangstbevestiging\r\nMessage-ID: <KL-2026-0001.ack.abc@dienst.nl>\r\n\r\n--R--\r\n";
        let failed = parse(headers).unwrap();
        assert_eq!(failed.thread_ids, ["KL-2026-0001.ack.abc@dienst.nl"]);
        assert!(!failed.delivery_failed, "no Action field: not known to have failed");
        let with_action = String::from_utf8_lossy(headers).replace("Status: 5.1.1", "Action: failed\r\nStatus: 5.1.1");
        assert!(parse(with_action.as_bytes()).unwrap().delivery_failed);
        let delayed = String::from_utf8_lossy(headers).replace("Status: 5.1.1", "Action: delayed\r\nStatus: 4.4.1");
        assert!(!parse(delayed.as_bytes()).unwrap().delivery_failed);
        let whole = b"From: MAILER-DAEMON@mx.example.nl\r\nReturn-Path: <>\r\nSubject: Undelivered Mail\r\n\
                      Content-Type: multipart/report; report-type=delivery-status; boundary=R\r\n\r\n--R\r\nContent-Type: text/plain\r\n\r\nfailed\r\n\
                      --R\r\nContent-Type: message/delivery-status\r\n\r\nStatus: 5.1.1\r\n\
                      --R\r\nContent-Type: message/rfc822\r\n\r\nFrom: klachten@dienst.nl\r\nSubject: x\r\nMessage-ID: <KL-2026-0002.response.def@dienst.nl>\r\n\r\nTekst.\r\n--R--\r\n";
        assert_eq!(parse(whole).unwrap().thread_ids, ["KL-2026-0002.response.def@dienst.nl"]);
        // An ordinary mail with a forwarded message attached is not linked by it.
        let forward = b"From: a@example.nl\r\nSubject: fwd\r\nContent-Type: multipart/mixed; boundary=F\r\n\r\n--F\r\nContent-Type: text/plain\r\n\r\nzie onder\r\n\
                        --F\r\nContent-Type: message/rfc822\r\n\r\nFrom: b@example.nl\r\nSubject: y\r\nMessage-ID: <other@example.nl>\r\n\r\nTekst.\r\n--F--\r\n";
        assert!(parse(forward).unwrap().thread_ids.is_empty());
    }

    #[test]
    fn utf8_that_is_latin1_and_unknown_8bit_keep_their_letters() {
        for charset in ["utf-8", "UTF-8", "unknown-8bit", "x-unknown"] {
            let raw = format!(
                "From: Piet <piet@example.nl>\r\nSubject: Klacht\r\nContent-Type: text/plain; charset={charset}\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            );
            let mut raw = raw.into_bytes();
            raw.extend_from_slice(b"Caf\xe9 dicht, \x80 12,50 \xe9\xe9n dag.\r\n");
            assert_eq!(parse(&raw).unwrap().text, "Café dicht, € 12,50 één dag.", "{charset}");
        }
        // Real UTF-8 under its own label stays as it is, and so does a declared legacy charset.
        let utf8 = "From: a@example.nl\r\nSubject: x\r\nContent-Type: text/plain; charset=utf-8\r\n\r\néén €\r\n".as_bytes();
        assert_eq!(parse(utf8).unwrap().text, "één €");
        // HTML that says UTF-8 and is Latin-1.
        let html = b"From: a@example.nl\r\nSubject: x\r\nContent-Type: text/html; charset=\"utf-8\"\r\n\r\n<p>na\xefef</p>\r\n";
        assert_eq!(parse(html).unwrap().text, "naïef");
    }

    #[test]
    fn a_forward_of_a_forward_names_the_deepest_original() {
        let nested = b"From: Collega B <b@dienst.nl>\r\nSubject: FW: FW: Klacht\r\nContent-Type: multipart/mixed; boundary=F\r\n\r\n--F\r\nContent-Type: text/plain\r\n\r\nVoor jou.\r\n\
                       --F\r\nContent-Type: message/rfc822\r\n\r\nFrom: Collega A <a@dienst.nl>\r\nSubject: FW: Klacht\r\nContent-Type: multipart/mixed; boundary=G\r\n\r\n--G\r\nContent-Type: text/plain\r\n\r\nZie bijlage.\r\n\
                       --G\r\nContent-Type: message/rfc822\r\n\r\nFrom: Petra Jansen <petra@example.nl>\r\nSubject: Klacht\r\nDate: Mon, 23 Nov 2026 09:14:00 +0100\r\n\r\nTekst.\r\n--G--\r\n--F--\r\n";
        assert_eq!(parse(nested).unwrap().forwarded.unwrap().address.as_deref(), Some("petra@example.nl"));
        // An attached forward whose text forwards inline in its turn.
        let inline = b"From: Collega B <b@dienst.nl>\r\nSubject: FW: Klacht\r\nContent-Type: multipart/mixed; boundary=F\r\n\r\n--F\r\nContent-Type: text/plain\r\n\r\nVoor jou.\r\n\
                       --F\r\nContent-Type: message/rfc822\r\n\r\nFrom: Collega A <a@dienst.nl>\r\nSubject: Fwd: Klacht\r\nContent-Type: text/plain\r\n\r\nZie onder.\r\n\r\n---------- Forwarded message ---------\r\nFrom: Petra Jansen <petra@example.nl>\r\nDate: Mon, 23 Nov 2026\r\nSubject: Klacht\r\n\r\nTekst.\r\n--F--\r\n";
        assert_eq!(parse(inline).unwrap().forwarded.unwrap().address.as_deref(), Some("petra@example.nl"));
    }
}
