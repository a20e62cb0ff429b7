//! Mail outside any case that a supervisor may judge (issue 21, "nothing set aside is out of
//! sight"): set aside silently by the intake (machine mail, mail that is no complaint, our own
//! mail) or quarantined for a person. Each is a message without a case, kept with its raw bytes
//! (or the file of a large one) and its IMAP internal date as `received_at`, so that it can
//! still become a case with its original date of receipt; retention removes it with all mail
//! outside a case (R9, `remove_unlinked_mail`). Also the daily count of such mail in the
//! supervisors' digest, claimed once per supervisor and day.

use chrono::NaiveDate;
use serde::Serialize;

use super::organisations::{of_handler, of_organisations};
use super::{Conn, Result, Store};
use crate::domain::organisation::OrganisationKey;

/// What the intake made of a mail it kept outside any case (`messages.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HeldKind {
    /// Waits for a person (spam by the organisation's filter, a copier's scan, a voicemail).
    Quarantined,
    /// Machine-generated (`AutoReason`), about no case.
    Automated,
    /// No complaint (`SetAsideReason`: an invitation, an e-invoice), about no case.
    SetAside,
    /// From one of our own addresses, about no case.
    Own,
}

impl HeldKind {
    pub const ALL: [HeldKind; 4] = [HeldKind::Quarantined, HeldKind::Automated, HeldKind::SetAside, HeldKind::Own];

    pub fn as_str(self) -> &'static str {
        match self {
            HeldKind::Quarantined => "quarantined",
            HeldKind::Automated => "automated",
            HeldKind::SetAside => "set-aside",
            HeldKind::Own => "own",
        }
    }

    pub fn parse(kind: &str) -> Option<HeldKind> {
        HeldKind::ALL.into_iter().find(|k| k.as_str() == kind)
    }

    /// Set aside silently (no person was asked), as opposed to quarantined.
    pub fn is_silent(self) -> bool {
        self != HeldKind::Quarantined
    }
}

/// The kinds of held mail, as an SQL list (constants only).
const HELD_KINDS: &str = "('quarantined', 'automated', 'set-aside', 'own')";

/// Which held mail a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeldFilter {
    /// Set aside and quarantined.
    All,
    /// Set aside silently only.
    SetAside,
}

/// Where a page of held mail starts: after the mail received at `received_at` with row `id`
/// (newest first, so older ones). Written in a link as `RECEIVED_AT.ID`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeldCursor {
    pub received_at: i64,
    pub id: i64,
}

impl std::fmt::Display for HeldCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.received_at, self.id)
    }
}

impl std::str::FromStr for HeldCursor {
    type Err = NotACursor;
    fn from_str(s: &str) -> Result<Self, NotACursor> {
        let (at, id) = s.split_once('.').ok_or_else(|| NotACursor(s.to_string()))?;
        match (at.parse(), id.parse()) {
            (Ok(received_at), Ok(id)) => Ok(HeldCursor { received_at, id }),
            _ => Err(NotACursor(s.to_string())),
        }
    }
}

/// A text that is no [`HeldCursor`] (a link edited by hand).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a position in the list")]
pub struct NotACursor(pub String);

/// A held mail as a list shows it.
#[derive(Debug, Clone, Serialize)]
pub struct HeldMail {
    pub id: i64,
    /// The IMAP internal date (Unix seconds): the date of receipt if it becomes a case.
    pub received_at: i64,
    pub from_address: Option<String>,
    pub subject: String,
    pub kind: HeldKind,
    /// As the intake recorded it: a quarantine's described reason, or the code of the reason a
    /// mail was set aside (`AutoReason::as_str`, `SetAsideReason::as_str`, `own-mail`).
    pub reason: String,
}

/// A page of held mail, newest first, and where the next (older) page starts.
#[derive(Debug, Clone)]
pub struct HeldPage {
    pub mails: Vec<HeldMail>,
    pub older: Option<HeldCursor>,
}

/// One held mail opened: its text, and the names of its attachments.
#[derive(Debug, Clone, Serialize)]
pub struct HeldDetail {
    #[serde(flatten)]
    pub mail: HeldMail,
    pub body: String,
    /// Filename, content type and size of each attachment (quarantined mail stores none).
    pub attachments: Vec<(String, String, i64)>,
}

/// What releasing a held mail needs: its raw bytes (or the file a large one is kept in), its
/// date of receipt, and why it was held.
#[derive(Debug, Clone)]
pub struct HeldRaw {
    pub raw: Option<Vec<u8>>,
    pub raw_file: Option<String>,
    pub received_at: i64,
    pub kind: HeldKind,
    pub reason: String,
}

/// How many mails were set aside and quarantined since the previous count for a supervisor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct HeldCount {
    pub set_aside: i64,
    pub quarantined: i64,
    /// When the previous count was made (Unix seconds); `None`: the first, over the last day.
    pub since: Option<i64>,
}

impl HeldCount {
    pub fn total(&self) -> i64 {
        self.set_aside + self.quarantined
    }
}

/// Id, date of receipt, sender, subject, kind and reason of a held mail.
type Row = (i64, i64, Option<String>, String, String, String);
/// A [`Row`] and the mail's text.
type DetailRow = (i64, i64, Option<String>, String, String, String, String);
/// Raw bytes, raw file, date of receipt, kind and reason.
type RawRow = (Option<Vec<u8>>, Option<String>, i64, String, String);

fn held_mail((id, received_at, from_address, subject, kind, reason): Row) -> Option<HeldMail> {
    Some(HeldMail { id, received_at, from_address, subject, kind: HeldKind::parse(&kind)?, reason })
}

impl Store {
    /// Held mail, newest first (by date of receipt): at most `limit`, older than `before`, of
    /// `organisations` (`None`: of every organisation; issue 25).
    pub async fn held_mails(&self, filter: HeldFilter, before: Option<HeldCursor>, limit: u32, organisations: Option<&[OrganisationKey]>) -> Result<HeldPage> {
        let kinds = match filter {
            HeldFilter::All => HELD_KINDS,
            HeldFilter::SetAside => "('automated', 'set-aside', 'own')",
        };
        let after = if before.is_some() { "AND (received_at < $1 OR (received_at = $1 AND id < $2))" } else { "" };
        let of = of_organisations("organisation", organisations);
        // One more than a page, to know whether there is an older page. Reads the partial index
        // of mail outside a case (`messages_held`) backwards.
        let sql = format!(
            "SELECT id, received_at, from_address, subject, kind, note FROM messages WHERE case_id IS NULL AND kind IN {kinds} {after}{of}
             ORDER BY received_at DESC, id DESC LIMIT {}",
            limit + 1
        );
        let mut query = sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(sql));
        if let Some(c) = before {
            query = query.bind(c.received_at).bind(c.id);
        }
        let mut mails: Vec<HeldMail> = query.fetch_all(&self.pool).await?.into_iter().filter_map(held_mail).collect();
        let mut older = None;
        if mails.len() > limit as usize {
            mails.truncate(limit as usize);
            older = mails.last().map(|m| HeldCursor { received_at: m.received_at, id: m.id });
        }
        Ok(HeldPage { mails, older })
    }

    /// Held mail `id` with its text; `None` if there is none (released, removed, a message
    /// of a case, or mail of none of `organisations` when given).
    pub async fn held_mail(&self, id: i64, organisations: Option<&[OrganisationKey]>) -> Result<Option<HeldDetail>> {
        let of = of_organisations("organisation", organisations);
        let sql = format!(
            "SELECT id, received_at, from_address, subject, kind, note, body FROM messages WHERE id = $1 AND case_id IS NULL AND kind IN {HELD_KINDS}{of}"
        );
        let row: Option<DetailRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(&self.pool).await?;
        let Some((id, received_at, from_address, subject, kind, reason, body)) = row else { return Ok(None) };
        let Some(mail) = held_mail((id, received_at, from_address, subject, kind, reason)) else { return Ok(None) };
        let attachments =
            sqlx::query_as("SELECT filename, content_type, size FROM attachments WHERE message_id = $1 ORDER BY id").bind(id).fetch_all(&self.pool).await?;
        Ok(Some(HeldDetail { mail, body, attachments }))
    }

    /// What releasing held mail `id` needs; `None` if there is no such mail.
    pub async fn held_raw(&self, id: i64) -> Result<Option<HeldRaw>> {
        let sql = format!("SELECT raw, raw_file, received_at, kind, note FROM messages WHERE id = $1 AND case_id IS NULL AND kind IN {HELD_KINDS}");
        let row: Option<RawRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(&self.pool).await?;
        Ok(row.and_then(|(raw, raw_file, received_at, kind, reason)| Some(HeldRaw { raw, raw_file, received_at, kind: HeldKind::parse(&kind)?, reason })))
    }

    /// Held mail `id` gives way to what it becomes when released, in the transaction that
    /// records that: its row (and its attachment rows; the files stay, the new record refers
    /// to them) is deleted. False if it was not held (any more): released by someone else.
    pub async fn unhold_on(&self, conn: &mut Conn, id: i64) -> Result<bool> {
        let held = format!("SELECT id FROM messages WHERE id = $1 AND case_id IS NULL AND kind IN {HELD_KINDS}");
        sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM attachments WHERE message_id IN ({held})"))).bind(id).execute(&mut *conn).await?;
        let sql = format!("DELETE FROM messages WHERE id = $1 AND case_id IS NULL AND kind IN {HELD_KINDS}");
        Ok(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).execute(&mut *conn).await?.rows_affected() > 0)
    }

    /// Whether `recipient` got the count of `day` of `organisation` already.
    pub async fn held_counted(&self, recipient: &str, organisation: &str, day: NaiveDate) -> Result<bool> {
        let row: Option<i64> = sqlx::query_scalar("SELECT 1 FROM digest_counts WHERE recipient = $1 AND day = $2 AND organisation = $3")
            .bind(recipient)
            .bind(day.to_string())
            .bind(organisation)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    /// The count of `organisation`'s held mail `recipient` would get now (`at`, Unix
    /// seconds), and the newest message it takes in.
    pub async fn held_count(&self, recipient: &str, organisation: &str, at: i64) -> Result<(HeldCount, i64)> {
        held_count_on(&mut *self.connection().await?, recipient, organisation, at).await
    }
}

/// The count of `organisation`'s held mail since `recipient`'s previous count of it (the
/// first: received in the day before `at`; a count from before counts were per organisation,
/// `''`, counts as previous for each), if `recipient` works for it (issue 25), and the newest
/// message id it covers. Message ids grow as mail is recorded, so
/// counting by id takes in mail recorded late with an old date of receipt (a backlog after a
/// stop) as well. Only the intake records held mail, one instance at a time per mailbox.
pub(super) async fn held_count_on(conn: &mut Conn, recipient: &str, organisation: &str, at: i64) -> Result<(HeldCount, i64)> {
    let previous: Option<(i64, i64)> = sqlx::query_as(
        "SELECT last_message_id, created_at FROM digest_counts WHERE recipient = $1 AND organisation IN ($2, '')
         ORDER BY last_message_id DESC, created_at DESC LIMIT 1",
    )
    .bind(recipient)
    .bind(organisation)
    .fetch_optional(&mut *conn)
    .await?;
    let newest: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM messages").fetch_one(&mut *conn).await?;
    let (from, since) = match previous {
        Some((last, created)) => (format!("id > {last}"), Some(created)),
        None => (format!("received_at >= {}", at - 86_400), None),
    };
    // Numbers only, written into the statement.
    let theirs = of_handler("organisation", 1);
    let sql = format!(
        "SELECT kind, COUNT(*) FROM messages WHERE case_id IS NULL AND kind IN {HELD_KINDS} AND {from} AND id <= {newest} AND organisation = $2 AND {theirs} GROUP BY kind"
    );
    let rows: Vec<(String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(recipient).bind(organisation).fetch_all(&mut *conn).await?;
    let mut count = HeldCount { set_aside: 0, quarantined: 0, since };
    for (kind, n) in rows {
        match HeldKind::parse(&kind) {
            Some(HeldKind::Quarantined) => count.quarantined += n,
            Some(_) => count.set_aside += n,
            None => {}
        }
    }
    Ok((count, newest))
}

/// Claims `recipient`'s count of `organisation`'s held mail of `day`, made at `at`, in the
/// digest's transaction; `None` if nothing was held since the previous count, or the count of
/// that day was claimed already (by an earlier sweep, or another instance just now).
pub(super) async fn claim_held_count(tx: &mut Conn, recipient: &str, organisation: &str, day: NaiveDate, at: i64) -> Result<Option<HeldCount>> {
    let (count, newest) = held_count_on(tx, recipient, organisation, at).await?;
    if count.total() == 0 {
        return Ok(None);
    }
    let claimed: Option<String> = sqlx::query_scalar(
        "INSERT INTO digest_counts (recipient, day, organisation, last_message_id, set_aside, quarantined, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (recipient, day, organisation) DO NOTHING RETURNING recipient",
    )
    .bind(recipient)
    .bind(day.to_string())
    .bind(organisation)
    .bind(newest)
    .bind(count.set_aside)
    .bind(count.quarantined)
    .bind(at)
    .fetch_optional(&mut *tx)
    .await?;
    Ok(claimed.map(|_| count))
}

/// Records which digest mail carried `recipient`'s count of `organisation` of `day`.
pub(super) async fn held_count_sent(tx: &mut Conn, recipient: &str, organisation: &str, day: NaiveDate, outbox_id: i64) -> Result<()> {
    sqlx::query("UPDATE digest_counts SET outbox_id = $1 WHERE recipient = $2 AND day = $3 AND organisation = $4")
        .bind(outbox_id)
        .bind(recipient)
        .bind(day.to_string())
        .bind(organisation)
        .execute(&mut *tx)
        .await?;
    Ok(())
}
