//! The HTTP client of the adapters: hyper's pooled client (`hyper-util`) over rustls with ring
//! (the same client configuration as IMAP), or plain HTTP towards loopback. Connections are
//! kept alive and reused per host, with TCP_NODELAY; bodies stream (`Streamed`), so a large
//! one is read as it comes and bounded by its reader.
//!
//! Token endpoints and OIDC use the simple calls [`post_form`] and [`get`]: one exchange,
//! bounded as a whole by a timeout, with a body of at most `MAX_RESPONSE`. Microsoft Graph
//! uses [`Client`] directly.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderMap, HeaderValue, ACCEPT, CONTENT_TYPE, USER_AGENT};
use hyper::{Method, Request, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio_rustls::rustls::ClientConfig;

/// Token and discovery responses are small; anything bigger is not one.
const MAX_RESPONSE: usize = 256 * 1024;
/// Idle connections are closed after this long.
const IDLE: Duration = Duration::from_secs(60);

pub use crate::config::oauth::Url;

/// `application/x-www-form-urlencoded` for `pairs`.
pub fn form(pairs: &[(&str, &str)]) -> String {
    fn enc(s: &str) -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => (b as char).to_string(),
                b' ' => "+".into(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    }
    pairs.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&")
}

/// A whole response of [`post_form`] or [`get`].
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

/// A pooled HTTP/1.1 client for one TLS configuration. Cheap to clone: clones share the pool.
#[derive(Clone)]
pub struct Client {
    inner: hyper_util::client::legacy::Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

/// A response whose body is still to be read.
pub struct Streamed {
    pub status: u16,
    pub headers: HeaderMap,
    body: Incoming,
}

impl Client {
    pub fn new(tls: &Arc<ClientConfig>) -> Self {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(Duration::from_secs(30)));
        let mut tls = (**tls).clone();
        // The connector sets the protocols it offers (HTTP/1.1 only).
        tls.alpn_protocols.clear();
        let https = hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls).https_or_http().enable_http1().wrap_connector(http);
        let inner = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(IDLE)
            .pool_max_idle_per_host(8)
            .build(https);
        Self { inner }
    }

    /// The process's client for `tls`: one pool per configuration, so that token requests
    /// and OIDC calls reuse their connections too.
    pub fn shared(tls: &Arc<ClientConfig>) -> Self {
        static CLIENTS: Mutex<Vec<(Arc<ClientConfig>, Client)>> = Mutex::new(Vec::new());
        let mut clients = CLIENTS.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, c)) = clients.iter().find(|(t, _)| Arc::ptr_eq(t, tls)) {
            return c.clone();
        }
        // A reloaded configuration brings a new TLS configuration: keep a few, not all.
        if clients.len() >= 8 {
            clients.remove(0);
        }
        let client = Client::new(tls);
        clients.push((tls.clone(), client.clone()));
        client
    }

    /// Sends `request`; returns when the response's head has come (its body streams).
    pub async fn send(&self, request: Request<Full<Bytes>>) -> std::io::Result<Streamed> {
        let response = self.inner.request(request).await.map_err(|e| std::io::Error::other(chain(&e)))?;
        let (head, body) = response.into_parts();
        Ok(Streamed { status: head.status.as_u16(), headers: head.headers, body })
    }
}

impl Streamed {
    /// The next piece of the body (`None`: the body is complete).
    pub async fn chunk(&mut self) -> std::io::Result<Option<Bytes>> {
        loop {
            match self.body.frame().await {
                None => return Ok(None),
                Some(Err(e)) => return Err(std::io::Error::other(chain(&e))),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        return Ok(Some(data));
                    }
                }
            }
        }
    }

    /// The whole body, or an error once it passes `limit` bytes (the rest is not read).
    pub async fn collect(mut self, limit: usize) -> std::io::Result<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(chunk) = self.chunk().await? {
            if out.len() + chunk.len() > limit {
                return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, format!("response larger than {limit} bytes")));
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }

    /// A header's value, if it is there and is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// The URI of `url` for hyper.
pub fn uri(url: &Url) -> std::io::Result<Uri> {
    let host = if url.host.contains(':') { format!("[{}]", url.host) } else { url.host.clone() };
    let text = format!("{}://{host}:{}{}", if url.https { "https" } else { "http" }, url.port, url.path);
    text.parse().map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{e}")))
}

/// A request to `url` with our User-Agent and `Accept: application/json`.
pub fn request(method: Method, url: &Url) -> std::io::Result<hyper::http::request::Builder> {
    Ok(Request::builder()
        .method(method)
        .uri(uri(url)?)
        .header(USER_AGENT, HeaderValue::from_static(concat!("klachtd/", env!("CARGO_PKG_VERSION"))))
        .header(ACCEPT, HeaderValue::from_static("application/json")))
}

/// POSTs `body` (form-encoded) to `url`; the whole exchange is bounded by `timeout`.
/// Errors are the transport's (the endpoint is unreachable or answered nonsense).
pub async fn post_form(url: &Url, body: &str, tls: &Arc<ClientConfig>, timeout: Duration) -> std::io::Result<Response> {
    let request = request(Method::POST, url)?
        .header(CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded"))
        .body(Full::new(Bytes::from(body.to_string())))
        .map_err(std::io::Error::other)?;
    exchange(request, tls, timeout).await
}

/// GETs `url`; the whole exchange is bounded by `timeout`.
pub async fn get(url: &Url, tls: &Arc<ClientConfig>, timeout: Duration) -> std::io::Result<Response> {
    let request = request(Method::GET, url)?.body(Full::new(Bytes::new())).map_err(std::io::Error::other)?;
    exchange(request, tls, timeout).await
}

async fn exchange(request: Request<Full<Bytes>>, tls: &Arc<ClientConfig>, timeout: Duration) -> std::io::Result<Response> {
    let client = Client::shared(tls);
    let whole = async {
        let response = client.send(request).await?;
        let status = response.status;
        Ok(Response { status, body: response.collect(MAX_RESPONSE).await? })
    };
    tokio::time::timeout(timeout, whole).await.map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, format!("no answer within {timeout:?}")))?
}

/// An error with its causes, on one line: hyper's own says little ("client error (Connect)").
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn urls_are_split() {
        let u = Url::parse("https://login.microsoftonline.com/t/oauth2/v2.0/token").unwrap();
        assert_eq!((u.https, u.host.as_str(), u.port, u.path.as_str()), (true, "login.microsoftonline.com", 443, "/t/oauth2/v2.0/token"));
        let u = Url::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!((u.https, u.host.as_str(), u.port, u.path.as_str()), (false, "127.0.0.1", 8080, "/"));
        assert_eq!(Url::parse("http://[::1]:8080/t").unwrap().host, "::1");
        assert_eq!(Url::parse("https://[::1]/t").unwrap().port, 443);
        assert!(Url::parse("https://x:99999/").is_err());
        assert!(Url::parse("ftp://x/").is_err());
        assert!(Url::parse("https://user:pw@x/").is_err());
        assert_eq!(uri(&Url::parse("http://[::1]:8080/t?a=b").unwrap()).unwrap().to_string(), "http://[::1]:8080/t?a=b");
    }

    #[test]
    fn forms_are_encoded() {
        assert_eq!(form(&[("scope", "https://x/.default"), ("a b", "c&d=e")]), "scope=https%3A%2F%2Fx%2F.default&a+b=c%26d%3De");
    }

    /// A server that answers each request on a connection with `answers` in turn, and counts
    /// the connections it accepted.
    async fn server(answers: Vec<&'static str>) -> (Url, Arc<std::sync::atomic::AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!("http://{}/token", listener.local_addr().unwrap())).unwrap();
        let connections = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = connections.clone();
        tokio::spawn(async move {
            while let Ok((mut tcp, _)) = listener.accept().await {
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let answers = answers.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    for answer in answers {
                        // A request is whole at its blank line (plus a body of the length it says).
                        loop {
                            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                                let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                                let length = head.lines().find_map(|l| l.strip_prefix("content-length:")).map_or(0, |v| v.trim().parse().unwrap());
                                if buf.len() >= end + 4 + length {
                                    buf.drain(..end + 4 + length);
                                    break;
                                }
                            }
                            let mut chunk = [0u8; 4096];
                            match tcp.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        }
                        tcp.write_all(answer.as_bytes()).await.unwrap();
                    }
                });
            }
        });
        (url, connections)
    }

    fn tls() -> Arc<ClientConfig> {
        crate::driven::tls::client_config(None).unwrap()
    }

    #[tokio::test]
    async fn responses_by_length_and_chunks_on_one_kept_alive_connection() {
        let (url, connections) = server(vec![
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}",
            "HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n2\r\n\"}\r\n0\r\n\r\n",
        ])
        .await;
        let tls = tls();
        let r = post_form(&url, "a=b", &tls, Duration::from_secs(5)).await.unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"{}"[..]));
        let r = get(&url, &tls, Duration::from_secs(5)).await.unwrap();
        assert_eq!((r.status, r.body.as_slice()), (400, &b"{\"a\"}"[..]));
        assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 1, "the second request reused the connection");
    }

    #[tokio::test]
    async fn nonsense_and_silence_are_errors() {
        let (url, _) = server(vec!["garbage\r\n\r\n"]).await;
        assert!(get(&url, &tls(), Duration::from_secs(5)).await.is_err());
        let (url, _) = server(vec![]).await;
        let Err(e) = get(&url, &tls(), Duration::from_secs(5)).await else { panic!("a closed connection is no answer") };
        assert!(!e.to_string().is_empty());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
        let Err(e) = get(&url, &tls(), Duration::from_millis(200)).await else { panic!("silence is no answer") };
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
        drop(listener);
    }

    #[tokio::test]
    async fn a_body_past_its_limit_is_refused() {
        let (url, _) = server(vec!["HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789"]).await;
        let client = Client::new(&tls());
        let request = request(Method::GET, &url).unwrap().body(Full::new(Bytes::new())).unwrap();
        let response = client.send(request).await.unwrap();
        assert_eq!(response.header("content-length"), Some("10"));
        assert!(response.collect(5).await.is_err());
    }
}
