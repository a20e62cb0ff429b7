//! Handlers and who handles which case (R5).

use super::corrections::named_handlers;
use super::{insert_event, now, Result, Store, StoreError};
use crate::domain::assignment::{is_subject, pick, Candidate};
use crate::domain::history::HistoryEvent;
use crate::domain::organisation::OrganisationKey;
use crate::domain::reference::{CaseId, CaseRef};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Handler {
    pub name: String,
    pub email: String,
    pub supervisor: bool,
    pub active: bool,
    pub open_cases: i64,
    /// The keys of the organisations they work for (issue 25), in order.
    pub organisations: Vec<String>,
}

impl Store {
    /// Adds a handler of the one organisation of a configuration without several ("default"),
    /// or updates and reactivates one with the same name (see [`Store::upsert_handler_in`]).
    pub async fn upsert_handler(&self, name: &str, email: &str, supervisor: bool) -> Result<()> {
        self.upsert_handler_in(name, email, supervisor, &[OrganisationKey::default_key()]).await
    }

    /// Adds a handler, or updates and reactivates one with the same name, who works for
    /// exactly `organisations` from now on (issue 25): they see and act on those organisations'
    /// cases only, and a supervisor supervises those only. One transaction.
    pub async fn upsert_handler_in(&self, name: &str, email: &str, supervisor: bool, organisations: &[OrganisationKey]) -> Result<()> {
        let mut tx = self.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO handlers (name, email, supervisor, active, created_at) VALUES ($1, $2, $3, 1, $4)
             ON CONFLICT (name) DO UPDATE SET email = excluded.email, supervisor = excluded.supervisor, active = 1 RETURNING id",
        )
        .bind(name.trim())
        .bind(email.trim().to_ascii_lowercase())
        .bind(supervisor as i64)
        .bind(now())
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM handler_organisations WHERE handler_id = $1").bind(id).execute(&mut *tx).await?;
        for organisation in organisations {
            sqlx::query("INSERT INTO handler_organisations (handler_id, organisation) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(id)
                .bind(organisation.as_str())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The organisations the active handler with this address works for, in order (none for
    /// an unknown or inactive address).
    pub async fn handler_organisations(&self, email: &str) -> Result<Vec<OrganisationKey>> {
        self.handler_organisations_on(&mut self.reader().await?, email).await
    }

    /// [`Store::handler_organisations`] on the page's read connection.
    pub async fn handler_organisations_on(&self, reader: &mut super::Reader, email: &str) -> Result<Vec<OrganisationKey>> {
        let keys: Vec<String> = sqlx::query_scalar(
            "SELECT ho.organisation FROM handler_organisations ho JOIN handlers h ON h.id = ho.handler_id
             WHERE h.email = $1 AND h.active = 1 ORDER BY ho.organisation",
        )
        .bind(email.trim().to_ascii_lowercase())
        .fetch_all(&mut **reader)
        .await?;
        // Written by this program from validated keys; a key that is not one names nothing.
        Ok(keys.iter().filter_map(|k| OrganisationKey::parse(k).ok()).collect())
    }

    /// Marks a handler inactive (their history stays). Their open cases keep them until
    /// reassigned. Returns false if there was no such active handler.
    pub async fn deactivate_handler(&self, name: &str) -> Result<bool> {
        let n = sqlx::query("UPDATE handlers SET active = 0 WHERE name = $1 AND active = 1").bind(name.trim()).execute(&self.pool).await?.rows_affected();
        Ok(n == 1)
    }

    /// The name of the active handler with this address, if any.
    pub async fn handler_by_email(&self, email: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar("SELECT name FROM handlers WHERE email = $1 AND active = 1")
            .bind(email.trim().to_ascii_lowercase())
            .fetch_optional(&self.pool)
            .await?)
    }

    pub async fn handlers(&self) -> Result<Vec<Handler>> {
        let rows: Vec<(i64, String, String, i64, i64, i64)> = sqlx::query_as(
            "SELECT h.id, h.name, h.email, h.supervisor, h.active,
                    (SELECT COUNT(*) FROM cases c WHERE c.handler_id = h.id AND c.status = 'open')
             FROM handlers h ORDER BY h.name",
        )
        .fetch_all(self.reads())
        .await?;
        let memberships: Vec<(i64, String)> =
            sqlx::query_as("SELECT handler_id, organisation FROM handler_organisations ORDER BY handler_id, organisation").fetch_all(self.reads()).await?;
        let mut by_handler: std::collections::HashMap<i64, Vec<String>> = std::collections::HashMap::new();
        for (id, organisation) in memberships {
            by_handler.entry(id).or_default().push(organisation);
        }
        Ok(rows
            .into_iter()
            .map(|(id, name, email, supervisor, active, open_cases)| Handler {
                name,
                email,
                supervisor: supervisor != 0,
                active: active != 0,
                open_cases,
                organisations: by_handler.remove(&id).unwrap_or_default(),
            })
            .collect())
    }

    /// Gives a case to a handler, refusing a handler the complaint is about: one recorded as its
    /// subject, or one its text names while a supervisor has not cleared that check
    /// (`cases checked`).
    pub async fn assign(&self, reference: &CaseRef, handler: &str, actor: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        let (case_id, named): (CaseId, String) = sqlx::query_as("SELECT id, supervisor_check FROM cases WHERE reference = $1")
            .bind(reference)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::UnknownCase(reference.clone()))?;
        // A handler of another organisation is, for this case, no handler at all (issue 25).
        let handler_id: i64 = sqlx::query_scalar(
            "SELECT h.id FROM handlers h WHERE h.name = $1 AND h.active = 1 AND EXISTS (SELECT 1 FROM handler_organisations ho
               WHERE ho.handler_id = h.id AND ho.organisation = (SELECT c.organisation FROM cases c WHERE c.id = $2))",
        )
        .bind(handler.trim())
        .bind(case_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::UnknownHandler(handler.into()))?;
        if is_subject(handler, &subjects(&mut tx, case_id).await?) {
            return Err(StoreError::NotImpartial { handler: handler.into(), reference: reference.clone() });
        }
        if is_subject(handler, &named_handlers(&named)) {
            return Err(StoreError::NamedInComplaint { handler: handler.into(), reference: reference.clone() });
        }
        sqlx::query("UPDATE cases SET handler_id = $1 WHERE id = $2").bind(handler_id).bind(case_id).execute(&mut *tx).await?;
        insert_event(&mut tx, case_id, actor, HistoryEvent::Assigned, handler.trim()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records that a case is about staff member `name`. If they handle it, the case goes to
    /// someone else (round-robin); returns who that is, if anyone.
    pub async fn add_subject(&self, reference: &CaseRef, name: &str, actor: &str) -> Result<Option<String>> {
        let mut tx = self.begin().await?;
        let (case_id, current, named): (CaseId, Option<String>, String) =
            sqlx::query_as("SELECT c.id, h.name, c.supervisor_check FROM cases c LEFT JOIN handlers h ON h.id = c.handler_id WHERE c.reference = $1")
                .bind(reference)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| StoreError::UnknownCase(reference.clone()))?;
        sqlx::query("INSERT INTO case_subjects (case_id, name) VALUES ($1, $2) ON CONFLICT (case_id, name) DO NOTHING")
            .bind(case_id)
            .bind(name.trim())
            .execute(&mut *tx)
            .await?;
        insert_event(&mut tx, case_id, actor, HistoryEvent::SubjectAdded, name.trim()).await?;
        let mut reassigned = None;
        if current.as_deref().is_some_and(|c| c.trim().eq_ignore_ascii_case(name.trim())) {
            // Neither a subject nor a handler the complaint names (unless a supervisor cleared that).
            let mut excluded = subjects(&mut tx, case_id).await?;
            excluded.extend(named_handlers(&named));
            let candidates = handler_candidates_of(&mut tx, case_id).await?;
            let next = pick(&candidates, &excluded);
            sqlx::query("UPDATE cases SET handler_id = $1 WHERE id = $2").bind(next.map(|c| c.id)).bind(case_id).execute(&mut *tx).await?;
            let detail = match next {
                Some(c) => format!("{} (the previous handler is a subject of the complaint)", c.name),
                None => "nobody: every handler is a subject of the complaint".to_string(),
            };
            insert_event(&mut tx, case_id, actor, HistoryEvent::Assigned, &detail).await?;
            reassigned = next.map(|c| c.name.clone());
        }
        tx.commit().await?;
        Ok(reassigned)
    }
}

async fn subjects(tx: &mut sqlx::Transaction<'static, sqlx::Any>, case_id: CaseId) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT name FROM case_subjects WHERE case_id = $1").bind(case_id).fetch_all(&mut **tx).await
}

/// The handlers a case can go to when it changes hands: those of its organisation (issue 25).
async fn handler_candidates_of(tx: &mut super::Conn, case_id: CaseId) -> Result<Vec<Candidate>, sqlx::Error> {
    let organisation: String = sqlx::query_scalar("SELECT organisation FROM cases WHERE id = $1").bind(case_id).fetch_one(&mut *tx).await?;
    handler_candidates_in(tx, &organisation).await
}

/// The handlers that cases of `organisation` (its key) can go to, with their turns in the
/// round-robin: the active handlers who work for it (issue 25); a new case of an
/// organisation's mailbox never goes to another organisation's handler.
pub(super) async fn handler_candidates_in(tx: &mut super::Conn, organisation: &str) -> Result<Vec<Candidate>, sqlx::Error> {
    let rows: Vec<(i64, String, i64, i64)> = sqlx::query_as(
        "SELECT h.id, h.name, h.supervisor, h.last_assigned_at FROM handlers h
         WHERE h.active = 1 AND EXISTS (SELECT 1 FROM handler_organisations ho WHERE ho.handler_id = h.id AND ho.organisation = $1)",
    )
    .bind(organisation)
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows.into_iter().map(|(id, name, supervisor, last_assigned_at)| Candidate { id, name, supervisor: supervisor != 0, last_assigned_at }).collect())
}
