//! What the commands print: text for a terminal (times in Europe/Amsterdam) or JSON for a
//! script. Nothing here reads the database or decides anything; it formats what it is given.

use std::io::Write;

use anyhow::Context as _;
use futures::{Stream, TryStreamExt};

use super::args::ReportFormat;
use crate::app::actions::Delivery;
use crate::app::reminders::Digest;
use crate::domain::calendar::Deadlines;
use crate::domain::register::Report;
use crate::store::{CaseDetail, CaseSummary, Handler, QuarantinedMail, Status};

/// A moment as "2026-11-27 09:00" in Europe/Amsterdam.
pub fn fmt_time(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0).map(|t| t.with_timezone(&chrono_tz::Europe::Amsterdam).format("%Y-%m-%d %H:%M").to_string()).unwrap_or_default()
}

/// Where a letter went: queued for an address, or written to a file to print and post.
pub fn delivered(reference: &str, what: &str, d: Delivery) {
    match d {
        Delivery::Mail(to) => println!("{reference}: {what} queued for {to}"),
        Delivery::Print(path) => println!("{reference}: {what} written to {} for printing and posting", path.display()),
    }
}

pub fn deadlines(d: &Deadlines) {
    let json = serde_json::json!({
        "received": d.received.to_string(),
        "acknowledge_by": d.acknowledge_by.to_string(),
        "progress_by": d.progress_by.to_string(),
        "respond_by": d.respond_by.to_string(),
    });
    println!("{json}");
}

pub fn status(s: &Status, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(s)?);
        return Ok(());
    }
    let ago = |t: Option<i64>| t.map_or("never".to_string(), |t| format!("{} ({} s ago)", fmt_time(t), crate::store::now() - t));
    println!("Last mailbox sync:   {}", ago(s.last_sync_at));
    println!("Outbox backlog:      {} pending, {} held, {} suppressed", s.outbox_pending, s.outbox_held, s.outbox_suppressed);
    println!("Undeliverable mail:  {} (refused for good; handlers told; `klachtd outbox retry` once fixed)", s.outbox_undeliverable);
    println!("Oldest unsent mail:  {}", ago(s.oldest_unsent_at));
    println!("Open cases:          {}", s.open_cases);
    println!("  acknowledgement overdue: {}", s.acknowledgement_overdue);
    println!("  progress notice due by today or overdue: {}", s.progress_due);
    println!("  final response due by today or overdue:  {}", s.response_due);
    println!("Quarantined mails:   {}", s.quarantined);
    Ok(())
}

pub fn report(report: &Report, format: ReportFormat) -> anyhow::Result<()> {
    match format {
        ReportFormat::Json => println!("{}", serde_json::to_string_pretty(report)?),
        ReportFormat::Csv => print!("{}", report.to_csv()),
        ReportFormat::Table => print!("{}", report.to_table()),
        ReportFormat::Publication => anyhow::bail!("the publication is written by `report --year Y --format publication`"),
    }
    Ok(())
}

pub fn reminders_preview(at: chrono::DateTime<chrono::Utc>, digests: Vec<Digest>) {
    println!("At {}: {} mail(s) would be sent", at.with_timezone(&chrono_tz::Europe::Amsterdam).format("%Y-%m-%d %H:%M %Z"), digests.len());
    for d in digests {
        println!("\nTo {} <{}>:", d.name, d.email);
        for i in d.items {
            println!("  {}  {:<11} {:<10} {}  {}", i.reference, i.due.deadline().as_str(), i.due.kind(), i.due.date(), i.status);
        }
    }
}

pub fn handlers(list: &[Handler], json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(list)?);
        return Ok(());
    }
    for h in list {
        println!(
            "{:<24} {:<32} {:<10} {:<8} {} open",
            h.name,
            h.email,
            if h.supervisor { "supervisor" } else { "handler" },
            if h.active { "active" } else { "inactive" },
            h.open_cases
        );
    }
    Ok(())
}

pub fn quarantined(mails: &[QuarantinedMail], json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(mails)?);
    } else if mails.is_empty() {
        println!("no quarantined mail waits for a handler");
    } else {
        println!("    ID  RECEIVED          FROM                              SUBJECT                           REASON");
        for m in mails {
            let cut = |s: &str| s.chars().take(32).collect::<String>();
            println!(
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
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
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
                c.progress_by,
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
        println!("{}", serde_json::to_string_pretty(case)?);
        return Ok(());
    }
    let s = &case.summary;
    println!("Reference:      {}", s.reference);
    println!("Status:         {} (source: {})", s.status, s.source);
    println!("Complainant:    {} <{}>", s.complainant_name.as_deref().unwrap_or("(no name)"), s.complainant_email.as_deref().unwrap_or("no address"));
    if let Some(r) = &s.reply_to_email {
        println!("Reply-To:       {r}");
    }
    if let Some(f) = &case.forwarded_sender {
        let sent = case.forwarded_date.as_deref().map(|d| format!(", sent {d}")).unwrap_or_default();
        println!("Forwarded:      originally from {f}{sent}");
    }
    println!("Subject:        {}", s.subject);
    println!("Received:       {}", s.received_on);
    println!("Deadlines:      acknowledge {} / progress {} / respond {}", s.acknowledge_by, s.progress_by, s.respond_by);
    println!("Handler:        {}", s.handler.as_deref().unwrap_or("(none)"));
    if !s.supervisor_check.is_empty() {
        println!("Supervisor check: the complaint names {}", s.supervisor_check);
    }
    let met = |t: Option<i64>| t.map_or("open".to_string(), |t| format!("met {}", fmt_time(t)));
    println!("Acknowledgement: {} ({})", s.acknowledgement_word(), met(s.acknowledged_at));
    println!("Progress notice: {}", met(s.progress_sent_at));
    println!("Final response:  {}", met(s.responded_at));
    if !s.incomplete.is_empty() {
        println!("Incomplete:     missing {}", s.incomplete.join(", "));
    }
    println!("\n{}\n", case.description);
    println!("Messages ({}):", case.message_list.len());
    for m in &case.message_list {
        println!("  {} {} {:<10} {} {}", fmt_time(m.received_at), m.direction, m.kind, m.from_address.as_deref().unwrap_or("-"), m.subject);
    }
    println!("Attachments ({}):", case.attachment_list.len());
    for a in &case.attachment_list {
        let role = if a.role == "document" { String::new() } else { format!(" [{}]", a.role) };
        println!("  {} ({}, {} bytes){role}", a.filename, a.content_type, a.size);
    }
    println!("History:");
    for e in &case.history {
        println!("  {} {:<8} {} {}", fmt_time(e.at), e.actor, e.action, e.detail);
    }
    Ok(())
}

/// The completion script for a shell. Made in memory first: clap_complete panics on a failed
/// write (a closed pipe), and a failure here is one line like any other.
pub fn completions(shell: clap_complete::Shell, mut command: clap::Command) -> anyhow::Result<()> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "klachtd", &mut script);
    let mut out = std::io::stdout().lock();
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
            let mut out = std::io::stdout().lock();
            clap_mangen::Man::new(command).render(&mut out)?;
            out.flush()?;
        }
    }
    Ok(())
}
