//! How a case's row keeps its procedure: the terms in `cases.procedure_terms` (written with the
//! case, read back with its letters), and a deadline the procedure does not have.

use chrono::NaiveDate;

/// A deadline a case does not have (a procedure without a progress notice), as its row stores
/// it: the column is NOT NULL, and a day no sweep reaches keeps every `progress_by <= day` false.
const NO_DEADLINE: &str = "9999-12-31";

/// A deadline as a case's row stores it.
pub(super) fn deadline_column(day: Option<NaiveDate>) -> String {
    day.map_or_else(|| NO_DEADLINE.to_string(), |d| d.to_string())
}

/// A stored deadline, `None` when the case has no such deadline.
pub(super) fn stored_deadline(text: &str) -> Option<&str> {
    (text != NO_DEADLINE).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_absent_deadline_is_stored_beyond_every_day_and_read_back_as_none() {
        let day = NaiveDate::from_ymd_opt(2026, 12, 4).unwrap();
        assert_eq!(stored_deadline(&deadline_column(Some(day))), Some("2026-12-04"));
        assert_eq!(stored_deadline(&deadline_column(None)), None);
        // The sweeps compare the text: no date of the coming millennia reaches it.
        assert!(deadline_column(None).as_str() > "9999-12-30" && deadline_column(None).as_str() > day.to_string().as_str());
    }
}
