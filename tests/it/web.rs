//! The handlers' web workspace in a real browser: Debian's chromium driven over WebDriver
//! (chromedriver, spoken to over plain HTTP), against klachtd on the real mail stack. Sign-in
//! links are read from the handler's mailbox in Dovecot. Pages are checked with axe-core
//! (WCAG 2.1 A/AA) and kept as screenshots in target/web-screenshots/.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::common::*;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod dutch;
mod find;
mod oidc;
#[path = "common/oidc_provider.rs"]
mod oidc_provider;
mod paper;
mod separation;
mod set_aside;
mod sign_in_links;

// ---- a small HTTP/1.1 client (for chromedriver, and for requests a browser would not make) ----

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

async fn http(method: &str, url: &str, headers: &[(&str, String)], body: &[u8]) -> Reply {
    let rest = url.strip_prefix("http://").expect("http URL");
    let (host, path) = rest.split_once('/').map(|(h, p)| (h, format!("/{p}"))).unwrap_or((rest, "/".into()));
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap_or_else(|e| panic!("connect {host}: {e}"));
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    // Read to the end of the body by its length (chromedriver keeps connections open), or to EOF.
    let mut raw = Vec::new();
    let read = async {
        let mut buf = vec![0u8; 16384];
        loop {
            if let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
                let length = head.lines().find_map(|l| l.strip_prefix("content-length:")).and_then(|v| v.trim().parse::<usize>().ok());
                if length.is_some_and(|n| raw.len() >= split + 4 + n) {
                    break;
                }
            }
            let n = stream.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            raw.extend_from_slice(&buf[..n]);
        }
    };
    tokio::time::timeout(Duration::from_secs(120), read).await.expect("HTTP reply within 120 s");
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("HTTP head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut body = raw[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_string(), v.trim().to_string())).collect();
    if headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked")) {
        body = dechunk(&body);
    }
    Reply { status, headers, body }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = data.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&data[..end]).split(';').next().unwrap().trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&data[end + 2..end + 2 + size]);
        data = &data[end + 2 + size + 2..];
    }
    out
}

/// A client with a cookie jar, for the workspace.
struct Client {
    base: String,
    cookies: HashMap<String, String>,
}

impl Client {
    fn new(base: &str) -> Self {
        Client { base: base.to_string(), cookies: HashMap::new() }
    }
    async fn request(&mut self, method: &str, path: &str, content_type: Option<&str>, body: &[u8]) -> Reply {
        let mut headers = Vec::new();
        if !self.cookies.is_empty() {
            headers.push(("Cookie", self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")));
        }
        if let Some(ct) = content_type {
            headers.push(("Content-Type", ct.to_string()));
        }
        let reply = http(method, &format!("{}{path}", self.base), &headers, body).await;
        for (k, v) in &reply.headers {
            if k.eq_ignore_ascii_case("set-cookie") {
                let pair = v.split(';').next().unwrap();
                if let Some((name, value)) = pair.split_once('=') {
                    self.cookies.insert(name.to_string(), value.to_string());
                }
            }
        }
        reply
    }
    async fn get(&mut self, path: &str) -> Reply {
        self.request("GET", path, None, b"").await
    }
    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Reply {
        let body = form.iter().map(|(k, v)| format!("{k}={}", urlencode(v))).collect::<Vec<_>>().join("&");
        self.request("POST", path, Some("application/x-www-form-urlencoded"), body.as_bytes()).await
    }
}

fn urlencode(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() || b"-._~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

/// The value of the hidden CSRF field in a page.
fn csrf_in(html: &str) -> String {
    let at = html.find(r#"name="csrf" value=""#).expect("a CSRF field") + r#"name="csrf" value=""#.len();
    html[at..].split('"').next().unwrap().to_string()
}

/// The sign-in link in the newest sign-in mail in `user`'s INBOX that is not in `seen`.
async fn sign_in_link(stack: &MailStack, user: &str, seen: usize) -> String {
    let mails = eventually("a sign-in mail", WAIT, || async { Some(stack.messages(user, "INBOX").await).filter(|m| m.len() > seen) }).await;
    let raw = String::from_utf8_lossy(mails.last().unwrap()).into_owned();
    let msg = parsed(mails.last().unwrap());
    let body = text_of(&msg);
    assert!(raw.contains("Auto-Submitted: auto-replied"), "the sign-in mail is automatic mail");
    let at = body.find("/sign-in/").expect("a link in the sign-in mail");
    let start = body[..at].rfind("http").unwrap();
    let end = at + "/sign-in/".len() + 64;
    body[start..end].to_string()
}

async fn sign_in_raw(stack: &MailStack, base: &str, email: &str) -> Client {
    let mut c = Client::new(base);
    let page = c.get("/sign-in").await;
    assert_eq!(page.status, 200);
    let csrf = csrf_in(&page.text());
    let seen = stack.messages(email, "INBOX").await.len();
    let sent = c.post("/sign-in", &[("csrf", &csrf), ("email", email)]).await;
    assert_eq!(sent.status, 200, "{}", sent.text());
    let link = sign_in_link(stack, email, seen).await;
    let path = link.strip_prefix(base).unwrap().to_string();
    assert!(c.get(&path).await.text().contains("id=\"use-link\""));
    let used = c.post(&path, &[]).await;
    assert_eq!(used.status, 303, "the link signs in: {}", used.text());
    let cookie = used
        .headers
        .iter()
        .find(|(k, v)| k.eq_ignore_ascii_case("set-cookie") && v.starts_with("__Host-klachtd_session="))
        .map(|(_, v)| v.clone())
        .expect("a session cookie");
    // A working day, Secure (also on plain HTTP on loopback, which browsers count as secure).
    assert!(cookie.ends_with("; Path=/; Max-Age=32400; Secure; HttpOnly; SameSite=Strict"), "{cookie}");
    assert!(c.cookies.contains_key("__Host-klachtd_session"));
    c
}

// ---- WebDriver ----

struct Browser {
    driver: std::process::Child,
    url: String,
    session: String,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    /// Ends the session (chromium quits), then the driver's whole process group, so that no
    /// browser outlives the test, also when it failed half-way.
    fn drop(&mut self) {
        use std::io::{Read, Write};
        if let Ok(mut conn) = std::net::TcpStream::connect(self.url.trim_start_matches("http://")) {
            let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
            let _ = write!(conn, "DELETE /session/{} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", self.session);
            let _ = conn.read(&mut [0u8; 1024]);
        }
        let _ = std::process::Command::new("kill").arg("--").arg(format!("-{}", self.driver.id())).status();
        let _ = self.driver.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Browser {
    async fn start(downloads: &Path) -> Browser {
        let port = free_port();
        use std::os::unix::process::CommandExt;
        let driver = std::process::Command::new("/usr/bin/chromedriver")
            .arg(format!("--port={port}"))
            // Its own process group: chromium and its helpers go with it (see Drop).
            .process_group(0)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("chromedriver (apt-get install chromium-driver; tests/run.sh installs it)");
        let url = format!("http://127.0.0.1:{port}");
        eventually("chromedriver answers", WAIT, || async {
            let up = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok();
            if !up {
                return None;
            }
            let status: Value = serde_json::from_slice(&http("GET", &format!("{url}/status"), &[], b"").await.body).ok()?;
            status["value"]["ready"].as_bool().filter(|r| *r)
        })
        .await;
        let profile = tempfile::tempdir().unwrap();
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", "--disable-crash-reporter", "--disable-breakpad", "--window-size=1280,1600",
                     format!("--user-data-dir={}", profile.path().display())],
            "prefs": {"download.default_directory": downloads.display().to_string(), "download.prompt_for_download": false}
        }}}});
        let reply = http("POST", &format!("{url}/session"), &[("Content-Type", "application/json".into())], caps.to_string().as_bytes()).await;
        let v: Value = serde_json::from_slice(&reply.body).unwrap();
        let session = v["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("a WebDriver session: {v}")).to_string();
        Browser { driver, url, session, _profile: profile }
    }

    async fn cmd(&self, method: &str, path: &str, body: Value) -> Value {
        let url = format!("{}/session/{}{path}", self.url, self.session);
        let body = if method == "GET" { Vec::new() } else { body.to_string().into_bytes() };
        let reply = http(method, &url, &[("Content-Type", "application/json".into())], &body).await;
        let v: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
        assert!(reply.status < 300, "WebDriver {method} {path}: {} {v}", reply.status);
        v["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.cmd("POST", "/url", json!({"url": url})).await;
    }

    async fn source(&self) -> String {
        self.cmd("GET", "/source", Value::Null).await.as_str().unwrap_or("").to_string()
    }

    async fn current_url(&self) -> String {
        self.cmd("GET", "/url", Value::Null).await.as_str().unwrap_or("").to_string()
    }

    async fn find(&self, css: &str) -> String {
        let v = self.cmd("POST", "/element", json!({"using": "css selector", "value": css})).await;
        v.as_object().and_then(|o| o.values().next()).and_then(Value::as_str).unwrap().to_string()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.cmd("POST", &format!("/element/{id}/value"), json!({"text": text})).await;
    }

    async fn click(&self, css: &str) {
        let id = self.find(css).await;
        self.cmd("POST", &format!("/element/{id}/click"), json!({})).await;
    }

    /// Waits until the page's source contains `text`.
    async fn wait_for(&self, what: &str, text: &str) -> String {
        eventually(what, WAIT, || async { Some(self.source().await).filter(|s| s.contains(text)) }).await
    }

    /// Presses the Tab key once; returns the text of the element that has the focus then.
    async fn tab(&self) -> String {
        let tab = json!({"actions": [{"type": "key", "id": "keyboard", "actions": [{"type": "keyDown", "value": "\u{E004}"}, {"type": "keyUp", "value": "\u{E004}"}]}]});
        self.cmd("POST", "/actions", tab).await;
        self.cmd("POST", "/execute/sync", json!({"script": "return document.activeElement.textContent;", "args": []})).await.as_str().unwrap_or("").to_string()
    }

    async fn cookie(&self, name: &str) -> String {
        let v = self.cmd("GET", &format!("/cookie/{name}"), Value::Null).await;
        v["value"].as_str().unwrap().to_string()
    }

    /// Saves a PNG screenshot under target/web-screenshots/.
    async fn screenshot(&self, name: &str) -> PathBuf {
        let b64 = self.cmd("GET", "/screenshot", Value::Null).await.as_str().unwrap().to_string();
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/web-screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, base64_decode(&b64)).unwrap();
        path
    }

    /// Runs axe-core in the page; returns the WCAG 2.1 A/AA violations (empty is good).
    async fn axe(&self) -> Vec<String> {
        let script = std::fs::read_to_string(axe_path()).expect("axe-core (tests/run.sh installs it with npm)");
        self.cmd("POST", "/execute/sync", json!({"script": format!("{script}\nreturn typeof axe;"), "args": []})).await;
        let run = "const done = arguments[arguments.length - 1];
            axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})
              .then(r => done(r.violations.map(v => v.id + ': ' + v.help + ' at ' + v.nodes.map(n => n.target.join(' ')).join(', '))))
              .catch(e => done(['axe failed: ' + e]));";
        self.cmd("POST", "/timeouts", json!({"script": 60000})).await;
        let v = self.cmd("POST", "/execute/async", json!({"script": run, "args": []})).await;
        v.as_array().expect("axe results").iter().map(|x| x.as_str().unwrap_or("").to_string()).collect()
    }
}

fn axe_path() -> PathBuf {
    std::env::var_os("KLACHTD_AXE").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/root/.cache/klachtd-axe/node_modules/axe-core/axe.min.js"))
}

fn base64_decode(s: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let digits: Vec<u8> = s.bytes().filter_map(value).collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, d)| acc | (u32::from(*d) << (18 - 6 * i)));
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..chunk.len() - 1]);
    }
    out
}

/// A page on another site (a webmail, say) with the sign-in link on it; returns its address.
async fn webmail_with(link: &str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let page = format!("<!DOCTYPE html><html lang=\"nl\"><head><title>Webmail</title></head><body><main><a id=\"mail-link\" href=\"{link}\">Aanmelden</a></main></body></html>");
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let page = page.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let _ = conn.read(&mut buf).await;
                let reply = format!("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}", page.len());
                let _ = conn.write_all(reply.as_bytes()).await;
            });
        }
    });
    format!("http://localhost:{port}/")
}

async fn outbox_bodies_containing(db_url: &str, text: &str) -> i64 {
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(db_url).await.expect("connect to the test database");
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE body LIKE $1").bind(format!("%{text}%")).fetch_one(&mut conn).await.unwrap();
    let _ = sqlx::Connection::close(conn).await;
    n
}

// ---- the daemon's log, as the journal would get it at info level ----

// ---- the test ----

fn complaint_with_attachment(w: &World, from: &str, body: &str, attachment: &[u8]) -> Vec<u8> {
    let id = format!("{}@example.test", unique("msg"));
    let b64 = {
        const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut s = String::new();
        for c in attachment.chunks(3) {
            let n = c.iter().enumerate().fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
            for i in 0..4 {
                s.push(if i <= c.len() { T[(n >> (18 - 6 * i) & 63) as usize] as char } else { '=' });
            }
        }
        s
    };
    format!(
        "From: Mia Jansen <{from}>\r\nTo: {to}\r\nSubject: Klacht over mijn uitkering\r\nMessage-ID: <{id}>\r\nDate: Wed, 25 Nov 2026 10:00:00 +0100\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n--b1\r\n\
         Content-Type: text/html; name=\"brief <x>.html\"\r\nContent-Disposition: attachment; filename=\"brief <x>.html\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{b64}\r\n--b1--\r\n",
        to = w.complaints
    )
    .into_bytes()
}

on_both_databases!(a_handler_works_a_case_in_the_browser);

async fn a_handler_works_a_case_in_the_browser(db: Db) {
    // On the heap: the whole walk through the workspace is one large future.
    Box::pin(walk_through_the_workspace(db)).await
}

/// The workspace's usual people on a fresh world: Ann and Bob handle cases (Ann by default),
/// Sam supervises, Mia complains; the workspace listens on a free port at `base`.
pub(crate) struct Team {
    pub w: World,
    pub base: String,
    pub ann: String,
    pub bob: String,
    pub sam: String,
    pub mia: String,
}

pub(crate) async fn team(db: Db) -> Team {
    let (ann, bob, sam, mia) = (
        format!("{}@dienst.test", unique("ann")),
        format!("{}@dienst.test", unique("bob")),
        format!("{}@dienst.test", unique("sam")),
        format!("{}@burger.test", unique("mia")),
    );
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let extra = format!(
        "{ANSWER_ALL}[assignment]\nrule = \"default\"\ndefault_handler = \"Ann Smit\"\n\
         [[handlers]]\nname = \"Ann Smit\"\nemail = \"{ann}\"\n[[handlers]]\nname = \"Bob Berg\"\nemail = \"{bob}\"\n\
         [[handlers]]\nname = \"Sam Smits\"\nemail = \"{sam}\"\nsupervisor = true\n\
         [web]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"{base}\"\n"
    );
    let w = World::with(db, MailStack::shared(), &extra).await;
    Team { w, base, ann, bob, sam, mia }
}

async fn walk_through_the_workspace(db: Db) {
    capture_logs();
    let log_start = daemon_log().lock().unwrap().len();
    let stack = MailStack::shared();
    let Team { w, base, ann, bob, sam, mia } = team(db).await;
    let description = "Mijn uitkering is drie maanden te laat betaald. Vertrouwelijk: BSN 123456782.";
    let document = b"<html><script>alert(1)</script>scan van de brief</html>".to_vec();
    w.send(&mia, &complaint_with_attachment(&w, &mia, description, &document)).await;
    let daemon = w.start();

    // The assignment notice links to the case in the workspace, and carries no complaint text.
    let notice = eventually("assignment notice to Ann", WAIT, || async { stack.messages(&ann, "INBOX").await.into_iter().next() }).await;
    let notice_text = text_of(&parsed(&notice));
    let reference = w.store().await.list_cases().await.unwrap()[0].reference.clone();
    assert!(notice_text.contains(&format!("{base}/cases/{reference}")), "{notice_text}");
    assert!(!notice_text.contains("klachtd cases show") && !notice_text.contains("drie maanden"), "{notice_text}");

    // Two more cases of Ann's, made by hand: one long overdue, one far ahead, to see the order.
    let store = w.store().await;
    let day = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    let overdue =
        register_by_hand(store, &hand_made_case(Some("Oud"), &mia, "Oud.", day("2020-03-02"), [day("2020-03-09"), day("2020-03-16"), day("2020-03-30")])).await;
    let ahead =
        register_by_hand(store, &hand_made_case(Some("Later"), &mia, "Later.", day("2099-03-02"), [day("2099-03-09"), day("2099-03-16"), day("2099-03-30")]))
            .await;
    for r in [&overdue, &ahead] {
        store.assign(r, "Ann Smit", "test").await.unwrap();
    }

    let downloads = tempfile::tempdir().unwrap();
    let browser = Browser::start(downloads.path()).await;
    let mut violations = Vec::new();

    // Sign in by link: the page says the same for an unknown address.
    browser.goto(&format!("{base}/sign-in")).await;
    browser.wait_for("the sign-in form", "id=\"send-link\"").await;
    browser.screenshot(&format!("{db:?}-sign-in").to_lowercase()).await;
    violations.extend(browser.axe().await.into_iter().map(|v| format!("sign-in: {v}")));
    browser.type_into("#email", "nobody@dienst.test").await;
    browser.click("#send-link").await;
    let unknown_page = browser.wait_for("the sent page", "id=\"sent\"").await;
    // A fresh form (without the notice), so that the wait below sees the new answer.
    browser.goto(&format!("{base}/sign-in")).await;
    browser.wait_for("the sign-in form", "id=\"send-link\"").await;
    assert!(!browser.source().await.contains("id=\"sent\""));
    browser.type_into("#email", &ann).await;
    browser.click("#send-link").await;
    let known_page = browser.wait_for("the sent page", "id=\"sent\"").await;
    let strip = |p: &str| p.split("id=\"sent\"").nth(1).unwrap().split("</p>").next().unwrap().to_string();
    assert_eq!(strip(&unknown_page), strip(&known_page), "the same answer whether or not the address is known");
    let link = sign_in_link(stack, &ann, 1).await;
    assert!(link.starts_with(&format!("{base}/sign-in/")));
    // Once sent, the mail that carried it keeps no token in the outbox.
    let db_url = &w.config.database.url;
    eventually("the sent link's token gone from the outbox", WAIT, || async {
        (outbox_bodies_containing(db_url, &link[link.len() - 64..]).await == 0).then_some(())
    })
    .await;
    // A link works only in the browser that asked for it: another client (a mail scanner, an
    // attacker with the mail) gets nothing, and does not use it up.
    let mut other = Client::new(&base);
    assert_eq!(other.get(link.strip_prefix(&base).unwrap()).await.status, 200, "opening the link uses nothing up");
    assert_eq!(other.post(link.strip_prefix(&base).unwrap(), &[]).await.status, 400);
    assert!(!other.cookies.contains_key("__Host-klachtd_session"));
    // Clicked in a webmail on another site (localhost is another site than 127.0.0.1): that
    // request carries no SameSite=Strict cookie, so the link's page asks for one click here.
    let webmail = webmail_with(&link).await;
    browser.goto(&webmail).await;
    browser.click("#mail-link").await;
    browser.wait_for("the link's page", "id=\"use-link\"").await;
    violations.extend(browser.axe().await.into_iter().map(|v| format!("sign-in link: {v}")));
    browser.click("#use-link").await;
    // Signed in, a handler lands on "my day"; the list is one click away.
    browser.wait_for("my day", "id=\"my-day-heading\"").await;
    assert!(browser.current_url().await.ends_with(&format!("{base}/")), "{}", browser.current_url().await);
    browser.goto(&format!("{base}/cases")).await;
    let list = browser.wait_for("my cases", "id=\"cases\"").await;
    assert!(list.contains(&reference.to_string()), "my cases lists {reference}");
    let position = |r: &str| list.find(&format!(">{r}</a>")).unwrap_or_else(|| panic!("{r} listed"));
    assert!(
        position(&overdue.to_string()) < position(&reference.to_string()) && position(&reference.to_string()) < position(&ahead.to_string()),
        "most urgent first"
    );
    assert!(list.contains("status missed"), "an overdue deadline is marked");
    assert!(browser.current_url().await.ends_with("/cases"));
    // The database keeps no token: the link's mail in the outbox lost its body when it was used.
    let token = &link[link.len() - 64..];
    assert_eq!(outbox_bodies_containing(&w.config.database.url, token).await, 0);
    browser.screenshot(&format!("{db:?}-cases").to_lowercase()).await;
    violations.extend(browser.axe().await.into_iter().map(|v| format!("cases: {v}")));

    // The link is single-use.
    browser.goto(&link).await;
    browser.click("#use-link").await;
    browser.wait_for("the refused link", "role=\"alert\"").await;
    let mut reuse = Client::new(&base);
    reuse.cookies.insert("__Host-klachtd_browser".into(), browser.cookie("__Host-klachtd_browser").await);
    assert_eq!(reuse.post(link.strip_prefix(&base).unwrap(), &[]).await.status, 400, "a used link fails");

    // The case page: complaint, thread, attachment, history with this opening recorded.
    browser.goto(&format!("{base}/cases/{reference}")).await;
    let page = browser.wait_for("the case page", "id=\"description\"").await;
    assert!(page.contains("drie maanden te laat"), "the complaint is shown");
    assert!(page.contains("brief"), "the attachment is listed");
    browser.screenshot(&format!("{db:?}-case").to_lowercase()).await;
    // Keyboard: the first Tab reaches the skip link, the next ones the navigation.
    assert_eq!(browser.tab().await.trim(), "Naar de inhoud");
    assert_eq!(browser.tab().await.trim(), "Mijn dag");
    violations.extend(browser.axe().await.into_iter().map(|v| format!("case: {v}")));
    let history = w.store().await.case_detail(&reference).await.unwrap().history;
    assert!(history.iter().any(|e| e.actor == "Ann Smit (web)" && e.action == event("viewed")), "{history:?}");
    // The thread as the page reads it: the complaint in, our acknowledgement out with its state.
    {
        use klachtd::store::web::ThreadKind;
        use klachtd::store::{Direction, MailKind, MessageKind};
        let store = w.store().await;
        let thread = store.thread(store.case_link(&reference).await.unwrap().unwrap().id).await.unwrap();
        let complaint = (Direction::In, ThreadKind::Message(MessageKind::Complaint), None);
        assert!(thread.iter().any(|m| (m.direction, m.kind, m.status) == complaint), "{thread:?}");
        let acknowledgement = |m: &&klachtd::store::web::ThreadMessage| m.kind == ThreadKind::Letter(MailKind::Acknowledgement);
        assert!(thread.iter().filter(acknowledgement).all(|m| m.direction == Direction::Out && m.status.is_some()), "{thread:?}");
        assert_eq!(thread.iter().filter(acknowledgement).count(), 1, "{thread:?}");
    }

    // Downloading the attachment: as an attachment, with a safe name, never sniffed as HTML.
    let session = browser.cookie("__Host-klachtd_session").await;
    let mut ann_client = Client::new(&base);
    ann_client.cookies.insert("__Host-klachtd_session".into(), session.clone());
    let download = ann_client.get(&format!("/cases/{reference}/attachments/0")).await;
    assert_eq!(download.status, 200);
    assert_eq!(download.body, document);
    assert_eq!(download.header("content-disposition"), Some("attachment; filename=\"brief__x_.html\""));
    assert_eq!(download.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(download.header("content-type"), Some("application/octet-stream"));
    assert_eq!(download.header("cache-control"), Some("no-store"));
    assert!(download.header("content-security-policy").unwrap().contains("default-src 'self'"));
    // And in the browser: the click saves a file, it does not open a page.
    browser.click("#attachments a").await;
    let saved = eventually("the browser saved the attachment", WAIT, || async {
        std::fs::read_dir(downloads.path()).ok()?.flatten().map(|e| e.path()).find(|p| p.extension().is_some_and(|x| x == "html"))
    })
    .await;
    eventually("the download is complete", WAIT, || async { (std::fs::read(&saved).ok()? == document).then_some(()) }).await;
    let history = w.store().await.case_detail(&reference).await.unwrap().history;
    assert!(history.iter().filter(|e| e.actor == "Ann Smit (web)" && e.action == event("attachment-downloaded")).count() >= 2, "{history:?}");

    // A form without its CSRF token fails and changes nothing.
    let events_before = w.store().await.case_detail(&reference).await.unwrap().history.len();
    let forged = ann_client.post(&format!("/cases/{reference}/note"), &[("text", "forged")]).await;
    assert_eq!(forged.status, 403);
    let forged = ann_client.post(&format!("/cases/{reference}/note"), &[("text", "forged"), ("csrf", &"0".repeat(64))]).await;
    assert_eq!(forged.status, 403);
    assert_eq!(w.store().await.case_detail(&reference).await.unwrap().history.len(), events_before);

    // A refusal reads as on the command line: an empty note.
    let csrf = csrf_in(&ann_client.get(&format!("/cases/{reference}")).await.text());
    let refused = ann_client.post(&format!("/cases/{reference}/progress"), &[("csrf", &csrf), ("expected", "morgen")]).await;
    assert_eq!(refused.status, 422);
    assert!(refused.text().contains("is geen datum"), "{}", refused.text());

    // What the workspace cannot use gets its page with a fitting status, never the "database
    // away" one (a negative index once reached OFFSET, a NUL byte PostgreSQL), and changes nothing.
    let events_before = w.store().await.case_detail(&reference).await.unwrap().history.len();
    for path in [format!("/cases/{reference}/attachments/-1"), format!("/cases/{reference}/attachments/x"), format!("/cases/{reference}%00")] {
        let reply = ann_client.get(&path).await;
        assert_eq!(reply.status, 404, "{path}: {}", reply.text());
        assert!(reply.text().contains("Niet gevonden"), "{path}: {}", reply.text());
    }
    let nul = ann_client.post(&format!("/cases/{reference}/note"), &[("csrf", &csrf), ("text", "een\0notitie")]).await;
    assert_eq!(nul.status, 400, "{}", nul.text());
    assert!(nul.text().contains("NUL-teken"), "{}", nul.text());
    let large = "x".repeat(3 * 1024 * 1024);
    let too_large = ann_client.post(&format!("/cases/{reference}/note"), &[("csrf", &csrf), ("text", &large)]).await;
    assert_eq!(too_large.status, 413);
    assert!(too_large.header("content-type").is_some_and(|t| t.starts_with("text/html")), "{:?}", too_large.header("content-type"));
    assert!(too_large.text().contains("Te groot") && too_large.text().contains("2 MB"), "{}", too_large.text());
    assert_eq!(w.store().await.case_detail(&reference).await.unwrap().history.len(), events_before);

    // The final response through the form: it reaches the complainant and closes the case.
    browser.goto(&format!("{base}/cases/{reference}")).await;
    browser.wait_for("the case page", "id=\"form-respond\"").await;
    // Before the progress notice, the final response's form is there but not open.
    browser.click("#action-respond > summary").await;
    browser.click("#outcome-partly-founded").await;
    browser.type_into("#findings", "De betaling was te laat door een fout in ons systeem.").await;
    browser.type_into("#measures", "Het systeem is aangepast.").await;
    browser.click("#form-respond button[type=submit]").await;
    browser.wait_for("the action is confirmed", "id=\"done\"").await;
    let response = eventually("the final response reaches Mia", WAIT, || async {
        stack.messages(&mia, "INBOX").await.into_iter().find(|m| text_of(&parsed(m)).contains("fout in ons systeem"))
    })
    .await;
    assert!(String::from_utf8_lossy(&response).contains(&reference.to_string()));
    let case = w.store().await.case_detail(&reference).await.unwrap();
    assert_eq!(case.summary.status.as_str(), "closed");
    assert!(case.history.iter().any(|e| e.actor == "Ann Smit (web)" && e.action == event("final-response")), "{:?}", case.history);
    browser.screenshot(&format!("{db:?}-case-closed").to_lowercase()).await;
    // The outbox records the response as sent after the SMTP server took it; wait for that,
    // so that the history below changes only by what the next requests do.
    eventually("the response recorded as sent", WAIT, || async {
        w.store().await.case_detail(&reference).await.ok()?.history.iter().any(|e| e.action == event("response-sent")).then_some(())
    })
    .await;

    // A second handler cannot open the case: the answer is the one for a case that does not
    // exist (it does not say that this one does), and only the refusal is recorded.
    let mut bob_client = sign_in_raw(stack, &base, &bob).await;
    let events_before = w.store().await.case_detail(&reference).await.unwrap().history.len();
    let denied = bob_client.get(&format!("/cases/{reference}")).await;
    let unknown = bob_client.get("/cases/KL-1999-0001").await;
    assert_eq!((denied.status, unknown.status), (404, 404));
    assert_eq!(denied.text(), unknown.text());
    assert!(!denied.text().contains("drie maanden") && !denied.text().contains(&reference.to_string()));
    assert_eq!(bob_client.get(&format!("/cases/{reference}/attachments/0")).await.status, 404);
    for list in ["/cases?all=1", "/cases?all=1&closed=1"] {
        assert!(!bob_client.get(list).await.text().contains(&reference.to_string()), "Bob's list {list} does not show Ann's case");
    }
    let history = w.store().await.case_detail(&reference).await.unwrap().history;
    let new: Vec<_> = history[events_before..].iter().map(|e| (e.actor.as_str(), e.action)).collect();
    assert_eq!(new, [("Bob Berg (web)", event("access-refused")), ("Bob Berg (web)", event("access-refused"))]);

    // Nor can he act on it: a form posted to it answers as one posted to a case that does not
    // exist, whatever it holds, and only the refusal is recorded.
    let bob_csrf = csrf_in(&bob_client.get("/cases").await.text());
    let posted = bob_client.post(&format!("/cases/{reference}/note"), &[("csrf", &bob_csrf), ("text", "van Bob")]).await;
    let unknown = bob_client.post("/cases/KL-1999-0001/note", &[("csrf", &bob_csrf), ("text", "van Bob")]).await;
    let unreadable_form = bob_client.post(&format!("/cases/{reference}/progress"), &[("csrf", &bob_csrf), ("expected", "morgen")]).await;
    assert_eq!((posted.status, unknown.status, unreadable_form.status), (404, 404, 404));
    assert_eq!(posted.text(), unknown.text());
    assert!(!posted.text().contains(&reference.to_string()));
    let history = w.store().await.case_detail(&reference).await.unwrap().history;
    let new: Vec<_> = history[events_before + 2..].iter().map(|e| (e.actor.as_str(), e.action, e.detail.as_str())).collect();
    assert_eq!(new, [("Bob Berg (web)", event("access-refused"), "action note"), ("Bob Berg (web)", event("access-refused"), "action progress")]);

    // An expired link fails.
    let token = "ab".repeat(32);
    let mut late = Client::new(&base);
    late.get("/sign-in").await;
    let browser_cookie = late.cookies["__Host-klachtd_browser"].clone();
    let mail = klachtd::store::OutgoingMail {
        kind: klachtd::store::MailKind::SignInLink,
        recipient: bob.clone(),
        recipient_name: None,
        subject: "x".into(),
        body: "x".into(),
        message_id: format!("<{}@dienst.test>", unique("expired")),
        in_reply_to: None,
        references: vec![],
        status: klachtd::store::OutboxStatus::Sent,
    };
    let hash = |t: &str| klachtd::driving::web::auth::hash(t);
    w.store().await.create_sign_in_link(&hash(&token), &bob, &hash(&browser_cookie), klachtd::store::now() - 1, &mail, "default").await.unwrap();
    assert_eq!(late.post(&format!("/sign-in/{token}"), &[]).await.status, 400, "an expired link fails");
    assert!(!late.cookies.contains_key("__Host-klachtd_session"));

    // A supervisor can open every case, and the register; in the browser.
    browser.click("header form button").await;
    browser.wait_for("signed out", "id=\"send-link\"").await;
    assert_eq!(ann_client.get("/cases").await.status, 303, "the session ended at sign-out");
    browser.type_into("#email", &sam).await;
    browser.click("#send-link").await;
    browser.wait_for("the sent page", "id=\"sent\"").await;
    let link = sign_in_link(stack, &sam, 0).await;
    browser.goto(&link).await;
    browser.click("#use-link").await;
    // "My day", not just any page: the link's page must have finished signing in.
    browser.wait_for("Sam's day", "id=\"my-day-heading\"").await;
    browser.goto(&format!("{base}/cases")).await;
    let mine = browser.wait_for("Sam's cases", "id=\"cases-heading\"").await;
    assert!(!mine.contains(&reference.to_string()), "a supervisor's own cases leave out Ann's case, which all cases show");
    // All cases: the open ones (Ann's two by hand), and the closed one a click further.
    browser.goto(&format!("{base}/cases?all=1")).await;
    let open = browser.wait_for("all cases", "id=\"cases\"").await;
    assert!(open.contains(&overdue.to_string()) && !open.contains(&reference.to_string()), "open cases only");
    browser.click("#closed-cases").await;
    let closed = browser.wait_for("all closed cases", "id=\"closed-intro\"").await;
    assert!(closed.contains(&reference.to_string()) && !closed.contains(&overdue.to_string()), "closed cases only");
    assert!(browser.current_url().await.ends_with("/cases?scope=all&state=closed"), "{}", browser.current_url().await);
    browser.screenshot(&format!("{db:?}-closed-cases").to_lowercase()).await;
    violations.extend(browser.axe().await.into_iter().map(|v| format!("closed cases: {v}")));
    browser.goto(&format!("{base}/cases/{reference}")).await;
    browser.wait_for("the case page for a supervisor", "id=\"description\"").await;
    browser.goto(&format!("{base}/register?from=2026-01-01&to=2026-12-31")).await;
    let register = browser.wait_for("the register", "id=\"figures\"").await;
    assert!(register.contains("<svg") && register.contains("id=\"received-count\">1<"), "the register counts the case");
    browser.screenshot(&format!("{db:?}-register").to_lowercase()).await;
    violations.extend(browser.axe().await.into_iter().map(|v| format!("register: {v}")));
    browser.goto(&format!("{base}/paper")).await;
    browser.wait_for("the paper form", "paper-documents").await;
    violations.extend(browser.axe().await.into_iter().map(|v| format!("paper: {v}")));
    let history = w.store().await.case_detail(&reference).await.unwrap().history;
    assert!(history.iter().any(|e| e.actor == "Sam Smits (web)" && e.action == event("viewed")));

    // A paper complaint with a scanned document (multipart), as the form sends it.
    let mut sam_client = Client::new(&base);
    sam_client.cookies.insert("__Host-klachtd_session".into(), browser.cookie("__Host-klachtd_session").await);
    let csrf = csrf_in(&sam_client.get("/paper").await.text());
    let scan = b"%PDF-1.4 scan".to_vec();
    let mut body = Vec::new();
    for (name, value) in [
        ("csrf", csrf.as_str()),
        ("name", "Piet Post"),
        ("email", ""),
        ("postal_address", "Dorpsstraat 1\r\n1234 AB Dorp"),
        ("received", "2026-11-20"),
        ("description", "Klacht per brief."),
    ] {
        body.extend_from_slice(format!("--XyZ\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes());
    }
    body.extend_from_slice(
        b"--XyZ\r\nContent-Disposition: form-data; name=\"documents\"; filename=\"scan brief.pdf\"\r\nContent-Type: application/pdf\r\n\r\n",
    );
    body.extend_from_slice(&scan);
    body.extend_from_slice(b"\r\n--XyZ--\r\n");
    let registered = sam_client.request("POST", "/paper", Some("multipart/form-data; boundary=XyZ"), &body).await;
    assert_eq!(registered.status, 200, "{}", registered.text());
    let paper =
        w.store().await.list_cases().await.unwrap().into_iter().find(|c| c.source == klachtd::store::CaseSource::Post).expect("the paper complaint is a case");
    assert_eq!((paper.received_on.to_string().as_str(), paper.attachments), ("2026-11-20", 1));
    assert!(registered.text().contains(&paper.reference.to_string()));
    let detail = w.store().await.case_detail(&paper.reference).await.unwrap();
    assert_eq!(detail.attachment_list[0].filename, "scan_brief.pdf");
    // As from the command line, the registering handler is named on the paper complaint's record.
    assert!(detail.message_list.iter().any(|m| m.note == "registered by Sam Smits (web)"), "{:?}", detail.message_list);
    // Without its token, nothing is registered.
    let forged = String::from_utf8_lossy(&body).replace(&csrf, &"0".repeat(64));
    assert_eq!(sam_client.request("POST", "/paper", Some("multipart/form-data; boundary=XyZ"), forged.as_bytes()).await.status, 403);
    assert_eq!(w.store().await.list_cases().await.unwrap().len(), 4);

    // Access follows the assignment: a supervisor gives Ann's case to Bob; Bob may open it now,
    // Ann may still read it (she handled it) but no longer act on it.
    let csrf = csrf_in(&sam_client.get(&format!("/cases/{reference}")).await.text());
    let assigned = sam_client.post(&format!("/cases/{reference}/assign"), &[("csrf", &csrf), ("handler", "Bob Berg")]).await;
    assert_eq!(assigned.status, 303, "{}", assigned.text());
    assert_eq!(bob_client.get(&format!("/cases/{reference}")).await.status, 200);
    let ann_user = w.store().await.web_user(&ann).await.unwrap().unwrap();
    assert!(w.store().await.may_read(&reference, &ann_user).await.unwrap().is_some());
    assert!(!w.store().await.may_act_on(&reference, &ann).await.unwrap());
    // Unless she is recorded as the complaint's subject (R5): then she may not read it either.
    w.store().await.add_subject(&reference, "Ann Smit", "test").await.unwrap();
    assert!(w.store().await.may_read(&reference, &ann_user).await.unwrap().is_none());

    // The other actions of the command line, as a supervisor: done, recorded under their name,
    // or refused with the command line's reason.
    let csrf = csrf_in(&sam_client.get(&format!("/cases/{reference}")).await.text());
    for (action, form) in [
        ("note", vec![("text", "Intern: gebeld met de afdeling.")]),
        ("category", vec![("category", "process")]),
        ("escalate", vec![("to", "Nationale ombudsman"), ("date", "2026-11-26")]),
        ("reopen", vec![]),
    ] {
        let mut fields = vec![("csrf", csrf.as_str())];
        fields.extend(form);
        let done = sam_client.post(&format!("/cases/{reference}/{action}"), &fields).await;
        assert_eq!(done.status, 303, "{action}: {}", done.text());
    }
    let case = w.store().await.case_detail(&reference).await.unwrap();
    let by_sam: Vec<_> = case.history.iter().filter(|e| e.actor == "Sam Smits (web)").map(|e| e.action).collect();
    for action in ["note", "category", "external-body", "reopened"] {
        assert!(by_sam.contains(&event(action)), "{action} recorded: {by_sam:?}");
    }
    assert_eq!(case.summary.status.as_str(), "open");
    let again = sam_client.post(&format!("/cases/{reference}/reopen"), &[("csrf", &csrf)]).await;
    assert_eq!(again.status, 422, "reopening an open case is refused");
    let nothing = sam_client.post(&format!("/cases/{reference}/checked"), &[("csrf", &csrf)]).await;
    assert_eq!(nothing.status, 422);
    assert!(
        nothing.text().contains(&format!("{reference} heeft geen controle door een leidinggevende openstaan")),
        "the command line's words, in Dutch: {}",
        nothing.text()
    );
    assert_eq!(sam_client.post(&format!("/cases/{reference}/nonsense"), &[("csrf", &csrf)]).await.status, 404);
    // Checking an assignment is a supervisor's.
    let bob_csrf = csrf_in(&bob_client.get(&format!("/cases/{reference}")).await.text());
    assert_eq!(bob_client.post(&format!("/cases/{reference}/checked"), &[("csrf", &bob_csrf)]).await.status, 403);

    // The register as CSV, for supervisors only.
    let csv = sam_client.get("/register.csv?from=2026-01-01&to=2026-12-31").await;
    assert_eq!(csv.status, 200);
    assert_eq!(csv.header("content-disposition"), Some("attachment; filename=\"register-2026-01-01-2026-12-31.csv\""));
    assert!(csv.text().starts_with("section,key,value\n") && csv.text().contains("complaints,received,2\n"), "{}", csv.text());
    assert_eq!(bob_client.get("/register").await.status, 403);
    assert_eq!(bob_client.get("/register.csv").await.status, 403);
    assert_eq!(sam_client.get("/register?from=gisteren").await.status, 400, "bad input is a clear message");

    // Sign-in links are rate-limited per address (5 per 15 minutes), with the same page otherwise.
    let mut asker = Client::new(&base);
    let csrf = csrf_in(&asker.get("/sign-in").await.text());
    for i in 0..5 {
        assert_eq!(asker.post("/sign-in", &[("csrf", &csrf), ("email", "nobody-else@dienst.test")]).await.status, 200, "attempt {i}");
    }
    assert_eq!(asker.post("/sign-in", &[("csrf", &csrf), ("email", "nobody-else@dienst.test")]).await.status, 429);

    // Nothing personal and no token or cookie in the log at info level.
    let log = String::from_utf8_lossy(&daemon_log().lock().unwrap()[log_start..]).into_owned();
    assert!(log.contains("web: handler signed in"), "the capture works");
    for secret in [&link[link.len() - 64..], &session, &mia, &ann, "drie maanden", "Piet Post", "fout in ons systeem"] {
        assert!(!log.contains(secret), "the log contains {secret:?}");
    }

    assert!(violations.is_empty(), "axe-core found WCAG 2.1 A/AA violations:\n{}", violations.join("\n"));
    drop(browser);
    daemon.stop().await;
}

// The steps of Awb chapter 9 in the browser.
mod awb;
