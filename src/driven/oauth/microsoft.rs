//! Microsoft Entra ID with a certificate: the client credentials grant with a signed client
//! assertion (RFC 7523; what Entra calls a certificate credential). The JWT's header names the
//! certificate by its SHA-1 thumbprint (`x5t`); its claims say who (iss = sub = client ID),
//! for which endpoint (aud), and for how long (nbf, exp), with a fresh `jti`. (With a client
//! secret, Entra is plain client credentials: see `generic`.)

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ring::signature::RsaKeyPair;
use tokio_rustls::rustls::ClientConfig;

use super::{http, jwt, Fetched, TokenError};
use crate::config::oauth::{OAuth2, MICROSOFT_SCOPE};

pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// How long an assertion is valid; it is used once, at once.
const ASSERTION_LIFETIME: u64 = 5 * 60;

/// The certificate's private key and thumbprint.
pub struct CertificateCredential {
    key: RsaKeyPair,
    x5t: String,
}

impl CertificateCredential {
    pub fn load(certificate: &Path, private_key: &Path) -> anyhow::Result<Self> {
        let der = jwt::certificate_from_file(certificate).map_err(|e| anyhow::anyhow!("oauth2.certificate_file: {e}"))?;
        let key = jwt::rsa_key_from_file(private_key).map_err(|e| anyhow::anyhow!("oauth2.private_key_file: {e}"))?;
        Ok(Self { key, x5t: jwt::x5t(&der) })
    }

    /// A signed assertion for `client_id` towards the token endpoint `audience`.
    pub fn assertion(&self, client_id: &str, audience: &str) -> Result<String, TokenError> {
        let now = jwt::unix_now();
        let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "x5t": self.x5t});
        let claims = serde_json::json!({"aud": audience, "iss": client_id, "sub": client_id, "jti": jwt::random_id(), "nbf": now, "iat": now, "exp": now + ASSERTION_LIFETIME});
        jwt::sign(&header, &claims, &self.key).map_err(TokenError::Config)
    }
}

pub struct ClientAssertion {
    url: http::Url,
    url_text: String,
    client_id: String,
    scope: String,
    credential: CertificateCredential,
    tls: Arc<ClientConfig>,
    timeout: Duration,
}

impl ClientAssertion {
    pub fn new(o: &OAuth2, tls: Arc<ClientConfig>) -> anyhow::Result<Self> {
        let url_text = o.microsoft_token_url();
        let url = http::Url::parse(&url_text).map_err(|e| anyhow::anyhow!("oauth2.token_url: {e}"))?;
        let credential = CertificateCredential::load(
            o.certificate_file.as_deref().unwrap_or(std::path::Path::new("")),
            o.private_key_file.as_deref().unwrap_or(std::path::Path::new("")),
        )?;
        Ok(Self {
            url,
            url_text,
            client_id: o.client_id.clone().unwrap_or_default(),
            scope: o.scope_or(MICROSOFT_SCOPE),
            credential,
            tls,
            timeout: o.timeout(),
        })
    }

    pub async fn fetch(&self) -> Result<Fetched, TokenError> {
        let assertion = self.credential.assertion(&self.client_id, &self.url_text)?;
        let form = http::form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &self.client_id),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &assertion),
            ("scope", &self.scope),
        ]);
        super::request(&self.url, &self.url_text, &form, &self.tls, self.timeout, &[&assertion]).await
    }
}
