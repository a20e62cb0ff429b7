//! Working days and deadlines of the complaints regulation.
//!
//! Periods are counted the way the regulation and the Dutch Algemene termijnenwet do:
//! "within N working days" ends on the N-th working day strictly after the date of receipt,
//! and "within four weeks" ends 28 calendar days after it, moved to the next working day
//! when it falls on a weekend or holiday. Holidays are computed, never listed, so the
//! calendar keeps working in every year without maintenance.

use std::collections::BTreeSet;
use std::ops::Bound;

use chrono::{DateTime, Datelike, Days, NaiveDate, Utc, Weekday};

/// Working days allowed for the acknowledgement of receipt.
pub const ACKNOWLEDGE_WORKING_DAYS: u32 = 5;
/// Working days after which the complainant gets a progress notice.
pub const PROGRESS_WORKING_DAYS: u32 = 10;
/// "Within four weeks": calendar days allowed for the substantive response.
pub const RESPONSE_CALENDAR_DAYS: i64 = 28;

/// Easter Sunday of `year` in the Gregorian calendar (anonymous Gregorian algorithm),
/// so that Easter-based holidays never need a hand-maintained table.
///
/// Panics only for years outside chrono's date range.
pub fn easter_sunday(year: i32) -> NaiveDate {
    let a = year.rem_euclid(19);
    let b = year.div_euclid(100);
    let c = year.rem_euclid(100);
    let d = b.div_euclid(4);
    let e = b.rem_euclid(4);
    let f = (b + 8).div_euclid(25);
    let g = (b - f + 1).div_euclid(3);
    let h = (19 * a + b - d - g + 15).rem_euclid(30);
    let i = c.div_euclid(4);
    let k = c.rem_euclid(4);
    let l = (32 + 2 * e + 2 * i - h - k).rem_euclid(7);
    let m = (a + 11 * h + 22 * l).div_euclid(451);
    let month = (h + l - 7 * m + 114).div_euclid(31);
    let day = (h + l - 7 * m + 114).rem_euclid(31) + 1;
    // month is 3 or 4 and day 1..=31 by construction; only the year can be out of range.
    NaiveDate::from_ymd_opt(year, month as u32, day as u32).expect("year within chrono's range")
}

/// The statutory holidays of the Algemene termijnenwet (art. 3) in `year`, in calendar order.
/// Two entries can share a date (Ascension Day can fall on 5 May, as in 2016).
fn statutory_holidays(year: i32) -> impl Iterator<Item = (NaiveDate, &'static str)> {
    let ymd = move |m, d| NaiveDate::from_ymd_opt(year, m, d);
    let easter = NaiveDate::from_ymd_opt(year, 1, 1).map(|_| easter_sunday(year));
    let after_easter = move |n| easter.and_then(|e| e.checked_add_days(Days::new(n)));
    // King's Day moves to the 26th when the 27th is a Sunday.
    let kings_day = ymd(4, 27).and_then(|d| if d.weekday() == Weekday::Sun { ymd(4, 26) } else { Some(d) });
    [
        (ymd(1, 1), "New Year's Day"),
        (after_easter(1), "Easter Monday"),
        (kings_day, "King's Day"),
        (ymd(5, 5), "Liberation Day"),
        (after_easter(39), "Ascension Day"),
        (after_easter(50), "Whit Monday"),
        (ymd(12, 25), "Christmas Day"),
        (ymd(12, 26), "Boxing Day"),
    ]
    .into_iter()
    .filter_map(|(date, name)| Some((date?, name)))
}

/// Which statutory holiday a date is, if any (for messages and tests).
pub fn public_holiday(date: NaiveDate) -> Option<&'static str> {
    statutory_holidays(date.year()).find(|&(d, _)| d == date).map(|(_, name)| name)
}

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

/// The working-day calendar: Monday to Friday minus the statutory holidays, minus any
/// extra closing days the operator configures (Good Friday, 24 or 31 December, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Calendar {
    extra_closing_days: BTreeSet<NaiveDate>,
}

impl Calendar {
    pub fn new(extra_closing_days: impl IntoIterator<Item = NaiveDate>) -> Self {
        Self { extra_closing_days: extra_closing_days.into_iter().collect() }
    }

    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        !is_weekend(date) && public_holiday(date).is_none() && !self.extra_closing_days.contains(&date)
    }

    /// The first working day strictly after `date`.
    ///
    /// The search is bounded: statutory holidays never close more than two weekdays in any
    /// 7-day window, so every full week of a closed stretch needs at least three extra
    /// closing days, and a stretch of 7 * (extra + 1) days always holds a working day.
    fn next_working_day_after(&self, date: NaiveDate) -> NaiveDate {
        let limit = 7 * (self.extra_closing_days.len() + 1);
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
        // A set, because a date can be a holiday twice over or also be configured as closed.
        let closed_weekdays: BTreeSet<NaiveDate> = (from.year()..=to.year())
            .flat_map(|year| statutory_holidays(year).map(|(d, _)| d))
            .filter(in_span)
            .chain(self.extra_closing_days.range((Bound::Excluded(from), Bound::Included(to))).copied())
            .filter(|d| !is_weekend(*d))
            .collect();
        weekdays_through(to) - weekdays_through(from) - closed_weekdays.len() as i64
    }
}

/// The three deadlines of a complaint, fixed at registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    pub received: NaiveDate,
    pub acknowledge_by: NaiveDate,
    pub progress_by: NaiveDate,
    pub respond_by: NaiveDate,
}

impl Deadlines {
    /// Computes all deadlines from the date of receipt, so they never shift afterwards
    /// (e.g. when the operator later changes the closing days).
    pub fn compute(calendar: &Calendar, received: NaiveDate) -> Self {
        let four_weeks = received.checked_add_signed(chrono::TimeDelta::days(RESPONSE_CALENDAR_DAYS)).unwrap_or(NaiveDate::MAX);
        Self {
            received,
            acknowledge_by: calendar.add_working_days(received, ACKNOWLEDGE_WORKING_DAYS),
            progress_by: calendar.add_working_days(received, PROGRESS_WORKING_DAYS),
            respond_by: calendar.on_or_next_working_day(four_weeks),
        }
    }
}

/// The Europe/Amsterdam calendar date of an instant (the date of receipt of a mail).
///
/// The regulation counts from the Dutch calendar date, so a mail arriving at 23:30 UTC
/// already belongs to the next day.
pub fn amsterdam_date(instant: DateTime<Utc>) -> NaiveDate {
    instant.with_timezone(&chrono_tz::Europe::Amsterdam).date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn utc(y: i32, m: u32, day: u32, h: u32, min: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, day, h, min, s).unwrap()
    }

    fn deadlines(cal: &Calendar, received: NaiveDate) -> (NaiveDate, NaiveDate, NaiveDate) {
        let dl = Deadlines::compute(cal, received);
        assert_eq!(dl.received, received);
        (dl.acknowledge_by, dl.progress_by, dl.respond_by)
    }

    #[test]
    fn easter_sunday_known_years() {
        assert_eq!(easter_sunday(2019), d(2019, 4, 21));
        assert_eq!(easter_sunday(2024), d(2024, 3, 31));
        assert_eq!(easter_sunday(2025), d(2025, 4, 20));
        assert_eq!(easter_sunday(2026), d(2026, 4, 5));
        assert_eq!(easter_sunday(2027), d(2027, 3, 28));
        assert_eq!(easter_sunday(2016), d(2016, 3, 27));
        assert_eq!(easter_sunday(2000), d(2000, 4, 23));
        // Extremes: latest (25 April) and earliest (22 March) possible dates.
        assert_eq!(easter_sunday(2038), d(2038, 4, 25));
        assert_eq!(easter_sunday(1943), d(1943, 4, 25));
        assert_eq!(easter_sunday(2008), d(2008, 3, 23));
        assert_eq!(easter_sunday(2285), d(2285, 3, 22));
        assert_eq!(easter_sunday(1818), d(1818, 3, 22));
    }

    #[test]
    fn easter_is_always_a_sunday_between_march_22_and_april_25() {
        for year in 1583..=4100 {
            let e = easter_sunday(year);
            assert_eq!(e.weekday(), Weekday::Sun, "{e}");
            assert!(d(year, 3, 22) <= e && e <= d(year, 4, 25), "{e}");
        }
    }

    #[test]
    fn statutory_holidays_2026() {
        assert_eq!(public_holiday(d(2026, 1, 1)), Some("New Year's Day"));
        assert_eq!(public_holiday(d(2026, 4, 6)), Some("Easter Monday"));
        assert_eq!(public_holiday(d(2026, 4, 27)), Some("King's Day"));
        assert_eq!(public_holiday(d(2026, 5, 5)), Some("Liberation Day"));
        assert_eq!(public_holiday(d(2026, 5, 14)), Some("Ascension Day"));
        assert_eq!(public_holiday(d(2026, 5, 25)), Some("Whit Monday"));
        assert_eq!(public_holiday(d(2026, 12, 25)), Some("Christmas Day"));
        assert_eq!(public_holiday(d(2026, 12, 26)), Some("Boxing Day"));
    }

    #[test]
    fn statutory_holidays_other_years() {
        // 2024
        assert_eq!(public_holiday(d(2024, 1, 1)), Some("New Year's Day"));
        assert_eq!(public_holiday(d(2024, 4, 1)), Some("Easter Monday"));
        assert_eq!(public_holiday(d(2024, 4, 27)), Some("King's Day")); // Saturday: stays
        assert_eq!(public_holiday(d(2024, 5, 5)), Some("Liberation Day"));
        assert_eq!(public_holiday(d(2024, 5, 9)), Some("Ascension Day"));
        assert_eq!(public_holiday(d(2024, 5, 20)), Some("Whit Monday"));
        // 2025
        assert_eq!(public_holiday(d(2025, 4, 21)), Some("Easter Monday"));
        assert_eq!(public_holiday(d(2025, 5, 5)), Some("Liberation Day"));
        assert_eq!(public_holiday(d(2025, 5, 29)), Some("Ascension Day"));
        assert_eq!(public_holiday(d(2025, 6, 9)), Some("Whit Monday"));
        assert_eq!(public_holiday(d(2025, 12, 25)), Some("Christmas Day"));
        assert_eq!(public_holiday(d(2025, 12, 26)), Some("Boxing Day"));
        // 2027
        assert_eq!(public_holiday(d(2027, 1, 1)), Some("New Year's Day"));
        assert_eq!(public_holiday(d(2027, 3, 29)), Some("Easter Monday"));
        assert_eq!(public_holiday(d(2027, 4, 27)), Some("King's Day"));
        assert_eq!(public_holiday(d(2027, 5, 5)), Some("Liberation Day"));
        assert_eq!(public_holiday(d(2027, 5, 6)), Some("Ascension Day"));
        assert_eq!(public_holiday(d(2027, 5, 17)), Some("Whit Monday"));
        // 5 May is a holiday every year, not only in lustrum years.
        for year in 2020..=2040 {
            assert_eq!(public_holiday(d(year, 5, 5)), Some("Liberation Day"), "{year}");
        }
        // 2016: Ascension Day falls on 5 May.
        assert!(public_holiday(d(2016, 5, 5)).is_some());
    }

    #[test]
    fn kings_day_moves_to_saturday_when_27_april_is_a_sunday() {
        // 27 April 2025 is a Sunday: King's Day is Saturday 26 April 2025.
        assert_eq!(public_holiday(d(2025, 4, 26)), Some("King's Day"));
        assert_eq!(public_holiday(d(2025, 4, 27)), None);
        assert_eq!(public_holiday(d(2014, 4, 26)), Some("King's Day"));
        assert_eq!(public_holiday(d(2014, 4, 27)), None);
        assert_eq!(public_holiday(d(2031, 4, 26)), Some("King's Day"));
        assert_eq!(public_holiday(d(2026, 4, 26)), None);
    }

    #[test]
    fn non_holidays() {
        assert_eq!(public_holiday(d(2026, 4, 3)), None); // Good Friday is not statutory
        assert_eq!(public_holiday(d(2026, 4, 5)), None); // Easter Sunday: a Sunday anyway
        assert_eq!(public_holiday(d(2026, 12, 24)), None);
        assert_eq!(public_holiday(d(2026, 12, 31)), None);
        assert_eq!(public_holiday(d(2026, 11, 20)), None);
    }

    #[test]
    fn working_days() {
        let cal = Calendar::default();
        assert!(cal.is_working_day(d(2026, 11, 20))); // Friday
        assert!(!cal.is_working_day(d(2026, 11, 21))); // Saturday
        assert!(!cal.is_working_day(d(2026, 11, 22))); // Sunday
        assert!(!cal.is_working_day(d(2026, 4, 6))); // Easter Monday
        assert!(cal.is_working_day(d(2026, 4, 3))); // Good Friday
        let closed = Calendar::new([d(2026, 4, 3)]);
        assert!(!closed.is_working_day(d(2026, 4, 3)));
        assert!(closed.is_working_day(d(2026, 4, 2)));
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
        // Thursday before Easter 2026: Good Friday counts, Easter Monday does not.
        assert_eq!(deadlines(&cal, d(2026, 4, 2)), (d(2026, 4, 10), d(2026, 4, 17), d(2026, 4, 30)));
    }

    #[test]
    fn deadlines_over_ascension_and_whit_monday() {
        let cal = Calendar::default();
        // Mon 11 May 2026: Ascension Thu 14 May and Whit Monday 25 May are skipped.
        assert_eq!(deadlines(&cal, d(2026, 5, 11)), (d(2026, 5, 19), d(2026, 5, 27), d(2026, 6, 8)));
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
    fn extra_closing_days_shift_deadlines() {
        let good_friday = Calendar::new([d(2026, 4, 3)]);
        assert_eq!(deadlines(&good_friday, d(2026, 4, 2)), (d(2026, 4, 13), d(2026, 4, 20), d(2026, 4, 30)));
        // Four weeks from Fri 6 Mar lands on Good Friday 3 Apr.
        assert_eq!(Deadlines::compute(&Calendar::default(), d(2026, 3, 6)).respond_by, d(2026, 4, 3));
        assert_eq!(Deadlines::compute(&good_friday, d(2026, 3, 6)).respond_by, d(2026, 4, 7));

        let year_end = Calendar::new([d(2026, 12, 24), d(2026, 12, 31)]);
        assert_eq!(deadlines(&year_end, d(2026, 12, 18)), (d(2026, 12, 29), d(2027, 1, 7), d(2027, 1, 15)));
    }

    #[test]
    fn statutory_holidays_close_at_most_two_weekdays_in_any_week() {
        // The search bound in `next_working_day_after` relies on this.
        let cal = Calendar::default();
        for start in d(2000, 1, 1).iter_days().take_while(|x| x.year() < 2200) {
            let closed = start.iter_days().take(7).filter(|x| !is_weekend(*x) && !cal.is_working_day(*x)).count();
            assert!(closed <= 2, "{start}");
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
        // 2026: 261 weekdays, 7 holidays on weekdays (Boxing Day is a Saturday).
        assert_eq!(cal.working_days_between(d(2025, 12, 31), d(2026, 12, 31)), 254);
        // 2016: 261 weekdays; Ascension and 5 May coincide, Christmas is a Sunday -> 6.
        assert_eq!(cal.working_days_between(d(2015, 12, 31), d(2016, 12, 31)), 255);
        // An extra closing day on a weekday counts once, on a Saturday not at all.
        let extra = Calendar::new([d(2026, 4, 3), d(2026, 4, 6), d(2026, 4, 4)]);
        assert_eq!(extra.working_days_between(d(2026, 4, 2), d(2026, 4, 10)), 4);
        assert_eq!(cal.working_days_between(d(2026, 4, 2), d(2026, 4, 10)), 5);
    }

    #[test]
    fn working_days_between_matches_day_by_day_count_and_add_working_days() {
        let cal = Calendar::new([d(2026, 4, 3), d(2026, 12, 24), d(2026, 12, 31), d(2027, 5, 7)]);
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
