//! The yearly publication of the register (Awb 9:12a): a document an organisation puts on its
//! website, Dutch or English, that prints on A4. Numbers and the measures taken only: no
//! reference, name or complaint text. `klachtd report --year Y --format publication` writes it
//! with its style inline; the workspace serves it to supervisors at `/register/publication`.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{Datelike, NaiveDate};

use super::templates::Pages;
use super::{require_reading, Shared};
use crate::domain::register::Report;

/// The publication's stylesheet (screen and print).
pub const STYLE: &str = include_str!("../../../templates/web/publication.css");

/// The first and last day of `year`; `None` outside the dates chrono knows.
pub fn year_period(year: i32) -> Option<(NaiveDate, NaiveDate)> {
    Some((NaiveDate::from_ymd_opt(year, 1, 1)?, NaiveDate::from_ymd_opt(year, 12, 31)?))
}

/// The publication of `report` (a year's register) as an HTML document. `inline_style`: the
/// stylesheet in the document (a file to publish), or linked (the workspace, whose CSP allows
/// no inline style).
pub fn render(pages: &Pages, report: &Report, organisation: &str, year: i32, inline_style: bool) -> Result<String, minijinja::Error> {
    let context = minijinja::context! {
        report => report,
        organisation => organisation,
        year => year,
        style => inline_style.then_some(STYLE),
    };
    pages.render("publication.html", context)
}

/// `/register/publication?year=Y` (default: last year). Supervisors only, as the register.
pub async fn page(State(web): State<Shared>, headers: HeaderMap, Query(query): Query<HashMap<String, String>>) -> Response {
    // One read connection for the page's reads (see `Reader`), back before any counting.
    let (session, mut reader) = match require_reading(&web, &headers).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    // Of one organisation the supervisor works for (issue 25).
    let supervised = match super::organisations::supervised(&web, &session, &mut reader, &query, "/register").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let today = crate::domain::calendar::amsterdam_date(chrono::Utc::now());
    let year = match query.get("year").map(|y| y.trim()).filter(|y| !y.is_empty()) {
        None => today.year() - 1,
        Some(y) => match y.parse::<i32>() {
            Ok(y) if (2000..=9999).contains(&y) => y,
            _ => return web.message(StatusCode::BAD_REQUEST, Some(&session), "bad_input", &format!("year: {y:?} is not a year"), Some("/register")),
        },
    };
    let Some((from, to)) = year_period(year) else {
        return web.message(StatusCode::BAD_REQUEST, Some(&session), "bad_input", "year", Some("/register"));
    };
    let version = match web.store.register_version_on(&mut reader).await {
        Ok(v) => v,
        Err(e) => return super::pages::store_failure(&web, &session, e),
    };
    drop(reader);
    let figures = match web.register.get(&web, &version, from, to, today, &supervised.chosen).await {
        Ok((f, _)) => f,
        Err(e) => {
            tracing::warn!(error = %e, "web: cannot read the register");
            return web.message(StatusCode::SERVICE_UNAVAILABLE, Some(&session), "unavailable", "", Some("/register"));
        }
    };
    let report = &figures.report;
    let organisation = web.settings.get().of(&supervised.chosen).context.name.clone();
    match render(&web.pages, report, &organisation, year, false) {
        Ok(html) => (StatusCode::OK, axum::response::Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "the publication could not be rendered");
            (StatusCode::INTERNAL_SERVER_ERROR, "the page could not be rendered; see the log").into_response()
        }
    }
}

/// The publication's stylesheet.
pub async fn stylesheet() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_publication_has_the_figures_and_no_reference() {
        let mut facts = Vec::new();
        use crate::domain::procedure::{CaseOutcome, Category};
        for (i, outcome) in [Some(CaseOutcome::Founded), Some(CaseOutcome::NotHandled), Some(CaseOutcome::Settled), None].into_iter().enumerate() {
            let received = NaiveDate::from_ymd_opt(2026, 3, 2 + i as u32).unwrap();
            let d = crate::domain::calendar::Deadlines::compute(&Default::default(), received);
            facts.push(crate::domain::register::CaseFacts {
                reference: format!("KL-2026-000{i}"),
                received_on: received,
                category: Some(Category::Staff),
                outcome,
                acknowledge_by: d.acknowledge_by,
                acknowledged_on: Some(received),
                progress_by: d.progress_by,
                progress_on: None,
                respond_by: d.respond_by,
                responded_on: outcome.map(|_| received + chrono::Days::new(7)),
                requests_for_information: 0,
                external_body: None,
                measures: (i == 0).then(|| "Balie-instructie aangepast.".to_string()),
                original_respond_by: None,
                postponements: u32::from(i == 0),
                not_handled_ground: (i == 1).then_some(crate::domain::awb::NotHandledGround::TooSlight),
                final_responses: i64::from(i == 0),
                hearing_outcome: (i == 0).then_some(crate::domain::awb::HearingOutcome::Held),
            });
        }
        let (from, to) = year_period(2026).unwrap();
        let report = crate::domain::register::compute(&facts, &Default::default(), from, to, NaiveDate::from_ymd_opt(2027, 2, 1).unwrap());
        for language in ["nl", "en"] {
            let html = render(&Pages::load(None, language).unwrap(), &report, "Dienst Voorbeeld", 2026, true).unwrap();
            assert!(html.contains(&format!("<html lang=\"{language}\">")), "{html}");
            assert!(html.contains("<style>") && html.contains("@media print"), "the style is inline");
            assert!(html.contains(r#"id="pub-received">4<"#) && html.contains(r#"id="pub-postponed">1<"#), "{html}");
            assert!(html.contains(r#"id="pub-heard">1<"#) && html.contains(r#"id="pub-not-handled">1<"#) && html.contains(r#"id="pub-settled">1<"#));
            assert!(html.contains("Balie-instructie aangepast."));
            assert!(!html.contains("KL-2026"), "no case reference in a publication");
        }
        let nl = render(&Pages::load(None, "nl").unwrap(), &report, "Dienst Voorbeeld", 2026, false).unwrap();
        assert!(nl.contains("Klachtenjaarverslag 2026") && nl.contains("9:12a") && nl.contains("Belang of gedraging kennelijk onvoldoende"), "{nl}");
        assert!(nl.contains(r#"href="/register/publication.css""#) && !nl.contains("<style>"));
    }
}
