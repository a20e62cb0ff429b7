//! Letters leave flowed (RFC 3676): each paragraph of a template is wrapped after it is filled
//! in, so a long date leaves no ragged lines, and a flowed reader gets the paragraphs back.

use super::*;
use crate::domain::flowed::{unflow, WIDTH};

/// The acknowledgement of a case received on the longest date the letters write.
fn acknowledgement(language: &str, received: NaiveDate) -> Letter {
    let letters = Letters::load(None, language).unwrap();
    let deadlines = crate::domain::calendar::Deadlines::compute(&crate::domain::calendar::Calendar::default(), received);
    let context = AcknowledgementContext {
        organisation: &sample_context().organisation,
        case: CaseContext::new(&"KL-2026-0001".parse().unwrap(), Some("Jan"), &deadlines, &Default::default(), &["description"], language),
    };
    letters.render("acknowledgement", &context).unwrap()
}

#[test]
fn a_letter_with_a_long_date_wraps_cleanly_and_unflows_into_its_paragraphs() {
    // Wednesday 30 September 2026: the longest day and month names of both languages.
    let received = NaiveDate::from_ymd_opt(2026, 9, 30).unwrap();
    for language in ["nl", "en"] {
        let letter = acknowledgement(language, received);
        let lines: Vec<&str> = letter.body.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            // At most 72 characters (a list's line one more: its space-stuffing).
            assert!(line.trim_end().chars().count() <= WIDTH + 1, "{language}: too long: {line:?}");
            // A soft break only where the next word would not have fitted: no ragged lines.
            if line.ends_with(' ') {
                let next = lines[i + 1].split(' ').next().unwrap();
                assert!(line.chars().count() + next.chars().count() > WIDTH, "{language}: ragged: {line:?} before {next:?}");
            }
        }
        assert!(lines.iter().any(|l| l.ends_with(' ')), "{language}: the first paragraph is longer than a line:\n{}", letter.body);
        // Read back, each paragraph is one line again, with its filled-in date and reference.
        let text = unflow(&letter.body);
        let date = long_date(received, language);
        let first = text.lines().find(|l| l.contains(&date)).unwrap_or_else(|| panic!("{date} in\n{text}"));
        assert!(
            first.contains("KL-2026-0001") && first.ends_with(if language == "nl" { "op deze e-mail antwoorden." } else { "reply to this e-mail." }),
            "{first}"
        );
        // The list stays a list: each item on lines of its own, under its dash.
        assert!(text.lines().filter(|l| l.starts_with("  - ")).count() >= 3, "{text}");
    }
}
