//! The evidence that a machine made a mail: strong (sets it aside) and weak (holds it for a
//! person), read from the mail's own headers, sender, subject, layout and own text.

use super::senders::{self, Family};
use super::signals::{Signals, WeakSignal};
use super::AutoReason;
use crate::domain::forwarded;
use crate::domain::inbound::{InboundMail, Person, ReturnPath};

/// Strong evidence that no person wrote the mail (RFC 3834 and the practice of mail servers,
/// list managers and platforms), if any.
pub fn automated_reason(mail: &InboundMail) -> Option<AutoReason> {
    if mail.auto_submitted.as_deref().is_some_and(|v| v.split(';').next().unwrap_or("").trim() != "no") {
        return Some(AutoReason::AutoSubmitted);
    }
    if mail.precedence.as_deref().is_some_and(|p| p.trim() == "auto_reply") {
        return Some(AutoReason::VendorAutoReply);
    }
    // A list or group passes on people's mail too (a group address that forwards to the
    // complaints mailbox adds `List-Id`), and forwarding services add `Precedence: bulk` to
    // whatever they pass on: strong only with a sign of bulk mail besides.
    if list_headers(mail) && bulk_marker(mail) {
        return Some(AutoReason::MailingList);
    }
    if bulk_precedence(mail) && bulk_marker(mail) {
        return Some(AutoReason::BulkPrecedence);
    }
    if mail.feedback_report {
        return Some(AutoReason::AbuseReport);
    }
    let server_sender = matches!(mail.from.as_ref().and_then(|f| senders::family(&f.address)), Some(Family::Daemon | Family::Postmaster));
    if mail.report_root || (mail.delivery_report && (mail.from.is_none() || daemon_named(mail) || server_sender)) {
        return Some(AutoReason::DeliveryReport);
    }
    if daemon_named(mail) {
        return Some(AutoReason::SystemSender);
    }
    if mail.return_path == ReturnPath::Empty {
        return Some(AutoReason::EmptyReturnPath);
    }
    let from = mail.from.as_ref().map(|f| f.address.as_str()).unwrap_or("");
    match senders::family(from) {
        Some(Family::NoReply | Family::Notifications) if senders::known_platform(from) => return Some(AutoReason::SystemSender),
        Some(Family::Daemon) => return Some(if mail.delivery_report { AutoReason::DeliveryReport } else { AutoReason::SystemSender }),
        Some(Family::ListRobot) => return Some(AutoReason::ListManager),
        _ => {}
    }
    if mail.has_header("x-list-administrivia") {
        return Some(AutoReason::ListManager);
    }
    if vendor_autoreply(mail) {
        return Some(AutoReason::VendorAutoReply);
    }
    if challenge_system(mail) {
        return Some(AutoReason::ChallengeResponse);
    }
    if platform_generated(mail) {
        return Some(AutoReason::PlatformGenerated);
    }
    if bulk_sender(mail) {
        return Some(AutoReason::BulkSender);
    }
    if (senders::family(from) == Some(Family::Newsletter) && senders::known_platform(from)) || senders::machine_only_domain(from) {
        return Some(AutoReason::SystemSender);
    }
    None
}

/// List headers, or a list's address as `Sender` (LISTSERV writes `Sender: NAME-L@LISTSERV...`,
/// other managers an `owner-` or `-bounces` address).
fn list_headers(mail: &InboundMail) -> bool {
    let list_sender = mail.header("sender").and_then(|v| forwarded::person(v).1).is_some_and(|a| {
        let local = a.split('@').next().unwrap_or("");
        local.ends_with("-l") || matches!(senders::family(&a), Some(Family::ListRobot | Family::ListRole))
    });
    list_sender || mail.list_id || ["list-post", "mailing-list", "x-mailing-list", "x-beenthere", "list-archive"].iter().any(|h| mail.has_header(h))
}

/// A sign of bulk mail besides list headers: a machine's sender address, a newsletter's
/// layout, a bulk sender's or mail service's headers, a mass mailer's bounce Return-Path.
fn bulk_marker(mail: &InboundMail) -> bool {
    sender_says_machine(mail)
        || newsletter_layout(mail)
        || mail.has_header("feedback-id")
        || mail.has_header("list-unsubscribe-post")
        || bulk_sender(mail)
        || SERVICE_HEADERS.iter().any(|h| mail.has_header(h))
        || matches!(&mail.return_path, ReturnPath::Address(rp) if mail.from.as_ref().is_none_or(|f| &f.address != rp) && senders::bounce_return_path(rp))
}

/// A newsletter's layout of the mail itself: a person who forwards a newsletter with words of
/// their own sends their own mail.
fn newsletter_layout(mail: &InboundMail) -> bool {
    mail.bulk_layout
        && !((mail.forwarded.is_some() || forwarded::is_forward_subject(&mail.subject)) && has_own_words(forwarded::own_text(&mail.subject, &mail.text)))
}

fn bulk_precedence(mail: &InboundMail) -> bool {
    mail.precedence.as_deref().is_some_and(|p| matches!(p.trim(), "bulk" | "list" | "junk"))
}

/// A sender address of a machine family (weak on its own).
fn sender_says_machine(mail: &InboundMail) -> bool {
    mail.from.as_ref().is_some_and(|f| senders::family(&f.address).is_some_and(|f| f != Family::Form))
}

/// A mail server's report whose `From` is no address at all but names the daemon
/// (`MAILER-DAEMON <>`, `Mail Delivery Subsystem <MAILER-DAEMON>`).
fn daemon_named(mail: &InboundMail) -> bool {
    mail.from.is_none()
        && mail.header("from").is_some_and(|v| {
            let v = v.to_ascii_lowercase();
            v.contains("mailer-daemon") || v.contains("mail delivery") || v.contains("postmaster")
        })
}

/// How strong evidence weighs against a web form's `Reply-To` person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AgainstForm {
    /// Evidence about the sender only (its address, its platform's headers): the form is such
    /// a sender, the person wins.
    PersonWins,
    /// Lists, bulk mail, reports and replies of machines: a `Reply-To` does not make them a
    /// person's.
    MachineWins,
    /// A form's mail marked as generated (`Auto-Submitted: auto-generated`, empty Return-Path):
    /// the signs disagree, a person decides.
    Disagree,
}

pub(super) fn against_form(reason: AutoReason, mail: &InboundMail) -> AgainstForm {
    match reason {
        AutoReason::SystemSender | AutoReason::PlatformGenerated => AgainstForm::PersonWins,
        AutoReason::AutoSubmitted if mail.auto_submitted.as_deref().is_some_and(|v| v.starts_with("auto-generated")) => AgainstForm::Disagree,
        AutoReason::EmptyReturnPath => AgainstForm::Disagree,
        _ => AgainstForm::MachineWins,
    }
}

/// Vendor auto-reply markers: `X-Autoreply`, `X-Autorespond`, iCloud's
/// `X-Apple-Action: VACATION`, Exchange's out-of-office suppression together with an
/// auto-reply subject, and Lotus Notes' "AUTO: ... is out of the office" template.
fn vendor_autoreply(mail: &InboundMail) -> bool {
    if mail.has_header("x-autoreply") || mail.has_header("x-autorespond") || mail.has_header("x-autoresponder") {
        return true;
    }
    if mail.header("x-apple-action").is_some_and(|v| v.to_ascii_lowercase().contains("vacation")) {
        return true;
    }
    let subject = mail.subject.to_lowercase();
    if auto_reply_subject(&subject)
        && mail.header("x-auto-response-suppress").is_some_and(|v| v.to_ascii_lowercase().contains("oof") || v.to_ascii_lowercase().contains("all"))
    {
        return true;
    }
    // Notes writes "AUTO: Jan de Vries is out of the office (returning 01-12-2026)"; "Auto:" alone
    // is also how a Dutch complaint about a car may start.
    subject.starts_with("auto:")
        && [" is out of the office", " is niet op kantoor", " is afwezig", " ist außer haus", " ist ausser haus", " est absent"]
            .iter()
            .any(|w| subject.contains(w))
}

/// Subjects of automatic replies, as clients and servers write them in several languages.
pub(super) fn auto_reply_subject(lower: &str) -> bool {
    [
        "automatic reply:",
        "auto reply:",
        "autoreply:",
        "auto-reply:",
        "auto response:",
        "autoresponse:",
        "out of office:",
        "out of office autoreply",
        "out of the office:",
        "ooo:",
        "afwezig:",
        "afwezigheidsmelding",
        "automatisch antwoord",
        "automatisch bericht:",
        "automatische reactie",
        "automatisch beantwoord",
        "abwesenheitsnotiz",
        "automatische antwort",
        "réponse automatique",
        "reponse automatique",
        "absence du bureau",
        "respuesta automática",
        "risposta automatica",
        "vacation:",
        "on vacation:",
        "ik ben afwezig",
        "automatyczna odpowiedź",
        "automaattinen vastaus",
        "automatisk svar",
        "autosvar",
    ]
    .iter()
    .any(|p| lower.starts_with(p))
        // Ticket systems put their tag first: "[support.example.org #33575] AutoReply: ...".
        || lower.starts_with('[') && lower.split_once("] ").is_some_and(|(_, rest)| rest.starts_with("autoreply:") || rest.starts_with("auto reply:") || rest.starts_with("auto-reply:"))
}

/// Challenge-response services' own senders and headers (Boxbe, Spam Arrest, ChoiceMail, ...).
fn challenge_system(mail: &InboundMail) -> bool {
    let from = mail.from.as_ref().map(|f| f.address.as_str()).unwrap_or("");
    let domain = from.rsplit_once('@').map_or("", |(_, d)| d);
    ["boxbe.com", "spamarrest.com", "choicemail.com", "mailblocks.com", "sendervalidation.com", "bluebottle.com"]
        .iter()
        .any(|d| domain == *d || domain.ends_with(&format!(".{d}")))
        || mail.headers.iter().any(|(n, _)| n == "x-challenge" || n == "x-challenge-response" || n.starts_with("x-boxbe") || n.starts_with("x-spamarrest"))
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
        "x-docusign-envelopeid",
        "x-zoom-meeting-id",
        // Autocrypt's setup message, which a mail client sends to its own address.
        "autocrypt-setup-message",
    ]
    .iter()
    .any(|h| mail.has_header(h))
}

/// Mailing systems' campaign headers (Mailchimp, Mandrill, campaign tools), or a one-click
/// `List-Unsubscribe-Post` (RFC 8058, which only bulk senders set), or `List-Unsubscribe`
/// together with another bulk marker. `Feedback-ID` and a bare `List-Unsubscribe` are weak:
/// personal mail services add them to their users' mail.
fn bulk_sender(mail: &InboundMail) -> bool {
    let vendor =
        ["x-mc-user", "x-mandrill-user", "x-campaign", "x-campaignid", "x-mailchimp-campaign-id", "x-csa-complaints", "x-newsletter", "x-mailer-campaign"];
    if vendor.iter().any(|h| mail.has_header(h)) {
        return true;
    }
    let bulk_mailer = mail.header("x-mailer").is_some_and(|m| {
        let m = m.to_ascii_lowercase();
        [
            "mailchimp",
            "mailjet",
            "sendgrid",
            "laposta",
            "spotler",
            "mailplus",
            "campaign monitor",
            "hubspot",
            "klaviyo",
            "brevo",
            "sendinblue",
            "mailerlite",
            "activecampaign",
            "clang",
            "deployteq",
            "copernica",
            "emailvision",
        ]
        .iter()
        .any(|b| m.contains(b))
    });
    mail.has_header("list-unsubscribe") && (mail.has_header("list-unsubscribe-post") || mail.has_header("x-report-abuse") || bulk_mailer)
}

/// Transactional mail services' headers (SendGrid, Mailgun, Amazon SES, Postmark, SparkPost,
/// Mailjet, Brevo): hints, since they relay for small offices too.
const SERVICE_HEADERS: &[&str] = &[
    "x-sg-eid",
    "x-sg-id",
    "x-mailgun-sid",
    "x-mailgun-tag",
    "x-mailgun-variables",
    "x-ses-outgoing",
    "x-pm-message-id",
    "x-msys-api",
    "x-mj-mid",
    "x-mailjet-campaign",
    "x-sib-id",
    "x-mailin-eid",
];

/// Weak evidence of machine mail (see [`WeakSignal`]).
pub fn weak_signals(mail: &InboundMail) -> Signals {
    let mut weak = Signals::default();
    let from = mail.from.as_ref().map(|f| f.address.as_str()).unwrap_or("");
    match senders::family(from) {
        Some(Family::NoReply) => weak.insert(WeakSignal::NoReplySender),
        Some(Family::Notifications) => weak.insert(WeakSignal::NotificationSender),
        Some(Family::ListRole) => weak.insert(WeakSignal::ListRoleSender),
        Some(Family::Postmaster) => weak.insert(WeakSignal::PostmasterSender),
        Some(Family::Newsletter) => weak.insert(WeakSignal::NewsletterSender),
        Some(Family::SystemAccount) => weak.insert(WeakSignal::SystemAccountSender),
        Some(Family::Form) => weak.insert(WeakSignal::FormSender),
        _ if form_mailer(mail) => weak.insert(WeakSignal::FormSender),
        _ => {}
    }
    if let ReturnPath::Address(rp) = &mail.return_path {
        if rp != from && senders::bounce_return_path(rp) {
            weak.insert(WeakSignal::BounceReturnPath);
        }
    }
    if bulk_precedence(mail) {
        weak.insert(WeakSignal::BulkPrecedence);
    }
    if list_headers(mail) {
        weak.insert(WeakSignal::ListHeaders);
    }
    if mail.from.is_none() {
        weak.insert(WeakSignal::NoSender);
    }
    if !weak.contains(WeakSignal::FormSender) && program_mailer(mail) {
        weak.insert(WeakSignal::ProgramMailer);
    }
    if mail.has_header("feedback-id") {
        weak.insert(WeakSignal::FeedbackId);
    }
    if mail.has_header("list-unsubscribe") {
        weak.insert(WeakSignal::ListUnsubscribe);
    }
    if SERVICE_HEADERS.iter().any(|h| mail.has_header(h)) {
        weak.insert(WeakSignal::MailService);
    }
    if mail.has_header("x-auto-response-suppress") {
        weak.insert(WeakSignal::AutoResponseSuppress);
    }
    let subject = mail.subject.to_lowercase();
    if auto_reply_subject(&subject) {
        weak.insert(WeakSignal::AutoReplySubject);
    }
    if ["***spam***", "[spam]", "*****spam*****", "[suspected spam]", "{spam?}", "[spam?]", "spam:", "[***spam***]"]
        .iter()
        .any(|t| subject.starts_with(t) || subject.contains(&format!(" {t}")))
    {
        weak.insert(WeakSignal::SpamTag);
    }
    if report_subject(&subject) {
        weak.insert(WeakSignal::ReportSubject);
    }
    if newsletter_layout(mail) {
        weak.insert(WeakSignal::NewsletterLayout);
    }
    let own = forwarded::own_text(&mail.subject, &mail.text).to_lowercase();
    if notification_wording(&own) {
        weak.insert(WeakSignal::NotificationWording);
    }
    if challenge_wording(&subject) || challenge_wording(&own) {
        weak.insert(WeakSignal::ChallengeWording);
    }
    if ticket_system(mail) {
        weak.insert(WeakSignal::TicketSystem);
    }
    if machine_part_beside_little_text(mail, &own) {
        weak.insert(WeakSignal::MachinePart);
    }
    weak
}

/// Subjects of delivery reports, as mail servers write them.
fn report_subject(lower: &str) -> bool {
    [
        "undelivered mail",
        "undeliverable",
        "undelivered:",
        "delivery status notification",
        "delivery status",
        "delivery failure",
        "delivery has failed",
        "mail delivery failed",
        "mail delivery failure",
        "returned mail",
        "failure notice",
        "non-delivery",
        "nondeliverable",
        "mail system error",
        "warning: could not send",
        "delayed mail",
        "onbestelbaar",
        "niet bezorgd",
        "kan niet worden bezorgd",
        "unzustellbar",
        "non remis",
    ]
    .iter()
    .any(|p| lower.starts_with(p))
}

/// What automatic notices say of themselves, in Dutch, English, German and French.
fn notification_wording(lower: &str) -> bool {
    let text = lower.split_whitespace().collect::<Vec<_>>().join(" ");
    [
        "dit is een automatisch",
        "automatisch gegenereerd",
        "automatisch verzonden",
        "automatisch verstuurd",
        "automatisch aangemaakt",
        "u kunt niet reageren op",
        "je kunt niet reageren op",
        "u kunt deze e-mail niet beantwoorden",
        "u kunt dit bericht niet beantwoorden",
        "reageren op deze e-mail is niet mogelijk",
        "reageren op dit bericht is niet mogelijk",
        "deze e-mail kunt u niet beantwoorden",
        "dit e-mailadres wordt niet gelezen",
        "this is an automated",
        "this is an automatic",
        "automatically generated",
        "this email was sent automatically",
        "this message was sent automatically",
        "please do not reply to this",
        "do not reply to this e",
        "do not reply to this message",
        "this mailbox is not monitored",
        "this inbox is not monitored",
        "replies to this email are not monitored",
        "automatisch generiert",
        "bitte antworten sie nicht",
        "ne pas répondre à ce",
        "message automatique",
    ]
    .iter()
    .any(|p| text.contains(p))
}

fn challenge_wording(lower: &str) -> bool {
    [
        "please confirm your message",
        "please confirm your e-mail",
        "confirm that you are a human",
        "verify that you are a human",
        "verify your email to deliver",
        "sender verification",
        "awaiting your confirmation",
        "your message is being held",
        "bevestig uw bericht",
        "bevestig dat u een mens bent",
        "uw bericht wacht op bevestiging",
    ]
    .iter()
    .any(|p| lower.contains(p))
}

/// Ticket systems' own headers and mailers.
fn ticket_system(mail: &InboundMail) -> bool {
    let prefixes = [
        "x-jira-",
        "x-servicenow-",
        "x-zendesk-",
        "x-freshdesk-",
        "x-zammad-",
        "x-topdesk",
        "x-rt-",
        "rt-ticket",
        "rt-originator",
        "x-otrs-loop",
        "x-helpscout-",
        "x-kayako-",
    ];
    if mail.headers.iter().any(|(n, _)| prefixes.iter().any(|p| n.starts_with(p))) {
        return true;
    }
    let systems =
        ["jira", "servicenow", "zendesk", "freshdesk", "topdesk", "otrs", "znuny", "otobo", "zammad", "request tracker", "help scout", "kayako", "freescout"];
    let marked = |v: Option<&str>| v.is_some_and(|v| systems.iter().any(|s| v.to_ascii_lowercase().contains(s)));
    // Request Tracker's subject tag: "[rt.example.org #4711] ...".
    let rt_tag = mail.subject.starts_with('[')
        && mail
            .subject
            .split_once(']')
            .is_some_and(|(tag, _)| tag.rsplit_once(" #").is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())));
    rt_tag || marked(mail.header("x-mailer")) || marked(mail.header("x-powered-by")) || marked(mail.header("managed-by"))
}

/// A programming library's mailer rather than a mail client's.
fn program_mailer(mail: &InboundMail) -> bool {
    mail.header("x-mailer").is_some_and(|m| {
        let m = m.to_ascii_lowercase();
        [
            "microsoft cdo",
            "cdosys",
            "mime::lite",
            "mail::sender",
            "javamail",
            "swift mailer",
            "swiftmailer",
            "symfony mailer",
            "zend_mail",
            "laminas",
            "nodemailer",
            "python",
            "perl ",
            "blat ",
            "sendemail",
            "powershell",
        ]
        .iter()
        .any(|s| m.contains(s))
    })
}

/// A CMS's or form tool's mailer (PHPMailer as WordPress sends, WPForms, Gravity Forms, Drupal).
fn form_mailer(mail: &InboundMail) -> bool {
    mail.header("x-mailer").is_some_and(|m| {
        let m = m.to_ascii_lowercase();
        ["phpmailer", "wordpress", "wpforms", "gravity forms", "drupal", "contact form 7", "ninja forms", "formidable", "joomla", "typo3", "formmail"]
            .iter()
            .any(|s| m.contains(s))
    })
}

/// A calendar part or delivery report of the mail itself that is no real iTIP or report
/// (attached beside the text, or someone else's invitation) while the sender wrote little or
/// nothing of their own: for a person to judge. With words of their own, it is their mail.
fn machine_part_beside_little_text(mail: &InboundMail, own_text: &str) -> bool {
    // A forwarded report: the forward's sender is a mail server, or its subject a report's.
    let forwarded_report = mail.forwarded.as_ref().is_some_and(|f| {
        let who = format!("{} {}", f.name.as_deref().unwrap_or(""), f.address.as_deref().unwrap_or("")).to_ascii_lowercase();
        who.contains("mailer-daemon") || who.contains("postmaster") || who.contains("mail delivery")
    }) || (forwarded::is_forward_subject(&mail.subject)
        && report_subject(mail.subject.split_once(':').map_or("", |(_, rest)| rest).trim_start().to_lowercase().as_str()));
    let machine_part = mail.delivery_report
        || forwarded_report
        || mail.calendar.is_some()
        || mail.header("content-class").is_some_and(|v| v.to_ascii_lowercase().contains("calendarmessage"));
    machine_part && !has_own_words(own_text)
}

/// Whether a text has words a person wrote: at least a short sentence.
pub(super) fn has_own_words(text: &str) -> bool {
    text.split_whitespace().filter(|w| w.chars().any(char::is_alphabetic)).count() >= 6
}

/// The person a web form or other machine sender writes for: the `Reply-To` of a mail whose
/// `From` is a machine's or form's address (a no-reply or form address, a platform's flow, a
/// CMS's mailer, or our own address), when that `Reply-To` is a person's own address (not a
/// machine's, an organisation's role address, or our own).
pub(super) fn form_person(mail: &InboundMail, own_addresses: &[String]) -> Option<Person> {
    let from = mail.from.as_ref()?;
    let reply_to = mail.reply_to.as_ref().filter(|r| r.address != from.address)?;
    let own = |a: &str| own_addresses.iter().any(|o| o == a);
    if senders::family(&reply_to.address).is_some() || senders::is_role(&reply_to.address) || own(&reply_to.address) {
        return None;
    }
    let machine_from = matches!(senders::family(&from.address), Some(Family::NoReply | Family::Notifications | Family::Form | Family::SystemAccount))
        || form_mailer(mail)
        || own(&from.address)
        || mail.has_header("x-ms-mail-application")
        || mail.header("x-ms-exchange-generated-message-source").is_some_and(|v| !v.to_ascii_lowercase().contains("mailbox rules agent"));
    if !machine_from {
        return None;
    }
    // Our own address with a colleague's Reply-To is our own mail (a handler writing from the
    // shared mailbox), not a form.
    let domain_of = |a: &str| a.rsplit_once('@').map(|(_, d)| d.to_string());
    if own(&from.address) && own_addresses.iter().any(|o| domain_of(o) == domain_of(&reply_to.address)) {
        return None;
    }
    // A display name that is another address ("purchasing@a.example <do-not-reply@b.example>")
    // is a disguise, not a form.
    if from.name.as_deref().is_some_and(|n| n.contains('@')) {
        return None;
    }
    // A known platform's notification on someone's behalf (a shared document, an accepted
    // invitation) names that someone as Reply-To; only its flows (Power Automate, which sends
    // Microsoft Forms answers) are forms.
    let flow = mail.has_header("x-ms-mail-application")
        || mail.header("x-ms-exchange-generated-message-source").is_some_and(|v| v.to_ascii_lowercase().contains("flow"));
    if senders::known_platform(&from.address) && !flow {
        return None;
    }
    // A platform's own mail that names an address of its own domain as Reply-To is the
    // platform's, not a person's.
    if senders::known_platform(&from.address) && domain_of(&from.address) == domain_of(&reply_to.address) {
        return None;
    }
    // The form's sender name is often the person's ("[your-name] <wordpress@site>"), unless it
    // names the machine.
    let machine_name = |n: &str| {
        let n = n.to_lowercase();
        ["wordpress", "website", "web site", "formulier", "form", "noreply", "no-reply", "power automate", "microsoft", "drupal", "site", "www", "mailer"]
            .iter()
            .any(|w| n.contains(w))
            || n.contains('@')
    };
    let name = reply_to.name.clone().or_else(|| from.name.clone().filter(|n| !machine_name(n)));
    Some(Person { name, address: reply_to.address.clone() })
}
