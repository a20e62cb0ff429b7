//! The sections of the configuration file, with their defaults. Every key is documented in
//! `config/klachtd.example.toml`; unknown keys are errors.

use std::path::PathBuf;
use std::time::Duration;

use chrono::NaiveDate;
use serde::Deserialize;

use super::defaults::*;
use super::secret::{with_password, Secret};
use super::SecretError;

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
    /// Signing in with the organisation's account (OpenID Connect), beside the e-mailed link.
    pub oidc: Option<super::oidc::Oidc>,
}

impl Web {
    /// The base of the links, without a trailing slash.
    pub fn public_url(&self) -> String {
        self.public_url.clone().unwrap_or_else(|| format!("http://{}", self.listen)).trim_end_matches('/').to_string()
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
    /// The keys of the organisations they work for (issue 25); absent: the one organisation
    /// of a configuration without several. See [`HandlerConfig::organisations`].
    #[serde(default)]
    pub organisations: Option<Vec<crate::domain::organisation::OrganisationKey>>,
}

impl HandlerConfig {
    /// The organisations this handler works for (sees and acts on the cases of, supervises):
    /// as listed, without repeats, or `["default"]` when the key is absent.
    pub fn organisations(&self) -> Vec<crate::domain::organisation::OrganisationKey> {
        let mut keys = self.organisations.clone().unwrap_or_else(|| vec![crate::domain::organisation::OrganisationKey::default_key()]);
        keys.sort();
        keys.dedup();
        keys
    }
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
    pub(super) fn resolve(&self) -> crate::domain::reminders::LeadDays {
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
    /// How long an instance counts as alive after its last heartbeat (sent every third of it):
    /// a dead instance's mailboxes and letters in flight are taken over within this time.
    #[serde(default = "default_lease_secs")]
    pub lease_secs: u64,
}

fn default_lease_secs() -> u64 {
    30
}

impl Default for Service {
    fn default() -> Self {
        Self { log_format: default_log_format(), metrics_listen: None, lease_secs: default_lease_secs() }
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
    /// Months after the final letter within which the complainant can turn to the body (Awb
    /// 9:24: a year for the Nationale ombudsman); the letter states the last day.
    #[serde(default = "default_term_months")]
    pub term_months: u32,
}

impl Default for ExternalBody {
    fn default() -> Self {
        Self {
            name: "Nationale ombudsman".into(),
            address: "Postbus 93122, 2509 AC Den Haag".into(),
            website: "https://www.nationaleombudsman.nl".into(),
            term_months: default_term_months(),
        }
    }
}

/// Postponing the final response (Awb 9:11).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostponementConfig {
    /// At most this many weeks a postponement (default and legal maximum 4).
    #[serde(default = "default_max_weeks")]
    pub max_weeks: u32,
}

impl Default for PostponementConfig {
    fn default() -> Self {
        Self { max_weeks: default_max_weeks() }
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
    pub(super) fn secret(&self) -> Option<Secret<'_>> {
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
    /// Days the service is closed besides the days of the Algemene termijnenwet, e.g. 24 December.
    #[serde(default, deserialize_with = "dates")]
    pub extra_closing_days: Vec<NaiveDate>,
    /// Royal decrees under Atw art. 3(3) published after this version (2023-2028 are built in).
    #[serde(default)]
    pub decrees: Vec<DecreeConfig>,
}

/// `[[calendar.decrees]]`: one royal decree equating days with a holiday (Atw art. 3(3)).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecreeConfig {
    /// Its title, shown as the reason a day is closed.
    pub title: String,
    /// The years it settles (a decree covers three): a year inside them without one of its
    /// days has none for certain.
    pub first_year: i32,
    pub last_year: i32,
    #[serde(deserialize_with = "dates")]
    pub days: Vec<NaiveDate>,
}

impl DecreeConfig {
    pub fn decree(&self) -> crate::domain::calendar::Decree {
        crate::domain::calendar::Decree {
            title: self.title.trim().to_string(),
            first_year: self.first_year,
            last_year: self.last_year,
            days: self.days.clone(),
        }
    }
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
    /// Longest the acknowledgements wait while the intake registers a backlog (0: they never
    /// wait; see `app::backlog`).
    #[serde(default = "default_backlog_hold")]
    pub backlog_hold_secs: u64,
}

impl Default for Outbox {
    fn default() -> Self {
        Self { poll_interval_secs: default_outbox_poll(), max_backoff_secs: default_max_backoff(), backlog_hold_secs: default_backlog_hold() }
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
