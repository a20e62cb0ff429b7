//! An organisation's key: the short name by which a deployment with several organisations
//! (issue 25) tells them apart in the configuration, the database and the command line.

use std::fmt;
use std::str::FromStr;

/// A validated organisation key: 1-32 characters of lower-case ASCII letters, digits and `-`,
/// starting with a letter (`wp`, `schuldhulp`, `gemeente-a`). Stored as is in
/// `cases.organisation`, `messages.organisation` and `handler_organisations`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OrganisationKey(String);

/// The key of a configuration with one `[organisation]` and of every case and handler of a
/// database from before organisations (migration 0017).
pub const DEFAULT_KEY: &str = "default";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an organisation key is 1-32 lower-case letters, digits and '-', starting with a letter: {0:?}")]
pub struct InvalidOrganisationKey(pub String);

impl OrganisationKey {
    pub fn parse(s: &str) -> Result<Self, InvalidOrganisationKey> {
        let ok =
            (1..=32).contains(&s.len()) && s.as_bytes()[0].is_ascii_lowercase() && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidOrganisationKey(s.chars().take(40).collect()))
        }
    }

    /// The key of the one organisation of a configuration without several.
    pub fn default_key() -> Self {
        Self(DEFAULT_KEY.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for OrganisationKey {
    fn default() -> Self {
        Self::default_key()
    }
}

impl FromStr for OrganisationKey {
    type Err = InvalidOrganisationKey;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for OrganisationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for OrganisationKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_short_lower_case_names() {
        for good in ["default", "wp", "gemeente-a", "k2"] {
            assert_eq!(OrganisationKey::parse(good).unwrap().as_str(), good);
        }
        for bad in ["", "WP", "2wp", "-wp", "w p", "wp_1", "w\0p", &"a".repeat(33)] {
            assert!(OrganisationKey::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn the_default_key_is_what_migration_0017_stores() {
        assert_eq!(OrganisationKey::default().as_str(), DEFAULT_KEY);
        assert!(OrganisationKey::parse(DEFAULT_KEY).is_ok());
    }
}
