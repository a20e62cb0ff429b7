//! The workspace's HTML templates: one markup (`templates/web/*.html`) and the words per
//! language (`templates/web/{nl,en}/strings.toml`). Built in; a file in the configured
//! templates directory (`web/...`) overrides its built-in one, as with the letters. HTML is
//! escaped automatically.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use minijinja::value::{Enumerator, Object, ObjectRepr};
use minijinja::{Environment, Value};

use crate::app::actions::Refusal;
use crate::app::messages;
use crate::app::templates::TemplateError;
use crate::domain::catalogue::Catalogue;

const PAGES: &[(&str, &str)] = &[
    ("layout.html", include_str!("../../../templates/web/layout.html")),
    ("sign-in.html", include_str!("../../../templates/web/sign-in.html")),
    ("sign-in-link.html", include_str!("../../../templates/web/sign-in-link.html")),
    ("message.html", include_str!("../../../templates/web/message.html")),
    ("cases.html", include_str!("../../../templates/web/cases.html")),
    ("case.html", include_str!("../../../templates/web/case.html")),
    ("case-awb.html", include_str!("../../../templates/web/case-awb.html")),
    ("publication.html", include_str!("../../../templates/web/publication.html")),
    ("register.html", include_str!("../../../templates/web/register.html")),
    ("paper.html", include_str!("../../../templates/web/paper.html")),
    ("set-aside.html", include_str!("../../../templates/web/set-aside.html")),
    ("set-aside-mail.html", include_str!("../../../templates/web/set-aside-mail.html")),
    ("sign-in-mail.txt", include_str!("../../../templates/web/sign-in-mail.txt")),
    ("my-day.html", include_str!("../../../templates/web/my-day.html")),
    ("signed-in.html", include_str!("../../../templates/web/signed-in.html")),
];

const STRINGS: &[(&str, &str)] =
    &[("nl", include_str!("../../../templates/web/nl/strings.toml")), ("en", include_str!("../../../templates/web/en/strings.toml"))];

pub struct Pages {
    env: Environment<'static>,
    table: toml::Table,
    strings: Value,
    language: String,
    /// The message catalogue (refusals, history, quarantine reasons) of the same language.
    messages: Arc<Catalogue>,
}

fn read(dir: Option<&Path>, name: &str, built_in: &str) -> Result<String, TemplateError> {
    match dir.map(|d| d.join("web").join(name)).filter(|p| p.is_file()) {
        Some(path) => std::fs::read_to_string(&path).map_err(|source| TemplateError::Read { path, source }),
        None => Ok(built_in.to_string()),
    }
}

impl Pages {
    pub fn load(dir: Option<&Path>, language: &str) -> Result<Self, TemplateError> {
        let mut env = Environment::new();
        // `.html` is escaped, `.txt` (the sign-in mail) is not: minijinja's default by extension.
        env.set_auto_escape_callback(|name| if name.ends_with(".html") { minijinja::AutoEscape::Html } else { minijinja::AutoEscape::None });
        for (name, built_in) in PAGES {
            let source = read(dir, name, built_in)?;
            env.add_template_owned(name.to_string(), source).map_err(|e| TemplateError::Render { name: format!("web/{name}"), message: e.to_string() })?;
        }
        let (lang, built_in) = STRINGS.iter().find(|(l, _)| *l == language).unwrap_or(&STRINGS[0]);
        let name = format!("{lang}/strings.toml");
        let text = read(dir, &name, built_in)?;
        let table: toml::Table = toml::from_str(&text).map_err(|e| TemplateError::Render { name: format!("web/{name}"), message: e.to_string() })?;
        let messages = Arc::new(messages::load(dir, lang)?);
        add_filters(&mut env, lang, &messages);
        let words = Arc::new(Words(table.iter().map(|(key, value)| (key.clone(), Value::from_serialize(value))).collect()));
        let due = words.clone();
        env.add_filter("due", move |deadline: Value| due_words(&due, &deadline));
        Ok(Self { env, strings: Value::from_dyn_object(words), table, language: lang.to_string(), messages })
    }

    /// The message catalogue of the pages' language.
    pub fn messages(&self) -> &Catalogue {
        &self.messages
    }

    /// A refusal in the pages' language.
    pub fn refusal(&self, refusal: &Refusal) -> String {
        refusal.in_language(&self.messages, &self.language)
    }

    /// A text made in English for a page (a refusal, a form's error), in the pages' language
    /// when the catalogue knows it.
    pub fn say(&self, text: &str) -> String {
        messages::translate(&self.messages, &self.language, "refusal_", text)
    }

    /// The words of the configured language (for text made outside templates, as chart labels).
    pub fn strings(&self) -> &toml::Table {
        &self.table
    }

    pub fn language(&self) -> &str {
        &self.language
    }

    /// Renders `name` with `context` plus `t` (the words) and `lang`.
    pub fn render(&self, name: &str, context: Value) -> Result<String, minijinja::Error> {
        let full = minijinja::context! { t => self.strings.clone(), lang => self.language.clone(), ..context };
        self.env.get_template(name)?.render(full)
    }
}

/// The words of the pages' language as the templates see them (`t.key`, `t["key_" ~ x]`): a
/// hash map, as a page looks up hundreds of them (a list page some 15 a case) and minijinja's
/// own map compares the key along a tree of every word (issue 24).
#[derive(Debug)]
struct Words(HashMap<String, Value>);

impl Object for Words {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.0.get(key.as_str()?).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let mut keys: Vec<Value> = self.0.keys().map(|k| Value::from(k.as_str())).collect();
        keys.sort();
        Enumerator::Values(keys)
    }
}

/// `due`: how a deadline of a page (a `view::DeadlineView`) stands, in words: its level, and for
/// one not met and not due today how many working days are left or late ("verstreken, 3
/// werkdagen te laat"). A filter, not a macro of the templates: fifty rows of the cases list
/// called one for each of their deadlines, some 6 % of the daemon's CPU under `bench web`
/// (issue 24).
fn due_words(words: &Words, deadline: &Value) -> Result<String, minijinja::Error> {
    let field = |name: &str| deadline.get_attr(name);
    let level = field("level")?;
    let level = level.as_str().unwrap_or_default();
    let word = |key: &str| words.0.get(key).and_then(|v| v.as_str().map(str::to_string)).unwrap_or_else(|| key.to_string());
    let mut text = word(&format!("level_{level}"));
    let days = match level {
        "missed" => Some((field("days_late")?, "days_late")),
        "met" | "today" => None,
        _ => Some((field("days_left")?, "days_left")),
    };
    if let Some((n, key)) = days {
        text.push_str(&format!(", {n} {}", word(key)));
    }
    Ok(text)
}

/// The filters that write the pages' words, numbers and dates in `language`:
/// - `datetime`: Unix seconds in Amsterdam time (`06-12-2026 14:05` / `2026-12-06 14:05`);
/// - `date`: a stored date (`YYYY-MM-DD`) in the language's form;
/// - `number(decimals)`: `0,5` / `0.5`;
/// - `what`: a history entry's action by its kind; `why(action)`: its detail;
/// - `quarantine`: a quarantine's recorded reason;
/// - `unflow`: one of our letters (flowed) as its paragraphs, for the page to wrap;
/// - `due` (added with the words, see [`due_words`]): how a deadline stands.
fn add_filters(env: &mut Environment<'static>, language: &str, catalogue: &Arc<Catalogue>) {
    let lang = language.to_string();
    env.add_filter("datetime", move |at: i64| datetime(at, &lang));
    let lang = language.to_string();
    env.add_filter("date", move |day: String| match crate::domain::calendar::parse_day(&day) {
        Ok(d) => messages::short_date(d, &lang),
        Err(_) => day,
    });
    let lang = language.to_string();
    env.add_filter("number", move |value: Value, decimals: Option<usize>| match f64::try_from(value.clone()) {
        Ok(v) => Value::from(messages::number(v, decimals.unwrap_or(1), &lang)),
        Err(_) => value,
    });
    let c = catalogue.clone();
    env.add_filter("what", move |action: String| messages::history_what(&c, &action));
    let (c, lang) = (catalogue.clone(), language.to_string());
    env.add_filter("why", move |detail: String, action: String| messages::history_why(&c, &lang, &action, &detail));
    let (c, lang) = (catalogue.clone(), language.to_string());
    env.add_filter("quarantine", move |reason: String| messages::quarantine_reason(&c, &lang, &reason));
    env.add_filter("unflow", |text: String| crate::domain::flowed::unflow(&text));
}

/// Unix seconds as a date and time in Amsterdam time, in the form of `language`.
fn datetime(at: i64, language: &str) -> String {
    let format = if language == "en" { "%Y-%m-%d %H:%M" } else { "%d-%m-%Y %H:%M" };
    chrono::DateTime::from_timestamp(at, 0).map(|t| t.with_timezone(&chrono_tz::Europe::Amsterdam).format(format).to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_languages_have_the_same_words() {
        let keys = |text: &str| toml::from_str::<toml::Table>(text).unwrap().keys().cloned().collect::<std::collections::BTreeSet<_>>();
        assert_eq!(keys(STRINGS[0].1), keys(STRINGS[1].1));
    }

    #[test]
    fn numbers_dates_and_history_follow_the_pages_language() {
        let render = |language: &str, source: &str| Pages::load(None, language).unwrap().env.render_str(source, minijinja::context! {}).unwrap();
        let source = r#"{{ "a \nb" | unflow }}|{{ 2.5 | number(1) }}|{{ "2026-12-06" | date }}|{{ 1796562000 | datetime }}|{{ "viewed" | what }}|{{ "expected handling by 2026-12-24" | why("progress-notice") }}"#;
        assert_eq!(render("nl", source), "a b|2,5|06-12-2026|06-12-2026 14:00|bekeken|afhandeling verwacht op 24-12-2026");
        assert_eq!(render("en", source), "a b|2.5|2026-12-06|2026-12-06 14:00|viewed|expected handling by 2026-12-24");
        let pages = Pages::load(None, "nl").unwrap();
        assert_eq!(pages.say("the note is empty"), "de notitie is leeg");
    }

    #[test]
    fn a_deadline_stands_in_the_pages_words() {
        use super::super::view::{deadline_view, Level};
        let render = |language: &str, level: Level, days_left: i64| {
            let day = chrono::NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
            let mut d = deadline_view(&crate::domain::calendar::Calendar::new([]), day, "respond", day, false);
            (d.level, d.days_left, d.days_late) = (level, days_left, if level == Level::Missed { -days_left } else { 0 });
            Pages::load(None, language).unwrap().env.render_str("{{ d | due }}", minijinja::context! { d => d }).unwrap()
        };
        assert_eq!(render("nl", Level::Missed, -3), "verstreken, 3 werkdagen te laat");
        assert_eq!(render("nl", Level::Soon, 2), "binnenkort, 2 werkdagen over");
        assert_eq!(render("nl", Level::Today, 0), "vandaag");
        assert_eq!(render("en", Level::Met, 4), render("en", Level::Met, 9), "a met deadline has no days");
        assert_eq!(render("en", Level::Later, 12), format!("{}, 12 {}", word("en", "level_later"), word("en", "days_left")));
    }

    fn word(language: &str, key: &str) -> String {
        Pages::load(None, language).unwrap().strings()[key].as_str().unwrap().to_string()
    }

    #[test]
    fn pages_escape_html() {
        let pages = Pages::load(None, "en").unwrap();
        let html = pages.render("message.html", minijinja::context! { title_key => "refused", text => "<script>x</script>", back => "/cases" }).unwrap();
        assert!(html.contains("&lt;script&gt;x&lt;") && !html.contains("<script>x"), "{html}");
        assert!(html.contains(r#"<html lang="en">"#));
    }
}
