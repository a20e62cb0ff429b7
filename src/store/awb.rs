//! What the steps of Awb chapter 9 read besides the case itself.

use super::{Result, Store};

impl Store {
    /// The people a complaint is about (`cases subject`) who are staff with an address in
    /// `handlers`, as (name, address): they receive a copy of a postponement (Awb 9:11).
    pub async fn subject_addresses(&self, case_id: i64) -> Result<Vec<(String, String)>> {
        Ok(sqlx::query_as(
            "SELECT h.name, h.email FROM case_subjects s JOIN handlers h ON LOWER(h.name) = LOWER(s.name)
             WHERE s.case_id = $1 ORDER BY h.name",
        )
        .bind(case_id)
        .fetch_all(&self.pool)
        .await?)
    }
}
