//! What the commands print: text for a terminal (times in Europe/Amsterdam) or JSON for a
//! script. Nothing here reads the database or decides anything; it formats what it is given.

use std::io::Write;

use anyhow::Context as _;
use chrono::Datelike;
use futures::{Stream, TryStreamExt};

use super::args::ReportFormat;
use crate::app::actions::{ActionError, Actions, Delivery, Done};
use crate::app::reminders::Digest;
use crate::config::Problem;
use crate::domain::calendar::{Calendar, Closure, Deadlines};
use crate::domain::inbound::AttachmentRole;
use crate::domain::reference::CaseRef;
use crate::domain::register::Report;
use crate::domain::terms::{Procedure, Term};
use crate::store::{CaseDetail, CaseSummary, Handler, QuarantinedMail, Status};

/// An action's failure as the command line reports it: a refusal in the configured language
/// (`templates.language`), from the same catalogue as the web's; anything else as it is.
pub fn refusal(actions: &Actions, e: ActionError) -> anyhow::Error {
    match e {
        ActionError::Refused(refusal) => anyhow::Error::msg(actions.in_language(&refusal)),
        e => e.into(),
    }
}

/// Standard output for the commands. When its reader has gone (`klachtd cases show REF | head`)
/// the command ends right there, quietly, as other Unix tools do, with the code a shell gives a
/// broken pipe (128 + SIGPIPE); `println!` would panic. Nothing is lost: what a command changes
/// is committed before it prints.
pub struct Out(std::io::StdoutLock<'static>);

impl Out {
    pub fn new() -> Self {
        Self(std::io::stdout().lock())
    }
}

impl Write for Out {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf).map_err(reader_gone)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush().map_err(reader_gone)
    }
}

fn reader_gone(e: std::io::Error) -> std::io::Error {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(141);
    }
    e
}

/// A moment as "2026-11-27 09:00" in Europe/Amsterdam.
pub fn fmt_time(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0).map(|t| t.with_timezone(&chrono_tz::Europe::Amsterdam).format("%Y-%m-%d %H:%M").to_string()).unwrap_or_default()
}

/// Where a letter went: queued for an address, or written to a file to print and post.
pub fn delivered(reference: &CaseRef, what: &str, d: Delivery) {
    match d {
        Delivery::Mail(to) => outln!("{reference}: {what} queued for {to}"),
        Delivery::Print(path) => outln!("{reference}: {what} written to {} for printing and posting", path.display()),
    }
}

/// What an action on a case did, in one line or two; `action` is its name (`CaseAction::name`),
/// `no_token` why a notice to a handler carries no reply token, if it does not.
pub fn done(reference: &CaseRef, action: &str, done: Done, no_token: Option<&str>) {
    let notified = match no_token {
        None => "(notified by mail)".to_string(),
        Some(why) => format!("(notified by mail, without a reply token: {why})"),
    };
    match done {
        Done::Assigned { handler } => outln!("{reference}: assigned to {handler} {notified}"),
        Done::Subject { name, reassigned_to: Some(next) } => outln!("{reference}: {name} recorded as a subject; the case is now assigned to {next} {notified}"),
        Done::Subject { name, reassigned_to: None } => outln!("{reference}: {name} recorded as a subject"),
        Done::Checked => outln!("{reference}: assignment checked by a supervisor; the supervisor check is cleared"),
        Done::Completed(done) => {
            let missing = if done.incomplete.is_empty() { "complete".to_string() } else { format!("still missing {}", done.incomplete.join(", ")) };
            outln!("{reference}: {} corrected; {missing}", done.fields.join(", "));
        }
        Done::Letter(d) => {
            let what = match action {
                "progress" => "progress notice",
                "request-info" => "request for information",
                "respond" => "final response",
                "hearing-report" => "report of the hearing",
                _ => "letter",
            };
            delivered(reference, what, d);
            if action == "respond" {
                outln!("{reference}: closed");
            }
        }
        Done::Category(category) => outln!("{reference}: category {category}"),
        Done::Noted => outln!("{reference}: note added"),
        Done::Escalated { to, on } => outln!("{reference}: recorded as taken to {to} on {on}"),
        Done::Reopened => outln!("{reference}: reopened"),
        Done::Acknowledged { on } => outln!("{reference}: acknowledgement recorded as sent on {on}"),
        Done::Released(what) => outln!("{reference}: {what}"),
        Done::Postponed { delivery, respond_by } => {
            delivered(reference, "postponement", delivery);
            outln!("{reference}: final response due by {respond_by}");
        }
        Done::NotHandled { delivery, ground } => {
            delivered(reference, "letter not handling the complaint", delivery);
            outln!("{reference}: closed, not handled ({ground})");
        }
        Done::Settled(delivery) => {
            delivered(reference, "confirmation of the settlement", delivery);
            outln!("{reference}: closed, settled");
        }
        Done::Disclosed { to } => outln!("{reference}: copy of the complaint queued for {to} (disclosure recorded)"),
        Done::Invited { addresses, answer_by } => outln!("{reference}: hearing invitation queued for {}; answer by {answer_by}", addresses.join(", ")),
        Done::NoHearing(ground) => outln!("{reference}: no hearing ({ground})"),
    }
}

/// The dates of a date of receipt under a procedure, and the procedure's terms (null: absent).
pub fn deadlines(d: &Deadlines, procedure: &Procedure) {
    let term = |t: Option<Term>| t.map(|t| t.to_string());
    let json = serde_json::json!({
        "received": d.received.to_string(),
        "acknowledge_by": d.acknowledge_by.to_string(),
        "progress_by": d.progress_by.map(|d| d.to_string()),
        "respond_by": d.respond_by.to_string(),
        "terms": {
            "acknowledge": procedure.acknowledge.to_string(),
            "progress": term(procedure.progress),
            "respond": procedure.respond.to_string(),
            "hearing_answer": term(procedure.hearing_answer),
            "postponement": term(procedure.postponement),
        },
    });
    outln!("{json}");
}

/// One mailbox in `klachtd status`: whose it is, when it was last synced, which instance (its
/// lease) reads it.
#[derive(Debug, serde::Serialize)]
pub struct MailboxLine {
    pub name: String,
    pub organisation: String,
    pub last_sync_at: Option<i64>,
    pub read_by: Option<String>,
}

pub fn status(s: &Status, mailboxes: &[MailboxLine], warnings: &[Problem], json: bool) -> anyhow::Result<()> {
    if json {
        let mut value = serde_json::to_value(s)?;
        value["mailboxes"] = serde_json::to_value(mailboxes)?;
        value["warnings"] = warnings.iter().map(|w| serde_json::json!({"key": w.key, "message": w.message, "fix": w.fix})).collect();
        outln!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    let ago = |t: Option<i64>| t.map_or("never".to_string(), |t| format!("{} ({} s ago)", fmt_time(t), crate::store::now() - t));
    if mailboxes.len() > 1 {
        // Of several, the one synced longest ago: the one to worry about.
        outln!("Oldest mailbox sync: {}", ago(s.last_sync_at));
    } else {
        outln!("Last mailbox sync:   {}", ago(s.last_sync_at));
    }
    if mailboxes.len() > 1 || mailboxes.iter().any(|m| m.read_by.is_some()) {
        for m in mailboxes {
            let by = m.read_by.as_deref().map_or("no instance".to_string(), |id| format!("instance {id}"));
            outln!("  {} ({}): synced {}; read by {by}", m.name, m.organisation, ago(m.last_sync_at));
        }
    }
    outln!("Outbox backlog:      {} pending, {} held, {} suppressed", s.outbox_pending, s.outbox_held, s.outbox_suppressed);
    outln!("Undeliverable mail:  {} (refused for good; handlers told; `klachtd outbox retry` once fixed)", s.outbox_undeliverable);
    outln!("Oldest unsent mail:  {}", ago(s.oldest_unsent_at));
    outln!("Open cases:          {}", s.open_cases);
    outln!("  acknowledgement overdue: {}", s.acknowledgement_overdue);
    outln!("  progress notice due by today or overdue: {}", s.progress_due);
    outln!("  final response due by today or overdue:  {}", s.response_due);
    outln!("Quarantined mails:   {}", s.quarantined);
    for w in warnings {
        outln!("Warning:             {w}");
    }
    Ok(())
}

/// A year's closed days with the reason for each; weekends only where a holiday falls on one.
pub fn calendar(calendar: &Calendar, year: i32, json: bool) -> anyhow::Result<()> {
    let days = calendar.closed_days(year);
    let covered = calendar.decree_covers(year);
    if json {
        let days: Vec<_> = days
            .iter()
            .map(|(date, why)| {
                let (kind, name, source) = match why {
                    Closure::Holiday(h) => ("holiday", Some(h.name()), h.article().to_string()),
                    Closure::Equated(decree) => ("equated", None, decree.title.clone()),
                    Closure::ClosingDay => ("closing-day", None, "calendar.extra_closing_days".to_string()),
                };
                serde_json::json!({"date": date.to_string(), "kind": kind, "name": name, "source": source})
            })
            .collect();
        outln!("{}", serde_json::to_string_pretty(&serde_json::json!({"year": year, "decree_known": covered, "closed": days}))?);
        return Ok(());
    }
    outln!("{year}: days that are not working days, besides every Saturday and Sunday");
    for (date, why) in &days {
        let weekend = if matches!(date.weekday(), chrono::Weekday::Sat | chrono::Weekday::Sun) { " (a weekend day anyway)" } else { "" };
        outln!("{}  {}{weekend}", date.format("%a %Y-%m-%d"), why.describe());
    }
    if !covered {
        outln!(
            "No royal decree for {year} is known: the days it equates with a holiday (Atw art. 3(3)) are missing. Add it as [[calendar.decrees]] in the configuration."
        );
    }
    Ok(())
}

pub fn report(report: &Report, format: ReportFormat) -> anyhow::Result<()> {
    match format {
        ReportFormat::Json => outln!("{}", serde_json::to_string_pretty(report)?),
        ReportFormat::Csv => out!("{}", report.to_csv()),
        ReportFormat::Table => out!("{}", report.to_table()),
        ReportFormat::Publication => anyhow::bail!("the publication is written by `report --year Y --format publication`"),
    }
    Ok(())
}

pub fn reminders_preview(at: chrono::DateTime<chrono::Utc>, digests: Vec<Digest>) {
    outln!("At {}: {} mail(s) would be sent", at.with_timezone(&chrono_tz::Europe::Amsterdam).format("%Y-%m-%d %H:%M %Z"), digests.len());
    for d in digests {
        outln!("\nTo {} <{}>, of {}:", d.name, d.email, d.organisation);
        for i in d.items {
            outln!("  {}  {:<11} {:<10} {}  {}", i.reference, i.due.deadline().as_str(), i.due.kind(), i.due.date(), i.status);
        }
        if let Some(h) = d.held {
            let since = h.since.map(fmt_time).unwrap_or_else(|| "the last day".into());
            outln!("  mail that became no case since {since}: {} set aside, {} quarantined", h.set_aside, h.quarantined);
        }
    }
}

pub fn handlers(list: &[Handler], json: bool) -> anyhow::Result<()> {
    if json {
        outln!("{}", serde_json::to_string_pretty(list)?);
        return Ok(());
    }
    for h in list {
        outln!(
            "{:<24} {:<32} {:<10} {:<8} {:>5} open  {}",
            h.name,
            h.email,
            if h.supervisor { "supervisor" } else { "handler" },
            if h.active { "active" } else { "inactive" },
            h.open_cases,
            if h.organisations.is_empty() { "(no organisation)".to_string() } else { h.organisations.join(", ") }
        );
    }
    Ok(())
}

pub fn quarantined(mails: &[QuarantinedMail], json: bool) -> anyhow::Result<()> {
    if json {
        outln!("{}", serde_json::to_string_pretty(mails)?);
    } else if mails.is_empty() {
        outln!("no quarantined mail waits for a handler");
    } else {
        outln!("    ID  RECEIVED          FROM                              SUBJECT                           REASON");
        for m in mails {
            let cut = |s: &str| s.chars().take(32).collect::<String>();
            outln!(
                "{:>6}  {:<16}  {:<32}  {:<32}  {}",
                m.id,
                fmt_time(m.received_at),
                cut(m.from_address.as_deref().unwrap_or("-")),
                cut(&m.subject),
                m.reason
            );
        }
    }
    Ok(())
}

/// Cases written as read (a register of years does not wait for the last row); the JSON is
/// still one array.
pub async fn case_list<E>(mut cases: impl Stream<Item = Result<CaseSummary, E>> + Unpin, json: bool) -> anyhow::Result<()>
where
    anyhow::Error: From<E>,
{
    let mut out = std::io::BufWriter::new(Out::new());
    if json {
        write!(out, "[")?;
        let mut first = true;
        while let Some(c) = cases.try_next().await? {
            write!(out, "{}\n  {}", if first { "" } else { "," }, serde_json::to_string(&c)?)?;
            first = false;
        }
        writeln!(out, "{}]", if first { "" } else { "\n" })?;
    } else {
        writeln!(
            out,
            "{:<14} {:<7} {:<10} {:<10} {:<10} {:<10} {:<11} {:>4} {:>4}  FLAGS",
            "REFERENCE", "STATUS", "RECEIVED", "ACK BY", "PROGRESS", "RESPOND", "ACK", "MSGS", "ATT"
        )?;
        while let Some(c) = cases.try_next().await? {
            let flags = if c.incomplete.is_empty() { String::new() } else { format!("incomplete:{}", c.incomplete.join("+")) };
            writeln!(
                out,
                "{:<14} {:<7} {:<10} {:<10} {:<10} {:<10} {:<11} {:>4} {:>4}  {}",
                c.reference,
                c.status,
                c.received_on,
                c.acknowledge_by,
                c.progress_by.map_or_else(|| "-".to_string(), |d| d.to_string()),
                c.respond_by,
                c.acknowledgement_word(),
                c.messages,
                c.attachments,
                flags
            )?;
        }
    }
    out.flush()?;
    Ok(())
}

pub fn case_detail(case: &CaseDetail, json: bool) -> anyhow::Result<()> {
    if json {
        outln!("{}", serde_json::to_string_pretty(case)?);
        return Ok(());
    }
    let s = &case.summary;
    outln!("Reference:      {}", s.reference);
    outln!("Status:         {} (source: {})", s.status, s.source);
    outln!("Complainant:    {} <{}>", s.complainant_name.as_deref().unwrap_or("(no name)"), s.complainant_email.as_deref().unwrap_or("no address"));
    if let Some(r) = &s.reply_to_email {
        outln!("Reply-To:       {r}");
    }
    if let Some(f) = &case.forwarded_sender {
        let sent = case.forwarded_date.as_deref().map(|d| format!(", sent {d}")).unwrap_or_default();
        outln!("Forwarded:      originally from {f}{sent}");
    }
    outln!("Subject:        {}", s.subject);
    outln!("Received:       {}", s.received_on);
    let progress = s.progress_by.map_or_else(|| "(none in its procedure)".to_string(), |d| d.to_string());
    outln!("Deadlines:      acknowledge {} / progress {progress} / respond {}", s.acknowledge_by, s.respond_by);
    outln!("Procedure:      {}", s.procedure);
    outln!("Handler:        {}", s.handler.as_deref().unwrap_or("(none)"));
    if !s.supervisor_check.is_empty() {
        outln!("Supervisor check: the complaint names {}", s.supervisor_check);
    }
    let met = |t: Option<i64>| t.map_or("open".to_string(), |t| format!("met {}", fmt_time(t)));
    outln!("Acknowledgement: {} ({})", s.acknowledgement_word(), met(s.acknowledged_at));
    outln!("Progress notice: {}", met(s.progress_sent_at));
    outln!("Final response:  {}", met(s.responded_at));
    if !s.incomplete.is_empty() {
        outln!("Incomplete:     missing {}", s.incomplete.join(", "));
    }
    outln!("\n{}\n", case.description);
    outln!("Messages ({}):", case.message_list.len());
    for m in &case.message_list {
        outln!("  {} {} {:<10} {} {}", fmt_time(m.received_at), m.direction, m.kind, m.from_address.as_deref().unwrap_or("-"), m.subject);
    }
    outln!("Attachments ({}):", case.attachment_list.len());
    for a in &case.attachment_list {
        let role = if a.role == AttachmentRole::Document { String::new() } else { format!(" [{}]", a.role.as_str()) };
        outln!("  {} ({}, {} bytes){role}", a.filename, a.content_type, a.size);
    }
    outln!("History:");
    for e in &case.history {
        outln!("  {} {:<8} {} {}", fmt_time(e.at), e.actor, e.action, e.detail);
    }
    Ok(())
}

/// The completion script for a shell. Made in memory first: clap_complete panics on a failed
/// write (a closed pipe), and a failure here is one line like any other.
pub fn completions(shell: clap_complete::Shell, mut command: clap::Command) -> anyhow::Result<()> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "klachtd", &mut script);
    let mut out = Out::new();
    out.write_all(&script)?;
    out.flush()?;
    Ok(())
}

/// The manual page klachtd(1) on standard output; or, given a directory, it and a page per
/// command (klachtd-cases.1, klachtd-cases-respond.1, ...) that its SUBCOMMANDS section names.
pub fn manual(command: clap::Command, dir: Option<&std::path::Path>) -> anyhow::Result<()> {
    match dir {
        Some(dir) => {
            clap_mangen::generate_to(command, dir).with_context(|| format!("cannot write the manual pages to {}", dir.display()))?;
        }
        None => {
            let mut out = Out::new();
            clap_mangen::Man::new(command).render(&mut out)?;
            out.flush()?;
        }
    }
    Ok(())
}
