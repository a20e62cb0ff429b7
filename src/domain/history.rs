//! The words a case's record is kept in: which way a message went, what it was, and what an
//! entry of the case's history says happened. Each is stored as the same text as always
//! (`in`, `follow-up`, `assigned`), so old rows keep their meaning; in Rust they are enums, so a
//! history entry is written from a fixed set and a reader can match on it.

use std::fmt;
use std::str::FromStr;

use super::awb::HistoryKind;
use super::vocabulary::{text_enum, MailKind};

/// Which way a message went (`messages.direction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Received: mail, or a complaint on paper.
    In,
    /// Sent by us.
    Out,
}

text_enum!(Direction, "a direction", In => "in", Out => "out");

/// What a recorded message is (`messages.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// The mail (or the letter) a case was registered from.
    Complaint,
    /// A later mail in a case's thread.
    FollowUp,
    /// A delivery report about one of our letters.
    DeliveryReport,
    /// Machine mail.
    Automated,
    /// Mail that is no complaint (an invitation, an e-invoice).
    SetAside,
    /// Mail from one of our own addresses.
    Own,
    /// Waits for a person; about no case.
    Quarantined,
    /// A handler's action by mail.
    HandlerAction,
    /// A complaint received on paper.
    Letter,
}

text_enum!(MessageKind, "a kind of message",
    Complaint => "complaint",
    FollowUp => "follow-up",
    DeliveryReport => "delivery-report",
    Automated => "automated",
    SetAside => "set-aside",
    Own => "own",
    Quarantined => "quarantined",
    HandlerAction => "handler-action",
    Letter => "letter",
);

/// What an entry of a case's history (`case_events.action`) records. Most are one word; a
/// message, a letter sent and a reminder queued name their kind (`message-follow-up`,
/// `progress-sent`, `reminder-queued`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HistoryEvent {
    Registered,
    /// The complaint names a handler; a supervisor checks the assignment.
    SupervisorCheck,
    SupervisorChecked,
    Assigned,
    SubjectAdded,
    Corrected,
    Category,
    Note,
    /// The complainant turned to the external body.
    ExternalBody,
    Reopened,
    ProgressNotice,
    InformationRequested,
    FinalResponse,
    AcknowledgementQueued,
    AcknowledgementReleased,
    AcknowledgedByPost,
    /// A mail of this kind was recorded on the case.
    Message(MessageKind),
    /// The SMTP server accepted a mail of this kind.
    Sent(MailKind),
    /// A reminder or escalation about the case was queued in a digest.
    Queued(MailKind),
    LetterReturned,
    LetterUndeliverable,
    LetterQueuedAgain,
    HandlerNotified,
    /// Another case's mail names this one.
    MentionsCase,
    ReleasedFromQuarantine,
    ReleasedFromSetAside,
    PersonalDataRemoved,
    /// A step of Awb chapter 9.
    Awb(HistoryKind),
    /// The web workspace: a page opened, a download, a refusal (R9).
    Viewed,
    AttachmentDownloaded,
    AccessRefused,
}

/// The one-word entries and their stored text.
const WORDS: &[(HistoryEvent, &str)] = &[
    (HistoryEvent::Registered, "registered"),
    (HistoryEvent::SupervisorCheck, "supervisor-check"),
    (HistoryEvent::SupervisorChecked, "supervisor-checked"),
    (HistoryEvent::Assigned, "assigned"),
    (HistoryEvent::SubjectAdded, "subject-added"),
    (HistoryEvent::Corrected, "corrected"),
    (HistoryEvent::Category, "category"),
    (HistoryEvent::Note, "note"),
    (HistoryEvent::ExternalBody, "external-body"),
    (HistoryEvent::Reopened, "reopened"),
    (HistoryEvent::ProgressNotice, "progress-notice"),
    (HistoryEvent::InformationRequested, "information-requested"),
    (HistoryEvent::FinalResponse, "final-response"),
    (HistoryEvent::AcknowledgementQueued, "acknowledgement-queued"),
    (HistoryEvent::AcknowledgementReleased, "acknowledgement-released"),
    (HistoryEvent::AcknowledgedByPost, "acknowledged-by-post"),
    (HistoryEvent::LetterReturned, "letter-returned"),
    (HistoryEvent::LetterUndeliverable, "letter-undeliverable"),
    (HistoryEvent::LetterQueuedAgain, "letter-queued-again"),
    (HistoryEvent::HandlerNotified, "handler-notified"),
    (HistoryEvent::MentionsCase, "mentions-case"),
    (HistoryEvent::ReleasedFromQuarantine, "released-from-quarantine"),
    (HistoryEvent::ReleasedFromSetAside, "released-from-set-aside"),
    (HistoryEvent::PersonalDataRemoved, "personal-data-removed"),
    (HistoryEvent::Viewed, "viewed"),
    (HistoryEvent::AttachmentDownloaded, "attachment-downloaded"),
    (HistoryEvent::AccessRefused, "access-refused"),
];

impl fmt::Display for HistoryEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HistoryEvent::Message(kind) => write!(f, "message-{kind}"),
            HistoryEvent::Sent(kind) => write!(f, "{kind}-sent"),
            HistoryEvent::Queued(kind) => write!(f, "{kind}-queued"),
            HistoryEvent::Awb(kind) => f.write_str(kind.as_str()),
            word => f.write_str(WORDS.iter().find(|(e, _)| e == word).map_or("", |(_, text)| text)),
        }
    }
}

impl FromStr for HistoryEvent {
    type Err = UnknownEvent;
    fn from_str(s: &str) -> Result<Self, UnknownEvent> {
        let kind = |t: &str, parse: fn(MailKind) -> HistoryEvent| t.parse::<MailKind>().ok().map(parse);
        WORDS
            .iter()
            .find(|(_, text)| *text == s)
            .map(|(e, _)| *e)
            .or_else(|| s.parse::<HistoryKind>().ok().map(HistoryEvent::Awb))
            .or_else(|| s.strip_prefix("message-").and_then(|t| t.parse().ok()).map(HistoryEvent::Message))
            .or_else(|| s.strip_suffix("-sent").and_then(|t| kind(t, HistoryEvent::Sent)))
            .or_else(|| s.strip_suffix("-queued").and_then(|t| kind(t, HistoryEvent::Queued)))
            .ok_or_else(|| UnknownEvent(s.to_string()))
    }
}

impl serde::Serialize for HistoryEvent {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A history entry this version does not write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a kind of history entry")]
pub struct UnknownEvent(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_reads_back_as_itself() {
        let mut all: Vec<HistoryEvent> = WORDS.iter().map(|(e, _)| *e).collect();
        all.extend(MessageKind::ALL.iter().map(|k| HistoryEvent::Message(*k)));
        all.extend(MailKind::ALL.iter().map(|k| HistoryEvent::Sent(*k)));
        all.extend([MailKind::Reminder, MailKind::Escalation].map(HistoryEvent::Queued));
        all.extend(HistoryKind::ALL.iter().map(|k| HistoryEvent::Awb(*k)));
        let mut texts = std::collections::HashSet::new();
        for e in all {
            let text = e.to_string();
            assert!(!text.is_empty() && texts.insert(text.clone()), "{e:?} as {text:?}");
            assert_eq!(text.parse::<HistoryEvent>(), Ok(e), "{text}");
        }
        for m in MessageKind::ALL {
            assert_eq!(m.as_str().parse::<MessageKind>(), Ok(*m));
        }
        assert_eq!("progress-sent".parse(), Ok(HistoryEvent::Sent(MailKind::Progress)));
        assert_eq!("message-follow-up".parse(), Ok(HistoryEvent::Message(MessageKind::FollowUp)));
        assert!("message-letterbox".parse::<HistoryEvent>().is_err());
        assert!("closed".parse::<HistoryEvent>().is_err());
    }
}
