//! Handler actions on a case: the letters of the procedure and the register's facts.

use sqlx::Row;

use super::{insert_event, insert_outbox, now, Backend, OutgoingMail, Result, Store, StoreError};
use crate::domain::procedure::{refusal, CaseState, Category, Outcome, Step};

/// What a letter to the complainant needs to know about its case.
#[derive(Debug, Clone)]
pub struct LetterCase {
    pub id: i64,
    pub reference: String,
    pub state: CaseState,
    pub complainant_name: Option<String>,
    pub complainant_email: Option<String>,
    pub received_on: String,
    pub respond_by: String,
    pub handler_name: Option<String>,
    pub handler_email: Option<String>,
    /// Message-IDs of the case, oldest first, for In-Reply-To and References.
    pub thread: Vec<String>,
    /// The Message-ID of the complainant's latest mail, to reply to.
    pub last_inbound: Option<String>,
}

/// What a letter changes on its case, in the transaction that queues it.
#[derive(Debug, Clone)]
pub enum LetterEffect {
    Progress { expected_by: chrono::NaiveDate },
    RequestInformation { to: String },
    Response { outcome: Outcome, findings: String, measures: String },
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// An action that the procedure can refuse: a database error, or a refusal with its reason.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Refused(#[from] Refused),
}

impl From<sqlx::Error> for ActionError {
    fn from(e: sqlx::Error) -> Self {
        Self::Store(e.into())
    }
}

/// A case's state as read inside a transaction that holds it (see [`Store::lock_case`]).
struct Locked {
    id: i64,
    state: CaseState,
    source: String,
    outcome: Option<String>,
    findings: Option<String>,
    measures: Option<String>,
    responded_at: Option<i64>,
    acknowledged_at: Option<i64>,
}

impl Store {
    pub async fn letter_case(&self, reference: &str) -> Result<LetterCase> {
        let r = sqlx::query(
            "SELECT c.id, c.reference, c.status, c.outcome, c.complainant_name, c.complainant_email, c.received_on, c.respond_by,
                    (SELECT h.name FROM handlers h WHERE h.id = c.handler_id), (SELECT h.email FROM handlers h WHERE h.id = c.handler_id)
             FROM cases c WHERE c.reference = $1",
        )
        .bind(reference)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::UnknownCase(reference.into()))?;
        let id: i64 = r.get(0);
        let inbound: Vec<String> = sqlx::query_scalar("SELECT message_id FROM messages WHERE case_id = $1 AND direction = 'in' AND message_id IS NOT NULL ORDER BY id")
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        let outbound: Vec<String> = sqlx::query_scalar("SELECT message_id FROM outbox WHERE case_id = $1 AND status = 'sent' ORDER BY id").bind(id).fetch_all(&self.pool).await?;
        let mut thread = inbound.clone();
        thread.extend(outbound);
        Ok(LetterCase {
            id,
            reference: r.get(1),
            state: CaseState { closed: r.get::<String, _>(2) == "closed", responded: r.get::<Option<String>, _>(3).is_some() },
            complainant_name: r.get(4),
            complainant_email: r.get(5),
            received_on: r.get(6),
            respond_by: r.get(7),
            handler_name: r.get(8),
            handler_email: r.get(9),
            last_inbound: inbound.last().cloned(),
            thread,
        })
    }

    /// Queues a letter of the procedure and records what it does, in one transaction. The
    /// deadline it answers is met when the SMTP server accepts it (or, for a letter sent by
    /// post, at once: `mail` is `None` and `sent_by_post` is set).
    pub async fn queue_letter(&self, case: &LetterCase, step: Step, effect: &LetterEffect, mail: Option<&OutgoingMail>, actor: &str) -> Result<std::result::Result<(), Refused>> {
        let mut tx = self.begin().await?;
        // Read the state in the transaction that changes it, holding the case: two handlers (or
        // two instances) acting at once must not both send a final response.
        let locked = self.lock_case(&mut tx, &case.reference).await?;
        if let Some(why) = refusal(&case.reference, locked.state, step) {
            tx.rollback().await?;
            return Ok(Err(Refused(why)));
        }
        let t = now();
        let (action, detail) = match effect {
            LetterEffect::Progress { expected_by } => {
                sqlx::query("UPDATE cases SET expected_by = $1 WHERE id = $2").bind(expected_by.to_string()).bind(case.id).execute(&mut *tx).await?;
                ("progress-notice", format!("expected handling by {expected_by}"))
            }
            LetterEffect::RequestInformation { to } => ("information-requested", format!("to {to}")),
            LetterEffect::Response { outcome, findings, measures } => {
                // Guarded as well as locked: only an open case without an outcome is closed.
                let changed = sqlx::query(
                    "UPDATE cases SET outcome = $1, findings = $2, measures = $3, status = 'closed', closed_at = $4
                     WHERE id = $5 AND outcome IS NULL AND status = 'open'",
                )
                .bind(outcome.as_str())
                .bind(findings)
                .bind(measures)
                .bind(t)
                .bind(case.id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if changed != 1 {
                    tx.rollback().await?;
                    return Ok(Err(Refused(format!("{} already has its final response; reopen it first to respond again", case.reference))));
                }
                ("final-response", format!("outcome {outcome}; case closed"))
            }
        };
        match mail {
            Some(mail) => {
                insert_outbox(&mut tx, Some(case.id), mail).await?;
            }
            None => {
                let column = match effect {
                    LetterEffect::Progress { .. } => Some("progress_sent_at"),
                    LetterEffect::Response { .. } => Some("responded_at"),
                    LetterEffect::RequestInformation { .. } => None,
                };
                if let Some(column) = column {
                    let sql = format!("UPDATE cases SET {column} = $1 WHERE id = $2 AND {column} IS NULL");
                    sqlx::query(sqlx::AssertSqlSafe(sql)).bind(t).bind(case.id).execute(&mut *tx).await?;
                }
            }
        }
        insert_event(&mut tx, case.id, actor, action, &detail).await?;
        tx.commit().await?;
        Ok(Ok(()))
    }

    pub async fn set_category(&self, reference: &str, category: Category, actor: &str) -> Result<()> {
        let link = self.case_link(reference).await?.ok_or_else(|| StoreError::UnknownCase(reference.into()))?;
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE cases SET category = $1 WHERE id = $2").bind(category.as_str()).bind(link.id).execute(&mut *tx).await?;
        insert_event(&mut tx, link.id, actor, "category", category.as_str()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// An internal note: in the history only, never sent.
    pub async fn add_note(&self, reference: &str, text: &str, actor: &str) -> Result<()> {
        let link = self.case_link(reference).await?.ok_or_else(|| StoreError::UnknownCase(reference.into()))?;
        let mut tx = self.begin().await?;
        insert_event(&mut tx, link.id, actor, "note", text).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The complainant took the complaint to the external body (R11).
    pub async fn record_external(&self, reference: &str, body: &str, on: chrono::NaiveDate, actor: &str) -> Result<()> {
        let link = self.case_link(reference).await?.ok_or_else(|| StoreError::UnknownCase(reference.into()))?;
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE cases SET external_body = $1, external_on = $2 WHERE id = $3").bind(body).bind(on.to_string()).bind(link.id).execute(&mut *tx).await?;
        insert_event(&mut tx, link.id, actor, "external-body", &format!("{body} on {on}")).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Reopens a closed case. The earlier response (outcome, date, findings, measures) moves
    /// into the case's history and the live fields are cleared, so the next final response is
    /// the one the register counts, with its own date.
    pub async fn reopen(&self, reference: &str, actor: &str) -> Result<std::result::Result<(), Refused>> {
        let mut tx = self.begin().await?;
        let locked = self.lock_case(&mut tx, reference).await?;
        if let Some(why) = refusal(reference, locked.state, Step::Reopen) {
            tx.rollback().await?;
            return Ok(Err(Refused(why)));
        }
        sqlx::query(
            "UPDATE cases SET status = 'open', closed_at = NULL, outcome = NULL, findings = NULL, measures = NULL, responded_at = NULL
             WHERE id = $1",
        )
        .bind(locked.id)
        .execute(&mut *tx)
        .await?;
        let responded = locked.responded_at.and_then(|t| chrono::DateTime::from_timestamp(t, 0)).map(crate::domain::calendar::amsterdam_date);
        let detail = format!(
            "earlier response: outcome {}, sent {}; findings: {}; measures: {}",
            locked.outcome.as_deref().unwrap_or("none"),
            responded.map_or("not yet".to_string(), |d| d.to_string()),
            locked.findings.as_deref().unwrap_or("").trim(),
            locked.measures.as_deref().unwrap_or("").trim()
        );
        insert_event(&mut tx, locked.id, actor, "reopened", &detail).await?;
        tx.commit().await?;
        Ok(Ok(()))
    }

    /// A paper complaint's acknowledgement went out by post on `on`. Refused for a case that
    /// came by e-mail (its acknowledgement is mailed) and for one whose acknowledgement date is
    /// recorded already.
    pub async fn acknowledged_by_post(&self, reference: &str, on: chrono::NaiveDate, actor: &str) -> std::result::Result<(), ActionError> {
        let at = on.and_hms_opt(12, 0, 0).and_then(|t| t.and_local_timezone(chrono_tz::Europe::Amsterdam).earliest()).map_or(now(), |t| t.timestamp());
        let mut tx = self.begin().await?;
        let locked = self.lock_case(&mut tx, reference).await?;
        let refused = if locked.source != "post" {
            Some(format!("{reference} came by e-mail; its acknowledgement is mailed and recorded when the mail server accepts it"))
        } else if let Some(earlier) = locked.acknowledged_at {
            let day = chrono::DateTime::from_timestamp(earlier, 0).map(crate::domain::calendar::amsterdam_date);
            Some(format!("{reference} already has its acknowledgement recorded ({})", day.map_or("date unknown".to_string(), |d| d.to_string())))
        } else {
            None
        };
        if let Some(why) = refused {
            tx.rollback().await?;
            return Err(Refused(why).into());
        }
        sqlx::query("UPDATE cases SET acknowledged_at = $1 WHERE id = $2 AND acknowledged_at IS NULL").bind(at).bind(locked.id).execute(&mut *tx).await?;
        insert_event(&mut tx, locked.id, actor, "acknowledged-by-post", &on.to_string()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Reads a case inside `tx` and holds it until `tx` ends. On PostgreSQL the row is locked
    /// (`SELECT ... FOR UPDATE`): a concurrent action on the same case waits, then reads the
    /// state the first one committed. On SQLite, `begin` takes the write lock up front
    /// (`BEGIN IMMEDIATE`), which serialises writers already.
    async fn lock_case(&self, tx: &mut sqlx::Transaction<'static, sqlx::Any>, reference: &str) -> Result<Locked> {
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        };
        let sql = format!("SELECT id, status, outcome, source, findings, measures, responded_at, acknowledged_at FROM cases WHERE reference = $1{lock}");
        let r = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(reference).fetch_optional(&mut **tx).await?.ok_or_else(|| StoreError::UnknownCase(reference.into()))?;
        let outcome: Option<String> = r.get(2);
        Ok(Locked {
            id: r.get(0),
            state: CaseState { closed: r.get::<String, _>(1) == "closed", responded: outcome.is_some() },
            outcome,
            source: r.get(3),
            findings: r.get(4),
            measures: r.get(5),
            responded_at: r.get(6),
            acknowledged_at: r.get(7),
        })
    }

    /// Whether the handler with this address may act on the case now: they are its current
    /// handler, or an active supervisor. A token issued before a reassignment no longer counts.
    pub async fn may_act_on(&self, reference: &str, email: &str) -> Result<bool> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM handlers h WHERE h.email = $1 AND h.active = 1
               AND (h.supervisor <> 0 OR h.id = (SELECT c.handler_id FROM cases c WHERE c.reference = $2))",
        )
        .bind(email.trim().to_ascii_lowercase())
        .bind(reference)
        .fetch_one(&self.pool)
        .await?;
        Ok(n > 0)
    }

    /// Queues a mail to a handler about a case (`why` goes into the history).
    pub async fn queue_notice(&self, case_id: i64, mail: &OutgoingMail, why: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        insert_outbox(&mut tx, Some(case_id), mail).await?;
        insert_event(&mut tx, case_id, "klachtd", "handler-notified", why).await?;
        tx.commit().await?;
        Ok(())
    }
}
