//! All SQL lives here. One `Store` over sqlx's `Any` driver serves SQLite (the embedded default)
//! and PostgreSQL (several instances on one database); the SQL is written to mean the same on
//! both, and the schema has one migration file per backend.
//!
//! Exactly-once rules that rely on the database, not on memory:
//! - an incoming mail is registered once: `messages.dedupe_key` is unique;
//! - a case reference is unique: numbers come from a counter row updated in the same transaction;
//! - an outgoing mail is sent by one worker at a time: a worker claims a row with a lease
//!   (a conditional UPDATE that only one claimant can win) and records the SMTP acceptance.

use std::time::Duration;

use chrono::NaiveDate;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("no case with reference {0}")]
    UnknownCase(String),
    #[error("no active handler named {0:?} (see `klachtd handlers list`)")]
    UnknownHandler(String),
    #[error("{handler} cannot handle {reference}: the complaint is about them (R5, impartiality)")]
    NotImpartial { handler: String, reference: String },
    #[error("{handler} cannot handle {reference}: the complaint names them; a supervisor confirms with `klachtd cases checked {reference}` first (R5, impartiality)")]
    NamedInComplaint { handler: String, reference: String },
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    reference_prefix: String,
}

struct Migration {
    version: i64,
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sqlite: include_str!("../../migrations/sqlite/0001_init.sql"),
        postgres: include_str!("../../migrations/postgres/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "handlers_reminders",
        sqlite: include_str!("../../migrations/sqlite/0002_handlers_reminders.sql"),
        postgres: include_str!("../../migrations/postgres/0002_handlers_reminders.sql"),
    },
    Migration {
        version: 3,
        name: "actions_register",
        sqlite: include_str!("../../migrations/sqlite/0003_actions_register.sql"),
        postgres: include_str!("../../migrations/postgres/0003_actions_register.sql"),
    },
    Migration {
        version: 4,
        name: "mailbox_lease",
        sqlite: include_str!("../../migrations/sqlite/0004_mailbox_lease.sql"),
        postgres: include_str!("../../migrations/postgres/0004_mailbox_lease.sql"),
    },
    Migration {
        version: 5,
        name: "mail_classes",
        sqlite: include_str!("../../migrations/sqlite/0005_mail_classes.sql"),
        postgres: include_str!("../../migrations/postgres/0005_mail_classes.sql"),
    },
    Migration {
        version: 6,
        name: "raw_file",
        sqlite: include_str!("../../migrations/sqlite/0006_raw_file.sql"),
        postgres: include_str!("../../migrations/postgres/0006_raw_file.sql"),
    },
    Migration {
        version: 7,
        name: "indexes",
        sqlite: include_str!("../../migrations/sqlite/0007_indexes.sql"),
        postgres: include_str!("../../migrations/postgres/0007_indexes.sql"),
    },
    Migration {
        version: 8,
        name: "web",
        sqlite: include_str!("../../migrations/sqlite/0008_web.sql"),
        postgres: include_str!("../../migrations/postgres/0008_web.sql"),
    },
];

/// An incoming or outgoing message as recorded on a case.
#[derive(Debug, Clone)]
pub struct MessageRecord {
    pub direction: &'static str,
    pub kind: String,
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
    /// `document`, `signature` or `report` (see `domain::inbound::AttachmentRole`); only
    /// documents count as the complaint's.
    pub role: &'static str,
}

/// A case about to be registered. The reference is assigned by the store.
#[derive(Debug, Clone)]
pub struct NewCase {
    pub source: &'static str,
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
    pub progress_by: NaiveDate,
    pub respond_by: NaiveDate,
    /// Assignment rule "default": this handler, unless the complaint is about them.
    pub preferred_handler: Option<String>,
    /// The original sender and date of a forwarded complaint.
    pub forwarded: Option<crate::domain::forwarded::Forwarded>,
}

/// A mail to be queued in the outbox.
#[derive(Debug, Clone)]
pub struct OutgoingMail {
    pub kind: String,
    pub recipient: String,
    pub recipient_name: Option<String>,
    pub subject: String,
    pub body: String,
    pub message_id: String,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    /// `pending` (send), `held` (a handler decides) or `suppressed` (loop guard; never sent).
    pub status: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseLink {
    pub id: i64,
    pub reference: String,
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registration {
    Registered {
        case_id: i64,
        reference: String,
    },
    /// Another worker or an earlier run registered this mail already.
    Duplicate,
}

/// Which outgoing mail a worker may take: reminders and escalations only go out inside working
/// hours, also when they are retried after an outage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    Any,
    ExceptReminders,
}

/// A claimed outgoing mail.
#[derive(Debug, Clone)]
pub struct OutboxItem {
    pub id: i64,
    pub case_id: Option<i64>,
    pub attempts: i64,
    pub mail: OutgoingMail,
}

/// What `cases list` and `cases show` print.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CaseSummary {
    pub reference: String,
    pub status: String,
    pub source: String,
    pub complainant_name: Option<String>,
    pub complainant_email: Option<String>,
    pub reply_to_email: Option<String>,
    pub subject: String,
    pub received_on: String,
    pub acknowledge_by: String,
    pub progress_by: String,
    pub respond_by: String,
    pub incomplete: Vec<String>,
    pub messages: i64,
    pub attachments: i64,
    /// `sent`, `pending`, `held`, `suppressed`, `returned` (bounced), `undeliverable` (refused
    /// for good by the SMTP server) or `none`.
    pub acknowledgement: String,
    pub acknowledged_at: Option<i64>,
    /// The responsible handler (R5), if assigned.
    pub handler: Option<String>,
    /// Handlers the complaint names; a supervisor should check the assignment.
    pub supervisor_check: String,
    pub progress_sent_at: Option<i64>,
    pub responded_at: Option<i64>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct CaseEvent {
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub detail: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct CaseMessage {
    pub direction: String,
    pub kind: String,
    pub from_address: Option<String>,
    pub subject: String,
    pub received_at: i64,
    pub note: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct CaseAttachment {
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    /// `document`, `signature` (kept: it proves who sent the mail) or `report`.
    pub role: String,
}

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
        // SQLite has one writer at a time; connections of one process that compete for it wait
        // in SQLite's busy handler, which sleeps in steps of milliseconds. One connection per
        // process queues them in the pool instead, which is much faster.
        let connections = if backend == Backend::Sqlite { 1 } else { max_connections.max(1) };
        let mut options = AnyPoolOptions::new().max_connections(connections).acquire_timeout(Duration::from_secs(10));
        if backend == Backend::Sqlite {
            // WAL lets readers work beside the one writer; the busy timeout makes writers queue
            // instead of failing; foreign keys are off by default in SQLite.
            options = options.after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::raw_sql("PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;")
                        .execute(conn)
                        .await?;
                    Ok(())
                })
            });
        }
        let pool = options.connect(&url).await?;
        let store = Self { pool, backend, reference_prefix: "KL".into() };
        store.migrate().await?;
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

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub async fn close(&self) {
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

    /// Applies missing migrations, each in its own transaction together with its row in
    /// `schema_migrations`. Concurrent instances on PostgreSQL serialise on an advisory lock;
    /// on SQLite the check runs inside the immediate (write-locked) transaction.
    pub async fn migrate(&self) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        if self.backend == Backend::Postgres {
            // Keep "relation already exists, skipping" notices out of the logs.
            sqlx::raw_sql("SET client_min_messages TO warning").execute(&mut *conn).await?;
            sqlx::query("SELECT pg_advisory_lock(4242017)").execute(&mut *conn).await?;
        }
        let outcome = async {
            sqlx::raw_sql("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)")
                .execute(&mut *conn)
                .await?;
            let begin = if self.backend == Backend::Sqlite { "BEGIN IMMEDIATE" } else { "BEGIN" };
            for m in MIGRATIONS {
                sqlx::raw_sql(begin).execute(&mut *conn).await?;
                let applied = async {
                    let done: Option<i64> =
                        sqlx::query_scalar("SELECT version FROM schema_migrations WHERE version = $1").bind(m.version).fetch_optional(&mut *conn).await?;
                    if done.is_some() {
                        return Ok(false);
                    }
                    let sql = match self.backend {
                        Backend::Sqlite => m.sqlite,
                        Backend::Postgres => m.postgres,
                    };
                    sqlx::raw_sql(sql).execute(&mut *conn).await?;
                    sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
                        .bind(m.version)
                        .bind(m.name)
                        .bind(now())
                        .execute(&mut *conn)
                        .await?;
                    Ok::<_, sqlx::Error>(true)
                }
                .await;
                match applied {
                    Ok(fresh) => {
                        sqlx::raw_sql("COMMIT").execute(&mut *conn).await?;
                        if fresh {
                            tracing::info!(version = m.version, name = m.name, "database migration applied");
                        }
                    }
                    Err(e) => {
                        let _ = sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await;
                        return Err(e);
                    }
                }
            }
            Ok::<_, sqlx::Error>(())
        }
        .await;
        if self.backend == Backend::Postgres {
            let _ = sqlx::query("SELECT pg_advisory_unlock(4242017)").execute(&mut *conn).await;
        }
        Ok(outcome?)
    }

    /// The value of a setting, storing `default` first if it is absent (first writer wins).
    pub async fn setting_or_init(&self, key: &str, default: &str) -> Result<String> {
        sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING").bind(key).bind(default).execute(&self.pool).await?;
        Ok(sqlx::query_scalar("SELECT value FROM settings WHERE key = $1").bind(key).fetch_one(&self.pool).await?)
    }

    // ---- mailbox sync state ------------------------------------------------------------

    pub async fn mailbox_state(&self, folder: &str) -> Result<Option<(u32, u32)>> {
        let row = sqlx::query("SELECT uidvalidity, last_uid FROM mailbox_state WHERE folder = $1").bind(folder).fetch_optional(&self.pool).await?;
        Ok(row.map(|r| (r.get::<i64, _>(0) as u32, r.get::<i64, _>(1) as u32)))
    }

    /// Records how far the mailbox has been processed. The last UID never goes backwards for
    /// the same UIDVALIDITY, so two instances cannot undo each other's progress.
    pub async fn save_mailbox_state(&self, folder: &str, uidvalidity: u32, last_uid: u32) -> Result<()> {
        sqlx::query(
            "INSERT INTO mailbox_state (folder, uidvalidity, last_uid, last_sync_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (folder) DO UPDATE SET
               last_uid = CASE WHEN mailbox_state.uidvalidity = excluded.uidvalidity AND mailbox_state.last_uid > excluded.last_uid
                               THEN mailbox_state.last_uid ELSE excluded.last_uid END,
               uidvalidity = excluded.uidvalidity,
               last_sync_at = excluded.last_sync_at",
        )
        .bind(folder)
        .bind(uidvalidity as i64)
        .bind(last_uid as i64)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn touch_mailbox_sync(&self, folder: &str) -> Result<()> {
        sqlx::query("UPDATE mailbox_state SET last_sync_at = $1 WHERE folder = $2").bind(now()).bind(folder).execute(&self.pool).await?;
        Ok(())
    }

    // ---- intake ------------------------------------------------------------------------

    /// Whether a mail with this dedupe key was registered before.
    pub async fn is_known(&self, dedupe_key: &str) -> Result<bool> {
        // Retention keeps only a hash of a Message-ID key (see `register::retained_dedupe_key`).
        let id: Option<i64> = sqlx::query_scalar("SELECT id FROM messages WHERE dedupe_key = $1 OR dedupe_key = $2 LIMIT 1")
            .bind(dedupe_key)
            .bind(register::retained_dedupe_key(dedupe_key))
            .fetch_optional(&self.pool)
            .await?;
        Ok(id.is_some())
    }

    /// The case that a mail refers to: by a reference in its subject, else by a Message-ID in
    /// its In-Reply-To/References that belongs to a message of a case.
    pub async fn find_case_for(&self, references: &[String], thread_ids: &[String]) -> Result<Option<CaseLink>> {
        for reference in references {
            if let Some(link) = self.case_link(reference).await? {
                return Ok(Some(link));
            }
        }
        for id in thread_ids {
            let row = sqlx::query(
                "SELECT c.id, c.reference, c.status FROM messages m JOIN cases c ON c.id = m.case_id
                 WHERE m.message_id = $1 ORDER BY m.id LIMIT 1",
            )
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
            if let Some(row) = row {
                return Ok(Some(link_from_row(&row)));
            }
            let row = sqlx::query("SELECT c.id, c.reference, c.status FROM outbox o JOIN cases c ON c.id = o.case_id WHERE o.message_id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
            if let Some(row) = row {
                return Ok(Some(link_from_row(&row)));
            }
        }
        Ok(None)
    }

    /// One of our letters about a case came back undelivered (a failed delivery report naming
    /// one of `message_ids`). Only letters to complainants or other parties count, never a
    /// notice to a handler (its bounce must not start another notice, and so on). The letter
    /// is marked `returned`, and the deadline it met (acknowledgement or progress notice) is
    /// open again. Returns the letter's kind, or `None` if no such letter was found.
    pub async fn letter_returned(&self, case_id: i64, message_ids: &[String]) -> Result<Option<String>> {
        let mut tx = self.begin().await?;
        for id in message_ids {
            let row = sqlx::query(
                "SELECT id, kind FROM outbox WHERE case_id = $1 AND message_id = $2 AND status = 'sent'
                 AND kind IN ('acknowledgement', 'progress', 'request-info', 'response')",
            )
            .bind(case_id)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(row) = row else { continue };
            let (outbox_id, kind): (i64, String) = (row.get(0), row.get(1));
            sqlx::query("UPDATE outbox SET status = 'returned' WHERE id = $1").bind(outbox_id).execute(&mut *tx).await?;
            let reopened = match kind.as_str() {
                "acknowledgement" => Some("UPDATE cases SET acknowledged_at = NULL WHERE id = $1"),
                "progress" => Some("UPDATE cases SET progress_sent_at = NULL WHERE id = $1"),
                _ => None,
            };
            if let Some(sql) = reopened {
                sqlx::query(sql).bind(case_id).execute(&mut *tx).await?;
            }
            insert_event(&mut tx, case_id, "klachtd", "letter-returned", &kind).await?;
            tx.commit().await?;
            return Ok(Some(kind));
        }
        tx.rollback().await?;
        Ok(None)
    }

    /// Takes or renews the lease on `folder` for `holder`: granted when nobody holds it, the
    /// holder renews it, or the last holder's lease ran out. One statement, so of two instances
    /// asking at once one wins.
    pub async fn hold_mailbox(&self, folder: &str, holder: &str, lease: Duration) -> Result<bool> {
        let t = now();
        let n = sqlx::query(
            "INSERT INTO mailbox_leases (folder, holder, held_until) VALUES ($1, $2, $3)
             ON CONFLICT (folder) DO UPDATE SET holder = excluded.holder, held_until = excluded.held_until
             WHERE mailbox_leases.holder = excluded.holder OR mailbox_leases.held_until < $4",
        )
        .bind(folder)
        .bind(holder)
        .bind(t + lease.as_secs() as i64)
        .bind(t)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Who holds the lease on `folder`, if anyone.
    pub async fn mailbox_holder(&self, folder: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar("SELECT holder FROM mailbox_leases WHERE folder = $1").bind(folder).fetch_optional(&self.pool).await?)
    }

    /// Takes the lease from `old` (known to be gone), if it still holds it.
    pub async fn take_over_mailbox(&self, folder: &str, old: &str, holder: &str, lease: Duration) -> Result<bool> {
        let n = sqlx::query("UPDATE mailbox_leases SET holder = $1, held_until = $2 WHERE folder = $3 AND holder = $4")
            .bind(holder)
            .bind(now() + lease.as_secs() as i64)
            .bind(folder)
            .bind(old)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    /// Gives the lease up (at shutdown), so another instance takes over at once.
    pub async fn release_mailbox(&self, folder: &str, holder: &str) -> Result<()> {
        sqlx::query("DELETE FROM mailbox_leases WHERE folder = $1 AND holder = $2").bind(folder).bind(holder).execute(&self.pool).await?;
        Ok(())
    }

    /// What to append to a SELECT that reads a row the transaction will change: PostgreSQL locks
    /// it (`FOR UPDATE`); SQLite's `BEGIN IMMEDIATE` has already serialised all writers.
    fn row_lock(&self) -> &'static str {
        match self.backend {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        }
    }

    pub async fn case_link(&self, reference: &str) -> Result<Option<CaseLink>> {
        let row = sqlx::query("SELECT id, reference, status FROM cases WHERE reference = $1").bind(reference).fetch_optional(&self.pool).await?;
        Ok(row.as_ref().map(link_from_row))
    }

    /// Number of automatic mails queued for `recipient` since `since` (the loop guard).
    pub async fn auto_replies_since(&self, recipient: &str, since: i64) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE recipient = $1 AND created_at >= $2 AND status <> 'suppressed'")
            .bind(recipient)
            .bind(since)
            .fetch_one(&self.pool)
            .await?)
    }

    /// Registers a new case with its first message, attachments and acknowledgement, in one
    /// transaction. `compose` gets the new reference and returns the acknowledgement to queue.
    pub async fn register_case(
        &self,
        case: &NewCase,
        message: &MessageRecord,
        attachments: &[AttachmentRecord],
        compose: impl FnOnce(&str) -> Option<OutgoingMail>,
    ) -> Result<Registration> {
        let mut tx = self.begin().await?;
        let counter = format!("case-{}", chrono::Datelike::year(&case.received_on));
        let year = chrono::Datelike::year(&case.received_on);
        sqlx::query("INSERT INTO counters (name, value) VALUES ($1, 0) ON CONFLICT (name) DO NOTHING").bind(&counter).execute(&mut *tx).await?;
        let number: i64 =
            sqlx::query_scalar("UPDATE counters SET value = value + 1 WHERE name = $1 RETURNING value").bind(&counter).fetch_one(&mut *tx).await?;
        let reference = crate::domain::reference::CaseRef::new(&self.reference_prefix, year, number as u32).to_string();
        let created = now();
        let case_id: i64 = sqlx::query_scalar(
            "INSERT INTO cases (reference, status, source, complainant_name, complainant_email, reply_to_name, reply_to_email,
                                postal_address, subject, description, incomplete, received_on, received_at, acknowledge_by,
                                progress_by, respond_by, created_at, forwarded_sender, forwarded_date)
             VALUES ($1, 'open', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) RETURNING id",
        )
        .bind(&reference)
        .bind(case.source)
        .bind(case.complainant_name.clone())
        .bind(case.complainant_email.clone())
        .bind(case.reply_to_name.clone())
        .bind(case.reply_to_email.clone())
        .bind(case.postal_address.clone())
        .bind(&case.subject)
        .bind(&case.description)
        .bind(case.incomplete.join(","))
        .bind(case.received_on.to_string())
        .bind(case.received_at)
        .bind(case.acknowledge_by.to_string())
        .bind(case.progress_by.to_string())
        .bind(case.respond_by.to_string())
        .bind(created)
        .bind(case.forwarded.as_ref().and_then(|f| f.sender()))
        .bind(case.forwarded.as_ref().and_then(|f| f.date.clone()))
        .fetch_one(&mut *tx)
        .await?;

        let inserted = insert_message(&mut tx, Some(case_id), message, attachments).await;
        match inserted {
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                tx.rollback().await?;
                return Ok(Registration::Duplicate);
            }
            other => other?,
        };
        insert_event(&mut tx, case_id, "klachtd", "registered", &format!("source={}", case.source)).await?;
        auto_assign(&mut tx, case_id, case).await?;
        if let Some(mail) = compose(&reference) {
            insert_outbox(&mut tx, Some(case_id), &mail).await?;
            insert_event(&mut tx, case_id, "klachtd", "acknowledgement-queued", mail.status).await?;
        }
        tx.commit().await?;
        Ok(Registration::Registered { case_id, reference })
    }

    /// Records a mail that is not a new complaint: a follow-up, or automated or own mail,
    /// attached to `case_id` when it refers to a case. Returns false if it was known already.
    pub async fn record_message(&self, case_id: Option<i64>, message: &MessageRecord, attachments: &[AttachmentRecord]) -> Result<bool> {
        let mut tx = self.begin().await?;
        match insert_message(&mut tx, case_id, message, attachments).await {
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                tx.rollback().await?;
                return Ok(false);
            }
            other => other?,
        };
        if let Some(case_id) = case_id {
            insert_event(&mut tx, case_id, "klachtd", &format!("message-{}", message.kind), &message.note).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    pub async fn record_quarantine(&self, folder: &str, uidvalidity: u32, uid: u32, dedupe_key: Option<&str>, reason: &str) -> Result<()> {
        sqlx::query("INSERT INTO quarantine (folder, uidvalidity, uid, dedupe_key, reason, at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(folder)
            .bind(uidvalidity as i64)
            .bind(uid as i64)
            .bind(dedupe_key.map(str::to_string))
            .bind(reason)
            .bind(now())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn quarantined(&self) -> Result<Vec<(i64, u32, String)>> {
        let rows = sqlx::query("SELECT at, uid, reason FROM quarantine ORDER BY id").fetch_all(&self.pool).await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get::<i64, _>(1) as u32, r.get(2))).collect())
    }

    // ---- outbox ------------------------------------------------------------------------

    /// Claims the next due outgoing mail for `lease` (one of [`claim_outbox_batch`](Self::claim_outbox_batch)).
    pub async fn claim_outbox(&self, worker: &str, lease: Duration, which: Claim) -> Result<Option<OutboxItem>> {
        Ok(self.claim_outbox_batch(worker, lease, which, 1).await?.into_iter().next())
    }

    /// Outgoing mail `id`, if it is still pending.
    pub async fn pending_outbox_item(&self, id: i64) -> Result<Option<OutboxItem>> {
        let row = sqlx::query(
            "SELECT id, case_id, kind, recipient, recipient_name, subject, body, message_id, in_reply_to, refs, attempts FROM outbox WHERE id = $1 AND status = 'pending'",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(outbox_item))
    }

    /// Records the SMTP server's acceptance. For an acknowledgement this also meets the
    /// case's acknowledgement deadline.
    pub async fn outbox_sent(&self, item: &OutboxItem, smtp_reply: &str) -> Result<()> {
        self.outbox_sent_many(&[Sent { item: item.clone(), reply: smtp_reply.to_string(), at: now() }]).await
    }

    /// Records several acceptances in one transaction (the outbox records a run of mails
    /// together; each was noted in its journal the moment it was accepted).
    pub async fn outbox_sent_many(&self, sent: &[Sent]) -> Result<()> {
        let mut tx = self.begin().await?;
        for Sent { item, reply, at } in sent {
            record_sent(&mut tx, item, reply, *at).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Claims up to `limit` due outgoing mails for `lease`, in one statement: of two claimants
    /// asking at once each row goes to one (the UPDATE re-checks the lease of every row).
    pub async fn claim_outbox_batch(&self, worker: &str, lease: Duration, which: Claim, limit: u32) -> Result<Vec<OutboxItem>> {
        // The same statement twice over, as sqlx takes only literal SQL.
        let sql = match which {
            Claim::Any => {
                "UPDATE outbox SET claimed_until = $1, claimed_by = $2, attempts = attempts + 1
                 WHERE id IN (SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= $3 AND claimed_until <= $3 ORDER BY next_attempt_at, id LIMIT $4)
                   AND status = 'pending' AND claimed_until <= $3 RETURNING id"
            }
            Claim::ExceptReminders => {
                "UPDATE outbox SET claimed_until = $1, claimed_by = $2, attempts = attempts + 1
                 WHERE id IN (SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= $3 AND claimed_until <= $3 AND kind NOT IN ('reminder', 'escalation')
                              ORDER BY next_attempt_at, id LIMIT $4)
                   AND status = 'pending' AND claimed_until <= $3 RETURNING id"
            }
        };
        let due = match which {
            Claim::Any => "SELECT COUNT(*) FROM outbox WHERE status = 'pending' AND next_attempt_at <= $1 AND claimed_until <= $1",
            Claim::ExceptReminders => {
                "SELECT COUNT(*) FROM outbox WHERE status = 'pending' AND next_attempt_at <= $1 AND claimed_until <= $1 AND kind NOT IN ('reminder', 'escalation')"
            }
        };
        // A claimant that loses every row to another one at the same moment asks again while
        // due mail is left, rather than take the queue for empty.
        for _ in 0..5 {
            let t = now();
            let ids: Vec<i64> =
                sqlx::query_scalar(sql).bind(t + lease.as_secs() as i64).bind(worker).bind(t).bind(i64::from(limit)).fetch_all(&self.pool).await?;
            if !ids.is_empty() {
                let mut items = Vec::with_capacity(ids.len());
                for id in ids {
                    items.extend(self.pending_outbox_item(id).await?);
                }
                items.sort_by_key(|item| item.id);
                return Ok(items);
            }
            let left: i64 = sqlx::query_scalar(due).bind(t).fetch_one(&self.pool).await?;
            if left == 0 {
                break;
            }
        }
        Ok(Vec::new())
    }

    /// Gives claimed mails back unsent (the worker stops early), without counting an attempt.
    pub async fn release_claims(&self, worker: &str, ids: &[i64]) -> Result<()> {
        for id in ids {
            sqlx::query("UPDATE outbox SET claimed_until = 0, attempts = attempts - 1 WHERE id = $1 AND claimed_by = $2 AND status = 'pending'")
                .bind(id)
                .bind(worker)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    /// Records a failed attempt; the mail stays pending and is tried again at `retry_at`.
    pub async fn outbox_failed(&self, item: &OutboxItem, error: &str, retry_at: i64) -> Result<()> {
        sqlx::query("UPDATE outbox SET last_error = $1, next_attempt_at = $2, claimed_until = 0 WHERE id = $3")
            .bind(error)
            .bind(retry_at)
            .bind(item.id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Ends the attempts at a mail the SMTP server refused for good (a 5xx) or that cannot be
    /// built: it becomes `undeliverable`, which is neither backlog nor sent, so the deadline it
    /// would have met stays open. `notice` (to the case's handler) is queued in the same
    /// transaction, so a crash cannot mark the letter and lose the notice.
    pub async fn outbox_undeliverable(&self, item: &OutboxItem, error: &str, notice: Option<&OutgoingMail>) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE outbox SET status = 'undeliverable', last_error = $1, claimed_until = 0 WHERE id = $2 AND status = 'pending'")
            .bind(error)
            .bind(item.id)
            .execute(&mut *tx)
            .await?;
        if let Some(case_id) = item.case_id {
            insert_event(&mut tx, case_id, "klachtd", "letter-undeliverable", &item.mail.kind).await?;
            if let Some(mail) = notice {
                insert_outbox(&mut tx, Some(case_id), mail).await?;
                insert_event(&mut tx, case_id, "klachtd", "handler-notified", "a letter could not be delivered").await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Puts undeliverable mail back in the queue, after its cause was fixed (a smart host whose
    /// 5xx was really temporary, a corrected address): all of it, or that of the cases named.
    /// Returns how many mails were queued again.
    pub async fn retry_undeliverable(&self, references: &[String], actor: &str) -> Result<u64> {
        let mut tx = self.begin().await?;
        let ids: Vec<(i64, Option<i64>)> = if references.is_empty() {
            sqlx::query_as("SELECT id, case_id FROM outbox WHERE status = 'undeliverable' ORDER BY id").fetch_all(&mut *tx).await?
        } else {
            let mut ids = Vec::new();
            for reference in references {
                let case_id: i64 = sqlx::query_scalar("SELECT id FROM cases WHERE reference = $1")
                    .bind(reference)
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or_else(|| StoreError::UnknownCase(reference.clone()))?;
                ids.extend(
                    sqlx::query_as::<_, (i64, Option<i64>)>("SELECT id, case_id FROM outbox WHERE status = 'undeliverable' AND case_id = $1 ORDER BY id")
                        .bind(case_id)
                        .fetch_all(&mut *tx)
                        .await?,
                );
            }
            ids
        };
        for (id, case_id) in &ids {
            sqlx::query("UPDATE outbox SET status = 'pending', next_attempt_at = $1, claimed_until = 0 WHERE id = $2")
                .bind(now())
                .bind(id)
                .execute(&mut *tx)
                .await?;
            if let Some(case_id) = case_id {
                insert_event(&mut tx, *case_id, actor, "letter-queued-again", "").await?;
            }
        }
        tx.commit().await?;
        Ok(ids.len() as u64)
    }

    /// The reference of a case by its row id.
    pub async fn case_reference(&self, case_id: i64) -> Result<String> {
        Ok(sqlx::query_scalar("SELECT reference FROM cases WHERE id = $1").bind(case_id).fetch_one(&self.pool).await?)
    }

    /// Releases the acknowledgement of a case that was held (mail found in the mailbox before
    /// klachtd took over) or suppressed (the per-sender limit), so it is sent; `actor` (who
    /// released it) goes into the history. Nothing is released once the case's acknowledgement
    /// was sent or recorded. Returns how many mails were released.
    pub async fn release_held(&self, reference: &str, actor: &str) -> Result<u64> {
        let link = self.case_link(reference).await?.ok_or_else(|| StoreError::UnknownCase(reference.into()))?;
        let mut tx = self.begin().await?;
        let n = sqlx::query(
            "UPDATE outbox SET status = 'pending', next_attempt_at = $1
             WHERE case_id = $2 AND (status = 'held' OR (status = 'suppressed' AND kind = 'acknowledgement'))
               AND NOT EXISTS (SELECT 1 FROM cases c WHERE c.id = $2 AND c.acknowledged_at IS NOT NULL)",
        )
        .bind(now())
        .bind(link.id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n > 0 {
            insert_event(&mut tx, link.id, actor, "acknowledgement-released", "").await?;
        }
        tx.commit().await?;
        Ok(n)
    }

    /// The figures of `klachtd status`.
    pub async fn status(&self, inbox: &str, today: NaiveDate) -> Result<Status> {
        let last_sync_at: Option<i64> =
            sqlx::query_scalar("SELECT last_sync_at FROM mailbox_state WHERE folder = $1").bind(inbox).fetch_optional(&self.pool).await?.flatten();
        let counts = self.outbox_counts().await?;
        let count = |s: &str| counts.iter().find(|(k, _)| k == s).map_or(0, |(_, n)| *n);
        let oldest_unsent_at: Option<i64> = sqlx::query_scalar("SELECT MIN(created_at) FROM outbox WHERE status = 'pending'").fetch_one(&self.pool).await?;
        let today = today.to_string();
        let scalar = |sql: &'static str| {
            let today = today.clone();
            async move { sqlx::query_scalar::<_, i64>(sql).bind(today).fetch_one(&self.pool).await }
        };
        Ok(Status {
            last_sync_at,
            outbox_pending: count("pending"),
            outbox_held: count("held"),
            outbox_suppressed: count("suppressed"),
            outbox_undeliverable: count("undeliverable"),
            oldest_unsent_at,
            open_cases: sqlx::query_scalar("SELECT COUNT(*) FROM cases WHERE status = 'open'").fetch_one(&self.pool).await?,
            acknowledgement_overdue: scalar("SELECT COUNT(*) FROM cases WHERE status = 'open' AND acknowledged_at IS NULL AND acknowledge_by < $1").await?,
            progress_due: scalar("SELECT COUNT(*) FROM cases WHERE status = 'open' AND progress_sent_at IS NULL AND progress_by <= $1").await?,
            response_due: scalar("SELECT COUNT(*) FROM cases WHERE status = 'open' AND respond_by <= $1").await?,
            quarantined: sqlx::query_scalar("SELECT COUNT(*) FROM quarantine").fetch_one(&self.pool).await?,
        })
    }

    pub async fn cases_received_on(&self, day: NaiveDate) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM cases WHERE received_on = $1").bind(day.to_string()).fetch_one(&self.pool).await?)
    }

    pub async fn outbox_counts(&self) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query("SELECT status, COUNT(*) FROM outbox GROUP BY status ORDER BY status").fetch_all(&self.pool).await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    // ---- looking at cases --------------------------------------------------------------

    pub async fn list_cases(&self) -> Result<Vec<CaseSummary>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("{SUMMARY_SELECT} ORDER BY c.id"))).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(summary_from_row).collect())
    }

    /// The cases that `filter` lets through, oldest first, as the database hands them out.
    pub fn cases_matching<'a>(&'a self, filter: &'a CaseFilter) -> futures::stream::BoxStream<'a, Result<CaseSummary>> {
        use futures::StreamExt;
        // Open deadlines are dates as text (YYYY-MM-DD), which compare as dates.
        let sql = format!(
            "{SUMMARY_SELECT} WHERE ($1 = 0 OR c.status = 'open')
               AND ($2 = '' OR c.handler_id IN (SELECT h.id FROM handlers h WHERE h.name = $2))
               AND ($3 = '' OR (c.status = 'open' AND ((c.acknowledged_at IS NULL AND c.acknowledge_by <= $3)
                                                     OR (c.progress_sent_at IS NULL AND c.progress_by <= $3)
                                                     OR (c.responded_at IS NULL AND c.respond_by <= $3))))
             ORDER BY c.id LIMIT $4"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(i64::from(filter.open_only))
            .bind(filter.handler.clone().unwrap_or_default())
            .bind(filter.due_by.map(|d| d.to_string()).unwrap_or_default())
            .bind(filter.limit.map_or(i64::MAX, i64::from))
            .fetch(&self.pool)
            .map(|row| Ok(summary_from_row(&row?)))
            .boxed()
    }

    pub async fn case_detail(&self, reference: &str) -> Result<CaseDetail> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("{SUMMARY_SELECT} WHERE c.reference = $1")))
            .bind(reference)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::UnknownCase(reference.into()))?;
        let summary = summary_from_row(&row);
        let case_id: i64 = row.get("id");
        let description: String = row.get("description");
        let (forwarded_sender, forwarded_date): (Option<String>, Option<String>) = (row.get("forwarded_sender"), row.get("forwarded_date"));
        let message_list = sqlx::query("SELECT direction, kind, from_address, subject, received_at, note FROM messages WHERE case_id = $1 ORDER BY id")
            .bind(case_id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| CaseMessage { direction: r.get(0), kind: r.get(1), from_address: r.get(2), subject: r.get(3), received_at: r.get(4), note: r.get(5) })
            .collect();
        let attachment_list = sqlx::query("SELECT filename, content_type, size, sha256, role FROM attachments WHERE case_id = $1 ORDER BY id")
            .bind(case_id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| CaseAttachment { filename: r.get(0), content_type: r.get(1), size: r.get(2), sha256: r.get(3), role: r.get(4) })
            .collect();
        let history = sqlx::query("SELECT at, actor, action, detail FROM case_events WHERE case_id = $1 ORDER BY id")
            .bind(case_id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| CaseEvent { at: r.get(0), actor: r.get(1), action: r.get(2), detail: r.get(3) })
            .collect();
        Ok(CaseDetail { summary, description, forwarded_sender, forwarded_date, message_list, attachment_list, history })
    }

    /// Raw bytes of every message of a case, oldest first (for export and tests).
    pub async fn raw_messages(&self, reference: &str) -> Result<Vec<Vec<u8>>> {
        let rows = sqlx::query("SELECT m.raw FROM messages m JOIN cases c ON c.id = m.case_id WHERE c.reference = $1 AND m.raw IS NOT NULL ORDER BY m.id")
            .bind(reference)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// The files (SHA-256) of a case's large raw mails, kept outside the database.
    pub async fn raw_files(&self, reference: &str) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT m.raw_file FROM messages m JOIN cases c ON c.id = m.case_id WHERE c.reference = $1 AND m.raw_file IS NOT NULL ORDER BY m.id",
        )
        .bind(reference)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn count(&self, table: Table) -> Result<i64> {
        let sql = match table {
            Table::Cases => "SELECT COUNT(*) FROM cases",
            Table::Messages => "SELECT COUNT(*) FROM messages",
            Table::Outbox => "SELECT COUNT(*) FROM outbox",
        };
        Ok(sqlx::query_scalar(sql).fetch_one(&self.pool).await?)
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Status {
    pub last_sync_at: Option<i64>,
    pub outbox_pending: i64,
    pub outbox_held: i64,
    pub outbox_suppressed: i64,
    /// Refused for good by the SMTP server; not backlog (the handler was told).
    pub outbox_undeliverable: i64,
    pub oldest_unsent_at: Option<i64>,
    pub open_cases: i64,
    pub acknowledgement_overdue: i64,
    pub progress_due: i64,
    pub response_due: i64,
    pub quarantined: i64,
}

#[derive(Debug, Clone, Copy)]
pub enum Table {
    Cases,
    Messages,
    Outbox,
}

const SUMMARY_SELECT: &str = "SELECT c.id, c.reference, c.status, c.source, c.complainant_name, c.complainant_email, c.reply_to_email,
        c.subject, c.received_on, c.acknowledge_by, c.progress_by, c.respond_by, c.incomplete, c.acknowledged_at, c.description,
        c.supervisor_check, c.progress_sent_at, c.responded_at, (SELECT h.name FROM handlers h WHERE h.id = c.handler_id) AS handler,
        c.forwarded_sender, c.forwarded_date,
        (SELECT COUNT(*) FROM messages m WHERE m.case_id = c.id) AS n_messages,
        (SELECT COUNT(*) FROM attachments a WHERE a.case_id = c.id AND a.role = 'document') AS n_attachments,
        COALESCE((SELECT o.status FROM outbox o WHERE o.case_id = c.id AND o.kind = 'acknowledgement' ORDER BY o.id DESC LIMIT 1), 'none') AS ack_status
    FROM cases c";

fn summary_from_row(r: &AnyRow) -> CaseSummary {
    let incomplete: String = r.get("incomplete");
    CaseSummary {
        reference: r.get("reference"),
        status: r.get("status"),
        source: r.get("source"),
        complainant_name: r.get("complainant_name"),
        complainant_email: r.get("complainant_email"),
        reply_to_email: r.get("reply_to_email"),
        subject: r.get("subject"),
        received_on: r.get("received_on"),
        acknowledge_by: r.get("acknowledge_by"),
        progress_by: r.get("progress_by"),
        respond_by: r.get("respond_by"),
        incomplete: incomplete.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect(),
        messages: r.get("n_messages"),
        attachments: r.get("n_attachments"),
        acknowledgement: r.get("ack_status"),
        acknowledged_at: r.get("acknowledged_at"),
        handler: r.get("handler"),
        supervisor_check: r.get("supervisor_check"),
        progress_sent_at: r.get("progress_sent_at"),
        responded_at: r.get("responded_at"),
    }
}

fn link_from_row(r: &AnyRow) -> CaseLink {
    CaseLink { id: r.get(0), reference: r.get(1), status: r.get(2) }
}

/// Assigns a new case (R5): the preferred handler or round-robin, skipping any handler the
/// complaint names; a named handler also flags the case for a supervisor.
async fn auto_assign(tx: &mut sqlx::Transaction<'static, sqlx::Any>, case_id: i64, case: &NewCase) -> Result<(), sqlx::Error> {
    use crate::domain::assignment::{named_in, pick, Candidate};
    let candidates: Vec<Candidate> = sqlx::query("SELECT id, name, supervisor, last_assigned_at FROM handlers WHERE active = 1")
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|r| Candidate { id: r.get(0), name: r.get(1), supervisor: r.get::<i64, _>(2) != 0, last_assigned_at: r.get(3) })
        .collect();
    let text = format!("{}\n{}", case.subject, case.description);
    let named = named_in(&text, candidates.iter().map(|c| c.name.as_str()));
    if !named.is_empty() {
        sqlx::query("UPDATE cases SET supervisor_check = $1 WHERE id = $2").bind(named.join(", ")).bind(case_id).execute(&mut **tx).await?;
        insert_event(tx, case_id, "klachtd", "supervisor-check", &format!("the complaint names {}", named.join(", "))).await?;
    }
    let preferred = case.preferred_handler.as_ref().and_then(|p| candidates.iter().find(|c| c.name == *p && !named.contains(&c.name)));
    let Some(chosen) = preferred.or_else(|| pick(&candidates, &named)) else {
        return Ok(());
    };
    sqlx::query("UPDATE cases SET handler_id = $1 WHERE id = $2").bind(chosen.id).bind(case_id).execute(&mut **tx).await?;
    sqlx::query("UPDATE handlers SET last_assigned_at = $1 WHERE id = $2")
        .bind(now().max(chosen.last_assigned_at + 1))
        .bind(chosen.id)
        .execute(&mut **tx)
        .await?;
    insert_event(tx, case_id, "klachtd", "assigned", &format!("{} (automatic)", chosen.name)).await
}

async fn insert_message(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    case_id: Option<i64>,
    m: &MessageRecord,
    attachments: &[AttachmentRecord],
) -> Result<i64, sqlx::Error> {
    // A mail that waited in quarantine is recorded for good when a handler releases it: its
    // quarantine record (same key, kept only for that) gives way in the same transaction.
    if let Some(key) = &m.dedupe_key {
        sqlx::query("DELETE FROM messages WHERE dedupe_key = $1 AND kind = 'quarantined' AND case_id IS NULL").bind(key).execute(&mut **tx).await?;
    }
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO messages (case_id, direction, kind, dedupe_key, message_id, from_address, subject, body, raw, note, received_at, raw_file)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
    )
    .bind(case_id)
    .bind(m.direction)
    .bind(&m.kind)
    .bind(m.dedupe_key.clone())
    .bind(m.message_id.clone())
    .bind(m.from_address.clone())
    .bind(&m.subject)
    .bind(&m.body)
    .bind(m.raw.as_deref())
    .bind(&m.note)
    .bind(m.received_at)
    .bind(m.raw_file.as_deref())
    .fetch_one(&mut **tx)
    .await?;
    for a in attachments {
        sqlx::query("INSERT INTO attachments (message_id, case_id, filename, content_type, size, sha256, role) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(id)
            .bind(case_id)
            .bind(&a.filename)
            .bind(&a.content_type)
            .bind(a.size)
            .bind(&a.sha256)
            .bind(a.role)
            .execute(&mut **tx)
            .await?;
    }
    Ok(id)
}

/// Which cases `cases list` shows; the default is all.
#[derive(Debug, Default, Clone)]
pub struct CaseFilter {
    pub open_only: bool,
    /// The name of the responsible handler.
    pub handler: Option<String>,
    /// Open cases with a deadline not yet met on or before this day.
    pub due_by: Option<NaiveDate>,
    pub limit: Option<u32>,
}

/// A mail the SMTP server accepted, with its reply and when (Unix seconds).
#[derive(Debug, Clone)]
pub struct Sent {
    pub item: OutboxItem,
    pub reply: String,
    pub at: i64,
}

fn outbox_item(row: &AnyRow) -> OutboxItem {
    OutboxItem {
        id: row.get(0),
        case_id: row.get(1),
        attempts: row.get(10),
        mail: OutgoingMail {
            kind: row.get(2),
            recipient: row.get(3),
            recipient_name: row.get(4),
            subject: row.get(5),
            body: row.get(6),
            message_id: row.get(7),
            in_reply_to: row.get(8),
            references: row.get::<String, _>(9).split_whitespace().map(str::to_string).collect(),
            status: "pending",
        },
    }
}

/// Records the SMTP server's acceptance of `item` at `t`. For a letter this also meets the
/// deadline it answers.
async fn record_sent(tx: &mut sqlx::Transaction<'static, sqlx::Any>, item: &OutboxItem, smtp_reply: &str, t: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE outbox SET status = 'sent', sent_at = $1, smtp_reply = $2, last_error = NULL WHERE id = $3")
        .bind(t)
        .bind(smtp_reply)
        .bind(item.id)
        .execute(&mut **tx)
        .await?;
    if let Some(case_id) = item.case_id {
        // The deadline a letter answers is met when the server accepts it.
        let met = match item.mail.kind.as_str() {
            "acknowledgement" => Some("UPDATE cases SET acknowledged_at = $1 WHERE id = $2 AND acknowledged_at IS NULL"),
            "progress" => Some("UPDATE cases SET progress_sent_at = $1 WHERE id = $2 AND progress_sent_at IS NULL"),
            // Only a response to a closed case with no later response still to go (reopened cases).
            "response" => Some("UPDATE cases SET responded_at = $1 WHERE id = $2 AND responded_at IS NULL AND status = 'closed' AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.case_id = $2 AND o.kind = 'response' AND o.status = 'pending')"),
            _ => None,
        };
        if let Some(sql) = met {
            sqlx::query(sql).bind(t).bind(case_id).execute(&mut **tx).await?;
        }
        insert_event(tx, case_id, "klachtd", &format!("{}-sent", item.mail.kind), "").await?;
    }
    // A digest belongs to no one case: each case it lists records that its reminder went out.
    let listed =
        sqlx::query("SELECT case_id, deadline, due_key, recipient FROM reminders WHERE outbox_id = $1 ORDER BY id").bind(item.id).fetch_all(&mut **tx).await?;
    for r in &listed {
        let (case_id, deadline, due_key, recipient): (i64, String, String, String) = (r.get(0), r.get(1), r.get(2), r.get(3));
        insert_event(tx, case_id, "klachtd", &format!("{}-sent", item.mail.kind), &format!("{deadline} {due_key} to {recipient}")).await?;
    }
    Ok(())
}

async fn insert_outbox(tx: &mut sqlx::Transaction<'static, sqlx::Any>, case_id: Option<i64>, mail: &OutgoingMail) -> Result<i64, sqlx::Error> {
    let t = now();
    sqlx::query_scalar(
        "INSERT INTO outbox (case_id, kind, recipient, recipient_name, subject, body, message_id, in_reply_to, refs, status, next_attempt_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
    )
    .bind(case_id)
    .bind(&mail.kind)
    .bind(&mail.recipient)
    .bind(mail.recipient_name.clone())
    .bind(&mail.subject)
    .bind(&mail.body)
    .bind(&mail.message_id)
    .bind(mail.in_reply_to.clone())
    .bind(mail.references.join(" "))
    .bind(mail.status)
    .bind(t)
    .bind(t)
    .fetch_one(&mut **tx)
    .await
}

async fn insert_event(tx: &mut sqlx::Transaction<'static, sqlx::Any>, case_id: i64, actor: &str, action: &str, detail: &str) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO case_events (case_id, at, actor, action, detail) VALUES ($1, $2, $3, $4, $5)")
        .bind(case_id)
        .bind(now())
        .bind(actor)
        .bind(action)
        .bind(detail)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Creates the SQLite database file (and its directory) readable by the owner only, before
/// SQLite would create it with the process umask.
/// The file of a `sqlite:` URL; `None` for an in-memory database.
fn sqlite_path(url: &str) -> Option<&std::path::Path> {
    let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or("");
    (!path.is_empty() && path != ":memory:").then(|| std::path::Path::new(path))
}

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
pub mod corrections;
mod handlers;
mod mail_classes;
mod register;
mod reminders;
pub mod web;
pub use actions::{LetterCase, LetterEffect, MailOrigin, Refused};
pub use handlers::Handler;
pub use mail_classes::QuarantinedMail;
pub use reminders::{CaseDeadlines, ClaimedReminder, ReminderClaim};

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}
