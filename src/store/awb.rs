//! What the steps of Awb chapter 9 read and write besides a letter: the staff a complaint is
//! about, a copy of the complaint to them (9:9), and the parts of an outgoing mail besides its
//! text (its documents, a calendar invitation).

use serde::{Deserialize, Serialize};

use super::actions::record_origin;
use super::{insert_event, insert_outbox, Conn, MailOrigin, OutgoingMail, RefusableError, Refused, Result, Store, StoreError};
use crate::domain::awb::{HearingOutcome, HistoryKind, NoHearingGround};
use crate::domain::history::HistoryEvent;
use crate::domain::reference::{CaseId, CaseRef};

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
    pub async fn subject_addresses(&self, case_id: CaseId) -> Result<Vec<(String, String)>> {
        Ok(sqlx::query_as(
            "SELECT h.name, h.email FROM case_subjects s JOIN handlers h ON LOWER(h.name) = LOWER(s.name)
             WHERE s.case_id = $1 ORDER BY h.name",
        )
        .bind(case_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Whether `name` is recorded as a person the complaint is about.
    pub async fn is_subject(&self, case_id: CaseId, name: &str) -> Result<bool> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM case_subjects WHERE case_id = $1 AND LOWER(name) = LOWER($2)")
            .bind(case_id)
            .bind(name.trim())
            .fetch_one(&self.pool)
            .await?;
        Ok(n > 0)
    }

    /// The documents of a case: the attachments of the mails (or the paper complaint) it was
    /// registered with and the complainant's follow-ups, in the order received.
    pub async fn case_documents(&self, case_id: CaseId) -> Result<Vec<CaseDocument>> {
        let rows: Vec<(String, String, String)> =
            sqlx::query_as("SELECT sha256, filename, content_type FROM attachments WHERE case_id = $1 AND role = 'document' ORDER BY id")
                .bind(case_id)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(|(sha256, filename, content_type)| CaseDocument { sha256, filename, content_type }).collect())
    }

    /// Queues `mail` with its `parts` and records `kind` with `detail` in the case's history,
    /// in one transaction; with `origin` (an action by mail) that mail too. False: `origin` was
    /// recorded before, and nothing was done.
    #[allow(clippy::too_many_arguments)]
    pub async fn queue_with_parts(
        &self,
        case_id: CaseId,
        mail: &OutgoingMail,
        parts: &[MailPart],
        kind: HistoryKind,
        actor: &str,
        detail: &str,
        origin: Option<&MailOrigin>,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        if let Some(origin) = origin {
            if !record_origin(&mut tx, case_id, origin).await? {
                tx.rollback().await?;
                return Ok(false);
            }
        }
        insert_outbox_with_parts(&mut tx, case_id, mail, parts).await?;
        insert_event(&mut tx, case_id, actor, HistoryEvent::Awb(kind), detail).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The hearing of a case as far as it went: (UID, last day to answer, answer, outcome).
    pub async fn hearing_state(&self, case_id: CaseId) -> Result<HearingState> {
        let (uid, answer_by, answer, outcome): (Option<String>, Option<String>, Option<String>, Option<HearingOutcome>) =
            sqlx::query_as("SELECT hearing_uid, hearing_answer_by, hearing_answer, hearing_outcome FROM cases WHERE id = $1")
                .bind(case_id)
                .fetch_one(&self.pool)
                .await?;
        let answer_by = answer_by.map(|d| super::stored_day(case_id, &d)).transpose()?;
        Ok(HearingState { uid, answer_by, answer, outcome })
    }

    /// Records an invitation to be heard (Awb 9:10) and queues its mails, each with its
    /// calendar part, in one transaction. Refused for a closed case.
    #[allow(clippy::too_many_arguments)]
    pub async fn queue_hearing_invitation(
        &self,
        case_id: CaseId,
        reference: &CaseRef,
        mails: &[(OutgoingMail, Vec<MailPart>)],
        uid: &str,
        at: i64,
        answer_by: chrono::NaiveDate,
        actor: &str,
        detail: &str,
        origin: Option<&MailOrigin>,
    ) -> std::result::Result<bool, RefusableError> {
        let mut tx = self.begin().await?;
        let changed = sqlx::query(
            "UPDATE cases SET hearing_uid = $1, hearing_at = $2, hearing_answer_by = $3, hearing_answer = NULL, hearing_outcome = NULL, hearing_report = NULL
             WHERE id = $4 AND status = 'open'",
        )
        .bind(uid)
        .bind(at)
        .bind(answer_by.to_string())
        .bind(case_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        match on_open_case(&mut tx, changed, case_id, reference, origin).await {
            Ok(true) => {}
            not_done => {
                tx.rollback().await?;
                return not_done;
            }
        }
        for (mail, parts) in mails {
            insert_outbox_with_parts(&mut tx, case_id, mail, parts).await?;
        }
        insert_event(&mut tx, case_id, actor, HistoryEvent::Awb(HistoryKind::HearingInvited), detail).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The hearing was held: its report is kept and (with `mail`) queued to the complainant.
    pub async fn record_hearing(
        &self,
        case_id: CaseId,
        reference: &CaseRef,
        report: &str,
        mail: Option<&OutgoingMail>,
        actor: &str,
        origin: Option<&MailOrigin>,
    ) -> std::result::Result<bool, RefusableError> {
        let mut tx = self.begin().await?;
        let changed = sqlx::query("UPDATE cases SET hearing_outcome = 'held', hearing_report = $1 WHERE id = $2 AND status = 'open'")
            .bind(report)
            .bind(case_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        match on_open_case(&mut tx, changed, case_id, reference, origin).await {
            Ok(true) => {}
            not_done => {
                tx.rollback().await?;
                return not_done;
            }
        }
        if let Some(mail) = mail {
            insert_outbox(&mut tx, Some(case_id), mail).await?;
        }
        let to = mail.map_or("by post".to_string(), |m| format!("to {}", m.recipient));
        insert_event(&mut tx, case_id, actor, HistoryEvent::Awb(HistoryKind::HearingHeld), &format!("hearing held (Awb 9:10); its report sent {to}")).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// There was no hearing, on `ground` (Awb 9:10(2)).
    pub async fn record_no_hearing(
        &self,
        case_id: CaseId,
        reference: &CaseRef,
        ground: NoHearingGround,
        actor: &str,
        origin: Option<&MailOrigin>,
    ) -> std::result::Result<bool, RefusableError> {
        let mut tx = self.begin().await?;
        let changed = sqlx::query("UPDATE cases SET hearing_outcome = $1 WHERE id = $2 AND status = 'open'")
            .bind(HearingOutcome::NoHearing(ground))
            .bind(case_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        match on_open_case(&mut tx, changed, case_id, reference, origin).await {
            Ok(true) => {}
            not_done => {
                tx.rollback().await?;
                return not_done;
            }
        }
        insert_event(&mut tx, case_id, actor, HistoryEvent::Awb(HistoryKind::NoHearing), &format!("no hearing (Awb 9:10(2)): {ground}")).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// An answer (iTIP REPLY) to the hearing invitation `uid` of case `case_id`, in the
    /// intake's transaction: recorded only when the UID is that of the case's invitation.
    pub async fn record_hearing_answer(&self, db: &mut Conn, case_id: CaseId, uid: &str, answer: &str, from: &str) -> Result<bool> {
        let changed = sqlx::query("UPDATE cases SET hearing_answer = $1 WHERE id = $2 AND hearing_uid = $3")
            .bind(answer)
            .bind(case_id)
            .bind(uid)
            .execute(&mut *db)
            .await?
            .rows_affected();
        if changed == 1 {
            insert_event(db, case_id, "klachtd", HistoryEvent::Awb(HistoryKind::HearingAnswer), &format!("{answer} by {from}")).await?;
        }
        Ok(changed == 1)
    }
}

/// Where the hearing of a case stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HearingState {
    pub uid: Option<String>,
    pub answer_by: Option<chrono::NaiveDate>,
    pub answer: Option<String>,
    pub outcome: Option<HearingOutcome>,
}

/// After a step's update of the case (`changed` rows, by `WHERE id = .. AND status = 'open'`):
/// a refusal when the case is closed; otherwise the mail the action came in recorded in `tx`
/// (when by mail), false if it was recorded before. Anything but `Ok(true)` leaves `tx` for the
/// caller to roll back.
async fn on_open_case(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    changed: u64,
    case_id: CaseId,
    reference: &CaseRef,
    origin: Option<&MailOrigin>,
) -> std::result::Result<bool, RefusableError> {
    if changed != 1 {
        return Err(Refused(format!("{reference} is closed; reopen it first (klachtd cases reopen {reference})")).into());
    }
    match origin {
        Some(origin) => Ok(record_origin(tx, case_id, origin).await?),
        None => Ok(true),
    }
}

/// Queues `mail` of a case with its extra `parts` (attachments, a calendar); none is an
/// ordinary mail.
async fn insert_outbox_with_parts(tx: &mut sqlx::Transaction<'static, sqlx::Any>, case_id: CaseId, mail: &OutgoingMail, parts: &[MailPart]) -> Result<()> {
    let id = insert_outbox(tx, Some(case_id), mail).await?;
    if !parts.is_empty() {
        let json = serde_json::to_string(parts).map_err(|e| StoreError::Corrupt(format!("mail parts: {e}")))?;
        sqlx::query("UPDATE outbox SET parts = $1 WHERE id = $2").bind(json).bind(id).execute(&mut **tx).await?;
    }
    Ok(())
}
