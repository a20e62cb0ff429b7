//! A case's search vector filled in after its batch (PostgreSQL; migration 0026): the intake's
//! batch asks for it, the daemon's indexer fills it (see `app::search_index`).

use super::{Backend, Conn, Result, Store};

impl Store {
    /// The cases this transaction inserts from now on get their search vector later, from
    /// [`fill_search`](Self::fill_search): the intake's batch does not wait for the stemming of
    /// their texts. Until then the search reads them through the same expression. SQLite: nothing.
    pub async fn search_later_on(&self, tx: &mut Conn) -> Result<()> {
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT set_config('klachtd.search_later', 'on', true)").execute(&mut *tx).await?;
        }
        Ok(())
    }

    /// Whether a case's search vector may wait to be filled in (PostgreSQL).
    pub fn fills_search_later(&self) -> bool {
        self.backend == Backend::Postgres
    }

    /// Fills in the search vector of at most `limit` cases whose vector waits (oldest first):
    /// how many. SQLite: none ever waits.
    pub async fn fill_search(&self, limit: i64) -> Result<u64> {
        if self.backend != Backend::Postgres {
            return Ok(0);
        }
        let filled = sqlx::query(
            "UPDATE cases SET search = case_search_vector(cases) WHERE id IN (SELECT id FROM cases WHERE search IS NULL ORDER BY id LIMIT $1) AND search IS NULL",
        )
        .bind(limit)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(filled)
    }
}
