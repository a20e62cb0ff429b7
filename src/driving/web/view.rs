//! Pure parts of the pages: how urgent a deadline is, the order of the cases list, and the
//! register's charts as inline SVG. No I/O, so all of it is unit tested.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use crate::domain::calendar::Calendar;
use crate::domain::register::CaseFacts;
use crate::store::CaseSummary;

/// How a deadline stands, for colour and words alike (status never by colour alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Its date has passed and it was not met.
    Missed,
    /// Due today.
    Today,
    /// Due within two working days.
    Soon,
    /// Due later.
    Later,
    /// Met.
    Met,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeadlineView {
    /// `acknowledge`, `progress` or `respond`.
    pub deadline: &'static str,
    pub date: NaiveDate,
    /// Working days from today to the date; negative when it has passed (working days late).
    pub days_left: i64,
    /// Working days late (0 unless missed), for the words.
    pub days_late: i64,
    pub level: Level,
}

/// The state of one deadline on `today`.
pub fn deadline_view(calendar: &Calendar, today: NaiveDate, deadline: &'static str, date: NaiveDate, met: bool) -> DeadlineView {
    let days_left = if date >= today { calendar.working_days_between(today, date) } else { -calendar.working_days_between(date, today).max(1) };
    let level = match () {
        _ if met => Level::Met,
        _ if date < today => Level::Missed,
        _ if date == today => Level::Today,
        _ if days_left <= 2 => Level::Soon,
        _ => Level::Later,
    };
    DeadlineView { deadline, date, days_left, days_late: if level == Level::Missed { -days_left } else { 0 }, level }
}

/// One row of the cases list.
#[derive(Debug, Clone, Serialize)]
pub struct CaseRow {
    #[serde(flatten)]
    pub case: CaseSummary,
    pub deadlines: Vec<DeadlineView>,
    /// The most urgent deadline not met; `None` for a closed case or one with all three met.
    pub urgent: Option<DeadlineView>,
}

/// The three deadlines of a case as stored at registration (never recomputed).
pub fn case_row(calendar: &Calendar, today: NaiveDate, case: CaseSummary) -> CaseRow {
    let closed = case.status == crate::store::CaseStatus::Closed;
    // A case whose procedure has no progress notice shows two.
    let deadlines = [
        Some(deadline_view(calendar, today, "acknowledge", case.acknowledge_by, case.acknowledged_at.is_some())),
        case.progress_by.map(|by| deadline_view(calendar, today, "progress", by, case.progress_sent_at.is_some() || closed)),
        Some(deadline_view(calendar, today, "respond", case.respond_by, case.responded_at.is_some() || closed)),
    ];
    let deadlines: Vec<DeadlineView> = deadlines.into_iter().flatten().collect();
    let urgent = if closed { None } else { deadlines.iter().filter(|d| d.level != Level::Met).min_by_key(|d| (d.days_left, d.date)).cloned() };
    CaseRow { case, deadlines, urgent }
}

/// Most urgent first: open cases by their nearest unmet deadline (missed ones first, most late
/// first), then cases with nothing due, by reference.
pub fn sort_by_urgency(rows: &mut [CaseRow]) {
    rows.sort_by(|a, b| {
        let key = |r: &CaseRow| (r.urgent.is_none(), r.urgent.as_ref().map(|u| u.days_left).unwrap_or(0), r.case.reference.clone());
        key(a).cmp(&key(b))
    });
}

/// `value` as a length of at most `width` where `max` is `width`, rounded to the nearest unit.
pub fn scale(value: usize, max: usize, width: u32) -> u32 {
    if max == 0 {
        return 0;
    }
    let value = value.min(max) as u64;
    ((value * width as u64 + max as u64 / 2) / max as u64) as u32
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

const BAR_WIDTH: u32 = 320;
const LABEL_WIDTH: u32 = 190;
const ROW: u32 = 26;

/// A horizontal bar chart as inline SVG: one bar per `(label, value)`, the largest full width,
/// every value also written as a number (the chart is an image; the numbers are its text).
pub fn bar_chart(title: &str, bars: &[(String, usize)]) -> String {
    let max = bars.iter().map(|(_, v)| *v).max().unwrap_or(0);
    let height = ROW * bars.len().max(1) as u32 + 8;
    let width = LABEL_WIDTH + BAR_WIDTH + 60;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}"><title>{}</title>"#,
        escape(title)
    );
    for (i, (label, value)) in bars.iter().enumerate() {
        let y = i as u32 * ROW + 4;
        let w = scale(*value, max, BAR_WIDTH);
        let _ = write!(
            svg,
            r#"<text x="{lx}" y="{ty}" text-anchor="end">{label}</text><rect x="{bx}" y="{y}" width="{w}" height="{bh}"></rect><text x="{vx}" y="{ty}">{value}</text>"#,
            lx = LABEL_WIDTH - 8,
            ty = y + 15,
            label = escape(label),
            bx = LABEL_WIDTH,
            bh = ROW - 8,
            vx = LABEL_WIDTH + w + 6,
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Cases received per calendar month from `from` to `to` (every month of the period, also empty
/// ones, at most ten years): `(year, month, cases)`.
pub fn per_month(facts: &[CaseFacts], from: NaiveDate, to: NaiveDate) -> Vec<(i32, u32, usize)> {
    let mut months: BTreeMap<(i32, u32), usize> = BTreeMap::new();
    let (mut y, mut m) = (from.year(), from.month());
    while (y, m) <= (to.year(), to.month()) && months.len() < 120 {
        months.insert((y, m), 0);
        (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    }
    for f in facts.iter().filter(|f| f.received_on >= from && f.received_on <= to) {
        if let Some(n) = months.get_mut(&(f.received_on.year(), f.received_on.month())) {
            *n += 1;
        }
    }
    months.into_iter().map(|((y, m), n)| (y, m, n)).collect()
}

/// The bars of [`per_month`], each labelled by its month's name in `names` (twelve, January
/// first, from the pages' words: `jan 2026`; without them `2026-01`).
pub fn month_bars(months: &[(i32, u32, usize)], names: &[&str]) -> Vec<(String, usize)> {
    let label = |y: i32, m: u32| match names.get(m as usize - 1).filter(|_| names.len() == 12) {
        Some(name) => format!("{name} {y}"),
        None => format!("{y}-{m:02}"),
    };
    months.iter().map(|&(y, m, n)| (label(y, m), n)).collect()
}

/// The case page's actions that apply to a case, the next step of the procedure first (that
/// one is shown open), that next step, and how many of them the page shows at once (the next
/// step and the day-to-day ones; the others wait behind "more actions"). A closed case has no next step: it can be noted,
/// escalated, categorised or reopened. The postal acknowledgement belongs to a case nobody can
/// be acknowledged by mail (no address, or the letter came back); the release of an
/// acknowledgement to one that was held, suppressed or never made; the hearing's report to a
/// case with an invitation; the supervisor's check to a supervisor, when there is one to make.
pub fn case_actions(case: &CaseSummary, supervisor: bool, hearing_invited: bool) -> (Option<&'static str>, Vec<&'static str>, usize) {
    use crate::store::OutboxStatus as S;
    if case.status == crate::store::CaseStatus::Closed {
        return (None, vec!["note", "escalate", "category", "reopen"], 4);
    }
    let unacknowledged = case.acknowledged_at.is_none();
    let by_post = unacknowledged && (case.complainant_email.is_none() || matches!(case.acknowledgement, Some(S::Returned | S::Undeliverable)));
    let release = unacknowledged && !by_post && matches!(case.acknowledgement, None | Some(S::Held | S::Suppressed));
    let check = supervisor && !case.supervisor_check.is_empty();
    let progress = case.progress_sent_at.is_none();
    let next = match () {
        _ if check => "checked",
        _ if by_post => "acknowledged",
        _ if release => "release-acknowledgement",
        _ if !case.incomplete.is_empty() => "complete",
        _ if progress => "progress",
        _ => "respond",
    };
    let all = [
        ("checked", check),
        ("acknowledged", by_post),
        ("release-acknowledgement", release),
        ("respond", true),
        ("progress", progress),
        ("request-info", true),
        ("note", true),
        ("postpone", true),
        ("not-handled", true),
        ("settle", true),
        ("disclose", true),
        ("hearing-invite", true),
        ("hearing-report", hearing_invited),
        ("no-hearing", true),
        ("category", true),
        ("assign", true),
        ("subject", true),
        ("complete", true),
        ("escalate", true),
    ];
    let mut actions = vec![next];
    actions.extend(all.iter().filter(|(a, applies)| *applies && *a != next).map(|(a, _)| *a));
    // The next step, then the letters and notes of every day; the rest behind "more".
    let shown = 1 + actions[1..].iter().take_while(|a| matches!(**a, "respond" | "progress" | "request-info" | "note")).count();
    (Some(next), actions, shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn summary(reference: &str, status: &str, ack: &str, progress: &str, respond: &str, acknowledged: bool) -> CaseSummary {
        CaseSummary {
            reference: reference.parse().unwrap(),
            status: status.parse().unwrap(),
            source: crate::store::CaseSource::Email,
            complainant_name: None,
            complainant_email: None,
            reply_to_email: None,
            subject: String::new(),
            received_on: d("2026-11-02"),
            acknowledge_by: d(ack),
            progress_by: Some(d(progress)),
            respond_by: d(respond),
            incomplete: vec![],
            messages: 0,
            attachments: 0,
            acknowledgement: None,
            acknowledged_at: acknowledged.then_some(1),
            handler: None,
            supervisor_check: String::new(),
            progress_sent_at: None,
            responded_at: None,
            procedure: String::new(),
        }
    }

    #[test]
    fn deadline_levels_count_working_days() {
        let cal = Calendar::new([]);
        // Thursday 26 November 2026.
        let today = d("2026-11-26");
        assert_eq!(deadline_view(&cal, today, "progress", d("2026-11-26"), false).level, Level::Today);
        // Friday and Monday: 2 working days, across the weekend.
        let soon = deadline_view(&cal, today, "progress", d("2026-11-30"), false);
        assert_eq!((soon.days_left, soon.level), (2, Level::Soon));
        assert_eq!(deadline_view(&cal, today, "progress", d("2026-12-04"), false).level, Level::Later);
        // Two working days late (Tuesday and Wednesday before).
        let missed = deadline_view(&cal, today, "acknowledge", d("2026-11-24"), false);
        assert_eq!((missed.days_left, missed.days_late, missed.level), (-2, 2, Level::Missed));
        // Met wins over a passed date.
        assert_eq!(deadline_view(&cal, today, "acknowledge", d("2026-11-24"), true).level, Level::Met);
        // Passed over a weekend only: still at least one day late.
        assert_eq!(deadline_view(&cal, d("2026-11-30"), "acknowledge", d("2026-11-28"), false).days_left, -1);
    }

    #[test]
    fn cases_sort_by_their_most_urgent_unmet_deadline() {
        let cal = Calendar::new([]);
        let today = d("2026-11-26");
        let mut rows: Vec<CaseRow> = vec![
            summary("KL-2026-0001", "closed", "2026-11-01", "2026-11-02", "2026-11-03", true),
            summary("KL-2026-0002", "open", "2026-11-20", "2026-12-10", "2026-12-20", true),
            summary("KL-2026-0003", "open", "2026-11-25", "2026-12-01", "2026-12-20", false),
            summary("KL-2026-0004", "open", "2026-11-30", "2026-12-03", "2026-12-20", false),
            summary("KL-2026-0005", "open", "2026-11-18", "2026-12-03", "2026-12-20", false),
        ]
        .into_iter()
        .map(|s| case_row(&cal, today, s))
        .collect();
        sort_by_urgency(&mut rows);
        let order: Vec<String> = rows.iter().map(|r| r.case.reference.to_string()).collect();
        assert_eq!(order, ["KL-2026-0005", "KL-2026-0003", "KL-2026-0004", "KL-2026-0002", "KL-2026-0001"]);
        // The acknowledged case's nearest unmet deadline is its progress notice.
        assert_eq!(rows[3].urgent.as_ref().unwrap().deadline, "progress");
        assert!(rows[4].urgent.is_none());
    }

    #[test]
    fn chart_scaling_is_proportional_and_bounded() {
        assert_eq!(scale(0, 0, 320), 0);
        assert_eq!(scale(5, 10, 320), 160);
        assert_eq!(scale(10, 10, 320), 320);
        assert_eq!(scale(1, 3, 100), 33);
        assert_eq!(scale(2, 3, 100), 67);
        assert_eq!(scale(12, 10, 320), 320);
    }

    #[test]
    fn charts_escape_labels_and_write_every_value() {
        let svg = bar_chart("Uitkomst <test>", &[("a&b".into(), 3), ("c".into(), 0)]);
        assert!(svg.contains("<title>Uitkomst &lt;test&gt;</title>"));
        assert!(svg.contains(">a&amp;b</text>"));
        assert!(svg.contains(r#"width="320" height="18""#), "{svg}");
        assert!(svg.contains(r#"width="0" height="18""#));
        assert!(svg.contains(">3</text>") && svg.contains(">0</text>"));
    }

    #[test]
    fn months_of_a_period_include_empty_ones() {
        let fact = |day: &str| CaseFacts {
            reference: "x".into(),
            received_on: d(day),
            category: None,
            outcome: None,
            acknowledge_by: d(day),
            acknowledged_on: None,
            progress_by: Some(d(day)),
            progress_on: None,
            respond_by: d(day),
            responded_on: None,
            requests_for_information: 0,
            external_body: None,
            measures: None,
            original_respond_by: None,
            postponements: 0,
            not_handled_ground: None,
            final_responses: 0,
            hearing_outcome: None,
        };
        let facts = [fact("2026-10-03"), fact("2026-12-31"), fact("2026-12-01"), fact("2027-02-01")];
        let names: Vec<&str> = "jan feb mrt apr mei jun jul aug sep okt nov dec".split(' ').collect();
        let months = per_month(&facts, d("2026-10-01"), d("2027-01-31"));
        assert_eq!(months, [(2026, 10, 1), (2026, 11, 0), (2026, 12, 2), (2027, 1, 0)]);
        let bars = month_bars(&months, &names);
        assert_eq!(bars, [("okt 2026".to_string(), 1), ("nov 2026".to_string(), 0), ("dec 2026".to_string(), 2), ("jan 2027".to_string(), 0)]);
        assert_eq!(month_bars(&months, &[])[0].0, "2026-10", "without names, the number");
    }
    #[test]
    fn the_next_step_comes_first_and_only_what_applies_is_offered() {
        let mut case = summary("KL-2026-0001", "open", "2026-11-20", "2026-12-10", "2026-12-20", false);
        // A paper complaint without an address: the postal acknowledgement, nothing to release.
        case.source = crate::store::CaseSource::Post;
        let (next, actions, shown) = case_actions(&case, false, false);
        assert_eq!(next, Some("acknowledged"));
        assert_eq!(actions[..shown], ["acknowledged", "respond", "progress", "request-info", "note"]);
        assert_eq!(actions[0], "acknowledged");
        assert!(!actions.contains(&"release-acknowledgement") && !actions.contains(&"hearing-report") && !actions.contains(&"checked"));
        assert!(!actions.contains(&"reopen"));
        // By mail, acknowledged: the progress notice is next, the final response is offered (closed).
        case.complainant_email = Some("mia@example.nl".into());
        case.acknowledged_at = Some(1);
        case.acknowledgement = Some(crate::store::OutboxStatus::Sent);
        let (next, actions, _) = case_actions(&case, false, true);
        assert_eq!(next, Some("progress"));
        assert!(!actions.contains(&"acknowledged") && actions.contains(&"respond") && actions.contains(&"hearing-report"));
        case.progress_sent_at = Some(2);
        let (next, actions, shown) = case_actions(&case, false, false);
        assert_eq!((next, actions.contains(&"progress")), (Some("respond"), false));
        assert_eq!(actions[..shown], ["respond", "request-info", "note"]);
        // A held acknowledgement is released; a bounced one is recorded as posted.
        case.acknowledged_at = None;
        case.acknowledgement = Some(crate::store::OutboxStatus::Held);
        assert_eq!(case_actions(&case, false, false).0, Some("release-acknowledgement"));
        case.acknowledgement = Some(crate::store::OutboxStatus::Returned);
        assert_eq!(case_actions(&case, false, false).0, Some("acknowledged"));
        // A supervisor's check comes first, for a supervisor only.
        case.supervisor_check = "Ann Smit".into();
        assert_eq!(case_actions(&case, true, false).0, Some("checked"));
        assert_ne!(case_actions(&case, false, false).0, Some("checked"));
        // Closed: no next step, and no letters.
        let closed = summary("KL-2026-0002", "closed", "2026-11-20", "2026-12-10", "2026-12-20", true);
        assert_eq!(case_actions(&closed, true, false), (None, vec!["note", "escalate", "category", "reopen"], 4));
    }
}
