//! klachtd runs a complaints procedure by e-mail. See README.md for the overview and
//! `../shared/REGULATION.md` (in the project's shared folder) for the rules it implements.
//!
//! The layers, each depending only on those above it (the rule is [`LAYERS`], and a test reads
//! the sources and fails on a `crate::X` path that it does not allow):
//! - [`domain`]: the regulation itself (deadlines, references, classification of mail, the
//!   register, Message-IDs from the randomness it is given). Pure: no I/O, no clock, no
//!   database; unit-tested on its own. It uses nothing else of the crate.
//! - [`config`]: the one configuration file, its sections (`[oauth2]` included) and their
//!   checks. Uses `domain`.
//! - [`store`]: every SQL statement, one file per concern, on SQLite or PostgreSQL, and the
//!   files the database names by content hash (`store::attachments`). Uses `domain`.
//! - [`telemetry`]: logging. Uses `config`.
//! - [`app`]: the use cases: intake of one mail, handler actions, reminders, the outbox,
//!   retention, and what they share: the reloadable settings, the health counters, the clock.
//!   They reach the world through the store and through traits they define, which adapters
//!   implement: outgoing mail goes through [`app::outbox::Transport`] (SMTP or Graph in the
//!   daemon, a stub in the unit tests). Uses `domain`, `config`, `store`, `telemetry`; never an
//!   adapter.
//! - [`driven`]: adapters the app drives, behind its traits: the mail sources (IMAP, Microsoft
//!   Graph), outgoing mail (SMTP, Graph), OAuth and OpenID Connect tokens, TLS, systemd. Uses
//!   `app` only for the traits it implements.
//! - [`driving`]: adapters that drive the app: the web workspace and the metrics endpoint.
//! - [`cli`] and [`daemon`]: wiring. `klachtd run` starts the daemon; the other commands are
//!   for operators and handlers.
//!
//! Where to add things (README, "How it works", has the table):
//! - a new mail source: implement [`app::intake::pass::MailSource`] in an adapter folder beside
//!   `driven/imap/` and `driven/graph/`; the pass (batches, transactions, quarantine, the lease)
//!   is not copied;
//! - a new case action: a variant of [`domain::case_action::CaseAction`], its effect in
//!   `app/actions/perform.rs`, a form struct in `driving/web/case_forms.rs`, a subcommand in
//!   `cli/args.rs`, and optionally a keyword in `domain/mail_actions.rs`;
//! - a new kind of mail or reminder starts in `domain` (its vocabulary) and its letter in
//!   `templates/` with the fields it may use as a context struct in `app/templates.rs`, queued
//!   by a use case in `app/actions/` and unit-tested with [`app::outbox::StubTransport`];
//! - a new page in `driving/web/`; a new mail provider's login in `driven/oauth/` (its settings in
//!   `config/oauth.rs`); a new query in the matching `store/` file.
//!
//! A second test (`shape`) keeps every file in `src/` at most 600 lines and every function at
//! most 80, unless it is a table named in its allow-list.

/// Which parts of the crate each layer may name (`crate::X`); a layer always names itself.
/// Each layer allows only layers listed before it, so there are no cycles.
pub const LAYERS: &[(&str, &[&str])] = &[
    ("domain", &[]),
    ("config", &["domain"]),
    ("store", &["domain"]),
    ("telemetry", &["config"]),
    ("app", &["domain", "config", "store", "telemetry"]),
    ("driven", &["domain", "config", "store", "telemetry", "app"]),
    ("driving", &["domain", "config", "store", "telemetry", "app", "driven"]),
    ("daemon", &["domain", "config", "store", "telemetry", "app", "driven", "driving"]),
    ("cli", &["domain", "config", "store", "telemetry", "app", "driven", "driving", "daemon"]),
];

pub mod app;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod domain;
pub mod driven;
pub mod driving;
pub mod store;
pub mod telemetry;

#[cfg(test)]
mod layers;

#[cfg(test)]
mod shape;
