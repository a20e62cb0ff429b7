//! A handler's corrections to a case (R3) and a supervisor's check of its assignment (R5).

use super::actions::{RefusableError, Refused};
use super::{insert_event, Store, StoreError};
use crate::domain::history::HistoryEvent;
use crate::domain::reference::{CaseId, CaseRef};

/// What a handler corrects or adds; each part is optional, at least one is needed.
#[derive(Debug, Clone, Default)]
pub struct Correction {
    pub name: Option<String>,
    pub email: Option<String>,
    pub description: Option<String>,
}

/// What a correction did: the fields it changed and what is still missing (R3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corrected {
    pub fields: Vec<&'static str>,
    pub incomplete: Vec<&'static str>,
}

/// Whether `address` is an e-mail address the outbox can send to.
pub fn valid_email(address: &str) -> bool {
    crate::domain::vocabulary::EmailAddress::parse(address).is_ok()
}

impl Store {
    /// Records a handler's correction of the complainant's name, address or description and
    /// recomputes the case's `incomplete` flags. Refused (nothing changed) for an empty or
    /// invalid value, a correction without any value, and a case whose personal data was
    /// removed after the retention period.
    pub async fn correct_case(&self, reference: &CaseRef, correction: &Correction, actor: &str) -> std::result::Result<Corrected, RefusableError> {
        let name = correction.name.as_deref().map(str::trim);
        let email = correction.email.as_deref().map(str::trim);
        let description = correction.description.as_deref();
        if name.is_none() && email.is_none() && description.is_none() {
            return Err(Refused(format!("{reference}: nothing to correct; give --name, --email or --description-file")).into());
        }
        if name.is_some_and(str::is_empty) {
            return Err(Refused("the name is empty".into()).into());
        }
        if let Some(e) = email.filter(|e| !valid_email(e)) {
            return Err(Refused(format!("{e:?} is not a valid e-mail address")).into());
        }
        if description.is_some_and(|d| d.trim().is_empty()) {
            return Err(Refused("the description is empty".into()).into());
        }
        let mut tx = self.begin().await?;
        let lock = self.row_lock();
        let sql = format!("SELECT id, complainant_name, complainant_email, description, incomplete, anonymised_at FROM cases WHERE reference = $1{lock}");
        let (id, old_name, old_email, old_description, old_flags, anonymised_at): (CaseId, Option<String>, Option<String>, String, String, Option<i64>) =
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(reference)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| StoreError::UnknownCase(reference.clone()))?;
        if anonymised_at.is_some() {
            tx.rollback().await?;
            return Err(Refused(format!("{reference}: its personal data was removed after the retention period; it cannot be corrected")).into());
        }

        let new_name = name.map(str::to_string).or(old_name.clone());
        let new_email = email.map(str::to_string).or(old_email.clone());
        let new_description = description.map(str::to_string).unwrap_or(old_description);
        let incomplete = incomplete_after(&old_flags, new_name.as_deref(), &new_description);
        sqlx::query("UPDATE cases SET complainant_name = $1, complainant_email = $2, description = $3, incomplete = $4 WHERE id = $5")
            .bind(new_name)
            .bind(new_email)
            .bind(&new_description)
            .bind(incomplete.join(","))
            .bind(id)
            .execute(&mut *tx)
            .await?;

        // The history says what changed and what the earlier name and address were (retention
        // clears this detail with the rest of the case's personal data); logs never see it.
        let mut fields = Vec::new();
        let mut detail = Vec::new();
        if name.is_some() {
            fields.push("name");
            detail.push(format!("name (was {})", old_name.as_deref().unwrap_or("none")));
        }
        if email.is_some() {
            fields.push("e-mail address");
            detail.push(format!("e-mail address (was {})", old_email.as_deref().unwrap_or("none")));
        }
        if description.is_some() {
            fields.push("description");
            detail.push("description".to_string());
        }
        let missing = if incomplete.is_empty() { "nothing".to_string() } else { incomplete.join(", ") };
        insert_event(&mut tx, id, actor, HistoryEvent::Corrected, &format!("{}; missing now: {missing}", detail.join(", "))).await?;
        tx.commit().await?;
        tracing::info!(%reference, fields = fields.len(), incomplete = incomplete.len(), "case corrected");
        Ok(Corrected { fields, incomplete })
    }

    /// A supervisor confirms the assignment of a case whose complaint names a handler (R5):
    /// the check is cleared, after which a named handler may be assigned. Refused when there
    /// is no check to clear.
    pub async fn supervisor_checked(&self, reference: &CaseRef, actor: &str) -> std::result::Result<String, RefusableError> {
        let mut tx = self.begin().await?;
        let lock = self.row_lock();
        let sql =
            format!("SELECT c.id, c.supervisor_check, (SELECT h.name FROM handlers h WHERE h.id = c.handler_id) FROM cases c WHERE c.reference = $1{lock}");
        let (id, named, handler): (CaseId, String, Option<String>) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(reference)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::UnknownCase(reference.clone()))?;
        if named.is_empty() {
            tx.rollback().await?;
            return Err(Refused(format!("{reference} has no supervisor check to clear")).into());
        }
        sqlx::query("UPDATE cases SET supervisor_check = '' WHERE id = $1").bind(id).execute(&mut *tx).await?;
        let detail = format!("assignment to {} confirmed; the complaint names {named}", handler.as_deref().unwrap_or("nobody yet"));
        insert_event(&mut tx, id, actor, HistoryEvent::SupervisorChecked, &detail).await?;
        tx.commit().await?;
        Ok(named)
    }
}

/// The case's `incomplete` flags after a correction (R3): `name` while there is no name;
/// `description` while the description is empty and was missing before (a complaint whose
/// only description is a readable attachment was never flagged, and stays so).
pub(crate) fn incomplete_after(before: &str, name: Option<&str>, description: &str) -> Vec<&'static str> {
    let mut flags = Vec::new();
    if description.trim().is_empty() && before.split(',').any(|f| f == "description") {
        flags.push("description");
    }
    if name.is_none_or(|n| n.trim().is_empty()) {
        flags.push("name");
    }
    flags
}

/// The handlers in a case's `supervisor_check` (as `auto_assign` joins them).
pub(crate) fn named_handlers(supervisor_check: &str) -> Vec<String> {
    supervisor_check.split(", ").map(str::trim).filter(|n| !n.is_empty()).map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_follow_what_is_present() {
        assert_eq!(incomplete_after("description,name", Some("Ans"), "Tekst"), Vec::<&str>::new());
        assert_eq!(incomplete_after("description,name", Some("Ans"), " "), vec!["description"]);
        assert_eq!(incomplete_after("description,name", None, "Tekst"), vec!["name"]);
        assert_eq!(incomplete_after("", Some(" "), ""), vec!["name"], "an attachment-only complaint is not flagged for its description");
    }

    #[test]
    fn addresses_are_checked_and_named_handlers_split() {
        assert!(valid_email("ans@example.test"));
        for bad in ["", "ans", "ans@", "@example.test", "a b@example.test", "ans@exa mple.test"] {
            assert!(!valid_email(bad), "{bad:?}");
        }
        assert_eq!(named_handlers("Bob de Wit, Ann Smit"), vec!["Bob de Wit", "Ann Smit"]);
        assert!(named_handlers("").is_empty());
    }
}
