//! `klachtd cases ...`: a handler looks at cases and acts on them. Each action subcommand
//! becomes one [`CaseAction`], carried out by [`Actions::perform`] as the web and mail do, and
//! one line says what happened (`print::done`); a refusal is an error.

use std::process::ExitCode;

use super::args::CasesCommand;
use super::print::{self, delivered};
use super::{actor, read_text};
use crate::app::actions::Actions;
use crate::domain::case_action::{CaseAction, Hearing};
use crate::domain::organisation::OrganisationKey;
use crate::domain::reference::CaseRef;
use crate::domain::vocabulary::EmailAddress;
use crate::store::Store;

/// `organisation`: `--organisation KEY`, which limits every subcommand to that organisation's
/// cases (see [`Actions::within`]).
pub async fn cases(
    store: &Store,
    actions: &Actions,
    no_token: Option<String>,
    organisation: Option<&OrganisationKey>,
    command: CasesCommand,
) -> anyhow::Result<ExitCode> {
    match command {
        CasesCommand::List { json, open, handler, due_within, limit } => {
            let today = crate::domain::calendar::amsterdam_date(chrono::Utc::now());
            let due_by = due_within.map(|n| today + chrono::Days::new(n.into()));
            let filter = crate::store::CaseFilter { open_only: open, handler, due_by, limit, organisation: organisation.cloned() };
            print::case_list(store.cases_matching(&filter), json).await?;
        }
        CasesCommand::Show { reference, json } => {
            // Refused as `case_detail` refuses a case that does not exist, word for word.
            actions.within(organisation, &reference, &actor(), "show").await?;
            print::case_detail(&store.case_detail(&reference).await?, json)?
        }
        CasesCommand::Register { name, email, postal_address, received, description_file, attach } => {
            // In the organisation named (its prefix, procedure and letters), else the first.
            let paper = crate::app::actions::PaperComplaint {
                name,
                email,
                postal_address,
                received,
                description: read_text(&description_file)?,
                attachments: attach,
                organisation: organisation.cloned(),
            };
            let (reference, d) = actions.register_paper(paper, &actor()).await.map_err(|e| print::refusal(actions, e))?;
            outln!("{reference}: registered (received {received})");
            delivered(&reference, "acknowledgement", d);
        }
        command => {
            let (reference, action) = case_action(command)?;
            let name = action.name();
            let done = actions.perform_in(organisation, &reference, action, &actor()).await.map_err(|e| print::refusal(actions, e))?;
            print::done(&reference, name, done, no_token.as_deref());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The case and the action a subcommand asks for, its texts read from their files.
fn case_action(command: CasesCommand) -> anyhow::Result<(CaseRef, CaseAction)> {
    let optional = |file: Option<std::path::PathBuf>| file.as_deref().map(read_text).transpose();
    // Checked by clap already (`args::email`); read again as the type.
    let address = |a: Option<String>| a.as_deref().map(EmailAddress::parse).transpose().map_err(anyhow::Error::msg);
    Ok(match command {
        CasesCommand::Assign { reference, handler } => (reference, CaseAction::Assign { handler }),
        CasesCommand::Subject { reference, name } => (reference, CaseAction::Subject { name }),
        CasesCommand::Checked { reference } => (reference, CaseAction::Checked),
        CasesCommand::Complete { reference, name, email, description_file } => {
            (reference, CaseAction::Complete { name, email: address(email)?, description: optional(description_file)? })
        }
        CasesCommand::Progress { reference, expected, message_file } => {
            (reference, CaseAction::Progress { expected_by: expected, message: optional(message_file)? })
        }
        CasesCommand::RequestInfo { reference, message_file, to } => {
            (reference, CaseAction::RequestInformation { message: read_text(&message_file)?, to: address(to)? })
        }
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
        CasesCommand::Disclose { reference, name, email } => (reference, CaseAction::Disclose { name, email: address(email)? }),
        CasesCommand::HearingInvite { reference, at, minutes, place, answer_days, with_subjects } => {
            (reference, CaseAction::HearingInvite(Hearing { start: at, minutes, place, answer_days, with_subjects }))
        }
        CasesCommand::HearingReport { reference, report_file } => (reference, CaseAction::HearingReport { report: read_text(&report_file)? }),
        CasesCommand::NoHearing { reference, ground } => (reference, CaseAction::NoHearing { ground }),
        CasesCommand::List { .. } | CasesCommand::Show { .. } | CasesCommand::Register { .. } => anyhow::bail!("this command is no action on a case"),
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;
    use crate::cli::args::{Cli, Command};
    use crate::domain::awb::NoHearingGround;
    use crate::domain::procedure::{Category, Outcome};

    fn action(args: &[&str]) -> anyhow::Result<(CaseRef, CaseAction)> {
        let cli = Cli::try_parse_from([&["klachtd", "cases"], args].concat()).map_err(|e| anyhow::anyhow!("{e}"))?;
        let Command::Cases { command, .. } = cli.command else { anyhow::bail!("not `cases`") };
        case_action(command)
    }

    #[test]
    fn each_subcommand_becomes_its_action_with_its_texts_read() {
        let dir = std::env::temp_dir().join(format!("klachtd-cases-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("text.txt");
        std::fs::write(&file, "Bevindingen.\n").unwrap();
        let file = file.to_str().unwrap();
        let r = "KL-2026-0001";
        assert_eq!(action(&["assign", r, "Ann Smit"]).unwrap(), (r.parse().unwrap(), CaseAction::Assign { handler: "Ann Smit".into() }));
        assert_eq!(
            action(&["respond", r, "--outcome", "founded", "--findings-file", file]).unwrap().1,
            CaseAction::Respond { outcome: Outcome::Founded, findings: "Bevindingen.\n".into(), measures: String::new() }
        );
        assert_eq!(action(&["category", r, "staff"]).unwrap().1, CaseAction::Category(Category::Staff));
        assert_eq!(
            action(&["postpone", r, "--weeks", "4", "--reason-file", file]).unwrap().1,
            CaseAction::Postpone { weeks: 4, reason: "Bevindingen.\n".into(), consent: None }
        );
        assert_eq!(
            action(&["escalate", r, "--to", "Ombudsman", "--date", "2026-12-15"]).unwrap().1,
            CaseAction::Escalate { to: "Ombudsman".into(), on: chrono::NaiveDate::from_ymd_opt(2026, 12, 15).unwrap() }
        );
        assert_eq!(action(&["no-hearing", r, "--ground", "not-wished"]).unwrap().1, CaseAction::NoHearing { ground: NoHearingGround::NotWished });
        assert_eq!(action(&["reopen", r]).unwrap().1, CaseAction::Reopen);
        // A text file that cannot be read is an error before anything is asked of the case.
        let missing = dir.join("missing.txt");
        assert!(action(&["settle", r, "--settlement-file", missing.to_str().unwrap()]).unwrap_err().to_string().contains("cannot read"));
        assert!(action(&["list"]).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
