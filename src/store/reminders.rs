//! Reminder bookkeeping: which deadlines are open, and which reminders went out already. A
//! reminder row's unique key (case, deadline, kind, due key, recipient) is claimed in the same
//! transaction that queues the digest mail, so each reminder is sent once: across restarts,
//! after a crash, and with several instances on one database.

use chrono::NaiveDate;
use sqlx::Row;

use super::{insert_event, insert_outbox, now, OutgoingMail, Result, Store};
use crate::domain::reminders::{Deadline, OpenDeadline};

/// An open case with its unmet deadlines.
#[derive(Debug, Clone)]
pub struct CaseDeadlines {
    pub case_id: i64,
    pub reference: String,
    /// Name and address of the responsible handler, if assigned and active.
    pub handler: Option<(String, String)>,
    pub open: Vec<OpenDeadline>,
    /// A one-line status without personal data, for the handler's digest.
    pub status: String,
}

/// One reminder or escalation for one recipient, as the unique key records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReminderClaim {
    pub case_id: i64,
    pub deadline: Deadline,
    pub kind: &'static str,
    pub due_key: String,
}

/// Index into the claims handed to [`Store::queue_digest`] that were new.
pub type ClaimedReminder = usize;

impl Store {
    pub async fn open_deadlines(&self) -> Result<Vec<CaseDeadlines>> {
        let rows = sqlx::query(
            "SELECT c.id, c.reference, h.name, h.email, h.active, c.acknowledge_by, c.acknowledged_at, c.progress_by,
                    c.progress_sent_at, c.respond_by, c.responded_at, c.incomplete, c.supervisor_check
             FROM cases c LEFT JOIN handlers h ON h.id = c.handler_id WHERE c.status = 'open' ORDER BY c.id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let mut open = Vec::new();
            for (deadline, date_col, met_col) in [(Deadline::Acknowledge, 5, 6), (Deadline::Progress, 7, 8), (Deadline::Respond, 9, 10)] {
                if r.get::<Option<i64>, _>(met_col).is_none() {
                    let date: String = r.get(date_col);
                    let date =
                        NaiveDate::parse_from_str(&date, "%Y-%m-%d").map_err(|e| super::StoreError::Corrupt(format!("case {}: {e}", r.get::<String, _>(1))))?;
                    open.push(OpenDeadline { deadline, date });
                }
            }
            let active = r.get::<Option<i64>, _>(4).unwrap_or(0) != 0;
            let handler = match (r.get::<Option<String>, _>(2), r.get::<Option<String>, _>(3)) {
                (Some(name), Some(email)) if active => Some((name, email)),
                _ => None,
            };
            let mut status = vec![if handler.is_some() { "open" } else { "open, no handler" }.to_string()];
            if !r.get::<String, _>(11).is_empty() {
                status.push("incomplete".into());
            }
            if !r.get::<String, _>(12).is_empty() {
                status.push("supervisor check".into());
            }
            out.push(CaseDeadlines { case_id: r.get(0), reference: r.get(1), handler, open, status: status.join(", ") });
        }
        Ok(out)
    }

    /// Name and address of every active supervisor.
    pub async fn supervisors(&self) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query("SELECT name, email FROM handlers WHERE supervisor = 1 AND active = 1 ORDER BY name").fetch_all(&self.pool).await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    pub async fn reminder_recorded(&self, claim: &ReminderClaim, recipient: &str) -> Result<bool> {
        let id: Option<i64> =
            sqlx::query_scalar("SELECT id FROM reminders WHERE case_id = $1 AND deadline = $2 AND kind = $3 AND due_key = $4 AND recipient = $5")
                .bind(claim.case_id)
                .bind(claim.deadline.as_str())
                .bind(claim.kind)
                .bind(&claim.due_key)
                .bind(recipient)
                .fetch_optional(&self.pool)
                .await?;
        Ok(id.is_some())
    }

    /// Claims `claims` for `recipient` and, if any was new, queues the one digest mail that
    /// `compose` writes for the new ones, all in one transaction. Returns how many were new.
    pub async fn queue_digest(
        &self,
        recipient: &str,
        claims: &[ReminderClaim],
        compose: impl FnOnce(&[ClaimedReminder]) -> Option<OutgoingMail>,
    ) -> Result<usize> {
        let mut tx = self.begin().await?;
        let t = now();
        let mut fresh = Vec::new();
        for (i, c) in claims.iter().enumerate() {
            let inserted = sqlx::query(
                "INSERT INTO reminders (case_id, deadline, kind, due_key, recipient, created_at) VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (case_id, deadline, kind, due_key, recipient) DO NOTHING",
            )
            .bind(c.case_id)
            .bind(c.deadline.as_str())
            .bind(c.kind)
            .bind(&c.due_key)
            .bind(recipient)
            .bind(t)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if inserted == 1 {
                fresh.push(i);
            }
        }
        let Some(mail) = (!fresh.is_empty()).then(|| compose(&fresh)).flatten() else {
            tx.rollback().await?;
            return Ok(0);
        };
        let outbox_id = insert_outbox(&mut tx, None, &mail).await?;
        for &i in &fresh {
            let c = &claims[i];
            sqlx::query("UPDATE reminders SET outbox_id = $1 WHERE case_id = $2 AND deadline = $3 AND kind = $4 AND due_key = $5 AND recipient = $6")
                .bind(outbox_id)
                .bind(c.case_id)
                .bind(c.deadline.as_str())
                .bind(c.kind)
                .bind(&c.due_key)
                .bind(recipient)
                .execute(&mut *tx)
                .await?;
            insert_event(&mut tx, c.case_id, "klachtd", &format!("{}-queued", c.kind), &format!("{} {} to {recipient}", c.deadline.as_str(), c.due_key))
                .await?;
        }
        tx.commit().await?;
        Ok(fresh.len())
    }
}
