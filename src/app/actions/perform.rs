//! The one way to act on a case: [`Actions::perform`] carries out a [`CaseAction`], whichever
//! front end built it (the command line, a web form, the first line of a reply by mail), so a
//! refusal reads the same everywhere. The per-action functions are its helpers.

use chrono::NaiveDate;

use super::{ActionError, Actions, Delivery};
use crate::domain::awb::{NoHearingGround, NotHandledGround};
use crate::domain::case_action::CaseAction;
use crate::domain::procedure::Category;
use crate::domain::reference::CaseRef;
use crate::domain::vocabulary::EmailAddress;
use crate::store::corrections::{Corrected, Correction};
use crate::store::{LetterCase, MailOrigin};

/// What an action did, for the front end to say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Done {
    /// Assigned to this handler, who was told by mail.
    Assigned {
        handler: String,
    },
    /// `name` recorded as a subject; `reassigned_to` when the case had to change hands (the new
    /// handler was told by mail).
    Subject {
        name: String,
        reassigned_to: Option<String>,
    },
    Checked,
    Completed(Corrected),
    /// A letter of the procedure: progress, request for information, final response, the
    /// report of the hearing.
    Letter(Delivery),
    Category(Category),
    Noted,
    Escalated {
        to: String,
        on: NaiveDate,
    },
    Reopened,
    Acknowledged {
        on: NaiveDate,
    },
    /// What releasing the acknowledgement did, in words.
    Released(String),
    Postponed {
        delivery: Delivery,
        respond_by: NaiveDate,
    },
    NotHandled {
        delivery: Delivery,
        ground: NotHandledGround,
    },
    Settled(Delivery),
    /// A copy of the complaint queued for this address.
    Disclosed {
        to: String,
    },
    Invited {
        addresses: Vec<String>,
        answer_by: NaiveDate,
    },
    NoHearing(NoHearingGround),
}

impl Actions {
    /// Carries out `action` on the case `reference` for `actor` (a name with the way in, as the
    /// history shows it). Nothing is recorded unless it succeeds.
    #[tracing::instrument(name = "action", skip_all, fields(reference = %reference, action = action.name()))]
    pub async fn perform(&self, reference: &CaseRef, action: CaseAction, actor: &str) -> Result<Done, ActionError> {
        match self.perform_from(reference, action, actor, None).await? {
            Some(done) => Ok(done),
            // Only an action asked for by a mail can have been recorded before.
            None => Err(ActionError::refused("this was recorded before")),
        }
    }

    /// The action, asked for by `origin` (a reply by mail, recorded in the same transaction)
    /// or not. `None`: that mail was recorded before, and nothing was done now.
    pub(super) async fn perform_from(
        &self,
        reference: &CaseRef,
        action: CaseAction,
        actor: &str,
        origin: Option<&MailOrigin>,
    ) -> Result<Option<Done>, ActionError> {
        self.perform_on(reference, None, action, actor, origin).await
    }

    /// [`perform_from`](Self::perform_from) on the case `known` when the caller looked it up
    /// already (to check who may act), so that it is looked up once.
    pub(super) async fn perform_on(
        &self,
        reference: &CaseRef,
        known: Option<&LetterCase>,
        action: CaseAction,
        actor: &str,
        origin: Option<&MailOrigin>,
    ) -> Result<Option<Done>, ActionError> {
        if origin.is_some() && !by_mail(&action) {
            return Err(ActionError::refused(format!("{} cannot be done by mail", action.name())));
        }
        if !writes_letter(&action) {
            return match action {
                CaseAction::Note { text } => self.note(reference, text, actor, origin).await,
                other => Ok(Some(self.record(reference, other, actor).await?)),
            };
        }
        // The case as its letters need it, read once for the action and its letter.
        let looked_up;
        let case = match known {
            Some(case) => case,
            None => {
                looked_up = self.store.letter_case(reference).await?;
                &looked_up
            }
        };
        let letter = |d: Option<Delivery>| d.map(Done::Letter);
        Ok(match action {
            CaseAction::Progress { expected_by, message } => letter(self.progress_from(case, expected_by, message, actor, origin).await?),
            CaseAction::RequestInformation { message, to } => {
                letter(self.request_information_from(case, message, to.map(EmailAddress::into_string), actor, origin).await?)
            }
            CaseAction::Respond { outcome, findings, measures } => letter(self.respond_from(case, outcome, findings, measures, actor, origin).await?),
            CaseAction::HearingReport { report } => letter(self.hearing_report_from(case, report, actor, origin).await?),
            CaseAction::Postpone { weeks, reason, consent } => {
                let (delivery, respond_by) = self.postpone_from(case, weeks, reason, consent, actor, origin).await?;
                delivery.map(|delivery| Done::Postponed { delivery, respond_by })
            }
            CaseAction::NotHandled { ground, explanation } => {
                self.not_handled_from(case, ground, explanation, actor, origin).await?.map(|delivery| Done::NotHandled { delivery, ground })
            }
            CaseAction::Settle { settlement } => self.settle_from(case, settlement, actor, origin).await?.map(Done::Settled),
            CaseAction::Disclose { name, email } => {
                if name.trim().is_empty() {
                    return Err(ActionError::refused("name the person the complaint is about"));
                }
                self.disclose_from(case, name.trim(), email.map(EmailAddress::into_string), actor, origin).await?.map(|to| Done::Disclosed { to })
            }
            CaseAction::HearingInvite(hearing) => {
                self.invite_to_hearing_from(case, hearing, actor, origin).await?.map(|(addresses, answer_by)| Done::Invited { addresses, answer_by })
            }
            CaseAction::NoHearing { ground } => self.no_hearing_from(case, ground, actor, origin).await?.map(|()| Done::NoHearing(ground)),
            other => return Err(ActionError::failed(anyhow::anyhow!("{} writes no letter", other.name()))),
        })
    }

    /// A note on the case: never sent to anyone.
    async fn note(&self, reference: &CaseRef, text: String, actor: &str, origin: Option<&MailOrigin>) -> Result<Option<Done>, ActionError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(ActionError::refused("the note is empty"));
        }
        match origin {
            Some(origin) => Ok(self.store.add_note_by_mail(reference, text, actor, origin).await?.then_some(Done::Noted)),
            None => {
                self.store.add_note(reference, text, actor).await?;
                Ok(Some(Done::Noted))
            }
        }
    }

    /// The actions that write no letter to the complainant (only from the command line and
    /// the web).
    async fn record(&self, reference: &CaseRef, action: CaseAction, actor: &str) -> Result<Done, ActionError> {
        let store = &self.store;
        Ok(match action {
            CaseAction::Assign { handler } => {
                let handler = handler.trim().to_string();
                if handler.is_empty() {
                    return Err(ActionError::refused("choose a handler"));
                }
                store.assign(reference, &handler, actor).await?;
                self.notify_assignment(reference).await?;
                Done::Assigned { handler }
            }
            CaseAction::Subject { name } => {
                let name = name.trim().to_string();
                if name.is_empty() {
                    return Err(ActionError::refused("write the name of the staff member the complaint is about"));
                }
                let reassigned_to = store.add_subject(reference, &name, actor).await?;
                if reassigned_to.is_some() {
                    // The new handler hears of it as after an assignment.
                    self.notify_assignment(reference).await?;
                }
                Done::Subject { name, reassigned_to }
            }
            CaseAction::Checked => {
                store.supervisor_checked(reference, actor).await?;
                Done::Checked
            }
            CaseAction::Complete { name, email, description } => {
                Done::Completed(store.correct_case(reference, &Correction { name, email: email.map(EmailAddress::into_string), description }, actor).await?)
            }
            CaseAction::Category(category) => {
                store.set_category(reference, category, actor).await?;
                Done::Category(category)
            }
            CaseAction::Escalate { to, on } => {
                let to = to.trim().to_string();
                if to.is_empty() {
                    return Err(ActionError::refused("name the external body"));
                }
                store.record_external(reference, &to, on, actor).await?;
                Done::Escalated { to, on }
            }
            CaseAction::Reopen => {
                store.reopen(reference, actor).await?;
                Done::Reopened
            }
            CaseAction::Acknowledged { on } => {
                store.acknowledged_by_post(reference, on, actor).await?;
                Done::Acknowledged { on }
            }
            CaseAction::ReleaseAcknowledgement => Done::Released(self.release_acknowledgement(reference, actor).await?),
            other => return Err(ActionError::failed(anyhow::anyhow!("{} is carried out with its letter", other.name()))),
        })
    }
}

/// What an action not asked for by mail did: only an action asked for by a mail can have been
/// recorded before.
pub(super) fn done_now(done: Option<Done>) -> Result<Done, ActionError> {
    done.ok_or_else(|| ActionError::refused("this was recorded before"))
}

/// The actions that write to the complainant (or another party) or record a step of Awb
/// chapter 9 on the case as its letters see it.
fn writes_letter(action: &CaseAction) -> bool {
    matches!(
        action,
        CaseAction::Progress { .. }
            | CaseAction::RequestInformation { .. }
            | CaseAction::Respond { .. }
            | CaseAction::HearingReport { .. }
            | CaseAction::Postpone { .. }
            | CaseAction::NotHandled { .. }
            | CaseAction::Settle { .. }
            | CaseAction::Disclose { .. }
            | CaseAction::HearingInvite(_)
            | CaseAction::NoHearing { .. }
    )
}

/// The actions a handler can ask for in a reply by mail (see [`crate::domain::mail_actions`]).
fn by_mail(action: &CaseAction) -> bool {
    !matches!(
        action,
        CaseAction::Assign { .. }
            | CaseAction::Subject { .. }
            | CaseAction::Checked
            | CaseAction::Complete { .. }
            | CaseAction::Category(_)
            | CaseAction::Escalate { .. }
            | CaseAction::Reopen
            | CaseAction::Acknowledged { .. }
            | CaseAction::ReleaseAcknowledgement
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_mail_only_what_the_first_line_can_ask_for_and_letters_read_the_case_once() {
        let note = CaseAction::Note { text: "belde".into() };
        let settle = CaseAction::Settle { settlement: "afspraak".into() };
        assert!(by_mail(&note) && by_mail(&settle));
        assert!(!by_mail(&CaseAction::Reopen) && !by_mail(&CaseAction::Assign { handler: "Ann".into() }));
        // Every action the mail parser builds is one by_mail allows.
        for line in ["NOTITIE\nx", "OPGELOST\nx", "GEEN-HOORZITTING not-wished", "VOORTGANG 2026-12-15", "INFO\nx", "AFSCHRIFT Bob"] {
            assert!(by_mail(&crate::domain::mail_actions::parse(line).unwrap()), "{line}");
        }
        assert!(writes_letter(&settle) && !writes_letter(&note) && !writes_letter(&CaseAction::Checked));
    }
}
