//! Mail a person may have sent that is still no complaint, or that a person must look at
//! first: calendar invitations, e-invoices, copier scans, voicemail and faxes.

use super::evidence::has_own_words;
use super::SetAsideReason;
use crate::domain::forwarded;
use crate::domain::inbound::{Attachment, AttachmentRole, InboundMail};

/// Why a mail that is not machine-made is still no complaint, if it is not.
pub fn set_aside_reason(mail: &InboundMail) -> Option<SetAsideReason> {
    if own_scheduling_message(mail) {
        return Some(SetAsideReason::CalendarInvitation);
    }
    let e_invoice = mail.attachments.iter().any(|a| {
        let xml = a.content_type.ends_with("/xml") || a.filename.to_ascii_lowercase().ends_with(".xml");
        let head = String::from_utf8_lossy(&a.data[..a.data.len().min(4096)]);
        xml && [
            "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2",
            "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2",
            "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice",
        ]
        .iter()
        .any(|ns| head.contains(ns))
    });
    e_invoice.then_some(SetAsideReason::Invoice)
}

/// An iTIP scheduling message (RFC 5546) the sender sends as such: a calendar part of the mail
/// itself (never one inside a forwarded mail) with a scheduling method, which is the mail's
/// body or its alternative, or the sender's own (organiser, or answering attendee), or carries
/// no words of the sender's own beside it; or Exchange's TNEF meeting request
/// (`Content-Class: urn:content-classes:calendarmessage`, `winmail.dat`). PUBLISH (an event
/// shared for information) is no scheduling. An invitation someone forwards with words of their
/// own is their mail.
fn own_scheduling_message(mail: &InboundMail) -> bool {
    let from = mail.from.as_ref().map(|f| f.address.as_str());
    let own_words = has_own_words(forwarded::own_text(&mail.subject, &mail.text));
    let forwarding = own_words && (forwarded::is_forward_subject(&mail.subject) || mail.forwarded.is_some());
    if let Some(c) = &mail.calendar {
        if !matches!(c.method.as_str(), "REQUEST" | "CANCEL" | "REPLY" | "COUNTER" | "DECLINECOUNTER" | "REFRESH" | "ADD") {
            return false;
        }
        let by_sender = match (&c.organizer, c.method.as_str()) {
            (_, "REPLY" | "COUNTER" | "REFRESH") => c.attendees.is_empty() || from.is_some_and(|f| c.attendees.iter().any(|a| a == f)),
            (Some(organizer), _) => Some(organizer.as_str()) == from,
            (None, _) => true,
        };
        return by_sender && !forwarding && (c.alternative || c.organizer.is_some() || !own_words);
    }
    mail.header("content-class").is_some_and(|v| v.to_ascii_lowercase().contains("calendarmessage")) && !forwarding
}

/// A fax delivered by a fax gateway or fax-to-mail service: only PDF or TIFF files, at most the
/// service's notice as text, and a fax's marks in the subject, sender or mailer.
pub fn looks_like_fax(mail: &InboundMail) -> bool {
    let docs: Vec<_> = mail.attachments.iter().filter(|a| a.role == AttachmentRole::Document).collect();
    // Fax gateways also send their PDF as `application/octet-stream` with its name.
    let fax_file = |a: &&Attachment| {
        let name = a.filename.to_ascii_lowercase();
        matches!(a.content_type.as_str(), "application/pdf" | "image/tiff" | "image/tif")
            || (a.content_type == "application/octet-stream" && [".pdf", ".tif", ".tiff"].iter().any(|e| name.ends_with(e)))
    };
    if docs.is_empty() || !docs.iter().all(fax_file) || mail.text.chars().filter(|c| c.is_alphanumeric()).count() > 400 {
        return false;
    }
    let fax_word = |s: &str| {
        let s = s.to_lowercase();
        s.split(|c: char| !c.is_alphanumeric()).any(|w| matches!(w, "fax" | "telefax" | "faxbericht" | "efax" | "faxmail" | "faxnachricht" | "télécopie"))
            || s.contains("fax from")
            || s.contains("fax van")
            || s.contains("fax-bericht")
    };
    let from = mail.from.as_ref().map(|f| format!("{} {}", f.address, f.name.as_deref().unwrap_or(""))).unwrap_or_default();
    let mailer = mail.header("x-mailer").unwrap_or("").to_ascii_lowercase();
    fax_word(&mail.subject)
        || fax_word(&from)
        || docs.iter().any(|a| fax_word(&a.filename))
        || ["hylafax", "faxmaker", "rightfax", "retarus", "ringcentral", "xmedius", "faxination", "efax", "capi4hylafax", "avm fritz"]
            .iter()
            .any(|m| mailer.contains(m))
        || mail.headers.iter().any(|(n, _)| n.starts_with("x-fax") || n.starts_with("x-hylafax"))
}

/// A scan-to-mail from a copier: only scanned files (PDF or images), at most the device's
/// boilerplate as text, and a device's marks (its sender name or address, its X-Mailer or its
/// standard subject). A person's mail with a PDF and a few lines is no scan.
pub fn looks_like_scan(mail: &InboundMail) -> bool {
    let docs: Vec<_> = mail.attachments.iter().filter(|a| a.role == AttachmentRole::Document).collect();
    let scanned = |ct: &str| matches!(ct, "application/pdf" | "image/tiff" | "image/jpeg" | "image/png");
    if docs.is_empty() || !docs.iter().all(|a| scanned(&a.content_type)) || mail.text.chars().filter(|c| c.is_alphanumeric()).count() > 300 {
        return false;
    }
    let (local, name) = mail
        .from
        .as_ref()
        .map_or((String::new(), String::new()), |f| (f.address.split('@').next().unwrap_or("").to_string(), f.name.clone().unwrap_or_default().to_lowercase()));
    let device_words = ["scan", "copier", "kopieer", "mfp", "multifunction", "multifunctional", "printer"];
    let brands = [
        "ricoh",
        "xerox",
        "canon",
        "konica",
        "minolta",
        "kyocera",
        "sharp",
        "lexmark",
        "toshiba",
        "bizhub",
        "imagerunner",
        "e-studio",
        "workcentre",
        "altalink",
        "versalink",
        "hp digital sending",
    ];
    let mailer = mail.header("x-mailer").unwrap_or("").to_ascii_lowercase();
    let subject = mail.subject.to_lowercase();
    device_words.iter().any(|w| local.contains(w) || name.contains(w))
        || brands.iter().any(|b| mailer.contains(b) || local.contains(b))
        || ["scanned from", "scanned image", "gescand", "scan from", "scan-to-mail", "message from \"rnp", "[scan]"]
            .iter()
            .any(|p| subject.starts_with(p) || subject.contains(p))
}

/// A voicemail delivered by mail: RFC 3801 / Exchange Unified Messaging `Content-Class: voice*`,
/// or an audio file with at most a notice as text and a subject or sender that says voicemail
/// (hosted telephony). A person who sends a recording with their own words complains.
pub fn looks_like_voicemail(mail: &InboundMail) -> bool {
    if mail.header("content-class").is_some_and(|v| v.trim().to_ascii_lowercase().starts_with("voice")) {
        return true;
    }
    let audio = mail.attachments.iter().any(|a| a.content_type.starts_with("audio/")) && mail.text.chars().filter(|c| c.is_alphanumeric()).count() <= 300;
    let words = ["voicemail", "voice mail", "voicebericht", "gesproken bericht", "voice message", "voicemailbericht"];
    let from = mail.from.as_ref().map(|f| format!("{} {}", f.address, f.name.as_deref().unwrap_or("").to_lowercase())).unwrap_or_default();
    audio && words.iter().any(|w| mail.subject.to_lowercase().contains(w) || from.contains(w))
}
