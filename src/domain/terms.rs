//! The procedure as terms: how long the acknowledgement, the progress notice, the final
//! response, the answer to a hearing invitation and a postponement may take, each as N working
//! days, N weeks or N calendar days, or absent. Built-in presets are the seed's regulation
//! (`reintegratie`) and the Awb's chapter 9 (`awb`); the configuration may override each term.
//!
//! The arithmetic is the regulation's ("Deadlines, exactly"): "within N working days" ends on
//! the N-th working day strictly after the start; N weeks (7N calendar days) and N calendar days
//! end that many days after it, moved to the next working day when that day is closed, as the
//! Algemene termijnenwet moves a term. A case stores the terms it was registered under, so a
//! later change of the configuration never moves a date a complainant was told.

use std::fmt;
use std::str::FromStr;

use chrono::{Days, NaiveDate};

use super::calendar::{Calendar, Deadlines};
use super::vocabulary::text_enum;

/// One term of the procedure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Term {
    WorkingDays(u32),
    Weeks(u32),
    CalendarDays(u32),
}

impl Term {
    /// The last day of the term that starts on `from` (the date of receipt, or the date a
    /// postponement or an invitation starts from).
    pub fn due(self, calendar: &Calendar, from: NaiveDate) -> NaiveDate {
        let calendar_days = |n: u64| calendar.on_or_next_working_day(from.checked_add_days(Days::new(n)).unwrap_or(NaiveDate::MAX));
        match self {
            Term::WorkingDays(n) => calendar.add_working_days(from, n),
            Term::Weeks(n) => calendar_days(7 * u64::from(n)),
            Term::CalendarDays(n) => calendar_days(u64::from(n)),
        }
    }

    /// The term in words of the letters' language (`nl` or `en`): "5 werkdagen", "4 weeks".
    pub fn describe(self, language: &str) -> String {
        let (n, one, many) = match (self, language) {
            (Term::WorkingDays(n), "en") => (n, "working day", "working days"),
            (Term::Weeks(n), "en") => (n, "week", "weeks"),
            (Term::CalendarDays(n), "en") => (n, "calendar day", "calendar days"),
            (Term::WorkingDays(n), _) => (n, "werkdag", "werkdagen"),
            (Term::Weeks(n), _) => (n, "week", "weken"),
            (Term::CalendarDays(n), _) => (n, "kalenderdag", "kalenderdagen"),
        };
        format!("{n} {}", if n == 1 { one } else { many })
    }
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.describe("en"))
    }
}

impl FromStr for Term {
    type Err = String;

    /// "5 working days", "4 weeks", "28 calendar days" (singular too).
    fn from_str(s: &str) -> Result<Self, String> {
        let wrong = || format!("{s:?} is not a term; write N working days, N weeks or N calendar days (e.g. \"5 working days\", \"4 weeks\")");
        let (number, unit) = s.trim().split_once(' ').ok_or_else(wrong)?;
        let n: u32 = number.parse().map_err(|_| wrong())?;
        if n == 0 || n > 366 {
            return Err(format!("{s:?}: a term is 1 to 366 days or weeks"));
        }
        match unit.split_whitespace().collect::<Vec<_>>().join(" ").as_str() {
            "working day" | "working days" => Ok(Term::WorkingDays(n)),
            "week" | "weeks" => Ok(Term::Weeks(n)),
            "calendar day" | "calendar days" => Ok(Term::CalendarDays(n)),
            _ => Err(wrong()),
        }
    }
}

/// The built-in procedures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Preset {
    /// The seed's regulation of a re-integration service: 5 working days, 10 working days,
    /// four weeks; a postponement of at most four weeks.
    #[default]
    Reintegratie,
    /// Awb chapter 9: acknowledgement in 5 working days, handling in six weeks (ten with an
    /// advisory committee, 9:11(1)), no progress notice, a postponement of at most four weeks.
    Awb,
}

text_enum!(Preset, "a procedure preset", Reintegratie => "reintegratie", Awb => "awb");

/// The terms of a procedure. The acknowledgement and the final response always have one;
/// the others may be absent: no progress notice, no term to answer an invitation to be heard,
/// no postponement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Procedure {
    pub acknowledge: Term,
    pub progress: Option<Term>,
    pub respond: Term,
    pub hearing_answer: Option<Term>,
    pub postponement: Option<Term>,
}

impl Default for Procedure {
    /// The seed's regulation, which every case registered before procedures were stored had.
    fn default() -> Self {
        Self::preset(Preset::Reintegratie, false)
    }
}

/// The labels of the stored form, in its order.
const LABELS: [&str; 5] = ["acknowledge", "progress", "respond", "hearing-answer", "postponement"];

impl Procedure {
    /// A preset's terms; `advisory_committee` gives the Awb's ten weeks instead of six.
    pub fn preset(preset: Preset, advisory_committee: bool) -> Self {
        match preset {
            Preset::Reintegratie => Self {
                acknowledge: Term::WorkingDays(5),
                progress: Some(Term::WorkingDays(10)),
                respond: Term::Weeks(4),
                hearing_answer: Some(Term::WorkingDays(5)),
                postponement: Some(Term::Weeks(4)),
            },
            Preset::Awb => Self {
                acknowledge: Term::WorkingDays(5),
                progress: None,
                respond: Term::Weeks(if advisory_committee { 10 } else { 6 }),
                hearing_answer: Some(Term::WorkingDays(5)),
                postponement: Some(Term::Weeks(4)),
            },
        }
    }

    /// The dates of a complaint received on `received`, fixed at registration.
    pub fn deadlines(&self, calendar: &Calendar, received: NaiveDate) -> Deadlines {
        Deadlines {
            received,
            acknowledge_by: self.acknowledge.due(calendar, received),
            progress_by: self.progress.map(|t| t.due(calendar, received)),
            respond_by: self.respond.due(calendar, received),
        }
    }

    /// The most whole weeks (at most the law's four) a final response due on `respond_by` may
    /// be postponed by under this procedure: those whose new date, moved to a working day as a
    /// postponement is, does not pass the end of the postponement term. 0: none allowed.
    pub fn postponement_weeks(&self, calendar: &Calendar, respond_by: NaiveDate) -> u32 {
        let Some(term) = self.postponement else { return 0 };
        let limit = term.due(calendar, respond_by);
        (1..=super::awb::LAW_MAX_POSTPONEMENT_WEEKS).take_while(|w| Term::Weeks(*w).due(calendar, respond_by) <= limit).last().unwrap_or(0)
    }

    fn terms(&self) -> [Option<Term>; 5] {
        [Some(self.acknowledge), self.progress, Some(self.respond), self.hearing_answer, self.postponement]
    }
}

impl fmt::Display for Procedure {
    /// The stored form: `acknowledge=5 working days; progress=none; ...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> =
            LABELS.iter().zip(self.terms()).map(|(label, t)| format!("{label}={}", t.map_or("none".to_string(), |t| t.to_string()))).collect();
        f.write_str(&parts.join("; "))
    }
}

impl FromStr for Procedure {
    type Err = String;

    /// The stored form, as [`Procedure`]'s `Display` writes it.
    fn from_str(s: &str) -> Result<Self, String> {
        let mut terms: [Option<Option<Term>>; 5] = [None; 5];
        for part in s.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let (label, value) = part.split_once('=').ok_or_else(|| format!("{part:?} is not label=term"))?;
            let i = LABELS.iter().position(|l| *l == label.trim()).ok_or_else(|| format!("{label:?} is not a term of a procedure"))?;
            terms[i] = Some(if value.trim() == "none" { None } else { Some(value.parse()?) });
        }
        let [Some(Some(acknowledge)), Some(progress), Some(Some(respond)), Some(hearing_answer), Some(postponement)] = terms else {
            return Err(format!("{s:?} lacks a term: it needs {}, the acknowledgement's and the response's given", LABELS.join(", ")));
        };
        Ok(Self { acknowledge, progress, respond, hearing_answer, postponement })
    }
}

#[cfg(test)]
mod tests;
