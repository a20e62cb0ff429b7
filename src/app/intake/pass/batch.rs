//! Recording a batch: one transaction, savepoints only after a failure, the new complaints
//! written together (`Deferred`), the quarantine records, and the commit that comes before
//! anything is put away.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use super::{Committed, MailSource, MailboxIntake, Pass, PassError};
use crate::app::health::Loop;
use crate::app::intake::{Deferred, Done, IntakeError, Outcome, Processed};
use crate::store::{Conn, Tx};

/// A batch on its way: mails recorded in the open transaction, and mails committed (or gone
/// from the mailbox) that wait to be put away. Mails are named by their place in the listing.
#[derive(Default)]
pub(super) struct Batch {
    pub(super) tx: Option<Tx<'static>>,
    /// Whether each mail of `tx` is written in a savepoint of its own, so that a mail that fails
    /// is rolled back alone. A transaction starts without them (two statements a mail fewer);
    /// when a mail fails in it, or proves a duplicate only as it is written, the transaction is
    /// rolled back and its mails are recorded again, carefully, until the next commit.
    pub(super) careful: bool,
    /// The mails recorded in `tx` without savepoints, or waiting in `deferred`, kept to be
    /// recorded again (see `careful`).
    pub(super) written: Vec<(u32, Input)>,
    /// The last mail put away whose position `tx` saves (saved again if `tx` is rolled back).
    pub(super) saves: Option<u32>,
    /// New complaints written together at the end (see `Deferred`): in a batch without
    /// savepoints whose mails are all in hand.
    pub(super) deferred: Option<Deferred>,
    /// Mails recorded in `tx`; where each goes is decided, counted and logged once it commits.
    pub(super) recorded: Vec<(u32, Done)>,
    pub(super) committed: Committed,
    /// When `tx` was opened (it holds SQLite's one writer from then on).
    pub(super) opened: Option<Instant>,
    /// How long the batch's transactions held the database, and how many there were: for the
    /// "batch done" line.
    pub(super) held: Duration,
    pub(super) transactions: u32,
}

impl Batch {
    /// `tx` is over (committed or rolled back): how long it was held is counted.
    fn closed(&mut self) {
        if let Some(at) = self.opened.take() {
            self.held += at.elapsed();
        }
    }
}

/// A mail of the batch as it came from the source.
pub(super) enum Input {
    Mail(Vec<u8>, chrono::DateTime<chrono::Utc>),
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
pub(super) enum Feed<'s, S: MailSource> {
    /// The batch's fetch, and the source for what it did not bring (a large mail, fetched on
    /// its own; a mail it did not return, looked for).
    Source { source: &'s mut S, bodies: HashMap<S::Key, Vec<u8>> },
    /// Every mail in hand: the source is free meanwhile.
    InHand(HashMap<u32, Input>),
}

type Result<T, S> = std::result::Result<T, PassError<<S as MailSource>::Error>>;

impl MailboxIntake {
    /// Records the mails of `range` in `batch`: false when the mailbox lease was lost (stop).
    pub(super) async fn record_all<S: MailSource>(
        &self,
        mut feed: Feed<'_, S>,
        range: std::ops::Range<u32>,
        batch: &mut Batch,
        pass: &mut Pass<'_, S>,
    ) -> Result<bool, S> {
        // Mails in hand to record (again) before the next of `range`.
        let mut again: VecDeque<(u32, Input)> = VecDeque::new();
        let mut next = range;
        loop {
            // A stop request is obeyed between mails.
            let item = match *pass.shutdown.borrow() {
                true => None,
                false => again.pop_front().map(|(n, input)| (n, Some(input))).or_else(|| next.next().map(|n| (n, None))),
            };
            let Some((n, in_hand)) = item else {
                // The complaints that wait are written before the batch commits.
                match self.write_waiting(batch, pass).await? {
                    Step::Again => {
                        requeue(batch, &mut again, &mut pass.last_put_away);
                        continue;
                    }
                    Step::Next | Step::Stop => break,
                }
            };
            self.health.beat(Loop::Mailbox);
            let result = self.take_one(&mut feed, batch, pass, n, in_hand).await;
            match result {
                // A mail's failures are forgotten once it is committed (see `commit`): a
                // complaint that waits has not been written yet.
                Ok(Step::Next) => {}
                Ok(Step::Stop) => return Ok(false),
                Ok(Step::Again) => requeue(batch, &mut again, &mut pass.last_put_away),
                Err(e) => {
                    let Some(reason) = self.failures.failed(pass.origins[n as usize].clone(), &e) else {
                        return Err(e);
                    };
                    let mail = &pass.listed[n as usize].key;
                    tracing::warn!(?mail, attempts = super::MAX_ATTEMPTS, "mail keeps failing; it goes to quarantine so the rest can go on");
                    again.push_front((n, Input::Quarantine(reason)));
                }
            }
        }
        Ok(true)
    }

    /// Takes the mail `n` from the feed (unless in hand already) and records it.
    async fn take_one<S: MailSource>(
        &self,
        feed: &mut Feed<'_, S>,
        batch: &mut Batch,
        pass: &mut Pass<'_, S>,
        n: u32,
        in_hand: Option<Input>,
    ) -> Result<Step, S> {
        let input = match (in_hand, feed) {
            (Some(input), _) => Some(input),
            (None, Feed::Source { source, bodies }) => {
                let body = bodies.remove(&pass.listed[n as usize].key);
                self.input(&mut **source, batch, pass, n, body).await?
            }
            (None, Feed::InHand(inputs)) => {
                pass.report.fetched += 1;
                Some(inputs.remove(&n).ok_or_else(|| PassError::NotFetched(format!("{:?}", pass.listed[n as usize].key)))?)
            }
        };
        let Some(input) = input else {
            self.failures.forget(&pass.origins[n as usize]);
            batch.committed.push((n, None));
            return Ok(Step::Next);
        };
        if !self.open(batch, pass).await? {
            return Ok(Step::Stop);
        }
        self.record(batch, pass, n, input).await
    }

    /// The next mail of the batch: from the batch's fetch, or fetched now (a large mail), after
    /// what is recorded so far has committed. `None` if it is gone.
    async fn input<S: MailSource>(&self, source: &mut S, batch: &mut Batch, pass: &mut Pass<'_, S>, n: u32, body: Option<Vec<u8>>) -> Result<Option<Input>, S> {
        let listed = pass.listed;
        let mail = &listed[n as usize];
        pass.report.fetched += 1;
        if let Some(input) = self.brought_by_batch(mail, body) {
            return Ok(Some(input));
        }
        self.commit(batch, pass).await?;
        match source.fetch_one(mail).await.map_err(PassError::Source)? {
            Some(raw) => Ok(Some(Input::Mail(raw, mail.arrived))),
            None => {
                // Fine if the mail is really gone (someone else took it away), otherwise a
                // failure of this mail, so that it is not passed over.
                if source.still_there(&mail.key).await.map_err(PassError::Source)? {
                    return Err(PassError::NotFetched(format!("{:?}", mail.key)));
                }
                tracing::warn!(mail = ?mail.key, "mail disappeared from the mailbox before it could be read; skipped");
                Ok(None)
            }
        }
    }

    /// Opens the batch's transaction if none is open: the mailbox lease renewed in it (false:
    /// lost, stop) and the position after the last mail put away saved.
    async fn open<S: MailSource>(&self, batch: &mut Batch, pass: &mut Pass<'_, S>) -> Result<bool, S> {
        if batch.tx.is_some() {
            return Ok(true);
        }
        let mut tx = self.store.transaction().await?;
        let ours = self.leases.state(&pass.mailbox) == crate::app::leases::LeaseState::Held;
        if !ours || !self.store.renew_mailbox_on(&mut tx, &pass.mailbox, self.leases.id(), self.lease).await? {
            tx.rollback().await?;
            return Ok(false);
        }
        if let Some(n) = pass.last_put_away {
            S::save_position(&self.store, &mut tx, &pass.positions[n as usize]).await?;
        }
        batch.saves = pass.last_put_away.take();
        batch.tx = Some(tx);
        batch.opened = Some(Instant::now());
        batch.transactions += 1;
        Ok(true)
    }

    /// Commits what the batch has recorded, then does what waited for that (see
    /// `Intake::committed`). The mails are then ready to be put away.
    pub(super) async fn commit<S: MailSource>(&self, batch: &mut Batch, pass: &mut Pass<'_, S>) -> Result<(), S> {
        // Complaints that wait are written before each commit already (see `write_waiting`);
        // should any still wait, they are written now, and a failure rolls back all that the
        // transaction holds (its mails stay in the mailbox, to be taken in again).
        if let Step::Again = self.write_waiting(batch, pass).await? {
            return Err(IntakeError::BatchRolledBack.into());
        }
        let Some(tx) = batch.tx.take() else { return Ok(()) };
        tx.commit().await?;
        batch.closed();
        batch.careful = false;
        batch.written.clear();
        batch.saves = None;
        // In the order of the mailbox: a complaint that waited was recorded after later mail.
        batch.recorded.sort_by_key(|(n, _)| *n);
        let mut dones = Vec::with_capacity(batch.recorded.len());
        for (n, done) in batch.recorded.drain(..) {
            self.failures.forget(&pass.origins[n as usize]);
            let destination = Self::destination(&pass.listed[n as usize].key, &done.outcome, &mut pass.report);
            batch.committed.push((n, Some(destination)));
            dones.push(done);
        }
        self.intake.committed_all(dones).await;
        Ok(())
    }

    /// Records one mail in the batch's transaction (open): registers it, threads it, sets it
    /// aside or quarantines it; in a savepoint of its own when the batch is careful, so that a
    /// failure rolls back this mail alone. A handler's action by mail is carried out on its
    /// own, after a commit of what came before.
    async fn record<S: MailSource>(&self, batch: &mut Batch, pass: &mut Pass<'_, S>, n: u32, input: Input) -> Result<Step, S> {
        let tx = batch.tx.as_mut().expect("opened");
        let processed = if batch.careful {
            let mut savepoint = tx.savepoint().await?;
            let written = self.write(&mut savepoint, None, pass, n, &input).await;
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
            match self.write(tx, batch.deferred.as_mut(), pass, n, &input).await {
                Ok((Processed::Done(done), _)) if done.must_undo() => return Ok(self.start_over(batch, Some((n, input))).await?),
                Err(e) => {
                    tracing::debug!(n, "a mail failed in a batch without savepoints, which is recorded again with them: {e}");
                    return Ok(self.start_over(batch, Some((n, input))).await?);
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
                    batch.written.push((n, input));
                }
                batch.recorded.push((n, done));
            }
            // Only in a batch without savepoints, which keeps it to record again.
            (Processed::Deferred, input) => batch.written.push((n, input)),
            (Processed::Alone, Input::Mail(raw, arrived)) => self.record_alone(batch, pass, n, raw, arrived).await?,
            (Processed::Alone, Input::Quarantine(_)) => unreachable!("`write` makes a mail quarantined unread no action by mail"),
        }
        Ok(Step::Next)
    }

    /// A handler's action by mail: on its own, after a commit of what came before.
    async fn record_alone<S: MailSource>(
        &self,
        batch: &mut Batch,
        pass: &mut Pass<'_, S>,
        n: u32,
        raw: Vec<u8>,
        arrived: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), S> {
        self.commit(batch, pass).await?;
        let span = tracing::info_span!("mail", n, size = raw.len());
        let outcome = tracing::Instrument::instrument(self.intake.process_alone(&raw, arrived), span).await?;
        let origin = &pass.origins[n as usize];
        self.failures.forget(origin);
        if let Outcome::Quarantine { reason } = &outcome {
            self.store.record_quarantine(&origin.folder, origin.validity, origin.uid, None, reason).await?;
        }
        batch.committed.push((n, Some(Self::destination(&pass.listed[n as usize].key, &outcome, &mut pass.report))));
        Ok(())
    }

    /// Writes one mail on `db` (the batch's transaction or a savepoint of it): what the intake
    /// makes of it, and the reason of a quarantined one. With `deferred`, a new complaint may
    /// wait there instead; what of it was written meanwhile comes back with the mail.
    async fn write<S: MailSource>(
        &self,
        db: &mut Conn,
        mut deferred: Option<&mut Deferred>,
        pass: &Pass<'_, S>,
        n: u32,
        input: &Input,
    ) -> Result<(Processed, Vec<(u32, Done)>), S> {
        let processed = match input {
            Input::Mail(raw, arrived) => {
                let span = tracing::info_span!("mail", n, size = raw.len());
                tracing::Instrument::instrument(self.intake.process_in(db, deferred.as_deref_mut(), n, raw, *arrived), span).await?
            }
            Input::Quarantine(reason) => Processed::Done(Done::from(Outcome::Quarantine { reason: reason.clone() })),
        };
        if let Processed::Done(done) = &processed {
            if let (false, Outcome::Quarantine { reason }) = (done.must_undo(), &done.outcome) {
                let origin = &pass.origins[n as usize];
                self.store.record_quarantine_on(db, &origin.folder, origin.validity, origin.uid, None, reason).await?;
            }
        }
        let written = match deferred {
            Some(deferred) => self.note_quarantined(db, deferred.take_written(), pass).await?,
            None => Vec::new(),
        };
        Ok((processed, written))
    }

    /// Writes the complaints that wait in the batch (see `Deferred`). When that fails, the
    /// transaction is rolled back and its mails are to be recorded again, carefully.
    async fn write_waiting<S: MailSource>(&self, batch: &mut Batch, pass: &Pass<'_, S>) -> Result<Step, S> {
        let (Some(tx), Some(deferred)) = (batch.tx.as_mut(), batch.deferred.as_mut()) else {
            return Ok(Step::Next);
        };
        if !deferred.is_waiting() {
            return Ok(Step::Next);
        }
        let written = async {
            self.intake.write_deferred(tx, deferred).await?;
            self.note_quarantined(tx, deferred.take_written(), pass).await
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
                Ok(self.start_over(batch, None).await?)
            }
        }
    }

    /// Records the reason of each mail written from `Deferred` that proved to wait in
    /// quarantine already (seen before: a crash before it was put away).
    async fn note_quarantined<S: MailSource>(&self, db: &mut Conn, written: Vec<(u32, Done)>, pass: &Pass<'_, S>) -> Result<Vec<(u32, Done)>, S> {
        for (n, done) in &written {
            if let Outcome::Quarantine { reason } = &done.outcome {
                let origin = &pass.origins[*n as usize];
                self.store.record_quarantine_on(db, &origin.folder, origin.validity, origin.uid, None, reason).await?;
            }
        }
        Ok(written)
    }

    /// A mail failed (or proved a duplicate only as it was written) in a transaction without
    /// savepoints, or the complaints that waited could not be written: that is rolled back, and
    /// its mails (the current one last, if any) wait in `batch.written` to be recorded again,
    /// carefully.
    async fn start_over(&self, batch: &mut Batch, current: Option<(u32, Input)>) -> std::result::Result<Step, crate::store::StoreError> {
        if let Some(tx) = batch.tx.take() {
            tx.rollback().await?;
            batch.closed();
        }
        batch.recorded.clear();
        if let Some(deferred) = batch.deferred.as_mut() {
            deferred.clear();
        }
        batch.careful = true;
        batch.written.extend(current);
        Ok(Step::Again)
    }
}

/// After `start_over`: the mails of the rolled-back transaction are recorded again first, and
/// the position it saved is saved by the next one.
fn requeue(batch: &mut Batch, again: &mut VecDeque<(u32, Input)>, last_put_away: &mut Option<u32>) {
    *last_put_away = batch.saves.take().or(*last_put_away);
    for mail in batch.written.drain(..).rev() {
        again.push_front(mail);
    }
}
