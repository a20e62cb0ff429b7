//! Who may act on a case from the web workspace, checked by the use case itself on the one
//! lookup of the case the action needs: its handler and the supervisors act on it; a handler
//! who may only read it (a former handler) is refused; and a case one may not read answers as
//! one that does not exist (R9). Every refusal on an existing case is in its history.
//!
//! Organisations (issue 25) are kept apart the same way: a handler acts on the cases of the
//! organisations they work for only, and the command line, given `--organisation KEY`, on
//! that organisation's cases only. A case of another organisation answers exactly as a case
//! that does not exist, and the refusal is recorded on it.

use super::{ActionError, Actions, Done};
use crate::domain::case_action::{CaseAction, Unreadable};
use crate::domain::history::HistoryEvent;
use crate::domain::organisation::OrganisationKey;
use crate::domain::reference::CaseRef;
use crate::store::web::WebUser;
use crate::store::{LetterCase, StoreError};

impl Actions {
    /// Carries out `action` (the form `name`, as it was read) on the case `reference` for
    /// `user`, signed in to the web workspace. The access is checked before the form's input,
    /// so a case the user may not read answers the same whatever was posted.
    #[tracing::instrument(name = "action", skip_all, fields(reference = %reference, action = name))]
    pub async fn perform_as(&self, user: &WebUser, reference: &CaseRef, name: &str, action: Result<CaseAction, Unreadable>) -> Result<Done, ActionError> {
        let actor = format!("{} (web)", user.name);
        let case = match self.store.letter_case(reference).await {
            Ok(case) => case,
            Err(StoreError::UnknownCase(_)) => return Err(ActionError::Unknown),
            Err(e) => return Err(e.into()),
        };
        let supervisors_only = action.as_ref().is_ok_and(CaseAction::for_supervisors);
        let in_organisation = self.store.works_for_case(&user.email, case.id).await?;
        if !in_organisation || !may_act(user, case.handler_email.as_deref()) || (supervisors_only && !user.supervisor) {
            return Err(self.refuse(user, &case, &actor, name).await);
        }
        let action = action?;
        super::perform::done_now(self.perform_on(reference, Some(&case), action, &actor, None).await?)
    }

    /// Records the refusal on the case and says which one it is: not allowed to a reader,
    /// unknown to anyone else. Nothing else is recorded (R9).
    async fn refuse(&self, user: &WebUser, case: &LetterCase, actor: &str, name: &str) -> ActionError {
        tracing::warn!(reference = %case.reference, action = name, "web: action refused (R9)");
        let refused = async {
            self.store.record_access(case.id, actor, HistoryEvent::AccessRefused, &format!("action {name}")).await?;
            self.store.may_read(&case.reference, user).await
        };
        match refused.await {
            Ok(Some(_)) => ActionError::NotAllowed(case.reference.clone()),
            Ok(None) | Err(StoreError::UnknownCase(_)) => ActionError::Unknown,
            Err(e) => e.into(),
        }
    }
}

impl Actions {
    /// [`perform`](Self::perform) from the command line, limited to the cases of
    /// `organisation` when one is given (`--organisation KEY`).
    pub async fn perform_in(&self, organisation: Option<&OrganisationKey>, reference: &CaseRef, action: CaseAction, actor: &str) -> Result<Done, ActionError> {
        self.within(organisation, reference, actor, action.name()).await?;
        self.perform(reference, action, actor).await
    }

    /// Whether case `reference` may be looked at or acted on within `organisation` (any case
    /// when `None`): a case of another organisation is refused as unknown, exactly as a case
    /// that does not exist, and the refusal (`what` was asked, by `actor`) is in its history.
    pub async fn within(&self, organisation: Option<&OrganisationKey>, reference: &CaseRef, actor: &str, what: &str) -> Result<(), StoreError> {
        let Some(organisation) = organisation else { return Ok(()) };
        let (case_id, of) = self.store.case_and_organisation(reference).await?;
        if of == organisation.as_str() {
            return Ok(());
        }
        // Not logged: the command line answers on standard error, which must read as for a
        // case that does not exist. The history has it.
        tracing::debug!(%reference, action = what, "command line: case of another organisation refused");
        self.store.record_access(case_id, actor, HistoryEvent::AccessRefused, &format!("{what} (--organisation {organisation})")).await?;
        Err(StoreError::UnknownCase(reference.clone()))
    }
}

/// The case's handler (`handler_email`) and the supervisors may act on it (the user is an
/// active handler: the session says so). A reassignment takes the right away.
fn may_act(user: &WebUser, handler_email: Option<&str>) -> bool {
    user.supervisor || handler_email.is_some_and(|email| email.eq_ignore_ascii_case(&user.email))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_handler_and_supervisors_act_on_a_case() {
        let user = |supervisor| WebUser { name: "Ann".into(), email: "ann@dienst.test".into(), supervisor };
        assert!(may_act(&user(false), Some("Ann@Dienst.test")));
        assert!(!may_act(&user(false), Some("bob@dienst.test")));
        assert!(!may_act(&user(false), None));
        assert!(may_act(&user(true), Some("bob@dienst.test")) && may_act(&user(true), None));
    }
}
