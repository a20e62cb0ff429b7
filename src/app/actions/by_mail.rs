//! A handler's action by mail: a reply to a case notification whose subject carries the action
//! token. The reply is authenticated (token, sender, who handles the case now), carried out as
//! its first line says, and confirmed to the handler by mail, done or refused with the reason.

use super::{one_line, ActionError, Actions, Transient};
use crate::app::settings::OrganisationSettings;
use crate::app::templates::{CaseReference, ConfirmationContext, RecipientContext};
use crate::domain::case_action::CaseAction;
use crate::domain::mail_actions;
use crate::domain::reference::{CaseId, CaseRef};
use crate::domain::vocabulary::MailKind;
use crate::store::{MailOrigin, MessageRecord, OutgoingMail};

/// What became of an action by mail that was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyDone {
    /// Carried out, or refused with the reason; either way confirmed to the handler.
    Recorded,
    /// This mail was recorded before (an earlier attempt committed): nothing was done now.
    AlreadyRecorded,
}

impl Actions {
    /// Whether a reply with this subject may be an action by mail (they are on, and the subject
    /// carries a token); [`authenticate_reply`](Self::authenticate_reply) decides.
    pub fn may_be_action(&self, subject: &str) -> bool {
        self.mail_secret.is_some() && mail_actions::token_in(subject).is_some()
    }

    /// The handler who sent a reply to a notification about `reference`, if the reply is
    /// authentic: the sender is an active handler and the subject carries the token for this
    /// case and this sender. A forged From alone never passes.
    pub async fn authenticate_reply(&self, reference: &CaseRef, from: &str, subject: &str) -> crate::store::Result<Option<String>> {
        let (Some(secret), Some(token)) = (&self.mail_secret, mail_actions::token_in(subject)) else {
            return Ok(None);
        };
        let Some(name) = self.store.handler_by_email(from).await? else {
            return Ok(None);
        };
        if !mail_actions::verify(secret, reference, from, token) {
            tracing::warn!(%reference, "a reply carried an action token that does not verify; treated as ordinary mail");
            return Ok(None);
        }
        // A token stays valid for its case and handler; acting also needs the sender to handle
        // the case now (or to be a supervisor), so a reassignment takes the right away.
        if !self.store.may_act_on(reference, from).await? {
            tracing::warn!(%reference, "a reply carried the token of a handler who no longer handles the case; treated as ordinary mail");
            return Ok(None);
        }
        Ok(Some(name))
    }

    /// Carries out an authenticated handler's reply and confirms it to them by mail, done or
    /// refused (with the reason). `message` is the reply as it is to be recorded on the case,
    /// `token` the token its subject carried.
    ///
    /// The record of the mail, the action (its letter, its effect on the case, its history) and
    /// the confirmation are one transaction. So either all of it is committed, and a second
    /// attempt with the same mail finds it recorded and does nothing (`AlreadyRecorded`: no
    /// second letter), or none of it is, and a database or disk error comes back as
    /// [`Transient`] for the caller to try the mail again. A refusal (a bad first line, the
    /// procedure says no, the text carries a token) or any other failure of the action is
    /// recorded and confirmed the same way, with its reason.
    #[allow(clippy::too_many_arguments)]
    #[tracing::instrument(name = "action", skip_all, fields(reference = %reference))]
    pub async fn carry_out_reply(
        &self,
        case_id: CaseId,
        reference: &CaseRef,
        name: &str,
        from: &str,
        token: &str,
        message: MessageRecord,
        body: &str,
    ) -> Result<ReplyDone, Transient> {
        let actor = format!("{name} (e-mail)");
        // The confirmation is in the words and language of the case's organisation (issue 25).
        let organisation = self.store.case_organisation(case_id).await.map_err(Transient::Store)?;
        let own = self.settings.get().of(&organisation).clone();
        let command = mail_actions::parse(body).and_then(|command| match command.letter_text() {
            // The last guard: whatever slipped past the quote detection, the token that lets
            // its holder act on the case never goes out in a letter.
            Some(text) if mail_actions::carries_token(&text, token) => Err(
                "the letter text contains the action token from the subject (probably quoted text of the assignment notice); nothing was sent. Put your text above the quoted mail, or remove the quote, and reply again"
                    .into(),
            ),
            _ => Ok(command),
        });
        let label = command.as_ref().map_or("actie", |action| label(action));
        // The confirmation repeats the text that went out, so the handler sees where their reply
        // was cut.
        let letter = command.as_ref().ok().and_then(CaseAction::letter_text);
        let origin = |ok: bool, reason: Option<String>| MailOrigin {
            message: message.clone(),
            confirmation: self.confirmation(&own, reference, name, from, label, ok, reason, letter.as_deref().filter(|_| ok)),
        };
        let result = match command {
            Err(reason) => Err(reason.into()),
            Ok(action) => self.perform_from(reference, action, &actor, Some(&origin(true, None))).await,
        };
        let reason = match result {
            Ok(Some(_)) => {
                tracing::info!(%reference, done = true, "handler action by mail");
                return Ok(ReplyDone::Recorded);
            }
            Ok(None) => return Ok(ReplyDone::AlreadyRecorded),
            // Passing: nothing was recorded, the mail is tried again and the handler told nothing.
            Err(ActionError::Transient(transient)) => return Err(transient),
            Err(ActionError::Refused(reason)) => reason.in_language(own.letters.messages(), own.letters.language()),
            // Not asked by mail: the reply was authenticated for its case and its handler.
            Err(e @ (ActionError::Unknown | ActionError::NotAllowed(_))) => e.to_string(),
            // A statement the database refused is no answer to give the handler: the intake
            // tries the mail again and, if it keeps failing, holds it for a person.
            Err(ActionError::Failed(e)) => match e.downcast::<crate::store::StoreError>() {
                Ok(store) => return Err(Transient::Store(store)),
                Err(e) => one_line(&e),
            },
        };
        tracing::info!(%reference, done = false, "handler action by mail refused");
        match self.store.record_action_mail(case_id, &origin(false, Some(reason))).await? {
            true => Ok(ReplyDone::Recorded),
            false => Ok(ReplyDone::AlreadyRecorded),
        }
    }

    /// The confirmation of an action by mail, done or refused; `None` (logged) if the template
    /// cannot be rendered, which must not stop the action itself.
    #[allow(clippy::too_many_arguments)]
    fn confirmation(
        &self,
        own: &OrganisationSettings,
        reference: &CaseRef,
        name: &str,
        from: &str,
        label: &str,
        ok: bool,
        reason: Option<String>,
        letter: Option<&str>,
    ) -> Option<OutgoingMail> {
        let context = ConfirmationContext {
            organisation: &own.context,
            recipient: RecipientContext { name: name.to_string() },
            case: CaseReference { reference: reference.to_string() },
            ok,
            action: label,
            reason,
            letter,
        };
        match own.letters.render("action-confirmation", &context) {
            Ok(letter) => Some(self.notice(own, reference, MailKind::Confirmation, name, from, letter)),
            Err(e) => {
                tracing::error!(%reference, error = %e, "the confirmation of an action by mail cannot be rendered");
                None
            }
        }
    }
}

/// The action's name in the confirmation (the handlers' Dutch words of the first line).
fn label(action: &CaseAction) -> &'static str {
    match action {
        CaseAction::Progress { .. } => "voortgangsbericht",
        CaseAction::RequestInformation { .. } => "verzoek om informatie",
        CaseAction::Respond { .. } => "eindreactie",
        CaseAction::Note { .. } => "notitie",
        CaseAction::Postpone { .. } => "uitstel",
        CaseAction::NotHandled { .. } => "niet behandelen",
        CaseAction::Settle { .. } => "opgelost",
        CaseAction::Disclose { .. } => "afschrift",
        CaseAction::HearingInvite(_) => "uitnodiging hoorzitting",
        CaseAction::HearingReport { .. } => "verslag hoorzitting",
        CaseAction::NoHearing { .. } => "geen hoorzitting",
        // Not one of the first lines `mail_actions::parse` reads.
        _ => "actie",
    }
}
