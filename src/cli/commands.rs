//! The commands that look something up or do one thing, each as a function of the
//! configuration's path and its arguments; `dispatch` in `mod.rs` routes to them.

use std::path::Path;
use std::process::ExitCode;

use chrono::{Datelike as _, NaiveDate};

use super::args::{CasesCommand, HandlersCommand, ReportFormat};
use super::{actor, command_line_actions, print};
use crate::config::Config;
use crate::daemon;
use crate::domain::calendar::{amsterdam_date, Calendar};
use crate::domain::organisation::OrganisationKey;
use crate::domain::terms::Procedure;
use crate::store::Store;

/// The configuration without its secrets, and the database, which must exist already: looking
/// never creates one (a mistyped path would show an empty one).
pub(super) async fn existing(path: &Path) -> anyhow::Result<(Config, Store)> {
    let config = Config::load_without_secrets(path)?;
    let store = daemon::open_existing_store(&config).await?;
    Ok((config, store))
}

/// The configuration without its secrets, and the database, created and migrated if need be.
async fn created(path: &Path) -> anyhow::Result<(Config, Store)> {
    let config = Config::load_without_secrets(path)?;
    let store = daemon::open_store(&config).await?;
    Ok((config, store))
}

/// The calendar of the configuration when there is one: it only adds closing days.
fn optional_calendar(path: &Path) -> anyhow::Result<Calendar> {
    Ok(if path.exists() { Config::load_without_secrets(path)?.calendar() } else { Calendar::default() })
}

/// `klachtd deadlines`: the dates of `received` under the configured procedure. The
/// configuration is optional here: without one, the seed's regulation on the Act's calendar.
/// The deadlines of a complaint received on `received` under the procedure of `organisation`;
/// without it, of the one procedure of the configuration's organisations (organisations with
/// different procedures: refused, naming them, rather than one picked for all).
pub(super) fn deadlines(path: &Path, received: NaiveDate, organisation: Option<&crate::domain::organisation::OrganisationKey>) -> anyhow::Result<()> {
    let (procedure, calendar) = match (path.exists(), organisation) {
        (true, _) => {
            let config = Config::load_without_secrets(path)?;
            let organisations = config.organisations();
            let chosen = match organisation {
                None if organisations.iter().any(|o| o.procedure != organisations[0].procedure) => {
                    let keys: Vec<_> = organisations.iter().map(|o| o.key.to_string()).collect();
                    anyhow::bail!("the organisations of {} have procedures of their own: give --organisation KEY ({})", path.display(), keys.join(", "));
                }
                None => organisations.first(),
                Some(key) => organisations.iter().find(|o| &o.key == key),
            };
            let Some(chosen) = chosen else {
                let known: Vec<_> = organisations.iter().map(|o| o.key.to_string()).collect();
                anyhow::bail!(
                    "no organisation {:?} in {} (known: {})",
                    organisation.map(|k| k.to_string()).unwrap_or_default(),
                    path.display(),
                    known.join(", ")
                );
            };
            (chosen.procedure.procedure(), config.calendar())
        }
        (false, None) => (Procedure::default(), Calendar::default()),
        (false, Some(key)) => anyhow::bail!("--organisation {key} needs the configuration, and {} does not exist", path.display()),
    };
    print::deadlines(&procedure.deadlines(&calendar, received), &procedure);
    Ok(())
}

pub(super) fn calendar(path: &Path, year: Option<i32>, json: bool) -> anyhow::Result<()> {
    let year = year.unwrap_or_else(|| amsterdam_date(chrono::Utc::now()).year());
    print::calendar(&optional_calendar(path)?, year, json)
}

pub(super) async fn migrate(path: &Path) -> anyhow::Result<()> {
    created(path).await?.1.close().await;
    outln!("database is up to date");
    Ok(())
}

pub(super) async fn status(path: &Path, json: bool) -> anyhow::Result<()> {
    let (config, store) = existing(path).await?;
    let today = amsterdam_date(chrono::Utc::now());
    let keys: Vec<String> = config.mailboxes().into_iter().map(|m| m.key).collect();
    let s = store.status(&keys, today).await?;
    // Each mailbox, with its organisation and the instance reading it (issue 25).
    let mut mailboxes = Vec::new();
    for m in config.mailboxes() {
        let (last_sync_at, read_by) = store.mailbox_sync(&m.key).await?;
        mailboxes.push(print::MailboxLine { name: m.name, organisation: m.organisation.to_string(), last_sync_at, read_by });
    }
    print::status(&s, &mailboxes, &config.warnings(today), json)
}

/// Listing and showing cases need an existing database; registering a paper complaint or
/// acting on a case may start one.
pub(super) async fn cases(path: &Path, organisation: Option<OrganisationKey>, command: CasesCommand) -> anyhow::Result<ExitCode> {
    let (config, store) = match command {
        CasesCommand::List { .. } | CasesCommand::Show { .. } => existing(path).await?,
        _ => created(path).await?,
    };
    let (actions, no_token) = command_line_actions(&config, &store)?;
    super::cases::cases(&store, &actions, no_token, organisation.as_ref(), command).await
}

pub(super) async fn handlers(path: &Path, command: HandlersCommand) -> anyhow::Result<ExitCode> {
    let (config, store) = match command {
        HandlersCommand::List { .. } => existing(path).await?,
        _ => created(path).await?,
    };
    super::handlers(&store, &config, command).await
}

/// The period of a report: a calendar year, or `--from` to `--to`.
fn period(from: Option<NaiveDate>, to: Option<NaiveDate>, year: Option<i32>) -> anyhow::Result<(NaiveDate, NaiveDate)> {
    let (from, to) = match (year, from, to) {
        (Some(year), _, _) => crate::driving::web::publication::year_period(year).ok_or_else(|| anyhow::anyhow!("--year {year} is out of range"))?,
        (None, Some(from), Some(to)) => (from, to),
        _ => anyhow::bail!("give --from and --to, or --year"),
    };
    anyhow::ensure!(from <= to, "--from {from} is after --to {to}");
    Ok((from, to))
}

/// The register over a period (R10), as a table, CSV, JSON or the yearly publication: of one
/// organisation (issue 25). Without `--organisation`, of the one organisation the database has
/// cases of; with cases of several, refused: registers are never summed.
pub(super) async fn report(
    path: &Path,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    year: Option<i32>,
    format: ReportFormat,
    organisation: Option<OrganisationKey>,
) -> anyhow::Result<()> {
    let (from, to) = period(from, to, year)?;
    let (config, store) = existing(path).await?;
    let organisation = match organisation {
        Some(key) => key,
        None => one_organisation(&store.case_organisations().await?)?,
    };
    let facts = store.register_facts(from, to, &organisation).await?;
    let report = crate::domain::register::compute(&facts, &config.calendar(), from, to, amsterdam_date(chrono::Utc::now()));
    if format != ReportFormat::Publication {
        return print::report(&report, format);
    }
    let year = year.ok_or_else(|| anyhow::anyhow!("--format publication is for a calendar year: give --year"))?;
    let pages = crate::driving::web::templates::Pages::load(config.templates.dir.as_deref(), &config.templates.language)?;
    // The register's organisation's name (a database from before organisations: the first's).
    let name = config.organisation_by_key(&organisation).map_or_else(|| config.organisation().name.clone(), |o| o.name);
    out!("{}", crate::driving::web::publication::render(&pages, &report, &name, year, true)?);
    Ok(())
}

/// The one organisation of `keys` (the organisations with cases; none: the default one), or
/// the refusal that names them.
fn one_organisation(keys: &[OrganisationKey]) -> anyhow::Result<OrganisationKey> {
    match keys {
        [] => Ok(OrganisationKey::default_key()),
        [one] => Ok(one.clone()),
        several => {
            let names: Vec<&str> = several.iter().map(|k| k.as_str()).collect();
            anyhow::bail!("the database holds the cases of several organisations ({}): give --organisation KEY, a register is of one", names.join(", "))
        }
    }
}

pub(super) async fn retention(path: &Path) -> anyhow::Result<()> {
    let (config, store) = existing(path).await?;
    let periods = crate::app::retention::retention_periods(&config);
    let n = crate::app::retention::run_retention_by_organisation(&store, &config.storage.data_dir, &periods).await?;
    let days: Vec<String> = periods.iter().map(|(o, d)| o.as_ref().map_or(format!("{d}"), |o| format!("{d} ({o})"))).collect();
    outln!("personal data removed from {n} case(s) closed more than {} days ago", days.join(", "));
    Ok(())
}

pub(super) async fn reminders_preview(path: &Path, at: Option<chrono::DateTime<chrono::Utc>>) -> anyhow::Result<()> {
    let (config, store) = existing(path).await?;
    let at = at.unwrap_or_else(chrono::Utc::now);
    let service = crate::app::reminders::ReminderService::new(store, daemon::load_settings(&config)?);
    print::reminders_preview(at, service.preview(at).await?);
    Ok(())
}

pub(super) async fn outbox_retry(path: &Path, references: &[crate::domain::reference::CaseRef]) -> anyhow::Result<()> {
    let (_, store) = existing(path).await?;
    let n = store.retry_undeliverable(references, &actor()).await?;
    outln!("{n} mail(s) queued again; the running daemon sends them within outbox.poll_interval_secs");
    Ok(())
}
