//! Handler actions (R2, R6-R8) and the notices that tell handlers of their cases: the
//! [`Actions`] type, how a letter left ([`Delivery`]), the typed failure of an action
//! ([`ActionError`]) and the notices to a case's handler (assigned, mail on a closed case, a
//! letter not delivered). The actions themselves are one concern a file:
//! - [`letters`]: a handler's letters to the complainant (progress, request for information,
//!   final response) and an acknowledgement that did not go out;
//! - [`perform`]: [`Actions::perform`], the one way to carry out a
//!   [`CaseAction`](crate::domain::case_action::CaseAction), whatever the front end;
//! - [`by_mail`]: a handler's reply by mail, authenticated, carried out and confirmed;
//! - [`paper`]: a complaint received by post;
//! - [`awb`]: the steps of Awb chapter 9 besides the final response: postponement (9:11), not
//!   handling a complaint (9:8), settling it (9:5), a copy to the person complained about (9:9);
//! - [`hearing`]: the hearing (9:10) with its iCalendar invitation.
//!
//! A complainant without an e-mail address gets a letter as a file to print (see
//! [`crate::app::retention`] for the folder those go to and are removed from).

use std::path::PathBuf;

use crate::app::new_message_id;
use crate::app::settings::SharedSettings;
use crate::app::templates::{AssignedContext, CaseContext, CaseReference, Letter, NoticeContext, RecipientContext};
use crate::config::Config;
use crate::domain::calendar::Deadlines;
use crate::domain::mail_actions;
use crate::domain::reference::{CaseId, CaseRef};
use crate::domain::vocabulary::{MailKind, OutboxStatus};
use crate::store::attachments::AttachmentStore;
use crate::store::{OutboxItem, OutgoingMail, RefusableError, Refused, Store, StoreError};
use crate::telemetry::one_line;

mod awb;
mod by_mail;
mod hearing;
mod letters;
mod paper;
mod perform;

pub use by_mail::ReplyDone;
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

/// Why an action was not carried out. Nothing of it was recorded, whichever the variant; the
/// message is one line, each cause once.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// The action cannot be done as asked: the procedure says no, the case or handler is
    /// unknown, the input is empty or malformed. The reason is for the handler, one line.
    #[error("{0}")]
    Refused(String),
    /// The database or the disk is away: the same action may succeed when tried again.
    #[error(transparent)]
    Transient(#[from] Transient),
    /// Anything else (a template that cannot be rendered, stored data that cannot be read):
    /// trying again will not help, and neither will the handler's changing their request.
    #[error("{}", one_line(.0))]
    Failed(anyhow::Error),
}

/// A passing failure: the database or the disk. For an action by mail this means the mail is
/// to be tried again, and the handler is told nothing.
#[derive(Debug, thiserror::Error)]
pub enum Transient {
    #[error(transparent)]
    Store(StoreError),
    /// A file could not be read or written (the letter to print, an attachment).
    #[error("{}", one_line(.0))]
    Disk(anyhow::Error),
}

impl ActionError {
    pub fn refused(reason: impl Into<String>) -> Self {
        Self::Refused(reason.into())
    }

    /// A file that could not be read or written, with what was being done.
    pub(crate) fn disk(e: impl Into<anyhow::Error>) -> Self {
        Self::Transient(Transient::Disk(e.into()))
    }

    pub(crate) fn failed(e: impl Into<anyhow::Error>) -> Self {
        Self::Failed(e.into())
    }
}

/// The store's failures as the use cases see them: the database away is transient; an unknown
/// case or handler, a handler the impartiality rules exclude, or a value the database cannot
/// keep (a NUL character) is a refusal; a statement refused otherwise, or inconsistent stored
/// data, is a failure.
impl From<StoreError> for ActionError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Db(_) if e.is_unavailable() => Self::Transient(Transient::Store(e)),
            StoreError::Db(_) if e.is_unstorable_value() => {
                Self::Refused("a text contains a character that cannot be stored (such as a NUL byte); remove it and try again".into())
            }
            StoreError::Db(_) => Self::Failed(e.into()),
            StoreError::Corrupt(_) => Self::Failed(e.into()),
            StoreError::UnknownCase(_) | StoreError::UnknownHandler(_) | StoreError::NotImpartial { .. } | StoreError::NamedInComplaint { .. } => {
                Self::Refused(e.to_string())
            }
        }
    }
}

impl From<StoreError> for Transient {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

impl From<Refused> for ActionError {
    fn from(Refused(reason): Refused) -> Self {
        Self::Refused(reason)
    }
}

/// Input that makes no action is refused with its reason.
impl From<crate::domain::case_action::Unreadable> for ActionError {
    fn from(e: crate::domain::case_action::Unreadable) -> Self {
        Self::Refused(e.0)
    }
}

impl From<RefusableError> for ActionError {
    fn from(e: RefusableError) -> Self {
        match e {
            RefusableError::Store(e) => e.into(),
            RefusableError::Refused(refused) => refused.into(),
        }
    }
}

impl From<crate::app::templates::TemplateError> for ActionError {
    fn from(e: crate::app::templates::TemplateError) -> Self {
        Self::Failed(e.into())
    }
}

pub struct Actions {
    store: Store,
    settings: SharedSettings,
    attachments: AttachmentStore,
    letters_dir: PathBuf,
    domain: String,
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
            domain: config.organisation.complaints_address.rsplit('@').next().unwrap_or("klachtd.invalid").to_string(),
            mail_secret,
        })
    }

    /// Tells the responsible handler that a case is theirs. With actions by mail on, the
    /// subject carries the token that lets them act by replying.
    pub async fn notify_assignment(&self, reference: &CaseRef) -> Result<(), ActionError> {
        let case = self.store.letter_case(reference).await?;
        let (Some(name), Some(email)) = (case.handler_name.clone(), case.handler_email.clone()) else {
            return Ok(());
        };
        let settings = self.settings.get();
        let received = case.received_on;
        let deadlines = Deadlines::compute(&settings.calendar, received);
        let marker = self.mail_secret.as_ref().map(|secret| mail_actions::marker(&mail_actions::token(secret, reference, &email)));
        let context = AssignedContext {
            organisation: &settings.organisation,
            recipient: RecipientContext { name: name.clone() },
            case: CaseContext::new(reference, None, &deadlines, &[], settings.letters.language()),
            marker,
            web_url: settings.web_url.as_deref(),
        };
        let letter = settings.letters.render("assigned", &context)?;
        let mail = self.notice(reference, MailKind::Assigned, &name, &email, letter);
        self.store.queue_notice(case.id, &mail, &format!("assigned to {name}")).await?;
        Ok(())
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
        let context = NoticeContext {
            organisation: &settings.organisation,
            case: CaseReference { reference: reference.to_string() },
            web_url: settings.web_url.as_deref(),
            refused,
        };
        let letter = settings.letters.render(letter, &context)?;
        Ok(Some((case.id, self.notice(reference, MailKind::Notice, &name, &email, letter))))
    }

    /// A mail to a handler (a notice, a confirmation): not threaded, never held.
    fn notice(&self, reference: &CaseRef, kind: MailKind, name: &str, email: &str, letter: Letter) -> OutgoingMail {
        OutgoingMail {
            kind,
            recipient: email.to_string(),
            recipient_name: Some(name.to_string()),
            subject: letter.subject,
            body: letter.body,
            message_id: new_message_id(&format!("{reference}.{kind}"), &self.domain),
            in_reply_to: None,
            references: Vec::new(),
            status: OutboxStatus::Pending,
        }
    }
}
