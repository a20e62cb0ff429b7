//! The Graph mailbox as a [`MailSource`] for the intake, which owns the pass (batches,
//! transaction, quarantine, lease, commit first and then put away). Here are only the
//! requests:
//! - listing: the delta query of the inbox folder from the saved `@odata.deltaLink`, following
//!   `@odata.nextLink` to the end; its new messages, oldest first by `receivedDateTime` (the
//!   date of receipt). Messages that left the folder come as `@removed` and are passed over;
//! - fetching: `GET /messages/{id}/$value`, the MIME as it arrived, read as it streams and
//!   bounded (a small mail's read stops at the batch's limit, and it is fetched alone);
//! - putting away: `POST /messages/{id}/move`, which gives the message a new id; an old id
//!   that is gone (404) was moved already (a pass that failed half-way);
//! - the position: the delta link. Only a listing put away to its end advances it; a pass
//!   that stops earlier keeps the link it started from, and the next round lists again what is
//!   still in the folder (mail committed before is recognised by its dedupe key).
//!
//! The delta query has no sizes: they come from one listing of the folder with the MAPI
//! property PidTagMessageSize, so the intake fetches a large mail alone and quarantines one over
//! `graph.max_message_bytes` unread. Reads are bounded all the same, as they stream.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use hyper::Method;
use tokio::sync::watch;

use super::{encode, GraphClient, GraphError, READ_WRITE};
use crate::app::intake::pass::{Destination, Listed, MailOrigin, MailSource, Waited, LARGE_MAIL};
use crate::config::graph::Graph;
use crate::store::{Conn, Store, StoreError};

/// The folders' ids, found (and created when missing) by [`Folders::prepare`].
#[derive(Debug, Clone, Default)]
pub struct Folders {
    pub inbox: String,
    pub processed: String,
    pub ignored: String,
    pub quarantine: String,
}

/// Where the intake stands: a delta link (`None`: no change).
pub struct GraphPosition {
    mailbox: String,
    link: Option<String>,
}

pub struct GraphSource {
    client: Arc<GraphClient>,
    store: Store,
    folders: Folders,
    /// The lease's and the position's name: `graph:` and the mailbox.
    name: String,
    poll: Duration,
    max_bytes: u64,
    /// The link the listing started from, and the one it ended with.
    from_link: Option<String>,
    to_link: Option<String>,
    last_listed: Option<String>,
}

impl Folders {
    /// The folders of `config` by id; processed, ignored and quarantine created when missing.
    pub async fn prepare(client: &GraphClient, config: &Graph) -> Result<Folders, GraphError> {
        let known = list_folders(client).await?;
        let inbox = match known.iter().find(|(_, name)| name.eq_ignore_ascii_case(&config.inbox)) {
            Some((id, _)) => id.clone(),
            // A well-known name ("inbox") is an id of its own.
            None => {
                let folder = client
                    .json("GET mailFolder", READ_WRITE, Method::GET, &client.url(&format!("/mailFolders/{}?$select=id", encode(&config.inbox))), None)
                    .await?;
                folder["id"].as_str().ok_or_else(|| GraphError::Malformed("a folder without id".into()))?.to_string()
            }
        };
        let mut ids = Vec::new();
        for name in [&config.processed_folder, &config.ignored_folder, &config.quarantine_folder] {
            ids.push(match known.iter().find(|(_, n)| n.eq_ignore_ascii_case(name)) {
                Some((id, _)) => id.clone(),
                None => create_folder(client, name).await?,
            });
        }
        Ok(Folders { inbox, quarantine: ids.pop().unwrap_or_default(), ignored: ids.pop().unwrap_or_default(), processed: ids.pop().unwrap_or_default() })
    }
}

/// The mailbox's top-level folders: (id, display name).
async fn list_folders(client: &GraphClient) -> Result<Vec<(String, String)>, GraphError> {
    let mut found = Vec::new();
    let mut next = Some(client.url("/mailFolders?$select=id,displayName&$top=100"));
    while let Some(url) = next.take() {
        let page = client.json("list mailFolders", READ_WRITE, Method::GET, &url, None).await?;
        for f in page["value"].as_array().into_iter().flatten() {
            if let (Some(id), Some(name)) = (f["id"].as_str(), f["displayName"].as_str()) {
                found.push((id.to_string(), name.to_string()));
            }
        }
        next = page["@odata.nextLink"].as_str().map(str::to_string);
    }
    Ok(found)
}

async fn create_folder(client: &GraphClient, name: &str) -> Result<String, GraphError> {
    let body = serde_json::json!({ "displayName": name });
    match client.json("create mailFolder", READ_WRITE, Method::POST, &client.url("/mailFolders"), Some(body)).await {
        Ok(folder) => {
            tracing::info!(folder = %name, "created mailbox folder");
            folder["id"].as_str().map(str::to_string).ok_or_else(|| GraphError::Malformed("a created folder without id".into()))
        }
        // Another instance may have created it a moment ago.
        Err(GraphError::Status { status: 409, .. }) => list_folders(client)
            .await?
            .into_iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(name))
            .map(|(id, _)| id)
            .ok_or_else(|| GraphError::Malformed(format!("folder {name:?} exists and cannot be found"))),
        Err(e) => Err(e),
    }
}

impl GraphSource {
    pub fn new(client: Arc<GraphClient>, store: Store, folders: Folders, config: &Graph) -> Self {
        Self {
            name: format!("graph:{}", config.mailbox.to_ascii_lowercase()),
            client,
            store,
            folders,
            poll: config.poll_interval(),
            max_bytes: config.max_message_bytes,
            from_link: None,
            to_link: None,
            last_listed: None,
        }
    }

    /// The first round's URL: every message in the inbox folder.
    fn first_link(&self) -> String {
        self.client.url(&format!("/mailFolders/{}/messages/delta?$select=receivedDateTime", encode(&self.folders.inbox)))
    }

    /// The sizes of the messages in the inbox folder (which holds only mail not yet put away),
    /// from the MAPI property PidTagMessageSize: the delta query does not give them.
    async fn sizes(&self) -> Result<HashMap<String, u32>, GraphError> {
        let expand = encode("singleValueExtendedProperties($filter=id eq 'Integer 0x0E08')");
        let mut next = Some(self.client.url(&format!("/mailFolders/{}/messages?$select=id&$top=1000&$expand={expand}", encode(&self.folders.inbox))));
        let mut sizes = HashMap::new();
        while let Some(url) = next.take() {
            let page = self.client.json("list message sizes", READ_WRITE, Method::GET, &url, None).await?;
            for m in page["value"].as_array().into_iter().flatten() {
                let size =
                    m["singleValueExtendedProperties"].as_array().into_iter().flatten().find_map(|p| p["value"].as_str().and_then(|v| v.parse::<u32>().ok()));
                if let (Some(id), Some(size)) = (m["id"].as_str(), size) {
                    sizes.insert(id.to_string(), size);
                }
            }
            next = page["@odata.nextLink"].as_str().map(str::to_string);
        }
        Ok(sizes)
    }

    /// A message's MIME, read as it streams; `Ok(None)` once it passes `limit` bytes.
    async fn mime(&self, id: &str, limit: u64) -> Result<Option<Vec<u8>>, GraphError> {
        let url = self.client.url(&format!("/messages/{}/$value", encode(id)));
        let mut answer = self.client.call("GET message $value", READ_WRITE, Method::GET, &url, None).await?;
        let mut raw = Vec::new();
        // Time for the body as for any request, and a second more per MiB read.
        let mut deadline = tokio::time::Instant::now() + self.client.timeout();
        loop {
            let chunk = tokio::time::timeout_at(deadline, answer.response.chunk())
                .await
                .map_err(|_| GraphError::Timeout(self.client.timeout(), "GET message $value"))?
                .map_err(|e| GraphError::Transport(format!("GET message $value: {e}")))?;
            let Some(chunk) = chunk else { return Ok(Some(raw)) };
            if (raw.len() + chunk.len()) as u64 > limit {
                return Ok(None);
            }
            let before = raw.len() >> 20;
            raw.extend_from_slice(&chunk);
            deadline += Duration::from_secs(((raw.len() >> 20) - before) as u64);
        }
    }

    async fn move_one(&self, id: &str, folder: &str) -> Result<(), GraphError> {
        let url = self.client.url(&format!("/messages/{}/move", encode(id)));
        match self.client.json("move message", READ_WRITE, Method::POST, &url, Some(serde_json::json!({ "destinationId": folder }))).await {
            Ok(moved) => {
                tracing::debug!(old = id, new = moved["id"].as_str().unwrap_or("?"), "message moved; it has a new id");
                Ok(())
            }
            // Moved by an earlier pass that failed before it was done with the others.
            Err(GraphError::Status { status: 404, .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

impl MailSource for GraphSource {
    type Key = String;
    type Error = GraphError;
    type Position = GraphPosition;

    fn mailbox(&self) -> &str {
        &self.name
    }

    async fn list_new(&mut self) -> Result<Vec<Listed<String>>, GraphError> {
        let saved = self.store.graph_delta_link(&self.name).await?;
        let mut next = Some(saved.clone().unwrap_or_else(|| self.first_link()));
        let (mut new, mut seen) = (Vec::new(), HashSet::new());
        let mut delta_link = None;
        while let Some(url) = next.take() {
            let page = self.client.json("messages delta", READ_WRITE, Method::GET, &url, None).await?;
            for m in page["value"].as_array().into_iter().flatten() {
                let Some(id) = m["id"].as_str() else { continue };
                if m.get("@removed").is_some() || !seen.insert(id.to_string()) {
                    continue;
                }
                // A message without a date of receipt is listed as of now: it cannot be earlier.
                let arrived =
                    m["receivedDateTime"].as_str().and_then(|d| DateTime::parse_from_rfc3339(d).ok()).map_or_else(Utc::now, |d| d.with_timezone(&Utc));
                new.push(Listed { key: id.to_string(), size: 0, arrived });
            }
            next = page["@odata.nextLink"].as_str().map(str::to_string);
            if next.is_none() {
                delta_link = page["@odata.deltaLink"].as_str().map(str::to_string);
            }
        }
        let delta_link = delta_link.ok_or_else(|| GraphError::Malformed("a delta round without @odata.deltaLink".into()))?;
        if !new.is_empty() {
            let sizes = self.sizes().await?;
            for m in &mut new {
                m.size = sizes.get(&m.key).copied().unwrap_or(0);
            }
        }
        new.sort_by_key(|m| m.arrived);
        (self.from_link, self.to_link, self.last_listed) = (saved, Some(delta_link), new.last().map(|m| m.key.clone()));
        Ok(new)
    }

    async fn fetch_batch(&mut self, mails: &[Listed<String>]) -> Result<HashMap<String, Vec<u8>>, GraphError> {
        let this = &*self;
        let limit = u64::from(LARGE_MAIL).min(this.max_bytes);
        let keys: Vec<String> = mails.iter().map(|m| m.key.clone()).collect();
        let fetched: Vec<_> = futures::stream::iter(keys)
            .map(|key: String| async move { this.mime(&key, limit).await.map(|raw| (key, raw)) })
            .buffered(super::CONCURRENT)
            .try_collect()
            .await?;
        // A mail past the batch's limit is left out: the intake fetches it alone.
        Ok(fetched.into_iter().filter_map(|(k, raw)| raw.map(|r| (k, r))).collect())
    }

    async fn fetch_one(&mut self, mail: &Listed<String>) -> Result<Option<Vec<u8>>, GraphError> {
        match self.mime(&mail.key, self.max_bytes).await {
            Ok(Some(raw)) => Ok(Some(raw)),
            Ok(None) => Err(GraphError::Malformed(format!("message larger than graph.max_message_bytes ({})", self.max_bytes))),
            Err(GraphError::Status { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn still_there(&mut self, key: &String) -> Result<bool, GraphError> {
        let url = self.client.url(&format!("/messages/{}?$select=parentFolderId", encode(key)));
        match self.client.json("GET message", READ_WRITE, Method::GET, &url, None).await {
            Ok(m) => Ok(m["parentFolderId"].as_str() == Some(self.folders.inbox.as_str())),
            Err(GraphError::Status { status: 404, .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn put_away(&mut self, keys: &[String], destination: Destination) -> Result<(), GraphError> {
        let folder = match destination {
            Destination::Processed => self.folders.processed.clone(),
            Destination::Ignored => self.folders.ignored.clone(),
            Destination::Quarantine => self.folders.quarantine.clone(),
        };
        let this = &*self;
        let folder = &folder;
        futures::stream::iter(keys.to_vec())
            .map(|id: String| async move { this.move_one(&id, folder).await })
            .buffer_unordered(super::CONCURRENT)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    fn origin(&self, key: &String) -> MailOrigin {
        // The quarantine table names mail by folder and number: a stable hash of the id.
        let uid = key.bytes().fold(0x811c_9dc5u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
        MailOrigin { folder: self.name.clone(), validity: 0, uid }
    }

    fn position_after(&self, last: Option<&String>) -> GraphPosition {
        let link = match last {
            None => self.to_link.clone(),
            Some(key) if self.last_listed.as_ref() == Some(key) => self.to_link.clone(),
            Some(_) => self.from_link.clone(),
        };
        GraphPosition { mailbox: self.name.clone(), link }
    }

    async fn save_position(store: &Store, db: &mut Conn, at: &GraphPosition) -> Result<(), StoreError> {
        match &at.link {
            Some(link) => store.save_graph_delta_link_on(db, &at.mailbox, link).await,
            None => Ok(()),
        }
    }

    fn announced(&mut self) -> bool {
        false
    }

    /// Polls: no public endpoint is needed for change notifications.
    async fn wait(&mut self, timeout: Duration, shutdown: &mut watch::Receiver<bool>) -> Result<Waited, GraphError> {
        tokio::select! {
            _ = tokio::time::sleep(timeout.min(self.poll)) => Ok(Waited::TimedOut),
            _ = shutdown.changed() => Ok(Waited::Shutdown),
        }
    }
}
