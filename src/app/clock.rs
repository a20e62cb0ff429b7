//! The time the reminder sweeps act on. The daemon reads the system clock; tests (and anyone
//! replaying a day) set it by hand, so "what is due at 09:00 on 7 December" can be run through
//! the whole daemon on any day of the year.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

#[derive(Clone, Default)]
pub struct Clock(Option<Arc<Mutex<DateTime<Utc>>>>);

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self(None)
    }

    /// A clock that stands still at `at` until [`Clock::set`] moves it.
    pub fn manual(at: DateTime<Utc>) -> Self {
        Self(Some(Arc::new(Mutex::new(at))))
    }

    pub fn now(&self) -> DateTime<Utc> {
        match &self.0 {
            None => Utc::now(),
            Some(m) => *m.lock().unwrap_or_else(|e| e.into_inner()),
        }
    }

    /// Moves a manual clock; a no-op on the system clock.
    pub fn set(&self, at: DateTime<Utc>) {
        if let Some(m) = &self.0 {
            *m.lock().unwrap_or_else(|e| e.into_inner()) = at;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_stands_still_until_set() {
        let t0 = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let clock = Clock::manual(t0);
        assert_eq!(clock.now(), t0);
        assert_eq!(clock.now(), t0);
        let t1 = t0 + chrono::Duration::hours(3);
        clock.clone().set(t1);
        assert_eq!(clock.now(), t1, "clones share the time");
        let system = Clock::system();
        system.set(t0);
        assert!(system.now() > t1, "the system clock is not settable");
    }
}
