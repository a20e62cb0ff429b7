//! What a handler may do to a case, and when (R6-R8, R11). Pure rules, so every refusal is a
//! unit test and the command line reports it in one line.

use super::vocabulary::text_enum;

/// The outcome of a complaint in the final response (R8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Outcome {
    Founded,
    PartlyFounded,
    Unfounded,
}

/// The register's categories (R10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Category {
    Service,
    Staff,
    Process,
    Other,
}

text_enum!(Outcome, "an outcome", Founded => "founded", PartlyFounded => "partly-founded", Unfounded => "unfounded");
text_enum!(Category, "a category", Service => "service", Staff => "staff", Process => "process", Other => "other");

/// What a case closed with (`cases.outcome`): the findings of its final response, or another
/// way chapter 9 of the Awb closes a complaint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CaseOutcome {
    Founded,
    PartlyFounded,
    Unfounded,
    /// Not handled, on a ground of 9:8.
    NotHandled,
    /// Settled to the complainant's satisfaction (9:5).
    Settled,
}

text_enum!(CaseOutcome, "a case's outcome",
    Founded => "founded",
    PartlyFounded => "partly-founded",
    Unfounded => "unfounded",
    NotHandled => "not-handled",
    Settled => "settled",
);

impl From<Outcome> for CaseOutcome {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Founded => CaseOutcome::Founded,
            Outcome::PartlyFounded => CaseOutcome::PartlyFounded,
            Outcome::Unfounded => CaseOutcome::Unfounded,
        }
    }
}

/// What a case's state allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaseState {
    pub closed: bool,
    pub responded: bool,
}

/// A handler's action that writes to the complainant or changes the procedure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    ProgressNotice,
    RequestInformation,
    FinalResponse,
    Reopen,
    /// Postpone the final response (Awb 9:11).
    Postpone,
    /// Close without handling, on a ground of Awb 9:8.
    NotHandle,
    /// Close as settled to the complainant's satisfaction (Awb 9:5).
    Settle,
}

/// Why a step is refused; the message names the case and the way out.
pub fn refusal(reference: &super::reference::CaseRef, state: CaseState, step: Step) -> Option<String> {
    match step {
        Step::Reopen if !state.closed => Some(format!("{reference} is open; there is nothing to reopen")),
        Step::Reopen => None,
        Step::FinalResponse if state.responded => Some(format!("{reference} already has its final response; reopen it first to respond again")),
        Step::ProgressNotice if state.responded => Some(format!("{reference} already has its final response; a progress notice comes before it")),
        Step::Postpone if state.responded => Some(format!("{reference} already has its final response; there is nothing to postpone")),
        Step::NotHandle | Step::Settle if state.responded => Some(format!("{reference} is closed with its outcome already; reopen it first")),
        _ if state.closed => Some(format!("{reference} is closed; reopen it first (klachtd cases reopen {reference})")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPEN: CaseState = CaseState { closed: false, responded: false };
    const DONE: CaseState = CaseState { closed: true, responded: true };

    #[test]
    fn outcomes_and_categories_parse_strictly() {
        assert_eq!("partly-founded".parse::<Outcome>(), Ok(Outcome::PartlyFounded));
        let e = "half".parse::<Outcome>().unwrap_err();
        assert_eq!(e, "\"half\" is not an outcome; use one of: founded, partly-founded, unfounded");
        assert_eq!("staff".parse::<Category>(), Ok(Category::Staff));
        assert!("misc".parse::<Category>().is_err());
    }

    /// A final response's outcome is stored as the same word as a case's outcome.
    #[test]
    fn a_responses_outcome_is_a_cases_outcome_of_the_same_word() {
        for o in Outcome::ALL {
            assert_eq!(CaseOutcome::from(*o).as_str(), o.as_str());
        }
        for o in CaseOutcome::ALL {
            assert_eq!(o.as_str().parse::<CaseOutcome>(), Ok(*o));
        }
        assert!("open".parse::<CaseOutcome>().is_err());
    }

    #[test]
    fn the_procedure_refuses_steps_out_of_order() {
        let kl1 = crate::domain::reference::CaseRef::new("KL", 2026, 1);
        assert_eq!(refusal(&kl1, OPEN, Step::ProgressNotice), None);
        assert_eq!(refusal(&kl1, OPEN, Step::FinalResponse), None);
        assert!(refusal(&kl1, DONE, Step::FinalResponse).unwrap().contains("already has its final response"));
        assert!(refusal(&kl1, DONE, Step::ProgressNotice).unwrap().contains("comes before it"));
        assert!(refusal(&kl1, DONE, Step::RequestInformation).unwrap().contains("reopen it first"));
        assert!(refusal(&kl1, OPEN, Step::Reopen).unwrap().contains("nothing to reopen"));
        assert_eq!(refusal(&kl1, DONE, Step::Reopen), None);
        assert!(refusal(&kl1, DONE, Step::Postpone).unwrap().contains("nothing to postpone"));
        assert!(refusal(&kl1, DONE, Step::Settle).unwrap().contains("reopen it first"));
        assert!(refusal(&kl1, DONE, Step::NotHandle).unwrap().contains("reopen it first"));
        assert_eq!(refusal(&kl1, OPEN, Step::Postpone), None);
        let reopened = CaseState { closed: false, responded: false };
        assert_eq!(refusal(&kl1, reopened, Step::FinalResponse), None);
    }
}
