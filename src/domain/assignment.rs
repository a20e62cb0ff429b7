//! Who handles a case (R5): one responsible handler, never a staff member the complaint is
//! about. Automatic assignment is round-robin: the least recently assigned available handler.

/// A handler as assignment sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub id: i64,
    pub name: String,
    pub supervisor: bool,
    pub last_assigned_at: i64,
}

/// The handler names that occur in `text` as whole words (case-insensitive).
pub fn named_in<'a>(text: &str, names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let haystack = text.to_lowercase();
    names
        .into_iter()
        .filter(|name| {
            let needle = name.trim().to_lowercase();
            !needle.is_empty()
                && haystack.match_indices(&needle).any(|(at, m)| {
                    let before = haystack[..at].chars().next_back();
                    let after = haystack[at + m.len()..].chars().next();
                    !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
                })
        })
        .map(str::to_string)
        .collect()
}

/// Whether `name` is one of the case's subjects (the staff members it is about).
pub fn is_subject(name: &str, subjects: &[String]) -> bool {
    subjects.iter().any(|s| s.trim().eq_ignore_ascii_case(name.trim()))
}

/// Round-robin over handlers who are not excluded; supervisors only when no one else is left.
pub fn pick<'a>(candidates: &'a [Candidate], excluded: &[String]) -> Option<&'a Candidate> {
    let available = || candidates.iter().filter(|c| !is_subject(&c.name, excluded));
    available().filter(|c| !c.supervisor).min_by_key(|c| (c.last_assigned_at, c.id)).or_else(|| available().min_by_key(|c| (c.last_assigned_at, c.id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(id: i64, name: &str, supervisor: bool, last: i64) -> Candidate {
        Candidate { id, name: name.into(), supervisor, last_assigned_at: last }
    }

    #[test]
    fn names_are_found_as_whole_words() {
        let names = ["Piet Jansen", "Ann", "Els de Boer"];
        assert_eq!(named_in("Mijn coach piet jansen kwam niet.", names), vec!["Piet Jansen"]);
        assert!(named_in("Annemarie en Hannah", names).is_empty());
        assert_eq!(named_in("Ann, en daarna Els de Boer!", names), vec!["Ann", "Els de Boer"]);
    }

    #[test]
    fn round_robin_skips_subjects_and_prefers_handlers_over_supervisors() {
        let all = [c(1, "Ann", false, 50), c(2, "Bob", false, 10), c(3, "Sue", true, 0)];
        assert_eq!(pick(&all, &[]).unwrap().name, "Bob");
        assert_eq!(pick(&all, &["bob".into()]).unwrap().name, "Ann");
        assert_eq!(pick(&all, &["Bob".into(), "Ann".into()]).unwrap().name, "Sue");
        assert!(pick(&all, &["Bob".into(), "Ann".into(), "Sue".into()]).is_none());
        assert!(pick(&[], &[]).is_none());
    }
}
