//! Google Workspace: a service account with domain-wide delegation acts for the complaints
//! mailbox through the JWT bearer grant (RFC 7523 section 2.1): a JWT signed with the service
//! account's key, with iss = the service account, sub = the mailbox, the scope, aud = the
//! token endpoint, iat and exp (at most an hour).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ring::signature::RsaKeyPair;
use tokio_rustls::rustls::ClientConfig;

use super::{http, jwt, Fetched, TokenError};
use crate::config::oauth::{OAuth2, GOOGLE_SCOPE};

pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// What klachtd needs from the JSON key file.
pub struct ServiceAccount {
    pub client_email: String,
    pub token_uri: String,
    key: RsaKeyPair,
}

impl ServiceAccount {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        #[derive(serde::Deserialize)]
        struct KeyFile {
            client_email: Option<String>,
            private_key: Option<String>,
            token_uri: Option<String>,
        }
        let text = std::fs::read(path).map_err(|e| anyhow::anyhow!("oauth2.service_account_file: cannot read {}: {e}", path.display()))?;
        // The error of a failed parse could quote the key; say only where.
        let file: KeyFile = serde_json::from_slice(&text)
            .map_err(|e| anyhow::anyhow!("oauth2.service_account_file: {} is not a JSON key file (line {})", path.display(), e.line()))?;
        let missing = |what: &str| anyhow::anyhow!("oauth2.service_account_file: {} has no {what}", path.display());
        let key = jwt::rsa_key_from_pem(file.private_key.ok_or_else(|| missing("private_key"))?.as_bytes())
            .map_err(|e| anyhow::anyhow!("oauth2.service_account_file: private_key {e}"))?;
        Ok(Self {
            client_email: file.client_email.ok_or_else(|| missing("client_email"))?,
            token_uri: file.token_uri.unwrap_or_else(|| "https://oauth2.googleapis.com/token".into()),
            key,
        })
    }
}

pub struct JwtBearer {
    url: http::Url,
    url_text: String,
    account: ServiceAccount,
    subject: String,
    scope: String,
    tls: Arc<ClientConfig>,
    timeout: Duration,
}

impl JwtBearer {
    pub fn new(o: &OAuth2, mailbox: &str, tls: Arc<ClientConfig>) -> anyhow::Result<Self> {
        let account = ServiceAccount::load(o.service_account_file.as_deref().unwrap_or(Path::new("")))?;
        let url_text = o.token_url.clone().unwrap_or_else(|| account.token_uri.clone());
        let url = http::Url::parse(&url_text).map_err(|e| anyhow::anyhow!("oauth2.token_url: {e}"))?;
        let subject = o.mailbox.clone().unwrap_or_else(|| mailbox.to_string());
        Ok(Self { url, url_text, account, subject, scope: o.scope_or(GOOGLE_SCOPE), tls, timeout: o.timeout() })
    }

    pub async fn fetch(&self) -> Result<Fetched, TokenError> {
        let now = jwt::unix_now();
        let header = serde_json::json!({"alg": "RS256", "typ": "JWT"});
        let claims = serde_json::json!({"iss": self.account.client_email, "sub": self.subject, "scope": self.scope, "aud": self.url_text, "iat": now, "exp": now + 3600});
        let assertion = jwt::sign(&header, &claims, &self.account.key).map_err(TokenError::Config)?;
        let form = http::form(&[("grant_type", GRANT_TYPE), ("assertion", &assertion)]);
        super::request(&self.url, &self.url_text, &form, &self.tls, self.timeout, &[&assertion]).await
    }
}
