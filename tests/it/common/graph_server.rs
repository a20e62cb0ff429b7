//! A Microsoft Graph stand-in for the tests, as the test identity provider stands in for Entra
//! ID: the mail endpoints klachtd uses, checking what Graph checks. Bearer tokens are looked
//! up at the identity provider (`Idp::introspect`): audience `https://graph.microsoft.com`, the
//! role the request needs (`Mail.ReadWrite`, `Mail.Send`), and the mailbox the app is scoped
//! to (what RBAC for Applications does); otherwise 401 or 403 as Graph answers.
//!
//! Mailboxes (made on first use) have folders with ids, messages with ids that a move changes,
//! a change sequence for delta queries (`@odata.nextLink` pages of `page_size`, then an
//! `@odata.deltaLink` that can be used again), `$value` MIME, `sendMail` (base64 MIME as
//! `text/plain`) delivered into the recipients' mailboxes here and filed in the sender's Sent
//! Items, and throttling on demand (429 or 503 with `Retry-After`). It counts requests, the
//! most in flight at once per mailbox, and requests that came while a `Retry-After` lasted.
//! It runs on its own thread and runtime, so it outlives any one test's runtime.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{json, Value};

use super::oauth_idp::{Idp, GRAPH_AUDIENCE};

/// How long each request takes to answer.
const LATENCY: Duration = Duration::from_millis(2);
const WELL_KNOWN: [(&str, &str); 3] = [("inbox", "Inbox"), ("sentitems", "Sent Items"), ("deleteditems", "Deleted Items")];

#[derive(Default)]
struct Mailbox {
    /// (id, display name, well-known name)
    folders: Vec<(String, String, Option<&'static str>)>,
    messages: Vec<Msg>,
    /// Messages that left a folder: (id, folder, seq).
    removed: Vec<(String, String, u64)>,
    throttle: Option<Throttle>,
    in_flight: usize,
    most_in_flight: usize,
    requests: u32,
    /// Requests that came while a Retry-After this server gave was running, after the first.
    during_retry_after: u32,
    retry_after_until: Option<Instant>,
    throttled: u32,
}

#[derive(Clone)]
struct Msg {
    id: String,
    folder: String,
    mime: Vec<u8>,
    received: chrono::DateTime<chrono::Utc>,
    seq: u64,
}

/// After `after` more requests, every request is answered `status` for `window`.
#[derive(Clone, Copy)]
struct Throttle {
    after: u32,
    window: Duration,
    status: u16,
    started: Option<Instant>,
}

#[derive(Default)]
struct Inner {
    mailboxes: HashMap<String, Mailbox>,
    seq: u64,
    next_id: u64,
    page_size: usize,
}

pub struct GraphServer {
    /// The service root, as `graph.url`: `http://127.0.0.1:PORT/v1.0`.
    pub url: String,
    state: Arc<Mutex<Inner>>,
}

impl GraphServer {
    /// The one Graph server of this test process.
    pub fn shared() -> &'static GraphServer {
        static SERVER: OnceLock<GraphServer> = OnceLock::new();
        SERVER.get_or_init(|| {
            let state = Arc::new(Mutex::new(Inner { page_size: 10, ..Inner::default() }));
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.set_nonblocking(true).unwrap();
            let url = format!("http://127.0.0.1:{}/v1.0", listener.local_addr().unwrap().port());
            let shared = Arc::new(Shared { state: state.clone(), base: url.clone() });
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                rt.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                    let app = axum::Router::new().fallback(handle).with_state(shared);
                    axum::serve(listener, app).await.unwrap();
                });
            });
            GraphServer { url, state }
        })
    }

    fn with<T>(&self, user: &str, f: impl FnOnce(&mut Inner, &str) -> T) -> T {
        let mut inner = self.state.lock().unwrap();
        let key = user.to_ascii_lowercase();
        mailbox(&mut inner, &key);
        f(&mut inner, &key)
    }

    /// A mail arrives in `user`'s inbox (received now, unless given).
    pub fn deliver(&self, user: &str, raw: &[u8], received: Option<chrono::DateTime<chrono::Utc>>) {
        self.with(user, |inner, key| add_message(inner, key, "inbox", raw.to_vec(), received.unwrap_or_else(chrono::Utc::now)));
    }

    /// The MIME of the messages in a folder (by display or well-known name), in order of arrival.
    pub fn messages(&self, user: &str, folder: &str) -> Vec<Vec<u8>> {
        self.with(user, |inner, key| {
            let mb = &inner.mailboxes[key];
            let Some(id) = folder_id(mb, folder) else { return Vec::new() };
            let mut found: Vec<&Msg> = mb.messages.iter().filter(|m| m.folder == id).collect();
            found.sort_by_key(|m| m.seq);
            found.into_iter().map(|m| m.mime.clone()).collect()
        })
    }

    /// Messages per page of a delta round (for all mailboxes).
    pub fn set_page_size(&self, n: usize) {
        self.state.lock().unwrap().page_size = n;
    }

    /// After `after` more requests to `user`'s mailbox, answers every request with `status`
    /// (429 or 503) and a `Retry-After` for `window`.
    pub fn throttle(&self, user: &str, after: u32, window: Duration, status: u16) {
        self.with(user, |inner, key| inner.mailboxes.get_mut(key).unwrap().throttle = Some(Throttle { after, window, status, started: None }));
    }

    /// (requests, most in flight at once, requests throttled, requests that came while a
    /// Retry-After lasted after the one that was first told)
    pub fn counts(&self, user: &str) -> (u32, usize, u32, u32) {
        self.with(user, |inner, key| {
            let mb = &inner.mailboxes[key];
            (mb.requests, mb.most_in_flight, mb.throttled, mb.during_retry_after)
        })
    }
}

struct Shared {
    state: Arc<Mutex<Inner>>,
    base: String,
}

fn mailbox<'a>(inner: &'a mut Inner, key: &str) -> &'a mut Mailbox {
    if !inner.mailboxes.contains_key(key) {
        let mut mb = Mailbox::default();
        for (wk, name) in WELL_KNOWN {
            inner.next_id += 1;
            mb.folders.push((format!("AQMkFolder{}", inner.next_id), name.to_string(), Some(wk)));
        }
        inner.mailboxes.insert(key.to_string(), mb);
    }
    inner.mailboxes.get_mut(key).unwrap()
}

/// A folder's id by id, well-known name or display name.
fn folder_id(mb: &Mailbox, name: &str) -> Option<String> {
    mb.folders
        .iter()
        .find(|(id, display, wk)| id == name || wk.is_some_and(|w| w.eq_ignore_ascii_case(name)) || display.eq_ignore_ascii_case(name))
        .map(|(id, _, _)| id.clone())
}

fn add_message(inner: &mut Inner, key: &str, folder: &str, mime: Vec<u8>, received: chrono::DateTime<chrono::Utc>) -> String {
    inner.seq += 1;
    inner.next_id += 1;
    let (seq, id) = (inner.seq, format!("AAMkAGI2TG93AAA{}+/x=", inner.next_id));
    let mb = mailbox(inner, key);
    let folder = folder_id(mb, folder).unwrap();
    mb.messages.push(Msg { id: id.clone(), folder, mime, received, seq });
    id
}

fn reply(status: u16, body: Value) -> Response {
    (StatusCode::from_u16(status).unwrap(), [("content-type", "application/json")], body.to_string()).into_response()
}

fn error(status: u16, code: &str, message: &str) -> Response {
    reply(status, json!({"error": {"code": code, "message": message}}))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap_or(b'?'));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn handle(State(shared): State<Arc<Shared>>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let path = uri.path().strip_prefix("/v1.0/users/").unwrap_or_default().to_string();
    let (user, rest) = path.split_once('/').map(|(u, r)| (percent_decode(u).to_ascii_lowercase(), format!("/{r}"))).unwrap_or_default();
    let query: HashMap<String, String> =
        uri.query().unwrap_or_default().split('&').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (percent_decode(k), percent_decode(v))).collect();
    // The bearer token: checked at the identity provider, as Graph validates Entra's tokens.
    let token = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")).unwrap_or_default();
    let Some((token_user, audience, roles)) = Idp::shared().introspect(token) else {
        return error(401, "InvalidAuthenticationToken", "Access token is empty or invalid.");
    };
    if audience != GRAPH_AUDIENCE {
        return error(401, "InvalidAuthenticationToken", "Invalid audience.");
    }
    let needs = if rest == "/sendMail" { "Mail.Send" } else { "Mail.ReadWrite" };
    if !roles.iter().any(|r| r == needs) || token_user.to_ascii_lowercase() != user {
        return error(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.");
    }
    let throttled = count_in(&shared, &user);
    // Graph takes a moment to answer: requests overlap, and the count in flight shows it.
    tokio::time::sleep(LATENCY).await;
    let response = match throttled {
        Some(r) => r,
        None => {
            let mut inner = shared.state.lock().unwrap();
            route(&mut inner, &shared.base, &user, &method, &rest, &query, &body)
        }
    };
    shared.state.lock().unwrap().mailboxes.get_mut(&user).unwrap().in_flight -= 1;
    response
}

/// Counts the request in (and in flight); answers it 429/503 while a throttle lasts.
fn count_in(shared: &Shared, user: &str) -> Option<Response> {
    let mut inner = shared.state.lock().unwrap();
    let mb = mailbox(&mut inner, user);
    mb.requests += 1;
    mb.in_flight += 1;
    mb.most_in_flight = mb.most_in_flight.max(mb.in_flight);
    let now = Instant::now();
    if mb.retry_after_until.is_some_and(|until| now < until) {
        mb.during_retry_after += 1;
    }
    if let Some(t) = &mut mb.throttle {
        if t.after > 0 {
            t.after -= 1;
        } else {
            let started = *t.started.get_or_insert(now);
            let end = started + t.window;
            if now < end {
                let status = t.status;
                mb.throttled += 1;
                // The first to be told sets the window that later requests must respect.
                mb.retry_after_until.get_or_insert(end);
                let secs = (end - now).as_millis().div_ceil(1000).max(1);
                let mut r = error(status, "TooManyRequests", "Application is over its MailboxConcurrency limit.");
                r.headers_mut().insert("retry-after", secs.to_string().parse().unwrap());
                return Some(r);
            }
            mb.throttle = None;
        }
    }
    None
}

/// With PidTagMessageSize (`Integer 0x0E08`) when `$expand` asks for it.
fn message_json_expanded(m: &Msg, query: &HashMap<String, String>) -> Value {
    let mut j = message_json(m);
    if query.get("$expand").is_some_and(|e| e.contains("Integer 0x0E08")) {
        j["singleValueExtendedProperties"] = json!([{"id": "Integer 0xe08", "value": m.mime.len().to_string()}]);
    }
    j
}

fn message_json(m: &Msg) -> Value {
    let parsed = mail_parser::MessageParser::default().parse(&m.mime);
    let internet_id = parsed.as_ref().and_then(|p| p.message_id()).map(|id| format!("<{id}>"));
    json!({"@odata.type": "#microsoft.graph.message", "id": m.id, "parentFolderId": m.folder, "receivedDateTime": m.received.to_rfc3339_opts(chrono::SecondsFormat::Secs, true), "internetMessageId": internet_id})
}

fn route(inner: &mut Inner, base: &str, user: &str, method: &Method, rest: &str, query: &HashMap<String, String>, body: &[u8]) -> Response {
    let parts: Vec<String> = rest.trim_start_matches('/').split('/').map(percent_decode).collect();
    let p: Vec<&str> = parts.iter().map(String::as_str).collect();
    match (method.as_str(), p.as_slice()) {
        ("GET", ["mailFolders"]) => {
            let mb = &inner.mailboxes[user];
            let value: Vec<Value> = mb.folders.iter().map(|(id, name, _)| json!({"id": id, "displayName": name})).collect();
            reply(200, json!({"value": value}))
        }
        ("POST", ["mailFolders"]) => {
            let name = serde_json::from_slice::<Value>(body).ok().and_then(|v| v["displayName"].as_str().map(str::to_string)).unwrap_or_default();
            inner.next_id += 1;
            let id = format!("AQMkFolder{}", inner.next_id);
            let mb = inner.mailboxes.get_mut(user).unwrap();
            if mb.folders.iter().any(|(_, n, _)| n.eq_ignore_ascii_case(&name)) {
                return error(409, "ErrorFolderExists", "A folder with the specified name already exists.");
            }
            mb.folders.push((id.clone(), name.clone(), None));
            reply(201, json!({"id": id, "displayName": name}))
        }
        // By id or well-known name only, as Graph.
        ("GET", ["mailFolders", folder]) => {
            match inner.mailboxes[user].folders.iter().find(|(id, _, wk)| id == folder || wk.is_some_and(|w| w.eq_ignore_ascii_case(folder))) {
                Some((id, name, _)) => reply(200, json!({"id": id, "displayName": name})),
                None => error(404, "ErrorItemNotFound", "The specified object was not found in the store."),
            }
        }
        ("GET", ["mailFolders", folder, "messages"]) => {
            let mb = &inner.mailboxes[user];
            let Some(fid) = folder_id(mb, folder) else { return error(404, "ErrorItemNotFound", "not found") };
            let wanted = query.get("$filter").and_then(|f| f.strip_prefix("internetMessageId eq '")).map(|f| f.trim_end_matches('\'').to_string());
            let value: Vec<Value> = mb
                .messages
                .iter()
                .filter(|m| m.folder == fid)
                .map(|m| message_json_expanded(m, query))
                .filter(|j| wanted.as_ref().is_none_or(|w| j["internetMessageId"] == w.as_str()))
                .collect();
            reply(200, json!({"value": value}))
        }
        ("GET", ["mailFolders", folder, "messages", "delta"]) => delta(inner, base, user, folder, query),
        ("GET", ["messages", id, "$value"]) => match inner.mailboxes[user].messages.iter().find(|m| m.id == *id) {
            Some(m) => ([("content-type", "text/plain")], m.mime.clone()).into_response(),
            None => error(404, "ErrorItemNotFound", "The specified object was not found in the store."),
        },
        ("GET", ["messages", id]) => match inner.mailboxes[user].messages.iter().find(|m| m.id == *id) {
            Some(m) => reply(200, message_json(m)),
            None => error(404, "ErrorItemNotFound", "The specified object was not found in the store."),
        },
        ("POST", ["messages", id, "move"]) => {
            let dest = serde_json::from_slice::<Value>(body).ok().and_then(|v| v["destinationId"].as_str().map(str::to_string)).unwrap_or_default();
            inner.seq += 1;
            inner.next_id += 1;
            let (seq, new_id) = (inner.seq, format!("AAMkAGI2TG93AAA{}+/x=", inner.next_id));
            let mb = inner.mailboxes.get_mut(user).unwrap();
            let Some(dest) = folder_id(mb, &dest) else { return error(400, "ErrorInvalidIdMalformed", "Id is malformed.") };
            let Some(m) = mb.messages.iter_mut().find(|m| m.id == *id) else {
                return error(404, "ErrorItemNotFound", "The specified object was not found in the store.");
            };
            mb.removed.push((m.id.clone(), m.folder.clone(), seq));
            (m.id, m.folder, m.seq) = (new_id, dest, seq);
            let moved = message_json(m);
            reply(201, moved)
        }
        ("POST", ["sendMail"]) => send_mail(inner, user, body),
        _ => error(400, "BadRequest", &format!("Unsupported request {method} {rest}")),
    }
}

/// A delta round: `$deltatoken=N` (changes after N), `$skiptoken=SINCE.UPTO.OFFSET` (a page).
fn delta(inner: &mut Inner, base: &str, user: &str, folder: &str, query: &HashMap<String, String>) -> Response {
    let (since, upto, offset) = if let Some(t) = query.get("$skiptoken") {
        let n: Vec<u64> = t.split('.').filter_map(|x| x.parse().ok()).collect();
        if n.len() != 3 {
            return error(400, "BadRequest", "bad skiptoken");
        }
        (n[0], n[1], n[2] as usize)
    } else if let Some(t) = query.get("$deltatoken") {
        (t.parse().unwrap_or(0), inner.seq, 0)
    } else {
        (0, inner.seq, 0)
    };
    let mb = &inner.mailboxes[user];
    let Some(fid) = folder_id(mb, folder) else { return error(404, "ErrorItemNotFound", "not found") };
    let mut changes: Vec<(u64, Value)> =
        mb.messages.iter().filter(|m| m.folder == fid && m.seq > since && m.seq <= upto).map(|m| (m.seq, message_json(m))).collect();
    if since > 0 {
        changes.extend(
            mb.removed
                .iter()
                .filter(|(_, f, s)| *f == fid && *s > since && *s <= upto)
                .map(|(id, _, s)| (*s, json!({"id": id, "@removed": {"reason": "deleted"}}))),
        );
    }
    changes.sort_by_key(|(s, _)| *s);
    let page: Vec<Value> = changes.iter().skip(offset).take(inner.page_size).map(|(_, v)| v.clone()).collect();
    let link = format!("{base}/users/{user}/mailFolders/{folder}/messages/delta");
    let mut out = json!({"@odata.context": format!("{base}/$metadata#Collection(message)"), "value": page});
    if offset + inner.page_size < changes.len() {
        out["@odata.nextLink"] = json!(format!("{link}?$skiptoken={since}.{upto}.{}", offset + inner.page_size));
    } else {
        out["@odata.deltaLink"] = json!(format!("{link}?$deltatoken={upto}"));
    }
    reply(200, out)
}

/// `sendMail` with MIME: base64 in a `text/plain` body; delivered to the recipients here and
/// filed in the sender's Sent Items, as Exchange does.
fn send_mail(inner: &mut Inner, user: &str, body: &[u8]) -> Response {
    let text: String = String::from_utf8_lossy(body).chars().filter(|c| !c.is_whitespace()).collect();
    let Ok(mime) = base64::engine::general_purpose::STANDARD.decode(text) else {
        return error(400, "ErrorMimeContentInvalidBase64String", "Invalid base64 string for MIME content.");
    };
    let Some(parsed) = mail_parser::MessageParser::default().parse(&mime) else {
        return error(400, "ErrorMimeContentInvalid", "The MIME content is invalid.");
    };
    let mut recipients: Vec<String> = Vec::new();
    for list in [parsed.to(), parsed.cc(), parsed.bcc()].into_iter().flatten() {
        recipients.extend(list.iter().filter_map(|a| a.address()).map(|a| a.to_ascii_lowercase()));
    }
    if recipients.is_empty() {
        return error(400, "ErrorInvalidRecipients", "At least one recipient is not valid.");
    }
    let now = chrono::Utc::now();
    for r in recipients {
        add_message(inner, &r, "inbox", mime.clone(), now);
    }
    add_message(inner, user, "sentitems", mime, now);
    StatusCode::ACCEPTED.into_response()
}
