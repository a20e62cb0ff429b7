//! The Graph mailbox served: folders prepared, then the intake's passes with polls in between,
//! again after any failure with back-off. A throttle that outlasts a call is waited out here,
//! beating, before the next pass: no busy loop, and nothing is lost (the mail stays in the
//! folder until it is committed and moved).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::{Folders, GraphClient, GraphError, GraphSource};
use crate::app::health::{Health, Loop};
use crate::app::intake::pass::{MailboxIntake, Waits};
use crate::app::intake::{Intake, IntakeError};
use crate::config::graph::Graph;
use crate::store::Store;

const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(300);
/// How often an instance that does not hold the mailbox lease asks again.
const STANDBY_RETRY: Duration = Duration::from_secs(30);

pub struct GraphWorker {
    config: Graph,
    client: Arc<GraphClient>,
    store: Store,
    intake: MailboxIntake,
    health: Arc<Health>,
    /// The mailbox's key, for its connection state in `health`.
    key: String,
}

impl GraphWorker {
    /// `leases` holds the mailbox's lease for this instance.
    pub fn new(
        config: Graph,
        client: Arc<GraphClient>,
        store: Store,
        intake: Arc<Intake>,
        health: Arc<Health>,
        leases: Arc<crate::app::leases::Leases>,
    ) -> Self {
        let lease = config.timeout() * 4 + Duration::from_secs(config.max_message_bytes >> 20) + Duration::from_secs(60);
        let intake = MailboxIntake::new(intake, store.clone(), health.clone(), leases, lease, config.max_message_bytes);
        Self { config, client, store, intake, health, key: crate::config::organisations::LEGACY_MAILBOX_NAME.into() }
    }

    /// Known to `health` as `key` (the configuration's mailbox key).
    pub fn with_key(mut self, key: &str) -> Self {
        self.key = key.to_string();
        self
    }

    /// The folders, created when missing: at start-up a refusal here is a start-up error.
    pub async fn prepare(&self) -> Result<Folders, GraphError> {
        Folders::prepare(&self.client, &self.config).await
    }

    /// Runs until `shutdown` turns true. `first` are folders prepared at start-up.
    pub async fn run(&self, mut first: Option<Folders>, mut shutdown: watch::Receiver<bool>) {
        let mut delay = Duration::from_secs(1);
        while !*shutdown.borrow() {
            self.health.beat(Loop::Mailbox);
            let folders = match first.take() {
                Some(f) => Ok(f),
                None => self.prepare().await,
            };
            let result = match folders {
                Ok(folders) => self.serve(folders, &mut shutdown, &mut delay).await,
                Err(e) => Err(e),
            };
            self.health.mailbox_up(&self.key, false);
            match result {
                Ok(()) => break,
                Err(GraphError::Throttled(pause)) => {
                    tracing::warn!(wait_secs = pause.as_secs(), "Microsoft Graph throttles the mailbox; waiting before the next pass");
                    self.health.sleep_beating(Loop::Mailbox, pause, &mut shutdown).await;
                }
                Err(e) => {
                    let counter = match e {
                        GraphError::Store(_) | GraphError::Intake(IntakeError::Store(_)) => &self.health.errors_database,
                        _ => &self.health.errors_mailbox,
                    };
                    Health::count(counter, 1);
                    if e.is_permanent() {
                        tracing::error!(error = %e, "Microsoft Graph refuses the mailbox; retrying in case the permission is granted meanwhile");
                        delay = MAX_RECONNECT_DELAY;
                    } else {
                        tracing::warn!(error = %e, retry_in_secs = delay.as_secs(), "mailbox pass failed; trying again");
                    }
                    self.health.sleep_beating(Loop::Mailbox, delay, &mut shutdown).await;
                    delay = (delay * 2).min(MAX_RECONNECT_DELAY);
                }
            }
        }
        self.intake.release(&format!("graph:{}", self.config.mailbox.to_ascii_lowercase())).await;
        tracing::info!("mailbox worker stopped");
    }

    async fn serve(&self, folders: Folders, shutdown: &mut watch::Receiver<bool>, delay: &mut Duration) -> Result<(), GraphError> {
        tracing::info!("mailbox connected (Microsoft Graph)");
        self.health.mailbox_up(&self.key, true);
        let mut source = GraphSource::new(self.client.clone(), self.store.clone(), folders, &self.config);
        let poll = self.config.poll_interval();
        let waits = Waits { for_mail: poll, standby: STANDBY_RETRY.min(poll) };
        Ok(self.intake.serve(&mut source, shutdown, waits, &mut || *delay = Duration::from_secs(1)).await?)
    }
}
