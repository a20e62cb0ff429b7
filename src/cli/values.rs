//! The parsers of the command line's values: a date, a moment, a year, an e-mail address, a
//! case reference, an organisation's key, a word of a closed set. Each turns text into its type
//! once, at the edge, or refuses it in one line (see `args`, which names them).

use std::ffi::OsStr;
use std::marker::PhantomData;
use std::str::FromStr;

use chrono::NaiveDate;
use clap::builder::{PossibleValue, TypedValueParser};
use clap::ValueEnum;

use crate::domain::organisation::{InvalidOrganisationKey, OrganisationKey};
use crate::domain::reference::{CaseRef, NotAReference};

/// A date argument: exactly YYYY-MM-DD, and a day that exists.
pub(super) fn year(text: &str) -> Result<i32, String> {
    text.parse().ok().filter(|y| (1900..=2200).contains(y)).ok_or_else(|| format!("{text:?} is not a year such as 2027"))
}

pub(super) fn date(text: &str) -> Result<NaiveDate, String> {
    let well_formed = text.len() == 10 && text.bytes().enumerate().all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
    match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        Ok(day) if well_formed => Ok(day),
        _ if well_formed => Err(format!("{text} is not a day of the calendar")),
        _ => Err(format!("expected a date as YYYY-MM-DD, e.g. 2026-11-20, not {text:?}")),
    }
}

/// A moment: "2026-11-27 09:00" (Europe/Amsterdam) or RFC 3339.
pub(super) fn moment(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&chrono::Utc));
    }
    let local = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").map_err(|_| format!("{text:?} is not \"YYYY-MM-DD HH:MM\" or RFC 3339"))?;
    local
        .and_local_timezone(chrono_tz::Europe::Amsterdam)
        .earliest()
        .map(|t| t.with_timezone(&chrono::Utc))
        .ok_or_else(|| format!("{text} does not exist in Europe/Amsterdam (daylight-saving gap)"))
}

/// An e-mail address, trimmed: the check of an address the outbox can send to, the one the
/// corrections and the actions apply too.
pub(super) fn email(text: &str) -> Result<String, String> {
    let address = text.trim();
    if crate::store::corrections::valid_email(address) {
        Ok(address.to_string())
    } else {
        Err(format!("{address:?} is not a valid e-mail address"))
    }
}

/// An organisation's key, as the configuration names it (`wp`, `gemeente-a`).
pub(super) fn organisation(text: &str) -> Result<OrganisationKey, InvalidOrganisationKey> {
    OrganisationKey::parse(text.trim())
}

/// A case reference in its canonical form (`kl-2026-0001` is `KL-2026-0001`): a prefix of 1-8
/// letters, as organisation.reference_prefix allows, a year and a number. Whether the case
/// exists is the store's answer.
pub(super) fn reference(text: &str) -> Result<CaseRef, NotAReference> {
    text.parse()
}

/// A word of one of the domain's closed sets (an outcome, a category): the domain parses it and
/// words its refusal, as for actions by mail; clap's `ValueEnum` lists the words in the help,
/// the completions and the manual page.
#[derive(Clone)]
pub struct Words<E>(PhantomData<fn() -> E>);

pub(super) fn words<E>() -> Words<E> {
    Words(PhantomData)
}

impl<E> TypedValueParser for Words<E>
where
    E: ValueEnum + FromStr<Err = String> + Clone + Send + Sync + 'static,
{
    type Value = E;

    fn parse_ref(&self, cmd: &clap::Command, arg: Option<&clap::Arg>, value: &OsStr) -> Result<E, clap::Error> {
        <E as FromStr>::from_str.parse_ref(cmd, arg, value)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(E::value_variants().iter().filter_map(ValueEnum::to_possible_value)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_and_addresses_are_parsed_once() {
        assert_eq!(reference("kl-2026-0001").map(|r| r.to_string()), Ok("KL-2026-0001".to_string()));
        assert_eq!(reference("GEM-2025-12345").map(|r| r.to_string()), Ok("GEM-2025-12345".to_string()));
        for bad in ["KL-26-0001", "2026-0001", "KL2026-0001", "KL-2026-1", "-2026-0001", "ABCDEFGHI-2026-0001", "K1-2026-0001"] {
            assert!(reference(bad).is_err(), "{bad}");
        }
        assert_eq!(email(" ans@example.test "), Ok("ans@example.test".to_string()));
        for bad in ["ans", "ans@", "a@b@c.test", "<ans@example.test>", "geen adres"] {
            assert!(email(bad).unwrap_err().contains("is not a valid e-mail address"), "{bad}");
        }
    }
}
