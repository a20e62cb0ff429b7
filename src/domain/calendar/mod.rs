//! Working days and deadlines of the complaints regulation.
//!
//! Periods are counted the way the regulation and the Dutch Algemene termijnenwet do:
//! "within N working days" ends on the N-th working day strictly after the date of receipt,
//! and "within four weeks" ends 28 calendar days after it, moved to the next working day
//! when it falls on a weekend or a day the Act closes. Those days (art. 3) are in [`atw`]:
//! the holidays are computed for any year, the days royal decrees equate with them are listed
//! (built in, and later ones from the configuration).

mod atw;

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use chrono::{DateTime, Datelike, NaiveDate, Utc, Weekday};

pub use atw::{easter_sunday, holiday, holidays, known_decrees, Decree, Holiday};

fn is_weekend(date: NaiveDate) -> bool {
    matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

/// Weekdays (Mon-Fri) among the days up to and including `date`, counted from a fixed
/// origin; differences give weekday counts over any span in constant time.
fn weekdays_through(date: NaiveDate) -> i64 {
    // Day 1 of the common era (0001-01-01) is a Monday, so day n is a weekday
    // exactly when n mod 7 is in 1..=5.
    let n = i64::from(date.num_days_from_ce());
    5 * n.div_euclid(7) + n.rem_euclid(7).min(5)
}

/// Why a day is closed, besides being a Saturday or Sunday.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closure<'a> {
    /// A holiday of the Act, art. 3(1) or Good Friday, art. 3(2).
    Holiday(Holiday),
    /// Equated with a holiday by a royal decree, art. 3(3).
    Equated(&'a Decree),
    /// A closing day of the service's own (`calendar.extra_closing_days`).
    ClosingDay,
}

impl Closure<'_> {
    /// What closes the day, for a person who wonders why a date moved.
    pub fn describe(&self) -> String {
        match self {
            Closure::Holiday(h) => format!("{} ({}), {}", h.name(), h.dutch_name(), h.article()),
            Closure::Equated(decree) => format!("equated with a holiday, Atw art. 3(3): {}", decree.title),
            Closure::ClosingDay => "a closing day of the service (calendar.extra_closing_days)".to_string(),
        }
    }
}

/// The working-day calendar: Monday to Friday, minus the days of Atw art. 3 (holidays, Good
/// Friday, days equated by royal decree), minus the closing days the operator configures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    decrees: Vec<Decree>,
    /// Each equated day with the index of its decree in `decrees`.
    equated: BTreeMap<NaiveDate, usize>,
    extra_closing_days: BTreeSet<NaiveDate>,
}

impl Default for Calendar {
    /// The Act's calendar with the decrees known to this version and no closing days.
    fn default() -> Self {
        Self::new([])
    }
}

impl Calendar {
    /// The Act's calendar with the known decrees, plus the service's closing days.
    pub fn new(extra_closing_days: impl IntoIterator<Item = NaiveDate>) -> Self {
        Self { decrees: Vec::new(), equated: BTreeMap::new(), extra_closing_days: extra_closing_days.into_iter().collect() }.with_decrees(known_decrees())
    }

    /// Adds decrees, for instance later ones from the configuration.
    pub fn with_decrees(mut self, decrees: impl IntoIterator<Item = Decree>) -> Self {
        for decree in decrees {
            let index = self.decrees.len();
            for day in &decree.days {
                self.equated.entry(*day).or_insert(index);
            }
            self.decrees.push(decree);
        }
        self
    }

    /// The last year a known decree settles; after it, days a later decree equates are
    /// missing until they are configured.
    pub fn decrees_known_through(&self) -> Option<i32> {
        self.decrees.iter().map(|d| d.last_year).max()
    }

    /// Whether a year is settled by a known decree.
    pub fn decree_covers(&self, year: i32) -> bool {
        self.decrees.iter().any(|d| d.covers(year))
    }

    /// The first year of the coming twelve months from `today` that no known decree settles:
    /// deadlines counted into it may miss a day a later decree equates with a holiday.
    pub fn first_year_without_decree(&self, today: NaiveDate) -> Option<i32> {
        let horizon = atw::days_after(today, 365);
        (today.year()..=horizon.year()).find(|&y| !self.decree_covers(y))
    }

    /// Why `date` is closed, if it is (weekends aside). A holiday of the Act goes first.
    pub fn closure(&self, date: NaiveDate) -> Option<Closure<'_>> {
        if let Some(h) = holiday(date) {
            return Some(Closure::Holiday(h));
        }
        if let Some(&i) = self.equated.get(&date) {
            return Some(Closure::Equated(&self.decrees[i]));
        }
        self.extra_closing_days.contains(&date).then_some(Closure::ClosingDay)
    }

    /// Every closed day of `year` with why, in calendar order, those on a weekend included.
    /// A date closed for two reasons (Ascension Day on 5 May) is listed for each.
    pub fn closed_days(&self, year: i32) -> Vec<(NaiveDate, Closure<'_>)> {
        let in_year = |d: &NaiveDate| d.year() == year;
        let mut days: Vec<(NaiveDate, Closure<'_>)> = holidays(year).map(|(d, h)| (d, Closure::Holiday(h))).collect();
        days.extend(self.equated.iter().filter(|(d, _)| in_year(d)).map(|(d, &i)| (*d, Closure::Equated(&self.decrees[i]))));
        days.extend(self.extra_closing_days.iter().filter(|d| in_year(d)).map(|d| (*d, Closure::ClosingDay)));
        days.sort_by_key(|&(d, _)| d);
        days
    }

    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        !is_weekend(date) && self.closure(date).is_none()
    }

    /// The first working day strictly after `date`.
    ///
    /// The search is bounded: the Act's holidays never close more than three weekdays in any
    /// 7-day window (Good Friday, Easter Monday and King's Day when Easter is on 25 April), so
    /// every full week of a closed stretch needs at least two listed days (equated or
    /// closing), and a stretch of 7 * (listed + 1) days always holds a working day.
    fn next_working_day_after(&self, date: NaiveDate) -> NaiveDate {
        let limit = 7 * (self.extra_closing_days.len() + self.equated.len() + 1);
        date.iter_days()
            .skip(1)
            .take(limit)
            .find(|&d| self.is_working_day(d))
            // Only reachable at the very end of chrono's date range.
            .unwrap_or(NaiveDate::MAX)
    }

    /// The n-th working day strictly after `date` (n >= 1); n == 0 returns date itself.
    pub fn add_working_days(&self, date: NaiveDate, n: u32) -> NaiveDate {
        (0..n).fold(date, |d, _| self.next_working_day_after(d))
    }

    /// `date` if it is a working day, else the next working day.
    pub fn on_or_next_working_day(&self, date: NaiveDate) -> NaiveDate {
        if self.is_working_day(date) {
            date
        } else {
            self.next_working_day_after(date)
        }
    }

    /// Working days d with from < d <= to (0 when to <= from). Used for "days left" and handling times.
    ///
    /// Counts weekdays arithmetically and subtracts the closed weekdays, so long spans cost
    /// a handful of holiday computations per year rather than a walk over every day.
    pub fn working_days_between(&self, from: NaiveDate, to: NaiveDate) -> i64 {
        if to <= from {
            return 0;
        }
        let in_span = |d: &NaiveDate| from < *d && *d <= to;
        let span = (Bound::Excluded(from), Bound::Included(to));
        // A set, because a date can be closed twice over (Ascension Day on 5 May, a
        // configured closing day that is also a holiday).
        let closed_weekdays: BTreeSet<NaiveDate> = (from.year()..=to.year())
            .flat_map(|year| holidays(year).map(|(d, _)| d))
            .filter(in_span)
            .chain(self.equated.range(span).map(|(d, _)| *d))
            .chain(self.extra_closing_days.range(span).copied())
            .filter(|d| !is_weekend(*d))
            .collect();
        weekdays_through(to) - weekdays_through(from) - closed_weekdays.len() as i64
    }
}

/// The deadlines of a complaint, fixed at registration. `progress_by` is `None` under a
/// procedure without a progress notice (the Awb's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    pub received: NaiveDate,
    pub acknowledge_by: NaiveDate,
    pub progress_by: Option<NaiveDate>,
    pub respond_by: NaiveDate,
}

impl Deadlines {
    /// The deadlines of the seed's regulation (`reintegratie`: 5 and 10 working days, four
    /// weeks) from the date of receipt; [`crate::domain::terms::Procedure::deadlines`] gives
    /// those of any procedure.
    pub fn compute(calendar: &Calendar, received: NaiveDate) -> Self {
        crate::domain::terms::Procedure::default().deadlines(calendar, received)
    }
}

/// The Europe/Amsterdam calendar date of an instant (the date of receipt of a mail).
///
/// The regulation counts from the Dutch calendar date, so a mail arriving at 23:30 UTC
/// already belongs to the next day.
pub fn amsterdam_date(instant: DateTime<Utc>) -> NaiveDate {
    instant.with_timezone(&chrono_tz::Europe::Amsterdam).date_naive()
}

/// A date written `YYYY-MM-DD`, read as `NaiveDate::parse_from_str(text, "%Y-%m-%d")` reads
/// it; the usual ten characters without going through the format string each time (a list page
/// reads some 250 dates, a year of the register some 400,000; issue 24).
pub fn parse_day(text: &str) -> chrono::ParseResult<NaiveDate> {
    let b = text.as_bytes();
    let digits = [0, 1, 2, 3, 5, 6, 8, 9];
    if b.len() == 10 && b[4] == b'-' && b[7] == b'-' && digits.iter().all(|&i| b[i].is_ascii_digit()) {
        let number = |from: usize, to: usize| b[from..to].iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
        if let Some(day) = NaiveDate::from_ymd_opt(number(0, 4) as i32, number(5, 7), number(8, 10)) {
            return Ok(day);
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn days_are_read_as_chrono_reads_them() {
        for text in [
            "2026-12-06",
            "0000-01-01",
            "9999-12-31",
            "2024-02-29",
            "2026-02-29",
            "2026-13-01",
            "2026-1-05",
            "+2026-12-06",
            "20261206",
            "",
            "2026-12-06 ",
            "2026-12-0x",
            "２０２６-12-06",
        ] {
            assert_eq!(parse_day(text).ok(), NaiveDate::parse_from_str(text, "%Y-%m-%d").ok(), "{text:?}");
        }
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn utc(y: i32, m: u32, day: u32, h: u32, min: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, day, h, min, s).unwrap()
    }

    fn deadlines(cal: &Calendar, received: NaiveDate) -> (NaiveDate, NaiveDate, NaiveDate) {
        let dl = Deadlines::compute(cal, received);
        assert_eq!(dl.received, received);
        (dl.acknowledge_by, dl.progress_by.unwrap(), dl.respond_by)
    }

    #[test]
    fn working_days() {
        let cal = Calendar::default();
        assert!(cal.is_working_day(d(2026, 11, 20))); // Friday
        assert!(!cal.is_working_day(d(2026, 11, 21))); // Saturday
        assert!(!cal.is_working_day(d(2026, 11, 22))); // Sunday
        assert!(!cal.is_working_day(d(2026, 4, 6))); // Easter Monday
        assert!(!cal.is_working_day(d(2026, 4, 3))); // Good Friday, Atw art. 3(2)
        assert!(!cal.is_working_day(d(2026, 1, 2))); // equated by royal decree
        assert!(cal.is_working_day(d(2026, 12, 24)));
        let closed = Calendar::new([d(2026, 12, 24)]);
        assert!(!closed.is_working_day(d(2026, 12, 24)));
        assert!(closed.is_working_day(d(2026, 12, 23)));
    }

    #[test]
    fn add_working_days_and_on_or_next() {
        let cal = Calendar::default();
        assert_eq!(cal.add_working_days(d(2026, 11, 20), 0), d(2026, 11, 20));
        assert_eq!(cal.add_working_days(d(2026, 11, 21), 0), d(2026, 11, 21));
        assert_eq!(cal.add_working_days(d(2026, 11, 20), 1), d(2026, 11, 23));
        assert_eq!(cal.add_working_days(d(2026, 11, 21), 1), d(2026, 11, 23));
        assert_eq!(cal.on_or_next_working_day(d(2026, 11, 20)), d(2026, 11, 20));
        assert_eq!(cal.on_or_next_working_day(d(2026, 11, 21)), d(2026, 11, 23));
        assert_eq!(cal.on_or_next_working_day(d(2026, 12, 25)), d(2026, 12, 28));
        assert_eq!(cal.on_or_next_working_day(d(2026, 4, 4)), d(2026, 4, 7));
    }

    #[test]
    fn spec_example_friday_20_november_2026() {
        let cal = Calendar::default();
        assert_eq!(deadlines(&cal, d(2026, 11, 20)), (d(2026, 11, 27), d(2026, 12, 4), d(2026, 12, 18)));
    }

    #[test]
    fn deadlines_over_christmas_and_new_year() {
        let cal = Calendar::default();
        // Fri 18 Dec: 21-24 are days 1-4, 25/26 closed, Mon 28 is day 5; 1 Jan closed.
        assert_eq!(deadlines(&cal, d(2026, 12, 18)), (d(2026, 12, 28), d(2027, 1, 5), d(2027, 1, 15)));
        // Thu 24 Dec: day 1 is Mon 28 Dec, day 5 Mon 4 Jan.
        assert_eq!(deadlines(&cal, d(2026, 12, 24)), (d(2027, 1, 4), d(2027, 1, 11), d(2027, 1, 21)));
    }

    #[test]
    fn deadlines_over_easter() {
        let cal = Calendar::default();
        // Thursday before Easter 2026: Good Friday and Easter Monday are both skipped.
        assert_eq!(deadlines(&cal, d(2026, 4, 2)), (d(2026, 4, 13), d(2026, 4, 20), d(2026, 4, 30)));
    }

    #[test]
    fn deadlines_over_ascension_and_whit_monday() {
        let cal = Calendar::default();
        // Mon 11 May 2026: Ascension Thu 14 May, Fri 15 May (equated) and Whit Monday 25 May
        // are skipped.
        assert_eq!(deadlines(&cal, d(2026, 5, 11)), (d(2026, 5, 20), d(2026, 5, 28), d(2026, 6, 8)));
    }

    #[test]
    fn deadlines_over_kings_day_and_liberation_day() {
        let cal = Calendar::default();
        // Thu 23 Apr 2026: King's Day Mon 27 Apr and Tue 5 May are skipped.
        assert_eq!(deadlines(&cal, d(2026, 4, 23)), (d(2026, 5, 1), d(2026, 5, 11), d(2026, 5, 21)));
    }

    #[test]
    fn four_weeks_moves_off_weekends_and_holidays() {
        let cal = Calendar::default();
        // Lands on Sat 19 Dec -> Mon 21 Dec.
        assert_eq!(Deadlines::compute(&cal, d(2026, 11, 21)).respond_by, d(2026, 12, 21));
        // Lands on Sun 20 Dec -> Mon 21 Dec.
        assert_eq!(Deadlines::compute(&cal, d(2026, 11, 22)).respond_by, d(2026, 12, 21));
        // Lands on Christmas (Fri) -> past Boxing Day and Sunday to Mon 28 Dec.
        assert_eq!(Deadlines::compute(&cal, d(2026, 11, 27)).respond_by, d(2026, 12, 28));
        // Lands on Boxing Day (Sat) -> Mon 28 Dec.
        assert_eq!(Deadlines::compute(&cal, d(2026, 11, 28)).respond_by, d(2026, 12, 28));
        // Lands on 24 Dec, a working day unless configured otherwise.
        assert_eq!(Deadlines::compute(&cal, d(2026, 11, 26)).respond_by, d(2026, 12, 24));
        // Lands on Easter Monday 29 Mar 2027 -> Tue 30 Mar.
        assert_eq!(Deadlines::compute(&cal, d(2027, 3, 1)).respond_by, d(2027, 3, 30));
    }

    #[test]
    fn receipt_on_saturday_counts_from_monday() {
        let cal = Calendar::default();
        assert_eq!(deadlines(&cal, d(2026, 11, 21)), (d(2026, 11, 27), d(2026, 12, 4), d(2026, 12, 21)));
    }

    #[test]
    fn receipt_on_a_holiday() {
        let cal = Calendar::default();
        // Easter Monday 6 Apr 2026; four weeks is Mon 4 May (5 May is the holiday).
        assert_eq!(deadlines(&cal, d(2026, 4, 6)), (d(2026, 4, 13), d(2026, 4, 20), d(2026, 5, 4)));
    }

    #[test]
    fn the_dates_the_atw_calendar_gives_where_ours_was_wrong() {
        let cal = Calendar::default();
        // Received Fri 27 March 2026: Good Friday 3 April and Easter Monday are not counted.
        assert_eq!(Deadlines::compute(&cal, d(2026, 3, 27)).acknowledge_by, d(2026, 4, 7));
        // Received Thu 7 May 2026: Ascension Day and Fri 15 May (equated) are not counted.
        assert_eq!(Deadlines::compute(&cal, d(2026, 5, 7)).acknowledge_by, d(2026, 5, 18));
        // Received Wed 24 December 2025: 2 January 2026 is equated with a holiday.
        assert_eq!(Deadlines::compute(&cal, d(2025, 12, 24)).acknowledge_by, d(2026, 1, 6));
    }

    #[test]
    fn four_weeks_moves_off_good_friday_and_equated_days() {
        let cal = Calendar::default();
        // Four weeks from Fri 6 Mar 2026 is Good Friday: past Easter Monday to Tue 7 April.
        assert_eq!(Deadlines::compute(&cal, d(2026, 3, 6)).respond_by, d(2026, 4, 7));
        // Four weeks from Fri 17 Apr 2026 is Fri 15 May, equated: Mon 18 May.
        assert_eq!(Deadlines::compute(&cal, d(2026, 4, 17)).respond_by, d(2026, 5, 18));
        // 28 April 2028, the Friday after King's Day, equated: Mon 1 May.
        assert_eq!(Deadlines::compute(&cal, d(2028, 3, 31)).respond_by, d(2028, 5, 1));
        // 27 December 2024, equated: Mon 30 December.
        assert_eq!(Deadlines::compute(&cal, d(2024, 11, 29)).respond_by, d(2024, 12, 30));
    }

    /// The closed weekdays of two years, written out by hand from the Act and the decree.
    #[test]
    fn closed_weekdays_of_2027_and_2028() {
        let cal = Calendar::default();
        let weekdays = |year| -> Vec<NaiveDate> {
            let mut days: Vec<NaiveDate> = cal.closed_days(year).into_iter().map(|(d, _)| d).filter(|d| !is_weekend(*d)).collect();
            days.dedup();
            days
        };
        assert_eq!(weekdays(2027), [(1, 1), (3, 26), (3, 29), (4, 27), (5, 5), (5, 6), (5, 7), (5, 17)].map(|(m, day)| d(2027, m, day)));
        assert_eq!(weekdays(2028), [(4, 14), (4, 17), (4, 27), (4, 28), (5, 5), (5, 25), (5, 26), (6, 5), (12, 25), (12, 26)].map(|(m, day)| d(2028, m, day)));
    }

    #[test]
    fn each_closed_day_says_why() {
        let cal = Calendar::new([d(2026, 12, 24)]);
        let why = |date| cal.closure(date).map(|c| c.describe());
        assert_eq!(why(d(2026, 4, 3)).as_deref(), Some("Good Friday (Goede Vrijdag), Atw art. 3(2)"));
        assert_eq!(why(d(2026, 4, 6)).as_deref(), Some("Easter Monday (tweede Paasdag), Atw art. 3(1)"));
        assert!(why(d(2026, 5, 15)).unwrap().contains("Besluit gelijkstelling van 2 januari 2026, 15 mei 2026"));
        assert!(why(d(2024, 12, 27)).unwrap().contains("27 december 2024"));
        assert!(why(d(2026, 12, 24)).unwrap().contains("calendar.extra_closing_days"));
        assert_eq!(why(d(2026, 12, 23)), None);
        assert_eq!(why(d(2026, 11, 21)), None, "a Saturday is closed, but by no rule to explain");
        // 2016: Ascension Day on 5 May is listed twice, once for each holiday.
        assert_eq!(cal.closed_days(2016).iter().filter(|(date, _)| *date == d(2016, 5, 5)).count(), 2);
    }

    #[test]
    fn a_later_decree_from_the_configuration() {
        let decree = Decree {
            title: "Besluit gelijkstelling van 11 mei 2029 met een algemeen erkende feestdag".into(),
            first_year: 2029,
            last_year: 2031,
            days: vec![d(2029, 5, 11)],
        };
        let before = Calendar::default();
        let after = Calendar::default().with_decrees([decree]);
        assert!(before.is_working_day(d(2029, 5, 11)));
        assert!(!after.is_working_day(d(2029, 5, 11)));
        assert_eq!(after.add_working_days(d(2029, 5, 9), 1), d(2029, 5, 14)); // Ascension 10 May, then the equated day
        assert_eq!(before.decrees_known_through(), Some(2028));
        assert_eq!(after.decrees_known_through(), Some(2031));
        // The coming twelve months from a day in 2028 run into 2029.
        assert_eq!(before.first_year_without_decree(d(2026, 12, 6)), None);
        assert_eq!(before.first_year_without_decree(d(2027, 12, 31)), None);
        assert_eq!(before.first_year_without_decree(d(2028, 1, 10)), Some(2029));
        assert_eq!(after.first_year_without_decree(d(2028, 1, 10)), None);
        assert_eq!(after.first_year_without_decree(d(2031, 3, 1)), Some(2032));
    }

    #[test]
    fn extra_closing_days_shift_deadlines() {
        let year_end = Calendar::new([d(2026, 12, 24), d(2026, 12, 31)]);
        assert_eq!(deadlines(&year_end, d(2026, 12, 18)), (d(2026, 12, 29), d(2027, 1, 7), d(2027, 1, 15)));
        // Four weeks from Thu 26 Nov lands on 24 Dec: closed, and so are 25 and 26 Dec.
        assert_eq!(Deadlines::compute(&year_end, d(2026, 11, 26)).respond_by, d(2026, 12, 28));
    }

    #[test]
    fn holidays_close_at_most_three_weekdays_in_any_week() {
        // The search bound in `next_working_day_after` relies on this.
        for start in d(1900, 1, 1).iter_days().take_while(|x| x.year() < 2300) {
            let closed = start.iter_days().take(7).filter(|x| !is_weekend(*x) && holiday(*x).is_some()).count();
            assert!(closed <= 3, "{start}");
        }
    }

    #[test]
    fn long_runs_of_closing_days_still_terminate() {
        // The whole of 2027 closed: the next working day is the first one of 2028.
        let start = d(2027, 1, 1);
        let cal = Calendar::new(start.iter_days().take_while(|x| x.year() == 2027));
        assert_eq!(cal.add_working_days(d(2026, 12, 31), 1), d(2028, 1, 3)); // Mon; 1 Jan is Sat
        assert_eq!(cal.on_or_next_working_day(start), d(2028, 1, 3));
    }

    #[test]
    fn amsterdam_date_around_midnight() {
        // Winter, UTC+1.
        assert_eq!(amsterdam_date(utc(2026, 1, 15, 22, 59, 59)), d(2026, 1, 15));
        assert_eq!(amsterdam_date(utc(2026, 1, 15, 23, 0, 0)), d(2026, 1, 16));
        assert_eq!(amsterdam_date(utc(2026, 1, 15, 23, 30, 0)), d(2026, 1, 16));
        assert_eq!(amsterdam_date(utc(2026, 1, 15, 0, 30, 0)), d(2026, 1, 15));
        // Summer, UTC+2.
        assert_eq!(amsterdam_date(utc(2026, 7, 15, 21, 59, 59)), d(2026, 7, 15));
        assert_eq!(amsterdam_date(utc(2026, 7, 15, 22, 0, 0)), d(2026, 7, 16));
        assert_eq!(amsterdam_date(utc(2026, 7, 15, 23, 30, 0)), d(2026, 7, 16));
        assert_eq!(amsterdam_date(utc(2026, 7, 15, 0, 30, 0)), d(2026, 7, 15));
        // New Year's Eve in UTC is already New Year in Amsterdam.
        assert_eq!(amsterdam_date(utc(2026, 12, 31, 23, 30, 0)), d(2027, 1, 1));
    }

    #[test]
    fn working_days_between_counts() {
        let cal = Calendar::default();
        assert_eq!(cal.working_days_between(d(2026, 11, 20), d(2026, 11, 27)), 5);
        assert_eq!(cal.working_days_between(d(2026, 11, 20), d(2026, 12, 4)), 10);
        assert_eq!(cal.working_days_between(d(2026, 11, 20), d(2026, 11, 21)), 0);
        assert_eq!(cal.working_days_between(d(2026, 11, 20), d(2026, 11, 23)), 1);
        assert_eq!(cal.working_days_between(d(2026, 11, 20), d(2026, 11, 20)), 0);
        assert_eq!(cal.working_days_between(d(2026, 12, 4), d(2026, 11, 20)), 0);
        assert_eq!(cal.working_days_between(d(2026, 12, 18), d(2027, 1, 5)), 10);
        // 2026: 261 weekdays, 8 holidays on weekdays (Boxing Day is a Saturday) and 2 equated days.
        assert_eq!(cal.working_days_between(d(2025, 12, 31), d(2026, 12, 31)), 251);
        // 2016: 261 weekdays; Ascension and 5 May coincide, Christmas is a Sunday -> 7.
        assert_eq!(cal.working_days_between(d(2015, 12, 31), d(2016, 12, 31)), 254);
        // A closing day that is a holiday too counts once, on a Saturday not at all.
        let extra = Calendar::new([d(2026, 4, 7), d(2026, 4, 6), d(2026, 4, 4)]);
        assert_eq!(extra.working_days_between(d(2026, 4, 2), d(2026, 4, 10)), 3);
        assert_eq!(cal.working_days_between(d(2026, 4, 2), d(2026, 4, 10)), 4);
    }

    #[test]
    fn working_days_between_matches_day_by_day_count_and_add_working_days() {
        let cal = Calendar::new([d(2026, 4, 3), d(2026, 12, 24), d(2026, 12, 31), d(2027, 5, 7), d(2027, 5, 10)]);
        let start = d(2025, 11, 1);
        let days: Vec<NaiveDate> = start.iter_days().take(3 * 366).collect();
        for &from in days.iter().step_by(11) {
            let mut count = 0;
            for &to in days.iter().filter(|&&t| t > from) {
                if cal.is_working_day(to) {
                    count += 1;
                }
                assert_eq!(cal.working_days_between(from, to), count, "{from}..{to}");
            }
        }
        for &from in days.iter().take(400) {
            for n in [0, 1, 5, 10, 28, 300] {
                assert_eq!(cal.working_days_between(from, cal.add_working_days(from, n)), i64::from(n));
            }
        }
    }
}
