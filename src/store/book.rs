//! Whose cases (issue 25): an organisation's book of cases, its reference prefix and its
//! counters, and the organisation a case or a held mail belongs to.

use super::{Conn, Result, Store};
use crate::domain::organisation::OrganisationKey;
use crate::domain::reference::{CaseId, CaseRef};

/// Whose new cases and mail are written (issue 25): the organisation, and the prefix its
/// references start with. Its references are numbered per prefix and year: the counter
/// `case-YEAR` of a database from before organisations stays the `default` organisation's,
/// another's is `case-PREFIX-YEAR`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Book {
    pub organisation: OrganisationKey,
    /// Upper case: `KL` in `KL-2026-0001`.
    pub prefix: String,
}

impl Book {
    pub fn new(organisation: OrganisationKey, prefix: &str) -> Self {
        Self { organisation, prefix: prefix.to_ascii_uppercase() }
    }

    /// The name of the counter of this book's references in `year`.
    fn counter(&self, year: i32) -> String {
        if self.organisation.as_str() == crate::domain::organisation::DEFAULT_KEY {
            format!("case-{year}")
        } else {
            format!("case-{}-{year}", self.prefix)
        }
    }
}

impl Store {
    /// The organisation whose cases and mail are written where none is named (the first of
    /// the configuration; `default` unless told).
    pub fn with_organisation(mut self, key: OrganisationKey) -> Self {
        self.organisation = key;
        self
    }

    /// The book of the organisation written where none is named.
    pub fn book(&self) -> Book {
        Book::new(self.organisation.clone(), &self.reference_prefix)
    }

    /// The organisation of case `id` (whose letters, context and terms its letters take).
    pub async fn case_organisation(&self, id: CaseId) -> Result<OrganisationKey> {
        let key: Option<String> = sqlx::query_scalar("SELECT organisation FROM cases WHERE id = $1").bind(id).fetch_optional(&self.pool).await?;
        Ok(key.and_then(|k| OrganisationKey::parse(&k).ok()).unwrap_or_default())
    }

    /// The organisation that received the mail recorded as message `id` (held mail a handler
    /// releases is taken in as that organisation's).
    pub async fn held_organisation(&self, id: i64) -> Result<Option<OrganisationKey>> {
        let key: Option<String> = sqlx::query_scalar("SELECT organisation FROM messages WHERE id = $1").bind(id).fetch_optional(&self.pool).await?;
        Ok(key.and_then(|k| OrganisationKey::parse(&k).ok()))
    }

    /// New references for cases received on these days, in this order: numbered on from the
    /// counter of each case's year, which is moved on in the caller's transaction.
    pub async fn case_references_on(&self, tx: &mut Conn, received_on: &[chrono::NaiveDate]) -> Result<Vec<CaseRef>> {
        self.case_references_in(tx, &self.book(), received_on).await
    }

    /// [`case_references_on`](Self::case_references_on) in `book`: its prefix, its counters.
    pub async fn case_references_in(&self, tx: &mut Conn, book: &Book, received_on: &[chrono::NaiveDate]) -> Result<Vec<CaseRef>> {
        // How many of each year, then the first number of each year; years in order, so that
        // two writers lock their counters in the same order.
        let mut next = std::collections::BTreeMap::new();
        for day in received_on {
            *next.entry(chrono::Datelike::year(day)).or_insert(0i64) += 1;
        }
        for (year, count) in next.iter_mut() {
            let last: i64 = sqlx::query_scalar(
                "INSERT INTO counters (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = counters.value + $2 RETURNING value",
            )
            .bind(book.counter(*year))
            .bind(*count)
            .fetch_one(&mut *tx)
            .await?;
            *count = last - *count + 1;
        }
        Ok(received_on
            .iter()
            .map(|day| {
                let year = chrono::Datelike::year(day);
                let number = next.get_mut(&year).expect("counted above");
                *number += 1;
                CaseRef::new(&book.prefix, year, (*number - 1) as u32)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_counted_per_prefix_and_the_default_keeps_its_counter() {
        let book = |key: &str, prefix: &str| Book::new(OrganisationKey::parse(key).unwrap(), prefix);
        assert_eq!(book("default", "kl").counter(2026), "case-2026", "a database from before goes on counting");
        assert_eq!(book("wp", "wp").counter(2026), "case-WP-2026");
        assert_eq!(book("wp", "wp").prefix, "WP");
    }
}
