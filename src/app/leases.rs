//! This instance among the others on one database: it registers and beats (`instances`),
//! settles what dead peers left (their mailbox leases and outbox claims, see
//! `store::instances`), and spreads the mailboxes (see [`crate::domain::leases`]): it takes
//! its share of the free ones and marks its surplus to be given up, which the intake of that
//! mailbox does at its next safe point (after what it committed is put away).
//!
//! Timing, for a lease time L (`[service] lease_secs`): a beat every L/3 keeps an instance alive
//! for 2L/3 (one late beat is survived); peers look every L/6, so a dead instance's mailboxes
//! and letters in flight are taken over within L of its last beat. An instance whose beats
//! fail stops taking mail in once its own 2L/3 have passed, before any peer may take over.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::{watch, Notify};

use crate::domain::leases::plan;
use crate::store::{now, Store, StoreError};

/// Where this instance stands with a mailbox it serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseState {
    /// Another instance holds it, or nobody yet: do not take mail in.
    NotHeld,
    /// Ours: take mail in.
    Held,
    /// Ours, but others have room: give it up at the next safe point.
    GiveUp,
}

/// A mailbox this instance serves: where it stands, and how long one renewal of its lease
/// lasts (longer than the longest one mail of its source can take).
#[derive(Debug, Clone, Copy)]
struct Served {
    state: LeaseState,
    hold: Duration,
}

pub struct Leases {
    store: Store,
    /// `HOST:PID:N`: the holder of its mailbox leases and the claimant of its outbox mail.
    id: String,
    host: String,
    started_at: i64,
    lease: Duration,
    served: Mutex<BTreeMap<String, Served>>,
    /// Until when (Unix seconds) our last beat keeps us alive, less a second.
    alive_until: AtomicI64,
    /// Counts changes of the lease states: a mailbox's intake in standby wakes on it.
    changed: watch::Sender<u64>,
    /// Asks for a round of spreading now (a mailbox began to be served).
    round: Notify,
}

impl Leases {
    /// This instance on `store`, on machine `host`, alive for `lease` after each beat.
    pub fn new(store: Store, host: &str, lease: Duration) -> Self {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let id = format!("{host}:{}:{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
        Self {
            store,
            id,
            host: host.to_string(),
            started_at: now(),
            lease: lease.max(Duration::from_secs(3)),
            served: Mutex::new(BTreeMap::new()),
            alive_until: AtomicI64::new(0),
            changed: watch::channel(0).0,
            round: Notify::new(),
        }
    }

    /// This instance's name in the database.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// How often it beats and looks at the others.
    pub fn interval(&self) -> Duration {
        self.lease / 3
    }

    /// Changes of the lease states (see [`state`](Self::state)).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Registers or renews this instance; until it succeeds again, it counts as alive for 2/3
    /// of the lease time.
    pub async fn beat(&self) -> Result<(), StoreError> {
        let t = now();
        let until = t + (self.lease.as_secs() * 2 / 3).max(2) as i64;
        self.store.beat_instance(&self.id, &self.host, std::process::id(), self.started_at, until).await?;
        self.alive_until.store(until - 1, Ordering::Relaxed);
        Ok(())
    }

    /// Beats every third of the lease time, for as long as the task runs (the daemon ends it
    /// when its workers have stopped, before [`leave`](Self::leave)).
    pub async fn beat_loop(self: std::sync::Arc<Self>) {
        let mut tick = tokio::time::interval(self.interval());
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = self.beat().await {
                tracing::warn!(error = %e, "cannot renew this instance in the database; its mailboxes stop when its lease runs out");
            }
        }
    }

    /// Settles dead peers and spreads the mailboxes every sixth of the lease time, until
    /// shutdown.
    pub async fn balance_loop(self: std::sync::Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        loop {
            if let Err(e) = self.settle_dead().await {
                tracing::warn!(error = %e, "cannot settle what stopped instances left; tried again");
            }
            if let Err(e) = self.balance().await {
                tracing::warn!(error = %e, "cannot spread the mailboxes; tried again");
            }
            tokio::select! {
                _ = tokio::time::sleep(self.lease / 6) => {}
                _ = self.round.notified() => {}
                _ = shutdown.changed() => return,
            }
            if *shutdown.borrow() {
                return;
            }
        }
    }

    /// Settles each peer whose beats stopped (one peer does each, see `Store::settle_instance`).
    pub async fn settle_dead(&self) -> Result<(), StoreError> {
        let (_, dead) = self.store.instances().await?;
        for id in dead.iter().filter(|id| **id != self.id) {
            if let Some(s) = self.store.settle_instance(id).await? {
                tracing::info!(
                    instance = %id,
                    mailboxes = s.mailboxes,
                    recorded_sent = s.accepted,
                    sent_again = s.unknown,
                    released = s.released,
                    "an instance stopped beating; took over what it left"
                );
            }
        }
        Ok(())
    }

    /// One round of spreading: takes its share of the free mailboxes, renews those it keeps,
    /// marks its surplus to be given up.
    pub async fn balance(&self) -> Result<(), StoreError> {
        let served: BTreeMap<String, Served> = self.served().clone();
        if served.is_empty() {
            return Ok(());
        }
        let (mut live, _) = self.store.instances().await?;
        live.insert(self.id.clone());
        let mut leases = self.store.mailbox_leases().await?;
        // A process on this machine that is gone (a crash, then a restart) may still count as
        // alive for a while: its leases are taken over from it by name, at once.
        let mut gone = BTreeMap::new();
        for (mailbox, holding) in leases.iter_mut() {
            if holder_is_gone(&holding.holder, &self.id) {
                holding.expired = true;
                gone.insert(mailbox.clone(), holding.holder.clone());
            }
        }
        let mailboxes: BTreeSet<String> = served.keys().cloned().collect();
        let plan = plan(&self.id, &mailboxes, &leases, &live);
        let mut states: BTreeMap<String, LeaseState> = mailboxes.iter().map(|m| (m.clone(), LeaseState::NotHeld)).collect();
        for mailbox in &plan.keep {
            let held = self.store.renew_mailbox(mailbox, &self.id, served[mailbox].hold).await?;
            states.insert(mailbox.clone(), if held { LeaseState::Held } else { LeaseState::NotHeld });
        }
        for mailbox in &plan.take {
            let hold = served[mailbox].hold;
            let taken = match gone.get(mailbox) {
                Some(old) => self.store.take_over_mailbox(mailbox, old, &self.id, hold).await?,
                None => self.store.hold_mailbox(mailbox, &self.id, hold).await?,
            };
            if taken {
                tracing::info!(mailbox = %mailbox, "taking this mailbox in");
                states.insert(mailbox.clone(), LeaseState::Held);
            }
        }
        for mailbox in &plan.give_up {
            if served[mailbox].state == LeaseState::NotHeld {
                // Ours in the database, but its intake is not taking mail in (standing by, or
                // given up a moment ago): no safe point to wait for, free it now.
                self.store.release_mailbox(mailbox, &self.id).await?;
                states.insert(mailbox.clone(), LeaseState::NotHeld);
            } else {
                states.insert(mailbox.clone(), LeaseState::GiveUp);
            }
        }
        let mut changed = false;
        {
            let mut now_served = self.served();
            for (mailbox, state) in states {
                if let Some(s) = now_served.get_mut(&mailbox) {
                    // A mailbox given up meanwhile stays given up.
                    if s.state != state && !(s.state == LeaseState::NotHeld && state == LeaseState::GiveUp) {
                        s.state = state;
                        changed = true;
                    }
                }
            }
        }
        if changed {
            self.changed.send_modify(|n| *n += 1);
        }
        Ok(())
    }

    /// Where this instance stands with `mailbox`: never held while its own beat is overdue.
    pub fn state(&self, mailbox: &str) -> LeaseState {
        let state = self.served().get(mailbox).map_or(LeaseState::NotHeld, |s| s.state);
        if state == LeaseState::Held && now() > self.alive_until.load(Ordering::Relaxed) {
            return LeaseState::NotHeld;
        }
        state
    }

    /// At a safe point of `mailbox`'s intake (before a pass; what it committed is put away):
    /// whether to take mail in now. A mailbox to be given up is given up here. `hold` is how
    /// long one renewal of its lease lasts.
    pub async fn at_safe_point(&self, mailbox: &str, hold: Duration) -> Result<bool, StoreError> {
        let new = {
            let mut served = self.served();
            let new = !served.contains_key(mailbox);
            served.entry(mailbox.to_string()).or_insert(Served { state: LeaseState::NotHeld, hold });
            new
        };
        if new {
            self.round.notify_one();
        }
        match self.state(mailbox) {
            LeaseState::NotHeld => Ok(false),
            LeaseState::Held => {
                if self.store.renew_mailbox(mailbox, &self.id, hold).await? {
                    return Ok(true);
                }
                tracing::info!(mailbox, "the mailbox lease was lost; standing by");
                self.set(mailbox, LeaseState::NotHeld);
                Ok(false)
            }
            LeaseState::GiveUp => {
                self.release(mailbox).await;
                tracing::info!(mailbox, "mailbox given up, for an instance with room");
                Ok(false)
            }
        }
    }

    /// Gives up the lease on `mailbox` (also at shutdown), so that another instance takes
    /// over at once.
    pub async fn release(&self, mailbox: &str) {
        self.set(mailbox, LeaseState::NotHeld);
        if let Err(e) = self.store.release_mailbox(mailbox, &self.id).await {
            tracing::warn!(error = %e, "cannot give up the mailbox lease; another instance takes over when it runs out");
        }
    }

    /// Leaves the database at a clean shutdown, after the workers stopped.
    pub async fn leave(&self) {
        let mailboxes: Vec<String> = self.served().keys().cloned().collect();
        for mailbox in mailboxes {
            self.release(&mailbox).await;
        }
        if let Err(e) = self.store.retire_instance(&self.id).await {
            tracing::warn!(error = %e, "cannot retire this instance in the database; peers settle it when its lease runs out");
        }
    }

    fn set(&self, mailbox: &str, state: LeaseState) {
        if let Some(s) = self.served().get_mut(mailbox) {
            s.state = state;
        }
        self.changed.send_modify(|n| *n += 1);
    }

    fn served(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Served>> {
        self.served.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Whether lease holder `old` (`HOST:PID:N`) was a process on this machine (the host of `ours`)
/// that no longer runs: its lease is free at once (a crash, then a restart).
fn holder_is_gone(old: &str, ours: &str) -> bool {
    let (mut old, mut ours) = (old.split(':'), ours.split(':'));
    let (Some(host), Some(pid)) = (old.next(), old.next()) else { return false };
    let (Some(our_host), Some(our_pid)) = (ours.next(), ours.next()) else { return false };
    host == our_host && pid != our_pid && pid.parse::<u32>().is_ok() && !std::path::Path::new("/proc").join(pid).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_gone_process_on_this_machine_loses_its_lease_at_once() {
        let ours = format!("host-a:{}:0", std::process::id());
        assert!(!holder_is_gone(&format!("host-a:{}:1", std::process::id()), &ours), "a second daemon in this process");
        assert!(!holder_is_gone("host-a:1:0", &ours), "pid 1 runs");
        assert!(holder_is_gone("host-a:4294967295:0", &ours), "no such process");
        assert!(!holder_is_gone("host-b:4294967295:0", &ours), "another machine: wait for its lease to run out");
        assert!(!holder_is_gone("garbage", &ours));
    }

    async fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&format!("sqlite://{}/klachtd.db", dir.path().display()), 1).await.unwrap();
        (dir, store)
    }

    #[tokio::test]
    async fn a_crashed_predecessor_on_this_machine_loses_its_mailbox_at_once() {
        let (_dir, store) = store().await;
        // Killed a moment ago: its beat still counts, its lease runs for minutes.
        let old = "host-a:4294967295:0";
        store.beat_instance(old, "host-a", 4294967295, now(), now() + 20).await.unwrap();
        assert!(store.hold_mailbox("INBOX", old, Duration::from_secs(600)).await.unwrap());
        let leases = Leases::new(store.clone(), "host-a", Duration::from_secs(30));
        leases.beat().await.unwrap();
        assert!(!leases.at_safe_point("INBOX", Duration::from_secs(600)).await.unwrap());
        leases.balance().await.unwrap();
        assert_eq!(leases.state("INBOX"), LeaseState::Held);
        assert_eq!(store.mailbox_holder("INBOX").await.unwrap().as_deref(), Some(leases.id()));
        assert!(leases.at_safe_point("INBOX", Duration::from_secs(600)).await.unwrap());
    }

    /// Ours serving mailboxes "a" and "b" beside a live peer that serves none yet.
    async fn beside_a_peer() -> (tempfile::TempDir, Store, Leases, &'static str) {
        let (dir, store) = store().await;
        let peer = "host-b:1:0";
        store.beat_instance(peer, "host-b", 1, now(), now() + 20).await.unwrap();
        let leases = Leases::new(store.clone(), "host-a", Duration::from_secs(30));
        leases.beat().await.unwrap();
        for mailbox in ["a", "b"] {
            leases.at_safe_point(mailbox, Duration::from_secs(600)).await.unwrap();
        }
        (dir, store, leases, peer)
    }

    #[tokio::test]
    async fn a_live_peers_mailbox_is_left_alone_and_a_surplus_given_up_at_a_safe_point() {
        let (_dir, store, leases, peer) = beside_a_peer().await;
        // Two live instances, two mailboxes: a share of one each, so one is taken.
        leases.balance().await.unwrap();
        let held: Vec<&str> = ["a", "b"].into_iter().filter(|m| leases.state(m) == LeaseState::Held).collect();
        assert_eq!(held.len(), 1, "its share of two mailboxes between two instances");
        // The peer takes the other.
        let other = if held[0] == "a" { "b" } else { "a" };
        assert!(store.hold_mailbox(other, peer, Duration::from_secs(600)).await.unwrap());
        leases.balance().await.unwrap();
        assert_eq!(leases.state(other), LeaseState::NotHeld, "a live peer's lease is left alone");
        assert_eq!(leases.state(held[0]), LeaseState::Held);
        store.release_mailbox(other, peer).await.unwrap();
        leases.balance().await.unwrap();
        assert_eq!(leases.state(other), LeaseState::NotHeld, "the peer has room: ours keeps its share");
        // The peer is away (its beats stopped): ours takes both.
        store.beat_instance(peer, "host-b", 1, now(), now() - 1).await.unwrap();
        leases.balance().await.unwrap();
        assert!(["a", "b"].iter().all(|m| leases.state(m) == LeaseState::Held), "alone: every mailbox");
        // The peer is back with none: one is given up, at its intake's safe point.
        store.beat_instance(peer, "host-b", 1, now(), now() + 20).await.unwrap();
        leases.balance().await.unwrap();
        let giving: Vec<&str> = ["a", "b"].into_iter().filter(|m| leases.state(m) == LeaseState::GiveUp).collect();
        assert_eq!(giving.len(), 1);
        assert_eq!(store.mailbox_holder(giving[0]).await.unwrap().as_deref(), Some(leases.id()), "held until the safe point");
        assert!(!leases.at_safe_point(giving[0], Duration::from_secs(600)).await.unwrap());
        assert_eq!(store.mailbox_holder(giving[0]).await.unwrap(), None, "given up, for the peer");
    }

    #[tokio::test]
    async fn a_surplus_its_intake_is_not_using_is_freed_at_once() {
        let (_dir, store, leases, _) = beside_a_peer().await;
        leases.balance().await.unwrap();
        // Both ours in the database (left from before), one of them not in use here: whichever
        // is given up, nothing of ours holds two while the peer has none.
        for mailbox in ["a", "b"] {
            store.hold_mailbox(mailbox, leases.id(), Duration::from_secs(600)).await.unwrap();
        }
        leases.balance().await.unwrap();
        for mailbox in ["a", "b"] {
            if leases.state(mailbox) == LeaseState::GiveUp {
                assert!(!leases.at_safe_point(mailbox, Duration::from_secs(600)).await.unwrap());
            }
        }
        let mut ours = 0;
        for mailbox in ["a", "b"] {
            ours += usize::from(store.mailbox_holder(mailbox).await.unwrap().as_deref() == Some(leases.id()));
        }
        assert_eq!(ours, 1, "its share, the other free for the peer");
    }
}
