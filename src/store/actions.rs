//! Handler actions on a case: the letters of the procedure and the register's facts.

use sqlx::Row;

use super::{insert_event, insert_outbox, now, OutgoingMail, Result, Store, StoreError};
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
        // Re-read the state inside the transaction: two handlers acting at once must not both
        // send a final response.
        let row = sqlx::query("SELECT status, outcome FROM cases WHERE id = $1").bind(case.id).fetch_one(&mut *tx).await?;
        let state = CaseState { closed: row.get::<String, _>(0) == "closed", responded: row.get::<Option<String>, _>(1).is_some() };
        if let Some(why) = refusal(&case.reference, state, step) {
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
                sqlx::query("UPDATE cases SET outcome = $1, findings = $2, measures = $3, status = 'closed', closed_at = $4 WHERE id = $5")
                    .bind(outcome.as_str())
                    .bind(findings)
                    .bind(measures)
                    .bind(t)
                    .bind(case.id)
                    .execute(&mut *tx)
                    .await?;
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

    pub async fn reopen(&self, reference: &str, actor: &str) -> Result<std::result::Result<(), Refused>> {
        let case = self.letter_case(reference).await?;
        if let Some(why) = refusal(reference, case.state, Step::Reopen) {
            return Ok(Err(Refused(why)));
        }
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE cases SET status = 'open', closed_at = NULL, outcome = NULL WHERE id = $1").bind(case.id).execute(&mut *tx).await?;
        insert_event(&mut tx, case.id, actor, "reopened", "").await?;
        tx.commit().await?;
        Ok(Ok(()))
    }

    /// A paper complaint's acknowledgement went out by post on `on`.
    pub async fn acknowledged_by_post(&self, reference: &str, on: chrono::NaiveDate, actor: &str) -> Result<()> {
        let at = on.and_hms_opt(12, 0, 0).and_then(|t| t.and_local_timezone(chrono_tz::Europe::Amsterdam).earliest()).map_or(now(), |t| t.timestamp());
        let link = self.case_link(reference).await?.ok_or_else(|| StoreError::UnknownCase(reference.into()))?;
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE cases SET acknowledged_at = $1 WHERE id = $2").bind(at).bind(link.id).execute(&mut *tx).await?;
        insert_event(&mut tx, link.id, actor, "acknowledged-by-post", &on.to_string()).await?;
        tx.commit().await?;
        Ok(())
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
