//! SMTP with an access token. lettre's pooled transport holds fixed credentials and knows only
//! XOAUTH2 (and cannot answer its error challenge), so with tokens klachtd drives lettre's
//! connection itself: one connection per mail (klachtd sends little), a current token at
//! each, OAUTHBEARER when offered, else XOAUTH2, and a refused token fetched anew once.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use lettre::address::Envelope;
use lettre::transport::smtp::client::{AsyncSmtpConnection, Tls};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::response::Response;

use super::sasl::Mechanism;
use super::{AccessToken, TokenError, TokenSource};

pub struct OAuthSmtp {
    host: String,
    port: u16,
    tls: Tls,
    user: String,
    tokens: Arc<TokenSource>,
    timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum OAuthSmtpError {
    #[error(transparent)]
    Smtp(#[from] lettre::transport::smtp::Error),
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error("{0}")]
    Refused(String),
}

impl OAuthSmtp {
    pub fn new(host: String, port: u16, tls: Tls, user: String, tokens: Arc<TokenSource>, timeout: Duration) -> Self {
        Self { host, port, tls, user, tokens, timeout }
    }

    /// A connection, encrypted and logged in.
    async fn open(&self) -> Result<AsyncSmtpConnection, OAuthSmtpError> {
        let hello = ClientId::default();
        let server = (self.host.as_str(), self.port);
        let mut conn = match &self.tls {
            Tls::Wrapper(p) => AsyncSmtpConnection::connect_tokio1(server, Some(self.timeout), &hello, Some(p.clone()), None).await?,
            Tls::Required(p) | Tls::Opportunistic(p) => {
                let mut conn = AsyncSmtpConnection::connect_tokio1(server, Some(self.timeout), &hello, None, None).await?;
                conn.starttls(p.clone(), &hello).await?;
                conn
            }
            // check-config refuses auth = "oauth2" without TLS.
            _ => return Err(OAuthSmtpError::Refused("auth = \"oauth2\" needs TLS".into())),
        };
        // lettre's view of the server drops mechanisms it does not know (OAUTHBEARER): ask again.
        let ehlo = conn.command(format!("EHLO {hello}\r\n")).await?;
        let mechanism = Mechanism::choose(offered_mechanisms(&ehlo).iter().map(String::as_str))
            .ok_or_else(|| OAuthSmtpError::Refused(format!("SMTP server {}:{} offers neither AUTH OAUTHBEARER nor XOAUTH2", self.host, self.port)))?;
        let mut retried = false;
        loop {
            let token = self.tokens.token().await?;
            match self.auth(&mut conn, mechanism, &token).await {
                Ok(()) => return Ok(conn),
                Err(e) if e.is_permanent() && !retried => {
                    tracing::warn!(mechanism = mechanism.name(), "SMTP server refused the access token; fetching a new one");
                    self.tokens.refused(&token).await;
                    retried = true;
                }
                Err(e) => {
                    if e.is_permanent() {
                        self.tokens.refused(&token).await;
                    }
                    conn.abort().await;
                    return Err(e.into());
                }
            }
        }
    }

    /// AUTH without an initial response: a token is longer than some servers take on a
    /// command line (Postfix: 2048), while a SASL response line may be 12 KiB.
    async fn auth(&self, conn: &mut AsyncSmtpConnection, mechanism: Mechanism, token: &AccessToken) -> Result<(), lettre::transport::smtp::Error> {
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
        conn.command(format!("AUTH {}\r\n", mechanism.name())).await?;
        let initial = mechanism.initial_response(&self.user, &self.host, self.port, token.secret());
        let answer = conn.command(format!("{}\r\n", b64(&initial))).await?;
        if answer.has_code(334) {
            // An error status; after our acknowledgement the server fails the exchange (5xx).
            conn.command(format!("{}\r\n", b64(mechanism.error_ack()))).await?;
        }
        Ok(())
    }

    pub async fn send(&self, envelope: &Envelope, email: &[u8]) -> Result<Response, OAuthSmtpError> {
        let mut conn = self.open().await?;
        let response = conn.send(envelope, email).await?;
        let _ = conn.quit().await;
        Ok(response)
    }

    /// Connects and logs in (check-config, start-up).
    pub async fn check(&self) -> Result<(), OAuthSmtpError> {
        let mut conn = self.open().await?;
        let _ = conn.quit().await;
        Ok(())
    }
}

/// Mechanisms from the AUTH line of an EHLO answer ("AUTH PLAIN XOAUTH2" or "AUTH=PLAIN").
fn offered_mechanisms(ehlo: &Response) -> Vec<String> {
    ehlo.message()
        .filter_map(|line| {
            let upper = line.trim().to_ascii_uppercase();
            upper.strip_prefix("AUTH").filter(|rest| rest.starts_with([' ', '='])).map(|rest| rest[1..].split_whitespace().map(str::to_string).collect::<Vec<_>>())
        })
        .flatten()
        .collect()
}

impl OAuthSmtpError {
    /// Whether a server said no for good (a refused login), as lettre's `is_permanent`.
    pub fn is_permanent(&self) -> bool {
        match self {
            OAuthSmtpError::Smtp(e) => e.is_permanent(),
            OAuthSmtpError::Token(e) => !e.is_transient(),
            OAuthSmtpError::Refused(_) => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lettre::transport::smtp::response::{Category, Code, Detail, Severity};

    #[test]
    fn mechanisms_are_read_from_the_ehlo_answer() {
        let ehlo = |lines: &[&str]| Response::new(Code::new(Severity::PositiveCompletion, Category::MailSystem, Detail::Zero), lines.iter().map(|l| l.to_string()).collect());
        let postfix = ehlo(&["mailstack.test", "PIPELINING", "SIZE 104857600", "AUTH PLAIN LOGIN XOAUTH2 OAUTHBEARER", "AUTH=PLAIN LOGIN XOAUTH2 OAUTHBEARER", "8BITMIME"]);
        assert_eq!(Mechanism::choose(offered_mechanisms(&postfix).iter().map(String::as_str)), Some(Mechanism::OAuthBearer));
        let exchange = ehlo(&["AM0PR01CA0001.outlook.office365.com Hello", "SIZE 157286400", "AUTH LOGIN XOAUTH2", "AUTHENTICATED-ONLY"]);
        assert_eq!(offered_mechanisms(&exchange), ["LOGIN", "XOAUTH2"]);
        assert_eq!(Mechanism::choose(offered_mechanisms(&exchange).iter().map(String::as_str)), Some(Mechanism::XOAuth2));
        assert!(offered_mechanisms(&ehlo(&["x", "STARTTLS"])).is_empty());
    }
}
