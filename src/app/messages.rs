//! The message catalogue of each language (`templates/{nl,en}/messages.toml`): refusals, the
//! words of a case's history and the reasons mail waits in quarantine, shared by the web, the
//! command line and the confirmations of actions by mail. Built in; a file in the configured
//! templates directory (`LANG/messages.toml`) replaces its built-in one, as with the letters.
//! How a message is written out and read back is [`crate::domain::catalogue`].

use std::path::Path;
use std::sync::OnceLock;

use chrono::NaiveDate;

use crate::app::templates::TemplateError;
use crate::domain::catalogue::{Catalogue, Message};

const BUILT_IN: &[(&str, &str)] = &[("nl", include_str!("../../templates/nl/messages.toml")), ("en", include_str!("../../templates/en/messages.toml"))];

fn table(name: &str, text: &str) -> Result<toml::Table, TemplateError> {
    toml::from_str(text).map_err(|e| TemplateError::Render { name: name.to_string(), message: e.to_string() })
}

fn parse(name: &str, text: &str) -> Result<Catalogue, TemplateError> {
    Ok(Catalogue::from_table(&table(name, text)?))
}

/// The built-in English catalogue: how a text made in English is read back into its message.
pub fn english() -> &'static Catalogue {
    static ENGLISH: OnceLock<Catalogue> = OnceLock::new();
    ENGLISH.get_or_init(|| parse("en/messages.toml", BUILT_IN[1].1).unwrap_or_default())
}

/// The catalogue of `language` (Dutch for an unknown one). A file in `dir` replaces the
/// built-in entries it has; the others stay.
pub fn load(dir: Option<&Path>, language: &str) -> Result<Catalogue, TemplateError> {
    let (lang, built_in) = BUILT_IN.iter().find(|(l, _)| *l == language).unwrap_or(&BUILT_IN[0]);
    let name = format!("{lang}/messages.toml");
    let mut entries = table(&name, built_in)?;
    if let Some(path) = dir.map(|d| d.join(&name)).filter(|p| p.is_file()) {
        let text = std::fs::read_to_string(&path).map_err(|source| TemplateError::Read { path, source })?;
        entries.extend(table(&name, &text)?);
    }
    Ok(Catalogue::from_table(&entries))
}

/// A word kept as a code (`partly-founded`, `pending`), written out; the code itself without one.
pub fn word(catalogue: &Catalogue, code: &str) -> String {
    catalogue.get(&format!("word_{code}")).map_or_else(|| code.to_string(), str::to_string)
}

/// A date as the pages and the command line write it: `06-12-2026` in Dutch, `2026-12-06` in
/// English.
pub fn short_date(date: NaiveDate, language: &str) -> String {
    use chrono::Datelike;
    let (y, m, d) = (date.year(), date.month(), date.day());
    match language {
        // As chrono's `%Y-%m-%d` / `%d-%m-%Y` write them, without reading the format each time.
        _ if !(0..=9999).contains(&y) => date.format(if language == "en" { "%Y-%m-%d" } else { "%d-%m-%Y" }).to_string(),
        "en" => format!("{y:04}-{m:02}-{d:02}"),
        _ => format!("{d:02}-{m:02}-{y:04}"),
    }
}

/// A number with `decimals` places in the language's form: `2,5` in Dutch, `2.5` in English.
pub fn number(value: f64, decimals: usize, language: &str) -> String {
    let text = format!("{value:.decimals$}");
    if language == "en" {
        text
    } else {
        text.replace('.', ",")
    }
}

/// The arguments of a message read back from English, each in `language`: a code by its word,
/// a date (`YYYY-MM-DD`) in the language's form.
fn localise_args(message: &mut Message, catalogue: &Catalogue, language: &str) {
    for (_, value) in message.args.iter_mut() {
        if let Ok(date) = crate::domain::calendar::parse_day(value) {
            *value = short_date(date, language);
        } else if catalogue.get(&format!("word_{value}")).is_some() {
            *value = word(catalogue, value);
        }
    }
}

/// A text made in English (a refusal, a history entry's detail, a quarantine's reason), of an
/// entry under `prefix`, in `catalogue`'s language; the text itself when it is none of them.
pub fn translate(catalogue: &Catalogue, language: &str, prefix: &str, text: &str) -> String {
    english().read(prefix, text).and_then(|message| write(catalogue, language, &message)).unwrap_or_else(|| text.to_string())
}

/// `message` in `catalogue`'s language, its arguments too (dates, codes); `None` without its entry.
pub fn write(catalogue: &Catalogue, language: &str, message: &Message) -> Option<String> {
    let mut message = message.clone();
    localise_args(&mut message, catalogue, language);
    catalogue.write(&message)
}

/// What a history entry says happened (its action), in `catalogue`'s language.
pub fn history_what(catalogue: &Catalogue, action: &str) -> String {
    catalogue.get(&format!("what_{action}")).map_or_else(|| action.to_string(), str::to_string)
}

/// A history entry's detail, in `catalogue`'s language: read back with the `why_ACTION__`
/// entries, or a single code written out as its word.
pub fn history_why(catalogue: &Catalogue, language: &str, action: &str, detail: &str) -> String {
    let prefix = format!("why_{action}__");
    if english().read(&prefix, detail).is_some() {
        return translate(catalogue, language, &prefix, detail);
    }
    if let Ok(date) = crate::domain::calendar::parse_day(detail) {
        return short_date(date, language);
    }
    word(catalogue, detail)
}

/// A quarantine's recorded reason in `catalogue`'s language, an unclear mail's signals each.
pub fn quarantine_reason(catalogue: &Catalogue, language: &str, reason: &str) -> String {
    let Some(mut message) = english().read("quarantine_", reason) else { return reason.to_string() };
    if message.key == "quarantine_unclear" {
        let signals = message.get("signals").unwrap_or_default().split("; ").map(|s| translate(catalogue, language, "signal_", s)).collect::<Vec<_>>();
        message = Message::new("quarantine_unclear").arg("signals", signals.join("; "));
    } else {
        localise_args(&mut message, catalogue, language);
    }
    catalogue.write(&message).unwrap_or_else(|| reason.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::classify::{QuarantineReason, WeakSignal};
    use crate::domain::reference::CaseRef;

    fn nl() -> Catalogue {
        load(None, "nl").unwrap()
    }

    /// The placeholders of a template, in order of first appearance.
    fn placeholders(template: &str) -> std::collections::BTreeSet<String> {
        let probe = Catalogue::new([("k", template)]);
        let mut names = std::collections::BTreeSet::new();
        for part in template.split('{').skip(1) {
            if let Some((name, _)) = part.split_once('}') {
                if probe.write(&Message::new("k").arg(name, "\u{1}")).is_some_and(|t| t.contains('\u{1}')) {
                    names.insert(name.to_string());
                }
            }
        }
        names
    }

    #[test]
    fn both_languages_have_the_same_messages_with_the_same_arguments() {
        let (nl, en) = (nl(), load(None, "en").unwrap());
        assert_eq!(nl.keys().collect::<Vec<_>>(), en.keys().collect::<Vec<_>>());
        for key in en.keys() {
            assert_eq!(placeholders(nl.get(key).unwrap()), placeholders(en.get(key).unwrap()), "{key}");
        }
    }

    #[test]
    fn refusals_of_the_procedure_are_read_back_and_written_in_dutch() {
        use crate::domain::procedure::{refusal, CaseState, Step};
        let closed = refusal(&"KL-2026-0001".parse().unwrap(), CaseState { closed: true, responded: true }, Step::FinalResponse).unwrap();
        assert_eq!(translate(&nl(), "nl", "refusal_", &closed), "KL-2026-0001 heeft al een eindreactie; heropen de zaak eerst om opnieuw te reageren");
        let closed = refusal(&"KL-2026-0001".parse().unwrap(), CaseState { closed: true, responded: false }, Step::ProgressNotice).unwrap();
        assert_eq!(translate(&nl(), "nl", "refusal_", &closed), "KL-2026-0001 is gesloten; heropen de zaak eerst (klachtd cases reopen KL-2026-0001)");
        // Every refusal of the procedure has its entry: none is shown as the English text.
        for state in [CaseState { closed: false, responded: false }, CaseState { closed: true, responded: false }, CaseState { closed: true, responded: true }]
        {
            for step in [Step::Reopen, Step::FinalResponse, Step::ProgressNotice, Step::Postpone, Step::NotHandle, Step::Settle, Step::RequestInformation] {
                if let Some(text) = refusal(&CaseRef::new("KL", 2026, 1), state, step) {
                    assert_ne!(english().read("refusal_", &text).unwrap().key, "refusal_text", "{text}");
                }
            }
        }
    }

    #[test]
    fn history_entries_are_written_by_their_kind() {
        let nl = nl();
        assert_eq!(history_what(&nl, "acknowledgement-queued"), "ontvangstbevestiging klaargezet");
        assert_eq!(history_what(&nl, "something-new"), "something-new");
        assert_eq!(history_why(&nl, "nl", "acknowledgement-queued", "pending"), "wacht op verzending");
        assert_eq!(history_why(&nl, "nl", "assigned", "Ann Smit (automatic)"), "Ann Smit (automatisch)");
        assert_eq!(history_why(&nl, "nl", "progress-notice", "expected handling by 2026-12-24"), "afhandeling verwacht op 24-12-2026");
        assert_eq!(
            history_why(&nl, "nl", "final-response", "outcome partly-founded; case closed; external body until 2027-12-06"),
            "oordeel: deels gegrond; zaak gesloten; externe instantie tot 06-12-2027"
        );
        assert_eq!(
            history_why(&nl, "nl", "reminder-queued", "progress lead-2 to ann@dienst.test"),
            "voortgangsbericht, 2 werkdag(en) vooraf, aan ann@dienst.test"
        );
        assert_eq!(
            history_why(&nl, "nl", "escalation-sent", "respond day-2026-12-10 to sam@dienst.test"),
            "eindreactie, verstreken, escalatie van 10-12-2026 aan sam@dienst.test"
        );
        assert_eq!(
            history_why(
                &nl,
                "nl",
                "postponed",
                "final response postponed by 2 week(s) from 2026-12-18 to 2027-01-04: advies; complainant's written consent: mail van 3 december"
            ),
            "eindreactie 2 week/weken verdaagd van 18-12-2026 naar 04-01-2027: advies; schriftelijke instemming van de klager: mail van 3 december"
        );
        // A name is no code: it stays as it is.
        assert_eq!(history_why(&nl, "nl", "assigned", "Ann Smit"), "Ann Smit");
    }

    #[test]
    fn every_quarantine_reason_and_signal_is_in_the_catalogue() {
        let nl = nl();
        let mut all = Vec::new();
        for reason in [QuarantineReason::ScannedDocument, QuarantineReason::Voicemail, QuarantineReason::Fax, QuarantineReason::Invitation] {
            all.push(reason.describe());
        }
        for signal in &WeakSignal::ALL {
            let mut signals = crate::domain::classify::Signals::default();
            signals.insert(*signal);
            signals.insert(WeakSignal::NoReplySender);
            all.push(QuarantineReason::Unclear { reasons: signals }.describe());
        }
        for reason in all {
            let dutch = quarantine_reason(&nl, "nl", &reason);
            assert_ne!(dutch, reason);
            for english_word in ["sent", "address", "release", "unclear", "register a"] {
                assert!(!dutch.contains(english_word), "{english_word:?} in {dutch:?}");
            }
        }
    }

    #[test]
    fn a_file_in_the_templates_directory_replaces_the_entries_it_has() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("nl")).unwrap();
        std::fs::write(dir.path().join("nl/messages.toml"), "refusal_note_empty = \"schrijf eerst iets\"\n").unwrap();
        let c = load(Some(dir.path()), "nl").unwrap();
        assert_eq!(translate(&c, "nl", "refusal_", "the note is empty"), "schrijf eerst iets");
        assert_eq!(history_what(&c, "viewed"), "bekeken");
        std::fs::write(dir.path().join("nl/messages.toml"), "refusal_note_empty = \n").unwrap();
        assert!(matches!(load(Some(dir.path()), "nl"), Err(TemplateError::Render { .. })));
    }

    #[test]
    fn numbers_and_dates_in_the_languages_form() {
        assert_eq!(number(2.5, 1, "nl"), "2,5");
        assert_eq!(number(0.0, 1, "nl"), "0,0");
        assert_eq!(number(2.5, 1, "en"), "2.5");
        let day = NaiveDate::from_ymd_opt(2026, 12, 6).unwrap();
        assert_eq!((short_date(day, "nl"), short_date(day, "en")), ("06-12-2026".to_string(), "2026-12-06".to_string()));
        // As chrono writes them, far years too.
        for (y, m, d) in [(5, 1, 9), (999, 10, 31), (9999, 12, 31), (10000, 1, 1), (-1, 3, 4)] {
            let day = NaiveDate::from_ymd_opt(y, m, d).unwrap();
            assert_eq!(short_date(day, "nl"), day.format("%d-%m-%Y").to_string());
            assert_eq!(short_date(day, "en"), day.format("%Y-%m-%d").to_string());
        }
    }
}
