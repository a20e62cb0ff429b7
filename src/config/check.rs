//! What is wrong with a configuration, short of connecting to servers: every problem with its
//! key and its fix, so one run of `check-config` lists them all.

use std::collections::BTreeSet;

use chrono::{Datelike, NaiveDate};

use super::secret::with_password;
use super::{AssignmentRule, AuthMode, Config, Problem, TlsMode};

impl Config {
    /// `problems`, reading the secrets' files and variables only if `secrets`.
    pub(super) fn check(&self, secrets: bool) -> Vec<Problem> {
        let mut p = Problems::default();
        self.check_organisations(&mut p);
        self.check_each_organisation(&mut p);
        self.check_database(&mut p);
        self.check_servers(&mut p, secrets);
        self.check_mailbox(&mut p);
        self.check_intake(&mut p);
        self.check_handlers(&mut p);
        self.check_reminders(&mut p);
        self.check_actions_by_mail(&mut p, secrets);
        self.check_terms(&mut p);
        self.check_schedules(&mut p);
        self.check_listeners(&mut p);
        self.check_calendar(&mut p);
        self.check_outbox(&mut p);
        p.0.extend(super::oauth::problems(self, secrets));
        p.0.extend(super::oidc::problems(self, secrets));
        p.0.extend(super::graph::problems(self));
        p.0
    }

    /// The database's URL, its password source and its pool.
    fn check_database(&self, p: &mut Problems) {
        if !(self.database.url.starts_with("sqlite:") || self.database.url.starts_with("postgres://") || self.database.url.starts_with("postgresql://")) {
            p.add("database.url", "must start with sqlite:, postgres:// or postgresql://".into(), "e.g. sqlite:///var/lib/klachtd/klachtd.db");
        }
        if let Some(secret) = self.database.secret() {
            // Read in every mode: the command line needs the database as much as the daemon.
            if self.database.password_file.is_some() && self.database.password_env.is_some() {
                p.add("database.password_file", "and database.password_env are both set".into(), "keep one");
            } else if !self.database.url.starts_with("postgres") || with_password(&self.database.url, "x").is_none() {
                p.add(
                    "database.url",
                    "a password file or variable needs a PostgreSQL URL with a user and without a password".into(),
                    "e.g. postgres://klachtd@db.example.nl/klachtd",
                );
            } else if let Err(e) = secret.resolve("database") {
                p.add("database.password_file", e.reason(), "make the file readable by the service and the command line's user, or set the variable");
            }
        }
        if self.database.max_connections == 0 {
            p.add("database.max_connections", "must be at least 1".into(), "use 5");
        }
    }

    /// The IMAP and SMTP servers: host, port, TLS, one password source, the CA file.
    fn check_servers(&self, p: &mut Problems, secrets: bool) {
        let mailboxes = self.mailboxes();
        let imap = mailboxes.iter().map(|m| {
            let secret = Some(m.imap.secret()).filter(|_| m.imap.auth == AuthMode::Password && !self.reads_graph());
            (m.config_key.clone(), &m.imap.host, m.imap.port, m.imap.tls, secret, &m.imap.ca_file)
        });
        let smtp = (
            "smtp".to_string(),
            &self.smtp.host,
            self.smtp.port,
            self.smtp.tls,
            self.smtp.user.as_ref().map(|_| self.smtp.secret()).filter(|_| self.smtp.auth == AuthMode::Password && !self.sends_graph()),
            &self.smtp.ca_file,
        );
        for (section, host, port, tls, secret, ca) in imap.chain([smtp]) {
            let section = section.as_str();
            if host.trim().is_empty() {
                p.add(&format!("{section}.host"), "is empty".into(), "set the server's host name");
            }
            if port == 0 {
                p.add(&format!("{section}.port"), "must not be 0".into(), "use the server's port");
            }
            if tls == TlsMode::None && !is_loopback(host) {
                p.add(
                    &format!("{section}.tls"),
                    format!("\"none\" sends the password in clear text to {host}"),
                    "use \"implicit\" or \"starttls\"; \"none\" is only for localhost",
                );
            }
            if let Some(secret) = secret {
                let given = [secret.password.is_some(), secret.password_file.is_some(), secret.password_env.is_some()].iter().filter(|b| **b).count();
                if given != 1 {
                    p.add(
                        &format!("{section}.password"),
                        format!("{given} password sources given"),
                        "set exactly one of password, password_file, password_env",
                    );
                } else if let (true, Err(e)) = (secrets, secret.resolve(section)) {
                    p.add(&format!("{section}.password"), e.reason(), "make the file readable or set the variable");
                }
            }
            if let Some(ca) = ca {
                if !ca.is_file() {
                    p.add(&format!("{section}.ca_file"), format!("{} does not exist", ca.display()), "point it at a PEM certificate or remove the key");
                }
            }
        }
    }

    /// Each mailbox: its login, folders other than the inbox, polling and IDLE.
    fn check_mailbox(&self, p: &mut Problems) {
        for m in self.mailboxes() {
            let (section, imap) = (&m.config_key, &m.imap);
            if imap.user.trim().is_empty() {
                p.add(&format!("{section}.user"), "is empty".into(), "set the mailbox login");
            }
            for (key, folder) in
                [("processed_folder", &imap.processed_folder), ("ignored_folder", &imap.ignored_folder), ("quarantine_folder", &imap.quarantine_folder)]
            {
                if folder.trim().is_empty() || folder.eq_ignore_ascii_case(&imap.inbox) {
                    p.add(
                        &format!("{section}.{key}"),
                        format!("{folder:?} must be a folder other than the inbox"),
                        "name a separate folder; it is created when missing",
                    );
                }
            }
            if imap.poll_interval_secs == 0 || imap.timeout_secs == 0 {
                p.add(&format!("{section}.poll_interval_secs / timeout_secs"), "must be at least 1 second".into(), "use the defaults (60)");
            }
            // RFC 2177: a server may log a client off after 30 minutes of IDLE.
            if !(1..=29 * 60).contains(&imap.idle_renew_secs) {
                p.add(&format!("{section}.idle_renew_secs"), format!("{} is outside 1..1740 seconds", imap.idle_renew_secs), "use the default (180)");
            }
        }
        if self.smtp.timeout_secs == 0 {
            p.add("smtp.timeout_secs", "must be at least 1 second".into(), "use the default (60)");
        }
    }

    /// Intake: the acknowledgements' limit and the spam filters trusted.
    fn check_intake(&self, p: &mut Problems) {
        if self.intake.max_auto_replies_per_sender_per_day == 0 {
            p.add("intake.max_auto_replies_per_sender_per_day", "0 would suppress every acknowledgement".into(), "use 5");
        }
        if !(1..=9).contains(&self.intake.spam.microsoft_min_scl) {
            p.add(
                "intake.spam.microsoft_min_scl",
                format!("{} is not a spam confidence level from 1 to 9", self.intake.spam.microsoft_min_scl),
                "use 5, Microsoft's own threshold for spam",
            );
        }
        let mut seen = BTreeSet::new();
        for filter in &self.intake.spam.trust {
            if !seen.insert(filter.as_str()) {
                p.add("intake.spam.trust", format!("{:?} is listed twice", filter.as_str()), "list each filter once");
            }
        }
    }

    /// The handlers, and the default handler the assignment rule may need.
    fn check_handlers(&self, p: &mut Problems) {
        for (i, h) in self.handlers.iter().enumerate() {
            if h.name.trim().is_empty() || !looks_like_address(&h.email) {
                p.add(
                    &format!("handlers[{i}]"),
                    format!("{:?} <{}> needs a name and an e-mail address", h.name, h.email),
                    "write name = \"...\" and email = \"...@...\"",
                );
            }
            if h.organisations.as_ref().is_some_and(Vec::is_empty) {
                p.add(
                    &format!("handlers[{i}].organisations"),
                    format!("{:?} works for no organisation, so would see no case", h.name),
                    "list the keys of their organisations, or leave the key out for the one organisation",
                );
            }
        }
        if self.assignment.rule == AssignmentRule::Default {
            match &self.assignment.default_handler {
                None => p.add("assignment.default_handler", "rule \"default\" needs a default handler".into(), "name one of the handlers"),
                Some(name) if !self.handlers.iter().any(|h| &h.name == name) => {
                    p.add("assignment.default_handler", format!("{name:?} is not among [[handlers]]"), "name a handler from this file")
                }
                Some(_) => {}
            }
        }
    }

    /// When reminders may be sent, and how long before a deadline.
    fn check_reminders(&self, p: &mut Problems) {
        if self.reminders.policy().is_none() {
            p.add(
                "reminders.working_hours",
                format!("{:?} is not a range like \"08:30-17:00\"", self.reminders.working_hours),
                "write HH:MM-HH:MM, start before end",
            );
        }
        let leads = self.reminders.lead_days.resolve();
        if [&leads.acknowledge, &leads.progress, &leads.respond].iter().any(|days| days.iter().any(|d| *d > 20)) {
            p.add("reminders.lead_days", "lead times above 20 working days make no sense here".into(), "use e.g. [2, 0]");
        }
    }

    /// Actions by mail: exactly one source of the secret, and a secret long enough.
    fn check_actions_by_mail(&self, p: &mut Problems, secrets: bool) {
        if let Some(a) = &self.actions_by_mail {
            let sources = [a.secret.is_some(), a.secret_file.is_some(), a.secret_env.is_some()].iter().filter(|b| **b).count();
            // Without `secrets`, only a secret written in this file is looked at.
            let secret = if secrets || a.secret.is_some() { Some(a.secret().resolve("actions_by_mail")) } else { None };
            match secret {
                _ if sources != 1 => p.add(
                    "actions_by_mail.secret",
                    "needs exactly one of secret, secret_file, secret_env".into(),
                    "set one, or remove the section to turn actions by mail off",
                ),
                Some(Ok(s)) if s.len() < 16 => {
                    p.add("actions_by_mail.secret", "is shorter than 16 characters".into(), "use a long random value, e.g. `openssl rand -hex 32`")
                }
                Some(Err(e)) => p.add("actions_by_mail.secret", e.to_string(), "make the file readable or set the variable"),
                Some(Ok(_)) | None => {}
            }
        }
    }

    /// The term the law sets to a postponement (the external body's and retention are each
    /// organisation's).
    fn check_terms(&self, p: &mut Problems) {
        if self.postponement.max_weeks == 0 || self.postponement.max_weeks > crate::domain::awb::LAW_MAX_POSTPONEMENT_WEEKS {
            p.add(
                "postponement.max_weeks",
                format!("{} weeks: Awb 9:11 allows a postponement of at most four weeks", self.postponement.max_weeks),
                "use 1 to 4 (default 4)",
            );
        }
    }

    /// The schedules of retention and of the reminders' sweep.
    fn check_schedules(&self, p: &mut Problems) {
        if !is_cron(&self.retention.cron) {
            p.add("retention.cron", format!("{:?} is not a cron expression with six fields (seconds first)", self.retention.cron), "e.g. \"0 30 2 * * *\"");
        }
        if !is_cron(&self.reminders.sweep_cron) {
            p.add(
                "reminders.sweep_cron",
                format!("{:?} is not a cron expression with six fields (seconds first)", self.reminders.sweep_cron),
                "e.g. \"0 */5 * * * *\" for every five minutes",
            );
        }
    }

    /// What listens: the metrics endpoint and the web workspace (loopback unless behind a
    /// proxy, a public URL that keeps sign-in links and cookies encrypted, the session's length).
    fn check_listeners(&self, p: &mut Problems) {
        if let Some(addr) = self.service.metrics_listen {
            if !addr.ip().is_loopback() {
                p.add("service.metrics_listen", format!("{addr} is not a loopback address"), "use 127.0.0.1:PORT; put a proxy in front for remote scraping");
            }
        }
        if let Some(web) = &self.web {
            let url = web.public_url();
            let host = url.split_once("://").map(|(_, rest)| rest.split(['/', ':']).next().unwrap_or("")).unwrap_or("");
            if !(url.starts_with("https://") || url.starts_with("http://")) || host.is_empty() {
                p.add("web.public_url", format!("{url:?} is not an http(s) URL"), "e.g. \"https://klachten.example.nl\"");
            } else if url.starts_with("http://") && !is_loopback(host.trim_start_matches('[').trim_end_matches(']')) {
                p.add(
                    "web.public_url",
                    format!("{url} is plain HTTP to another machine: sign-in links and session cookies would travel unencrypted"),
                    "use https:// with a reverse proxy that terminates TLS (see README, \"Web workspace\")",
                );
            }
            if !web.listen.ip().is_loopback() && !web.behind_proxy {
                p.add(
                    "web.listen",
                    format!("{} is not a loopback address and klachtd does not terminate TLS", web.listen),
                    "listen on 127.0.0.1:PORT behind a reverse proxy with TLS, or set web.behind_proxy = true if the proxy is on another machine",
                );
            }
            if web.session_hours == 0 || web.session_hours > 24 {
                p.add("web.session_hours", format!("{} is not between 1 and 24", web.session_hours), "use 9 (a working day)");
            }
        }
    }

    /// The royal decrees that equate days with holidays: a title, one decree's years, its days.
    fn check_calendar(&self, p: &mut Problems) {
        for (i, decree) in self.calendar.decrees.iter().enumerate() {
            let key = format!("calendar.decrees[{i}]");
            if decree.title.trim().is_empty() {
                p.add(&key, "has no title".into(), "write the decree's title, e.g. \"Besluit gelijkstelling van ... met een algemeen erkende feestdag\"");
            }
            if decree.first_year > decree.last_year || decree.last_year - decree.first_year > 2 {
                p.add(
                    &key,
                    format!("years {}-{} are not the span of one decree", decree.first_year, decree.last_year),
                    "a decree settles at most three years: first_year and last_year",
                );
            }
            for day in decree.days.iter().filter(|d| !(decree.first_year..=decree.last_year).contains(&d.year())) {
                p.add(&key, format!("{day} lies outside {}-{}", decree.first_year, decree.last_year), "list only the days of that decree's years");
            }
        }
    }

    /// The outbox's intervals.
    fn check_outbox(&self, p: &mut Problems) {
        if self.outbox.poll_interval_secs == 0 || self.outbox.max_backoff_secs == 0 {
            p.add("outbox", "intervals must be at least 1 second".into(), "use the defaults");
        }
    }

    /// What is valid but worth saying, as of `today`: a calendar that will need the operator's
    /// hand soon, a retention period the external body's term overrides. Shown by
    /// `check-config`, `status` and the daemon's start, never a reason to refuse.
    pub fn warnings(&self, today: NaiveDate) -> Vec<Problem> {
        let mut w = Vec::new();
        let calendar = self.calendar();
        if let Some(year) = calendar.first_year_without_decree(today) {
            let known = calendar.decrees_known_through().map_or("no year".to_string(), |y| format!("up to {y}"));
            w.push(Problem {
                key: "calendar.decrees".into(),
                message: format!("the days a royal decree equates with a holiday (Atw art. 3(3)) are known {known}; deadlines in {year} may miss one"),
                fix: format!(
                    "add the decree for {year} as [[calendar.decrees]] with its title, first_year, last_year and days (see `klachtd calendar --year {year}`)"
                ),
            });
        }
        // Retention stretches for the cases whose term still runs; the procedure against the Awb.
        w.extend(self.organisation_warnings(today));
        w
    }
}

/// Who an organisation is: the addresses, the reference prefix, the name, the regulation's
/// link; its letters' language and templates; its external body's term and its retention.
pub(super) fn check_organisation(o: &super::OrganisationSpec, p: &mut Problems) {
    if !looks_like_address(&o.complaints_address) {
        p.add(
            &o.config_key("complaints_address"),
            format!("{:?} is not an e-mail address", o.complaints_address),
            "write the full address, e.g. klachten@example.nl",
        );
    }
    for a in &o.own_addresses {
        if !looks_like_address(a) {
            p.add(&o.config_key("own_addresses"), format!("{a:?} is not an e-mail address"), "list full addresses only");
        }
    }
    let prefix = &o.reference_prefix;
    if prefix.is_empty() || prefix.len() > 8 || !prefix.bytes().all(|b| b.is_ascii_alphabetic()) {
        p.add(&o.config_key("reference_prefix"), format!("{prefix:?} must be 1-8 letters"), "use letters only, e.g. \"KL\"");
    }
    if o.name.trim().is_empty() {
        p.add(&o.config_key("name"), "is empty".into(), "set the name complainants know you by");
    }
    if !o.regulation_url.starts_with("https://") && !o.regulation_url.starts_with("http://") {
        p.add(&o.config_key("regulation_url"), "must be an http(s) link".into(), "link to the published complaints regulation");
    }
    if !matches!(o.templates.language.as_str(), "nl" | "en") {
        p.add(&o.config_key("language"), format!("{:?} is not supported", o.templates.language), "use \"nl\" or \"en\"");
    }
    if let Some(dir) = &o.templates.dir {
        if !dir.is_dir() {
            p.add(
                &o.config_key("templates_dir"),
                format!("{} is not a directory", dir.display()),
                "point it at a directory with nl/ and en/ templates, or remove the key to use the built-in ones",
            );
        }
    }
    if o.external_body.term_months == 0 || o.external_body.term_months > 120 {
        p.add(
            &o.config_key("external_body.term_months"),
            format!("{} months is no term to turn to the external body", o.external_body.term_months),
            "use 12 for the Nationale ombudsman (Awb 9:24)",
        );
    }
    if o.personal_data_days == 0 {
        p.add(
            &o.config_key("retention.personal_data_days"),
            "0 would remove personal data the moment a case closes".into(),
            "use 730 (two years) or what your policy says",
        );
    }
}

/// The problems found so far, each with its key and its fix.
#[derive(Default)]
pub(super) struct Problems(pub(super) Vec<Problem>);

impl Problems {
    pub(super) fn add(&mut self, key: &str, message: String, fix: &str) {
        self.0.push(Problem { key: key.into(), message, fix: fix.into() });
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
