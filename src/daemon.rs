//! Wiring: opens the store, checks the servers once (so a wrong password is one clear line at
//! start-up), then runs the mailbox and outbox workers until shutdown.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use tokio::sync::{watch, Notify};

use crate::config::Config;
use crate::intake::Intake;
use crate::mailbox::MailboxWorker;
use crate::outbox::OutboxWorker;
use crate::smtp::Mailer;
use crate::store::Store;
use crate::templates::Letters;

/// Opens the database named in the configuration and applies migrations.
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let store = Store::open(&config.database.url, config.database.max_connections)
        .await
        .with_context(|| format!("cannot open database {}", redact_url(&config.database.url)))?;
    Ok(store.with_reference_prefix(&config.organisation.reference_prefix))
}

pub fn load_letters(config: &Config) -> anyhow::Result<Letters> {
    Ok(Letters::load(config.templates.dir.as_deref(), &config.templates.language)?)
}

pub fn mailer(config: &Config) -> anyhow::Result<Mailer> {
    Mailer::new(&config.smtp, &config.organisation.name, &config.organisation.complaints_address)
}

/// Everything the daemon runs, built and checked but not yet started.
pub struct Daemon {
    mailbox: MailboxWorker,
    outbox: OutboxWorker,
    first_session: Option<crate::mailbox::ImapSession>,
}

impl Daemon {
    /// Builds the workers and connects to the mailbox once; errors here are start-up errors.
    pub async fn prepare(config: &Config) -> anyhow::Result<Self> {
        let store = open_store(config).await?;
        let first_start = store.setting_or_init("first_start_at", &Utc::now().timestamp().to_string()).await?;
        let first_start = first_start.parse::<i64>().ok().and_then(|t| DateTime::from_timestamp(t, 0)).context("settings.first_start_at is not a timestamp")?;
        let letters = Arc::new(load_letters(config)?);
        let mailer = Arc::new(mailer(config)?);
        let wake = Arc::new(Notify::new());
        let intake = Arc::new(Intake::new(config, store.clone(), letters, first_start, wake.clone()));
        let tls = crate::tls::client_config(config.imap.ca_file.as_deref())?;
        let password = config.imap.secret().resolve("imap")?;
        let mailbox = MailboxWorker::new(config.imap.clone(), tls, store.clone(), intake, password);
        let first_session = Some(mailbox.connect().await?);
        let outbox = OutboxWorker {
            store,
            mailer,
            wake,
            poll_interval: Duration::from_secs(config.outbox.poll_interval_secs),
            max_backoff: Duration::from_secs(config.outbox.max_backoff_secs),
            worker_id: format!("{}-{}", hostname(), std::process::id()),
        };
        Ok(Self { mailbox, outbox, first_session })
    }

    /// Runs until `shutdown` turns true; both workers finish what they hold first.
    pub async fn run(self, shutdown: watch::Receiver<bool>) -> anyhow::Result<()> {
        let outbox = tokio::spawn(self.outbox.run(shutdown.clone()));
        self.mailbox.run(self.first_session, shutdown).await;
        outbox.await.context("outbox worker panicked")?;
        Ok(())
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string()).unwrap_or_else(|_| "klachtd".into())
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
