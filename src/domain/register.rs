//! The register of complaints (R10): figures over a period for evaluation. Pure: computed from
//! the facts of each case, which retention never removes, so the figures survive it.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;

use super::awb::{HearingOutcome, NotHandledGround};
use super::calendar::Calendar;
use super::procedure::{CaseOutcome, Category};

/// What the register needs of one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseFacts {
    pub reference: String,
    pub received_on: NaiveDate,
    pub category: Option<Category>,
    pub outcome: Option<CaseOutcome>,
    pub acknowledge_by: NaiveDate,
    pub acknowledged_on: Option<NaiveDate>,
    /// `None`: the case's procedure has no progress notice (it is not counted).
    pub progress_by: Option<NaiveDate>,
    pub progress_on: Option<NaiveDate>,
    pub respond_by: NaiveDate,
    pub responded_on: Option<NaiveDate>,
    pub requests_for_information: i64,
    pub external_body: Option<String>,
    pub measures: Option<String>,
    /// The date of the final response before it was first postponed (Awb 9:11); `respond_by`
    /// is then the postponed date.
    pub original_respond_by: Option<NaiveDate>,
    pub postponements: u32,
    /// The Awb 9:8 ground of a complaint not handled.
    pub not_handled_ground: Option<NotHandledGround>,
    /// How many final responses the case's history records (one before a reopening counts).
    pub final_responses: i64,
    /// `held`, or the Awb 9:10(2) ground there was no hearing on; `None`: not decided.
    pub hearing_outcome: Option<HearingOutcome>,
}

/// How the cases of a period did on one deadline. `open` and `missed` are the deadlines not met
/// yet, as of the report's date: `open` ones are not due yet, `missed` ones are past their date.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeadlineFigures {
    pub on_time: usize,
    pub late: usize,
    pub open: usize,
    pub missed: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// The day unmet deadlines are judged on: `to`, or today when that is earlier.
    pub as_of: NaiveDate,
    pub received: usize,
    pub by_category: BTreeMap<String, usize>,
    pub by_outcome: BTreeMap<String, usize>,
    pub acknowledgement: DeadlineFigures,
    pub progress_notice: DeadlineFigures,
    pub final_response: DeadlineFigures,
    /// Working days from receipt to the final response, over cases that have one.
    pub handling_days_median: Option<f64>,
    pub handling_days_longest: Option<i64>,
    pub requests_for_information: i64,
    pub external_escalations: usize,
    /// (reference, measures) of every case that recorded measures.
    pub measures: Vec<(String, String)>,
    /// The steps of Awb chapter 9.
    pub awb: AwbFigures,
}

/// The register's figures of the Awb chapter 9 steps.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AwbFigures {
    /// Cases whose final response was postponed (9:11), and those postponed more than once
    /// (with the complainant's written consent).
    pub postponed: usize,
    pub postponed_again: usize,
    /// The final response judged against the date before any postponement; `final_response`
    /// judges it against the date in force (the postponed one).
    pub final_response_original: DeadlineFigures,
    /// Complaints not handled (9:8), in all and by ground.
    pub not_handled: usize,
    pub not_handled_by_ground: BTreeMap<String, usize>,
    /// Complaints settled to the complainant's satisfaction (9:5), and of those the ones settled
    /// before any formal (final) response.
    pub settled: usize,
    pub settled_before_response: usize,
    /// Complaints whose complainant was heard (9:10), and those without a hearing by ground.
    pub heard: usize,
    pub no_hearing_by_ground: BTreeMap<String, usize>,
}

/// The register over cases received from `from` to `to` inclusive (`facts` may hold more). A
/// deadline not met is `missed` when its date lies before `to` or `today`, whichever is
/// earlier, and `open` otherwise (on its due date it can still be met).
pub fn compute(facts: &[CaseFacts], calendar: &Calendar, from: NaiveDate, to: NaiveDate, today: NaiveDate) -> Report {
    let as_of = to.min(today);
    let cases: Vec<&CaseFacts> = facts.iter().filter(|f| f.received_on >= from && f.received_on <= to).collect();
    let mut by_category = BTreeMap::new();
    let mut by_outcome = BTreeMap::new();
    let (mut ack, mut progress, mut response) = (DeadlineFigures::default(), DeadlineFigures::default(), DeadlineFigures::default());
    let mut handling = Vec::new();
    for c in &cases {
        *by_category.entry(c.category.map_or("uncategorised", Category::as_str).to_string()).or_insert(0) += 1;
        *by_outcome.entry(c.outcome.map_or("open", CaseOutcome::as_str).to_string()).or_insert(0) += 1;
        tally(&mut ack, c.acknowledged_on, c.acknowledge_by, as_of);
        if let Some(by) = c.progress_by {
            tally(&mut progress, c.progress_on, by, as_of);
        }
        tally(&mut response, c.responded_on, c.respond_by, as_of);
        if let Some(done) = c.responded_on {
            handling.push(calendar.working_days_between(c.received_on, done));
        }
    }
    let mut awb = AwbFigures::default();
    for c in &cases {
        if c.postponements > 0 {
            awb.postponed += 1;
        }
        if c.postponements > 1 {
            awb.postponed_again += 1;
        }
        tally(&mut awb.final_response_original, c.responded_on, c.original_respond_by.unwrap_or(c.respond_by), as_of);
        if let Some(ground) = c.not_handled_ground {
            awb.not_handled += 1;
            *awb.not_handled_by_ground.entry(ground.as_str().to_string()).or_insert(0) += 1;
        }
        match c.hearing_outcome {
            Some(HearingOutcome::Held) => awb.heard += 1,
            Some(HearingOutcome::NoHearing(ground)) => *awb.no_hearing_by_ground.entry(ground.as_str().to_string()).or_insert(0) += 1,
            None => {}
        }
        if c.outcome == Some(CaseOutcome::Settled) {
            awb.settled += 1;
            if c.final_responses == 0 {
                awb.settled_before_response += 1;
            }
        }
    }
    handling.sort_unstable();
    let median = match handling.len() {
        0 => None,
        n if n % 2 == 1 => Some(handling[n / 2] as f64),
        n => Some((handling[n / 2 - 1] + handling[n / 2]) as f64 / 2.0),
    };
    Report {
        from,
        to,
        as_of,
        received: cases.len(),
        by_category,
        by_outcome,
        acknowledgement: ack,
        progress_notice: progress,
        final_response: response,
        handling_days_median: median,
        handling_days_longest: handling.last().copied(),
        requests_for_information: cases.iter().map(|c| c.requests_for_information).sum(),
        external_escalations: cases.iter().filter(|c| c.external_body.is_some()).count(),
        measures: cases
            .iter()
            .filter_map(|c| c.measures.as_ref().filter(|m| !m.trim().is_empty()).map(|m| (c.reference.clone(), m.trim().to_string())))
            .collect(),
        awb,
    }
}

fn tally(figures: &mut DeadlineFigures, met: Option<NaiveDate>, due: NaiveDate, as_of: NaiveDate) {
    match met {
        Some(day) if day <= due => figures.on_time += 1,
        Some(_) => figures.late += 1,
        None if due < as_of => figures.missed += 1,
        None => figures.open += 1,
    }
}

impl Report {
    /// One `section,key,value` row per figure.
    pub fn to_csv(&self) -> String {
        let mut rows = vec!["section,key,value".to_string()];
        let mut push = |section: &str, key: &str, value: String| rows.push(format!("{},{},{}", csv(section), csv(key), csv(&value)));
        push("period", "from", self.from.to_string());
        push("period", "to", self.to.to_string());
        push("period", "as_of", self.as_of.to_string());
        push("complaints", "received", self.received.to_string());
        for (k, v) in &self.by_category {
            push("category", k, v.to_string());
        }
        for (k, v) in &self.by_outcome {
            push("outcome", k, v.to_string());
        }
        for (name, f) in [("acknowledgement", &self.acknowledgement), ("progress_notice", &self.progress_notice), ("final_response", &self.final_response)] {
            push(name, "on_time", f.on_time.to_string());
            push(name, "late", f.late.to_string());
            push(name, "open", f.open.to_string());
            push(name, "missed", f.missed.to_string());
        }
        push("handling_days", "median", self.handling_days_median.map_or(String::new(), |m| m.to_string()));
        push("handling_days", "longest", self.handling_days_longest.map_or(String::new(), |m| m.to_string()));
        push("complaints", "requests_for_information", self.requests_for_information.to_string());
        push("complaints", "external_escalations", self.external_escalations.to_string());
        let a = &self.awb;
        push("awb", "postponed", a.postponed.to_string());
        push("awb", "postponed_again", a.postponed_again.to_string());
        for (key, v) in [
            ("on_time", a.final_response_original.on_time),
            ("late", a.final_response_original.late),
            ("open", a.final_response_original.open),
            ("missed", a.final_response_original.missed),
        ] {
            push("final_response_original_date", key, v.to_string());
        }
        push("awb", "not_handled", a.not_handled.to_string());
        for (k, v) in &a.not_handled_by_ground {
            push("not_handled_ground", k, v.to_string());
        }
        push("awb", "settled", a.settled.to_string());
        push("awb", "settled_before_response", a.settled_before_response.to_string());
        push("awb", "heard", a.heard.to_string());
        for (k, v) in &a.no_hearing_by_ground {
            push("no_hearing_ground", k, v.to_string());
        }
        for (reference, m) in &self.measures {
            push("measures", reference, m.clone());
        }
        rows.join("\n") + "\n"
    }

    pub fn to_table(&self) -> String {
        let mut out = format!("Register of complaints {} to {}\n\nReceived: {}\n", self.from, self.to, self.received);
        out += "\nBy category:\n";
        for (k, v) in &self.by_category {
            out += &format!("  {k:<16} {v:>5}\n");
        }
        out += "\nBy outcome:\n";
        for (k, v) in &self.by_outcome {
            out += &format!("  {k:<16} {v:>5}\n");
        }
        out += &format!("\nDeadlines not met as of {}: open (not yet due) or missed (date passed)\n", self.as_of);
        out += &format!("{:<18} {:>8} {:>6} {:>6} {:>6}\n", "Deadline", "on time", "late", "open", "missed");
        for (name, f) in [("acknowledgement", &self.acknowledgement), ("progress notice", &self.progress_notice), ("final response", &self.final_response)] {
            out += &format!("{name:<18} {:>8} {:>6} {:>6} {:>6}\n", f.on_time, f.late, f.open, f.missed);
        }
        let days = |v: Option<String>| v.unwrap_or_else(|| "-".into());
        out += &format!(
            "\nHandling time (working days): median {}, longest {}\nRequests for information: {}\nTaken to the external body: {}\n",
            days(self.handling_days_median.map(|m| m.to_string())),
            days(self.handling_days_longest.map(|m| m.to_string())),
            self.requests_for_information,
            self.external_escalations
        );
        let a = &self.awb;
        let o = &a.final_response_original;
        out +=
            &format!("{:<18} {:>8} {:>6} {:>6} {:>6}   (against the date before any postponement)\n", "final resp. orig.", o.on_time, o.late, o.open, o.missed);
        out += &format!("Postponed (Awb 9:11): {} (of which more than once: {})\n", a.postponed, a.postponed_again);
        out += &format!("Not handled (Awb 9:8): {}\n", a.not_handled);
        for (k, v) in &a.not_handled_by_ground {
            out += &format!("  {k:<24} {v:>5}\n");
        }
        out += &format!("Settled (Awb 9:5): {} (before a formal response: {})\n", a.settled, a.settled_before_response);
        out += &format!("Heard (Awb 9:10): {}\n", a.heard);
        for (k, v) in &a.no_hearing_by_ground {
            out += &format!("  no hearing, {k:<18} {v:>5}\n");
        }
        if !self.measures.is_empty() {
            out += "\nMeasures taken:\n";
            for (reference, m) in &self.measures {
                out += &format!("  {reference}: {}\n", m.replace('\n', " "));
            }
        }
        out
    }
}

/// A CSV field, quoted when needed; text that a spreadsheet would take for a formula (`=`, `+`,
/// `-`, `@`, a tab or CR first) gets a leading `'`, as the register carries handlers' words.
fn csv(field: &str) -> String {
    let field = if field.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{field}") } else { field.to_string() };
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, day).unwrap()
    }

    fn case(reference: &str, received: NaiveDate) -> CaseFacts {
        let deadlines = crate::domain::calendar::Deadlines::compute(&Calendar::default(), received);
        CaseFacts {
            reference: reference.into(),
            received_on: received,
            category: None,
            outcome: None,
            acknowledge_by: deadlines.acknowledge_by,
            acknowledged_on: None,
            progress_by: deadlines.progress_by,
            progress_on: None,
            respond_by: deadlines.respond_by,
            responded_on: None,
            requests_for_information: 0,
            external_body: None,
            measures: None,
            original_respond_by: None,
            postponements: 0,
            not_handled_ground: None,
            final_responses: 0,
            hearing_outcome: None,
        }
    }

    /// A hand-made register: five cases received in November (one in October, outside).
    fn cases() -> Vec<CaseFacts> {
        let mut a = case("KL-2026-0001", d(11, 2)); // ack by 11-09, progress 11-16, respond 11-30
        a.category = Some(Category::Staff);
        a.outcome = Some(CaseOutcome::Founded);
        a.acknowledged_on = Some(d(11, 2));
        a.progress_on = Some(d(11, 13));
        a.responded_on = Some(d(11, 27)); // 19 working days after 11-02
        a.measures = Some("Coach krijgt extra begeleiding.".into());
        a.requests_for_information = 1;
        let mut b = case("KL-2026-0002", d(11, 3)); // respond by 12-01
        b.category = Some(Category::Service);
        b.outcome = Some(CaseOutcome::Unfounded);
        b.acknowledged_on = Some(d(11, 3));
        b.progress_on = Some(d(11, 20)); // late: due 11-17
        b.responded_on = Some(d(12, 3)); // late, 22 working days
        b.external_body = Some("Nationale ombudsman".into());
        let mut c = case("KL-2026-0003", d(11, 10));
        c.category = Some(Category::Staff);
        c.acknowledged_on = Some(d(11, 18)); // late: due 11-17
        c.requests_for_information = 2;
        let e = case("KL-2026-0004", d(11, 30));
        let mut f = case("KL-2026-0005", d(11, 16));
        f.outcome = Some(CaseOutcome::PartlyFounded);
        f.acknowledged_on = Some(d(11, 16));
        f.progress_on = Some(d(11, 20));
        f.responded_on = Some(d(11, 20)); // 4 working days
        f.measures = Some("  ".into());
        let old = case("KL-2026-0000", d(10, 30));
        vec![a, b, c, e, f, old]
    }

    /// A day long after the period, so that `to` is the date unmet deadlines are judged on.
    fn later() -> NaiveDate {
        NaiveDate::from_ymd_opt(2027, 6, 1).unwrap()
    }

    #[test]
    fn figures_of_a_hand_made_register() {
        let r = compute(&cases(), &Calendar::default(), d(11, 1), d(11, 30), later());
        assert_eq!(r.as_of, d(11, 30));
        assert_eq!(r.received, 5);
        assert_eq!(r.by_category, BTreeMap::from([("service".into(), 1), ("staff".into(), 2), ("uncategorised".into(), 2)]));
        assert_eq!(r.by_outcome, BTreeMap::from([("founded".into(), 1), ("open".into(), 2), ("partly-founded".into(), 1), ("unfounded".into(), 1)]));
        // Not met by 30 November: 0004's acknowledgement (due 12-07) is open.
        assert_eq!(r.acknowledgement, DeadlineFigures { on_time: 3, late: 1, open: 1, missed: 0 });
        // 0003's progress notice was due 11-24: missed; 0004's (12-14) is open.
        assert_eq!(r.progress_notice, DeadlineFigures { on_time: 2, late: 1, open: 1, missed: 1 });
        // 0003 (due 12-08) and 0004 (12-28) are not due by 30 November.
        assert_eq!(r.final_response, DeadlineFigures { on_time: 2, late: 1, open: 2, missed: 0 });
        assert_eq!(r.handling_days_median, Some(19.0));
        assert_eq!(r.handling_days_longest, Some(22));
        assert_eq!(r.requests_for_information, 3);
        assert_eq!(r.external_escalations, 1);
        assert_eq!(r.measures, vec![("KL-2026-0001".to_string(), "Coach krijgt extra begeleiding.".to_string())]);
    }

    #[test]
    fn unmet_deadlines_are_judged_on_today_when_it_is_before_the_end_of_the_period() {
        let facts = cases();
        let on = |today: NaiveDate| compute(&facts, &Calendar::default(), d(11, 1), d(11, 30), today);
        // On its due date (24 November) 0003's progress notice can still go out: open.
        let r = on(d(11, 24));
        assert_eq!(r.as_of, d(11, 24));
        assert_eq!(r.progress_notice, DeadlineFigures { on_time: 2, late: 1, open: 2, missed: 0 });
        let r = on(d(11, 25));
        assert_eq!(r.progress_notice, DeadlineFigures { on_time: 2, late: 1, open: 1, missed: 1 });
        // Later the figures no longer depend on the day the report is made.
        assert_eq!(on(d(12, 31)), on(later()));
        // Every case counts once per deadline.
        for f in [r.acknowledgement, r.progress_notice, r.final_response] {
            assert_eq!(f.on_time + f.late + f.open + f.missed, r.received);
        }
        // Over November and December, judged on 31 December, both unanswered cases are missed.
        let r = compute(&facts, &Calendar::default(), d(11, 1), d(12, 31), later());
        assert_eq!(r.final_response, DeadlineFigures { on_time: 2, late: 1, open: 0, missed: 2 });
    }

    #[test]
    fn postponed_not_handled_and_settled_cases_are_counted_apart() {
        // 0001 postponed from 11-30 to 12-14 and answered on 12-10: on time against the
        // postponed date, late against the original one.
        let mut a = case("KL-2026-0001", d(11, 2));
        a.original_respond_by = Some(a.respond_by);
        a.respond_by = d(12, 14);
        a.postponements = 1;
        a.responded_on = Some(d(12, 10));
        a.outcome = Some(CaseOutcome::Founded);
        a.final_responses = 1;
        let mut b = case("KL-2026-0002", d(11, 3));
        b.original_respond_by = Some(b.respond_by);
        b.respond_by = d(12, 29);
        b.postponements = 2;
        let mut c = case("KL-2026-0003", d(11, 4));
        c.outcome = Some(CaseOutcome::NotHandled);
        c.not_handled_ground = Some(NotHandledGround::TooSlight);
        c.responded_on = Some(d(11, 5));
        a.hearing_outcome = Some(HearingOutcome::Held);
        b.hearing_outcome = Some(HearingOutcome::NoHearing(super::super::awb::NoHearingGround::NoAnswer));
        let mut e = case("KL-2026-0004", d(11, 5));
        e.outcome = Some(CaseOutcome::Settled);
        e.responded_on = Some(d(11, 6));
        // Settled after a reopening: its earlier final response counts against "before".
        let mut f = case("KL-2026-0005", d(11, 6));
        f.outcome = Some(CaseOutcome::Settled);
        f.responded_on = Some(d(11, 20));
        f.final_responses = 1;
        let r = compute(&[a, b, c, e, f], &Calendar::default(), d(11, 1), d(12, 31), later());
        assert_eq!(r.final_response, DeadlineFigures { on_time: 4, late: 0, open: 0, missed: 1 });
        assert_eq!(r.awb.final_response_original, DeadlineFigures { on_time: 3, late: 1, open: 0, missed: 1 });
        assert_eq!((r.awb.postponed, r.awb.postponed_again), (2, 1));
        assert_eq!(r.awb.not_handled, 1);
        assert_eq!(r.awb.not_handled_by_ground, BTreeMap::from([("too-slight".into(), 1)]));
        assert_eq!((r.awb.settled, r.awb.settled_before_response), (2, 1));
        assert_eq!(r.by_outcome.get("not-handled"), Some(&1));
        assert_eq!((r.awb.heard, r.awb.no_hearing_by_ground.get("no-answer")), (1, Some(&1)));
        let csv = r.to_csv();
        assert!(csv.contains("awb,postponed,2\n") && csv.contains("final_response_original_date,late,1\n"), "{csv}");
        assert!(csv.contains("not_handled_ground,too-slight,1\n") && csv.contains("awb,settled_before_response,1\n"), "{csv}");
        let table = r.to_table();
        assert!(table.contains("Postponed (Awb 9:11): 2 (of which more than once: 1)"), "{table}");
        assert!(table.contains("Settled (Awb 9:5): 2 (before a formal response: 1)"), "{table}");
    }

    #[test]
    fn csv_fields_that_look_like_formulas_are_defused() {
        assert_eq!(csv("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv("+31 20"), "'+31 20");
        assert_eq!(csv("Nieuw beleid, per 1 januari"), "\"Nieuw beleid, per 1 januari\"");
        assert_eq!(csv("2026-11-20"), "2026-11-20");
    }

    #[test]
    fn csv_and_table_carry_the_figures() {
        let r = compute(&cases(), &Calendar::default(), d(11, 1), d(11, 30), later());
        let csv = r.to_csv();
        assert!(csv.starts_with("section,key,value\n"));
        assert!(csv.contains("period,as_of,2026-11-30\n"));
        assert!(csv.contains("complaints,received,5\n"));
        assert!(csv.contains("acknowledgement,late,1\n"));
        assert!(csv.contains("progress_notice,open,1\nprogress_notice,missed,1\n"), "{csv}");
        assert!(csv.contains("final_response,open,2\nfinal_response,missed,0\n"), "{csv}");
        assert!(csv.contains("handling_days,median,19\n"));
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["as_of"], "2026-11-30");
        assert_eq!(json["progress_notice"], serde_json::json!({"on_time": 2, "late": 1, "open": 1, "missed": 1}));
        let table = r.to_table();
        assert!(table.contains("Received: 5"));
        assert!(table.contains("as of 2026-11-30"), "{table}");
        assert!(table.contains(&format!("{:<18} {:>8} {:>6} {:>6} {:>6}\n", "Deadline", "on time", "late", "open", "missed")), "{table}");
        assert!(table.contains(&format!("{:<18} {:>8} {:>6} {:>6} {:>6}\n", "progress notice", 2, 1, 1, 1)), "{table}");
        assert!(table.contains("KL-2026-0001: Coach krijgt extra begeleiding."));
        assert_eq!(super::csv("a,\"b\""), "\"a,\"\"b\"\"\"");
    }

    #[test]
    fn an_even_number_of_handling_times_has_a_middle_of_two() {
        let mut facts = cases();
        facts.truncate(2);
        let r = compute(&facts, &Calendar::default(), d(11, 1), d(11, 30), later());
        assert_eq!(r.handling_days_median, Some(20.5));
        assert!(compute(&[], &Calendar::default(), d(11, 1), d(11, 30), later()).handling_days_median.is_none());
    }
}
