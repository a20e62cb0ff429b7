//! What an incoming mail means for the procedure (R1): a new complaint, a follow-up on a case,
//! or mail that must never start a case or get a reply.
//!
//! # The asymmetric rule
//!
//! Answering a machine is bad; silencing a person is worse. So the evidence is weighed, not
//! counted:
//!
//! - **Strong evidence** that no person wrote the mail sets it aside silently (kept with its
//!   case, or in the ignored folder): RFC 3834 `Auto-Submitted` other than `no`, a real delivery
//!   or abuse report (`multipart/report`, an empty Return-Path, `MAILER-DAEMON`), list robots,
//!   list headers or `Precedence: bulk` together with a sign of bulk mail (alone, a group
//!   address or forwarder may have added them to a person's mail), vendor auto-reply headers,
//!   the own headers of known platforms and mailing systems, and known platforms' no-reply
//!   addresses (see [`automated_reason`]). Only the mail's own headers and top-level parts
//!   count: a calendar or delivery-status part inside a forwarded mail is the forwarder's
//!   evidence, not the mail's.
//! - **Weak evidence** ([`WeakSignal`]: a no-reply address, a newsletter's layout, a
//!   notification's wording, a ticket system, an auto-reply subject, ...) never silences a mail
//!   and never lets it be answered: it goes to quarantine with the signals as its reason, for a
//!   person to judge. Some signals are mere hints ([`WeakSignal::is_hint`]): `Feedback-ID` and
//!   `List-Unsubscribe` are on every mail of some personal mail providers (Proton Mail,
//!   Fastmail), so a hint alone changes nothing; two hints together hold the mail.
//! - **Disagreeing evidence** (a person's address in the `Reply-To` of a mail that otherwise
//!   looks generated, a person's own text beside machine parts) goes to a person too: a case
//!   when the person's side is clear, quarantine otherwise.
//! - **No evidence**: a complaint, acknowledged.
//!
//! A web form (WordPress, Drupal, Microsoft Forms through Power Automate) sends from a machine
//! address with the person who filled it in as `Reply-To`: that is the person's complaint, and
//! [`correspondent`] says the letters go to them.

mod documents;
mod evidence;
mod senders;
mod signals;
mod spam;

pub use documents::{looks_like_fax, looks_like_scan, looks_like_voicemail, set_aside_reason};
pub use evidence::{automated_reason, weak_signals};
pub use senders::is_system_sender;
pub use signals::{Signals, WeakSignal};
pub use spam::{spam_verdict, SpamFilter, SpamPolicy};

use super::inbound::{InboundMail, Person};

/// Why a mail counts as machine-generated: strong evidence only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoReason {
    AutoSubmitted,
    BulkPrecedence,
    MailingList,
    EmptyReturnPath,
    /// `MAILER-DAEMON`, `postmaster` or `bounce*` as sender, or a no-reply address of a known
    /// platform (government services, Microsoft, Google, banks, carriers, ...).
    SystemSender,
    DeliveryReport,
    VendorAutoReply,
    /// Made by a platform's automation: Exchange/Power Automate flows, Google and Salesforce
    /// notifications (their own headers).
    PlatformGenerated,
    /// Sent by a mailing system: its own campaign headers, or a one-click `List-Unsubscribe-Post`.
    BulkSender,
    /// An abuse feedback report (ARF), also when sent as `multipart/mixed`.
    AbuseReport,
    /// A list manager's robot (Mailman, LISTSERV, Sympa, `-request@`, `-bounces@`).
    ListManager,
    /// A challenge-response system asking to confirm that a sender is real.
    ChallengeResponse,
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
            AutoReason::AbuseReport => "abuse-report",
            AutoReason::ListManager => "list-manager",
            AutoReason::ChallengeResponse => "challenge-response",
        }
    }

    /// For a person reading the list of ignored mail.
    pub fn describe(self) -> &'static str {
        match self {
            AutoReason::AutoSubmitted => "marked as sent automatically (Auto-Submitted)",
            AutoReason::BulkPrecedence => "marked as bulk or list mail (Precedence)",
            AutoReason::MailingList => "mail of a mailing list (List-Id)",
            AutoReason::EmptyReturnPath => "sent with an empty return path, as bounces and auto-replies are",
            AutoReason::SystemSender => "sent by a mail server or a known platform's no-reply address",
            AutoReason::DeliveryReport => "a delivery report or read receipt",
            AutoReason::VendorAutoReply => "an out-of-office or other automatic reply",
            AutoReason::PlatformGenerated => "generated by a platform (Power Automate, SharePoint, Google, Salesforce, ...)",
            AutoReason::BulkSender => "sent by a mailing system (newsletter or campaign)",
            AutoReason::AbuseReport => "an abuse feedback report",
            AutoReason::ListManager => "a mailing list manager's notice",
            AutoReason::ChallengeResponse => "a challenge-response check asking to confirm a sender",
        }
    }
}

/// Mail a person may well have sent, that is still no complaint: kept with the case it refers
/// to, otherwise set aside; never answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetAsideReason {
    /// An iTIP scheduling message of the sender's own: invitation, cancellation, reply or
    /// counter-proposal (Outlook, also as TNEF, Teams, Google Calendar, Apple Calendar).
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

    /// For a person reading the list of ignored mail.
    pub fn describe(self) -> &'static str {
        match self {
            SetAsideReason::CalendarInvitation => "a calendar invitation, cancellation or answer",
            SetAsideReason::Invoice => "an e-invoice (UBL or UN/CEFACT XML)",
        }
    }
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
    /// A fax delivered by a fax gateway: possibly a complaint on paper.
    Fax,
    /// A calendar invitation, cancellation or answer that refers to no case: possibly a person
    /// asking to meet about a complaint.
    Invitation,
    /// Weak or disagreeing evidence that a machine made it: a person decides whether it is a
    /// complaint. The signals are recorded with it.
    Unclear { reasons: Signals },
}

impl QuarantineReason {
    pub fn as_str(self) -> &'static str {
        match self {
            QuarantineReason::Spam(_) => "spam",
            QuarantineReason::ScannedDocument => "scanned-document",
            QuarantineReason::Voicemail => "voicemail",
            QuarantineReason::Fax => "fax",
            QuarantineReason::Invitation => "invitation",
            QuarantineReason::Unclear { .. } => "unclear",
        }
    }

    /// The reason as recorded with the quarantined mail.
    pub fn describe(self) -> String {
        match self {
            QuarantineReason::Spam(f) => format!("flagged as spam by {} (intake.spam)", f.as_str()),
            QuarantineReason::ScannedDocument => "a scanned document from a copier: register a paper complaint with `klachtd cases register`".into(),
            QuarantineReason::Voicemail => "a voicemail: listen to it and call back".into(),
            QuarantineReason::Fax => "a fax from a fax gateway: register a paper complaint with `klachtd cases register`".into(),
            QuarantineReason::Invitation => "a calendar invitation about no case: someone may want to meet about a complaint; release it if it is one".into(),
            QuarantineReason::Unclear { reasons } => {
                let list: Vec<&str> = reasons.iter().map(WeakSignal::describe).collect();
                format!("unclear whether a person wrote this ({}): release it if it is a complaint", list.join("; "))
            }
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

/// Who a complaint is from, and where its letters go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Correspondent {
    /// The complainant of record; the acknowledgement and later letters go to this address.
    pub person: Person,
    /// A different `Reply-To` of a person who wrote themselves (a representative, a second
    /// address): kept on the case and known for threading, not written to.
    pub reply_to: Option<Person>,
    /// The mail came through a web form or other machine sender on the person's behalf.
    pub via_form: bool,
}

/// The complainant of a mail. A person writing themselves is the complainant at their `From`,
/// whatever their `Reply-To` says: a `Reply-To` can name anyone, and the regulation answers
/// whoever complained, so a redirect stays visible on the case but gets no letters. A web form
/// or other machine sender writing on behalf of the person in its `Reply-To` (see
/// `evidence::form_person`) makes that person the complainant: the form's own address reads
/// nothing.
pub fn correspondent(mail: &InboundMail, own_addresses: &[String]) -> Option<Correspondent> {
    if let Some(person) = evidence::form_person(mail, own_addresses) {
        return Some(Correspondent { person, reply_to: None, via_form: true });
    }
    let from = mail.from.clone()?;
    let reply_to = mail.reply_to.clone().filter(|r| r.address != from.address);
    Some(Correspondent { person: from, reply_to, via_form: false })
}

/// Classifies a mail. `own_addresses` are lower-cased; `linked_case` is the case that the
/// mail's subject reference or threading headers point to, looked up by the caller. `spam` is
/// the policy of the intake; `None` when a handler releases the mail from quarantine, which
/// also lifts the other reasons to hold it for a person (weak evidence among them).
pub fn classify<C>(mail: &InboundMail, own_addresses: &[String], linked_case: Option<C>, spam: Option<&SpamPolicy>) -> Classification<C> {
    let form = evidence::form_person(mail, own_addresses).is_some();
    let from_us = mail.from.as_ref().is_some_and(|f| own_addresses.iter().any(|o| o == &f.address));
    // Our own web form writing as our address on a person's behalf is that person's mail.
    if from_us && !(form && linked_case.is_none()) {
        return Classification::OwnMail { case: linked_case };
    }
    if let Some(filter) = spam.and_then(|policy| spam_verdict(mail, policy)) {
        return Classification::Quarantine(QuarantineReason::Spam(filter));
    }
    if let Some(reason) = set_aside_reason(mail) {
        // An invitation about no case may be a person asking to meet about a complaint: a
        // person decides, and one they release is a complaint. One in a case's thread (an
        // answer to our hearing) stays with it.
        if reason == SetAsideReason::CalendarInvitation && linked_case.is_none() {
            return match spam {
                Some(_) => Classification::Quarantine(QuarantineReason::Invitation),
                None => Classification::NewComplaint,
            };
        }
        return Classification::SetAside { reason, case: linked_case };
    }
    // Before the machine check: a voicemail system, copier or fax gateway may well send from a
    // no-reply address, and what it carries is for a person.
    if spam.is_some() && linked_case.is_none() {
        if looks_like_voicemail(mail) {
            return Classification::Quarantine(QuarantineReason::Voicemail);
        }
        if looks_like_fax(mail) {
            return Classification::Quarantine(QuarantineReason::Fax);
        }
        if looks_like_scan(mail) {
            return Classification::Quarantine(QuarantineReason::ScannedDocument);
        }
    }
    let mut weak = weak_signals(mail);
    if let Some(reason) = automated_reason(mail) {
        if !form {
            return Classification::Automated { reason, case: linked_case };
        }
        // A form's person against machine evidence: only the sender's own kind of evidence
        // (its address, its platform) gives way to the person.
        match evidence::against_form(reason, mail) {
            evidence::AgainstForm::PersonWins => {}
            evidence::AgainstForm::MachineWins => return Classification::Automated { reason, case: linked_case },
            evidence::AgainstForm::Disagree => weak.insert(WeakSignal::Disagreeing),
        }
    }
    if form {
        // The form's machine sender is no evidence against the person who filled it in.
        weak = weak.iter().filter(|s| !s.is_about_sender()).collect();
    }
    match linked_case {
        // A reply in a case's thread is kept with it and never answered: weak evidence changes
        // nothing there.
        Some(case) => Classification::FollowUp(case),
        None if spam.is_some() && weak.holds() => Classification::Quarantine(QuarantineReason::Unclear { reasons: weak }),
        None => Classification::NewComplaint,
    }
}

#[cfg(test)]
mod classes_tests;
#[cfg(test)]
mod families_tests;
#[cfg(test)]
mod tests;
