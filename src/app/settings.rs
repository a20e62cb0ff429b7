//! The part of the configuration that SIGHUP may change while klachtd runs: it only shapes
//! cases, letters and reminders from now on. Everything else needs a restart.

use std::sync::{Arc, RwLock};

use crate::app::templates::{ExternalBodyContext, Letters, OrganisationContext};
use crate::config::{AssignmentRule, Config};
use crate::domain::calendar::Calendar;
use crate::domain::reminders::Policy;

pub struct Settings {
    pub letters: Arc<Letters>,
    pub calendar: Calendar,
    /// `name`, `regulation_url`, `complaints_address`, and the external body, for templates.
    pub organisation: OrganisationContext,
    pub sender_limit: i64,
    pub preferred_handler: Option<String>,
    pub reminders: Policy,
    /// `[web] public_url`: mails to handlers link to the workspace instead of naming a command.
    pub web_url: Option<String>,
    /// `[postponement] max_weeks` (Awb 9:11).
    pub postpone_max_weeks: u32,
    /// `[procedure]`: the terms new cases are registered under (and keep).
    pub procedure: crate::domain::terms::Procedure,
}

impl Settings {
    pub fn new(config: &Config, letters: Arc<Letters>) -> Self {
        Self {
            letters,
            calendar: config.calendar(),
            organisation: OrganisationContext {
                name: config.organisation.name.clone(),
                regulation_url: config.organisation.regulation_url.clone(),
                complaints_address: config.organisation.complaints_address.clone(),
                external_body: ExternalBodyContext {
                    name: config.external_body.name.clone(),
                    address: config.external_body.address.clone(),
                    website: config.external_body.website.clone(),
                    term_months: config.external_body.term_months,
                },
            },
            sender_limit: config.intake.max_auto_replies_per_sender_per_day as i64,
            preferred_handler: match config.assignment.rule {
                AssignmentRule::Default => config.assignment.default_handler.clone(),
                AssignmentRule::RoundRobin => None,
            },
            reminders: config.reminders.policy().unwrap_or_default(),
            web_url: config.web.as_ref().map(|w| w.public_url()),
            postpone_max_weeks: config.postponement.max_weeks,
            procedure: config.procedure.procedure(),
        }
    }
}

/// Settings shared by the workers; a reload swaps them whole, and work in hand finishes with
/// the ones it started with.
#[derive(Clone)]
pub struct SharedSettings(Arc<RwLock<Arc<Settings>>>);

impl SharedSettings {
    pub fn new(settings: Settings) -> Self {
        Self(Arc::new(RwLock::new(Arc::new(settings))))
    }

    pub fn get(&self) -> Arc<Settings> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn replace(&self, settings: Settings) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(settings);
    }
}
