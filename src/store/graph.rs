//! A Microsoft Graph mailbox's position: the delta link of its inbox folder.

use super::{now, Conn, Result, Store};

impl Store {
    /// The delta link saved for `mailbox` (`None`: start with a full round).
    pub async fn graph_delta_link(&self, mailbox: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar("SELECT delta_link FROM graph_delta WHERE mailbox = $1").bind(mailbox).fetch_optional(&self.pool).await?)
    }

    /// Saves `link` for `mailbox` on `conn` (the intake's batch or its last transaction).
    pub async fn save_graph_delta_link_on(&self, conn: &mut Conn, mailbox: &str, link: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO graph_delta (mailbox, delta_link, saved_at) VALUES ($1, $2, $3)
             ON CONFLICT (mailbox) DO UPDATE SET delta_link = excluded.delta_link, saved_at = excluded.saved_at",
        )
        .bind(mailbox)
        .bind(link)
        .bind(now())
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}
