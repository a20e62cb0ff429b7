//! What an incoming mail means for the procedure (R1): a new complaint, a follow-up on a case,
//! or mail that must never start a case or get a reply.

use super::inbound::{AttachmentRole, InboundMail, ReturnPath};

/// Why a mail counts as machine-generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoReason {
    AutoSubmitted,
    BulkPrecedence,
    MailingList,
    EmptyReturnPath,
    /// A sender address of the no-reply, notification, bounce or mailer-daemon families.
    SystemSender,
    DeliveryReport,
    VendorAutoReply,
    /// Made by a platform's automation: Exchange/Power Automate flows, Google and Salesforce
    /// notifications (their own headers).
    PlatformGenerated,
    /// Sent by a mailing system: Mailchimp/Mandrill markers, `Feedback-ID`, or
    /// `List-Unsubscribe` together with another bulk marker.
    BulkSender,
}

impl AutoReason {
    pub fn as_str(self) -> &'static str {
        match self {
            AutoReason::AutoSubmitted => "auto-submitted",
            AutoReason::BulkPrecedence => "bulk-precedence",
            AutoReason::MailingList => "mailing-list",
            AutoReason::EmptyReturnPath => "empty-return-path",
            AutoReason::SystemSender => "system-sender",
            AutoReason::DeliveryReport => "delivery-report",
            AutoReason::VendorAutoReply => "auto-reply",
            AutoReason::PlatformGenerated => "platform-generated",
            AutoReason::BulkSender => "bulk-sender",
        }
    }
}

/// Mail a person may well have sent, that is still no complaint: kept with the case it refers
/// to, otherwise set aside; never answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetAsideReason {
    /// An iTIP scheduling message: invitation, cancellation, reply or counter-proposal
    /// (Outlook, Teams, Google Calendar, Apple Calendar).
    CalendarInvitation,
    /// An e-invoice (UBL or UN/CEFACT XML) from an accounting system.
    Invoice,
}

impl SetAsideReason {
    pub fn as_str(self) -> &'static str {
        match self {
            SetAsideReason::CalendarInvitation => "calendar-invitation",
            SetAsideReason::Invoice => "e-invoice",
        }
    }
}

/// A spam filter in front of the mailbox whose verdict klachtd can be told to trust.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpamFilter {
    /// `X-Spam-Flag: YES` or `X-Spam-Status: Yes, ...`.
    SpamAssassin,
    /// `X-Spamd-Result: default: True [...]` or `X-Spam: Yes`.
    Rspamd,
    /// `X-Forefront-Antispam-Report` with `SFV:SPM` or an SCL at or above the threshold.
    Microsoft,
}

impl SpamFilter {
    pub fn as_str(self) -> &'static str {
        match self {
            SpamFilter::SpamAssassin => "spamassassin",
            SpamFilter::Rspamd => "rspamd",
            SpamFilter::Microsoft => "microsoft",
        }
    }
}

/// Whose spam verdict counts (the configuration's `intake.spam`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpamPolicy {
    pub trusted: Vec<SpamFilter>,
    /// Microsoft's spam confidence level (0-9) from which a mail counts as spam.
    pub microsoft_min_scl: u8,
}

/// Why a mail waits for a person before anything happens (the quarantine folder).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuarantineReason {
    /// The organisation's own filter flagged it: answering would be backscatter to a forged
    /// sender, and a case would be a fake entry in the register.
    Spam(SpamFilter),
    /// A copier's scan-to-mail: most likely a paper complaint a colleague scanned, to be
    /// registered with its real sender and date of receipt (`cases register`).
    ScannedDocument,
    /// A voicemail: someone tried to complain by phone; a person listens and calls back.
    Voicemail,
}

impl QuarantineReason {
    /// The reason as recorded with the quarantined mail.
    pub fn describe(self) -> String {
        match self {
            QuarantineReason::Spam(f) => format!("flagged as spam by {} (intake.spam)", f.as_str()),
            QuarantineReason::ScannedDocument => "a scanned document from a copier: register a paper complaint with `klachtd cases register`".into(),
            QuarantineReason::Voicemail => "a voicemail: listen to it and call back".into(),
        }
    }
}

/// The decision for one mail. `C` identifies the case the mail refers to, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Classification<C> {
    /// Written by a person and about no known case: registers a new case and is acknowledged.
    NewComplaint,
    /// Written by a person about an existing case: threaded into it, no reply.
    FollowUp(C),
    /// Machine-generated: never a case, never a reply; kept with its case when it names one.
    Automated { reason: AutoReason, case: Option<C> },
    /// Sent from one of our own addresses: never a case, never a reply.
    OwnMail { case: Option<C> },
    /// No complaint (see [`SetAsideReason`]): never a case, never a reply; kept with its case.
    SetAside { reason: SetAsideReason, case: Option<C> },
    /// For a person to judge first: quarantined with the reason, never answered.
    Quarantine(QuarantineReason),
}

/// Whether a mail was generated by a machine, and why (RFC 3834 and common practice).
pub fn automated_reason(mail: &InboundMail) -> Option<AutoReason> {
    if mail.auto_submitted.as_deref().is_some_and(|v| v.split(';').next().unwrap_or("").trim() != "no") {
        return Some(AutoReason::AutoSubmitted);
    }
    if mail.precedence.as_deref().is_some_and(|p| matches!(p.trim(), "bulk" | "list" | "junk")) {
        return Some(AutoReason::BulkPrecedence);
    }
    if mail.list_id {
        return Some(AutoReason::MailingList);
    }
    if mail.return_path == ReturnPath::Empty {
        return Some(AutoReason::EmptyReturnPath);
    }
    if mail.delivery_report {
        return Some(AutoReason::DeliveryReport);
    }
    if mail.from.as_ref().is_some_and(|from| is_system_sender(&from.address)) {
        return Some(AutoReason::SystemSender);
    }
    if mail.vendor_autoreply {
        return Some(AutoReason::VendorAutoReply);
    }
    if platform_generated(mail) {
        return Some(AutoReason::PlatformGenerated);
    }
    if bulk_sender(mail) {
        return Some(AutoReason::BulkSender);
    }
    None
}

/// The address families machines send from: `*noreply*`, `*no-reply*`, `*donotreply*`,
/// `*do-not-reply*`, `notification(s)@`, `bounce*@`, `mailer-daemon@`, `postmaster@`.
pub fn is_system_sender(address: &str) -> bool {
    let local = address.split('@').next().unwrap_or("").to_ascii_lowercase();
    let local = local.split('+').next().unwrap_or("");
    // no-reply, no_reply, no.reply and noreply are one family, like do-not-reply.
    let squashed: String = local.chars().filter(|c| !matches!(c, '-' | '_' | '.')).collect();
    squashed.contains("noreply")
        || squashed.contains("donotreply")
        || matches!(squashed.as_str(), "notifications" | "notification" | "mailerdaemon" | "postmaster")
        || local.starts_with("bounce")
}

/// Headers that only platforms' automation sets: Power Automate and Power Apps
/// (`x-ms-mail-application`, documented for exfiltration rules), other Exchange-generated mail,
/// SharePoint alerts (`X-AlertId`, `X-AlertServerType`, [MS-OSALER]), Google
/// notifications, Salesforce. Teams notices come from no-reply addresses. An Exchange inbox
/// rule that forwards a person's mail marks it `Mailbox Rules Agent`: that mail is still the
/// person's.
fn platform_generated(mail: &InboundMail) -> bool {
    if mail.header("x-ms-exchange-generated-message-source").is_some_and(|v| !v.to_ascii_lowercase().contains("mailbox rules agent")) {
        return true;
    }
    [
        "x-ms-mail-application",
        "x-alertid",
        "x-alertservertype",
        "x-notifications",
        "x-notifications-bounce-info",
        "x-sfdc-lk",
        "x-sfdc-user",
        "x-sfdc-emailcategory",
    ]
    .iter()
    .any(|h| mail.has_header(h))
}

/// Mailing systems: their own markers, `Feedback-ID` (the bulk senders' feedback loop), or a
/// `List-Unsubscribe` with another sign of bulk mail. `List-Unsubscribe` alone is not enough:
/// some personal mail services add it too.
fn bulk_sender(mail: &InboundMail) -> bool {
    let vendor = [
        "x-mc-user",
        "x-mandrill-user",
        "x-campaign",
        "x-campaignid",
        "x-mailchimp-campaign-id",
        "x-sg-eid",
        "x-mailgun-tag",
        "x-csa-complaints",
        "feedback-id",
    ];
    if vendor.iter().any(|h| mail.has_header(h)) {
        return true;
    }
    let bulk_mailer = mail.header("x-mailer").is_some_and(|m| {
        let m = m.to_ascii_lowercase();
        ["mailchimp", "mailjet", "sendgrid", "laposta", "spotler", "mailplus", "campaign monitor", "hubspot", "klaviyo", "brevo", "sendinblue"]
            .iter()
            .any(|b| m.contains(b))
    });
    mail.has_header("list-unsubscribe") && (mail.has_header("list-unsubscribe-post") || mail.has_header("x-report-abuse") || bulk_mailer)
}

/// The filter among `policy.trusted` that flags this mail as spam. Only the topmost header of
/// each name counts: it was added by the server nearest to the mailbox, not by the sender's side.
pub fn spam_verdict(mail: &InboundMail, policy: &SpamPolicy) -> Option<SpamFilter> {
    let yes = |v: Option<&str>| v.is_some_and(|v| v.trim().get(..3).is_some_and(|p| p.eq_ignore_ascii_case("yes")));
    policy.trusted.iter().copied().find(|filter| match filter {
        SpamFilter::SpamAssassin => yes(mail.header("x-spam-flag")) || yes(mail.header("x-spam-status")),
        SpamFilter::Rspamd => {
            mail.header("x-spamd-result").is_some_and(|v| v.trim().to_ascii_lowercase().starts_with("default: true")) || yes(mail.header("x-spam"))
        }
        // DIR:OUT is the sender's tenant scanning its own outgoing mail, not our filter.
        SpamFilter::Microsoft => mail.header("x-forefront-antispam-report").is_some_and(|report| {
            let outbound = report.split(';').any(|f| f.trim().eq_ignore_ascii_case("dir:out"));
            !outbound
                && report.split(';').any(|field| match field.trim().split_once(':') {
                    Some((k, v)) if k.trim().eq_ignore_ascii_case("scl") => v.trim().parse::<u8>().is_ok_and(|scl| scl >= policy.microsoft_min_scl),
                    Some((k, v)) if k.trim().eq_ignore_ascii_case("sfv") => v.trim().eq_ignore_ascii_case("spm"),
                    _ => false,
                })
        }),
    })
}

/// Why a mail that is not machine-made is still no complaint, if it is not.
pub fn set_aside_reason(mail: &InboundMail) -> Option<SetAsideReason> {
    // PUBLISH (an event shared for information) is not scheduling; a person may attach one.
    if mail.calendar_method.as_deref().is_some_and(|m| matches!(m, "REQUEST" | "CANCEL" | "REPLY" | "COUNTER" | "DECLINECOUNTER" | "REFRESH" | "ADD")) {
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

/// Classifies a mail. `own_addresses` are lower-cased; `linked_case` is the case that the
/// mail's subject reference or threading headers point to, looked up by the caller. `spam` is
/// the policy of the intake; `None` when a handler releases the mail from quarantine, which
/// also lifts the other reasons to hold it for a person.
pub fn classify<C>(mail: &InboundMail, own_addresses: &[String], linked_case: Option<C>, spam: Option<&SpamPolicy>) -> Classification<C> {
    let from_us = mail.from.as_ref().is_some_and(|f| own_addresses.iter().any(|o| o == &f.address));
    if from_us {
        return Classification::OwnMail { case: linked_case };
    }
    if let Some(filter) = spam.and_then(|policy| spam_verdict(mail, policy)) {
        return Classification::Quarantine(QuarantineReason::Spam(filter));
    }
    if let Some(reason) = set_aside_reason(mail) {
        return Classification::SetAside { reason, case: linked_case };
    }
    // Before the machine check: a voicemail system or copier may well send from a no-reply
    // address, and what it carries is for a person.
    if spam.is_some() && linked_case.is_none() {
        if looks_like_voicemail(mail) {
            return Classification::Quarantine(QuarantineReason::Voicemail);
        }
        if looks_like_scan(mail) {
            return Classification::Quarantine(QuarantineReason::ScannedDocument);
        }
    }
    if let Some(reason) = automated_reason(mail) {
        return Classification::Automated { reason, case: linked_case };
    }
    match linked_case {
        Some(case) => Classification::FollowUp(case),
        None => Classification::NewComplaint,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::inbound::parse;

    const OWN: &str = "klachten@dienst.nl";

    fn mail(headers: &str) -> InboundMail {
        let raw = format!("{headers}\r\nSubject: test\r\n\r\nBody text\r\n");
        parse(raw.as_bytes()).unwrap()
    }

    fn policy() -> SpamPolicy {
        SpamPolicy { trusted: vec![SpamFilter::SpamAssassin, SpamFilter::Rspamd, SpamFilter::Microsoft], microsoft_min_scl: 5 }
    }

    fn class(headers: &str, linked: Option<u32>) -> Classification<u32> {
        classify(&mail(headers), &[OWN.to_string()], linked, Some(&policy()))
    }

    #[test]
    fn person_without_reference_files_a_new_complaint() {
        assert_eq!(class("From: Jan <jan@example.nl>", None), Classification::NewComplaint);
        assert_eq!(class("From: jan@example.nl\r\nAuto-Submitted: no", None), Classification::NewComplaint);
    }

    #[test]
    fn person_with_reference_follows_up() {
        assert_eq!(class("From: jan@example.nl", Some(7)), Classification::FollowUp(7));
    }

    #[test]
    fn out_of_office_is_automated() {
        let c = class("From: jan@example.nl\r\nAuto-Submitted: auto-replied", Some(7));
        assert_eq!(c, Classification::Automated { reason: AutoReason::AutoSubmitted, case: Some(7) });
        let c = class("From: jan@example.nl\r\nX-Autoreply: yes", None);
        assert_eq!(c, Classification::Automated { reason: AutoReason::VendorAutoReply, case: None });
    }

    #[test]
    fn list_and_bulk_mail_is_automated() {
        assert!(matches!(class("From: news@example.nl\r\nPrecedence: bulk", None), Classification::Automated { reason: AutoReason::BulkPrecedence, .. }));
        assert!(matches!(class("From: news@example.nl\r\nPrecedence: list", None), Classification::Automated { reason: AutoReason::BulkPrecedence, .. }));
        assert!(matches!(
            class("From: news@example.nl\r\nList-Id: <news.example.nl>", None),
            Classification::Automated { reason: AutoReason::MailingList, .. }
        ));
    }

    #[test]
    fn bounces_are_automated() {
        assert!(matches!(class("From: jan@example.nl\r\nReturn-Path: <>", None), Classification::Automated { reason: AutoReason::EmptyReturnPath, .. }));
        assert!(matches!(class("From: MAILER-DAEMON@mx.example.nl", None), Classification::Automated { reason: AutoReason::SystemSender, .. }));
        assert!(matches!(class("From: postmaster@example.nl", None), Classification::Automated { reason: AutoReason::SystemSender, .. }));
        let report = "From: mx@example.nl\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=R";
        let raw = format!("{report}\r\nSubject: x\r\n\r\n--R\r\nContent-Type: text/plain\r\n\r\nx\r\n--R--\r\n");
        let m = parse(raw.as_bytes()).unwrap();
        assert!(matches!(classify::<u32>(&m, &[], None, Some(&policy())), Classification::Automated { reason: AutoReason::DeliveryReport, .. }));
    }

    #[test]
    fn our_own_mail_is_recognised_first() {
        assert_eq!(class("From: Klachten <KLACHTEN@dienst.nl>\r\nAuto-Submitted: auto-replied", Some(3)), Classification::OwnMail { case: Some(3) });
        assert_eq!(class("From: klachten@dienst.nl", None), Classification::OwnMail { case: None });
    }
}

/// The classes of mail from the second set of real-world mails (issue 11), each as a faithful
/// raw mail of the client or system that sends it.
#[cfg(test)]
mod mail_classes {
    use super::*;
    use crate::domain::inbound::parse;

    const OWN: &str = "klachten@dienst.nl";

    fn all_filters() -> SpamPolicy {
        SpamPolicy { trusted: vec![SpamFilter::SpamAssassin, SpamFilter::Rspamd, SpamFilter::Microsoft], microsoft_min_scl: 5 }
    }

    fn of(raw: &str) -> Classification<u32> {
        classify(&parse(raw.as_bytes()).unwrap(), &[OWN.to_string()], None, Some(&all_filters()))
    }

    fn automated(raw: &str) -> Option<AutoReason> {
        match of(raw) {
            Classification::Automated { reason, .. } => Some(reason),
            _ => None,
        }
    }

    fn person(from: &str, extra: &str) -> String {
        format!("From: {from}\r\nTo: klachten@dienst.nl\r\nSubject: Klacht\r\nMessage-ID: <p1@example.nl>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0100\r\n{extra}MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nIk ben ontevreden over mijn coach.\r\n")
    }

    #[test]
    fn power_automate_flow_is_platform_mail() {
        // As Exchange Online delivers a Power Automate "send an email" action.
        let flow = "Received: from AM9PR02MB7123.eurprd02.prod.outlook.com (2603:10a6:20b:3c1::9) by DB9PR02MB6554.eurprd02.prod.outlook.com\r\n\
            From: Microsoft Power Automate <flow-noreply@microsoft.com>\r\nTo: klachten@dienst.nl\r\nSubject: Nieuw antwoord op Klachtformulier\r\n\
            Date: Mon, 23 Nov 2026 09:12:44 +0000\r\nMessage-ID: <8f0c1c2e-5b4f-4c57-9d0e-0a4f1c1b7d21@AM9PR02MB7123.eurprd02.prod.outlook.com>\r\n\
            x-ms-mail-application: Microsoft Power Automate; User-Agent: azure-logic-apps/1.0 (workflow afa0fb167803450aa650267e95d43287; version 08586093372199532216) microsoft-flow/1.0\r\n\
            x-ms-mail-operation-type: Send\r\nX-MS-Exchange-Generated-Message-Source: Microsoft Flow\r\nX-MS-Exchange-Organization-AuthAs: Internal\r\nMIME-Version: 1.0\r\n\
            Content-Type: text/html; charset=\"utf-8\"\r\n\r\n<p>Geachte Microsoft Power Automate,</p><p>Er is een nieuw antwoord.</p>\r\n";
        assert_eq!(automated(flow), Some(AutoReason::SystemSender));
        // A flow that sends as a shared mailbox: its headers tell, each of them alone.
        let shared = flow.replace("Microsoft Power Automate <flow-noreply@microsoft.com>", "Klantcontact <klantcontact@dienst-partner.nl>");
        let power_automate_header = shared.replace("X-MS-Exchange-Generated-Message-Source: Microsoft Flow\r\n", "");
        assert_eq!(automated(&power_automate_header), Some(AutoReason::PlatformGenerated));
        let exchange_header = shared.lines().filter(|l| !l.starts_with("x-ms-mail-")).collect::<Vec<_>>().join("\n");
        assert!(!exchange_header.contains("x-ms-mail-application"));
        assert_eq!(automated(&exchange_header), Some(AutoReason::PlatformGenerated));
        // An inbox rule that forwards a person's mail marks it so: still the person's mail.
        let rule = exchange_header.replace("Microsoft Flow", "Mailbox Rules Agent");
        assert_eq!(of(&rule), Classification::NewComplaint);
    }

    #[test]
    fn sender_address_families() {
        for a in [
            "noreply@mijnoverheid.nl",
            "no-reply@sharepointonline.com",
            "no_reply@example.nl",
            "donotreply@belastingdienst.nl",
            "do-not-reply@example.nl",
            "flow-noreply@microsoft.com",
            "forms-receipts-noreply@google.com",
            "noreply+abc@digid.nl",
            "notifications@github.com",
            "notification@example.nl",
            "bounce@mail.example.nl",
            "bounces+12345-abcd=dienst.nl@em123.example.com",
            "MAILER-DAEMON@mx.example.nl",
            "postmaster@example.nl",
            "noreply@email.teams.microsoft.com",
        ] {
            assert!(is_system_sender(&a.to_ascii_lowercase()), "{a}");
        }
        for a in ["jan@example.nl", "noreen@example.nl", "reply@example.nl", "notificatie.team@gemeente.nl", "info@example.nl", "no.rep@example.nl"] {
            assert!(!is_system_sender(a), "{a}");
        }
    }

    #[test]
    fn government_notifications_are_machine_mail() {
        // A MijnOverheid Berichtenbox notice and a DigiD notice, as they arrive.
        let berichtenbox = "From: MijnOverheid <noreply@mijnoverheid.nl>\r\nTo: klachten@dienst.nl\r\nSubject: U heeft een nieuw bericht in uw Berichtenbox\r\n\
            Date: Tue, 24 Nov 2026 07:02:11 +0100\r\nMessage-ID: <20261124060211.4F2A1@mijnoverheid.nl>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n\
            Geachte heer/mevrouw,\r\n\r\nEr staat een nieuw bericht voor u klaar in uw Berichtenbox op MijnOverheid.nl.\r\n";
        assert_eq!(automated(berichtenbox), Some(AutoReason::SystemSender));
        let digid = berichtenbox
            .replace("MijnOverheid <noreply@mijnoverheid.nl>", "DigiD <noreply@digid.nl>")
            .replace("U heeft een nieuw bericht in uw Berichtenbox", "Er is ingelogd met uw DigiD");
        assert_eq!(automated(&digid), Some(AutoReason::SystemSender));
    }

    #[test]
    fn vendor_platform_and_bulk_headers() {
        // A SharePoint alert as [MS-OSALER] shows one, from a site's own address.
        let sharepoint = person("Teamsite Klachten <teamsite@dienst.nl>", "X-AlertTitle: =?utf-8?B?RG9jdW1lbnRlbg==?=\r\nX-AlertId: {913D756A-E669-4969-A930-8CD9845926D8}:{D5D996C5-683C-4077-AB40-9F3721E30B9D}\r\nX-AlertServerType: STS\r\nX-Mailer: WSS (version 3)\r\n");
        assert_eq!(automated(&sharepoint), Some(AutoReason::PlatformGenerated));
        let google = person("Google Agenda <calendar-notification@google.com>", "X-Notifications: 7c2b1e0f4a3d0000\r\nX-Notifications-Bounce-Info: AXYZ\r\n");
        assert_eq!(automated(&google), Some(AutoReason::PlatformGenerated));
        let salesforce = person(
            "Gemeente Voorbeeld <info@gemeente-voorbeeld.nl>",
            "X-SFDC-LK: 00D5g000004ABCD\r\nX-SFDC-User: 0055g00000XYZab\r\nX-Sender: postmaster@salesforce.com\r\n",
        );
        assert_eq!(automated(&salesforce), Some(AutoReason::PlatformGenerated));
        let mailchimp = person(
            "Stichting Voorbeeld <nieuws@stichting-voorbeeld.nl>",
            "List-Unsubscribe: <https://stichting.us21.list-manage.com/unsubscribe?u=abc&id=def>, <mailto:unsubscribe-mc.us21_abc@mailchimpapp.net>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\nX-MC-User: 0a1b2c3d4e5f\r\nX-Mailer: Mailchimp Mailer - **CID8a7f**\r\nFeedback-ID: 123:0a1b2c3d4e5f:mailchimp\r\n",
        );
        assert_eq!(automated(&mailchimp), Some(AutoReason::BulkSender));
        assert_eq!(automated(&person("Nieuws <nieuws@example.nl>", "Feedback-ID: 1.eu-west-1.abc:AmazonSES\r\n")), Some(AutoReason::BulkSender));
        let one_click =
            person("Nieuws <nieuws@example.nl>", "List-Unsubscribe: <https://example.nl/u/1>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n");
        assert_eq!(automated(&one_click), Some(AutoReason::BulkSender));
        // List-Unsubscribe without any other bulk marker: a person's mail all the same.
        assert_eq!(of(&person("Jan <jan@example.nl>", "List-Unsubscribe: <mailto:unsub@example.nl>\r\n")), Classification::NewComplaint);
    }

    #[test]
    fn spam_flagged_by_a_trusted_filter_is_quarantined() {
        // A phishing mail as SpamAssassin (via spamass-milter) leaves it in front of Dovecot.
        let sa = "Return-Path: <support@paypa1-secure.example>\r\nX-Spam-Flag: YES\r\nX-Spam-Checker-Version: SpamAssassin 4.0.0 (2022-12-13) on mx.dienst.nl\r\n\
            X-Spam-Level: *********\r\nX-Spam-Status: Yes, score=9.1 required=5.0 tests=BAYES_99,HTML_MESSAGE,\r\n\tRCVD_IN_SBL,URIBL_BLACK autolearn=no autolearn_force=no version=4.0.0\r\n\
            From: Klantenservice <klachten@dienst.nl.secure-login.example>\r\nTo: klachten@dienst.nl\r\nSubject: Uw account wordt geblokkeerd\r\nMessage-ID: <x1@secure-login.example>\r\n\r\nKlik hier.\r\n";
        assert_eq!(of(sa), Classification::Quarantine(QuarantineReason::Spam(SpamFilter::SpamAssassin)));
        assert_eq!(
            of(&sa.replace("X-Spam-Flag: YES\r\n", "")),
            Classification::Quarantine(QuarantineReason::Spam(SpamFilter::SpamAssassin)),
            "X-Spam-Status alone"
        );
        let rspamd = person(
            "x <x@spam.example>",
            "X-Spamd-Result: default: True [16.20 / 15.00];\r\n\tR_SPF_FAIL(1.00)[-all];\r\n\tBAYES_SPAM(5.10)[99.99%]\r\nX-Rspamd-Action: reject\r\n",
        );
        assert_eq!(of(&rspamd), Classification::Quarantine(QuarantineReason::Spam(SpamFilter::Rspamd)));
        assert_eq!(of(&person("x <x@spam.example>", "X-Spam: Yes\r\n")), Classification::Quarantine(QuarantineReason::Spam(SpamFilter::Rspamd)));
        let microsoft = |scl: &str, sfv: &str| {
            person("x <x@spam.example>", &format!("X-Forefront-Antispam-Report:\r\n CIP:203.0.113.7;CTRY:US;LANG:nl;SCL:{scl};SRV:;IPV:NLI;SFV:{sfv};H:mail.spam.example;PTR:mail.spam.example;CAT:SPM;SFS:(13230031)(4636009);DIR:INB;\r\n"))
        };
        assert_eq!(of(&microsoft("5", "SPM")), Classification::Quarantine(QuarantineReason::Spam(SpamFilter::Microsoft)));
        assert_eq!(of(&microsoft("6", "NSPM")), Classification::Quarantine(QuarantineReason::Spam(SpamFilter::Microsoft)), "SCL at or above the threshold");
        assert_eq!(of(&microsoft("1", "NSPM")), Classification::NewComplaint);
        assert_eq!(of(&microsoft("-1", "SKN")), Classification::NewComplaint, "safe-listed");
        assert_eq!(of(&microsoft("5", "SPM").replace("DIR:INB", "DIR:OUT")), Classification::NewComplaint, "the sender's outbound scan");
        // Clean verdicts, and verdicts of filters the configuration does not trust, are no spam.
        assert_eq!(of(&person("Jan <jan@example.nl>", "X-Spam-Flag: NO\r\nX-Spam-Status: No, score=-0.1 required=5.0\r\n")), Classification::NewComplaint);
        let only_sa = SpamPolicy { trusted: vec![SpamFilter::SpamAssassin], microsoft_min_scl: 5 };
        assert_eq!(classify::<u32>(&parse(rspamd.as_bytes()).unwrap(), &[], None, Some(&only_sa)), Classification::NewComplaint);
        // Only the topmost header counts: the lower one came from the sender's side.
        let relayed = person("Jan <jan@example.nl>", "X-Spam-Flag: NO\r\nReceived: from relay.example.nl\r\nX-Spam-Flag: YES\r\n");
        assert_eq!(of(&relayed), Classification::NewComplaint);
        // A handler's release lifts the verdict: the mail is what it would otherwise have been.
        assert_eq!(classify::<u32>(&parse(sa.as_bytes()).unwrap(), &[OWN.to_string()], None, None), Classification::NewComplaint);
        assert_eq!(classify(&parse(sa.as_bytes()).unwrap(), &[OWN.to_string()], Some(4), None), Classification::FollowUp(4));
    }

    /// An Outlook meeting request: text, HTML and the iTIP calendar as alternatives.
    fn outlook_invitation(method: &str, subject: &str) -> String {
        format!(
            "From: Marieke Dekker <m.dekker@advocaat-dekker.nl>\r\nTo: klachten@dienst.nl\r\nSubject: {subject}\r\nDate: Tue, 24 Nov 2026 14:03:00 +0000\r\n\
            Message-ID: <AM0PR07MB4866B1@AM0PR07MB4866.eurprd07.prod.outlook.com>\r\nContent-Language: nl-NL\r\nX-MS-Has-Attach:\r\nX-MS-TNEF-Correlator:\r\n\
            MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"_000_AM0PR07MB4866_\"\r\n\r\n\
            --_000_AM0PR07MB4866_\r\nContent-Type: text/plain; charset=\"us-ascii\"\r\n\r\nHoorzitting klacht, graag uw aanwezigheid.\r\n\r\n\
            --_000_AM0PR07MB4866_\r\nContent-Type: text/html; charset=\"us-ascii\"\r\n\r\n<html><body><p>Hoorzitting klacht</p></body></html>\r\n\r\n\
            --_000_AM0PR07MB4866_\r\nContent-Type: text/calendar; charset=\"utf-8\"; method={method}\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n\r\n--_000_AM0PR07MB4866_--\r\n",
            b64(&format!("BEGIN:VCALENDAR\r\nMETHOD:{method}\r\nPRODID:Microsoft Exchange Server 2010\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nORGANIZER;CN=Marieke Dekker:mailto:m.dekker@advocaat-dekker.nl\r\nSUMMARY;LANGUAGE=nl-NL:Hoorzitting klacht\r\nDTSTART:20261201T090000Z\r\nUID:040000008200E00074C5B7101A82E008\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"))
        )
    }

    fn b64(s: &str) -> String {
        const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in s.as_bytes().chunks(3) {
            let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                out.push(if i <= chunk.len() { T[((n >> (18 - 6 * i)) & 63) as usize] as char } else { '=' });
            }
        }
        out
    }

    #[test]
    fn calendar_invitations_cancellations_and_replies_are_set_aside() {
        assert_eq!(
            of(&outlook_invitation("REQUEST", "Hoorzitting klacht")),
            Classification::SetAside { reason: SetAsideReason::CalendarInvitation, case: None }
        );
        assert_eq!(
            of(&outlook_invitation("CANCEL", "Geannuleerd: Hoorzitting klacht")),
            Classification::SetAside { reason: SetAsideReason::CalendarInvitation, case: None }
        );
        assert_eq!(
            of(&outlook_invitation("REPLY", "Geaccepteerd: Hoorzitting klacht")),
            Classification::SetAside { reason: SetAsideReason::CalendarInvitation, case: None }
        );
        let linked = classify(&parse(outlook_invitation("REQUEST", "Hoorzitting KL-2026-0003").as_bytes()).unwrap(), &[], Some(3), Some(&all_filters()));
        assert_eq!(linked, Classification::SetAside { reason: SetAsideReason::CalendarInvitation, case: Some(3) });
        // A Teams meeting notice: method in the calendar only, sent by the organiser's mailbox.
        let teams = "From: Planning <planning@dienst-partner.nl>\r\nTo: klachten@dienst.nl\r\nSubject: Microsoft Teams-vergadering: overleg\r\nMIME-Version: 1.0\r\n\
            Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Microsoft Teams-vergadering</p><p>Deelnemen</p>\r\n\
            --B\r\nContent-Type: text/calendar; charset=utf-8\r\nContent-Disposition: attachment; filename=invite.ics\r\n\r\nBEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nX-MICROSOFT-SKYPETEAMSMEETINGURL:https://teams.microsoft.com/l/meetup-join/x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n--B--\r\n";
        assert_eq!(of(teams), Classification::SetAside { reason: SetAsideReason::CalendarInvitation, case: None });
        // A person who attaches an event for information (PUBLISH) still complains.
        let published = teams
            .replace("METHOD:REQUEST", "METHOD:PUBLISH")
            .replace("<p>Microsoft Teams-vergadering</p><p>Deelnemen</p>", "<p>Deze afspraak is niet doorgegaan, ik klaag.</p>");
        assert_eq!(of(&published), Classification::NewComplaint);
    }

    #[test]
    fn e_invoices_are_set_aside() {
        // As an accounting package sends a Peppol/SI-UBL invoice with its PDF.
        let ubl = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<Invoice xmlns=\"urn:oasis:names:specification:ubl:schema:xsd:Invoice-2\" xmlns:cbc=\"urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2\">\r\n<cbc:CustomizationID>urn:cen.eu:en16931:2017#compliant#urn:fdc:nen.nl:nlcius:v1.0</cbc:CustomizationID>\r\n<cbc:ID>F2026-0412</cbc:ID>\r\n</Invoice>\r\n";
        let raw = format!(
            "From: Facturatie Voorbeeld BV <facturen@voorbeeld-bv.nl>\r\nTo: klachten@dienst.nl\r\nSubject: Factuur F2026-0412\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=F\r\n\r\n\
            --F\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nBijgaand onze factuur F2026-0412.\r\n--F\r\nContent-Type: application/pdf; name=F2026-0412.pdf\r\nContent-Disposition: attachment; filename=F2026-0412.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n\
            --F\r\nContent-Type: application/xml; name=F2026-0412.xml\r\nContent-Disposition: attachment; filename=F2026-0412.xml\r\n\r\n{ubl}\r\n--F--\r\n"
        );
        assert_eq!(of(&raw), Classification::SetAside { reason: SetAsideReason::Invoice, case: None });
        // A complaint about an invoice, with the invoice as a PDF, is a complaint.
        let pdf_only = raw
            .replace("application/xml; name=F2026-0412.xml", "application/pdf; name=kopie.pdf")
            .replace("filename=F2026-0412.xml", "filename=kopie.pdf")
            .replace(ubl, "JVBERi0xLjQK");
        assert_eq!(of(&pdf_only), Classification::NewComplaint);
    }

    /// A Ricoh scan-to-mail: device name as sender, its standard subject, a PDF and no text.
    fn copier_scan(text: &str) -> String {
        format!(
            "From: RICOH IM C3000 <scanner@dienst.nl>\r\nTo: klachten@dienst.nl\r\nSubject: Gescand document van RICOH IM C3000\r\nDate: Tue, 24 Nov 2026 11:20:31 +0100\r\n\
            Message-ID: <20261124112031.001@scanner.dienst.nl>\r\nX-Mailer: RICOH IM C3000\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"RCH\"\r\n\r\n\
            --RCH\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n{text}\r\n--RCH\r\nContent-Type: application/pdf; name=\"20261124112031.pdf\"\r\n\
            Content-Disposition: attachment; filename=\"20261124112031.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKJcfsj6IKNSAwIG9iago=\r\n--RCH--\r\n"
        )
    }

    #[test]
    fn a_copier_scan_waits_for_a_person() {
        assert_eq!(of(&copier_scan("")), Classification::Quarantine(QuarantineReason::ScannedDocument));
        let xerox = copier_scan("Please open the attached document. It was scanned and sent to you using a Xerox multifunction device.")
            .replace("RICOH IM C3000 <scanner@dienst.nl>", "Xerox AltaLink <mfp-2e@dienst.nl>")
            .replace("Gescand document van RICOH IM C3000", "Scanned from a Xerox Multifunction Printer");
        assert_eq!(of(&xerox), Classification::Quarantine(QuarantineReason::ScannedDocument));
        // A person's mail with a PDF and their own words is a complaint with a document.
        let letter = "From: Jan de Vries <jan@example.nl>\r\nTo: klachten@dienst.nl\r\nSubject: Mijn klacht\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n\
            --B\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nZie mijn brief in de bijlage; mijn uitkering is al twee maanden niet betaald.\r\n\
            --B\r\nContent-Type: application/pdf; name=brief.pdf\r\nContent-Disposition: attachment; filename=brief.pdf\r\n\r\n%PDF-1.4\r\n--B--\r\n";
        assert_eq!(of(letter), Classification::NewComplaint);
        // A scan in reply to one of our letters belongs to its case.
        assert_eq!(classify(&parse(copier_scan("").as_bytes()).unwrap(), &[], Some(9), Some(&all_filters())), Classification::FollowUp(9));
    }

    #[test]
    fn a_voicemail_waits_for_a_person() {
        // Exchange Unified Messaging (and Teams' cloud voicemail) mark voice mail so.
        let um = "From: +31612345678 <noreply@dienst.nl>\r\nTo: klachten@dienst.nl\r\nSubject: Voicemail van +31612345678 (0:42)\r\nContent-Class: voice-uc\r\n\
            X-MS-Exchange-UM-PartnerContent: voice\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=V\r\n\r\n--V\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>U hebt een voicemail ontvangen.</p>\r\n\
            --V\r\nContent-Type: audio/mpeg; name=\"audio.mp3\"\r\nContent-Disposition: attachment; filename=\"audio.mp3\"\r\nContent-Transfer-Encoding: base64\r\n\r\nSUQzBAAAAAAAI1RTU0UAAAAPAAADTGF2ZjU4LjI5LjEwMAAAAAAAAAAAAAAA\r\n--V--\r\n";
        assert_eq!(of(um), Classification::Quarantine(QuarantineReason::Voicemail));
        // A hosted PBX: no special header, an audio file and its subject.
        let pbx = um.replace("Content-Class: voice-uc\r\nX-MS-Exchange-UM-PartnerContent: voice\r\n", "").replace("noreply@dienst.nl", "pbx@voip-aanbieder.nl");
        assert_eq!(of(&pbx), Classification::Quarantine(QuarantineReason::Voicemail));
        // A complainant who sends a recording as evidence, with their own account, complains.
        let evidence = pbx.replace("pbx@voip-aanbieder.nl", "jan@example.nl").replace(
            "<p>U hebt een voicemail ontvangen.</p>",
            &format!(
                "<p>In de bijlage de voicemail van mijn coach. {}</p>",
                "Hij zegt dat mijn traject stopt zonder dat iemand met mij heeft gesproken. ".repeat(5)
            ),
        );
        assert_eq!(of(&evidence), Classification::NewComplaint);
    }
}
