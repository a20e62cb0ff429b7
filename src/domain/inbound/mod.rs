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

crate::domain::vocabulary::text_enum!(AttachmentRole, "an attachment's role", Document => "document", Signature => "signature", Report => "report");

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

    /// [`dedupe_key`](Self::dedupe_key) as the organisation `organisation` knows the mail: the
    /// same mail sent to two organisations' addresses is a mail of each. The `default`
    /// organisation's keys are as they always were, so mail recorded before is still known.
    /// (A space never occurs in a Message-ID or a hash.)
    pub fn dedupe_key_in(&self, organisation: &crate::domain::organisation::OrganisationKey) -> String {
        match organisation.as_str() {
            crate::domain::organisation::DEFAULT_KEY => self.dedupe_key(),
            other => format!("{} {other}", self.dedupe_key()),
        }
    }
}

/// The facts of the mail `raw`, or why it is no mail.
pub fn parse(raw: &[u8]) -> Result<InboundMail, ParseError> {
    let msg = MessageParser::default().parse(raw).ok_or(ParseError::NotAMessage)?;
    if msg.from().is_none() && msg.subject().is_none() && msg.date().is_none() && msg.message_id().is_none() {
        return Err(ParseError::NoHeaders);
    }
    let (text, attachments) = text_and_attachments(&msg);
    let subject = subject(&msg);
    let delivery_report = is_delivery_report(&msg);
    let calendar = mime::calendar(&msg);
    let bulk_layout = msg.html_bodies().next().and_then(|p| part_text(&msg, p)).is_some_and(|html| mime::bulk_layout(&html));
    let header_text = |name: &str| msg.header_raw(name).map(|v| single_line(v, 200).to_ascii_lowercase());
    Ok(InboundMail {
        message_id: msg.message_id().map(strip_angles).filter(|id| !id.is_empty()),
        thread_ids: thread_ids(&msg, delivery_report),
        from: sender(&msg),
        reply_to: first_person(msg.reply_to()),
        forwarded: attached_original(&msg).or_else(|| forwarded::inline(&subject, &text)),
        subject,
        text,
        attachments,
        auto_submitted: header_text("Auto-Submitted"),
        precedence: header_text("Precedence"),
        // List-Unsubscribe alone is no list: see `classify` for it with other bulk markers.
        list_id: msg.header_raw("List-Id").is_some(),
        return_path: return_path(&msg),
        delivery_report,
        delivery_failed: reports_failure(&msg),
        vendor_autoreply: ["X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress"].iter().any(|h| msg.header_raw(*h).is_some()),
        content_hash: hex(digest::digest(&digest::SHA256, raw).as_ref()),
        headers: top_headers(&msg),
        calendar_method: calendar.as_ref().map(|c| c.method.clone()),
        calendar,
        bulk_layout,
        report_root: mime::report_root(&msg),
        feedback_report: mime::feedback_report(&msg),
    })
}

/// In-Reply-To and References, without angle brackets, deduplicated. A delivery report names
/// the mail it is about only inside: linking by that mail's Message-ID keeps the report with
/// the case whose letter did not arrive.
fn thread_ids(msg: &mail_parser::Message<'_>, delivery_report: bool) -> Vec<String> {
    let mut ids = Vec::new();
    let reported = if delivery_report { reported_message_ids(msg) } else { Vec::new() };
    let headers = [msg.in_reply_to(), msg.references()].into_iter().flat_map(|value| header_texts(value).into_iter().map(|id| strip_angles(&id)));
    for id in headers.chain(reported) {
        if !id.is_empty() && !ids.contains(&id) {
            ids.push(id);
        }
    }
    ids
}

/// The description and the attached parts.
fn text_and_attachments(msg: &mail_parser::Message<'_>) -> (String, Vec<Attachment>) {
    let mut text = body_text(msg);
    let mut parts: Vec<_> = msg.attachments().filter(|part| !part.is_message() || !part.is_empty()).collect();
    if text.is_empty() {
        // Broken MIME (say, a multipart without its closing boundary) makes mail-parser file
        // the text as an attachment; an unnamed text/plain part is the description after all.
        if let Some(pos) = parts.iter().position(|p| p.attachment_name().is_none() && p.is_text() && !p.is_text_html()) {
            let part = parts.remove(pos);
            text = part_text(msg, part).map(|t| tidy_lines(&remove_invisible(&t))).unwrap_or_default();
        }
    }
    (text, parts.into_iter().map(attachment).collect())
}

/// One attached part, with its role and a name a handler can read.
fn attachment(part: &mail_parser::MessagePart<'_>) -> Attachment {
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
}

/// The top-level header fields as (lower-cased name, value on one line), topmost first.
fn top_headers(msg: &mail_parser::Message<'_>) -> Vec<(String, String)> {
    let raw_bytes = msg.raw_message();
    msg.root_part()
        .headers()
        .iter()
        .map(|h| {
            let value = raw_bytes.get(h.offset_start as usize..h.offset_end as usize).unwrap_or_default();
            (h.name.as_str().to_ascii_lowercase(), single_line(&String::from_utf8_lossy(value), 500))
        })
        .collect()
}

/// The subject on one line. Raw 8-bit header bytes that are no UTF-8 (an old client writing
/// ISO-8859-1 without encoded words) are read as windows-1252, as for bodies, instead of
/// replacement characters.
fn subject(msg: &mail_parser::Message<'_>) -> String {
    let subject = single_line(msg.subject().unwrap_or(""), 300);
    match subject.contains('\u{FFFD}').then(|| legacy_header(msg, "subject")).flatten() {
        Some(legacy) => single_line(&legacy, 300),
        None => subject,
    }
}

/// The first `From`, its name read as windows-1252 when its bytes are no UTF-8.
fn sender(msg: &mail_parser::Message<'_>) -> Option<Person> {
    let mut from = first_person(msg.from());
    if let Some(person) = from.as_mut().filter(|p| p.name.as_deref().is_some_and(|n| n.contains('\u{FFFD}'))) {
        if let Some(name) = legacy_header(msg, "from").and_then(|v| forwarded::person(&v).0) {
            person.name = Some(name);
        }
    }
    from
}

fn return_path(msg: &mail_parser::Message<'_>) -> ReturnPath {
    let Some(raw) = msg.header_raw("Return-Path") else { return ReturnPath::Absent };
    let inner = strip_angles(raw.trim());
    // Some MTAs write the null sender of a bounce as `<MAILER-DAEMON>` or `<MAILER-DAEMON@host>`.
    if inner.is_empty() || inner.split('@').next().is_some_and(|local| local.eq_ignore_ascii_case("mailer-daemon")) {
        ReturnPath::Empty
    } else {
        ReturnPath::Address(inner.to_ascii_lowercase())
    }
}

/// Whether `ct` is `ctype/<one of subtypes>`, ignoring case.
fn is_type(ct: &mail_parser::ContentType<'_>, ctype: &str, subtypes: &[&str]) -> bool {
    ct.ctype().eq_ignore_ascii_case(ctype) && ct.subtype().is_some_and(|s| subtypes.iter().any(|t| s.eq_ignore_ascii_case(t)))
}

/// `multipart/report` at the root, or a delivery-status or disposition-notification part.
fn is_delivery_report(msg: &mail_parser::Message<'_>) -> bool {
    msg.root_part().content_type().is_some_and(|ct| is_type(ct, "multipart", &["report"]))
        || msg.parts.iter().any(|p| p.content_type().is_some_and(|ct| is_type(ct, "message", &["delivery-status", "disposition-notification"])))
}

/// A delivery-status part that says `Action: failed`.
fn reports_failure(msg: &mail_parser::Message<'_>) -> bool {
    msg.parts.iter().any(|p| {
        p.content_type().is_some_and(|ct| is_type(ct, "message", &["delivery-status"]))
            && String::from_utf8_lossy(p.contents())
                .lines()
                .any(|l| l.split_once(':').is_some_and(|(k, v)| k.trim().eq_ignore_ascii_case("action") && v.trim().eq_ignore_ascii_case("failed")))
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
mod tests;
