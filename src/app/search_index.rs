//! The search vectors of the cases the intake's batches register, filled in right after each
//! batch commits, beside the next batch (PostgreSQL: migration 0026, `Store::fill_search`); the
//! batch does not wait for the stemming of their texts. Meanwhile the search reads such a case
//! through the same expression, so it is found from its commit on. Also at start and once a
//! minute, for vectors left waiting by a stop between a commit and the filling.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};

use crate::store::Store;

/// At most this many cases a statement.
const AT_ONCE: i64 = 500;
/// Waiting vectors are looked for at least this often.
const EVERY: Duration = Duration::from_secs(60);

pub struct SearchIndex {
    store: Store,
    /// Rung by the intake when a batch has registered cases.
    wake: Arc<Notify>,
}

impl SearchIndex {
    pub fn new(store: Store, wake: Arc<Notify>) -> Self {
        Self { store, wake }
    }

    /// Fills in waiting vectors until `shutdown` turns true. Returns at once where none wait
    /// ever (SQLite).
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        if !self.store.fills_search_later() {
            return;
        }
        while !*shutdown.borrow() {
            self.fill().await;
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(EVERY) => {}
                changed = shutdown.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
            }
        }
    }

    /// Fills in every vector that waits, a statement at a time.
    pub async fn fill(&self) {
        loop {
            match self.store.fill_search(AT_ONCE).await {
                Ok(filled) if filled < AT_ONCE as u64 => return,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!("cannot fill in the search index of new cases (they are found all the same); tried again within a minute: {e}");
                    return;
                }
            }
        }
    }
}
