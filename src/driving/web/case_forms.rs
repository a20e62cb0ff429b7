//! The case page's forms: one struct per action, decoded from the posted form (the action is
//! the last segment of the path), each becoming the [`CaseAction`] the command line builds for
//! the same subcommand. A value that does not read refuses the form with the command line's
//! words.

use std::str::FromStr;

use chrono::NaiveDate;
use serde::{Deserialize, Deserializer};

use super::signed::decode;
use crate::domain::awb::{NoHearingGround, NotHandledGround};
use crate::domain::case_action::{amsterdam_moment, gap, CaseAction, Hearing, Unreadable};
use crate::domain::procedure::{Category, Outcome};
use crate::domain::vocabulary::EmailAddress;

/// The action the form `name` asks for; `None`: no form of that name.
pub fn case_action(name: &str, form: &[u8]) -> Option<Result<CaseAction, Unreadable>> {
    Some(match name {
        "assign" => decode::<Assign>(form).map(|f| CaseAction::Assign { handler: f.handler }),
        "subject" => decode::<Named>(form).map(|f| CaseAction::Subject { name: f.name }),
        "checked" => Ok(CaseAction::Checked),
        "complete" => decode::<Complete>(form).map(|f| CaseAction::Complete { name: f.name, email: f.email, description: f.description }),
        "progress" => decode::<Progress>(form).and_then(|f| Ok(CaseAction::Progress { expected_by: needed(f.expected, "expected")?, message: f.message })),
        "request-info" => decode::<RequestInfo>(form).map(|f| CaseAction::RequestInformation { message: f.message, to: f.to }),
        "respond" => decode::<Respond>(form).and_then(|f| Ok(CaseAction::Respond { outcome: chosen(f.outcome)?, findings: f.findings, measures: f.measures })),
        "category" => decode::<ChooseCategory>(form).and_then(|f| Ok(CaseAction::Category(chosen(f.category)?))),
        "note" => decode::<Note>(form).map(|f| CaseAction::Note { text: f.text }),
        "escalate" => decode::<Escalate>(form).and_then(|f| Ok(CaseAction::Escalate { to: f.to, on: needed(f.date, "date")? })),
        "reopen" => Ok(CaseAction::Reopen),
        "acknowledged" => decode::<Dated>(form).and_then(|f| Ok(CaseAction::Acknowledged { on: needed(f.date, "date")? })),
        "release-acknowledgement" => Ok(CaseAction::ReleaseAcknowledgement),
        "postpone" => decode::<Postpone>(form).and_then(|f| {
            let weeks = f.weeks.ok_or("weeks: give the number of weeks")?;
            Ok(CaseAction::Postpone { weeks, reason: f.reason, consent: f.consent })
        }),
        "not-handled" => decode::<NotHandled>(form).and_then(|f| Ok(CaseAction::NotHandled { ground: chosen(f.ground)?, explanation: f.explanation })),
        "settle" => decode::<Settle>(form).map(|f| CaseAction::Settle { settlement: f.settlement }),
        "disclose" => decode::<Disclose>(form).map(|f| CaseAction::Disclose { name: f.name.unwrap_or_default(), email: f.email }),
        "hearing-invite" => decode::<HearingInvite>(form).and_then(HearingInvite::action),
        "hearing-report" => decode::<HearingReport>(form).map(|f| CaseAction::HearingReport { report: f.report }),
        "no-hearing" => decode::<NoHearing>(form).and_then(|f| Ok(CaseAction::NoHearing { ground: chosen(f.ground)? })),
        _ => return None,
    })
}

#[derive(Deserialize)]
struct Assign {
    #[serde(default)]
    handler: String,
}

#[derive(Deserialize)]
struct Named {
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
struct Complete {
    #[serde(default, deserialize_with = "field")]
    name: Option<String>,
    #[serde(default, deserialize_with = "address")]
    email: Option<EmailAddress>,
    #[serde(default, deserialize_with = "some_text")]
    description: Option<String>,
}

#[derive(Deserialize)]
struct Progress {
    #[serde(default, deserialize_with = "date")]
    expected: Option<NaiveDate>,
    #[serde(default, deserialize_with = "some_text")]
    message: Option<String>,
}

#[derive(Deserialize)]
struct RequestInfo {
    #[serde(default, deserialize_with = "text")]
    message: String,
    #[serde(default, deserialize_with = "address")]
    to: Option<EmailAddress>,
}

#[derive(Deserialize)]
struct Respond {
    #[serde(default, deserialize_with = "words")]
    outcome: Option<Outcome>,
    #[serde(default, deserialize_with = "text")]
    findings: String,
    #[serde(default, deserialize_with = "text")]
    measures: String,
}

#[derive(Deserialize)]
struct ChooseCategory {
    #[serde(default, deserialize_with = "words")]
    category: Option<Category>,
}

#[derive(Deserialize)]
struct Note {
    #[serde(default, deserialize_with = "text")]
    text: String,
}

#[derive(Deserialize)]
struct Escalate {
    #[serde(default)]
    to: String,
    #[serde(default, deserialize_with = "date")]
    date: Option<NaiveDate>,
}

#[derive(Deserialize)]
struct Dated {
    #[serde(default, deserialize_with = "date")]
    date: Option<NaiveDate>,
}

#[derive(Deserialize)]
struct Postpone {
    #[serde(default, deserialize_with = "number")]
    weeks: Option<u32>,
    #[serde(default, deserialize_with = "text")]
    reason: String,
    #[serde(default, deserialize_with = "field")]
    consent: Option<String>,
}

#[derive(Deserialize)]
struct NotHandled {
    #[serde(default, deserialize_with = "words")]
    ground: Option<NotHandledGround>,
    #[serde(default, deserialize_with = "text")]
    explanation: String,
}

#[derive(Deserialize)]
struct Settle {
    #[serde(default, deserialize_with = "text")]
    settlement: String,
}

#[derive(Deserialize)]
struct Disclose {
    #[serde(default, deserialize_with = "field")]
    name: Option<String>,
    #[serde(default, deserialize_with = "address")]
    email: Option<EmailAddress>,
}

#[derive(Deserialize)]
struct HearingInvite {
    /// `YYYY-MM-DDTHH:MM` (a `datetime-local` input) in Europe/Amsterdam.
    #[serde(default)]
    at: String,
    #[serde(default, deserialize_with = "number")]
    minutes: Option<u32>,
    #[serde(default, deserialize_with = "text")]
    place: String,
    #[serde(default, deserialize_with = "number")]
    answer_days: Option<u32>,
    /// A checkbox: there when ticked.
    with_subjects: Option<String>,
}

impl HearingInvite {
    fn action(self) -> Result<CaseAction, Unreadable> {
        let at = self.at.trim();
        let local = chrono::NaiveDateTime::parse_from_str(at, "%Y-%m-%dT%H:%M").map_err(|_| format!("at: {at:?} is not a date and time (YYYY-MM-DDTHH:MM)"))?;
        let start = amsterdam_moment(local).ok_or_else(|| gap(at))?;
        let hearing = Hearing {
            start,
            minutes: self.minutes.unwrap_or(60),
            place: self.place,
            answer_days: self.answer_days,
            with_subjects: self.with_subjects.is_some(),
        };
        Ok(CaseAction::HearingInvite(hearing))
    }
}

#[derive(Deserialize)]
struct HearingReport {
    #[serde(default, deserialize_with = "text")]
    report: String,
}

#[derive(Deserialize)]
struct NoHearing {
    #[serde(default, deserialize_with = "words")]
    ground: Option<NoHearingGround>,
}

/// A date that must be there.
fn needed(date: Option<NaiveDate>, key: &str) -> Result<NaiveDate, Unreadable> {
    date.ok_or_else(|| Unreadable(format!("{key}: a date is needed (YYYY-MM-DD)")))
}

/// A choice that must be made: an empty one is refused as the command line refuses it.
fn chosen<T: FromStr<Err = String>>(choice: Option<T>) -> Result<T, Unreadable> {
    choice.map_or_else(|| "".parse().map_err(Unreadable), Ok)
}

/// A text area: browsers send CRLF, letters are written with LF.
fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(String::deserialize(d)?.replace("\r\n", "\n"))
}

/// A text area that may be left empty.
fn some_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Some(text(d)?).filter(|t| !t.trim().is_empty()))
}

/// A one-line field, trimmed; empty is none.
fn field<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Some(String::deserialize(d)?.trim().to_string()).filter(|v| !v.is_empty()))
}

/// A date input (`YYYY-MM-DD`); empty is none.
fn date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
    match field(d)? {
        None => Ok(None),
        Some(v) => NaiveDate::parse_from_str(&v, "%Y-%m-%d").map(Some).map_err(|_| serde::de::Error::custom(format!("{v:?} is not a date (YYYY-MM-DD)"))),
    }
}

/// An e-mail address the outbox can send to; empty is none.
fn address<'de, D: Deserializer<'de>>(d: D) -> Result<Option<EmailAddress>, D::Error> {
    match field(d)? {
        None => Ok(None),
        Some(v) => EmailAddress::parse(&v).map(Some).map_err(|_| serde::de::Error::custom(format!("{v:?} is not a valid e-mail address"))),
    }
}

/// A whole number; empty is none.
fn number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    match field(d)? {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| serde::de::Error::custom(format!("{v:?} is not a number"))),
    }
}

/// One of a domain enum's words (an outcome, a category, a ground), refused in its own words.
fn words<'de, D: Deserializer<'de>, T: FromStr<Err = String>>(d: D) -> Result<Option<T>, D::Error> {
    match field(d)? {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(serde::de::Error::custom),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(name: &str, form: &str) -> Result<CaseAction, String> {
        case_action(name, form.as_bytes()).expect("a form of that name").map_err(|e| e.0)
    }

    #[test]
    fn each_form_becomes_the_action_of_its_subcommand() {
        let day = NaiveDate::from_ymd_opt(2026, 12, 15).unwrap();
        assert_eq!(action("assign", "csrf=x&handler=Ann+Smit"), Ok(CaseAction::Assign { handler: "Ann Smit".into() }));
        assert_eq!(action("checked", "csrf=x"), Ok(CaseAction::Checked));
        assert_eq!(
            action("complete", "name=+Ans+&email=&description=Regel+1%0D%0ARegel+2"),
            Ok(CaseAction::Complete { name: Some("Ans".into()), email: None, description: Some("Regel 1\nRegel 2".into()) })
        );
        assert_eq!(action("progress", "expected=2026-12-15&message="), Ok(CaseAction::Progress { expected_by: day, message: None }));
        assert_eq!(
            action("request-info", "message=Wanneer%3F&to=+coach%40elders.test+"),
            Ok(CaseAction::RequestInformation { message: "Wanneer?".into(), to: Some(EmailAddress::parse("coach@elders.test").unwrap()) })
        );
        assert_eq!(
            action("respond", "outcome=partly-founded&findings=F&measures="),
            Ok(CaseAction::Respond { outcome: Outcome::PartlyFounded, findings: "F".into(), measures: String::new() })
        );
        assert_eq!(action("category", "category=staff"), Ok(CaseAction::Category(Category::Staff)));
        assert_eq!(action("escalate", "to=Ombudsman&date=2026-12-15"), Ok(CaseAction::Escalate { to: "Ombudsman".into(), on: day }));
        assert_eq!(action("acknowledged", "date=2026-12-15"), Ok(CaseAction::Acknowledged { on: day }));
        assert_eq!(action("release-acknowledgement", ""), Ok(CaseAction::ReleaseAcknowledgement));
        assert_eq!(action("postpone", "weeks=4&reason=Advies&consent=+"), Ok(CaseAction::Postpone { weeks: 4, reason: "Advies".into(), consent: None }));
        assert_eq!(
            action("not-handled", "ground=over-a-year&explanation=X"),
            Ok(CaseAction::NotHandled { ground: NotHandledGround::OverAYear, explanation: "X".into() })
        );
        assert_eq!(action("disclose", "name=Bob+Berg&email="), Ok(CaseAction::Disclose { name: "Bob Berg".into(), email: None }));
        assert_eq!(action("no-hearing", "ground=not-wished"), Ok(CaseAction::NoHearing { ground: NoHearingGround::NotWished }));
        let Ok(CaseAction::HearingInvite(hearing)) = action("hearing-invite", "at=2026-12-15T14%3A00&place=Kamer+3&answer_days=&with_subjects=on") else {
            panic!("no invitation")
        };
        assert_eq!(
            (hearing.start.to_rfc3339().as_str(), hearing.minutes, hearing.answer_days, hearing.with_subjects),
            ("2026-12-15T13:00:00+00:00", 60, None, true)
        );
        assert_eq!(case_action("delete", b"csrf=x"), None);
    }

    #[test]
    fn a_value_that_does_not_read_is_refused_in_the_command_lines_words() {
        assert_eq!(action("respond", "outcome=half&findings=F"), Err("\"half\" is not an outcome; use one of: founded, partly-founded, unfounded".into()));
        assert!(action("respond", "findings=F").unwrap_err().contains("is not an outcome"));
        assert_eq!(action("category", "category=misc"), Err("\"misc\" is not a category; use one of: service, staff, process, other".into()));
        assert_eq!(action("progress", "expected=15-12-2026"), Err("\"15-12-2026\" is not a date (YYYY-MM-DD)".into()));
        assert_eq!(action("progress", "expected="), Err("expected: a date is needed (YYYY-MM-DD)".into()));
        assert_eq!(action("postpone", "weeks=vier&reason=R"), Err("\"vier\" is not a number".into()));
        assert!(action("hearing-invite", "at=morgen&place=P").unwrap_err().contains("is not a date and time"));
        assert!(action("hearing-invite", "at=2026-03-29T02%3A30&place=P").unwrap_err().contains("daylight-saving gap"));
    }
}
