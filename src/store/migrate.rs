//! The schema: one migration file per backend in `migrations/`, applied in order at start-up,
//! each in its own transaction and recorded in `schema_migrations`.

use super::{now, Backend, Result, Store};

struct Migration {
    version: i64,
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

/// `migration!(7, "0007", "indexes")`: version 7, from `migrations/{sqlite,postgres}/0007_indexes.sql`.
macro_rules! migration {
    ($version:literal, $number:literal, $name:literal) => {
        Migration {
            version: $version,
            name: $name,
            sqlite: include_str!(concat!("../../migrations/sqlite/", $number, "_", $name, ".sql")),
            postgres: include_str!(concat!("../../migrations/postgres/", $number, "_", $name, ".sql")),
        }
    };
}

const MIGRATIONS: &[Migration] = &[
    migration!(1, "0001", "init"),
    migration!(2, "0002", "handlers_reminders"),
    migration!(3, "0003", "actions_register"),
    migration!(4, "0004", "mailbox_lease"),
    migration!(5, "0005", "mail_classes"),
    migration!(6, "0006", "raw_file"),
    migration!(7, "0007", "indexes"),
    migration!(8, "0008", "web"),
    migration!(9, "0009", "scale"),
    migration!(10, "0010", "set_aside"),
    migration!(11, "0011", "awb"),
    migration!(12, "0012", "outbox_parts"),
    migration!(13, "0013", "find"),
    migration!(14, "0014", "graph_delta"),
    migration!(15, "0015", "procedure"),
    migration!(16, "0016", "web_reads"),
    migration!(17, "0017", "organisations"),
    migration!(19, "0019", "instances"),
    migration!(21, "0021", "organisation_reads"),
    migration!(22, "0022", "search_once"),
    migration!(24, "0024", "organisation_mail"),
    migration!(25, "0025", "list_order"),
];

impl Store {
    /// Applies missing migrations, each in its own transaction together with its row in
    /// `schema_migrations`. Concurrent instances on PostgreSQL serialise on an advisory lock;
    /// on SQLite the check runs inside the immediate (write-locked) transaction.
    pub async fn migrate(&self) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        // The usual case, every command after the first start: all applied, known from one
        // read, without the lock and a transaction per migration. (No table yet: an error here,
        // and the full path below.)
        if let Ok(applied) = sqlx::query_scalar::<_, i64>("SELECT version FROM schema_migrations").fetch_all(&mut *conn).await {
            if MIGRATIONS.iter().all(|m| applied.contains(&m.version)) {
                return Ok(());
            }
        }
        if self.backend == Backend::Postgres {
            // Keep "relation already exists, skipping" notices out of the logs.
            sqlx::raw_sql("SET client_min_messages TO warning").execute(&mut *conn).await?;
            sqlx::query("SELECT pg_advisory_lock(4242017)").execute(&mut *conn).await?;
        }
        let outcome = async {
            sqlx::raw_sql("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)")
                .execute(&mut *conn)
                .await?;
            let begin = if self.backend == Backend::Sqlite { "BEGIN IMMEDIATE" } else { "BEGIN" };
            for m in MIGRATIONS {
                sqlx::raw_sql(begin).execute(&mut *conn).await?;
                let applied = async {
                    let done: Option<i64> =
                        sqlx::query_scalar("SELECT version FROM schema_migrations WHERE version = $1").bind(m.version).fetch_optional(&mut *conn).await?;
                    if done.is_some() {
                        return Ok(false);
                    }
                    let sql = match self.backend {
                        Backend::Sqlite => m.sqlite,
                        Backend::Postgres => m.postgres,
                    };
                    sqlx::raw_sql(sql).execute(&mut *conn).await?;
                    sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
                        .bind(m.version)
                        .bind(m.name)
                        .bind(now())
                        .execute(&mut *conn)
                        .await?;
                    Ok::<_, sqlx::Error>(true)
                }
                .await;
                match applied {
                    Ok(fresh) => {
                        sqlx::raw_sql("COMMIT").execute(&mut *conn).await?;
                        if fresh {
                            tracing::info!(version = m.version, name = m.name, "database migration applied");
                        }
                    }
                    Err(e) => {
                        let _ = sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await;
                        return Err(e);
                    }
                }
            }
            Ok::<_, sqlx::Error>(())
        }
        .await;
        if self.backend == Backend::Postgres {
            let _ = sqlx::query("SELECT pg_advisory_unlock(4242017)").execute(&mut *conn).await;
        }
        Ok(outcome?)
    }
}
