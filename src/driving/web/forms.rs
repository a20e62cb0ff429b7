//! What the forms post: asking for and using a sign-in link, signing out, every action on a
//! case (a [`CaseAction`] from its form, carried out as
//! the command line does, so a refusal reads the same), and a paper complaint with its scanned
//! documents. Every form carries its CSRF token.

use std::collections::HashMap;

use axum::extract::{Multipart, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::NaiveDate;

use super::auth::{self, BROWSER_COOKIE, SESSION_COOKIE};
use super::pages::{readable, set_browser_cookie};
use super::signed::SignedForm;
use super::{case_forms, require, Peer, Shared};
use crate::app::actions::{ActionError, Delivery, PaperComplaint};
use crate::domain::case_action::CaseAction;
use crate::domain::history::HistoryEvent;
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
    let sent = || web.page(StatusCode::OK, "sign-in.html", minijinja::context! { csrf => auth::sign_in_csrf(&browser), sent => true });
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
async fn queue_link(web: &super::Web, user: &crate::store::web::WebUser, browser: &str) -> Result<(), LinkError> {
    let token = auth::new_token();
    let link = format!("{}/sign-in/{token}", web.public_url);
    let context =
        minijinja::context! { user => user, link => link, minutes => auth::LINK_VALID.as_secs() / 60, organisation => web.settings.get().organisation.clone() };
    let text = web.pages.render("sign-in-mail.txt", context)?;
    let (subject, body) = text.split_once('\n').unwrap_or((&text, ""));
    let mail = OutgoingMail {
        kind: MailKind::SignInLink,
        recipient: user.email.clone(),
        recipient_name: Some(user.name.clone()),
        subject: subject.trim_start_matches("Subject:").trim().to_string(),
        body: body.trim_start_matches('\n').to_string(),
        message_id: crate::app::new_message_id("sign-in", &web.domain),
        in_reply_to: None,
        references: Vec::new(),
        status: OutboxStatus::Pending,
    };
    let expires = crate::store::now() + auth::LINK_VALID.as_secs() as i64;
    web.store.create_sign_in_link(&auth::hash(&token), &user.email, &auth::hash(browser), expires, &mail).await?;
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
    let (session, csrf) = (auth::new_token(), auth::new_token());
    let expires = crate::store::now() + web.session.as_secs() as i64;
    if let Err(e) = web.store.create_session(&auth::hash(&session), &email, &csrf, expires).await {
        tracing::warn!(error = %e, "web: cannot store a session");
        return web.message(StatusCode::SERVICE_UNAVAILABLE, None, "unavailable", "", Some("/sign-in"));
    }
    tracing::info!("web: handler signed in");
    let mut response = Redirect::to("/cases").into_response();
    if let Ok(v) = HeaderValue::from_str(&auth::set_cookie(SESSION_COOKIE, &session, web.session, web.secure)) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

/// Signing out (the session and its token checked by [`SignedForm`]).
pub async fn sign_out(State(web): State<Shared>, headers: HeaderMap, _form: SignedForm) -> Response {
    if let Some(token) = auth::cookie(&headers, SESSION_COOKIE) {
        let _ = web.store.end_session(&auth::hash(&token)).await;
    }
    let mut response = Redirect::to("/sign-in").into_response();
    if let Ok(v) = HeaderValue::from_str(&auth::set_cookie(SESSION_COOKIE, &"0".repeat(64), std::time::Duration::ZERO, web.secure)) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    set_browser_cookie(&web, &mut response, &auth::new_token());
    response
}

fn field<'a>(form: &'a HashMap<String, String>, key: &str) -> Option<&'a str> {
    form.get(key).map(|v| v.trim()).filter(|v| !v.is_empty())
}

fn text(form: &HashMap<String, String>, key: &str) -> String {
    // Browsers send CRLF in text areas; letters are written with LF.
    form.get(key).map(|v| v.replace("\r\n", "\n")).unwrap_or_default()
}

fn date(form: &HashMap<String, String>, key: &str) -> anyhow::Result<NaiveDate> {
    let v = field(form, key).ok_or_else(|| anyhow::anyhow!("{key}: a date is needed (YYYY-MM-DD)"))?;
    NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| anyhow::anyhow!("{key}: {v:?} is not a date (YYYY-MM-DD)"))
}

pub(super) fn delivered(d: Delivery) -> String {
    match d {
        Delivery::Mail(to) => format!("queued for {to}"),
        Delivery::Print(path) => format!("written to {} for printing and posting", path.display()),
    }
}

/// One action on a case, as `klachtd cases ACTION` does it: the form of the action named by
/// the path's last segment, as a [`CaseAction`], carried out by `Actions::perform`. Allowed
/// for the case's handler and supervisors (as the reply token); checking an assignment for
/// supervisors only.
pub async fn act(State(web): State<Shared>, Path((reference, name)): Path<(String, String)>, form: SignedForm) -> Response {
    let session = &form.session;
    let back = format!("/cases/{reference}");
    // Only actions we know reach the history (the path segment is the user's to write).
    let Some(action) = case_forms::case_action(&name, form.body()) else {
        return web.message(StatusCode::NOT_FOUND, Some(session), "not_found", "", Some(&back));
    };
    let (case_id, reference) = match readable(&web, session, &reference, &format!("action {name}")).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let may_act = match web.store.may_act_on(&reference, &session.user.email).await {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(error = %e, "web: cannot check who may act on a case");
            return web.message(StatusCode::SERVICE_UNAVAILABLE, Some(session), "unavailable", "", Some(&back));
        }
    };
    let supervisors_only = action.as_ref().is_ok_and(CaseAction::for_supervisors);
    if !may_act || (supervisors_only && !session.user.supervisor) {
        // A reader who may not act (a former handler; `checked` by a non-supervisor) is
        // refused, and the refusal recorded like any other.
        let _ = web.store.record_access(case_id, &format!("{} (web)", session.user.name), HistoryEvent::AccessRefused, &format!("action {name}")).await;
        return web.message(StatusCode::FORBIDDEN, Some(session), "not_yours", &reference.to_string(), Some(&back));
    }
    let result = match action {
        Ok(action) => web.actions.perform(&reference, action, &format!("{} (web)", session.user.name)).await,
        Err(reason) => Err(reason.into()),
    };
    match result {
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
/// database or the disk away (503), or failed (500, the cause logged). The one translation of
/// an [`ActionError`] into a response.
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
            ActionError::Refused(reason) => web.message(StatusCode::UNPROCESSABLE_ENTITY, Some(session), "refused", &reason, Some(back)),
            ActionError::Failed(e) => {
                tracing::error!(error = %one_line(&e), "web: action failed");
                web.message(StatusCode::INTERNAL_SERVER_ERROR, Some(session), "failed", "", Some(back))
            }
        }
    }
}

/// A complaint received by post, with scanned documents (multipart). Any signed-in handler.
pub async fn register_paper(State(web): State<Shared>, headers: HeaderMap, mut multipart: Multipart) -> Response {
    let session = match require(&web, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let mut form: HashMap<String, String> = HashMap::new();
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    loop {
        match multipart.next_field().await {
            Ok(Some(f)) => {
                let name = f.name().unwrap_or("").to_string();
                let filename = f.file_name().map(str::to_string);
                let data = match f.bytes().await {
                    Ok(d) => d,
                    Err(e) => return web.message(StatusCode::BAD_REQUEST, Some(&session), "bad_input", &e.body_text(), Some("/paper")),
                };
                match filename {
                    Some(file) if name == "documents" && !data.is_empty() => files.push((file, data.to_vec())),
                    Some(_) => {}
                    None => {
                        form.insert(name, String::from_utf8_lossy(&data).into_owned());
                    }
                }
            }
            Ok(None) => break,
            Err(e) => return web.message(StatusCode::BAD_REQUEST, Some(&session), "bad_input", &e.body_text(), Some("/paper")),
        }
    }
    if !auth::csrf_matches(&session.csrf, form.get("csrf").map(String::as_str)) {
        return web.message(StatusCode::FORBIDDEN, Some(&session), "csrf", "", Some("/paper"));
    }
    // A NUL is no part of a text; PostgreSQL would refuse it, SQLite keep it.
    if form.values().chain(files.iter().map(|(name, _)| name)).any(|v| v.contains('\0')) {
        return web.message(StatusCode::BAD_REQUEST, Some(&session), "bad_request", "", Some("/paper"));
    }
    let received = match date(&form, "received") {
        Ok(d) => d,
        Err(e) => return web.message(StatusCode::UNPROCESSABLE_ENTITY, Some(&session), "refused", &e.to_string(), Some("/paper")),
    };
    // register_paper reads the documents from files, as from the command line: each goes into
    // a private directory of its own under its (made safe) name, removed afterwards.
    let dir = web.uploads_dir.join(auth::new_token());
    let mut paths = Vec::new();
    let written = (|| -> std::io::Result<()> {
        crate::store::private_files::create_dir(&dir)?;
        for (i, (name, data)) in files.iter().enumerate() {
            let sub = dir.join(i.to_string());
            crate::store::private_files::create_dir(&sub)?;
            let path = sub.join(super::pages::safe_filename(name));
            crate::store::private_files::write_temporary(&path, data)?;
            paths.push(path);
        }
        Ok(())
    })();
    let result = match written {
        Ok(()) => {
            let paper = PaperComplaint {
                name: form.get("name").cloned().unwrap_or_default(),
                email: field(&form, "email").map(str::to_string),
                postal_address: field(&form, "postal_address").map(|_| text(&form, "postal_address")),
                received,
                description: text(&form, "description"),
                attachments: paths,
            };
            web.actions.register_paper(paper, &format!("{} (web)", session.user.name)).await
        }
        Err(e) => Err(ActionError::disk(anyhow::Error::new(e).context("cannot keep the uploaded documents"))),
    };
    let _ = std::fs::remove_dir_all(&dir);
    match result {
        Ok((reference, delivery)) => {
            web.wake.notify_one();
            tracing::info!(%reference, "paper complaint registered on the web");
            web.message(StatusCode::OK, Some(&session), "registered", &format!("{reference}: {}", delivered(delivery)), Some(&format!("/cases/{reference}")))
        }
        Err(error) => NotDone { web: &web, session: &session, back: "/paper", error }.into_response(),
    }
}
