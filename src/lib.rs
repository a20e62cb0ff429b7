//! klachtd runs a complaints procedure by e-mail. See README.md for the overview and
//! `../shared/REGULATION.md` (in the project's shared folder) for the rules it implements.
//!
//! The layers, each depending only on those above it:
//! - [`domain`]: the regulation itself (deadlines, references, classification of mail, the
//!   register). Pure: no I/O, no clock, no database; unit-tested on its own.
//! - [`config`]: the one configuration file, and the part of it a reload may change.
//! - [`store`]: every SQL statement, one file per concern, on SQLite or PostgreSQL.
//! - [`app`]: the use cases: intake of one mail, handler actions, reminders, the outbox,
//!   retention. They speak to the outside only through the store and [`io`] types.
//! - [`io`]: adapters to the world: IMAP, SMTP, OAuth, the web workspace, systemd, files.
//! - [`cli`] and [`daemon`]: wiring. `klachtd run` starts the daemon; the other commands are
//!   for operators and handlers. [`telemetry`] sets up logging.
//!
//! Where to add things: a new kind of mail or reminder starts in `domain` (its vocabulary) and
//! its letter in `templates/` with the fields it may use as a context struct in
//! `app/templates.rs`; a new page in `io/web/pages.rs`; a new mail provider's login in
//! `io/oauth/`; a new query in the matching `store/` file.

pub mod app;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod domain;
pub mod io;
pub mod store;
pub mod telemetry;
