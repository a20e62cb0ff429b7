//! Short lists of one case read as columns of one row: each a JSON array of objects that the
//! database builds (`json_group_array` on SQLite, `json_agg` on PostgreSQL), decoded here by
//! the same field names as the row types' `from_columns!`.
//!
//! Why: sqlx's SQLite driver runs each connection on a thread of its own, and hands every
//! statement and every row of a result across to the page's task one at a time. Under load
//! each hand-over waits for a core; the case page read nine statements and their rows, and
//! was the slowest page under `bench web` (issue 24). Read as lists, it is one statement.

use serde_json::{Map, Value};

use super::{Backend, Result, StoreError};
use crate::domain::history::{Direction, HistoryEvent, MessageKind};
use crate::domain::inbound::AttachmentRole;
use crate::domain::vocabulary::{MailKind, OutboxStatus};

/// A scalar subquery for a column: the rows of `from` (a table, its alias and the condition)
/// as a JSON array (text; `[]` for none) of objects with these `fields` (name, expression), in
/// the `order` given.
pub(super) fn json_list(backend: Backend, fields: &[(&str, &str)], from: &str, order: &str) -> String {
    let pairs = fields.iter().map(|(name, expression)| format!("'{name}', {expression}")).collect::<Vec<_>>().join(", ");
    match backend {
        Backend::Sqlite => format!("(SELECT json_group_array(json_object({pairs}) ORDER BY {order}) FROM {from})"),
        Backend::Postgres => format!("(SELECT COALESCE(json_agg(json_build_object({pairs}) ORDER BY {order}), '[]'::json)::text FROM {from})"),
    }
}

/// A row type that can be read from one object of a [`json_list`] (see `json_fields!`).
pub(super) trait FromJson: Sized {
    fn from_json(object: &Map<String, Value>) -> std::result::Result<Self, String>;
}

/// A field of such an object.
pub(super) trait JsonField: Sized {
    fn from_field(value: Option<&Value>) -> std::result::Result<Self, String>;
}

/// Implements [`FromJson`] for a struct whose fields are named as the list's objects name them.
macro_rules! json_fields {
    ($t:ident { $($field:ident),+ $(,)? }) => {
        impl $crate::store::json_lists::FromJson for $t {
            fn from_json(object: &serde_json::Map<String, serde_json::Value>) -> std::result::Result<Self, String> {
                use $crate::store::json_lists::JsonField;
                Ok($t { $($field: JsonField::from_field(object.get(stringify!($field))).map_err(|e| format!("{}: {e}", stringify!($field)))?,)+ })
            }
        }
    };
}
pub(super) use json_fields;

/// The rows of a [`json_list`] column (`what` names the list in an error).
pub(super) fn decode<T: FromJson>(text: &str, what: &str) -> Result<Vec<T>> {
    let corrupt = |e: String| StoreError::Corrupt(format!("the {what} of a case: {e}"));
    let objects: Vec<Map<String, Value>> = serde_json::from_str(text).map_err(|e| corrupt(e.to_string()))?;
    objects.iter().map(|object| T::from_json(object).map_err(corrupt)).collect()
}

impl JsonField for String {
    fn from_field(value: Option<&Value>) -> std::result::Result<Self, String> {
        match value {
            Some(Value::String(text)) => Ok(text.clone()),
            other => Err(format!("a text was expected, not {}", shown(other))),
        }
    }
}

impl JsonField for i64 {
    fn from_field(value: Option<&Value>) -> std::result::Result<Self, String> {
        value.and_then(Value::as_i64).ok_or_else(|| format!("a whole number was expected, not {}", shown(value)))
    }
}

impl<T: JsonField> JsonField for Option<T> {
    fn from_field(value: Option<&Value>) -> std::result::Result<Self, String> {
        match value {
            None | Some(Value::Null) => Ok(None),
            some => T::from_field(some).map(Some),
        }
    }
}

/// The words stored as their text (see `vocabulary.rs`), read by the same `FromStr`.
macro_rules! text_fields {
    ($($t:ty),+) => {$(
        impl JsonField for $t {
            fn from_field(value: Option<&Value>) -> std::result::Result<Self, String> {
                String::from_field(value)?.parse::<$t>().map_err(|e| e.to_string())
            }
        }
    )+};
}

text_fields!(Direction, MessageKind, HistoryEvent, MailKind, OutboxStatus, AttachmentRole);

/// A value as an error shows it: its kind, never its text (which may be personal data).
fn shown(value: Option<&Value>) -> &'static str {
    match value {
        None => "nothing",
        Some(Value::Null) => "null",
        Some(Value::Bool(_)) => "true or false",
        Some(Value::Number(_)) => "a number",
        Some(Value::String(_)) => "a text",
        Some(Value::Array(_)) => "a list",
        Some(Value::Object(_)) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Row {
        kind: MailKind,
        note: Option<String>,
        at: i64,
    }
    json_fields!(Row { kind, note, at });

    #[test]
    fn objects_are_read_by_field_name_and_typed() {
        let rows: Vec<Row> = decode(r#"[{"at": 5, "kind": "response", "note": null}, {"kind": "progress", "at": 7, "note": "x"}]"#, "test").unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].kind, rows[0].note.as_deref(), rows[0].at), (MailKind::Response, None, 5));
        assert_eq!((rows[1].kind, rows[1].note.as_deref(), rows[1].at), (MailKind::Progress, Some("x"), 7));
        assert!(decode::<Row>("[]", "test").unwrap().is_empty());
    }

    #[test]
    fn a_list_the_types_do_not_fit_is_an_error_naming_the_field_not_the_text() {
        let wrong = |text: &str| match decode::<Row>(text, "letters") {
            Err(StoreError::Corrupt(e)) => e,
            other => panic!("{:?}", other.map(|r| r.len())),
        };
        let e = wrong(r#"[{"kind": "telegram", "note": null, "at": 1}]"#);
        assert!(e.starts_with("the letters of a case: kind: "), "{e}");
        let e = wrong(r#"[{"kind": "response", "note": "secret words", "at": "1"}]"#);
        assert_eq!(e, "the letters of a case: at: a whole number was expected, not a text");
        assert!(wrong("not json").starts_with("the letters of a case: "));
    }

    #[test]
    fn the_subquery_names_each_field_on_either_backend() {
        let fields = [("kind", "o.kind"), ("at", "COALESCE(o.sent_at, o.created_at)")];
        let sqlite = json_list(Backend::Sqlite, &fields, "outbox o WHERE o.case_id = c.id", "o.id");
        assert_eq!(sqlite, "(SELECT json_group_array(json_object('kind', o.kind, 'at', COALESCE(o.sent_at, o.created_at)) ORDER BY o.id) FROM outbox o WHERE o.case_id = c.id)");
        let postgres = json_list(Backend::Postgres, &fields, "outbox o WHERE o.case_id = c.id", "o.id");
        assert!(
            postgres.starts_with(
                "(SELECT COALESCE(json_agg(json_build_object('kind', o.kind, 'at', COALESCE(o.sent_at, o.created_at)) ORDER BY o.id), '[]'::json)::text FROM"
            ),
            "{postgres}"
        );
    }
}
