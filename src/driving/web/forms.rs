//! What the forms post: asking for and using a sign-in link, signing out, every action on a
//! case (a [`CaseAction`](crate::domain::case_action::CaseAction) from its form, carried out as
//! the command line does, so a refusal reads the same). Every form carries its CSRF token. (The
//! paper complaint's form is in `paper.rs`.)

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;

use super::auth::{self, BROWSER_COOKIE, SESSION_COOKIE};
use super::signed::SignedForm;
use super::{case_forms, Peer, Shared};
use crate::app::actions::{ActionError, Delivery};
use crate::domain::reference::CaseRef;
use crate::domain::vocabulary::{MailKind, OutboxStatus};
use crate::store::web::WebSession;
use crate::store::OutgoingMail;
use crate::telemetry::one_line;

/// The sign-in form: whether or not the address is a handler's, the answer is the same page
/// (no one learns who the handlers are), and the link goes out through the outbox.
pub async fn ask_link(State(web): State<Shared>, peer: Peer, headers: HeaderMap, Form(form): Form<HashMap<String, String>>) -> Response {
    let Some(browser) = auth::cookie(&headers, BROWSER_COOKIE) else {
        // No cookie (blocked, or expired): start over, which sets one.
        return Redirect::to("/sign-in").into_response();
    };
    if !auth::csrf_matches(&auth::sign_in_csrf(&browser), form.get("csrf").map(String::as_str)) {
        return web.message(StatusCode::FORBIDDEN, None, "csrf", "", Some("/sign-in"));
    }
    let address = form.get("email").map(|e| e.trim().to_ascii_lowercase()).unwrap_or_default();
    let sent =
        || web.page(StatusCode::OK, "sign-in.html", minijinja::context! { csrf => auth::sign_in_csrf(&browser), sent => true, oidc => web.oidc.is_some() });
    // No address of ours looks like this: the same answer, and nothing counted or kept.
    if crate::domain::vocabulary::EmailAddress::parse(&address).is_err() {
        return sent();
    }
    let client = web.client(peer.0, &headers);
    if !web.rate_ok(&address, &client) {
        tracing::warn!("web: sign-in links asked for too often; refused for a while");
        return web.message(StatusCode::TOO_MANY_REQUESTS, None, "too_many", "", Some("/sign-in"));
    }
    match web.store.web_user(&address).await {
        // The link is made and queued apart, so a known address answers as fast as an unknown
        // one and with the same page, whatever happens to the link.
        Ok(Some(user)) => {
            let (web, browser) = (web.clone(), browser.clone());
            tokio::spawn(async move {
                match queue_link(&web, &user, &browser).await {
                    Ok(()) => tracing::info!("web: sign-in link queued"),
                    Err(e) => tracing::warn!("web: sign-in link not queued: {e}"),
                }
            });
        }
        Ok(None) => tracing::info!("web: sign-in asked for an address that is no active handler's"),
        Err(e) => {
            tracing::warn!(error = %e, "web: cannot look up a handler");
            return web.message(StatusCode::SERVICE_UNAVAILABLE, None, "unavailable", "", Some("/sign-in"));
        }
    }
    sent()
}

/// Why a sign-in link was not queued (logged; the page says the same either way).
#[derive(Debug, thiserror::Error)]
enum LinkError {
    #[error("the mail cannot be rendered: {0}")]
    Render(#[from] minijinja::Error),
    #[error("cannot store it: {0}")]
    Store(#[from] crate::store::StoreError),
}

/// Makes a sign-in link for `user`, bound to `browser`, and queues the mail that carries it.
///
/// The workspace is not one organisation's (issue 25): the mail names every organisation the
/// handler works for, and comes from the first of them (by key), so that a handler of one
/// organisation never hears from, or of, another.
async fn queue_link(web: &super::Web, user: &crate::store::web::WebUser, browser: &str) -> Result<(), LinkError> {
    let token = auth::new_token();
    let link = format!("{}/sign-in/{token}", web.public_url);
    let settings = web.settings.get();
    let theirs: Vec<_> = web.store.handler_organisations(&user.email).await?.iter().map(|key| settings.of(key).clone()).collect();
    let sender = theirs.first().unwrap_or_else(|| settings.first()).clone();
    let names: Vec<&str> = theirs.iter().map(|o| o.context.name.as_str()).collect();
    let context = minijinja::context! {
        user => user, link => link, minutes => auth::LINK_VALID.as_secs() / 60, organisation => sender.context.clone(), organisations => names,
    };
    let text = web.pages.render("sign-in-mail.txt", context)?;
    let (subject, body) = text.split_once('\n').unwrap_or((&text, ""));
    let mail = OutgoingMail {
        kind: MailKind::SignInLink,
        recipient: user.email.clone(),
        recipient_name: Some(user.name.clone()),
        subject: subject.trim_start_matches("Subject:").trim().to_string(),
        body: body.trim_start_matches('\n').to_string(),
        message_id: crate::app::new_message_id("sign-in", sender.message_id_domain()),
        in_reply_to: None,
        references: Vec::new(),
        status: OutboxStatus::Pending,
    };
    let expires = crate::store::now() + auth::LINK_VALID.as_secs() as i64;
    web.store.create_sign_in_link(&auth::hash(&token), &user.email, &auth::hash(browser), expires, &mail, sender.key.as_str()).await?;
    web.wake.notify_one();
    Ok(())
}

/// The button of a sign-in link: works once, within 15 minutes, in the browser that asked for
/// it; then a session for a working day. (The form's secret is the link's token itself; bound to
/// the asking browser, a forged post from elsewhere cannot sign anyone in.)
pub async fn use_link(State(web): State<Shared>, headers: HeaderMap, Path(token): Path<String>) -> Response {
    let browser = auth::cookie(&headers, BROWSER_COOKIE);
    let email = match (auth::well_formed(&token), &browser) {
        (true, Some(browser)) => match web.store.use_sign_in_link(&auth::hash(&token), &auth::hash(browser)).await {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(error = %e, "web: cannot check a sign-in link");
                return web.message(StatusCode::SERVICE_UNAVAILABLE, None, "unavailable", "", Some("/sign-in"));
            }
        },
        _ => None,
    };
    let Some(email) = email else {
        tracing::info!("web: a sign-in link was refused (unknown, used, expired or another browser)");
        return web.message(StatusCode::BAD_REQUEST, None, "link_invalid", "", Some("/sign-in"));
    };
    let Some(cookie) = open_session(&web, &email).await else {
        return web.message(StatusCode::SERVICE_UNAVAILABLE, None, "unavailable", "", Some("/sign-in"));
    };
    tracing::info!("web: handler signed in");
    // "My day", or the page they asked for before signing in.
    let mut response = Redirect::to(&auth::landing(&headers)).into_response();
    auth::add_cookie(&mut response, &cookie);
    auth::add_cookie(&mut response, &auth::forget_next());
    response
}

/// A new session for the handler with this address, for a working day: the `Set-Cookie` value
/// that carries it, or `None` if it cannot be stored (logged).
pub(super) async fn open_session(web: &super::Web, email: &str) -> Option<String> {
    let (session, csrf) = (auth::new_token(), auth::new_token());
    let expires = crate::store::now() + web.session.as_secs() as i64;
    if let Err(e) = web.store.create_session(&auth::hash(&session), email, &csrf, expires).await {
        tracing::warn!(error = %e, "web: cannot store a session");
        return None;
    }
    Some(auth::set_cookie(SESSION_COOKIE, &session, web.session))
}

/// Signing out (the session and its token checked by [`SignedForm`]).
pub async fn sign_out(State(web): State<Shared>, headers: HeaderMap, _form: SignedForm) -> Response {
    if let Some(token) = auth::cookie(&headers, SESSION_COOKIE) {
        let _ = web.store.end_session(&auth::hash(&token)).await;
    }
    let mut response = Redirect::to("/sign-in").into_response();
    auth::add_cookie(&mut response, &auth::set_cookie(SESSION_COOKIE, &"0".repeat(64), std::time::Duration::ZERO));
    auth::set_browser_cookie(&mut response, &auth::new_token());
    response
}

pub(super) fn delivered(d: Delivery) -> String {
    match d {
        Delivery::Mail(to) => format!("queued for {to}"),
        Delivery::Print(path) => format!("written to {} for printing and posting", path.display()),
    }
}

/// One action on a case, as `klachtd cases ACTION` does it: the form of the action named by
/// the path's last segment, as a [`CaseAction`](crate::domain::case_action::CaseAction), carried out by `Actions::perform_as`, which
/// checks who may act (the case's handler and supervisors, as the reply token; checking an
/// assignment supervisors only) and records a refusal.
pub async fn act(State(web): State<Shared>, Path((reference, name)): Path<(String, String)>, form: SignedForm) -> Response {
    let session = &form.session;
    let back = format!("/cases/{reference}");
    // Only actions we know reach the history (the path segment is the user's to write).
    let Some(action) = case_forms::case_action(&name, form.body()) else {
        return web.message(StatusCode::NOT_FOUND, Some(session), "not_found", "", Some(&back));
    };
    let done = match CaseRef::parse_any(&reference) {
        Some(parsed) => web.actions.perform_as(&session.user, &parsed, &name, action).await,
        // Not a reference: as a case that does not exist.
        None => Err(ActionError::Unknown),
    };
    match done {
        Ok(_) => {
            web.wake.notify_one();
            tracing::info!(%reference, action = name, "handler action on the web");
            Redirect::to(&format!("/cases/{reference}?done={name}")).into_response()
        }
        Err(e) => {
            tracing::info!(%reference, action = name, "handler action on the web not carried out");
            NotDone { web: &web, session, back: &back, error: e }.into_response()
        }
    }
}

/// An action that was not carried out, as its page: refused (422, with the reason), the
/// database or the disk away (503), or failed (500, the cause logged); a case the handler may
/// not act on (403) or not read, answered as an unknown one (404, the page of an unknown case,
/// which names no case). The one translation of an [`ActionError`] into a response.
pub(super) struct NotDone<'a> {
    pub web: &'a super::Web,
    pub session: &'a WebSession,
    /// The page to go back to.
    pub back: &'a str,
    pub error: ActionError,
}

impl IntoResponse for NotDone<'_> {
    fn into_response(self) -> Response {
        let Self { web, session, back, error } = self;
        match error {
            ActionError::Transient(e) => {
                tracing::warn!(error = %e, "web: action not carried out; the database or the disk is away");
                web.message(StatusCode::SERVICE_UNAVAILABLE, Some(session), "unavailable", "", Some(back))
            }
            ActionError::Refused(reason) => web.message(StatusCode::UNPROCESSABLE_ENTITY, Some(session), "refused", &web.pages.refusal(&reason), Some(back)),
            ActionError::Failed(e) => {
                tracing::error!(error = %one_line(&e), "web: action failed");
                web.message(StatusCode::INTERNAL_SERVER_ERROR, Some(session), "failed", "", Some(back))
            }
            ActionError::NotAllowed(reference) => web.message(StatusCode::FORBIDDEN, Some(session), "not_yours", &reference.to_string(), Some(back)),
            ActionError::Unknown => web.message(StatusCode::NOT_FOUND, Some(session), "not_found", "", Some("/cases")),
        }
    }
}
