//! The IMAP side: one long-lived session to the complaints mailbox, reconnected with back-off
//! after any failure, forever. The intake's pass (`app::intake::pass`) does the work; this
//! module connects, names and creates the folders, and hands the session to it as a
//! [`MailSource`](crate::app::intake::pass::MailSource) (`source.rs`: UID SEARCH, UID FETCH,
//! UID MOVE or flags, IDLE). UIDVALIDITY and the last processed UID live in the database.
//!
//! Commit first, then mark: a mail is moved (or flagged) only after the intake has committed
//! what it means; a crash in between makes the next run see it again, and the dedupe key makes
//! that harmless. Nothing is ever deleted.

mod connect;
pub mod names;
mod source;

pub use connect::{connect, connect_oauth};
pub use source::ImapSource;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_imap::Session;

use futures::TryStreamExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tokio_rustls::rustls::ClientConfig;

use crate::config::{Imap, MarkMode};

use crate::app::health::{Health, Loop};
use crate::app::intake::pass::{MailboxIntake, PassError, Waits};
use crate::app::intake::{Intake, IntakeError};
use crate::store::{Store, StoreError};

/// The keyword set on processed mail in `mark = "flag"` mode.
pub const PROCESSED_KEYWORD: &str = "$KlachtdProcessed";
const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(300);
/// Mail larger than this is fetched in pieces of this size (see `fetch_in_chunks`).
const FETCH_CHUNK: u32 = 1 << 20;

pub trait ImapIo: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug> ImapIo for T {}
pub type ImapSession = Session<Box<dyn ImapIo>>;

#[derive(Debug, thiserror::Error)]
pub enum MailboxError {
    #[error("cannot connect to {server}: {source}")]
    Connect { server: String, source: std::io::Error },
    #[error("TLS with {server} failed: {source}")]
    Tls { server: String, source: std::io::Error },
    #[error("IMAP login as {user} failed: {source}")]
    Login { user: String, source: async_imap::error::Error },
    #[error("IMAP: {0}")]
    Protocol(#[from] async_imap::error::Error),
    #[error("IMAP server did not answer within {0:?} ({1})")]
    Timeout(Duration, &'static str),
    #[error("IMAP server lacks {0}")]
    Unsupported(&'static str),
    #[error("{command} {}: {}", names::quoted(.folder), names::server_said(.source))]
    Folder { command: &'static str, folder: String, source: async_imap::error::Error },
    #[error(transparent)]
    Secret(#[from] crate::config::SecretError),
    #[error(transparent)]
    Token(#[from] crate::driven::oauth::TokenError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Intake(#[from] IntakeError),
    #[error("{0}")]
    NotFetched(String),
}

/// The intake's failures as the worker reports them: the source's own as they are.
impl From<PassError<MailboxError>> for MailboxError {
    fn from(e: PassError<MailboxError>) -> Self {
        match e {
            PassError::Source(e) => e,
            PassError::Store(e) => MailboxError::Store(e),
            PassError::Intake(e) => MailboxError::Intake(e),
            e @ PassError::NotFetched(_) => MailboxError::NotFetched(e.to_string()),
        }
    }
}

impl MailboxError {
    /// Whether the server refused our login for good (wrong password, unknown user), rather than
    /// for the moment (`NO [UNAVAILABLE]`: its authentication service is away).
    pub fn is_credentials_refused(&self) -> bool {
        match self {
            MailboxError::Login { source: async_imap::error::Error::No(text), .. } => !text.to_ascii_lowercase().contains("unavailable"),
            _ => false,
        }
    }
}

/// The folders of the configuration as this server names them (see [`names::Namespace`]).
#[derive(Debug, Clone, Default)]
pub struct Folders {
    pub inbox: String,
    pub processed: String,
    pub ignored: String,
    pub quarantine: String,
}

pub struct MailboxWorker {
    config: Imap,
    /// How the database knows the mailbox (its lease, position and quarantine records): the
    /// inbox folder's name unless told (see `config::MailboxSpec::key`).
    key: String,
    tls: Arc<ClientConfig>,
    store: Store,
    /// The intake's pass over the mailbox, its lease and its count of failures.
    intake: MailboxIntake,
    health: Arc<Health>,
    /// With `imap.auth = "oauth2"`: where the access tokens come from.
    tokens: Option<Arc<crate::driven::oauth::TokenSource>>,
}

/// How often an instance that does not hold the mailbox lease asks again.
const STANDBY_RETRY: Duration = Duration::from_secs(30);

impl MailboxWorker {
    /// `leases` holds the mailbox's lease for this instance.
    pub fn new(config: Imap, tls: Arc<ClientConfig>, store: Store, intake: Arc<Intake>, health: Arc<Health>, leases: Arc<crate::app::leases::Leases>) -> Self {
        let intake = MailboxIntake::new(intake, store.clone(), health.clone(), leases, lease(&config), config.max_message_bytes);
        Self { key: config.inbox.clone(), config, tls, store, intake, health, tokens: None }
    }

    /// Known in the database as `key` (a named mailbox of `[[organisations]]`).
    pub fn with_key(mut self, key: &str) -> Self {
        self.key = key.to_string();
        self
    }

    /// Logs in with access tokens from `tokens` instead of the password.
    pub fn with_tokens(mut self, tokens: Option<Arc<crate::driven::oauth::TokenSource>>) -> Self {
        self.tokens = tokens;
        self
    }

    pub async fn connect(&self) -> Result<ImapSession, MailboxError> {
        if let Some(tokens) = &self.tokens {
            return connect_oauth(&self.config, &self.tls, tokens).await;
        }
        // Read at every connection: a password rotated in its file is picked up without a restart.
        let password = self.config.secret().resolve("imap")?;
        connect(&self.config, &self.tls, &password).await
    }

    /// Runs until `shutdown` turns true, reconnecting after every failure. `first` is a session
    /// opened at start-up, if any.
    pub async fn run(&self, mut first: Option<ImapSession>, mut shutdown: watch::Receiver<bool>) {
        let mut delay = Duration::from_secs(1);
        while !*shutdown.borrow() {
            self.health.beat(Loop::Mailbox);
            let session = match first.take() {
                Some(s) => Ok(s),
                None => self.connect().await,
            };
            let result = match session {
                Ok(session) => self.serve(session, &mut shutdown, &mut delay).await,
                Err(e) => Err(e),
            };
            self.health.mailbox_up(&self.key, false);
            match result {
                Ok(()) => break,
                Err(e) => {
                    let counter = match e {
                        MailboxError::Store(_) | MailboxError::Intake(IntakeError::Store(_)) => &self.health.errors_database,
                        _ => &self.health.errors_mailbox,
                    };
                    Health::count(counter, 1);
                    tracing::warn!(error = %e, retry_in_secs = delay.as_secs(), "mailbox session failed; reconnecting");
                    self.health.sleep_beating(Loop::Mailbox, delay, &mut shutdown).await;
                    delay = (delay * 2).min(MAX_RECONNECT_DELAY);
                }
            }
        }
        self.intake.release(&self.key).await;
        tracing::info!("mailbox worker stopped");
    }

    /// One session: prepare folders, then the intake serves the mailbox (passes, and IDLE or
    /// polls in between) until shutdown or an error.
    async fn serve(&self, mut session: ImapSession, shutdown: &mut watch::Receiver<bool>, delay: &mut Duration) -> Result<(), MailboxError> {
        let caps = timed(self.config.timeout(), "CAPABILITY", session.capabilities()).await?;
        let can_idle = self.config.idle && caps.has_str("IDLE");
        let can_move = caps.has_str("MOVE");
        if self.config.mark == MarkMode::Move && !can_move {
            return Err(MailboxError::Unsupported("MOVE (set imap.mark = \"flag\" for this server)"));
        }
        let folders = prepare_folders(&mut session, &self.config, caps.has_str("NAMESPACE")).await?;
        tracing::info!(idle = can_idle, "mailbox connected");
        self.health.mailbox_up(&self.key, true);
        let mut source = ImapSource::new(session, &self.config, self.store.clone(), folders, can_move, can_idle).with_key(&self.key);
        let poll = Duration::from_secs(self.config.poll_interval_secs);
        let waits = Waits { for_mail: if can_idle { Duration::from_secs(self.config.idle_renew_secs) } else { poll }, standby: STANDBY_RETRY.min(poll) };
        let served = self.intake.serve(&mut source, shutdown, waits, &mut || *delay = Duration::from_secs(1)).await;
        served?;
        if let Some(mut session) = source.session.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), session.logout()).await;
        }
        Ok(())
    }
}

/// The lease must outlast the longest one mail can take (it is renewed before each).
fn lease(config: &Imap) -> Duration {
    config.timeout() * 4 + Duration::from_secs(config.max_message_bytes >> 20) + Duration::from_secs(60)
}

/// Names the folders of the configuration as the server wants them (under its personal
/// namespace, encoded), and creates those that are missing. Used by every session and by
/// `check-config`. `namespace` is whether the server offers NAMESPACE.
pub async fn prepare_folders(session: &mut ImapSession, config: &Imap, namespace: bool) -> Result<Folders, MailboxError> {
    let limit = config.timeout();
    let ns = if namespace { timed(limit, "NAMESPACE", personal_namespace(session)).await? } else { names::Namespace::default() };
    let folders = Folders {
        inbox: ns.folder(&config.inbox),
        processed: ns.folder(&config.processed_folder),
        ignored: ns.folder(&config.ignored_folder),
        quarantine: ns.folder(&config.quarantine_folder),
    };
    let mut wanted = vec![&folders.ignored, &folders.quarantine];
    if config.mark == MarkMode::Move {
        wanted.push(&folders.processed);
    }
    for folder in wanted {
        if folder_exists(session, folder, limit).await? {
            continue;
        }
        match timed(limit, "CREATE", session.create(folder)).await {
            Ok(()) => tracing::info!(folder = %folder, "created mailbox folder"),
            // Another instance may have created it a moment ago.
            Err(_) if folder_exists(session, folder, limit).await? => {}
            Err(MailboxError::Protocol(e)) => return Err(MailboxError::Folder { command: "CREATE", folder: folder.clone(), source: e }),
            Err(e) => return Err(e),
        }
    }
    Ok(folders)
}

/// Whether `folder` (a name on the wire) exists. async-imap sends LIST's pattern as given, so
/// it is quoted here; wildcards in a name could match others, so the answer is compared.
async fn folder_exists(session: &mut ImapSession, folder: &str, limit: Duration) -> Result<bool, MailboxError> {
    let pattern = names::quoted(folder);
    let found: Vec<_> =
        timed(limit, "LIST", async { session.list(Some(""), Some(&pattern)).await?.try_collect::<Vec<_>>().await }).await.map_err(|e| match e {
            MailboxError::Protocol(source) => MailboxError::Folder { command: "LIST", folder: folder.to_string(), source },
            e => e,
        })?;
    Ok(found.iter().any(|name| name.name() == folder))
}

/// Asks for the personal namespace (RFC 2342). async-imap cannot parse the NAMESPACE response
/// (a line it cannot parse breaks its stream), so the exchange goes over the session's
/// connection directly, between two commands, when the library has nothing buffered: the
/// server sends nothing unasked outside IDLE. Bytes are read one at a time, so nothing of a
/// later response is taken from the library.
async fn personal_namespace(session: &mut ImapSession) -> Result<names::Namespace, MailboxError> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    const TAG: &str = "klachtd-ns";
    let io = session.get_mut();
    io.write_all(format!("{TAG} NAMESPACE\r\n").as_bytes()).await.map_err(async_imap::error::Error::from)?;
    io.flush().await.map_err(async_imap::error::Error::from)?;
    let mut found = None;
    let mut line = Vec::new();
    loop {
        let byte = io.read_u8().await.map_err(async_imap::error::Error::from)?;
        line.push(byte);
        if !line.ends_with(b"\r\n") {
            if line.len() > 64 * 1024 {
                return Err(async_imap::error::Error::Io(std::io::Error::other("NAMESPACE: response line too long")).into());
            }
            continue;
        }
        let text = String::from_utf8_lossy(&line[..line.len() - 2]).into_owned();
        line.clear();
        if let Some(rest) = text.strip_prefix(TAG) {
            // A server that refuses NAMESPACE after offering it: folders stay as configured.
            if !rest.trim_start().starts_with("OK") {
                tracing::warn!(answer = %rest.trim(), "NAMESPACE refused; folders are used as configured");
            }
            return Ok(found.unwrap_or_default());
        }
        found = found.or_else(|| names::parse_namespace(&text));
    }
}

/// A command's refusal named with its folder: `CREATE "X": NO Permission denied`.
fn in_folder(e: MailboxError, command: &'static str, folder: &str) -> MailboxError {
    match e {
        MailboxError::Protocol(source) => MailboxError::Folder { command, folder: folder.to_string(), source },
        e => e,
    }
}

async fn timed<T, E: Into<MailboxError>>(limit: Duration, what: &'static str, fut: impl std::future::Future<Output = Result<T, E>>) -> Result<T, MailboxError> {
    match tokio::time::timeout(limit, fut).await {
        Ok(r) => r.map_err(Into::into),
        Err(_) => Err(MailboxError::Timeout(limit, what)),
    }
}
