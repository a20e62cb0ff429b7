//! What the steps of Awb chapter 9 read and write besides a letter: the staff a complaint is
//! about, a copy of the complaint to them (9:9), and the parts of an outgoing mail besides its
//! text (its documents, a calendar invitation).

use serde::{Deserialize, Serialize};

use super::{insert_event, insert_outbox, OutgoingMail, Result, Store, StoreError};
use crate::domain::awb::HistoryKind;

/// A part of an outgoing mail besides its text, kept as JSON in `outbox.parts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "part", rename_all = "kebab-case")]
pub enum MailPart {
    /// A stored attachment (by its hash in the attachment store), under its (safe) name.
    Attachment { sha256: String, filename: String, content_type: String },
    /// An iCalendar object (`text/calendar; method=METHOD`), shown inline and attached as
    /// `filename`.
    Calendar { method: String, content: String, filename: String },
}

/// The parts of an outbox row from its `parts` column (NULL: none).
pub(super) fn parts_from_column(column: Option<String>) -> std::result::Result<Vec<MailPart>, sqlx::Error> {
    match column {
        None => Ok(Vec::new()),
        Some(json) => serde_json::from_str(&json).map_err(|e| sqlx::Error::Decode(Box::new(e))),
    }
}

/// One of a case's attachments, as a copy of the complaint carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseDocument {
    pub sha256: String,
    pub filename: String,
    pub content_type: String,
}

impl Store {
    /// The people a complaint is about (`cases subject`) who are staff with an address in
    /// `handlers`, as (name, address): they receive a copy of a postponement (Awb 9:11).
    pub async fn subject_addresses(&self, case_id: i64) -> Result<Vec<(String, String)>> {
        Ok(sqlx::query_as(
            "SELECT h.name, h.email FROM case_subjects s JOIN handlers h ON LOWER(h.name) = LOWER(s.name)
             WHERE s.case_id = $1 ORDER BY h.name",
        )
        .bind(case_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Whether `name` is recorded as a person the complaint is about.
    pub async fn is_subject(&self, case_id: i64, name: &str) -> Result<bool> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM case_subjects WHERE case_id = $1 AND LOWER(name) = LOWER($2)")
            .bind(case_id)
            .bind(name.trim())
            .fetch_one(&self.pool)
            .await?;
        Ok(n > 0)
    }

    /// The documents of a case: the attachments of the mails (or the paper complaint) it was
    /// registered with and the complainant's follow-ups, in the order received.
    pub async fn case_documents(&self, case_id: i64) -> Result<Vec<CaseDocument>> {
        let rows: Vec<(String, String, String)> =
            sqlx::query_as("SELECT sha256, filename, content_type FROM attachments WHERE case_id = $1 AND role = 'document' ORDER BY id")
                .bind(case_id)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(|(sha256, filename, content_type)| CaseDocument { sha256, filename, content_type }).collect())
    }

    /// Queues `mail` with its `parts` and records `kind` with `detail` in the case's history,
    /// in one transaction.
    pub async fn queue_with_parts(&self, case_id: i64, mail: &OutgoingMail, parts: &[MailPart], kind: HistoryKind, actor: &str, detail: &str) -> Result<()> {
        let json = serde_json::to_string(parts).map_err(|e| StoreError::Corrupt(format!("mail parts: {e}")))?;
        let mut tx = self.begin().await?;
        let id = insert_outbox(&mut tx, Some(case_id), mail).await?;
        if !parts.is_empty() {
            sqlx::query("UPDATE outbox SET parts = $1 WHERE id = $2").bind(json).bind(id).execute(&mut *tx).await?;
        }
        insert_event(&mut tx, case_id, actor, kind.as_str(), detail).await?;
        tx.commit().await?;
        Ok(())
    }
}
