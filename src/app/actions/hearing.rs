//! The hearing of Awb 9:10: the invitation with an iCalendar REQUEST (to the complainant, and
//! to staff the complaint is about where asked), the answer that comes back (an iTIP REPLY,
//! recorded by the intake), the report of the hearing to the complainant, or why there was none.

use chrono::{DateTime, Utc};
use chrono_tz::Europe::Amsterdam;

use super::{ActionError, Actions, Delivery};
use crate::app::new_message_id;
use crate::app::retention::write_letter;
use crate::app::templates::{long_date, CaseContext, HearingContext};
use crate::domain::awb::{no_hearing_refusal, NoHearingGround};
use crate::domain::calendar::amsterdam_date;
use crate::domain::case_action::Hearing;
use crate::domain::ical;
use crate::domain::vocabulary::{MailKind, OutboxStatus};
use crate::store::{LetterCase, MailOrigin, MailPart, OutgoingMail};

impl Actions {
    /// Invites to be heard; returns the addresses invited and the last day to answer.
    /// The invitation, asked for by `origin` (an action by mail) or not; `None`: that mail was
    /// recorded before, and nothing was done.
    pub(super) async fn invite_to_hearing_from(
        &self,
        case: &LetterCase,
        hearing: Hearing,
        actor: &str,
        origin: Option<&MailOrigin>,
    ) -> Result<Option<(Vec<String>, chrono::NaiveDate)>, ActionError> {
        let place = hearing.place.trim().to_string();
        if place.is_empty() {
            return Err(ActionError::refused("say where the hearing is: a place or a video link"));
        }
        if !(10..=480).contains(&hearing.minutes) {
            return Err(ActionError::refused(format!("a hearing of {} minutes? Give 10 to 480", hearing.minutes)));
        }
        let now = Utc::now();
        if hearing.start <= now {
            return Err(ActionError::refused("the hearing's time has passed; give a moment to come"));
        }
        let settings = self.settings.get();
        let today = amsterdam_date(now);
        // The handler's days, or the term of the procedure the case was registered under.
        let answer_by = match (hearing.answer_days, case.procedure.hearing_answer) {
            (Some(days), _) => settings.calendar.add_working_days(today, days.max(1)),
            (None, Some(term)) => term.due(&settings.calendar, today),
            (None, None) => {
                return Err(ActionError::refused(format!("{}: its procedure sets no term to answer an invitation; give one (--answer-days N)", case.reference)))
            }
        };
        if answer_by > amsterdam_date(hearing.start) {
            return Err(ActionError::refused(format!("the term to answer (to {answer_by}) ends after the hearing; give fewer days or a later hearing")));
        }
        let reference = &case.reference;
        let Some(complainant) = case.complainant_email.clone() else {
            return Err(ActionError::refused(format!("{reference} has no e-mail address; invite the complainant by post and record it as a note")));
        };
        let end = hearing.start + chrono::Duration::minutes(i64::from(hearing.minutes));
        // The reference in the UID and the summary: an answer names one or both (its subject
        // is the summary), so it finds its case.
        let uid = format!("{reference}.hearing.{}@{}", now.timestamp(), self.own(case.id).await?.message_id_domain());
        let mut invitees = vec![(case.complainant_name.clone(), complainant, true)];
        if hearing.with_subjects {
            invitees.extend(self.store.subject_addresses(case.id).await?.into_iter().map(|(name, email)| (Some(name), email, false)));
        }
        let mut mails = Vec::new();
        for (name, email, is_complainant) in &invitees {
            mails.push(self.invitation(case, &uid, &hearing, end, &place, answer_by, name.as_deref(), email, *is_complainant).await?);
        }
        let addresses: Vec<String> = invitees.iter().map(|(_, e, _)| e.clone()).collect();
        let local = hearing.start.with_timezone(&Amsterdam).format("%Y-%m-%d %H:%M");
        let detail = format!("hearing on {local} ({} min) at {place}; invited {}; answer by {answer_by}; uid {uid}", hearing.minutes, addresses.join(", "));
        let done = self.store.queue_hearing_invitation(case.id, reference, &mails, &uid, hearing.start.timestamp(), answer_by, actor, &detail, origin).await?;
        Ok(done.then_some((addresses, answer_by)))
    }

    /// The invitation of one invitee: the letter, with the calendar REQUEST inline and as a file.
    #[allow(clippy::too_many_arguments)]
    async fn invitation(
        &self,
        case: &LetterCase,
        uid: &str,
        hearing: &Hearing,
        end: DateTime<Utc>,
        place: &str,
        answer_by: chrono::NaiveDate,
        name: Option<&str>,
        email: &str,
        is_complainant: bool,
    ) -> Result<(OutgoingMail, Vec<MailPart>), ActionError> {
        let own = self.own(case.id).await?;
        let language = own.letters.language();
        let context = HearingContext {
            organisation: &own.context,
            case: self.case_context(case).await?,
            recipient_name: name.map(str::to_string),
            complainant: is_complainant,
            date: long_date(hearing.start.with_timezone(&Amsterdam).date_naive(), language),
            start: hearing.start.with_timezone(&Amsterdam).format("%H:%M").to_string(),
            end: end.with_timezone(&Amsterdam).format("%H:%M").to_string(),
            place: place.to_string(),
            answer_by: long_date(answer_by, language),
            report: String::new(),
        };
        let letter = own.letters.render("hearing-invitation", &context)?;
        let calendar = ical::request(&ical::Invitation {
            uid,
            sequence: 0,
            stamp: Utc::now(),
            start: hearing.start,
            end,
            summary: &letter.subject,
            location: place,
            description: &letter.body,
            organizer_name: &own.context.name,
            organizer_email: &own.context.complaints_address,
            attendee_name: name.unwrap_or(email),
            attendee_email: email,
        });
        let kind = MailKind::HearingInvitation;
        let (in_reply_to, references) =
            if is_complainant { (case.last_inbound.clone(), case.thread.clone()) } else { self.store.thread_with(case.id, email, false).await? };
        let mail = OutgoingMail {
            kind,
            recipient: email.to_string(),
            recipient_name: name.map(str::to_string),
            subject: letter.subject,
            body: letter.body,
            message_id: new_message_id(&format!("{}.{kind}", case.reference), own.message_id_domain()),
            in_reply_to,
            references,
            status: OutboxStatus::Pending,
        };
        let filename = if language == "en" { "hearing.ics" } else { "hoorzitting.ics" };
        Ok((mail, vec![MailPart::Calendar { method: "REQUEST".into(), content: calendar, filename: filename.into() }]))
    }

    async fn case_context(&self, case: &LetterCase) -> Result<CaseContext, ActionError> {
        let own = self.own(case.id).await?;
        let deadlines = case.deadlines();
        Ok(CaseContext::new(&case.reference, case.complainant_name.as_deref(), &deadlines, &case.procedure, &[], own.letters.language()))
    }

    /// Records the report of the hearing and sends it to the complainant (9:10).
    pub(super) async fn hearing_report_from(
        &self,
        case: &LetterCase,
        report: String,
        actor: &str,
        origin: Option<&MailOrigin>,
    ) -> Result<Option<Delivery>, ActionError> {
        let report = report.trim().to_string();
        if report.is_empty() {
            return Err(ActionError::refused("the report of the hearing is empty"));
        }
        let reference = &case.reference;
        let own = self.own(case.id).await?;
        let context = HearingContext {
            organisation: &own.context,
            case: self.case_context(case).await?,
            recipient_name: case.complainant_name.clone(),
            complainant: true,
            date: String::new(),
            start: String::new(),
            end: String::new(),
            place: String::new(),
            answer_by: String::new(),
            report: report.clone(),
        };
        let letter = own.letters.render("hearing-report", &context)?;
        if crate::domain::mail_actions::carries_token(&format!("{}\n{}", letter.subject, letter.body), "") {
            return Err(ActionError::refused("the report contains an action token ({actie:...}); nothing was sent. Remove it from the text"));
        }
        let kind = MailKind::HearingReport;
        let (mail, delivery) = match &case.complainant_email {
            Some(address) => {
                let mail = OutgoingMail {
                    kind,
                    recipient: address.clone(),
                    recipient_name: case.complainant_name.clone(),
                    subject: letter.subject,
                    body: letter.body,
                    message_id: new_message_id(&format!("{}.{kind}", case.reference), own.message_id_domain()),
                    in_reply_to: case.last_inbound.clone(),
                    references: case.thread.clone(),
                    status: OutboxStatus::Pending,
                };
                (Some(mail), Delivery::Mail(address.clone()))
            }
            None => {
                let text = format!("{}\n\n{}", letter.subject, letter.body);
                let path = write_letter(&self.letters_dir, &format!("{}-{kind}", case.reference), &text).map_err(ActionError::disk)?;
                (None, Delivery::Print(path))
            }
        };
        let recorded = self.store.record_hearing(case.id, reference, &report, mail.as_ref(), actor, origin).await;
        if !matches!(recorded, Ok(true)) {
            if let Delivery::Print(path) = &delivery {
                let _ = std::fs::remove_file(path);
            }
        }
        Ok(recorded?.then_some(delivery))
    }

    /// Records why there was no hearing (9:10(2)); "no answer" only once the term set has passed
    /// without an acceptance.
    pub(super) async fn no_hearing_from(
        &self,
        case: &LetterCase,
        ground: NoHearingGround,
        actor: &str,
        origin: Option<&MailOrigin>,
    ) -> Result<Option<()>, ActionError> {
        let reference = &case.reference;
        let state = self.store.hearing_state(case.id).await?;
        let today = amsterdam_date(Utc::now());
        if let Some(why) = no_hearing_refusal(reference, ground, state.answer_by, state.answer.as_deref(), today) {
            return Err(ActionError::refused(why));
        }
        Ok(self.store.record_no_hearing(case.id, reference, ground, actor, origin).await?.then_some(()))
    }
}
