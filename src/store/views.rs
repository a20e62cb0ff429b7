//! Read-only views for the command line, the metrics and the web workspace: the status line,
//! case summaries (filtered and streamed), one case in full, and counts.

use chrono::NaiveDate;
use sqlx::any::AnyRow;
use sqlx::{FromRow, Row};

use super::json_lists::{decode, json_list};
use super::{day_column, Backend, CaseDetail, CaseSummary, OutboxStatus, Result, Store, StoreError};
use crate::domain::reference::CaseRef;

#[derive(Debug, Clone, serde::Serialize)]
pub struct Status {
    /// The last sync of the mailbox synced longest ago (of several, the one to worry about);
    /// `None` while any has never been synced.
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

/// Which cases `cases list` shows; the default is all.
#[derive(Debug, Default, Clone)]
pub struct CaseFilter {
    pub open_only: bool,
    /// The name of the responsible handler.
    pub handler: Option<String>,
    /// Open cases with a deadline not yet met on or before this day.
    pub due_by: Option<NaiveDate>,
    pub limit: Option<u32>,
    /// Only the cases of this organisation (issue 25).
    pub organisation: Option<crate::domain::organisation::OrganisationKey>,
}

impl Store {
    /// The figures of `klachtd status`.
    /// `mailboxes`: the keys of every mailbox of the configuration (see `Status::last_sync_at`).
    pub async fn status(&self, mailboxes: &[String], today: NaiveDate) -> Result<Status> {
        let synced = self.mailbox_sync_times().await?;
        let last_sync_at = mailboxes.iter().map(|key| synced.get(key).copied()).min().flatten();
        // Mail not sent (yet): by status through the outbox's status index, never the sent
        // mail of all the years.
        let counts: Vec<(String, i64)> =
            sqlx::query_as("SELECT status, COUNT(*) FROM outbox WHERE status IN ('pending', 'held', 'suppressed', 'undeliverable') GROUP BY status")
                .fetch_all(self.reads())
                .await?;
        let count = |s: OutboxStatus| counts.iter().find(|(k, _)| k == s.as_str()).map_or(0, |(_, n)| *n);
        let oldest_unsent_at: Option<i64> = sqlx::query_scalar("SELECT MIN(created_at) FROM outbox WHERE status = 'pending'").fetch_one(self.reads()).await?;
        let today = today.to_string();
        let scalar = |sql: &'static str| {
            let today = today.clone();
            async move { sqlx::query_scalar::<_, i64>(sql).bind(today).fetch_one(self.reads()).await }
        };
        Ok(Status {
            last_sync_at,
            outbox_pending: count(OutboxStatus::Pending),
            outbox_held: count(OutboxStatus::Held),
            outbox_suppressed: count(OutboxStatus::Suppressed),
            outbox_undeliverable: count(OutboxStatus::Undeliverable),
            oldest_unsent_at,
            open_cases: sqlx::query_scalar("SELECT COUNT(*) FROM cases WHERE status = 'open'").fetch_one(self.reads()).await?,
            acknowledgement_overdue: scalar("SELECT COUNT(*) FROM cases WHERE status = 'open' AND acknowledged_at IS NULL AND acknowledge_by < $1").await?,
            progress_due: scalar("SELECT COUNT(*) FROM cases WHERE status = 'open' AND progress_sent_at IS NULL AND progress_by <= $1").await?,
            response_due: scalar("SELECT COUNT(*) FROM cases WHERE status = 'open' AND respond_by <= $1").await?,
            quarantined: sqlx::query_scalar("SELECT COUNT(*) FROM quarantine").fetch_one(self.reads()).await?,
        })
    }

    pub async fn cases_received_on(&self, day: NaiveDate) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM cases WHERE received_on = $1").bind(day.to_string()).fetch_one(self.reads()).await?)
    }

    /// Outgoing mail waiting to be sent (the daemon's status line, twice a minute).
    pub async fn outbox_pending(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE status = 'pending'").fetch_one(self.reads()).await?)
    }

    /// Outgoing mail by status, sent mail included: this counts every row of the outbox.
    pub async fn outbox_counts(&self) -> Result<Vec<(String, i64)>> {
        Ok(sqlx::query_as("SELECT status, COUNT(*) FROM outbox GROUP BY status ORDER BY status").fetch_all(self.reads()).await?)
    }

    // ---- looking at cases --------------------------------------------------------------

    pub async fn list_cases(&self) -> Result<Vec<CaseSummary>> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!("{SUMMARY_SELECT} ORDER BY c.id"))).fetch_all(self.reads()).await?)
    }

    /// The cases that `filter` lets through, oldest first, as the database hands them out.
    ///
    /// Only the conditions asked for are in the statement, so the database can walk an index
    /// of just those cases (a condition like `($1 = 0 OR c.status = 'open')` makes it read every
    /// case): open ones by status, a handler's by handler and id, and due ones through the
    /// partial indexes of unmet deadlines. The cases are read in batches by id (100, then 1,000,
    /// then 10,000 at a time): a statement with a small LIMIT is planned to return its first
    /// rows fast (PostgreSQL would otherwise sort a whole register before the first one), so
    /// the first case comes at once, however many follow. A case registered while a long list
    /// is printed may appear at its end.
    pub fn cases_matching<'a>(&'a self, filter: &'a CaseFilter) -> futures::stream::BoxStream<'a, Result<CaseSummary>> {
        use futures::StreamExt;
        let mut conditions: Vec<String> = vec!["c.id > $1".into()];
        let mut n = 1;
        let mut param = || {
            n += 1;
            format!("${n}")
        };
        // Open ones: all open cases, or those of the handler (one index on both), when a
        // handler is asked for as well.
        if filter.open_only || (filter.due_by.is_some() && filter.handler.is_some()) {
            conditions.push("c.status = 'open'".into());
        }
        if filter.handler.is_some() {
            // Names are unique: one id, or none.
            conditions.push(format!("c.handler_id = (SELECT h.id FROM handlers h WHERE h.name = {})", param()));
        }
        if filter.due_by.is_some() {
            // Open deadlines are dates as text (YYYY-MM-DD), which compare as dates. Each branch
            // names its partial index's condition, so each can use it.
            let day = param();
            conditions.push(format!(
                "((c.status = 'open' AND c.acknowledged_at IS NULL AND c.acknowledge_by <= {day})
                  OR (c.status = 'open' AND c.progress_sent_at IS NULL AND c.progress_by <= {day})
                  OR (c.status = 'open' AND c.responded_at IS NULL AND c.respond_by <= {day}))"
            ));
        }
        if filter.organisation.is_some() {
            conditions.push(format!("c.organisation = {}", param()));
        }
        let sql = format!("{SUMMARY_SELECT} WHERE {} ORDER BY c.id LIMIT {}", conditions.join(" AND "), param());
        struct Batches<'a> {
            rows: Option<futures::stream::BoxStream<'a, Result<AnyRow, sqlx::Error>>>,
            /// Rows asked for and read in the current batch.
            asked: u64,
            read: u64,
            /// The size of the next batch, the last id read, and how many the limit leaves.
            size: u64,
            after: i64,
            left: u64,
        }
        let start = Batches { rows: None, asked: 0, read: 0, size: 100, after: i64::MIN, left: filter.limit.map_or(u64::MAX, u64::from) };
        futures::stream::try_unfold(start, move |mut b| {
            let sql = sql.clone();
            async move {
                loop {
                    if let Some(rows) = &mut b.rows {
                        if let Some(row) = rows.next().await.transpose()? {
                            b.read += 1;
                            b.left -= 1;
                            b.after = row.try_get("id")?;
                            return Ok(Some((CaseSummary::from_row(&row)?, b)));
                        }
                        b.rows = None;
                        if b.read < b.asked {
                            return Ok(None);
                        }
                    }
                    if b.left == 0 {
                        return Ok(None);
                    }
                    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.clone())).bind(b.after);
                    if let Some(handler) = &filter.handler {
                        query = query.bind(handler.clone());
                    }
                    if let Some(day) = filter.due_by {
                        query = query.bind(day.to_string());
                    }
                    if let Some(organisation) = &filter.organisation {
                        query = query.bind(organisation.as_str().to_string());
                    }
                    b.asked = b.size.min(b.left);
                    b.read = 0;
                    b.size = (b.size * 10).min(10_000);
                    b.rows = Some(query.bind(b.asked as i64).fetch(self.reads()));
                }
            }
        })
        .boxed()
    }

    pub async fn case_detail(&self, reference: &CaseRef) -> Result<CaseDetail> {
        let row = sqlx::query(sqlx::AssertSqlSafe(detail_select(self.backend, ""))).bind(reference).fetch_optional(self.reads()).await?;
        detail_from_row(&row.ok_or_else(|| StoreError::UnknownCase(reference.clone()))?)
    }

    /// Raw bytes of every message of a case, oldest first (for export and tests).
    pub async fn raw_messages(&self, reference: &CaseRef) -> Result<Vec<Vec<u8>>> {
        Ok(sqlx::query_scalar("SELECT m.raw FROM messages m JOIN cases c ON c.id = m.case_id WHERE c.reference = $1 AND m.raw IS NOT NULL ORDER BY m.id")
            .bind(reference)
            .fetch_all(self.reads())
            .await?)
    }

    /// The files (SHA-256) of a case's large raw mails, kept outside the database.
    pub async fn raw_files(&self, reference: &CaseRef) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT m.raw_file FROM messages m JOIN cases c ON c.id = m.case_id WHERE c.reference = $1 AND m.raw_file IS NOT NULL ORDER BY m.id",
        )
        .bind(reference)
        .fetch_all(self.reads())
        .await?)
    }

    pub async fn count(&self, table: Table) -> Result<i64> {
        let sql = match table {
            Table::Cases => "SELECT COUNT(*) FROM cases",
            Table::Messages => "SELECT COUNT(*) FROM messages",
            Table::Outbox => "SELECT COUNT(*) FROM outbox",
        };
        Ok(sqlx::query_scalar(sql).fetch_one(self.reads()).await?)
    }
}

/// The columns of a [`CaseSummary`] (not the complaint's text: a list of fifty has no use for it).
macro_rules! summary_columns {
    () => {
        "c.id, c.reference, c.status, c.source, c.complainant_name, c.complainant_email, c.reply_to_email,
        c.subject, c.received_on, c.acknowledge_by, c.progress_by, c.respond_by, c.incomplete, c.acknowledged_at,
        c.supervisor_check, c.progress_sent_at, c.responded_at, (SELECT h.name FROM handlers h WHERE h.id = c.handler_id) AS handler,
        c.procedure_terms,
        (SELECT COUNT(*) FROM messages m WHERE m.case_id = c.id) AS n_messages,
        (SELECT COUNT(*) FROM attachments a WHERE a.case_id = c.id AND a.role = 'document') AS n_attachments,
        (SELECT o.status FROM outbox o WHERE o.case_id = c.id AND o.kind = 'acknowledgement' ORDER BY o.id DESC LIMIT 1) AS ack_status"
    };
}

pub(super) const SUMMARY_SELECT: &str = concat!("SELECT ", summary_columns!(), " FROM cases c");

/// The statement that reads a case in full by its reference (`$1`), its lists as JSON (see
/// [`json_lists`](super::json_lists)), with `more` columns (`, expression AS name`) besides.
pub(super) fn detail_select(backend: Backend, more: &str) -> String {
    let messages = json_list(
        backend,
        &[
            ("direction", "m.direction"),
            ("kind", "m.kind"),
            ("from_address", "m.from_address"),
            ("subject", "m.subject"),
            ("received_at", "m.received_at"),
            ("note", "m.note"),
        ],
        "messages m WHERE m.case_id = c.id",
        "m.id",
    );
    let attachments = json_list(
        backend,
        &[("filename", "a.filename"), ("content_type", "a.content_type"), ("size", "a.size"), ("sha256", "a.sha256"), ("role", "a.role")],
        "attachments a WHERE a.case_id = c.id",
        "a.id",
    );
    let history = json_list(
        backend,
        &[("at", "e.at"), ("actor", "e.actor"), ("action", "e.action"), ("detail", "e.detail")],
        "case_events e WHERE e.case_id = c.id",
        "e.id",
    );
    format!(
        "SELECT {}, c.description, c.forwarded_sender, c.forwarded_date, {messages} AS message_list, {attachments} AS attachment_list, {history} AS history{more}
         FROM cases c WHERE c.reference = $1",
        summary_columns!()
    )
}

/// A case in full from a row of [`detail_select`].
pub(super) fn detail_from_row(row: &AnyRow) -> Result<CaseDetail> {
    let list = |column: &str| -> Result<String> { Ok(row.try_get(column)?) };
    Ok(CaseDetail {
        summary: CaseSummary::from_row(row)?,
        description: row.try_get("description")?,
        forwarded_sender: row.try_get("forwarded_sender")?,
        forwarded_date: row.try_get("forwarded_date")?,
        message_list: decode(&list("message_list")?, "messages")?,
        attachment_list: decode(&list("attachment_list")?, "attachments")?,
        history: decode(&list("history")?, "history")?,
    })
}

impl<'r> sqlx::FromRow<'r, AnyRow> for CaseSummary {
    fn from_row(r: &'r AnyRow) -> std::result::Result<Self, sqlx::Error> {
        let incomplete: String = r.try_get("incomplete")?;
        Ok(CaseSummary {
            reference: r.try_get("reference")?,
            status: r.try_get("status")?,
            source: r.try_get("source")?,
            complainant_name: r.try_get("complainant_name")?,
            complainant_email: r.try_get("complainant_email")?,
            reply_to_email: r.try_get("reply_to_email")?,
            subject: r.try_get("subject")?,
            received_on: day_column(r, "received_on")?,
            acknowledge_by: day_column(r, "acknowledge_by")?,
            progress_by: super::optional_day_column(r, "progress_by")?,
            respond_by: day_column(r, "respond_by")?,
            incomplete: incomplete.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect(),
            messages: r.try_get("n_messages")?,
            attachments: r.try_get("n_attachments")?,
            acknowledgement: r.try_get("ack_status")?,
            acknowledged_at: r.try_get("acknowledged_at")?,
            handler: r.try_get("handler")?,
            supervisor_check: r.try_get("supervisor_check")?,
            progress_sent_at: r.try_get("progress_sent_at")?,
            responded_at: r.try_get("responded_at")?,
            procedure: r.try_get("procedure_terms")?,
        })
    }
}
