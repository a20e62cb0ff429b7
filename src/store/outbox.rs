//! The outbox: every outgoing mail is a row first. Claims are leases won by a conditional
//! UPDATE, so one claimant sends a mail; the SMTP server's reply is recorded with the row.

use std::time::Duration;

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::domain::reminders::Deadline;

use super::{
    insert_case_events, insert_event, insert_many, now, Claim, MailKind, OutboxItem, OutboxStatus, OutgoingMail, Result, Store, StoreError, WRITE_CHUNK,
};
use crate::domain::history::HistoryEvent;
use crate::domain::reference::{CaseId, CaseRef};

/// A mail the SMTP server accepted, with its reply and when (Unix seconds).
#[derive(Debug, Clone)]
pub struct Sent {
    pub item: OutboxItem,
    pub reply: String,
    pub at: i64,
}

impl Store {
    /// Claims the next due outgoing mail for `lease` (one of [`claim_outbox_batch`](Self::claim_outbox_batch)).
    pub async fn claim_outbox(&self, worker: &str, lease: Duration, which: Claim) -> Result<Option<OutboxItem>> {
        Ok(self.claim_outbox_batch(worker, lease, which, 1).await?.into_iter().next())
    }

    /// Outgoing mail `id`, if it is still pending.
    pub async fn pending_outbox_item(&self, id: i64) -> Result<Option<OutboxItem>> {
        let row = sqlx::query(
            sqlx::AssertSqlSafe(format!(
                "SELECT id, case_id, kind, recipient, recipient_name, subject, body, message_id, in_reply_to, refs, attempts, parts, {ORGANISATION} FROM outbox WHERE id = $1 AND status = 'pending'"
            )),
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(outbox_item).transpose()?)
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
        record_sent_all(&mut tx, sent).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records, before the mail is handed to the SMTP server, that it is being handed on
    /// sender slot `slot` (one mail in flight at a time) as its `seq`-th: see
    /// [`crate::domain::leases::settle_handed`]. False when the claim is no longer ours (a peer
    /// took it over): then it must not be sent. Only where several instances can share the
    /// outbox (PostgreSQL); a single instance (SQLite) has its journal.
    ///
    /// Committed without waiting for the WAL flush: peers see it at once, and only a crash of
    /// the database server itself within a fraction of a second could lose it. Waiting for the
    /// flush cost 4 ms a mail on this machine, more than the SMTP transaction itself. One
    /// autocommit statement, one round trip: `set_config(.., true)` is `SET LOCAL` for the
    /// statement's own transaction (read at its commit, undone after it, so the pool's
    /// connection keeps waiting for the flush for everything else). The UPDATE changes a row
    /// only where every condition held, the one-row subquery's too, so a hand-over written is
    /// one committed this way. (Before: BEGIN, SET LOCAL, UPDATE, COMMIT, four round trips.)
    pub async fn hand_over(&self, item: &OutboxItem, worker: &str, slot: &str, seq: i64) -> Result<bool> {
        if self.backend != super::Backend::Postgres {
            return Ok(true);
        }
        let n = sqlx::query(
            "UPDATE outbox SET handed_on = $1, handed_seq = $2 FROM (SELECT set_config('synchronous_commit', 'off', true)) AS unflushed
             WHERE id = $3 AND claimed_by = $4 AND status = 'pending'",
        )
        .bind(slot)
        .bind(seq)
        .bind(item.id)
        .bind(worker)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }
}

impl Store {
    /// Clears `worker`'s own hand-overs of mails still pending, when none of its mails is in
    /// flight and every accepted one is recorded: what is left is a mail whose failure could
    /// not be recorded (the database was away), which is then tried again as a failed one is,
    /// once its claim runs out, instead of waiting for the instance to stop.
    pub async fn clear_hand_overs(&self, worker: &str) -> Result<u64> {
        if self.backend != super::Backend::Postgres {
            return Ok(0);
        }
        let n = sqlx::query("UPDATE outbox SET handed_on = NULL, handed_seq = NULL WHERE claimed_by = $1 AND status = 'pending' AND handed_on IS NOT NULL")
            .bind(worker)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n)
    }
}

/// Records accepted mails in `tx` (see [`Store::outbox_sent_many`]).
pub(super) async fn record_sent_all(tx: &mut sqlx::Transaction<'static, sqlx::Any>, sent: &[Sent]) -> Result<()> {
    // The mails' own rows a hundred a statement, then the deadlines met and the cases' history
    // in a few statements for the run. A closing letter's row is written on its own, just
    // before what it means for its case, in the order sent: whether a later one is still to go
    // is read from the rows (see `record_sent`).
    let closing = |s: &&Sent| s.item.mail.kind.meets() == Some(Deadline::Respond);
    let others: Vec<&Sent> = sent.iter().filter(|s| !closing(s)).collect();
    mark_sent(tx, &others).await?;
    let mut met: std::collections::BTreeMap<(&'static str, i64), Vec<CaseId>> = Default::default();
    let mut events: Vec<(CaseId, HistoryEvent, String)> = Vec::with_capacity(sent.len());
    for s in sent {
        if closing(&s) {
            mark_sent(tx, &[s]).await?;
        }
        record_sent(tx, &s.item, s.at, &mut met, &mut events).await?;
    }
    for ((sql, at), cases) in met {
        for chunk in cases.chunks(WRITE_CHUNK) {
            // Case ids, written into the statement: numbers only.
            let ids: Vec<String> = chunk.iter().map(|id| id.get().to_string()).collect();
            sqlx::query(sqlx::AssertSqlSafe(sql.replace("$2", &ids.join(", ")))).bind(at).execute(&mut **tx).await?;
        }
    }
    insert_case_events(tx, now(), "klachtd", &events).await?;
    Ok(())
}

/// Marks accepted mails sent, each with the SMTP server's reply and the time of its own,
/// `WRITE_CHUNK` a statement: one UPDATE from a VALUES list (whose columns are `column1`... on
/// both databases) instead of one a mail. A sign-in link's token is worthless to keep once the
/// link is on its way; it goes.
async fn mark_sent(tx: &mut sqlx::Transaction<'static, sqlx::Any>, sent: &[&Sent]) -> Result<(), sqlx::Error> {
    for chunk in sent.chunks(WRITE_CHUNK) {
        let sql = format!(
            "UPDATE outbox SET status = 'sent', sent_at = v.column2, smtp_reply = v.column3, last_error = NULL,
             body = CASE WHEN kind = 'sign-in-link' THEN '(sign-in link sent)' ELSE body END
             FROM (VALUES {}) AS v WHERE outbox.id = v.column1",
            super::value_rows(tx, chunk.len(), 3)
        );
        let query = chunk.iter().fold(sqlx::query(sqlx::AssertSqlSafe(sql)), |query, s| query.bind(s.item.id).bind(s.at).bind(s.reply.as_str()));
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

impl Store {
    /// See [`scrub_expired_sign_in_links`]: run before mail is claimed, so an expired link is
    /// never sent. Returns the mails changed.
    pub async fn scrub_expired_sign_in_links(&self) -> Result<u64> {
        let mut conn = self.pool.acquire().await?;
        Ok(scrub_expired_sign_in_links(&mut conn, now()).await?)
    }

    /// Claims up to `limit` due outgoing mails for `lease`, in one statement: of two claimants
    /// asking at once each row goes to one (the UPDATE re-checks the lease of every row).
    pub async fn claim_outbox_batch(&self, worker: &str, lease: Duration, which: Claim, limit: u32) -> Result<Vec<OutboxItem>> {
        let held = |kind: MailKind| (!which.reminders && kind.waits_for_working_hours()) || (!which.acknowledgements && kind == MailKind::Acknowledgement);
        let except = match kinds_sql(held) {
            kinds if kinds.is_empty() => String::new(),
            kinds => format!(" AND kind NOT IN ({kinds})"),
        };
        // Built from our own constants only, never from input. The claimed rows come back from
        // the UPDATE itself (as `pending_outbox_item` reads them).
        let sql = format!(
            "UPDATE outbox SET claimed_until = $1, claimed_by = $2, attempts = attempts + 1
             WHERE id IN (SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= $3 AND claimed_until <= $3 AND handed_on IS NULL{except}
                          ORDER BY next_attempt_at, id LIMIT $4)
               AND status = 'pending' AND claimed_until <= $3 AND handed_on IS NULL
             RETURNING id, case_id, kind, recipient, recipient_name, subject, body, message_id, in_reply_to, refs, attempts, parts, {ORGANISATION}"
        );
        let due =
            format!("SELECT COUNT(*) FROM outbox WHERE status = 'pending' AND next_attempt_at <= $1 AND claimed_until <= $1 AND handed_on IS NULL{except}");
        // A claimant that loses every row to another one at the same moment asks again while
        // due mail is left, rather than take the queue for empty.
        for _ in 0..5 {
            let t = now();
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(t + lease.as_secs() as i64)
                .bind(worker)
                .bind(t)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
            if !rows.is_empty() {
                let mut items = rows.iter().map(outbox_item).collect::<std::result::Result<Vec<OutboxItem>, _>>()?;
                items.sort_by_key(|item| item.id);
                return Ok(items);
            }
            let left: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(due.as_str())).bind(t).fetch_one(&self.pool).await?;
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
        sqlx::query("UPDATE outbox SET last_error = $1, next_attempt_at = $2, claimed_until = 0, handed_on = NULL, handed_seq = NULL WHERE id = $3")
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
        sqlx::query("UPDATE outbox SET status = 'undeliverable', last_error = $1, claimed_until = 0, handed_on = NULL, handed_seq = NULL WHERE id = $2 AND status = 'pending'")
            .bind(error)
            .bind(item.id)
            .execute(&mut *tx)
            .await?;
        if let Some(case_id) = item.case_id {
            insert_event(&mut tx, case_id, "klachtd", HistoryEvent::LetterUndeliverable, item.mail.kind.as_str()).await?;
            if let Some(mail) = notice {
                insert_outbox(&mut tx, Some(case_id), mail).await?;
                insert_event(&mut tx, case_id, "klachtd", HistoryEvent::HandlerNotified, "a letter could not be delivered").await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Puts undeliverable mail back in the queue, after its cause was fixed (a smart host whose
    /// 5xx was really temporary, a corrected address): all of it, or that of the cases named.
    /// Returns how many mails were queued again.
    pub async fn retry_undeliverable(&self, references: &[CaseRef], actor: &str) -> Result<u64> {
        let mut tx = self.begin().await?;
        let ids: Vec<(i64, Option<CaseId>)> = if references.is_empty() {
            sqlx::query_as("SELECT id, case_id FROM outbox WHERE status = 'undeliverable' ORDER BY id").fetch_all(&mut *tx).await?
        } else {
            let mut ids = Vec::new();
            for reference in references {
                let case_id: CaseId = sqlx::query_scalar("SELECT id FROM cases WHERE reference = $1")
                    .bind(reference)
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or_else(|| StoreError::UnknownCase(reference.clone()))?;
                ids.extend(
                    sqlx::query_as::<_, (i64, Option<CaseId>)>("SELECT id, case_id FROM outbox WHERE status = 'undeliverable' AND case_id = $1 ORDER BY id")
                        .bind(case_id)
                        .fetch_all(&mut *tx)
                        .await?,
                );
            }
            ids
        };
        for (id, case_id) in &ids {
            sqlx::query("UPDATE outbox SET status = 'pending', next_attempt_at = $1, claimed_until = 0, handed_on = NULL, handed_seq = NULL WHERE id = $2")
                .bind(now())
                .bind(id)
                .execute(&mut *tx)
                .await?;
            if let Some(case_id) = case_id {
                insert_event(&mut tx, *case_id, actor, HistoryEvent::LetterQueuedAgain, "").await?;
            }
        }
        tx.commit().await?;
        Ok(ids.len() as u64)
    }

    /// Releases the acknowledgement of a case that was held (mail found in the mailbox before
    /// klachtd took over) or suppressed (the per-sender limit), so it is sent; `actor` (who
    /// released it) goes into the history. Nothing is released once the case's acknowledgement
    /// was sent or recorded. Returns how many mails were released.
    pub async fn release_held(&self, reference: &CaseRef, actor: &str) -> Result<u64> {
        let link = self.case_link(reference).await?.ok_or_else(|| StoreError::UnknownCase(reference.clone()))?;
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
            insert_event(&mut tx, link.id, actor, HistoryEvent::AcknowledgementReleased, "").await?;
        }
        tx.commit().await?;
        Ok(n)
    }
}

/// The organisation a row's mail comes from, as a column of the row (see `OutboxItem`): its
/// case's, or for mail without a case the one it was queued for.
pub(super) const ORGANISATION: &str = "COALESCE((SELECT c.organisation FROM cases c WHERE c.id = outbox.case_id), outbox.organisation) AS organisation";

/// Queued row `id` (a mail without a case) comes from `organisation`.
pub(super) async fn set_outbox_organisation(tx: &mut super::Conn, id: i64, organisation: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE outbox SET organisation = $1 WHERE id = $2").bind(organisation).bind(id).execute(&mut *tx).await?;
    Ok(())
}

pub(super) fn outbox_item(row: &AnyRow) -> std::result::Result<OutboxItem, sqlx::Error> {
    Ok(OutboxItem {
        id: row.try_get("id")?,
        case_id: row.try_get("case_id")?,
        organisation: row.try_get("organisation")?,
        attempts: row.try_get("attempts")?,
        mail: OutgoingMail {
            kind: row.try_get("kind")?,
            recipient: row.try_get("recipient")?,
            recipient_name: row.try_get("recipient_name")?,
            subject: row.try_get("subject")?,
            body: row.try_get("body")?,
            message_id: row.try_get("message_id")?,
            in_reply_to: row.try_get("in_reply_to")?,
            references: row.try_get::<String, _>("refs")?.split_whitespace().map(str::to_string).collect(),
            status: OutboxStatus::Pending,
        },
        parts: super::awb::parts_from_column(row.try_get("parts")?)?,
    })
}

/// Sign-in links that expired (at `t`) keep no token in the outbox: a mail that went out (or
/// failed) loses its body, one still waiting is not sent at all (it could sign no one in).
pub(super) async fn scrub_expired_sign_in_links(conn: &mut super::Conn, t: i64) -> Result<u64, sqlx::Error> {
    let expired = "kind = 'sign-in-link' AND message_id IN (SELECT message_id FROM web_links WHERE expires_at < $1 AND used_at IS NULL)";
    let dropped = sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM outbox WHERE status = 'pending' AND {expired}"))).bind(t).execute(&mut *conn).await?;
    let scrubbed =
        sqlx::query(sqlx::AssertSqlSafe(format!("UPDATE outbox SET body = '(sign-in link expired)' WHERE body NOT LIKE '(sign-in link %' AND {expired}")))
            .bind(t)
            .execute(&mut *conn)
            .await?;
    Ok(dropped.rows_affected() + scrubbed.rows_affected())
}

/// Adds what the SMTP server's acceptance of `item` at `t` (its row marked sent already, see
/// [`mark_sent`]) means for its cases to `met` (the deadline a letter answers, as a statement
/// for a list of cases `$2`, and when) and to `events` (their history).
async fn record_sent(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    item: &OutboxItem,
    t: i64,
    met: &mut std::collections::BTreeMap<(&'static str, i64), Vec<CaseId>>,
    events: &mut Vec<(CaseId, HistoryEvent, String)>,
) -> Result<(), sqlx::Error> {
    let action = HistoryEvent::Sent(item.mail.kind);
    if let Some(case_id) = item.case_id {
        // The deadline a letter answers is met when the server accepts it.
        match item.mail.kind.meets() {
            Some(Deadline::Acknowledge) => {
                met.entry(("UPDATE cases SET acknowledged_at = $1 WHERE id IN ($2) AND acknowledged_at IS NULL", t)).or_default().push(case_id)
            }
            Some(Deadline::Progress) => {
                met.entry(("UPDATE cases SET progress_sent_at = $1 WHERE id IN ($2) AND progress_sent_at IS NULL", t)).or_default().push(case_id)
            }
            // Only a closing letter (a response, or one not handling or settling the complaint)
            // to a closed case with no later one still to go (reopened cases): on its own, in
            // the order sent.
            Some(Deadline::Respond) => {
                sqlx::query(
                    "UPDATE cases SET responded_at = $1 WHERE id = $2 AND responded_at IS NULL AND status = 'closed'
                     AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.case_id = $2 AND o.kind IN ('response', 'not-handled', 'settled') AND o.status = 'pending')",
                )
                .bind(t)
                .bind(case_id)
                .execute(&mut **tx)
                .await?;
            }
            // Met by the complainant's answer, never by a mail of ours.
            Some(Deadline::HearingAnswer) | None => {}
        }
        events.push((case_id, action, String::new()));
        return Ok(());
    }
    // A digest belongs to no one case: each case it lists records that its reminder went out.
    let listed: Vec<(CaseId, String, String, String)> =
        sqlx::query_as("SELECT case_id, deadline, due_key, recipient FROM reminders WHERE outbox_id = $1 ORDER BY id")
            .bind(item.id)
            .fetch_all(&mut **tx)
            .await?;
    for (case_id, deadline, due_key, recipient) in listed {
        events.push((case_id, action, format!("{deadline} {due_key} to {recipient}")));
    }
    Ok(())
}

/// The kinds of mail for which `which` holds, as an SQL list of their texts (constants only).
pub(super) fn kinds_sql(which: impl Fn(MailKind) -> bool) -> String {
    MailKind::ALL.iter().filter(|k| which(**k)).map(|k| format!("'{k}'")).collect::<Vec<_>>().join(", ")
}

pub(super) async fn insert_outbox(tx: &mut super::Conn, case_id: Option<CaseId>, mail: &OutgoingMail) -> Result<i64, sqlx::Error> {
    let ids = insert_outboxes(tx, &[(case_id, mail)]).await?;
    ids.first().copied().ok_or(sqlx::Error::RowNotFound)
}

/// Queues several mails, `WRITE_CHUNK` a statement; their ids, in the order given.
pub(super) async fn insert_outboxes(tx: &mut super::Conn, mails: &[(Option<CaseId>, &OutgoingMail)]) -> Result<Vec<i64>, sqlx::Error> {
    let t = now();
    let into = "outbox (case_id, kind, recipient, recipient_name, subject, body, message_id, in_reply_to, refs, status, next_attempt_at, created_at)";
    insert_many(tx, into, 12, mails, |query, (case_id, mail)| {
        query
            .bind(*case_id)
            .bind(mail.kind.as_str())
            .bind(&mail.recipient)
            .bind(mail.recipient_name.clone())
            .bind(&mail.subject)
            .bind(&mail.body)
            .bind(&mail.message_id)
            .bind(mail.in_reply_to.clone())
            .bind(mail.references.join(" "))
            .bind(mail.status.as_str())
            .bind(t)
            .bind(t)
    })
    .await
}
