//! SMTP with an access token. lettre's pooled transport holds fixed credentials and knows only
//! XOAUTH2 (and cannot answer its error challenge), so klachtd logs in itself on lettre's
//! connection: a current token at each login, OAUTHBEARER when offered, else XOAUTH2, and a
//! refused token fetched anew once.

use std::sync::Arc;

use base64::Engine as _;
use lettre::transport::smtp::client::AsyncSmtpConnection;
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::response::Response;

use super::sasl::Mechanism;
use super::{AccessToken, TokenError, TokenSource};

/// The token login of an SMTP connection (see `crate::driven::smtp::connection`, which connects,
/// encrypts and keeps the connection for a run of mails).
pub struct OAuthLogin {
    host: String,
    port: u16,
    user: String,
    tokens: Arc<TokenSource>,
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

impl OAuthLogin {
    pub fn new(host: String, port: u16, user: String, tokens: Arc<TokenSource>) -> Self {
        Self { host, port, user, tokens }
    }

    /// Logs in on an encrypted connection: OAUTHBEARER when offered, else XOAUTH2, with the
    /// current token; a refused token is fetched anew once.
    pub async fn login(&self, conn: &mut AsyncSmtpConnection) -> Result<(), OAuthSmtpError> {
        let hello = ClientId::default();
        // lettre's view of the server drops mechanisms it does not know (OAUTHBEARER): ask again.
        let ehlo = conn.command(format!("EHLO {hello}\r\n")).await?;
        let mechanism = Mechanism::choose(offered_mechanisms(&ehlo).iter().map(String::as_str))
            .ok_or_else(|| OAuthSmtpError::Refused(format!("SMTP server {}:{} offers neither AUTH OAUTHBEARER nor XOAUTH2", self.host, self.port)))?;
        let mut retried = false;
        loop {
            let token = self.tokens.token().await?;
            match self.auth(conn, mechanism, &token).await {
                Ok(()) => return Ok(()),
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
}

/// Mechanisms from the AUTH line of an EHLO answer ("AUTH PLAIN XOAUTH2" or "AUTH=PLAIN").
fn offered_mechanisms(ehlo: &Response) -> Vec<String> {
    ehlo.message()
        .filter_map(|line| {
            let upper = line.trim().to_ascii_uppercase();
            upper
                .strip_prefix("AUTH")
                .filter(|rest| rest.starts_with([' ', '=']))
                .map(|rest| rest[1..].split_whitespace().map(str::to_string).collect::<Vec<_>>())
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
        let ehlo = |lines: &[&str]| {
            Response::new(Code::new(Severity::PositiveCompletion, Category::MailSystem, Detail::Zero), lines.iter().map(|l| l.to_string()).collect())
        };
        let postfix = ehlo(&[
            "mailstack.test",
            "PIPELINING",
            "SIZE 104857600",
            "AUTH PLAIN LOGIN XOAUTH2 OAUTHBEARER",
            "AUTH=PLAIN LOGIN XOAUTH2 OAUTHBEARER",
            "8BITMIME",
        ]);
        assert_eq!(Mechanism::choose(offered_mechanisms(&postfix).iter().map(String::as_str)), Some(Mechanism::OAuthBearer));
        let exchange = ehlo(&["AM0PR01CA0001.outlook.office365.com Hello", "SIZE 157286400", "AUTH LOGIN XOAUTH2", "AUTHENTICATED-ONLY"]);
        assert_eq!(offered_mechanisms(&exchange), ["LOGIN", "XOAUTH2"]);
        assert_eq!(Mechanism::choose(offered_mechanisms(&exchange).iter().map(String::as_str)), Some(Mechanism::XOAuth2));
        assert!(offered_mechanisms(&ehlo(&["x", "STARTTLS"])).is_empty());
    }
}
