//! Releasing mail the intake held: a quarantined mail a handler releases (`klachtd quarantine
//! register`), and a set-aside or quarantined mail a supervisor judges a complaint (issue 21:
//! the web workspace's set-aside page, `klachtd set-aside register`). Both run the mail through
//! the intake again, on its own, with its original date of receipt; neither is a second intake.

use chrono::{DateTime, Utc};

use super::{inbound, outcome_name, Intake, IntakeError, Origin, Outcome, ReleaseError};
use crate::domain::history::HistoryEvent;
use crate::store::set_aside::HeldKind;
use crate::store::StoreError;

impl Intake {
    /// A handler releases a quarantined mail (`klachtd quarantine register`): it is handled as
    /// the intake would have without the reason it was held for, with its original date of
    /// receipt: a new case (acknowledged), or mail of the case it refers to. `actor` goes into
    /// the case's history.
    pub async fn release_from_quarantine(&self, id: i64, actor: &str) -> Result<Outcome, ReleaseError> {
        self.release(id, actor, Release::AsIntake).await
    }

    /// A supervisor judges a mail that was set aside or quarantined (the web workspace's "set
    /// aside" page, `klachtd set-aside register`) a complaint: it becomes a new case with its
    /// original date of receipt, acknowledged, as a release from quarantine does (or mail of
    /// the case it refers to). `actor` and why the mail was held go into the case's history.
    pub async fn register_held(&self, id: i64, actor: &str) -> Result<Outcome, ReleaseError> {
        self.release(id, actor, Release::AsComplaint).await
    }

    async fn release(&self, id: i64, actor: &str, how: Release) -> Result<Outcome, ReleaseError> {
        let unknown = match how {
            Release::AsIntake => ReleaseError::Unknown(id),
            Release::AsComplaint => ReleaseError::UnknownHeld(id),
        };
        let held = self.store.held_raw(id).await?.ok_or(unknown)?;
        let origin = match (how, held.kind) {
            (Release::AsIntake, HeldKind::Quarantined) => Origin::Quarantine,
            (Release::AsIntake, _) => return Err(ReleaseError::Unknown(id)),
            (Release::AsComplaint, _) => Origin::Judged(id),
        };
        let raw = match (held.raw, held.raw_file) {
            (Some(raw), _) => raw,
            (None, Some(hash)) => self.attachments.read(&hash).await.map_err(|e| ReleaseError::Intake(IntakeError::Attachment(e)))?,
            (None, None) => return Err(StoreError::Corrupt(format!("held mail {id} has no raw bytes")).into()),
        };
        let mail = inbound::parse(&raw).map_err(|e| ReleaseError::Unparseable(id, e))?;
        let arrived = DateTime::from_timestamp(held.received_at, 0).unwrap_or_else(Utc::now);
        // Released as the organisation that received it: its case, its letters.
        let owner = match self.store.held_organisation(id).await? {
            Some(key) if &key != self.organisation() => self.in_organisation(&key).unwrap_or_else(|| self.clone()),
            _ => self.clone(),
        };
        let outcome = owner.handle_alone(&mail, &raw, arrived, origin).await?;
        let (action, why) = match held.kind {
            HeldKind::Quarantined => (HistoryEvent::ReleasedFromQuarantine, held.reason),
            kind => (HistoryEvent::ReleasedFromSetAside, format!("{} ({})", held_as(kind), held.reason)),
        };
        if let Outcome::Registered { reference } | Outcome::FollowUp { reference } | Outcome::KeptWithCase { reference, .. } = &outcome {
            // The mail is recorded; a failure here loses only the note of who released it.
            if let Err(e) = self.store.add_case_event(reference, actor, action, &why).await {
                tracing::warn!(reference = %reference, "cannot record the release in the case's history: {e}");
            }
        }
        tracing::info!(id, kind = held.kind.as_str(), outcome = outcome_name(&outcome), "held mail released by a handler");
        Ok(outcome)
    }
}

/// How a held mail is released.
#[derive(Debug, Clone, Copy)]
enum Release {
    /// As the intake would have handled it without the quarantine rules (`quarantine register`).
    AsIntake,
    /// As a complaint: a person judged it one.
    AsComplaint,
}

/// What a set-aside mail was taken for, in the history of the case it became.
fn held_as(kind: HeldKind) -> &'static str {
    match kind {
        HeldKind::Quarantined => "quarantined",
        HeldKind::Automated => "set aside as machine mail",
        HeldKind::SetAside => "set aside as no complaint",
        HeldKind::Own => "set aside as our own mail",
    }
}
