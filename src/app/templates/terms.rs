//! `case.terms` in the letters: the terms of the procedure a case was registered under, in
//! words, so a letter states the terms that apply to that case.

use serde::Serialize;

use crate::domain::terms::{Procedure, Term};

/// `case.terms`: the terms of the case's procedure in words of the letters' language ("5
/// werkdagen", "4 weeks"); an absent one is none.
#[derive(Debug, Clone, Serialize)]
pub struct TermsContext {
    pub acknowledge: String,
    pub progress: Option<String>,
    pub respond: String,
    pub hearing_answer: Option<String>,
    pub postponement: Option<String>,
}

impl TermsContext {
    pub fn new(procedure: &Procedure, language: &str) -> Self {
        let words = |t: Term| t.describe(language);
        Self {
            acknowledge: words(procedure.acknowledge),
            progress: procedure.progress.map(words),
            respond: words(procedure.respond),
            hearing_answer: procedure.hearing_answer.map(words),
            postponement: procedure.postponement.map(words),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::super::{AcknowledgementContext, AssignedContext, CaseContext, ExternalBodyContext, Letters, OrganisationContext, RecipientContext};
    use crate::domain::calendar::Calendar;
    use crate::domain::terms::{Preset, Procedure};

    fn organisation() -> OrganisationContext {
        let external_body = ExternalBodyContext { name: "Nationale ombudsman".into(), address: String::new(), website: String::new(), term_months: 12 };
        OrganisationContext {
            name: "Dienst".into(),
            regulation_url: "https://dienst.nl/klachten".into(),
            complaints_address: "k@dienst.nl".into(),
            external_body,
        }
    }

    /// The acknowledgement and the handler's notice of a case under `procedure`.
    fn letters(procedure: Procedure, language: &str) -> (String, String) {
        let received = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        let deadlines = procedure.deadlines(&Calendar::default(), received);
        let case = CaseContext::new(&"KL-2026-0001".parse().unwrap(), Some("Jan"), &deadlines, &procedure, &[], language);
        let organisation = organisation();
        let letters = Letters::load(None, language).unwrap();
        let ack = letters.render("acknowledgement", &AcknowledgementContext { organisation: &organisation, case: case.clone() }).unwrap();
        let recipient = RecipientContext { name: "Ann".into() };
        let assigned = AssignedContext { organisation: &organisation, recipient, case, marker: Some("{actie:x}".into()), web_url: None };
        (ack.body, letters.render("assigned", &assigned).unwrap().body)
    }

    #[test]
    fn the_letters_state_the_terms_of_the_cases_procedure() {
        let (ack, assigned) = letters(Procedure::preset(Preset::Reintegratie, false), "nl");
        for needle in [
            "Uiterlijk vrijdag 4 december 2026 (binnen 10 werkdagen na ontvangst)",
            "Uiterlijk vrijdag 18 december 2026 (binnen 4 weken na ontvangst)",
            "termijn van 5 werkdagen",
        ] {
            assert!(ack.contains(needle), "{needle} missing in\n{ack}");
        }
        assert!(assigned.contains("voortgangsbericht uiterlijk vrijdag 4 december 2026") && assigned.contains("ten hoogste 4 weken, Awb 9:11"), "{assigned}");

        // The Awb: six weeks, to Monday 4 January 2027 (New Year's Day moves it), no progress notice.
        let (ack, assigned) = letters(Procedure::preset(Preset::Awb, false), "en");
        assert!(ack.contains("By Monday 4 January 2027 at the latest (within 6 weeks of receipt)"), "{ack}");
        assert!(ack.contains("the term of 5 working days for acknowledging"), "{ack}");
        assert!(!ack.contains("progressing") && !ack.contains("none"), "no progress notice under the Awb:\n{ack}");
        assert!(!assigned.contains("progress notice by") && assigned.contains("final response by Monday 4 January 2027"), "{assigned}");

        let without = Procedure { postponement: None, ..Procedure::default() };
        let (_, assigned) = letters(without, "nl");
        assert!(assigned.contains("(niet in deze procedure, Awb 9:11)"), "{assigned}");
    }
}
