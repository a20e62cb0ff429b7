//! What the outbox sends through: one narrow trait, as lettre's `Transport` is for lettre. SMTP
//! (`io::smtp::Mailer`) is the daemon's; [`StubTransport`] keeps what it is given in
//! memory and answers as told, for tests of the outbox and the letters without a server.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use futures::future::BoxFuture;

use crate::store::OutboxItem;

/// Why a mail did not go out, as the outbox acts on it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendFailure {
    /// Trying again cannot help (a 5xx reply, a message that cannot be built): the attempts
    /// end and the handler is told.
    #[error("{0}")]
    Permanent(String),
    /// The server is away or said "later" (a 4xx): retried with back-off.
    #[error("{0}")]
    Temporary(String),
}

impl SendFailure {
    pub fn is_permanent(&self) -> bool {
        matches!(self, SendFailure::Permanent(_))
    }
}

pub trait Transport: Send + Sync {
    /// Sends the mail of an outbox row and returns the server's reply to it ("250 2.0.0 Ok:
    /// queued as ..."). The caller records the mail as sent.
    fn send<'a>(&'a self, item: &'a OutboxItem) -> BoxFuture<'a, Result<String, SendFailure>>;

    /// Ends open connections, if any (after a run of mails, and at shutdown).
    fn close_idle(&self) -> BoxFuture<'_, ()>;

    /// The longest one send may take (a claim's lease outlasts it).
    fn send_timeout(&self) -> Duration;
}

/// A transport in memory: keeps every mail it is given and answers with the replies it was
/// told, in order (then "250 2.0.0 Ok").
#[derive(Default)]
pub struct StubTransport {
    replies: Mutex<VecDeque<Result<String, SendFailure>>>,
    sent: Mutex<Vec<OutboxItem>>,
}

impl StubTransport {
    /// Answers the next mail with `reply` (after the replies told before).
    pub fn reply(&self, reply: Result<String, SendFailure>) {
        self.replies.lock().unwrap_or_else(|e| e.into_inner()).push_back(reply);
    }

    /// The mails given to it so far, accepted or not.
    pub fn sent(&self) -> Vec<OutboxItem> {
        self.sent.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Transport for StubTransport {
    fn send<'a>(&'a self, item: &'a OutboxItem) -> BoxFuture<'a, Result<String, SendFailure>> {
        self.sent.lock().unwrap_or_else(|e| e.into_inner()).push(item.clone());
        let reply = self.replies.lock().unwrap_or_else(|e| e.into_inner()).pop_front().unwrap_or_else(|| Ok("250 2.0.0 Ok".into()));
        Box::pin(std::future::ready(reply))
    }

    fn close_idle(&self) -> BoxFuture<'_, ()> {
        Box::pin(std::future::ready(()))
    }

    fn send_timeout(&self) -> Duration {
        Duration::from_secs(10)
    }
}
