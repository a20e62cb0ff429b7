//! Each mailbox's state (UIDVALIDITY and the last UID taken in) and its lease: one instance at
//! a time reads a mailbox; a dead holder's lease runs out. A mailbox is known by its key
//! (`config::MailboxSpec::key`, kept in the `folder` columns): the inbox folder's name for the
//! mailbox of a one-organisation configuration, as before organisations, else the mailbox's
//! name, unique in the deployment, so two servers' "INBOX" are two mailboxes.

use std::time::Duration;

use super::{now, Conn, Result, Store};

impl Store {
    pub async fn mailbox_state(&self, mailbox: &str) -> Result<Option<(u32, u32)>> {
        let row: Option<(i64, i64)> =
            sqlx::query_as("SELECT uidvalidity, last_uid FROM mailbox_state WHERE folder = $1").bind(mailbox).fetch_optional(&self.pool).await?;
        Ok(row.map(|(uidvalidity, last_uid)| (uidvalidity as u32, last_uid as u32)))
    }

    /// Records how far the mailbox has been processed. The last UID never goes backwards for
    /// the same UIDVALIDITY, so two instances cannot undo each other's progress.
    pub async fn save_mailbox_state(&self, folder: &str, uidvalidity: u32, last_uid: u32) -> Result<()> {
        self.save_mailbox_state_on(&mut *self.connection().await?, folder, uidvalidity, last_uid).await
    }

    /// [`save_mailbox_state`](Self::save_mailbox_state) on `conn` (the intake's batch).
    pub async fn save_mailbox_state_on(&self, conn: &mut Conn, folder: &str, uidvalidity: u32, last_uid: u32) -> Result<()> {
        sqlx::query(
            "INSERT INTO mailbox_state (folder, uidvalidity, last_uid, last_sync_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (folder) DO UPDATE SET
               last_uid = CASE WHEN mailbox_state.uidvalidity = excluded.uidvalidity AND mailbox_state.last_uid > excluded.last_uid
                               THEN mailbox_state.last_uid ELSE excluded.last_uid END,
               uidvalidity = excluded.uidvalidity,
               last_sync_at = excluded.last_sync_at",
        )
        .bind(folder)
        .bind(uidvalidity as i64)
        .bind(last_uid as i64)
        .bind(now())
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// When each mailbox was last synced (Unix seconds), by its key: for the metrics.
    pub async fn mailbox_sync_times(&self) -> Result<std::collections::HashMap<String, i64>> {
        let rows: Vec<(String, Option<i64>)> = sqlx::query_as("SELECT folder, last_sync_at FROM mailbox_state").fetch_all(&self.pool).await?;
        Ok(rows.into_iter().filter_map(|(key, at)| Some((key, at?))).collect())
    }

    /// Open cases by organisation: for the metrics.
    pub async fn open_cases_by_organisation(&self) -> Result<Vec<(String, i64)>> {
        Ok(sqlx::query_as("SELECT organisation, COUNT(*) FROM cases WHERE status = 'open' GROUP BY organisation ORDER BY organisation")
            .fetch_all(&self.pool)
            .await?)
    }

    pub async fn touch_mailbox_sync(&self, folder: &str) -> Result<()> {
        sqlx::query("UPDATE mailbox_state SET last_sync_at = $1 WHERE folder = $2").bind(now()).bind(folder).execute(&self.pool).await?;
        Ok(())
    }

    // ---- intake ------------------------------------------------------------------------

    /// Takes or renews the lease on `folder` for `holder`: granted when nobody holds it, the
    /// holder renews it, the last holder's lease ran out, or the last holder is an instance
    /// that stopped beating (see `store::instances`). One statement (a compare-and-set), so of
    /// two instances asking at once one wins.
    pub async fn hold_mailbox(&self, folder: &str, holder: &str, lease: Duration) -> Result<bool> {
        let t = now();
        let n = sqlx::query(
            "INSERT INTO mailbox_leases (folder, holder, held_until) VALUES ($1, $2, $3)
             ON CONFLICT (folder) DO UPDATE SET holder = excluded.holder, held_until = excluded.held_until
             WHERE mailbox_leases.holder = excluded.holder OR mailbox_leases.held_until < $4
                OR EXISTS (SELECT 1 FROM instances i WHERE i.id = mailbox_leases.holder AND i.seen_until < $4)",
        )
        .bind(folder)
        .bind(holder)
        .bind(t + lease.as_secs() as i64)
        .bind(t)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Renews `holder`'s lease on `folder` on `conn` (the intake's batch: the lease is seen
    /// held, or lost, together with that batch's mails). Never takes it: false when another
    /// instance holds it or it was given up.
    pub async fn renew_mailbox_on(&self, conn: &mut Conn, folder: &str, holder: &str, lease: Duration) -> Result<bool> {
        let n = sqlx::query("UPDATE mailbox_leases SET held_until = $1 WHERE folder = $2 AND holder = $3")
            .bind(now() + lease.as_secs() as i64)
            .bind(folder)
            .bind(holder)
            .execute(&mut *conn)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    /// [`renew_mailbox_on`](Self::renew_mailbox_on) on a connection of its own.
    pub async fn renew_mailbox(&self, folder: &str, holder: &str, lease: Duration) -> Result<bool> {
        self.renew_mailbox_on(&mut *self.connection().await?, folder, holder, lease).await
    }

    /// When mailbox `key` was last synced, and the instance whose lease on it still runs: for
    /// `klachtd status`, mailbox by mailbox.
    pub async fn mailbox_sync(&self, key: &str) -> Result<(Option<i64>, Option<String>)> {
        let last_sync_at: Option<i64> =
            sqlx::query_scalar("SELECT last_sync_at FROM mailbox_state WHERE folder = $1").bind(key).fetch_optional(&self.pool).await?.flatten();
        let read_by: Option<String> = sqlx::query_scalar("SELECT holder FROM mailbox_leases WHERE folder = $1 AND held_until >= $2")
            .bind(key)
            .bind(now())
            .fetch_optional(&self.pool)
            .await?;
        Ok((last_sync_at, read_by))
    }

    /// Who holds the lease on `folder`, if anyone.
    pub async fn mailbox_holder(&self, folder: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar("SELECT holder FROM mailbox_leases WHERE folder = $1").bind(folder).fetch_optional(&self.pool).await?)
    }

    /// Takes the lease from `old` (known to be gone), if it still holds it.
    pub async fn take_over_mailbox(&self, folder: &str, old: &str, holder: &str, lease: Duration) -> Result<bool> {
        let n = sqlx::query("UPDATE mailbox_leases SET holder = $1, held_until = $2 WHERE folder = $3 AND holder = $4")
            .bind(holder)
            .bind(now() + lease.as_secs() as i64)
            .bind(folder)
            .bind(old)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    /// Gives the lease up (at shutdown), so another instance takes over at once.
    pub async fn release_mailbox(&self, folder: &str, holder: &str) -> Result<()> {
        sqlx::query("DELETE FROM mailbox_leases WHERE folder = $1 AND holder = $2").bind(folder).bind(holder).execute(&self.pool).await?;
        Ok(())
    }
}
