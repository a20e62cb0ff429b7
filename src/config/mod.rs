//! The one configuration file (TOML): loading, the one-line errors, and what a reload may
//! change. The sections live in `sections.rs`, their checks in `check.rs`. Every key is
//! documented in `config/klachtd.example.toml`. Unknown keys are errors, so a typo never
//! silently falls back to a default.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::domain::calendar::Calendar;

pub(crate) mod check;
mod defaults;
pub mod graph;
pub mod oauth;
pub mod oidc;
pub mod organisations;
pub mod procedure;
mod secret;
mod sections;

pub use organisations::{MailboxSpec, OrganisationSpec};
pub use secret::Secret;
pub use sections::*;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// One organisation (`[organisation]`); see [`Config::organisations`] for either form.
    #[serde(default)]
    organisation: Option<Organisation>,
    /// Several organisations (`[[organisations]]`), each with its mailboxes.
    #[serde(default, rename = "organisations")]
    organisations_listed: Vec<organisations::OrganisationConfig>,
    #[serde(default)]
    pub external_body: ExternalBody,
    #[serde(default)]
    pub postponement: PostponementConfig,
    #[serde(default)]
    pub database: Database,
    #[serde(default)]
    pub storage: Storage,
    #[serde(default)]
    pub templates: Templates,
    /// The mailbox of a configuration with one `[organisation]`.
    imap: Option<Imap>,
    pub smtp: Smtp,
    #[serde(default)]
    pub intake: Intake,
    #[serde(default)]
    pub calendar: CalendarConfig,
    #[serde(default)]
    pub outbox: Outbox,
    #[serde(default)]
    pub service: Service,
    /// Handlers from the file; `klachtd handlers add` manages more in the database.
    #[serde(default)]
    pub handlers: Vec<HandlerConfig>,
    #[serde(default)]
    pub assignment: Assignment,
    #[serde(default)]
    pub reminders: Reminders,
    #[serde(default)]
    pub retention: Retention,
    /// Handlers act by replying to case notifications; off unless a secret is configured.
    pub actions_by_mail: Option<ActionsByMail>,
    /// The handlers' web workspace; off when absent.
    pub web: Option<Web>,
    /// Where the access tokens come from when `imap.auth` or `smtp.auth` is "oauth2".
    pub oauth2: Option<oauth::OAuth2>,
    /// The mailbox through Microsoft Graph (reading, sending or both); IMAP and SMTP otherwise.
    pub graph: Option<graph::Graph>,
    /// The terms of the procedure; absent: the seed's regulation (preset `reintegratie`).
    #[serde(default)]
    pub procedure: procedure::ProcedureConfig,
}

/// One problem found in a configuration: which key, what is wrong, how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub key: String,
    pub message: String,
    pub fix: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} (fix: {})", self.key, self.message, self.fix)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {problem}")]
    Syntax { path: PathBuf, problem: ParseError },
    #[error("{path} has {} problem(s):\n{}", .problems.len(), .problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid { path: PathBuf, problems: Vec<Problem> },
}

/// Why a text is not a configuration: one line, fit for the journal and for the command line's
/// one-line errors. The offending text is not quoted: it could be a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Not TOML, or not of the configuration's shape (an unknown key, a value of another kind).
    #[error("line {line}, column {column}: {message}")]
    At { line: usize, column: usize, message: String },
    /// As [`ParseError::At`], where TOML says not where.
    #[error("{0}")]
    Toml(String),
    #[error("missing [organisation] (or [[organisations]] for several)")]
    NoOrganisation,
    #[error("missing field `imap`")]
    NoImap,
    #[error("[[organisations]] without any [[organisations.mailboxes]]")]
    NoMailbox,
}

/// Why an OAuth 2.0 or OpenID Connect client secret cannot be used; `section` is the key of its
/// section (`oauth2`, `web.oidc`). The cause is in the message (not a `source`: one line).
#[derive(Debug, thiserror::Error)]
pub enum ClientSecretError {
    #[error("{section}.client_secret_file: cannot read {}: {error}", .path.display())]
    File { section: &'static str, path: PathBuf, error: std::io::Error },
    #[error("{section}.client_secret_env: environment variable {var} is not set")]
    Env { section: &'static str, var: String },
    #[error("{section}: no client secret configured")]
    Missing { section: &'static str },
    #[error("{section}: the client secret is empty")]
    Empty { section: &'static str },
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("{key}: cannot read password file {path}: {source}")]
    File { key: String, path: PathBuf, source: std::io::Error },
    #[error("{key}: environment variable {var} is not set")]
    Env { key: String, var: String },
}

impl SecretError {
    /// What it says after its key, for a check-config problem that names the key itself.
    pub fn reason(&self) -> String {
        after_key(self.to_string())
    }
}

impl ClientSecretError {
    /// What it says after its key, for a check-config problem that names the key itself.
    pub fn reason(&self) -> String {
        after_key(self.to_string())
    }
}

/// "key: reason" -> "reason": a problem's line names its key once.
fn after_key(message: String) -> String {
    match message.split_once(": ") {
        Some((_, reason)) => reason.to_string(),
        None => message,
    }
}

impl Config {
    /// Reads and validates the file, secrets included: for the daemon and `check-config`.
    /// Every problem is reported, not just the first.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        Self::load_checked(path, true)
    }

    /// Reads and validates the file without reading the password files: the command line's
    /// case and handler commands need no mail server, and under systemd the passwords are
    /// credentials that only the running service can read.
    pub fn load_without_secrets(path: &Path) -> Result<Self, ConfigError> {
        Self::load_checked(path, false)
    }

    fn load_checked(path: &Path, secrets: bool) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
        let config = Self::parse(&text).map_err(|problem| ConfigError::Syntax { path: path.into(), problem })?;
        let problems = config.check(secrets);
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Invalid { path: path.into(), problems })
        }
    }

    /// Parses the TOML; an error is one line ("line 3, column 2: duplicate key"), see
    /// [`ParseError`].
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let config: Self = toml::from_str(text).map_err(|e: toml::de::Error| {
            let message = e.message().split_whitespace().collect::<Vec<_>>().join(" ");
            match e.span() {
                Some(span) => {
                    let before = &text[..span.start.min(text.len())];
                    let line = before.matches('\n').count() + 1;
                    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                    ParseError::At { line, column, message }
                }
                None => ParseError::Toml(message),
            }
        })?;
        // What the accessors below rely on; the rest is `problems`.
        match (&config.organisation, config.organisations_listed.is_empty(), &config.imap) {
            (None, true, _) => Err(ParseError::NoOrganisation),
            (Some(_), _, None) => Err(ParseError::NoImap),
            (None, false, _) if config.organisations_listed.iter().all(|o| o.mailboxes.is_empty()) => Err(ParseError::NoMailbox),
            _ => Ok(config),
        }
    }

    /// The `[organisation]` keys of the one organisation, or of the first of `[[organisations]]`:
    /// only where no organisation is known (the `From` of outbox rows queued before mail
    /// without a case named its organisation; the name on a register of an organisation the
    /// configuration no longer names). An organisation's own are in
    /// [`Config::organisations`]; nothing of one organisation goes out as another's (issue 25).
    pub fn organisation(&self) -> &Organisation {
        match &self.organisation {
            Some(one) => one,
            None => &self.organisations_listed.first().expect("Config::parse ensures an organisation").organisation,
        }
    }

    /// The `[imap]` of a configuration with one organisation, or the first mailbox's of
    /// `[[organisations]]` (the mailboxes themselves are in [`Config::mailboxes`]).
    pub fn imap(&self) -> &Imap {
        match &self.imap {
            Some(imap) => imap,
            None => &self.organisations_listed.iter().flat_map(|o| &o.mailboxes).next().expect("Config::parse ensures a mailbox").imap,
        }
    }

    /// [`imap`](Self::imap), to change (tests that point it elsewhere).
    pub fn imap_mut(&mut self) -> &mut Imap {
        match &mut self.imap {
            Some(imap) => imap,
            None => &mut self.organisations_listed.iter_mut().flat_map(|o| &mut o.mailboxes).next().expect("Config::parse ensures a mailbox").imap,
        }
    }

    /// Everything that is wrong with this configuration, short of connecting to servers.
    pub fn problems(&self) -> Vec<Problem> {
        self.check(true)
    }

    /// The sections that differ from `other` and need a restart to take effect. Templates,
    /// letters' organisation details, calendar, the per-sender limit, assignment and reminder
    /// lead times and hours, and the procedure (for the cases registered after) reload on SIGHUP.
    pub fn restart_needed_for(&self, other: &Config) -> Vec<&'static str> {
        let mut keys = Vec::new();
        let fixed = |c: &Config| -> Vec<_> {
            c.organisations().into_iter().map(|o| (o.key, o.complaints_address, o.own_addresses, o.reference_prefix, o.personal_data_days)).collect()
        };
        if fixed(self) != fixed(other) {
            keys.push("organisation (keys, addresses, reference_prefix, retention)");
        }
        let logins = |c: &Config| c.mailboxes().into_iter().map(|m| (m.name, m.imap, m.own_oauth2)).collect::<Vec<_>>();
        if logins(self) != logins(other) {
            keys.push(if self.lists_organisations() { "organisations.mailboxes" } else { "imap" });
        }
        if self.database != other.database {
            keys.push("database");
        }
        if self.storage != other.storage {
            keys.push("storage");
        }
        if self.smtp != other.smtp {
            keys.push("smtp");
        }
        if self.graph != other.graph {
            keys.push("graph");
        }
        if self.intake.acknowledge_since != other.intake.acknowledge_since {
            keys.push("intake.acknowledge_since");
        }
        if self.intake.spam != other.intake.spam {
            keys.push("intake.spam");
        }
        if self.outbox != other.outbox {
            keys.push("outbox");
        }
        if self.service != other.service {
            keys.push("service");
        }
        if self.web != other.web {
            keys.push("web");
        }
        if self.handlers != other.handlers {
            keys.push("handlers");
        }
        if self.reminders.sweep_cron != other.reminders.sweep_cron {
            keys.push("reminders.sweep_cron");
        }
        if self.retention != other.retention {
            keys.push("retention");
        }
        if self.actions_by_mail != other.actions_by_mail {
            keys.push("actions_by_mail");
        }
        if self.oauth2 != other.oauth2 {
            keys.push("oauth2");
        }
        keys
    }

    pub fn calendar(&self) -> Calendar {
        Calendar::new(self.calendar.extra_closing_days.iter().copied()).with_decrees(self.calendar.decrees.iter().map(|d| d.decree()))
    }

    /// Lower-cased addresses whose mail is ours: every organisation's (see
    /// [`OrganisationSpec::own_addresses`]), and the Graph mailbox's.
    pub fn own_addresses(&self) -> Vec<String> {
        let mut set: BTreeSet<String> = self.organisations().iter().flat_map(|o| o.own_addresses()).collect();
        if let Some(g) = &self.graph {
            set.insert(g.mailbox.trim().to_ascii_lowercase());
        }
        set.into_iter().filter(|a| a.contains('@')).collect()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono::NaiveDate;

    /// The smallest valid configuration (other modules' unit tests start from it too).
    pub(crate) const MINIMAL: &str = r#"
[organisation]
name = "Re-integratiedienst"
complaints_address = "klachten@dienst.nl"
regulation_url = "https://dienst.nl/klachtenregeling"

[imap]
host = "127.0.0.1"
port = 10143
tls = "none"
user = "klachten@dienst.nl"
password = "x"

[smtp]
host = "127.0.0.1"
port = 10025
tls = "none"
"#;

    #[test]
    fn minimal_config_is_valid_with_defaults() {
        let c = Config::parse(MINIMAL).unwrap();
        assert!(c.problems().is_empty(), "{:?}", c.problems());
        assert_eq!(c.imap().mark, MarkMode::Move);
        assert_eq!(c.intake.acknowledge_since, AcknowledgeSince::FirstStart);
        assert_eq!(c.own_addresses(), vec!["klachten@dienst.nl".to_string()]);
    }

    #[test]
    fn unknown_keys_are_named() {
        let err = Config::parse(&MINIMAL.replace("tls = \"none\"\nuser", "tls = \"none\"\nusr = 1\nuser")).unwrap_err().to_string();
        assert!(err.contains("usr"), "{err}");
        assert!(err.starts_with("line 11, column 1: "), "{err}");
        let err = Config::parse(&format!("{MINIMAL}\n[imap]\n")).unwrap_err();
        assert_eq!(err, ParseError::At { line: 19, column: 2, message: "duplicate key".into() }, "one line that says where");
        assert_eq!(err.to_string(), "line 19, column 2: duplicate key");
    }

    #[test]
    fn spam_filters_to_trust() {
        use crate::domain::classify::SpamFilter;
        let c = Config::parse(MINIMAL).unwrap();
        assert_eq!(c.intake.spam.trust, [SpamFilter::SpamAssassin, SpamFilter::Rspamd, SpamFilter::Microsoft], "all three by default");
        let c = Config::parse(&format!("{MINIMAL}\n[intake.spam]\ntrust = [\"rspamd\"]\nmicrosoft_min_scl = 7\n")).unwrap();
        assert_eq!(c.intake.spam.policy().trusted, [SpamFilter::Rspamd]);
        assert!(c.problems().is_empty(), "{:?}", c.problems());
        let err = Config::parse(&format!("{MINIMAL}\n[intake.spam]\ntrust = [\"spamasassin\"]\n")).unwrap_err().to_string();
        assert!(err.contains("spamasassin") && err.contains("spamassassin") && err.starts_with("line "), "{err}");
        let bad = Config::parse(&format!("{MINIMAL}\n[intake.spam]\ntrust = [\"microsoft\", \"microsoft\"]\nmicrosoft_min_scl = 12\n")).unwrap();
        let keys: Vec<_> = bad.problems().into_iter().map(|p| p.key).collect();
        assert_eq!(keys, ["intake.spam.microsoft_min_scl", "intake.spam.trust"]);
        assert!(bad.restart_needed_for(&c).contains(&"intake.spam"));
    }

    #[test]
    fn problems_name_key_and_fix() {
        let text = MINIMAL
            .replace("host = \"127.0.0.1\"\nport = 10143", "host = \"imap.example.nl\"\nport = 10143")
            .replace("klachten@dienst.nl\"\nregulation", "klachten\"\nregulation");
        let c = Config::parse(&text).unwrap();
        let keys: Vec<_> = c.problems().into_iter().map(|p| p.key).collect();
        assert!(keys.contains(&"imap.tls".to_string()), "{keys:?}");
        assert!(keys.contains(&"organisation.complaints_address".to_string()), "{keys:?}");
    }

    #[test]
    fn password_sources_are_exclusive_and_resolved() {
        let two = MINIMAL.replace("password = \"x\"", "password = \"x\"\npassword_env = \"KLACHTD_TEST_NOPE\"");
        let keys: Vec<_> = Config::parse(&two).unwrap().problems().into_iter().map(|p| p.key).collect();
        assert_eq!(keys, vec!["imap.password".to_string()]);
        let missing = MINIMAL.replace("password = \"x\"", "password_env = \"KLACHTD_TEST_SURELY_UNSET\"");
        let problems = Config::parse(&missing).unwrap().problems();
        assert!(problems[0].message.contains("KLACHTD_TEST_SURELY_UNSET"), "{problems:?}");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "s3cret\n").unwrap();
        let from_file = MINIMAL.replace("password = \"x\"", &format!("password_file = {:?}", file));
        assert_eq!(Config::parse(&from_file).unwrap().imap().secret().resolve("imap").unwrap(), "s3cret");
    }

    #[test]
    fn example_config_documents_known_keys_only() {
        let c = Config::parse(include_str!("../../config/klachtd.example.toml")).expect("example parses");
        let keys: Vec<_> = c.problems().into_iter().map(|p| p.key).collect();
        // Only the secrets, which live outside the example, are missing.
        assert_eq!(keys, vec!["imap.password".to_string(), "smtp.password".to_string()]);
        assert!(c.check(false).is_empty(), "{:?}", c.check(false));
    }

    #[test]
    fn a_secrets_problem_names_its_key_once() {
        let text = MINIMAL.replace("password = \"x\"", "password_file = \"/nonexistent/imap-password\"");
        let problems = Config::parse(&text).unwrap().problems();
        let p = problems.iter().find(|p| p.key == "imap.password").expect("the unreadable password file is a problem");
        assert!(p.message.starts_with("cannot read password file /nonexistent/imap-password: "), "{}", p.message);
    }

    #[test]
    fn commands_without_mail_servers_do_not_read_the_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.toml");
        let text = MINIMAL.replace("password = \"x\"", "password_file = \"/run/credentials/klachtd.service/imap-password\"");
        std::fs::write(&path, format!("{text}\n[actions_by_mail]\nsecret_file = \"/nonexistent/secret\"\n")).unwrap();
        let err = Config::load(&path).unwrap_err().to_string();
        assert!(err.contains("imap.password") && err.contains("actions_by_mail.secret"), "{err}");
        assert!(Config::load_without_secrets(&path).is_ok());
        let two = MINIMAL.replace("password = \"x\"", "password = \"x\"\npassword_env = \"KLACHTD_TEST_NOPE\"");
        std::fs::write(&path, two).unwrap();
        assert!(Config::load_without_secrets(&path).is_err(), "two sources is a mistake however it is read");
    }

    #[test]
    fn acknowledge_since_accepts_a_date() {
        let c = Config::parse(&format!("{MINIMAL}\n[intake]\nacknowledge_since = \"2026-11-01\"\n")).unwrap();
        assert_eq!(c.intake.acknowledge_since, AcknowledgeSince::Date(NaiveDate::from_ymd_opt(2026, 11, 1).unwrap()));
        assert!(Config::parse(&format!("{MINIMAL}\n[intake]\nacknowledge_since = \"soon\"\n")).unwrap_err().to_string().contains("first-start"));
        let bare =
            Config::parse(&format!("{MINIMAL}\n[intake]\nacknowledge_since = 2026-11-01\n[calendar]\nextra_closing_days = [2026-04-03, \"2026-12-24\"]\n"))
                .unwrap();
        assert_eq!(bare.intake.acknowledge_since, AcknowledgeSince::Date(NaiveDate::from_ymd_opt(2026, 11, 1).unwrap()));
        assert_eq!(bare.calendar.extra_closing_days, vec![NaiveDate::from_ymd_opt(2026, 4, 3).unwrap(), NaiveDate::from_ymd_opt(2026, 12, 24).unwrap()]);
    }
    #[test]
    fn a_later_decree_is_configured_checked_and_ends_the_warning() {
        let today = NaiveDate::from_ymd_opt(2028, 3, 1).unwrap();
        let bare = Config::parse(MINIMAL).unwrap();
        let warnings = bare.warnings(today);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert_eq!(warnings[0].key, "calendar.decrees");
        assert!(warnings[0].message.contains("up to 2028") && warnings[0].fix.contains("for 2029"), "{}", warnings[0]);
        assert!(bare.warnings(NaiveDate::from_ymd_opt(2026, 12, 6).unwrap()).is_empty());

        let decree = "[[calendar.decrees]]\ntitle = \"Besluit gelijkstelling van 11 mei 2029 met een algemeen erkende feestdag\"\nfirst_year = 2029\nlast_year = 2031\ndays = [2029-05-11]\n";
        let with = Config::parse(&format!("{MINIMAL}\n{decree}")).unwrap();
        assert!(with.problems().is_empty(), "{:?}", with.problems());
        assert!(with.warnings(today).is_empty());
        assert!(!with.calendar().is_working_day(NaiveDate::from_ymd_opt(2029, 5, 11).unwrap()));

        let wrong =
            Config::parse(&format!("{MINIMAL}\n{}", decree.replace("last_year = 2031", "last_year = 2035").replace("2029-05-11", "2036-05-11"))).unwrap();
        let problems = wrong.problems();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems.iter().all(|p| p.key == "calendar.decrees[0]"));
    }

    #[test]
    fn lead_days_are_one_list_or_one_per_deadline() {
        use crate::domain::reminders::Deadline;
        let same = Config::parse(&format!("{MINIMAL}\n[reminders]\nlead_days = [3, 1]\n")).unwrap();
        let policy = same.reminders.policy().unwrap();
        assert!(Deadline::ALL.iter().all(|d| policy.lead_days.get(*d) == [3, 1]));
        let per = Config::parse(&format!("{MINIMAL}\n[reminders.lead_days]\nrespond = [5, 2, 0]\nacknowledge = [0]\n")).unwrap();
        let policy = per.reminders.policy().unwrap();
        assert_eq!(policy.lead_days.get(Deadline::Respond), [5, 2, 0]);
        assert_eq!(policy.lead_days.get(Deadline::Acknowledge), [0]);
        assert_eq!(policy.lead_days.get(Deadline::Progress), [2, 0], "the default where a deadline is left out");
        let far = Config::parse(&format!("{MINIMAL}\n[reminders.lead_days]\nrespond = [25]\n")).unwrap();
        assert_eq!(far.problems().into_iter().map(|p| p.key).collect::<Vec<_>>(), ["reminders.lead_days"]);
        let err = Config::parse(&format!("{MINIMAL}\n[reminders.lead_days]\nrespnd = [5]\n")).unwrap_err().to_string();
        assert!(err.contains("respnd"), "a misspelt deadline is named: {err}");
        assert!(Config::parse(&format!("{MINIMAL}\n[reminders]\nlead_days = 2\n")).unwrap_err().to_string().contains("a list like [2, 0]"));
    }

    #[test]
    fn a_database_password_from_a_file_goes_into_the_url_encoded() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("db-password");
        std::fs::write(&file, "p@ss:w/rd\n").unwrap();
        let text = |url: &str| format!("{MINIMAL}\n[database]\nurl = \"{url}\"\npassword_file = {file:?}\n");
        let c = Config::parse(&text("postgres://klachtd@db.example.nl:5432/klachtd")).unwrap();
        assert!(c.problems().is_empty(), "{:?}", c.problems());
        assert_eq!(c.database.connect_url().unwrap(), "postgres://klachtd:p%40ss%3Aw%2Frd@db.example.nl:5432/klachtd");
        for url in ["postgres://db.example.nl/klachtd", "postgres://klachtd:old@db.example.nl/klachtd", "sqlite:///var/lib/klachtd/k.db"] {
            let keys: Vec<_> = Config::parse(&text(url)).unwrap().problems().into_iter().map(|p| p.key).collect();
            assert_eq!(keys, ["database.url"], "{url}");
        }
        assert_eq!(Config::parse(MINIMAL).unwrap().database.connect_url().unwrap(), defaults::default_db_url());
        assert_eq!(secret::with_password("postgres://kl@db?options=a@b", "x").as_deref(), Some("postgres://kl:x@db?options=a@b"));
    }

    #[test]
    fn cron_expressions_are_checked_by_the_scheduler_itself() {
        let keys = |cron: &str| {
            Config::parse(&format!("{MINIMAL}\n[reminders]\nsweep_cron = \"{cron}\"\n")).unwrap().problems().into_iter().map(|p| p.key).collect::<Vec<_>>()
        };
        assert!(keys("0 */5 * * * *").is_empty());
        assert_eq!(keys("0 */5 * * *"), ["reminders.sweep_cron"], "five fields");
        assert_eq!(keys("0 */5 * * * nope"), ["reminders.sweep_cron"], "six fields, one of them nonsense");
    }

    #[test]
    fn a_reload_names_what_needs_a_restart() {
        let before = Config::parse(MINIMAL).unwrap();
        let templates_only = Config::parse(&format!("{MINIMAL}\n[reminders]\nlead_days = [1]\nworking_hours = \"09:00-16:00\"\n")).unwrap();
        assert!(before.restart_needed_for(&templates_only).is_empty());
        let awb = Config::parse(&format!("{MINIMAL}\n[procedure]\npreset = \"awb\"\n")).unwrap();
        assert!(before.restart_needed_for(&awb).is_empty(), "a new procedure applies to the cases registered after the reload");
        let moved = Config::parse(&MINIMAL.replace("port = 10143", "port = 10993")).unwrap();
        assert_eq!(before.restart_needed_for(&moved), ["imap"]);
    }
}
