//! The steps of Awb chapter 9 besides the final response (see [`crate::domain::awb`]): a
//! postponement of the final response (9:11), not handling a complaint on a ground of 9:8, and
//! closing it as settled to the complainant's satisfaction (9:5). Each writes its letter from a
//! template, threaded and queued like the other letters (or written to print), and records its
//! effect and its history entry in the same transaction.

use chrono::NaiveDate;

use super::letters::once;
use super::{stored_date, ActionError, Actions, Delivery};
use crate::app::templates::{long_date, CaseContext, LetterContent, LetterContext};
use crate::domain::awb::{self, NotHandledGround, Postponement};
use crate::domain::calendar::Deadlines;
use crate::domain::procedure::Step;
use crate::domain::vocabulary::{MailKind, OutboxStatus};
use crate::io::smtp::new_message_id;
use crate::store::{LetterCase, LetterEffect, MailOrigin, OutgoingMail};

impl Actions {
    /// Postpones the final response by `weeks` (Awb 9:11), telling the complainant and the
    /// staff the complaint is about. A second postponement needs `consent`: a reference to the
    /// complainant's written consent (their reply) or a note of it.
    #[tracing::instrument(name = "action", skip_all, fields(reference = %reference))]
    pub async fn postpone(
        &self,
        reference: &str,
        weeks: u32,
        reason: String,
        consent: Option<String>,
        actor: &str,
    ) -> Result<(Delivery, NaiveDate), ActionError> {
        let case = self.store.letter_case(reference).await?;
        let (delivery, new_date) = self.postpone_from(&case, weeks, reason, consent, actor, None).await?;
        Ok((once(Ok(delivery))?, new_date))
    }

    /// The postponement, asked for by `origin` (an action by mail) or not; `None` for the
    /// delivery: that mail was recorded before, and nothing was done.
    pub(super) async fn postpone_from(
        &self,
        case: &LetterCase,
        weeks: u32,
        reason: String,
        consent: Option<String>,
        actor: &str,
        origin: Option<&MailOrigin>,
    ) -> Result<(Option<Delivery>, NaiveDate), ActionError> {
        let settings = self.settings.get();
        let previous = stored_date(&case.respond_by, "stored date of the final response")?;
        let consent = consent.map(|c| c.trim().to_string()).filter(|c| !c.is_empty());
        let asked = Postponement { weeks, reason: &reason, consent: consent.as_deref() };
        let new_date = awb::postpone(&case.reference, &settings.calendar, previous, case.postponements, settings.postpone_max_weeks, &asked)
            .map_err(ActionError::Refused)?;
        let language = self.language();
        let content = LetterContent::Postponement {
            reason: reason.trim().to_string(),
            weeks,
            respond_by: long_date(new_date, &language),
            previous_respond_by: long_date(previous, &language),
        };
        let copies = self.copies_to_subjects(case, "postponement", &content).await?;
        let effect = LetterEffect::Postpone { previous, new_date, earlier: case.postponements, weeks, reason, consent, copies };
        let to = case.complainant_email.clone();
        let delivery = self.send(case, Step::Postpone, "postponement", content, to, effect, actor, origin).await?;
        Ok((delivery, new_date))
    }

    /// Closes the case without handling the complaint, on `ground` (Awb 9:8); the letter states
    /// the ground and the external body with its term.
    #[tracing::instrument(name = "action", skip_all, fields(reference = %reference))]
    pub async fn not_handled(&self, reference: &str, ground: NotHandledGround, explanation: String, actor: &str) -> Result<Delivery, ActionError> {
        once(self.not_handled_from(reference, ground, explanation, actor, None).await)
    }

    pub(super) async fn not_handled_from(
        &self,
        reference: &str,
        ground: NotHandledGround,
        explanation: String,
        actor: &str,
        origin: Option<&MailOrigin>,
    ) -> Result<Option<Delivery>, ActionError> {
        let case = self.store.letter_case(reference).await?;
        let external_term_ends = self.external_term_ends();
        let explanation = explanation.trim().to_string();
        let content = LetterContent::NotHandled {
            ground: ground.as_str(),
            explanation: explanation.clone(),
            external_by: long_date(external_term_ends, &self.language()),
        };
        let to = case.complainant_email.clone();
        let effect = LetterEffect::NotHandled { ground, explanation, external_term_ends };
        self.send(&case, Step::NotHandle, "not-handled", content, to, effect, actor, origin).await
    }

    /// Closes the case as settled to the complainant's satisfaction (Awb 9:5), confirming it
    /// to them in writing.
    #[tracing::instrument(name = "action", skip_all, fields(reference = %reference))]
    pub async fn settle(&self, reference: &str, settlement: String, actor: &str) -> Result<Delivery, ActionError> {
        once(self.settle_from(reference, settlement, actor, None).await)
    }

    pub(super) async fn settle_from(
        &self,
        reference: &str,
        settlement: String,
        actor: &str,
        origin: Option<&MailOrigin>,
    ) -> Result<Option<Delivery>, ActionError> {
        if settlement.trim().is_empty() {
            return Err(ActionError::refused("write how the complaint was settled; the letter confirms it (Awb 9:5)"));
        }
        let case = self.store.letter_case(reference).await?;
        let content = LetterContent::Settled { settlement: settlement.trim().to_string() };
        let to = case.complainant_email.clone();
        self.send(&case, Step::Settle, "settled", content, to, LetterEffect::Settled { settlement: settlement.trim().to_string() }, actor, origin).await
    }

    /// The letter `letter` as a copy to each person the complaint is about who is staff with
    /// an address (`cases subject`). Never threaded to the complainant's mail.
    async fn copies_to_subjects(&self, case: &LetterCase, letter: &str, content: &LetterContent) -> Result<Vec<OutgoingMail>, ActionError> {
        let subjects = self.store.subject_addresses(case.id).await?;
        if subjects.is_empty() {
            return Ok(Vec::new());
        }
        let settings = self.settings.get();
        let received = stored_date(&case.received_on, "stored date of receipt")?;
        let deadlines = Deadlines::compute(&settings.calendar, received);
        let context = LetterContext {
            organisation: &settings.organisation,
            case: CaseContext::new(&case.reference, case.complainant_name.as_deref(), &deadlines, &[], settings.letters.language()),
            content: content.clone(),
        };
        let rendered = settings.letters.render(letter, &context)?;
        let copy = if settings.letters.language() == "en" { "Copy" } else { "Kopie" };
        let kind = MailKind::Postponement;
        Ok(subjects
            .into_iter()
            .map(|(name, email)| OutgoingMail {
                kind,
                recipient: email,
                recipient_name: Some(name),
                subject: format!("{copy}: {}", rendered.subject),
                body: rendered.body.clone(),
                message_id: new_message_id(&format!("{}.{kind}", case.reference), &self.domain),
                in_reply_to: None,
                references: Vec::new(),
                status: OutboxStatus::Pending,
            })
            .collect())
    }
}
