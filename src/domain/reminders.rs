//! When handlers hear about a deadline (R4, R6, R8): reminders before it, escalations after it
//! is missed. Pure: "what is due at instant T" for a case, decided in Europe/Amsterdam time, so
//! a reminder due at 09:00 goes out at 09:00 local in summer and in winter alike.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use chrono_tz::Europe::Amsterdam;

use super::calendar::Calendar;

/// The three deadlines of the regulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Deadline {
    /// Confirm receipt within 5 working days (R4).
    Acknowledge,
    /// Progress notice within 10 working days (R6).
    Progress,
    /// Final response within four weeks (R8).
    Respond,
    /// The term the handler set for the answer to a hearing invitation (Awb 9:10(2)(c)): once it
    /// passes without an answer, the handler decides (hear anyway, or record no hearing).
    #[serde(rename = "hearing-answer")]
    HearingAnswer,
}

impl Deadline {
    pub const ALL: [Deadline; 4] = [Deadline::Acknowledge, Deadline::Progress, Deadline::Respond, Deadline::HearingAnswer];

    pub fn as_str(self) -> &'static str {
        match self {
            Deadline::Acknowledge => "acknowledge",
            Deadline::Progress => "progress",
            Deadline::Respond => "respond",
            Deadline::HearingAnswer => "hearing-answer",
        }
    }
}

/// When reminders go out: lead times in working days before each deadline (0 = on the day),
/// only on working days, only inside working hours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub lead_days: LeadDays,
    pub day_starts: NaiveTime,
    pub day_ends: NaiveTime,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            lead_days: LeadDays::same(&[2, 0]),
            day_starts: NaiveTime::from_hms_opt(8, 30, 0).unwrap(),
            day_ends: NaiveTime::from_hms_opt(17, 0, 0).unwrap(),
        }
    }
}

/// Lead times per deadline: a four-week response may want an earlier warning than a five-day
/// acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeadDays {
    pub acknowledge: Vec<u32>,
    pub progress: Vec<u32>,
    pub respond: Vec<u32>,
}

impl LeadDays {
    pub fn same(days: &[u32]) -> Self {
        Self { acknowledge: days.to_vec(), progress: days.to_vec(), respond: days.to_vec() }
    }

    pub fn get(&self, deadline: Deadline) -> &[u32] {
        match deadline {
            // A term of a few working days, as the acknowledgement's.
            Deadline::Acknowledge | Deadline::HearingAnswer => &self.acknowledge,
            Deadline::Progress => &self.progress,
            Deadline::Respond => &self.respond,
        }
    }
}

/// One open deadline of a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenDeadline {
    pub deadline: Deadline,
    pub date: NaiveDate,
}

/// Something a handler must be told now. `key` makes it unique per case and deadline: the store
/// records it, so it is sent once however often the sweep runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Due {
    /// `lead` working days before the deadline (0: on the day).
    Reminder { deadline: Deadline, date: NaiveDate, lead: u32, days_left: i64 },
    /// The deadline passed; one escalation on each working day it stays missed.
    Escalation { deadline: Deadline, date: NaiveDate, today: NaiveDate, working_days_late: i64 },
}

impl Due {
    pub fn deadline(&self) -> Deadline {
        match self {
            Due::Reminder { deadline, .. } | Due::Escalation { deadline, .. } => *deadline,
        }
    }

    pub fn date(&self) -> NaiveDate {
        match self {
            Due::Reminder { date, .. } | Due::Escalation { date, .. } => *date,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Due::Reminder { .. } => "reminder",
            Due::Escalation { .. } => "escalation",
        }
    }

    /// The kind of mail that carries it.
    pub fn mail_kind(&self) -> super::vocabulary::MailKind {
        match self {
            Due::Reminder { .. } => super::vocabulary::MailKind::Reminder,
            Due::Escalation { .. } => super::vocabulary::MailKind::Escalation,
        }
    }

    /// `lead-2`, or the day of an escalation.
    pub fn key(&self) -> String {
        match self {
            Due::Reminder { lead, .. } => format!("lead-{lead}"),
            Due::Escalation { today, .. } => format!("day-{today}"),
        }
    }
}

/// Whether reminders may go out at `now`: a working day, inside working hours (local time).
pub fn sending_window_open(now: DateTime<Utc>, calendar: &Calendar, policy: &Policy) -> bool {
    let local = now.with_timezone(&Amsterdam);
    let time = local.time();
    calendar.is_working_day(local.date_naive()) && time >= policy.day_starts && time < policy.day_ends
}

/// What is due at `now` for one case's open deadlines. Outside the sending window nothing is.
/// Of several reminder lead times that have passed, only the latest counts: a daemon that was
/// down on the earlier day sends one reminder, not two.
pub fn due_at(now: DateTime<Utc>, calendar: &Calendar, policy: &Policy, open: &[OpenDeadline]) -> Vec<Due> {
    if !sending_window_open(now, calendar, policy) {
        return Vec::new();
    }
    let today = now.with_timezone(&Amsterdam).date_naive();
    let mut due = Vec::new();
    for d in open {
        if today > d.date {
            due.push(Due::Escalation { deadline: d.deadline, date: d.date, today, working_days_late: calendar.working_days_between(d.date, today) });
            continue;
        }
        let latest = policy.lead_days.get(d.deadline).iter().copied().filter(|lead| working_days_before(calendar, d.date, *lead) <= today).min();
        if let Some(lead) = latest {
            due.push(Due::Reminder { deadline: d.deadline, date: d.date, lead, days_left: calendar.working_days_between(today, d.date) });
        }
    }
    due
}

/// The latest deadline date that can have anything due at `now`, or `None` when nothing can
/// (outside the sending window): a reminder `lead` working days ahead is due from the
/// `lead`-th working day before its deadline, so no deadline after the `lead`-th working day
/// from today is; a missed deadline lies before today. A sweep reads only the cases with an
/// unmet deadline up to this date, and [`due_at`] still decides for each.
pub fn horizon(now: DateTime<Utc>, calendar: &Calendar, policy: &Policy) -> Option<NaiveDate> {
    if !sending_window_open(now, calendar, policy) {
        return None;
    }
    let today = now.with_timezone(&Amsterdam).date_naive();
    let lead = Deadline::ALL.iter().flat_map(|d| policy.lead_days.get(*d).iter().copied()).max().unwrap_or(0);
    Some(calendar.add_working_days(today, lead))
}

/// The `n`-th working day before `date` (`date` itself for 0).
pub fn working_days_before(calendar: &Calendar, date: NaiveDate, n: u32) -> NaiveDate {
    let mut d = date;
    let mut left = n;
    // Holidays close at most two weekdays in a week; closing days are finite: this ends.
    while left > 0 {
        d = d.pred_opt().expect("date in range");
        if calendar.is_working_day(d) {
            left -= 1;
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    fn at_nine() -> Policy {
        Policy { day_starts: NaiveTime::from_hms_opt(9, 0, 0).unwrap(), ..Policy::default() }
    }

    #[test]
    fn nine_oclock_local_on_both_sides_of_daylight_saving() {
        let cal = Calendar::default();
        let open = [OpenDeadline { deadline: Deadline::Progress, date: date(2026, 10, 28) }];
        // Friday 23 October 2026, summer time (UTC+2): 09:00 local is 07:00 UTC.
        let open_fri = [OpenDeadline { deadline: Deadline::Progress, date: date(2026, 10, 27) }];
        assert!(due_at(utc(2026, 10, 23, 6, 59), &cal, &at_nine(), &open_fri).is_empty());
        assert_eq!(due_at(utc(2026, 10, 23, 7, 0), &cal, &at_nine(), &open_fri).len(), 1);
        // Monday 26 October 2026, winter time (UTC+1): 09:00 local is 08:00 UTC.
        assert!(due_at(utc(2026, 10, 26, 7, 59), &cal, &at_nine(), &open).is_empty());
        assert_eq!(
            due_at(utc(2026, 10, 26, 8, 0), &cal, &at_nine(), &open),
            vec![Due::Reminder { deadline: Deadline::Progress, date: date(2026, 10, 28), lead: 2, days_left: 2 }]
        );
        // And in spring: Monday 30 March 2026 is summer time again.
        let spring = [OpenDeadline { deadline: Deadline::Respond, date: date(2026, 3, 30) }];
        assert!(due_at(utc(2026, 3, 30, 6, 59), &cal, &at_nine(), &spring).is_empty());
        assert_eq!(due_at(utc(2026, 3, 30, 7, 0), &cal, &at_nine(), &spring).len(), 1);
    }

    #[test]
    fn never_at_night_at_weekends_or_on_holidays() {
        let cal = Calendar::default();
        let open = [OpenDeadline { deadline: Deadline::Acknowledge, date: date(2026, 12, 28) }];
        assert!(due_at(utc(2026, 12, 23, 20, 0), &cal, &Policy::default(), &open).is_empty(), "21:00 local");
        assert!(due_at(utc(2026, 12, 24, 6, 0), &cal, &Policy::default(), &open).is_empty(), "07:00 local");
        assert!(due_at(utc(2026, 12, 25, 10, 0), &cal, &Policy::default(), &open).is_empty(), "Christmas");
        assert!(due_at(utc(2026, 12, 26, 10, 0), &cal, &Policy::default(), &open).is_empty(), "Saturday, Boxing Day");
        assert!(due_at(utc(2026, 12, 27, 10, 0), &cal, &Policy::default(), &open).is_empty(), "Sunday");
        // Two working days before Monday 28 December: Wednesday 23 December.
        assert_eq!(
            due_at(utc(2026, 12, 23, 10, 0), &cal, &Policy::default(), &open)[0],
            Due::Reminder { deadline: Deadline::Acknowledge, date: date(2026, 12, 28), lead: 2, days_left: 2 }
        );
        assert_eq!(
            due_at(utc(2026, 12, 28, 10, 0), &cal, &Policy::default(), &open)[0],
            Due::Reminder { deadline: Deadline::Acknowledge, date: date(2026, 12, 28), lead: 0, days_left: 0 }
        );
    }

    #[test]
    fn friday_complaint_timeline() {
        // Received Friday 20 November 2026: acknowledge 27 Nov, progress 4 Dec, respond 18 Dec.
        let cal = Calendar::default();
        let open =
            [OpenDeadline { deadline: Deadline::Progress, date: date(2026, 12, 4) }, OpenDeadline { deadline: Deadline::Respond, date: date(2026, 12, 18) }];
        let at = |m, d| due_at(utc(2026, m, d, 9, 0), &cal, &Policy::default(), &open);
        assert!(at(12, 1).is_empty());
        assert_eq!(at(12, 2), vec![Due::Reminder { deadline: Deadline::Progress, date: date(2026, 12, 4), lead: 2, days_left: 2 }]);
        assert_eq!(at(12, 3)[0].key(), "lead-2", "still the same reminder: recorded once, not re-sent");
        assert_eq!(at(12, 4)[0].key(), "lead-0");
        assert_eq!(at(12, 7), vec![Due::Escalation { deadline: Deadline::Progress, date: date(2026, 12, 4), today: date(2026, 12, 7), working_days_late: 1 }]);
        assert_eq!(at(12, 16).len(), 2, "escalation for progress and the first reminder for the response");
    }

    #[test]
    fn a_missed_earlier_reminder_is_not_sent_late_beside_the_current_one() {
        let cal = Calendar::default();
        let open = [OpenDeadline { deadline: Deadline::Respond, date: date(2026, 12, 18) }];
        let due = due_at(utc(2026, 12, 18, 9, 0), &cal, &Policy::default(), &open);
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].key(), "lead-0");
    }

    #[test]
    fn each_deadline_has_its_own_lead_times() {
        let cal = Calendar::default();
        let policy = Policy { lead_days: LeadDays { acknowledge: vec![0], progress: vec![2, 0], respond: vec![5, 2, 0] }, ..Policy::default() };
        let open = [
            OpenDeadline { deadline: Deadline::Acknowledge, date: date(2026, 12, 14) },
            OpenDeadline { deadline: Deadline::Progress, date: date(2026, 12, 14) },
            OpenDeadline { deadline: Deadline::Respond, date: date(2026, 12, 18) },
        ];
        // Thursday 10 December: 2 working days before the progress notice; the acknowledgement
        // has no lead time of 2, the response's first reminder is 5 days ahead.
        let due = due_at(utc(2026, 12, 10, 9, 0), &cal, &policy, &open);
        assert_eq!(due, vec![Due::Reminder { deadline: Deadline::Progress, date: date(2026, 12, 14), lead: 2, days_left: 2 }]);
        // Friday 11 December: 5 working days before the response.
        let due = due_at(utc(2026, 12, 11, 9, 0), &cal, &policy, &open);
        assert_eq!(
            due.iter().map(|d| (d.deadline(), d.key())).collect::<Vec<_>>(),
            vec![(Deadline::Progress, "lead-2".to_string()), (Deadline::Respond, "lead-5".to_string())]
        );
        assert_eq!(due[1], Due::Reminder { deadline: Deadline::Respond, date: date(2026, 12, 18), lead: 5, days_left: 5 });
        let due = due_at(utc(2026, 12, 14, 9, 0), &cal, &policy, &open);
        assert_eq!(due.iter().map(|d| d.key()).collect::<Vec<_>>(), ["lead-0", "lead-0", "lead-5"]);
    }

    #[test]
    fn nothing_after_the_horizon_is_due() {
        let cal = Calendar::new([date(2026, 12, 24)]);
        let policy = Policy { lead_days: LeadDays { acknowledge: vec![0], progress: vec![3, 0], respond: vec![5, 2, 0] }, ..Policy::default() };
        // Every moment of two months, every deadline over a span around it: whatever is due
        // at that moment lies on or before the horizon, and the horizon itself can be due.
        for day in date(2026, 11, 20).iter_days().take(60) {
            let now = Amsterdam.from_local_datetime(&day.and_hms_opt(10, 0, 0).unwrap()).unwrap().with_timezone(&Utc);
            let Some(horizon) = horizon(now, &cal, &policy) else {
                assert!(!cal.is_working_day(day), "{day}: the window is open on a working day");
                continue;
            };
            let mut latest_due = None;
            for deadline in Deadline::ALL {
                for date in (day - chrono::Days::new(30)).iter_days().take(60) {
                    if !due_at(now, &cal, &policy, &[OpenDeadline { deadline, date }]).is_empty() {
                        assert!(date <= horizon, "{deadline:?} on {date} is due on {day}, after the horizon {horizon}");
                        latest_due = latest_due.max(Some(date));
                    }
                }
            }
            assert_eq!(latest_due, Some(horizon), "{day}: the horizon is as near as it can be");
        }
        assert_eq!(horizon(utc(2026, 12, 23, 20, 0), &cal, &policy), None, "after working hours");
    }

    #[test]
    fn lead_times_count_working_days_over_holidays() {
        let cal = Calendar::default(); // Good Friday and Easter Monday, Atw art. 3
        assert_eq!(working_days_before(&cal, date(2026, 4, 7), 2), date(2026, 4, 1), "skips Easter Monday and Good Friday");
        assert_eq!(working_days_before(&cal, date(2026, 4, 7), 0), date(2026, 4, 7));
    }
}
