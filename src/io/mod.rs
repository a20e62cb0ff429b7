//! Adapters to the world outside the process: the mail servers (IMAP, SMTP, and OAuth tokens to
//! log in to them), the web workspace and the metrics endpoint, systemd, TLS settings and the
//! files klachtd keeps on disk.

pub mod health;
pub mod imap;
pub mod oauth;
pub mod smtp;
pub mod systemd;
pub mod tls;
pub mod web;
