//! Reminder bookkeeping: which deadlines are open, and which reminders went out already. A
//! reminder row's unique key (case, deadline, kind, due key, recipient) is claimed in the same
//! transaction that queues the digest mail, so each reminder is sent once: across restarts,
//! after a crash, and with several instances on one database.

use crate::domain::history::HistoryEvent;
use crate::domain::reference::{CaseId, CaseRef};
use crate::domain::vocabulary::MailKind;
use chrono::NaiveDate;

use super::outbox::set_outbox_organisation;
use super::set_aside::{claim_held_count, held_count_sent, HeldCount};
use super::{insert_case_events, insert_outbox, now, stored_day, DeadlineColumns, OutgoingMail, Result, Store, WRITE_CHUNK};
use crate::domain::reminders::{Deadline, OpenDeadline};

/// An open case with its unmet deadlines.
#[derive(Debug, Clone)]
pub struct CaseDeadlines {
    pub case_id: CaseId,
    pub reference: CaseRef,
    /// The key of the case's organisation: only its supervisors hear of it (issue 25).
    pub organisation: String,
    /// Name and address of the responsible handler, if assigned, active and working for the
    /// case's organisation.
    pub handler: Option<(String, String)>,
    pub open: Vec<OpenDeadline>,
    /// A one-line status without personal data, for the handler's digest.
    pub status: String,
}

/// One reminder or escalation for one recipient, as the unique key records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReminderClaim {
    pub case_id: CaseId,
    pub deadline: Deadline,
    pub kind: MailKind,
    pub due_key: String,
}

/// A case with an unmet deadline, as [`Store::open_deadlines`] reads it.
struct DueRow {
    id: CaseId,
    reference: CaseRef,
    organisation: String,
    name: Option<String>,
    email: Option<String>,
    active: Option<i64>,
    /// 1 if the handler works for the case's organisation.
    member: i64,
    incomplete: String,
    supervisor_check: String,
    /// The term to answer a hearing invitation, while no answer or decision came (Awb 9:10).
    hearing_answer_due: Option<String>,
    deadlines: DeadlineColumns,
}
from_columns!(DueRow { id, reference, organisation, name, email, active, member, incomplete, supervisor_check, hearing_answer_due } with deadlines);

/// An active supervisor, with the keys of the organisations they supervise (issue 25).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Supervisor {
    pub name: String,
    pub email: String,
    pub organisations: Vec<String>,
}

impl Supervisor {
    /// Whether they supervise the organisation with this key.
    pub fn supervises(&self, organisation: &str) -> bool {
        self.organisations.iter().any(|o| o == organisation)
    }
}

/// Index into the claims handed to [`Store::queue_digest_counted`] that were new.
pub type ClaimedReminder = usize;

/// What [`Store::queue_digest_counted`] queued: how many reminders were new, and the count of
/// held mail the digest carries. Nothing of either: no mail was queued.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Queued {
    pub reminders: usize,
    pub count: Option<HeldCount>,
}

impl Queued {
    /// Whether a digest mail was queued.
    pub fn mail(&self) -> bool {
        self.reminders > 0 || self.count.is_some()
    }
}

/// Cases per statement when looking up recorded reminders.
const RECORDED_CHUNK: usize = 500;

impl Store {
    /// The open cases with an unmet deadline on or before `due_by` (a sweep's horizon), each
    /// with all its unmet deadlines. Reads what is due through the partial indexes of unmet
    /// deadlines, not every open case.
    pub async fn open_deadlines(&self, due_by: NaiveDate) -> Result<Vec<CaseDeadlines>> {
        let rows: Vec<DueRow> = sqlx::query_as(
            "SELECT c.id, c.reference, c.organisation, h.name, h.email, h.active,
                    CASE WHEN EXISTS (SELECT 1 FROM handler_organisations ho WHERE ho.handler_id = c.handler_id AND ho.organisation = c.organisation)
                         THEN 1 ELSE 0 END AS member,
                    c.acknowledge_by, c.acknowledged_at, c.progress_by,
                    c.progress_sent_at, c.respond_by, c.responded_at, c.incomplete, c.supervisor_check,
                    CASE WHEN c.hearing_answer IS NULL AND c.hearing_outcome IS NULL THEN c.hearing_answer_by END AS hearing_answer_due
             FROM cases c LEFT JOIN handlers h ON h.id = c.handler_id
             WHERE (c.status = 'open' AND c.acknowledged_at IS NULL AND c.acknowledge_by <= $1)
                OR (c.status = 'open' AND c.progress_sent_at IS NULL AND c.progress_by <= $1)
                OR (c.status = 'open' AND c.responded_at IS NULL AND c.respond_by <= $1)
                OR (c.status = 'open' AND c.hearing_answer IS NULL AND c.hearing_outcome IS NULL AND c.hearing_answer_by <= $1)
             ORDER BY c.id",
        )
        .bind(due_by.to_string())
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let mut open = Vec::new();
            for (deadline, date, met) in r.deadlines.each() {
                if met.is_none() && super::stored_deadline(date).is_some() {
                    open.push(OpenDeadline { deadline, date: stored_day(&r.reference, date)? });
                }
            }
            if let Some(date) = &r.hearing_answer_due {
                open.push(OpenDeadline { deadline: Deadline::HearingAnswer, date: stored_day(&r.reference, date)? });
            }
            let handler = match (r.name, r.email) {
                (Some(name), Some(email)) if r.active.unwrap_or(0) != 0 && r.member != 0 => Some((name, email)),
                _ => None,
            };
            let mut status = vec![if handler.is_some() { "open" } else { "open, no handler" }.to_string()];
            if !r.incomplete.is_empty() {
                status.push("incomplete".into());
            }
            if !r.supervisor_check.is_empty() {
                status.push("supervisor check".into());
            }
            out.push(CaseDeadlines { case_id: r.id, reference: r.reference, organisation: r.organisation, handler, open, status: status.join(", ") });
        }
        Ok(out)
    }

    /// Every active supervisor, with the organisations they supervise.
    pub async fn supervisors(&self) -> Result<Vec<Supervisor>> {
        let rows: Vec<(String, String, Option<String>)> = sqlx::query_as(
            "SELECT h.name, h.email, ho.organisation FROM handlers h LEFT JOIN handler_organisations ho ON ho.handler_id = h.id
             WHERE h.supervisor = 1 AND h.active = 1 ORDER BY h.name, ho.organisation",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out: Vec<Supervisor> = Vec::new();
        for (name, email, organisation) in rows {
            if out.last().is_none_or(|s| s.name != name) {
                out.push(Supervisor { name, email, organisations: Vec::new() });
            }
            if let (Some(last), Some(organisation)) = (out.last_mut(), organisation) {
                last.organisations.push(organisation);
            }
        }
        Ok(out)
    }

    pub async fn reminder_recorded(&self, claim: &ReminderClaim, recipient: &str) -> Result<bool> {
        Ok(self.reminders_recorded(std::slice::from_ref(claim), recipient).await?[0])
    }

    /// For each of `claims`, whether it was recorded for `recipient` already: a few reads of
    /// the reminders of those cases, instead of one statement per claim.
    pub async fn reminders_recorded(&self, claims: &[ReminderClaim], recipient: &str) -> Result<Vec<bool>> {
        let mut case_ids: Vec<CaseId> = claims.iter().map(|c| c.case_id).collect();
        case_ids.sort_unstable();
        case_ids.dedup();
        let mut recorded = std::collections::HashSet::new();
        for chunk in case_ids.chunks(RECORDED_CHUNK) {
            // Numbers, written into the statement: no text from outside goes in.
            let ids: Vec<String> = chunk.iter().map(|id| id.get().to_string()).collect();
            let sql = format!("SELECT case_id, deadline, kind, due_key FROM reminders WHERE recipient = $1 AND case_id IN ({})", ids.join(", "));
            let rows: Vec<(CaseId, String, String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(recipient).fetch_all(&self.pool).await?;
            recorded.extend(rows);
        }
        Ok(claims.iter().map(|c| recorded.contains(&(c.case_id, c.deadline.as_str().to_string(), c.kind.to_string(), c.due_key.clone()))).collect())
    }

    /// Claims `claims` for `recipient` and, if any was new, queues the one digest mail that
    /// `compose` writes for the new ones, from `organisation` (whose cases they are), all in
    /// one transaction. With `count` (the day, and the sweep's time) it also claims
    /// `recipient`'s daily count of `organisation`'s set-aside and quarantined mail: at most
    /// once a day, in the same transaction as the digest that carries it (see
    /// `set_aside::claim_held_count`). `compose` gets the new reminders and the count, if any.
    pub async fn queue_digest_counted(
        &self,
        recipient: &str,
        organisation: &str,
        claims: &[ReminderClaim],
        count: Option<(NaiveDate, i64)>,
        compose: impl FnOnce(&[ClaimedReminder], Option<&HeldCount>) -> Option<OutgoingMail>,
    ) -> Result<Queued> {
        // What went out before needs no write transaction: most sweeps of a day find
        // everything due recorded. The INSERTs below still decide, should another instance
        // claim the same reminders meanwhile.
        let recorded = self.reminders_recorded(claims, recipient).await?;
        let count = match count {
            Some((day, at)) if !self.held_counted(recipient, organisation, day).await? && self.held_count(recipient, organisation, at).await?.0.total() > 0 => {
                Some((day, at))
            }
            _ => None,
        };
        if recorded.iter().all(|r| *r) && count.is_none() {
            return Ok(Queued::default());
        }
        let mut tx = self.begin().await?;
        let held = match count {
            Some((day, at)) => claim_held_count(&mut tx, recipient, organisation, day, at).await?,
            None => None,
        };
        let t = now();
        // Many rows per statement: the first sweep of a day claims every reminder due that day.
        let key = |c: &ReminderClaim| (c.case_id, c.deadline.as_str().to_string(), c.kind.to_string(), c.due_key.clone());
        let mut index = std::collections::HashMap::new();
        for (i, c) in claims.iter().enumerate().rev() {
            index.insert(key(c), i);
        }
        let unrecorded: Vec<&ReminderClaim> = claims.iter().enumerate().filter(|(i, _)| !recorded[*i]).map(|(_, c)| c).collect();
        let mut fresh: Vec<(ClaimedReminder, i64)> = Vec::new();
        for chunk in unrecorded.chunks(WRITE_CHUNK) {
            let values: Vec<String> = (0..chunk.len()).map(|k| format!("(${}, ${}, ${}, ${}, $1, $2)", 4 * k + 3, 4 * k + 4, 4 * k + 5, 4 * k + 6)).collect();
            let sql = format!(
                "INSERT INTO reminders (case_id, deadline, kind, due_key, recipient, created_at) VALUES {}
                 ON CONFLICT (case_id, deadline, kind, due_key, recipient) DO NOTHING RETURNING id, case_id, deadline, kind, due_key",
                values.join(", ")
            );
            let mut query = sqlx::query_as::<_, (i64, CaseId, String, String, String)>(sqlx::AssertSqlSafe(sql)).bind(recipient).bind(t);
            for c in chunk {
                query = query.bind(c.case_id).bind(c.deadline.as_str()).bind(c.kind).bind(&c.due_key);
            }
            for (id, case_id, deadline, kind, due_key) in query.fetch_all(&mut *tx).await? {
                if let Some(&i) = index.get(&(case_id, deadline, kind, due_key)) {
                    fresh.push((i, id));
                }
            }
        }
        fresh.sort_unstable();
        let fresh_claims: Vec<ClaimedReminder> = fresh.iter().map(|(i, _)| *i).collect();
        let Some(mail) = (!fresh.is_empty() || held.is_some()).then(|| compose(&fresh_claims, held.as_ref())).flatten() else {
            tx.rollback().await?;
            return Ok(Queued::default());
        };
        let outbox_id = insert_outbox(&mut tx, None, &mail).await?;
        set_outbox_organisation(&mut tx, outbox_id, organisation).await?;
        if let (Some(_), Some((day, _))) = (&held, count) {
            held_count_sent(&mut tx, recipient, organisation, day, outbox_id).await?;
        }
        for chunk in fresh.chunks(WRITE_CHUNK) {
            // Row ids, written into the statement: numbers only.
            let ids: Vec<String> = chunk.iter().map(|(_, id)| id.to_string()).collect();
            sqlx::query(sqlx::AssertSqlSafe(format!("UPDATE reminders SET outbox_id = $1 WHERE id IN ({})", ids.join(", "))))
                .bind(outbox_id)
                .execute(&mut *tx)
                .await?;
        }
        let events: Vec<(CaseId, HistoryEvent, String)> = fresh
            .iter()
            .map(|(i, _)| &claims[*i])
            .map(|c| (c.case_id, HistoryEvent::Queued(c.kind), format!("{} {} to {recipient}", c.deadline.as_str(), c.due_key)))
            .collect();
        insert_case_events(&mut tx, t, "klachtd", &events).await?;
        tx.commit().await?;
        Ok(Queued { reminders: fresh.len(), count: held })
    }
}
