//! The reads of the web workspace and the views beside the one writer. SQLite lets one
//! connection write at a time; with one connection for everything, every page queued behind the
//! intake's batches, the outbox and each other (issue 24). In WAL mode readers do not wait for
//! the writer, so the reads that need no transaction go to a small pool of read-only
//! connections; every write, and every read inside a write, stays on the writer.

use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;

use super::{Result, Store};

impl Store {
    /// Where a read that needs no transaction runs: on SQLite a pool of read-only connections
    /// beside the one writer (WAL lets them read while it writes; each read sees what was
    /// committed before it started), so pages do not queue behind the intake and each other.
    /// On PostgreSQL, and for an in-memory SQLite database, the one pool.
    pub(super) fn reads(&self) -> &AnyPool {
        &self.readers
    }
}

/// `max_connections` read-only connections (at least two) to the SQLite database at `url`,
/// already migrated and in WAL mode by the writer.
pub(super) async fn open_sqlite(url: &str, max_connections: u32) -> Result<AnyPool> {
    let base = url.split('?').next().unwrap_or(url);
    let options = AnyPoolOptions::new().max_connections(max_connections.max(2)).acquire_timeout(Duration::from_secs(10)).after_connect(|conn, _| {
        Box::pin(async move {
            // Pages of the file are read through a memory map, not copied in by a read() each
            // (a reader's cache starts again whenever the writer commits, which the intake
            // does all the time).
            sqlx::raw_sql("PRAGMA busy_timeout = 10000; PRAGMA query_only = ON; PRAGMA mmap_size = 1073741824;").execute(conn).await?;
            Ok(())
        })
    });
    Ok(options.connect(&format!("{base}?mode=ro")).await?)
}
