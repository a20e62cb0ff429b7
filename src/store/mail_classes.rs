//! Queries for what a mail is (issue 11): quarantined mail waiting for a handler, and whether a
//! sender is known on a case (for a reference in the text of a mail).
//!
//! Quarantined mail that a handler may release (spam by the organisation's filter, a scan, a
//! voicemail) is kept as a message without a case, `kind = 'quarantined'`, with its raw bytes
//! and the IMAP internal date as `received_at`. So releasing it needs neither the mailbox nor
//! its password, and it is removed with the other mail outside any case after the retention
//! period (R9, `remove_unlinked_mail`). Releasing reads it as any held mail (see `set_aside`).

use super::{insert_event, Conn, Result, Store, StoreError};
use crate::domain::history::HistoryEvent;
use crate::domain::reference::{CaseId, CaseRef};

/// A quarantined mail as `klachtd quarantine list` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct QuarantinedMail {
    pub id: i64,
    /// The IMAP internal date (Unix seconds): the date of receipt if it becomes a case.
    pub received_at: i64,
    pub from_address: Option<String>,
    pub subject: String,
    pub reason: String,
}

impl Store {
    /// Quarantined mail a handler can release, oldest first.
    pub async fn quarantined_mails(&self) -> Result<Vec<QuarantinedMail>> {
        self.quarantined_mails_of(None).await
    }

    /// [`quarantined_mails`](Self::quarantined_mails) received for `organisations` (`None`:
    /// for any; issue 25).
    pub async fn quarantined_mails_of(&self, organisations: Option<&[crate::domain::organisation::OrganisationKey]>) -> Result<Vec<QuarantinedMail>> {
        let of = super::organisations::of_organisations("organisation", organisations);
        let sql = format!("SELECT id, received_at, from_address, subject, note FROM messages WHERE kind = 'quarantined' AND case_id IS NULL{of} ORDER BY id");
        let rows: Vec<(i64, i64, Option<String>, String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(&self.pool).await?;
        Ok(rows
            .into_iter()
            .map(|(id, received_at, from_address, subject, reason)| QuarantinedMail { id, received_at, from_address, subject, reason })
            .collect())
    }

    /// Whether `address` is known on the case: the complainant, their Reply-To, anyone whose
    /// mail is in the case, or anyone we wrote to about it.
    pub async fn address_known_on_case(&self, conn: &mut Conn, case_id: CaseId, address: &str) -> Result<bool> {
        let n: i64 = sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM cases WHERE id = $1 AND (LOWER(complainant_email) = $2 OR LOWER(reply_to_email) = $2))
                  + (SELECT COUNT(*) FROM messages WHERE case_id = $1 AND direction = 'in' AND LOWER(from_address) = $2)
                  + (SELECT COUNT(*) FROM outbox WHERE case_id = $1 AND LOWER(recipient) = $2)",
        )
        .bind(case_id)
        .bind(address.to_ascii_lowercase())
        .fetch_one(&mut *conn)
        .await?;
        Ok(n > 0)
    }

    /// Adds an entry to a case's history on behalf of the intake (or the handler who released
    /// a quarantined mail).
    pub async fn add_case_event(&self, reference: &CaseRef, actor: &str, action: HistoryEvent, detail: &str) -> Result<()> {
        let link = self.case_link(reference).await?.ok_or_else(|| StoreError::UnknownCase(reference.clone()))?;
        let mut tx = self.begin().await?;
        insert_event(&mut tx, link.id, actor, action, detail).await?;
        tx.commit().await?;
        Ok(())
    }
}
