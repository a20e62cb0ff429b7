//! The steps of Awb chapter 9 as pure rules (see REGULATION.md, "The law around the
//! regulation"): the term to turn to the external body after the final letter (9:12, 9:24), a
//! postponement of the final response (9:11), the grounds for not handling a complaint (9:8),
//! and the kinds of history entry these steps write.

use chrono::{Months, NaiveDate};

use super::calendar::Calendar;
use super::reference::CaseRef;
use super::vocabulary::text_enum;

/// What the law allows as a postponement of the final response, in weeks (9:11(2)).
pub const LAW_MAX_POSTPONEMENT_WEEKS: u32 = 4;

/// The history entries of the chapter 9 steps (`case_events.action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HistoryKind {
    /// The final response was postponed (9:11).
    Postponed,
    /// The complaint is not handled, on a ground of 9:8; the case is closed.
    NotHandled,
    /// Settled to the complainant's satisfaction (9:5); the case is closed.
    Settled,
    /// A copy of the complaint and its documents went to the person it is about (9:9).
    Disclosed,
    /// Invited to be heard (9:10), with an iCalendar invitation.
    HearingInvited,
    /// An answer to the invitation came in (iTIP REPLY).
    HearingAnswer,
    /// The hearing was held; its report went to the complainant.
    HearingHeld,
    /// There was no hearing, on a ground of 9:10(2).
    NoHearing,
}

text_enum!(HistoryKind, "a kind of history entry",
    Postponed => "postponed",
    NotHandled => "not-handled",
    Settled => "settled",
    Disclosed => "disclosed",
    HearingInvited => "hearing-invited",
    HearingAnswer => "hearing-answer",
    HearingHeld => "hearing-held",
    NoHearing => "no-hearing",
);

/// Why the complainant was not heard (9:10(2)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum NoHearingGround {
    /// (a) The complaint is clearly unfounded.
    ClearlyUnfounded,
    /// (b) The complainant said they do not wish to be heard.
    NotWished,
    /// (c) The complainant did not say within the term set that they wish to be heard.
    NoAnswer,
}

text_enum!(NoHearingGround, "a ground of Awb 9:10(2)",
    ClearlyUnfounded => "clearly-unfounded",
    NotWished => "not-wished",
    NoAnswer => "no-answer",
);

/// How the hearing of a case ended (`cases.hearing_outcome`): held, or not held on a ground of
/// 9:10(2) (stored as the ground's word).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HearingOutcome {
    Held,
    NoHearing(NoHearingGround),
}

impl HearingOutcome {
    /// The stored word: `held`, or the ground's.
    pub fn as_str(self) -> &'static str {
        match self {
            HearingOutcome::Held => "held",
            HearingOutcome::NoHearing(ground) => ground.as_str(),
        }
    }
}

impl std::str::FromStr for HearingOutcome {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "held" => Ok(HearingOutcome::Held),
            ground => ground.parse().map(HearingOutcome::NoHearing).map_err(|e| format!("not a hearing's outcome (held, or {e})")),
        }
    }
}

/// Why recording "no hearing" on `ground` is refused, if it is: "no answer" needs an
/// invitation whose term to answer (`answer_by`, inclusive) has passed without an acceptance.
pub fn no_hearing_refusal(
    reference: &CaseRef,
    ground: NoHearingGround,
    answer_by: Option<NaiveDate>,
    answer: Option<&str>,
    today: NaiveDate,
) -> Option<String> {
    if ground != NoHearingGround::NoAnswer {
        return None;
    }
    match answer_by {
        None => Some(format!("{reference}: no invitation with a term to answer was sent; invite first (klachtd cases hearing-invite)")),
        Some(by) if today <= by => Some(format!("{reference}: the term to answer the invitation runs to {by}; wait until it has passed")),
        Some(_) if answer.is_some_and(|a| matches!(a, "ACCEPTED" | "TENTATIVE")) => {
            Some(format!("{reference}: the complainant answered the invitation ({}); record the hearing, or another ground", answer.unwrap_or("")))
        }
        Some(_) => None,
    }
}

/// Why a complaint is not handled (9:8(1)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum NotHandledGround {
    /// (a) The conduct was already handled under this chapter.
    AlreadyHandled,
    /// (b) The conduct took place more than a year before the complaint.
    OverAYear,
    /// (c) Objection or appeal is (or was) open against it.
    ObjectionOrAppeal,
    /// (d) It is (or was) before a court.
    BeforeCourt,
    /// (e) It is under criminal investigation or prosecution.
    CriminalInvestigation,
    /// (2) The complainant's interest or the conduct's weight is clearly too slight.
    TooSlight,
}

text_enum!(NotHandledGround, "a ground of Awb 9:8",
    AlreadyHandled => "already-handled",
    OverAYear => "over-a-year",
    ObjectionOrAppeal => "objection-or-appeal",
    BeforeCourt => "before-court",
    CriminalInvestigation => "criminal-investigation",
    TooSlight => "too-slight",
);

/// The last day to turn to the external body after a final letter sent on `letter_date`:
/// `term_months` later (9:24: a year), moved to the next working day as the Atw moves a term
/// that ends on a weekend day or holiday.
pub fn external_term_end(calendar: &Calendar, letter_date: NaiveDate, term_months: u32) -> NaiveDate {
    let end = letter_date.checked_add_months(Months::new(term_months)).unwrap_or(NaiveDate::MAX);
    calendar.on_or_next_working_day(end)
}

/// A postponement asked for: by how many weeks, and the complainant's written consent (a
/// reference to their reply, or a handler's note of it) when one is needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Postponement<'a> {
    pub weeks: u32,
    pub reason: &'a str,
    pub consent: Option<&'a str>,
}

/// Why a postponement is refused (9:11).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PostponementRefused {
    #[error("a postponement needs its reason; the letter states it (Awb 9:11)")]
    NoReason,
    #[error("{reference}: the final response may be postponed by 1 to {max_weeks} weeks, not {asked} (Awb 9:11)")]
    Weeks { reference: CaseRef, max_weeks: u32, asked: u32 },
    #[error(
        "{reference} was postponed before; a further postponement needs the complainant's written consent (Awb 9:11(2)): give a reference to their reply or a note of their consent"
    )]
    NoConsent { reference: CaseRef },
    #[error("{reference}: the procedure it was registered under allows no postponement")]
    NotInProcedure { reference: CaseRef },
}

/// The new date of the final response, or why the postponement is refused. `respond_by` is the
/// date now in force, `earlier` how many postponements the case had, `max_weeks` the configured
/// limit (never above the law's four weeks). The first postponement is the body's to decide;
/// any further one needs the complainant's written consent (9:11(2)).
pub fn postpone(
    reference: &CaseRef,
    calendar: &Calendar,
    respond_by: NaiveDate,
    earlier: u32,
    max_weeks: u32,
    p: &Postponement,
) -> Result<NaiveDate, PostponementRefused> {
    let max_weeks = max_weeks.min(LAW_MAX_POSTPONEMENT_WEEKS);
    if p.reason.trim().is_empty() {
        return Err(PostponementRefused::NoReason);
    }
    if max_weeks == 0 {
        return Err(PostponementRefused::NotInProcedure { reference: reference.clone() });
    }
    if p.weeks == 0 || p.weeks > max_weeks {
        return Err(PostponementRefused::Weeks { reference: reference.clone(), max_weeks, asked: p.weeks });
    }
    if earlier > 0 && p.consent.is_none_or(|c| c.trim().is_empty()) {
        return Err(PostponementRefused::NoConsent { reference: reference.clone() });
    }
    Ok(calendar.on_or_next_working_day(respond_by + chrono::Days::new(7 * u64::from(p.weeks))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kl1() -> CaseRef {
        CaseRef::new("KL", 2026, 1)
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn the_external_term_is_a_year_and_ends_on_a_working_day() {
        let cal = Calendar::default();
        assert_eq!(external_term_end(&cal, d(2026, 3, 10), 12), d(2027, 3, 10));
        // 2026-12-25 + 12 months is Christmas 2027 (a Saturday): moved past Boxing Day and Sunday.
        assert_eq!(external_term_end(&cal, d(2026, 12, 25), 12), d(2027, 12, 27));
        assert_eq!(external_term_end(&cal, d(2026, 1, 31), 1), d(2026, 3, 2), "28 February 2026 is a Saturday");
    }

    #[test]
    fn a_postponement_is_limited_and_a_second_needs_consent() {
        let cal = Calendar::default();
        let p = |weeks, consent| Postponement { weeks, reason: "advies nodig", consent };
        assert_eq!(postpone(&kl1(), &cal, d(2026, 12, 1), 0, 4, &p(4, None)), Ok(d(2026, 12, 29)));
        assert_eq!(postpone(&kl1(), &cal, d(2026, 12, 1), 0, 4, &p(2, None)), Ok(d(2026, 12, 15)));
        // Landing on Christmas Day: the next working day.
        assert_eq!(postpone(&kl1(), &cal, d(2026, 12, 18), 0, 4, &p(1, None)), Ok(d(2026, 12, 28)));
        assert!(postpone(&kl1(), &cal, d(2026, 12, 1), 0, 4, &p(5, None)).unwrap_err().to_string().contains("1 to 4 weeks"));
        assert!(postpone(&kl1(), &cal, d(2026, 12, 1), 0, 2, &p(3, None)).unwrap_err().to_string().contains("1 to 2 weeks"));
        assert!(postpone(&kl1(), &cal, d(2026, 12, 1), 0, 9, &p(5, None)).unwrap_err().to_string().contains("1 to 4 weeks"), "never more than the law");
        assert!(postpone(&kl1(), &cal, d(2026, 12, 1), 0, 4, &p(0, None)).is_err());
        let second = postpone(&kl1(), &cal, d(2026, 12, 29), 1, 4, &p(2, None)).unwrap_err();
        assert!(matches!(second, PostponementRefused::NoConsent { .. }) && second.to_string().contains("written consent"), "{second}");
        assert!(postpone(&kl1(), &cal, d(2026, 12, 29), 1, 4, &p(2, Some("  "))).is_err());
        assert_eq!(postpone(&kl1(), &cal, d(2026, 12, 29), 1, 4, &p(2, Some("mail van 20 december"))), Ok(d(2027, 1, 12)));
        assert!(postpone(&kl1(), &cal, d(2026, 12, 1), 0, 0, &p(1, None)).unwrap_err().to_string().contains("allows no postponement"));
        let no_reason = Postponement { weeks: 1, reason: " ", consent: None };
        assert!(postpone(&kl1(), &cal, d(2026, 12, 1), 0, 4, &no_reason).unwrap_err().to_string().contains("reason"));
    }

    #[test]
    fn no_answer_needs_a_term_that_has_passed() {
        let today = d(2026, 12, 10);
        let g = NoHearingGround::NoAnswer;
        assert!(no_hearing_refusal(&kl1(), g, None, None, today).unwrap().contains("invite first"));
        assert!(no_hearing_refusal(&kl1(), g, Some(today), None, today).unwrap().contains("runs to 2026-12-10"));
        assert_eq!(no_hearing_refusal(&kl1(), g, Some(d(2026, 12, 9)), None, today), None);
        assert_eq!(no_hearing_refusal(&kl1(), g, Some(d(2026, 12, 9)), Some("DECLINED"), today), None);
        assert!(no_hearing_refusal(&kl1(), g, Some(d(2026, 12, 9)), Some("ACCEPTED"), today).unwrap().contains("answered"));
        assert_eq!(no_hearing_refusal(&kl1(), NoHearingGround::NotWished, None, None, today), None);
    }

    #[test]
    fn grounds_parse_strictly() {
        assert_eq!("too-slight".parse::<NotHandledGround>(), Ok(NotHandledGround::TooSlight));
        assert!("vaag".parse::<NotHandledGround>().unwrap_err().contains("already-handled"));
        assert_eq!(NotHandledGround::ALL.len(), 6);
    }

    #[test]
    fn a_hearings_outcome_is_held_or_a_ground() {
        let mut all = vec![HearingOutcome::Held];
        all.extend(NoHearingGround::ALL.iter().map(|g| HearingOutcome::NoHearing(*g)));
        for o in all {
            assert_eq!(o.as_str().parse::<HearingOutcome>(), Ok(o));
        }
        assert_eq!(HearingOutcome::NoHearing(NoHearingGround::NoAnswer).as_str(), "no-answer");
        assert!("heard".parse::<HearingOutcome>().unwrap_err().contains("held, or"));
    }
}
