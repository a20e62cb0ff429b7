//! The pages: sign-in, a case, an attachment, the form for a paper complaint (the register
//! is in `register.rs`). Every opening of a case page and every download is recorded in the case's
//! history; so is a refusal.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;

use super::auth::{self, BROWSER_COOKIE};
use super::view::{case_actions, case_row};
use super::{require, require_reading, Shared};
use crate::domain::calendar::amsterdam_date;
use crate::domain::history::HistoryEvent;
use crate::domain::reference::{CaseId, CaseRef};
use crate::store::{Reader, StoreError};

pub(super) fn today(web: &super::Web) -> NaiveDate {
    amsterdam_date(web.clock.now())
}

/// The sign-in form. A browser without our random cookie gets one: a link works only in the
/// browser that asked for it.
pub async fn sign_in_form(State(web): State<Shared>, headers: HeaderMap) -> Response {
    let (browser, fresh) = match auth::cookie(&headers, BROWSER_COOKIE) {
        Some(b) => (b, false),
        None => (auth::new_token(), true),
    };
    let mut response =
        web.page(StatusCode::OK, "sign-in.html", minijinja::context! { csrf => auth::sign_in_csrf(&browser), sent => false, oidc => web.oidc.is_some() });
    if fresh {
        auth::set_browser_cookie(&mut response, &browser);
    }
    response
}

/// What a sign-in link opens: a button that signs in. The link usually comes from a webmail
/// page on another site, and a cross-site request carries no SameSite=Strict cookie; the button
/// posts from this page (same site, so the browser cookie comes along). Opening the link uses
/// nothing up, so a mail scanner that follows it does no harm.
pub async fn confirm_link(State(web): State<Shared>, Path(token): Path<String>) -> Response {
    if !auth::well_formed(&token) {
        return web.message(StatusCode::BAD_REQUEST, None, "link_invalid", "", Some("/sign-in"));
    }
    web.page(StatusCode::OK, "sign-in-link.html", minijinja::context! { token => token })
}

pub(super) fn store_failure(web: &super::Web, session: &crate::store::web::WebSession, e: StoreError) -> Response {
    match e {
        StoreError::UnknownCase(_) => not_found(web, session),
        e if e.is_unavailable() => {
            tracing::warn!(error = %e, "web: the database is away");
            web.message(StatusCode::SERVICE_UNAVAILABLE, Some(session), "unavailable", "", Some("/cases"))
        }
        e if e.is_unstorable_value() => web.message(StatusCode::BAD_REQUEST, Some(session), "bad_request", "", Some("/cases")),
        e => {
            tracing::error!(error = %e, "web: the database refused a statement");
            web.message(StatusCode::INTERNAL_SERVER_ERROR, Some(session), "failed", "", Some("/cases"))
        }
    }
}

/// The answer for a case that does not exist, and for one the handler may not read: the
/// page does not tell them apart, so it does not say that a case exists (R9).
fn not_found(web: &super::Web, session: &crate::store::web::WebSession) -> Response {
    web.message(StatusCode::NOT_FOUND, Some(session), "not_found", "", Some("/cases"))
}

/// The case's id and reference if the signed-in handler may read it; otherwise, for a case
/// they may not read as for one that does not exist, 404 (a refusal is recorded in the case's
/// history).
pub(super) async fn readable(
    web: &super::Web,
    session: &crate::store::web::WebSession,
    reader: &mut Reader,
    reference: &str,
    what: &str,
) -> Result<(CaseId, CaseRef), Response> {
    let Some(reference) = CaseRef::parse_any(reference) else {
        return Err(not_found(web, session));
    };
    match web.store.case_access_on(reader, &reference, &session.user).await {
        Ok((id, true)) => Ok((id, reference)),
        Ok((id, false)) => {
            // The refusal is the one thing recorded: who tried, and what.
            if let Err(e) = web.record_access(id, &session.user, HistoryEvent::AccessRefused, what).await {
                tracing::warn!(error = %e, "web: cannot record a refused access");
            }
            tracing::warn!(%reference, "web: access refused (R9)");
            Err(not_found(web, session))
        }
        Err(e) => Err(store_failure(web, session, e)),
    }
}

/// A case: the complaint, the thread, attachments, notes, history, and the action forms.
pub async fn case(State(web): State<Shared>, headers: HeaderMap, Path(reference): Path<String>, Query(query): Query<HashMap<String, String>>) -> Response {
    // One read connection for the page's reads (see `Reader`).
    let (session, mut reader) = match require_reading(&web, &headers).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let (case_id, reference) = match readable(&web, &session, &mut reader, &reference, "case page").await {
        Ok(found) => found,
        Err(r) => return r,
    };
    // The opening is recorded while the case is read (a write waits for the one writer on
    // SQLite), and the page is shown only once it is recorded (R9). The read connection goes
    // back to the pool as soon as the case is read, not when the page is done.
    let recorded = web.record_access(case_id, &session.user, HistoryEvent::Viewed, "case page");
    let read = async {
        let read = web.store.case_page(&mut reader, &reference).await;
        drop(reader);
        read
    };
    let (detail, thread, handlers) = match tokio::join!(recorded, read) {
        (Ok(()), Ok(v)) => v,
        (Err(e), _) | (_, Err(e)) => return store_failure(&web, &session, e),
    };
    // As `Store::may_act_on`: a supervisor, or the case's handler now (names are unique; the
    // session's handler is active).
    let may_act = session.user.supervisor || detail.summary.handler.as_deref() == Some(session.user.name.as_str());
    let settings = web.settings.get();
    let row = case_row(&settings.calendar, today(&web), detail.summary.clone());
    let notes: Vec<_> = detail.history.iter().filter(|e| e.action == HistoryEvent::Note).cloned().collect();
    let hearing_invited = detail.history.iter().any(|e| e.action == HistoryEvent::Awb(crate::domain::awb::HistoryKind::HearingInvited));
    let (next, actions, shown) = case_actions(&detail.summary, session.user.supervisor, hearing_invited);
    let done = query.get("done").filter(|d| d.chars().all(|c| c.is_ascii_lowercase() || c == '-')).cloned();
    let context = minijinja::context! {
        user => session.user, csrf => session.csrf, case => detail, row => row, thread => thread, notes => notes,
        handlers => handlers, may_act => may_act, done => done, today => today(&web).to_string(), next => next, actions => actions, shown => shown,
    };
    web.page(StatusCode::OK, "case.html", context)
}

/// A download: always as an attachment with a safe name, never rendered inline; recorded.
pub async fn attachment(State(web): State<Shared>, headers: HeaderMap, Path((reference, index)): Path<(String, String)>) -> Response {
    let (session, mut reader) = match require_reading(&web, &headers).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let reference = match readable(&web, &session, &mut reader, &reference, &format!("attachment {index}")).await {
        Ok((_, reference)) => reference,
        Err(refused) => return refused,
    };
    drop(reader);
    // The case page numbers attachments from 0; anything else names none.
    let Ok(index) = index.parse::<u32>() else {
        return not_found(&web, &session);
    };
    let found = match web.store.web_attachment(&reference, index).await {
        Ok(Some(a)) => a,
        Ok(None) => return web.message(StatusCode::NOT_FOUND, Some(&session), "not_found", "", Some(&format!("/cases/{reference}"))),
        Err(e) => return store_failure(&web, &session, e),
    };
    let data = match tokio::fs::read(web.attachments.path_of(&found.sha256)).await {
        Ok(d) => d,
        Err(_) => return web.message(StatusCode::GONE, Some(&session), "attachment_gone", "", Some(&format!("/cases/{reference}"))),
    };
    if let Err(e) = web.record_access(found.case_id, &session.user, HistoryEvent::AttachmentDownloaded, &found.filename).await {
        return store_failure(&web, &session, e);
    }
    let name = safe_filename(&found.filename);
    let mut response = data.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    response
}

/// A filename that is safe in a header and on any disk: ASCII letters, digits, `.-_`, the rest `_`.
pub fn safe_filename(name: &str) -> String {
    let cleaned: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '_' }).collect();
    let cleaned = cleaned.trim_start_matches('.').chars().take(100).collect::<String>();
    if cleaned.is_empty() {
        "attachment".into()
    } else {
        cleaned
    }
}

/// The form to register a complaint received by post.
pub async fn paper_form(State(web): State<Shared>, headers: HeaderMap) -> Response {
    let session = match require(&web, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    // A handler of several organisations chooses the one the letter was sent to (issue 25).
    let organisations = match web.store.handler_organisations(&session.user.email).await {
        Ok(keys) => keys.iter().map(|k| k.as_str().to_string()).collect::<Vec<_>>(),
        Err(e) => return store_failure(&web, &session, e),
    };
    web.page(
        StatusCode::OK,
        "paper.html",
        minijinja::context! { user => session.user, csrf => session.csrf, today => today(&web).to_string(), organisations => organisations },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filenames_are_made_safe() {
        assert_eq!(safe_filename("brief van 3 mei.pdf"), "brief_van_3_mei.pdf");
        assert_eq!(safe_filename("../../etc/passwd"), "_.._etc_passwd");
        assert_eq!(safe_filename("a\"b\r\nc.html"), "a_b__c.html");
        assert_eq!(safe_filename(""), "attachment");
        assert_eq!(safe_filename("...."), "attachment");
    }
}
