//! Opening a session: TCP (with TCP_NODELAY: async-imap sets nothing on the socket), TLS
//! implicit or after STARTTLS, the greeting, and the login by password or by access token. Every
//! step has its own time limit, as async-imap has none.

use std::sync::Arc;

use async_imap::Client;
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::ClientConfig;
use tokio_rustls::TlsConnector;

use super::{timed, ImapIo, ImapSession, MailboxError};
use crate::config::{Imap, TlsMode};

/// Opens a logged-in session to the configured mailbox.
pub async fn connect(config: &Imap, tls: &Arc<ClientConfig>, password: &str) -> Result<ImapSession, MailboxError> {
    let client = open(config, tls).await?;
    let timeout = config.timeout();
    let login = tokio::time::timeout(timeout, client.login(&config.user, password)).await.map_err(|_| MailboxError::Timeout(timeout, "LOGIN"))?;
    login.map_err(|(source, _)| MailboxError::Login { user: config.user.clone(), source })
}

/// Opens a session logged in with an access token (SASL OAUTHBEARER or XOAUTH2).
pub async fn connect_oauth(config: &Imap, tls: &Arc<ClientConfig>, tokens: &crate::driven::oauth::TokenSource) -> Result<ImapSession, MailboxError> {
    let client = open(config, tls).await?;
    crate::driven::oauth::imap::authenticate(client, config, tokens).await
}

/// A connection that has greeted us, encrypted as configured, not yet logged in.
async fn open(config: &Imap, tls: &Arc<ClientConfig>) -> Result<Client<Box<dyn ImapIo>>, MailboxError> {
    let server = format!("{}:{}", config.host, config.port);
    let timeout = config.timeout();
    let tcp = tokio::time::timeout(timeout, TcpStream::connect((config.host.as_str(), config.port)))
        .await
        .map_err(|_| MailboxError::Timeout(timeout, "connect"))?
        .map_err(|source| MailboxError::Connect { server: server.clone(), source })?;
    let _ = tcp.set_nodelay(true);
    let stream: Box<dyn ImapIo> = match config.tls {
        TlsMode::None => Box::new(tcp),
        TlsMode::Implicit => Box::new(tls_wrap(config, tls, tcp, &server).await?),
        TlsMode::Starttls => {
            let mut plain = Client::new(tcp);
            timed(config.timeout(), "greeting", async { plain.read_response().await.map_err(async_imap::error::Error::from) }).await?;
            timed(config.timeout(), "STARTTLS", plain.run_command_and_check_ok("STARTTLS", None)).await?;
            Box::new(tls_wrap(config, tls, plain.into_inner(), &server).await?)
        }
    };
    let mut client = Client::new(stream);
    if config.tls != TlsMode::Starttls {
        let greeting = timed(config.timeout(), "greeting", async { client.read_response().await.map_err(async_imap::error::Error::from) }).await?;
        if greeting.is_none() {
            return Err(MailboxError::Connect {
                server,
                source: std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed before the greeting"),
            });
        }
    }
    Ok(client)
}

async fn tls_wrap(config: &Imap, tls: &Arc<ClientConfig>, tcp: TcpStream, server: &str) -> Result<tokio_rustls::client::TlsStream<TcpStream>, MailboxError> {
    let name = ServerName::try_from(config.host.clone())
        .map_err(|e| MailboxError::Tls { server: server.into(), source: std::io::Error::new(std::io::ErrorKind::InvalidInput, e) })?;
    let timeout = config.timeout();
    tokio::time::timeout(timeout, TlsConnector::from(tls.clone()).connect(name, tcp))
        .await
        .map_err(|_| MailboxError::Timeout(timeout, "TLS handshake"))?
        .map_err(|source| MailboxError::Tls { server: server.into(), source })
}
