//! The register (R10) in the workspace: its page with charts, its CSV, and the figures both
//! (and the yearly publication) are made from. A year of a large register is 100,000 cases
//! and a second or more of work, so the figures are made one period at a time and kept until
//! what the register counts changes (see [`RegisterVersion`]). A request that finds them
//! changed while new ones are being made gets the last ones at once, with the time they are
//! of (the page says it); with none yet, it waits for the new ones, and takes them when they
//! were begun after it came. So supervisors who look at the register together take one read
//! connection and one computation, never every read connection. Figures that are slow to make
//! are made again at most once every [`SPACING`] times as long as they took (see [`SLOW`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{Datelike, NaiveDate};

use super::organisations::{supervised, Supervised};
use super::pages::{store_failure, today};
use super::view::{bar_chart, month_bars, per_month};
use super::{require_reading, Shared, Web};
use crate::app::settings::Settings;
use crate::domain::organisation::OrganisationKey;
use crate::domain::register::Report;
use crate::store::web::WebSession;
use crate::store::{RegisterVersion, StoreError};

/// The register's figures of a period: the report, and the cases received per month.
#[derive(Debug)]
pub struct Figures {
    /// Every figure and every measure (the CSV).
    pub report: Report,
    /// The report as the page shows it: the newest [`MEASURES_SHOWN`] measures, newest first.
    pub shown: Report,
    /// `(year, month, cases)`, every month of the period.
    pub months: Vec<(i32, u32, usize)>,
}

/// Measures the register page lists; the CSV has them all. A year of a large register records
/// tens of thousands, and the page with all of them took a supervisor's browser and a core of the
/// server some 20 ms to make for every look at the figures (issue 24).
pub const MEASURES_SHOWN: usize = 25;

impl Figures {
    fn new(mut report: Report, months: Vec<(i32, u32, usize)>) -> Self {
        // The rest of the report is copied for the page, not every measure only to drop it.
        let all = std::mem::take(&mut report.measures);
        let shown = Report { measures: all.iter().rev().take(MEASURES_SHOWN).cloned().collect(), ..report.clone() };
        report.measures = all;
        Self { report, shown, months }
    }
}

/// Figures that took at least this long to make are not made again at once when the register
/// changes: on a large register the intake changes it all the time, and a second of counting
/// after every change would hold a core the other pages need (issue 24).
const SLOW: Duration = Duration::from_millis(50);
/// Slow figures are made again at most once every this many times as long as they took; until
/// then a request gets the last ones, with the time they are of.
const SPACING: u32 = 10;

/// The figures last made, and what they were made of.
struct Made {
    /// From, to, today, and the organisation (issue 25).
    period: (NaiveDate, NaiveDate, NaiveDate, OrganisationKey),
    /// The settings (the calendar counts working days) they were made with.
    settings: Arc<Settings>,
    version: RegisterVersion,
    /// When they were begun, and how long they took to make.
    begun: Instant,
    took: Duration,
    figures: Arc<Figures>,
}

impl Made {
    /// When these figures are of, as the page says it, seen from `now`.
    fn as_of(&self, now: Instant) -> i64 {
        crate::store::now() - now.saturating_duration_since(self.begun).as_secs() as i64
    }

    /// Whether these slow figures are too recent to be made again at `now`.
    fn spaced(&self, now: Instant) -> bool {
        self.took >= SLOW && now < self.begun + self.took * SPACING
    }
}

/// One computation of the register at a time, and the figures it made last.
#[derive(Default)]
pub struct RegisterFigures {
    last: std::sync::Mutex<Option<Arc<Made>>>,
    /// Held while figures are made.
    making: tokio::sync::Mutex<()>,
}

impl RegisterFigures {
    fn last(&self, period: &(NaiveDate, NaiveDate, NaiveDate, OrganisationKey), settings: &Arc<Settings>) -> Option<Arc<Made>> {
        let last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        last.as_ref().filter(|m| &m.period == period && Arc::ptr_eq(&m.settings, settings)).cloned()
    }

    /// The figures of `organisation`'s cases received from `from` to `to`, as of `today`, and
    /// when they were begun (`None`: for this request, or while nothing changed). `version`:
    /// what the register counts now, read by the page on its read connection.
    pub async fn get(
        &self,
        web: &Web,
        version: &RegisterVersion,
        from: NaiveDate,
        to: NaiveDate,
        today: NaiveDate,
        organisation: &OrganisationKey,
    ) -> Result<(Arc<Figures>, Option<i64>), StoreError> {
        let came = Instant::now();
        let settings = web.settings.get();
        let period = (from, to, today, organisation.clone());
        if let Some(made) = self.last(&period, &settings) {
            if &made.version == version {
                return Ok((made.figures.clone(), None));
            }
            if made.spaced(came) {
                return Ok((made.figures.clone(), Some(made.as_of(came))));
            }
        }
        let making = match self.making.try_lock() {
            Ok(guard) => guard,
            Err(_) => {
                // Being made again: the last ones now, rather than a wait of seconds.
                if let Some(made) = self.last(&period, &settings) {
                    return Ok((made.figures.clone(), Some(made.as_of(came))));
                }
                self.making.lock().await
            }
        };
        if let Some(made) = self.last(&period, &settings).filter(|m| m.begun >= came) {
            return Ok((made.figures.clone(), None));
        }
        let begun = Instant::now();
        // Read before the facts: a change in between is in the facts, and makes the next
        // request count again (never the other way round).
        let version = web.store.register_version().await?;
        let facts = web.store.register_facts(from, to, organisation).await?;
        let calendar = settings.calendar.clone();
        // The counting is CPU work of a second on a large register: off the request threads.
        let figures = tokio::task::spawn_blocking(move || {
            Figures::new(crate::domain::register::compute(&facts, &calendar, from, to, today), per_month(&facts, from, to))
        })
        .await
        // A panic in the counting stays a panic, as it would have been here.
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        let figures = Arc::new(figures);
        let made = Made { period, settings, version, begun, took: begun.elapsed(), figures: figures.clone() };
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(made));
        drop(making);
        Ok((figures, None))
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
/// figures and when they were begun.
type RegisterFor = (WebSession, Supervised, Arc<Figures>, Option<i64>);

/// The register of the period and the organisation the query names, for a supervisor of that
/// organisation; or the page that says no.
async fn register_for(web: &Shared, headers: &HeaderMap, query: &HashMap<String, String>) -> Result<RegisterFor, Response> {
    // One read connection for the page's reads (see `Reader`), back before any counting.
    let (session, mut reader) = require_reading(web, headers).await?;
    let supervised = supervised(web, &session, &mut reader, query, "/register").await?;
    let today = today(web);
    let (from, to) = period(query, today).map_err(|e| web.message(StatusCode::BAD_REQUEST, Some(&session), "bad_input", &e, Some("/register")))?;
    let version = web.store.register_version_on(&mut reader).await.map_err(|e| store_failure(web, &session, e))?;
    drop(reader);
    let (figures, of) = web.register.get(web, &version, from, to, today, &supervised.chosen).await.map_err(|e| store_failure(web, &session, e))?;
    Ok((session, supervised, figures, of))
}

/// The register (R10) for a period, with its figures as charts. Supervisors only.
pub async fn page(State(web): State<Shared>, headers: HeaderMap, Query(query): Query<HashMap<String, String>>) -> Response {
    let (session, supervised, figures, of) = match register_for(&web, &headers, &query).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let report = &figures.shown;
    let t = web.pages.strings();
    let word = |key: &str| t.get(key).and_then(|v| v.as_str()).unwrap_or(key).to_string();
    let month_names = word("month_names");
    let months: Vec<&str> = month_names.split_whitespace().collect();
    let deadline_bars = |f: &crate::domain::register::DeadlineFigures| {
        vec![(word("on_time"), f.on_time), (word("late"), f.late), (word("missed"), f.missed), (word("open"), f.open)]
    };
    let charts = vec![
        (word("chart_months"), bar_chart(&word("chart_months"), &month_bars(&figures.months, &months))),
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
        user => session.user, csrf => session.csrf, report => report, charts => charts, from => report.from.to_string(), to => report.to.to_string(),
        figures_of => of, organisation => supervised.chosen.as_str(), organisations => supervised.keys(),
        measures_total => figures.report.measures.len(),
    };
    web.page(StatusCode::OK, "register.html", context)
}

/// The register as CSV (as `klachtd report --format csv`).
pub async fn csv(State(web): State<Shared>, headers: HeaderMap, Query(query): Query<HashMap<String, String>>) -> Response {
    let (_, supervised, figures, _) = match register_for(&web, &headers, &query).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let report = &figures.report;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::calendar::Calendar;

    #[test]
    fn the_page_lists_the_newest_measures_and_the_csv_all_of_them() {
        let day = |d| NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
        let mut report = crate::domain::register::compute(&[], &Calendar::default(), day(1), day(30), day(30));
        // In the order of the register (by case), the newest last.
        report.measures = (1..=MEASURES_SHOWN + 3).map(|i| (format!("KL-2026-{i:04}"), format!("Maatregel {i}."))).collect();
        let figures = Figures::new(report, Vec::new());
        assert_eq!(figures.report.measures.len(), MEASURES_SHOWN + 3);
        let shown: Vec<&str> = figures.shown.measures.iter().map(|(r, _)| r.as_str()).collect();
        assert_eq!(shown.len(), MEASURES_SHOWN);
        assert_eq!(shown[0], format!("KL-2026-{:04}", MEASURES_SHOWN + 3), "newest first");
        assert_eq!(shown[MEASURES_SHOWN - 1], "KL-2026-0004");
        assert_eq!(figures.shown.received, figures.report.received);
        let pages = crate::driving::web::templates::Pages::load(None, "en").unwrap();
        let context = minijinja::context! { report => &figures.shown, organisations => ["x"], charts => Vec::<(String, String)>::new(), measures_total => figures.report.measures.len(), from => "2026-11-01", to => "2026-11-30" };
        let html = pages.render("register.html", context).unwrap();
        assert!(html.contains(&format!("The newest {MEASURES_SHOWN} of {}; the CSV has all of them.", MEASURES_SHOWN + 3)), "{html}");
        assert!(html.contains("KL-2026-0028") && !html.contains("KL-2026-0003<"), "{html}");
    }
}
