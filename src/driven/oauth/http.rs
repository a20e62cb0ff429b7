//! A small HTTP/1.1 client for token endpoints: one form-encoded POST (or a GET, for OpenID
//! Connect's discovery document and keys) per connection, over
//! rustls (the same ring-based configuration as IMAP) or plain HTTP towards loopback. Token
//! requests are rare (once an hour or so), so no pooling and no general HTTP stack.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::ClientConfig;

/// Token responses are small; anything bigger is not one.
const MAX_RESPONSE: usize = 256 * 1024;

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

pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// POSTs `body` (form-encoded) to `url`; the whole exchange is bounded by `timeout`.
/// Errors are the transport's (the endpoint is unreachable or answered nonsense).
pub async fn post_form(url: &Url, body: &str, tls: &Arc<ClientConfig>, timeout: Duration) -> std::io::Result<Response> {
    let head = format!("POST {} HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}", url.path, body.len());
    within(timeout, exchange(url, head, body, tls)).await
}

/// GETs `url` (a JSON document); the whole exchange is bounded by `timeout`.
pub async fn get(url: &Url, tls: &Arc<ClientConfig>, timeout: Duration) -> std::io::Result<Response> {
    within(timeout, exchange(url, format!("GET {} HTTP/1.1", url.path), "", tls)).await
}

async fn within(timeout: Duration, exchange: impl std::future::Future<Output = std::io::Result<Response>>) -> std::io::Result<Response> {
    tokio::time::timeout(timeout, exchange).await.map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, format!("no answer within {timeout:?}")))?
}

/// Sends `head` (the request line and its own headers) with the common headers and `body`.
async fn exchange(url: &Url, head: String, body: &str, tls: &Arc<ClientConfig>) -> std::io::Result<Response> {
    let tcp = TcpStream::connect((url.host.as_str(), url.port)).await?;
    let _ = tcp.set_nodelay(true);
    let mut stream: Box<dyn Io> = if url.https {
        let name = ServerName::try_from(url.host.clone()).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        Box::new(tokio_rustls::TlsConnector::from(tls.clone()).connect(name, tcp).await?)
    } else {
        Box::new(tcp)
    };
    let default_port = if url.https { 443 } else { 80 };
    let host = if url.port == default_port { url.host.clone() } else { format!("{}:{}", url.host, url.port) };
    let request =
        format!("{head}\r\nHost: {host}\r\nUser-Agent: klachtd/{}\r\nAccept: application/json\r\nConnection: close\r\n\r\n{body}", env!("CARGO_PKG_VERSION"));
    stream.write_all(request.as_bytes()).await?;
    stream.flush().await?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(response) = parse(&buf, false)? {
            return Ok(response);
        }
        let n = match stream.read(&mut chunk).await {
            Ok(n) => n,
            // Some servers close TLS without close_notify; what arrived may still be whole.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => 0,
            Err(e) => return Err(e),
        };
        if n == 0 {
            return parse(&buf, true)?
                .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed before the response was complete"));
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > MAX_RESPONSE {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "response too large"));
        }
    }
}

fn bad(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, format!("malformed HTTP response ({what})"))
}

/// The response in `buf` if it is complete (`eof`: the server has closed the connection).
fn parse(buf: &[u8], eof: bool) -> std::io::Result<Option<Response>> {
    let Some(head_end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return if eof { Err(bad("no header")) } else { Ok(None) };
    };
    let head = std::str::from_utf8(&buf[..head_end]).map_err(|_| bad("header not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    if !parts.next().unwrap_or_default().starts_with("HTTP/1.") {
        return Err(bad("status line"));
    }
    let status: u16 = parts.next().and_then(|s| s.parse().ok()).ok_or_else(|| bad("status code"))?;
    let mut length = None;
    let mut chunked = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse::<usize>().map_err(|_| bad("content-length"))?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") && value.to_ascii_lowercase().contains("chunked") {
            chunked = true;
        }
    }
    let rest = &buf[head_end + 4..];
    if chunked {
        return match dechunk(rest)? {
            Some(body) => Ok(Some(Response { status, body })),
            None if eof => Err(bad("truncated chunked body")),
            None => Ok(None),
        };
    }
    match length {
        Some(n) if rest.len() >= n => Ok(Some(Response { status, body: rest[..n].to_vec() })),
        Some(_) if eof => Err(bad("truncated body")),
        Some(_) => Ok(None),
        None if eof => Ok(Some(Response { status, body: rest.to_vec() })),
        None => Ok(None),
    }
}

/// The body of a complete chunked encoding, or None if more is to come.
fn dechunk(mut rest: &[u8]) -> std::io::Result<Option<Vec<u8>>> {
    let mut body = Vec::new();
    loop {
        let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") else { return Ok(None) };
        let size_text = std::str::from_utf8(&rest[..eol]).map_err(|_| bad("chunk size"))?;
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or_default().trim(), 16).map_err(|_| bad("chunk size"))?;
        rest = &rest[eol + 2..];
        if size == 0 {
            return Ok(Some(body));
        }
        if rest.len() < size + 2 {
            return Ok(None);
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }

    #[test]
    fn responses_by_length_chunks_or_close() {
        let r = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", false).unwrap().unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"{}"[..]));
        assert!(parse(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n{}", false).unwrap().is_none());
        let r = parse(b"HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n2\r\n\"}\r\n0\r\n\r\n", false).unwrap().unwrap();
        assert_eq!((r.status, r.body.as_slice()), (400, &b"{\"a\"}"[..]));
        let r = parse(b"HTTP/1.0 200 OK\r\n\r\nabc", true).unwrap().unwrap();
        assert_eq!(r.body, b"abc");
        assert!(parse(b"garbage\r\n\r\n", true).is_err());
    }

    #[test]
    fn forms_are_encoded() {
        assert_eq!(form(&[("scope", "https://x/.default"), ("a b", "c&d=e")]), "scope=https%3A%2F%2Fx%2F.default&a+b=c%26d%3De");
    }
}
