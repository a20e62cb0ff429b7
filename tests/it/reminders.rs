//! Handlers, assignment and reminders through the real stack, with an injectable clock: the
//! sweep is called at chosen instants (or the daemons' own clocks are set), and the outbox
//! delivers over SMTP to the handlers' mailboxes.

use crate::common::*;
use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Europe::Amsterdam;
use klachtd::app::reminders::ReminderService;
use klachtd::app::settings::{Settings, SharedSettings};
use klachtd::domain::case_action::CaseAction;
use klachtd::store::{StoreError, Table};

on_both_databases!(
    a_friday_complaint_reminds_the_handler_on_the_right_days_once,
    assignment_is_round_robin_and_impartial,
    the_default_handler_gets_every_case_they_are_not_named_in,
    a_reminder_held_up_until_night_waits_for_working_hours
);

/// Local time in Amsterdam.
fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Amsterdam.with_ymd_and_hms(y, m, d, h, min, 0).unwrap().with_timezone(&Utc)
}

fn handlers_toml(ann: &str, sue: &str) -> String {
    format!("{ANSWER_ALL}[[handlers]]\nname = \"Ann Smit\"\nemail = \"{ann}\"\n[[handlers]]\nname = \"Sue Bakker\"\nemail = \"{sue}\"\nsupervisor = true\n")
}

fn service(w: &World, store: klachtd::store::Store) -> ReminderService {
    let letters = std::sync::Arc::new(klachtd::app::templates::Letters::load(None, "nl").unwrap());
    ReminderService::new(store, SharedSettings::new(Settings::new(&w.config, letters)))
}

async fn a_friday_complaint_reminds_the_handler_on_the_right_days_once(db: Db) {
    let ann = format!("{}@dienst.test", unique("ann"));
    let sue = format!("{}@dienst.test", unique("sue"));
    let w = World::with(db, MailStack::shared(), &handlers_toml(&ann, &sue)).await;
    let piet = format!("{}@example.test", unique("piet"));
    let (_, raw) = w.complaint("Piet Klager", &piet, "Geheime klachtomschrijving", "Vertrouwelijke tekst.");
    // Received on Friday 20 November 2026: progress notice due Friday 4 December.
    w.stack.append(&w.complaints, "INBOX", &raw, Some("\"20-Nov-2026 10:00:00 +0100\"")).await;
    // The daemon's own sweeps see Monday 23 November, 10:00: inside working hours (so it
    // delivers the digests this test queues), and nothing of its own is due yet.
    let daemon = Running::start_with_clock(w.config.clone(), klachtd::app::clock::Clock::manual(at(2026, 11, 23, 10, 0)));
    let store = w.store().await;
    let case = eventually("case acknowledged", WAIT, || async { store.list_cases().await.unwrap().pop().filter(|c| c.acknowledgement_word() == "sent") }).await;
    assert_eq!(case.progress_by.map(|d| d.to_string()).as_deref(), Some("2026-12-04"));
    assert_eq!(case.handler.as_deref(), Some("Ann Smit"), "round-robin prefers handlers over supervisors");

    let reminders = service(&w, store.clone());
    let sweep_through = |timeline: Vec<(DateTime<Utc>, usize, &'static str)>| {
        let reminders = &reminders;
        async move {
            for (when, mails, what) in timeline {
                assert_eq!(reminders.sweep(when).await.unwrap(), mails, "{what}");
            }
        }
    };
    sweep_through(vec![
        (at(2026, 11, 30, 9, 0), 0, "Monday 30 Nov: nothing yet"),
        (at(2026, 12, 2, 7, 0), 0, "Wednesday 2 Dec before working hours"),
        (at(2026, 12, 2, 9, 0), 1, "2 working days before the progress notice"),
        (at(2026, 12, 2, 9, 5), 0, "the next sweep the same day sends nothing again"),
        (at(2026, 12, 3, 9, 0), 0, "still the same reminder"),
        (at(2026, 12, 4, 9, 0), 1, "the day itself"),
        (at(2026, 12, 5, 9, 0), 0, "Saturday"),
        (at(2026, 12, 7, 20, 0), 0, "Monday evening"),
        (at(2026, 12, 7, 9, 0), 2, "missed: escalation to handler and supervisor"),
        (at(2026, 12, 7, 14, 0), 0, "once a day"),
        (at(2026, 12, 8, 9, 0), 2, "and again the next working day"),
    ])
    .await;

    // The progress notice goes out late: the escalations stop once the server accepts it.
    let actions = klachtd::app::actions::Actions::new(
        &w.config,
        store.clone(),
        SharedSettings::new(Settings::new(&w.config, std::sync::Arc::new(klachtd::app::templates::Letters::load(None, "nl").unwrap()))),
    )
    .unwrap();
    let progress = CaseAction::Progress { expected_by: chrono::NaiveDate::from_ymd_opt(2026, 12, 18).unwrap(), message: None };
    actions.perform(&case.reference, progress, "test").await.unwrap();
    eventually("progress notice accepted", WAIT, || async { store.case_detail(&case.reference).await.unwrap().summary.progress_sent_at.map(|_| ()) }).await;
    sweep_through(vec![
        (at(2026, 12, 9, 9, 0), 0, "progress deadline met: no more escalations"),
        (at(2026, 12, 15, 9, 0), 0, "three working days before the response"),
        (at(2026, 12, 16, 9, 0), 1, "2 working days before the final response (18 Dec)"),
        (at(2026, 12, 18, 9, 0), 1, "the day of the final response"),
    ])
    .await;
    // The final response closes the case: nothing more about it, even though the date passed.
    let outcome = klachtd::domain::procedure::Outcome::Unfounded;
    let respond = CaseAction::Respond { outcome, findings: "Bevindingen.".into(), measures: String::new() };
    actions.perform(&case.reference, respond, "test").await.unwrap();
    sweep_through(vec![(at(2026, 12, 21, 9, 0), 0, "closed case")]).await;

    // Besides the reminders, Ann got the notice that the case is hers.
    let reminders_to = |who: String| async move {
        w.stack.messages(&who, "INBOX").await.into_iter().filter(|m| !parsed(m).subject().unwrap_or("").contains("toegewezen")).collect::<Vec<_>>()
    };
    eventually("all reminders delivered", WAIT, || async {
        (reminders_to(ann.clone()).await.len() == 6 && reminders_to(sue.clone()).await.len() == 2).then_some(())
    })
    .await;
    // The complainant's letters were the acknowledgement, the progress notice and the response.
    eventually("the response delivered", WAIT, || async { (w.stack.messages(&piet, "INBOX").await.len() == 3).then_some(()) }).await;
    eventually("every digest recorded as sent", WAIT, || async {
        let history = store.case_detail(&case.reference).await.unwrap().history;
        (history.iter().filter(|e| matches!(e.action, klachtd::store::HistoryEvent::Sent(_)) && e.action != event("acknowledgement-sent")).count() >= 10)
            .then_some(())
    })
    .await;
    daemon.stop().await;
    let assigned: Vec<_> = w.stack.messages(&ann, "INBOX").await.into_iter().filter(|m| parsed(m).subject().unwrap_or("").contains("toegewezen")).collect();
    assert_eq!(assigned.len(), 1);
    assert_eq!(parsed(&assigned[0]).subject().unwrap(), format!("[{}] Klacht aan u toegewezen", case.reference));

    let to_ann = reminders_to(ann.clone()).await;
    assert_eq!(to_ann.len(), 6, "nothing arrived late");
    let subjects: Vec<String> = to_ann.iter().map(|m| parsed(m).subject().unwrap().to_string()).collect();
    // Two of each; Postfix may deliver mails sent one after the other in another order.
    for prefix in [
        "1 klacht vraagt aandacht, eerste termijn vrijdag 4 december 2026",
        "Termijn verstreken: ",
        "1 klacht vraagt aandacht, eerste termijn vrijdag 18 december 2026",
    ] {
        assert_eq!(subjects.iter().filter(|s| s.starts_with(prefix)).count(), 2, "{prefix}: {subjects:?}");
    }
    for raw in to_ann.iter().chain(reminders_to(sue.clone()).await.iter()) {
        let mail = parsed(raw);
        let text = format!("{}\n{}", mail.subject().unwrap(), text_of(&mail));
        assert!(text.contains(&case.reference.to_string()), "{text}");
        for private in ["Piet", "Klager", piet.as_str(), "Geheime", "Vertrouwelijke"] {
            assert!(!text.contains(private), "{private:?} must not be in a reminder:\n{text}");
        }
    }

    let history = store.case_detail(&case.reference).await.unwrap().history;
    let count = |action: &str| history.iter().filter(|e| e.action == event(action)).count();
    assert_eq!((count("reminder-queued"), count("reminder-sent")), (4, 4), "{history:?}");
    assert_eq!((count("escalation-queued"), count("escalation-sent")), (4, 4), "{history:?}");
    let sent = history.iter().find(|e| e.action == event("escalation-sent")).unwrap();
    assert!(sent.detail.starts_with("progress day-2026-12-07 to "), "{sent:?}");
}

async fn assignment_is_round_robin_and_impartial(db: Db) {
    let ann = format!("{}@dienst.test", unique("ann"));
    let sue = format!("{}@dienst.test", unique("sue"));
    let w = World::with(db, MailStack::shared(), &handlers_toml(&ann, &sue)).await;
    let store = w.store().await;
    store.upsert_handler("Bob de Wit", &format!("{}@dienst.test", unique("bob")), false).await.unwrap();
    let k = format!("{}@example.test", unique("klager"));
    for (subject, body) in [("Eerste", "Gewoon."), ("Tweede", "Gewoon."), ("Over Bob", "Bob de Wit was onbeleefd.")] {
        let (_, raw) = w.complaint("Klager", &k, subject, body);
        w.stack.append(&w.complaints, "INBOX", &raw, None).await;
    }
    let daemon = w.start();
    eventually("three cases", WAIT, || async { (store.count(Table::Cases).await.unwrap() == 3).then_some(()) }).await;
    daemon.stop().await;
    let cases = store.list_cases().await.unwrap();
    let handler = |s: &str| cases.iter().find(|c| c.subject == s).unwrap().handler.clone();
    let first_two = [handler("Eerste").unwrap(), handler("Tweede").unwrap()];
    assert!(first_two.contains(&"Ann Smit".to_string()) && first_two.contains(&"Bob de Wit".to_string()), "{first_two:?}");
    let about_bob = cases.iter().find(|c| c.subject == "Over Bob").unwrap();
    assert_ne!(about_bob.handler.as_deref(), Some("Bob de Wit"), "a named handler is skipped");
    assert_eq!(about_bob.supervisor_check, "Bob de Wit");

    // Recording Bob as the subject makes assigning him impossible, with the reason.
    store.add_subject(&about_bob.reference, "Bob de Wit", "test").await.unwrap();
    let refused = store.assign(&about_bob.reference, "Bob de Wit", "test").await.unwrap_err();
    assert!(matches!(refused, StoreError::NotImpartial { .. }), "{refused}");
    assert!(refused.to_string().contains("the complaint is about them"), "{refused}");
    // A case whose handler turns out to be its subject moves to someone else.
    let bobs = cases.iter().find(|c| c.handler.as_deref() == Some("Bob de Wit")).unwrap();
    let next = store.add_subject(&bobs.reference, "bob de wit", "test").await.unwrap();
    assert_eq!(next.as_deref(), Some("Ann Smit"));
    let history = store.case_detail(&bobs.reference).await.unwrap().history;
    assert!(history.iter().any(|e| e.action == event("subject-added") && e.actor == "test"), "{history:?}");
    assert!(matches!(store.assign(&bobs.reference, "Nobody", "test").await.unwrap_err(), StoreError::UnknownHandler(_)));
}

async fn the_default_handler_gets_every_case_they_are_not_named_in(db: Db) {
    let ann = format!("{}@dienst.test", unique("ann"));
    let sue = format!("{}@dienst.test", unique("sue"));
    let extra = format!("{}[assignment]\nrule = \"default\"\ndefault_handler = \"Sue Bakker\"\n", handlers_toml(&ann, &sue));
    let w = World::with(db, MailStack::shared(), &extra).await;
    let k = format!("{}@example.test", unique("klager"));
    for (subject, body) in [("Een", "Gewoon."), ("Twee", "Gewoon."), ("Over Sue", "Sue Bakker gaf geen antwoord.")] {
        let (_, raw) = w.complaint("Klager", &k, subject, body);
        w.stack.append(&w.complaints, "INBOX", &raw, None).await;
    }
    let store = w.store().await;
    let daemon = w.start();
    eventually("three cases", WAIT, || async { (store.count(Table::Cases).await.unwrap() == 3).then_some(()) }).await;
    daemon.stop().await;
    let cases = store.list_cases().await.unwrap();
    let handler = |s: &str| cases.iter().find(|c| c.subject == s).unwrap().handler.clone();
    assert_eq!(
        [handler("Een"), handler("Twee")],
        [Some("Sue Bakker".to_string()), Some("Sue Bakker".to_string())],
        "a supervisor too can be the default handler"
    );
    assert_eq!(handler("Over Sue").as_deref(), Some("Ann Smit"), "not the handler the complaint names");
}

/// A digest queued in working hours but not sent then (an SMTP outage, say) is not delivered at
/// night: it waits in the outbox for the next working morning, while other mail goes out.
async fn a_reminder_held_up_until_night_waits_for_working_hours(db: Db) {
    let ann = format!("{}@dienst.test", unique("ann"));
    let sue = format!("{}@dienst.test", unique("sue"));
    let w = World::with(db, MailStack::shared(), &handlers_toml(&ann, &sue)).await;
    let (_, raw) = w.complaint("K", &format!("{}@example.test", unique("k")), "Klacht", "Tekst.");
    w.stack.append(&w.complaints, "INBOX", &raw, Some("\"20-Nov-2026 10:00:00 +0100\"")).await;
    let clock = quiet_clock(); // Sunday night, as far as the daemon knows
    let daemon = Running::start_with_clock(w.config.clone(), clock.clone());
    let store = w.store().await;
    eventually("case acknowledged", WAIT, || async { store.list_cases().await.unwrap().pop().filter(|c| c.acknowledgement_word() == "sent") }).await;

    // Queued on Monday morning; the daemon's night follows.
    assert_eq!(service(&w, store.clone()).sweep(at(2026, 12, 7, 9, 0)).await.unwrap(), 2);
    let late = format!("{}@example.test", unique("laat"));
    let (_, raw) = w.complaint("L", &late, "Nog een klacht", "Tekst.");
    w.send(&late, &raw).await;
    // Two acknowledgements and two assignment notices go out; the two digests wait.
    let expected = vec![("pending".to_string(), 2), ("sent".to_string(), 4)];
    eventually("other mail still goes out at night", WAIT, || async { (store.outbox_counts().await.unwrap() == expected).then_some(()) }).await;
    eventually("the acknowledgement delivered", WAIT, || async { (w.stack.messages(&late, "INBOX").await.len() == 1).then_some(()) }).await;
    assert!(w.stack.messages(&sue, "INBOX").await.is_empty());

    clock.set(at(2026, 12, 7, 8, 30));
    eventually("digests sent in working hours", WAIT, || async { (store.outbox_counts().await.unwrap() == vec![("sent".to_string(), 6)]).then_some(()) }).await;
    eventually("and delivered", WAIT, || async { (w.stack.messages(&sue, "INBOX").await.len() == 1).then_some(()) }).await;
    daemon.stop().await;
}

/// Two instances on one PostgreSQL database sweep at the same moment, many times over: every
/// reminder is queued once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_on_postgres_send_each_reminder_once() {
    let ann = format!("{}@dienst.test", unique("ann"));
    let sue = format!("{}@dienst.test", unique("sue"));
    let w = World::with(Db::Postgres, MailStack::shared(), &handlers_toml(&ann, &sue)).await;
    for i in 0..5 {
        let (_, raw) = w.complaint("K", &format!("{}@example.test", unique("k")), &format!("Klacht {i}"), "Tekst.");
        w.stack.append(&w.complaints, "INBOX", &raw, Some("\"20-Nov-2026 10:00:00 +0100\"")).await;
    }
    let daemon = w.start();
    eventually("five cases", WAIT, || async { (w.store().await.count(Table::Cases).await.unwrap() == 5).then_some(()) }).await;
    daemon.stop().await;
    let a = service(&w, klachtd::store::Store::open(&w.config.database.url, 4).await.unwrap());
    let b = service(&w, klachtd::store::Store::open(&w.config.database.url, 4).await.unwrap());
    let (a, b) = (std::sync::Arc::new(a), std::sync::Arc::new(b));
    let when = at(2026, 12, 7, 9, 0); // acknowledgement met, progress notice missed
    let mut tasks = Vec::new();
    for i in 0..10 {
        let s = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move { s.sweep(when).await.unwrap() }));
    }
    let mut mails = 0;
    for t in tasks {
        mails += t.await.unwrap();
    }
    assert_eq!(mails, 2, "one escalation digest to the handler and one to the supervisor");
    assert_eq!(w.store().await.count(Table::Outbox).await.unwrap(), 5 + 5 + 2, "five acknowledgements, five assignment notices and two digests");
}

/// Two whole daemons on one PostgreSQL database, each sweeping every second on its own clock
/// set to the same morning: each handler's mailbox receives one digest, however many sweeps ran.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_daemons_on_postgres_deliver_each_reminder_once() {
    let ann = format!("{}@dienst.test", unique("ann"));
    let sue = format!("{}@dienst.test", unique("sue"));
    let extra = format!("{}[reminders]\nsweep_cron = \"* * * * * *\"\n", handlers_toml(&ann, &sue));
    let w = World::with(Db::Postgres, MailStack::shared(), &extra).await;
    for i in 0..3 {
        let (_, raw) = w.complaint("K", &format!("{}@example.test", unique("k")), &format!("Klacht {i}"), "Tekst.");
        w.stack.append(&w.complaints, "INBOX", &raw, Some("\"20-Nov-2026 10:00:00 +0100\"")).await;
    }
    let (clock_a, clock_b) = (quiet_clock(), quiet_clock());
    let first = Running::start_with_clock(w.config.clone(), clock_a.clone());
    let second = Running::start_with_clock(w.config.clone(), clock_b.clone());
    let store = w.store().await;
    eventually("three cases acknowledged", WAIT, || async {
        (store.list_cases().await.unwrap().iter().filter(|c| c.acknowledgement_word() == "sent").count() == 3).then_some(())
    })
    .await;

    // Tuesday 8 December 09:00: the three progress notices are overdue.
    let morning = at(2026, 12, 8, 9, 0);
    clock_a.set(morning);
    clock_b.set(morning);
    // A sweep that was running when the clocks moved may have read the old time.
    let (seen_a, seen_b) = (first.sweeps() + 1, second.sweeps() + 1);
    let digests_to = |who: String| async move {
        w.stack.messages(&who, "INBOX").await.into_iter().filter(|m| parsed(m).subject().unwrap_or("").starts_with("Termijn verstreken")).collect::<Vec<_>>()
    };
    eventually("escalations delivered", WAIT, || async {
        (digests_to(ann.clone()).await.len() == 1 && digests_to(sue.clone()).await.len() == 1).then_some(())
    })
    .await;
    // Both daemons have swept the same morning several times more by now.
    eventually("five more sweeps each", WAIT, || async { (first.sweeps() >= seen_a + 5 && second.sweeps() >= seen_b + 5).then_some(()) }).await;
    first.stop().await;
    second.stop().await;
    assert_eq!(store.outbox_counts().await.unwrap(), vec![("sent".to_string(), 3 + 3 + 2)], "acknowledgements, assignment notices, two digests");
    for who in [&ann, &sue] {
        let digests = digests_to(who.clone()).await;
        assert_eq!(digests.len(), 1, "{who}");
        let body = text_of(&parsed(&digests[0]));
        for case in store.list_cases().await.unwrap() {
            assert!(body.contains(&case.reference.to_string()), "{} missing in:\n{body}", case.reference);
        }
    }
}
