//! Handler actions (R2, R6-R8) and the notices that tell handlers of their cases: the
//! [`Actions`] type, how a letter left ([`Delivery`]), the typed failure of an action
//! ([`ActionError`]) and the notices to a case's handler (assigned, mail on a closed case, a
//! letter not delivered). The actions themselves are one concern a file:
//! - [`letters`]: a handler's letters to the complainant (progress, request for information,
//!   final response) and an acknowledgement that did not go out;
//! - [`perform`]: [`Actions::perform`], the one way to carry out a
//!   [`CaseAction`](crate::domain::case_action::CaseAction), whatever the front end;
//! - [`access`]: [`Actions::perform_as`], the same for a handler signed in to the web, who
//!   may act only on the cases that are theirs;
//! - [`by_mail`]: a handler's reply by mail, authenticated, carried out and confirmed;
//! - [`paper`]: a complaint received by post;
//! - [`awb`]: the steps of Awb chapter 9 besides the final response: postponement (9:11), not
//!   handling a complaint (9:8), settling it (9:5), a copy to the person complained about (9:9);
//! - [`hearing`]: the hearing (9:10) with its iCalendar invitation.
//! - [`error`]: why an action was not carried out; a refusal as a key of the message
//!   catalogue with its arguments ([`Refusal`]), said in the handler's language.
//!
//! A complainant without an e-mail address gets a letter as a file to print (see
//! [`crate::app::retention`] for the folder those go to and are removed from).

use std::path::PathBuf;

use crate::app::new_message_id;
use crate::app::settings::{OrganisationSettings, SharedSettings};
use crate::app::templates::{AssignedContext, CaseContext, CaseReference, Letter, NoticeContext, RecipientContext};
use crate::config::Config;
use crate::domain::mail_actions;
use crate::domain::reference::{CaseId, CaseRef};
use crate::domain::vocabulary::{MailKind, OutboxStatus};
use crate::store::attachments::AttachmentStore;
use crate::store::{LetterCase, OutboxItem, OutgoingMail, Store, StoreError};
use crate::telemetry::one_line;

mod access;
mod awb;
mod by_mail;
mod error;
mod hearing;
mod letters;
mod paper;
mod perform;

pub use by_mail::ReplyDone;
pub use error::{ActionError, Refusal, Transient};
pub use paper::PaperComplaint;
pub use perform::Done;

/// How a letter left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Queued for SMTP to this address.
    Mail(String),
    /// Written to this file, to be printed and posted.
    Print(PathBuf),
}

pub struct Actions {
    store: Store,
    settings: SharedSettings,
    attachments: AttachmentStore,
    letters_dir: PathBuf,
    /// The HMAC key for actions by mail; `None` when that is off.
    mail_secret: Option<Vec<u8>>,
}

impl Actions {
    pub fn new(config: &Config, store: Store, settings: SharedSettings) -> anyhow::Result<Self> {
        let mail_secret = match &config.actions_by_mail {
            Some(a) => Some(a.secret().resolve("actions_by_mail")?.into_bytes()),
            None => None,
        };
        Ok(Self {
            store,
            settings,
            attachments: AttachmentStore::new(&config.storage.data_dir),
            letters_dir: crate::app::retention::letters_dir(&config.storage.data_dir),
            mail_secret,
        })
    }

    /// A refusal in the configured language (`templates.language`), as the command line says it.
    pub fn in_language(&self, refusal: &Refusal) -> String {
        let settings = self.settings.get();
        refusal.in_language(settings.letters.messages(), settings.letters.language())
    }

    /// What is the organisation of case `case_id`'s own: its letters, its context.
    pub(super) async fn own(&self, case_id: CaseId) -> Result<std::sync::Arc<OrganisationSettings>, ActionError> {
        let organisation = self.store.case_organisation(case_id).await?;
        Ok(self.settings.get().of(&organisation).clone())
    }

    /// Tells the responsible handler that a case is theirs. With actions by mail on, the
    /// subject carries the token that lets them act by replying.
    pub async fn notify_assignment(&self, reference: &CaseRef) -> Result<(), ActionError> {
        // A notice starts a thread of its own: the case without its thread.
        let case = self.store.notice_cases(std::slice::from_ref(reference)).await?.pop().ok_or_else(|| StoreError::UnknownCase(reference.clone()))?;
        if let Some(notice) = self.assignment_notice(&case)? {
            self.store.queue_notices(&[notice]).await?;
        }
        Ok(())
    }

    /// [`notify_assignment`](Self::notify_assignment) for many new cases at once (the intake's
    /// batch): the cases read beside the writer, the notices queued in one transaction (see
    /// `store::notices`). A notice that cannot be made is logged and the others go.
    pub async fn notify_assignments(&self, references: &[CaseRef]) -> Result<(), ActionError> {
        let mut notices = Vec::with_capacity(references.len());
        for case in self.store.notice_cases(references).await? {
            match self.assignment_notice(&case) {
                Ok(notice) => notices.extend(notice),
                Err(e) => tracing::error!(reference = %case.reference, "cannot notify the handler: {e:#}"),
            }
        }
        self.store.queue_notices(&notices).await?;
        Ok(())
    }

    /// The notice that `case` is its handler's, with what goes into its history (`None`: it has
    /// no handler).
    fn assignment_notice(&self, case: &LetterCase) -> Result<Option<(CaseId, OutgoingMail, String)>, ActionError> {
        let (Some(name), Some(email)) = (case.handler_name.clone(), case.handler_email.clone()) else {
            return Ok(None);
        };
        let settings = self.settings.get();
        let own = settings.of(&case.organisation);
        let reference = &case.reference;
        let deadlines = case.deadlines();
        let marker = self.mail_secret.as_ref().map(|secret| mail_actions::marker(&mail_actions::token(secret, reference, &email)));
        let context = AssignedContext {
            organisation: &own.context,
            recipient: RecipientContext { name: name.clone() },
            case: CaseContext::new(reference, None, &deadlines, &case.procedure, &[], own.letters.language()),
            marker,
            web_url: settings.web_url.as_deref(),
        };
        let letter = own.letters.render("assigned", &context)?;
        let mail = self.notice(own, reference, MailKind::Assigned, &name, &email, letter);
        Ok(Some((case.id, mail, format!("assigned to {name}"))))
    }

    /// Tells the handler of a closed case that mail arrived on it (the case is not reopened).
    pub async fn notify_mail_on_closed_case(&self, reference: &CaseRef) -> Result<(), ActionError> {
        self.notify_handler(reference, "closed-case-mail", "mail on a closed case").await
    }

    /// Tells the case's handler that one of our letters came back undelivered.
    pub async fn notify_delivery_failure(&self, reference: &CaseRef) -> Result<(), ActionError> {
        self.notify_handler(reference, "delivery-failed", "a letter was not delivered").await
    }

    /// Ends the attempts at a mail the SMTP server refused for good. A letter of a case to the
    /// complainant or another party is the handler's concern: they are told, in the same
    /// transaction. A notice to a handler that cannot be delivered starts nothing (no loop).
    pub async fn mail_undeliverable(&self, item: &OutboxItem, error: &str) -> Result<(), ActionError> {
        let notice = match item.case_id {
            Some(case_id) if item.mail.kind.is_letter_to_a_party() => {
                let reference = self.store.case_reference(case_id).await?;
                self.handler_notice(&reference, "delivery-failed", true).await?.map(|(_, mail)| mail)
            }
            _ => None,
        };
        self.store.outbox_undeliverable(item, error, notice.as_ref()).await?;
        Ok(())
    }

    /// Queues the notice `letter` (a template that needs only the case's reference) to the
    /// case's handler; `why` goes into the history.
    async fn notify_handler(&self, reference: &CaseRef, letter: &str, why: &str) -> Result<(), ActionError> {
        if let Some((case_id, mail)) = self.handler_notice(reference, letter, false).await? {
            self.store.queue_notice(case_id, &mail, why).await?;
        }
        Ok(())
    }

    /// The notice `letter` to the case's handler, with the case's row id; `None` (logged) when
    /// it has no handler. `refused`: see [`NoticeContext`].
    async fn handler_notice(&self, reference: &CaseRef, letter: &str, refused: bool) -> Result<Option<(CaseId, OutgoingMail)>, ActionError> {
        let case = self.store.letter_case(reference).await?;
        let (Some(name), Some(email)) = (case.handler_name.clone(), case.handler_email.clone()) else {
            tracing::warn!(%reference, letter, "no handler to tell");
            return Ok(None);
        };
        let settings = self.settings.get();
        let own = self.own(case.id).await?;
        let context = NoticeContext {
            organisation: &own.context,
            case: CaseReference { reference: reference.to_string() },
            web_url: settings.web_url.as_deref(),
            refused,
        };
        let letter = own.letters.render(letter, &context)?;
        Ok(Some((case.id, self.notice(&own, reference, MailKind::Notice, &name, &email, letter))))
    }

    /// A mail to a handler (a notice, a confirmation) about a case of `own`: not threaded,
    /// never held.
    fn notice(&self, own: &OrganisationSettings, reference: &CaseRef, kind: MailKind, name: &str, email: &str, letter: Letter) -> OutgoingMail {
        self.first_mail(own.message_id_domain(), &format!("{reference}.{kind}"), kind, name, email, letter)
    }

    /// A mail that starts a thread of its own, its Message-ID beginning with `tag` (at
    /// `domain`), to be sent now.
    fn first_mail(&self, domain: &str, tag: &str, kind: MailKind, name: &str, email: &str, letter: Letter) -> OutgoingMail {
        OutgoingMail {
            kind,
            recipient: email.to_string(),
            recipient_name: Some(name.to_string()),
            subject: letter.subject,
            body: letter.body,
            message_id: new_message_id(tag, domain),
            in_reply_to: None,
            references: Vec::new(),
            status: OutboxStatus::Pending,
        }
    }
}
