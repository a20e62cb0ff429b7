//! OpenID Connect with the organisation's identity provider, for the web workspace's sign-in:
//! the discovery document, the keys (JWKS, fetched again once when a token names an unknown
//! key: the provider rotated them), the authorization request with PKCE (S256), the code's
//! exchange at the token endpoint, and the ID token's checks ([`id_token`]).

pub mod id_token;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_rustls::rustls::ClientConfig;

use crate::config::oidc::{Oidc, OidcProvider};
use crate::driven::oauth::http;
use id_token::{Expected, Refusal, RsaKey};

/// How long a discovery document and keys are kept before they are fetched again.
const CACHE_FOR: Duration = Duration::from_secs(6 * 3600);
/// A token with an unknown key fetches the keys again at most this often.
pub const REFETCH_AFTER: Duration = Duration::from_secs(60);

/// What went wrong with a sign-in at the provider.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// The provider cannot be reached or answered nonsense: try again later.
    #[error("the identity provider is unavailable: {0}")]
    Unavailable(String),
    /// The provider refused the code, or the ID token did not pass its checks.
    #[error("refused: {0}")]
    Refused(String),
}

impl From<Refusal> for OidcError {
    fn from(r: Refusal) -> Self {
        OidcError::Refused(r.0.to_string())
    }
}

#[derive(Debug, Clone, serde::Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
}

#[derive(Default)]
struct Cache {
    discovery: Option<(Discovery, Instant)>,
    keys: Vec<RsaKey>,
    keys_at: Option<Instant>,
    /// The last fetch for a key the cache did not have.
    refetched_at: Option<Instant>,
}

pub struct Provider {
    config: Oidc,
    tls: Arc<ClientConfig>,
    cache: tokio::sync::Mutex<Cache>,
    /// Fetches of the keys (for tests and the log).
    key_fetches: std::sync::atomic::AtomicU32,
}

/// The PKCE challenge (S256) of a verifier: base64url(SHA-256(verifier)).
pub fn challenge(verifier: &str) -> String {
    crate::driven::oauth::jwt::b64url(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()).as_ref())
}

impl Provider {
    pub fn new(config: &Oidc) -> anyhow::Result<Self> {
        let tls = crate::driven::tls::client_config(config.ca_file.as_deref())?;
        Ok(Self { config: config.clone(), tls, cache: Default::default(), key_fetches: Default::default() })
    }

    pub fn config(&self) -> &Oidc {
        &self.config
    }

    /// How often the keys were fetched.
    pub fn key_fetches(&self) -> u32 {
        self.key_fetches.load(std::sync::atomic::Ordering::Relaxed)
    }

    async fn fetch_json(&self, what: &str, url: &str) -> Result<serde_json::Value, OidcError> {
        let parsed = http::Url::parse(url).map_err(|e| OidcError::Unavailable(format!("{what}: {e}")))?;
        let response = http::get(&parsed, &self.tls, self.config.timeout()).await.map_err(|e| OidcError::Unavailable(format!("{what} {url}: {e}")))?;
        if response.status != 200 {
            return Err(OidcError::Unavailable(format!("{what} {url} answered HTTP {}", response.status)));
        }
        serde_json::from_slice(&response.body).map_err(|_| OidcError::Unavailable(format!("{what} {url} is not JSON")))
    }

    /// The discovery document (cached), after checking that it is the configured issuer's.
    async fn discovery(&self) -> Result<Discovery, OidcError> {
        if let Some((d, at)) = &self.cache.lock().await.discovery {
            if at.elapsed() < CACHE_FOR {
                return Ok(d.clone());
            }
        }
        let issuer = self.config.issuer();
        let value = self.fetch_json("the discovery document", &format!("{issuer}/.well-known/openid-configuration")).await?;
        let mut d: Discovery = serde_json::from_value(value).map_err(|e| OidcError::Unavailable(format!("the discovery document lacks an endpoint ({e})")))?;
        d.issuer = d.issuer.trim_end_matches('/').to_string();
        // Entra names a tenant given by its domain with its ID in the issuer; any other provider
        // must be the issuer configured (OpenID Connect Discovery, section 4.3).
        let entra_tenant = self.config.provider == OidcProvider::Entra
            && self.config.issuer.is_none()
            && d.issuer.strip_prefix("https://login.microsoftonline.com/").and_then(|t| t.strip_suffix("/v2.0")).is_some_and(|t| !t.contains(['{', '/']));
        if d.issuer != issuer && !entra_tenant {
            return Err(OidcError::Unavailable(format!("the discovery document names issuer {} instead of {issuer}", d.issuer)));
        }
        self.cache.lock().await.discovery = Some((d.clone(), Instant::now()));
        Ok(d)
    }

    /// For `check-config`: the provider's discovery document and keys can be read. Returns the
    /// issuer and how many signing keys it publishes.
    pub async fn check(&self) -> Result<(String, usize), OidcError> {
        let d = self.discovery().await?;
        let keys = self.keys(&d, None).await?;
        if keys.is_empty() {
            return Err(OidcError::Unavailable(format!("{} publishes no RSA signing key", d.jwks_uri)));
        }
        Ok((d.issuer, keys.len()))
    }

    /// Where the browser goes to sign in: the authorization request with `state`, `nonce` and
    /// the PKCE challenge of `verifier`, coming back to `redirect_uri`.
    pub async fn authorization_url(&self, state: &str, nonce: &str, verifier: &str, redirect_uri: &str) -> Result<String, OidcError> {
        let d = self.discovery().await?;
        let challenge = challenge(verifier);
        let mut pairs = vec![
            ("response_type", "code"),
            ("client_id", self.config.client_id.as_str()),
            ("redirect_uri", redirect_uri),
            ("scope", "openid email profile"),
            ("state", state),
            ("nonce", nonce),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
            ("response_mode", "query"),
        ];
        if let Some(hd) = &self.config.hosted_domain {
            pairs.push(("hd", hd));
        }
        let join = if d.authorization_endpoint.contains('?') { '&' } else { '?' };
        Ok(format!("{}{join}{}", d.authorization_endpoint, http::form(&pairs)))
    }

    /// Exchanges the code for the ID token, checks it, and returns the configured claim's
    /// value (`None`: the token passed but does not carry it).
    pub async fn sign_in(&self, code: &str, verifier: &str, nonce: &str, redirect_uri: &str) -> Result<Option<String>, OidcError> {
        let d = self.discovery().await?;
        let secret = self.config.client_secret().map_err(|e| OidcError::Unavailable(e.to_string()))?;
        let form = http::form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("client_id", &self.config.client_id),
            ("client_secret", &secret),
            ("code_verifier", verifier),
        ]);
        let url = http::Url::parse(&d.token_endpoint).map_err(|e| OidcError::Unavailable(format!("token endpoint: {e}")))?;
        let response =
            http::post_form(&url, &form, &self.tls, self.config.timeout()).await.map_err(|e| OidcError::Unavailable(format!("token endpoint: {e}")))?;
        let body: serde_json::Value = serde_json::from_slice(&response.body).unwrap_or_default();
        let token = match (response.status, body["id_token"].as_str()) {
            (200, Some(t)) => t.to_string(),
            (200, None) => return Err(OidcError::Refused("the token endpoint sent no ID token".into())),
            (400..=499, _) => {
                let code = crate::domain::text::single_line(body["error"].as_str().unwrap_or("(no error code)"), 80);
                return Err(OidcError::Refused(format!("the token endpoint refused the code: {code}")));
            }
            (status, _) => return Err(OidcError::Unavailable(format!("the token endpoint answered HTTP {status}"))),
        };
        let parsed = id_token::parse(&token)?;
        let keys = self.keys(&d, parsed.kid()).await?;
        parsed.signed_by(&keys)?;
        let expected = Expected {
            issuer: &d.issuer,
            // Google's ID tokens may name their issuer without the scheme.
            issuer_alias: (self.config.provider == OidcProvider::Google).then_some("accounts.google.com"),
            client_id: &self.config.client_id,
            nonce,
            hosted_domain: self.config.hosted_domain.as_deref(),
            now: crate::driven::oauth::jwt::unix_now() as i64,
        };
        id_token::check_claims(&parsed.claims, &expected)?;
        Ok(id_token::claim_value(&parsed.claims, self.config.claim.name()))
    }

    /// The provider's keys: cached, fetched when older than [`CACHE_FOR`], and fetched again
    /// when `kid` is not among them (at most once per [`REFETCH_AFTER`]).
    async fn keys(&self, d: &Discovery, kid: Option<&str>) -> Result<Vec<RsaKey>, OidcError> {
        let mut cache = self.cache.lock().await;
        let stale = cache.keys_at.is_none_or(|at| at.elapsed() >= CACHE_FOR);
        let unknown = kid.is_some_and(|kid| !cache.keys.iter().any(|k| k.kid.as_deref() == Some(kid)));
        let may_refetch = cache.refetched_at.is_none_or(|at| at.elapsed() >= REFETCH_AFTER);
        if stale || (unknown && may_refetch) {
            if unknown && !stale {
                cache.refetched_at = Some(Instant::now());
            }
            self.key_fetches.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let jwks = self.fetch_json("the keys (JWKS)", &d.jwks_uri).await?;
            cache.keys = id_token::keys_of(&jwks);
            cache.keys_at = Some(Instant::now());
            tracing::info!(keys = cache.keys.len(), "oidc: the identity provider's keys fetched");
        }
        Ok(cache.keys.clone())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_pkce_challenge_is_rfc_7636s() {
        // RFC 7636, appendix B.
        assert_eq!(super::challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    }
}
