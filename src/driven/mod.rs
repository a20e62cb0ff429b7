//! Adapters the app drives: each implements a trait the app defines, or is a connection the
//! daemon hands to the app, so the use cases never name a protocol.
//!
//! - [`imap`]: the complaints mailbox as an [`app::intake::pass::MailSource`](crate::app::intake::pass::MailSource);
//! - [`smtp`]: outgoing mail as an [`app::outbox::Transport`](crate::app::outbox::Transport);
//! - [`graph`]: the mailbox through Microsoft Graph, as a mail source and as a transport;
//! - [`oauth`]: tokens for IMAP and SMTP logins (Microsoft, Google, any token endpoint);
//! - [`tls`]: the one rustls client configuration;
//! - [`oidc`]: the web workspace's sign-in with the organisation's identity provider;
//! - [`systemd`]: readiness and watchdog notifications.

pub mod graph;
pub mod imap;
pub mod oauth;
pub mod oidc;
pub mod smtp;
pub mod systemd;
pub mod tls;
