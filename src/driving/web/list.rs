//! The cases list's filters, search and order as GET parameters (so every view is a link):
//! read from the query, written back as links that change one thing. Pure; unit tested.

use std::collections::HashMap;

use serde::Serialize;

use crate::domain::procedure::Category;
use crate::store::search::{CaseQuery, Due, Scope, Sort, State};

/// Cases on one page of the list.
pub const PER_PAGE: u32 = 50;

/// The list a query asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListParams {
    pub scope: Scope,
    pub state: State,
    pub due: Option<Due>,
    pub category: Option<Category>,
    pub text: String,
    pub sort: Sort,
    pub descending: bool,
    pub page: u32,
}

impl Default for ListParams {
    fn default() -> Self {
        Self { scope: Scope::Mine, state: State::Open, due: None, category: None, text: String::new(), sort: Sort::Deadline, descending: false, page: 0 }
    }
}

fn word<T: std::str::FromStr<Err = String>>(query: &HashMap<String, String>, key: &str) -> Result<Option<T>, String> {
    match query.get(key).map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|e| format!("{key}: {e}")),
    }
}

impl ListParams {
    /// Reads the query; a value it does not know is refused with the words it does know.
    /// `all=1` and `closed=1` (the links of before) still work. With search words and no state
    /// asked for, closed cases are searched too: a complainant may call about an old case.
    pub fn parse(query: &HashMap<String, String>) -> Result<Self, String> {
        let flag = |key: &str| query.get(key).is_some_and(|v| v == "1");
        let text: String = query.get("q").map(|q| q.trim().chars().take(200).collect()).unwrap_or_default();
        if text.contains('\0') {
            return Err("q: contains a NUL character".into());
        }
        let state = match word::<State>(query, "state")? {
            Some(s) => s,
            None if flag("closed") => State::Closed,
            None if !text.is_empty() => State::Any,
            None => State::Open,
        };
        let page = match query.get("page").filter(|v| !v.is_empty()) {
            None => 0,
            Some(v) => v.parse::<u32>().ok().filter(|p| *p < 100_000).ok_or_else(|| format!("page: {v:?} is not a page number"))?,
        };
        Ok(Self {
            scope: word(query, "scope")?.unwrap_or(if flag("all") { Scope::All } else { Scope::Mine }),
            state,
            due: word(query, "due")?,
            category: word(query, "category")?,
            text,
            sort: word(query, "sort")?.unwrap_or_default(),
            descending: flag("desc"),
            page,
        })
    }

    pub fn query(&self) -> CaseQuery {
        CaseQuery {
            scope: self.scope,
            state: self.state,
            due: self.due,
            category: self.category,
            text: Some(self.text.clone()).filter(|t| !t.is_empty()),
            sort: self.sort,
            descending: self.descending,
            page: self.page,
            per_page: PER_PAGE,
        }
    }

    /// This list as a link (only what differs from the defaults).
    pub fn url(&self) -> String {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if !self.text.is_empty() {
            pairs.push(("q", self.text.clone()));
        }
        if self.scope != Scope::Mine {
            pairs.push(("scope", self.scope.as_str().into()));
        }
        let default_state = if self.text.is_empty() { State::Open } else { State::Any };
        if self.state != default_state {
            pairs.push(("state", self.state.as_str().into()));
        }
        if let Some(due) = self.due {
            pairs.push(("due", due.as_str().into()));
        }
        if let Some(category) = self.category {
            pairs.push(("category", category.as_str().into()));
        }
        if self.sort != Sort::Deadline {
            pairs.push(("sort", self.sort.as_str().into()));
        }
        if self.descending {
            pairs.push(("desc", "1".into()));
        }
        if self.page > 0 {
            pairs.push(("page", self.page.to_string()));
        }
        let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
        if query.is_empty() {
            "/cases".into()
        } else {
            format!("/cases?{query}")
        }
    }

    /// The link of this list changed by `change`, from its first page.
    fn with(&self, change: impl FnOnce(&mut Self)) -> String {
        let mut other = self.clone();
        other.page = 0;
        change(&mut other);
        other.url()
    }

    /// Every link the list page offers, and the current values, for the template.
    pub fn links(&self, more: bool) -> ListLinks {
        let sorts = Sort::ALL
            .iter()
            .map(|&sort| {
                let current = self.sort == sort;
                let url = self.with(|p| {
                    p.descending = current && !p.descending;
                    p.sort = sort;
                });
                let aria = match (current, self.descending) {
                    (false, _) => "none",
                    (true, false) => "ascending",
                    (true, true) => "descending",
                };
                SortLink { key: sort.as_str(), url, aria }
            })
            .collect();
        let choice = |key: &'static str, url: String, current: bool| Choice { key, url, current };
        ListLinks {
            scopes: Scope::ALL.iter().map(|&s| choice(s.as_str(), self.with(|p| p.scope = s), self.scope == s)).collect(),
            states: State::ALL.iter().map(|&s| choice(s.as_str(), self.with(|p| p.state = s), self.state == s)).collect(),
            dues: std::iter::once(choice("any", self.with(|p| p.due = None), self.due.is_none()))
                .chain(Due::ALL.iter().map(|&d| choice(d.as_str(), self.with(|p| p.due = Some(d)), self.due == Some(d))))
                .collect(),
            sorts,
            previous: (self.page > 0).then(|| {
                let mut p = self.clone();
                p.page -= 1;
                p.url()
            }),
            next: more.then(|| {
                let mut p = self.clone();
                p.page += 1;
                p.url()
            }),
            scope: self.scope.as_str(),
            state: self.state.as_str(),
            due: self.due.map(Due::as_str).unwrap_or(""),
            category: self.category.map(Category::as_str).unwrap_or(""),
            categories: Category::ALL.iter().map(|c| c.as_str()).collect(),
            sort: self.sort.as_str(),
            descending: self.descending,
            text: self.text.clone(),
            page: self.page + 1,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Choice {
    pub key: &'static str,
    pub url: String,
    pub current: bool,
}

#[derive(Debug, Serialize)]
pub struct SortLink {
    pub key: &'static str,
    pub url: String,
    /// The column's `aria-sort`.
    pub aria: &'static str,
}

#[derive(Debug, Serialize)]
pub struct ListLinks {
    pub scopes: Vec<Choice>,
    pub states: Vec<Choice>,
    pub dues: Vec<Choice>,
    pub sorts: Vec<SortLink>,
    pub previous: Option<String>,
    pub next: Option<String>,
    pub scope: &'static str,
    pub state: &'static str,
    pub due: &'static str,
    pub category: &'static str,
    pub categories: Vec<&'static str>,
    pub sort: &'static str,
    pub descending: bool,
    pub text: String,
    /// From 1, as shown.
    pub page: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<ListParams, String> {
        ListParams::parse(&pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    #[test]
    fn defaults_and_old_links() {
        assert_eq!(parse(&[]).unwrap(), ListParams::default());
        let old = parse(&[("all", "1"), ("closed", "1")]).unwrap();
        assert_eq!((old.scope, old.state), (Scope::All, State::Closed));
        assert_eq!(old.url(), "/cases?scope=all&state=closed");
        assert_eq!(ListParams::default().url(), "/cases");
    }

    #[test]
    fn a_search_looks_at_closed_cases_too_unless_told() {
        let p = parse(&[("q", "  Mia Jansen ")]).unwrap();
        assert_eq!((p.state, p.text.as_str()), (State::Any, "Mia Jansen"));
        assert_eq!(p.url(), "/cases?q=Mia+Jansen");
        assert_eq!(parse(&[("q", "x"), ("state", "open")]).unwrap().state, State::Open);
    }

    #[test]
    fn unknown_values_are_refused_with_the_known_ones() {
        assert!(parse(&[("due", "tomorrow")]).unwrap_err().contains("week, overdue"));
        assert!(parse(&[("category", "x")]).unwrap_err().starts_with("category:"));
        assert!(parse(&[("page", "-1")]).is_err());
        assert!(parse(&[("q", "a\0b")]).is_err());
    }

    #[test]
    fn links_change_one_thing_and_start_at_the_first_page() {
        let p = parse(&[("due", "overdue"), ("category", "staff"), ("page", "2")]).unwrap();
        let links = p.links(true);
        let by = |key: &str| links.sorts.iter().find(|s| s.key == key).unwrap();
        assert_eq!(by("received").url, "/cases?due=overdue&category=staff&sort=received");
        // The current order's link reverses it.
        assert_eq!(by("deadline").url, "/cases?due=overdue&category=staff&desc=1");
        assert_eq!(by("deadline").aria, "ascending");
        assert_eq!(links.previous.as_deref(), Some("/cases?due=overdue&category=staff&page=1"));
        assert_eq!(links.next.as_deref(), Some("/cases?due=overdue&category=staff&page=3"));
        assert!(links.dues.iter().any(|d| d.key == "any" && d.url == "/cases?category=staff"));
        assert!(p.links(false).next.is_none());
    }
}
