//! The handlers' web workspace (issue 13): served by the daemon on `[web] listen`, server-
//! rendered HTML from templates an operator can override, no JavaScript. Sign-in by single-use
//! link (auth), the cases and the register (pages), the command line's actions as forms
//! (forms). Access follows R9: a handler sees their own cases, a supervisor all.

pub mod accesses;
pub mod assets;
pub mod auth;
mod case_forms;
pub mod find;
pub mod forms;
pub mod list;
pub mod oidc;
pub mod organisations;
pub mod pages;
pub mod paper;
pub mod publication;
pub mod register;
pub mod rows;
pub mod set_aside;
pub mod signed;
pub mod templates;
pub mod view;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use tokio::sync::{watch, Notify};

use crate::app::actions::Actions;
use crate::app::clock::Clock;
use crate::app::intake::Intake;
use crate::app::settings::SharedSettings;
use crate::config::Config;
use crate::store::attachments::AttachmentStore;
use crate::store::web::WebSession;
use crate::store::{Reader, Store};

use self::auth::RateLimiter;
use self::templates::Pages;

/// Everything a request needs.
pub struct Web {
    pub store: Store,
    pub settings: SharedSettings,
    pub actions: Arc<Actions>,
    pub pages: Pages,
    pub attachments: AttachmentStore,
    pub uploads_dir: std::path::PathBuf,
    pub public_url: String,
    pub behind_proxy: bool,
    pub session: Duration,
    /// Wakes the outbox, so a letter or a sign-in link goes out at once.
    pub wake: Arc<Notify>,
    /// Registers a set-aside mail as a complaint (the release of quarantined mail).
    pub intake: Arc<Intake>,
    pub clock: Clock,
    per_address: Mutex<RateLimiter>,
    per_client: Mutex<RateLimiter>,
    /// Signing in with the organisation's account, when `[web.oidc]` is configured.
    pub oidc: Option<oidc::OidcSignIn>,
    /// The register's figures, made one at a time and kept while they hold.
    pub register: register::RegisterFigures,
    /// The record of case pages opened, downloads and refusals, written in batches.
    accesses: accesses::Accesses,
}

pub type Shared = Arc<Web>;

impl Web {
    pub fn new(config: &Config, store: Store, settings: SharedSettings, actions: Arc<Actions>, wake: Arc<Notify>, intake: Arc<Intake>) -> anyhow::Result<Self> {
        let web = config.web.as_ref().ok_or_else(|| anyhow::anyhow!("[web] is not configured"))?;
        Ok(Self {
            pages: Pages::load(config.templates.dir.as_deref(), &config.templates.language)?,
            store,
            settings,
            actions,
            attachments: AttachmentStore::new(&config.storage.data_dir),
            uploads_dir: config.storage.data_dir.join("uploads"),
            public_url: web.public_url(),
            behind_proxy: web.behind_proxy,
            session: Duration::from_secs(u64::from(web.session_hours) * 3600),
            wake,
            intake,
            clock: Clock::system(),
            // Sign-in links: 5 per address and 20 per client per 15 minutes.
            per_address: Mutex::new(RateLimiter::new(5, Duration::from_secs(15 * 60))),
            per_client: Mutex::new(RateLimiter::new(20, Duration::from_secs(15 * 60))),
            oidc: web.oidc.as_ref().map(|o| oidc::OidcSignIn::new(o, &web.public_url())).transpose()?,
            register: register::RegisterFigures::default(),
            accesses: accesses::Accesses::default(),
        })
    }

    /// Renders a page; a template error becomes a plain 500 (and a log line without data).
    pub fn page(&self, status: StatusCode, name: &str, context: minijinja::Value) -> Response {
        match self.pages.render(name, context) {
            Ok(html) => (status, Html(html)).into_response(),
            Err(e) => {
                tracing::error!(template = name, error = %e, "web page could not be rendered");
                (StatusCode::INTERNAL_SERVER_ERROR, "the page could not be rendered; see the log").into_response()
            }
        }
    }

    /// A page with one message (an error, a refusal, a confirmation) and a way back.
    pub fn message(&self, status: StatusCode, session: Option<&WebSession>, title_key: &str, text: &str, back: Option<&str>) -> Response {
        let context = minijinja::context! {
            user => session.map(|s| s.user.clone()),
            csrf => session.map(|s| s.csrf.clone()),
            title_key => title_key,
            text => self.pages.say(text),
            back => back,
        };
        self.page(status, "message.html", context)
    }

    /// Records an access to a case (a page opened, a download, a refusal) in its history, with
    /// those of other requests at the same time (see `accesses`).
    pub async fn record_access(
        &self,
        case_id: crate::domain::reference::CaseId,
        user: &crate::store::web::WebUser,
        action: crate::domain::history::HistoryEvent,
        detail: &str,
    ) -> Result<(), crate::store::StoreError> {
        let access = crate::store::web::Access { case_id, actor: format!("{} (web)", user.name), action, detail: detail.to_string() };
        self.accesses.record(&self.store, access).await
    }

    /// The signed-in handler of this request, if any.
    pub async fn session(&self, headers: &HeaderMap) -> Option<WebSession> {
        auth::cookie(headers, auth::SESSION_COOKIE)?;
        match self.store.reader().await {
            Ok(mut reader) => self.session_on(&mut reader, headers).await,
            Err(e) => {
                tracing::warn!(error = %e, "web: cannot read the session");
                None
            }
        }
    }

    /// [`Web::session`] on the page's read connection.
    pub async fn session_on(&self, reader: &mut Reader, headers: &HeaderMap) -> Option<WebSession> {
        let token = auth::cookie(headers, auth::SESSION_COOKIE)?;
        match self.store.web_session(reader, &auth::hash(&token)).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "web: cannot read the session");
                None
            }
        }
    }

    /// The client's address: the proxy's `X-Forwarded-For` (its last entry over all header
    /// lines, the one our proxy added; earlier ones the client may have written) when behind
    /// one, else the peer.
    pub fn client(&self, peer: SocketAddr, headers: &HeaderMap) -> String {
        if self.behind_proxy {
            let last =
                headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).map(str::trim).rfind(|s| !s.is_empty());
            if let Some(last) = last {
                return last.to_string();
            }
        }
        peer.ip().to_string()
    }

    /// Counts a request for a link; the address is kept only as a hash (of bounded size).
    pub fn rate_ok(&self, address: &str, client: &str) -> bool {
        let now = std::time::Instant::now();
        let client_ok = self.per_client.lock().unwrap_or_else(|e| e.into_inner()).allow(client, now);
        client_ok && self.per_address.lock().unwrap_or_else(|e| e.into_inner()).allow(&auth::hash(&address.to_ascii_lowercase()), now)
    }
}

/// Signed in, or sent to the sign-in page.
pub async fn require(web: &Web, headers: &HeaderMap) -> Result<WebSession, Response> {
    web.session(headers).await.ok_or_else(|| Redirect::to("/sign-in").into_response())
}

/// [`require`] for a page that reads more: the session, and the read connection it was read
/// on, for the page's other reads (see [`Reader`]).
pub async fn require_reading(web: &Web, headers: &HeaderMap) -> Result<(WebSession, Reader), Response> {
    let to_sign_in = || Redirect::to("/sign-in").into_response();
    let mut reader = web.store.reader().await.map_err(|e| {
        tracing::warn!(error = %e, "web: cannot read the session");
        to_sign_in()
    })?;
    let session = web.session_on(&mut reader, headers).await.ok_or_else(to_sign_in)?;
    Ok((session, reader))
}

/// The routes of the workspace.
pub fn router(web: Shared) -> Router {
    Router::new()
        .route("/", get(find::my_day))
        .route("/my-day/seen", post(find::mark_seen))
        .route("/style.css", get(assets::stylesheet))
        .route("/sign-in", get(pages::sign_in_form).post(forms::ask_link))
        .route("/sign-in/{token}", get(pages::confirm_link).post(forms::use_link))
        .route("/sign-in/oidc", get(oidc::start))
        .route("/sign-in/oidc/callback", get(oidc::callback))
        .route("/sign-out", post(forms::sign_out))
        .route("/cases", get(find::cases))
        .route("/cases/{reference}", get(pages::case))
        .route("/cases/{reference}/attachments/{index}", get(pages::attachment))
        .route("/cases/{reference}/{action}", post(forms::act))
        .route("/register", get(register::page))
        .route("/register.csv", get(register::csv))
        .route("/set-aside", get(set_aside::list))
        .route("/set-aside/{id}", get(set_aside::show))
        .route("/set-aside/{id}/register", post(set_aside::register))
        .route("/register/publication", get(publication::page))
        .route("/register/publication.css", get(publication::stylesheet))
        .route("/paper", get(pages::paper_form).post(paper::register).layer(DefaultBodyLimit::max(paper::MAX_BODY)))
        .fallback(|State(web): State<Shared>, headers: HeaderMap| async move {
            let session = web.session(&headers).await;
            web.message(StatusCode::NOT_FOUND, session.as_ref(), "not_found", "", Some("/cases"))
        })
        .layer(axum::middleware::from_fn_with_state(web.clone(), rejection_pages))
        .layer(axum::middleware::from_fn(remember_target))
        .layer(axum::middleware::from_fn(security_headers))
        .with_state(web)
}

/// axum refuses a request it cannot take (a body over the limit, a form or a path it cannot
/// read) with a line of plain English; the handler gets the workspace's page, in their
/// language, with the same status.
async fn rejection_pages(State(web): State<Shared>, request: Request, next: Next) -> Response {
    // Only the cookies are needed (for the session), not every header of every request.
    let mut headers = HeaderMap::new();
    for cookie in request.headers().get_all(header::COOKIE) {
        headers.append(header::COOKIE, cookie.clone());
    }
    let response = next.run(request).await;
    let plain = response.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"text/plain"));
    if !plain || !response.status().is_client_error() {
        return response;
    }
    let key = if response.status() == StatusCode::PAYLOAD_TOO_LARGE { "too_large" } else { "bad_request" };
    let session = web.session(&headers).await;
    web.message(response.status(), session.as_ref(), key, "", Some("/cases"))
}

/// A page asked for before signing in (a bookmark, a link in a reminder) is where the handler
/// lands once signed in: the redirect to the sign-in page remembers it (see `auth::landing`).
async fn remember_target(request: Request, next: Next) -> Response {
    let target = (request.method() == axum::http::Method::GET).then(|| request.uri().path_and_query().map(|p| p.as_str().to_string())).flatten();
    let mut response = next.run(request).await;
    let to_sign_in = response.status().is_redirection() && response.headers().get(header::LOCATION).is_some_and(|l| l.as_bytes() == b"/sign-in");
    if let Some(cookie) = target.filter(|_| to_sign_in).and_then(|t| auth::next_cookie(&t)) {
        auth::add_cookie(&mut response, &cookie);
    }
    response
}

/// Headers on every response: a strict CSP (no inline script, nothing from elsewhere), no
/// sniffing, no framing, no referrer, and no caching of pages that carry personal data.
async fn security_headers(request: Request, next: Next) -> Response {
    let cacheable = request.uri().path() == "/style.css";
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
    );
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if !cacheable {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Serves the workspace on `listener` until shutdown.
pub async fn serve(listener: tokio::net::TcpListener, web: Shared, mut shutdown: watch::Receiver<bool>) -> std::io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "web workspace listening");
    }
    let app = router(web).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = shutdown.wait_for(|stop| *stop).await;
        })
        .await
}

/// The peer address, for handlers that need it.
pub type Peer = ConnectInfo<SocketAddr>;

#[cfg(test)]
mod tests {
    use crate::config::Config;

    fn config(web: &str) -> Config {
        let text = format!(
            "[organisation]\nname = \"X\"\ncomplaints_address = \"klachten@example.nl\"\nregulation_url = \"https://example.nl/r\"\n\
             [imap]\nhost = \"127.0.0.1\"\nport = 143\nuser = \"u\"\npassword = \"p\"\ntls = \"none\"\n[smtp]\nhost = \"127.0.0.1\"\nport = 25\ntls = \"none\"\n{web}"
        );
        Config::parse(&text).unwrap()
    }

    fn web_problems(web: &str) -> Vec<String> {
        config(web).problems().into_iter().filter(|p| p.key.starts_with("web")).map(|p| p.key).collect()
    }

    #[test]
    fn every_documented_web_key_exists_with_its_default() {
        let example = include_str!("../../../config/klachtd.example.toml");
        let block = example.split("# [web]\n").nth(1).expect("the example documents [web]").split("\n\n").next().unwrap();
        let keys: Vec<&str> =
            block.lines().filter_map(|l| l.strip_prefix("# ")).filter(|l| l.split_once(" = ").is_some_and(|(k, _)| !k.contains(' '))).collect();
        assert_eq!(keys.len(), 4, "{keys:?}");
        let web = config(&format!("[web]\n{}\n", keys.join("\n"))).web.unwrap();
        assert_eq!((web.behind_proxy, web.session_hours), (false, 9), "the documented defaults");
    }

    #[test]
    fn the_workspace_is_off_without_its_section_and_loopback_by_default() {
        assert!(config("").web.is_none());
        assert!(web_problems("[web]\nlisten = \"127.0.0.1:8080\"\n").is_empty());
        let c = config("[web]\nlisten = \"127.0.0.1:8080\"\n");
        let web = c.web.unwrap();
        assert_eq!(web.public_url(), "http://127.0.0.1:8080");
        assert_eq!(web.session_hours, 9);
    }

    #[test]
    fn elsewhere_than_loopback_needs_a_proxy_and_https() {
        assert_eq!(web_problems("[web]\nlisten = \"0.0.0.0:8080\"\npublic_url = \"https://k.example.nl\"\n"), ["web.listen"]);
        assert!(web_problems("[web]\nlisten = \"0.0.0.0:8080\"\npublic_url = \"https://k.example.nl/\"\nbehind_proxy = true\n").is_empty());
        assert_eq!(web_problems("[web]\nlisten = \"127.0.0.1:8080\"\npublic_url = \"http://k.example.nl\"\n"), ["web.public_url"]);
        assert_eq!(web_problems("[web]\nlisten = \"127.0.0.1:8080\"\npublic_url = \"ftp://x\"\n"), ["web.public_url"]);
        assert_eq!(web_problems("[web]\nlisten = \"127.0.0.1:8080\"\nsession_hours = 0\n"), ["web.session_hours"]);
        let c = config("[web]\nlisten = \"0.0.0.0:8080\"\npublic_url = \"https://k.example.nl/\"\nbehind_proxy = true\n");
        let web = c.web.unwrap();
        assert_eq!(web.public_url(), "https://k.example.nl");
    }

    #[test]
    fn handler_mails_link_to_the_workspace_instead_of_a_command() {
        for language in ["nl", "en"] {
            let letters = crate::app::templates::Letters::load(None, language).unwrap();
            let mut context = crate::app::templates::sample_context();
            for letter in ["assigned", "reminder", "closed-case-mail", "delivery-failed"] {
                let with = letters.render(letter, &context).unwrap();
                assert!(with.body.contains("https://klachten.example.nl/cases"), "{language}/{letter}: {}", with.body);
                assert!(!with.body.contains("klachtd cases show"), "{language}/{letter}");
            }
            context.web_url = None;
            for letter in ["assigned", "reminder"] {
                let without = letters.render(letter, &context).unwrap();
                assert!(without.body.contains("klachtd cases show") && !without.body.contains("/cases/"), "{language}/{letter}");
            }
        }
    }
}
