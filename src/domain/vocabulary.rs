//! The words the procedure is written in: kinds of outgoing mail, the states of an outgoing
//! mail and of a case. Each is stored as the same text as always (`acknowledgement`,
//! `pending`, `open`), so the database and the JSON output keep their meaning; in Rust they are
//! enums, so a new kind of mail is one variant here and the compiler points at every `match`
//! that must decide about it.

use std::fmt;
use std::str::FromStr;

use super::reminders::Deadline;

/// Implements `as_str`, `FromStr` (with an error that lists the valid words), `Display`, `ALL`
/// and serde as that text, for an enum of unit variants.
macro_rules! text_enum {
    ($t:ident, $what:literal, $($variant:ident => $text:literal),+ $(,)?) => {
        impl $t {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$t] = &[$($t::$variant),+];

            /// The stored and printed text.
            pub fn as_str(self) -> &'static str {
                match self { $($t::$variant => $text),+ }
            }
        }
        impl std::str::FromStr for $t {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s.trim() {
                    $($text => Ok($t::$variant),)+
                    other => Err(format!(concat!("{:?} is not ", $what, "; use one of: {}"), other, [$($text),+].join(", "))),
                }
            }
        }
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                // `pad`, so `{:<7}` in a table lines up.
                f.pad(self.as_str())
            }
        }
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}
pub(crate) use text_enum;

/// What an outgoing mail is, which decides how it is sent and what its acceptance means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MailKind {
    /// Confirms receipt to the complainant (R4).
    Acknowledgement,
    /// A handler's progress notice (R6).
    Progress,
    /// A handler's request for information (R7).
    RequestInfo,
    /// A handler's final response (R8).
    Response,
    /// A digest of deadlines coming up, to a handler.
    Reminder,
    /// A digest of missed deadlines, to a handler and the escalation address.
    Escalation,
    /// Tells a handler a case is theirs.
    Assigned,
    /// Confirms an action a handler took by e-mail.
    Confirmation,
    /// Tells a handler of something that needs them (a returned letter, mail on a closed case).
    Notice,
    /// A link to sign in to the web workspace.
    SignInLink,
    /// Postpones the final response (Awb 9:11).
    Postponement,
    /// The complaint is not handled, with the ground (Awb 9:8); closes the case.
    NotHandled,
    /// Confirms that the complaint was settled to the complainant's satisfaction (Awb 9:5).
    Settled,
    /// A copy of the complaint and its documents to the person it is about (Awb 9:9).
    Disclosure,
    /// An invitation to be heard, with an iCalendar REQUEST (Awb 9:10).
    HearingInvitation,
    /// The report of the hearing, to the complainant (Awb 9:10).
    HearingReport,
}

text_enum!(MailKind, "a kind of mail",
    Acknowledgement => "acknowledgement",
    Progress => "progress",
    RequestInfo => "request-info",
    Response => "response",
    Reminder => "reminder",
    Escalation => "escalation",
    Assigned => "assigned",
    Confirmation => "confirmation",
    Notice => "notice",
    SignInLink => "sign-in-link",
    Postponement => "postponement",
    NotHandled => "not-handled",
    Settled => "settled",
    Disclosure => "disclosure",
    HearingInvitation => "hearing-invitation",
    HearingReport => "hearing-report",
);

impl MailKind {
    /// Written by klachtd itself rather than by a handler. Only such mail carries
    /// `Auto-Submitted: auto-replied`: RFC 3834 (section 5) keeps the header off mail a person
    /// wrote, and a complainant's auto-responder may answer such a letter like any other. That
    /// cannot loop: its answer carries `Auto-Submitted` itself and is filed with the case
    /// without a reply; mail from our own addresses is never answered; and acknowledgements
    /// stay under the per-sender limit.
    pub fn is_automatic(self) -> bool {
        !self.is_handlers_letter()
    }

    /// A letter a handler writes to the complainant or another party (the procedure's own
    /// letters), as against what klachtd writes by itself.
    fn is_handlers_letter(self) -> bool {
        matches!(
            self,
            MailKind::Progress
                | MailKind::RequestInfo
                | MailKind::Response
                | MailKind::Postponement
                | MailKind::NotHandled
                | MailKind::Settled
                | MailKind::Disclosure
                | MailKind::HearingInvitation
                | MailKind::HearingReport
        )
    }

    /// A letter to the complainant or another party, whose failure the handler must hear of,
    /// rather than a message to staff.
    pub fn is_letter_to_a_party(self) -> bool {
        self == MailKind::Acknowledgement || self.is_handlers_letter()
    }

    /// Waits for working hours before it is sent (reminders are not for the night).
    pub fn waits_for_working_hours(self) -> bool {
        matches!(self, MailKind::Reminder | MailKind::Escalation)
    }

    /// The deadline that the server's acceptance of this mail meets, if any.
    pub fn meets(self) -> Option<Deadline> {
        match self {
            MailKind::Acknowledgement => Some(Deadline::Acknowledge),
            MailKind::Progress => Some(Deadline::Progress),
            // Not handling a complaint (9:8) and confirming it settled (9:5) end the duty to
            // respond, as the final response does.
            MailKind::Response | MailKind::NotHandled | MailKind::Settled => Some(Deadline::Respond),
            _ => None,
        }
    }
}

/// Where an outgoing mail stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutboxStatus {
    /// Waiting to be sent (or being sent under a claim).
    Pending,
    /// Accepted by the SMTP server.
    Sent,
    /// An acknowledgement of mail older than `acknowledge_since`, kept until released.
    Held,
    /// Not sent: the sender reached the limit of automatic replies.
    Suppressed,
    /// Refused for good by the SMTP server; the handler was told.
    Undeliverable,
    /// Sent, and then bounced back.
    Returned,
}

text_enum!(OutboxStatus, "an outbox status",
    Pending => "pending",
    Sent => "sent",
    Held => "held",
    Suppressed => "suppressed",
    Undeliverable => "undeliverable",
    Returned => "returned",
);

/// Whether a case is still being handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CaseStatus {
    Open,
    /// Closed with the final response (or closed by hand); may be reopened.
    Closed,
}

text_enum!(CaseStatus, "a case status", Open => "open", Closed => "closed");

/// How a complaint came in (`cases.source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CaseSource {
    /// By e-mail, to a complaints mailbox.
    Email,
    /// On paper, registered by a handler (the web workspace's paper form).
    Post,
}

text_enum!(CaseSource, "a complaint's source", Email => "email", Post => "post");

/// An e-mail address as klachtd accepts one wherever it comes from (configuration, command
/// line, web form, paper complaint): `local@domain.tld`, no spaces or control characters, at
/// most 254 characters. Checked once where it enters; trimmed, case kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(text: &str) -> Result<Self, String> {
        let a = text.trim();
        let valid = a.len() <= 254
            && !a.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';' | '"'))
            && match a.rsplit_once('@') {
                Some((local, domain)) => {
                    !local.is_empty()
                        && !local.contains('@')
                        && domain.contains('.')
                        && !domain.starts_with('.')
                        && !domain.ends_with('.')
                        && !domain.contains("..")
                }
                None => false,
            };
        if valid {
            Ok(Self(a.to_string()))
        } else {
            Err(format!("{a:?} is not an e-mail address (name@example.org)"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl FromStr for EmailAddress {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::parse(s)
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for EmailAddress {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl serde::Serialize for EmailAddress {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_reads_back_as_itself() {
        for k in MailKind::ALL {
            assert_eq!(k.as_str().parse::<MailKind>(), Ok(*k));
        }
        for s in OutboxStatus::ALL {
            assert_eq!(s.as_str().parse::<OutboxStatus>(), Ok(*s));
        }
        for s in CaseStatus::ALL {
            assert_eq!(s.as_str().parse::<CaseStatus>(), Ok(*s));
        }
        for s in CaseSource::ALL {
            assert_eq!(s.as_str().parse::<CaseSource>(), Ok(*s));
        }
        let e = "letter".parse::<MailKind>().unwrap_err();
        assert!(e.contains("acknowledgement") && e.contains("sign-in-link"), "{e}");
    }

    #[test]
    fn letters_a_person_writes_are_not_automatic() {
        let personal: Vec<_> = MailKind::ALL.iter().filter(|k| !k.is_automatic()).map(|k| k.as_str()).collect();
        assert_eq!(
            personal,
            ["progress", "request-info", "response", "postponement", "not-handled", "settled", "disclosure", "hearing-invitation", "hearing-report"]
        );
        let to_parties: Vec<_> = MailKind::ALL.iter().filter(|k| k.is_letter_to_a_party()).map(|k| k.as_str()).collect();
        assert_eq!(
            to_parties,
            [
                "acknowledgement",
                "progress",
                "request-info",
                "response",
                "postponement",
                "not-handled",
                "settled",
                "disclosure",
                "hearing-invitation",
                "hearing-report"
            ]
        );
    }

    /// The SQL that keeps mail back outside working hours names these kinds literally.
    #[test]
    fn only_reminders_and_escalations_wait_for_working_hours() {
        let waiting: Vec<_> = MailKind::ALL.iter().filter(|k| k.waits_for_working_hours()).map(|k| k.as_str()).collect();
        assert_eq!(waiting, ["reminder", "escalation"]);
    }

    #[test]
    fn each_deadline_is_met_by_its_letters() {
        for d in [Deadline::Acknowledge, Deadline::Progress] {
            assert_eq!(MailKind::ALL.iter().filter(|k| k.meets() == Some(d)).count(), 1, "{d:?}");
        }
        // The SQL that marks the response met (store/outbox.rs) names these kinds literally.
        let closing: Vec<_> = MailKind::ALL.iter().filter(|k| k.meets() == Some(Deadline::Respond)).map(|k| k.as_str()).collect();
        assert_eq!(closing, ["response", "not-handled", "settled"]);
        assert_eq!(MailKind::RequestInfo.meets(), None);
        assert_eq!(MailKind::Postponement.meets(), None);
    }

    #[test]
    fn addresses_are_checked_one_way() {
        assert_eq!(EmailAddress::parse(" Jan.Jansen@Example.org ").unwrap().as_str(), "Jan.Jansen@Example.org");
        for bad in [
            "",
            "jan",
            "jan@",
            "@example.org",
            "jan@example",
            "jan@.org",
            "jan@example.",
            "jan @example.org",
            "a@b@c.org",
            "jan@exa..mple.org",
            "<jan@example.org>",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(EmailAddress::parse(&format!("{}@example.org", "a".repeat(250))).is_err());
    }
}
