//! OAuth 2.0 for IMAP and SMTP: access tokens from Microsoft Entra ID, Google, any token
//! endpoint or a command, kept in memory and renewed before they expire, and the SASL
//! mechanisms OAUTHBEARER (RFC 7628) and XOAUTH2 that carry them.
//!
//! No token, secret or signed assertion ever reaches a log line or an error message: the
//! types that hold them redact their `Debug`, and errors quote only what the identity
//! provider said about a refusal (its error code and description).

pub mod command;
pub mod generic;
pub mod google;
pub mod http;
pub mod imap;
pub mod jwt;
pub mod mailboxes;
pub mod microsoft;
pub mod sasl;
pub mod smtp;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::oauth::{self as config, OAuth2, Provider};

/// An access token and when to renew it.
pub struct AccessToken {
    secret: String,
    /// Tells tokens apart without comparing secrets.
    serial: u64,
    renew_at: Instant,
    expires_at: Instant,
}

impl AccessToken {
    pub fn secret(&self) -> &str {
        &self.secret
    }

    fn new(fetched: Fetched, now: Instant) -> Self {
        static SERIAL: AtomicU64 = AtomicU64::new(1);
        // Renewed at 80 % of its lifetime, so a login never waits for the token endpoint while
        // the token still has some time to run, and a slow endpoint has time to answer. A token
        // of unknown lifetime (a command's) is fetched anew for every login.
        let lifetime = fetched.expires_in.unwrap_or(Duration::ZERO);
        Self { secret: fetched.token, serial: SERIAL.fetch_add(1, Ordering::Relaxed), renew_at: now + lifetime * 4 / 5, expires_at: now + lifetime }
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken").field("secret", &"<redacted>").field("serial", &self.serial).finish()
    }
}

/// What a token endpoint (or command) handed out.
pub struct Fetched {
    pub token: String,
    pub expires_in: Option<Duration>,
}

impl fmt::Debug for Fetched {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fetched").field("token", &"<redacted>").field("expires_in", &self.expires_in).finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The identity provider said no (wrong secret, app not consented, mailbox not granted):
    /// a credential problem that asking again will not fix.
    #[error("the identity provider refused the token request: {code}: {description}")]
    Refused { code: String, description: String },
    /// The token endpoint (or command) is away or answered nonsense: an outage, retried.
    #[error("no access token: {0}")]
    Unavailable(String),
    /// A key or secret file that cannot be used.
    #[error("{0}")]
    Config(String),
}

impl TokenError {
    pub fn is_transient(&self) -> bool {
        matches!(self, TokenError::Unavailable(_))
    }
}

/// How tokens are obtained.
enum Grant {
    /// Client credentials with a client secret (Microsoft, generic).
    ClientSecret(generic::ClientSecret),
    /// Client credentials with a certificate-signed assertion (Microsoft).
    ClientAssertion(microsoft::ClientAssertion),
    /// JWT bearer grant for a service account acting for a mailbox (Google).
    JwtBearer(google::JwtBearer),
    Command(command::TokenCommand),
}

/// The access tokens of one `[oauth2]` section (or a mailbox's `oauth2` table), shared by the
/// logins it serves: IMAP and SMTP, or several mailboxes (see [`mailboxes`]).
pub struct TokenSource {
    grant: Grant,
    /// The table it was made from and, for Google, the mailbox it acts for: what tells whether
    /// another login would be served the same tokens.
    table: OAuth2,
    subject: Option<String>,
    /// Held while fetching, so concurrent logins wait for one request instead of each making one.
    cache: tokio::sync::Mutex<Option<Arc<AccessToken>>>,
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenSource")
    }
}

impl TokenSource {
    /// The token source of `[oauth2]`, if it serves a login: with one `[organisation]`, IMAP
    /// and SMTP (Google acting for imap.user); with `[[organisations]]`, SMTP (acting for
    /// smtp.user; the mailboxes' sources are [`mailboxes::for_mailboxes`]'). Reads key files (a
    /// bad one is a start-up error); secrets are read at each request, so they can be rotated.
    pub fn from_config(config: &crate::config::Config) -> anyhow::Result<Option<Arc<TokenSource>>> {
        use crate::config::AuthMode;
        let Some(o) = &config.oauth2 else { return Ok(None) };
        if config.lists_organisations() {
            if config.smtp.auth != AuthMode::Oauth2 {
                return Ok(None);
            }
            let user = config.smtp.user.clone().unwrap_or_else(|| config.imap().user.clone());
            return Ok(Some(Arc::new(Self::new(o, &user)?)));
        }
        if config.imap().auth != AuthMode::Oauth2 && config.smtp.auth != AuthMode::Oauth2 {
            return Ok(None);
        }
        Ok(Some(Arc::new(Self::new(o, &config.imap().user)?)))
    }

    /// `mailbox` is the one Google's service account acts for unless `oauth2.mailbox` says.
    pub fn new(o: &OAuth2, mailbox: &str) -> anyhow::Result<TokenSource> {
        let tls = crate::driven::tls::client_config(o.ca_file.as_deref())?;
        let grant = match o.provider {
            Provider::Microsoft if o.certificate_file.is_some() => Grant::ClientAssertion(microsoft::ClientAssertion::new(o, tls)?),
            Provider::Microsoft => Grant::ClientSecret(generic::ClientSecret::new(o, o.microsoft_token_url(), o.scope_or(config::MICROSOFT_SCOPE), tls)?),
            Provider::Generic => {
                Grant::ClientSecret(generic::ClientSecret::new(o, o.token_url.clone().unwrap_or_default(), o.scope.clone().unwrap_or_default(), tls)?)
            }
            Provider::Google => Grant::JwtBearer(google::JwtBearer::new(o, mailbox, tls)?),
            Provider::Command => Grant::Command(command::TokenCommand::new(o)),
        };
        Ok(TokenSource { grant, table: o.clone(), subject: subject(o, mailbox), cache: tokio::sync::Mutex::new(None) })
    }

    /// Whether a login as `mailbox` with tokens of `o` would get this source's tokens: the same
    /// table, and for Google the same mailbox acted for. (An Entra ID or generic client's token
    /// is the app's, good for every mailbox the app is granted.)
    pub fn fetches_as(&self, o: &OAuth2, mailbox: &str) -> bool {
        self.table == *o && self.subject == subject(o, mailbox)
    }

    async fn fetch(&self) -> Result<Fetched, TokenError> {
        match &self.grant {
            Grant::ClientSecret(g) => g.fetch().await,
            Grant::ClientAssertion(g) => g.fetch().await,
            Grant::JwtBearer(g) => g.fetch().await,
            Grant::Command(g) => g.fetch().await,
        }
    }

    /// A token to log in with: the cached one while it is fresh, else a new one. When the
    /// endpoint is away at renewal time, the old token is used for as long as it is valid.
    pub async fn token(&self) -> Result<Arc<AccessToken>, TokenError> {
        let mut cache = self.cache.lock().await;
        let now = Instant::now();
        if let Some(t) = cache.as_ref().filter(|t| now < t.renew_at) {
            return Ok(t.clone());
        }
        match self.fetch().await {
            Ok(fetched) => {
                if fetched.token.is_empty() {
                    return Err(TokenError::Unavailable("the token endpoint answered without an access token".into()));
                }
                let token = Arc::new(AccessToken::new(fetched, Instant::now()));
                let valid = token.expires_at.saturating_duration_since(Instant::now());
                tracing::info!(valid_for_secs = valid.as_secs(), "access token obtained");
                *cache = Some(token.clone());
                Ok(token)
            }
            Err(e) => match cache.as_ref().filter(|t| e.is_transient() && Instant::now() + Duration::from_secs(5) < t.expires_at) {
                Some(old) => {
                    tracing::warn!(error = %e, "cannot renew the access token; using the current one while it is valid");
                    Ok(old.clone())
                }
                None => Err(e),
            },
        }
    }

    /// A server refused `used`: forget it, so the next `token()` fetches a new one (unless
    /// another login already replaced it).
    pub async fn refused(&self, used: &AccessToken) {
        let mut cache = self.cache.lock().await;
        if cache.as_ref().is_some_and(|t| t.serial == used.serial) {
            *cache = None;
        }
    }
}

/// Whom a token of `o` is for when a login as `mailbox` asks: Google's service account acts for
/// `oauth2.mailbox`, else that login; other providers' tokens are not for one mailbox.
fn subject(o: &OAuth2, mailbox: &str) -> Option<String> {
    (o.provider == Provider::Google).then(|| o.mailbox.clone().unwrap_or_else(|| mailbox.to_string()))
}

/// Reads a token endpoint's answer (RFC 6749 section 5): the token and its lifetime, or the
/// provider's error code and description. `hide` are values that must never be quoted back.
pub fn token_response(response: http::Response, hide: &[&str]) -> Result<Fetched, TokenError> {
    #[derive(serde::Deserialize)]
    struct Body {
        access_token: Option<String>,
        expires_in: Option<serde_json::Value>,
        error: Option<String>,
        error_description: Option<String>,
    }
    let body: Option<Body> = serde_json::from_slice(&response.body).ok();
    let clean = |text: &str| {
        let mut text = crate::domain::text::single_line(text, 400);
        for h in hide.iter().filter(|h| h.len() >= 4) {
            text = text.replace(h, "***");
        }
        text
    };
    match (response.status, body) {
        (200, Some(Body { access_token: Some(token), expires_in, .. })) => {
            // Entra sends a number, some endpoints a string.
            let secs = match expires_in {
                Some(serde_json::Value::Number(n)) => n.as_u64(),
                Some(serde_json::Value::String(s)) => s.parse().ok(),
                _ => None,
            };
            // Without a lifetime, assume the common hour.
            Ok(Fetched { token, expires_in: Some(Duration::from_secs(secs.unwrap_or(3600))) })
        }
        (200, _) => Err(TokenError::Unavailable("the token endpoint answered 200 without an access token".into())),
        (status, Some(Body { error: Some(code), error_description, .. })) if (400..500).contains(&status) && status != 429 => {
            Err(TokenError::Refused { code: clean(&code), description: clean(error_description.as_deref().unwrap_or("(no description)")) })
        }
        (401 | 403, _) => Err(TokenError::Refused { code: format!("HTTP {}", response.status), description: "(no description)".into() }),
        (status, _) => Err(TokenError::Unavailable(format!("the token endpoint answered HTTP {status}"))),
    }
}

/// POSTs a token request and reads the answer.
async fn request(
    url: &http::Url,
    url_text: &str,
    form: &str,
    tls: &Arc<tokio_rustls::rustls::ClientConfig>,
    timeout: Duration,
    hide: &[&str],
) -> Result<Fetched, TokenError> {
    let response = http::post_form(url, form, tls, timeout).await.map_err(|e| TokenError::Unavailable(format!("token endpoint {url_text}: {e}")))?;
    token_response(response, hide)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Result<Fetched, TokenError> {
        token_response(http::Response { status, body: body.as_bytes().to_vec() }, &["s3cret-value"])
    }

    #[test]
    fn token_answers_are_read() {
        let t = answer(200, r#"{"token_type":"Bearer","expires_in":3599,"access_token":"eyJ0"}"#).unwrap();
        assert_eq!((t.token.as_str(), t.expires_in), ("eyJ0", Some(Duration::from_secs(3599))));
        assert_eq!(answer(200, r#"{"access_token":"x","expires_in":"60"}"#).unwrap().expires_in, Some(Duration::from_secs(60)));
        let e = answer(401, r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided: s3cret-value.\r\nTrace ID: 1"}"#)
            .unwrap_err();
        assert!(matches!(&e, TokenError::Refused { code, .. } if code == "invalid_client"), "{e:?}");
        let text = e.to_string();
        assert!(text.contains("AADSTS7000215") && !text.contains("s3cret-value") && !text.contains('\n'), "{text}");
        assert!(answer(503, "<html>").unwrap_err().is_transient());
        assert!(answer(429, r#"{"error":"slow_down"}"#).unwrap_err().is_transient());
        assert!(!answer(400, r#"{"error":"invalid_grant","error_description":"x"}"#).unwrap_err().is_transient());
    }

    fn source(command: &str) -> TokenSource {
        let o: OAuth2 = toml::from_str(&format!("provider = \"command\"\ntoken_command = {command:?}\n")).unwrap();
        TokenSource::new(&o, "k@x.nl").unwrap()
    }

    fn cached(secret: &str, renew_in: i64, expires_in: u64) -> Arc<AccessToken> {
        let now = Instant::now();
        let renew_at = if renew_in < 0 { now - Duration::from_secs(renew_in.unsigned_abs()) } else { now + Duration::from_secs(renew_in as u64) };
        Arc::new(AccessToken { secret: secret.into(), serial: 1000 + expires_in, renew_at, expires_at: now + Duration::from_secs(expires_in) })
    }

    #[tokio::test]
    async fn a_fresh_token_is_kept_a_stale_one_renewed_and_a_valid_one_bridges_an_outage() {
        let tokens = source("echo new-token");
        *tokens.cache.lock().await = Some(cached("fresh", 60, 100));
        assert_eq!(tokens.token().await.unwrap().secret(), "fresh", "not renewed before 80 %");
        *tokens.cache.lock().await = Some(cached("stale", -1, 100));
        assert_eq!(tokens.token().await.unwrap().secret(), "new-token", "renewed after 80 %, while still valid");

        let down = source("exit 1");
        *down.cache.lock().await = Some(cached("stale", -1, 100));
        assert_eq!(down.token().await.unwrap().secret(), "stale", "the endpoint is away: the valid token serves on");
        *down.cache.lock().await = Some(cached("expired", -10, 0));
        assert!(down.token().await.unwrap_err().is_transient(), "an expired token is never used");
    }

    #[tokio::test]
    async fn a_refused_token_is_forgotten_unless_already_replaced() {
        let tokens = source("echo new-token");
        let old = cached("old", 60, 100);
        *tokens.cache.lock().await = Some(old.clone());
        let other = cached("other", 60, 99);
        tokens.refused(&other).await;
        assert_eq!(tokens.token().await.unwrap().secret(), "old", "another token's refusal changes nothing");
        tokens.refused(&old).await;
        assert_eq!(tokens.token().await.unwrap().secret(), "new-token");
    }

    #[test]
    fn debug_never_shows_a_token() {
        let t = AccessToken::new(Fetched { token: "very-secret-token".into(), expires_in: Some(Duration::from_secs(60)) }, Instant::now());
        assert!(!format!("{t:?}").contains("very-secret"));
        let f = Fetched { token: "very-secret-token".into(), expires_in: None };
        assert!(!format!("{f:?}").contains("very-secret"));
    }
}
