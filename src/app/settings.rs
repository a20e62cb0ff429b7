//! The part of the configuration that SIGHUP may change while klachtd runs: it only shapes
//! cases, letters and reminders from now on. Everything else needs a restart.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use crate::app::templates::{ExternalBodyContext, Letters, OrganisationContext};
use crate::config::{AssignmentRule, Config, OrganisationSpec};
use crate::domain::calendar::Calendar;
use crate::domain::organisation::OrganisationKey;
use crate::domain::reminders::Policy;
use crate::domain::terms::Procedure;

/// What is each organisation's own (issue 25): its letters, who it is in them, its procedure,
/// its references and its retention period.
pub struct OrganisationSettings {
    pub key: OrganisationKey,
    /// Its templates, in its language.
    pub letters: Arc<Letters>,
    /// `name`, `regulation_url`, `complaints_address`, and the external body, for templates.
    pub context: OrganisationContext,
    /// The terms its new cases are registered under (and keep).
    pub procedure: Procedure,
    /// Upper case: `KL` in `KL-2026-0001`.
    pub reference_prefix: String,
    pub personal_data_days: u32,
}

impl OrganisationSettings {
    /// The domain of its Message-IDs: its complaints address's, as its mail's `From`.
    pub fn message_id_domain(&self) -> &str {
        self.context.complaints_address.rsplit('@').next().filter(|d| !d.is_empty()).unwrap_or("klachtd.invalid")
    }

    fn new(o: &OrganisationSpec, letters: Arc<Letters>) -> Self {
        Self {
            key: o.key.clone(),
            letters,
            context: OrganisationContext {
                name: o.name.clone(),
                regulation_url: o.regulation_url.clone(),
                complaints_address: o.complaints_address.clone(),
                external_body: ExternalBodyContext {
                    name: o.external_body.name.clone(),
                    address: o.external_body.address.clone(),
                    website: o.external_body.website.clone(),
                    term_months: o.external_body.term_months,
                },
            },
            procedure: o.procedure.procedure(),
            reference_prefix: o.reference_prefix.clone(),
            personal_data_days: o.personal_data_days,
        }
    }
}

pub struct Settings {
    /// Each organisation's own, by key; the first of the configuration first.
    organisations: BTreeMap<OrganisationKey, Arc<OrganisationSettings>>,
    first: Arc<OrganisationSettings>,
    /// The first organisation's letters (of a configuration with one organisation: its only).
    pub letters: Arc<Letters>,
    pub calendar: Calendar,
    pub sender_limit: i64,
    pub preferred_handler: Option<String>,
    pub reminders: Policy,
    /// `[web] public_url`: mails to handlers link to the workspace instead of naming a command.
    pub web_url: Option<String>,
    /// `[postponement] max_weeks` (Awb 9:11).
    pub postpone_max_weeks: u32,
}

impl Settings {
    /// With `letters` for the first organisation; the others' are loaded from their templates
    /// (the first's if that fails: [`load_organisation_letters`] reports it where it matters).
    pub fn new(config: &Config, letters: Arc<Letters>) -> Self {
        let organisations = config.organisations();
        let mut all = BTreeMap::new();
        for (i, o) in organisations.iter().enumerate() {
            let own = match i {
                0 => letters.clone(),
                _ => Letters::load(o.templates.dir.as_deref(), &o.templates.language).map(Arc::new).unwrap_or_else(|_| letters.clone()),
            };
            all.insert(o.key.clone(), own);
        }
        Self::with_letters(config, all)
    }

    /// With each organisation's letters, by key (see [`load_organisation_letters`]).
    pub fn with_letters(config: &Config, mut letters: BTreeMap<OrganisationKey, Arc<Letters>>) -> Self {
        let organisations = config.organisations();
        let all: BTreeMap<_, _> =
            organisations.iter().filter_map(|o| Some((o.key.clone(), Arc::new(OrganisationSettings::new(o, letters.remove(&o.key)?))))).collect();
        let first = organisations.first().and_then(|o| all.get(&o.key)).cloned().expect("a configuration has an organisation, with its letters");
        Self {
            letters: first.letters.clone(),
            calendar: config.calendar(),
            organisations: all,
            first,
            sender_limit: config.intake.max_auto_replies_per_sender_per_day as i64,
            preferred_handler: match config.assignment.rule {
                AssignmentRule::Default => config.assignment.default_handler.clone(),
                AssignmentRule::RoundRobin => None,
            },
            reminders: config.reminders.policy().unwrap_or_default(),
            web_url: config.web.as_ref().map(|w| w.public_url()),
            postpone_max_weeks: config.postponement.max_weeks,
        }
    }

    /// What is the organisation `key`'s own. A key the configuration no longer names (a case
    /// of an organisation since removed) gets the first organisation's, with a warning.
    pub fn of(&self, key: &OrganisationKey) -> &Arc<OrganisationSettings> {
        self.organisations.get(key).unwrap_or_else(|| {
            tracing::warn!(organisation = %key, "an organisation the configuration does not name; the first organisation's settings are used");
            &self.first
        })
    }

    /// The first organisation's own (of the configuration's order): where the deployment
    /// needs one and no organisation is at hand.
    pub fn first(&self) -> &Arc<OrganisationSettings> {
        &self.first
    }

    /// Every organisation's own, by key.
    pub fn organisations(&self) -> impl Iterator<Item = &Arc<OrganisationSettings>> {
        self.organisations.values()
    }
}

/// Each organisation's letters, by key, loaded from its templates: a template that does not
/// load is an error here, at start-up or reload, rather than a letter that cannot be written.
pub fn load_organisation_letters(config: &Config) -> Result<BTreeMap<OrganisationKey, Arc<Letters>>, crate::app::templates::TemplateError> {
    config.organisations().iter().map(|o| Ok((o.key.clone(), Arc::new(Letters::load(o.templates.dir.as_deref(), &o.templates.language)?)))).collect()
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
