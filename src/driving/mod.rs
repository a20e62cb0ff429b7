//! Adapters that drive the app: they take a request from outside (a browser, a metrics
//! scraper) and turn it into a use case of [`crate::app`]. The mailbox is not here: the intake
//! pulls its mail, so the mail sources are driven adapters ([`crate::driven`]).
//!
//! - [`web`]: the handlers' workspace (sign-in, cases, actions, the register);
//! - [`health`]: the metrics endpoint in Prometheus text format.

pub mod health;
pub mod web;
