//! Why a pass stopped, and the count of a mail's failures that leads to its quarantine.

use std::collections::HashMap;

use super::source::MailOrigin;
use crate::app::intake::IntakeError;
use crate::store::StoreError;

/// After this many consecutive failures of one mail that may be its own fault, the mail is
/// quarantined so that the mail after it is not held up forever.
pub const MAX_ATTEMPTS: u32 = 3;

/// Why a pass over a mailbox stopped early. Nothing is lost: what did not commit stays in
/// the mailbox and is taken in again.
#[derive(Debug, thiserror::Error)]
pub enum PassError<E: std::error::Error + 'static> {
    #[error(transparent)]
    Source(E),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Intake(#[from] IntakeError),
    #[error("the mail source returned nothing for {0}, which is still in the mailbox")]
    NotFetched(String),
}

impl<E: std::error::Error + 'static> PassError<E> {
    /// Whether this failure may well be caused by the mail in hand (and so counts towards
    /// quarantining it), rather than clearly by the source or the database being unavailable.
    pub fn may_be_the_mails_fault(&self) -> bool {
        match self {
            PassError::Intake(IntakeError::Store(e @ StoreError::Db(_))) => !e.is_unavailable(),
            PassError::Intake(IntakeError::Store(_)) => true,
            // Writing an attachment fails on a full or read-only disk, never because of a mail.
            PassError::Intake(IntakeError::Attachment(_)) => false,
            PassError::NotFetched(_) => true,
            _ => false,
        }
    }

    /// Whether the database caused it (for the health counters).
    pub fn is_database(&self) -> bool {
        matches!(self, PassError::Store(_) | PassError::Intake(IntakeError::Store(_)))
    }
}

/// Consecutive failures per mail. In memory: a restart tries a mail afresh, which costs at
/// most `MAX_ATTEMPTS` more tries.
#[derive(Default)]
pub(super) struct Failures(std::sync::Mutex<HashMap<MailOrigin, u32>>);

impl Failures {
    /// Counts a failure; returns the reason to quarantine with once the mail has failed
    /// `MAX_ATTEMPTS` times in a row. Failures that are not the mail's fault are not counted.
    pub(super) fn failed<E: std::error::Error + 'static>(&self, key: MailOrigin, e: &PassError<E>) -> Option<String> {
        if !e.may_be_the_mails_fault() {
            return None;
        }
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let n = map.entry(key).or_insert(0);
        *n += 1;
        (*n >= MAX_ATTEMPTS).then(|| format!("processing failed {n} times in a row: {e}"))
    }

    pub(super) fn forget(&self, key: &MailOrigin) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type E = PassError<std::io::Error>;

    fn db(e: sqlx::Error) -> E {
        PassError::Intake(IntakeError::Store(StoreError::Db(e)))
    }

    fn code(c: &'static str) -> E {
        PassError::Intake(IntakeError::Store(crate::store::db_error_with_code(c)))
    }

    #[test]
    fn a_database_that_is_away_is_never_the_mails_fault() {
        for e in [
            db(sqlx::Error::PoolTimedOut),
            db(sqlx::Error::PoolClosed),
            db(sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused))),
            code("08006"),
            code("57P01"),
            code("53100"),
            code("40001"),
            code("5"),   // SQLITE_BUSY
            code("261"), // SQLITE_BUSY_RECOVERY
            code("13"),  // SQLITE_FULL
            PassError::Intake(IntakeError::Attachment(std::io::Error::from(std::io::ErrorKind::StorageFull))),
            PassError::Source(std::io::Error::from(std::io::ErrorKind::TimedOut)),
        ] {
            assert!(!e.may_be_the_mails_fault(), "{e:?}");
        }
        for e in [code("22021"), code("22P05"), code("1"), code("2067"), db(sqlx::Error::RowNotFound), PassError::NotFetched("7".into())] {
            assert!(e.may_be_the_mails_fault(), "{e:?}");
        }
    }

    #[test]
    fn a_mail_is_given_up_on_after_max_attempts_in_a_row() {
        let failures = Failures::default();
        let key = |uid| MailOrigin { folder: "INBOX".to_string(), validity: 1, uid };
        let poison = code("22021");
        for _ in 1..MAX_ATTEMPTS {
            assert_eq!(failures.failed(key(42), &poison), None);
            // A database outage in between neither counts nor resets.
            assert_eq!(failures.failed(key(42), &db(sqlx::Error::PoolTimedOut)), None);
        }
        let reason = failures.failed(key(42), &poison).expect("quarantine now");
        assert!(reason.contains(&format!("failed {MAX_ATTEMPTS} times")) && reason.contains("database said no"), "{reason}");
        // Another mail, or the same one after a success, starts from zero.
        assert_eq!(failures.failed(key(43), &poison), None);
        failures.forget(&key(42));
        assert_eq!(failures.failed(key(42), &poison), None);
    }
}
