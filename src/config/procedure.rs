//! `[procedure]`: the terms of the complaints procedure, as a preset with overrides per term,
//! and the warnings about a procedure that exceeds the Awb's limits.
//!
//! ```toml
//! [procedure]
//! preset = "awb"                  # or "reintegratie" (the default, also without the section)
//! advisory_committee = true       # awb: ten weeks to handle instead of six (Awb 9:11(1))
//! progress = "10 working days"    # each term: "N working days", "N weeks", "N calendar days"
//! hearing_answer = "none"         # or absent, where the procedure may lack it
//! ```

use chrono::NaiveDate;
use serde::{Deserialize, Deserializer};

use super::{Config, Problem};
use crate::domain::awb::LAW_MAX_POSTPONEMENT_WEEKS;
use crate::domain::calendar::Calendar;
use crate::domain::terms::{Preset, Procedure, Term};

/// `[procedure]`. A term left out is the preset's; `"none"` makes an optional term absent.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcedureConfig {
    #[serde(default = "reintegratie", deserialize_with = "preset")]
    pub preset: Preset,
    /// The Awb's ten weeks instead of six, when an advisory committee hears complaints.
    #[serde(default)]
    pub advisory_committee: bool,
    #[serde(default, deserialize_with = "term")]
    pub acknowledge: Option<Term>,
    #[serde(default, deserialize_with = "term_or_none")]
    pub progress: Option<Option<Term>>,
    #[serde(default, deserialize_with = "term")]
    pub respond: Option<Term>,
    #[serde(default, deserialize_with = "term_or_none")]
    pub hearing_answer: Option<Option<Term>>,
    #[serde(default, deserialize_with = "term_or_none")]
    pub postponement: Option<Option<Term>>,
}

fn reintegratie() -> Preset {
    Preset::Reintegratie
}

fn preset<'de, D: Deserializer<'de>>(d: D) -> Result<Preset, D::Error> {
    String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
}

fn term<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Term>, D::Error> {
    let text = String::deserialize(d)?;
    if text.trim() == "none" {
        return Err(serde::de::Error::custom("the acknowledgement and the final response always have a term; give one, e.g. \"5 working days\""));
    }
    text.parse().map(Some).map_err(serde::de::Error::custom)
}

fn term_or_none<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<Term>>, D::Error> {
    let text = String::deserialize(d)?;
    if text.trim() == "none" {
        return Ok(Some(None));
    }
    text.parse().map(|t| Some(Some(t))).map_err(serde::de::Error::custom)
}

impl ProcedureConfig {
    /// The terms new cases are registered under: the preset's, with the overrides.
    pub fn procedure(&self) -> Procedure {
        let preset = Procedure::preset(self.preset, self.advisory_committee);
        Procedure {
            acknowledge: self.acknowledge.unwrap_or(preset.acknowledge),
            progress: self.progress.unwrap_or(preset.progress),
            respond: self.respond.unwrap_or(preset.respond),
            hearing_answer: self.hearing_answer.unwrap_or(preset.hearing_answer),
            postponement: self.postponement.unwrap_or(preset.postponement),
        }
    }
}

/// A date of receipt in the year from `today` on which `term` ends later than `limit`, with
/// both ends: a term in working days can outrun one in weeks only around holidays.
fn outruns(calendar: &Calendar, today: NaiveDate, term: Term, limit: Term) -> Option<(NaiveDate, NaiveDate, NaiveDate)> {
    today.iter_days().take(366).map(|from| (from, term.due(calendar, from), limit.due(calendar, from))).find(|(_, ours, law)| ours > law)
}

/// Where the configured procedure exceeds the Awb's limits (9:11: handling within six weeks,
/// ten with an advisory committee, a postponement of at most four weeks; 9:6: the
/// acknowledgement, for which the law sets no term, cannot come after the handling). Valid,
/// but worth saying: `check-config`, `status` and the daemon's start show them.
pub fn warnings(config: &Config, today: NaiveDate) -> Vec<Problem> {
    let calendar = config.calendar();
    config.organisations().iter().flat_map(|o| warnings_for(&o.procedure, &calendar, today, |k| o.config_key(&format!("procedure.{k}")))).collect()
}

/// [`warnings`] of one organisation's procedure; `key` names a term's key in the file.
pub fn warnings_for(config: &ProcedureConfig, calendar: &Calendar, today: NaiveDate, key: impl Fn(&str) -> String) -> Vec<Problem> {
    let procedure = config.procedure();
    let handling = Term::Weeks(if config.advisory_committee { 10 } else { 6 });
    let mut w = Vec::new();
    let mut check = |k: &str, term: Term, limit: Term, what: &str, fix: &str| {
        if let Some((from, ours, law)) = outruns(calendar, today, term, limit) {
            w.push(Problem {
                key: key(k),
                message: format!("{term} exceeds {what} ({limit}): received {from}, it ends {ours} instead of {law}"),
                fix: fix.into(),
            });
        }
    };
    let handling_fix = if config.advisory_committee { "at most \"10 weeks\"" } else { "at most \"6 weeks\", or advisory_committee = true for ten" };
    check("respond", procedure.respond, handling, "the handling term of Awb 9:11(1)", handling_fix);
    check(
        "acknowledge",
        procedure.acknowledge,
        handling,
        "the handling term of Awb 9:11(1), before which Awb 9:6's acknowledgement must come",
        "e.g. \"5 working days\"",
    );
    if let Some(postponement) = procedure.postponement {
        // The postponement runs from the date of the response; measured from a year of such dates.
        check("postponement", postponement, Term::Weeks(LAW_MAX_POSTPONEMENT_WEEKS), "the postponement Awb 9:11(2) allows", "at most \"4 weeks\"");
    }
    if procedure.progress.is_some_and(|p| outruns(calendar, today, p, procedure.respond).is_some()) {
        w.push(Problem {
            key: key("progress"),
            message: "the progress notice can fall due after the final response".into(),
            fix: "shorten it, or \"none\" for no progress notice".into(),
        });
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Days;

    fn config(procedure: &str) -> Config {
        Config::parse(&format!("{}\n[procedure]\n{procedure}\n", crate::config::tests::MINIMAL)).unwrap()
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 6).unwrap()
    }

    #[test]
    fn no_section_is_the_seeds_regulation() {
        let bare = Config::parse(crate::config::tests::MINIMAL).unwrap();
        assert_eq!(bare.procedure.procedure(), Procedure::preset(Preset::Reintegratie, false));
        assert!(warnings(&bare, today()).is_empty());
        assert!(bare.problems().iter().all(|p| !p.key.starts_with("procedure")));
    }

    #[test]
    fn a_preset_with_overrides() {
        let c = config("preset = \"awb\"\nprogress = \"10 working days\"\nhearing_answer = \"none\"");
        let p = c.procedure.procedure();
        assert_eq!((p.acknowledge, p.progress, p.respond, p.hearing_answer), (Term::WorkingDays(5), Some(Term::WorkingDays(10)), Term::Weeks(6), None));
        assert!(warnings(&c, today()).is_empty());
        let committee = config("preset = \"awb\"\nadvisory_committee = true");
        assert_eq!(committee.procedure.procedure().respond, Term::Weeks(10));
        assert!(warnings(&committee, today()).is_empty());
    }

    #[test]
    fn bad_terms_are_one_line_errors_naming_the_line() {
        let text = |p: &str| format!("{}\n[procedure]\n{p}\n", crate::config::tests::MINIMAL);
        let e = Config::parse(&text("respond = \"six weeks\"")).unwrap_err().to_string();
        assert!(e.contains("N working days, N weeks or N calendar days") && e.starts_with("line "), "{e}");
        let e = Config::parse(&text("acknowledge = \"none\"")).unwrap_err().to_string();
        assert!(e.contains("always have a term"), "{e}");
        let e = Config::parse(&text("preset = \"wmo\"")).unwrap_err().to_string();
        assert!(e.contains("reintegratie, awb"), "{e}");
        assert!(Config::parse(&text("respond_weeks = 6")).is_err(), "unknown keys are errors");
    }

    #[test]
    fn warns_where_the_awb_is_exceeded() {
        let keys = |c: &Config| warnings(c, today()).into_iter().map(|p| p.key).collect::<Vec<_>>();
        assert_eq!(keys(&config("respond = \"7 weeks\"")), ["procedure.respond"]);
        // 30 working days are six weeks, except across Christmas and Easter.
        let w = warnings(&config("preset = \"awb\"\nrespond = \"30 working days\""), today());
        assert_eq!(w.len(), 1);
        assert!(w[0].message.contains("30 working days exceeds the handling term of Awb 9:11(1) (6 weeks): received 2026-12-06"), "{}", w[0].message);
        assert_eq!(keys(&config("respond = \"10 weeks\"\nadvisory_committee = true")), Vec::<String>::new());
        assert_eq!(keys(&config("postponement = \"5 weeks\"")), ["procedure.postponement"]);
        assert_eq!(keys(&config("postponement = \"28 calendar days\"")), Vec::<String>::new());
        assert_eq!(keys(&config("acknowledge = \"7 weeks\"\nrespond = \"8 weeks\"")), ["procedure.respond", "procedure.acknowledge"]);
        assert_eq!(keys(&config("progress = \"5 weeks\"")), ["procedure.progress"]);
        // And through `warnings`, which check-config, status and the daemon's start show.
        assert!(config("respond = \"7 weeks\"").warnings(today()).iter().any(|p| p.key == "procedure.respond"));
    }

    #[test]
    fn the_examples_terms_are_the_default_preset() {
        let mut text = include_str!("../../config/klachtd.example.toml").to_string();
        for key in ["acknowledge", "progress", "respond", "hearing_answer", "postponement"] {
            text = text.replace(&format!("\n# {key} = "), &format!("\n{key} = "));
        }
        let c = Config::parse(&text).unwrap();
        assert_eq!((c.procedure.preset, c.procedure.postponement), (Preset::Reintegratie, Some(Some(Term::Weeks(4)))), "the example's terms are read");
        assert_eq!(c.procedure.procedure(), Procedure::default());
    }

    #[test]
    fn the_configured_closing_days_move_the_terms_too() {
        let c = Config::parse(&format!("{}\n[calendar]\nextra_closing_days = [2027-01-04]\n[procedure]\npreset = \"awb\"\n", crate::config::tests::MINIMAL))
            .unwrap();
        // Six weeks from Fri 20 Nov 2026 is New Year's Day; Mon 4 Jan is closed as well.
        let dl = c.procedure.procedure().deadlines(&c.calendar(), NaiveDate::from_ymd_opt(2026, 11, 20).unwrap());
        assert_eq!((dl.progress_by, dl.respond_by), (None, NaiveDate::from_ymd_opt(2027, 1, 5).unwrap()));
        assert!(dl.respond_by > dl.received.checked_add_days(Days::new(42)).unwrap());
    }
}
