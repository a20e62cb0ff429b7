//! The one configuration file (TOML). Every key is documented in `config/klachtd.example.toml`.
//! Unknown keys are errors, so a typo never silently falls back to a default.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::NaiveDate;
use serde::Deserialize;

use crate::domain::calendar::Calendar;

pub mod settings;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub organisation: Organisation,
    #[serde(default)]
    pub external_body: ExternalBody,
    #[serde(default)]
    pub database: Database,
    #[serde(default)]
    pub storage: Storage,
    #[serde(default)]
    pub templates: Templates,
    pub imap: Imap,
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
    pub oauth2: Option<crate::io::oauth::config::OAuth2>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Web {
    /// Where the daemon serves the workspace, e.g. "127.0.0.1:8080".
    pub listen: std::net::SocketAddr,
    /// The address handlers' browsers use (links in mails); default `http://` + `listen`.
    pub public_url: Option<String>,
    /// A reverse proxy terminates TLS in front of klachtd: `listen` may then be any address,
    /// and the client address is taken from the proxy's `X-Forwarded-For`.
    #[serde(default)]
    pub behind_proxy: bool,
    /// How long a sign-in lasts (a working day).
    #[serde(default = "default_session_hours")]
    pub session_hours: u32,
}

fn default_session_hours() -> u32 {
    9
}

impl Web {
    /// The base of the links, without a trailing slash.
    pub fn public_url(&self) -> String {
        self.public_url.clone().unwrap_or_else(|| format!("http://{}", self.listen)).trim_end_matches('/').to_string()
    }

    /// Cookies go over TLS only, unless the workspace is plain HTTP on loopback.
    pub fn secure_cookies(&self) -> bool {
        self.public_url().starts_with("https://")
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionsByMail {
    /// The HMAC key for action tokens (at least 16 characters); exactly one source.
    pub secret: Option<String>,
    pub secret_file: Option<PathBuf>,
    pub secret_env: Option<String>,
}

impl ActionsByMail {
    pub fn secret(&self) -> Secret<'_> {
        Secret { password: self.secret.as_deref(), password_file: self.secret_file.as_deref(), password_env: self.secret_env.as_deref() }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// Personal data of a case goes this many days after it was closed (default two years).
    #[serde(default = "default_retention_days")]
    pub personal_data_days: u32,
    /// When to run retention (cron with seconds, UTC; default daily at 02:30).
    #[serde(default = "default_retention_cron")]
    pub cron: String,
}

impl Default for Retention {
    fn default() -> Self {
        Self { personal_data_days: default_retention_days(), cron: default_retention_cron() }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandlerConfig {
    pub name: String,
    pub email: String,
    #[serde(default)]
    pub supervisor: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AssignmentRule {
    /// The least recently assigned available handler (supervisors only when no one else is).
    RoundRobin,
    /// Always `default_handler`, unless the complaint is about them; then round-robin.
    Default,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assignment {
    #[serde(default = "default_rule")]
    pub rule: AssignmentRule,
    pub default_handler: Option<String>,
}

impl Default for Assignment {
    fn default() -> Self {
        Self { rule: default_rule(), default_handler: None }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reminders {
    /// Working days before a deadline on which the handler is reminded (0 = on the day): one
    /// list for all deadlines, or a table with one per deadline.
    #[serde(default = "default_lead_days")]
    pub lead_days: LeadDays,
    /// Reminders go out only inside these hours (Europe/Amsterdam) on working days.
    #[serde(default = "default_working_hours")]
    pub working_hours: String,
    /// When to look for due reminders (tokio-cron-scheduler, with seconds, UTC). Keep it
    /// frequent: what is due is decided in Amsterdam time at each sweep.
    #[serde(default = "default_sweep")]
    pub sweep_cron: String,
}

impl Default for Reminders {
    fn default() -> Self {
        Self { lead_days: default_lead_days(), working_hours: default_working_hours(), sweep_cron: default_sweep() }
    }
}

/// `lead_days = [2, 0]`, or `[reminders.lead_days]` with `acknowledge`, `progress`, `respond`.
#[derive(Debug, Clone, PartialEq)]
pub enum LeadDays {
    Same(Vec<u32>),
    PerDeadline(PerDeadlineLeadDays),
}

impl<'de> Deserialize<'de> for LeadDays {
    // By hand rather than `untagged`, so a misspelt deadline is named in the error.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        match toml::Value::deserialize(d)? {
            v @ toml::Value::Array(_) => v.try_into().map(LeadDays::Same).map_err(D::Error::custom),
            v @ toml::Value::Table(_) => v.try_into().map(LeadDays::PerDeadline).map_err(D::Error::custom),
            _ => Err(D::Error::custom("expected a list like [2, 0], or a table with acknowledge, progress and respond")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PerDeadlineLeadDays {
    #[serde(default = "default_lead_list")]
    pub acknowledge: Vec<u32>,
    #[serde(default = "default_lead_list")]
    pub progress: Vec<u32>,
    #[serde(default = "default_lead_list")]
    pub respond: Vec<u32>,
}

impl LeadDays {
    fn resolve(&self) -> crate::domain::reminders::LeadDays {
        match self {
            LeadDays::Same(days) => crate::domain::reminders::LeadDays::same(days),
            LeadDays::PerDeadline(p) => {
                crate::domain::reminders::LeadDays { acknowledge: p.acknowledge.clone(), progress: p.progress.clone(), respond: p.respond.clone() }
            }
        }
    }
}

impl Reminders {
    /// The reminder policy; `None` if `working_hours` is malformed (reported by `problems`).
    pub fn policy(&self) -> Option<crate::domain::reminders::Policy> {
        let (from, to) = self.working_hours.split_once('-')?;
        let parse = |t: &str| chrono::NaiveTime::parse_from_str(t.trim(), "%H:%M").ok();
        let (day_starts, day_ends) = (parse(from)?, parse(to)?);
        (day_starts < day_ends).then(|| crate::domain::reminders::Policy { lead_days: self.lead_days.resolve(), day_starts, day_ends })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Text; without timestamps and colours when running under systemd (the journal adds them).
    Auto,
    Text,
    Json,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    #[serde(default = "default_log_format")]
    pub log_format: LogFormat,
    /// Serve Prometheus metrics on this address (loopback), e.g. "127.0.0.1:9187".
    pub metrics_listen: Option<std::net::SocketAddr>,
}

impl Default for Service {
    fn default() -> Self {
        Self { log_format: default_log_format(), metrics_listen: None }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Organisation {
    pub name: String,
    /// The complaints address: where complainants write and what our mail comes from.
    pub complaints_address: String,
    /// Other addresses of ours whose mail must never become a case (e.g. a noreply sender).
    #[serde(default)]
    pub own_addresses: Vec<String>,
    #[serde(default = "default_prefix")]
    pub reference_prefix: String,
    /// Link to the complaints regulation (R12).
    pub regulation_url: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalBody {
    pub name: String,
    pub address: String,
    pub website: String,
}

impl Default for ExternalBody {
    fn default() -> Self {
        Self { name: "Nationale ombudsman".into(), address: "Postbus 93122, 2509 AC Den Haag".into(), website: "https://www.nationaleombudsman.nl".into() }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Database {
    /// `sqlite://PATH` (default) or `postgres://...`.
    #[serde(default = "default_db_url")]
    pub url: String,
    #[serde(default = "default_db_connections")]
    pub max_connections: u32,
    /// PostgreSQL's password from a file or an environment variable, so that it need not sit
    /// in the URL of a world-readable configuration.
    pub password_file: Option<PathBuf>,
    pub password_env: Option<String>,
}

impl Default for Database {
    fn default() -> Self {
        Self { url: default_db_url(), max_connections: default_db_connections(), password_file: None, password_env: None }
    }
}

impl Database {
    fn secret(&self) -> Option<Secret<'_>> {
        (self.password_file.is_some() || self.password_env.is_some()).then_some(Secret {
            password: None,
            password_file: self.password_file.as_deref(),
            password_env: self.password_env.as_deref(),
        })
    }

    /// The URL to connect with: `url`, with the password from its file or variable put in
    /// (percent-encoded) when one is configured.
    pub fn connect_url(&self) -> Result<String, SecretError> {
        let Some(secret) = self.secret() else { return Ok(self.url.clone()) };
        let password = secret.resolve("database")?;
        Ok(with_password(&self.url, &password).unwrap_or_else(|| self.url.clone()))
    }
}

/// `postgres://user@host/db` with `password` after the user; `None` if the URL has no user
/// or already carries a password.
fn with_password(url: &str, password: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let at = rest[..authority_end].rfind('@')?;
    let user = &rest[..at];
    if user.is_empty() || user.contains(':') {
        return None;
    }
    let encoded: String =
        password.bytes().map(|b| if b.is_ascii_alphanumeric() || b"-._~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }).collect();
    Some(format!("{scheme}://{user}:{encoded}{}", &rest[at..]))
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Storage {
    /// Where attachments are kept (named by content hash, never by the name in the mail).
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
}

impl Default for Storage {
    fn default() -> Self {
        Self { data_dir: default_data_dir() }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Templates {
    /// A directory with `LANG/NAME.txt` files that override the built-in templates.
    pub dir: Option<PathBuf>,
    #[serde(default = "default_language")]
    pub language: String,
}

impl Default for Templates {
    fn default() -> Self {
        Self { dir: None, language: default_language() }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// TLS from the first byte (IMAPS 993, SMTPS 465).
    Implicit,
    /// Plain connection upgraded with STARTTLS; refused if the server does not offer it.
    Starttls,
    /// No encryption: only allowed towards a loopback address.
    None,
}

/// How klachtd logs in to the IMAP or SMTP server.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// LOGIN / AUTH PLAIN with the password.
    #[default]
    Password,
    /// SASL OAUTHBEARER or XOAUTH2 with an access token from `[oauth2]`.
    Oauth2,
}

/// A password given inline, in a file, or in an environment variable (exactly one).
/// (Inlined into each section: serde cannot combine `flatten` with `deny_unknown_fields`.)
#[derive(Debug, Clone, Copy)]
pub struct Secret<'a> {
    pub password: Option<&'a str>,
    pub password_file: Option<&'a Path>,
    pub password_env: Option<&'a str>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum MarkMode {
    /// Move processed mail to `processed_folder` (needs MOVE or COPY).
    Move,
    /// Leave processed mail in the inbox and set the `$KlachtdProcessed` keyword.
    Flag,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Imap {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub user: String,
    #[serde(default)]
    pub auth: AuthMode,
    pub password: Option<String>,
    pub password_file: Option<PathBuf>,
    pub password_env: Option<String>,
    /// Extra CA certificate (PEM) to trust besides the system's.
    pub ca_file: Option<PathBuf>,
    #[serde(default = "default_inbox")]
    pub inbox: String,
    #[serde(default = "default_mark")]
    pub mark: MarkMode,
    #[serde(default = "default_processed")]
    pub processed_folder: String,
    #[serde(default = "default_ignored")]
    pub ignored_folder: String,
    #[serde(default = "default_quarantine")]
    pub quarantine_folder: String,
    /// Use IMAP IDLE when the server offers it; poll otherwise.
    #[serde(default = "yes")]
    pub idle: bool,
    #[serde(default = "default_poll")]
    pub poll_interval_secs: u64,
    /// IDLE is ended and the mailbox checked this often, whatever the server says (some servers
    /// never announce new mail in IDLE).
    #[serde(default = "default_idle_renew")]
    pub idle_renew_secs: u64,
    /// Limit for any single IMAP command or connection attempt.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// Mail larger than this is quarantined unread.
    #[serde(default = "default_max_message")]
    pub max_message_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    /// With auth = "oauth2": the mailbox to log in as (default: imap.user).
    pub user: Option<String>,
    #[serde(default)]
    pub auth: AuthMode,
    pub password: Option<String>,
    pub password_file: Option<PathBuf>,
    pub password_env: Option<String>,
    pub ca_file: Option<PathBuf>,
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
}

/// Which mail is acknowledged automatically when klachtd first meets a mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcknowledgeSince {
    /// Only mail that arrived after the first start of klachtd on this database.
    FirstStart,
    /// Only mail that arrived on or after this date (Europe/Amsterdam).
    Date(NaiveDate),
}

impl<'de> Deserialize<'de> for AcknowledgeSince {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match DateOrText::deserialize(d)? {
            DateOrText::Text(s) if s == "first-start" => Ok(AcknowledgeSince::FirstStart),
            other => other.date().map(AcknowledgeSince::Date).ok_or_else(|| serde::de::Error::custom("expected \"first-start\" or a date YYYY-MM-DD")),
        }
    }
}

/// A date written either as a TOML date (`2026-12-24`) or as a string (`"2026-12-24"`).
#[derive(Deserialize)]
#[serde(untagged)]
enum DateOrText {
    Date(toml::value::Datetime),
    Text(String),
}

impl DateOrText {
    fn date(&self) -> Option<NaiveDate> {
        match self {
            DateOrText::Date(dt) if dt.time.is_none() && dt.offset.is_none() => {
                let d = dt.date?;
                NaiveDate::from_ymd_opt(d.year.into(), d.month.into(), d.day.into())
            }
            DateOrText::Date(_) => None,
            DateOrText::Text(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d").ok(),
        }
    }
}

fn dates<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<NaiveDate>, D::Error> {
    Vec::<DateOrText>::deserialize(d)?.iter().map(|v| v.date().ok_or_else(|| serde::de::Error::custom("expected dates YYYY-MM-DD"))).collect()
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Intake {
    #[serde(default = "default_ack_since")]
    pub acknowledge_since: AcknowledgeSince,
    /// At most this many automatic mails to one address per 24 hours: stops mail loops.
    #[serde(default = "default_sender_limit")]
    pub max_auto_replies_per_sender_per_day: u32,
    /// Whose spam verdict quarantines a mail unanswered.
    #[serde(default)]
    pub spam: Spam,
}

impl Default for Intake {
    fn default() -> Self {
        Self { acknowledge_since: default_ack_since(), max_auto_replies_per_sender_per_day: default_sender_limit(), spam: Spam::default() }
    }
}

/// `[intake.spam]`: the spam filters in front of the mailbox whose verdict klachtd trusts. A
/// mail one of them flags goes to quarantine with the reason and is never answered.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spam {
    /// `spamassassin`, `rspamd`, `microsoft`; `[]` trusts none.
    #[serde(default = "default_spam_filters")]
    pub trust: Vec<crate::domain::classify::SpamFilter>,
    /// Microsoft's spam confidence level from which a mail counts as spam.
    #[serde(default = "default_min_scl")]
    pub microsoft_min_scl: u8,
}

impl Default for Spam {
    fn default() -> Self {
        Self { trust: default_spam_filters(), microsoft_min_scl: default_min_scl() }
    }
}

impl Spam {
    pub fn policy(&self) -> crate::domain::classify::SpamPolicy {
        crate::domain::classify::SpamPolicy { trusted: self.trust.clone(), microsoft_min_scl: self.microsoft_min_scl }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarConfig {
    /// Days the service is closed besides the statutory holidays, e.g. Good Friday.
    #[serde(default, deserialize_with = "dates")]
    pub extra_closing_days: Vec<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outbox {
    /// How often the outbox is checked when nothing woke it up.
    #[serde(default = "default_outbox_poll")]
    pub poll_interval_secs: u64,
    /// Longest wait between two attempts at one mail.
    #[serde(default = "default_max_backoff")]
    pub max_backoff_secs: u64,
}

impl Default for Outbox {
    fn default() -> Self {
        Self { poll_interval_secs: default_outbox_poll(), max_backoff_secs: default_max_backoff() }
    }
}

fn default_log_format() -> LogFormat {
    LogFormat::Auto
}
fn default_retention_days() -> u32 {
    730
}
fn default_retention_cron() -> String {
    "0 30 2 * * *".into()
}
fn default_rule() -> AssignmentRule {
    AssignmentRule::RoundRobin
}
fn default_lead_list() -> Vec<u32> {
    vec![2, 0]
}
fn default_lead_days() -> LeadDays {
    LeadDays::Same(default_lead_list())
}
fn default_working_hours() -> String {
    "08:30-17:00".into()
}
fn default_sweep() -> String {
    "0 */5 * * * *".into()
}
fn default_prefix() -> String {
    "KL".into()
}
fn default_db_url() -> String {
    "sqlite:///var/lib/klachtd/klachtd.db".into()
}
fn default_db_connections() -> u32 {
    5
}
fn default_data_dir() -> PathBuf {
    PathBuf::from("/var/lib/klachtd")
}
fn default_language() -> String {
    "nl".into()
}
fn default_inbox() -> String {
    "INBOX".into()
}
fn default_mark() -> MarkMode {
    MarkMode::Move
}
fn default_processed() -> String {
    "Klachtd-Verwerkt".into()
}
fn default_ignored() -> String {
    "Klachtd-Genegeerd".into()
}
fn default_quarantine() -> String {
    "Klachtd-Quarantaine".into()
}
fn yes() -> bool {
    true
}
fn default_poll() -> u64 {
    60
}
fn default_timeout() -> u64 {
    60
}
fn default_idle_renew() -> u64 {
    180
}
fn default_max_message() -> u64 {
    50 * 1024 * 1024
}
fn default_ack_since() -> AcknowledgeSince {
    AcknowledgeSince::FirstStart
}
fn default_sender_limit() -> u32 {
    5
}
fn default_spam_filters() -> Vec<crate::domain::classify::SpamFilter> {
    use crate::domain::classify::SpamFilter;
    vec![SpamFilter::SpamAssassin, SpamFilter::Rspamd, SpamFilter::Microsoft]
}
fn default_min_scl() -> u8 {
    5
}
fn default_outbox_poll() -> u64 {
    30
}
fn default_max_backoff() -> u64 {
    3600
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
    #[error("{path}: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("{path} has {} problem(s):\n{}", .problems.len(), .problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid { path: PathBuf, problems: Vec<Problem> },
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("{key}: cannot read password file {path}: {source}")]
    File { key: String, path: PathBuf, source: std::io::Error },
    #[error("{key}: environment variable {var} is not set")]
    Env { key: String, var: String },
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
        let config = Self::parse(&text).map_err(|message| ConfigError::Syntax { path: path.into(), message })?;
        let problems = config.check(secrets);
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Invalid { path: path.into(), problems })
        }
    }

    /// Parses the TOML; an error is one line ("line 3, column 2: duplicate key"), fit for the
    /// journal and for the command line's one-line errors. The offending text is not quoted:
    /// it could be a password.
    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e: toml::de::Error| {
            let message = e.message().split_whitespace().collect::<Vec<_>>().join(" ");
            match e.span() {
                Some(span) => {
                    let before = &text[..span.start.min(text.len())];
                    let line = before.matches('\n').count() + 1;
                    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                    format!("line {line}, column {column}: {message}")
                }
                None => message,
            }
        })
    }

    /// Everything that is wrong with this configuration, short of connecting to servers.
    pub fn problems(&self) -> Vec<Problem> {
        self.check(true)
    }

    /// `problems`, reading the secrets' files and variables only if `secrets`.
    fn check(&self, secrets: bool) -> Vec<Problem> {
        let mut p = Vec::new();
        let mut add = |key: &str, message: String, fix: &str| p.push(Problem { key: key.into(), message, fix: fix.into() });

        if !looks_like_address(&self.organisation.complaints_address) {
            add(
                "organisation.complaints_address",
                format!("{:?} is not an e-mail address", self.organisation.complaints_address),
                "write the full address, e.g. klachten@example.nl",
            );
        }
        for a in &self.organisation.own_addresses {
            if !looks_like_address(a) {
                add("organisation.own_addresses", format!("{a:?} is not an e-mail address"), "list full addresses only");
            }
        }
        let prefix = &self.organisation.reference_prefix;
        if prefix.is_empty() || prefix.len() > 8 || !prefix.bytes().all(|b| b.is_ascii_alphabetic()) {
            add("organisation.reference_prefix", format!("{prefix:?} must be 1-8 letters"), "use letters only, e.g. \"KL\"");
        }
        if self.organisation.name.trim().is_empty() {
            add("organisation.name", "is empty".into(), "set the name complainants know you by");
        }
        if !self.organisation.regulation_url.starts_with("https://") && !self.organisation.regulation_url.starts_with("http://") {
            add("organisation.regulation_url", "must be an http(s) link".into(), "link to the published complaints regulation");
        }
        if !matches!(self.templates.language.as_str(), "nl" | "en") {
            add("templates.language", format!("{:?} is not supported", self.templates.language), "use \"nl\" or \"en\"");
        }
        if let Some(dir) = &self.templates.dir {
            if !dir.is_dir() {
                add(
                    "templates.dir",
                    format!("{} is not a directory", dir.display()),
                    "point it at a directory with nl/ and en/ templates, or remove the key to use the built-in ones",
                );
            }
        }
        if !(self.database.url.starts_with("sqlite:") || self.database.url.starts_with("postgres://") || self.database.url.starts_with("postgresql://")) {
            add("database.url", "must start with sqlite:, postgres:// or postgresql://".into(), "e.g. sqlite:///var/lib/klachtd/klachtd.db");
        }
        if let Some(secret) = self.database.secret() {
            // Read in every mode: the command line needs the database as much as the daemon.
            if self.database.password_file.is_some() && self.database.password_env.is_some() {
                add("database.password_file", "and database.password_env are both set".into(), "keep one");
            } else if !self.database.url.starts_with("postgres") || with_password(&self.database.url, "x").is_none() {
                add(
                    "database.url",
                    "a password file or variable needs a PostgreSQL URL with a user and without a password".into(),
                    "e.g. postgres://klachtd@db.example.nl/klachtd",
                );
            } else if let Err(e) = secret.resolve("database") {
                add("database.password_file", e.to_string(), "make the file readable by the service and the command line's user, or set the variable");
            }
        }
        if self.database.max_connections == 0 {
            add("database.max_connections", "must be at least 1".into(), "use 5");
        }
        for (section, host, port, tls, secret, ca) in [
            (
                "imap",
                &self.imap.host,
                self.imap.port,
                self.imap.tls,
                Some(self.imap.secret()).filter(|_| self.imap.auth == AuthMode::Password),
                &self.imap.ca_file,
            ),
            (
                "smtp",
                &self.smtp.host,
                self.smtp.port,
                self.smtp.tls,
                self.smtp.user.as_ref().map(|_| self.smtp.secret()).filter(|_| self.smtp.auth == AuthMode::Password),
                &self.smtp.ca_file,
            ),
        ] {
            if host.trim().is_empty() {
                add(&format!("{section}.host"), "is empty".into(), "set the server's host name");
            }
            if port == 0 {
                add(&format!("{section}.port"), "must not be 0".into(), "use the server's port");
            }
            if tls == TlsMode::None && !is_loopback(host) {
                add(
                    &format!("{section}.tls"),
                    format!("\"none\" sends the password in clear text to {host}"),
                    "use \"implicit\" or \"starttls\"; \"none\" is only for localhost",
                );
            }
            if let Some(secret) = secret {
                let given = [secret.password.is_some(), secret.password_file.is_some(), secret.password_env.is_some()].iter().filter(|b| **b).count();
                if given != 1 {
                    add(&format!("{section}.password"), format!("{given} password sources given"), "set exactly one of password, password_file, password_env");
                } else if let (true, Err(e)) = (secrets, secret.resolve(section)) {
                    add(&format!("{section}.password"), e.to_string(), "make the file readable or set the variable");
                }
            }
            if let Some(ca) = ca {
                if !ca.is_file() {
                    add(&format!("{section}.ca_file"), format!("{} does not exist", ca.display()), "point it at a PEM certificate or remove the key");
                }
            }
        }
        if self.imap.user.trim().is_empty() {
            add("imap.user", "is empty".into(), "set the mailbox login");
        }
        for (key, folder) in [
            ("imap.processed_folder", &self.imap.processed_folder),
            ("imap.ignored_folder", &self.imap.ignored_folder),
            ("imap.quarantine_folder", &self.imap.quarantine_folder),
        ] {
            if folder.trim().is_empty() || folder.eq_ignore_ascii_case(&self.imap.inbox) {
                add(key, format!("{folder:?} must be a folder other than the inbox"), "name a separate folder; it is created when missing");
            }
        }
        if self.imap.poll_interval_secs == 0 || self.imap.timeout_secs == 0 || self.smtp.timeout_secs == 0 {
            add("imap.poll_interval_secs / *.timeout_secs", "must be at least 1 second".into(), "use the defaults (60)");
        }
        // RFC 2177: a server may log a client off after 30 minutes of IDLE.
        if !(1..=29 * 60).contains(&self.imap.idle_renew_secs) {
            add("imap.idle_renew_secs", format!("{} is outside 1..1740 seconds", self.imap.idle_renew_secs), "use the default (180)");
        }
        if self.intake.max_auto_replies_per_sender_per_day == 0 {
            add("intake.max_auto_replies_per_sender_per_day", "0 would suppress every acknowledgement".into(), "use 5");
        }
        if !(1..=9).contains(&self.intake.spam.microsoft_min_scl) {
            add(
                "intake.spam.microsoft_min_scl",
                format!("{} is not a spam confidence level from 1 to 9", self.intake.spam.microsoft_min_scl),
                "use 5, Microsoft's own threshold for spam",
            );
        }
        let mut seen = BTreeSet::new();
        for filter in &self.intake.spam.trust {
            if !seen.insert(filter.as_str()) {
                add("intake.spam.trust", format!("{:?} is listed twice", filter.as_str()), "list each filter once");
            }
        }
        for (i, h) in self.handlers.iter().enumerate() {
            if h.name.trim().is_empty() || !looks_like_address(&h.email) {
                add(
                    &format!("handlers[{i}]"),
                    format!("{:?} <{}> needs a name and an e-mail address", h.name, h.email),
                    "write name = \"...\" and email = \"...@...\"",
                );
            }
        }
        if self.assignment.rule == AssignmentRule::Default {
            match &self.assignment.default_handler {
                None => add("assignment.default_handler", "rule \"default\" needs a default handler".into(), "name one of the handlers"),
                Some(name) if !self.handlers.iter().any(|h| &h.name == name) => {
                    add("assignment.default_handler", format!("{name:?} is not among [[handlers]]"), "name a handler from this file")
                }
                Some(_) => {}
            }
        }
        if self.reminders.policy().is_none() {
            add(
                "reminders.working_hours",
                format!("{:?} is not a range like \"08:30-17:00\"", self.reminders.working_hours),
                "write HH:MM-HH:MM, start before end",
            );
        }
        let leads = self.reminders.lead_days.resolve();
        if [&leads.acknowledge, &leads.progress, &leads.respond].iter().any(|days| days.iter().any(|d| *d > 20)) {
            add("reminders.lead_days", "lead times above 20 working days make no sense here".into(), "use e.g. [2, 0]");
        }
        if let Some(a) = &self.actions_by_mail {
            let sources = [a.secret.is_some(), a.secret_file.is_some(), a.secret_env.is_some()].iter().filter(|b| **b).count();
            // Without `secrets`, only a secret written in this file is looked at.
            let secret = if secrets || a.secret.is_some() { Some(a.secret().resolve("actions_by_mail")) } else { None };
            match secret {
                _ if sources != 1 => add(
                    "actions_by_mail.secret",
                    "needs exactly one of secret, secret_file, secret_env".into(),
                    "set one, or remove the section to turn actions by mail off",
                ),
                Some(Ok(s)) if s.len() < 16 => {
                    add("actions_by_mail.secret", "is shorter than 16 characters".into(), "use a long random value, e.g. `openssl rand -hex 32`")
                }
                Some(Err(e)) => add("actions_by_mail.secret", e.to_string(), "make the file readable or set the variable"),
                Some(Ok(_)) | None => {}
            }
        }
        if self.retention.personal_data_days == 0 {
            add("retention.personal_data_days", "0 would remove personal data the moment a case closes".into(), "use 730 (two years) or what your policy says");
        }
        if !is_cron(&self.retention.cron) {
            add("retention.cron", format!("{:?} is not a cron expression with six fields (seconds first)", self.retention.cron), "e.g. \"0 30 2 * * *\"");
        }
        if !is_cron(&self.reminders.sweep_cron) {
            add(
                "reminders.sweep_cron",
                format!("{:?} is not a cron expression with six fields (seconds first)", self.reminders.sweep_cron),
                "e.g. \"0 */5 * * * *\" for every five minutes",
            );
        }
        if let Some(addr) = self.service.metrics_listen {
            if !addr.ip().is_loopback() {
                add("service.metrics_listen", format!("{addr} is not a loopback address"), "use 127.0.0.1:PORT; put a proxy in front for remote scraping");
            }
        }
        if let Some(web) = &self.web {
            let url = web.public_url();
            let host = url.split_once("://").map(|(_, rest)| rest.split(['/', ':']).next().unwrap_or("")).unwrap_or("");
            if !(url.starts_with("https://") || url.starts_with("http://")) || host.is_empty() {
                add("web.public_url", format!("{url:?} is not an http(s) URL"), "e.g. \"https://klachten.example.nl\"");
            } else if url.starts_with("http://") && !is_loopback(host.trim_start_matches('[').trim_end_matches(']')) {
                add(
                    "web.public_url",
                    format!("{url} is plain HTTP to another machine: sign-in links and session cookies would travel unencrypted"),
                    "use https:// with a reverse proxy that terminates TLS (see README, \"Web workspace\")",
                );
            }
            if !web.listen.ip().is_loopback() && !web.behind_proxy {
                add(
                    "web.listen",
                    format!("{} is not a loopback address and klachtd does not terminate TLS", web.listen),
                    "listen on 127.0.0.1:PORT behind a reverse proxy with TLS, or set web.behind_proxy = true if the proxy is on another machine",
                );
            }
            if web.session_hours == 0 || web.session_hours > 24 {
                add("web.session_hours", format!("{} is not between 1 and 24", web.session_hours), "use 9 (a working day)");
            }
        }
        if self.outbox.poll_interval_secs == 0 || self.outbox.max_backoff_secs == 0 {
            add("outbox", "intervals must be at least 1 second".into(), "use the defaults");
        }
        p.extend(crate::io::oauth::config::problems(self, secrets));
        p
    }

    /// The sections that differ from `other` and need a restart to take effect. Templates,
    /// letters' organisation details, calendar, the per-sender limit, assignment and reminder
    /// lead times and hours reload on SIGHUP.
    pub fn restart_needed_for(&self, other: &Config) -> Vec<&'static str> {
        let mut keys = Vec::new();
        let o = (&self.organisation, &other.organisation);
        if o.0.complaints_address != o.1.complaints_address || o.0.own_addresses != o.1.own_addresses || o.0.reference_prefix != o.1.reference_prefix {
            keys.push("organisation (addresses, reference_prefix)");
        }
        if self.database != other.database {
            keys.push("database");
        }
        if self.storage != other.storage {
            keys.push("storage");
        }
        if self.imap != other.imap {
            keys.push("imap");
        }
        if self.smtp != other.smtp {
            keys.push("smtp");
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
        Calendar::new(self.calendar.extra_closing_days.iter().copied())
    }

    /// Lower-cased addresses whose mail is ours.
    pub fn own_addresses(&self) -> Vec<String> {
        let mut set: BTreeSet<String> = self.organisation.own_addresses.iter().map(|a| a.trim().to_ascii_lowercase()).collect();
        set.insert(self.organisation.complaints_address.trim().to_ascii_lowercase());
        set.insert(self.imap.user.trim().to_ascii_lowercase());
        set.into_iter().filter(|a| a.contains('@')).collect()
    }
}

impl Imap {
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs)
    }

    pub fn secret(&self) -> Secret<'_> {
        Secret { password: self.password.as_deref(), password_file: self.password_file.as_deref(), password_env: self.password_env.as_deref() }
    }
}

impl Smtp {
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs)
    }

    pub fn secret(&self) -> Secret<'_> {
        Secret { password: self.password.as_deref(), password_file: self.password_file.as_deref(), password_env: self.password_env.as_deref() }
    }
}

impl Secret<'_> {
    /// The password, read from where the configuration says. `section` names the key in errors.
    pub fn resolve(&self, section: &str) -> Result<String, SecretError> {
        if let Some(p) = self.password {
            return Ok(p.to_string());
        }
        if let Some(path) = self.password_file {
            let text = std::fs::read_to_string(path).map_err(|source| SecretError::File {
                key: format!("{section}.password_file"),
                path: path.to_path_buf(),
                source,
            })?;
            return Ok(text.trim_end_matches(['\r', '\n']).to_string());
        }
        if let Some(var) = &self.password_env {
            return std::env::var(var).map_err(|_| SecretError::Env { key: format!("{section}.password_env"), var: var.to_string() });
        }
        Ok(String::new())
    }
}

fn looks_like_address(a: &str) -> bool {
    crate::domain::vocabulary::EmailAddress::parse(a).is_ok()
}

/// Whether the scheduler accepts `cron` (checked here, so a typo is a configuration error
/// rather than a scheduler that never starts).
fn is_cron(cron: &str) -> bool {
    cron.split_whitespace().count() >= 6 && tokio_cron_scheduler::Job::new_async(cron, |_, _| Box::pin(async {})).is_ok()
}

pub(crate) fn is_loopback(host: &str) -> bool {
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(c.imap.mark, MarkMode::Move);
        assert_eq!(c.intake.acknowledge_since, AcknowledgeSince::FirstStart);
        assert_eq!(c.own_addresses(), vec!["klachten@dienst.nl".to_string()]);
    }

    #[test]
    fn unknown_keys_are_named() {
        let err = Config::parse(&MINIMAL.replace("tls = \"none\"\nuser", "tls = \"none\"\nusr = 1\nuser")).unwrap_err();
        assert!(err.contains("usr"), "{err}");
        assert!(err.starts_with("line 11, column 1: "), "{err}");
        let err = Config::parse(&format!("{MINIMAL}\n[imap]\n")).unwrap_err();
        assert_eq!(err, "line 19, column 2: duplicate key", "one line that says where");
    }

    #[test]
    fn spam_filters_to_trust() {
        use crate::domain::classify::SpamFilter;
        let c = Config::parse(MINIMAL).unwrap();
        assert_eq!(c.intake.spam.trust, [SpamFilter::SpamAssassin, SpamFilter::Rspamd, SpamFilter::Microsoft], "all three by default");
        let c = Config::parse(&format!("{MINIMAL}\n[intake.spam]\ntrust = [\"rspamd\"]\nmicrosoft_min_scl = 7\n")).unwrap();
        assert_eq!(c.intake.spam.policy().trusted, [SpamFilter::Rspamd]);
        assert!(c.problems().is_empty(), "{:?}", c.problems());
        let err = Config::parse(&format!("{MINIMAL}\n[intake.spam]\ntrust = [\"spamasassin\"]\n")).unwrap_err();
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
        assert_eq!(Config::parse(&from_file).unwrap().imap.secret().resolve("imap").unwrap(), "s3cret");
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
        assert!(Config::parse(&format!("{MINIMAL}\n[intake]\nacknowledge_since = \"soon\"\n")).unwrap_err().contains("first-start"));
        let bare =
            Config::parse(&format!("{MINIMAL}\n[intake]\nacknowledge_since = 2026-11-01\n[calendar]\nextra_closing_days = [2026-04-03, \"2026-12-24\"]\n"))
                .unwrap();
        assert_eq!(bare.intake.acknowledge_since, AcknowledgeSince::Date(NaiveDate::from_ymd_opt(2026, 11, 1).unwrap()));
        assert_eq!(bare.calendar.extra_closing_days, vec![NaiveDate::from_ymd_opt(2026, 4, 3).unwrap(), NaiveDate::from_ymd_opt(2026, 12, 24).unwrap()]);
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
        let err = Config::parse(&format!("{MINIMAL}\n[reminders.lead_days]\nrespnd = [5]\n")).unwrap_err();
        assert!(err.contains("respnd"), "a misspelt deadline is named: {err}");
        assert!(Config::parse(&format!("{MINIMAL}\n[reminders]\nlead_days = 2\n")).unwrap_err().contains("a list like [2, 0]"));
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
        assert_eq!(Config::parse(MINIMAL).unwrap().database.connect_url().unwrap(), default_db_url());
        assert_eq!(with_password("postgres://kl@db?options=a@b", "x").as_deref(), Some("postgres://kl:x@db?options=a@b"));
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
        let moved = Config::parse(&MINIMAL.replace("port = 10143", "port = 10993")).unwrap();
        assert_eq!(before.restart_needed_for(&moved), ["imap"]);
    }
}
