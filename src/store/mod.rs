//! All SQL lives in this folder, one file per concern (migrate, mailbox, intake, outbox, views,
//! actions, reminders, register, ...). One `Store` over sqlx's `Any` driver serves SQLite (the
//! embedded default) and PostgreSQL (several instances on one database); the SQL is written to
//! mean the same on both, and the schema has one migration file per backend. The files the
//! database names by content hash (attachments, large raw mails) are kept by [`attachments`],
//! private to the service account ([`private_files`]).
//!
//! Exactly-once rules that rely on the database, not on memory:
//! - an incoming mail is registered once: `messages.dedupe_key` is unique;
//! - a case reference is unique: numbers come from a counter row updated in the same transaction;
//! - an outgoing mail is sent by one worker at a time: a worker claims a row with a lease
//!   (a conditional UPDATE that only one claimant can win) and records the SMTP acceptance.

use std::time::Duration;

use chrono::NaiveDate;
use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;

pub use crate::domain::history::{Direction, HistoryEvent, MessageKind};
pub use crate::domain::inbound::AttachmentRole;
pub use crate::domain::reference::{CaseId, CaseRef};
use crate::domain::reminders::Deadline;
pub use crate::domain::vocabulary::{CaseSource, CaseStatus, MailKind, OutboxStatus};

/// Implements `FromRow` for a struct whose fields are named as the query's columns: a column
/// missing or of another type is an error of the query, not a panic. Fields after `with` are
/// structs of their own read from the same row (such as [`DeadlineColumns`]).
macro_rules! from_columns {
    ($t:ident { $($field:ident),+ $(,)? } $(with $($nested:ident),+)?) => {
        impl<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> for $t {
            fn from_row(r: &'r sqlx::any::AnyRow) -> std::result::Result<Self, sqlx::Error> {
                use sqlx::Row as _;
                Ok($t { $($field: r.try_get(stringify!($field))?,)+ $($($nested: sqlx::FromRow::from_row(r)?,)+)? })
            }
        }
    };
}

/// A case's three deadlines as its row stores them: the day each falls due, and when it was
/// met (Unix seconds; `None`: not yet).
struct DeadlineColumns {
    acknowledge_by: String,
    acknowledged_at: Option<i64>,
    progress_by: String,
    progress_sent_at: Option<i64>,
    respond_by: String,
    responded_at: Option<i64>,
}
from_columns!(DeadlineColumns { acknowledge_by, acknowledged_at, progress_by, progress_sent_at, respond_by, responded_at });

impl DeadlineColumns {
    /// Each deadline, with the day it falls due (as stored) and when it was met.
    fn each(&self) -> [(Deadline, &str, Option<i64>); 3] {
        [
            (Deadline::Acknowledge, &self.acknowledge_by, self.acknowledged_at),
            (Deadline::Progress, &self.progress_by, self.progress_sent_at),
            (Deadline::Respond, &self.respond_by, self.responded_at),
        ]
    }
}

use columns::{day_column, optional_day_column, stored_day};

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A connection that the intake's statements run on: a transaction of [`Store::transaction`]
/// (a batch of mails) or a savepoint in it, seen through [`Tx`].
pub type Conn = sqlx::AnyConnection;

/// A transaction, or a savepoint within one. Dropped without `commit`, it is rolled back.
pub struct Tx<'c>(sqlx::Transaction<'c, sqlx::Any>);

impl<'c> Tx<'c> {
    /// A savepoint in this transaction: committed (released) or rolled back on its own.
    pub async fn savepoint(&mut self) -> Result<Tx<'_>> {
        Ok(Tx(sqlx::Acquire::begin(&mut self.0).await?))
    }

    pub async fn commit(self) -> Result<()> {
        Ok(self.0.commit().await?)
    }

    pub async fn rollback(self) -> Result<()> {
        Ok(self.0.rollback().await?)
    }
}

impl std::ops::Deref for Tx<'_> {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        &self.0
    }
}

impl std::ops::DerefMut for Tx<'_> {
    fn deref_mut(&mut self) -> &mut Conn {
        &mut self.0
    }
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    /// Read-only connections for the workspace's reads (see [`Store::reads`]).
    readers: AnyPool,
    backend: Backend,
    reference_prefix: String,
    /// Whose cases and mail are written where no `intake::Book` is named.
    organisation: crate::domain::organisation::OrganisationKey,
}

/// An incoming or outgoing message as recorded on a case.
#[derive(Debug, Clone)]
pub struct MessageRecord {
    pub direction: Direction,
    pub kind: MessageKind,
    pub dedupe_key: Option<String>,
    pub message_id: Option<String>,
    pub from_address: Option<String>,
    pub subject: String,
    pub body: String,
    pub raw: Option<Vec<u8>>,
    /// The SHA-256 of a large raw mail kept as a file instead of in `raw` (see `RAW_IN_DATABASE_MAX`).
    pub raw_file: Option<String>,
    pub note: String,
    pub received_at: i64,
}

#[derive(Debug, Clone)]
pub struct AttachmentRecord {
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    /// Only documents count as the complaint's.
    pub role: AttachmentRole,
}

/// A case about to be registered. The reference is assigned by the store.
#[derive(Debug, Clone)]
pub struct NewCase {
    pub source: CaseSource,
    pub complainant_name: Option<String>,
    pub complainant_email: Option<String>,
    pub reply_to_name: Option<String>,
    pub reply_to_email: Option<String>,
    pub postal_address: Option<String>,
    pub subject: String,
    pub description: String,
    pub incomplete: Vec<&'static str>,
    pub received_on: NaiveDate,
    pub received_at: i64,
    pub acknowledge_by: NaiveDate,
    /// `None` under a procedure without a progress notice.
    pub progress_by: Option<NaiveDate>,
    pub respond_by: NaiveDate,
    /// The terms the case is registered under (stored in `cases.procedure_terms`).
    pub procedure: crate::domain::terms::Procedure,
    /// Assignment rule "default": this handler, unless the complaint is about them.
    pub preferred_handler: Option<String>,
    /// The original sender and date of a forwarded complaint.
    pub forwarded: Option<crate::domain::forwarded::Forwarded>,
}

/// A mail to be queued in the outbox.
#[derive(Debug, Clone)]
pub struct OutgoingMail {
    pub kind: MailKind,
    pub recipient: String,
    pub recipient_name: Option<String>,
    pub subject: String,
    pub body: String,
    pub message_id: String,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    /// `Pending` (send), `Held` (a handler decides) or `Suppressed` (loop guard; never sent).
    pub status: OutboxStatus,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseLink {
    pub id: CaseId,
    pub reference: CaseRef,
    pub status: CaseStatus,
}
from_columns!(CaseLink { id, reference, status });

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registration {
    Registered {
        case_id: CaseId,
        reference: CaseRef,
        /// A handler was assigned (and is to be told).
        assigned: bool,
    },
    /// Another worker or an earlier run registered this mail already.
    Duplicate,
}

/// Which kinds of due mail a worker may take: reminders and escalations only go out inside
/// working hours, also when retried after an outage; acknowledgements wait while the intake
/// registers a backlog (`app::backlog`). Every other kind may always go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    pub reminders: bool,
    pub acknowledgements: bool,
}

impl Claim {
    /// Every kind of mail.
    pub const ANY: Claim = Claim { reminders: true, acknowledgements: true };
}

/// A claimed outgoing mail.
#[derive(Debug, Clone)]
pub struct OutboxItem {
    pub id: i64,
    pub case_id: Option<CaseId>,
    pub attempts: i64,
    pub mail: OutgoingMail,
    /// Parts besides the text (attachments, a calendar invitation); empty for most mail.
    pub parts: Vec<MailPart>,
    /// Its case's organisation, whose address it comes from (`None`: no case).
    pub organisation: Option<String>,
}

/// What `cases list` and `cases show` print.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CaseSummary {
    pub reference: CaseRef,
    pub status: CaseStatus,
    pub source: CaseSource,
    pub complainant_name: Option<String>,
    pub complainant_email: Option<String>,
    pub reply_to_email: Option<String>,
    pub subject: String,
    pub received_on: NaiveDate,
    pub acknowledge_by: NaiveDate,
    /// `None` (JSON null): the case's procedure has no progress notice.
    pub progress_by: Option<NaiveDate>,
    pub respond_by: NaiveDate,
    pub incomplete: Vec<String>,
    pub messages: i64,
    pub attachments: i64,
    /// `sent`, `pending`, `held`, `suppressed`, `returned` (bounced), `undeliverable` (refused
    /// for good by the SMTP server) or `none` (no acknowledgement queued).
    #[serde(serialize_with = "none_if_absent")]
    pub acknowledgement: Option<OutboxStatus>,
    pub acknowledged_at: Option<i64>,
    /// The responsible handler (R5), if assigned.
    pub handler: Option<String>,
    /// Handlers the complaint names; a supervisor should check the assignment.
    pub supervisor_check: String,
    pub progress_sent_at: Option<i64>,
    pub responded_at: Option<i64>,
    /// The terms the case was registered under (`domain::terms::Procedure`, written out).
    pub procedure: String,
}

impl CaseSummary {
    /// The acknowledgement's state as printed: an outbox status, or `none`.
    pub fn acknowledgement_word(&self) -> &'static str {
        self.acknowledgement.map_or("none", OutboxStatus::as_str)
    }
}

fn none_if_absent<S: serde::Serializer>(status: &Option<OutboxStatus>, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(status.map_or("none", OutboxStatus::as_str))
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct CaseEvent {
    pub at: i64,
    pub actor: String,
    pub action: HistoryEvent,
    pub detail: String,
}

json_lists::json_fields!(CaseEvent { at, actor, action, detail });

#[derive(Debug, Clone, serde::Serialize)]
pub struct CaseMessage {
    pub direction: Direction,
    pub kind: MessageKind,
    pub from_address: Option<String>,
    pub subject: String,
    pub received_at: i64,
    pub note: String,
}

json_lists::json_fields!(CaseMessage { direction, kind, from_address, subject, received_at, note });

#[derive(Debug, Clone, serde::Serialize)]
pub struct CaseAttachment {
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    /// `document`, `signature` (kept: it proves who sent the mail) or `report`.
    pub role: AttachmentRole,
}

json_lists::json_fields!(CaseAttachment { filename, content_type, size, sha256, role });

#[derive(Debug, Clone, serde::Serialize)]
pub struct CaseDetail {
    #[serde(flatten)]
    pub summary: CaseSummary,
    pub description: String,
    /// For a forwarded complaint: who wrote the original, and when (as the forward shows it).
    pub forwarded_sender: Option<String>,
    pub forwarded_date: Option<String>,
    pub message_list: Vec<CaseMessage>,
    pub attachment_list: Vec<CaseAttachment>,
    pub history: Vec<CaseEvent>,
}

impl Store {
    /// Connects (creating a SQLite file readable by the owner only) and runs the migrations.
    pub async fn open(url: &str, max_connections: u32) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") { Backend::Sqlite } else { Backend::Postgres };
        let url = match backend {
            Backend::Sqlite => {
                create_private_sqlite_file(url)?;
                if url.contains('?') {
                    url.to_string()
                } else {
                    format!("{url}?mode=rwc")
                }
            }
            Backend::Postgres => url.to_string(),
        };
        let pool = readers::writer_options(backend, max_connections).connect(&url).await?;
        let mut store = Self { readers: pool.clone(), pool, backend, reference_prefix: "KL".into(), organisation: Default::default() };
        store.migrate().await?;
        if backend == Backend::Sqlite && sqlite_path(&url).is_some() {
            store.readers = readers::open_sqlite(&url, max_connections).await?;
        } else if backend == Backend::Postgres {
            store.readers = readers::open_postgres(&url, max_connections)?;
        }
        Ok(store)
    }

    /// Whether `url` names a database that exists and was set up by klachtd, without creating
    /// or changing anything.
    pub async fn holds_data(url: &str) -> Result<bool> {
        sqlx::any::install_default_drivers();
        let url = if url.starts_with("sqlite:") {
            let Some(path) = sqlite_path(url) else { return Ok(false) };
            if !path.is_file() {
                return Ok(false);
            }
            format!("{}?mode=ro", url.split('?').next().unwrap_or(url))
        } else {
            url.to_string()
        };
        let pool = AnyPoolOptions::new().max_connections(1).acquire_timeout(Duration::from_secs(10)).connect(&url).await?;
        let found = sqlx::query("SELECT 1 FROM schema_migrations LIMIT 1").fetch_optional(&pool).await;
        pool.close().await;
        match found {
            Ok(row) => Ok(row.is_some()),
            // No such table: an empty database.
            Err(sqlx::Error::Database(_)) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// The letters that start every new case reference (`KL` in `KL-2026-0001`).
    pub fn with_reference_prefix(mut self, prefix: &str) -> Self {
        self.reference_prefix = prefix.to_ascii_uppercase();
        self
    }

    pub async fn close(&self) {
        self.readers.close().await;
        self.pool.close().await;
    }

    async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.backend {
            // Take the write lock up front: a deferred transaction that reads first and then
            // writes can fail with SQLITE_BUSY instead of waiting.
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// A transaction of its own (on SQLite holding the write lock from the start): the intake
    /// records a batch of mails in one, each mail in a savepoint of it.
    pub async fn transaction(&self) -> Result<Tx<'static>> {
        Ok(Tx(self.begin().await?))
    }

    /// A connection from the pool, for one of the `_on` methods outside a transaction.
    async fn connection(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Any>> {
        Ok(self.pool.acquire().await?)
    }

    /// The value of a setting, storing `default` first if it is absent (first writer wins).
    pub async fn setting_or_init(&self, key: &str, default: &str) -> Result<String> {
        sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING").bind(key).bind(default).execute(&self.pool).await?;
        Ok(sqlx::query_scalar("SELECT value FROM settings WHERE key = $1").bind(key).fetch_one(&self.pool).await?)
    }

    // ---- mailbox sync state ------------------------------------------------------------

    /// What to append to a SELECT that reads a row the transaction will change: PostgreSQL locks
    /// it (`FOR UPDATE`); SQLite's `BEGIN IMMEDIATE` has already serialised all writers.
    fn row_lock(&self) -> &'static str {
        match self.backend {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        }
    }

    pub async fn case_link(&self, reference: &CaseRef) -> Result<Option<CaseLink>> {
        self.case_link_on(&mut *self.connection().await?, reference).await
    }

    async fn case_link_on(&self, conn: &mut Conn, reference: &CaseRef) -> Result<Option<CaseLink>> {
        Ok(sqlx::query_as("SELECT id, reference, status FROM cases WHERE reference = $1").bind(reference).fetch_optional(&mut *conn).await?)
    }

    /// The reference of a case by its row id.
    pub async fn case_reference(&self, case_id: CaseId) -> Result<CaseRef> {
        Ok(sqlx::query_scalar("SELECT reference FROM cases WHERE id = $1").bind(case_id).fetch_one(&self.pool).await?)
    }
}

/// A transaction on `conn`, or a savepoint when `conn` is in one already (the intake's batch).
async fn begin_on(conn: &mut Conn) -> Result<sqlx::Transaction<'_, sqlx::Any>, sqlx::Error> {
    use sqlx::Connection;
    if !conn.is_in_transaction() && conn.backend_name() == "SQLite" {
        // As in `Store::begin`: the write lock up front.
        return conn.begin_with("BEGIN IMMEDIATE").await;
    }
    conn.begin().await
}

async fn insert_event(tx: &mut Conn, case_id: CaseId, actor: &str, action: HistoryEvent, detail: &str) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO case_events (case_id, at, actor, action, detail) VALUES ($1, $2, $3, $4, $5)")
        .bind(case_id)
        .bind(now())
        .bind(actor)
        .bind(action)
        .bind(detail)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Rows per statement when many are written at once.
const WRITE_CHUNK: usize = 100;

/// An `INSERT ... RETURNING id` being given its values.
type Insert<'q> = sqlx::query::QueryScalar<'q, sqlx::Any, i64, sqlx::any::AnyArguments>;

/// Inserts `rows` into `into` (a table and its `columns` columns), `WRITE_CHUNK` rows a
/// statement, `bind` binding one row's values in the order of the columns. Returns the new rows'
/// ids in the order given: both databases number the rows of one statement in ascending order
/// as they insert them (a sequence, or the largest rowid plus one), though SQLite returns them
/// in no promised order.
async fn insert_many<'q, T>(
    tx: &mut Conn,
    into: &str,
    columns: usize,
    rows: &'q [T],
    bind: impl Fn(Insert<'q>, &'q T) -> Insert<'q>,
) -> Result<Vec<i64>, sqlx::Error> {
    let mut ids = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(WRITE_CHUNK) {
        let sql = format!("INSERT INTO {into} VALUES {} RETURNING id", value_rows(tx, chunk.len(), columns));
        let query = chunk.iter().fold(sqlx::query_scalar(sqlx::AssertSqlSafe(sql)), &bind);
        let mut written: Vec<i64> = query.fetch_all(&mut *tx).await?;
        if written.len() != chunk.len() {
            return Err(sqlx::Error::Protocol(format!("INSERT INTO {into}: {} rows written of {}", written.len(), chunk.len())));
        }
        written.sort_unstable();
        ids.extend(written);
    }
    Ok(ids)
}

/// Keys per statement when many are looked up at once (`IN (...)`).
const LOOKUP_CHUNK: usize = 500;

/// Entries of the histories of several cases, `(case, action, detail)`, by one actor at `at`,
/// in this order, `WRITE_CHUNK` rows a statement.
async fn insert_case_events<D: AsRef<str>>(tx: &mut Conn, at: i64, actor: &str, events: &[(CaseId, HistoryEvent, D)]) -> Result<(), sqlx::Error> {
    let rows: Vec<_> = events.iter().map(|(case_id, action, detail)| (*case_id, actor, *action, detail.as_ref())).collect();
    insert_events_at(tx, at, &rows).await
}

/// Entries of the histories of several cases, `(case, actor, action, detail)`, at `at`, in this
/// order, `WRITE_CHUNK` rows a statement.
async fn insert_events_at(tx: &mut Conn, at: i64, events: &[(CaseId, &str, HistoryEvent, &str)]) -> Result<(), sqlx::Error> {
    for chunk in events.chunks(WRITE_CHUNK) {
        let sql = format!("INSERT INTO case_events (case_id, at, actor, action, detail) VALUES {}", value_rows(tx, chunk.len(), 5));
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (case_id, actor, action, detail) in chunk {
            query = query.bind(*case_id).bind(at).bind(*actor).bind(*action).bind(*detail);
        }
        query.execute(&mut *tx).await?;
    }
    Ok(())
}

/// The file of a `sqlite:` URL; `None` for an in-memory database.
fn sqlite_path(url: &str) -> Option<&std::path::Path> {
    let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or("");
    (!path.is_empty() && path != ":memory:").then(|| std::path::Path::new(path))
}

/// Creates the SQLite database file (and its directory) readable by the owner only, before
/// SQLite would create it with the process umask.
fn create_private_sqlite_file(url: &str) -> Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let Some(path) = sqlite_path(url) else { return Ok(()) };
    let io = |e: std::io::Error| StoreError::Db(sqlx::Error::Io(e));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            std::fs::create_dir_all(dir).map_err(io)?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io)?;
        }
    }
    std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(path).map_err(io)?;
    Ok(())
}

mod actions;
pub mod attachments;
mod awb;
mod book;
mod columns;
pub mod corrections;
mod error;
mod graph;
mod handlers;
pub mod instances;
mod intake;
mod json_lists;
mod mail_classes;
mod mailbox;
mod migrate;
mod notices;
mod organisations;
mod outbox;
mod placeholders;
mod procedure;
mod readers;
use placeholders::{placeholders, placeholders_on, value_rows};
use procedure::{deadline_column, stored_deadline};
pub use readers::Reader;
pub mod private_files;
mod register;
mod reminders;
pub mod search;
pub mod set_aside;
mod views;
mod vocabulary;
pub mod web;
pub use actions::{LetterCase, LetterEffect, MailOrigin, RefusableError, Refused};
pub use awb::MailPart;
pub use book::Book;
#[cfg(test)]
pub(crate) use error::db_error_with_code;
pub use error::StoreError;
use handlers::handler_candidates_in;
pub use handlers::Handler;
pub use intake::CaseToWrite;
pub use intake::Seen;
use intake::{drop_quarantine_record, insert_message};
pub use mail_classes::QuarantinedMail;
pub use outbox::Sent;
use outbox::{insert_outbox, insert_outboxes};
pub use register::RegisterVersion;
pub use reminders::{CaseDeadlines, ClaimedReminder, Queued, ReminderClaim, Supervisor};
use views::SUMMARY_SELECT;
pub use views::{CaseFilter, Status, Table};

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}
