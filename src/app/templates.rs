//! Letters to complainants, rendered with minijinja from `LANG/NAME.txt` templates.
//! A template renders a small mail: a first line `Subject: ...`, then the body.
//! The shipped templates are built in; a configured directory overrides them file by file.
//! Each letter is rendered with a context struct declared here (`AcknowledgementContext`,
//! `LetterContext`, `ReminderDigest`, ...): the fields a template may use are these.

use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate};
use minijinja::Environment;
use serde::Serialize;

use crate::domain::flowed::flow;
use crate::domain::reference::CaseRef;
use crate::domain::text::single_line;

mod terms;
pub use terms::TermsContext;

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
    ("nl/postponement.txt", include_str!("../../templates/nl/postponement.txt")),
    ("en/postponement.txt", include_str!("../../templates/en/postponement.txt")),
    ("nl/not-handled.txt", include_str!("../../templates/nl/not-handled.txt")),
    ("en/not-handled.txt", include_str!("../../templates/en/not-handled.txt")),
    ("nl/settled.txt", include_str!("../../templates/nl/settled.txt")),
    ("en/settled.txt", include_str!("../../templates/en/settled.txt")),
    ("nl/disclosure.txt", include_str!("../../templates/nl/disclosure.txt")),
    ("en/disclosure.txt", include_str!("../../templates/en/disclosure.txt")),
    ("nl/hearing-invitation.txt", include_str!("../../templates/nl/hearing-invitation.txt")),
    ("en/hearing-invitation.txt", include_str!("../../templates/en/hearing-invitation.txt")),
    ("nl/hearing-report.txt", include_str!("../../templates/nl/hearing-report.txt")),
    ("en/hearing-report.txt", include_str!("../../templates/en/hearing-report.txt")),
];

/// The names of the letters klachtd writes.
pub const LETTERS: &[&str] = &[
    "acknowledgement",
    "reminder",
    "progress",
    "request-info",
    "response",
    "closed-case-mail",
    "delivery-failed",
    "assigned",
    "action-confirmation",
    "postponement",
    "not-handled",
    "settled",
    "disclosure",
    "hearing-invitation",
    "hearing-report",
];

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
    /// The message catalogue of the same language (`app::messages`).
    messages: crate::domain::catalogue::Catalogue,
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
        Ok(Self { env, language: language.to_string(), messages: crate::app::messages::load(dir, language)? })
    }

    pub fn language(&self) -> &str {
        &self.language
    }

    pub fn messages(&self) -> &crate::domain::catalogue::Catalogue {
        &self.messages
    }

    pub fn render(&self, letter: &str, context: &impl Serialize) -> Result<Letter, TemplateError> {
        let name = format!("{}/{letter}.txt", self.language);
        let err = |e: minijinja::Error| TemplateError::Render { name: name.clone(), message: format!("{e:#}") };
        let text = self.env.get_template(&name).map_err(err)?.render(context).map_err(err)?;
        let text = text.replace("\r\n", "\n");
        let (first, body) = text.split_once('\n').unwrap_or((&text, ""));
        let subject = first.strip_prefix("Subject:").ok_or_else(|| TemplateError::NoSubject { name: name.clone() })?;
        // Each paragraph is one line in the template: wrapped here, after filling in (RFC 3676).
        Ok(Letter { subject: single_line(subject, 250), body: flow(body.trim_start_matches('\n').trim_end()) + "\n" })
    }
}

// The contexts: every field a letter's template may use is declared here, in the struct its
// letter is rendered with. The shared parts come first, then one context per kind of letter.

/// `organisation`, in every letter: who writes, and where the complainant may go next (R11).
#[derive(Debug, Clone, Serialize)]
pub struct OrganisationContext {
    pub name: String,
    pub regulation_url: String,
    pub complaints_address: String,
    pub external_body: ExternalBodyContext,
}

/// `organisation.external_body`.
#[derive(Debug, Clone, Serialize)]
pub struct ExternalBodyContext {
    pub name: String,
    pub address: String,
    pub website: String,
    /// Months after the final letter to turn to it (Awb 9:24).
    pub term_months: u32,
}

/// `case` in a letter that names the case's dates: the reference, the complainant, the date of
/// receipt and the deadlines (as long dates in the letters' language; `progress_by` is none
/// under a procedure without a progress notice), the terms of its procedure (`terms`), and what
/// the complaint still lacks (`description`, `name`).
#[derive(Debug, Clone, Serialize)]
pub struct CaseContext {
    pub reference: String,
    pub complainant_name: Option<String>,
    pub received: String,
    pub acknowledge_by: String,
    pub progress_by: Option<String>,
    pub respond_by: String,
    pub terms: TermsContext,
    pub incomplete: Vec<String>,
}

impl CaseContext {
    pub fn new(
        reference: &CaseRef,
        complainant_name: Option<&str>,
        deadlines: &crate::domain::calendar::Deadlines,
        procedure: &crate::domain::terms::Procedure,
        incomplete: &[&str],
        language: &str,
    ) -> Self {
        Self {
            reference: reference.to_string(),
            complainant_name: complainant_name.map(str::to_string),
            received: long_date(deadlines.received, language),
            acknowledge_by: long_date(deadlines.acknowledge_by, language),
            progress_by: deadlines.progress_by.map(|d| long_date(d, language)),
            respond_by: long_date(deadlines.respond_by, language),
            terms: TermsContext::new(procedure, language),
            incomplete: incomplete.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// `case` in a notice to a handler: only its reference.
#[derive(Debug, Clone, Serialize)]
pub struct CaseReference {
    pub reference: String,
}

/// `recipient`: the handler a notice is addressed to.
#[derive(Debug, Clone, Serialize)]
pub struct RecipientContext {
    pub name: String,
}

/// `acknowledgement`: the receipt of a complaint.
#[derive(Debug, Clone, Serialize)]
pub struct AcknowledgementContext<'a> {
    pub organisation: &'a OrganisationContext,
    pub case: CaseContext,
}

/// `progress`, `request-info` and `response`: a handler's letter on a case, with its own part.
#[derive(Debug, Clone, Serialize)]
pub struct LetterContext<'a> {
    pub organisation: &'a OrganisationContext,
    pub case: CaseContext,
    #[serde(flatten)]
    pub content: LetterContent,
}

/// The handler's part of a letter, at the top level of its context.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum LetterContent {
    /// `progress`: the handler's message, if any, and the expected date of handling (long).
    Progress { message: Option<String>, expected_by: String },
    /// `request-info`: what the handler needs to know.
    RequestInformation { message: String },
    /// `response`: the outcome (`founded`, `partly-founded`, `unfounded`), findings, measures,
    /// and the last day to turn to the external body (long date; Awb 9:12, 9:24).
    Response { outcome: &'static str, findings: String, measures: String, external_by: String },
    /// `postponement` (Awb 9:11): the reason, by how many weeks, the new date of the final
    /// response and the date it replaces (long dates).
    Postponement { reason: String, weeks: u32, respond_by: String, previous_respond_by: String },
    /// `not-handled` (Awb 9:8): the ground (`already-handled`, ...), the handler's explanation,
    /// and the last day to turn to the external body.
    NotHandled { ground: &'static str, explanation: String, external_by: String },
    /// `settled` (Awb 9:5): the handler's words on how it was settled.
    Settled { settlement: String },
}

/// `disclosure` (Awb 9:9): a copy of the complaint to the person it is about: their name, the
/// complaint's text and the names of the documents attached.
#[derive(Debug, Clone, Serialize)]
pub struct DisclosureContext<'a> {
    pub organisation: &'a OrganisationContext,
    pub case: CaseContext,
    pub recipient: RecipientContext,
    pub description: String,
    pub documents: Vec<String>,
}

/// `hearing-invitation` and `hearing-report` (Awb 9:10): to whom (`complainant`: the
/// complainant, else the person complained about), when (long date, times HH:MM in
/// Europe/Amsterdam), where (a place or a video link), the last day to answer (long date), and
/// for the report its text.
#[derive(Debug, Clone, Serialize)]
pub struct HearingContext<'a> {
    pub organisation: &'a OrganisationContext,
    pub case: CaseContext,
    pub recipient_name: Option<String>,
    pub complainant: bool,
    pub date: String,
    pub start: String,
    pub end: String,
    pub place: String,
    pub answer_by: String,
    pub report: String,
}

/// `assigned`: a case is a handler's now. `marker` is the subject's action token, when
/// actions by mail are on; `web_url` the workspace, when there is one.
#[derive(Debug, Clone, Serialize)]
pub struct AssignedContext<'a> {
    pub organisation: &'a OrganisationContext,
    pub recipient: RecipientContext,
    pub case: CaseContext,
    pub marker: Option<String>,
    pub web_url: Option<&'a str>,
}

/// `closed-case-mail` and `delivery-failed`: a notice to the case's handler. `refused` (only
/// in `delivery-failed`, and only when set): the SMTP server refused the mail for good, rather
/// than it coming back.
#[derive(Debug, Clone, Serialize)]
pub struct NoticeContext<'a> {
    pub organisation: &'a OrganisationContext,
    pub case: CaseReference,
    pub web_url: Option<&'a str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub refused: bool,
}

/// `action-confirmation`: an action by mail was done (`ok`, with the `letter` text that went
/// out, if any) or refused (with the `reason`). `action` names it in the letters' language.
#[derive(Debug, Clone, Serialize)]
pub struct ConfirmationContext<'a> {
    pub organisation: &'a OrganisationContext,
    pub recipient: RecipientContext,
    pub case: CaseReference,
    pub ok: bool,
    pub action: &'a str,
    pub reason: Option<String>,
    pub letter: Option<&'a str>,
}

/// `reminder`: one digest of the deadlines a handler or supervisor should hear about now.
#[derive(Debug, Clone, Serialize)]
pub struct ReminderDigest<'a> {
    pub organisation: &'a OrganisationContext,
    pub recipient: RecipientContext,
    pub count: usize,
    /// The nearest deadline of the digest (long date).
    pub nearest: String,
    /// Whether any deadline was missed.
    pub escalation: bool,
    pub items: Vec<ReminderLine>,
    pub web_url: Option<&'a str>,
    /// For a supervisor, once a day: how much mail was set aside or quarantined. With no items
    /// (`count` 0, `nearest` empty) the digest carries only this.
    pub held: Option<HeldContext>,
}

/// The daily count of mail that became no case, in a supervisor's digest (no personal data).
#[derive(Debug, Clone, Serialize)]
pub struct HeldContext {
    pub set_aside: i64,
    pub quarantined: i64,
    /// The previous count's date and time ("vrijdag 4 december 2026 09:00"); none for the
    /// first count, which covers the last day.
    pub since: Option<String>,
}

impl HeldContext {
    pub fn new(count: &crate::store::set_aside::HeldCount, language: &str) -> Self {
        let since = count.since.and_then(|t| chrono::DateTime::from_timestamp(t, 0)).map(|t| {
            let local = t.with_timezone(&chrono_tz::Europe::Amsterdam);
            format!("{} {}", long_date(local.date_naive(), language), local.format("%H:%M"))
        });
        HeldContext { set_aside: count.set_aside, quarantined: count.quarantined, since }
    }
}

/// One case in a reminder digest.
#[derive(Debug, Clone, Serialize)]
pub struct ReminderLine {
    pub reference: String,
    /// `acknowledge`, `progress` or `respond`.
    pub deadline: &'static str,
    /// `reminder` or `escalation`.
    pub kind: &'static str,
    /// The deadline (long date).
    pub date: String,
    pub days_left: i64,
    pub working_days_late: i64,
    pub status: String,
}

/// A context with every field a letter may use, for `check-config` (and tests) to try
/// templates with.
#[derive(Debug, Clone, Serialize)]
pub struct SampleContext {
    pub organisation: OrganisationContext,
    pub case: CaseContext,
    pub recipient: RecipientContext,
    pub count: usize,
    pub nearest: String,
    pub escalation: bool,
    pub message: String,
    pub expected_by: String,
    pub outcome: &'static str,
    pub findings: String,
    pub measures: String,
    pub marker: Option<String>,
    pub web_url: Option<String>,
    pub letter: Option<String>,
    pub ok: bool,
    pub action: String,
    pub reason: Option<String>,
    pub external_by: String,
    pub weeks: u32,
    pub respond_by: String,
    pub previous_respond_by: String,
    pub ground: &'static str,
    pub explanation: String,
    pub settlement: String,
    pub description: String,
    pub documents: Vec<String>,
    pub recipient_name: Option<String>,
    pub complainant: bool,
    pub date: String,
    pub start: String,
    pub end: String,
    pub place: String,
    pub answer_by: String,
    pub report: String,
    pub items: Vec<ReminderLine>,
    pub held: Option<HeldContext>,
}

pub fn sample_context() -> SampleContext {
    let line = |reference: &str, deadline, kind, days_left, working_days_late| ReminderLine {
        reference: reference.into(),
        deadline,
        kind,
        date: "x".into(),
        days_left,
        working_days_late,
        status: "open".into(),
    };
    SampleContext {
        organisation: OrganisationContext {
            name: "Voorbeeld".into(),
            regulation_url: "https://example.nl/klachtenregeling".into(),
            complaints_address: "klachten@example.nl".into(),
            external_body: ExternalBodyContext {
                name: "Nationale ombudsman".into(),
                address: "Postbus 93122".into(),
                website: "https://www.nationaleombudsman.nl".into(),
                term_months: 12,
            },
        },
        case: CaseContext {
            reference: "KL-2026-0001".into(),
            complainant_name: Some("Test".into()),
            received: "vrijdag 20 november 2026".into(),
            acknowledge_by: "x".into(),
            progress_by: Some("x".into()),
            respond_by: "x".into(),
            terms: TermsContext::new(&Default::default(), "nl"),
            incomplete: vec!["description".into(), "name".into()],
        },
        recipient: RecipientContext { name: "Behandelaar".into() },
        count: 2,
        nearest: "x".into(),
        escalation: true,
        message: "Tekst van de behandelaar.".into(),
        expected_by: "x".into(),
        outcome: "partly-founded",
        findings: "Bevindingen.".into(),
        measures: "Maatregelen.".into(),
        marker: Some("{actie:0123456789abcdef0123}".into()),
        web_url: Some("https://klachten.example.nl".into()),
        letter: Some("Tekst.\nTweede regel.".into()),
        ok: true,
        action: "voortgangsbericht".into(),
        reason: Some("Reden.".into()),
        external_by: "x".into(),
        weeks: 4,
        respond_by: "x".into(),
        previous_respond_by: "x".into(),
        ground: "too-slight",
        explanation: "Toelichting.".into(),
        settlement: "Opgelost.".into(),
        description: "De klacht.".into(),
        documents: vec!["brief.pdf".into()],
        recipient_name: Some("Test".into()),
        complainant: true,
        date: "x".into(),
        start: "14:00".into(),
        end: "15:00".into(),
        place: "Kamer 3".into(),
        answer_by: "x".into(),
        report: "Verslag.".into(),
        items: vec![line("KL-2026-0001", "progress", "reminder", 2, 0), line("KL-2026-0002", "respond", "escalation", 0, 1)],
        held: Some(HeldContext { set_aside: 3, quarantined: 1, since: Some("donderdag 3 december 2026 09:00".into()) }),
    }
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
mod flowed_tests;

#[cfg(test)]
mod tests;
