//! The pages: sign-in, a case, an attachment, the register (R10), the form for a
//! paper complaint. Every opening of a case page and every download is recorded in the case's
//! history; so is a refusal.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{Datelike, NaiveDate};

use super::auth::{self, BROWSER_COOKIE};
use super::organisations::{supervised, Supervised};
use super::view::{bar_chart, case_actions, case_row, per_month};
use super::{require, Shared};
use crate::domain::calendar::amsterdam_date;
use crate::domain::history::HistoryEvent;
use crate::domain::reference::{CaseId, CaseRef};
use crate::store::web::WebUser;
use crate::store::StoreError;

fn actor(user: &WebUser) -> String {
    format!("{} (web)", user.name)
}

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
pub(super) async fn readable(web: &super::Web, session: &crate::store::web::WebSession, reference: &str, what: &str) -> Result<(CaseId, CaseRef), Response> {
    let Some(reference) = CaseRef::parse_any(reference) else {
        return Err(not_found(web, session));
    };
    match web.store.may_read(&reference, &session.user).await {
        Ok(Some(id)) => Ok((id, reference)),
        Ok(None) => {
            // The refusal is the one thing recorded: who tried, and what.
            if let Ok(Some(link)) = web.store.case_link(&reference).await {
                if let Err(e) = web.store.record_access(link.id, &actor(&session.user), HistoryEvent::AccessRefused, what).await {
                    tracing::warn!(error = %e, "web: cannot record a refused access");
                }
                tracing::warn!(%reference, "web: access refused (R9)");
            }
            Err(not_found(web, session))
        }
        Err(e) => Err(store_failure(web, session, e)),
    }
}

/// A case: the complaint, the thread, attachments, notes, history, and the action forms.
pub async fn case(State(web): State<Shared>, headers: HeaderMap, Path(reference): Path<String>, Query(query): Query<HashMap<String, String>>) -> Response {
    let session = match require(&web, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (case_id, reference) = match readable(&web, &session, &reference, "case page").await {
        Ok(found) => found,
        Err(r) => return r,
    };
    if let Err(e) = web.store.record_access(case_id, &actor(&session.user), HistoryEvent::Viewed, "case page").await {
        // Not shown unrecorded (R9).
        return store_failure(&web, &session, e);
    }
    let (detail, thread, handlers, may_act, (_, organisation)) = match async {
        Ok::<_, StoreError>((
            web.store.case_detail(&reference).await?,
            web.store.thread(case_id).await?,
            web.store.handlers().await?,
            web.store.may_act_on(&reference, &session.user.email).await?,
            web.store.case_and_organisation(&reference).await?,
        ))
    }
    .await
    {
        Ok(v) => v,
        Err(e) => return store_failure(&web, &session, e),
    };
    let settings = web.settings.get();
    let row = case_row(&settings.calendar, today(&web), detail.summary.clone());
    let notes: Vec<_> = detail.history.iter().filter(|e| e.action == "note").cloned().collect();
    // Those a case can go to: of its organisation (issue 25), which also keeps the names of
    // another organisation's staff out of the page.
    let handlers: Vec<String> = handlers.into_iter().filter(|h| h.active && h.organisations.contains(&organisation)).map(|h| h.name).collect();
    let hearing_invited = detail.history.iter().any(|e| e.action == crate::domain::awb::HistoryKind::HearingInvited.as_str());
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
    let session = match require(&web, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let reference = match readable(&web, &session, &reference, &format!("attachment {index}")).await {
        Ok((_, reference)) => reference,
        Err(refused) => return refused,
    };
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
    if let Err(e) = web.store.record_access(found.case_id, &actor(&session.user), HistoryEvent::AttachmentDownloaded, &found.filename).await {
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

fn period(query: &HashMap<String, String>, today: NaiveDate) -> Result<(NaiveDate, NaiveDate), String> {
    let date = |key: &str, default: NaiveDate| match query.get(key).filter(|v| !v.is_empty()) {
        None => Ok(default),
        Some(v) => NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| format!("{key}: {v:?} is not a date (YYYY-MM-DD)")),
    };
    let from = date("from", NaiveDate::from_ymd_opt(today.year(), 1, 1).unwrap_or(today))?;
    let to = date("to", today)?;
    if to < from {
        return Err(format!("the period ends ({to}) before it begins ({from})"));
    }
    Ok((from, to))
}

/// What the register page and its CSV show: the session, the organisation (issue 25), the
/// facts and the figures.
type RegisterFor = (crate::store::web::WebSession, Supervised, Vec<crate::domain::register::CaseFacts>, crate::domain::register::Report);

/// The register of the period and the organisation the query names, for a supervisor of that
/// organisation; or the page that says no.
async fn register_for(web: &Shared, headers: &HeaderMap, query: &HashMap<String, String>) -> Result<RegisterFor, Response> {
    let session = require(web, headers).await?;
    let supervised = supervised(web, &session, query, "/register").await?;
    let today = today(web);
    let (from, to) = period(query, today).map_err(|e| web.message(StatusCode::BAD_REQUEST, Some(&session), "bad_input", &e, Some("/register")))?;
    let facts = web.store.register_facts(from, to, &supervised.chosen).await.map_err(|e| store_failure(web, &session, e))?;
    let report = crate::domain::register::compute(&facts, &web.settings.get().calendar, from, to, today);
    Ok((session, supervised, facts, report))
}

/// The register (R10) for a period, with its figures as charts. Supervisors only.
pub async fn register(State(web): State<Shared>, headers: HeaderMap, Query(query): Query<HashMap<String, String>>) -> Response {
    let (session, supervised, facts, report) = match register_for(&web, &headers, &query).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let (from, to) = (report.from, report.to);
    let t = web.pages.strings();
    let word = |key: &str| t.get(key).and_then(|v| v.as_str()).unwrap_or(key).to_string();
    let deadline_bars = |f: &crate::domain::register::DeadlineFigures| {
        vec![(word("on_time"), f.on_time), (word("late"), f.late), (word("missed"), f.missed), (word("open"), f.open)]
    };
    let charts = vec![
        (word("chart_months"), bar_chart(&word("chart_months"), &per_month(&facts, from, to))),
        (word("deadline_acknowledge"), bar_chart(&word("deadline_acknowledge"), &deadline_bars(&report.acknowledgement))),
        (word("deadline_progress"), bar_chart(&word("deadline_progress"), &deadline_bars(&report.progress_notice))),
        (word("deadline_respond"), bar_chart(&word("deadline_respond"), &deadline_bars(&report.final_response))),
        (
            word("chart_outcomes"),
            bar_chart(
                &word("chart_outcomes"),
                &report.by_outcome.iter().map(|(k, v)| (word(&format!("outcome_{}", k.replace('-', "_"))), *v)).collect::<Vec<_>>(),
            ),
        ),
        (
            word("chart_categories"),
            bar_chart(&word("chart_categories"), &report.by_category.iter().map(|(k, v)| (word(&format!("category_{k}")), *v)).collect::<Vec<_>>()),
        ),
    ];
    let context = minijinja::context! {
        user => session.user, csrf => session.csrf, report => report, charts => charts, from => from.to_string(), to => to.to_string(),
        organisation => supervised.chosen.as_str(), organisations => supervised.keys(),
    };
    web.page(StatusCode::OK, "register.html", context)
}

/// The register as CSV (as `klachtd report --format csv`).
pub async fn register_csv(State(web): State<Shared>, headers: HeaderMap, Query(query): Query<HashMap<String, String>>) -> Response {
    let (_, supervised, _, report) = match register_for(&web, &headers, &query).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    // Named by its organisation, but for the one of a configuration without several.
    let organisation = match supervised.chosen.as_str() {
        crate::domain::organisation::DEFAULT_KEY => String::new(),
        key => format!("{key}-"),
    };
    let mut response = report.to_csv().into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"register-{organisation}{}-{}.csv\"", report.from, report.to)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    response
}

/// The form to register a complaint received by post.
pub async fn paper_form(State(web): State<Shared>, headers: HeaderMap) -> Response {
    let session = match require(&web, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    web.page(StatusCode::OK, "paper.html", minijinja::context! { user => session.user, csrf => session.csrf, today => today(&web).to_string() })
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
