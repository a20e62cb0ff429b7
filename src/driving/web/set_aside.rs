//! The supervisors' page of mail that became no case (issue 21, "nothing set aside is out of
//! sight"): what the intake set aside silently and what it quarantined, newest first, with the
//! reason for each; one mail opened, its text escaped; and the one action, registering it as a
//! complaint with its original date of receipt (as `klachtd set-aside register` does). Handlers
//! who are not supervisors get the answer of the register page: for supervisors only.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Serialize;

use super::pages::store_failure;
use super::signed::SignedForm;
use super::{require, Shared};
use crate::app::intake::{IntakeError, Outcome, ReleaseError};
use crate::domain::organisation::OrganisationKey;
use crate::store::set_aside::{HeldCursor, HeldFilter, HeldKind, HeldMail};
use crate::store::web::WebSession;

/// Mails on one page of the list.
const PER_PAGE: u32 = 50;

/// A held mail as the page shows it: the class and the reason in the workspace's words.
#[derive(Debug, Clone, Serialize)]
pub struct HeldRow {
    #[serde(flatten)]
    pub mail: HeldMail,
    pub class: String,
    pub reason_text: String,
}

/// The words for a held mail. A set-aside mail's reason is recorded as a code
/// (`AutoReason::as_str`, `SetAsideReason::as_str`, `own-mail`), written out by the strings'
/// `reason_*` (a code without words shows as itself); a quarantine's reason is recorded
/// described already (`QuarantineReason::describe`).
pub fn held_row(strings: &toml::Table, mail: HeldMail) -> HeldRow {
    let word = |key: String| strings.get(&key).and_then(|v| v.as_str()).map(str::to_string);
    let class = word(format!("held_{}", mail.kind.as_str().replace('-', "_"))).unwrap_or_else(|| mail.kind.as_str().to_string());
    let reason_text = match mail.kind {
        HeldKind::Quarantined => mail.reason.clone(),
        _ => word(format!("reason_{}", mail.reason.replace('-', "_"))).unwrap_or_else(|| mail.reason.clone()),
    };
    HeldRow { mail, class, reason_text }
}

/// The signed-in supervisor with the organisations they work for (issue 25: they see the mail
/// of those only), or the page that says the page is for supervisors.
async fn supervisor(web: &super::Web, headers: &HeaderMap) -> Result<(WebSession, Vec<OrganisationKey>), Response> {
    let session = require(web, headers).await?;
    if !session.user.supervisor {
        tracing::info!("web: a handler who is no supervisor asked for the set-aside mail");
        return Err(web.message(StatusCode::FORBIDDEN, Some(&session), "supervisors_only", "", Some("/cases")));
    }
    match web.store.handler_organisations(&session.user.email).await {
        Ok(organisations) => Ok((session, organisations)),
        Err(e) => Err(store_failure(web, &session, e)),
    }
}

/// The list, newest first, a page at a time (`?before=`: the page after the one that ended there).
pub async fn list(State(web): State<Shared>, headers: HeaderMap, Query(query): Query<HashMap<String, String>>) -> Response {
    let (session, organisations) = match supervisor(&web, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let before = match query.get("before").map(|v| v.parse::<HeldCursor>()) {
        None => None,
        Some(Ok(c)) => Some(c),
        Some(Err(e)) => return web.message(StatusCode::BAD_REQUEST, Some(&session), "bad_input", &format!("before: {e}"), Some("/set-aside")),
    };
    let page = match web.store.held_mails(HeldFilter::All, before, PER_PAGE, Some(&organisations)).await {
        Ok(p) => p,
        Err(e) => return store_failure(&web, &session, e),
    };
    let rows: Vec<HeldRow> = page.mails.into_iter().map(|m| held_row(web.pages.strings(), m)).collect();
    let context = minijinja::context! {
        user => session.user, csrf => session.csrf, rows => rows, older => page.older.map(|c| c.to_string()), first => before.is_none(),
    };
    web.page(StatusCode::OK, "set-aside.html", context)
}

/// One mail: who sent it, when, why it was held, and its text (escaped by the template).
pub async fn show(State(web): State<Shared>, headers: HeaderMap, Path(id): Path<i64>) -> Response {
    let (session, organisations) = match supervisor(&web, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let detail = match web.store.held_mail(id, Some(&organisations)).await {
        Ok(Some(d)) => d,
        Ok(None) => return web.message(StatusCode::NOT_FOUND, Some(&session), "not_found", "", Some("/set-aside")),
        Err(e) => return store_failure(&web, &session, e),
    };
    tracing::info!(id, "web: a supervisor opened a set-aside mail");
    let row = held_row(web.pages.strings(), detail.mail);
    let context = minijinja::context! {
        user => session.user, csrf => session.csrf, mail => row, body => detail.body, attachments => detail.attachments,
    };
    web.page(StatusCode::OK, "set-aside-mail.html", context)
}

/// "Register as complaint": a new case with the mail's original date of receipt, through the
/// release of the intake (as `klachtd set-aside register`); the case's history names the
/// supervisor and why the mail was held. Then the new case's page.
pub async fn register(State(web): State<Shared>, headers: HeaderMap, Path(id): Path<i64>, _form: SignedForm) -> Response {
    let back = format!("/set-aside/{id}");
    let (session, organisations) = match supervisor(&web, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    // Mail of another organisation answers as mail that is not there.
    match web.store.held_mail(id, Some(&organisations)).await {
        Ok(Some(_)) => {}
        Ok(None) => return web.message(StatusCode::NOT_FOUND, Some(&session), "not_found", "", Some("/set-aside")),
        Err(e) => return store_failure(&web, &session, e),
    }
    match web.intake.register_held(id, &format!("{} (web)", session.user.name)).await {
        Ok(Outcome::Registered { reference }) => {
            tracing::info!(%reference, "set-aside mail registered as a complaint on the web");
            Redirect::to(&format!("/cases/{reference}?done=registered-from-set-aside")).into_response()
        }
        Ok(Outcome::FollowUp { reference } | Outcome::KeptWithCase { reference, .. }) => {
            Redirect::to(&format!("/cases/{reference}?done=kept-with-case")).into_response()
        }
        Ok(Outcome::Duplicate) => web.message(StatusCode::CONFLICT, Some(&session), "refused", &format!("mail {id} was registered before"), Some("/set-aside")),
        // Not reached: a person's judgement skips the rules that set mail aside or hold it.
        Ok(Outcome::Ignored { .. } | Outcome::Quarantine { .. }) => {
            web.message(StatusCode::UNPROCESSABLE_ENTITY, Some(&session), "refused", &format!("mail {id} was not registered"), Some(&back))
        }
        Err(ReleaseError::UnknownHeld(_) | ReleaseError::Unknown(_)) => web.message(StatusCode::NOT_FOUND, Some(&session), "not_found", "", Some("/set-aside")),
        Err(e @ ReleaseError::Unparseable(..)) => web.message(StatusCode::UNPROCESSABLE_ENTITY, Some(&session), "refused", &e.to_string(), Some(&back)),
        Err(ReleaseError::Intake(IntakeError::Store(e))) => store_failure(&web, &session, e),
        Err(ReleaseError::Intake(e)) => {
            tracing::warn!(id, error = %e, "web: set-aside mail not registered; the database or the disk is away");
            web.message(StatusCode::SERVICE_UNAVAILABLE, Some(&session), "unavailable", "", Some(&back))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(kind: HeldKind, reason: &str) -> HeldMail {
        HeldMail { id: 1, received_at: 0, from_address: None, subject: String::new(), kind, reason: reason.into() }
    }

    #[test]
    fn reasons_are_written_out_in_both_languages() {
        for language in ["nl", "en"] {
            let pages = super::super::templates::Pages::load(None, language).unwrap();
            let t = pages.strings();
            // Every reason the intake records for mail it sets aside today has words.
            for code in [
                "auto-submitted",
                "bulk-precedence",
                "mailing-list",
                "empty-return-path",
                "system-sender",
                "delivery-report",
                "auto-reply",
                "platform-generated",
                "bulk-sender",
                "calendar-invitation",
                "e-invoice",
                "own-mail",
                // Reasons of issue 21's classification (branch `classify`), worded ahead.
                "abuse-report",
                "list-manager",
                "challenge-response",
            ] {
                let row = held_row(t, mail(HeldKind::Automated, code));
                assert_ne!(row.reason_text, code, "{language}: no words for {code}");
            }
            for kind in HeldKind::ALL {
                assert_ne!(held_row(t, mail(kind, "x")).class, kind.as_str(), "{language}: no words for {kind:?}");
            }
            // A reason without words (one added later) shows as recorded; a quarantine's as described.
            assert_eq!(held_row(t, mail(HeldKind::Automated, "something-new")).reason_text, "something-new");
            assert_eq!(held_row(t, mail(HeldKind::Quarantined, "flagged as spam by rspamd")).reason_text, "flagged as spam by rspamd");
        }
    }

    #[test]
    fn list_positions_read_back_and_bad_ones_are_refused() {
        let c = HeldCursor { received_at: 1_764_000_000, id: 42 };
        assert_eq!(c.to_string().parse::<HeldCursor>(), Ok(c));
        for bad in ["", "42", "a.b", "1.2.3", "1764000000"] {
            assert!(bad.parse::<HeldCursor>().is_err(), "{bad}");
        }
    }
}
