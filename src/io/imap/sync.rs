//! One pass over the inbox: the mail after the last processed UID, in batches.
//!
//! For each batch the sizes and dates come in one FETCH and the bodies of the small mails in
//! another (bounded by count and bytes). The batch is recorded in one transaction: the mailbox
//! lease renewed, the mails, then one commit. When all its mails are in hand, its new
//! complaints are written together before the commit (or earlier, when a later mail depends on
//! them), a few statements for all (see `Deferred`). When a mail fails, the transaction is
//! rolled back and its mails are recorded again, each in a savepoint of its own and nothing
//! deferred, so that the failing mail is rolled back alone (see `Batch::careful`).
//!
//! Then the committed mails leave the inbox in one `UID MOVE` per destination, and only then
//! is their last UID saved (with a later batch, or at the end of the pass). The move is made
//! while the next batch is recorded, when that needs nothing more of the server.
//!
//! Commit first, then move: a crash anywhere leaves committed mail in the inbox, where the next
//! pass recognises it by its dedupe key and moves it then. No transaction waits for the IMAP
//! server: what must be fetched on its own (a large mail) is fetched after a commit.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use tokio::sync::watch;

use super::{in_folder, timed, Destination, ImapSession, MailboxError, MailboxWorker, SyncReport, FETCH_CHUNK, MAX_ATTEMPTS, PROCESSED_KEYWORD};
use crate::app::intake::{Deferred, Done, IntakeError, Outcome, Processed};
use crate::config::MarkMode;
use crate::domain::text::redact_addresses;
use crate::io::health::Loop;
use crate::store::{Conn, Tx};

/// At most this many mails in one batch.
pub const BATCH_MAILS: usize = 200;
/// At most this many bytes of bodies in one batch (beyond its first mail), which are in memory
/// together.
const BATCH_BYTES: u64 = 8 << 20;

/// Size and internal date of a mail, from the batch's first FETCH.
type Meta = (u32, DateTime<Utc>);

/// Mails committed and still in the inbox, with where each goes (`None`: gone already).
type Committed = Vec<(u32, Option<Destination>)>;

/// A batch on its way: mails recorded in the open transaction, and mails committed (or gone
/// from the mailbox) that wait to be put away.
#[derive(Default)]
struct Batch {
    tx: Option<Tx<'static>>,
    /// Whether each mail of `tx` is written in a savepoint of its own, so that a mail that fails
    /// is rolled back alone. A transaction starts without them (two statements a mail fewer);
    /// when a mail fails in it, or proves a duplicate only as it is written, the transaction is
    /// rolled back and its mails are recorded again, carefully, until the next commit.
    careful: bool,
    /// The mails recorded in `tx` without savepoints, or waiting in `deferred`, kept to be
    /// recorded again (see `careful`).
    written: Vec<(u32, Input)>,
    /// The last UID put away that `tx` saves (saved again if `tx` is rolled back).
    saves: Option<u32>,
    /// New complaints written together at the end (see `Deferred`): in a batch without
    /// savepoints whose mails are all in hand.
    deferred: Option<Deferred>,
    /// Mails recorded in `tx`; where each goes is decided, counted and logged once it commits.
    recorded: Vec<(u32, Done)>,
    committed: Committed,
}

/// A mail of the batch as it came from the mailbox (`None` where it is gone: someone else
/// expunged it before it could be read).
enum Input {
    Mail(Vec<u8>, DateTime<Utc>),
    /// Quarantined unread, for this reason (too large to take in, or it keeps failing).
    Quarantine(String),
}

/// How the recording of one mail went.
enum Step {
    Next,
    /// The mailbox lease is lost: stop.
    Stop,
    /// A mail failed in a transaction without savepoints, or its waiting complaints could not
    /// be written together; it was rolled back, and its mails are to be recorded again (see
    /// `Batch::careful`).
    Again,
}

/// Where the mails of a batch come from while it is recorded.
enum Source<'a> {
    /// The batch's FETCHes, and the server for what they did not bring (a large mail, fetched
    /// on its own; a mail they did not return, looked for).
    Server { session: &'a mut ImapSession, metas: &'a HashMap<u32, Meta>, bodies: HashMap<u32, Vec<u8>> },
    /// Every mail in hand: the server is free meanwhile.
    InHand(HashMap<u32, Input>),
}

impl MailboxWorker {
    /// Processes every mail that arrived since the last processed UID; stops taking new mail
    /// as soon as `shutdown` turns true (the mail in hand is finished first). `can_move` is
    /// whether the server offers UID MOVE.
    pub async fn sync(&self, session: &mut ImapSession, can_move: bool, shutdown: &watch::Receiver<bool>) -> Result<SyncReport, MailboxError> {
        let inbox = &self.config.inbox;
        if !self.hold_mailbox().await? {
            return Ok(SyncReport { standby: true, ..SyncReport::default() });
        }
        let wire_inbox = self.folders.read().unwrap_or_else(|e| e.into_inner()).inbox.clone();
        let mailbox = self.timed("SELECT", session.select(&wire_inbox)).await.map_err(|e| in_folder(e, "SELECT", &wire_inbox))?;
        let uidvalidity = mailbox.uid_validity.ok_or(MailboxError::Unsupported("UIDVALIDITY"))?;
        let last_uid = match self.store.mailbox_state(inbox).await? {
            Some((v, uid)) if v == uidvalidity => uid,
            Some((v, _)) => {
                tracing::warn!(old = v, new = uidvalidity, "UIDVALIDITY changed; rescanning the mailbox (known mail is recognised by Message-ID)");
                0
            }
            None => 0,
        };
        let query = match self.config.mark {
            MarkMode::Move => format!("UID {}:*", last_uid + 1),
            MarkMode::Flag => format!("UID {}:* UNKEYWORD {PROCESSED_KEYWORD}", last_uid + 1),
        };
        let found = self.timed("UID SEARCH", session.uid_search(&query)).await?;
        // "n:*" always matches the highest UID, even when it is below n.
        let mut uids: Vec<u32> = found.into_iter().filter(|uid| *uid > last_uid).collect();
        uids.sort_unstable();

        let mut report = SyncReport::default();
        // The last UID put away, not yet saved: saved in a later batch's transaction.
        let mut last_put_away = None;
        // What the batch before committed: put away while the next one is recorded.
        let mut committed = Committed::new();
        let mut result = Ok(());
        let mut rest = &uids[..];
        while !rest.is_empty() {
            if *shutdown.borrow() {
                break;
            }
            self.health.beat(Loop::Mailbox);
            let batch = &rest[..rest.len().min(BATCH_MAILS)];
            match self.sync_batch(session, batch, uidvalidity, can_move, shutdown, &mut report, &mut last_put_away, &mut committed).await {
                Ok(Some(taken)) => rest = &rest[taken..],
                Ok(None) => break,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        // What the last batch committed (also after a failure: the mails before it are done).
        let put_away = self.put_away_all(session, &committed, can_move).await.map(|last| last_put_away = last.or(last_put_away));
        let saved = match last_put_away {
            Some(uid) => self.store.save_mailbox_state(inbox, uidvalidity, uid).await,
            None if report.fetched == 0 && result.is_ok() => self.store.save_mailbox_state(inbox, uidvalidity, last_uid).await,
            None => Ok(()),
        };
        result?;
        put_away?;
        saved?;
        Ok(report)
    }

    /// One batch: the first mails of `uids` whose bodies fit the batch's bytes (how many is
    /// returned; `None` when the mailbox lease was lost: stop here). Each is recorded, then
    /// the batch commits. `committed` holds what the batch before committed, which leaves the
    /// inbox meanwhile, and then this batch's. A failure that is not yet the mail's own ends
    /// the batch there, after the mails before it are committed; the saved UID stays below
    /// the failing one, which is tried again first.
    #[allow(clippy::too_many_arguments)]
    async fn sync_batch(
        &self,
        session: &mut ImapSession,
        uids: &[u32],
        uidvalidity: u32,
        can_move: bool,
        shutdown: &watch::Receiver<bool>,
        report: &mut SyncReport,
        last_put_away: &mut Option<u32>,
        committed: &mut Committed,
    ) -> Result<Option<usize>, MailboxError> {
        let started = Instant::now();
        let metas = self.fetch_metas(session, uids).await?;
        let uids = within_budget(uids, &metas);
        let mut bodies = self.fetch_bodies(session, uids, &metas).await?;
        let fetched = started.elapsed();
        let previous = std::mem::take(committed);
        let in_hand = uids.iter().all(|uid| metas.get(uid).is_some_and(|(size, _)| self.too_large(*size) || bodies.contains_key(uid)));
        let mut batch = Batch { deferred: in_hand.then(Deferred::default), ..Batch::default() };
        let (moved, recorded) = if in_hand {
            let inputs = uids.iter().filter_map(|uid| Some((*uid, self.brought_by_batch(metas.get(uid).copied(), bodies.remove(uid))?))).collect();
            let record = self.record_all(Source::InHand(inputs), uids, &mut batch, uidvalidity, shutdown, report, last_put_away);
            tokio::join!(self.put_away_all(session, &previous, can_move), record)
        } else {
            let moved = self.put_away_all(session, &previous, can_move).await;
            let recorded = match moved {
                Ok(_) => {
                    self.record_all(Source::Server { session, metas: &metas, bodies }, uids, &mut batch, uidvalidity, shutdown, report, last_put_away).await
                }
                Err(_) => Ok(true),
            };
            (moved, recorded)
        };
        if let Ok(Some(last)) = moved {
            *last_put_away = Some(last);
        }
        let at_record = started.elapsed();
        let commit = self.commit(&mut batch, uidvalidity, report).await;
        *committed = std::mem::take(&mut batch.committed);
        // Where a batch's time goes, for a backlog that goes slower than it should.
        tracing::debug!(
            mails = committed.len(),
            fetch_ms = fetched.as_millis() as u64,
            record_ms = (at_record - fetched).as_millis() as u64,
            commit_ms = (started.elapsed() - at_record).as_millis() as u64,
            previous_put_away_meanwhile = in_hand,
            "batch done"
        );
        moved?;
        commit?;
        Ok(recorded?.then_some(uids.len()))
    }

    /// Records the mails of `uids` in `batch`: false when the mailbox lease was lost (stop).
    #[allow(clippy::too_many_arguments)]
    async fn record_all(
        &self,
        mut source: Source<'_>,
        uids: &[u32],
        batch: &mut Batch,
        uidvalidity: u32,
        shutdown: &watch::Receiver<bool>,
        report: &mut SyncReport,
        last_put_away: &mut Option<u32>,
    ) -> Result<bool, MailboxError> {
        // Mails in hand to record (again) before the next of `uids`.
        let mut again: VecDeque<(u32, Input)> = VecDeque::new();
        let mut next = uids.iter();
        loop {
            // A stop request is obeyed between mails.
            let item = match *shutdown.borrow() {
                true => None,
                false => again.pop_front().map(|(uid, input)| (uid, Some(input))).or_else(|| next.next().map(|&uid| (uid, None))),
            };
            let Some((uid, in_hand)) = item else {
                // The complaints that wait are written before the batch commits.
                match self.write_waiting(batch, uidvalidity).await? {
                    Step::Again => {
                        requeue(batch, &mut again, last_put_away);
                        continue;
                    }
                    Step::Next | Step::Stop => break,
                }
            };
            self.health.beat(Loop::Mailbox);
            let key = self.failure_key(uidvalidity, uid);
            let result = async {
                let input = match (in_hand, &mut source) {
                    (Some(input), _) => Some(input),
                    (None, Source::Server { session, metas, bodies }) => {
                        self.input(session, batch, uid, uidvalidity, metas.get(&uid).copied(), bodies.remove(&uid), report).await?
                    }
                    (None, Source::InHand(inputs)) => {
                        report.fetched += 1;
                        Some(inputs.remove(&uid).ok_or(MailboxError::NotFetched(uid))?)
                    }
                };
                let Some(input) = input else {
                    self.failures.forget(&key);
                    batch.committed.push((uid, None));
                    return Ok(Step::Next);
                };
                if !self.open(batch, uidvalidity, last_put_away).await? {
                    return Ok(Step::Stop);
                }
                self.record(batch, uid, uidvalidity, input, report).await
            }
            .await;
            match result {
                // A mail's failures are forgotten once it is committed (see `commit`): a
                // complaint that waits has not been written yet.
                Ok(Step::Next) => {}
                Ok(Step::Stop) => return Ok(false),
                Ok(Step::Again) => requeue(batch, &mut again, last_put_away),
                Err(e) => {
                    let Some(reason) = self.failures.failed(key.clone(), &e) else {
                        return Err(e);
                    };
                    tracing::warn!(uid, attempts = MAX_ATTEMPTS, "mail keeps failing; it goes to quarantine so the rest can go on");
                    again.push_front((uid, Input::Quarantine(reason)));
                }
            }
        }
        Ok(true)
    }

    /// What a mail's failures are counted by (see `Failures`).
    fn failure_key(&self, uidvalidity: u32, uid: u32) -> (String, u32, u32) {
        (self.config.inbox.clone(), uidvalidity, uid)
    }

    /// A mail as the batch's FETCHes brought it: its body, or too large to take in. `None`
    /// when the server must be asked (a large mail, or one the FETCH did not return).
    fn brought_by_batch(&self, meta: Option<Meta>, body: Option<Vec<u8>>) -> Option<Input> {
        let (size, arrived) = meta?;
        if self.too_large(size) {
            return Some(Input::Quarantine(format!("message of {size} bytes exceeds imap.max_message_bytes ({})", self.config.max_message_bytes)));
        }
        body.map(|raw| Input::Mail(raw, arrived))
    }

    /// Whether a mail of `size` bytes is quarantined unread (`imap.max_message_bytes`).
    fn too_large(&self, size: u32) -> bool {
        u64::from(size) > self.config.max_message_bytes
    }

    /// The next mail of the batch: from the batch's FETCHes, or fetched now (a large mail, in
    /// pieces), after what is recorded so far has committed. `None` if it is gone.
    #[allow(clippy::too_many_arguments)]
    async fn input(
        &self,
        session: &mut ImapSession,
        batch: &mut Batch,
        uid: u32,
        uidvalidity: u32,
        meta: Option<Meta>,
        body: Option<Vec<u8>>,
        report: &mut SyncReport,
    ) -> Result<Option<Input>, MailboxError> {
        if let Some(input) = self.brought_by_batch(meta, body) {
            report.fetched += 1;
            return Ok(Some(input));
        }
        let Some((size, arrived)) = meta else {
            self.commit(batch, uidvalidity, report).await?;
            return self.not_fetched(session, uid).await.map(|()| None);
        };
        report.fetched += 1;
        self.commit(batch, uidvalidity, report).await?;
        let raw = if size <= FETCH_CHUNK {
            self.fetch(session, uid, "(UID RFC822.SIZE INTERNALDATE BODY.PEEK[])", self.config.timeout()).await?.map(|(_, _, raw)| raw.unwrap_or_default())
        } else {
            self.fetch_in_chunks(session, uid, size).await?
        };
        match raw {
            Some(raw) => Ok(Some(Input::Mail(raw, arrived))),
            None => self.not_fetched(session, uid).await.map(|()| None),
        }
    }

    /// Opens the batch's transaction if none is open: the mailbox lease renewed in it (false:
    /// lost, stop) and the last UID put away before saved.
    async fn open(&self, batch: &mut Batch, uidvalidity: u32, last_put_away: &mut Option<u32>) -> Result<bool, MailboxError> {
        if batch.tx.is_some() {
            return Ok(true);
        }
        let mut tx = self.store.transaction().await?;
        if !self.store.hold_mailbox_on(&mut tx, &self.config.inbox, &self.holder, self.lease()).await? {
            tx.rollback().await?;
            return Ok(false);
        }
        if let Some(uid) = *last_put_away {
            self.store.save_mailbox_state_on(&mut tx, &self.config.inbox, uidvalidity, uid).await?;
        }
        batch.saves = last_put_away.take();
        batch.tx = Some(tx);
        Ok(true)
    }

    /// Commits what the batch has recorded, then does what waited for that (see
    /// `Intake::committed`). The mails are then ready to be put away.
    async fn commit(&self, batch: &mut Batch, uidvalidity: u32, report: &mut SyncReport) -> Result<(), MailboxError> {
        // Complaints that wait are written before each commit already (see `write_waiting`);
        // should any still wait, they are written now, and a failure rolls back all that the
        // transaction holds (its mails stay in the inbox, to be taken in again).
        if let Step::Again = self.write_waiting(batch, uidvalidity).await? {
            return Err(IntakeError::BatchRolledBack.into());
        }
        let Some(tx) = batch.tx.take() else { return Ok(()) };
        tx.commit().await?;
        batch.careful = false;
        batch.written.clear();
        batch.saves = None;
        // In the order of the mailbox: a complaint that waited was recorded after later mail.
        batch.recorded.sort_by_key(|(uid, _)| *uid);
        for (uid, done) in batch.recorded.drain(..) {
            self.failures.forget(&self.failure_key(uidvalidity, uid));
            let destination = self.destination(uid, &done.outcome, report);
            self.intake.committed(done).await;
            batch.committed.push((uid, Some(destination)));
        }
        Ok(())
    }

    /// Records one mail in the batch's transaction (open): registers it, threads it, sets it
    /// aside or quarantines it; in a savepoint of its own when the batch is careful, so that a
    /// failure rolls back this mail alone. A handler's action by mail is carried out on its
    /// own, after a commit of what came before.
    async fn record(&self, batch: &mut Batch, uid: u32, uidvalidity: u32, input: Input, report: &mut SyncReport) -> Result<Step, MailboxError> {
        let tx = batch.tx.as_mut().expect("opened");
        let processed = if batch.careful {
            let mut savepoint = tx.savepoint().await?;
            let written = self.write(&mut savepoint, None, uid, uidvalidity, &input).await;
            match &written {
                Ok((Processed::Done(done), _)) if !done.must_undo() => savepoint.commit().await?,
                Ok(_) => savepoint.rollback().await?,
                // The error is the mail's; the batch goes on without it.
                Err(_) => {
                    let _ = savepoint.rollback().await;
                }
            }
            written?.0
        } else {
            match self.write(tx, batch.deferred.as_mut(), uid, uidvalidity, &input).await {
                Ok((Processed::Done(done), _)) if done.must_undo() => return self.start_over(batch, Some((uid, input))).await,
                Err(e) => {
                    tracing::debug!(uid, "a mail failed in a batch without savepoints, which is recorded again with them: {e}");
                    return self.start_over(batch, Some((uid, input))).await;
                }
                Ok((processed, written)) => {
                    batch.recorded.extend(written);
                    processed
                }
            }
        };
        match (processed, input) {
            (Processed::Done(done), input) => {
                if !batch.careful {
                    batch.written.push((uid, input));
                }
                batch.recorded.push((uid, done));
            }
            // Only in a batch without savepoints, which keeps it to record again.
            (Processed::Deferred, input) => batch.written.push((uid, input)),
            (Processed::Alone, Input::Mail(raw, arrived)) => {
                self.commit(batch, uidvalidity, report).await?;
                let span = tracing::info_span!("mail", uid, size = raw.len());
                let outcome = tracing::Instrument::instrument(self.intake.process_alone(&raw, arrived), span).await?;
                self.failures.forget(&self.failure_key(uidvalidity, uid));
                if let Outcome::Quarantine { reason } = &outcome {
                    self.store.record_quarantine(&self.config.inbox, uidvalidity, uid, None, reason).await?;
                }
                batch.committed.push((uid, Some(self.destination(uid, &outcome, report))));
            }
            (Processed::Alone, Input::Quarantine(_)) => unreachable!("`write` makes a mail quarantined unread no action by mail"),
        }
        Ok(Step::Next)
    }

    /// Writes one mail on `db` (the batch's transaction or a savepoint of it): what the intake
    /// makes of it, and the reason of a quarantined one. With `deferred`, a new complaint may
    /// wait there instead; what of it was written meanwhile comes back with the mail.
    async fn write(
        &self,
        db: &mut Conn,
        mut deferred: Option<&mut Deferred>,
        uid: u32,
        uidvalidity: u32,
        input: &Input,
    ) -> Result<(Processed, Vec<(u32, Done)>), MailboxError> {
        let processed = match input {
            Input::Mail(raw, arrived) => {
                let span = tracing::info_span!("mail", uid, size = raw.len());
                tracing::Instrument::instrument(self.intake.process_in(db, deferred.as_deref_mut(), uid, raw, *arrived), span).await?
            }
            Input::Quarantine(reason) => Processed::Done(Done::from(Outcome::Quarantine { reason: reason.clone() })),
        };
        if let Processed::Done(done) = &processed {
            if let (false, Outcome::Quarantine { reason }) = (done.must_undo(), &done.outcome) {
                self.store.record_quarantine_on(db, &self.config.inbox, uidvalidity, uid, None, reason).await?;
            }
        }
        let written = match deferred {
            Some(deferred) => self.note_quarantined(db, deferred.take_written(), uidvalidity).await?,
            None => Vec::new(),
        };
        Ok((processed, written))
    }

    /// Writes the complaints that wait in the batch (see `Deferred`). When that fails, the
    /// transaction is rolled back and its mails are to be recorded again, carefully.
    async fn write_waiting(&self, batch: &mut Batch, uidvalidity: u32) -> Result<Step, MailboxError> {
        let (Some(tx), Some(deferred)) = (batch.tx.as_mut(), batch.deferred.as_mut()) else {
            return Ok(Step::Next);
        };
        if !deferred.is_waiting() {
            return Ok(Step::Next);
        }
        let written = async {
            self.intake.write_deferred(tx, deferred).await?;
            self.note_quarantined(tx, deferred.take_written(), uidvalidity).await
        }
        .await;
        match written {
            Ok(written) => {
                batch.recorded.extend(written);
                Ok(Step::Next)
            }
            Err(e) => {
                // Once in a while (a mail the database refuses, or one recorded meanwhile); every
                // batch would be a fault of the statements that write many rows at once.
                tracing::warn!("the new complaints of a batch could not be written together; the batch is recorded again a mail at a time");
                tracing::debug!("writing together failed: {e}");
                self.start_over(batch, None).await
            }
        }
    }

    /// Records the reason of each mail written from `Deferred` that proved to wait in
    /// quarantine already (seen before: a crash before it was moved).
    async fn note_quarantined(&self, db: &mut Conn, written: Vec<(u32, Done)>, uidvalidity: u32) -> Result<Vec<(u32, Done)>, MailboxError> {
        for (uid, done) in &written {
            if let Outcome::Quarantine { reason } = &done.outcome {
                self.store.record_quarantine_on(db, &self.config.inbox, uidvalidity, *uid, None, reason).await?;
            }
        }
        Ok(written)
    }

    /// A mail failed (or proved a duplicate only as it was written) in a transaction without
    /// savepoints, or the complaints that waited could not be written: that is rolled back, and
    /// its mails (the current one last, if any) wait in `batch.written` to be recorded again,
    /// carefully.
    async fn start_over(&self, batch: &mut Batch, current: Option<(u32, Input)>) -> Result<Step, MailboxError> {
        if let Some(tx) = batch.tx.take() {
            tx.rollback().await?;
        }
        batch.recorded.clear();
        if let Some(deferred) = batch.deferred.as_mut() {
            deferred.clear();
        }
        batch.careful = true;
        batch.written.extend(current);
        Ok(Step::Again)
    }

    /// Where a handled mail goes, counted in the report.
    fn destination(&self, uid: u32, outcome: &Outcome, report: &mut SyncReport) -> Destination {
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
                tracing::warn!(uid, reason = %redact_addresses(reason), "mail quarantined");
                Destination::Quarantine
            }
        }
    }

    /// Sizes and internal dates of a batch, in one FETCH.
    async fn fetch_metas(&self, session: &mut ImapSession, batch: &[u32]) -> Result<HashMap<u32, Meta>, MailboxError> {
        let fetched: Vec<_> = timed(self.config.timeout(), "UID FETCH", async {
            session.uid_fetch(uid_set(batch), "(UID RFC822.SIZE INTERNALDATE)").await?.try_collect::<Vec<_>>().await
        })
        .await?;
        Ok(fetched
            .iter()
            .filter_map(|f| {
                // A server that omits INTERNALDATE gets "now": the date of receipt cannot be earlier.
                let arrived = f.internal_date().map(|d| d.with_timezone(&Utc)).unwrap_or_else(Utc::now);
                Some((f.uid?, (f.size.unwrap_or(0), arrived)))
            })
            .filter(|(uid, _)| batch.contains(uid))
            .collect())
    }

    /// The bodies of the batch's small mails, in FETCHes of at most `BATCH_BYTES`. Large mails
    /// are fetched in pieces when their turn comes (see `fetch_in_chunks`).
    async fn fetch_bodies(&self, session: &mut ImapSession, batch: &[u32], metas: &HashMap<u32, Meta>) -> Result<HashMap<u32, Vec<u8>>, MailboxError> {
        let small: Vec<(u32, u32)> =
            batch.iter().filter_map(|uid| metas.get(uid).map(|(size, _)| (*uid, *size))).filter(|(_, size)| *size <= FETCH_CHUNK).collect();
        let mut bodies = HashMap::with_capacity(small.len());
        let mut group = Vec::new();
        let mut bytes = 0u64;
        for (i, &(uid, size)) in small.iter().enumerate() {
            group.push(uid);
            bytes += u64::from(size);
            if bytes >= BATCH_BYTES || i + 1 == small.len() {
                let budget = self.config.timeout() + Duration::from_secs(bytes >> 20);
                let fetched: Vec<_> =
                    timed(budget, "UID FETCH", async { session.uid_fetch(uid_set(&group), "(UID BODY.PEEK[])").await?.try_collect::<Vec<_>>().await }).await?;
                for f in &fetched {
                    if let (Some(uid), Some(body)) = (f.uid, f.body()) {
                        if group.contains(&uid) {
                            bodies.insert(uid, body.to_vec());
                        }
                    }
                }
                group.clear();
                bytes = 0;
            }
        }
        Ok(bodies)
    }

    /// A UID FETCH that returned nothing: fine if the mail is really gone (someone else
    /// expunged it), otherwise a failure of this mail, so its UID is not passed over.
    async fn not_fetched(&self, session: &mut ImapSession, uid: u32) -> Result<(), MailboxError> {
        let still_there = self.timed("UID SEARCH", session.uid_search(format!("UID {uid}"))).await?;
        if still_there.contains(&uid) {
            return Err(MailboxError::NotFetched(uid));
        }
        tracing::warn!(uid, "mail disappeared from the mailbox before it could be read; skipped");
        Ok(())
    }

    /// Puts away mails committed before, one `UID MOVE` (or COPY and STORE) per destination.
    /// Returns the last of their UIDs (`None`: there were none).
    async fn put_away_all(&self, session: &mut ImapSession, committed: &Committed, can_move: bool) -> Result<Option<u32>, MailboxError> {
        for destination in [Destination::Processed, Destination::Ignored, Destination::Quarantine] {
            let set: Vec<u32> = committed.iter().filter(|(_, d)| *d == Some(destination)).map(|(uid, _)| *uid).collect();
            if !set.is_empty() {
                self.put_away(session, &set, destination, can_move).await?;
            }
        }
        Ok(committed.last().map(|(uid, _)| *uid))
    }

    /// Marks handled mails as such. `mark = "move"`: UID MOVE to the folder for their
    /// destination. `mark = "flag"`: processed mail only gets the processed keyword; ignored
    /// and quarantined mail is moved when the server can, and otherwise copied to its folder
    /// and given the keyword. Nothing is ever expunged or deleted.
    async fn put_away(&self, session: &mut ImapSession, uids: &[u32], destination: Destination, can_move: bool) -> Result<(), MailboxError> {
        let folders = self.folders.read().unwrap_or_else(|e| e.into_inner()).clone();
        let folder = match destination {
            Destination::Processed => &folders.processed,
            Destination::Ignored => &folders.ignored,
            Destination::Quarantine => &folders.quarantine,
        };
        let set = uid_set(uids);
        let flag_in_place = self.config.mark == MarkMode::Flag && (destination == Destination::Processed || !can_move);
        if !flag_in_place {
            return self.timed("UID MOVE", session.uid_mv(&set, folder)).await.map_err(|e| in_folder(e, "UID MOVE", folder));
        }
        if destination != Destination::Processed {
            self.timed("UID COPY", session.uid_copy(&set, folder)).await.map_err(|e| in_folder(e, "UID COPY", folder))?;
        }
        let flags = format!("+FLAGS ({PROCESSED_KEYWORD} \\Seen)");
        self.timed("UID STORE", async { session.uid_store(&set, &flags).await?.try_collect::<Vec<_>>().await }).await?;
        Ok(())
    }

    /// A large mail, fetched `FETCH_CHUNK` bytes at a time into one buffer of its size. One
    /// FETCH of the whole would cost several times the mail in memory: the library's read
    /// buffer grows by doubling, and the body is copied out of it.
    async fn fetch_in_chunks(&self, session: &mut ImapSession, uid: u32, size: u32) -> Result<Option<Vec<u8>>, MailboxError> {
        let mut raw = Vec::with_capacity(size as usize);
        loop {
            let items = format!("(UID BODY.PEEK[]<{}.{FETCH_CHUNK}>)", raw.len());
            let Some((_, _, chunk)) = self.fetch(session, uid, &items, self.config.timeout()).await? else {
                return Ok(None);
            };
            let chunk = chunk.unwrap_or_default();
            raw.extend_from_slice(&chunk);
            // RFC822.SIZE may be off (a server that counts differently): the end is the first
            // short chunk, never a size we were told.
            if chunk.len() < FETCH_CHUNK as usize {
                return Ok(Some(raw));
            }
        }
    }

    /// One UID FETCH of one mail, fully drained. Returns size, internal date and (if asked)
    /// the body.
    async fn fetch(
        &self,
        session: &mut ImapSession,
        uid: u32,
        items: &str,
        budget: Duration,
    ) -> Result<Option<(u32, DateTime<Utc>, Option<Vec<u8>>)>, MailboxError> {
        let fetches: Vec<_> = timed(budget, "UID FETCH", async { session.uid_fetch(uid.to_string(), items).await?.try_collect::<Vec<_>>().await }).await?;
        let Some(f) = fetches.into_iter().find(|f| f.uid == Some(uid)) else {
            return Ok(None);
        };
        let arrived = f.internal_date().map(|d| d.with_timezone(&Utc)).unwrap_or_else(Utc::now);
        Ok(Some((f.size.unwrap_or(0), arrived, f.body().map(<[u8]>::to_vec))))
    }
}

/// After `start_over`: the mails of the rolled-back transaction are recorded again first, and
/// the last UID it saved is saved by the next one.
fn requeue(batch: &mut Batch, again: &mut VecDeque<(u32, Input)>, last_put_away: &mut Option<u32>) {
    *last_put_away = batch.saves.take().or(*last_put_away);
    for mail in batch.written.drain(..).rev() {
        again.push_front(mail);
    }
}

/// The first mails of `uids` whose bodies fit one batch's bytes (at least one mail): the
/// bodies of a batch are in memory together. A large mail counts nothing: it is fetched on its
/// own, in pieces.
fn within_budget<'a>(uids: &'a [u32], metas: &HashMap<u32, Meta>) -> &'a [u32] {
    let mut bytes = 0u64;
    for (i, uid) in uids.iter().enumerate() {
        let size = metas.get(uid).map_or(0, |(size, _)| *size);
        if size <= FETCH_CHUNK {
            bytes += u64::from(size);
        }
        if bytes > BATCH_BYTES && i > 0 {
            return &uids[..i];
        }
    }
    uids
}

/// A UID set for a command: `3,4,5,9` as `3:5,9`.
pub fn uid_set(uids: &[u32]) -> String {
    let mut sorted = uids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out = String::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_ends_where_its_bodies_exceed_the_budget() {
        let at = Utc::now();
        let mb = 1 << 20;
        let metas: HashMap<u32, Meta> = [(1, (mb, at)), (2, (mb, at)), (3, (30 * mb, at)), (4, (mb, at))].into_iter().collect();
        assert_eq!(within_budget(&[1, 2, 3, 4], &metas), &[1, 2, 3, 4], "a large mail is fetched on its own and counts nothing");
        let many: Vec<u32> = (1..=20).collect();
        let metas: HashMap<u32, Meta> = many.iter().map(|uid| (*uid, (mb, at))).collect();
        assert_eq!(within_budget(&many, &metas), &many[..8], "8 MiB of bodies");
        let metas: HashMap<u32, Meta> = [(1, (FETCH_CHUNK, at))].into_iter().collect();
        assert_eq!(within_budget(&[1], &metas), &[1], "at least one mail");
        assert_eq!(within_budget(&[5, 6], &HashMap::new()), &[5, 6], "mails without a size (gone) count nothing");
    }

    #[test]
    fn uid_sets_are_compact_ranges() {
        assert_eq!(uid_set(&[9, 3, 4, 5]), "3:5,9");
        assert_eq!(uid_set(&[7]), "7");
        assert_eq!(uid_set(&[1, 3, 5]), "1,3,5");
        assert_eq!(uid_set(&[2, 2, 3]), "2:3");
    }
}
