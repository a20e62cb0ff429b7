//! Letters leave as `text/plain; format=flowed` (RFC 3676): received through Postfix and
//! Dovecot, a letter's lines are at most 72 characters, and a flowed reader (a tiny one here,
//! written from the RFC, not klachtd's own) gets each paragraph back as one line, with its
//! filled-in dates whole.

use crate::common::*;
use chrono::Utc;
use klachtd::app::templates::long_date;
use klachtd::domain::calendar::{amsterdam_date, Deadlines};

on_both_databases!(an_acknowledgement_arrives_flowed_and_unflows_into_its_paragraphs);

/// RFC 3676, 4.1 and 4.4, for `delsp=no`: a line ending in a space goes on in the next (the
/// space stays); one leading space of a line is stuffing. Returns the paragraphs' lines.
fn unflow(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for line in text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)) {
        let line = line.strip_prefix(' ').unwrap_or(line);
        current.push_str(line);
        if !(line.ends_with(' ') && line != "-- ") {
            lines.push(std::mem::take(&mut current));
        }
    }
    lines
}

async fn an_acknowledgement_arrives_flowed_and_unflows_into_its_paragraphs(db: Db) {
    let w = World::new(db).await;
    let ria = format!("{}@example.test", unique("ria"));
    let daemon = w.start();
    let (_, raw) = w.complaint("Ria van der Berg-Ouwehand", &ria, "Mijn uitkering", "Mijn uitkering is te laat.");
    w.send(&ria, &raw).await;
    let acks = eventually("acknowledgement delivered", WAIT, || async { Some(w.stack.messages(&ria, "INBOX").await).filter(|m| !m.is_empty()) }).await;
    let ack = parsed(&acks[0]);
    let content_type = header(&ack, "Content-Type").unwrap_or_default().to_ascii_lowercase().replace(['"', ' '], "");
    assert_eq!(content_type, "text/plain;charset=utf-8;format=flowed;delsp=no", "{content_type}");

    // As sent: lines of at most 72 characters (one more for a list's stuffing), soft breaks.
    let sent = ack.body_text(0).unwrap().into_owned();
    assert!(sent.lines().all(|l| l.trim_end().chars().count() <= 73), "{sent}");
    assert!(sent.lines().any(|l| l.ends_with(' ')), "the first paragraph is longer than a line, so it has soft breaks:\n{sent}");

    // As read: the first paragraph in one line, with the date of receipt and the reference.
    let reference = w.store().await.list_cases().await.unwrap()[0].reference.clone();
    let received = amsterdam_date(Utc::now());
    let lines = unflow(&sent);
    let first = format!(
        "Wij hebben uw klacht op {} ontvangen. Uw klacht is geregistreerd onder kenmerk {reference}. Wilt u dit kenmerk vermelden als u ons over deze klacht schrijft? U kunt ook gewoon op deze e-mail antwoorden.",
        long_date(received, "nl")
    );
    assert!(lines.contains(&first), "{first:?} not among\n{lines:#?}");
    // The list of what comes next stays a list, each deadline's date whole.
    let d = Deadlines::compute(&w.config.calendar(), received);
    for date in [d.progress_by.expect("the seed's regulation has a progress notice"), d.respond_by] {
        let item = lines.iter().find(|l| l.contains(&long_date(date, "nl"))).unwrap_or_else(|| panic!("{date} in {lines:#?}"));
        assert!(item.starts_with("  - Uiterlijk"), "{item:?}");
    }
    // The signature's lines are kept as they were.
    let greeting = lines.iter().position(|l| l == "Met vriendelijke groet,").expect("a greeting");
    assert_eq!(lines[greeting + 2], "Klachtenbehandeling");
    daemon.stop().await;
}
