//! The intake's pass over a mailbox: the mail after the saved position, in batches, taken
//! from a [`MailSource`] (IMAP today; any other source implements the same trait).
//!
//! For each batch the bodies of the small mails come in one round or a few (bounded by count
//! and bytes). The batch is recorded in one transaction: the mailbox lease renewed, the
//! mails, then one commit. When all its mails are in hand, its new complaints are written
//! together before the commit (or earlier, when a later mail depends on them), a few
//! statements for all (see `Deferred`). When a mail fails, the transaction is rolled back and
//! its mails are recorded again, each in a savepoint of its own and nothing deferred, so that
//! the failing mail is rolled back alone (see `Batch::careful`, in `batch.rs`).
//!
//! Then the committed mails are put away, one call per destination, and only then is the
//! position after them saved (with a later batch, or at the end of the pass). They are put
//! away while the next batch is recorded, when that needs nothing more of the source, and the
//! bodies of the batch after it are fetched meanwhile: the source and the database work at the
//! same time instead of in turn.
//!
//! Commit first, then put away: a crash anywhere leaves committed mail in the mailbox, where
//! the next pass recognises it by its dedupe key and puts it away then. No transaction waits
//! for the source: what must be fetched on its own (a large mail) is fetched after a commit.

mod batch;
mod failures;
mod serve;
mod source;
#[cfg(test)]
mod tests;

pub use failures::{PassError, MAX_ATTEMPTS};
pub use serve::Waits;
pub use source::{Destination, Listed, MailOrigin, MailSource, Waited};

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use self::batch::{Batch, Feed, Input};
use self::failures::Failures;
use super::{Deferred, Intake, Outcome};
use crate::app::health::{Health, Loop};
use crate::domain::text::redact_addresses;
use crate::store::Store;

/// At most this many mails in one batch.
pub const BATCH_MAILS: usize = 200;
/// At most this many bytes of bodies in one batch (beyond its first mail), which are in memory
/// together (with the next batch's, fetched meanwhile).
const BATCH_BYTES: u64 = 8 << 20;
/// A mail larger than this is fetched on its own, when its turn comes.
pub const LARGE_MAIL: u32 = 1 << 20;

/// Mails committed and still in the mailbox (by their place in the listing), with where each
/// goes (`None`: gone already).
type Committed = Vec<(u32, Option<Destination>)>;

/// What one pass did, for logs and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PassReport {
    pub fetched: u32,
    pub registered: u32,
    pub follow_ups: u32,
    pub ignored: u32,
    pub duplicates: u32,
    pub quarantined: u32,
    /// Another instance holds the mailbox: nothing was looked at.
    pub standby: bool,
}

/// The intake of one mailbox, for as long as the daemon runs: it holds the lease on the
/// mailbox and counts the failures of its mails.
pub struct MailboxIntake {
    intake: Arc<Intake>,
    store: Store,
    health: Arc<Health>,
    failures: Failures,
    /// This instance among the others: the mailbox leases (see [`crate::app::leases`]).
    leases: Arc<crate::app::leases::Leases>,
    /// How long the lease lasts: longer than the longest one mail can take.
    lease: Duration,
    /// Mail larger than this is quarantined unread.
    max_message_bytes: u64,
}

/// One pass on its way: the listing, and what is counted and saved as it goes.
struct Pass<'a, S: MailSource> {
    listed: &'a [Listed<S::Key>],
    /// How each listed mail is named in a quarantine record, and counted in `Failures`.
    origins: Vec<MailOrigin>,
    /// The position to save once each listed mail is put away.
    positions: Vec<S::Position>,
    mailbox: String,
    shutdown: &'a watch::Receiver<bool>,
    report: PassReport,
    /// The last mail put away, whose position is not saved yet: saved in a later batch's
    /// transaction.
    last_put_away: Option<u32>,
}

impl MailboxIntake {
    /// `leases` holds the mailbox's lease for this instance; one renewal lasts `lease`, which
    /// must outlast the longest one mail can take (it is renewed before each batch).
    pub fn new(
        intake: Arc<Intake>,
        store: Store,
        health: Arc<Health>,
        leases: Arc<crate::app::leases::Leases>,
        lease: Duration,
        max_message_bytes: u64,
    ) -> Self {
        Self { intake, store, health, failures: Failures::default(), leases, lease, max_message_bytes }
    }

    /// Processes every mail that arrived since the saved position; stops taking new mail as
    /// soon as `shutdown` turns true (the mail in hand is finished first).
    pub async fn pass<S: MailSource>(&self, source: &mut S, shutdown: &watch::Receiver<bool>) -> Result<PassReport, PassError<S::Error>> {
        if !self.hold_mailbox(source.mailbox()).await? {
            return Ok(PassReport { standby: true, ..PassReport::default() });
        }
        let listed = source.list_new().await.map_err(PassError::Source)?;
        let mut pass = Pass::<S> {
            origins: listed.iter().map(|m| source.origin(&m.key)).collect(),
            positions: listed.iter().map(|m| source.position_after(Some(&m.key))).collect(),
            listed: &listed,
            mailbox: source.mailbox().to_string(),
            shutdown,
            report: PassReport::default(),
            last_put_away: None,
        };
        let as_listed = source.position_after(None);
        // What the batch before committed: put away while the next one is recorded.
        let mut committed = Committed::new();
        // The next batch's bodies, fetched while a batch is recorded.
        let mut ahead = None;
        let mut result = Ok(());
        let mut next = 0;
        // More than a batch waiting: the acknowledgements wait until it is registered.
        let _backlog = (listed.len() > BATCH_MAILS).then(|| self.intake.backlog.enter());
        while next < listed.len() {
            if *shutdown.borrow() {
                break;
            }
            self.health.beat(Loop::Mailbox);
            let range = batch_range(&listed, next as u32);
            let following = (range.end < listed.len() as u32).then(|| batch_range(&listed, range.end));
            match self.pass_batch(source, &mut pass, range, following, &mut ahead, &mut committed).await {
                Ok(Some(taken)) => next += taken,
                Ok(None) => break,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        // What the last batch committed (also after a failure: the mails before it are done).
        let put_away = self.put_away_all(source, &listed, &committed).await.map(|last| pass.last_put_away = last.or(pass.last_put_away));
        let position = match pass.last_put_away {
            Some(n) => Some(&pass.positions[n as usize]),
            None if pass.report.fetched == 0 && result.is_ok() => Some(&as_listed),
            None => None,
        };
        let saved = match position {
            Some(at) => {
                async {
                    let mut tx = self.store.transaction().await?;
                    S::save_position(&self.store, &mut tx, at).await?;
                    tx.commit().await
                }
                .await
            }
            None => Ok(()),
        };
        result?;
        put_away?;
        saved?;
        Ok(pass.report)
    }

    /// One batch: the mails of `range` (budgeted, see [`batch_range`]; how many is returned,
    /// `None` when the mailbox lease was lost: stop here). Each is recorded, then the batch
    /// commits. `committed` holds what the batch before committed, which is put away meanwhile,
    /// and then this batch's. A failure that is not yet the mail's own ends the batch there,
    /// after the mails before it are committed; the saved position stays before the failing
    /// one, which is tried again first.
    ///
    /// When every mail of the batch is in hand, the source is free while it is recorded and
    /// committed: it puts the batch before away, then fetches the bodies of `following` into
    /// `ahead`, so that the next batch does not wait for the source (the source's round trips
    /// and a batch's transaction took turns otherwise).
    async fn pass_batch<S: MailSource>(
        &self,
        source: &mut S,
        pass: &mut Pass<'_, S>,
        range: std::ops::Range<u32>,
        following: Option<std::ops::Range<u32>>,
        ahead: &mut Option<Ahead<S>>,
        committed: &mut Committed,
    ) -> Result<Option<usize>, PassError<S::Error>> {
        let started = Instant::now();
        let listed = pass.listed;
        let batch_mails = range.len();
        let mut bodies = match ahead.take() {
            Some(Ahead { start, bodies }) if start == range.start => bodies.map_err(PassError::Source)?,
            _ => {
                let small = self.small(listed, range.clone());
                if small.is_empty() {
                    HashMap::new()
                } else {
                    source.fetch_batch(&small).await.map_err(PassError::Source)?
                }
            }
        };
        let fetched = started.elapsed();
        let previous = std::mem::take(committed);
        let in_hand = range.clone().all(|n| self.too_large(listed[n as usize].size) || bodies.contains_key(&listed[n as usize].key));
        let mut batch = Batch { deferred: in_hand.then(Deferred::default), ..Batch::default() };
        let (moved, recorded, commit) = if in_hand {
            let inputs =
                range.clone().map(|n| (n, self.brought_by_batch(&listed[n as usize], bodies.remove(&listed[n as usize].key)).expect("in hand"))).collect();
            let next_small = following.map(|r| (r.start, self.small(listed, r))).filter(|(_, small)| !small.is_empty());
            let source_side = async {
                let moved = self.put_away_all(source, listed, &previous).await;
                if let (Ok(_), Some((start, small))) = (&moved, next_small) {
                    *ahead = Some(Ahead { start, bodies: source.fetch_batch(&small).await });
                }
                moved
            };
            let database_side = async {
                let recorded = self.record_all(Feed::InHand(inputs), range.clone(), &mut batch, pass).await;
                (recorded, self.commit(&mut batch, pass).await)
            };
            let (moved, (recorded, commit)) = tokio::join!(source_side, database_side);
            (moved, recorded, commit)
        } else {
            let moved = self.put_away_all(source, listed, &previous).await;
            let recorded = match moved {
                Ok(_) => self.record_all(Feed::Source { source, bodies }, range.clone(), &mut batch, pass).await,
                Err(_) => Ok(true),
            };
            (moved, recorded, self.commit(&mut batch, pass).await)
        };
        if let Ok(Some(last)) = moved {
            pass.last_put_away = Some(last);
        }
        *committed = std::mem::take(&mut batch.committed);
        // Where a batch's time goes, for a backlog that goes slower than it should.
        tracing::debug!(
            mails = committed.len(),
            fetch_ms = fetched.as_millis() as u64,
            record_and_commit_ms = (started.elapsed() - fetched).as_millis() as u64,
            transactions = batch.transactions,
            held_ms = batch.held.as_millis() as u64,
            next_fetched_meanwhile = ahead.is_some(),
            "batch done"
        );
        moved?;
        commit?;
        Ok(recorded?.then_some(batch_mails))
    }

    /// The mails of `range` that come with a batch's fetch: not large, not too large.
    fn small<K: Clone>(&self, listed: &[Listed<K>], range: std::ops::Range<u32>) -> Vec<Listed<K>> {
        range.map(|n| &listed[n as usize]).filter(|m| m.size <= LARGE_MAIL && !self.too_large(m.size)).cloned().collect()
    }

    /// A mail as the batch's fetch brought it: its body, or too large to take in. `None`
    /// when the source must be asked (a large mail, or one the fetch did not return).
    fn brought_by_batch<K>(&self, mail: &Listed<K>, body: Option<Vec<u8>>) -> Option<Input> {
        if self.too_large(mail.size) {
            return Some(Input::Quarantine(format!("message of {} bytes exceeds imap.max_message_bytes ({})", mail.size, self.max_message_bytes)));
        }
        body.map(|raw| Input::Mail(raw, mail.arrived))
    }

    /// Whether a mail of `size` bytes is quarantined unread (`imap.max_message_bytes`).
    fn too_large(&self, size: u32) -> bool {
        u64::from(size) > self.max_message_bytes
    }

    /// Puts away mails committed before, one call per destination. Returns the last of them
    /// (`None`: there were none).
    async fn put_away_all<S: MailSource>(&self, source: &mut S, listed: &[Listed<S::Key>], committed: &Committed) -> Result<Option<u32>, PassError<S::Error>> {
        for destination in [Destination::Processed, Destination::Ignored, Destination::Quarantine] {
            let keys: Vec<S::Key> = committed.iter().filter(|(_, d)| *d == Some(destination)).map(|(n, _)| listed[*n as usize].key.clone()).collect();
            if !keys.is_empty() {
                source.put_away(&keys, destination).await.map_err(PassError::Source)?;
            }
        }
        Ok(committed.last().map(|(n, _)| *n))
    }

    /// Where a handled mail goes, counted in the report.
    fn destination<K: std::fmt::Debug>(key: &K, outcome: &Outcome, report: &mut PassReport) -> Destination {
        match outcome {
            Outcome::Registered { .. } => {
                report.registered += 1;
                Destination::Processed
            }
            Outcome::FollowUp { .. } | Outcome::KeptWithCase { .. } => {
                report.follow_ups += 1;
                Destination::Processed
            }
            Outcome::Duplicate => {
                report.duplicates += 1;
                Destination::Processed
            }
            Outcome::Ignored { reason } => {
                report.ignored += 1;
                tracing::info!(reason, "automated or own mail set aside");
                Destination::Ignored
            }
            Outcome::Quarantine { reason } => {
                report.quarantined += 1;
                tracing::warn!(mail = ?key, reason = %redact_addresses(reason), "mail quarantined");
                Destination::Quarantine
            }
        }
    }
}

/// The bodies of the next batch, fetched while a batch is recorded (see `pass_batch`), for
/// the batch that starts at `start` (the source's error, if that is how it went: the next batch
/// meets it as if it had fetched them itself).
struct Ahead<S: MailSource> {
    start: u32,
    bodies: Result<HashMap<S::Key, Vec<u8>>, S::Error>,
}

/// The batch that starts at the listed mail `start`: at most [`BATCH_MAILS`], whose bodies fit
/// [`BATCH_BYTES`].
fn batch_range<K>(listed: &[Listed<K>], start: u32) -> std::ops::Range<u32> {
    let end = listed.len().min(start as usize + BATCH_MAILS);
    start..start + within_budget(&listed[start as usize..end]) as u32
}

/// How many of the first mails of `listed` have bodies that fit one batch's bytes (at least
/// one mail): the bodies of a batch are in memory together (two batches' while the next is
/// fetched). A large mail counts nothing: it is fetched on its own.
fn within_budget<K>(listed: &[Listed<K>]) -> usize {
    let mut bytes = 0u64;
    for (i, mail) in listed.iter().enumerate() {
        if mail.size <= LARGE_MAIL {
            bytes += u64::from(mail.size);
        }
        if bytes > BATCH_BYTES && i > 0 {
            return i;
        }
    }
    listed.len()
}
