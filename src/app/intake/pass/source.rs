//! What the intake needs of a mailbox: [`MailSource`]. IMAP is one (`driven::imap`); another
//! source (Microsoft Graph) implements the same trait and copies nothing of the pass.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use crate::store::{Conn, Store, StoreError};

/// A new mail as the listing shows it, before its body is fetched.
#[derive(Debug, Clone)]
pub struct Listed<K> {
    pub key: K,
    /// Its size in bytes as the source reports it (0 when unknown).
    pub size: u32,
    /// When it reached the mailbox: the date of receipt of a complaint.
    pub arrived: DateTime<Utc>,
}

/// Where a handled mail goes once its transaction has committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Destination {
    Processed,
    Ignored,
    Quarantine,
}

/// How a quarantine record names the mail it holds: the columns of the `quarantine` table.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MailOrigin {
    pub folder: String,
    pub validity: u32,
    pub uid: u32,
}

/// How a wait for new mail ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waited {
    /// Something changed (or the source cannot tell): look again.
    Changed,
    /// The wall-clock timeout passed: look again anyway (a lost notification).
    TimedOut,
    /// Shutdown was asked.
    Shutdown,
}

/// A mailbox the intake takes mail from. The source knows its protocol and its own position
/// (a UID and UIDVALIDITY, a delta link); the intake owns everything else: batches, the
/// transaction, quarantine, the lease, and the order commit first, then put away.
///
/// Keys are opaque to the intake. A key must name the mail until it is put away; a source
/// whose move gives the mail a new name (Graph) keeps that to itself.
pub trait MailSource: Send {
    type Key: Clone + Eq + Hash + fmt::Debug + Send + Sync;
    type Error: std::error::Error + Send + Sync + 'static;
    /// Where the source stands: what is saved (see `position_after`).
    type Position: Send + Sync + 'static;

    /// The name of the mailbox: the lease is held on it.
    fn mailbox(&self) -> &str;

    /// The mails that arrived since the saved position, oldest first. A mail the source
    /// cannot size is listed with size 0 and arrival now, so that it is not passed over.
    fn list_new(&mut self) -> impl Future<Output = Result<Vec<Listed<Self::Key>>, Self::Error>> + Send;

    /// The bodies of several small mails in one round (the intake bounds them by count and
    /// bytes). A mail missing from the answer is asked for again on its own.
    fn fetch_batch(&mut self, mails: &[Listed<Self::Key>]) -> impl Future<Output = Result<HashMap<Self::Key, Vec<u8>>, Self::Error>> + Send;

    /// One mail's body, however large; `None` if the source returned nothing for it.
    fn fetch_one(&mut self, mail: &Listed<Self::Key>) -> impl Future<Output = Result<Option<Vec<u8>>, Self::Error>> + Send;

    /// Whether a mail the source returned nothing for is still there (`false`: someone else
    /// took it away, and it is skipped).
    fn still_there(&mut self, key: &Self::Key) -> impl Future<Output = Result<bool, Self::Error>> + Send;

    /// Puts committed mails away to `destination` (moved, or flagged as processed). Called only
    /// after their transaction has committed; never deletes.
    fn put_away(&mut self, keys: &[Self::Key], destination: Destination) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// How a quarantine record names this mail.
    fn origin(&self, key: &Self::Key) -> MailOrigin;

    /// The position to save once `last` is put away (`None`: nothing new was listed; the
    /// position stands as listed). The source owns its format (a UID, a delta link).
    fn position_after(&self, last: Option<&Self::Key>) -> Self::Position;

    /// Saves a position on `db`: the intake's batch transaction, or a connection at the end.
    fn save_position<'a>(store: &'a Store, db: &'a mut Conn, at: &'a Self::Position) -> impl Future<Output = Result<(), StoreError>> + Send + 'a;

    /// Whether the source heard of new mail during the pass (mail that came in while it ran
    /// may not be announced again).
    fn announced(&mut self) -> bool;

    /// Waits until something arrives, `timeout` passes (a wall clock: a server's keep-alive
    /// must not stretch it), or `shutdown` turns true. The intake beats and renews its lease
    /// meanwhile.
    fn wait(&mut self, timeout: Duration, shutdown: &mut watch::Receiver<bool>) -> impl Future<Output = Result<Waited, Self::Error>> + Send;
}
