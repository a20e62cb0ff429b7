//! The presets against the specification (REGULATION.md, "Deadlines, exactly", and Awb 9:11),
//! on the dates it and the issue name, across Easter, Christmas and the days royal decrees
//! equate with a holiday.

use super::*;

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn reintegratie() -> Procedure {
    Procedure::preset(Preset::Reintegratie, false)
}

fn awb() -> Procedure {
    Procedure::preset(Preset::Awb, false)
}

#[test]
fn reintegratie_is_the_seeds_regulation_on_its_example() {
    let cal = Calendar::default();
    // REGULATION.md: received Friday 20 November 2026.
    let dl = reintegratie().deadlines(&cal, d(2026, 11, 20));
    assert_eq!((dl.acknowledge_by, dl.progress_by, dl.respond_by), (d(2026, 11, 27), Some(d(2026, 12, 4)), d(2026, 12, 18)));
    assert_eq!(Deadlines::compute(&cal, d(2026, 11, 20)), dl, "the old entry point is the preset");
    let p = reintegratie();
    assert_eq!(p.hearing_answer, Some(Term::WorkingDays(5)));
    assert_eq!(p.postponement, Some(Term::Weeks(4)));
}

#[test]
fn awb_six_weeks_over_christmas_and_new_year() {
    let cal = Calendar::default();
    // Six weeks from Fri 20 Nov 2026 is Fri 1 Jan 2027, New Year's Day: past the weekend to Mon 4 Jan.
    let dl = awb().deadlines(&cal, d(2026, 11, 20));
    assert_eq!((dl.acknowledge_by, dl.progress_by, dl.respond_by), (d(2026, 11, 27), None, d(2027, 1, 4)));
    // With an advisory committee ten weeks: Fri 29 Jan 2027, a working day.
    assert_eq!(Procedure::preset(Preset::Awb, true).deadlines(&cal, d(2026, 11, 20)).respond_by, d(2027, 1, 29));
    // Thu 24 Dec 2026: the acknowledgement skips Christmas, Boxing Day and New Year's Day.
    let dl = awb().deadlines(&cal, d(2026, 12, 24));
    assert_eq!((dl.acknowledge_by, dl.respond_by), (d(2027, 1, 4), d(2027, 2, 4)));
    // Six weeks from Fri 13 Nov 2026 is Christmas Day: Boxing Day and Sunday too, so Mon 28 Dec.
    assert_eq!(awb().deadlines(&cal, d(2026, 11, 13)).respond_by, d(2026, 12, 28));
}

#[test]
fn awb_over_easter() {
    let cal = Calendar::default();
    // Six weeks from Fri 20 Feb 2026 is Good Friday (3 April, Atw art. 3(2)); Easter Monday
    // is closed too: Tue 7 April.
    assert_eq!(awb().deadlines(&cal, d(2026, 2, 20)).respond_by, d(2026, 4, 7));
    // Received the Thursday before Easter 2026: Good Friday and Easter Monday are no working days.
    let dl = awb().deadlines(&cal, d(2026, 4, 2));
    // Six weeks is Thu 14 May, Ascension Day, and Fri 15 May is equated by decree: Mon 18 May.
    assert_eq!((dl.acknowledge_by, dl.respond_by), (d(2026, 4, 13), d(2026, 5, 18)));
    // Ten weeks from Fri 15 Jan 2027 is Good Friday 26 March 2027; Easter Monday 29 March: Tue 30 March.
    assert_eq!(Procedure::preset(Preset::Awb, true).deadlines(&cal, d(2027, 1, 15)).respond_by, d(2027, 3, 30));
}

#[test]
fn awb_over_the_days_royal_decrees_equate() {
    let cal = Calendar::default();
    // Six weeks from Fri 3 Apr 2026 (itself Good Friday) is Fri 15 May 2026, equated by the
    // 2026-2028 decree (the day after Ascension): Mon 18 May.
    assert_eq!(awb().deadlines(&cal, d(2026, 4, 3)).respond_by, d(2026, 5, 18));
    // Six weeks from Fri 21 Nov 2025 is Fri 2 Jan 2026, equated: Mon 5 Jan.
    assert_eq!(awb().deadlines(&cal, d(2025, 11, 21)).respond_by, d(2026, 1, 5));
    // Ten weeks from Fri 18 Feb 2028 is Fri 28 April 2028, equated (after King's Day): Mon 1 May.
    assert_eq!(Procedure::preset(Preset::Awb, true).deadlines(&cal, d(2028, 2, 18)).respond_by, d(2028, 5, 1));
    // Received Thu 7 May 2026: Ascension Day and Fri 15 May are not counted.
    assert_eq!(awb().deadlines(&cal, d(2026, 5, 7)).acknowledge_by, d(2026, 5, 18));
}

#[test]
fn postponement_and_hearing_answer_terms() {
    let cal = Calendar::default();
    let four_weeks = reintegratie().postponement.unwrap();
    // A response due Fri 27 Nov 2026 postponed four weeks lands on Christmas Day: Mon 28 Dec.
    assert_eq!(four_weeks.due(&cal, d(2026, 11, 27)), d(2026, 12, 28));
    assert_eq!(four_weeks.due(&cal, d(2026, 12, 18)), d(2027, 1, 15));
    // Five working days to answer an invitation sent Thu 24 Dec 2026: Mon 4 Jan 2027.
    assert_eq!(reintegratie().hearing_answer.unwrap().due(&cal, d(2026, 12, 24)), d(2027, 1, 4));
}

#[test]
fn how_many_weeks_a_postponement_may_take() {
    let cal = Calendar::default();
    let with = |postponement| Procedure { postponement, ..reintegratie() };
    assert_eq!(reintegratie().postponement_weeks(&cal, d(2026, 12, 18)), 4);
    assert_eq!(with(None).postponement_weeks(&cal, d(2026, 12, 18)), 0);
    assert_eq!(with(Some(Term::Weeks(2))).postponement_weeks(&cal, d(2026, 12, 18)), 2);
    assert_eq!(with(Some(Term::Weeks(9))).postponement_weeks(&cal, d(2026, 12, 18)), 4, "never more than the law's four");
    assert_eq!(with(Some(Term::CalendarDays(6))).postponement_weeks(&cal, d(2026, 12, 18)), 0);
    // 10 working days from Fri 18 Dec 2026 (Christmas, Boxing Day and New
    // Year's Day are closed) end Tue 5 Jan: two weeks (Mon 4 Jan, moved from New Year's Day) fit, three do not.
    assert_eq!(with(Some(Term::WorkingDays(10))).postponement_weeks(&cal, d(2026, 12, 18)), 2);
    // 20 working days from Mon 2 Mar 2026 end Mon 30 Mar: four weeks fit exactly.
    assert_eq!(with(Some(Term::WorkingDays(20))).postponement_weeks(&cal, d(2026, 3, 2)), 4);
}

#[test]
fn each_kind_of_term_counts_as_the_calendar_does() {
    let cal = Calendar::new([d(2026, 12, 24), d(2026, 12, 31)]);
    for from in d(2026, 1, 1).iter_days().take(800) {
        assert_eq!(Term::CalendarDays(28).due(&cal, from), Term::Weeks(4).due(&cal, from), "{from}");
        assert_eq!(Term::WorkingDays(7).due(&cal, from), cal.add_working_days(from, 7), "{from}");
        let due = Term::CalendarDays(10).due(&cal, from);
        assert!(cal.is_working_day(due) && due >= from + Days::new(10), "{from}: {due}");
        assert!(due.iter_days().rev().skip(1).take_while(|x| *x >= from + Days::new(10)).all(|x| !cal.is_working_day(x)), "{from}: moved past a working day");
    }
}

#[test]
fn terms_read_and_write() {
    assert_eq!("5 working days".parse(), Ok(Term::WorkingDays(5)));
    assert_eq!("1 working day".parse(), Ok(Term::WorkingDays(1)));
    assert_eq!(" 6  weeks ".parse(), Ok(Term::Weeks(6)));
    assert_eq!("28 calendar days".parse(), Ok(Term::CalendarDays(28)));
    assert!("six weeks".parse::<Term>().unwrap_err().contains("N working days, N weeks or N calendar days"));
    assert!("5 days".parse::<Term>().is_err());
    assert!("0 weeks".parse::<Term>().unwrap_err().contains("1 to 366"));
    assert_eq!(Term::Weeks(1).to_string(), "1 week");
    assert_eq!(Term::WorkingDays(10).describe("nl"), "10 werkdagen");
    assert_eq!(Term::Weeks(1).describe("nl"), "1 week");
    assert_eq!(Term::Weeks(6).describe("nl"), "6 weken");
    assert_eq!(Term::CalendarDays(1).describe("en"), "1 calendar day");
    assert_eq!(Term::CalendarDays(28).describe("nl"), "28 kalenderdagen");
}

#[test]
fn a_procedure_is_stored_and_read_back() {
    let stored = reintegratie().to_string();
    assert_eq!(stored, "acknowledge=5 working days; progress=10 working days; respond=4 weeks; hearing-answer=5 working days; postponement=4 weeks");
    assert_eq!(stored.parse(), Ok(reintegratie()));
    assert_eq!(awb().to_string().parse(), Ok(awb()));
    assert!(awb().to_string().contains("progress=none"));
    assert!("acknowledge=5 working days".parse::<Procedure>().unwrap_err().contains("lacks a term"));
    assert!("acknowledge=none; progress=none; respond=4 weeks; hearing-answer=none; postponement=none".parse::<Procedure>().is_err());
    assert!("ack=5 working days".parse::<Procedure>().unwrap_err().contains("not a term of a procedure"));
    assert_eq!("awb".parse(), Ok(Preset::Awb));
    assert!("wmo".parse::<Preset>().unwrap_err().contains("reintegratie, awb"));
}
