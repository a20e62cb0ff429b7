//! The outbox worker: delivers queued mail through a [`Transport`] (SMTP in the daemon), with
//! retries and back-off. Every
//! outgoing mail is a database row first, so an SMTP outage delays mail and never loses it;
//! the row's lease keeps two workers (or two instances) from sending the same mail. A 4xx or a
//! connection failure is retried with back-off for as long as it takes; a 5xx (or a message that
//! cannot be built) ends the attempts at once, and the handler is told.

pub mod journal;
#[cfg(test)]
mod tests;
mod transport;

pub use transport::{SendFailure, StubTransport, Transport};

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};

use crate::app::backlog::Backlog;
use crate::app::clock::Clock;
use crate::app::health::{Health, Loop};
use crate::app::settings::SharedSettings;
use crate::domain::reminders::sending_window_open;
use crate::domain::text::redact_addresses;
use crate::domain::vocabulary::MailKind;
use crate::store::{now, Claim, OutboxItem, Sent, Store};

/// Mails claimed at once (by each connection).
const CLAIM_BATCH: u32 = 20;
/// SMTP connections a worker sends over at once, each with mails of its own claim. Against the
/// test stack's Postfix two send a backlog of acknowledgements about 1.5 times as fast as one
/// (`cargo bench --bench ingest`); each mail in flight is one more that a crash can leave
/// accepted but unrecorded (see the README), so no more than that.
const CONNECTIONS: usize = 2;
/// Accepted mails recorded together at the latest after this many.
const RECORD_BATCH: usize = 20;

/// The shortest lease on a claimed mail.
const MIN_LEASE: Duration = Duration::from_secs(300);

/// How long a claimed mail is reserved for the worker that claimed it: at least 5 minutes, and
/// always well beyond the longest a send may take (`send_timeout`, after which the send is
/// abandoned), so no second worker or instance can claim a mail that is still being sent.
pub fn lease_for(send_timeout: Duration) -> Duration {
    (send_timeout * 2 + Duration::from_secs(60)).max(MIN_LEASE)
}

pub struct OutboxWorker {
    store: Store,
    transport: Arc<dyn Transport>,
    wake: Arc<Notify>,
    poll_interval: Duration,
    max_backoff: Duration,
    worker_id: String,
    health: Arc<Health>,
    /// Tells a handler when a letter of their case cannot be delivered.
    actions: Arc<crate::app::actions::Actions>,
    /// Working days and hours (reminders wait for them) and the time to judge them by.
    settings: SharedSettings,
    clock: Clock,
    /// The intake's backlogs, while which acknowledgements wait (none: they never wait).
    backlog: Option<Arc<Backlog>>,
    /// Notes each accepted mail before the database records it (see [`journal`]).
    journal: journal::SentJournal,
    /// Mails accepted by the server and not yet recorded in the database: recorded together
    /// at the end of a batch (or, when the database was away, at the next chance, before
    /// anything else is sent). Each is in the journal meanwhile.
    unrecorded: std::sync::Mutex<Vec<Sent>>,
    /// Held while accepted mails are being recorded: the journal is emptied only when nothing
    /// noted in it is on its way into the database.
    recording: tokio::sync::Mutex<()>,
    /// Runs of `deliver_due` so far, and mails handed over so far: a sender slot's name and a
    /// handed mail's sequence number (see `Store::hand_over`).
    runs: std::sync::atomic::AtomicU64,
    handed: std::sync::atomic::AtomicI64,
}

/// How often the outbox looks for due mail and how long it waits at most between attempts at
/// one (`[outbox]`), and the name it claims mail under (diagnostics only).
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    pub poll_interval: Duration,
    pub max_backoff: Duration,
    pub worker_id: String,
}

impl OutboxWorker {
    /// A worker that sends through `transport` and notes accepted mail in `journal`. It judges the sending window by the system
    /// clock (see [`with_clock`](Self::with_clock)) and wakes early when `wake` is notified.
    pub fn new(
        store: Store,
        transport: Arc<dyn Transport>,
        actions: Arc<crate::app::actions::Actions>,
        settings: SharedSettings,
        health: Arc<Health>,
        journal: journal::SentJournal,
        options: WorkerOptions,
    ) -> Self {
        Self {
            store,
            transport,
            wake: Arc::new(Notify::new()),
            poll_interval: options.poll_interval,
            max_backoff: options.max_backoff,
            worker_id: options.worker_id,
            health,
            actions,
            settings,
            clock: Clock::system(),
            backlog: None,
            journal,
            unrecorded: Default::default(),
            recording: Default::default(),
            runs: Default::default(),
            handed: std::sync::atomic::AtomicI64::new(1),
        }
    }

    /// Wakes up when `wake` is notified (new mail queued) instead of at the next poll.
    pub fn with_wake(mut self, wake: Arc<Notify>) -> Self {
        self.wake = wake;
        self
    }

    /// Holds the acknowledgements back while the intake registers a backlog (see
    /// [`Backlog`]); wake the worker with the same `Notify` the backlog wakes.
    pub fn with_backlog(mut self, backlog: Arc<Backlog>) -> Self {
        self.backlog = Some(backlog);
        self
    }

    /// Judges whether reminders may go out by `clock`.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }
}

impl OutboxWorker {
    /// Runs until `shutdown` turns true. A mail in flight is finished first.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        tracing::info!("outbox worker started");
        loop {
            if *shutdown.borrow() {
                break;
            }
            self.health.beat(Loop::Outbox);
            let delivered = self.deliver_due(&shutdown).await;
            if *shutdown.borrow() {
                break;
            }
            let pause = if delivered { Duration::ZERO } else { self.poll_interval };
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = self.health.sleep_beating(Loop::Outbox, pause, &mut shutdown) => {}
            }
        }
        self.transport.close_idle().await;
        if self.unrecorded().is_empty() {
            if let Err(e) = self.journal.remove() {
                tracing::warn!(error = %e, "cannot remove the outbox journal");
            }
        }
        tracing::info!("outbox worker stopped");
    }

    /// Sends every mail that is due now, stopping early on shutdown (the mails in flight are
    /// finished). Returns whether anything was attempted.
    ///
    /// `CONNECTIONS` senders work at once, each claiming `CLAIM_BATCH` mails at a time and
    /// sending them over a connection of its own; each accepted mail is noted in the journal at
    /// once and recorded in the database with the others of its batch (one transaction, not
    /// one per mail). One claimant per mail still: each sender sends only what it claimed.
    pub async fn deliver_due(&self, shutdown: &watch::Receiver<bool>) -> bool {
        if !self.record_unrecorded().await {
            return false;
        }
        // Nothing in flight and every accepted mail recorded: a hand-over left now is a failure
        // the database could not take (see `Store::clear_hand_overs`).
        if let Err(e) = self.store.clear_hand_overs(&self.worker_id).await {
            tracing::warn!(error = %e, "outbox: database unavailable");
            return false;
        }
        if let Err(e) = self.store.scrub_expired_sign_in_links().await {
            tracing::warn!(error = %e, "outbox: cannot clear expired sign-in links");
        }
        let stop = std::sync::atomic::AtomicBool::new(false);
        // Each sender is a slot with one mail in flight at a time; a slot of its own each run,
        // as a run ends at the first failure (see `Store::hand_over`).
        let run = self.runs.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let slots: Vec<String> = (0..CONNECTIONS).map(|k| format!("{}#{run}.{k}", self.worker_id)).collect();
        let senders = futures::future::join_all(slots.iter().map(|slot| self.deliver_claimed(shutdown, &stop, slot))).await;
        // The run of mails is over; the next one logs in afresh (with a current token, under
        // OAuth).
        self.transport.close_idle().await;
        self.clear_journal_if_recorded().await;
        senders.into_iter().any(|any| any)
    }

    /// One sender of `deliver_due`: claims and sends until nothing is due, the server fails, or
    /// shutdown. `stop` tells the others that the server (or the database) failed. Returns
    /// whether it attempted anything.
    async fn deliver_claimed(&self, shutdown: &watch::Receiver<bool>, stop: &std::sync::atomic::AtomicBool, slot: &str) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        let mut any = false;
        let lease = lease_for(self.transport.send_timeout());
        loop {
            if *shutdown.borrow() || stop.load(Relaxed) {
                return any;
            }
            self.health.beat(Loop::Outbox);
            let settings = self.settings.get();
            let which = Claim {
                reminders: sending_window_open(self.clock.now(), &settings.calendar, &settings.reminders),
                acknowledgements: !self.backlog.as_ref().is_some_and(|b| b.holds_acknowledgements()),
            };
            let batch = match self.store.claim_outbox_batch(&self.worker_id, lease, which, CLAIM_BATCH).await {
                Ok(batch) if batch.is_empty() => return any,
                Ok(batch) => batch,
                Err(e) => {
                    Health::count(&self.health.errors_database, 1);
                    tracing::warn!(error = %e, "outbox: database unavailable");
                    return any;
                }
            };
            any = true;
            let claimed_at = std::time::Instant::now();
            let mut items = batch.into_iter();
            while let Some(item) = items.next() {
                // A claim is good for `lease`; a batch that takes long (a slow server) gives the
                // rest back rather than send on a claim another instance may take over.
                if *shutdown.borrow() || stop.load(Relaxed) || claimed_at.elapsed() > lease / 2 {
                    self.release(std::iter::once(item).chain(items.by_ref())).await;
                    break;
                }
                if !self.send_one(item, slot).await {
                    self.release(items.by_ref()).await;
                    stop.store(true, Relaxed);
                    break;
                }
            }
            if !self.record_unrecorded().await {
                stop.store(true, Relaxed);
            }
        }
    }

    /// Sends one claimed mail on sender slot `slot`; `false` means stop sending for now (the
    /// server seems down, or the database cannot record what happened).
    #[tracing::instrument(name = "send", skip_all, fields(outbox_id = item.id, kind = %item.mail.kind, attempt = item.attempts))]
    async fn send_one(&self, item: OutboxItem, slot: &str) -> bool {
        // Where instances share the outbox, recorded before the server gets the mail: should
        // this instance die, a peer knows what it may have handed (see `Store::settle_instance`).
        let seq = self.handed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match self.store.hand_over(&item, &self.worker_id, slot, seq).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::info!("a peer took this mail over; not sent here");
                return true;
            }
            Err(e) => {
                Health::count(&self.health.errors_database, 1);
                tracing::warn!(error = %e, "outbox: database unavailable");
                self.release(std::iter::once(item)).await;
                return false;
            }
        }
        match self.transport.send(&item).await {
            Ok(reply) => {
                let waiting = {
                    // Noted first: until it is recorded a crash means the mail goes out again.
                    // Under the lock of the waiting list, so the journal is not emptied in
                    // between (see `clear_journal_if_recorded`).
                    let mut unrecorded = self.unrecorded();
                    if let Err(e) = self.journal.note(item.id) {
                        tracing::warn!(error = %e, "cannot note the sent mail in the outbox journal");
                    }
                    tracing::info!("mail accepted by SMTP server");
                    Health::count(&self.health.mails_sent, 1);
                    match item.mail.kind {
                        MailKind::Acknowledgement => Health::count(&self.health.acknowledgements_sent, 1),
                        MailKind::Reminder | MailKind::Escalation => Health::count(&self.health.reminders_sent, 1),
                        _ => {}
                    }
                    unrecorded.push(Sent { item, reply, at: now() });
                    unrecorded.len()
                };
                waiting < RECORD_BATCH || self.record_unrecorded().await
            }
            Err(e) if e.is_permanent() => {
                Health::count(&self.health.mails_undeliverable, 1);
                let error = redact_addresses(&e.to_string());
                tracing::warn!(%error, "mail refused for good; not retried");
                if let Err(e) = self.actions.mail_undeliverable(&item, &error).await {
                    // Still pending: the next attempt meets the same refusal and tries again.
                    tracing::warn!("outbox: cannot record an undeliverable mail: {e:#}");
                    if self.store.outbox_failed(&item, &error, now() + backoff(item.attempts, self.max_backoff).as_secs() as i64).await.is_err() {
                        // Its hand-over stays recorded: this slot ends here (see `Store::hand_over`).
                        return false;
                    }
                }
                // The notice to the handler is in the queue now; the server itself is up.
                true
            }
            Err(e) => {
                Health::count(&self.health.errors_smtp, 1);
                let wait = backoff(item.attempts, self.max_backoff);
                let error = redact_addresses(&e.to_string());
                tracing::warn!(retry_in_secs = wait.as_secs(), %error, "mail not sent; will retry");
                // Stored redacted too: `cases show` and `status` display it.
                if let Err(e) = self.store.outbox_failed(&item, &error, now() + wait.as_secs() as i64).await {
                    // Its hand-over stays recorded; the slot ends here anyway (false below).
                    tracing::warn!(error = %e, "outbox: cannot record failure");
                }
                // The server is likely down: do not hammer it with the rest of the queue.
                false
            }
        }
    }

    /// The mails accepted and not yet recorded (a poisoned lock still holds them).
    fn unrecorded(&self) -> std::sync::MutexGuard<'_, Vec<Sent>> {
        self.unrecorded.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Gives claimed mails back unsent.
    async fn release(&self, items: impl Iterator<Item = OutboxItem>) {
        let ids: Vec<i64> = items.map(|item| item.id).collect();
        if ids.is_empty() {
            return;
        }
        if let Err(e) = self.store.release_claims(&self.worker_id, &ids).await {
            // Their claims run out by themselves.
            tracing::warn!(error = %e, "outbox: cannot give claimed mail back; it waits for its lease");
        }
    }

    /// Empties the journal if every mail noted in it is recorded, so it stays short through a
    /// long backlog.
    async fn clear_journal_if_recorded(&self) {
        let _recording = self.recording.lock().await;
        self.clear_journal_unless_waiting();
    }

    /// With `recording` held (no mail is on its way into the database): empties the journal
    /// unless accepted mail waits to be recorded. A sender notes a mail and adds it to the
    /// waiting list under that list's lock, so none is missed.
    fn clear_journal_unless_waiting(&self) {
        let unrecorded = self.unrecorded();
        if unrecorded.is_empty() {
            if let Err(e) = self.journal.clear() {
                tracing::warn!(error = %e, "cannot empty the outbox journal");
            }
        }
    }

    /// Records the mails accepted since the last record, in one transaction; `false` while the
    /// database fails (they are kept, and noted in the journal, for the next try).
    async fn record_unrecorded(&self) -> bool {
        let recording = self.recording.lock().await;
        let pending = std::mem::take(&mut *self.unrecorded());
        if pending.is_empty() {
            return true;
        }
        match self.store.outbox_sent_many(&pending).await {
            Ok(()) => {
                self.clear_journal_unless_waiting();
                drop(recording);
                true
            }
            Err(e) => {
                Health::count(&self.health.errors_database, 1);
                tracing::error!(mails = pending.len(), error = %e, "mail sent but not yet recorded; recorded when the database answers");
                let mut unrecorded = self.unrecorded();
                let later = std::mem::replace(&mut *unrecorded, pending);
                unrecorded.extend(later);
                false
            }
        }
    }
}

/// Applies the sent journals that processes on this machine left behind (a crash after the
/// server accepted a mail and before the database recorded it), then removes them. Run at
/// start, before the outbox sends anything.
pub async fn apply_left_journals(store: &Store, dir: &std::path::Path, host: &str) -> anyhow::Result<()> {
    use anyhow::Context as _;
    for (path, ids) in journal::left_behind(dir, host).with_context(|| format!("cannot read the outbox journals in {}", dir.display()))? {
        let mut recorded = 0;
        for id in ids {
            if let Some(item) = store.pending_outbox_item(id).await? {
                store.outbox_sent(&item, "accepted before the previous process ended (from its outbox journal)").await?;
                recorded += 1;
            }
        }
        if recorded > 0 {
            tracing::warn!(recorded, "mails accepted by the SMTP server just before klachtd stopped are recorded as sent");
        }
        std::fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
    }
    Ok(())
}

/// 5 s, 10 s, 20 s, ... up to `max`.
pub fn backoff(attempts: i64, max: Duration) -> Duration {
    let exp = attempts.clamp(1, 20) as u32 - 1;
    Duration::from_secs(5u64.saturating_mul(1u64 << exp)).min(max)
}

#[cfg(test)]
mod timing_tests {
    use super::*;

    #[test]
    fn the_lease_outlasts_the_longest_send() {
        assert_eq!(lease_for(Duration::from_secs(20)), MIN_LEASE);
        for secs in [1, 60, 150, 600, 3600] {
            let send = Duration::from_secs(secs);
            assert!(lease_for(send) > send * 2 && lease_for(send) >= MIN_LEASE, "{secs}");
        }
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let max = Duration::from_secs(3600);
        assert_eq!(backoff(1, max), Duration::from_secs(5));
        assert_eq!(backoff(2, max), Duration::from_secs(10));
        assert_eq!(backoff(4, max), Duration::from_secs(40));
        assert_eq!(backoff(30, max), max);
    }
}
