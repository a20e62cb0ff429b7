//! The message catalogue: what klachtd says to a handler (a refusal, a history entry, why a
//! mail waits in quarantine) as a key with named arguments, written out in a language by
//! that language's templates (`templates/{nl,en}/messages.toml`, `key = "text with {name}"`).
//!
//! Parts of klachtd still build such a text in English (the store's refusals, the history's
//! details, the quarantine's recorded reason). [`Catalogue::read`] reads such a text back
//! into its key and arguments with the English catalogue, so it can be written out in the
//! page's language; a text no entry matches stays as it is. Pure: no I/O.

use std::collections::BTreeMap;

/// A message: its key in the catalogue and its arguments by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub key: String,
    pub args: Vec<(String, String)>,
}

impl Message {
    pub fn new(key: impl Into<String>) -> Self {
        Self { key: key.into(), args: Vec::new() }
    }

    /// With the argument `name` set to `value`.
    pub fn arg(mut self, name: &str, value: impl ToString) -> Self {
        self.args.push((name.to_string(), value.to_string()));
        self
    }

    /// The value of the argument `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.args.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// One language's templates by key.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    entries: BTreeMap<String, String>,
}

/// A template cut into its literal text and its placeholders.
#[derive(Debug, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    Arg(&'a str),
}

fn pieces(template: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}').map(|c| open + c) else { break };
        let name = &rest[open + 1..close];
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            out.push(Piece::Text(&rest[..=open]));
            rest = &rest[open + 1..];
            continue;
        }
        if open > 0 {
            out.push(Piece::Text(&rest[..open]));
        }
        out.push(Piece::Arg(name));
        rest = &rest[close + 1..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    out
}

/// The arguments that make `pieces` read `text`, each non-empty; the shortest first.
fn read_pieces(pieces: &[Piece<'_>], text: &str, args: &mut Vec<(String, String)>) -> bool {
    match pieces {
        [] => text.is_empty(),
        [Piece::Text(t), rest @ ..] => text.strip_prefix(t).is_some_and(|after| read_pieces(rest, after, args)),
        [Piece::Arg(name)] => {
            let ok = !text.is_empty();
            if ok {
                args.push((name.to_string(), text.to_string()));
            }
            ok
        }
        [Piece::Arg(name), Piece::Text(t), ..] => {
            let mut from = 1;
            while let Some(at) = text.get(from..).and_then(|s| s.find(t)).map(|i| i + from) {
                let mark = args.len();
                args.push((name.to_string(), text[..at].to_string()));
                if read_pieces(&pieces[1..], &text[at..], args) {
                    return true;
                }
                args.truncate(mark);
                from = at + 1;
                while !text.is_char_boundary(from) {
                    from += 1;
                }
            }
            false
        }
        // Two placeholders side by side cannot be told apart.
        [Piece::Arg(_), Piece::Arg(_), ..] => false,
    }
}

impl Catalogue {
    pub fn new<K: Into<String>, V: Into<String>>(entries: impl IntoIterator<Item = (K, V)>) -> Self {
        Self { entries: entries.into_iter().map(|(k, v)| (k.into(), v.into())).collect() }
    }

    /// The entries of a TOML table whose values are strings (others are left out).
    pub fn from_table(table: &toml::Table) -> Self {
        Self::new(table.iter().filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string()))))
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.get(key).map(String::as_str)
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// The message written out: its template with the arguments filled in (an argument the
    /// template does not name is left out); `None` when the catalogue has no such key.
    pub fn write(&self, message: &Message) -> Option<String> {
        let template = self.entries.get(&message.key)?;
        let mut out = String::with_capacity(template.len() + 32);
        for piece in pieces(template) {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Arg(name) => match message.get(name) {
                    Some(value) => out.push_str(value),
                    None => {
                        out.push('{');
                        out.push_str(name);
                        out.push('}');
                    }
                },
            }
        }
        Some(out)
    }

    /// `text` read back as a message of an entry whose key starts with `prefix`: the entry with
    /// the most literal text that reads it wins (so `{reference} is closed; reopen it first`
    /// goes before a bare `{text}`).
    pub fn read(&self, prefix: &str, text: &str) -> Option<Message> {
        let mut best: Option<(usize, Message)> = None;
        for (key, template) in self.entries.range(prefix.to_string()..).take_while(|(k, _)| k.starts_with(prefix)) {
            let pieces = pieces(template);
            let literal: usize = pieces.iter().map(|p| if let Piece::Text(t) = p { t.len() } else { 0 }).sum();
            if best.as_ref().is_some_and(|(l, _)| *l >= literal) {
                continue;
            }
            let mut args = Vec::new();
            if read_pieces(&pieces, text, &mut args) {
                best = Some((literal, Message { key: key.clone(), args }));
            }
        }
        best.map(|(_, m)| m)
    }

    /// `text`, an English text of an entry under `prefix` in `english`, in this catalogue's
    /// language; `text` itself when it is no such text or this catalogue lacks the entry.
    pub fn translate(&self, english: &Catalogue, prefix: &str, text: &str) -> String {
        english.read(prefix, text).and_then(|m| self.write(&m)).unwrap_or_else(|| text.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn en() -> Catalogue {
        Catalogue::new([
            ("refusal_closed", "{reference} is closed; reopen it first"),
            ("refusal_closed_cli", "{reference} is closed; reopen it first (klachtd cases reopen {again})"),
            ("refusal_empty_note", "the note is empty"),
            ("refusal_any", "{text}"),
            ("what_assigned", "assigned"),
        ])
    }

    fn nl() -> Catalogue {
        Catalogue::new([
            ("refusal_closed", "{reference} is gesloten; heropen de zaak eerst"),
            ("refusal_empty_note", "de notitie is leeg"),
            ("refusal_any", "{text}"),
        ])
    }

    #[test]
    fn a_message_is_written_with_its_arguments() {
        let m = Message::new("refusal_closed").arg("reference", "KL-2026-0001");
        assert_eq!(nl().write(&m).unwrap(), "KL-2026-0001 is gesloten; heropen de zaak eerst");
        assert_eq!(nl().write(&Message::new("nothing")), None);
        // A placeholder without its argument stays visible rather than silently empty.
        assert_eq!(nl().write(&Message::new("refusal_closed")).unwrap(), "{reference} is gesloten; heropen de zaak eerst");
    }

    #[test]
    fn an_english_text_reads_back_into_its_key_and_arguments() {
        let m = en().read("refusal_", "KL-2026-0001 is closed; reopen it first").unwrap();
        assert_eq!(m, Message::new("refusal_closed").arg("reference", "KL-2026-0001"));
        let m = en().read("refusal_", "KL-2026-0001 is closed; reopen it first (klachtd cases reopen KL-2026-0001)").unwrap();
        assert_eq!((m.key.as_str(), m.get("again")), ("refusal_closed_cli", Some("KL-2026-0001")));
        assert_eq!(en().read("refusal_", "the note is empty").unwrap().key, "refusal_empty_note");
        // The most specific entry wins over the catch-all; another prefix is not searched.
        assert_eq!(en().read("refusal_", "something else").unwrap().get("text"), Some("something else"));
        assert_eq!(en().read("what_", "something else"), None);
        assert_eq!(en().read("refusal_", ""), None);
    }

    #[test]
    fn translation_falls_back_to_the_text_itself() {
        let english = en();
        assert_eq!(nl().translate(&english, "refusal_", "KL-1 is closed; reopen it first"), "KL-1 is gesloten; heropen de zaak eerst");
        assert_eq!(nl().translate(&english, "what_", "assigned"), "assigned");
        assert_eq!(nl().translate(&english, "refusal_", "the note is empty"), "de notitie is leeg");
    }

    #[test]
    fn braces_that_are_no_placeholder_are_text() {
        let c = Catalogue::new([("x", "a token ({actie:...}) in {what}"), ("y", "{} and {")]);
        assert_eq!(c.write(&Message::new("x").arg("what", "the letter")).unwrap(), "a token ({actie:...}) in the letter");
        assert_eq!(c.read("x", "a token ({actie:...}) in the report").unwrap().get("what"), Some("the report"));
        assert_eq!(c.write(&Message::new("y")).unwrap(), "{} and {");
        // Multi-byte text around a placeholder.
        let c = Catalogue::new([("z", "é{a}ü{b}")]);
        assert_eq!(c.read("z", "éxüyüz").unwrap().args, [("a".to_string(), "x".to_string()), ("b".to_string(), "yüz".to_string())]);
    }
}
