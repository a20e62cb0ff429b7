//! What the daemon knows about its own health: heartbeats of its two loops (the systemd
//! watchdog is only pinged while both beat), counters, and the mailbox connection state. The
//! use cases report into it; the adapters read it (the watchdog, the metrics endpoint in
//! `io::health`). Shared by reference between the workers; all lock-free.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::watch;

use crate::store::now;

/// A loop that must keep beating for the daemon to count as alive.
#[derive(Debug, Clone, Copy)]
pub enum Loop {
    Mailbox,
    Outbox,
}

/// Beats come at least this often from a loop that is waiting for work.
pub const BEAT_INTERVAL: Duration = Duration::from_secs(15);

#[derive(Default)]
pub struct Health {
    mailbox_beat: AtomicI64,
    outbox_beat: AtomicI64,
    pub mailbox_connected: AtomicBool,
    pub last_sync_at: AtomicI64,
    pub mails_fetched: AtomicU64,
    pub cases_created: AtomicU64,
    pub follow_ups: AtomicU64,
    pub quarantined: AtomicU64,
    pub acknowledgements_sent: AtomicU64,
    pub mails_sent: AtomicU64,
    /// Mails the SMTP server refused for good (not retried; the handler is told).
    pub mails_undeliverable: AtomicU64,
    pub reminders_sent: AtomicU64,
    pub reminder_sweeps: AtomicU64,
    pub last_reminder_sweep_at: AtomicI64,
    pub errors_mailbox: AtomicU64,
    pub errors_smtp: AtomicU64,
    pub errors_database: AtomicU64,
}

impl Health {
    pub fn beat(&self, which: Loop) {
        let t = now();
        match which {
            Loop::Mailbox => self.mailbox_beat.store(t, Ordering::Relaxed),
            Loop::Outbox => self.outbox_beat.store(t, Ordering::Relaxed),
        }
    }

    /// Both loops have beaten within `stale`.
    pub fn alive(&self, stale: Duration) -> bool {
        let oldest = now() - stale.as_secs() as i64;
        self.mailbox_beat.load(Ordering::Relaxed) >= oldest && self.outbox_beat.load(Ordering::Relaxed) >= oldest
    }

    pub fn count(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Sleeps for `pause` (or until shutdown), beating for `which` meanwhile.
    pub async fn sleep_beating(&self, which: Loop, pause: Duration, shutdown: &mut watch::Receiver<bool>) {
        let until = tokio::time::Instant::now() + pause;
        loop {
            self.beat(which);
            let step = until.saturating_duration_since(tokio::time::Instant::now()).min(BEAT_INTERVAL);
            if step.is_zero() || *shutdown.borrow() {
                return;
            }
            tokio::select! {
                _ = tokio::time::sleep(step) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    /// Counts a finished reminder sweep.
    pub fn swept(&self) {
        Self::count(&self.reminder_sweeps, 1);
        self.last_reminder_sweep_at.store(now(), Ordering::Relaxed);
    }
}
