//! The record of every opening of a case page, every download and every refusal (R9), written
//! before the page is shown, in batches: the accesses that come while the last batch is
//! written go together in the next transaction (a group commit). One handler alone waits for
//! one short transaction, as before; fifty at once wait for a few, not fifty, each on
//! SQLite's one writer behind the intake's batches.

use std::sync::OnceLock;

use tokio::sync::{mpsc, oneshot};

use crate::store::web::Access;
use crate::store::{Store, StoreError};

/// At most this many accesses in one transaction.
const BATCH: usize = 256;

type Waiting = (Access, oneshot::Sender<Result<(), StoreError>>);

/// Hands accesses to the task that writes them (started at the first access).
#[derive(Default)]
pub struct Accesses {
    queue: OnceLock<mpsc::UnboundedSender<Waiting>>,
}

impl Accesses {
    /// Records `access`; returns once it is committed (or could not be).
    pub async fn record(&self, store: &Store, access: Access) -> Result<(), StoreError> {
        let queue = self.queue.get_or_init(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(write(store.clone(), rx));
            tx
        });
        let (done, result) = oneshot::channel();
        if let Err(mpsc::error::SendError((access, _))) = queue.send((access, done)) {
            // The writer is gone (shutting down): record it here.
            return store.record_accesses(std::slice::from_ref(&access)).await;
        }
        match result.await {
            Ok(r) => r,
            Err(_) => Err(StoreError::Corrupt("the record of accesses stopped".into())),
        }
    }
}

/// Writes what is queued, a batch at a time, until every sender is gone.
async fn write(store: Store, mut rx: mpsc::UnboundedReceiver<Waiting>) {
    let mut batch: Vec<Waiting> = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        let accesses: Vec<Access> = batch.iter().map(|(a, _)| a.clone()).collect();
        match store.record_accesses(&accesses).await {
            Ok(()) => {
                for (_, done) in batch.drain(..) {
                    let _ = done.send(Ok(()));
                }
            }
            // One of them may be what failed: each on its own, with its own answer.
            Err(_) => {
                for (access, done) in batch.drain(..) {
                    let _ = done.send(store.record_accesses(std::slice::from_ref(&access)).await);
                }
            }
        }
    }
}
