//! The workspace's HTML templates: one markup (`templates/web/*.html`) and the words per
//! language (`templates/web/{nl,en}/strings.toml`). Built in; a file in the configured
//! templates directory (`web/...`) overrides its built-in one, as with the letters. HTML is
//! escaped automatically.

use std::path::Path;

use minijinja::{Environment, Value};

use crate::app::templates::TemplateError;

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
];

const STRINGS: &[(&str, &str)] =
    &[("nl", include_str!("../../../templates/web/nl/strings.toml")), ("en", include_str!("../../../templates/web/en/strings.toml"))];

pub struct Pages {
    env: Environment<'static>,
    table: toml::Table,
    strings: Value,
    language: String,
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
        env.add_filter("datetime", datetime);
        for (name, built_in) in PAGES {
            let source = read(dir, name, built_in)?;
            env.add_template_owned(name.to_string(), source).map_err(|e| TemplateError::Render { name: format!("web/{name}"), message: e.to_string() })?;
        }
        let (lang, built_in) = STRINGS.iter().find(|(l, _)| *l == language).unwrap_or(&STRINGS[0]);
        let name = format!("{lang}/strings.toml");
        let text = read(dir, &name, built_in)?;
        let table: toml::Table = toml::from_str(&text).map_err(|e| TemplateError::Render { name: format!("web/{name}"), message: e.to_string() })?;
        Ok(Self { env, strings: Value::from_serialize(&table), table, language: lang.to_string() })
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

/// Unix seconds as "YYYY-MM-DD HH:MM" in Amsterdam time.
fn datetime(at: i64) -> String {
    chrono::DateTime::from_timestamp(at, 0).map(|t| t.with_timezone(&chrono_tz::Europe::Amsterdam).format("%Y-%m-%d %H:%M").to_string()).unwrap_or_default()
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
    fn pages_escape_html() {
        let pages = Pages::load(None, "en").unwrap();
        let html = pages.render("message.html", minijinja::context! { title_key => "refused", text => "<script>x</script>", back => "/cases" }).unwrap();
        assert!(html.contains("&lt;script&gt;x&lt;") && !html.contains("<script>x"), "{html}");
        assert!(html.contains(r#"<html lang="en">"#));
    }
}
