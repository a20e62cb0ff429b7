//! Signing in with the organisation's account (OpenID Connect, `[web.oidc]`), beside the
//! e-mailed link: `/sign-in/oidc` sends the browser to the identity provider with a fresh
//! state (also in a `__Host-` cookie, so the answer must come back to the browser that started,
//! within ten minutes) and the nonce and PKCE verifier derived from it with a key of this
//! process (HMAC-SHA256): nothing is kept per sign-in, so no one can fill a store of sign-ins
//! under way. The provider sends the browser back to `/sign-in/oidc/callback` with a code,
//! which [`Provider::sign_in`] exchanges and checks. The configured claim must name a
//! configured, active handler; nobody else gets in.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use ring::rand::SecureRandom;

use super::{auth, Shared, Web};
use crate::config::oidc::Oidc;
use crate::driven::oidc::{OidcError, Provider};

/// How long a started sign-in waits for the provider's answer.
const PENDING_FOR: Duration = Duration::from_secs(10 * 60);

/// The sign-in with the identity provider.
pub struct OidcSignIn {
    pub provider: Provider,
    redirect_uri: String,
    /// Derives each sign-in's nonce and PKCE verifier from its state.
    key: ring::hmac::Key,
}

impl OidcSignIn {
    pub fn new(config: &Oidc, public_url: &str) -> anyhow::Result<Self> {
        let mut key = [0u8; 32];
        ring::rand::SystemRandom::new().fill(&mut key).map_err(|_| anyhow::anyhow!("the operating system's random generator failed"))?;
        Ok(Self {
            provider: Provider::new(config)?,
            redirect_uri: format!("{public_url}/sign-in/oidc/callback"),
            key: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key),
        })
    }

    /// The nonce and the PKCE verifier of the sign-in with `state` (64 hex digits each).
    fn secrets(&self, state: &str) -> (String, String) {
        let derive = |label: &str| {
            let tag = ring::hmac::sign(&self.key, format!("{label}:{state}").as_bytes());
            tag.as_ref().iter().map(|b| format!("{b:02x}")).collect::<String>()
        };
        (derive("nonce"), derive("pkce-verifier"))
    }
}

/// A new state: 192 random bits and the time it was made (Unix seconds), as 64 hex digits.
fn new_state(now: i64) -> String {
    format!("{}{:016x}", &auth::new_token()[..48], now)
}

/// Whether `state` was made within [`PENDING_FOR`] before `now`.
fn fresh(state: &str, now: i64) -> bool {
    let made = state.get(48..).and_then(|t| i64::from_str_radix(t, 16).ok());
    made.is_some_and(|t| t <= now + 60 && now - t < PENDING_FOR.as_secs() as i64)
}

/// `GET /sign-in/oidc`: off to the identity provider.
pub async fn start(State(web): State<Shared>) -> Response {
    let Some(oidc) = &web.oidc else {
        return web.message(StatusCode::NOT_FOUND, None, "not_found", "", Some("/sign-in"));
    };
    let state = new_state(crate::store::now());
    let (nonce, verifier) = oidc.secrets(&state);
    let url = match oidc.provider.authorization_url(&state, &nonce, &verifier, &oidc.redirect_uri).await {
        Ok(url) => url,
        Err(e) => return failed(&web, e),
    };
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
    // The state must be this browser's (its cookie, which goes once signed in), and recent.
    let ours = auth::cookie(&headers, auth::OIDC_COOKIE).is_some_and(|c| auth::csrf_matches(&c, Some(state)));
    if !ours || !fresh(state, crate::store::now()) {
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
    let (nonce, verifier) = oidc.secrets(state);
    let value = match oidc.provider.sign_in(code, &verifier, &nonce, &oidc.redirect_uri).await {
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
    // A page that goes on to "my day" (or the page asked for before signing in), rather than a
    // redirect: the browser came here from the provider's site, and on a navigation that began
    // there it sends no SameSite=Strict cookie, so a redirect would arrive without the new session.
    let mut response = web.page(StatusCode::OK, "signed-in.html", minijinja::context! { next => auth::landing(&headers) });
    auth::add_cookie(&mut response, &cookie);
    auth::add_cookie(&mut response, &auth::forget_next());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_is_fresh_for_ten_minutes_and_its_secrets_are_its_own() {
        let now = 1_800_000_000;
        let state = new_state(now);
        assert!(auth::well_formed(&state), "a state is a cookie value of ours");
        assert!(fresh(&state, now) && fresh(&state, now + 599));
        assert!(!fresh(&state, now + 600) && !fresh(&state, now - 61), "too old, or from the future");
        assert!(!fresh("00", now) && !fresh(&"z".repeat(64), now));
        let oidc: Oidc = toml::from_str("provider = \"google\"\nclient_id = \"a\"\nclient_secret_env = \"S\"\nclaim = \"sub\"\n").unwrap();
        let oidc = &oidc;
        let (a, b) = (OidcSignIn::new(oidc, "http://x").unwrap(), OidcSignIn::new(oidc, "http://x").unwrap());
        let (nonce, verifier) = a.secrets(&state);
        assert_eq!(a.secrets(&state), (nonce.clone(), verifier.clone()), "derived again alike at the callback");
        assert_ne!(nonce, verifier);
        assert_ne!(a.secrets(&new_state(now)).0, nonce, "another sign-in, other secrets");
        assert_ne!(b.secrets(&state).0, nonce, "another process, another key");
        assert_eq!(verifier.len(), 64, "a PKCE verifier is 43 to 128 characters");
    }
}
