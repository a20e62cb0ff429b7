//! What the daemon knows about its own health: heartbeats of its two loops (the systemd
//! watchdog is only pinged while both beat), counters, and each mailbox's connection state. The
//! use cases report into it; the adapters read it (the watchdog, the metrics endpoint in
//! `io::health`). Shared by reference between the workers; all lock-free.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;
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
    /// Whether each mailbox (by its key) has a session up.
    connected: Mutex<BTreeMap<String, bool>>,
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

    /// Mailbox `key` has a session up (`true`) or not.
    pub fn mailbox_up(&self, key: &str, up: bool) {
        self.connected.lock().unwrap_or_else(|e| e.into_inner()).insert(key.to_string(), up);
    }

    /// Each mailbox this daemon serves, by key, and whether it has a session up.
    pub fn mailboxes_up(&self) -> BTreeMap<String, bool> {
        self.connected.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Counts a finished reminder sweep.
    pub fn swept(&self) {
        Self::count(&self.reminder_sweeps, 1);
        self.last_reminder_sweep_at.store(now(), Ordering::Relaxed);
    }
}

/// The STATUS line systemd shows (`systemctl status klachtd`): every mailbox at once, not one
/// connection flag (issue 25), as in "3/4 mailboxes connected, oldest sync 40 s ago; 2 cases
/// today; outbox 0 queued".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusLine {
    /// The mailboxes with a session up, of `mailboxes`.
    pub connected: usize,
    pub mailboxes: usize,
    /// Seconds since each mailbox's last sync, as the database knows it (by any instance);
    /// `None`: never synced.
    pub sync_ages: Vec<Option<i64>>,
    /// Cases received today; `None`: the database did not answer.
    pub cases_today: Option<i64>,
    /// Mail waiting to be sent.
    pub queued: i64,
}

impl std::fmt::Display for StatusLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let noun = if self.mailboxes == 1 { "mailbox" } else { "mailboxes" };
        write!(f, "{}/{} {noun} connected", self.connected, self.mailboxes)?;
        let never = self.sync_ages.iter().filter(|a| a.is_none()).count();
        // The stalest mailbox is the one to worry about.
        match self.sync_ages.iter().flatten().max() {
            _ if never == self.sync_ages.len() && never > 0 => write!(f, ", not synced yet")?,
            _ if never > 0 => write!(f, ", {never} not synced yet")?,
            Some(age) if self.sync_ages.len() == 1 => write!(f, ", last sync {} ago", human_age(*age))?,
            Some(age) => write!(f, ", oldest sync {} ago", human_age(*age))?,
            None => {}
        }
        let cases = self.cases_today.map_or_else(|| "?".to_string(), |n| n.to_string());
        write!(f, "; {cases} cases today; outbox {} queued", self.queued)
    }
}

/// "40 s", "3 min", "2 h", "5 d": enough to tell a stale mailbox at a glance.
fn human_age(secs: i64) -> String {
    match secs.max(0) {
        s if s < 120 => format!("{s} s"),
        s if s < 2 * 3600 => format!("{} min", s / 60),
        s if s < 2 * 86_400 => format!("{} h", s / 3600),
        s => format!("{} d", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(connected: usize, sync_ages: Vec<Option<i64>>) -> String {
        StatusLine { connected, mailboxes: sync_ages.len(), sync_ages, cases_today: Some(3), queued: 2 }.to_string()
    }

    #[test]
    fn the_status_line_sums_up_every_mailbox() {
        assert_eq!(line(1, vec![Some(5)]), "1/1 mailbox connected, last sync 5 s ago; 3 cases today; outbox 2 queued");
        assert_eq!(line(3, vec![Some(5), Some(400), Some(30), Some(7200)]), "3/4 mailboxes connected, oldest sync 2 h ago; 3 cases today; outbox 2 queued");
        assert_eq!(line(4, vec![Some(5), None, Some(30), None]), "4/4 mailboxes connected, 2 not synced yet; 3 cases today; outbox 2 queued");
        assert_eq!(line(0, vec![None, None]), "0/2 mailboxes connected, not synced yet; 3 cases today; outbox 2 queued");
        let unknown = StatusLine { connected: 2, mailboxes: 2, sync_ages: vec![Some(90), Some(3 * 86_400)], cases_today: None, queued: 0 };
        assert_eq!(unknown.to_string(), "2/2 mailboxes connected, oldest sync 3 d ago; ? cases today; outbox 0 queued");
    }

    #[test]
    fn each_mailbox_has_its_own_connection_state() {
        let health = Health::default();
        health.mailbox_up("a", true);
        health.mailbox_up("b", true);
        health.mailbox_up("a", false);
        let up = health.mailboxes_up();
        assert_eq!((up["a"], up["b"], up.len()), (false, true, 2));
    }
}
