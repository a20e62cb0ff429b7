//! Reading typed values out of text columns.

use chrono::NaiveDate;

use crate::domain::calendar::parse_day;

/// A day column (`YYYY-MM-DD`) of `row` read as a date; another text is an error of the row.
pub(super) fn day_column(row: &sqlx::any::AnyRow, column: &str) -> std::result::Result<NaiveDate, sqlx::Error> {
    use sqlx::Row as _;
    let text: String = row.try_get(column)?;
    parse_day(&text).map_err(|e| sqlx::Error::ColumnDecode { index: column.to_string(), source: Box::new(e) })
}

/// A deadline column that may be absent (a procedure without a progress notice; see
/// `super::procedure::stored_deadline`), read as a date.
pub(super) fn optional_day_column(row: &sqlx::any::AnyRow, column: &str) -> std::result::Result<Option<NaiveDate>, sqlx::Error> {
    use sqlx::Row as _;
    let text: String = row.try_get(column)?;
    super::procedure::stored_deadline(&text)
        .map(parse_day)
        .transpose()
        .map_err(|e| sqlx::Error::ColumnDecode { index: column.to_string(), source: Box::new(e) })
}

/// A day as a case's row stores it (`YYYY-MM-DD`); anything else is corrupt data of `case` (its
/// reference or id).
pub(super) fn stored_day(case: impl std::fmt::Display, text: &str) -> super::Result<NaiveDate> {
    parse_day(text).map_err(|e| super::StoreError::Corrupt(format!("case {case}: date {text:?}: {e}")))
}
