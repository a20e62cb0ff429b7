//! The command line: `klachtd run` is the daemon; the other commands are for operators and
//! handlers. Errors end as one line on stderr and a non-zero exit code, never a backtrace.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use chrono::NaiveDate;
use clap::{Parser, Subcommand};
use tokio::sync::watch;

use std::time::Duration;

use crate::config::{Config, LogFormat};
use crate::daemon;
use crate::domain::calendar::{Calendar, Deadlines};

#[derive(Parser)]
#[command(name = "klachtd", version, about = "Runs a complaints procedure by e-mail")]
struct Cli {
    /// Configuration file.
    #[arg(long, global = true, env = "KLACHTD_CONFIG", default_value = "/etc/klachtd/klachtd.toml")]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon: read the mailbox, register cases, send mail.
    Run,
    /// Validate the configuration; unless --offline, also try the database and mail servers.
    CheckConfig {
        #[arg(long)]
        offline: bool,
    },
    /// Apply database migrations (the daemon also does this at start).
    Migrate,
    /// Print the deadlines for a date of receipt as JSON.
    Deadlines {
        /// Date of receipt, YYYY-MM-DD.
        #[arg(long, value_parser = date)]
        received: NaiveDate,
    },
    /// Health at a glance: last mailbox sync, outbox backlog, open cases by deadline state.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Look at and act on cases.
    Cases {
        #[command(subcommand)]
        command: CasesCommand,
    },
    /// The handlers who can be assigned cases.
    Handlers {
        #[command(subcommand)]
        command: HandlersCommand,
    },
    /// The register of complaints over a period (R10).
    Report {
        #[arg(long, value_parser = date)]
        from: NaiveDate,
        #[arg(long, value_parser = date)]
        to: NaiveDate,
        /// table, csv or json.
        #[arg(long, default_value = "table")]
        format: String,
    },
    /// Personal data retention (R9).
    Retention {
        #[command(subcommand)]
        command: RetentionCommand,
    },
    /// Deadline reminders to handlers.
    Reminders {
        #[command(subcommand)]
        command: RemindersCommand,
    },
    /// Outgoing mail.
    Outbox {
        #[command(subcommand)]
        command: OutboxCommand,
    },
    /// Mail held for a person: flagged as spam by the organisation's filter, a copier's scan,
    /// a voicemail.
    Quarantine {
        #[command(subcommand)]
        command: QuarantineCommand,
    },
}

#[derive(Subcommand)]
enum OutboxCommand {
    /// Queue mail again that the SMTP server refused for good, once the cause is fixed (a smart
    /// host whose 5xx was temporary after all, a corrected address).
    Retry {
        /// Only the undeliverable mail of these cases.
        #[arg(required_unless_present = "all")]
        references: Vec<String>,
        /// All undeliverable mail.
        #[arg(long, conflicts_with = "references")]
        all: bool,
    },
}

#[derive(Subcommand)]
enum QuarantineCommand {
    /// Quarantined mail that can be registered, oldest first.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Register a quarantined mail (say, a real complaint the spam filter flagged) exactly as
    /// the intake would have: a new case with its original date of receipt, acknowledged, or
    /// mail of the case it refers to.
    Register { id: i64 },
}

#[derive(Subcommand)]
enum HandlersCommand {
    /// Add a handler (or update one with the same name).
    Add {
        name: String,
        email: String,
        /// Supervisors receive escalations and check assignments.
        #[arg(long)]
        supervisor: bool,
    },
    List {
        #[arg(long)]
        json: bool,
    },
    /// Make a handler unavailable for new cases (their history stays).
    Remove { name: String },
}

#[derive(Subcommand)]
enum RetentionCommand {
    /// Remove personal data of cases closed longer than retention.personal_data_days ago.
    Run,
}

#[derive(Subcommand)]
enum RemindersCommand {
    /// Show what would be sent at a moment, without sending.
    Preview {
        /// "YYYY-MM-DD HH:MM" in Europe/Amsterdam, or RFC 3339; default now.
        #[arg(long)]
        at: Option<String>,
    },
}

#[derive(Subcommand)]
enum CasesCommand {
    /// Cases, oldest first; printed as they are read, so the first come at once.
    List {
        #[arg(long)]
        json: bool,
        /// Only open cases.
        #[arg(long)]
        open: bool,
        /// Only the cases of this handler.
        #[arg(long)]
        handler: Option<String>,
        /// Only open cases with a deadline not yet met within this many calendar days (or
        /// passed).
        #[arg(long, value_name = "DAYS")]
        due_within: Option<u32>,
        /// At most this many cases.
        #[arg(long)]
        limit: Option<u32>,
    },
    /// One case with its messages, attachments and history.
    Show {
        reference: String,
        #[arg(long)]
        json: bool,
    },
    /// Send a held acknowledgement (mail that was in the mailbox before klachtd took over).
    ReleaseAcknowledgement { reference: String },
    /// Make a handler responsible for a case (refused if the complaint is about them).
    Assign { reference: String, handler: String },
    /// Record a staff member the complaint is about; they can then not handle it.
    Subject { reference: String, name: String },
    /// Send the progress notice (R6) with the expected handling date.
    Progress {
        reference: String,
        #[arg(long, value_parser = date)]
        expected: NaiveDate,
        /// Text for the complainant, inserted in the letter.
        #[arg(long)]
        message_file: Option<PathBuf>,
    },
    /// Ask the complainant (or, with --to, someone else) for more information (R7).
    RequestInfo {
        reference: String,
        #[arg(long)]
        message_file: PathBuf,
        #[arg(long)]
        to: Option<String>,
    },
    /// Send the final response (R8) with findings and measures; closes the case.
    Respond {
        reference: String,
        /// founded, partly-founded or unfounded.
        #[arg(long)]
        outcome: String,
        #[arg(long)]
        findings_file: PathBuf,
        #[arg(long)]
        measures_file: Option<PathBuf>,
    },
    /// Set the register category: service, staff, process or other.
    Category { reference: String, category: String },
    /// Add an internal note (never sent).
    Note { reference: String, text: String },
    /// Record that the complainant took the complaint to an external body (R11).
    Escalate {
        reference: String,
        #[arg(long)]
        to: String,
        #[arg(long, value_parser = date)]
        date: NaiveDate,
    },
    /// Reopen a closed case.
    Reopen { reference: String },
    /// Register a complaint that came by post (R2), with its real date of receipt.
    Register {
        #[arg(long)]
        name: String,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        postal_address: Option<String>,
        #[arg(long, value_parser = date)]
        received: NaiveDate,
        #[arg(long)]
        description_file: PathBuf,
        /// A scanned document; repeat for more.
        #[arg(long)]
        attach: Vec<PathBuf>,
    },
    /// Record that the acknowledgement of a paper complaint went out by post.
    Acknowledged {
        reference: String,
        #[arg(long, value_parser = date)]
        date: NaiveDate,
    },
    /// Correct or add the complainant's name, e-mail address or description (R3); the
    /// incomplete flags are recomputed.
    Complete {
        reference: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        description_file: Option<PathBuf>,
    },
    /// A supervisor confirms the assignment of a case whose complaint names a handler (R5).
    Checked { reference: String },
}

/// sysexits' EX_CONFIG: a configuration or credential error. Restarting cannot fix it, so the
/// unit has `RestartPreventExitStatus=78`; a server that is down exits 1 and is retried.
const EX_CONFIG: u8 = 78;

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // A value of the wrong form is a refusal like any other: one line, exit 1. Help,
        // version and usage errors keep clap's own output.
        Err(e) if matches!(e.kind(), clap::error::ErrorKind::ValueValidation | clap::error::ErrorKind::InvalidValue) => {
            let text = e.to_string();
            let first = text.lines().next().unwrap_or_default();
            eprintln!("klachtd: {}", first.strip_prefix("error: ").unwrap_or(first));
            return ExitCode::FAILURE;
        }
        Err(e) => e.exit(),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("klachtd: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(dispatch(cli));
    // A blocking task stuck in the kernel (a DNS lookup, a hung disk) must not hold up the exit.
    runtime.shutdown_timeout(Duration::from_secs(2));
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("klachtd: {}", one_line(&e));
            if is_configuration_error(&e) {
                ExitCode::from(EX_CONFIG)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// "context: cause: root cause" on one line, each cause once: many error types (sqlx's, and
/// ours that wrap an io::Error) already print their source in their own message.
pub fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain().map(ToString::to_string) {
        if line.contains(&cause) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&cause);
    }
    line
}

/// Whether an error is one that only a change of configuration or credentials can fix.
fn is_configuration_error(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause.is::<crate::config::ConfigError>()
            || cause.is::<crate::config::SecretError>()
            || cause.is::<daemon::CredentialsRefused>()
            || matches!(
                cause.downcast_ref::<crate::io::oauth::TokenError>(),
                Some(crate::io::oauth::TokenError::Refused { .. } | crate::io::oauth::TokenError::Config(_))
            )
            || matches!(cause.downcast_ref::<crate::io::oauth::smtp::OAuthSmtpError>(), Some(e) if e.is_permanent())
            || matches!(cause.downcast_ref::<crate::io::imap::MailboxError>(), Some(e) if e.is_credentials_refused())
    })
}

/// A date argument: exactly YYYY-MM-DD, and a day that exists.
fn date(text: &str) -> Result<NaiveDate, String> {
    let well_formed = text.len() == 10 && text.bytes().enumerate().all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
    match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        Ok(day) if well_formed => Ok(day),
        _ if well_formed => Err(format!("{text} is not a day of the calendar")),
        _ => Err(format!("expected a date as YYYY-MM-DD, e.g. 2026-11-20, not {text:?}")),
    }
}

async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    let log_format = match &cli.command {
        Command::Run => Config::load_without_secrets(&cli.config).map(|c| c.service.log_format).unwrap_or(LogFormat::Auto),
        _ => LogFormat::Auto,
    };
    crate::telemetry::init_logging(log_format);
    match cli.command {
        Command::Deadlines { received } => {
            // The configuration is optional here: it only adds closing days.
            let calendar = if cli.config.exists() { Config::load_without_secrets(&cli.config)?.calendar() } else { Calendar::default() };
            let d = Deadlines::compute(&calendar, received);
            let json = serde_json::json!({
                "received": d.received.to_string(),
                "acknowledge_by": d.acknowledge_by.to_string(),
                "progress_by": d.progress_by.to_string(),
                "respond_by": d.respond_by.to_string(),
            });
            println!("{json}");
            Ok(ExitCode::SUCCESS)
        }
        Command::CheckConfig { offline } => check_config(&cli.config, offline).await,
        Command::Migrate => {
            let config = Config::load_without_secrets(&cli.config)?;
            daemon::open_store(&config).await?.close().await;
            println!("database is up to date");
            Ok(ExitCode::SUCCESS)
        }
        Command::Run => {
            let config = Config::load(&cli.config)?;
            run(&cli.config, config).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Status { json } => {
            let config = Config::load_without_secrets(&cli.config)?;
            let store = daemon::open_existing_store(&config).await?;
            status(&store, &config, json).await
        }
        Command::Cases { command } => {
            let config = Config::load_without_secrets(&cli.config)?;
            // Looking never creates a database (a mistyped path would show an empty one);
            // registering a paper complaint or acting on a case may start one.
            let store = match command {
                CasesCommand::List { .. } | CasesCommand::Show { .. } => daemon::open_existing_store(&config).await?,
                _ => daemon::open_store(&config).await?,
            };
            let (actions, no_token) = command_line_actions(&config, &store)?;
            cases(&store, &actions, no_token, command).await
        }
        Command::Handlers { command } => {
            let config = Config::load_without_secrets(&cli.config)?;
            let store = match command {
                HandlersCommand::List { .. } => daemon::open_existing_store(&config).await?,
                _ => daemon::open_store(&config).await?,
            };
            handlers(&store, &config, command).await
        }
        Command::Report { from, to, format } => {
            anyhow::ensure!(from <= to, "--from {from} is after --to {to}");
            anyhow::ensure!(matches!(format.as_str(), "table" | "csv" | "json"), "--format {format:?}: use table, csv or json");
            let config = Config::load_without_secrets(&cli.config)?;
            let store = daemon::open_existing_store(&config).await?;
            let facts = store.register_facts(from, to).await?;
            let today = crate::domain::calendar::amsterdam_date(chrono::Utc::now());
            let report = crate::domain::register::compute(&facts, &config.calendar(), from, to, today);
            match format.as_str() {
                "json" => println!("{}", serde_json::to_string_pretty(&report)?),
                "csv" => print!("{}", report.to_csv()),
                _ => print!("{}", report.to_table()),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Retention { command: RetentionCommand::Run } => {
            let config = Config::load_without_secrets(&cli.config)?;
            let store = daemon::open_existing_store(&config).await?;
            let n = crate::app::actions::run_retention(&store, &config.storage.data_dir, config.retention.personal_data_days).await?;
            println!("personal data removed from {n} case(s) closed more than {} days ago", config.retention.personal_data_days);
            Ok(ExitCode::SUCCESS)
        }
        Command::Quarantine { command } => {
            let config = Config::load_without_secrets(&cli.config)?;
            let store = daemon::open_existing_store(&config).await?;
            quarantine(&config, &store, command).await
        }
        Command::Reminders { command: RemindersCommand::Preview { at } } => {
            let config = Config::load_without_secrets(&cli.config)?;
            let store = daemon::open_existing_store(&config).await?;
            let at = match at {
                Some(text) => parse_moment(&text)?,
                None => chrono::Utc::now(),
            };
            let service = crate::app::reminders::ReminderService::new(store, daemon::load_settings(&config)?, &config.organisation.complaints_address);
            let digests = service.preview(at).await?;
            println!("At {}: {} mail(s) would be sent", at.with_timezone(&chrono_tz::Europe::Amsterdam).format("%Y-%m-%d %H:%M %Z"), digests.len());
            for d in digests {
                println!("\nTo {} <{}>:", d.name, d.email);
                for i in d.items {
                    println!("  {}  {:<11} {:<10} {}  {}", i.reference, i.due.deadline().as_str(), i.due.kind(), i.due.date(), i.status);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Outbox { command: OutboxCommand::Retry { references, all: _ } } => {
            let config = Config::load_without_secrets(&cli.config)?;
            let store = daemon::open_existing_store(&config).await?;
            let n = store.retry_undeliverable(&references, &actor()).await?;
            println!("{n} mail(s) queued again; the running daemon sends them within outbox.poll_interval_secs");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// How long shutdown may take before we stop waiting (systemd's TimeoutStopSec is longer).
const SHUTDOWN_LIMIT: Duration = Duration::from_secs(20);

async fn run(path: &std::path::Path, config: Config) -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let (mut term, mut int, mut hup) = (signal(SignalKind::terminate())?, signal(SignalKind::interrupt())?, signal(SignalKind::hangup())?);
    // Start-up can wait on a slow server for a while; a stop request meanwhile ends it at once
    // (nothing has been taken from the mailbox yet).
    let daemon = tokio::select! {
        prepared = daemon::Daemon::prepare(&config) => prepared?,
        _ = term.recv() => return Ok(()),
        _ = int.recv() => return Ok(()),
    };
    let reloader = daemon.reloader();
    let (stop, shutdown) = watch::channel(false);
    let mut running = tokio::spawn(daemon.run(shutdown));
    loop {
        tokio::select! {
            finished = &mut running => return finished.context("daemon task panicked")?,
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = hup.recv() => reload(path, &reloader).await,
        }
    }
    let notifier = crate::io::systemd::Notifier::from_env();
    notifier.stopping();
    tracing::info!("shutting down: no new mail is taken, the mail in hand is finished");
    let _ = stop.send(true);
    match tokio::time::timeout(SHUTDOWN_LIMIT, &mut running).await {
        Ok(finished) => finished.context("daemon task panicked")?,
        Err(_) => {
            // Nothing is lost by leaving now: uncommitted mail stays in the mailbox and unsent
            // mail in the outbox.
            tracing::warn!(limit_secs = SHUTDOWN_LIMIT.as_secs(), "shutdown took too long; exiting anyway");
            Ok(())
        }
    }
}

async fn reload(path: &std::path::Path, reloader: &daemon::Reloader) {
    let notifier = crate::io::systemd::Notifier::from_env();
    notifier.reloading();
    match Config::load(path).map_err(anyhow::Error::from).and_then(|c| reloader.apply(c)) {
        Ok(restart) if restart.is_empty() => tracing::info!("configuration and templates reloaded"),
        Ok(restart) => tracing::warn!(needs_restart = %restart.join(", "), "configuration reloaded; these changes take effect after a restart"),
        Err(e) => tracing::error!("reload refused, keeping the running configuration: {}", one_line(&e)),
    }
    notifier.reloaded(&reloader.status_line().await);
}

async fn check_config(path: &std::path::Path, offline: bool) -> anyhow::Result<ExitCode> {
    let config = Config::load(path)?;
    let letters = daemon::load_letters(&config)?;
    let sample = crate::app::templates::sample_context();
    for letter in crate::app::templates::LETTERS {
        letters.render(letter, &sample).with_context(|| format!("templates: {letter}"))?;
    }
    println!("{}: configuration is valid", path.display());
    if offline {
        return Ok(ExitCode::SUCCESS);
    }
    let store = daemon::open_store(&config).await?;
    store.close().await;
    println!("database: ok ({})", daemon::redact_url(&config.database.url));
    let tokens = daemon::token_source(&config).await?;
    if tokens.is_some() {
        println!("oauth2: ok (access token obtained)");
    }
    let tls = crate::io::tls::client_config(config.imap.ca_file.as_deref())?;
    let mut session = match (&tokens, config.imap.auth) {
        (Some(tokens), crate::config::AuthMode::Oauth2) => crate::io::imap::connect_oauth(&config.imap, &tls, tokens).await?,
        _ => {
            let password = config.imap.secret().resolve("imap")?;
            crate::io::imap::connect(&config.imap, &tls, &password).await?
        }
    };
    // The folders the daemon would use, created when missing: a server that refuses them
    // (a namespace, a permission) shows here rather than as a daemon that reconnects for ever.
    let caps = session.capabilities().await.context("imap: CAPABILITY")?;
    let folders = crate::io::imap::prepare_folders(&mut session, &config.imap, caps.has_str("NAMESPACE")).await.context("imap")?;
    let _ = session.logout().await;
    println!(
        "imap: ok ({}:{} as {}; folders {}, {}, {})",
        config.imap.host, config.imap.port, config.imap.user, folders.processed, folders.ignored, folders.quarantine
    );
    daemon::mailer_with(&config, tokens)?.check().await.context("smtp")?;
    println!("smtp: ok ({}:{})", config.smtp.host, config.smtp.port);
    Ok(ExitCode::SUCCESS)
}

async fn quarantine(config: &Config, store: &crate::store::Store, command: QuarantineCommand) -> anyhow::Result<ExitCode> {
    use crate::app::intake::Outcome;
    match command {
        QuarantineCommand::List { json } => {
            let mails = store.quarantined_mails().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&mails)?);
            } else if mails.is_empty() {
                println!("no quarantined mail waits for a handler");
            } else {
                println!("    ID  RECEIVED          FROM                              SUBJECT                           REASON");
                for m in mails {
                    let cut = |s: &str| s.chars().take(32).collect::<String>();
                    println!(
                        "{:>6}  {:<16}  {:<32}  {:<32}  {}",
                        m.id,
                        fmt_time(m.received_at),
                        cut(m.from_address.as_deref().unwrap_or("-")),
                        cut(&m.subject),
                        m.reason
                    );
                }
            }
        }
        QuarantineCommand::Register { id } => {
            let (actions, _) = command_line_actions(config, store)?;
            let first_start = store.setting_or_init("first_start_at", &chrono::Utc::now().timestamp().to_string()).await?;
            let first_start =
                first_start.parse::<i64>().ok().and_then(|t| chrono::DateTime::from_timestamp(t, 0)).context("settings.first_start_at is not a timestamp")?;
            let intake = crate::app::intake::Intake::new(
                config,
                store.clone(),
                daemon::load_settings(config)?,
                std::sync::Arc::new(actions),
                first_start,
                Default::default(),
            );
            match intake.release_from_quarantine(id, &actor()).await? {
                Outcome::Registered { reference } => {
                    let case = store.case_detail(&reference).await?.summary;
                    println!("{reference}: registered from quarantine (received {}); acknowledgement {}", case.received_on, case.acknowledgement_word());
                }
                Outcome::FollowUp { reference } => println!("{reference}: the mail refers to this case and is kept with it (no reply)"),
                Outcome::KeptWithCase { reference, reason } => println!("{reference}: kept with this case ({reason}; no reply)"),
                Outcome::Ignored { reason } => println!("mail {id} is no complaint ({reason}); set aside without a reply"),
                Outcome::Duplicate => println!("mail {id} was registered before"),
                Outcome::Quarantine { reason } => println!("mail {id} stays in quarantine: {reason}"),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn read_text(path: &std::path::Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

fn delivered(reference: &str, what: &str, d: crate::app::actions::Delivery) {
    match d {
        crate::app::actions::Delivery::Mail(to) => println!("{reference}: {what} queued for {to}"),
        crate::app::actions::Delivery::Print(path) => println!("{reference}: {what} written to {} for printing and posting", path.display()),
    }
}

async fn cases(
    store: &crate::store::Store,
    actions: &crate::app::actions::Actions,
    no_token: Option<String>,
    command: CasesCommand,
) -> anyhow::Result<ExitCode> {
    use crate::domain::procedure::{Category, Outcome};
    match command {
        CasesCommand::Progress { reference, expected, message_file } => {
            let message = message_file.as_deref().map(read_text).transpose()?;
            delivered(&reference, "progress notice", actions.progress(&reference, expected, message, &actor()).await?);
        }
        CasesCommand::RequestInfo { reference, message_file, to } => {
            delivered(&reference, "request for information", actions.request_information(&reference, read_text(&message_file)?, to, &actor()).await?);
        }
        CasesCommand::Respond { reference, outcome, findings_file, measures_file } => {
            let outcome: Outcome = outcome.parse().map_err(anyhow::Error::msg)?;
            let measures = measures_file.as_deref().map(read_text).transpose()?.unwrap_or_default();
            let d = actions.respond(&reference, outcome, read_text(&findings_file)?, measures, &actor()).await?;
            delivered(&reference, "final response", d);
            println!("{reference}: closed");
        }
        CasesCommand::Category { reference, category } => {
            let category: Category = category.parse().map_err(anyhow::Error::msg)?;
            store.set_category(&reference, category, &actor()).await?;
            println!("{reference}: category {category}");
        }
        CasesCommand::Note { reference, text } => {
            store.add_note(&reference, &text, &actor()).await?;
            println!("{reference}: note added");
        }
        CasesCommand::Escalate { reference, to, date } => {
            store.record_external(&reference, &to, date, &actor()).await?;
            println!("{reference}: recorded as taken to {to} on {date}");
        }
        CasesCommand::Reopen { reference } => {
            store.reopen(&reference, &actor()).await?.map_err(anyhow::Error::msg)?;
            println!("{reference}: reopened");
        }
        CasesCommand::Register { name, email, postal_address, received, description_file, attach } => {
            let paper =
                crate::app::actions::PaperComplaint { name, email, postal_address, received, description: read_text(&description_file)?, attachments: attach };
            let (reference, d) = actions.register_paper(paper, &actor()).await?;
            println!("{reference}: registered (received {received})");
            delivered(&reference, "acknowledgement", d);
        }
        CasesCommand::Acknowledged { reference, date } => {
            store.acknowledged_by_post(&reference, date, &actor()).await?;
            println!("{reference}: acknowledgement recorded as sent on {date}");
        }
        CasesCommand::List { json, open, handler, due_within, limit } => {
            use futures::TryStreamExt;
            use std::io::Write;
            let today = crate::domain::calendar::amsterdam_date(chrono::Utc::now());
            let filter = crate::store::CaseFilter { open_only: open, handler, due_by: due_within.map(|n| today + chrono::Days::new(n.into())), limit };
            let mut cases = store.cases_matching(&filter);
            // Written as read (a register of years does not wait for the last row), and the
            // JSON is still one array.
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            if json {
                write!(out, "[")?;
                let mut first = true;
                while let Some(c) = cases.try_next().await? {
                    write!(out, "{}\n  {}", if first { "" } else { "," }, serde_json::to_string(&c)?)?;
                    first = false;
                }
                writeln!(out, "{}]", if first { "" } else { "\n" })?;
            } else {
                writeln!(
                    out,
                    "{:<14} {:<7} {:<10} {:<10} {:<10} {:<10} {:<11} {:>4} {:>4}  FLAGS",
                    "REFERENCE", "STATUS", "RECEIVED", "ACK BY", "PROGRESS", "RESPOND", "ACK", "MSGS", "ATT"
                )?;
                while let Some(c) = cases.try_next().await? {
                    let flags = if c.incomplete.is_empty() { String::new() } else { format!("incomplete:{}", c.incomplete.join("+")) };
                    writeln!(
                        out,
                        "{:<14} {:<7} {:<10} {:<10} {:<10} {:<10} {:<11} {:>4} {:>4}  {}",
                        c.reference,
                        c.status,
                        c.received_on,
                        c.acknowledge_by,
                        c.progress_by,
                        c.respond_by,
                        c.acknowledgement_word(),
                        c.messages,
                        c.attachments,
                        flags
                    )?;
                }
            }
            out.flush()?;
        }
        CasesCommand::Show { reference, json } => {
            let case = store.case_detail(&reference).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&case)?);
            } else {
                let s = &case.summary;
                println!("Reference:      {}", s.reference);
                println!("Status:         {} (source: {})", s.status, s.source);
                println!(
                    "Complainant:    {} <{}>",
                    s.complainant_name.as_deref().unwrap_or("(no name)"),
                    s.complainant_email.as_deref().unwrap_or("no address")
                );
                if let Some(r) = &s.reply_to_email {
                    println!("Reply-To:       {r}");
                }
                if let Some(f) = &case.forwarded_sender {
                    let sent = case.forwarded_date.as_deref().map(|d| format!(", sent {d}")).unwrap_or_default();
                    println!("Forwarded:      originally from {f}{sent}");
                }
                println!("Subject:        {}", s.subject);
                println!("Received:       {}", s.received_on);
                println!("Deadlines:      acknowledge {} / progress {} / respond {}", s.acknowledge_by, s.progress_by, s.respond_by);
                println!("Handler:        {}", s.handler.as_deref().unwrap_or("(none)"));
                if !s.supervisor_check.is_empty() {
                    println!("Supervisor check: the complaint names {}", s.supervisor_check);
                }
                let met = |t: Option<i64>| t.map_or("open".to_string(), |t| format!("met {}", fmt_time(t)));
                println!("Acknowledgement: {} ({})", s.acknowledgement_word(), met(s.acknowledged_at));
                println!("Progress notice: {}", met(s.progress_sent_at));
                println!("Final response:  {}", met(s.responded_at));
                if !s.incomplete.is_empty() {
                    println!("Incomplete:     missing {}", s.incomplete.join(", "));
                }
                println!("\n{}\n", case.description);
                println!("Messages ({}):", case.message_list.len());
                for m in &case.message_list {
                    println!("  {} {} {:<10} {} {}", fmt_time(m.received_at), m.direction, m.kind, m.from_address.as_deref().unwrap_or("-"), m.subject);
                }
                println!("Attachments ({}):", case.attachment_list.len());
                for a in &case.attachment_list {
                    let role = if a.role == "document" { String::new() } else { format!(" [{}]", a.role) };
                    println!("  {} ({}, {} bytes){role}", a.filename, a.content_type, a.size);
                }
                println!("History:");
                for e in &case.history {
                    println!("  {} {:<8} {} {}", fmt_time(e.at), e.actor, e.action, e.detail);
                }
            }
        }
        CasesCommand::Assign { reference, handler } => {
            store.assign(&reference, &handler, &actor()).await?;
            actions.notify_assignment(&reference).await?;
            match no_token {
                None => println!("{reference}: assigned to {handler} (notified by mail)"),
                Some(why) => println!("{reference}: assigned to {handler} (notified by mail, without a reply token: {why})"),
            }
        }
        CasesCommand::Subject { reference, name } => match store.add_subject(&reference, &name, &actor()).await? {
            Some(next) => {
                // The new handler hears of it as after `cases assign`.
                actions.notify_assignment(&reference).await?;
                match no_token {
                    None => println!("{reference}: {name} recorded as a subject; the case is now assigned to {next} (notified by mail)"),
                    Some(why) => println!(
                        "{reference}: {name} recorded as a subject; the case is now assigned to {next} (notified by mail, without a reply token: {why})"
                    ),
                }
            }
            None => println!("{reference}: {name} recorded as a subject"),
        },
        CasesCommand::ReleaseAcknowledgement { reference } => {
            let done = actions.release_acknowledgement(&reference, &actor()).await?;
            println!("{reference}: {done}");
        }
        CasesCommand::Complete { reference, name, email, description_file } => {
            let description = description_file.as_deref().map(read_text).transpose()?;
            let correction = crate::store::corrections::Correction { name, email, description };
            let done = store.correct_case(&reference, &correction, &actor()).await?;
            let missing = if done.incomplete.is_empty() { "complete".to_string() } else { format!("still missing {}", done.incomplete.join(", ")) };
            println!("{reference}: {} corrected; {missing}", done.fields.join(", "));
        }
        CasesCommand::Checked { reference } => {
            store.supervisor_checked(&reference, &actor()).await?;
            println!("{reference}: assignment checked by a supervisor; the supervisor check is cleared");
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn status(store: &crate::store::Store, config: &Config, json: bool) -> anyhow::Result<ExitCode> {
    let s = store.status(&config.imap.inbox, crate::domain::calendar::amsterdam_date(chrono::Utc::now())).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&s)?);
    } else {
        let ago = |t: Option<i64>| t.map_or("never".to_string(), |t| format!("{} ({} s ago)", fmt_time(t), crate::store::now() - t));
        println!("Last mailbox sync:   {}", ago(s.last_sync_at));
        println!("Outbox backlog:      {} pending, {} held, {} suppressed", s.outbox_pending, s.outbox_held, s.outbox_suppressed);
        println!("Undeliverable mail:  {} (refused for good; handlers told; `klachtd outbox retry` once fixed)", s.outbox_undeliverable);
        println!("Oldest unsent mail:  {}", ago(s.oldest_unsent_at));
        println!("Open cases:          {}", s.open_cases);
        println!("  acknowledgement overdue: {}", s.acknowledgement_overdue);
        println!("  progress notice due by today or overdue: {}", s.progress_due);
        println!("  final response due by today or overdue:  {}", s.response_due);
        println!("Quarantined mails:   {}", s.quarantined);
    }
    Ok(ExitCode::SUCCESS)
}

async fn handlers(store: &crate::store::Store, config: &Config, command: HandlersCommand) -> anyhow::Result<ExitCode> {
    match command {
        HandlersCommand::Add { name, email, supervisor } => {
            anyhow::ensure!(email.contains('@') && !name.trim().is_empty(), "a handler needs a name and an e-mail address");
            store.upsert_handler(&name, &email, supervisor).await?;
            println!("handler {name} <{email}> added{}", if supervisor { " (supervisor)" } else { "" });
        }
        HandlersCommand::List { json } => {
            let list = store.handlers().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for h in list {
                    println!(
                        "{:<24} {:<32} {:<10} {:<8} {} open",
                        h.name,
                        h.email,
                        if h.supervisor { "supervisor" } else { "handler" },
                        if h.active { "active" } else { "inactive" },
                        h.open_cases
                    );
                }
            }
        }
        HandlersCommand::Remove { name } => {
            // The configuration would bring them back at the next start.
            anyhow::ensure!(
                !config.handlers.iter().any(|h| h.name.trim() == name.trim()),
                "{name} is listed under [[handlers]] in the configuration: remove them there first, or they come back at the next start"
            );
            anyhow::ensure!(store.deactivate_handler(&name).await?, "no active handler named {name:?}");
            println!("handler {name} can no longer be assigned new cases");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Handler actions for the command line. The reply token of actions by mail needs the secret,
/// which under systemd only the service can read: without it, an assignment notice sent from
/// here carries no token (the handler can still act here, or on a later notice); the second
/// value says why, for the one command that sends such a notice.
fn command_line_actions(config: &Config, store: &crate::store::Store) -> anyhow::Result<(crate::app::actions::Actions, Option<String>)> {
    let settings = daemon::load_settings(config)?;
    match crate::app::actions::Actions::new(config, store.clone(), settings.clone()) {
        Err(e) if config.actions_by_mail.is_some() => {
            let without = Config { actions_by_mail: None, ..config.clone() };
            Ok((crate::app::actions::Actions::new(&without, store.clone(), settings)?, Some(one_line(&e))))
        }
        built => Ok((built?, None)),
    }
}

/// Who is acting, for the case history: the login name of the person at the command line.
fn actor() -> String {
    std::env::var("SUDO_USER").or_else(|_| std::env::var("USER")).unwrap_or_else(|_| "operator".into())
}

/// "2026-11-27 09:00" (Europe/Amsterdam) or RFC 3339.
fn parse_moment(text: &str) -> anyhow::Result<chrono::DateTime<chrono::Utc>> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&chrono::Utc));
    }
    let local = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").with_context(|| format!("{text:?} is not \"YYYY-MM-DD HH:MM\" or RFC 3339"))?;
    local
        .and_local_timezone(chrono_tz::Europe::Amsterdam)
        .earliest()
        .map(|t| t.with_timezone(&chrono::Utc))
        .with_context(|| format!("{text} does not exist in Europe/Amsterdam (daylight-saving gap)"))
}

fn fmt_time(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0).map(|t| t.with_timezone(&chrono_tz::Europe::Amsterdam).format("%Y-%m-%d %H:%M").to_string()).unwrap_or_default()
}
