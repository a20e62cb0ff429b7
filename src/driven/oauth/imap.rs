//! IMAP AUTHENTICATE with an access token. A token the server refuses is forgotten and a new
//! one fetched, once: the usual cause is a token revoked or expired early at the provider.

use async_imap::imap_proto::{Capability, Response, Status};
use async_imap::{Client, Session};

use super::sasl::{ImapAuthenticator, Mechanism};
use super::TokenSource;
use crate::config::Imap;
use crate::driven::imap::{ImapIo, MailboxError};

/// Logs `client` (greeted, TLS established) in as `config.user` with a token from `tokens`.
pub async fn authenticate(mut client: Client<Box<dyn ImapIo>>, config: &Imap, tokens: &TokenSource) -> Result<Session<Box<dyn ImapIo>>, MailboxError> {
    let timeout = config.timeout();
    let offered = tokio::time::timeout(timeout, auth_mechanisms(&mut client)).await.map_err(|_| MailboxError::Timeout(timeout, "CAPABILITY"))??;
    let mechanism = Mechanism::choose(offered.iter().map(String::as_str))
        .ok_or(MailboxError::Unsupported("AUTH=OAUTHBEARER or AUTH=XOAUTH2 (needed for auth = \"oauth2\")"))?;
    let mut retried = false;
    loop {
        let token = tokens.token().await?;
        let authenticator = ImapAuthenticator::new(mechanism, mechanism.initial_response(&config.user, &config.host, config.port, token.secret()));
        let outcome = tokio::time::timeout(timeout, client.authenticate(mechanism.name(), authenticator))
            .await
            .map_err(|_| MailboxError::Timeout(timeout, "AUTHENTICATE"))?;
        match outcome {
            Ok(session) => {
                tracing::debug!(mechanism = mechanism.name(), "IMAP login with access token");
                return Ok(session);
            }
            Err((async_imap::error::Error::No(_), c)) if !retried => {
                tracing::warn!(mechanism = mechanism.name(), "IMAP server refused the access token; fetching a new one");
                tokens.refused(&token).await;
                retried = true;
                client = c;
            }
            Err((source, _)) => {
                if matches!(source, async_imap::error::Error::No(_)) {
                    tokens.refused(&token).await;
                }
                return Err(MailboxError::Login { user: config.user.clone(), source });
            }
        }
    }
}

/// The SASL mechanisms in the server's CAPABILITY answer.
async fn auth_mechanisms(client: &mut Client<Box<dyn ImapIo>>) -> Result<Vec<String>, MailboxError> {
    use tokio::io::AsyncWriteExt;
    // async-imap keeps its command API private before login; its tags are "A<n>", so ours
    // cannot collide, and nothing else is in flight.
    let id = async_imap::imap_proto::RequestId("K1".into());
    let stream = client.get_mut();
    stream.write_all(b"K1 CAPABILITY\r\n").await.map_err(async_imap::error::Error::from)?;
    stream.flush().await.map_err(async_imap::error::Error::from)?;
    let mut mechanisms = Vec::new();
    loop {
        let Some(response) = client.read_response().await.map_err(async_imap::error::Error::from)? else {
            return Err(MailboxError::Protocol(async_imap::error::Error::ConnectionLost));
        };
        match response.parsed() {
            Response::Capabilities(caps) => mechanisms.extend(caps.iter().filter_map(|c| match c {
                Capability::Auth(m) => Some(m.to_string()),
                _ => None,
            })),
            Response::Done { tag, status, .. } if *tag == id => {
                if *status != Status::Ok {
                    return Err(MailboxError::Unsupported("CAPABILITY"));
                }
                return Ok(mechanisms);
            }
            _ => {}
        }
    }
}
