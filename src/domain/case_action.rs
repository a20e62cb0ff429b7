//! What a handler can do to a case, whatever the way in: the command line (`klachtd cases
//! ...`), a form of the web workspace, or the first line of a reply by mail. Each front end
//! builds a [`CaseAction`] and nothing else; `app::actions::Actions::perform` carries it out, so
//! a refusal reads the same everywhere.

use chrono::{DateTime, NaiveDate, Utc};

use super::awb::{NoHearingGround, NotHandledGround};
use super::procedure::{Category, Outcome};
use super::vocabulary::EmailAddress;

/// A hearing to invite to (Awb 9:10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hearing {
    pub start: DateTime<Utc>,
    pub minutes: u32,
    /// A place, or a video link.
    pub place: String,
    /// Working days from today within which to answer (the term of 9:10(2)(c)); `None`: the
    /// term of the procedure the case was registered under.
    pub answer_days: Option<u32>,
    /// Also invite the staff the complaint is about (those with a handler's address).
    pub with_subjects: bool,
}

/// One action on one case, with its input typed. Texts are as the handler wrote them (the
/// action trims and checks them); an address is read by the front end, as a date is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseAction {
    /// Make a handler responsible (they are told by mail).
    Assign {
        handler: String,
    },
    /// Record a staff member the complaint is about.
    Subject {
        name: String,
    },
    /// A supervisor checked the assignment.
    Checked,
    /// Complete or correct the complainant's details (R3); `None` leaves a field as it is.
    Complete {
        name: Option<String>,
        email: Option<EmailAddress>,
        description: Option<String>,
    },
    /// The progress notice (R6).
    Progress {
        expected_by: NaiveDate,
        message: Option<String>,
    },
    /// A request for information (R7), to `to` or else the complainant.
    RequestInformation {
        message: String,
        to: Option<EmailAddress>,
    },
    /// The final response (R8), which closes the case.
    Respond {
        outcome: Outcome,
        findings: String,
        measures: String,
    },
    Category(Category),
    Note {
        text: String,
    },
    /// The complainant took the complaint to the external body on `on`.
    Escalate {
        to: String,
        on: NaiveDate,
    },
    Reopen,
    /// The acknowledgement was sent by post on `on`.
    Acknowledged {
        on: NaiveDate,
    },
    /// Send the acknowledgement that did not go out.
    ReleaseAcknowledgement,
    /// Awb 9:11; a second postponement needs `consent`.
    Postpone {
        weeks: u32,
        reason: String,
        consent: Option<String>,
    },
    /// Awb 9:8.
    NotHandled {
        ground: NotHandledGround,
        explanation: String,
    },
    /// Awb 9:5.
    Settle {
        settlement: String,
    },
    /// Awb 9:9: a copy of the complaint to the person it is about.
    Disclose {
        name: String,
        email: Option<EmailAddress>,
    },
    /// Awb 9:10: an invitation to be heard.
    HearingInvite(Hearing),
    /// Awb 9:10: the report of the hearing, to the complainant.
    HearingReport {
        report: String,
    },
    /// Awb 9:10(2).
    NoHearing {
        ground: NoHearingGround,
    },
}

impl CaseAction {
    /// The action's name: the subcommand of `klachtd cases` and the last segment of the web
    /// form's path.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Assign { .. } => "assign",
            Self::Subject { .. } => "subject",
            Self::Checked => "checked",
            Self::Complete { .. } => "complete",
            Self::Progress { .. } => "progress",
            Self::RequestInformation { .. } => "request-info",
            Self::Respond { .. } => "respond",
            Self::Category(_) => "category",
            Self::Note { .. } => "note",
            Self::Escalate { .. } => "escalate",
            Self::Reopen => "reopen",
            Self::Acknowledged { .. } => "acknowledged",
            Self::ReleaseAcknowledgement => "release-acknowledgement",
            Self::Postpone { .. } => "postpone",
            Self::NotHandled { .. } => "not-handled",
            Self::Settle { .. } => "settle",
            Self::Disclose { .. } => "disclose",
            Self::HearingInvite(_) => "hearing-invite",
            Self::HearingReport { .. } => "hearing-report",
            Self::NoHearing { .. } => "no-hearing",
        }
    }

    /// Whether only a supervisor may do this.
    pub fn for_supervisors(&self) -> bool {
        matches!(self, Self::Checked)
    }

    /// The text of the letter this action sends in the handler's words, if any (a note is
    /// never sent).
    pub fn letter_text(&self) -> Option<String> {
        match self {
            Self::Progress { message, .. } => message.clone(),
            Self::RequestInformation { message, .. } => Some(message.clone()),
            Self::Respond { findings, measures, .. } => Some(format!("{findings}\n{measures}")),
            Self::Postpone { reason, .. } => Some(reason.clone()),
            Self::NotHandled { explanation, .. } => Some(explanation.clone()),
            Self::Settle { settlement } => Some(settlement.clone()),
            Self::HearingInvite(hearing) => Some(hearing.place.clone()),
            Self::HearingReport { report } => Some(report.clone()),
            _ => None,
        }
    }
}

/// Input that makes no action (a first line of a reply, a form's field, that does not read):
/// why, in one line for the handler, in the words of every front end.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unreadable(pub String);

impl From<String> for Unreadable {
    fn from(reason: String) -> Self {
        Self(reason)
    }
}

impl From<&str> for Unreadable {
    fn from(reason: &str) -> Self {
        Self(reason.to_string())
    }
}

/// A moment in Europe/Amsterdam as UTC; `None` in the hour skipped by daylight saving.
pub fn amsterdam_moment(local: chrono::NaiveDateTime) -> Option<DateTime<Utc>> {
    local.and_local_timezone(chrono_tz::Europe::Amsterdam).earliest().map(|t| t.with_timezone(&Utc))
}

/// The refusal of a moment in the daylight-saving gap, in the words of every front end.
pub fn gap(local: impl std::fmt::Display) -> String {
    format!("{local} does not exist in Europe/Amsterdam (daylight-saving gap)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_subcommands_and_only_checking_is_for_supervisors() {
        assert_eq!(CaseAction::RequestInformation { message: "?".into(), to: None }.name(), "request-info");
        assert_eq!(CaseAction::NoHearing { ground: NoHearingGround::NotWished }.name(), "no-hearing");
        assert!(CaseAction::Checked.for_supervisors());
        assert!(!CaseAction::Reopen.for_supervisors());
    }

    #[test]
    fn a_moment_in_the_gap_is_none() {
        let gap = chrono::NaiveDate::from_ymd_opt(2026, 3, 29).unwrap().and_hms_opt(2, 30, 0).unwrap();
        assert_eq!(amsterdam_moment(gap), None);
        let winter = chrono::NaiveDate::from_ymd_opt(2026, 12, 15).unwrap().and_hms_opt(14, 0, 0).unwrap();
        assert_eq!(amsterdam_moment(winter).unwrap().to_rfc3339(), "2026-12-15T13:00:00+00:00");
    }
}
