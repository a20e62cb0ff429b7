//! The case page's forms for the steps of Awb chapter 9 (postpone, not handled, settled, a copy
//! to the person complained about, the hearing): the same functions as `klachtd cases ...`, so
//! a refusal reads the same.

use std::collections::HashMap;

use crate::app::actions::{ActionError, Actions};
use crate::domain::awb::NotHandledGround;

/// The actions this module carries out.
pub const ACTIONS: &[&str] = &["postpone", "not-handled", "settle", "disclose", "hearing-invite", "hearing-report", "no-hearing"];

fn text(form: &HashMap<String, String>, key: &str) -> String {
    // Browsers send CRLF in text areas; letters are written with LF.
    form.get(key).map(|v| v.replace("\r\n", "\n")).unwrap_or_default()
}

/// `Ok(None)`: not one of [`ACTIONS`]. The text is what the page says was done.
pub async fn carry_out(actions: &Actions, reference: &str, action: &str, form: &HashMap<String, String>, actor: &str) -> Result<Option<String>, ActionError> {
    let done = match action {
        "postpone" => {
            let weeks = form.get("weeks").map(|w| w.trim()).unwrap_or("");
            let weeks: u32 = weeks.parse().map_err(|_| ActionError::refused(format!("weeks: {weeks:?} is not a number of weeks")))?;
            let consent = form.get("consent").map(|c| c.trim().to_string()).filter(|c| !c.is_empty());
            let (delivery, new_date) = actions.postpone(reference, weeks, text(form, "reason"), consent, actor).await?;
            format!("{}; final response due by {new_date}", super::forms::delivered(delivery))
        }
        "not-handled" => {
            let ground: NotHandledGround = form.get("ground").map(String::as_str).unwrap_or("").parse().map_err(ActionError::refused)?;
            super::forms::delivered(actions.not_handled(reference, ground, text(form, "explanation"), actor).await?)
        }
        "settle" => super::forms::delivered(actions.settle(reference, text(form, "settlement"), actor).await?),
        "disclose" => {
            let name =
                form.get("name").map(|n| n.trim()).filter(|n| !n.is_empty()).ok_or_else(|| ActionError::refused("name the person the complaint is about"))?;
            let email = form.get("email").map(|e| e.trim().to_string()).filter(|e| !e.is_empty());
            format!("copy queued for {}", actions.disclose(reference, name, email, actor).await?)
        }
        "hearing-invite" => {
            let at = form.get("at").map(|a| a.trim()).unwrap_or("");
            let local = chrono::NaiveDateTime::parse_from_str(at, "%Y-%m-%dT%H:%M")
                .map_err(|_| ActionError::refused(format!("at: {at:?} is not a date and time (YYYY-MM-DDTHH:MM)")))?;
            let start = local
                .and_local_timezone(chrono_tz::Europe::Amsterdam)
                .earliest()
                .ok_or_else(|| ActionError::refused(format!("{at} does not exist in Europe/Amsterdam (daylight-saving gap)")))?
                .with_timezone(&chrono::Utc);
            let number = |key: &str, default: u32| -> Result<u32, ActionError> {
                match form.get(key).map(|v| v.trim()).filter(|v| !v.is_empty()) {
                    None => Ok(default),
                    Some(v) => v.parse().map_err(|_| ActionError::refused(format!("{key}: {v:?} is not a number"))),
                }
            };
            let hearing = crate::app::actions::HearingRequest {
                start,
                minutes: number("minutes", 60)?,
                place: text(form, "place"),
                answer_days: number("answer_days", 5)?,
                with_subjects: form.get("with_subjects").is_some(),
            };
            let (invited, answer_by) = actions.invite_to_hearing(reference, hearing, actor).await?;
            format!("invitation queued for {}; answer by {answer_by}", invited.join(", "))
        }
        "hearing-report" => super::forms::delivered(actions.hearing_report(reference, text(form, "report"), actor).await?),
        "no-hearing" => {
            let ground: crate::domain::awb::NoHearingGround = form.get("ground").map(String::as_str).unwrap_or("").parse().map_err(ActionError::refused)?;
            actions.no_hearing(reference, ground, actor).await?;
            format!("no hearing ({ground})")
        }
        _ => return Ok(None),
    };
    Ok(Some(done))
}
