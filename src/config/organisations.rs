//! Organisations and their mailboxes (issue 25). A configuration names them in one of two
//! forms, and [`Config::organisations`] makes one list of them, so that nothing downstream
//! cares which form was used:
//!
//! - one `[organisation]` with the top-level `[imap]`, `[procedure]`, `[external_body]`,
//!   `[templates]` and `[retention]`: one organisation with the key `default` (the key every
//!   case of a database from before organisations has) and one mailbox;
//! - `[[organisations]]`, each with its key, name, addresses, reference prefix, regulation,
//!   language and templates, external body, procedure, retention period, and one or more
//!   `[[organisations.mailboxes]]`, each with a `name` (unique in the deployment), the keys
//!   of `[imap]` and, with `auth = "oauth2"`, optionally its own `oauth2` table (the keys of
//!   `[oauth2]`; without it the top-level `[oauth2]` serves it). SMTP stays one `[smtp]` for all.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Deserializer};

use super::defaults::default_language;
use super::oauth::OAuth2;
use super::procedure::ProcedureConfig;
use super::{Config, ExternalBody, Imap, Organisation, Problem, Templates};
use crate::domain::organisation::OrganisationKey;

/// One `[[organisations]]` entry. Read by hand: the keys of `[organisation]` are taken by its
/// own (strict) struct, the rest here, so a misspelt key is an error in either.
#[derive(Debug, Clone, PartialEq)]
pub struct OrganisationConfig {
    pub key: OrganisationKey,
    /// `name`, `complaints_address`, `own_addresses`, `reference_prefix`, `regulation_url`.
    pub organisation: Organisation,
    pub language: String,
    /// A directory with `LANG/NAME.txt` files that override the built-in templates.
    pub templates_dir: Option<PathBuf>,
    pub external_body: ExternalBody,
    pub procedure: ProcedureConfig,
    /// `retention.personal_data_days` for this organisation; the top-level `[retention]`'s
    /// when absent.
    pub retention: Option<RetentionOverride>,
    pub mailboxes: Vec<MailboxConfig>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionOverride {
    pub personal_data_days: u32,
}

/// One `[[organisations.mailboxes]]`: a name, the keys of `[imap]`, and its own `oauth2`.
#[derive(Debug, Clone, PartialEq)]
pub struct MailboxConfig {
    pub name: String,
    pub imap: Imap,
    /// `[organisations.mailboxes.oauth2]`: the mailbox's own app registration (e.g. its own
    /// tenant); the top-level `[oauth2]` when absent.
    pub oauth2: Option<OAuth2>,
}

/// Takes `key` out of `table` and reads it as `T`, naming the key in the error.
fn take<T: serde::de::DeserializeOwned, E: serde::de::Error>(table: &mut toml::Table, key: &str) -> Result<Option<T>, E> {
    match table.remove(key) {
        None => Ok(None),
        Some(value) => value.try_into().map(Some).map_err(|e: toml::de::Error| E::custom(format!("{key}: {}", e.message().trim()))),
    }
}

impl<'de> Deserialize<'de> for OrganisationConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut table = toml::Table::deserialize(d)?;
        let key: OrganisationKey = take(&mut table, "key")?.ok_or_else(|| D::Error::missing_field("key"))?;
        let language = take(&mut table, "language")?.unwrap_or_else(default_language);
        let templates_dir = take(&mut table, "templates_dir")?;
        let external_body = take(&mut table, "external_body")?.unwrap_or_default();
        let procedure = take(&mut table, "procedure")?.unwrap_or_default();
        let retention = take(&mut table, "retention")?;
        let mailboxes = take(&mut table, "mailboxes")?.unwrap_or_default();
        if !table.contains_key("reference_prefix") {
            // Each organisation's references must be told apart: no default here.
            return Err(D::Error::missing_field("reference_prefix"));
        }
        let organisation = toml::Value::Table(table).try_into().map_err(|e: toml::de::Error| D::Error::custom(e.message().trim()))?;
        Ok(Self { key, organisation, language, templates_dir, external_body, procedure, retention, mailboxes })
    }
}

impl<'de> Deserialize<'de> for MailboxConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut table = toml::Table::deserialize(d)?;
        let name: String = take(&mut table, "name")?.ok_or_else(|| D::Error::missing_field("name"))?;
        let oauth2 = take(&mut table, "oauth2").map_err(|e: D::Error| D::Error::custom(format!("mailbox {name:?}: {e}")))?;
        let imap = toml::Value::Table(table).try_into().map_err(|e: toml::de::Error| D::Error::custom(format!("mailbox {name:?}: {}", e.message().trim())))?;
        Ok(Self { name, imap, oauth2 })
    }
}

/// One organisation as the rest of klachtd sees it, whichever form the file used.
#[derive(Debug, Clone, PartialEq)]
pub struct OrganisationSpec {
    pub key: OrganisationKey,
    pub name: String,
    pub complaints_address: String,
    pub own_addresses: Vec<String>,
    /// Upper case, as references are written.
    pub reference_prefix: String,
    pub regulation_url: String,
    pub templates: Templates,
    pub external_body: ExternalBody,
    pub procedure: ProcedureConfig,
    pub personal_data_days: u32,
    pub mailboxes: Vec<MailboxSpec>,
    /// Where it is in the file: `organisation` (one organisation) or `organisations[N]`.
    section: Section,
}

/// One mailbox the intake reads, and whose it is.
#[derive(Debug, Clone, PartialEq)]
pub struct MailboxSpec {
    /// Its name: in metrics and logs, and in the database (below).
    pub name: String,
    /// How the database knows it: its lease, its position (UIDVALIDITY, last UID) and its
    /// quarantine records. A one-organisation configuration's mailbox keeps what it always was,
    /// the inbox folder's name; a named mailbox is its name.
    pub key: String,
    pub organisation: OrganisationKey,
    pub imap: Imap,
    /// Where it is in the file: `imap` or `organisations[N].mailboxes[M]`.
    pub config_key: String,
    /// Its own `oauth2` table (see [`MailboxSpec::oauth2`]).
    pub own_oauth2: Option<OAuth2>,
}

/// The name of the mailbox of a one-organisation configuration, in metrics and logs.
pub const LEGACY_MAILBOX_NAME: &str = "default";

#[derive(Debug, Clone, PartialEq)]
enum Section {
    /// `[organisation]` with the top-level sections.
    One,
    /// `[[organisations]]` number N (from 0).
    Listed(usize),
}

impl OrganisationSpec {
    /// The configuration key of `part` of this organisation: `procedure.respond` for one
    /// organisation, `organisations[1].procedure.respond` in the list. `part` is one of the
    /// organisation's own keys (`name`, ...) or of its sections (`procedure.*`, ...).
    pub fn config_key(&self, part: &str) -> String {
        let own = ["name", "complaints_address", "own_addresses", "reference_prefix", "regulation_url", "key"];
        match &self.section {
            Section::One if own.contains(&part) => format!("organisation.{part}"),
            Section::One => match part {
                "language" => "templates.language".into(),
                "templates_dir" => "templates.dir".into(),
                _ => part.into(),
            },
            Section::Listed(i) => format!("organisations[{i}].{part}"),
        }
    }

    /// Lower-cased addresses whose mail is this organisation's own: its complaints address,
    /// its own addresses and its mailboxes' logins.
    pub fn own_addresses(&self) -> Vec<String> {
        let mut set: std::collections::BTreeSet<String> = self.own_addresses.iter().map(|a| a.trim().to_ascii_lowercase()).collect();
        set.insert(self.complaints_address.trim().to_ascii_lowercase());
        set.extend(self.mailboxes.iter().map(|m| m.imap.user.trim().to_ascii_lowercase()));
        set.into_iter().filter(|a| a.contains('@')).collect()
    }
}

impl Config {
    /// The organisations of this configuration, in the order of the file: one with the key
    /// `default` for a configuration with one `[organisation]`.
    pub fn organisations(&self) -> Vec<OrganisationSpec> {
        if let Some(one) = &self.organisation {
            let mailboxes = self
                .imap
                .iter()
                .map(|imap| MailboxSpec {
                    name: LEGACY_MAILBOX_NAME.into(),
                    key: imap.inbox.clone(),
                    organisation: OrganisationKey::default_key(),
                    imap: imap.clone(),
                    config_key: "imap".into(),
                    own_oauth2: None,
                })
                .collect();
            return vec![OrganisationSpec {
                key: OrganisationKey::default_key(),
                name: one.name.clone(),
                complaints_address: one.complaints_address.clone(),
                own_addresses: one.own_addresses.clone(),
                reference_prefix: one.reference_prefix.to_ascii_uppercase(),
                regulation_url: one.regulation_url.clone(),
                templates: self.templates.clone(),
                external_body: self.external_body.clone(),
                procedure: self.procedure.clone(),
                personal_data_days: self.retention.personal_data_days,
                mailboxes,
                section: Section::One,
            }];
        }
        self.organisations_listed
            .iter()
            .enumerate()
            .map(|(i, o)| OrganisationSpec {
                key: o.key.clone(),
                name: o.organisation.name.clone(),
                complaints_address: o.organisation.complaints_address.clone(),
                own_addresses: o.organisation.own_addresses.clone(),
                reference_prefix: o.organisation.reference_prefix.to_ascii_uppercase(),
                regulation_url: o.organisation.regulation_url.clone(),
                templates: Templates { dir: o.templates_dir.clone(), language: o.language.clone() },
                external_body: o.external_body.clone(),
                procedure: o.procedure.clone(),
                personal_data_days: o.retention.as_ref().map_or(self.retention.personal_data_days, |r| r.personal_data_days),
                mailboxes: o
                    .mailboxes
                    .iter()
                    .enumerate()
                    .map(|(j, m)| MailboxSpec {
                        name: m.name.clone(),
                        key: m.name.clone(),
                        organisation: o.key.clone(),
                        imap: m.imap.clone(),
                        config_key: format!("organisations[{i}].mailboxes[{j}]"),
                        own_oauth2: m.oauth2.clone(),
                    })
                    .collect(),
                section: Section::Listed(i),
            })
            .collect()
    }

    /// Every mailbox of every organisation, in the order of the file.
    pub fn mailboxes(&self) -> Vec<MailboxSpec> {
        self.organisations().into_iter().flat_map(|o| o.mailboxes).collect()
    }

    /// The organisation with this key, if configured.
    pub fn organisation_by_key(&self, key: &OrganisationKey) -> Option<OrganisationSpec> {
        self.organisations().into_iter().find(|o| &o.key == key)
    }

    /// Whether the file lists `[[organisations]]` (rather than one `[organisation]`).
    pub fn lists_organisations(&self) -> bool {
        self.organisation.is_none()
    }

    /// What is wrong with the organisations as a whole: the form, and the keys, prefixes,
    /// complaints addresses and mailbox names that must be unique.
    pub(super) fn check_organisations(&self, p: &mut super::check::Problems) {
        let listed = &self.organisations_listed;
        match (&self.organisation, listed.is_empty()) {
            (Some(_), false) => {
                p.add("organisations", "is given beside [organisation]".into(), "use one form: [organisation] for one organisation, or [[organisations]] only")
            }
            (None, true) => p.add("organisation", "is missing".into(), "describe the organisation in [organisation], or several in [[organisations]]"),
            _ => {}
        }
        if self.organisation.is_some() && self.imap.is_none() {
            p.add("imap", "is missing".into(), "give the complaints mailbox's server in [imap]");
        }
        if self.organisation.is_none() && !listed.is_empty() {
            if self.imap.is_some() {
                p.add("imap", "is not used with [[organisations]]".into(), "give each mailbox its server in [[organisations.mailboxes]] and remove [imap]");
            }
            if self.graph.is_some() {
                p.add(
                    "graph",
                    "is not supported with [[organisations]] yet".into(),
                    "read the mailboxes over IMAP (with a password or auth = \"oauth2\") and send through [smtp]",
                );
            }
            let loose = [
                ("procedure", self.procedure != Default::default()),
                ("external_body", self.external_body != Default::default()),
                ("templates", self.templates != Default::default()),
            ];
            for (section, given) in loose {
                if given {
                    p.add(section, "is not used with [[organisations]]".into(), "give it inside each [[organisations]] entry");
                }
            }
            if self.smtp.user.is_none() && self.smtp.auth == super::AuthMode::Oauth2 {
                p.add("smtp.user", "is needed with auth = \"oauth2\" and [[organisations]]".into(), "name the mailbox that sends");
            }
        }
        let organisations = self.organisations();
        let mut seen: [BTreeMap<String, usize>; 3] = Default::default();
        for (i, o) in organisations.iter().enumerate() {
            for (n, (part, value)) in [
                ("key", o.key.to_string()),
                ("reference_prefix", o.reference_prefix.clone()),
                ("complaints_address", o.complaints_address.trim().to_ascii_lowercase()),
            ]
            .into_iter()
            .enumerate()
            {
                if let Some(first) = seen[n].insert(value.clone(), i) {
                    p.add(&o.config_key(part), format!("{value:?} is also organisations[{first}]'s"), "give each organisation its own");
                }
            }
            if self.lists_organisations() && o.mailboxes.is_empty() {
                p.add(&o.config_key("mailboxes"), "has no mailbox".into(), "add at least one [[organisations.mailboxes]] with a name and the keys of [imap]");
            }
        }
        let mut names = BTreeMap::new();
        for m in organisations.iter().flat_map(|o| &o.mailboxes) {
            if m.name.trim().is_empty() || m.name.len() > 64 || m.name.chars().any(char::is_control) {
                p.add(&format!("{}.name", m.config_key), format!("{:?} is not a mailbox name", m.name), "use up to 64 letters, digits and dashes");
            } else if let Some(first) = names.insert(m.name.clone(), m.config_key.clone()) {
                p.add(&format!("{}.name", m.config_key), format!("{:?} is also {first}'s", m.name), "give each mailbox a name of its own");
            }
        }
    }

    /// Per organisation: its addresses, prefix, name, regulation, language and templates, its
    /// external body's term and its retention period.
    pub(super) fn check_each_organisation(&self, p: &mut super::check::Problems) {
        for o in self.organisations() {
            super::check::check_organisation(&o, p);
        }
    }

    /// The warnings of each organisation: its procedure against the Awb, its retention period
    /// against its external body's term.
    pub(super) fn organisation_warnings(&self, today: chrono::NaiveDate) -> Vec<Problem> {
        let calendar = self.calendar();
        let mut w = Vec::new();
        for o in self.organisations() {
            let term_days = u64::from(o.external_body.term_months) * 31;
            if u64::from(o.personal_data_days) < term_days {
                w.push(Problem {
                    key: o.config_key("retention.personal_data_days"),
                    message: format!(
                        "{} days is shorter than the {} months within which a complainant can turn to {} (external_body.term_months); personal data of a case is kept until that term has passed, whatever this period",
                        o.personal_data_days, o.external_body.term_months, o.external_body.name
                    ),
                    fix: format!("set it to at least {term_days} days, or leave it: retention waits for the term either way"),
                });
            }
            w.extend(super::procedure::warnings_for(&o.procedure, &calendar, today, |k| o.config_key(&format!("procedure.{k}"))));
        }
        w
    }
}

#[cfg(test)]
pub(crate) mod tests;
