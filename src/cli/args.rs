//! The command line's vocabulary: every command, argument and its help. The parsers that turn
//! text into a date, a moment, an e-mail address, a case reference or a word of a closed set
//! once, at the edge, are in `values`. A value of the wrong form never reaches a command (see
//! `main`: one line, exit 1). The same types make the shell completions and the manual page.

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{Parser, Subcommand, ValueEnum};

use super::values::{date, email, moment, organisation, reference, words, year};
use crate::domain::awb::{NoHearingGround, NotHandledGround};
use crate::domain::organisation::OrganisationKey;
use crate::domain::procedure::{Category, Outcome};
use crate::domain::reference::CaseRef;

#[derive(Parser)]
#[command(name = "klachtd", version, about = "Runs a complaints procedure by e-mail")]
pub struct Cli {
    /// Configuration file.
    #[arg(long, global = true, env = "KLACHTD_CONFIG", default_value = "/etc/klachtd/klachtd.toml")]
    pub config: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

/// The help of every case reference argument.
const REFERENCE: &str = "The case's reference, e.g. KL-2026-0001";

#[derive(Subcommand)]
pub enum Command {
    /// Run the daemon: read the mailbox, register cases, send mail.
    Run,
    /// Validate the configuration; unless --offline, also try the database and mail servers.
    CheckConfig {
        /// Check the file and the templates only; connect to nothing.
        #[arg(long)]
        offline: bool,
    },
    /// Apply database migrations (the daemon also does this at start).
    Migrate,
    /// Print the deadlines for a date of receipt as JSON.
    Deadlines {
        /// Date of receipt, YYYY-MM-DD.
        #[arg(long, value_parser = date, value_name = "DATE")]
        received: NaiveDate,
        #[arg(long, value_name = "KEY", help = "The organisation (its key) whose procedure applies; default the first")]
        organisation: Option<crate::domain::organisation::OrganisationKey>,
    },
    /// The days of a year that are not working days, and why (the Algemene termijnenwet,
    /// royal decrees, the service's closing days): why a deadline moved.
    Calendar {
        /// The year; default this year.
        #[arg(long, value_parser = year, value_name = "YEAR")]
        year: Option<i32>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Health at a glance: last mailbox sync, outbox backlog, open cases by deadline state.
    Status {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Look at and act on cases.
    Cases {
        /// Only the cases of this organisation (its key, issue 25): a case of another one is
        /// refused as a case that does not exist, and the refusal is in its history.
        #[arg(long, global = true, value_parser = organisation, value_name = "KEY")]
        organisation: Option<OrganisationKey>,
        #[command(subcommand)]
        command: CasesCommand,
    },
    /// The handlers who can be assigned cases.
    Handlers {
        #[command(subcommand)]
        command: HandlersCommand,
    },
    /// The register of complaints over a period (R10), or a calendar year (--year; with
    /// --format publication, the yearly publication of Awb 9:12a).
    Report {
        /// First day of the period, YYYY-MM-DD.
        #[arg(long, value_parser = date, value_name = "DATE", required_unless_present = "year", conflicts_with = "year", requires = "to")]
        from: Option<NaiveDate>,
        /// Last day of the period, YYYY-MM-DD.
        #[arg(long, value_parser = date, value_name = "DATE", requires = "from")]
        to: Option<NaiveDate>,
        /// A calendar year instead of --from and --to.
        #[arg(long, value_name = "YEAR", value_parser = clap::value_parser!(i32).range(2000..=9999))]
        year: Option<i32>,
        /// How to print the register.
        #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
        format: ReportFormat,
        /// The register of this organisation (its key); needed when the database holds cases
        /// of several, as registers are never summed.
        #[arg(long, value_parser = organisation, value_name = "KEY")]
        organisation: Option<OrganisationKey>,
    },
    /// Personal data retention (R9).
    Retention {
        #[command(subcommand)]
        command: RetentionCommand,
    },
    /// Deadline reminders to handlers.
    Reminders {
        #[command(subcommand)]
        command: RemindersCommand,
    },
    /// Outgoing mail.
    Outbox {
        #[command(subcommand)]
        command: OutboxCommand,
    },
    /// Mail held for a person: flagged as spam by the organisation's filter, a copier's scan,
    /// a voicemail.
    Quarantine {
        #[command(subcommand)]
        command: QuarantineCommand,
    },
    /// Mail that became no case: set aside silently (machine mail, no complaint, our own mail)
    /// or quarantined. A supervisor can still register one as a complaint.
    SetAside {
        #[command(subcommand)]
        command: SetAsideCommand,
    },
    /// Print a shell completion script (systemd/install.sh installs them).
    #[command(hide = true)]
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
    /// Print the manual page klachtd(1) in roff, or write every page to a directory.
    #[command(hide = true)]
    Man {
        /// Write klachtd.1 and a page per command (klachtd-cases-respond.1, ...) here instead.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

/// The forms of the register.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// Columns for a terminal.
    Table,
    /// Comma-separated, for a spreadsheet.
    Csv,
    /// One JSON document.
    Json,
    /// The yearly publication (Awb 9:12a): an HTML document without personal data, in the
    /// letters' language, that prints on A4.
    Publication,
}

#[derive(Subcommand)]
pub enum OutboxCommand {
    /// Queue mail again that the SMTP server refused for good, once the cause is fixed (a smart
    /// host whose 5xx was temporary after all, a corrected address).
    Retry {
        /// Only the undeliverable mail of these cases.
        #[arg(required_unless_present = "all", value_parser = reference, value_name = "REFERENCE")]
        references: Vec<CaseRef>,
        /// All undeliverable mail.
        #[arg(long, conflicts_with = "references")]
        all: bool,
    },
}

#[derive(Subcommand)]
pub enum QuarantineCommand {
    /// Quarantined mail that can be registered, oldest first.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Only the mail received for this organisation (its key).
        #[arg(long, value_parser = organisation, value_name = "KEY")]
        organisation: Option<OrganisationKey>,
    },
    /// Register a quarantined mail (say, a real complaint the spam filter flagged) exactly as
    /// the intake would have: a new case with its original date of receipt, acknowledged, or
    /// mail of the case it refers to.
    Register {
        /// The mail's ID, as `quarantine list` shows it.
        id: i64,
    },
}

#[derive(Subcommand)]
pub enum SetAsideCommand {
    /// Set-aside and quarantined mail, newest first, with the reason for each.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// At most this many mails.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Only the mail received for this organisation (its key).
        #[arg(long, value_parser = organisation, value_name = "KEY")]
        organisation: Option<OrganisationKey>,
    },
    /// Register a set-aside or quarantined mail as a complaint: a new case with its original
    /// date of receipt, acknowledged (or mail of the case it refers to). The case's history
    /// records who registered it and why it was set aside.
    Register {
        /// The mail's ID, as `set-aside list` shows it.
        id: i64,
    },
}

#[derive(Subcommand)]
pub enum HandlersCommand {
    /// Add a handler (or update one with the same name).
    Add {
        /// The handler's name, as cases and reminders show it.
        name: String,
        /// The handler's e-mail address, for assignments and reminders.
        #[arg(value_parser = email, value_name = "EMAIL")]
        email: String,
        /// Supervisors receive escalations and check assignments.
        #[arg(long)]
        supervisor: bool,
        /// An organisation they work for (its key); repeat for several. Default: "default",
        /// the one organisation of a configuration without several.
        #[arg(long = "organisation", value_parser = organisation, value_name = "KEY")]
        organisations: Vec<OrganisationKey>,
    },
    /// The handlers, active or not, with their number of open cases.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Make a handler unavailable for new cases (their history stays).
    Remove {
        /// The handler's name.
        name: String,
    },
}

#[derive(Subcommand)]
pub enum RetentionCommand {
    /// Remove personal data of cases closed longer than retention.personal_data_days ago.
    Run,
}

#[derive(Subcommand)]
pub enum RemindersCommand {
    /// Show what would be sent at a moment, without sending.
    Preview {
        /// "YYYY-MM-DD HH:MM" in Europe/Amsterdam, or RFC 3339; default now.
        #[arg(long, value_parser = moment, value_name = "MOMENT")]
        at: Option<chrono::DateTime<chrono::Utc>>,
    },
}

#[derive(Subcommand)]
pub enum CasesCommand {
    /// Cases, oldest first; printed as they are read, so the first come at once.
    List {
        /// Print a JSON array instead of a table.
        #[arg(long)]
        json: bool,
        /// Only open cases.
        #[arg(long)]
        open: bool,
        /// Only the cases of this handler.
        #[arg(long, value_name = "NAME")]
        handler: Option<String>,
        /// Only open cases with a deadline not yet met within this many calendar days (or
        /// passed).
        #[arg(long, value_name = "DAYS")]
        due_within: Option<u32>,
        /// At most this many cases.
        #[arg(long, value_name = "N")]
        limit: Option<u32>,
    },
    /// One case with its messages, attachments and history.
    Show {
        #[arg(value_parser = reference, help = REFERENCE)]
        reference: CaseRef,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Send a held acknowledgement (mail that was in the mailbox before klachtd took over).
    ReleaseAcknowledgement {
        #[arg(value_parser = reference, help = REFERENCE)]
        reference: CaseRef,
    },
    /// Make a handler responsible for a case (refused if the complaint is about them).
    Assign {
        #[arg(value_parser = reference, help = REFERENCE)]
        reference: CaseRef,
        /// The handler's name; they are told by mail.
        handler: String,
    },
    /// Record a staff member the complaint is about; they can then not handle it.
    Subject {
        #[arg(value_parser = reference, help = REFERENCE)]
        reference: CaseRef,
        /// The staff member's name.
        name: String,
    },
    /// Send the progress notice (R6) with the expected handling date.
    Progress {
        #[arg(value_parser = reference, help = REFERENCE)]
        reference: CaseRef,
        /// When the complaint is expected to be handled, YYYY-MM-DD.
        #[arg(long, value_parser = date, value_name = "DATE")]
        expected: NaiveDate,
        /// Text for the complainant, inserted in the letter.
        #[arg(long, value_name = "FILE")]
        message_file: Option<PathBuf>,
    },
    /// Ask the complainant (or, with --to, someone else) for more information (R7).
    RequestInfo {
        #[arg(value_parser = reference, help = REFERENCE)]
        reference: CaseRef,
        /// The question, inserted in the letter.
        #[arg(long, value_name = "FILE")]
        message_file: PathBuf,
        /// Ask this address instead of the complainant.
        #[arg(long, value_parser = email, value_name = "EMAIL")]
        to: Option<String>,
    },
    /// Send the final response (R8) with findings and measures; closes the case.
    Respond {
        #[arg(value_parser = reference, help = REFERENCE)]
        reference: CaseRef,
        /// Whether the complaint was founded.
        #[arg(long, value_parser = words::<Outcome>())]
        outcome: Outcome,
        /// The findings, inserted in the letter.
        #[arg(long, value_name = "FILE")]
        findings_file: PathBuf,
        /// The measures taken, inserted in the letter.
        #[arg(long, value_name = "FILE")]
        measures_file: Option<PathBuf>,
    },
    /// Postpone the final response by at most four weeks (Awb 9:11), with the reason; the
    /// complainant (and staff the complaint is about) get the new date. A further
    /// postponement needs the complainant's written consent (--consent).
    Postpone {
        #[arg(value_parser = reference, help = REFERENCE)]
        reference: CaseRef,
        /// By how many weeks (1 to postponement.max_weeks, at most 4).
        #[arg(long, value_name = "N")]
        weeks: u32,
        /// The reason, inserted in the letter.
        #[arg(long, value_name = "FILE")]
        reason_file: PathBuf,
        /// The complainant's written consent to a further postponement: a reference to their
        /// reply (its date and subject) or a note of their consent.
        #[arg(long, value_name = "TEXT")]
        consent: Option<String>,
    },
    /// Do not handle the complaint, on a ground of Awb 9:8; the letter names the ground and the
    /// external body. Closes the case.
    NotHandled {
        #[arg(value_parser = reference, help = REFERENCE)]
        reference: CaseRef,
        /// The ground of Awb 9:8.
        #[arg(long, value_parser = words::<NotHandledGround>())]
        ground: NotHandledGround,
        /// An explanation, inserted in the letter.
        #[arg(long, value_name = "FILE")]
        explanation_file: Option<PathBuf>,
    },
    /// Close the case as settled to the complainant's satisfaction (Awb 9:5), confirming it to
    /// them in writing.
    Settle {
        #[arg(value_parser = reference, help = REFERENCE)]
        reference: CaseRef,
        /// How it was settled, inserted in the letter.
        #[arg(long, value_name = "FILE")]
        settlement_file: PathBuf,
    },
    /// Send the person the complaint is about (recorded with `cases subject`) a copy of the
    /// complaint and its documents (Awb 9:9); recorded as a disclosure.
    Disclose {
        #[arg(value_parser = reference, help = REFERENCE)]
        reference: CaseRef,
        /// Their name, as recorded with `cases subject`.
        #[arg(long)]
        name: String,
        /// Their e-mail address (default: that of the handler of that name).
        #[arg(long, value_parser = email, value_name = "EMAIL")]
        email: Option<String>,
    },
    /// Invite the complainant (and with --with-subjects the staff the complaint is about) to be
    /// heard (Awb 9:10): a letter with an iCalendar invitation their calendar can accept.
    HearingInvite {
        #[arg(value_parser = reference, help = REFERENCE)]
        reference: CaseRef,
        /// When, "YYYY-MM-DD HH:MM" in Europe/Amsterdam (or RFC 3339).
        #[arg(long, value_parser = moment, value_name = "MOMENT")]
        at: chrono::DateTime<chrono::Utc>,
        /// How long, in minutes.
        #[arg(long, default_value_t = 60)]
        minutes: u32,
        /// Where: a place, or a video link.
        #[arg(long, value_name = "TEXT")]
        place: String,
        /// Working days to answer the invitation (the term of Awb 9:10(2)(c)); default: the
        /// term of the case's procedure (5 working days in both presets).
        #[arg(long, value_name = "DAYS")]
        answer_days: Option<u32>,
        /// Invite the staff the complaint is about (recorded with `cases subject`) too.
        #[arg(long)]
        with_subjects: bool,
    },
    /// Record the report of the hearing; the complainant receives it (Awb 9:10).
    HearingReport {
        #[arg(value_parser = reference, help = REFERENCE)]
        reference: CaseRef,
        /// The report, inserted in the letter.
        #[arg(long, value_name = "FILE")]
        report_file: PathBuf,
    },
    /// Record why the complainant was not heard (Awb 9:10(2)).
    NoHearing {
        #[arg(value_parser = reference, help = REFERENCE)]
        reference: CaseRef,
        /// The ground; no-answer only once the term to answer has passed.
        #[arg(long, value_parser = words::<NoHearingGround>())]
        ground: NoHearingGround,
    },
    /// Set the register category.
    Category {
        #[arg(value_parser = reference, help = REFERENCE)]
        reference: CaseRef,
        /// What the complaint is about, for the register (R10).
        #[arg(value_parser = words::<Category>())]
        category: Category,
    },
    /// Add an internal note (never sent).
    Note {
        #[arg(value_parser = reference, help = REFERENCE)]
        reference: CaseRef,
        /// The note.
        text: String,
    },
    /// Record that the complainant took the complaint to an external body (R11).
    Escalate {
        #[arg(value_parser = reference, help = REFERENCE)]
        reference: CaseRef,
        /// The external body, e.g. "Nationale ombudsman".
        #[arg(long, value_name = "BODY")]
        to: String,
        /// When the complaint was taken there, YYYY-MM-DD.
        #[arg(long, value_parser = date, value_name = "DATE")]
        date: NaiveDate,
    },
    /// Reopen a closed case.
    Reopen {
        #[arg(value_parser = reference, help = REFERENCE)]
        reference: CaseRef,
    },
    /// Register a complaint that came by post (R2), with its real date of receipt.
    Register {
        /// The complainant's name.
        #[arg(long)]
        name: String,
        /// The complainant's e-mail address: the acknowledgement is mailed, else printed.
        #[arg(long, value_parser = email, value_name = "EMAIL")]
        email: Option<String>,
        /// The complainant's postal address, for letters to print.
        #[arg(long, value_name = "TEXT")]
        postal_address: Option<String>,
        /// Date of receipt, YYYY-MM-DD.
        #[arg(long, value_parser = date, value_name = "DATE")]
        received: NaiveDate,
        /// The complaint's text.
        #[arg(long, value_name = "FILE")]
        description_file: PathBuf,
        /// A scanned document; repeat for more.
        #[arg(long, value_name = "FILE")]
        attach: Vec<PathBuf>,
    },
    /// Record that the acknowledgement of a paper complaint went out by post.
    Acknowledged {
        #[arg(value_parser = reference, help = REFERENCE)]
        reference: CaseRef,
        /// When it was posted, YYYY-MM-DD.
        #[arg(long, value_parser = date, value_name = "DATE")]
        date: NaiveDate,
    },
    /// Correct or add the complainant's name, e-mail address or description (R3); the
    /// incomplete flags are recomputed.
    Complete {
        #[arg(value_parser = reference, help = REFERENCE)]
        reference: CaseRef,
        /// The complainant's name.
        #[arg(long)]
        name: Option<String>,
        /// The complainant's e-mail address.
        #[arg(long, value_parser = email, value_name = "EMAIL")]
        email: Option<String>,
        /// The complaint's text.
        #[arg(long, value_name = "FILE")]
        description_file: Option<PathBuf>,
    },
    /// A supervisor confirms the assignment of a case whose complaint names a handler (R5).
    Checked {
        #[arg(value_parser = reference, help = REFERENCE)]
        reference: CaseRef,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The words clap offers are the words the domain parses.
    #[test]
    fn offered_words_are_the_domain_words() {
        for o in Outcome::value_variants() {
            assert_eq!(o.to_possible_value().unwrap().get_name(), o.as_str());
        }
        for c in Category::value_variants() {
            assert_eq!(c.to_possible_value().unwrap().get_name(), c.as_str());
        }
    }

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
