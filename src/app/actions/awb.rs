//! The steps of Awb chapter 9 besides the final response (see [`crate::domain::awb`]): a
//! postponement of the final response (9:11), not handling a complaint on a ground of 9:8, and
//! closing it as settled to the complainant's satisfaction (9:5). Each writes its letter from a
//! template, threaded and queued like the other letters (or written to print), and records its
//! effect and its history entry in the same transaction.

use chrono::NaiveDate;

use super::{ActionError, Actions, Delivery};
use crate::app::new_message_id;
use crate::app::templates::{long_date, CaseContext, DisclosureContext, LetterContent, LetterContext, RecipientContext};
use crate::domain::awb::{self, HistoryKind, NotHandledGround, Postponement};
use crate::domain::procedure::Step;
use crate::domain::vocabulary::{MailKind, OutboxStatus};
use crate::store::{LetterCase, LetterEffect, MailOrigin, MailPart, OutgoingMail};

impl Actions {
    /// Postpones the final response by `weeks` (Awb 9:11), telling the complainant and the
    /// staff the complaint is about. A second postponement needs `consent`: a reference to the
    /// complainant's written consent (their reply) or a note of it.
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
        let previous = case.respond_by;
        let consent = consent.map(|c| c.trim().to_string()).filter(|c| !c.is_empty());
        let asked = Postponement { weeks, reason: &reason, consent: consent.as_deref() };
        // The case's own procedure limits it, and `[postponement] max_weeks` as configured now.
        let max_weeks = case.procedure.postponement_weeks(&settings.calendar, previous).min(settings.postpone_max_weeks);
        let new_date = awb::postpone(&case.reference, &settings.calendar, previous, case.postponements, max_weeks, &asked)
            .map_err(|refused| ActionError::refused(refused.to_string()))?;
        let language = self.language(case).await?;
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
    pub(super) async fn not_handled_from(
        &self,
        case: &LetterCase,
        ground: NotHandledGround,
        explanation: String,
        actor: &str,
        origin: Option<&MailOrigin>,
    ) -> Result<Option<Delivery>, ActionError> {
        let external_term_ends = self.external_term_ends(case).await?;
        let explanation = explanation.trim().to_string();
        let content = LetterContent::NotHandled {
            ground: ground.as_str(),
            explanation: explanation.clone(),
            external_by: long_date(external_term_ends, &self.language(case).await?),
        };
        let to = case.complainant_email.clone();
        let effect = LetterEffect::NotHandled { ground, explanation, external_term_ends };
        self.send(case, Step::NotHandle, "not-handled", content, to, effect, actor, origin).await
    }

    /// Closes the case as settled to the complainant's satisfaction (Awb 9:5), confirming it
    /// to them in writing.
    pub(super) async fn settle_from(
        &self,
        case: &LetterCase,
        settlement: String,
        actor: &str,
        origin: Option<&MailOrigin>,
    ) -> Result<Option<Delivery>, ActionError> {
        if settlement.trim().is_empty() {
            return Err(ActionError::refused("write how the complaint was settled; the letter confirms it (Awb 9:5)"));
        }
        let content = LetterContent::Settled { settlement: settlement.trim().to_string() };
        let to = case.complainant_email.clone();
        self.send(case, Step::Settle, "settled", content, to, LetterEffect::Settled { settlement: settlement.trim().to_string() }, actor, origin).await
    }

    /// The letter `letter` as a copy to each person the complaint is about who is staff with
    /// an address (`cases subject`). Never threaded to the complainant's mail.
    async fn copies_to_subjects(&self, case: &LetterCase, letter: &str, content: &LetterContent) -> Result<Vec<OutgoingMail>, ActionError> {
        let subjects = self.store.subject_addresses(case.id).await?;
        if subjects.is_empty() {
            return Ok(Vec::new());
        }
        let own = self.own(case.id).await?;
        let deadlines = case.deadlines();
        let context = LetterContext {
            organisation: &own.context,
            case: CaseContext::new(&case.reference, case.complainant_name.as_deref(), &deadlines, &case.procedure, &[], own.letters.language()),
            content: content.clone(),
        };
        let rendered = own.letters.render(letter, &context)?;
        let copy = if own.letters.language() == "en" { "Copy" } else { "Kopie" };
        let kind = MailKind::Postponement;
        Ok(subjects
            .into_iter()
            .map(|(name, email)| OutgoingMail {
                kind,
                recipient: email,
                recipient_name: Some(name),
                subject: format!("{copy}: {}", rendered.subject),
                body: rendered.body.clone(),
                message_id: new_message_id(&format!("{}.{kind}", case.reference), own.message_id_domain()),
                in_reply_to: None,
                references: Vec::new(),
                status: OutboxStatus::Pending,
            })
            .collect())
    }

    /// Sends the person the complaint is about a copy of it with its documents (Awb 9:9),
    /// recorded in the history as a disclosure. `name` must be recorded as the complaint's
    /// subject (`cases subject`); the address is `email`, or else that of the handler of that
    /// name. Returns the address it was queued for.
    /// The copy, asked for by `origin` (an action by mail) or not; `None`: that mail was
    /// recorded before, and nothing was done.
    pub(super) async fn disclose_from(
        &self,
        case: &LetterCase,
        name: &str,
        email: Option<String>,
        actor: &str,
        origin: Option<&MailOrigin>,
    ) -> Result<Option<String>, ActionError> {
        let name = name.trim();
        let reference = &case.reference;
        if !self.store.is_subject(case.id, name).await? {
            return Err(ActionError::refused(format!(
                "{name:?} is not recorded as the person the complaint is about; record them first (klachtd cases subject {reference} \"{name}\")"
            )));
        }
        let address = match email.map(|e| e.trim().to_string()).filter(|e| !e.is_empty()) {
            Some(address) => address,
            None => self
                .store
                .subject_addresses(case.id)
                .await?
                .into_iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, e)| e)
                .ok_or_else(|| ActionError::refused(format!("{name} is no handler with an address; give their e-mail address")))?,
        };
        crate::domain::vocabulary::EmailAddress::parse(&address).map_err(|e: String| ActionError::refused(e))?;
        let detail = self.store.case_detail(reference).await?;
        let documents = self.store.case_documents(case.id).await?;
        let own = self.own(case.id).await?;
        let deadlines = case.deadlines();
        let context = DisclosureContext {
            organisation: &own.context,
            case: CaseContext::new(&case.reference, case.complainant_name.as_deref(), &deadlines, &case.procedure, &[], own.letters.language()),
            recipient: RecipientContext { name: name.to_string() },
            description: detail.description.trim().to_string(),
            documents: documents.iter().map(|d| d.filename.clone()).collect(),
        };
        let letter = own.letters.render("disclosure", &context)?;
        let kind = MailKind::Disclosure;
        // Threaded only to earlier letters to this address, never to the complainant's mail.
        let (in_reply_to, references) = self.store.thread_with(case.id, &address, false).await?;
        let mail = OutgoingMail {
            kind,
            recipient: address.clone(),
            recipient_name: Some(name.to_string()),
            subject: letter.subject,
            body: letter.body,
            message_id: new_message_id(&format!("{}.{kind}", case.reference), own.message_id_domain()),
            in_reply_to,
            references,
            status: OutboxStatus::Pending,
        };
        let parts: Vec<MailPart> = documents
            .iter()
            .map(|d| MailPart::Attachment { sha256: d.sha256.clone(), filename: d.filename.clone(), content_type: d.content_type.clone() })
            .collect();
        let what = format!("copy of the complaint and {} document(s) to {name} <{address}> (Awb 9:9)", parts.len());
        let done = self.store.queue_with_parts(case.id, &mail, &parts, HistoryKind::Disclosed, actor, &what, origin).await?;
        Ok(done.then_some(address))
    }
}
