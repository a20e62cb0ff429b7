//! One SMTP connection kept open for a run of mails. lettre's transport without its pool opens
//! a connection per mail and ends each with QUIT before it returns, and neither it nor its pool
//! sets TCP_NODELAY: every small command then waits for the server's delayed ACK (measured: 20
//! acknowledgements a second instead of 242). Here the socket is ours (TCP_NODELAY), the
//! connection carries one mail after another (RFC 5321 allows any number of transactions in a
//! session), and the caller records a mail as sent the moment its `250` is in, before anything
//! else is said to the server: what a crash can leave unrecorded is as short as it gets.

use std::time::{Duration, Instant};

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::response::Response;
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::ClientConfig;

use super::SendError;
use crate::config::TlsMode;

/// A connection unused for this long is closed and a new one opened for the next mail: servers
/// drop idle sessions (Postfix after 300 s), and a send on a dead one would fail first.
pub const IDLE_LIMIT: Duration = Duration::from_secs(60);

/// How we log in.
pub enum Login {
    Password(Credentials),
    /// With an access token (`smtp.auth = "oauth2"`), fetched anew once if refused.
    OAuth(crate::driven::oauth::smtp::OAuthLogin),
}

/// How to reach and log in to the server.
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    /// For implicit TLS (our own rustls configuration, with `smtp.ca_file`).
    pub rustls: std::sync::Arc<ClientConfig>,
    /// For STARTTLS (lettre upgrades the connection itself).
    pub starttls: Option<TlsParameters>,
    pub login: Option<Login>,
    pub connect_timeout: Duration,
}

pub struct Connection {
    conn: AsyncSmtpConnection,
    last_used: Instant,
}

impl Connection {
    /// Connects, says EHLO, upgrades to TLS as configured, and logs in.
    pub async fn open(endpoint: &Endpoint) -> Result<Connection, SendError> {
        let hello = ClientId::default();
        let server = || format!("{}:{}", endpoint.host, endpoint.port);
        let failed = |source: std::io::Error| SendError::Connect { server: server(), source };
        let timed_out = |what: &str| failed(std::io::Error::new(std::io::ErrorKind::TimedOut, format!("{what} timed out")));
        let tcp = tokio::time::timeout(endpoint.connect_timeout, TcpStream::connect((endpoint.host.as_str(), endpoint.port)))
            .await
            .map_err(|_| timed_out("connecting"))?
            .map_err(failed)?;
        tcp.set_nodelay(true).map_err(failed)?;
        let stream: Box<dyn AsyncTokioStream> = match endpoint.tls {
            TlsMode::Implicit => {
                let name = ServerName::try_from(endpoint.host.clone()).map_err(|e| failed(std::io::Error::new(std::io::ErrorKind::InvalidInput, e)))?;
                let tls = tokio::time::timeout(endpoint.connect_timeout, tokio_rustls::TlsConnector::from(endpoint.rustls.clone()).connect(name, tcp))
                    .await
                    .map_err(|_| timed_out("the TLS handshake"))?
                    .map_err(failed)?;
                Box::new(TlsStream(tls))
            }
            TlsMode::Starttls | TlsMode::None => Box::new(tcp),
        };
        let mut conn = tokio::time::timeout(endpoint.connect_timeout, AsyncSmtpConnection::connect_with_transport(stream, &hello))
            .await
            .map_err(|_| timed_out("waiting for the greeting"))??;
        if let (TlsMode::Starttls, Some(parameters)) = (endpoint.tls, &endpoint.starttls) {
            conn.starttls(parameters.clone(), &hello).await?;
        }
        match &endpoint.login {
            Some(Login::Password(credentials)) => {
                conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials).await?;
            }
            Some(Login::OAuth(oauth)) => {
                if matches!(endpoint.tls, TlsMode::None) {
                    // check-config refuses this; a token never goes over a plain connection.
                    return Err(crate::driven::oauth::smtp::OAuthSmtpError::Refused("auth = \"oauth2\" needs TLS".into()).into());
                }
                oauth.login(&mut conn).await?;
            }
            None => {}
        }
        Ok(Connection { conn, last_used: Instant::now() })
    }

    /// Whether this connection may carry the next mail.
    pub fn usable(&self) -> bool {
        !self.conn.has_broken() && self.last_used.elapsed() < IDLE_LIMIT
    }

    /// One transaction: MAIL, RCPT, DATA and the message. A refusal leaves the connection
    /// broken (lettre ends it), so the next mail gets a new one.
    pub async fn send(&mut self, envelope: &Envelope, message: &[u8]) -> Result<Response, SendError> {
        let response = self.conn.send(envelope, message).await;
        self.last_used = Instant::now();
        Ok(response?)
    }

    /// Says goodbye (QUIT), not waiting long: the mail was recorded before this.
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(5), self.conn.quit()).await;
    }
}

/// rustls over our own socket, as lettre wants a stream it did not make.
#[derive(Debug)]
struct TlsStream(tokio_rustls::client::TlsStream<TcpStream>);

impl AsyncTokioStream for TlsStream {
    fn peer_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.0.get_ref().0.peer_addr()
    }
}

impl tokio::io::AsyncRead for TlsStream {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for TlsStream {
    fn poll_write(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>, buf: &[u8]) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_shutdown(cx)
    }
}
