//! Letters to complainants, rendered with minijinja from `LANG/NAME.txt` templates.
//! A template renders a small mail: a first line `Subject: ...`, then the body.
//! The shipped templates are built in; a configured directory overrides them file by file.

use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate};
use minijinja::Environment;
use serde::Serialize;

use crate::domain::text::single_line;

const BUILT_IN: &[(&str, &str)] = &[
    ("nl/acknowledgement.txt", include_str!("../../templates/nl/acknowledgement.txt")),
    ("en/acknowledgement.txt", include_str!("../../templates/en/acknowledgement.txt")),
    ("nl/reminder.txt", include_str!("../../templates/nl/reminder.txt")),
    ("en/reminder.txt", include_str!("../../templates/en/reminder.txt")),
    ("nl/progress.txt", include_str!("../../templates/nl/progress.txt")),
    ("en/progress.txt", include_str!("../../templates/en/progress.txt")),
    ("nl/request-info.txt", include_str!("../../templates/nl/request-info.txt")),
    ("en/request-info.txt", include_str!("../../templates/en/request-info.txt")),
    ("nl/response.txt", include_str!("../../templates/nl/response.txt")),
    ("en/response.txt", include_str!("../../templates/en/response.txt")),
    ("nl/closed-case-mail.txt", include_str!("../../templates/nl/closed-case-mail.txt")),
    ("en/closed-case-mail.txt", include_str!("../../templates/en/closed-case-mail.txt")),
    ("nl/delivery-failed.txt", include_str!("../../templates/nl/delivery-failed.txt")),
    ("en/delivery-failed.txt", include_str!("../../templates/en/delivery-failed.txt")),
    ("nl/assigned.txt", include_str!("../../templates/nl/assigned.txt")),
    ("en/assigned.txt", include_str!("../../templates/en/assigned.txt")),
    ("nl/action-confirmation.txt", include_str!("../../templates/nl/action-confirmation.txt")),
    ("en/action-confirmation.txt", include_str!("../../templates/en/action-confirmation.txt")),
];

/// The names of the letters klachtd writes.
pub const LETTERS: &[&str] =
    &["acknowledgement", "reminder", "progress", "request-info", "response", "closed-case-mail", "delivery-failed", "assigned", "action-confirmation"];

/// A context with every field a letter may use, for `check-config` to try templates with.
pub fn sample_context() -> serde_json::Value {
    serde_json::json!({
        "organisation": {"name": "Voorbeeld", "regulation_url": "https://example.nl/klachtenregeling", "complaints_address": "klachten@example.nl",
                         "external_body": {"name": "Nationale ombudsman", "address": "Postbus 93122", "website": "https://www.nationaleombudsman.nl"}},
        "case": {"reference": "KL-2026-0001", "complainant_name": "Test", "received": "vrijdag 20 november 2026", "acknowledge_by": "x",
                 "progress_by": "x", "respond_by": "x", "incomplete": ["description", "name"]},
        "recipient": {"name": "Behandelaar"}, "count": 2, "nearest": "x", "escalation": true,
        "message": "Tekst van de behandelaar.", "expected_by": "x", "outcome": "partly-founded", "findings": "Bevindingen.", "measures": "Maatregelen.",
        "marker": "{actie:0123456789abcdef0123}", "web_url": "https://klachten.example.nl", "letter": "Tekst.\nTweede regel.", "ok": true, "action": "voortgangsbericht", "reason": "Reden.",
        "items": [
            {"reference": "KL-2026-0001", "deadline": "progress", "kind": "reminder", "date": "x", "days_left": 2, "working_days_late": 0, "status": "open"},
            {"reference": "KL-2026-0002", "deadline": "respond", "kind": "escalation", "date": "x", "days_left": 0, "working_days_late": 1, "status": "open"}
        ],
    })
}

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("template {name}: {message}")]
    Render { name: String, message: String },
    #[error("template {name}: the first line must be \"Subject: ...\"")]
    NoSubject { name: String },
    #[error("cannot read template {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
}

pub struct Letters {
    env: Environment<'static>,
    language: String,
}

/// A rendered letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Letter {
    pub subject: String,
    pub body: String,
}

impl Letters {
    /// Loads the built-in templates, overridden by files in `dir` where present.
    pub fn load(dir: Option<&Path>, language: &str) -> Result<Self, TemplateError> {
        let mut env = Environment::new();
        env.set_keep_trailing_newline(true);
        // Letters are plain text: nothing is HTML-escaped.
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        for (name, built_in) in BUILT_IN {
            let source = match dir.map(|d| d.join(name)).filter(|p| p.is_file()) {
                Some(path) => std::fs::read_to_string(&path).map_err(|source| TemplateError::Read { path, source })?,
                None => built_in.to_string(),
            };
            env.add_template_owned(name.to_string(), source).map_err(|e| TemplateError::Render { name: name.to_string(), message: e.to_string() })?;
        }
        Ok(Self { env, language: language.to_string() })
    }

    pub fn language(&self) -> &str {
        &self.language
    }

    pub fn render(&self, letter: &str, context: &impl Serialize) -> Result<Letter, TemplateError> {
        let name = format!("{}/{letter}.txt", self.language);
        let err = |e: minijinja::Error| TemplateError::Render { name: name.clone(), message: format!("{e:#}") };
        let text = self.env.get_template(&name).map_err(err)?.render(context).map_err(err)?;
        let text = text.replace("\r\n", "\n");
        let (first, body) = text.split_once('\n').unwrap_or((&text, ""));
        let subject = first.strip_prefix("Subject:").ok_or_else(|| TemplateError::NoSubject { name: name.clone() })?;
        Ok(Letter { subject: single_line(subject, 250), body: body.trim_start_matches('\n').trim_end().to_string() + "\n" })
    }
}

/// The `case` part of a letter's context.
pub fn case_context(
    reference: &str,
    complainant_name: Option<&str>,
    deadlines: &crate::domain::calendar::Deadlines,
    incomplete: &[&str],
    language: &str,
) -> serde_json::Value {
    serde_json::json!({
        "reference": reference,
        "complainant_name": complainant_name,
        "received": long_date(deadlines.received, language),
        "acknowledge_by": long_date(deadlines.acknowledge_by, language),
        "progress_by": long_date(deadlines.progress_by, language),
        "respond_by": long_date(deadlines.respond_by, language),
        "incomplete": incomplete,
    })
}

/// A date as written in a letter: "vrijdag 27 november 2026" / "Friday 27 November 2026".
pub fn long_date(date: NaiveDate, language: &str) -> String {
    const NL_DAYS: [&str; 7] = ["maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag"];
    const NL_MONTHS: [&str; 12] = ["januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober", "november", "december"];
    const EN_DAYS: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
    const EN_MONTHS: [&str; 12] = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
    let (days, months) = if language == "en" { (EN_DAYS, EN_MONTHS) } else { (NL_DAYS, NL_MONTHS) };
    let weekday = days[date.weekday().num_days_from_monday() as usize];
    format!("{weekday} {} {} {}", date.day(), months[date.month0() as usize], date.year())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(incomplete: &[&str]) -> serde_json::Value {
        serde_json::json!({
            "organisation": {"name": "Re-integratiedienst", "regulation_url": "https://dienst.nl/klachten"},
            "case": {"reference": "KL-2026-0001", "complainant_name": "Jan", "received": "vrijdag 20 november 2026",
                     "acknowledge_by": "vrijdag 27 november 2026", "progress_by": "vrijdag 4 december 2026",
                     "respond_by": "vrijdag 18 december 2026", "incomplete": incomplete}
        })
    }

    #[test]
    fn dutch_acknowledgement_has_reference_dates_and_link() {
        let letters = Letters::load(None, "nl").unwrap();
        let l = letters.render("acknowledgement", &context(&[])).unwrap();
        assert_eq!(l.subject, "[KL-2026-0001] Ontvangstbevestiging van uw klacht");
        for needle in ["Geachte Jan", "vrijdag 4 december 2026", "vrijdag 18 december 2026", "https://dienst.nl/klachten", "KL-2026-0001"] {
            assert!(l.body.contains(needle), "{needle} missing in\n{}", l.body);
        }
        assert!(!l.body.contains("missen wij nog"));
    }

    #[test]
    fn a_confirmation_repeats_the_text_that_was_sent_and_every_letter_renders() {
        for language in ["nl", "en"] {
            let letters = Letters::load(None, language).unwrap();
            let done = letters.render("action-confirmation", &sample_context()).unwrap();
            assert!(done.body.contains("\n  Tekst.\n  Tweede regel."), "{}", done.body);
            let mut refused = sample_context();
            refused["ok"] = false.into();
            let refused = letters.render("action-confirmation", &refused).unwrap();
            assert!(refused.body.contains("Reden.") && !refused.body.contains("Tweede regel."), "{}", refused.body);
            for letter in LETTERS {
                letters.render(letter, &sample_context()).unwrap_or_else(|e| panic!("{language}/{letter}: {e}"));
            }
        }
    }

    #[test]
    fn incomplete_complaint_asks_for_what_is_missing() {
        let letters = Letters::load(None, "en").unwrap();
        let l = letters.render("acknowledgement", &context(&["description", "name"])).unwrap();
        assert!(l.body.contains("a description of your complaint"), "{}", l.body);
        assert!(l.body.contains("your name"), "{}", l.body);
    }

    #[test]
    fn override_directory_wins_and_bad_templates_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("nl")).unwrap();
        std::fs::write(dir.path().join("nl/acknowledgement.txt"), "Subject: Eigen {{ case.reference }}\n\nTekst\n").unwrap();
        let l = Letters::load(Some(dir.path()), "nl").unwrap().render("acknowledgement", &context(&[])).unwrap();
        assert_eq!(l, Letter { subject: "Eigen KL-2026-0001".into(), body: "Tekst\n".into() });
        std::fs::write(dir.path().join("nl/acknowledgement.txt"), "Geen onderwerp\n").unwrap();
        let e = Letters::load(Some(dir.path()), "nl").unwrap().render("acknowledgement", &context(&[])).unwrap_err();
        assert!(matches!(e, TemplateError::NoSubject { .. }));
    }

    #[test]
    fn long_dates() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
        assert_eq!(long_date(d, "nl"), "vrijdag 27 november 2026");
        assert_eq!(long_date(d, "en"), "Friday 27 November 2026");
    }
}
