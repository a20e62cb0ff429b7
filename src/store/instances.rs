//! Instances on one database: each registers and beats in `instances`; one whose `seen_until`
//! passed is dead, and the first peer to see it settles what it left (its mailbox leases and
//! its outbox claims), in one transaction that starts by removing its row, so that one peer
//! does it once.

use std::collections::{BTreeMap, BTreeSet};

use super::outbox::{outbox_item, record_sent_all, ORGANISATION};
use super::{now, Backend, Result, Sent, Store};
use crate::domain::leases::{settle_handed, Holding};

/// What settling a dead instance did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Settled {
    /// Mails it handed to the SMTP server and that were surely accepted: recorded as sent.
    pub accepted: u64,
    /// Mails it was handing when it died (one per sender slot at most): sent again.
    pub unknown: u64,
    /// Mails it had claimed and not handed: claimable at once.
    pub released: u64,
    /// Mailbox leases it held: free at once.
    pub mailboxes: u64,
}

impl Store {
    /// Whether several instances may share this database (PostgreSQL); SQLite is one.
    pub fn is_shared(&self) -> bool {
        self.backend == Backend::Postgres
    }

    /// Registers instance `id` or renews it: alive until `seen_until` (Unix seconds).
    pub async fn beat_instance(&self, id: &str, host: &str, pid: u32, started_at: i64, seen_until: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO instances (id, host, pid, started_at, seen_until) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (id) DO UPDATE SET seen_until = excluded.seen_until",
        )
        .bind(id)
        .bind(host)
        .bind(i64::from(pid))
        .bind(started_at)
        .bind(seen_until)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Ends instance `id` (a clean shutdown): it counts as dead at once, and the next look of a
    /// peer (or of the next start) settles whatever it still left, such as a mail accepted by
    /// the SMTP server that the database could not record before the stop.
    pub async fn retire_instance(&self, id: &str) -> Result<()> {
        sqlx::query("UPDATE instances SET seen_until = 0 WHERE id = $1").bind(id).execute(&self.pool).await?;
        Ok(())
    }

    /// The instances alive now, and those dead (seen_until passed) and not yet settled.
    pub async fn instances(&self) -> Result<(BTreeSet<String>, Vec<String>)> {
        let t = now();
        let rows: Vec<(String, i64)> = sqlx::query_as("SELECT id, seen_until FROM instances ORDER BY id").fetch_all(&self.pool).await?;
        let (live, dead): (Vec<_>, Vec<_>) = rows.into_iter().partition(|(_, until)| *until >= t);
        Ok((live.into_iter().map(|(id, _)| id).collect(), dead.into_iter().map(|(id, _)| id).collect()))
    }

    /// Every mailbox lease: who holds it, and whether it ran out.
    pub async fn mailbox_leases(&self) -> Result<BTreeMap<String, Holding>> {
        let t = now();
        let rows: Vec<(String, String, i64)> = sqlx::query_as("SELECT folder, holder, held_until FROM mailbox_leases").fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(|(folder, holder, until)| (folder, Holding { holder, expired: until < t })).collect())
    }

    /// Settles dead instance `dead`, unless another peer did or it came back: its mailbox
    /// leases are freed; of its mails handed to the SMTP server and not recorded, those surely
    /// accepted are recorded as sent and the last of each sender slot is sent again (see
    /// [`settle_handed`]); the rest of its claims are freed.
    pub async fn settle_instance(&self, dead: &str) -> Result<Option<Settled>> {
        let mut tx = self.begin().await?;
        let t = now();
        let gone = sqlx::query("DELETE FROM instances WHERE id = $1 AND seen_until < $2").bind(dead).bind(t).execute(&mut *tx).await?.rows_affected();
        if gone == 0 {
            return Ok(None);
        }
        let mailboxes = sqlx::query("DELETE FROM mailbox_leases WHERE holder = $1").bind(dead).execute(&mut *tx).await?.rows_affected();
        let mut settled = Settled { mailboxes, ..Settled::default() };
        let handed: Vec<(i64, String, i64)> = sqlx::query_as(
            "SELECT id, handed_on, handed_seq FROM outbox WHERE status = 'pending' AND claimed_by = $1 AND handed_on IS NOT NULL AND handed_seq IS NOT NULL",
        )
        .bind(dead)
        .fetch_all(&mut *tx)
        .await?;
        let (accepted, unknown) = settle_handed(&handed);
        let mut sent = Vec::with_capacity(accepted.len());
        for id in &accepted {
            let sql = format!(
                "SELECT id, case_id, kind, recipient, recipient_name, subject, body, message_id, in_reply_to, refs, attempts, parts, {ORGANISATION} FROM outbox WHERE id = $1"
            );
            let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_one(&mut *tx).await?;
            let reply = format!("accepted by the SMTP server for instance {dead}, which stopped before recording it");
            sent.push(Sent { item: outbox_item(&row)?, reply, at: t });
        }
        record_sent_all(&mut tx, &sent).await?;
        settled.accepted = sent.len() as u64;
        settled.unknown = unknown.len() as u64;
        settled.released = sqlx::query(
            "UPDATE outbox SET claimed_until = 0, claimed_by = NULL, handed_on = NULL, handed_seq = NULL WHERE status = 'pending' AND claimed_by = $1",
        )
        .bind(dead)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(Some(settled))
    }
}
