//! The letters' templates and their contexts.

use super::*;

fn context(incomplete: &[&str]) -> serde_json::Value {
    serde_json::json!({
        "organisation": {"name": "Re-integratiedienst", "regulation_url": "https://dienst.nl/klachten"},
        "case": {"reference": "KL-2026-0001", "complainant_name": "Jan", "received": "vrijdag 20 november 2026",
                 "acknowledge_by": "vrijdag 27 november 2026", "progress_by": "vrijdag 4 december 2026",
                 "respond_by": "vrijdag 18 december 2026", "incomplete": incomplete,
                 "terms": {"acknowledge": "5 werkdagen", "progress": "10 werkdagen", "respond": "4 weken"}}
    })
}

#[test]
fn dutch_acknowledgement_has_reference_dates_and_link() {
    let letters = Letters::load(None, "nl").unwrap();
    let l = letters.render("acknowledgement", &context(&[])).unwrap();
    assert_eq!(l.subject, "[KL-2026-0001] Ontvangstbevestiging van uw klacht");
    for needle in ["Geachte Jan", "vrijdag 4 december 2026", "vrijdag 18 december 2026", "https://dienst.nl/klachten", "KL-2026-0001"] {
        assert!(l.body.contains(needle), "{needle} missing in\n{}", l.body);
    }
    assert!(!l.body.contains("missen wij nog"));
}

#[test]
fn a_confirmation_repeats_the_text_that_was_sent_and_every_letter_renders() {
    for language in ["nl", "en"] {
        let letters = Letters::load(None, language).unwrap();
        let done = letters.render("action-confirmation", &sample_context()).unwrap();
        assert!(crate::domain::flowed::unflow(&done.body).contains("\n  Tekst.\n  Tweede regel."), "{}", done.body);
        let mut refused = sample_context();
        refused.ok = false;
        let refused = letters.render("action-confirmation", &refused).unwrap();
        assert!(refused.body.contains("Reden.") && !refused.body.contains("Tweede regel."), "{}", refused.body);
        for letter in LETTERS {
            letters.render(letter, &sample_context()).unwrap_or_else(|e| panic!("{language}/{letter}: {e}"));
        }
    }
}

#[test]
fn incomplete_complaint_asks_for_what_is_missing() {
    let letters = Letters::load(None, "en").unwrap();
    let l = letters.render("acknowledgement", &context(&["description", "name"])).unwrap();
    assert!(l.body.contains("a description of your complaint"), "{}", l.body);
    assert!(l.body.contains("your name"), "{}", l.body);
}

#[test]
fn override_directory_wins_and_bad_templates_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("nl")).unwrap();
    std::fs::write(dir.path().join("nl/acknowledgement.txt"), "Subject: Eigen {{ case.reference }}\n\nTekst\n").unwrap();
    let l = Letters::load(Some(dir.path()), "nl").unwrap().render("acknowledgement", &context(&[])).unwrap();
    assert_eq!(l, Letter { subject: "Eigen KL-2026-0001".into(), body: "Tekst\n".into() });
    std::fs::write(dir.path().join("nl/acknowledgement.txt"), "Geen onderwerp\n").unwrap();
    let e = Letters::load(Some(dir.path()), "nl").unwrap().render("acknowledgement", &context(&[])).unwrap_err();
    assert!(matches!(e, TemplateError::NoSubject { .. }));
}

/// The typed contexts serialise to the very values the letters were rendered with before
/// (`json!`), absent fields absent and empty ones null, so every template renders the same.
#[test]
fn typed_contexts_have_the_shape_of_the_letters_contexts() {
    let organisation = sample_context().organisation;
    let deadlines = crate::domain::calendar::Deadlines::compute(&Default::default(), NaiveDate::from_ymd_opt(2026, 11, 20).unwrap());
    let case = CaseContext::new(&"KL-2026-0001".parse().unwrap(), None, &deadlines, &Default::default(), &["name"], "nl");
    fn value(v: &impl Serialize) -> serde_json::Value {
        serde_json::to_value(v).unwrap()
    }
    let progress =
        LetterContext { organisation: &organisation, case: case.clone(), content: LetterContent::Progress { message: None, expected_by: "x".into() } };
    assert_eq!(value(&progress), serde_json::json!({"organisation": value(&organisation), "case": value(&case), "message": null, "expected_by": "x"}));
    assert_eq!(serde_json::to_value(&case).unwrap()["complainant_name"], serde_json::Value::Null);
    assert_eq!(serde_json::to_value(&case).unwrap()["received"], "vrijdag 20 november 2026");
    let response = LetterContext {
        organisation: &organisation,
        case: case.clone(),
        content: LetterContent::Response { outcome: "founded", findings: "F.".into(), measures: String::new(), external_by: "y".into() },
    };
    assert_eq!(
        value(&response),
        serde_json::json!({"organisation": value(&organisation), "case": value(&case), "outcome": "founded", "findings": "F.", "measures": "", "external_by": "y"})
    );
    let notice = |refused| NoticeContext { organisation: &organisation, case: CaseReference { reference: "KL-2026-0001".into() }, web_url: None, refused };
    assert_eq!(value(&notice(false)), serde_json::json!({"organisation": value(&organisation), "case": {"reference": "KL-2026-0001"}, "web_url": null}));
    assert_eq!(value(&notice(true))["refused"], true);
}

/// A supervisor's daily count of mail that became no case: in a digest with deadlines, or
/// on its own; numbers and a pointer to the page only, nothing of the mails.
#[test]
fn a_digest_carries_the_daily_count_of_set_aside_mail() {
    for (language, words, page) in
        [("nl", "terzijde gelegd", "https://klachten.example.nl/set-aside"), ("en", "set aside", "https://klachten.example.nl/set-aside")]
    {
        let letters = Letters::load(None, language).unwrap();
        let with = letters.render("reminder", &sample_context()).unwrap();
        assert!(with.body.contains(&format!("  3 {words}")) && with.body.contains("  1 ") && with.body.contains(page), "{}", with.body);
        assert!(with.body.contains("KL-2026-0002") && with.subject.contains('2'), "{}", with.subject);
        let mut alone = sample_context();
        alone.items.clear();
        alone.count = 0;
        alone.escalation = false;
        alone.held.as_mut().unwrap().since = None;
        let alone = letters.render("reminder", &alone).unwrap();
        assert!(alone.subject.starts_with("4 "), "{}", alone.subject);
        assert!(!alone.body.contains("KL-2026") && alone.body.contains(page), "{}", alone.body);
        assert!(!alone.body.contains("\n\n\n"), "no empty block: {}", alone.body);
        let mut none = sample_context();
        none.held = None;
        let none = letters.render("reminder", &none).unwrap();
        assert!(!none.body.contains(page), "no count, no pointer: {}", none.body);
    }
}

#[test]
fn long_dates() {
    let d = NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
    assert_eq!(long_date(d, "nl"), "vrijdag 27 november 2026");
    assert_eq!(long_date(d, "en"), "Friday 27 November 2026");
}
