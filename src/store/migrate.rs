//! The schema: one migration file per backend in `migrations/`, applied in order at start-up,
//! each in its own transaction and recorded in `schema_migrations`.

use super::{now, Backend, Result, Store};

struct Migration {
    version: i64,
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sqlite: include_str!("../../migrations/sqlite/0001_init.sql"),
        postgres: include_str!("../../migrations/postgres/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "handlers_reminders",
        sqlite: include_str!("../../migrations/sqlite/0002_handlers_reminders.sql"),
        postgres: include_str!("../../migrations/postgres/0002_handlers_reminders.sql"),
    },
    Migration {
        version: 3,
        name: "actions_register",
        sqlite: include_str!("../../migrations/sqlite/0003_actions_register.sql"),
        postgres: include_str!("../../migrations/postgres/0003_actions_register.sql"),
    },
    Migration {
        version: 4,
        name: "mailbox_lease",
        sqlite: include_str!("../../migrations/sqlite/0004_mailbox_lease.sql"),
        postgres: include_str!("../../migrations/postgres/0004_mailbox_lease.sql"),
    },
    Migration {
        version: 5,
        name: "mail_classes",
        sqlite: include_str!("../../migrations/sqlite/0005_mail_classes.sql"),
        postgres: include_str!("../../migrations/postgres/0005_mail_classes.sql"),
    },
    Migration {
        version: 6,
        name: "raw_file",
        sqlite: include_str!("../../migrations/sqlite/0006_raw_file.sql"),
        postgres: include_str!("../../migrations/postgres/0006_raw_file.sql"),
    },
    Migration {
        version: 7,
        name: "indexes",
        sqlite: include_str!("../../migrations/sqlite/0007_indexes.sql"),
        postgres: include_str!("../../migrations/postgres/0007_indexes.sql"),
    },
    Migration {
        version: 8,
        name: "web",
        sqlite: include_str!("../../migrations/sqlite/0008_web.sql"),
        postgres: include_str!("../../migrations/postgres/0008_web.sql"),
    },
    Migration {
        version: 9,
        name: "scale",
        sqlite: include_str!("../../migrations/sqlite/0009_scale.sql"),
        postgres: include_str!("../../migrations/postgres/0009_scale.sql"),
    },
];

impl Store {
    /// Applies missing migrations, each in its own transaction together with its row in
    /// `schema_migrations`. Concurrent instances on PostgreSQL serialise on an advisory lock;
    /// on SQLite the check runs inside the immediate (write-locked) transaction.
    pub async fn migrate(&self) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
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
