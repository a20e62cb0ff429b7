//! The complaints mailbox through Microsoft Graph: reading (`source.rs`: a delta query on the
//! inbox folder, `$value` for the MIME, moves after commit), sending (`send.rs`: `sendMail`
//! with our MIME), and the worker that serves the mailbox (`worker.rs`).
//!
//! Every request goes through [`GraphClient::call`], which keeps Graph's limits: at most four
//! requests at a time per mailbox, nothing sent while a `Retry-After` lasts (429, 503), a
//! refused token fetched anew once, and a 403 named with the permission it needs.

mod send;
mod source;
mod worker;

pub use send::GraphTransport;
pub use source::{Folders, GraphPosition, GraphSource};
pub use worker::GraphWorker;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use hyper::Method;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::app::intake::pass::PassError;
use crate::app::intake::IntakeError;
use crate::config::graph::Graph;
use crate::driven::oauth::http::{self, Streamed, Url};
use crate::driven::oauth::{TokenError, TokenSource};
use crate::store::StoreError;

/// Graph's limit of concurrent requests to one mailbox.
pub const CONCURRENT: usize = 4;
/// A call waits out `Retry-After` itself up to this long in all; a longer throttle ends the
/// call with [`GraphError::Throttled`], and the worker waits (beating) before the next pass.
const WAIT_IN_CALL: Duration = Duration::from_secs(120);
/// A `Retry-After` that is missing or unreadable counts as this; one that is larger, as the cap.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(10);
const MAX_RETRY_AFTER: Duration = Duration::from_secs(15 * 60);
/// Error bodies are read up to this size for their message.
const ERROR_BODY: usize = 64 * 1024;

/// The permissions klachtd's requests need.
pub const READ_WRITE: &str = "Mail.ReadWrite";
pub const SEND: &str = "Mail.Send";

#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    #[error("Microsoft Graph: {0}")]
    Transport(String),
    /// The mailbox or an access policy refuses the app: only an administrator can fix this.
    #[error(
        "Microsoft Graph refused access to mailbox {mailbox} ({what}: HTTP 403 {code}): the app needs the application permission {permission} for this mailbox (an RBAC for Applications role assignment \"Application {permission}\", or admin consent in Entra with an application access policy that includes the mailbox)"
    )]
    Forbidden { mailbox: String, what: &'static str, permission: &'static str, code: String },
    #[error("Microsoft Graph is throttling requests; waiting {} s before the next try", .0.as_secs())]
    Throttled(Duration),
    #[error("Microsoft Graph answered HTTP {status} to {what}: {message}")]
    Status { status: u16, what: &'static str, message: String },
    #[error("Microsoft Graph did not answer within {0:?} ({1})")]
    Timeout(Duration, &'static str),
    #[error("Microsoft Graph: {0}")]
    Malformed(String),
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Intake(#[from] IntakeError),
    #[error("{0}")]
    NotFetched(String),
}

impl GraphError {
    /// Whether only a change of configuration, consent or policy can fix it.
    pub fn is_permanent(&self) -> bool {
        matches!(self, GraphError::Forbidden { .. } | GraphError::Token(TokenError::Refused { .. } | TokenError::Config(_)))
    }
}

impl From<PassError<GraphError>> for GraphError {
    fn from(e: PassError<GraphError>) -> Self {
        match e {
            PassError::Source(e) => e,
            PassError::Store(e) => GraphError::Store(e),
            PassError::Intake(e) => GraphError::Intake(e),
            e @ PassError::NotFetched(_) => GraphError::NotFetched(e.to_string()),
        }
    }
}

/// One mailbox's requests: the HTTP client, the tokens, the limits.
pub struct GraphClient {
    http: http::Client,
    tokens: Arc<TokenSource>,
    /// `https://graph.microsoft.com/v1.0/users/{mailbox}`.
    user_url: String,
    mailbox: String,
    timeout: Duration,
    slots: Arc<Semaphore>,
    /// No request goes out before this instant (a `Retry-After`).
    throttled_until: Mutex<Option<Instant>>,
}

/// A response whose body is still to be read, holding its request's slot until dropped.
pub struct Answer {
    pub response: Streamed,
    _slot: OwnedSemaphorePermit,
}

impl GraphClient {
    pub fn new(config: &Graph, tokens: Arc<TokenSource>) -> anyhow::Result<Self> {
        let tls = crate::driven::tls::client_config(config.ca_file.as_deref())?;
        Ok(Self {
            http: http::Client::new(&tls),
            tokens,
            user_url: format!("{}/users/{}", config.url.trim_end_matches('/'), encode(&config.mailbox)),
            mailbox: config.mailbox.clone(),
            timeout: config.timeout(),
            slots: Arc::new(Semaphore::new(CONCURRENT)),
            throttled_until: Mutex::new(None),
        })
    }

    /// The token source for `[graph]` from `[oauth2]` (Graph's scope).
    pub fn tokens(config: &crate::config::Config) -> anyhow::Result<Option<Arc<TokenSource>>> {
        match (&config.graph, &config.oauth2) {
            (Some(g), Some(o)) => Ok(Some(Arc::new(TokenSource::new(&g.oauth2(o), &g.mailbox)?))),
            (Some(_), None) => anyhow::bail!("[graph] needs an [oauth2] section"),
            _ => Ok(None),
        }
    }

    pub fn mailbox(&self) -> &str {
        &self.mailbox
    }

    /// `path` under the mailbox's URL (`/mailFolders/inbox`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.user_url)
    }

    /// Sends one request and returns its answer once it is 2xx; `what` names it in errors,
    /// `permission` is what a 403 lacks. `body` is (content type, bytes).
    pub async fn call(
        &self,
        what: &'static str,
        permission: &'static str,
        method: Method,
        url: &str,
        body: Option<(&'static str, Bytes)>,
    ) -> Result<Answer, GraphError> {
        let url = Url::parse(url).map_err(GraphError::Malformed)?;
        let mut waited = Duration::ZERO;
        let mut token_refused = false;
        loop {
            let slot = self.slots.clone().acquire_owned().await.map_err(|_| GraphError::Transport("closed".into()))?;
            self.wait_out_throttle().await;
            let token = self.tokens.token().await?;
            let mut request = http::request(method.clone(), &url)
                .map_err(|e| GraphError::Malformed(e.to_string()))?
                .header(AUTHORIZATION, HeaderValue::from_str(&format!("Bearer {}", token.secret())).map_err(|_| GraphError::Malformed("token".into()))?);
            let content = match &body {
                Some((content_type, bytes)) => {
                    request = request.header(CONTENT_TYPE, HeaderValue::from_static(content_type));
                    bytes.clone()
                }
                None => Bytes::new(),
            };
            let request = request.body(Full::new(content)).map_err(|e| GraphError::Malformed(e.to_string()))?;
            let response = match tokio::time::timeout(self.timeout, self.http.send(request)).await {
                Err(_) => return Err(GraphError::Timeout(self.timeout, what)),
                Ok(Err(e)) => return Err(GraphError::Transport(format!("{what}: {e}"))),
                Ok(Ok(r)) => r,
            };
            match response.status {
                200..=299 => return Ok(Answer { response, _slot: slot }),
                401 if !token_refused => {
                    // An expired or revoked token: one new one, once.
                    token_refused = true;
                    self.tokens.refused(&token).await;
                }
                429 | 503 => {
                    let pause = retry_after(response.header("retry-after"));
                    self.throttle(pause);
                    tracing::warn!(status = response.status, retry_after_secs = pause.as_secs(), what, "Microsoft Graph throttles; waiting");
                    drop(slot);
                    waited += pause;
                    if waited > WAIT_IN_CALL {
                        return Err(GraphError::Throttled(pause));
                    }
                }
                status => {
                    let message = error_message(response).await;
                    if status == 403 {
                        return Err(GraphError::Forbidden { mailbox: self.mailbox.clone(), what, permission, code: message });
                    }
                    return Err(GraphError::Status { status, what, message });
                }
            }
        }
    }

    /// [`call`](Self::call) with a JSON answer.
    pub async fn json(
        &self,
        what: &'static str,
        permission: &'static str,
        method: Method,
        url: &str,
        body: Option<serde_json::Value>,
    ) -> Result<serde_json::Value, GraphError> {
        let body = body.map(|b| ("application/json", Bytes::from(b.to_string())));
        let answer = self.call(what, permission, method, url, body).await?;
        let bytes = tokio::time::timeout(self.timeout, answer.response.collect(16 << 20))
            .await
            .map_err(|_| GraphError::Timeout(self.timeout, what))?
            .map_err(|e| GraphError::Transport(format!("{what}: {e}")))?;
        if bytes.is_empty() {
            return Ok(serde_json::Value::Null);
        }
        serde_json::from_slice(&bytes).map_err(|e| GraphError::Malformed(format!("{what}: {e}")))
    }

    /// Requests wait until the throttle set last has passed.
    fn throttle(&self, pause: Duration) {
        let until = Instant::now() + pause;
        let mut t = self.throttled_until.lock().unwrap_or_else(|e| e.into_inner());
        if t.is_none_or(|old| old < until) {
            *t = Some(until);
        }
    }

    async fn wait_out_throttle(&self) {
        loop {
            let until = *self.throttled_until.lock().unwrap_or_else(|e| e.into_inner());
            match until {
                Some(until) if until > Instant::now() => tokio::time::sleep_until(until).await,
                _ => return,
            }
        }
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}

/// For `check-config`: a token for Graph, and the mailbox's folders (created when missing), as
/// the daemon would use them. Returns what to print.
pub async fn check(config: &crate::config::Config) -> anyhow::Result<String> {
    use anyhow::Context as _;
    let Some(g) = &config.graph else { return Ok(String::new()) };
    let tokens = GraphClient::tokens(config)?.context("[graph] needs an [oauth2] section")?;
    tokens.token().await.context("oauth2 (Microsoft Graph)")?;
    let client = GraphClient::new(g, tokens)?;
    if !config.reads_graph() {
        return Ok(format!("graph: ok (access token for {} obtained; sending only)", g.mailbox));
    }
    Folders::prepare(&client, g).await.context("graph")?;
    Ok(format!("graph: ok ({} at {}; folders {}, {}, {})", g.mailbox, g.url, g.processed_folder, g.ignored_folder, g.quarantine_folder))
}

/// `Retry-After` in seconds (Graph sends seconds), within bounds.
fn retry_after(value: Option<&str>) -> Duration {
    value.and_then(|v| v.trim().parse::<u64>().ok()).map_or(DEFAULT_RETRY_AFTER, |s| Duration::from_secs(s.max(1))).min(MAX_RETRY_AFTER)
}

/// Graph's error code and message (`{"error":{"code":..,"message":..}}`), on one line.
async fn error_message(response: Streamed) -> String {
    let body = tokio::time::timeout(Duration::from_secs(10), response.collect(ERROR_BODY)).await.ok().and_then(Result::ok).unwrap_or_default();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let code = json["error"]["code"].as_str().unwrap_or("");
    let message = json["error"]["message"].as_str().unwrap_or("");
    crate::domain::text::single_line(&crate::domain::text::redact_addresses(&format!("{code} {message}")), 300).trim().to_string()
}

/// A path segment or query value, percent-encoded.
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'@' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_read_within_bounds() {
        assert_eq!(retry_after(Some("3")), Duration::from_secs(3));
        assert_eq!(retry_after(Some("0")), Duration::from_secs(1));
        assert_eq!(retry_after(None), DEFAULT_RETRY_AFTER);
        assert_eq!(retry_after(Some("Wed, 21 Oct 2026 07:28:00 GMT")), DEFAULT_RETRY_AFTER);
        assert_eq!(retry_after(Some("999999")), MAX_RETRY_AFTER);
    }

    #[test]
    fn ids_and_names_are_encoded() {
        assert_eq!(encode("klachten@dienst.nl"), "klachten@dienst.nl");
        assert_eq!(encode("AAMk/AG+=="), "AAMk%2FAG%2B%3D%3D");
    }
}
