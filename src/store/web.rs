//! What the web workspace needs of the database: sign-in links and sessions (stored as SHA-256
//! hashes only), who may read which case (R9), the thread of a case, and the record of every
//! opening of a case page and every download in the case's history.

use sqlx::{FromRow as _, Row as _};

use super::json_lists::{decode, json_fields, json_list};
use super::views::{detail_from_row, detail_select};
use super::{insert_event, insert_events_at, insert_outbox, now, Backend, CaseSummary, OutgoingMail, Reader, Result, Store, StoreError, SUMMARY_SELECT};
use crate::domain::history::{Direction, HistoryEvent, MessageKind};
use crate::domain::reference::{CaseId, CaseRef};
use crate::domain::vocabulary::{MailKind, OutboxStatus};

/// A signed-in handler.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WebUser {
    pub name: String,
    pub email: String,
    pub supervisor: bool,
}

/// A live session: who, and the CSRF token of its forms.
#[derive(Debug, Clone)]
pub struct WebSession {
    pub user: WebUser,
    pub csrf: String,
}

/// One message of a case's thread as the case page shows it: mail in, and our letters out.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ThreadMessage {
    pub direction: Direction,
    pub kind: ThreadKind,
    pub address: Option<String>,
    pub subject: String,
    pub body: String,
    pub at: i64,
    /// For our letters: where the letter stands (`pending`, `sent`, `returned`, ...).
    pub status: Option<OutboxStatus>,
}

/// What a message of a thread is: mail recorded with the case, or one of our letters from the
/// outbox. Shown (and serialized) as the kind's own word: `follow-up`, `progress`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadKind {
    Message(MessageKind),
    Letter(MailKind),
}

impl ThreadKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ThreadKind::Message(kind) => kind.as_str(),
            ThreadKind::Letter(kind) => kind.as_str(),
        }
    }
}

impl serde::Serialize for ThreadKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// An attachment of a case, to download.
#[derive(Debug, Clone)]
pub struct WebAttachment {
    pub case_id: CaseId,
    pub filename: String,
    pub content_type: String,
    pub sha256: String,
}

/// An access to record in a case's history: a page opened, a download, a refusal.
#[derive(Debug, Clone)]
pub struct Access {
    pub case_id: CaseId,
    pub actor: String,
    pub action: HistoryEvent,
    pub detail: String,
}

/// The SQL condition "handler `$1` (an address) may read case `c`": they work for the case's
/// organisation (issue 25), and are a supervisor, the current handler, or a handler it was
/// assigned to before (R9). The `assigned` event's detail is the name, maybe followed by
/// " (automatic)"; compared exactly, as LIKE would read `%` and `_` in a name as wildcards and
/// ignore case on SQLite only.
pub(super) const MAY_READ: &str = "EXISTS (SELECT 1 FROM handlers h WHERE h.email = $1 AND h.active = 1
        AND EXISTS (SELECT 1 FROM handler_organisations ho WHERE ho.handler_id = h.id AND ho.organisation = c.organisation) AND (
        h.supervisor <> 0 OR h.id = c.handler_id
        OR (EXISTS (SELECT 1 FROM case_events e WHERE e.case_id = c.id AND e.action = 'assigned' AND (e.detail = h.name OR SUBSTR(e.detail, 1, LENGTH(h.name) + 2) = h.name || ' ('))
            -- never a complaint about them (R5): being its subject ends what handling it before allowed
            AND NOT EXISTS (SELECT 1 FROM case_subjects s WHERE s.case_id = c.id AND LOWER(s.name) = LOWER(h.name)))))";

/// Which of the cases a handler may read a list shows (see [`Store::cases_for`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseList {
    /// The open cases, all of them: the work at hand.
    Open,
    /// Closed cases, newest first: at most `limit` of those older than the case with id `before`.
    Closed { before: Option<i64>, limit: u32 },
}

/// Cases of a list, and where the next page of older closed cases starts (the `before` of
/// [`CaseList::Closed`]; `None`: no more).
#[derive(Debug)]
pub struct CasePage {
    pub cases: Vec<CaseSummary>,
    pub older: Option<i64>,
}

impl Store {
    /// The active handler with this address.
    pub async fn web_user(&self, email: &str) -> Result<Option<WebUser>> {
        let row: Option<(String, String, i64)> = sqlx::query_as("SELECT name, email, supervisor FROM handlers WHERE email = $1 AND active = 1")
            .bind(email.trim().to_ascii_lowercase())
            .fetch_optional(self.reads())
            .await?;
        Ok(row.map(|(name, email, supervisor)| WebUser { name, email, supervisor: supervisor != 0 }))
    }

    /// Stores a sign-in link (its hash) and queues the mail that carries it, together.
    /// `organisation`: whose address the mail comes from.
    pub async fn create_sign_in_link(
        &self,
        token_hash: &str,
        email: &str,
        browser_hash: &str,
        expires_at: i64,
        mail: &OutgoingMail,
        organisation: &str,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        // Expired links and sessions go whenever a new link is made: nothing else needs them.
        let t = now();
        // The mails of expired links lose their (useless, but secret) token too.
        super::outbox::scrub_expired_sign_in_links(&mut tx, t).await?;
        sqlx::query("DELETE FROM web_links WHERE expires_at < $1").bind(t - 86_400).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM web_sessions WHERE expires_at < $1").bind(t).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO web_links (token_hash, email, browser_hash, message_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(token_hash)
            .bind(email)
            .bind(browser_hash)
            .bind(&mail.message_id)
            .bind(t)
            .bind(expires_at)
            .execute(&mut *tx)
            .await?;
        let id = insert_outbox(&mut tx, None, mail).await?;
        super::outbox::set_outbox_organisation(&mut tx, id, organisation).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Uses a sign-in link: succeeds once, before it expires, in the browser that asked for it.
    /// Returns the address it was for. The mail that carried it loses its body (the token).
    pub async fn use_sign_in_link(&self, token_hash: &str, browser_hash: &str) -> Result<Option<String>> {
        let mut tx = self.begin().await?;
        let t = now();
        // One conditional UPDATE: of two requests with the same link, only one wins.
        let used = sqlx::query("UPDATE web_links SET used_at = $1 WHERE token_hash = $2 AND browser_hash = $3 AND used_at IS NULL AND expires_at > $1")
            .bind(t)
            .bind(token_hash)
            .bind(browser_hash)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if used != 1 {
            tx.rollback().await?;
            return Ok(None);
        }
        let (email, message_id): (String, String) =
            sqlx::query_as("SELECT email, message_id FROM web_links WHERE token_hash = $1").bind(token_hash).fetch_one(&mut *tx).await?;
        // Used, the link is worthless; still, its token does not stay in the database.
        sqlx::query("UPDATE outbox SET body = '(sign-in link used)' WHERE message_id = $1").bind(message_id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(Some(email))
    }

    pub async fn create_session(&self, token_hash: &str, email: &str, csrf: &str, expires_at: i64) -> Result<()> {
        sqlx::query("INSERT INTO web_sessions (token_hash, email, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(token_hash)
            .bind(email)
            .bind(csrf)
            .bind(now())
            .bind(expires_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The session with this hash, if it has not expired and its handler is still active.
    pub async fn web_session(&self, reader: &mut Reader, token_hash: &str) -> Result<Option<WebSession>> {
        let row: Option<(String, String, i64, String)> = sqlx::query_as(
            "SELECT h.name, h.email, h.supervisor, s.csrf FROM web_sessions s JOIN handlers h ON h.email = s.email AND h.active = 1
             WHERE s.token_hash = $1 AND s.expires_at > $2",
        )
        .bind(token_hash)
        .bind(now())
        .fetch_optional(&mut **reader)
        .await?;
        Ok(row.map(|(name, email, supervisor, csrf)| WebSession { user: WebUser { name, email, supervisor: supervisor != 0 }, csrf }))
    }

    pub async fn end_session(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM web_sessions WHERE token_hash = $1").bind(token_hash).execute(&self.pool).await?;
        Ok(())
    }

    /// The cases `user` may read: all for a supervisor (R9), else those assigned to them now or
    /// before. `assigned_now`: only those assigned to them now, read through the index of a
    /// handler's cases (not every case a supervisor may read). `list` says which: the open
    /// ones, or a page of the closed ones (a register of years would not fit one page).
    pub async fn cases_for(&self, user: &WebUser, assigned_now: bool, list: CaseList) -> Result<CasePage> {
        let mine = if assigned_now { " AND c.handler_id = (SELECT h.id FROM handlers h WHERE h.email = $1 AND h.active = 1)" } else { "" };
        // Built from our own constants and numbers only. One case more than a page is read, to
        // know whether there is an older page.
        let (which, order) = match list {
            CaseList::Open => ("c.status = 'open'", "c.id".to_string()),
            CaseList::Closed { before, limit } => {
                (if before.is_some() { "c.status = 'closed' AND c.id < $2" } else { "c.status = 'closed'" }, format!("c.id DESC LIMIT {}", limit + 1))
            }
        };
        let sql = format!("{SUMMARY_SELECT} WHERE {which} AND {MAY_READ}{mine} ORDER BY {order}");
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(&user.email);
        if let CaseList::Closed { before: Some(id), .. } = list {
            query = query.bind(id);
        }
        let mut rows = query.fetch_all(self.reads()).await?;
        let mut older = None;
        if let CaseList::Closed { limit, .. } = list {
            if rows.len() > limit as usize {
                rows.truncate(limit as usize);
                older = rows.last().map(|r| r.try_get("id")).transpose()?;
            }
        }
        let cases = rows.iter().map(CaseSummary::from_row).collect::<Result<_, _>>()?;
        Ok(CasePage { cases, older })
    }

    /// The id of the case if `user` may read it; `Err(UnknownCase)` if there is no such case.
    pub async fn may_read(&self, reference: &CaseRef, user: &WebUser) -> Result<Option<CaseId>> {
        let (id, allowed) = self.case_access_on(&mut self.reader().await?, reference, user).await?;
        Ok(allowed.then_some(id))
    }

    /// On the page's read connection: the case's id, and whether `user` may read it (a refusal
    /// is recorded with the id); `Err(UnknownCase)` if there is no such case.
    pub async fn case_access_on(&self, reader: &mut Reader, reference: &CaseRef, user: &WebUser) -> Result<(CaseId, bool)> {
        let (id, allowed): (CaseId, i64) =
            sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT c.id, CASE WHEN {MAY_READ} THEN 1 ELSE 0 END FROM cases c WHERE c.reference = $2")))
                .bind(&user.email)
                .bind(reference)
                .fetch_optional(&mut **reader)
                .await?
                .ok_or_else(|| StoreError::UnknownCase(reference.clone()))?;
        Ok((id, allowed != 0))
    }

    /// Whether the handler with this address may act on the case now: they work for its
    /// organisation (issue 25) and are its current handler, or an active supervisor. A token
    /// issued before a reassignment no longer counts.
    pub async fn may_act_on(&self, reference: &CaseRef, email: &str) -> Result<bool> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM handlers h WHERE h.email = $1 AND h.active = 1
               AND (h.supervisor <> 0 OR h.id = (SELECT c.handler_id FROM cases c WHERE c.reference = $2))
               AND EXISTS (SELECT 1 FROM handler_organisations ho JOIN cases c ON c.organisation = ho.organisation
                           WHERE ho.handler_id = h.id AND c.reference = $2)",
        )
        .bind(email.trim().to_ascii_lowercase())
        .bind(reference)
        .fetch_one(self.reads())
        .await?;
        Ok(n > 0)
    }

    /// Whether the active handler with this address works for the organisation of case
    /// `case_id` (issue 25).
    pub async fn works_for_case(&self, email: &str, case_id: CaseId) -> Result<bool> {
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM handlers h JOIN handler_organisations ho ON ho.handler_id = h.id JOIN cases c ON c.organisation = ho.organisation
             WHERE h.email = $1 AND h.active = 1 AND c.id = $2",
        )
        .bind(email.trim().to_ascii_lowercase())
        .bind(case_id)
        .fetch_optional(self.reads())
        .await?;
        Ok(found.is_some())
    }

    /// The row id of case `reference` and the key of its organisation; `Err(UnknownCase)` if
    /// there is no such case.
    pub async fn case_and_organisation(&self, reference: &CaseRef) -> Result<(CaseId, String)> {
        sqlx::query_as("SELECT id, organisation FROM cases WHERE reference = $1")
            .bind(reference)
            .fetch_optional(self.reads())
            .await?
            .ok_or_else(|| StoreError::UnknownCase(reference.clone()))
    }

    /// Records an access (a page opened, a download, a refusal) in the case's history.
    pub async fn record_access(&self, case_id: CaseId, actor: &str, action: HistoryEvent, detail: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        insert_event(&mut tx, case_id, actor, action, detail).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records several accesses in one transaction (the workspace gathers those that come
    /// together: one commit for them all on SQLite's one writer), written by one statement:
    /// one each was a round trip each inside the transaction that the next openings wait for
    /// (on PostgreSQL, under `bench web`, the case page's p95 was 20-40 ms above the list's).
    pub async fn record_accesses(&self, accesses: &[Access]) -> Result<()> {
        let rows: Vec<_> = accesses.iter().map(|a| (a.case_id, a.actor.as_str(), a.action, a.detail.as_str())).collect();
        let mut tx = self.begin().await?;
        insert_events_at(&mut tx, now(), &rows).await?;
        tx.commit().await?;
        Ok(())
    }

    /// What the case page shows of a case, in one statement (see [`json_lists`](super::json_lists)):
    /// the case in full, its thread, and the names of the active handlers (whom it can be given to).
    pub async fn case_page(&self, reader: &mut Reader, reference: &CaseRef) -> Result<(super::CaseDetail, Vec<ThreadMessage>, Vec<String>)> {
        // Those the case can go to: of its organisation (issue 25), which also keeps the names
        // of another organisation's staff out of the page.
        let handlers = json_list(
            self.backend,
            &[("name", "h.name")],
            "handlers h WHERE h.active = 1 AND EXISTS (SELECT 1 FROM handler_organisations ho WHERE ho.handler_id = h.id AND ho.organisation = c.organisation)",
            "h.name",
        );
        let more = format!(", {}, {handlers} AS handlers", thread_lists(self.backend, "c.id"));
        let row = sqlx::query(sqlx::AssertSqlSafe(detail_select(self.backend, &more)))
            .bind(reference)
            .fetch_optional(&mut **reader)
            .await?
            .ok_or_else(|| StoreError::UnknownCase(reference.clone()))?;
        let handlers: Vec<HandlerName> = decode(&row.try_get::<String, _>("handlers")?, "handlers")?;
        Ok((detail_from_row(&row)?, thread_from_row(&row)?, handlers.into_iter().map(|h| h.name).collect()))
    }

    /// The whole thread of a case, oldest first: mail in (and any recorded out), and our
    /// letters to the complainant and other parties from the outbox.
    pub async fn thread(&self, case_id: CaseId) -> Result<Vec<ThreadMessage>> {
        let sql = format!("SELECT {}", thread_lists(self.backend, "$1"));
        thread_from_row(&sqlx::query(sqlx::AssertSqlSafe(sql)).bind(case_id).fetch_one(self.reads()).await?)
    }

    /// The `index`-th attachment (from 0, in the case page's order) of a case.
    pub async fn web_attachment(&self, reference: &CaseRef, index: u32) -> Result<Option<WebAttachment>> {
        let row: Option<(CaseId, String, String, String)> = sqlx::query_as(
            "SELECT a.case_id, a.filename, a.content_type, a.sha256 FROM attachments a JOIN cases c ON c.id = a.case_id
             WHERE c.reference = $1 ORDER BY a.id LIMIT 1 OFFSET $2",
        )
        .bind(reference)
        .bind(i64::from(index))
        .fetch_optional(self.reads())
        .await?;
        Ok(row.map(|(case_id, filename, content_type, sha256)| WebAttachment { case_id, filename, content_type, sha256 }))
    }
}

/// A mail of a thread as `messages` records it.
struct ReceivedRow {
    direction: Direction,
    kind: MessageKind,
    address: Option<String>,
    subject: String,
    body: String,
    at: i64,
}
json_fields!(ReceivedRow { direction, kind, address, subject, body, at });

/// One of our letters of a thread, from the outbox.
struct LetterRow {
    kind: MailKind,
    address: Option<String>,
    subject: String,
    body: String,
    at: i64,
    status: OutboxStatus,
}
json_fields!(LetterRow { kind, address, subject, body, at, status });

struct HandlerName {
    name: String,
}
json_fields!(HandlerName { name });

/// The two lists of a case's thread as columns (`received`, `letters`) of a statement, for
/// the case whose id is `case` (a column or a parameter).
fn thread_lists(backend: Backend, case: &str) -> String {
    let received = json_list(
        backend,
        &[
            ("direction", "m.direction"),
            ("kind", "m.kind"),
            ("address", "m.from_address"),
            ("subject", "m.subject"),
            ("body", "m.body"),
            ("at", "m.received_at"),
        ],
        &format!("messages m WHERE m.case_id = {case}"),
        "m.received_at, m.id",
    );
    let letters = json_list(
        backend,
        &[
            ("kind", "o.kind"),
            ("address", "o.recipient"),
            ("subject", "o.subject"),
            ("body", "o.body"),
            ("at", "COALESCE(o.sent_at, o.created_at)"),
            ("status", "o.status"),
        ],
        &format!("outbox o WHERE o.case_id = {case} AND o.kind IN ({})", super::outbox::kinds_sql(MailKind::is_letter_to_a_party)),
        "o.id",
    );
    format!("{received} AS received, {letters} AS letters")
}

/// The thread from a row with [`thread_lists`]: mail in and our letters, oldest first.
fn thread_from_row(row: &sqlx::any::AnyRow) -> Result<Vec<ThreadMessage>> {
    let received: Vec<ReceivedRow> = decode(&row.try_get::<String, _>("received")?, "mail")?;
    let letters: Vec<LetterRow> = decode(&row.try_get::<String, _>("letters")?, "letters")?;
    let mut out: Vec<ThreadMessage> = received
        .into_iter()
        .map(|m| ThreadMessage {
            direction: m.direction,
            kind: ThreadKind::Message(m.kind),
            address: m.address,
            subject: m.subject,
            body: m.body,
            at: m.at,
            status: None,
        })
        .collect();
    out.extend(letters.into_iter().map(|l| ThreadMessage {
        direction: Direction::Out,
        kind: ThreadKind::Letter(l.kind),
        address: l.address,
        subject: l.subject,
        body: l.body,
        at: l.at,
        status: Some(l.status),
    }));
    out.sort_by_key(|m| m.at);
    Ok(out)
}
