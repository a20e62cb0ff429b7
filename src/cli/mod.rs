//! The command line: `klachtd run` is the daemon; the other commands are for operators and
//! handlers. Errors end as one line on stderr and a non-zero exit code, never a backtrace.
//!
//! Here: `main` and the dispatch to each command. `args`: the clap types, their help and the
//! parsers of values; `print`: what the commands print; `cases`: the `cases` commands;
//! `commands`: the commands that look something up or do one thing.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{CommandFactory as _, Parser as _};
use tokio::sync::watch;

use crate::config::{Config, LogFormat};
use crate::daemon;
use crate::telemetry::one_line;

/// `println!` for the commands' output, on [`print::Out`]: a reader that has gone ends the
/// command quietly instead of a panic.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!($crate::cli::print::Out::new(), $($arg)*) {
            eprintln!("klachtd: cannot write to standard output: {e}");
            std::process::exit(1);
        }
    }};
}

/// `print!`, likewise.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = write!($crate::cli::print::Out::new(), $($arg)*) {
            eprintln!("klachtd: cannot write to standard output: {e}");
            std::process::exit(1);
        }
    }};
}

mod args;
mod cases;
mod commands;
mod print;
mod set_aside;
mod values;

use args::{Cli, Command, HandlersCommand, OutboxCommand, QuarantineCommand, RemindersCommand, RetentionCommand};

/// sysexits' EX_CONFIG: a configuration or credential error. Restarting cannot fix it, so the
/// unit has `RestartPreventExitStatus=78`; a server that is down exits 1 and is retried.
const EX_CONFIG: u8 = 78;

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // A value of the wrong form is a refusal like any other: one line, exit 1. Help,
        // version and usage errors keep clap's own output.
        Err(e) if matches!(e.kind(), clap::error::ErrorKind::ValueValidation | clap::error::ErrorKind::InvalidValue) => {
            eprintln!("klachtd: {}", value_refusal(&e));
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

/// clap's refusal of a value as one line: its first, plus the words it would take when those
/// are on a line of their own ("invalid value 'x' for '--format <FORMAT>'; possible values:
/// table, csv, json").
fn value_refusal(e: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue};
    let text = e.to_string();
    let first = text.lines().next().unwrap_or_default();
    let mut line = first.strip_prefix("error: ").unwrap_or(first).to_string();
    if let Some(ContextValue::Strings(words)) = e.get(ContextKind::ValidValue) {
        if !words.is_empty() && !line.contains(&words.join(", ")) {
            line.push_str(&format!("; possible values: {}", words.join(", ")));
        }
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
                cause.downcast_ref::<crate::driven::oauth::TokenError>(),
                Some(crate::driven::oauth::TokenError::Refused { .. } | crate::driven::oauth::TokenError::Config(_))
            )
            || matches!(cause.downcast_ref::<crate::driven::oauth::smtp::OAuthSmtpError>(), Some(e) if e.is_permanent())
            || matches!(cause.downcast_ref::<crate::driven::imap::MailboxError>(), Some(e) if e.is_credentials_refused())
            || matches!(cause.downcast_ref::<crate::driven::graph::GraphError>(), Some(e) if e.is_permanent())
    })
}

/// Each command to the function that does it.
async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    let log_format = match &cli.command {
        Command::Run => Config::load_without_secrets(&cli.config).map(|c| c.service.log_format).unwrap_or(LogFormat::Auto),
        _ => LogFormat::Auto,
    };
    crate::telemetry::init_logging(log_format);
    let path = cli.config.as_path();
    let done = |()| ExitCode::SUCCESS;
    match cli.command {
        Command::Deadlines { received, organisation } => commands::deadlines(path, received, organisation.as_ref()).map(done),
        Command::Calendar { year, json } => commands::calendar(path, year, json).map(done),
        Command::CheckConfig { offline } => check_config(path, offline).await,
        Command::Migrate => commands::migrate(path).await.map(done),
        Command::Run => run(path, Config::load(path)?).await.map(done),
        Command::Status { json } => commands::status(path, json).await.map(done),
        Command::Cases { organisation, command } => commands::cases(path, organisation, command).await,
        Command::Handlers { command } => commands::handlers(path, command).await,
        Command::Report { from, to, year, format, organisation } => commands::report(path, from, to, year, format, organisation).await.map(done),
        Command::Retention { command: RetentionCommand::Run } => commands::retention(path).await.map(done),
        Command::Quarantine { command } => {
            let (config, store) = commands::existing(path).await?;
            quarantine(&config, &store, command).await
        }
        Command::SetAside { command } => {
            let (config, store) = commands::existing(path).await?;
            set_aside::run(&config, &store, command, &actor()).await
        }
        Command::Reminders { command: RemindersCommand::Preview { at } } => commands::reminders_preview(path, at).await.map(done),
        Command::Outbox { command: OutboxCommand::Retry { references, all: _ } } => commands::outbox_retry(path, &references).await.map(done),
        Command::Completions { shell } => print::completions(shell, Cli::command()).map(done),
        Command::Man { dir } => print::manual(Cli::command(), dir.as_deref()).map(done),
    }
}

/// How long shutdown may take before we stop waiting (systemd's TimeoutStopSec is longer).
const SHUTDOWN_LIMIT: Duration = Duration::from_secs(20);

async fn run(path: &std::path::Path, config: Config) -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let (mut term, mut int, mut hup) = (signal(SignalKind::terminate())?, signal(SignalKind::interrupt())?, signal(SignalKind::hangup())?);
    for warning in config.warnings(crate::domain::calendar::amsterdam_date(chrono::Utc::now())) {
        tracing::warn!(key = %warning.key, fix = %warning.fix, "{}", warning.message);
    }
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
    let notifier = crate::driven::systemd::Notifier::from_env();
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
    let notifier = crate::driven::systemd::Notifier::from_env();
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
    // The configuration checks that key files are readable; whether they hold a certificate,
    // a private key or a service account's key, the token source finds out on loading them.
    crate::driven::oauth::TokenSource::from_config(&config)?;
    crate::driven::oauth::mailboxes::for_mailboxes(&config, None)?;
    // Each organisation's letters, in its language and from its templates.
    let sample = crate::app::templates::sample_context();
    for (key, letters) in crate::app::settings::load_organisation_letters(&config)? {
        for letter in crate::app::templates::LETTERS {
            letters.render(letter, &sample).with_context(|| format!("templates of organisation {key}: {letter}"))?;
        }
    }
    outln!("{}: configuration is valid", path.display());
    for warning in config.warnings(crate::domain::calendar::amsterdam_date(chrono::Utc::now())) {
        outln!("warning: {warning}");
    }
    if offline {
        return Ok(ExitCode::SUCCESS);
    }
    let store = daemon::open_store(&config).await?;
    store.close().await;
    outln!("database: ok ({})", daemon::redact_url(&config.database.url));
    let tokens = daemon::token_source(&config).await?;
    if tokens.is_some() {
        outln!("oauth2: ok (access token obtained)");
    }
    if config.graph.is_some() {
        outln!("{}", crate::driven::graph::check(&config).await?);
    }
    if !config.reads_graph() {
        let sources = daemon::mailbox_token_sources(&config, tokens.as_ref()).await?;
        for (mailbox, source) in config.mailboxes().into_iter().zip(sources) {
            let imap = &mailbox.imap;
            let tls = crate::driven::tls::client_config(imap.ca_file.as_deref())?;
            let mut session = match (&source, imap.auth) {
                (Some(tokens), crate::config::AuthMode::Oauth2) => crate::driven::imap::connect_oauth(imap, &tls, tokens).await?,
                _ => {
                    let password = imap.secret().resolve(&mailbox.config_key)?;
                    crate::driven::imap::connect(imap, &tls, &password).await?
                }
            };
            // The folders the daemon would use, created when missing: a server that refuses them
            // (a namespace, a permission) shows here rather than as a daemon that reconnects for ever.
            let caps = session.capabilities().await.with_context(|| format!("{}: CAPABILITY", mailbox.config_key))?;
            let folders = crate::driven::imap::prepare_folders(&mut session, imap, caps.has_str("NAMESPACE")).await.context(mailbox.config_key.clone())?;
            let _ = session.logout().await;
            outln!(
                "{}: ok ({}:{} as {}; folders {}, {}, {})",
                mailbox.config_key,
                imap.host,
                imap.port,
                imap.user,
                folders.processed,
                folders.ignored,
                folders.quarantine
            );
        }
    }
    if !config.sends_graph() {
        daemon::mailer_with(&config, tokens)?.check().await.context("smtp")?;
        outln!("smtp: ok ({}:{})", config.smtp.host, config.smtp.port);
    }
    if let Some(oidc) = config.web.as_ref().and_then(|w| w.oidc.as_ref()) {
        let (issuer, keys) = crate::driven::oidc::Provider::new(oidc)?.check().await.context("web.oidc")?;
        outln!("web.oidc: ok (issuer {issuer}, {keys} signing key(s))");
    }
    Ok(ExitCode::SUCCESS)
}

async fn quarantine(config: &Config, store: &crate::store::Store, command: QuarantineCommand) -> anyhow::Result<ExitCode> {
    use crate::app::intake::Outcome;
    match command {
        QuarantineCommand::List { json, organisation } => {
            let only = organisation.map(|k| vec![k]);
            print::quarantined(&store.quarantined_mails_of(only.as_deref()).await?, json)?
        }
        QuarantineCommand::Register { id } => {
            let intake = command_line_intake(config, store).await?;
            match intake.release_from_quarantine(id, &actor()).await? {
                Outcome::Registered { reference } => {
                    let case = store.case_detail(&reference).await?.summary;
                    outln!("{reference}: registered from quarantine (received {}); acknowledgement {}", case.received_on, case.acknowledgement_word());
                }
                Outcome::FollowUp { reference } => outln!("{reference}: the mail refers to this case and is kept with it (no reply)"),
                Outcome::KeptWithCase { reference, reason } => outln!("{reference}: kept with this case ({reason}; no reply)"),
                Outcome::Ignored { reason } => outln!("mail {id} is no complaint ({reason}); set aside without a reply"),
                Outcome::Duplicate => outln!("mail {id} was registered before"),
                Outcome::Quarantine { reason } => outln!("mail {id} stays in quarantine: {reason}"),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The intake, for a mail a handler releases from the command line.
async fn command_line_intake(config: &Config, store: &crate::store::Store) -> anyhow::Result<crate::app::intake::Intake> {
    let (actions, _) = command_line_actions(config, store)?;
    let first_start = store.setting_or_init("first_start_at", &chrono::Utc::now().timestamp().to_string()).await?;
    let first_start =
        first_start.parse::<i64>().ok().and_then(|t| chrono::DateTime::from_timestamp(t, 0)).context("settings.first_start_at is not a timestamp")?;
    Ok(crate::app::intake::Intake::new(config, store.clone(), daemon::load_settings(config)?, std::sync::Arc::new(actions), first_start, Default::default()))
}

fn read_text(path: &std::path::Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    // A NUL is no part of a letter or a note; PostgreSQL would refuse it, SQLite keep it.
    anyhow::ensure!(!text.contains('\0'), "{} contains a NUL character: it is not plain text", path.display());
    Ok(text)
}

async fn handlers(store: &crate::store::Store, config: &Config, command: HandlersCommand) -> anyhow::Result<ExitCode> {
    match command {
        HandlersCommand::Add { name, email, supervisor, mut organisations } => {
            // The address was checked as the command line was read.
            anyhow::ensure!(!name.trim().is_empty(), "a handler needs a name");
            if organisations.is_empty() {
                organisations.push(crate::domain::organisation::OrganisationKey::default_key());
            }
            organisations.sort();
            organisations.dedup();
            store.upsert_handler_in(&name, &email, supervisor, &organisations).await?;
            let keys: Vec<&str> = organisations.iter().map(|o| o.as_str()).collect();
            outln!("handler {name} <{email}> added{} for {}", if supervisor { " (supervisor)" } else { "" }, keys.join(", "));
        }
        HandlersCommand::List { json } => print::handlers(&store.handlers().await?, json)?,
        HandlersCommand::Remove { name } => {
            // The configuration would bring them back at the next start.
            anyhow::ensure!(
                !config.handlers.iter().any(|h| h.name.trim() == name.trim()),
                "{name} is listed under [[handlers]] in the configuration: remove them there first, or they come back at the next start"
            );
            anyhow::ensure!(store.deactivate_handler(&name).await?, "no active handler named {name:?}");
            outln!("handler {name} can no longer be assigned new cases");
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
            let mut without = config.clone();
            without.actions_by_mail = None;
            Ok((crate::app::actions::Actions::new(&without, store.clone(), settings)?, Some(one_line(&e))))
        }
        built => Ok((built?, None)),
    }
}

/// Who is acting, for the case history: the login name of the person at the command line.
fn actor() -> String {
    std::env::var("SUDO_USER").or_else(|_| std::env::var("USER")).unwrap_or_else(|_| "operator".into())
}
