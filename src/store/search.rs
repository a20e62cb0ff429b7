//! Finding cases (issue 24): the cases list with its filters and order, search with the
//! database's own full-text search (FTS5 on SQLite, `tsvector` with GIN on PostgreSQL; the
//! indexes are kept by the database itself, see migrations 0013), and a handler's day. Every
//! statement reads only the cases the handler may read ([`MAY_READ`]).

use chrono::NaiveDate;
use sqlx::Row as _;

use super::readers::Reader;
use super::web::{WebUser, MAY_READ};
use super::{now, Backend, CaseRef, CaseSummary, MessageKind, Result, Store, SUMMARY_SELECT};
use crate::domain::procedure::Category;
use crate::domain::vocabulary::text_enum;

/// Whose cases a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scope {
    /// Those assigned to me now.
    #[default]
    Mine,
    /// Every case I may read (for a supervisor: all).
    All,
}
text_enum!(Scope, "a scope", Mine => "mine", All => "all");

/// Which cases by their state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Open,
    Closed,
    Any,
}
text_enum!(State, "a state", Open => "open", Closed => "closed", Any => "any");

/// Open cases by their deadlines not yet met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// A deadline from today to the end of this week.
    Week,
    /// A deadline that has passed.
    Overdue,
}
text_enum!(Due, "a due filter", Week => "week", Overdue => "overdue");

/// The order of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    /// The next deadline not met, soonest (or most overdue) first.
    #[default]
    Deadline,
    Received,
    Reference,
    Handler,
    Complainant,
}
text_enum!(Sort, "a sort order", Deadline => "deadline", Received => "received", Reference => "reference", Handler => "handler", Complainant => "complainant");

/// What a list shows: the filters, the search text, the order and the page (from 0).
#[derive(Debug, Clone)]
pub struct CaseQuery {
    pub scope: Scope,
    pub state: State,
    pub due: Option<Due>,
    pub category: Option<Category>,
    pub text: Option<String>,
    pub sort: Sort,
    pub descending: bool,
    pub page: u32,
    pub per_page: u32,
}

/// A case as a list shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ListedCase {
    #[serde(flatten)]
    pub summary: CaseSummary,
    pub category: Option<Category>,
}

/// One page of a list; `more`: a next page exists. `capped`: the search matched more cases than
/// it looks at (the newest [`SEARCH_CAP`] matches of each kind), so the words should be narrower.
#[derive(Debug)]
pub struct ListPage {
    pub cases: Vec<ListedCase>,
    pub more: bool,
    pub capped: bool,
}

/// At most this many matches of each kind (case, mail) are looked at per search: the newest.
pub const SEARCH_CAP: u32 = 2000;

/// A mail that came in on one of my cases.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NewMail {
    pub reference: CaseRef,
    pub kind: MessageKind,
    pub subject: String,
    pub at: i64,
}
from_columns!(NewMail { reference, kind, subject, at });

/// My day: open cases of mine with a deadline by `horizon` (overdue ones too), cases assigned
/// to me since my last look, and mail on my cases since then.
#[derive(Debug)]
pub struct MyDay {
    pub due: Vec<CaseSummary>,
    pub assigned: Vec<CaseSummary>,
    pub mail: Vec<NewMail>,
    /// When I last marked my day as seen (`None`: never; then the last seven days count).
    pub last_look: Option<i64>,
    pub since: i64,
}

/// Whether a word of a search is whole as typed: an e-mail address with its domain's last part
/// (`mia@gemeente.nl`), or a case reference. Such a word is looked for as it is, never as the
/// start of longer words.
fn whole_word(word: &str) -> bool {
    let address = word.split_once('@').and_then(|(_, domain)| domain.rsplit_once('.')).is_some_and(|(_, last)| last.chars().count() >= 2);
    address || crate::domain::reference::CaseRef::parse_any(word).is_some()
}

/// The words of a search, each with whether it is looked for as a prefix too: only the last
/// (the one still being typed), and not when it is whole ([`whole_word`]). A prefix of every
/// word made the database merge the lists of every word that starts with one ("Klager" of
/// every case on a large register, issue 24). `keep` says which words count.
fn search_words(text: &str, keep: impl Fn(&str) -> Option<String>) -> Vec<(String, bool)> {
    let mut words: Vec<(String, bool)> = text.split_whitespace().filter_map(|w| keep(w).map(|k| (k, false))).collect();
    let last_typed = text.split_whitespace().rev().find(|w| keep(w).is_some());
    if let (Some(last), Some(typed)) = (words.last_mut(), last_typed) {
        last.1 = !whole_word(typed);
    }
    words
}

/// The words of a search as an FTS5 query: each word of the text a phrase of its tokens (as
/// FTS5's tokenizer splits them: letters and digits), the last word's last token a prefix (see
/// [`search_words`]), all words required. Nothing of the user's text reaches FTS5's syntax.
/// `None`: no word to look for.
pub fn fts5_query(text: &str) -> Option<String> {
    let phrase = |word: &str| {
        let tokens: Vec<&str> = word.split(|c: char| !c.is_alphanumeric()).filter(|t| !t.is_empty()).collect();
        (!tokens.is_empty()).then(|| format!("\"{}\"", tokens.join(" ")))
    };
    let words: Vec<String> = search_words(text, phrase).into_iter().map(|(p, prefix)| if prefix { format!("{p} *") } else { p }).collect();
    (!words.is_empty()).then(|| words.join(" "))
}

/// The words of a search as a PostgreSQL `to_tsquery` text: each word quoted (the server's
/// parser splits it as it split the texts: an e-mail address stays one), the last a prefix (see
/// [`search_words`]), all words required. Quotes, backslashes and colons are dropped, so nothing
/// of the user's text is tsquery syntax. `None`: no word to look for.
pub fn tsquery_text(text: &str) -> Option<String> {
    let quoted = |word: &str| {
        let w: String = word.chars().filter(|c| !matches!(c, '\'' | '\\' | ':')).collect();
        w.chars().any(char::is_alphanumeric).then(|| format!("'{w}'"))
    };
    let words: Vec<String> = search_words(text, quoted).into_iter().map(|(w, prefix)| if prefix { format!("{w}:*") } else { w }).collect();
    (!words.is_empty()).then(|| words.join(" & "))
}

/// An open case's nearest deadline not met, as a date text (closed or all met: far away). The
/// indexes of migration 0025 hold the open cases in this order, for this expression as written
/// here (the database matches an index's expression by its form): change both together.
fn next_deadline(backend: Backend) -> String {
    let least = if backend == Backend::Sqlite { "MIN" } else { "LEAST" };
    format!(
        "CASE WHEN c.status <> 'open' THEN '9999-12-31' ELSE {least}(
            CASE WHEN c.acknowledged_at IS NULL THEN c.acknowledge_by ELSE '9999-12-31' END,
            CASE WHEN c.progress_sent_at IS NULL THEN c.progress_by ELSE '9999-12-31' END,
            CASE WHEN c.responded_at IS NULL THEN c.respond_by ELSE '9999-12-31' END) END"
    )
}

/// "An open case with a deadline not met from `from` through `to`" (parameters by name).
fn unmet_between(from: Option<&str>, to: &str, below: bool) -> String {
    let cmp = if below { "<" } else { "<=" };
    let each = |met: &str, by: &str| match from {
        Some(from) => format!("(c.{met} IS NULL AND c.{by} >= {from} AND c.{by} {cmp} {to})"),
        None => format!("(c.{met} IS NULL AND c.{by} {cmp} {to})"),
    };
    format!(
        "(c.status = 'open' AND ({} OR {} OR {}))",
        each("acknowledged_at", "acknowledge_by"),
        each("progress_sent_at", "progress_by"),
        each("responded_at", "respond_by")
    )
}

impl Store {
    /// The cases whose texts match `text` (see [`fts5_query`] and [`tsquery_text`]): the newest
    /// [`SEARCH_CAP`] matching cases and as many matching mails, as a JSON array of case ids,
    /// and whether either reached the cap. Read once, before the list's statement, which then
    /// looks only at these (and at the case whose reference `text` is).
    async fn search_matches(&self, conn: &mut Reader, text: &str) -> Result<(String, bool)> {
        let words = match self.backend {
            Backend::Sqlite => fts5_query(text),
            Backend::Postgres => tsquery_text(text),
        };
        // No word to look for (only punctuation): the reference alone, and nothing asked of the
        // full-text search (which would refuse an empty query, or note it in the log).
        let Some(words) = words else { return Ok(("[]".into(), false)) };
        let (cases, mails) = match self.backend {
            Backend::Sqlite => (
                format!("SELECT rowid FROM cases_fts WHERE cases_fts MATCH $1 ORDER BY rowid DESC LIMIT {SEARCH_CAP}"),
                format!(
                    "SELECT m.case_id FROM (SELECT rowid AS id FROM messages_fts WHERE messages_fts MATCH $1 ORDER BY rowid DESC LIMIT {SEARCH_CAP}) f
                     LEFT JOIN messages m ON m.id = f.id"
                ),
            ),
            Backend::Postgres => {
                let tsquery = "to_tsquery((SELECT value FROM settings WHERE key = 'search_config')::regconfig, $1)";
                (
                    format!("SELECT id FROM cases WHERE search @@ {tsquery} ORDER BY id DESC LIMIT {SEARCH_CAP}"),
                    format!("SELECT case_id FROM messages WHERE search @@ {tsquery} AND case_id IS NOT NULL ORDER BY id DESC LIMIT {SEARCH_CAP}"),
                )
            }
        };
        let cases: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(cases)).bind(&words).fetch_all(&mut **conn).await?;
        let mails: Vec<Option<i64>> = sqlx::query_scalar(sqlx::AssertSqlSafe(mails)).bind(&words).fetch_all(&mut **conn).await?;
        let capped = cases.len() >= SEARCH_CAP as usize || mails.len() >= SEARCH_CAP as usize;
        let mut ids: Vec<i64> = cases.into_iter().chain(mails.into_iter().flatten()).collect();
        ids.sort_unstable();
        ids.dedup();
        let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        Ok((format!("[{list}]"), capped))
    }

    /// "Case `c` is one of the matches `$ids` (a JSON array, see [`Self::search_matches`]) or the
    /// one with reference `$reference`".
    fn search_condition(&self, ids: usize, reference: usize) -> String {
        let listed = match self.backend {
            Backend::Sqlite => format!("SELECT value FROM json_each(${ids})"),
            Backend::Postgres => format!("SELECT jsonb_array_elements_text(${ids}::jsonb)::bigint"),
        };
        // One IN over a union, not an OR: the database looks the cases up by id.
        format!("c.id IN ({listed} UNION SELECT id FROM cases WHERE reference = ${reference})")
    }

    /// A page of the cases `user` may read that `query` asks for, in its order. `today` and
    /// `week_end` (the Sunday of this week) date the deadline filters.
    pub async fn case_list(&self, user: &WebUser, query: &CaseQuery, today: NaiveDate, week_end: NaiveDate) -> Result<ListPage> {
        self.case_list_on(&mut self.reader().await?, user, query, today, week_end).await
    }

    /// [`Store::case_list`] on the page's read connection.
    pub async fn case_list_on(&self, conn: &mut Reader, user: &WebUser, query: &CaseQuery, today: NaiveDate, week_end: NaiveDate) -> Result<ListPage> {
        // $1 the handler's address, $2 today, $3 the end of the week; then the search's.
        let mut conditions = vec![MAY_READ.to_string()];
        let mut binds: Vec<String> = vec![user.email.clone(), today.to_string(), week_end.to_string()];
        if query.scope == Scope::Mine {
            conditions.push("c.handler_id = (SELECT h.id FROM handlers h WHERE h.email = $1 AND h.active = 1)".into());
        }
        match query.state {
            State::Open => conditions.push("c.status = 'open'".into()),
            State::Closed => conditions.push("c.status = 'closed'".into()),
            State::Any => {}
        }
        match query.due {
            Some(Due::Week) => conditions.push(unmet_between(Some("$2"), "$3", false)),
            Some(Due::Overdue) => conditions.push(unmet_between(None, "$2", true)),
            None => {}
        }
        if let Some(category) = query.category {
            // One of four fixed words, never the user's text.
            conditions.push(format!("c.category = '{}'", category.as_str()));
        }
        let text = query.text.as_deref().filter(|t| !t.trim().is_empty());
        let mut capped = false;
        if let Some(text) = text {
            let (ids, reached) = self.search_matches(conn, text).await?;
            capped = reached;
            conditions.push(self.search_condition(binds.len() + 1, binds.len() + 2));
            binds.extend([ids, text.trim().to_ascii_uppercase()]);
        }
        // Closed cases have no deadline left: by deadline they come newest first, read backwards
        // through the primary key (a register of years is not sorted to show 50). So does a
        // list of open and closed cases without search words.
        let newest_first = query.sort == Sort::Deadline && (query.state == State::Closed || (query.state == State::Any && text.is_none()));
        let key = match query.sort {
            _ if newest_first => String::new(),
            Sort::Deadline => next_deadline(self.backend),
            Sort::Received => "c.received_on".into(),
            Sort::Reference => "c.reference".into(),
            Sort::Handler => "COALESCE((SELECT h.name FROM handlers h WHERE h.id = c.handler_id), '')".into(),
            Sort::Complainant => "LOWER(COALESCE(c.complainant_name, ''))".into(),
        };
        let direction = if query.descending { "DESC" } else { "ASC" };
        let order =
            if newest_first { format!("c.id {}", if query.descending { "ASC" } else { "DESC" }) } else { format!("{key} {direction}, c.id {direction}") };
        let per_page = query.per_page.max(1);
        let sql = format!(
            "SELECT c.id, c.category FROM cases c WHERE {} ORDER BY {order} LIMIT {} OFFSET {}",
            conditions.join(" AND "),
            per_page + 1,
            u64::from(query.page) * u64::from(per_page)
        );
        let mut statement = sqlx::query(sqlx::AssertSqlSafe(sql));
        for value in &binds {
            statement = statement.bind(value.clone());
        }
        let rows = statement.fetch_all(&mut **conn).await?;
        let more = rows.len() > per_page as usize;
        let mut found: Vec<(i64, Option<Category>)> = Vec::new();
        for row in rows.iter().take(per_page as usize) {
            found.push((row.try_get("id")?, row.try_get("category")?));
        }
        let cases = self.summaries(conn, &found.iter().map(|(id, _)| *id).collect::<Vec<_>>()).await?;
        let cases = found.into_iter().zip(cases).map(|((_, category), summary)| ListedCase { summary, category }).collect();
        Ok(ListPage { cases, more, capped })
    }

    /// Merges each full-text index of SQLite into one segment where it has more; returns how
    /// many it merged. FTS5 adds a segment with every transaction that writes texts and merges
    /// them only now and then, so a register of years holds its words in several segments, and
    /// every search looked each word up in each of them: at 1,000,000 cases with ten segments a
    /// search cost 0.9 ms of SQLite, merged 0.2 ms (issue 24). Run daily after retention (which
    /// removes texts), and with retention's first run at start; at 1,000,000 cases the merge
    /// holds the writer some 3 s. PostgreSQL's GIN
    /// indexes are kept by its autovacuum: nothing to do there.
    pub async fn compact_search_index(&self) -> Result<usize> {
        if self.backend != Backend::Sqlite {
            return Ok(0);
        }
        let mut merged = 0;
        for table in ["cases_fts", "messages_fts"] {
            let count = format!("SELECT COUNT(DISTINCT segid) FROM {table}_idx");
            let segments: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(count)).fetch_one(&self.pool).await?;
            if segments > 1 {
                sqlx::query(sqlx::AssertSqlSafe(format!("INSERT INTO {table}({table}) VALUES('optimize')"))).execute(&self.pool).await?;
                merged += 1;
            }
        }
        Ok(merged)
    }

    /// The summaries of these cases, in this order (ids that are gone are left out).
    async fn summaries(&self, conn: &mut Reader, ids: &[i64]) -> Result<Vec<CaseSummary>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        // The ids as one JSON array: one statement, prepared once per connection (a list of
        // numbers in its text made a new statement to prepare every time).
        let listed = match self.backend {
            Backend::Sqlite => "SELECT value FROM json_each($1)",
            Backend::Postgres => "SELECT jsonb_array_elements_text($1::jsonb)::bigint",
        };
        let list = format!("[{}]", ids.iter().map(i64::to_string).collect::<Vec<_>>().join(","));
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("{SUMMARY_SELECT} WHERE c.id IN ({listed})"))).bind(list).fetch_all(&mut **conn).await?;
        let mut by_id = std::collections::HashMap::new();
        for row in &rows {
            let id: i64 = row.try_get("id")?;
            by_id.insert(id, <CaseSummary as sqlx::FromRow<_>>::from_row(row)?);
        }
        Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
    }

    /// When `email` last marked their day as seen.
    pub async fn last_look(&self, email: &str) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar("SELECT looked_at FROM web_last_look WHERE email = $1").bind(email).fetch_optional(self.reads()).await?)
    }

    /// Records that `email` has seen their day now (mail and assignments before now are no
    /// longer new).
    pub async fn mark_looked(&self, email: &str) -> Result<()> {
        sqlx::query("INSERT INTO web_last_look (email, looked_at) VALUES ($1, $2) ON CONFLICT (email) DO UPDATE SET looked_at = EXCLUDED.looked_at")
            .bind(email)
            .bind(now())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// My day (see [`MyDay`]): deadlines by `horizon`, what is new since my last look.
    pub async fn my_day(&self, user: &WebUser, horizon: NaiveDate) -> Result<MyDay> {
        let last_look = self.last_look(&user.email).await?;
        let since = last_look.unwrap_or_else(|| now() - 7 * 86_400);
        // Mine, of the organisations I work for (issue 25): a case of one I left is no longer
        // part of my day.
        let mine = "c.handler_id = (SELECT h.id FROM handlers h WHERE h.email = $1 AND h.active = 1)
            AND c.organisation IN (SELECT ho.organisation FROM handler_organisations ho JOIN handlers h ON h.id = ho.handler_id WHERE h.email = $1)";
        // My open cases by their next deadline (migration 0025's index), up to the horizon: an
        // unmet deadline by then is a next deadline by then, so the index is read up to there.
        let next = next_deadline(self.backend);
        let due_sql =
            format!("SELECT c.id FROM cases c WHERE {mine} AND {} AND {next} <= $2 ORDER BY {next}, c.id LIMIT 500", unmet_between(None, "$2", false));
        // The day's statements on one read connection (see `Reader`).
        let mut conn = self.reader().await?;
        let due: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(due_sql)).bind(&user.email).bind(horizon.to_string()).fetch_all(&mut *conn).await?;
        // Assigned to me (by name, as the history records it) since my last look.
        let assigned: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT c.id FROM cases c WHERE {mine} AND c.status = 'open' AND EXISTS (SELECT 1 FROM case_events e WHERE e.case_id = c.id AND e.action = 'assigned'
               AND e.at > $2 AND (e.detail = $3 OR SUBSTR(e.detail, 1, LENGTH($3) + 2) = $3 || ' (')) ORDER BY c.id DESC LIMIT 200"
        )))
        .bind(&user.email)
        .bind(since)
        .bind(&user.name)
        .fetch_all(&mut *conn)
        .await?;
        // Mail in since then, on my cases, but not the complaint itself (a case's first mail).
        let mail: Vec<NewMail> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT c.reference, m.kind, m.subject, m.received_at AS at FROM messages m JOIN cases c ON c.id = m.case_id
             WHERE m.received_at > $2 AND m.direction = 'in' AND {mine}
               AND m.id > (SELECT MIN(f.id) FROM messages f WHERE f.case_id = m.case_id)
             ORDER BY m.received_at DESC, m.id DESC LIMIT 200"
        )))
        .bind(&user.email)
        .bind(since)
        .fetch_all(&mut *conn)
        .await?;
        Ok(MyDay { due: self.summaries(&mut conn, &due).await?, assigned: self.summaries(&mut conn, &assigned).await?, mail, last_look, since })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Migration 0025's indexes serve the list only for `next_deadline` as written there: the
    /// database matches an index's expression by its form.
    #[test]
    fn the_list_order_indexes_hold_the_next_deadline_as_the_lists_write_it() {
        let flat = |sql: &str| sql.split_whitespace().collect::<Vec<_>>().join(" ");
        for (backend, migration) in [
            (Backend::Sqlite, include_str!("../../migrations/sqlite/0025_list_order.sql")),
            (Backend::Postgres, include_str!("../../migrations/postgres/0025_list_order.sql")),
        ] {
            let expression = flat(&next_deadline(backend).replace("c.", ""));
            assert_eq!(flat(migration).matches(&format!("({expression})")).count(), 2, "{backend:?}: {expression}");
        }
    }

    #[test]
    fn search_words_become_quoted_phrases_the_last_a_prefix() {
        assert_eq!(fts5_query("Jansen").as_deref(), Some("\"Jansen\" *"));
        assert_eq!(fts5_query("Klager 12").as_deref(), Some("\"Klager\" \"12\" *"));
        // A whole address or reference is looked for as it is.
        assert_eq!(fts5_query("mia.jansen@burger.test").as_deref(), Some("\"mia jansen burger test\""));
        assert_eq!(fts5_query("mia.jansen@burger.t").as_deref(), Some("\"mia jansen burger t\" *"));
        assert_eq!(fts5_query("mia.jansen@burger").as_deref(), Some("\"mia jansen burger\" *"));
        assert_eq!(fts5_query("KL-2026-0001").as_deref(), Some("\"KL 2026 0001\""));
        assert_eq!(fts5_query("KL-2026-0001 afspraak").as_deref(), Some("\"KL 2026 0001\" \"afspraak\" *"));
        assert_eq!(fts5_query("afspraak KL-2026-0001").as_deref(), Some("\"afspraak\" \"KL 2026 0001\""));
        // FTS5's own syntax is only text here; a last word of no letters is no word.
        assert_eq!(fts5_query("a\" OR NEAR(b) *").as_deref(), Some("\"a\" \"OR\" \"NEAR b\" *"));
        assert_eq!(fts5_query("  -- \" * "), None);
        assert_eq!(fts5_query("één"), Some("\"één\" *".into()));
    }

    #[test]
    fn search_words_become_quoted_tsquery_words_the_last_a_prefix() {
        assert_eq!(tsquery_text("Jans").as_deref(), Some("'Jans':*"));
        assert_eq!(tsquery_text("mia.jansen@burger.test loket").as_deref(), Some("'mia.jansen@burger.test' & 'loket':*"));
        assert_eq!(tsquery_text("loket mia.jansen@burger.test").as_deref(), Some("'loket' & 'mia.jansen@burger.test'"));
        assert_eq!(tsquery_text("KL-2026-0001").as_deref(), Some("'KL-2026-0001'"));
        assert_eq!(tsquery_text("a' | !b:* \\").as_deref(), Some("'a' & '!b*':*"));
        assert_eq!(tsquery_text(" ' : & "), None);
    }

    #[test]
    fn list_words_parse_and_refuse_others() {
        assert_eq!("overdue".parse::<Due>(), Ok(Due::Overdue));
        assert_eq!("all".parse::<Scope>(), Ok(Scope::All));
        assert!("DROP".parse::<Sort>().unwrap_err().contains("deadline, received"));
    }
}
