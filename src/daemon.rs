//! Wiring: opens the store, checks the servers once (so a wrong password is one clear line at
//! start-up), then runs the mailbox and outbox workers until shutdown.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use tokio::sync::{watch, Notify};

use crate::app::clock::Clock;
use crate::app::health::{Health, Loop};
use crate::app::intake::Intake;
use crate::app::leases::Leases;
use crate::app::outbox::{OutboxWorker, WorkerOptions};
use crate::app::reminders::ReminderService;
use crate::app::settings::{Settings, SharedSettings};
use crate::config::Config;
use crate::driven::imap::MailboxWorker;
use crate::driven::smtp::Mailer;
use crate::driven::systemd::Notifier;
use crate::driving::health::serve_metrics;
use crate::store::Store;

/// Opens the database named in the configuration, applies migrations, and brings the
/// handlers listed in the configuration into it.
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let store = Store::open(&config.database.connect_url()?, config.database.max_connections)
        .await
        .with_context(|| format!("cannot open database {}", redact_url(&config.database.url)))?;
    for h in &config.handlers {
        store.upsert_handler_in(&h.name, &h.email, h.supervisor, &h.organisations()).await?;
    }
    // Where a case or mail is written without naming its organisation: the first's.
    let first = config.organisations().into_iter().next().context("no organisation")?;
    Ok(store.with_reference_prefix(&first.reference_prefix).with_organisation(first.key))
}

/// The database of the configuration for a command that works on existing data: it must
/// exist (a mistyped `database.url` would otherwise create an empty database and report 0
/// cases). Migrations still run, so the commands of a new release work on the old schema.
pub async fn open_existing_store(config: &Config) -> anyhow::Result<Store> {
    let url = config.database.connect_url()?;
    let exists = Store::holds_data(&url).await.with_context(|| format!("cannot open database {}", redact_url(&config.database.url)))?;
    anyhow::ensure!(
        exists,
        "database {} does not exist or holds no klachtd data (check database.url; `klachtd migrate` or the first start of the daemon creates it)",
        redact_url(&config.database.url)
    );
    open_store(config).await
}

/// A server refused our credentials at start-up: the operator must act, so no restart.
#[derive(Debug, thiserror::Error)]
#[error("{server} refused us{who}: {reason}")]
pub struct CredentialsRefused {
    pub server: String,
    pub who: String,
    pub reason: String,
}

/// The reloadable settings, with the templates loaded.
pub fn load_settings(config: &Config) -> anyhow::Result<SharedSettings> {
    Ok(SharedSettings::new(Settings::with_letters(config, crate::app::settings::load_organisation_letters(config)?)))
}

pub fn mailer(config: &Config) -> anyhow::Result<Mailer> {
    mailer_with(config, crate::driven::oauth::TokenSource::from_config(config)?)
}

/// The mailer, logging in with tokens from `tokens` when `smtp.auth` is "oauth2".
pub fn mailer_with(config: &Config, tokens: Option<Arc<crate::driven::oauth::TokenSource>>) -> anyhow::Result<Mailer> {
    let oauth = match (config.smtp.auth, tokens) {
        (crate::config::AuthMode::Password, _) => None,
        (crate::config::AuthMode::Oauth2, Some(tokens)) => Some((config.smtp.user.clone().unwrap_or_else(|| config.imap().user.clone()), tokens)),
        (crate::config::AuthMode::Oauth2, None) => anyhow::bail!("smtp.auth = \"oauth2\" needs an [oauth2] section"),
    };
    let organisations = config.organisations();
    let senders = organisations.iter().map(|o| (o.key.as_str(), o.name.as_str(), o.complaints_address.as_str()));
    Ok(Mailer::with_tokens(&config.smtp, &config.organisation().name, &config.organisation().complaints_address, oauth)?
        .with_senders(senders)?
        .with_attachment_store(crate::store::attachments::AttachmentStore::new(&config.storage.data_dir)))
}

/// The token source of `[oauth2]` with a first token fetched, so that a refused secret or key
/// is one clear line at start-up (like a wrong password), quoting the provider's error. With
/// `[[organisations]]` it is SMTP's, and the line names the mailboxes it serves too.
pub async fn token_source(config: &Config) -> anyhow::Result<Option<Arc<crate::driven::oauth::TokenSource>>> {
    let tokens = crate::driven::oauth::TokenSource::from_config(config)?;
    if let Some(tokens) = &tokens {
        tokens.token().await.with_context(|| crate::driven::oauth::mailboxes::label(config, tokens, true))?;
    }
    Ok(tokens)
}

/// Each mailbox's token source (None: a password), in the order of `Config::mailboxes`, with
/// a first token fetched from each; `tokens` is [`token_source`]'s, shared where it fits.
pub async fn mailbox_token_sources(
    config: &Config,
    tokens: Option<&Arc<crate::driven::oauth::TokenSource>>,
) -> anyhow::Result<Vec<Option<Arc<crate::driven::oauth::TokenSource>>>> {
    let sources = crate::driven::oauth::mailboxes::for_mailboxes(config, tokens)?;
    crate::driven::oauth::mailboxes::first_tokens(config, &sources, tokens).await?;
    Ok(sources)
}

/// The client of `[graph]`, with a first token fetched (a refused secret is one clear line at
/// start-up, as for `[oauth2]`).
pub async fn graph_client(config: &Config) -> anyhow::Result<Option<Arc<crate::driven::graph::GraphClient>>> {
    let (Some(g), Some(tokens)) = (&config.graph, crate::driven::graph::GraphClient::tokens(config)?) else { return Ok(None) };
    tokens.token().await.context("oauth2 (Microsoft Graph)")?;
    Ok(Some(Arc::new(crate::driven::graph::GraphClient::new(g, tokens)?)))
}

/// The mailbox worker and what it opened at start-up.
enum Mailbox {
    Imap(MailboxWorker, Option<crate::driven::imap::ImapSession>),
    Graph(crate::driven::graph::GraphWorker, Option<crate::driven::graph::Folders>),
}

/// A worker for each mailbox of the configuration (issue 25), each with the intake of its
/// organisation, known in the database by its key (its lease: see `MailboxIntake`), and
/// connected once: a refused login is a start-up error.
async fn imap_mailboxes(
    config: &Config,
    intake: &Arc<Intake>,
    tokens: Option<Arc<crate::driven::oauth::TokenSource>>,
    store: &Store,
    health: &Arc<Health>,
    leases: &Arc<Leases>,
) -> anyhow::Result<Vec<Mailbox>> {
    let mut workers = Vec::new();
    // Each mailbox its own token source (its own oauth2 table, or `[oauth2]`'s: `tokens`).
    let sources = mailbox_token_sources(config, tokens.as_ref()).await?;
    for (m, imap_tokens) in config.mailboxes().into_iter().zip(sources) {
        let own = intake.in_organisation(&m.organisation).with_context(|| format!("{}: no organisation {}", m.config_key, m.organisation))?;
        let tls = crate::driven::tls::client_config(m.imap.ca_file.as_deref())?;
        let worker =
            MailboxWorker::new(m.imap.clone(), tls, store.clone(), Arc::new(own), health.clone(), leases.clone()).with_key(&m.key).with_tokens(imap_tokens);
        // A refused login names the mailbox when there are several.
        let first_session = match worker.connect().await {
            Ok(session) => session,
            Err(e) if config.lists_organisations() => return Err(anyhow::Error::new(e).context(format!("mailbox {:?} ({})", m.name, m.config_key))),
            Err(e) => return Err(e.into()),
        };
        workers.push(Mailbox::Imap(worker, Some(first_session)));
    }
    Ok(workers)
}

/// Everything the daemon runs, built and checked but not yet started.
pub struct Daemon {
    config: Config,
    store: Store,
    settings: SharedSettings,
    reminders: Arc<ReminderService>,
    wake: Arc<Notify>,
    /// Every mailbox's worker: one intake each, of its organisation.
    mailboxes: Vec<Mailbox>,
    outbox: OutboxWorker,
    health: Arc<Health>,
    /// The handlers' web workspace, when `[web]` is configured.
    web: Option<(tokio::net::TcpListener, Arc<crate::driving::web::Web>)>,
    /// This instance among the others on the database.
    leases: Arc<Leases>,
}

/// A heartbeat older than this means a loop is stuck: the watchdog is not pinged, and systemd
/// restarts the service. It exceeds every command timeout a loop can legitimately sit in.
const STALE_AFTER: Duration = Duration::from_secs(240);

/// A login the SMTP server refuses will not fix itself: one clear line, and no start. A server
/// that is away only delays mail, which the outbox retries.
async fn smtp_at_start(config: &Config, mailer: &Mailer) -> anyhow::Result<()> {
    match mailer.check().await {
        Ok(()) => {}
        Err(crate::driven::smtp::SendError::Smtp(e)) if e.is_permanent() => {
            let who = config.smtp.user.as_deref().map(|u| format!(" as {u}")).unwrap_or_default();
            return Err(CredentialsRefused {
                server: format!("SMTP server {}:{}", config.smtp.host, config.smtp.port),
                who,
                reason: crate::domain::text::single_line(&crate::domain::text::redact_addresses(&e.to_string()), 500),
            }
            .into());
        }
        Err(crate::driven::smtp::SendError::OAuth(e)) if e.is_permanent() => {
            return Err(CredentialsRefused {
                server: format!("SMTP server {}:{}", config.smtp.host, config.smtp.port),
                who: " the access token".into(),
                reason: crate::domain::text::single_line(&crate::domain::text::redact_addresses(&e.to_string()), 500),
            }
            .into());
        }
        Err(e) => {
            tracing::warn!(error = %crate::domain::text::redact_addresses(&e.to_string()), "SMTP server not usable at start-up; outgoing mail waits in the outbox and is retried")
        }
    }
    Ok(())
}

impl Daemon {
    /// Builds the workers, migrates the database and connects to the mailbox once; errors here
    /// are start-up errors.
    pub async fn prepare(config: &Config) -> anyhow::Result<Self> {
        let store = open_store(config).await?;
        let first_start = store.setting_or_init("first_start_at", &Utc::now().timestamp().to_string()).await?;
        let first_start = first_start.parse::<i64>().ok().and_then(|t| DateTime::from_timestamp(t, 0)).context("settings.first_start_at is not a timestamp")?;
        let settings = load_settings(config)?;
        let tokens = token_source(config).await?;
        let mailer = Arc::new(mailer_with(config, tokens.clone())?);
        let wake = Arc::new(Notify::new());
        let health = Arc::new(Health::default());
        let actions = Arc::new(crate::app::actions::Actions::new(config, store.clone(), settings.clone())?);
        let intake = Arc::new(Intake::new(config, store.clone(), settings.clone(), actions.clone(), first_start, wake.clone()));
        let reminders = Arc::new(ReminderService::new(store.clone(), settings.clone()));
        let leases = Arc::new(Leases::new(store.clone(), &hostname(), Duration::from_secs(config.service.lease_secs)));
        leases.beat().await.context("cannot register this instance in the database")?;
        let graph = graph_client(config).await?;
        let mailboxes = match (&graph, &config.graph) {
            (Some(client), Some(g)) if config.reads_graph() => {
                let key = config.mailboxes().into_iter().next().map(|m| m.key).unwrap_or_default();
                let worker = crate::driven::graph::GraphWorker::new(g.clone(), client.clone(), store.clone(), intake.clone(), health.clone(), leases.clone())
                    .with_key(&key);
                // A refusal only an administrator can fix is one line and exit 78 (`GraphError::is_permanent`).
                let folders = worker.prepare().await?;
                vec![Mailbox::Graph(worker, Some(folders))]
            }
            _ => imap_mailboxes(config, &intake, tokens.clone(), &store, &health, &leases).await?,
        };
        // Every mailbox connected once above (a refused login is a start-up error).
        for m in config.mailboxes() {
            health.mailbox_up(&m.key, true);
        }
        let transport: Arc<dyn crate::app::outbox::Transport> = match (&graph, &config.graph) {
            (Some(client), Some(g)) if config.sends_graph() => {
                Arc::new(crate::driven::graph::GraphTransport::new(client.clone(), mailer.clone(), g.save_to_sent_items))
            }
            _ => mailer.clone(),
        };
        if !config.sends_graph() {
            smtp_at_start(config, &mailer).await?;
        }
        // Mail a crashed predecessor sent but did not record is recorded before anything goes out.
        let journals = config.storage.data_dir.join("outbox");
        crate::app::outbox::apply_left_journals(&store, &journals, &hostname()).await?;
        let journal = crate::app::outbox::journal::SentJournal::create(&journals, &hostname())
            .with_context(|| format!("cannot create the outbox journal in {}", journals.display()))?;
        let options = WorkerOptions {
            poll_interval: Duration::from_secs(config.outbox.poll_interval_secs),
            max_backoff: Duration::from_secs(config.outbox.max_backoff_secs),
            // The instance's name: a peer settles its claims by it when it dies.
            worker_id: leases.id().to_string(),
        };
        let outbox = OutboxWorker::new(store.clone(), transport, actions.clone(), settings.clone(), health.clone(), journal, options)
            .with_wake(wake.clone())
            .with_backlog(intake.backlog());
        let web = match &config.web {
            Some(w) => {
                // Bound at start-up, so a port in use is a start-up error, not a silent absence.
                let listener = tokio::net::TcpListener::bind(w.listen).await.with_context(|| format!("web.listen {}: cannot listen", w.listen))?;
                Some((listener, Arc::new(crate::driving::web::Web::new(config, store.clone(), settings.clone(), actions.clone(), wake.clone(), intake)?)))
            }
            None => None,
        };
        Ok(Self { config: config.clone(), store, settings, reminders, wake, mailboxes, outbox, health, web, leases })
    }

    /// Judges what reminders are due, and whether they may go out, by `clock` instead of the
    /// system clock.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.outbox = self.outbox.with_clock(clock);
        self
    }

    /// The daemon's heartbeats and counters (what the metrics endpoint shows).
    pub fn health(&self) -> Arc<Health> {
        self.health.clone()
    }

    /// A handle that applies a reloaded configuration to the running daemon.
    pub fn reloader(&self) -> Reloader {
        Reloader { settings: self.settings.clone(), running: self.config.clone(), health: self.health.clone(), store: self.store.clone() }
    }

    /// Runs until `shutdown` turns true; both workers finish what they hold first. Tells
    /// systemd (when it is watching) READY, STATUS and WATCHDOG.
    pub async fn run(self, shutdown: watch::Receiver<bool>) -> anyhow::Result<()> {
        let notifier = Arc::new(Notifier::from_env());
        self.health.beat(Loop::Mailbox);
        self.health.beat(Loop::Outbox);
        let beats = tokio::spawn(self.leases.clone().beat_loop());
        let balance = tokio::spawn(self.leases.clone().balance_loop(shutdown.clone()));
        let clock = self.outbox.clock().clone();
        let outbox = tokio::spawn(self.outbox.run(shutdown.clone()));
        if let Some(addr) = self.config.service.metrics_listen {
            let (health, store, mailboxes, shutdown) =
                (self.health.clone(), self.store.clone(), crate::driving::health::MetricsMailbox::of(&self.config), shutdown.clone());
            tokio::spawn(async move {
                if let Err(e) = serve_metrics(addr, health, store, mailboxes, shutdown).await {
                    tracing::error!(%addr, error = %e, "metrics endpoint failed");
                }
            });
        }
        let web = self.web.map(|(listener, web)| tokio::spawn(crate::driving::web::serve(listener, web, shutdown.clone())));
        // Retention's first run waits for the first reminder sweep (see `every_after`).
        let (swept_once, mut first_sweep) = watch::channel(false);
        let reminders = tokio::spawn({
            let (service, cron, health, wake, shutdown) =
                (self.reminders.clone(), self.config.reminders.sweep_cron.clone(), self.health.clone(), self.wake.clone(), shutdown.clone());
            async move {
                if let Err(e) = crate::app::reminders::run(service, &cron, clock, health, swept_once, wake, shutdown).await {
                    tracing::error!("reminder scheduler failed: {e:#}");
                }
            }
        });
        let retention = tokio::spawn({
            let (store, shutdown, data_dir) = (self.store.clone(), shutdown.clone(), self.config.storage.data_dir.clone());
            let (periods, cron) = (crate::app::retention::retention_periods(&self.config), self.config.retention.cron.clone());
            async move {
                let after_first_sweep = async move {
                    let _ = first_sweep.wait_for(|swept| *swept).await;
                };
                let job = crate::app::schedule::every_after("retention", &cron, after_first_sweep, shutdown, || async {
                    crate::app::retention::run_daily(&store, &data_dir, &periods).await;
                });
                if let Err(e) = job.await {
                    tracing::error!("retention scheduler failed: {e:#}");
                }
            }
        });
        let monitor = tokio::spawn(monitor(notifier.clone(), self.health.clone(), self.store.clone(), shutdown.clone()));
        notifier.ready(&status_line(&self.health, &self.store).await);
        tracing::info!("klachtd ready");
        let mailboxes = self.mailboxes.into_iter().map(|mailbox| {
            let shutdown = shutdown.clone();
            async move {
                match mailbox {
                    Mailbox::Imap(worker, first) => worker.run(first, shutdown).await,
                    Mailbox::Graph(worker, first) => worker.run(first, shutdown).await,
                }
            }
        });
        futures::future::join_all(mailboxes).await;
        outbox.await.context("outbox worker panicked")?;
        reminders.await.context("reminder worker panicked")?;
        retention.await.context("retention worker panicked")?;
        // What this instance held is given back: it leaves the database.
        balance.await.context("lease worker panicked")?;
        beats.abort();
        self.leases.leave().await;
        if let Some(web) = web {
            match tokio::time::timeout(Duration::from_secs(10), web).await {
                Ok(Ok(Err(e))) => tracing::warn!(error = %e, "web workspace ended with an error"),
                Err(_) => tracing::warn!("web workspace did not stop within 10 s; left behind"),
                _ => {}
            }
        }
        monitor.abort();
        Ok(())
    }
}

/// Pings the systemd watchdog while both loops beat, and keeps STATUS current.
async fn monitor(notifier: Arc<Notifier>, health: Arc<Health>, store: Store, mut shutdown: watch::Receiver<bool>) {
    if !notifier.enabled() {
        return;
    }
    let watchdog = crate::driven::systemd::watchdog_interval();
    let tick = watchdog.unwrap_or(Duration::from_secs(30)).min(Duration::from_secs(30));
    let mut last_status = String::new();
    let mut interval = tokio::time::interval(tick);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = shutdown.changed() => return,
        }
        if watchdog.is_some() {
            if health.alive(STALE_AFTER) {
                notifier.watchdog();
            } else {
                tracing::error!("a worker loop has stopped beating; withholding the watchdog ping");
            }
        }
        let status = status_line(&health, &store).await;
        if status != last_status {
            notifier.status(&status);
            last_status = status;
        }
    }
}

/// "3/4 mailboxes connected, oldest sync 40 s ago; 3 cases today; outbox 0 queued" for
/// systemctl status (see `StatusLine`).
async fn status_line(health: &Health, store: &Store) -> String {
    let up = health.mailboxes_up();
    let today = crate::domain::calendar::amsterdam_date(Utc::now());
    let synced = store.mailbox_sync_times().await.unwrap_or_default();
    let now = crate::store::now();
    // The database knows each IMAP mailbox's last pass, by any instance; Graph keeps its
    // position elsewhere, and its one mailbox falls back to this process's last pass.
    let own = Some(health.last_sync_at.load(std::sync::atomic::Ordering::Relaxed)).filter(|t| *t > 0 && up.len() == 1);
    crate::app::health::StatusLine {
        connected: up.values().filter(|up| **up).count(),
        mailboxes: up.len(),
        sync_ages: up.keys().map(|key| synced.get(key).copied().or(own).map(|at| now - at)).collect(),
        cases_today: store.cases_received_on(today).await.ok(),
        queued: store.outbox_pending().await.unwrap_or(0),
    }
    .to_string()
}

/// Applies a reloaded configuration: what is safe to change while running is changed, the
/// rest is named so the operator knows to restart.
pub struct Reloader {
    settings: SharedSettings,
    /// The configuration the daemon started with: what differs from it still needs a restart,
    /// however many reloads came in between.
    running: Config,
    health: Arc<Health>,
    store: Store,
}

impl Reloader {
    /// Returns the sections that differ from the running configuration and need a restart.
    pub fn apply(&self, new: Config) -> anyhow::Result<Vec<&'static str>> {
        self.settings.replace(Settings::with_letters(&new, crate::app::settings::load_organisation_letters(&new)?));
        Ok(self.running.restart_needed_for(&new))
    }

    /// The STATUS line to show once the reload is done.
    pub async fn status_line(&self) -> String {
        status_line(&self.health, &self.store).await
    }
}

/// This machine's name, in the instance's name (see `Leases`).
/// Under `ProcSubset=pid` /proc/sys is hidden, hence /etc/hostname as a second source.
fn hostname() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok().map(|h| h.trim().to_string()).filter(|h| !h.is_empty()))
        .unwrap_or_else(|| "klachtd".into())
}

/// A database URL without its password, for messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..scheme + 3], user, &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_redacted() {
        assert_eq!(super::redact_url("postgres://kl:geheim@db/kl"), "postgres://kl:***@db/kl");
        assert_eq!(super::redact_url("sqlite:///var/lib/klachtd/k.db"), "sqlite:///var/lib/klachtd/k.db");
    }
}
