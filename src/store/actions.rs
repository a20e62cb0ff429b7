//! Handler actions on a case: the letters of the procedure and the register's facts.

use sqlx::Row;

use super::{
    drop_quarantine_record, insert_event, insert_message, insert_outbox, now, CaseStatus, MessageRecord, OutboxStatus, OutgoingMail, Result, Store, StoreError,
};
use crate::domain::awb::{HistoryKind, NotHandledGround};
use crate::domain::history::{Direction, HistoryEvent, MessageKind};
use crate::domain::organisation::OrganisationKey;
use crate::domain::procedure::{refusal, CaseOutcome, CaseState, Category, Outcome, Step};
use crate::domain::reference::{CaseId, CaseRef};
use crate::domain::vocabulary::{CaseSource, MailKind};

/// What a letter to the complainant needs to know about its case.
#[derive(Debug, Clone)]
pub struct LetterCase {
    pub id: CaseId,
    pub reference: CaseRef,
    /// The organisation whose case it is (issue 25): its letters, its context.
    pub organisation: OrganisationKey,
    pub state: CaseState,
    pub complainant_name: Option<String>,
    pub complainant_email: Option<String>,
    pub received_on: chrono::NaiveDate,
    pub acknowledge_by: chrono::NaiveDate,
    /// `None`: the case's procedure has no progress notice.
    pub progress_by: Option<chrono::NaiveDate>,
    pub respond_by: chrono::NaiveDate,
    /// The terms the case was registered under.
    pub procedure: crate::domain::terms::Procedure,
    /// How often the final response was postponed (Awb 9:11).
    pub postponements: u32,
    pub handler_name: Option<String>,
    pub handler_email: Option<String>,
    /// Message-IDs of the case, oldest first, for In-Reply-To and References.
    pub thread: Vec<String>,
    /// The Message-ID of the complainant's latest mail, to reply to.
    pub last_inbound: Option<String>,
}

impl LetterCase {
    /// The dates the case was registered with, as stored (the response's as postponed), never
    /// recomputed: a change of the configuration does not move them.
    pub fn deadlines(&self) -> crate::domain::calendar::Deadlines {
        crate::domain::calendar::Deadlines {
            received: self.received_on,
            acknowledge_by: self.acknowledge_by,
            progress_by: self.progress_by,
            respond_by: self.respond_by,
        }
    }
}

/// The case `reference` for a letter or a notice, without its thread (`None`: unknown).
pub(super) async fn letter_case_on(conn: &mut super::Conn, reference: &CaseRef) -> Result<Option<LetterCase>> {
    let found = sqlx::query(
        "SELECT c.id, c.reference, c.organisation, c.status, c.outcome, c.complainant_name, c.complainant_email, c.received_on, c.respond_by,
                (SELECT h.name FROM handlers h WHERE h.id = c.handler_id) AS handler_name,
                (SELECT h.email FROM handlers h WHERE h.id = c.handler_id) AS handler_email,
                c.postponements, c.acknowledge_by, c.progress_by, c.procedure_terms
         FROM cases c WHERE c.reference = $1",
    )
    .bind(reference)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(r) = found else { return Ok(None) };
    Ok(Some(LetterCase {
        id: r.try_get("id")?,
        reference: r.try_get("reference")?,
        organisation: OrganisationKey::parse(&r.try_get::<String, _>("organisation")?).unwrap_or_default(),
        state: CaseState {
            closed: r.try_get::<CaseStatus, _>("status")? == CaseStatus::Closed,
            responded: r.try_get::<Option<String>, _>("outcome")?.is_some(),
        },
        complainant_name: r.try_get("complainant_name")?,
        complainant_email: r.try_get("complainant_email")?,
        received_on: super::day_column(&r, "received_on")?,
        acknowledge_by: super::day_column(&r, "acknowledge_by")?,
        progress_by: super::optional_day_column(&r, "progress_by")?,
        respond_by: super::day_column(&r, "respond_by")?,
        procedure: r.try_get::<String, _>("procedure_terms")?.parse().map_err(|e| StoreError::Corrupt(format!("case {reference}: its procedure: {e}")))?,
        postponements: u32::try_from(r.try_get::<i64, _>("postponements")?).unwrap_or(0),
        handler_name: r.try_get("handler_name")?,
        handler_email: r.try_get("handler_email")?,
        last_inbound: None,
        thread: Vec::new(),
    }))
}

/// What a letter changes on its case, in the transaction that queues it.
#[derive(Debug, Clone)]
pub enum LetterEffect {
    Progress {
        expected_by: chrono::NaiveDate,
    },
    RequestInformation {
        to: String,
    },
    /// The final response; `external_term_ends` is the last day to turn to the external body.
    Response {
        outcome: Outcome,
        findings: String,
        measures: String,
        external_term_ends: chrono::NaiveDate,
    },
    /// Awb 9:11: `respond_by` moves from `previous` to `new_date`; `earlier` postponements
    /// were made before (the update is guarded by it, so two at once cannot both pass).
    /// `copies`: the letter to the people the complaint is about, queued with it.
    Postpone {
        previous: chrono::NaiveDate,
        new_date: chrono::NaiveDate,
        earlier: u32,
        weeks: u32,
        reason: String,
        consent: Option<String>,
        copies: Vec<OutgoingMail>,
    },
    /// Awb 9:8: closes the case without handling it.
    NotHandled {
        ground: NotHandledGround,
        explanation: String,
        external_term_ends: chrono::NaiveDate,
    },
    /// Awb 9:5: closes the case as settled.
    Settled {
        settlement: String,
    },
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// The mail that asked for an action (an action by mail). It is recorded on the case in the
/// action's own transaction, together with the confirmation to its sender, so the action and
/// the record of the mail commit together or not at all.
#[derive(Debug, Clone)]
pub struct MailOrigin {
    pub message: MessageRecord,
    /// The confirmation to queue (`None` if it could not be written).
    pub confirmation: Option<OutgoingMail>,
}

/// Records `origin` inside `tx`: the mail (unique by its dedupe key) and its confirmation.
/// False if the mail was recorded before, i.e. the action it asked for was done (or refused)
/// already; the caller must then roll back and do nothing.
pub(super) async fn record_origin(tx: &mut sqlx::Transaction<'static, sqlx::Any>, case_id: CaseId, origin: &MailOrigin) -> Result<bool, sqlx::Error> {
    // A handler's reply released from quarantine takes the place of its quarantine record.
    if let Some(key) = &origin.message.dedupe_key {
        drop_quarantine_record(tx, key).await?;
    }
    match insert_message(tx, Some(case_id), &origin.message, &[]).await {
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => return Ok(false),
        other => other?,
    };
    insert_event(tx, case_id, "klachtd", HistoryEvent::Message(origin.message.kind), &origin.message.note).await?;
    if let Some(confirmation) = &origin.confirmation {
        insert_outbox(tx, Some(case_id), confirmation).await?;
        insert_event(tx, case_id, "klachtd", HistoryEvent::HandlerNotified, "action by mail confirmed").await?;
    }
    Ok(true)
}

/// An action that the procedure can refuse: a database error, or a refusal with its reason.
#[derive(Debug, thiserror::Error)]
pub enum RefusableError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Refused(#[from] Refused),
}

impl From<sqlx::Error> for RefusableError {
    fn from(e: sqlx::Error) -> Self {
        Self::Store(e.into())
    }
}

/// A case's state as read inside a transaction that holds it (see [`Store::lock_case`]).
struct Locked {
    id: CaseId,
    state: CaseState,
    source: CaseSource,
    outcome: Option<CaseOutcome>,
    findings: Option<String>,
    measures: Option<String>,
    responded_at: Option<i64>,
    acknowledged_at: Option<i64>,
}

/// Closes an open case without an outcome with `outcome`, in `tx`; false if it was closed or
/// had one (guarded as well as locked). `text` goes into `findings` (the findings, the
/// explanation of a 9:8 ground, how it was settled). A settled complaint has no
/// `external_term_ends`.
#[allow(clippy::too_many_arguments)]
async fn close_case(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    case_id: CaseId,
    outcome: CaseOutcome,
    text: Option<&String>,
    measures: Option<&String>,
    ground: Option<NotHandledGround>,
    external_term_ends: Option<chrono::NaiveDate>,
    t: i64,
) -> Result<bool, sqlx::Error> {
    let term = external_term_ends.map(|d| d.to_string());
    let changed = sqlx::query(
        "UPDATE cases SET outcome = $1, findings = $2, measures = $3, not_handled_ground = $4, external_term_ends = $5, status = 'closed', closed_at = $6
         WHERE id = $7 AND outcome IS NULL AND status = 'open'",
    )
    .bind(outcome)
    .bind(text)
    .bind(measures)
    .bind(ground.map(|g| g.as_str()))
    .bind(term)
    .bind(t)
    .bind(case_id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(changed == 1)
}

/// What a letter changes on its case, in `tx` at `t`, and the history entry that says so;
/// refused when the case changed meanwhile (closed, responded to, postponed). The caller rolls
/// back on a refusal.
async fn apply_letter_effect(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    case: &LetterCase,
    effect: &LetterEffect,
    t: i64,
) -> std::result::Result<(HistoryEvent, String), RefusableError> {
    let reference = &case.reference;
    let outcome_already = || Refused(format!("{reference} is closed with its outcome already; reopen it first"));
    Ok(match effect {
        LetterEffect::Progress { expected_by } => {
            sqlx::query("UPDATE cases SET expected_by = $1 WHERE id = $2").bind(expected_by.to_string()).bind(case.id).execute(&mut **tx).await?;
            (HistoryEvent::ProgressNotice, format!("expected handling by {expected_by}"))
        }
        LetterEffect::RequestInformation { to } => (HistoryEvent::InformationRequested, format!("to {to}")),
        LetterEffect::Response { outcome, findings, measures, external_term_ends } => {
            if !close_case(tx, case.id, CaseOutcome::from(*outcome), Some(findings), Some(measures), None, Some(*external_term_ends), t).await? {
                return Err(Refused(format!("{reference} already has its final response; reopen it first to respond again")).into());
            }
            (HistoryEvent::FinalResponse, format!("outcome {outcome}; case closed; external body until {external_term_ends}"))
        }
        LetterEffect::Postpone { .. } => postpone(tx, case, effect).await?,
        LetterEffect::NotHandled { ground, explanation, external_term_ends } => {
            if !close_case(tx, case.id, CaseOutcome::NotHandled, Some(explanation), None, Some(*ground), Some(*external_term_ends), t).await? {
                return Err(outcome_already().into());
            }
            (HistoryEvent::Awb(HistoryKind::NotHandled), format!("not handled (Awb 9:8): {ground}; case closed; external body until {external_term_ends}"))
        }
        LetterEffect::Settled { settlement } => {
            if !close_case(tx, case.id, CaseOutcome::Settled, Some(settlement), None, None, None, t).await? {
                return Err(outcome_already().into());
            }
            (HistoryEvent::Awb(HistoryKind::Settled), "settled to the complainant's satisfaction (Awb 9:5); case closed".to_string())
        }
    })
}

/// Awb 9:11: moves the final response, guarded by the date and count read before (a
/// postponement made meanwhile refuses this one, which would otherwise skip the consent rule),
/// and queues the copies to the people the complaint is about.
async fn postpone(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    case: &LetterCase,
    effect: &LetterEffect,
) -> std::result::Result<(HistoryEvent, String), RefusableError> {
    let LetterEffect::Postpone { previous, new_date, earlier, weeks, reason, consent, copies } = effect else {
        return Err(StoreError::Corrupt("postpone: not a postponement".into()).into());
    };
    let changed = sqlx::query(
        "UPDATE cases SET original_respond_by = COALESCE(original_respond_by, respond_by), respond_by = $1,
                postponements = postponements + 1
         WHERE id = $2 AND respond_by = $3 AND postponements = $4 AND status = 'open' AND outcome IS NULL",
    )
    .bind(new_date.to_string())
    .bind(case.id)
    .bind(previous.to_string())
    .bind(i64::from(*earlier))
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if changed != 1 {
        return Err(Refused(format!("{} changed while postponing (another postponement?); look at the case and try again", case.reference)).into());
    }
    for copy in copies {
        insert_outbox(tx, Some(case.id), copy).await?;
    }
    let consent = consent.as_deref().map_or(String::new(), |c| format!("; complainant's written consent: {}", c.trim()));
    let copied =
        if copies.is_empty() { String::new() } else { format!("; copy to {}", copies.iter().map(|c| c.recipient.as_str()).collect::<Vec<_>>().join(", ")) };
    let detail = format!("final response postponed by {weeks} week(s) from {previous} to {new_date}: {}{consent}{copied}", reason.trim());
    Ok((HistoryEvent::Awb(HistoryKind::Postponed), detail))
}

/// The column of the deadline a letter sent by post meets at once, if it meets one.
fn met_by_post(effect: &LetterEffect) -> Option<&'static str> {
    match effect {
        LetterEffect::Progress { .. } => Some("progress_sent_at"),
        LetterEffect::Response { .. } | LetterEffect::NotHandled { .. } | LetterEffect::Settled { .. } => Some("responded_at"),
        LetterEffect::RequestInformation { .. } | LetterEffect::Postpone { .. } => None,
    }
}

impl Store {
    pub async fn letter_case(&self, reference: &CaseRef) -> Result<LetterCase> {
        let mut conn = self.pool.acquire().await?;
        let mut case = letter_case_on(&mut conn, reference).await?.ok_or_else(|| StoreError::UnknownCase(reference.clone()))?;
        drop(conn);
        if let Some(address) = &case.complainant_email {
            (case.last_inbound, case.thread) = self.thread_with(case.id, address, true).await?;
        }
        Ok(case)
    }

    /// In-Reply-To and References for a letter to `address` on a case. To the complainant
    /// (`complainant`): their own mails (the complaint and their follow-ups, from their address
    /// or their representative's) and our letters to them; never a handler's action mail, a
    /// bounce, an auto-reply or a notice to a handler. To anyone else: only our earlier letters
    /// to that address, so a third party never sees the complainant's Message-IDs.
    pub async fn thread_with(&self, case_id: CaseId, address: &str, complainant: bool) -> Result<(Option<String>, Vec<String>)> {
        let address = address.trim().to_lowercase();
        let inbound: Vec<String> = if complainant {
            sqlx::query_scalar(
                "SELECT m.message_id FROM messages m JOIN cases c ON c.id = m.case_id
                 WHERE m.case_id = $1 AND m.direction = $2 AND m.kind IN ($3, $4) AND m.message_id IS NOT NULL
                   AND (LOWER(m.from_address) = LOWER(c.complainant_email) OR LOWER(m.from_address) = LOWER(c.reply_to_email))
                 ORDER BY m.id",
            )
            .bind(case_id)
            .bind(Direction::In)
            .bind(MessageKind::Complaint)
            .bind(MessageKind::FollowUp)
            .fetch_all(&self.pool)
            .await?
        } else {
            Vec::new()
        };
        let letters = super::outbox::kinds_sql(MailKind::is_letter_to_a_party);
        let outbound: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT message_id FROM outbox
             WHERE case_id = $1 AND status = 'sent' AND LOWER(recipient) = $2 AND kind IN ({letters})
             ORDER BY id"
        )))
        .bind(case_id)
        .bind(&address)
        .fetch_all(&self.pool)
        .await?;
        let last_inbound = inbound.last().cloned();
        let mut thread = inbound;
        thread.extend(outbound);
        Ok((last_inbound, thread))
    }

    /// Queues a letter of the procedure and records what it does, in one transaction. The
    /// deadline it answers is met when the SMTP server accepts it (or, for a letter sent by
    /// post, at once: `mail` is `None` and `sent_by_post` is set).
    ///
    /// With an `origin` (an action by mail), the mail and its confirmation are recorded in the
    /// same transaction; `Ok(false)` says that mail was recorded before and nothing was done.
    pub async fn queue_letter(
        &self,
        case: &LetterCase,
        step: Step,
        effect: &LetterEffect,
        mail: Option<&OutgoingMail>,
        actor: &str,
        origin: Option<&MailOrigin>,
    ) -> std::result::Result<bool, RefusableError> {
        let mut tx = self.begin().await?;
        // Read the state in the transaction that changes it, holding the case: two handlers (or
        // two instances) acting at once must not both send a final response.
        let locked = self.lock_case(&mut tx, &case.reference).await?;
        if let Some(why) = refusal(&case.reference, locked.state, step) {
            tx.rollback().await?;
            return Err(Refused(why).into());
        }
        if let Some(origin) = origin {
            if !record_origin(&mut tx, case.id, origin).await? {
                tx.rollback().await?;
                return Ok(false);
            }
        }
        let t = now();
        let (action, detail) = match apply_letter_effect(&mut tx, case, effect, t).await {
            Ok(done) => done,
            Err(e) => {
                tx.rollback().await?;
                return Err(e);
            }
        };
        match (mail, met_by_post(effect)) {
            (Some(mail), _) => {
                insert_outbox(&mut tx, Some(case.id), mail).await?;
            }
            (None, Some(column)) => {
                let sql = format!("UPDATE cases SET {column} = $1 WHERE id = $2 AND {column} IS NULL");
                sqlx::query(sqlx::AssertSqlSafe(sql)).bind(t).bind(case.id).execute(&mut *tx).await?;
            }
            (None, None) => {}
        }
        insert_event(&mut tx, case.id, actor, action, &detail).await?;
        tx.commit().await?;
        Ok(true)
    }

    pub async fn set_category(&self, reference: &CaseRef, category: Category, actor: &str) -> Result<()> {
        let link = self.case_link(reference).await?.ok_or_else(|| StoreError::UnknownCase(reference.clone()))?;
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE cases SET category = $1 WHERE id = $2").bind(category.as_str()).bind(link.id).execute(&mut *tx).await?;
        insert_event(&mut tx, link.id, actor, HistoryEvent::Category, category.as_str()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// An internal note: in the history only, never sent.
    pub async fn add_note(&self, reference: &CaseRef, text: &str, actor: &str) -> Result<()> {
        let link = self.case_link(reference).await?.ok_or_else(|| StoreError::UnknownCase(reference.clone()))?;
        let mut tx = self.begin().await?;
        insert_event(&mut tx, link.id, actor, HistoryEvent::Note, text).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A note asked for by mail, recorded with that mail and its confirmation in one
    /// transaction. False if the mail was recorded before (nothing done).
    pub async fn add_note_by_mail(&self, reference: &CaseRef, text: &str, actor: &str, origin: &MailOrigin) -> Result<bool> {
        let link = self.case_link(reference).await?.ok_or_else(|| StoreError::UnknownCase(reference.clone()))?;
        let mut tx = self.begin().await?;
        if !record_origin(&mut tx, link.id, origin).await? {
            tx.rollback().await?;
            return Ok(false);
        }
        insert_event(&mut tx, link.id, actor, HistoryEvent::Note, text).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Records an action mail that was refused (or could not be read), with the confirmation
    /// that says why, in one transaction. False if the mail was recorded before.
    pub async fn record_action_mail(&self, case_id: CaseId, origin: &MailOrigin) -> Result<bool> {
        let mut tx = self.begin().await?;
        if !record_origin(&mut tx, case_id, origin).await? {
            tx.rollback().await?;
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }

    /// The complainant took the complaint to the external body (R11).
    pub async fn record_external(&self, reference: &CaseRef, body: &str, on: chrono::NaiveDate, actor: &str) -> Result<()> {
        let link = self.case_link(reference).await?.ok_or_else(|| StoreError::UnknownCase(reference.clone()))?;
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE cases SET external_body = $1, external_on = $2 WHERE id = $3")
            .bind(body)
            .bind(on.to_string())
            .bind(link.id)
            .execute(&mut *tx)
            .await?;
        insert_event(&mut tx, link.id, actor, HistoryEvent::ExternalBody, &format!("{body} on {on}")).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Reopens a closed case. The earlier response (outcome, date, findings, measures) moves
    /// into the case's history and the live fields are cleared, so the next final response is
    /// the one the register counts, with its own date.
    pub async fn reopen(&self, reference: &CaseRef, actor: &str) -> std::result::Result<(), RefusableError> {
        let mut tx = self.begin().await?;
        let locked = self.lock_case(&mut tx, reference).await?;
        if let Some(why) = refusal(reference, locked.state, Step::Reopen) {
            tx.rollback().await?;
            return Err(Refused(why).into());
        }
        // `external_term_ends` stays: the earlier letter named that term, and retention keeps the
        // case's data until it has passed.
        sqlx::query(
            "UPDATE cases SET status = 'open', closed_at = NULL, outcome = NULL, findings = NULL, measures = NULL, responded_at = NULL,
                    not_handled_ground = NULL
             WHERE id = $1",
        )
        .bind(locked.id)
        .execute(&mut *tx)
        .await?;
        let responded = locked.responded_at.and_then(|t| chrono::DateTime::from_timestamp(t, 0)).map(crate::domain::calendar::amsterdam_date);
        let detail = format!(
            "earlier response: outcome {}, sent {}; findings: {}; measures: {}",
            locked.outcome.map_or("none", CaseOutcome::as_str),
            responded.map_or("not yet".to_string(), |d| d.to_string()),
            locked.findings.as_deref().unwrap_or("").trim(),
            locked.measures.as_deref().unwrap_or("").trim()
        );
        insert_event(&mut tx, locked.id, actor, HistoryEvent::Reopened, &detail).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The acknowledgement of a case went out by post on `on` (a paper complaint, or one whose
    /// mailed acknowledgement could not be sent: suppressed by the per-sender limit, never
    /// written, or no usable address). Refused only when the case's acknowledgement was sent
    /// by mail or recorded already.
    pub async fn acknowledged_by_post(&self, reference: &CaseRef, on: chrono::NaiveDate, actor: &str) -> std::result::Result<(), RefusableError> {
        let at = on.and_hms_opt(12, 0, 0).and_then(|t| t.and_local_timezone(chrono_tz::Europe::Amsterdam).earliest()).map_or(now(), |t| t.timestamp());
        let mut tx = self.begin().await?;
        let locked = self.lock_case(&mut tx, reference).await?;
        // The case's latest acknowledgement by mail, if it was sent or is about to be (one that
        // came back undelivered is `returned` and does not count).
        let mailed = sqlx::query(
            "SELECT status, sent_at FROM outbox WHERE case_id = $1 AND kind = 'acknowledgement' AND status IN ('sent', 'pending') ORDER BY id DESC LIMIT 1",
        )
        .bind(locked.id)
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| Ok::<_, sqlx::Error>((r.try_get::<OutboxStatus, _>("status")?, r.try_get::<Option<i64>, _>("sent_at")?)))
        .transpose()?;
        let day =
            |t: i64| chrono::DateTime::from_timestamp(t, 0).map(crate::domain::calendar::amsterdam_date).map_or("date unknown".to_string(), |d| d.to_string());
        let refused = match (locked.acknowledged_at, mailed) {
            (Some(earlier), _) => Some(format!("{reference} already has its acknowledgement recorded ({})", day(earlier))),
            (None, Some((OutboxStatus::Pending, _))) => Some(format!("{reference} has an acknowledgement by e-mail waiting to be sent; nothing to record")),
            (None, Some((_, sent))) => Some(format!("{reference} was acknowledged by e-mail ({}); nothing to record", sent.map_or("date unknown".into(), day))),
            (None, None) => None,
        };
        if let Some(why) = refused {
            tx.rollback().await?;
            return Err(Refused(why).into());
        }
        sqlx::query("UPDATE cases SET acknowledged_at = $1 WHERE id = $2 AND acknowledged_at IS NULL").bind(at).bind(locked.id).execute(&mut *tx).await?;
        let detail = if locked.source == CaseSource::Post { on.to_string() } else { format!("{on} (the complaint came by e-mail)") };
        insert_event(&mut tx, locked.id, actor, HistoryEvent::AcknowledgedByPost, &detail).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Queues an acknowledgement for a case that has none (it could not be written when the
    /// case was registered), as `actor`. Refused when the case already has one, in the outbox
    /// in any state, or its acknowledgement was recorded.
    pub async fn queue_acknowledgement(&self, reference: &CaseRef, mail: &OutgoingMail, actor: &str) -> std::result::Result<(), RefusableError> {
        let mut tx = self.begin().await?;
        let locked = self.lock_case(&mut tx, reference).await?;
        let existing: Option<String> = sqlx::query_scalar("SELECT status FROM outbox WHERE case_id = $1 AND kind = 'acknowledgement' ORDER BY id DESC LIMIT 1")
            .bind(locked.id)
            .fetch_optional(&mut *tx)
            .await?;
        let refused = match (locked.acknowledged_at, existing) {
            (Some(_), _) => Some(format!("{reference} already has its acknowledgement recorded")),
            (None, Some(status)) => Some(format!("{reference} already has an acknowledgement ({status})")),
            (None, None) => None,
        };
        if let Some(why) = refused {
            tx.rollback().await?;
            return Err(Refused(why).into());
        }
        insert_outbox(&mut tx, Some(locked.id), mail).await?;
        insert_event(&mut tx, locked.id, actor, HistoryEvent::AcknowledgementQueued, mail.status.as_str()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Reads a case inside `tx` and holds it until `tx` ends. On PostgreSQL the row is locked
    /// (`SELECT ... FOR UPDATE`): a concurrent action on the same case waits, then reads the
    /// state the first one committed. On SQLite, `begin` takes the write lock up front
    /// (`BEGIN IMMEDIATE`), which serialises writers already.
    async fn lock_case(&self, tx: &mut sqlx::Transaction<'static, sqlx::Any>, reference: &CaseRef) -> Result<Locked> {
        let lock = self.row_lock();
        let sql = format!("SELECT id, status, outcome, source, findings, measures, responded_at, acknowledged_at FROM cases WHERE reference = $1{lock}");
        let r =
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(reference).fetch_optional(&mut **tx).await?.ok_or_else(|| StoreError::UnknownCase(reference.clone()))?;
        let outcome: Option<CaseOutcome> = r.try_get("outcome")?;
        Ok(Locked {
            id: r.try_get("id")?,
            state: CaseState { closed: r.try_get::<CaseStatus, _>("status")? == CaseStatus::Closed, responded: outcome.is_some() },
            outcome,
            source: r.try_get("source")?,
            findings: r.try_get("findings")?,
            measures: r.try_get("measures")?,
            responded_at: r.try_get("responded_at")?,
            acknowledged_at: r.try_get("acknowledged_at")?,
        })
    }

    /// Queues a mail to a handler about a case (`why` goes into the history).
    pub async fn queue_notice(&self, case_id: CaseId, mail: &OutgoingMail, why: &str) -> Result<()> {
        self.queue_notices(&[(case_id, mail.clone(), why.to_string())]).await
    }
}
