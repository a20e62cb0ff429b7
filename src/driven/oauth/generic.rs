//! The client credentials grant with a client secret (RFC 6749 section 4.4): Microsoft Entra
//! ID with a secret, and any other token endpoint (`provider = "generic"`).

use std::sync::Arc;
use std::time::Duration;

use tokio_rustls::rustls::ClientConfig;

use super::{http, Fetched, TokenError};
use crate::config::oauth::OAuth2;

pub struct ClientSecret {
    url: http::Url,
    url_text: String,
    client_id: String,
    scope: String,
    /// The section, to read the secret from its file or variable at each request.
    config: OAuth2,
    tls: Arc<ClientConfig>,
    timeout: Duration,
}

impl ClientSecret {
    pub fn new(o: &OAuth2, token_url: String, scope: String, tls: Arc<ClientConfig>) -> anyhow::Result<Self> {
        let url = http::Url::parse(&token_url).map_err(|e| anyhow::anyhow!("oauth2.token_url: {e}"))?;
        Ok(Self { url, url_text: token_url, client_id: o.client_id.clone().unwrap_or_default(), scope, config: o.clone(), tls, timeout: o.timeout() })
    }

    pub async fn fetch(&self) -> Result<Fetched, TokenError> {
        let secret = self.config.client_secret().map_err(|e| TokenError::Config(e.to_string()))?;
        let form = http::form(&[("grant_type", "client_credentials"), ("client_id", &self.client_id), ("client_secret", &secret), ("scope", &self.scope)]);
        super::request(&self.url, &self.url_text, &form, &self.tls, self.timeout, &[&secret]).await
    }
}
