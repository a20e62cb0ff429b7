//! While the intake works through a backlog (more mail waiting than one batch: after a stop,
//! an outage, a flood), the outbox holds the acknowledgements back until the backlog is
//! registered, for at most `outbox.backlog_hold_secs` (30 s). Both at once take turns on the
//! same cores and the same database, and on a small machine each goes slower: registering
//! first and acknowledging right after got the complaints registered half as fast again and
//! the last acknowledgement out about as soon (`cargo bench --bench ingest`, see the README).
//! A complaint that comes in on its own is acknowledged at once, and no other mail (sign-in
//! links, notices, letters, reminders) is ever held.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// The intake's passes over a backlog, as the outbox sees them.
pub struct Backlog {
    state: Mutex<State>,
    /// Woken when the last backlog is registered, to send what waited.
    outbox: Arc<Notify>,
    /// The longest the acknowledgements wait: after that they go out beside the backlog.
    max_hold: Duration,
}

#[derive(Default)]
struct State {
    /// Passes over a backlog under way (one a mailbox at most).
    passes: usize,
    /// Since when one has been (none while `passes` is 0).
    since: Option<Instant>,
}

/// A pass over a backlog, under way until dropped.
pub struct InBacklog(Arc<Backlog>);

impl Backlog {
    pub fn new(outbox: Arc<Notify>, max_hold: Duration) -> Self {
        Self { state: Mutex::new(State::default()), outbox, max_hold }
    }

    /// A pass over a backlog begins; it ends when the returned value is dropped (also when
    /// the pass fails).
    pub fn enter(self: &Arc<Self>) -> InBacklog {
        let mut state = self.state();
        state.passes += 1;
        state.since.get_or_insert_with(Instant::now);
        InBacklog(self.clone())
    }

    /// Whether acknowledgements wait now: a backlog is being registered, and not yet for
    /// longer than the hold.
    pub fn holds_acknowledgements(&self) -> bool {
        let state = self.state();
        state.since.is_some_and(|since| since.elapsed() < self.max_hold)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // The state stays whole whatever panicked while it was held (two plain assignments).
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for InBacklog {
    fn drop(&mut self) {
        let mut state = self.0.state();
        state.passes -= 1;
        if state.passes == 0 {
            state.since = None;
            drop(state);
            self.0.outbox.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acknowledgements_wait_while_any_backlog_is_registered_and_the_outbox_is_woken_after() {
        let wake = Arc::new(Notify::new());
        let backlog = Arc::new(Backlog::new(wake.clone(), Duration::from_secs(30)));
        assert!(!backlog.holds_acknowledgements());
        let one = backlog.enter();
        let two = backlog.enter();
        assert!(backlog.holds_acknowledgements());
        drop(one);
        assert!(backlog.holds_acknowledgements(), "another mailbox's backlog is still being registered");
        drop(two);
        assert!(!backlog.holds_acknowledgements());
        // The wake-up is kept for the outbox until it next waits.
        let woken = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
            .block_on(async { tokio::time::timeout(Duration::from_secs(5), wake.notified()).await.is_ok() });
        assert!(woken, "the outbox is told that the backlog is registered");
    }

    #[test]
    fn acknowledgements_wait_no_longer_than_the_hold() {
        let backlog = Arc::new(Backlog::new(Arc::new(Notify::new()), Duration::ZERO));
        let _pass = backlog.enter();
        assert!(!backlog.holds_acknowledgements());
    }
}
