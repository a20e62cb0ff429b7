//! The mailbox as a [`MailSource`] for the intake (`app::intake::pass`), which owns the pass:
//! batches, transaction, quarantine, lease, commit first and then put away. Here are only the
//! IMAP commands: SELECT and UID SEARCH to list, UID FETCH for bodies, UID MOVE (or COPY and
//! STORE) to put away, IDLE to wait.
//!
//! async-imap has no timeouts of its own: every command runs under `timed`, and every stream
//! it returns is drained. Untagged EXISTS that come inside a FETCH or MOVE reply land in
//! `session.unsolicited_responses` and are read before IDLE (`announced`), which would not
//! report them again.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use tokio::sync::watch;

use super::{in_folder, timed, Folders, ImapSession, MailboxError, FETCH_CHUNK, PROCESSED_KEYWORD};
use crate::app::intake::pass::{Destination, Listed, MailOrigin, MailSource, Waited};
use crate::config::{Imap, MarkMode};
use crate::store::{Conn, Store, StoreError};

/// Sizes and dates are asked for this many mails at a time.
const LIST_CHUNK: usize = 1000;

/// One session's mailbox, selected at each listing.
pub struct ImapSource<'a> {
    /// Taken while in IDLE (which consumes it); `None` only after a failure there.
    pub(super) session: Option<ImapSession>,
    pub(super) config: &'a Imap,
    /// How the database knows the mailbox (lease, position, quarantine records).
    key: String,
    pub(super) store: Store,
    pub(super) folders: Folders,
    /// Whether the server offers UID MOVE, and IDLE (and IDLE is wanted).
    pub(super) can_move: bool,
    pub(super) can_idle: bool,
    /// As of the last listing.
    uidvalidity: u32,
    last_uid: u32,
}

/// Where the intake stands in a mailbox: the last UID put away, valid under UIDVALIDITY.
pub struct ImapPosition {
    folder: String,
    uidvalidity: u32,
    uid: u32,
}

impl<'a> ImapSource<'a> {
    pub fn new(session: ImapSession, config: &'a Imap, store: Store, folders: Folders, can_move: bool, can_idle: bool) -> Self {
        Self { session: Some(session), key: config.inbox.clone(), config, store, folders, can_move, can_idle, uidvalidity: 0, last_uid: 0 }
    }

    /// Known in the database as `key` rather than by its inbox folder's name.
    pub fn with_key(mut self, key: &str) -> Self {
        self.key = key.to_string();
        self
    }

    fn session(&mut self) -> Result<&mut ImapSession, MailboxError> {
        self.session.as_mut().ok_or(MailboxError::Protocol(async_imap::error::Error::ConnectionLost))
    }

    fn timeout(&self) -> Duration {
        self.config.timeout()
    }

    /// Sizes and internal dates of `uids`, in one FETCH.
    async fn fetch_metas(&mut self, uids: &[u32]) -> Result<HashMap<u32, (u32, DateTime<Utc>)>, MailboxError> {
        let limit = self.timeout();
        let session = self.session()?;
        let fetched: Vec<_> =
            timed(limit, "UID FETCH", async { session.uid_fetch(uid_set(uids), "(UID RFC822.SIZE INTERNALDATE)").await?.try_collect::<Vec<_>>().await })
                .await?;
        Ok(fetched
            .iter()
            .filter_map(|f| {
                // A server that omits INTERNALDATE gets "now": the date of receipt cannot be earlier.
                let arrived = f.internal_date().map(|d| d.with_timezone(&Utc)).unwrap_or_else(Utc::now);
                Some((f.uid?, (f.size.unwrap_or(0), arrived)))
            })
            .collect())
    }

    /// A large mail, fetched `FETCH_CHUNK` bytes at a time into one buffer of its size. One
    /// FETCH of the whole would cost several times the mail in memory: the library's read
    /// buffer grows by doubling, and the body is copied out of it.
    async fn fetch_in_chunks(&mut self, uid: u32, size: u32) -> Result<Option<Vec<u8>>, MailboxError> {
        let mut raw = Vec::with_capacity(size as usize);
        loop {
            let items = format!("(UID BODY.PEEK[]<{}.{FETCH_CHUNK}>)", raw.len());
            let Some(chunk) = self.fetch(uid, &items).await? else {
                return Ok(None);
            };
            let chunk = chunk.unwrap_or_default();
            raw.extend_from_slice(&chunk);
            // RFC822.SIZE may be off (a server that counts differently): the end is the first
            // short chunk, never a size we were told.
            if chunk.len() < FETCH_CHUNK as usize {
                return Ok(Some(raw));
            }
        }
    }

    /// One UID FETCH of one mail, fully drained: its body, if asked (`None`: nothing returned).
    async fn fetch(&mut self, uid: u32, items: &str) -> Result<Option<Option<Vec<u8>>>, MailboxError> {
        let limit = self.timeout();
        let session = self.session()?;
        let fetches: Vec<_> = timed(limit, "UID FETCH", async { session.uid_fetch(uid.to_string(), items).await?.try_collect::<Vec<_>>().await }).await?;
        Ok(fetches.into_iter().find(|f| f.uid == Some(uid)).map(|f| f.body().map(<[u8]>::to_vec)))
    }

    /// Waits in IDLE until the server reports a change, `renew_after` passes, or shutdown.
    async fn idle(&mut self, renew_after: Duration, shutdown: &mut watch::Receiver<bool>) -> Result<Waited, MailboxError> {
        let limit = self.timeout();
        let session = self.session.take().ok_or(MailboxError::Protocol(async_imap::error::Error::ConnectionLost))?;
        let mut handle = session.idle();
        timed(limit, "IDLE", handle.init()).await?;
        let waited = {
            // Dropping the StopSource interrupts the wait, so it stays bound until we mean it.
            // IDLE is renewed by our own wall-clock timer: each renewal catches mail whose
            // notification was lost or that a server never announces (Cyrus polls for it once
            // a minute at best). The library's timeout is only a backstop: it restarts on every
            // `* OK Still here`, which Dovecot sends every 2 minutes.
            let (wait, stop_source) = handle.wait_with_timeout(renew_after * 2);
            let mut stop_source = Some(stop_source);
            let mut waited = Waited::TimedOut;
            tokio::pin!(wait);
            let renew = tokio::time::sleep(renew_after);
            tokio::pin!(renew);
            let response = loop {
                tokio::select! {
                    r = &mut wait => break r,
                    _ = shutdown.changed(), if stop_source.is_some() => { stop_source.take(); waited = Waited::Shutdown; }
                    _ = &mut renew, if stop_source.is_some() => { stop_source.take(); }
                }
            }?;
            match response {
                async_imap::extensions::idle::IdleResponse::NewData(_) => Waited::Changed,
                _ => waited,
            }
        };
        self.session = Some(timed(limit, "DONE", handle.done()).await?);
        Ok(waited)
    }
}

impl MailSource for ImapSource<'_> {
    type Key = u32;
    type Error = MailboxError;
    type Position = ImapPosition;

    fn mailbox(&self) -> &str {
        &self.key
    }

    async fn list_new(&mut self) -> Result<Vec<Listed<u32>>, MailboxError> {
        let (limit, key, wire) = (self.timeout(), self.key.clone(), self.folders.inbox.clone());
        let session = self.session()?;
        let mailbox = timed(limit, "SELECT", session.select(&wire)).await.map_err(|e| in_folder(e, "SELECT", &wire))?;
        let uidvalidity = mailbox.uid_validity.ok_or(MailboxError::Unsupported("UIDVALIDITY"))?;
        let last_uid = match self.store.mailbox_state(&key).await? {
            Some((v, uid)) if v == uidvalidity => uid,
            Some((v, _)) => {
                tracing::warn!(old = v, new = uidvalidity, "UIDVALIDITY changed; rescanning the mailbox (known mail is recognised by Message-ID)");
                0
            }
            None => 0,
        };
        (self.uidvalidity, self.last_uid) = (uidvalidity, last_uid);
        let query = match self.config.mark {
            MarkMode::Move => format!("UID {}:*", last_uid + 1),
            MarkMode::Flag => format!("UID {}:* UNKEYWORD {PROCESSED_KEYWORD}", last_uid + 1),
        };
        let session = self.session()?;
        let found = timed(limit, "UID SEARCH", session.uid_search(&query)).await?;
        // "n:*" always matches the highest UID, even when it is below n.
        let mut uids: Vec<u32> = found.into_iter().filter(|uid| *uid > last_uid).collect();
        uids.sort_unstable();
        let mut listed = Vec::with_capacity(uids.len());
        for chunk in uids.chunks(LIST_CHUNK) {
            let metas = self.fetch_metas(chunk).await?;
            // A mail without a size is listed all the same: if it is still there when its body
            // is asked for, it fails (and is not passed over); if not, it is skipped.
            listed.extend(chunk.iter().map(|uid| {
                let (size, arrived) = metas.get(uid).copied().unwrap_or_else(|| (0, Utc::now()));
                Listed { key: *uid, size, arrived }
            }));
        }
        Ok(listed)
    }

    async fn fetch_batch(&mut self, mails: &[Listed<u32>]) -> Result<HashMap<u32, Vec<u8>>, MailboxError> {
        let uids: Vec<u32> = mails.iter().map(|m| m.key).collect();
        let bytes: u64 = mails.iter().map(|m| u64::from(m.size)).sum();
        let budget = self.timeout() + Duration::from_secs(bytes >> 20);
        let session = self.session()?;
        let fetched: Vec<_> =
            timed(budget, "UID FETCH", async { session.uid_fetch(uid_set(&uids), "(UID BODY.PEEK[])").await?.try_collect::<Vec<_>>().await }).await?;
        let mut bodies = HashMap::with_capacity(uids.len());
        for f in &fetched {
            if let (Some(uid), Some(body)) = (f.uid, f.body()) {
                if uids.contains(&uid) {
                    bodies.insert(uid, body.to_vec());
                }
            }
        }
        Ok(bodies)
    }

    async fn fetch_one(&mut self, mail: &Listed<u32>) -> Result<Option<Vec<u8>>, MailboxError> {
        if mail.size <= FETCH_CHUNK {
            Ok(self.fetch(mail.key, "(UID BODY.PEEK[])").await?.map(Option::unwrap_or_default))
        } else {
            self.fetch_in_chunks(mail.key, mail.size).await
        }
    }

    async fn still_there(&mut self, uid: &u32) -> Result<bool, MailboxError> {
        let limit = self.timeout();
        let session = self.session()?;
        Ok(timed(limit, "UID SEARCH", session.uid_search(format!("UID {uid}"))).await?.contains(uid))
    }

    /// `mark = "move"`: UID MOVE to the folder for their destination. `mark = "flag"`: processed
    /// mail only gets the processed keyword; ignored and quarantined mail is moved when the
    /// server can, and otherwise copied to its folder and given the keyword. Nothing is ever
    /// expunged or deleted.
    async fn put_away(&mut self, uids: &[u32], destination: Destination) -> Result<(), MailboxError> {
        let folder = match destination {
            Destination::Processed => self.folders.processed.clone(),
            Destination::Ignored => self.folders.ignored.clone(),
            Destination::Quarantine => self.folders.quarantine.clone(),
        };
        let (limit, set) = (self.timeout(), uid_set(uids));
        let flag_in_place = self.config.mark == MarkMode::Flag && (destination == Destination::Processed || !self.can_move);
        let session = self.session()?;
        if !flag_in_place {
            return timed(limit, "UID MOVE", session.uid_mv(&set, &folder)).await.map_err(|e| in_folder(e, "UID MOVE", &folder));
        }
        if destination != Destination::Processed {
            timed(limit, "UID COPY", session.uid_copy(&set, &folder)).await.map_err(|e| in_folder(e, "UID COPY", &folder))?;
        }
        let flags = format!("+FLAGS ({PROCESSED_KEYWORD} \\Seen)");
        timed(limit, "UID STORE", async { session.uid_store(&set, &flags).await?.try_collect::<Vec<_>>().await }).await?;
        Ok(())
    }

    fn origin(&self, uid: &u32) -> MailOrigin {
        MailOrigin { folder: self.key.clone(), validity: self.uidvalidity, uid: *uid }
    }

    fn position_after(&self, last: Option<&u32>) -> ImapPosition {
        ImapPosition { folder: self.key.clone(), uidvalidity: self.uidvalidity, uid: last.copied().unwrap_or(self.last_uid) }
    }

    fn save_position<'b>(store: &'b Store, db: &'b mut Conn, at: &'b ImapPosition) -> impl std::future::Future<Output = Result<(), StoreError>> + Send + 'b {
        store.save_mailbox_state_on(db, &at.folder, at.uidvalidity, at.uid)
    }

    /// Drains what the server announced outside the replies to our commands and says whether
    /// it included new mail (`EXISTS` or `RECENT`). Expunges (our own MOVEs) and the rest are
    /// dropped.
    fn announced(&mut self) -> bool {
        let Some(session) = &self.session else { return false };
        let mut any = false;
        while let Ok(response) = session.unsolicited_responses.try_recv() {
            any |= matches!(response, async_imap::types::UnsolicitedResponse::Exists(_) | async_imap::types::UnsolicitedResponse::Recent(_));
        }
        any
    }

    async fn wait(&mut self, timeout: Duration, shutdown: &mut watch::Receiver<bool>) -> Result<Waited, MailboxError> {
        if self.can_idle {
            return self.idle(timeout, shutdown).await;
        }
        tokio::select! {
            _ = tokio::time::sleep(timeout) => Ok(Waited::TimedOut),
            _ = shutdown.changed() => Ok(Waited::Shutdown),
        }
    }
}

/// A UID set for a command: `3,4,5,9` as `3:5,9`.
pub fn uid_set(uids: &[u32]) -> String {
    let mut sorted = uids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out = String::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_sets_are_compact_ranges() {
        assert_eq!(uid_set(&[9, 3, 4, 5]), "3:5,9");
        assert_eq!(uid_set(&[7]), "7");
        assert_eq!(uid_set(&[1, 3, 5]), "1,3,5");
        assert_eq!(uid_set(&[2, 2, 3]), "2:3");
    }
}
