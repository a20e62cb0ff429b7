//! `klachtd set-aside list/register`: mail that became no case (set aside silently, or
//! quarantined), and a supervisor's judgement that one is a complaint after all (issue 21).

use std::process::ExitCode;

use super::args::SetAsideCommand;
use super::print::fmt_time;
use crate::app::intake::Outcome;
use crate::config::Config;
use crate::store::set_aside::{HeldFilter, HeldKind, HeldMail};
use crate::store::Store;

pub async fn run(config: &Config, store: &Store, command: SetAsideCommand, actor: &str) -> anyhow::Result<ExitCode> {
    match command {
        SetAsideCommand::List { json, limit, organisation } => {
            let only = organisation.map(|k| vec![k]);
            list(&store.held_mails(HeldFilter::All, None, limit, only.as_deref()).await?.mails, json)?
        }
        SetAsideCommand::Register { id } => {
            let intake = super::command_line_intake(config, store).await?;
            match intake.register_held(id, actor).await? {
                Outcome::Registered { reference } => {
                    let case = store.case_detail(&reference).await?.summary;
                    outln!("{reference}: registered as a complaint (received {}); acknowledgement {}", case.received_on, case.acknowledgement_word());
                }
                Outcome::FollowUp { reference } | Outcome::KeptWithCase { reference, .. } => {
                    outln!("{reference}: the mail refers to this case and is kept with it (no reply)")
                }
                Outcome::Duplicate => outln!("mail {id} was registered before"),
                // Not reached: a person's judgement skips the rules that set mail aside or hold it.
                Outcome::Ignored { reason } => outln!("mail {id} was set aside again ({reason})"),
                Outcome::Quarantine { reason } => outln!("mail {id} stays in quarantine: {reason}"),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What a held mail was taken for, in a word or two.
pub fn class(kind: HeldKind) -> &'static str {
    match kind {
        HeldKind::Quarantined => "quarantined",
        HeldKind::Automated => "machine mail",
        HeldKind::SetAside => "no complaint",
        HeldKind::Own => "own mail",
    }
}

fn list(mails: &[HeldMail], json: bool) -> anyhow::Result<()> {
    if json {
        outln!("{}", serde_json::to_string_pretty(mails)?);
    } else if mails.is_empty() {
        outln!("no mail was set aside or quarantined");
    } else {
        outln!("    ID  RECEIVED          CLASS         FROM                              SUBJECT                           REASON");
        for m in mails {
            let cut = |s: &str| s.chars().take(32).collect::<String>();
            outln!(
                "{:>6}  {:<16}  {:<12}  {:<32}  {:<32}  {}",
                m.id,
                fmt_time(m.received_at),
                class(m.kind),
                cut(m.from_address.as_deref().unwrap_or("-")),
                cut(&m.subject),
                m.reason
            );
        }
    }
    Ok(())
}
