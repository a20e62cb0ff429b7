//! Why an action was not carried out ([`ActionError`]), and a refusal as a message of the
//! catalogue ([`Refusal`]): a key (`refusal_*` in `templates/{nl,en}/messages.toml`) with its
//! arguments, written in English by `Display` and in the handler's language by
//! [`Refusal::in_language`] (the web page, the command line, the confirmation of an action by
//! mail).

use std::fmt;

use crate::app::messages;
use crate::domain::catalogue::{Catalogue, Message};
use crate::store::{RefusableError, Refused, StoreError};
use crate::telemetry::one_line;

/// A refusal: the procedure says no, the case or handler is unknown, the input is empty or
/// malformed. One line for the handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(Message);

impl Refusal {
    /// The refusal `key` (`refusal_...`); arguments are added with [`Refusal::arg`].
    pub fn new(key: &str) -> Self {
        Self(Message::new(key))
    }

    pub fn arg(self, name: &str, value: impl ToString) -> Self {
        Self(self.0.arg(name, value))
    }

    pub fn message(&self) -> &Message {
        &self.0
    }

    /// The refusal in `catalogue`'s language (`language`: its dates' and words' form).
    pub fn in_language(&self, catalogue: &Catalogue, language: &str) -> String {
        messages::write(catalogue, language, &self.0).unwrap_or_else(|| self.to_string())
    }
}

/// A refusal made as English text (by the store, the domain's checks): read back into its key
/// and arguments with the English catalogue; a text it does not know stays as it is
/// (`refusal_text`).
impl From<String> for Refusal {
    fn from(text: String) -> Self {
        match messages::english().read("refusal_", &text) {
            Some(message) => Self(message),
            None => Self::new("refusal_text").arg("text", text),
        }
    }
}

impl From<&str> for Refusal {
    fn from(text: &str) -> Self {
        text.to_string().into()
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match messages::english().write(&self.0) {
            Some(text) => f.write_str(&text),
            None => f.write_str(self.0.get("text").unwrap_or(&self.0.key)),
        }
    }
}

/// Why an action was not carried out. Nothing of it was recorded, whichever the variant; the
/// message is one line, each cause once.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// The action cannot be done as asked: the procedure says no, the case or handler is
    /// unknown, the input is empty or malformed. The reason is for the handler, one line.
    #[error("{0}")]
    Refused(Refusal),
    /// The database or the disk is away: the same action may succeed when tried again.
    #[error(transparent)]
    Transient(#[from] Transient),
    /// Anything else (a template that cannot be rendered, stored data that cannot be read):
    /// trying again will not help, and neither will the handler's changing their request.
    #[error("{}", one_line(.0))]
    Failed(anyhow::Error),
    /// The case is unknown, or the handler may not read it: one answer for both, so that it
    /// does not say that a case exists (R9).
    #[error("no such case")]
    Unknown,
    /// The handler may read the case (this reference) but not do this: it is not theirs (any
    /// more), or only a supervisor may.
    #[error("{0} is not yours to act on, or the action is a supervisor's")]
    NotAllowed(crate::domain::reference::CaseRef),
}

/// A passing failure: the database or the disk. For an action by mail this means the mail is
/// to be tried again, and the handler is told nothing.
#[derive(Debug, thiserror::Error)]
pub enum Transient {
    #[error(transparent)]
    Store(StoreError),
    /// A file could not be read or written (the letter to print, an attachment).
    #[error("{}", one_line(.0))]
    Disk(anyhow::Error),
}

impl ActionError {
    /// A refusal, as a [`Refusal`] or as its English text.
    pub fn refused(reason: impl Into<Refusal>) -> Self {
        Self::Refused(reason.into())
    }

    /// A file that could not be read or written, with what was being done.
    pub(crate) fn disk(e: impl Into<anyhow::Error>) -> Self {
        Self::Transient(Transient::Disk(e.into()))
    }

    pub(crate) fn failed(e: impl Into<anyhow::Error>) -> Self {
        Self::Failed(e.into())
    }
}

/// The store's failures as the use cases see them: the database away is transient; an unknown
/// case or handler, a handler the impartiality rules exclude, or a value the database cannot
/// keep (a NUL character) is a refusal; a statement refused otherwise, or inconsistent stored
/// data, is a failure.
impl From<StoreError> for ActionError {
    fn from(e: StoreError) -> Self {
        let refused = |r: Refusal| Self::Refused(r);
        match e {
            StoreError::Db(_) if e.is_unavailable() => Self::Transient(Transient::Store(e)),
            StoreError::Db(_) if e.is_unstorable_value() => refused(Refusal::new("refusal_unstorable")),
            StoreError::Db(_) => Self::Failed(e.into()),
            StoreError::Corrupt(_) => Self::Failed(e.into()),
            StoreError::UnknownCase(reference) => refused(Refusal::new("refusal_unknown_case").arg("reference", reference)),
            StoreError::UnknownHandler(name) => refused(Refusal::new("refusal_unknown_handler").arg("handler", format!("{name:?}"))),
            StoreError::NotImpartial { handler, reference } => {
                refused(Refusal::new("refusal_not_impartial").arg("handler", handler).arg("reference", reference))
            }
            StoreError::NamedInComplaint { handler, reference } => {
                refused(Refusal::new("refusal_named_in_complaint").arg("handler", handler).arg("again", &reference).arg("reference", reference))
            }
        }
    }
}

impl From<StoreError> for Transient {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

impl From<Refused> for ActionError {
    fn from(Refused(reason): Refused) -> Self {
        Self::Refused(reason.into())
    }
}

/// Input that makes no action is refused with its reason.
impl From<crate::domain::case_action::Unreadable> for ActionError {
    fn from(e: crate::domain::case_action::Unreadable) -> Self {
        Self::Refused(e.0.into())
    }
}

impl From<RefusableError> for ActionError {
    fn from(e: RefusableError) -> Self {
        match e {
            RefusableError::Store(e) => e.into(),
            RefusableError::Refused(refused) => refused.into(),
        }
    }
}

impl From<crate::app::templates::TemplateError> for ActionError {
    fn from(e: crate::app::templates::TemplateError) -> Self {
        Self::Failed(e.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_keeps_its_english_wording_and_has_its_dutch() {
        let nl = messages::load(None, "nl").unwrap();
        let e = ActionError::from(StoreError::NamedInComplaint { handler: "Bob Berg".into(), reference: "KL-2026-0002".parse().unwrap() });
        let ActionError::Refused(refusal) = &e else { panic!("{e:?}") };
        assert_eq!(refusal.message().key, "refusal_named_in_complaint");
        assert_eq!(
            e.to_string(),
            "Bob Berg cannot handle KL-2026-0002: the complaint names them; a supervisor confirms with `klachtd cases checked KL-2026-0002` first (R5, impartiality)"
        );
        assert!(refusal.in_language(&nl, "nl").starts_with("Bob Berg kan KL-2026-0002 niet behandelen"));
        // Made as English text, read back into its key; its date in the Dutch form.
        let r = Refusal::from("KL-2026-0001 already has its acknowledgement (2026-12-01); nothing to release".to_string());
        assert_eq!((r.message().key.as_str(), r.message().get("day")), ("refusal_acknowledged_already", Some("2026-12-01")));
        assert_eq!(r.in_language(&nl, "nl"), "KL-2026-0001 heeft al een ontvangstbevestiging (01-12-2026); er is niets vrij te geven");
        assert_eq!(r.to_string(), "KL-2026-0001 already has its acknowledgement (2026-12-01); nothing to release");
        // An unknown text stays as it is, in both.
        let r = Refusal::from("something new");
        assert_eq!((r.message().key.as_str(), r.to_string(), r.in_language(&nl, "nl")), ("refusal_text", "something new".into(), "something new".into()));
    }
}
