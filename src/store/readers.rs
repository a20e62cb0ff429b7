//! The reads of the web workspace and the views beside the one writer. SQLite lets one
//! connection write at a time; with one connection for everything, every page queued behind the
//! intake's batches, the outbox and each other (issue 24). In WAL mode readers do not wait for
//! the writer, so the reads that need no transaction go to a small pool of read-only
//! connections; every write, and every read inside a write, stays on the writer.

use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;

use super::{Backend, Result, Store};

/// A PostgreSQL connection idle this long is checked before it is used again.
const IDLE_CHECK: Duration = Duration::from_secs(10);

impl Store {
    /// Where a read that needs no transaction runs: on SQLite a pool of read-only connections
    /// beside the one writer (WAL lets them read while it writes; each read sees what was
    /// committed before it started), so pages do not queue behind the intake and each other.
    /// On PostgreSQL a pool of its own as well, so that the intake, the outbox and the leases
    /// never queue for a connection behind fifty open pages (with one pool, the intake took in
    /// 10 complaints a second under `bench web` at 20,000 cases, and none in 40 s at 1,000,000).
    /// For an in-memory SQLite database, the one pool.
    pub(super) fn reads(&self) -> &AnyPool {
        &self.readers
    }

    /// A read connection to hold for the reads of one page (see [`Reader`]).
    pub async fn reader(&self) -> Result<Reader> {
        Ok(Reader(self.reads().acquire().await?))
    }
}

/// One read connection held for the statements of one page. Under load a page waits for a
/// connection of the pool each time it asks for one, and those waits were most of a page's
/// time: under `bench web` the case page asked three times (its session, whether the handler
/// may read the case, the case) and waited some 20 ms each (issue 24). Held, it waits once.
pub struct Reader(sqlx::pool::PoolConnection<sqlx::Any>);

impl std::ops::Deref for Reader {
    type Target = sqlx::AnyConnection;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for Reader {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

/// `max_connections` read-only connections (at least two) to the SQLite database at `url`,
/// already migrated and in WAL mode by the writer.
pub(super) async fn open_sqlite(url: &str, max_connections: u32) -> Result<AnyPool> {
    let base = url.split('?').next().unwrap_or(url);
    // No ping before each use (sqlx's default): a connection to a local file does not go away,
    // and the ping was a second hand-over to the connection's thread for every statement.
    let options = AnyPoolOptions::new().max_connections(max_connections.max(2)).acquire_timeout(Duration::from_secs(10)).test_before_acquire(false);
    let options = options.after_connect(|conn, _| {
        Box::pin(async move {
            // No memory map of the file (`mmap_size`): a reader whose transaction finds a commit
            // of the writer since its last one unmaps the whole map and faults its pages in
            // again, and the writer commits many times a second under load (openings, R9).
            // Under `bench web` that cost more than reading pages into the cache (issue 24).
            sqlx::raw_sql("PRAGMA busy_timeout = 10000; PRAGMA query_only = ON;").execute(conn).await?;
            Ok(())
        })
    });
    Ok(options.connect(&format!("{base}?mode=ro")).await?)
}

/// The reads' own `max_connections` connections to the PostgreSQL database at `url`, opened
/// when a read first needs one (the command line seldom does).
pub(super) fn open_postgres(url: &str, max_connections: u32) -> Result<AnyPool> {
    Ok(writer_options(Backend::Postgres, max_connections).connect_lazy(url)?)
}

/// The options of the pool that writes (and the reads' pool on PostgreSQL).
pub(super) fn writer_options(backend: Backend, max_connections: u32) -> AnyPoolOptions {
    // SQLite has one writer at a time; connections of one process that compete for it wait
    // in SQLite's busy handler, which sleeps in steps of milliseconds. One connection per
    // process queues them in the pool instead, which is much faster.
    let connections = if backend == Backend::Sqlite { 1 } else { max_connections.max(1) };
    let options = AnyPoolOptions::new().max_connections(connections).acquire_timeout(Duration::from_secs(10)).test_before_acquire(false);
    match backend {
        // sqlx pings a connection before every use: a round trip to the server for every
        // statement. Only one left idle for a while (which the server or a proxy may have
        // closed) is checked now; a broken one is closed and another taken, as before.
        Backend::Postgres => options.before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= IDLE_CHECK {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        }),
        // A local file's connection does not go away (see `open_sqlite`). WAL lets readers
        // work beside the one writer; the busy timeout makes writers queue instead of failing;
        // foreign keys are off by default in SQLite. Each commit is on disk before it returns
        // (`FULL`: the WAL is synced): the intake moves a mail out of the mailbox right after
        // its commit, and under `NORMAL` a commit since the last checkpoint is lost with a power
        // cut or a crash of the machine, and the complaint with it. A sync took 0.2-0.3 ms on
        // this machine; the intake commits once a batch, the workspace a group of openings.
        Backend::Sqlite => options.after_connect(|conn, _| {
            Box::pin(async move {
                sqlx::raw_sql("PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;")
                    .execute(conn)
                    .await?;
                Ok(())
            })
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::super::Store;

    /// The intake moves a mail out of the mailbox once its transaction commits: on SQLite that
    /// commit must have reached the disk, not only the WAL in the page cache.
    #[tokio::test]
    async fn sqlite_commits_reach_the_disk_before_they_return() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&format!("sqlite://{}/klachtd.db", dir.path().display()), 1).await.unwrap();
        let mut tx = store.transaction().await.unwrap();
        let level: i64 = sqlx::query_scalar("PRAGMA synchronous").fetch_one(&mut *tx).await.unwrap();
        assert_eq!(level, 2, "synchronous = FULL");
    }

    /// The bundled SQLite is built as `.cargo/config.toml` says: without the process-wide lock
    /// around every allocation and without one page cache shared by all connections, which
    /// the read connections' threads queued for (issue 24). A build without that file (another
    /// working directory, `LIBSQLITE3_FLAGS` of its own) fails here.
    #[tokio::test]
    async fn sqlite_is_built_without_process_wide_locks() {
        let store = Store::open("sqlite::memory:", 1).await.unwrap();
        let used = |option: &'static str| sqlx::query_scalar::<_, i64>("SELECT sqlite_compileoption_used($1)").bind(option).fetch_one(store.reads());
        assert_eq!(used("DEFAULT_MEMSTATUS=0").await.unwrap(), 1, "memory statistics off");
        assert_eq!(used("ENABLE_MEMORY_MANAGEMENT").await.unwrap(), 0, "a page cache per connection");
    }
}
