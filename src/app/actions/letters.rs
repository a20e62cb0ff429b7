//! A handler's letters to the complainant (or, for a request for information, to another
//! party): a progress notice (R6), a request for information, the final response (R7, R8), and
//! an acknowledgement that did not go out when the case was registered. Each is written from
//! its template, threaded to the case, recorded in the history with its effect on the case and,
//! through the outbox, meets the matching deadline; without an e-mail address it is written to
//! a file to print.

use chrono::NaiveDate;

use super::{ActionError, Actions, Delivery};
use crate::app::new_message_id;
use crate::app::retention::write_letter;
use crate::app::templates::{long_date, AcknowledgementContext, CaseContext, LetterContent, LetterContext};
use crate::domain::mail_actions;
use crate::domain::procedure::{Outcome, Step};
use crate::domain::reference::CaseRef;
use crate::domain::vocabulary::{MailKind, OutboxStatus};
use crate::store::{LetterCase, LetterEffect, MailOrigin, OutgoingMail};

impl Actions {
    /// The progress notice, asked for by `origin` (an action by mail) or not. `None`: that mail
    /// was recorded before, and nothing was done.
    pub(super) async fn progress_from(
        &self,
        case: &LetterCase,
        expected_by: NaiveDate,
        message: Option<String>,
        actor: &str,
        origin: Option<&MailOrigin>,
    ) -> Result<Option<Delivery>, ActionError> {
        let content = LetterContent::Progress { message, expected_by: long_date(expected_by, &self.language(case).await?) };
        let to = case.complainant_email.clone();
        self.send(case, Step::ProgressNotice, "progress", content, to, LetterEffect::Progress { expected_by }, actor, origin).await
    }

    /// The request for information, to `to` or else the complainant; see `progress_from`.
    pub(super) async fn request_information_from(
        &self,
        case: &LetterCase,
        message: String,
        to: Option<String>,
        actor: &str,
        origin: Option<&MailOrigin>,
    ) -> Result<Option<Delivery>, ActionError> {
        if message.trim().is_empty() {
            return Err(ActionError::refused("the request is empty; write what you need to know"));
        }
        let to = to.map(|a| a.trim().to_string());
        if let Some(address) = &to {
            if let Err(e) = address.parse::<lettre::Address>() {
                return Err(ActionError::refused(format!("{address:?} is not a valid e-mail address ({e}); nothing was sent")));
            }
        }
        let to = to.or_else(|| case.complainant_email.clone());
        let effect = LetterEffect::RequestInformation { to: to.clone().unwrap_or_else(|| "by post".into()) };
        self.send(case, Step::RequestInformation, "request-info", LetterContent::RequestInformation { message }, to, effect, actor, origin).await
    }

    /// The final response, which closes the case; see `progress_from`.
    pub(super) async fn respond_from(
        &self,
        case: &LetterCase,
        outcome: Outcome,
        findings: String,
        measures: String,
        actor: &str,
        origin: Option<&MailOrigin>,
    ) -> Result<Option<Delivery>, ActionError> {
        if findings.trim().is_empty() {
            return Err(ActionError::refused("the findings are empty; the response must state them (R8)"));
        }
        let external_term_ends = self.external_term_ends(case).await?;
        let content = LetterContent::Response {
            outcome: outcome.as_str(),
            findings: findings.clone(),
            measures: measures.clone(),
            external_by: long_date(external_term_ends, &self.language(case).await?),
        };
        let to = case.complainant_email.clone();
        let effect = LetterEffect::Response { outcome, findings, measures, external_term_ends };
        self.send(case, Step::FinalResponse, "response", content, to, effect, actor, origin).await
    }

    /// The last day to turn to the case's organisation's external body after a final letter
    /// sent today (Awb 9:24).
    pub(super) async fn external_term_ends(&self, case: &LetterCase) -> Result<NaiveDate, ActionError> {
        let (settings, own) = (self.settings.get(), self.own(case.id).await?);
        let today = crate::domain::calendar::amsterdam_date(chrono::Utc::now());
        Ok(crate::domain::awb::external_term_end(&settings.calendar, today, own.context.external_body.term_months))
    }

    /// The language of the case's organisation's letters.
    pub(super) async fn language(&self, case: &LetterCase) -> Result<String, ActionError> {
        Ok(self.own(case.id).await?.letters.language().to_string())
    }

    #[allow(clippy::too_many_arguments)]
    /// Writes, threads and queues a letter (or writes it to print) and records its effect.
    /// `None`: `origin`, the mail that asked for it, was recorded before, so nothing was done.
    pub(super) async fn send(
        &self,
        case: &LetterCase,
        step: Step,
        letter: &str,
        content: LetterContent,
        to: Option<String>,
        effect: LetterEffect,
        actor: &str,
        origin: Option<&MailOrigin>,
    ) -> Result<Option<Delivery>, ActionError> {
        let own = self.own(case.id).await?;
        let language = own.letters.language();
        let deadlines = case.deadlines();
        let context = LetterContext {
            organisation: &own.context,
            case: CaseContext::new(&case.reference, case.complainant_name.as_deref(), &deadlines, &case.procedure, &[], language),
            content,
        };
        let rendered = own.letters.render(letter, &context)?;
        // Whatever the way in (a message file, a reply by mail, a template), an action token
        // never goes out in a letter: it lets its holder act on the case.
        if mail_actions::carries_token(&format!("{}\n{}", rendered.subject, rendered.body), "") {
            return Err(ActionError::refused("the letter contains an action token ({actie:...}); nothing was sent. Remove it from the text"));
        }
        let kind = match step {
            Step::ProgressNotice => MailKind::Progress,
            Step::RequestInformation => MailKind::RequestInfo,
            Step::FinalResponse => MailKind::Response,
            Step::Postpone => MailKind::Postponement,
            Step::NotHandle => MailKind::NotHandled,
            Step::Settle => MailKind::Settled,
            Step::Reopen => unreachable!("reopening writes no letter"),
        };
        let (mail, delivery) = match to {
            Some(address) => {
                // Threaded to the complainant's own mails and our letters to them; a letter to
                // someone else only to our earlier letters to that address.
                let to_complainant = [&case.complainant_email].into_iter().flatten().any(|c| c.eq_ignore_ascii_case(address.trim()));
                let (in_reply_to, references) =
                    if to_complainant { (case.last_inbound.clone(), case.thread.clone()) } else { self.store.thread_with(case.id, &address, false).await? };
                let mail = OutgoingMail {
                    kind,
                    recipient: address.clone(),
                    recipient_name: case.complainant_name.clone().filter(|_| Some(&address) == case.complainant_email.as_ref()),
                    subject: rendered.subject,
                    body: rendered.body,
                    message_id: new_message_id(&format!("{}.{kind}", case.reference), own.message_id_domain()),
                    in_reply_to,
                    references,
                    status: OutboxStatus::Pending,
                };
                (Some(mail), Delivery::Mail(address))
            }
            None => {
                // The letter is on disk before the action is committed, so a failed write
                // changes nothing and can be retried; if the commit fails or is refused, the
                // file goes again. A later letter of the same kind gets its own file.
                let text = format!("{}\n\n{}", rendered.subject, rendered.body);
                let path = write_letter(&self.letters_dir, &format!("{}-{kind}", case.reference), &text).map_err(ActionError::disk)?;
                (None, Delivery::Print(path))
            }
        };
        let queued = self.store.queue_letter(case, step, &effect, mail.as_ref(), actor, origin).await;
        if !matches!(queued, Ok(true)) {
            if let Delivery::Print(path) = &delivery {
                let _ = std::fs::remove_file(path);
            }
        }
        Ok(queued?.then_some(delivery))
    }

    /// Sends the acknowledgement of a case that did not go out: one that was held or
    /// suppressed is released; where none was ever written (the template failed, say) but the
    /// case has an e-mail address, one is written and queued now. `actor` goes into the
    /// history. Refused, changing nothing, once an acknowledgement was sent or recorded, while
    /// one is queued, or when there is no address (then: post it and use `cases acknowledged`).
    pub(super) async fn release_acknowledgement(&self, reference: &CaseRef, actor: &str) -> Result<String, ActionError> {
        let released = self.store.release_held(reference, actor).await?;
        if released > 0 {
            return Ok(format!("{released} acknowledgement(s) released"));
        }
        let case = self.store.case_detail(reference).await?.summary;
        if let Some(at) = case.acknowledged_at {
            let day =
                chrono::DateTime::from_timestamp(at, 0).map(crate::domain::calendar::amsterdam_date).map_or("date unknown".to_string(), |d| d.to_string());
            return Err(ActionError::refused(format!("{reference} already has its acknowledgement ({day}); nothing to release")));
        }
        match case.acknowledgement {
            None => {}
            Some(OutboxStatus::Pending) => {
                return Err(ActionError::refused(format!("{reference}: its acknowledgement is queued already and goes out with the next delivery")))
            }
            Some(other) => return Err(ActionError::refused(format!("{reference}: its acknowledgement is {other}; nothing to release"))),
        }
        let Some(address) = case.complainant_email.clone() else {
            return Err(ActionError::refused(format!(
                "{reference} has no e-mail address to acknowledge to; send the acknowledgement by post and record it with `klachtd cases acknowledged {reference} --date DATE`"
            )));
        };
        let thread = self.store.letter_case(reference).await?;
        let deadlines = thread.deadlines();
        let own = self.own(thread.id).await?;
        let incomplete: Vec<&str> = case.incomplete.iter().map(String::as_str).collect();
        let context = AcknowledgementContext {
            organisation: &own.context,
            case: CaseContext::new(reference, case.complainant_name.as_deref(), &deadlines, &thread.procedure, &incomplete, own.letters.language()),
        };
        let letter = own.letters.render("acknowledgement", &context)?;
        let mail = OutgoingMail {
            kind: MailKind::Acknowledgement,
            recipient: address.clone(),
            recipient_name: case.complainant_name.clone(),
            subject: letter.subject,
            body: letter.body,
            message_id: new_message_id(&format!("{reference}.ack"), own.message_id_domain()),
            in_reply_to: thread.last_inbound,
            references: thread.thread,
            status: OutboxStatus::Pending,
        };
        self.store.queue_acknowledgement(reference, &mail, actor).await?;
        Ok(format!("acknowledgement written and queued for {address}"))
    }
}
