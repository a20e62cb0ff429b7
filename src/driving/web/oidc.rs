//! Signing in with the organisation's account (OpenID Connect, `[web.oidc]`), beside the
//! e-mailed link: `/sign-in/oidc` sends the browser to the identity provider with a fresh
//! state, nonce and PKCE verifier (kept here, in memory, for ten minutes; the state also in a
//! `__Host-` cookie, so the answer must come back to the browser that started); the provider
//! sends it back to `/sign-in/oidc/callback` with a code, which [`Provider::sign_in`] exchanges
//! and checks. The configured claim must name a configured, active handler; nobody else gets in.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::{auth, Shared, Web};
use crate::config::oidc::Oidc;
use crate::driven::oidc::{OidcError, Provider};

/// How long a started sign-in waits for the provider's answer.
const PENDING_FOR: Duration = Duration::from_secs(10 * 60);
/// Started sign-ins kept at most (each is a few hundred bytes).
const MAX_PENDING: usize = 10_000;

struct Pending {
    nonce: String,
    verifier: String,
    started: Instant,
}

/// The sign-in with the identity provider: the provider, and the sign-ins under way.
pub struct OidcSignIn {
    pub provider: Provider,
    redirect_uri: String,
    /// By the hash of their state.
    pending: Mutex<HashMap<String, Pending>>,
}

impl OidcSignIn {
    pub fn new(config: &Oidc, public_url: &str) -> anyhow::Result<Self> {
        Ok(Self { provider: Provider::new(config)?, redirect_uri: format!("{public_url}/sign-in/oidc/callback"), pending: Mutex::default() })
    }

    /// Keeps a started sign-in; false when too many are under way.
    fn remember(&self, state: &str, pending: Pending) -> bool {
        let mut map = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, p| p.started.elapsed() < PENDING_FOR);
        if map.len() >= MAX_PENDING {
            return false;
        }
        map.insert(auth::hash(state), pending);
        true
    }

    /// The sign-in started with `state`, once, within its time.
    fn take(&self, state: &str) -> Option<Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner()).remove(&auth::hash(state)).filter(|p| p.started.elapsed() < PENDING_FOR)
    }
}

/// `GET /sign-in/oidc`: off to the identity provider.
pub async fn start(State(web): State<Shared>) -> Response {
    let Some(oidc) = &web.oidc else {
        return web.message(StatusCode::NOT_FOUND, None, "not_found", "", Some("/sign-in"));
    };
    let (state, nonce, verifier) = (auth::new_token(), auth::new_token(), auth::new_token());
    let url = match oidc.provider.authorization_url(&state, &nonce, &verifier, &oidc.redirect_uri).await {
        Ok(url) => url,
        Err(e) => return failed(&web, e),
    };
    if !oidc.remember(&state, Pending { nonce, verifier, started: Instant::now() }) {
        tracing::warn!("oidc: too many sign-ins under way; refused for a while");
        return web.message(StatusCode::TOO_MANY_REQUESTS, None, "too_many", "", Some("/sign-in"));
    }
    let mut response = Redirect::to(&url).into_response();
    auth::add_cookie(&mut response, &auth::set_cookie_same_site(auth::OIDC_COOKIE, &state, PENDING_FOR, "Lax"));
    response
}

/// `GET /sign-in/oidc/callback?code=...&state=...` (or `?error=...`): the provider's answer.
pub async fn callback(State(web): State<Shared>, headers: HeaderMap, Query(query): Query<HashMap<String, String>>) -> Response {
    let Some(oidc) = &web.oidc else {
        return web.message(StatusCode::NOT_FOUND, None, "not_found", "", Some("/sign-in"));
    };
    let state = query.get("state").map(String::as_str).unwrap_or_default();
    // The state must be this browser's (its cookie) and one we started, once.
    let ours = auth::cookie(&headers, auth::OIDC_COOKIE).is_some_and(|c| auth::csrf_matches(&c, Some(state)));
    let Some(pending) = ours.then(|| oidc.take(state)).flatten() else {
        tracing::info!("oidc: an answer from the identity provider was refused (unknown, used, expired or another browser)");
        return web.message(StatusCode::BAD_REQUEST, None, "oidc_failed", "", Some("/sign-in"));
    };
    if let Some(error) = query.get("error") {
        // The provider's error code (e.g. access_denied) names no one.
        let code = crate::domain::text::single_line(error, 60);
        tracing::info!(code, "oidc: the identity provider did not sign the handler in");
        return web.message(StatusCode::FORBIDDEN, None, "oidc_failed", "", Some("/sign-in"));
    }
    let code = query.get("code").map(String::as_str).filter(|c| !c.is_empty() && c.len() <= 4096).unwrap_or_default();
    let value = match oidc.provider.sign_in(code, &pending.verifier, &pending.nonce, &oidc.redirect_uri).await {
        Ok(Some(value)) => value,
        Ok(None) => return refused(&web, "the ID token lacks the configured claim"),
        Err(e) => return failed(&web, e),
    };
    let Some(email) = oidc.provider.config().handler_for(&value) else {
        return refused(&web, "the account is mapped to no handler");
    };
    let user = match web.store.web_user(email).await {
        Ok(Some(user)) => user,
        Ok(None) => return refused(&web, "the account is mapped to a handler who is not active"),
        Err(e) => {
            tracing::warn!(error = %e, "web: cannot look up a handler");
            return web.message(StatusCode::SERVICE_UNAVAILABLE, None, "unavailable", "", Some("/sign-in"));
        }
    };
    let Some(cookie) = super::forms::open_session(&web, &user.email).await else {
        return web.message(StatusCode::SERVICE_UNAVAILABLE, None, "unavailable", "", Some("/sign-in"));
    };
    tracing::info!("web: handler signed in with the organisation's account");
    // A page that goes on to the cases, rather than a redirect: the browser came here from the
    // provider's site, and on a navigation that began there it sends no SameSite=Strict
    // cookie, so a redirect would arrive without the new session.
    let mut response = web.page(StatusCode::OK, "signed-in.html", minijinja::context! {});
    auth::add_cookie(&mut response, &cookie);
    auth::add_cookie(&mut response, &auth::set_cookie_same_site(auth::OIDC_COOKIE, &"0".repeat(64), Duration::ZERO, "Lax"));
    response
}

/// An account that may not sign in: a clear page, and the reason in the log without the person.
fn refused(web: &Web, reason: &str) -> Response {
    tracing::info!(reason, "oidc: sign-in refused");
    web.message(StatusCode::FORBIDDEN, None, "oidc_refused", "", Some("/sign-in"))
}

fn failed(web: &Web, error: OidcError) -> Response {
    match error {
        OidcError::Unavailable(e) => {
            tracing::warn!(error = %e, "oidc: the identity provider cannot be used");
            web.message(StatusCode::SERVICE_UNAVAILABLE, None, "oidc_unavailable", "", Some("/sign-in"))
        }
        OidcError::Refused(reason) => {
            tracing::info!(%reason, "oidc: sign-in refused");
            web.message(StatusCode::FORBIDDEN, None, "oidc_failed", "", Some("/sign-in"))
        }
    }
}
