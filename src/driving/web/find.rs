//! Find and read (issue 24): the cases list with its filters, order and search (all links),
//! and "my day", the start page: my deadlines in the coming five working days, overdue ones,
//! new assignments and new mail on my cases since I last looked.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::{Datelike, Days, NaiveDate};

use super::auth;
use super::list::ListParams;
use super::pages::{store_failure, today};
use super::rows::ListRow;
use super::view::{case_row, sort_by_urgency, Level};
use super::{require, require_reading, Shared};

/// Working days ahead that "my day" looks at.
const MY_DAY_WORKING_DAYS: u32 = 5;

/// The Sunday that ends `today`'s week.
fn week_end(today: NaiveDate) -> NaiveDate {
    today + Days::new(u64::from(6 - today.weekday().num_days_from_monday()))
}

/// The cases list: filtered, sorted, searched as the query says (see [`ListParams`]); only
/// cases the handler may read.
pub async fn cases(State(web): State<Shared>, headers: HeaderMap, Query(query): Query<HashMap<String, String>>) -> Response {
    // One read connection for the page's reads (see `Reader`).
    let (session, mut reader) = match require_reading(&web, &headers).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let params = match ListParams::parse(&query) {
        Ok(p) => p,
        Err(e) => return web.message(StatusCode::BAD_REQUEST, Some(&session), "bad_input", &e, Some("/cases")),
    };
    let today = today(&web);
    let page = match web.store.case_list_on(&mut reader, &session.user, &params.query(), today, week_end(today)).await {
        Ok(p) => p,
        Err(e) => return store_failure(&web, &session, e),
    };
    // Back to the pool before the page is made.
    drop(reader);
    let settings = web.settings.get();
    let rows: Vec<_> = page.cases.into_iter().map(|c| ListRow::value(case_row(&settings.calendar, today, c.summary), c.category)).collect();
    web.page(
        StatusCode::OK,
        "cases.html",
        minijinja::context! {
            user => session.user, csrf => session.csrf, rows => rows, list => params.links(page.more), capped => page.capped,
            cap => crate::store::search::SEARCH_CAP, today => today.to_string(),
        },
    )
}

/// My day, the start page.
pub async fn my_day(State(web): State<Shared>, headers: HeaderMap) -> Response {
    let session = match require(&web, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let today = today(&web);
    let settings = web.settings.get();
    let horizon = settings.calendar.add_working_days(today, MY_DAY_WORKING_DAYS);
    let day = match web.store.my_day(&session.user, horizon).await {
        Ok(d) => d,
        Err(e) => return store_failure(&web, &session, e),
    };
    let mut due: Vec<_> = day.due.into_iter().map(|c| case_row(&settings.calendar, today, c)).collect();
    sort_by_urgency(&mut due);
    let (overdue, coming): (Vec<_>, Vec<_>) = due.into_iter().partition(|r| r.urgent.as_ref().is_some_and(|u| u.level == Level::Missed));
    let assigned: Vec<_> = day.assigned.into_iter().map(|c| case_row(&settings.calendar, today, c)).collect();
    web.page(
        StatusCode::OK,
        "my-day.html",
        minijinja::context! {
            user => session.user, csrf => session.csrf, overdue => overdue, coming => coming, assigned => assigned, mail => day.mail,
            last_look => day.last_look, since => day.since, horizon => horizon.to_string(), today => today.to_string(),
        },
    )
}

/// "Seen": what is on my day now is no longer new.
pub async fn mark_seen(State(web): State<Shared>, headers: HeaderMap, Form(form): Form<HashMap<String, String>>) -> Response {
    let session = match require(&web, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if !auth::csrf_matches(&session.csrf, form.get("csrf").map(String::as_str)) {
        return web.message(StatusCode::FORBIDDEN, Some(&session), "csrf", "", Some("/"));
    }
    match web.store.mark_looked(&session.user.email).await {
        Ok(()) => Redirect::to("/").into_response(),
        Err(e) => store_failure(&web, &session, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_week_ends_on_sunday() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(week_end(d("2026-12-07")), d("2026-12-13"));
        assert_eq!(week_end(d("2026-12-13")), d("2026-12-13"));
        assert_eq!(week_end(d("2026-12-10")), d("2026-12-13"));
    }
}
