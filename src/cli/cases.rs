//! `klachtd cases ...`: a handler looks at cases and acts on them. Each action subcommand
//! becomes one [`CaseAction`], carried out by [`Actions::perform`] as the web and mail do, and
//! one line says what happened (`print::done`); a refusal is an error.

use std::process::ExitCode;

use super::args::CasesCommand;
use super::print::{self, delivered};
use super::{actor, read_text};
use crate::app::actions::Actions;
use crate::domain::case_action::{CaseAction, Hearing};
use crate::store::Store;

pub async fn cases(store: &Store, actions: &Actions, no_token: Option<String>, command: CasesCommand) -> anyhow::Result<ExitCode> {
    match command {
        CasesCommand::List { json, open, handler, due_within, limit } => {
            let today = crate::domain::calendar::amsterdam_date(chrono::Utc::now());
            let filter = crate::store::CaseFilter { open_only: open, handler, due_by: due_within.map(|n| today + chrono::Days::new(n.into())), limit };
            print::case_list(store.cases_matching(&filter), json).await?;
        }
        CasesCommand::Show { reference, json } => print::case_detail(&store.case_detail(&reference).await?, json)?,
        CasesCommand::Register { name, email, postal_address, received, description_file, attach } => {
            let paper =
                crate::app::actions::PaperComplaint { name, email, postal_address, received, description: read_text(&description_file)?, attachments: attach };
            let (reference, d) = actions.register_paper(paper, &actor()).await?;
            outln!("{reference}: registered (received {received})");
            delivered(&reference, "acknowledgement", d);
        }
        command => {
            let (reference, action) = case_action(command)?;
            let name = action.name();
            let done = actions.perform(&reference, action, &actor()).await?;
            print::done(&reference, name, done, no_token.as_deref());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The case and the action a subcommand asks for, its texts read from their files.
fn case_action(command: CasesCommand) -> anyhow::Result<(String, CaseAction)> {
    let optional = |file: Option<std::path::PathBuf>| file.as_deref().map(read_text).transpose();
    Ok(match command {
        CasesCommand::Assign { reference, handler } => (reference, CaseAction::Assign { handler }),
        CasesCommand::Subject { reference, name } => (reference, CaseAction::Subject { name }),
        CasesCommand::Checked { reference } => (reference, CaseAction::Checked),
        CasesCommand::Complete { reference, name, email, description_file } => {
            (reference, CaseAction::Complete { name, email, description: optional(description_file)? })
        }
        CasesCommand::Progress { reference, expected, message_file } => {
            (reference, CaseAction::Progress { expected_by: expected, message: optional(message_file)? })
        }
        CasesCommand::RequestInfo { reference, message_file, to } => (reference, CaseAction::RequestInformation { message: read_text(&message_file)?, to }),
        CasesCommand::Respond { reference, outcome, findings_file, measures_file } => {
            let measures = optional(measures_file)?.unwrap_or_default();
            (reference, CaseAction::Respond { outcome, findings: read_text(&findings_file)?, measures })
        }
        CasesCommand::Category { reference, category } => (reference, CaseAction::Category(category)),
        CasesCommand::Note { reference, text } => (reference, CaseAction::Note { text }),
        CasesCommand::Escalate { reference, to, date } => (reference, CaseAction::Escalate { to, on: date }),
        CasesCommand::Reopen { reference } => (reference, CaseAction::Reopen),
        CasesCommand::Acknowledged { reference, date } => (reference, CaseAction::Acknowledged { on: date }),
        CasesCommand::ReleaseAcknowledgement { reference } => (reference, CaseAction::ReleaseAcknowledgement),
        CasesCommand::Postpone { reference, weeks, reason_file, consent } => {
            (reference, CaseAction::Postpone { weeks, reason: read_text(&reason_file)?, consent })
        }
        CasesCommand::NotHandled { reference, ground, explanation_file } => {
            (reference, CaseAction::NotHandled { ground, explanation: optional(explanation_file)?.unwrap_or_default() })
        }
        CasesCommand::Settle { reference, settlement_file } => (reference, CaseAction::Settle { settlement: read_text(&settlement_file)? }),
        CasesCommand::Disclose { reference, name, email } => (reference, CaseAction::Disclose { name, email }),
        CasesCommand::HearingInvite { reference, at, minutes, place, answer_days, with_subjects } => {
            (reference, CaseAction::HearingInvite(Hearing { start: at, minutes, place, answer_days, with_subjects }))
        }
        CasesCommand::HearingReport { reference, report_file } => (reference, CaseAction::HearingReport { report: read_text(&report_file)? }),
        CasesCommand::NoHearing { reference, ground } => (reference, CaseAction::NoHearing { ground }),
        CasesCommand::List { .. } | CasesCommand::Show { .. } | CasesCommand::Register { .. } => anyhow::bail!("this command is no action on a case"),
    })
}
