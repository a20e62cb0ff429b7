//! The days the Algemene termijnenwet (Atw) closes, art. 3: the holidays of paragraph 1 and
//! Good Friday (paragraph 2) computed for any year, and the days royal decrees equate with
//! them (paragraph 3), which are listed because no rule predicts them.

use chrono::{Datelike, Days, NaiveDate, Weekday};

/// A holiday of the Atw, art. 3(1) or 3(2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Holiday {
    NewYearsDay,
    GoodFriday,
    EasterMonday,
    KingsDay,
    LiberationDay,
    AscensionDay,
    WhitMonday,
    ChristmasDay,
    BoxingDay,
}

impl Holiday {
    pub fn name(self) -> &'static str {
        match self {
            Holiday::NewYearsDay => "New Year's Day",
            Holiday::GoodFriday => "Good Friday",
            Holiday::EasterMonday => "Easter Monday",
            Holiday::KingsDay => "King's Day",
            Holiday::LiberationDay => "Liberation Day",
            Holiday::AscensionDay => "Ascension Day",
            Holiday::WhitMonday => "Whit Monday",
            Holiday::ChristmasDay => "Christmas Day",
            Holiday::BoxingDay => "Boxing Day",
        }
    }

    /// The name the Act itself uses.
    pub fn dutch_name(self) -> &'static str {
        match self {
            Holiday::NewYearsDay => "Nieuwjaarsdag",
            Holiday::GoodFriday => "Goede Vrijdag",
            Holiday::EasterMonday => "tweede Paasdag",
            Holiday::KingsDay => "Koningsdag",
            Holiday::LiberationDay => "Bevrijdingsdag",
            Holiday::AscensionDay => "Hemelvaartsdag",
            Holiday::WhitMonday => "tweede Pinksterdag",
            Holiday::ChristmasDay => "eerste Kerstdag",
            Holiday::BoxingDay => "tweede Kerstdag",
        }
    }

    /// The provision that makes it a holiday for the Act.
    pub fn article(self) -> &'static str {
        match self {
            Holiday::GoodFriday => "Atw art. 3(2)",
            _ => "Atw art. 3(1)",
        }
    }
}

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

/// The holidays of Atw art. 3(1) and 3(2) in `year`, in calendar order. Two entries can
/// share a date (Ascension Day can fall on 5 May, as in 2016).
pub fn holidays(year: i32) -> impl Iterator<Item = (NaiveDate, Holiday)> {
    let ymd = move |m, d| NaiveDate::from_ymd_opt(year, m, d);
    let easter = NaiveDate::from_ymd_opt(year, 1, 1).map(|_| easter_sunday(year));
    let from_easter = move |n: i64| easter.and_then(|e| e.checked_add_signed(chrono::TimeDelta::days(n)));
    // King's Day moves to the 26th when the 27th is a Sunday.
    let kings_day = ymd(4, 27).and_then(|d| if d.weekday() == Weekday::Sun { ymd(4, 26) } else { Some(d) });
    [
        (ymd(1, 1), Holiday::NewYearsDay),
        (from_easter(-2), Holiday::GoodFriday),
        (from_easter(1), Holiday::EasterMonday),
        (kings_day, Holiday::KingsDay),
        (ymd(5, 5), Holiday::LiberationDay),
        (from_easter(39), Holiday::AscensionDay),
        (from_easter(50), Holiday::WhitMonday),
        (ymd(12, 25), Holiday::ChristmasDay),
        (ymd(12, 26), Holiday::BoxingDay),
    ]
    .into_iter()
    .filter_map(|(date, holiday)| Some((date?, holiday)))
}

/// Which holiday of art. 3(1) or 3(2) a date is, if any.
pub fn holiday(date: NaiveDate) -> Option<Holiday> {
    // Only the Easter-based ones need Easter; most dates are settled without computing it.
    holidays(date.year()).find(|&(d, _)| d == date).map(|(_, h)| h)
}

/// A royal decree under Atw art. 3(3): it equates days with a holiday, once every three
/// years for the three years ahead. `first_year..=last_year` is the span it settles, so a
/// year inside it without one of its days has none for certain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decree {
    pub title: String,
    pub first_year: i32,
    pub last_year: i32,
    pub days: Vec<NaiveDate>,
}

impl Decree {
    pub fn covers(&self, year: i32) -> bool {
        (self.first_year..=self.last_year).contains(&year)
    }
}

/// A decree as written into this version: title, first and last year, days as (y, m, d).
type KnownDecree = (&'static str, i32, i32, &'static [(i32, u32, u32)]);

/// The decrees published when this version was made. Later ones go in the configuration
/// (`[[calendar.decrees]]`) without an upgrade.
const KNOWN_DECREES: &[KnownDecree] = &[
    (
        "Besluit gelijkstelling van 28 april 2023, 19 mei 2023, 10 mei 2024, 27 december 2024 en 30 mei 2025 met een algemeen erkende feestdag",
        2023,
        2025,
        &[(2023, 4, 28), (2023, 5, 19), (2024, 5, 10), (2024, 12, 27), (2025, 5, 30)],
    ),
    (
        "Besluit gelijkstelling van 2 januari 2026, 15 mei 2026, 7 mei 2027, 28 april 2028 en 26 mei 2028 met een algemeen erkende feestdag",
        2026,
        2028,
        &[(2026, 1, 2), (2026, 5, 15), (2027, 5, 7), (2028, 4, 28), (2028, 5, 26)],
    ),
];

pub fn known_decrees() -> Vec<Decree> {
    KNOWN_DECREES
        .iter()
        .map(|&(title, first_year, last_year, days)| Decree {
            title: title.to_string(),
            first_year,
            last_year,
            days: days.iter().filter_map(|&(y, m, d)| NaiveDate::from_ymd_opt(y, m, d)).collect(),
        })
        .collect()
}

/// The first day after `date` + `days`, for "the coming N days" without overflow.
pub(super) fn days_after(date: NaiveDate, days: u64) -> NaiveDate {
    date.checked_add_days(Days::new(days)).unwrap_or(NaiveDate::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
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
    fn holidays_2026() {
        let all: Vec<_> = holidays(2026).collect();
        assert_eq!(
            all,
            vec![
                (d(2026, 1, 1), Holiday::NewYearsDay),
                (d(2026, 4, 3), Holiday::GoodFriday),
                (d(2026, 4, 6), Holiday::EasterMonday),
                (d(2026, 4, 27), Holiday::KingsDay),
                (d(2026, 5, 5), Holiday::LiberationDay),
                (d(2026, 5, 14), Holiday::AscensionDay),
                (d(2026, 5, 25), Holiday::WhitMonday),
                (d(2026, 12, 25), Holiday::ChristmasDay),
                (d(2026, 12, 26), Holiday::BoxingDay),
            ]
        );
    }

    #[test]
    fn holidays_other_years() {
        assert_eq!(holiday(d(2024, 3, 29)), Some(Holiday::GoodFriday));
        assert_eq!(holiday(d(2024, 4, 1)), Some(Holiday::EasterMonday));
        assert_eq!(holiday(d(2024, 4, 27)), Some(Holiday::KingsDay)); // Saturday: stays
        assert_eq!(holiday(d(2024, 5, 9)), Some(Holiday::AscensionDay));
        assert_eq!(holiday(d(2024, 5, 20)), Some(Holiday::WhitMonday));
        assert_eq!(holiday(d(2025, 4, 18)), Some(Holiday::GoodFriday));
        assert_eq!(holiday(d(2025, 4, 21)), Some(Holiday::EasterMonday));
        assert_eq!(holiday(d(2025, 5, 29)), Some(Holiday::AscensionDay));
        assert_eq!(holiday(d(2025, 6, 9)), Some(Holiday::WhitMonday));
        assert_eq!(holiday(d(2027, 3, 26)), Some(Holiday::GoodFriday));
        assert_eq!(holiday(d(2027, 3, 29)), Some(Holiday::EasterMonday));
        assert_eq!(holiday(d(2027, 5, 6)), Some(Holiday::AscensionDay));
        assert_eq!(holiday(d(2027, 5, 17)), Some(Holiday::WhitMonday));
        // 5 May is a holiday every year, not only in lustrum years.
        for year in 2020..=2040 {
            assert_eq!(holiday(d(year, 5, 5)), Some(Holiday::LiberationDay), "{year}");
        }
        // 2016: Ascension Day falls on 5 May; both are listed.
        assert_eq!(holidays(2016).filter(|&(date, _)| date == d(2016, 5, 5)).count(), 2);
        // Not holidays of the Act: Easter Sunday, Christmas Eve, New Year's Eve.
        for date in [d(2026, 4, 5), d(2026, 12, 24), d(2026, 12, 31), d(2026, 11, 20)] {
            assert_eq!(holiday(date), None, "{date}");
        }
    }

    #[test]
    fn good_friday_is_two_days_before_easter_every_year() {
        for year in 1900..=2200 {
            let friday: Vec<_> = holidays(year).filter(|&(_, h)| h == Holiday::GoodFriday).collect();
            assert_eq!(friday.len(), 1);
            assert_eq!(friday[0].0.weekday(), Weekday::Fri);
            assert_eq!(friday[0].0 + Days::new(2), easter_sunday(year));
        }
    }

    #[test]
    fn kings_day_moves_to_saturday_when_27_april_is_a_sunday() {
        assert_eq!(holiday(d(2025, 4, 26)), Some(Holiday::KingsDay));
        assert_eq!(holiday(d(2025, 4, 27)), None);
        assert_eq!(holiday(d(2014, 4, 26)), Some(Holiday::KingsDay));
        assert_eq!(holiday(d(2014, 4, 27)), None);
        assert_eq!(holiday(d(2031, 4, 26)), Some(Holiday::KingsDay));
        assert_eq!(holiday(d(2026, 4, 26)), None);
    }

    #[test]
    fn known_decrees_are_well_formed() {
        let decrees = known_decrees();
        for decree in &decrees {
            assert_eq!(decree.last_year - decree.first_year, 2, "{}", decree.title);
            for day in &decree.days {
                assert!(decree.covers(day.year()), "{day}");
                assert!(!matches!(day.weekday(), Weekday::Sat | Weekday::Sun), "{day}");
                assert_eq!(holiday(*day), None, "{day}");
            }
        }
        // One decree after the other, no gap.
        for pair in decrees.windows(2) {
            assert_eq!(pair[0].last_year + 1, pair[1].first_year);
        }
        let days: usize = decrees.iter().map(|d| d.days.len()).sum();
        assert_eq!(days, 10);
    }
}
