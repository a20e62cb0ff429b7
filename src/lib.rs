//! klachtd runs a complaints procedure by e-mail. See README.md for the overview and
//! `../shared/REGULATION.md` (in the project's shared folder) for the rules it implements.

pub mod actions;
pub mod attachments;
pub mod cli;
pub mod clock;
pub mod config;
pub mod daemon;
pub mod domain;
pub mod health;
pub mod intake;
pub mod mailbox;
pub mod oauth;
pub mod outbox;
pub mod private_files;
pub mod reminders;
pub mod schedule;
pub mod settings;
pub mod smtp;
pub mod store;
pub mod systemd;
pub mod templates;
pub mod tls;
pub mod web;
