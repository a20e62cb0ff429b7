//! `klachtd cases ...`: a handler looks at cases and acts on them. Each action is one call to
//! the store or the actions and one line that says what happened; a refusal is an error.

use std::process::ExitCode;

use super::args::CasesCommand;
use super::print::{self, delivered};
use super::{actor, read_text};
use crate::app::actions::Actions;
use crate::store::Store;

pub async fn cases(store: &Store, actions: &Actions, no_token: Option<String>, command: CasesCommand) -> anyhow::Result<ExitCode> {
    match command {
        CasesCommand::Progress { reference, expected, message_file } => {
            let message = message_file.as_deref().map(read_text).transpose()?;
            delivered(&reference, "progress notice", actions.progress(&reference, expected, message, &actor()).await?);
        }
        CasesCommand::RequestInfo { reference, message_file, to } => {
            delivered(&reference, "request for information", actions.request_information(&reference, read_text(&message_file)?, to, &actor()).await?);
        }
        CasesCommand::Respond { reference, outcome, findings_file, measures_file } => {
            let measures = measures_file.as_deref().map(read_text).transpose()?.unwrap_or_default();
            let d = actions.respond(&reference, outcome, read_text(&findings_file)?, measures, &actor()).await?;
            delivered(&reference, "final response", d);
            outln!("{reference}: closed");
        }
        CasesCommand::Postpone { reference, weeks, reason_file, consent } => {
            let (d, new_date) = actions.postpone(&reference, weeks, read_text(&reason_file)?, consent, &actor()).await?;
            delivered(&reference, "postponement", d);
            outln!("{reference}: final response due by {new_date}");
        }
        CasesCommand::NotHandled { reference, ground, explanation_file } => {
            let explanation = explanation_file.as_deref().map(read_text).transpose()?.unwrap_or_default();
            delivered(&reference, "letter not handling the complaint", actions.not_handled(&reference, ground, explanation, &actor()).await?);
            outln!("{reference}: closed, not handled ({ground})");
        }
        CasesCommand::Settle { reference, settlement_file } => {
            delivered(&reference, "confirmation of the settlement", actions.settle(&reference, read_text(&settlement_file)?, &actor()).await?);
            outln!("{reference}: closed, settled");
        }
        CasesCommand::Disclose { reference, name, email } => {
            let to = actions.disclose(&reference, &name, email, &actor()).await?;
            outln!("{reference}: copy of the complaint queued for {to} (disclosure recorded)");
        }
        CasesCommand::HearingInvite { reference, at, minutes, place, answer_days, with_subjects } => {
            let hearing = crate::app::actions::HearingRequest { start: at, minutes, place, answer_days, with_subjects };
            let (invited, answer_by) = actions.invite_to_hearing(&reference, hearing, &actor()).await?;
            outln!("{reference}: hearing invitation queued for {}; answer by {answer_by}", invited.join(", "));
        }
        CasesCommand::HearingReport { reference, report_file } => {
            delivered(&reference, "report of the hearing", actions.hearing_report(&reference, read_text(&report_file)?, &actor()).await?);
        }
        CasesCommand::NoHearing { reference, ground } => {
            actions.no_hearing(&reference, ground, &actor()).await?;
            outln!("{reference}: no hearing ({ground})");
        }
        CasesCommand::Category { reference, category } => {
            store.set_category(&reference, category, &actor()).await?;
            outln!("{reference}: category {category}");
        }
        CasesCommand::Note { reference, text } => {
            store.add_note(&reference, &text, &actor()).await?;
            outln!("{reference}: note added");
        }
        CasesCommand::Escalate { reference, to, date } => {
            store.record_external(&reference, &to, date, &actor()).await?;
            outln!("{reference}: recorded as taken to {to} on {date}");
        }
        CasesCommand::Reopen { reference } => {
            store.reopen(&reference, &actor()).await?.map_err(anyhow::Error::msg)?;
            outln!("{reference}: reopened");
        }
        CasesCommand::Register { name, email, postal_address, received, description_file, attach } => {
            let paper =
                crate::app::actions::PaperComplaint { name, email, postal_address, received, description: read_text(&description_file)?, attachments: attach };
            let (reference, d) = actions.register_paper(paper, &actor()).await?;
            outln!("{reference}: registered (received {received})");
            delivered(&reference, "acknowledgement", d);
        }
        CasesCommand::Acknowledged { reference, date } => {
            store.acknowledged_by_post(&reference, date, &actor()).await?;
            outln!("{reference}: acknowledgement recorded as sent on {date}");
        }
        CasesCommand::List { json, open, handler, due_within, limit } => {
            let today = crate::domain::calendar::amsterdam_date(chrono::Utc::now());
            let filter = crate::store::CaseFilter { open_only: open, handler, due_by: due_within.map(|n| today + chrono::Days::new(n.into())), limit };
            print::case_list(store.cases_matching(&filter), json).await?;
        }
        CasesCommand::Show { reference, json } => print::case_detail(&store.case_detail(&reference).await?, json)?,
        CasesCommand::Assign { reference, handler } => {
            store.assign(&reference, &handler, &actor()).await?;
            actions.notify_assignment(&reference).await?;
            match no_token {
                None => outln!("{reference}: assigned to {handler} (notified by mail)"),
                Some(why) => outln!("{reference}: assigned to {handler} (notified by mail, without a reply token: {why})"),
            }
        }
        CasesCommand::Subject { reference, name } => match store.add_subject(&reference, &name, &actor()).await? {
            Some(next) => {
                // The new handler hears of it as after `cases assign`.
                actions.notify_assignment(&reference).await?;
                match no_token {
                    None => outln!("{reference}: {name} recorded as a subject; the case is now assigned to {next} (notified by mail)"),
                    Some(why) => {
                        outln!("{reference}: {name} recorded as a subject; the case is now assigned to {next} (notified by mail, without a reply token: {why})")
                    }
                }
            }
            None => outln!("{reference}: {name} recorded as a subject"),
        },
        CasesCommand::ReleaseAcknowledgement { reference } => {
            let done = actions.release_acknowledgement(&reference, &actor()).await?;
            outln!("{reference}: {done}");
        }
        CasesCommand::Complete { reference, name, email, description_file } => {
            let description = description_file.as_deref().map(read_text).transpose()?;
            let correction = crate::store::corrections::Correction { name, email, description };
            let done = store.correct_case(&reference, &correction, &actor()).await?;
            let missing = if done.incomplete.is_empty() { "complete".to_string() } else { format!("still missing {}", done.incomplete.join(", ")) };
            outln!("{reference}: {} corrected; {missing}", done.fields.join(", "));
        }
        CasesCommand::Checked { reference } => {
            store.supervisor_checked(&reference, &actor()).await?;
            outln!("{reference}: assignment checked by a supervisor; the supervisor check is cleared");
        }
    }
    Ok(ExitCode::SUCCESS)
}
