//! All integration tests in one binary, so the crate is linked once instead of once per file:
//! `cargo test --test it`, or one file's tests with `cargo test --test it e2e::`.
//!
//! The tests run as threads of one process, so what is per process is shared by all of them:
//! the mail stack of `MailStack::shared()`, the in-memory log of `daemon_log()` (one global
//! subscriber, installed by `init_logging`), and `unique()`'s counter. A test that stops a
//! server starts a stack of its own; a test never changes the process's environment or
//! working directory.

#[macro_use]
mod common;

mod actions;
mod awb;
mod cli;
mod e2e;
mod graph;
mod hearing;
mod imap_servers;
mod instances;
mod letters;
mod mail_classes;
mod oauth;
mod oauth_organisations;
mod organisations;
mod outages;
mod procedure;
mod register;
mod reminders;
mod separation;
mod service;
mod set_aside;
mod store;
mod web;
