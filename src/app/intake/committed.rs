//! What is done once a mail's transaction has committed (see [`Later`]): the handlers of new
//! cases told, together for a batch; a case the complaint names noted; the outbox woken. Never
//! before the commit, so nothing is told about a case that might yet be rolled back.

use super::{Done, Intake, Later, Mention, Outcome};
use crate::domain::history::HistoryEvent;
use crate::domain::reference::CaseRef;
use crate::domain::vocabulary::OutboxStatus;

impl Intake {
    /// Does what waited for a mail's transaction to commit, and says what became of the mail.
    pub async fn committed(&self, done: Done) -> Outcome {
        self.committed_all(vec![done]).await.pop().expect("one mail, one outcome")
    }

    /// [`committed`](Self::committed) for the mails of a transaction, in their order: the
    /// handlers of the new cases are told together (see [`Actions::notify_assignments`]).
    pub async fn committed_all(&self, dones: Vec<Done>) -> Vec<Outcome> {
        let assigned: Vec<CaseRef> = dones
            .iter()
            .filter_map(|done| match &done.later {
                Some(Later::Registered { reference, assigned: true, .. }) => Some(reference.clone()),
                _ => None,
            })
            .collect();
        if !assigned.is_empty() {
            match self.actions.notify_assignments(&assigned).await {
                Ok(()) => self.outbox_wake.notify_one(),
                Err(e) => tracing::error!(cases = assigned.len(), "cannot notify the handlers of new cases: {e:#}"),
            }
        }
        let mut outcomes = Vec::with_capacity(dones.len());
        for done in dones {
            self.after_commit(done.later).await;
            outcomes.push(done.outcome);
        }
        outcomes
    }

    /// What one mail left to do once committed, but telling a handler of a new case.
    async fn after_commit(&self, later: Option<Later>) {
        match later {
            None => {}
            Some(Later::Registered { reference, acknowledgement, incomplete, attachments, mentions, .. }) => {
                if let Some(mention) = mentions {
                    let note = match mention {
                        Mention::SenderUnknown(other) => format!("the text names {other}; the sender is not known on that case"),
                        Mention::OtherOrganisation(other) => format!("the mail refers to {other}, which is no case of this organisation; it was not threaded"),
                    };
                    if let Err(e) = self.store.add_case_event(&reference, "klachtd", HistoryEvent::MentionsCase, &note).await {
                        tracing::warn!(reference = %reference, "cannot note the case the complaint names: {e}");
                    }
                }
                tracing::info!(reference = %reference, acknowledgement = acknowledgement.map_or("none", OutboxStatus::as_str), incomplete, attachments, "complaint registered");
                if acknowledgement == Some(OutboxStatus::Pending) {
                    self.outbox_wake.notify_one();
                }
            }
            Some(Later::MailOnClosedCase { reference }) => {
                // The case is not reopened; its handler hears of the mail instead.
                if let Err(e) = self.actions.notify_mail_on_closed_case(&reference).await {
                    tracing::error!(reference = %reference, "cannot tell the handler of mail on a closed case: {e:#}");
                }
            }
            Some(Later::LetterReturned { reference }) => {
                if let Err(e) = self.actions.notify_delivery_failure(&reference).await {
                    tracing::error!(reference = %reference, "cannot tell the handler of the undelivered letter: {e:#}");
                }
                self.outbox_wake.notify_one();
            }
        }
    }
}
