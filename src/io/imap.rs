//! The IMAP side: one long-lived session to the complaints mailbox. Incremental sync by UID
//! (UIDVALIDITY and the last processed UID live in the database), IDLE when the server offers
//! it and polling otherwise, and reconnection with back-off after any failure, forever.
//!
//! Commit first, then mark: a mail is moved (or flagged) only after the intake has committed
//! what it means; a crash in between makes the next run see it again, and the dedupe key makes
//! that harmless. Nothing is ever deleted.

mod connect;
pub mod names;
mod sync;

pub use connect::{connect, connect_oauth};
pub use sync::BATCH_MAILS;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_imap::extensions::idle::IdleResponse;
use async_imap::Session;

use futures::TryStreamExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tokio_rustls::rustls::ClientConfig;

use crate::config::{Imap, MarkMode};

use crate::app::intake::{Intake, IntakeError};
use crate::io::health::{Health, Loop, BEAT_INTERVAL};
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
    Token(#[from] crate::io::oauth::TokenError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Intake(#[from] IntakeError),
    #[error("UID FETCH returned nothing for UID {0}, which is still in the mailbox")]
    NotFetched(u32),
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

    /// Whether this failure may well be caused by the mail in hand (and so counts towards
    /// quarantining it), rather than clearly by a server or the database being unavailable.
    fn may_be_the_mails_fault(&self) -> bool {
        match self {
            MailboxError::Intake(IntakeError::Store(e @ StoreError::Db(_))) => !e.is_unavailable(),
            MailboxError::Intake(IntakeError::Store(_)) => true,
            // Writing an attachment fails on a full or read-only disk, never because of a mail.
            MailboxError::Intake(IntakeError::Attachment(_)) => false,
            MailboxError::NotFetched(_) => true,
            _ => false,
        }
    }
}

/// After this many consecutive failures of one mail that may be its own fault, the mail is
/// quarantined so that the mail after it is not held up forever.
pub const MAX_ATTEMPTS: u32 = 3;

/// Consecutive failures per (folder, UIDVALIDITY, UID). In memory: a restart tries a mail
/// afresh, which costs at most `MAX_ATTEMPTS` more tries.
#[derive(Default)]
struct Failures(std::sync::Mutex<HashMap<(String, u32, u32), u32>>);

impl Failures {
    /// Counts a failure; returns the reason to quarantine with once the mail has failed
    /// `MAX_ATTEMPTS` times in a row. Failures that are not the mail's fault are not counted.
    fn failed(&self, key: (String, u32, u32), e: &MailboxError) -> Option<String> {
        if !e.may_be_the_mails_fault() {
            return None;
        }
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let n = map.entry(key).or_insert(0);
        *n += 1;
        (*n >= MAX_ATTEMPTS).then(|| format!("processing failed {n} times in a row: {e}"))
    }

    fn forget(&self, key: &(String, u32, u32)) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(key);
    }
}

/// Where a handled mail goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Destination {
    Processed,
    Ignored,
    Quarantine,
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
    tls: Arc<ClientConfig>,
    store: Store,
    intake: Arc<Intake>,
    health: Arc<Health>,
    failures: Failures,
    /// This instance in the mailbox lease: `HOST:PID:N` (N tells daemons in one process apart).
    holder: String,
    /// Set by each session once it has asked the server for its namespace.
    folders: std::sync::RwLock<Folders>,
    /// With `imap.auth = "oauth2"`: where the access tokens come from.
    tokens: Option<Arc<crate::io::oauth::TokenSource>>,
}

/// How often an instance that does not hold the mailbox lease asks again.
const STANDBY_RETRY: Duration = Duration::from_secs(30);

/// What one sync pass did, for logs and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SyncReport {
    pub fetched: u32,
    pub registered: u32,
    pub follow_ups: u32,
    pub ignored: u32,
    pub duplicates: u32,
    pub quarantined: u32,
    /// Another instance holds the mailbox: nothing was looked at.
    pub standby: bool,
}

impl MailboxWorker {
    /// `host` names this machine in the mailbox lease.
    pub fn new(config: Imap, tls: Arc<ClientConfig>, store: Store, intake: Arc<Intake>, health: Arc<Health>, host: &str) -> Self {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let holder = format!("{host}:{}:{}", std::process::id(), N.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        Self { config, tls, store, intake, health, failures: Failures::default(), holder, folders: Default::default(), tokens: None }
    }

    /// Logs in with access tokens from `tokens` instead of the password.
    pub fn with_tokens(mut self, tokens: Option<Arc<crate::io::oauth::TokenSource>>) -> Self {
        self.tokens = tokens;
        self
    }

    /// The lease must outlast the longest one mail can take (it is renewed before each).
    fn lease(&self) -> Duration {
        self.config.timeout() * 4 + Duration::from_secs(self.config.max_message_bytes >> 20) + Duration::from_secs(60)
    }

    /// Takes or renews the mailbox lease. Several instances on one database share the mailbox:
    /// one takes mail in at a time, so no mail is fetched and moved twice (two concurrent MOVEs
    /// of one mail can leave two copies). The lease of an instance on this machine whose
    /// process is gone (a crash, then a restart) is taken over at once.
    async fn hold_mailbox(&self) -> Result<bool, MailboxError> {
        let inbox = &self.config.inbox;
        if self.store.hold_mailbox(inbox, &self.holder, self.lease()).await? {
            return Ok(true);
        }
        match self.store.mailbox_holder(inbox).await? {
            Some(old) if holder_is_gone(&old, &self.holder) => {
                tracing::info!("taking over the mailbox from an instance on this machine that no longer runs");
                Ok(self.store.take_over_mailbox(inbox, &old, &self.holder, self.lease()).await?)
            }
            _ => Ok(false),
        }
    }

    async fn timed<T, E: Into<MailboxError>>(&self, what: &'static str, fut: impl std::future::Future<Output = Result<T, E>>) -> Result<T, MailboxError> {
        timed(self.config.timeout(), what, fut).await
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
            self.health.mailbox_connected.store(false, std::sync::atomic::Ordering::Relaxed);
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
        if let Err(e) = self.store.release_mailbox(&self.config.inbox, &self.holder).await {
            tracing::warn!(error = %e, "cannot give up the mailbox lease; another instance takes over when it runs out");
        }
        tracing::info!("mailbox worker stopped");
    }

    /// One session: prepare folders, then sync and wait, until shutdown or an error.
    async fn serve(&self, mut session: ImapSession, shutdown: &mut watch::Receiver<bool>, delay: &mut Duration) -> Result<(), MailboxError> {
        let caps = self.timed("CAPABILITY", session.capabilities()).await?;
        let can_idle = self.config.idle && caps.has_str("IDLE");
        let can_move = caps.has_str("MOVE");
        if self.config.mark == MarkMode::Move && !can_move {
            return Err(MailboxError::Unsupported("MOVE (set imap.mark = \"flag\" for this server)"));
        }
        let folders = prepare_folders(&mut session, &self.config, caps.has_str("NAMESPACE")).await?;
        *self.folders.write().unwrap_or_else(|e| e.into_inner()) = folders;
        tracing::info!(idle = can_idle, "mailbox connected");
        self.health.mailbox_connected.store(true, std::sync::atomic::Ordering::Relaxed);
        let mut was_standby = false;
        loop {
            self.health.beat(Loop::Mailbox);
            // What the server announced before this sync is covered by it.
            mail_announced(&session);
            let report = self.sync(&mut session, can_move, shutdown).await?;
            // Mail that arrived during the sync was announced with `* N EXISTS` inside the
            // replies to FETCH or MOVE; IDLE would not announce it again. A sync that took mail
            // in runs once more, too: the channel holding announcements is bounded, and a long
            // sync's EXPUNGE replies can push an EXISTS out of it.
            let more = mail_announced(&session) || report.fetched > 0;
            if report.standby != was_standby {
                tracing::info!(standby = report.standby, "{}", if report.standby { "another instance takes mail in; standing by" } else { "taking mail in" });
                was_standby = report.standby;
            }
            *delay = Duration::from_secs(1);
            self.health.last_sync_at.store(crate::store::now(), std::sync::atomic::Ordering::Relaxed);
            Health::count(&self.health.mails_fetched, report.fetched.into());
            Health::count(&self.health.cases_created, report.registered.into());
            Health::count(&self.health.follow_ups, report.follow_ups.into());
            Health::count(&self.health.quarantined, report.quarantined.into());
            if report.fetched > 0 {
                tracing::info!(
                    fetched = report.fetched,
                    registered = report.registered,
                    follow_ups = report.follow_ups,
                    ignored = report.ignored,
                    duplicates = report.duplicates,
                    quarantined = report.quarantined,
                    "mailbox synced"
                );
            }
            if *shutdown.borrow() {
                break;
            }
            if report.standby {
                self.health.sleep_beating(Loop::Mailbox, STANDBY_RETRY.min(Duration::from_secs(self.config.poll_interval_secs)), shutdown).await;
            } else if more {
                continue;
            } else if can_idle {
                session = self.idle(session, shutdown).await?;
            } else {
                self.health.sleep_beating(Loop::Mailbox, Duration::from_secs(self.config.poll_interval_secs), shutdown).await;
            }
            if *shutdown.borrow() {
                break;
            }
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), session.logout()).await;
        Ok(())
    }

    /// Waits in IDLE until the server reports a change, the renewal time passes, or shutdown.
    async fn idle(&self, session: ImapSession, shutdown: &mut watch::Receiver<bool>) -> Result<ImapSession, MailboxError> {
        let mut handle = session.idle();
        self.timed("IDLE", handle.init()).await?;
        {
            // Dropping the StopSource interrupts the wait, so it stays bound until we mean it.
            // IDLE is renewed (and the mailbox synced) by our own wall-clock timer: each renewal
            // catches mail whose notification was lost or that a server never announces (Cyrus
            // polls for it once a minute at best). The library's timeout is only a backstop:
            // it restarts on every `* OK Still here`, which Dovecot sends every 2 minutes.
            let renew_after = Duration::from_secs(self.config.idle_renew_secs);
            let (wait, stop_source) = handle.wait_with_timeout(renew_after * 2);
            let mut stop_source = Some(stop_source);
            tokio::pin!(wait);
            let renew = tokio::time::sleep(renew_after);
            tokio::pin!(renew);
            let mut beat = tokio::time::interval(BEAT_INTERVAL);
            let response = loop {
                tokio::select! {
                    r = &mut wait => break r,
                    _ = shutdown.changed(), if stop_source.is_some() => { stop_source.take(); }
                    _ = &mut renew, if stop_source.is_some() => { stop_source.take(); }
                    _ = beat.tick() => {
                        self.health.beat(Loop::Mailbox);
                        // Keep the lease while waiting; a database that is away shows at the next sync.
                        let _ = self.store.hold_mailbox(&self.config.inbox, &self.holder, self.lease()).await;
                    }
                }
            }?;
            if let IdleResponse::NewData(_) = response {
                tracing::debug!("mailbox changed");
            }
        }
        self.timed("DONE", handle.done()).await
    }
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

/// Drains what the server announced outside the replies to our commands and says whether it
/// included new mail (`EXISTS` or `RECENT`). Expunges (our own MOVEs) and the rest are dropped.
fn mail_announced(session: &ImapSession) -> bool {
    let mut any = false;
    while let Ok(response) = session.unsolicited_responses.try_recv() {
        any |= matches!(response, async_imap::types::UnsolicitedResponse::Exists(_) | async_imap::types::UnsolicitedResponse::Recent(_));
    }
    any
}

/// Whether lease holder `old` (`HOST:PID:N`) was a process on this machine (the host of `ours`)
/// that no longer runs.
fn holder_is_gone(old: &str, ours: &str) -> bool {
    let (mut old, mut ours) = (old.split(':'), ours.split(':'));
    let (Some(host), Some(pid)) = (old.next(), old.next()) else { return false };
    let (Some(our_host), Some(our_pid)) = (ours.next(), ours.next()) else { return false };
    host == our_host && pid != our_pid && pid.parse::<u32>().is_ok() && !std::path::Path::new("/proc").join(pid).exists()
}

async fn timed<T, E: Into<MailboxError>>(limit: Duration, what: &'static str, fut: impl std::future::Future<Output = Result<T, E>>) -> Result<T, MailboxError> {
    match tokio::time::timeout(limit, fut).await {
        Ok(r) => r.map_err(Into::into),
        Err(_) => Err(MailboxError::Timeout(limit, what)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(e: sqlx::Error) -> MailboxError {
        MailboxError::Intake(IntakeError::Store(StoreError::Db(e)))
    }

    fn code(c: &'static str) -> MailboxError {
        MailboxError::Intake(IntakeError::Store(crate::store::db_error_with_code(c)))
    }

    #[test]
    fn a_database_that_is_away_is_never_the_mails_fault() {
        for e in [
            db(sqlx::Error::PoolTimedOut),
            db(sqlx::Error::PoolClosed),
            db(sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused))),
            code("08006"),
            code("57P01"),
            code("53100"),
            code("40001"),
            code("5"),   // SQLITE_BUSY
            code("261"), // SQLITE_BUSY_RECOVERY
            code("13"),  // SQLITE_FULL
            MailboxError::Intake(IntakeError::Attachment(std::io::Error::from(std::io::ErrorKind::StorageFull))),
            MailboxError::Timeout(Duration::from_secs(1), "UID FETCH"),
            MailboxError::Protocol(async_imap::error::Error::ConnectionLost),
        ] {
            assert!(!e.may_be_the_mails_fault(), "{e:?}");
        }
        for e in [code("22021"), code("22P05"), code("1"), code("2067"), db(sqlx::Error::RowNotFound), MailboxError::NotFetched(7)] {
            assert!(e.may_be_the_mails_fault(), "{e:?}");
        }
    }

    #[test]
    fn a_mail_is_given_up_on_after_max_attempts_in_a_row() {
        let failures = Failures::default();
        let key = ("INBOX".to_string(), 1, 42);
        let poison = code("22021");
        for _ in 1..MAX_ATTEMPTS {
            assert_eq!(failures.failed(key.clone(), &poison), None);
            // A database outage in between neither counts nor resets.
            assert_eq!(failures.failed(key.clone(), &db(sqlx::Error::PoolTimedOut)), None);
        }
        let reason = failures.failed(key.clone(), &poison).expect("quarantine now");
        assert!(reason.contains(&format!("failed {MAX_ATTEMPTS} times")) && reason.contains("database said no"), "{reason}");
        // Another UID, or the same one after a success, starts from zero.
        assert_eq!(failures.failed(("INBOX".to_string(), 1, 43), &poison), None);
        failures.forget(&key);
        assert_eq!(failures.failed(key, &poison), None);
    }

    #[test]
    fn only_a_gone_process_on_this_machine_loses_its_lease_at_once() {
        let ours = format!("host-a:{}:0", std::process::id());
        assert!(!holder_is_gone(&format!("host-a:{}:1", std::process::id()), &ours), "a second daemon in this process");
        assert!(!holder_is_gone("host-a:1:0", &ours), "pid 1 runs");
        assert!(holder_is_gone("host-a:4294967295:0", &ours), "no such process");
        assert!(!holder_is_gone("host-b:4294967295:0", &ours), "another machine: wait for its lease to run out");
        assert!(!holder_is_gone("garbage", &ours));
    }
}
