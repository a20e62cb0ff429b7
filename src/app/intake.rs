//! What happens to one fetched mail: parse, classify, register or attach, queue the
//! acknowledgement. Knows nothing of IMAP: the pass over a mailbox ([`pass`]) puts the mail
//! away afterwards according to the [`Outcome`], and only once this has committed.
//!
//! The pass records a batch of mails in one transaction ([`Intake::process_in`]); its new
//! complaints may wait in a [`Deferred`] and be written together at its end. What is to happen
//! only once a mail is committed (telling its handler, waking the outbox) waits in [`Done`]
//! until [`Intake::committed`]. A handler's reply that may carry out an action runs on its own
//! instead ([`Processed::Alone`]), since an action writes in transactions of its own.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;

use crate::app::actions::{Actions, ReplyDone, Transient};
use crate::app::backlog::Backlog;
use crate::app::new_message_id;
use crate::app::settings::{Settings, SharedSettings};
use crate::app::templates::{AcknowledgementContext, CaseContext};
use crate::config::{AcknowledgeSince, Config};
use crate::domain::calendar::{amsterdam_date, Deadlines};
use crate::domain::classify::{classify, correspondent, Classification, SpamPolicy};
use crate::domain::history::{Direction, MessageKind};
use crate::domain::inbound::{self, InboundMail, Person};
use crate::domain::organisation::OrganisationKey;
use crate::domain::reference::CaseRef;
use crate::domain::vocabulary::{CaseStatus, MailKind, OutboxStatus};
use crate::store::attachments::AttachmentStore;
use crate::store::{AttachmentRecord, Book, CaseLink, Conn, MessageRecord, NewCase, OutgoingMail, Registration, Seen, Store, StoreError};

mod committed;
mod complaint;
mod deferred;
mod organisation;
pub mod pass;
mod release;
pub use deferred::Deferred;
pub(crate) use organisation::Mention;

/// Where a processed mail goes next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A new case; the mail goes to the processed folder.
    Registered { reference: CaseRef },
    /// Threaded into an existing case; processed folder.
    FollowUp { reference: CaseRef },
    /// Automated or own mail kept with the case it refers to; processed folder.
    KeptWithCase { reference: CaseRef, reason: &'static str },
    /// Automated or own mail about no case; ignored folder.
    Ignored { reason: &'static str },
    /// Seen before (same Message-ID or content); processed folder.
    Duplicate,
    /// Cannot be handled; quarantine folder, with the reason recorded.
    Quarantine { reason: String },
}

/// What [`Intake::process_in`] made of a mail.
#[derive(Debug)]
pub enum Processed {
    /// Recorded in the transaction given; [`Intake::committed`] once that has committed.
    Done(Done),
    /// A new complaint (or a later copy of one) that waits in the batch's [`Deferred`]: its
    /// outcome comes with the others' when they are written.
    Deferred,
    /// Nothing recorded: a reply to a case with an action token in its subject. Such a mail is
    /// handled by [`Intake::process_alone`], outside any other transaction (an action commits
    /// on its own), after what came before it has committed.
    Alone,
}

/// A mail recorded in a transaction that has not committed yet, and what is left to do once
/// it has.
#[derive(Debug)]
pub struct Done {
    pub outcome: Outcome,
    later: Option<Later>,
    /// The mail proved a duplicate only as it was written: what was written for it must be
    /// undone (on PostgreSQL the failed statement has aborted the transaction).
    undo: bool,
}

/// What is done only after a mail's transaction has committed (as before, when each mail
/// committed on its own): nothing is told about a case that might yet be rolled back.
#[derive(Debug)]
enum Later {
    Registered {
        reference: CaseRef,
        acknowledgement: Option<OutboxStatus>,
        /// A handler was assigned, and is told.
        assigned: bool,
        incomplete: usize,
        attachments: usize,
        mentions: Option<Mention>,
    },
    /// Mail on a closed case: its handler is told.
    MailOnClosedCase { reference: CaseRef },
    /// One of the case's letters came back: its handler is told.
    LetterReturned { reference: CaseRef },
}

impl Done {
    fn now(outcome: Outcome) -> Self {
        Done { outcome, later: None, undo: false }
    }

    /// A duplicate that the database found as the mail was written (by its unique dedupe key).
    fn duplicate_on_writing() -> Self {
        Done { outcome: Outcome::Duplicate, later: None, undo: true }
    }

    /// Whether what was written for the mail must be rolled back: the store opens no
    /// savepoint of its own inside the mail's, so rolling back that (or the transaction the
    /// mail was written in) undoes it.
    pub fn must_undo(&self) -> bool {
        self.undo
    }
}

/// An outcome with nothing left to do after the commit (a mail the pass quarantines).
impl From<Outcome> for Done {
    fn from(outcome: Outcome) -> Self {
        Done::now(outcome)
    }
}

/// A failure that says nothing about the mail itself (database down, disk full): the mail
/// stays in the mailbox and is tried again.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot store attachment: {0}")]
    Attachment(#[from] std::io::Error),
    /// A handler's action by mail failed for a passing reason other than the database (say,
    /// the letter to print could not be written); nothing of it was recorded.
    #[error("action by mail: {0:#}")]
    Action(anyhow::Error),
    /// A mail of a batch written together (see [`Deferred`]) was recorded by someone else
    /// meanwhile; the batch is rolled back and recorded again, a mail at a time.
    #[error("a mail of the batch was recorded meanwhile by someone else")]
    WrittenMeanwhile,
    /// The new complaints of a batch could not be written together as it was about to commit;
    /// the batch was rolled back, and its mails are taken in again.
    #[error("the new complaints of a batch could not be written together; its mails are taken in again")]
    BatchRolledBack,
}

/// The intake of one organisation's mail (issue 25): its cases, its references, its letters.
/// [`Intake::in_organisation`] gives another's.
#[derive(Clone)]
pub struct Intake {
    store: Store,
    settings: SharedSettings,
    attachments: AttachmentStore,
    /// Every organisation's: mail from any of them is our own.
    own_addresses: Vec<String>,
    /// Whose mail this is, and how its cases are numbered.
    book: Book,
    /// The reference prefixes of the other organisations: a reference of theirs is noted on
    /// the case a mail becomes, never followed.
    foreign_prefixes: Vec<String>,
    acknowledge_since: DateTime<Utc>,
    message_id_domain: String,
    outbox_wake: Arc<Notify>,
    /// Passes over a backlog, during which acknowledgements wait (see [`Backlog`]).
    backlog: Arc<Backlog>,
    actions: Arc<Actions>,
    spam: SpamPolicy,
    /// Every organisation's book and Message-ID domain, for `in_organisation`.
    organisations: Arc<Vec<(Book, String)>>,
}

/// Why a quarantined or set-aside mail could not be released.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error("no quarantined mail with id {0} (see `klachtd quarantine list`)")]
    Unknown(i64),
    #[error("no set-aside or quarantined mail with id {0} (see `klachtd set-aside list`)")]
    UnknownHeld(i64),
    #[error("mail {0} cannot be read as an e-mail: {1}")]
    Unparseable(i64, inbound::ParseError),
    #[error(transparent)]
    Intake(#[from] IntakeError),
}

impl From<StoreError> for ReleaseError {
    fn from(e: StoreError) -> Self {
        ReleaseError::Intake(e.into())
    }
}

impl Intake {
    /// `first_start` is when klachtd first ran on this database (see `AcknowledgeSince`).
    pub fn new(config: &Config, store: Store, settings: SharedSettings, actions: Arc<Actions>, first_start: DateTime<Utc>, outbox_wake: Arc<Notify>) -> Self {
        let acknowledge_since = match config.intake.acknowledge_since {
            AcknowledgeSince::FirstStart => first_start,
            AcknowledgeSince::Date(d) => d
                .and_hms_opt(0, 0, 0)
                .and_then(|t| t.and_local_timezone(chrono_tz::Europe::Amsterdam).earliest())
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or(first_start),
        };
        let organisations: Vec<(Book, String)> = config
            .organisations()
            .iter()
            .map(|o| (Book::new(o.key.clone(), &o.reference_prefix), o.complaints_address.rsplit('@').next().unwrap_or("klachtd.invalid").to_string()))
            .collect();
        // The first organisation's intake; each mailbox's worker takes its own organisation's
        // (`in_organisation`: its book and its Message-ID domain) from it.
        let (book, message_id_domain) = organisations.first().cloned().expect("a configuration has an organisation");
        let intake = Self {
            store,
            settings,
            attachments: AttachmentStore::new(&config.storage.data_dir),
            own_addresses: config.own_addresses(),
            book: book.clone(),
            foreign_prefixes: Vec::new(),
            acknowledge_since,
            message_id_domain,
            backlog: Arc::new(Backlog::new(outbox_wake.clone(), std::time::Duration::from_secs(config.outbox.backlog_hold_secs))),
            outbox_wake,
            actions,
            spam: config.intake.spam.policy(),
            organisations: Arc::new(organisations),
        };
        intake.in_organisation(&book.organisation).expect("the first organisation")
    }

    /// The passes over a backlog, for the outbox (see [`Backlog`]); shared by every
    /// organisation's intake.
    pub fn backlog(&self) -> Arc<Backlog> {
        self.backlog.clone()
    }

    /// Handles one mail that reached the mailbox at `arrived` (as its source says) on `db`,
    /// the batch's transaction or a savepoint of it. Nothing of it may be acted on before that
    /// transaction commits; then [`committed`](Self::committed). With `deferred`, a new
    /// complaint waits there to be written with the others of the batch (see [`Deferred`]);
    /// `tag` names the mail in it.
    pub async fn process_in(
        &self,
        db: &mut Conn,
        mut deferred: Option<&mut Deferred>,
        tag: u32,
        raw: &[u8],
        arrived: DateTime<Utc>,
    ) -> Result<Processed, IntakeError> {
        let mail = match inbound::parse(raw) {
            Ok(mail) => mail,
            Err(e) => return Ok(Processed::Done(Done::now(Outcome::Quarantine { reason: e.to_string() }))),
        };
        let dedupe_key = self.dedupe_key(&mail);
        match deferred.as_deref_mut() {
            // Complaints are looked up all at once when they are written; other mail below.
            Some(waiting) => {
                if waiting.add_copy(tag, &dedupe_key) {
                    return Ok(Processed::Deferred);
                }
                // A reply to a complaint that waits finds its case once that is written.
                if waiting.answered_by(&mail.thread_ids) {
                    self.write_deferred(db, waiting).await?;
                }
            }
            None => {
                if let Some(done) = self.seen(db, &dedupe_key).await? {
                    return Ok(Processed::Done(done));
                }
            }
        }
        let (linked, mentions) = self.link(db, &mail).await?;
        if let Some(waiting) = deferred.as_deref_mut() {
            if linked.is_none() && classify::<()>(&mail, &self.own_addresses, None, Some(&self.spam)) == Classification::NewComplaint {
                waiting.add(tag, dedupe_key, mail, raw, arrived, mentions);
                return Ok(Processed::Deferred);
            }
            if let Some(done) = self.seen(db, &dedupe_key).await? {
                return Ok(Processed::Done(done));
            }
        }
        if linked.is_some() && mail.from.is_some() && self.actions.may_be_action(&mail.subject) {
            // Handled after a commit: what waits is written first.
            if let Some(waiting) = deferred {
                self.write_deferred(db, waiting).await?;
            }
            return Ok(Processed::Alone);
        }
        self.handle(db, &mail, raw, arrived, linked, mentions, Rules::All(&self.spam)).await.map(Processed::Done)
    }

    /// What the database knows of a mail already: `None` if nothing.
    async fn seen(&self, db: &mut Conn, dedupe_key: &str) -> Result<Option<Done>, IntakeError> {
        Ok(match self.store.seen_on(db, dedupe_key).await? {
            Seen::New => None,
            // Seen before and still waiting for a handler (a crash before the move): again there.
            Seen::Quarantined(reason) => Some(Done::now(Outcome::Quarantine { reason })),
            Seen::Known => Some(Done::now(Outcome::Duplicate)),
        })
    }

    /// Handles a mail that [`process_in`](Self::process_in) left [`Processed::Alone`]: a
    /// handler's action by mail in its own transactions (see `handler_reply`), or, when the
    /// reply does not authenticate, the mail as any other in a transaction of its own. Nothing
    /// else may hold a transaction meanwhile.
    pub async fn process_alone(&self, raw: &[u8], arrived: DateTime<Utc>) -> Result<Outcome, IntakeError> {
        match inbound::parse(raw) {
            Ok(mail) => self.handle_alone(&mail, raw, arrived, Origin::Mailbox).await,
            Err(e) => Ok(Outcome::Quarantine { reason: e.to_string() }),
        }
    }

    /// A mail on its own: a handler's action by mail if it is one, else as in a batch, in a
    /// transaction of its own.
    async fn handle_alone(&self, mail: &InboundMail, raw: &[u8], arrived: DateTime<Utc>, origin: Origin) -> Result<Outcome, IntakeError> {
        let (linked, mentions) = {
            let mut tx = self.store.transaction().await?;
            let found = self.link(&mut tx, mail).await?;
            tx.rollback().await?;
            found
        };
        if let (Some(case), Some(from)) = (&linked, &mail.from) {
            let raw = &self.raw(raw).await?;
            if let Some(outcome) = self.handler_reply(mail, raw, arrived, case, &from.address).await? {
                return Ok(outcome);
            }
        }
        let mut tx = self.store.transaction().await?;
        // A handler released it: no spam check again, and it takes its quarantine record's place.
        let rules = match origin {
            Origin::Mailbox => Rules::All(&self.spam),
            Origin::Quarantine => {
                self.store.unquarantine_on(&mut tx, &self.dedupe_key(mail)).await?;
                Rules::NoQuarantine
            }
            // A supervisor judged it a complaint; it takes its record's place. Gone meanwhile:
            // someone else released it just now.
            Origin::Judged(id) => {
                if !self.store.unhold_on(&mut tx, id).await? {
                    tx.rollback().await?;
                    return Ok(Outcome::Duplicate);
                }
                Rules::Complaint
            }
        };
        let done = self.handle(&mut tx, mail, raw, arrived, linked, mentions, rules).await?;
        match done.must_undo() {
            false => tx.commit().await?,
            true => tx.rollback().await?,
        }
        Ok(self.committed(done).await)
    }

    /// The raw bytes of the mail in hand; a large mail is written to a file first.
    async fn raw<'a>(&self, raw: &'a [u8]) -> Result<Raw<'a>, IntakeError> {
        let file = if raw.len() > RAW_IN_DATABASE_MAX { Some(self.attachments.save_async(raw).await.map_err(IntakeError::Attachment)?) } else { None };
        Ok(Raw { bytes: raw, file })
    }

    /// Classifies a parsed mail that is no action by mail and records it on `db`.
    #[allow(clippy::too_many_arguments)]
    async fn handle(
        &self,
        db: &mut Conn,
        mail: &InboundMail,
        raw: &[u8],
        arrived: DateTime<Utc>,
        linked: Option<CaseLink>,
        mentions: Option<Mention>,
        rules: Rules<'_>,
    ) -> Result<Done, IntakeError> {
        let bytes = raw;
        let raw = &self.raw(raw).await?;
        let classification = match rules {
            Rules::All(spam) => classify(mail, &self.own_addresses, linked, Some(spam)),
            Rules::NoQuarantine => classify(mail, &self.own_addresses, linked, None),
            Rules::Complaint => match linked {
                Some(case) => Classification::FollowUp(case),
                None => Classification::NewComplaint,
            },
        };
        let (kind, case, reason): (MessageKind, _, &'static str) = match classification {
            Classification::NewComplaint => return self.register(db, mail, raw, arrived, mentions).await,
            Classification::Quarantine(why) => {
                // Kept with its raw bytes and date of receipt, so a handler can release it
                // without the mailbox (see store::mail_classes); no attachment is stored.
                let reason = why.describe();
                let record = self.message_record(mail, raw, arrived, MessageKind::Quarantined, &reason);
                if !self.store.record_message_in(db, &self.book.organisation, None, &record, &[]).await? {
                    return Ok(Done::duplicate_on_writing());
                }
                return Ok(Done::now(Outcome::Quarantine { reason }));
            }
            Classification::FollowUp(case) => (MessageKind::FollowUp, Some(case), ""),
            // A delivery report about one of our letters: the case's history says that letter
            // did not arrive (the handler sees it in `cases show`).
            Classification::Automated { case: Some(case), .. } if mail.delivery_failed => {
                (MessageKind::DeliveryReport, Some(case), "a letter of this case was not delivered")
            }
            Classification::Automated { reason, case } => (MessageKind::Automated, case, reason.as_str()),
            Classification::SetAside { reason, case } => (MessageKind::SetAside, case, reason.as_str()),
            Classification::OwnMail { case } => (MessageKind::Own, case, "own-mail"),
        };
        let attachments = self.save_attachments(mail).await?;
        let record = self.message_record(mail, raw, arrived, kind, reason);
        let fresh = self.store.record_message_in(db, &self.book.organisation, case.as_ref().map(|c| c.id), &record, &attachments).await?;
        Ok(match (fresh, case) {
            (false, _) => Done::duplicate_on_writing(),
            (true, Some(case)) if kind == MessageKind::FollowUp => {
                tracing::info!(reference = %case.reference, "follow-up threaded into case");
                let later = (case.status == CaseStatus::Closed).then(|| Later::MailOnClosedCase { reference: case.reference.clone() });
                Done { outcome: Outcome::FollowUp { reference: case.reference }, later, undo: false }
            }
            (true, Some(case)) => {
                let mut later = None;
                // An answer to a hearing invitation (Awb 9:10) kept with its case: recorded on
                // it when its UID is that of the case's invitation.
                if reason == "calendar-invitation" && mail.calendar_method.as_deref() == Some("REPLY") {
                    if let Some(answer) = crate::domain::ical::reply_in_mail(bytes) {
                        let from = answer.attendee.clone().unwrap_or_default();
                        if self.store.record_hearing_answer(db, case.id, &answer.uid, &answer.partstat, &from).await? {
                            tracing::info!(reference = %case.reference, answer = %answer.partstat, "answer to a hearing invitation recorded");
                        }
                    }
                }
                if kind == MessageKind::DeliveryReport {
                    // Only a letter to the complainant (or another party) is the handler's
                    // concern; a bounced notice to a handler is kept and nothing more.
                    if let Some(letter) = self.store.letter_returned(db, case.id, &mail.thread_ids).await? {
                        tracing::warn!(reference = %case.reference, letter = %letter, "a letter of this case was not delivered; the handler is told");
                        later = Some(Later::LetterReturned { reference: case.reference.clone() });
                    }
                }
                Done { outcome: Outcome::KeptWithCase { reference: case.reference, reason }, later, undo: false }
            }
            (true, None) => Done::now(Outcome::Ignored { reason }),
        })
    }

    /// A handler's reply to a case notification carries out an action (see `Actions`). The
    /// mail is kept on the case as a handler's message, never as the complainant's.
    ///
    /// What is guaranteed: the mail is recorded in the same transaction as the action it asks
    /// for (letter, effect on the case, history) and the confirmation to the handler (see
    /// `Actions::carry_out_reply`). A database or disk error on the way commits none of it and
    /// comes back as an `IntakeError`, so the mailbox leaves the mail in place and tries it
    /// again; the handler is not told of it. A crash after the commit leaves a recorded mail,
    /// which the next attempt sees as a duplicate (by its dedupe key), so no second letter goes
    /// out. What is not covered is the outbox's own window (a crash after the SMTP server
    /// accepted a letter but before that was recorded), see the README.
    async fn handler_reply(
        &self,
        mail: &InboundMail,
        raw: &Raw<'_>,
        arrived: DateTime<Utc>,
        case: &CaseLink,
        from: &str,
    ) -> Result<Option<Outcome>, IntakeError> {
        let Some(name) = self.actions.authenticate_reply(&case.reference, from, &mail.subject).await? else {
            return Ok(None);
        };
        let token = crate::domain::mail_actions::token_in(&mail.subject).unwrap_or_default();
        let record = self.message_record(mail, raw, arrived, MessageKind::HandlerAction, "");
        match self.actions.carry_out_reply(case.id, &case.reference, &name, from, token, record, &mail.text).await {
            Ok(ReplyDone::Recorded) => {
                self.outbox_wake.notify_one();
                Ok(Some(Outcome::FollowUp { reference: case.reference.clone() }))
            }
            Ok(ReplyDone::AlreadyRecorded) => Ok(Some(Outcome::Duplicate)),
            Err(Transient::Store(e)) => Err(e.into()),
            Err(Transient::Disk(e)) => Err(IntakeError::Action(e)),
        }
    }

    async fn save_attachments(&self, mail: &InboundMail) -> Result<Vec<AttachmentRecord>, IntakeError> {
        let mut records = Vec::with_capacity(mail.attachments.len());
        for a in &mail.attachments {
            let sha256 = self.attachments.save_async(&a.data).await.map_err(IntakeError::Attachment)?;
            records.push(AttachmentRecord {
                filename: a.filename.clone(),
                content_type: a.content_type.clone(),
                size: a.data.len() as i64,
                sha256,
                role: a.role,
            });
        }
        Ok(records)
    }

    fn message_record(&self, mail: &InboundMail, raw: &Raw<'_>, arrived: DateTime<Utc>, kind: MessageKind, note: &str) -> MessageRecord {
        MessageRecord {
            direction: Direction::In,
            kind,
            dedupe_key: Some(self.dedupe_key(mail)),
            message_id: mail.message_id.clone(),
            from_address: mail.from.as_ref().map(|f| f.address.clone()),
            subject: mail.subject.clone(),
            body: mail.text.clone(),
            raw: raw.file.is_none().then(|| raw.bytes.to_vec()),
            raw_file: raw.file.clone(),
            note: note.to_string(),
            received_at: arrived.timestamp(),
        }
    }
}

/// Where a mail handled on its own comes from.
#[derive(Debug, Clone, Copy)]
enum Origin {
    Mailbox,
    /// Released from quarantine by a handler.
    Quarantine,
    /// Set aside or quarantined (held mail `id`), judged a complaint by a supervisor.
    Judged(i64),
}

/// Which of the intake's rules decide what a mail is.
#[derive(Debug, Clone, Copy)]
enum Rules<'a> {
    /// All of them, with the organisation's spam policy: mail from the mailbox.
    All(&'a SpamPolicy),
    /// All but the quarantine rules: a handler released the mail from quarantine.
    NoQuarantine,
    /// None: a supervisor judged the mail a complaint. A new case, or mail of the case it
    /// refers to.
    Complaint,
}

/// Mail larger than this is kept as a file beside the attachments instead of in the database
/// (`messages.raw_file`): binding a value copies it several times in the database driver.
pub const RAW_IN_DATABASE_MAX: usize = 1 << 20;

/// The raw bytes of the mail in hand, and the file they are kept in when large.
struct Raw<'a> {
    bytes: &'a [u8],
    file: Option<String>,
}

/// The kind of an outcome, for the log (no reference to a person).
fn outcome_name(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Registered { .. } => "registered",
        Outcome::FollowUp { .. } => "follow-up",
        Outcome::KeptWithCase { .. } => "kept-with-case",
        Outcome::Ignored { .. } => "set-aside",
        Outcome::Duplicate => "duplicate",
        Outcome::Quarantine { .. } => "quarantine",
    }
}
