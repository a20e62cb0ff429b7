//! The SQL conditions that keep organisations apart (issue 25) where a list is of chosen
//! organisations rather than of a signed-in handler's (for those, see `web::MAY_READ`).

use crate::domain::organisation::OrganisationKey;

/// " AND `column` IN (...)": only rows of `organisations` (`None`: any organisation; an empty
/// list: none). The keys are written into the statement: an [`OrganisationKey`] is lower-case
/// letters, digits and `-` only, checked when it was made, so nothing of it is SQL.
pub(super) fn of_organisations(column: &str, organisations: Option<&[OrganisationKey]>) -> String {
    match organisations {
        None => String::new(),
        Some([]) => " AND 1 = 0".to_string(),
        Some(keys) => {
            let list: Vec<String> = keys.iter().map(|k| format!("'{}'", k.as_str())).collect();
            format!(" AND {column} IN ({})", list.join(", "))
        }
    }
}

/// "`column` is an organisation that the active handler with address `$n` works for".
pub(super) fn of_handler(column: &str, n: usize) -> String {
    format!("{column} IN (SELECT ho.organisation FROM handler_organisations ho JOIN handlers h ON h.id = ho.handler_id WHERE h.email = ${n} AND h.active = 1)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_name_the_chosen_organisations_only() {
        let keys = [OrganisationKey::parse("wp").unwrap(), OrganisationKey::parse("gemeente-a").unwrap()];
        assert_eq!(of_organisations("m.organisation", None), "");
        assert_eq!(of_organisations("m.organisation", Some(&[])), " AND 1 = 0");
        assert_eq!(of_organisations("m.organisation", Some(&keys)), " AND m.organisation IN ('wp', 'gemeente-a')");
        assert!(of_handler("organisation", 1).contains("h.email = $1"));
    }
}
