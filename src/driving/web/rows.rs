//! A row of the cases list as its template reads it. The list shows some ten of a case's
//! twenty-odd fields, fifty rows a page; making every field of every row a template value
//! first (and merging the category in) was a tenth of the list page's time under `bench web`
//! (issue 24). A [`ListRow`] makes a field a value when the template reads it.

use std::sync::{Arc, OnceLock};

use minijinja::value::{Enumerator, Object, Value};

use super::view::CaseRow;
use crate::domain::procedure::Category;

/// One row of the cases list: the case, its deadlines and its category (R10).
#[derive(Debug)]
pub struct ListRow {
    row: CaseRow,
    category: Option<Category>,
    /// The most urgent deadline as a value, made once: a row's template reads it five times.
    urgent: OnceLock<Value>,
}

impl ListRow {
    /// The row as a template value.
    pub fn value(row: CaseRow, category: Option<Category>) -> Value {
        Value::from_object(ListRow { row, category, urgent: OnceLock::new() })
    }

    /// The whole row as it serialises: for a field the built-in templates do not read, which a
    /// template of the operator's own may.
    fn serialised(&self) -> Value {
        minijinja::context! { category => self.category, ..Value::from_serialize(&self.row) }
    }
}

/// Text that may be absent, as serialised: a string or none.
fn text(value: &Option<String>) -> Value {
    value.as_deref().map_or(Value::from(()), Value::from)
}

impl Object for ListRow {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let case = &self.row.case;
        Some(match key.as_str()? {
            "reference" => Value::from(case.reference.to_string()),
            "status" => Value::from_serialize(case.status),
            "category" => Value::from_serialize(self.category),
            "subject" => Value::from(case.subject.as_str()),
            "complainant_name" => text(&case.complainant_name),
            "complainant_email" => text(&case.complainant_email),
            "handler" => text(&case.handler),
            "received_on" => Value::from_serialize(case.received_on),
            "deadlines" => Value::from_serialize(&self.row.deadlines),
            "urgent" => self.urgent.get_or_init(|| Value::from_serialize(&self.row.urgent)).clone(),
            other => return self.serialised().get_attr(other).ok().filter(|v| !v.is_undefined()),
        })
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        match self.serialised().try_iter() {
            Ok(keys) => Enumerator::Values(keys.collect()),
            Err(_) => Enumerator::Empty,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::calendar::Calendar;
    use crate::store::{CaseSource, CaseStatus, CaseSummary, OutboxStatus};

    fn summary(handler: Option<&str>) -> CaseSummary {
        let day = |d| chrono::NaiveDate::from_ymd_opt(2026, 12, d).unwrap();
        CaseSummary {
            reference: "KL-2026-0042".parse().unwrap(),
            status: CaseStatus::Open,
            source: CaseSource::Email,
            complainant_name: None,
            complainant_email: Some("piet@example.test".into()),
            reply_to_email: None,
            subject: "Te laat <betaald>".into(),
            received_on: day(1),
            acknowledge_by: day(8),
            progress_by: None,
            respond_by: day(29),
            incomplete: vec!["description".into()],
            messages: 2,
            attachments: 0,
            acknowledgement: Some(OutboxStatus::Sent),
            acknowledged_at: Some(1),
            handler: handler.map(str::to_string),
            supervisor_check: String::new(),
            progress_sent_at: None,
            responded_at: None,
            procedure: "standard".into(),
        }
    }

    /// Every field reads as it did when the whole row was serialised: the built-in templates'
    /// fields, read directly, and every other one.
    #[test]
    fn a_row_reads_as_its_serialisation() {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
        for (handler, category) in [(Some("Anna"), Some(Category::Staff)), (None, None)] {
            let row = super::super::view::case_row(&Calendar::new([]), today, summary(handler));
            let whole = minijinja::context! { category => category, ..Value::from_serialize(&row) };
            let lazy = ListRow::value(row, category);
            let keys: Vec<Value> = whole.try_iter().unwrap().collect();
            assert!(keys.len() > 20, "{keys:?}");
            for key in &keys {
                assert_eq!(lazy.get_item(key).unwrap(), whole.get_item(key).unwrap(), "{key}");
            }
            assert_eq!(lazy.try_iter().unwrap().collect::<Vec<_>>(), keys, "the same fields, in the same order");
            assert!(lazy.get_attr("no_such_field").unwrap().is_undefined());
        }
    }
}
