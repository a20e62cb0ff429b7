//! What can go wrong in the store, and what the caller can do about it: wait for a database
//! that is away, refuse a value the database cannot keep, or report a bug.

use crate::domain::reference::CaseRef;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("no case with reference {0}")]
    UnknownCase(CaseRef),
    #[error("no active handler named {0:?} (see `klachtd handlers list`)")]
    UnknownHandler(String),
    #[error("{handler} cannot handle {reference}: the complaint is about them (R5, impartiality)")]
    NotImpartial { handler: String, reference: CaseRef },
    #[error("{handler} cannot handle {reference}: the complaint names them; a supervisor confirms with `klachtd cases checked {reference}` first (R5, impartiality)")]
    NamedInComplaint { handler: String, reference: CaseRef },
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// The database is away or overloaded (or the disk under SQLite is full): trying again
    /// later may work, and nothing about the request was wrong.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Db(e) => database_unavailable(e),
            _ => false,
        }
    }

    /// The database refused a value it cannot keep, such as a NUL character in a text on
    /// PostgreSQL (SQLSTATE class 22, data exception): the input's fault, not an outage.
    pub fn is_unstorable_value(&self) -> bool {
        match self {
            StoreError::Db(sqlx::Error::Database(db)) => db.code().is_some_and(|state| state.len() == 5 && state.starts_with("22")),
            _ => false,
        }
    }
}

/// Errors that say the database is away or overloaded, not that it refused what we asked.
fn database_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => match db.code() {
            // SQLite's extended result codes: the primary code is the low byte. BUSY, LOCKED,
            // NOMEM, READONLY, IOERR, CORRUPT, FULL, CANTOPEN, PROTOCOL, NOTADB. (They have at
            // most four digits; a SQLSTATE always has five characters.)
            Some(code) if code.len() < 5 && code.chars().all(|c| c.is_ascii_digit()) => {
                code.parse::<i64>().is_ok_and(|c| matches!(c & 0xff, 5 | 6 | 7 | 8 | 10 | 11 | 13 | 14 | 15 | 26))
            }
            // PostgreSQL SQLSTATE classes: connection exception, transaction rollback
            // (serialization, deadlock), insufficient resources, operator intervention
            // (shutdown), system error, internal error; and a read-only standby.
            Some(state) => ["08", "40", "53", "57", "58", "XX"].iter().any(|class| state.starts_with(class)) || state == "25006" || state == "55P03",
            None => false,
        },
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Configuration(_)
        | sqlx::Error::BeginFailed => true,
        _ => false,
    }
}

/// A database error with a given code, as SQLite or PostgreSQL would return it.
#[cfg(test)]
pub(crate) fn db_error_with_code(code: &'static str) -> StoreError {
    #[derive(Debug)]
    struct Coded(&'static str);
    impl std::fmt::Display for Coded {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "database said no ({})", self.0)
        }
    }
    impl std::error::Error for Coded {}
    impl sqlx::error::DatabaseError for Coded {
        fn message(&self) -> &str {
            "database said no"
        }
        fn code(&self) -> Option<std::borrow::Cow<'_, str>> {
            Some(self.0.into())
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> sqlx::error::ErrorKind {
            sqlx::error::ErrorKind::Other
        }
    }
    StoreError::Db(sqlx::Error::Database(Box::new(Coded(code))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_a_refused_value_and_a_bug_are_told_apart() {
        let away = [
            StoreError::Db(sqlx::Error::PoolTimedOut),
            StoreError::Db(sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused))),
            db_error_with_code("08006"),
            db_error_with_code("57P01"),
            db_error_with_code("40001"),
            db_error_with_code("5"),   // SQLITE_BUSY
            db_error_with_code("261"), // SQLITE_BUSY_RECOVERY
            db_error_with_code("13"),  // SQLITE_FULL
        ];
        for e in &away {
            assert!(e.is_unavailable() && !e.is_unstorable_value(), "{e:?}");
        }
        for e in [db_error_with_code("22021"), db_error_with_code("22P05"), db_error_with_code("22001")] {
            assert!(e.is_unstorable_value() && !e.is_unavailable(), "{e:?}");
        }
        for e in [
            db_error_with_code("23505"),
            db_error_with_code("2067"),
            db_error_with_code("1"),
            StoreError::Db(sqlx::Error::RowNotFound),
            StoreError::Corrupt("x".into()),
        ] {
            assert!(!e.is_unavailable() && !e.is_unstorable_value(), "{e:?}");
        }
    }
}
