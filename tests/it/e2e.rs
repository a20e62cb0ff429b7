//! End to end through the real mail stack: complaints arrive by SMTP into Dovecot, klachtd
//! reads them over IMAP, registers cases in a real database and answers over SMTP.
//! Every scenario runs on SQLite and on PostgreSQL, and those that are not about IMAP itself
//! also with the mailbox on the test Graph server (`graph_sqlite::`, `graph_postgres::`).

use crate::common::*;
use chrono::Utc;
use klachtd::app::templates::long_date;
use klachtd::domain::calendar::{amsterdam_date, Deadlines};
use klachtd::store::Table;

on_both_sources_and_databases!(
    both: [
        complaint_is_registered_acknowledged_and_replies_thread_into_it,
        machine_and_own_mail_never_make_cases_or_replies,
        a_delivery_report_on_our_acknowledgement_stays_with_its_case,
        the_same_mail_twice_makes_one_case,
        a_reply_in_the_batch_of_its_complaint_threads_into_it,
        restart_in_the_middle_of_a_batch_loses_and_repeats_nothing,
        odd_mail_is_registered_with_its_text_and_attachments,
        unparseable_mail_is_quarantined_without_blocking_the_rest,
        mail_from_before_the_first_start_is_held_not_answered,
        a_flood_from_one_sender_gets_at_most_the_limit_of_replies,
        a_nul_byte_in_the_body_is_dropped_and_blocks_nothing,
        a_mail_that_keeps_failing_is_quarantined_and_the_rest_goes_on,
        a_complaint_without_name_or_text_is_registered_as_incomplete,
        a_representatives_reply_to_is_kept_and_the_acknowledgement_goes_to_from,
    ],
    imap_only: [
        uidvalidity_change_rescans_without_duplicates,
        flag_mode_without_move_copies_and_flags_what_it_sets_aside,
        a_stream_of_mail_while_idling_is_all_taken_in_at_once,
    ],
);

async fn case_count(w: &World) -> i64 {
    w.store().await.count(Table::Cases).await.unwrap()
}

async fn folder_len(w: &World, folder: &str) -> usize {
    w.messages(&w.complaints, folder).await.len()
}

async fn inbox_of(w: &World, user: &str) -> Vec<Vec<u8>> {
    w.messages(user, "INBOX").await
}

async fn complaint_is_registered_acknowledged_and_replies_thread_into_it(db: Db) {
    let w = World::new(db).await;
    let alice = format!("{}@example.test", unique("alice"));
    let daemon = w.start();
    let (complaint_id, raw) = w.complaint("Alice de Vries", &alice, "Mijn coach komt afspraken niet na", "Drie keer is mijn afspraak niet doorgegaan.");
    w.send(&alice, &raw).await;

    let store = w.store().await;
    let case = eventually("case registered", WAIT, || async { store.list_cases().await.unwrap().into_iter().next() }).await;
    assert_eq!(case.complainant_name.as_deref(), Some("Alice de Vries"));
    assert_eq!(case.complainant_email.as_deref(), Some(alice.as_str()));
    assert!(case.incomplete.is_empty());
    let year = Utc::now().format("%Y").to_string();
    assert!(case.reference.to_string().starts_with(&format!("KL-{year}-")), "{}", case.reference);

    // The deadlines are those of the date the mail reached the mailbox.
    let received = amsterdam_date(Utc::now());
    let d = Deadlines::compute(&w.config.calendar(), received);
    assert_eq!(case.received_on, received);
    assert_eq!(case.acknowledge_by, d.acknowledge_by);
    assert_eq!(case.respond_by, d.respond_by);

    let acks = eventually("acknowledgement delivered", WAIT, || async { Some(inbox_of(&w, &alice).await).filter(|m| !m.is_empty()) }).await;
    assert_eq!(acks.len(), 1);
    let ack = parsed(&acks[0]);
    assert_eq!(ack.subject().unwrap(), format!("[{}] Ontvangstbevestiging van uw klacht", case.reference));
    assert_eq!(header(&ack, "Auto-Submitted"), Some("auto-replied"));
    assert_eq!(ack.in_reply_to().as_text(), Some(complaint_id.as_str()));
    assert_eq!(ack.from().unwrap().first().unwrap().address().unwrap(), w.complaints);
    let body = text_of(&ack);
    let references = header(&ack, "References").unwrap_or_default();
    assert!(references.contains(&format!("<{complaint_id}>")), "References points at the complaint: {references:?}");
    for date in [d.received, d.acknowledge_by, d.progress_by.unwrap(), d.respond_by] {
        assert!(body.contains(&long_date(date, "nl")), "{} missing in:\n{body}", long_date(date, "nl"));
    }
    assert!(body.contains("https://dienst.test/klachtenregeling"), "regulation link (R12)");
    let ack_id = ack.message_id().unwrap().to_string();

    // The mail left the inbox only after the case was committed, for the processed folder.
    let processed = eventually("complaint moved", WAIT, || async { Some(w.messages(&w.complaints, "Klachtd-Verwerkt").await).filter(|m| m.len() == 1) }).await;
    assert_eq!(processed.len(), 1);
    assert!(w.messages(&w.complaints, "INBOX").await.is_empty());
    let shown = eventually("acknowledgement recorded", WAIT, || async {
        Some(store.case_detail(&case.reference).await.unwrap()).filter(|c| c.summary.acknowledgement_word() == "sent")
    })
    .await;
    assert!(shown.summary.acknowledged_at.is_some(), "acknowledgement deadline met");

    // A reply to the acknowledgement threads into the case and gets no answer.
    let reply = format!(
        "From: Alice de Vries <{alice}>\r\nTo: {}\r\nSubject: Re: {}\r\nMessage-ID: <{}@example.test>\r\nIn-Reply-To: <{ack_id}>\r\nReferences: <{complaint_id}> <{ack_id}>\r\n\r\nHierbij nog de data.\r\n",
        w.complaints,
        ack.subject().unwrap(),
        unique("reply")
    );
    w.send(&alice, reply.as_bytes()).await;
    // A later mail that only quotes the reference in its subject threads too.
    let by_subject = format!(
        "From: {alice}\r\nTo: {}\r\nSubject: Aanvulling {}\r\nMessage-ID: <{}@example.test>\r\n\r\nNog iets.\r\n",
        w.complaints,
        case.reference,
        unique("ref")
    );
    w.send(&alice, by_subject.as_bytes()).await;
    eventually("follow-ups threaded", WAIT, || async {
        let detail = store.case_detail(&case.reference).await.ok()?;
        (detail.summary.messages == 3).then_some(())
    })
    .await;
    assert_eq!(case_count(&w).await, 1, "a reply never opens a new case");
    daemon.stop().await;
    assert_eq!(inbox_of(&w, &alice).await.len(), 1, "follow-ups are not answered");
    assert_eq!(w.store().await.count(Table::Outbox).await.unwrap(), 1);
}

async fn machine_and_own_mail_never_make_cases_or_replies(db: Db) {
    let w = World::new(db).await;
    let bob = format!("{}@example.test", unique("bob"));
    let to = &w.complaints;
    let mails = [
        format!("From: Bob <{bob}>\r\nTo: {to}\r\nSubject: Afwezig: uw bericht\r\nAuto-Submitted: auto-replied\r\nMessage-ID: <{}@x>\r\n\r\nIk ben afwezig tot maandag.\r\n", unique("ooo")),
        format!("From: Mail Delivery System <MAILER-DAEMON@example.test>\r\nTo: {to}\r\nSubject: Undelivered Mail Returned to Sender\r\nMessage-ID: <{}@x>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"R\"\r\n\r\n--R\r\nContent-Type: text/plain\r\n\r\nThis is the mail system.\r\n--R\r\nContent-Type: message/delivery-status\r\n\r\nFinal-Recipient: rfc822; nobody@example.test\r\nStatus: 5.1.1\r\n--R--\r\n", unique("bounce")),
        format!("From: Nieuwsbrief <news@example.test>\r\nTo: {to}\r\nSubject: Nieuws\r\nList-Id: <news.example.test>\r\nPrecedence: list\r\nMessage-ID: <{}@x>\r\n\r\nNieuws.\r\n", unique("list")),
        format!("From: Klachten <{to}>\r\nTo: {to}\r\nSubject: Doorgestuurd\r\nMessage-ID: <{}@x>\r\n\r\nEigen bericht.\r\n", unique("own")),
    ];
    for m in &mails {
        w.send(&bob, m.as_bytes()).await;
    }
    let daemon = w.start();
    eventually("all four set aside", WAIT, || async { (folder_len(&w, "Klachtd-Genegeerd").await == 4).then_some(()) }).await;
    daemon.stop().await;
    let store = w.store().await;
    assert_eq!(store.count(Table::Cases).await.unwrap(), 0);
    assert_eq!(store.count(Table::Outbox).await.unwrap(), 0);
    assert_eq!(store.count(Table::Messages).await.unwrap(), 4, "kept, not dropped");
    assert!(inbox_of(&w, &bob).await.is_empty());
}

/// A bounce of our acknowledgement names it only in the returned headers: it is kept with the
/// case, recorded in its history, and answered by nobody.
async fn a_delivery_report_on_our_acknowledgement_stays_with_its_case(db: Db) {
    let ann = format!("{}@dienst.test", unique("ann"));
    let w = World::with(db, MailStack::shared(), &format!("{ANSWER_ALL}[[handlers]]\nname = \"Ann Smit\"\nemail = \"{ann}\"\n")).await;
    let dora = format!("{}@example.test", unique("dora"));
    let (_, raw) = w.complaint("Dora", &dora, "Klacht", "Mijn klacht.");
    w.send(&dora, &raw).await;
    let daemon = w.start();
    let acks = eventually("acknowledgement", WAIT, || async { Some(inbox_of(&w, &dora).await).filter(|m| m.len() == 1) }).await;
    let ack = parsed(&acks[0]);
    let store = w.store().await;
    let reference = store.list_cases().await.unwrap()[0].reference.clone();
    eventually("acknowledgement deadline met", WAIT, || async { store.case_detail(&reference).await.unwrap().summary.acknowledged_at.map(|_| ()) }).await;
    let report = |returned_id: &str, recipient: &str| {
        format!(
            "From: Mail Delivery System <MAILER-DAEMON@example.test>\r\nTo: {to}\r\nSubject: Undelivered Mail Returned to Sender\r\nMessage-ID: <{id}@x>\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/report; report-type=delivery-status; boundary=\"R\"\r\n\r\n--R\r\nContent-Type: text/plain\r\n\r\nThis is the mail system.\r\n\
             --R\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; example.test\r\n\r\nFinal-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: 5.2.2\r\n\
             --R\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: {to}\r\nTo: {recipient}\r\nSubject: x\r\nMessage-ID: <{returned_id}>\r\n\r\n--R--\r\n",
            to = w.complaints,
            id = unique("dsn"),
        )
    };
    w.send(&dora, report(ack.message_id().unwrap(), &dora).as_bytes()).await;
    let detail =
        eventually("report kept with the case", WAIT, || async { Some(store.case_detail(&reference).await.unwrap()).filter(|d| d.summary.messages == 2) })
            .await;
    // The handler hears of it; the bounce itself gets no answer.
    let told = eventually("the handler told", WAIT, || async {
        w.messages(&ann, "INBOX").await.into_iter().find(|m| parsed(m).subject().unwrap_or("").contains("niet aangekomen"))
    })
    .await;
    assert_eq!(parsed(&told).subject().unwrap(), format!("[{reference}] Een brief bij deze klacht is niet aangekomen"));
    assert_eq!(detail.message_list[1].kind.as_str(), "delivery-report");
    assert!(detail.history.iter().any(|e| e.action == event("letter-returned") && e.detail == "acknowledgement"), "{:?}", detail.history);
    assert_eq!(detail.summary.acknowledgement_word(), "returned");
    assert_eq!(detail.summary.acknowledged_at, None, "the acknowledgement deadline is open again");

    // The notice to the handler bouncing in turn is kept, and starts nothing: no loop.
    let notice_id = parsed(&told).message_id().unwrap().to_string();
    w.send(&dora, report(&notice_id, &ann).as_bytes()).await;
    eventually("second report kept", WAIT, || async { (store.case_detail(&reference).await.unwrap().summary.messages == 3).then_some(()) }).await;
    daemon.stop().await;
    assert_eq!(case_count(&w).await, 1);
    assert_eq!(folder_len(&w, "Klachtd-Verwerkt").await, 3);
    assert_eq!(
        store.outbox_counts().await.unwrap(),
        vec![("returned".to_string(), 1), ("sent".to_string(), 2)],
        "the returned acknowledgement, the assignment and one notice; nobody answers a bounce"
    );
    assert_eq!(inbox_of(&w, &dora).await.len(), 1);

    // The handler can now record an acknowledgement by post.
    let by_post = store.acknowledged_by_post(&reference, chrono::NaiveDate::from_ymd_opt(2026, 11, 26).unwrap(), "test").await;
    assert!(by_post.is_ok(), "{:?}", by_post.err().map(|e| e.to_string()));
}

async fn the_same_mail_twice_makes_one_case(db: Db) {
    let w = World::new(db).await;
    let carol = format!("{}@example.test", unique("carol"));
    let (_, raw) = w.complaint("Carol", &carol, "Dubbel", "Zelfde bericht twee keer bezorgd.");
    w.send(&carol, &raw).await;
    w.send(&carol, &raw).await;
    // Without a Message-ID the content identifies the mail.
    let no_id = format!("From: Carol <{carol}>\r\nTo: {}\r\nSubject: Zonder kenmerk\r\n\r\nGeen Message-ID.\r\n", w.complaints);
    w.append(no_id.as_bytes(), None).await;
    w.append(no_id.as_bytes(), None).await;
    let daemon = w.start();
    eventually("all four handled", WAIT, || async { (folder_len(&w, "Klachtd-Verwerkt").await == 4).then_some(()) }).await;
    let acks = eventually("two acknowledgements", WAIT, || async { Some(inbox_of(&w, &carol).await).filter(|m| m.len() >= 2) }).await;
    daemon.stop().await;
    assert_eq!(case_count(&w).await, 2);
    assert_eq!(acks.len(), 2);
    // Nothing more was queued, and everything queued went out: no late extra reply.
    assert_eq!(w.store().await.outbox_counts().await.unwrap(), vec![("sent".to_string(), 2)]);
    assert_eq!(inbox_of(&w, &carol).await.len(), 2, "exactly two acknowledgements in total");
}

/// A batch's new complaints are written together at its end; a reply to one of them in the
/// same batch (here from someone else, by In-Reply-To) must still find its case, not become one.
async fn a_reply_in_the_batch_of_its_complaint_threads_into_it(db: Db) {
    let w = World::new(db).await;
    let (hanna, advisor) = (format!("{}@example.test", unique("hanna")), format!("{}@example.test", unique("advisor")));
    let (complaint_id, complaint) = w.complaint("Hanna", &hanna, "Uitkering te laat", "Al drie weken niets.");
    let reply = format!(
        "From: Adviseur <{advisor}>\r\nTo: {}\r\nSubject: Re: Uitkering te laat\r\nMessage-ID: <{}@example.test>\r\nIn-Reply-To: <{complaint_id}>\r\n\r\nIk sta mevrouw bij.\r\n",
        w.complaints,
        unique("reply")
    );
    let (_, other) = w.complaint("Hanna", &hanna, "Tweede klacht", "Over iets anders.");
    for mail in [&complaint, reply.as_bytes(), &other] {
        w.append(mail, None).await;
    }
    let daemon = w.start();
    eventually("all three handled", WAIT, || async { (folder_len(&w, "Klachtd-Verwerkt").await == 3).then_some(()) }).await;
    daemon.stop().await;
    let store = w.store().await;
    let mut cases = store.list_cases().await.unwrap();
    cases.sort_by(|a, b| a.reference.cmp(&b.reference));
    let subjects: Vec<(&str, i64)> = cases.iter().map(|c| (c.subject.as_str(), c.messages)).collect();
    assert_eq!(subjects, [("Uitkering te laat", 2), ("Tweede klacht", 1)], "numbered in the order they came; the reply is in the first");
    assert_eq!(store.outbox_counts().await.unwrap().iter().map(|(_, n)| n).sum::<i64>(), 2, "the reply is not answered");
}

/// Mail that arrives while a sync runs is announced inside the replies to FETCH and MOVE, not
/// again in the IDLE that follows; the daemon must notice it then and there. Before, a share of
/// such a stream waited in the inbox until the next unrelated mail or the IDLE renewal (minutes;
/// never, on Dovecot, whose keep-alives restarted the library's IDLE timer).
async fn a_stream_of_mail_while_idling_is_all_taken_in_at_once(db: Db) {
    const N: usize = 300;
    let w = World::new(db).await;
    let daemon = w.start();
    let first = format!("{}@example.test", unique("erin"));
    let (_, raw) = w.complaint("Erin", &first, "Eerste", "Vooraf");
    w.send(&first, &raw).await;
    // Registered: the daemon has synced and is idling now (or about to).
    eventually("first complaint registered", WAIT, || async { (case_count(&w).await == 1).then_some(()) }).await;
    let sender = format!("{}@example.test", unique("frank"));
    let mut session = w.stack.session(&w.complaints).await;
    for i in 0..N {
        let (_, raw) = w.complaint("Frank", &sender, &format!("Klacht {i}"), &format!("Beschrijving {i}"));
        session.append("INBOX", None, None, &raw).await.expect("APPEND");
        // A stream, not a burst: arrivals must overlap the syncs they set off.
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let _ = session.logout().await;
    // Far below the IDLE renewal (3 minutes): only a daemon that noticed every arrival gets here.
    eventually("the inbox empty soon after the last arrival", std::time::Duration::from_secs(60), || async {
        (w.stack.count(&w.complaints, "INBOX").await == 0).then_some(())
    })
    .await;
    daemon.stop().await;
    assert_eq!(case_count(&w).await, N as i64 + 1);
}

async fn restart_in_the_middle_of_a_batch_loses_and_repeats_nothing(db: Db) {
    // Three batches (two full ones and 20): a batch is committed as one, so progress shows
    // batch by batch.
    const N: usize = 2 * klachtd::app::intake::pass::BATCH_MAILS + 20;
    let w = World::new(db).await;
    // Different senders, so the per-sender reply limit stays out of the way.
    let senders: Vec<String> = (0..N).map(|_| format!("{}@example.test", unique("dave"))).collect();
    let mut raws = Vec::new();
    for (i, dave) in senders.iter().enumerate() {
        let (_, raw) = w.complaint("Dave", dave, &format!("Klacht {i}"), &format!("Beschrijving {i}"));
        w.append(&raw, None).await;
        raws.push(raw);
    }
    // A crash after the commit but before the move: the first mail is registered while it is
    // still in the inbox (the intake writes it as the pass does, and nothing moves it).
    {
        let store = w.store().await.clone();
        let letters = std::sync::Arc::new(klachtd::app::templates::Letters::load(None, "nl").unwrap());
        let settings = klachtd::app::settings::SharedSettings::new(klachtd::app::settings::Settings::new(&w.config, letters));
        let actions = std::sync::Arc::new(klachtd::app::actions::Actions::new(&w.config, store.clone(), settings.clone()).unwrap());
        let intake = klachtd::app::intake::Intake::new(&w.config, store, settings, actions, Utc::now() - chrono::Duration::hours(1), Default::default());
        let outcome = intake.process_alone(&raws[0], Utc::now()).await.unwrap();
        assert!(matches!(outcome, klachtd::app::intake::Outcome::Registered { .. }), "{outcome:?}");
    }
    // Stop the daemon as soon as its first batch has committed, then start it again. The
    // daemon checks for shutdown before each mail and commits and moves what it recorded of the
    // batch in hand, so polling tightly stops it in the second batch (or between the first two),
    // long before it gets through N mails; the assertions below make sure the stop really fell
    // in the middle of the backlog.
    let daemon = w.start();
    let started = std::time::Instant::now();
    while case_count(&w).await < 2 {
        assert!(started.elapsed() < WAIT, "timed out waiting for some progress");
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    daemon.stop().await;
    let after_first_run = case_count(&w).await;
    assert!(after_first_run >= 2 && after_first_run < N as i64, "stopped mid-batch: {after_first_run} of {N} cases");
    assert!(!w.messages(&w.complaints, "INBOX").await.is_empty(), "mail left in the inbox for the second run");
    let daemon = w.start();
    eventually("all registered", WAIT, || async { (folder_len(&w, "Klachtd-Verwerkt").await == N).then_some(()) }).await;
    eventually("all acknowledged", WAIT, || async {
        let sent = w.store().await.outbox_counts().await.unwrap();
        sent.iter().any(|(s, n)| s == "sent" && *n == N as i64).then_some(())
    })
    .await;
    daemon.stop().await;
    assert_eq!(case_count(&w).await, N as i64, "one case per mail, none twice");
    for dave in &senders {
        assert_eq!(inbox_of(&w, dave).await.len(), 1, "one acknowledgement per case");
    }
    assert!(w.messages(&w.complaints, "INBOX").await.is_empty());
}

async fn odd_mail_is_registered_with_its_text_and_attachments(db: Db) {
    let w = World::new(db).await;
    let erin = format!("{}@example.test", unique("erin"));
    let to = &w.complaints;
    let big = vec![b'A'; 10 * 1024 * 1024];
    let big_b64 = wrap76(&base64(&big));
    let mails: Vec<Vec<u8>> = vec![
        format!("From: =?ISO-8859-1?Q?Jos=E9_M=FCller?= <{erin}>\r\nTo: {to}\r\nSubject: =?UTF-8?B?S2xhY2h0IG92ZXIgw6nDqW4gYWZzcHJhYWs=?=\r\nMessage-ID: <{}@x>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nCaf=E9 was gesloten.\r\n", unique("latin")).into_bytes(),
        format!("From: Zoë Ångström <{erin}>\r\nTo: {to}\r\nSubject: Ærgerlijk: één klacht\r\nMessage-ID: <{}@x>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nRauwe UTF-8 koppen.\r\n", unique("utf8")).into_bytes(),
        format!("From: Html Only <{erin}>\r\nTo: {to}\r\nSubject: HTML\r\nMessage-ID: <{}@x>\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>Mijn <b>klacht</b></p><script>alert('x')</script></body></html>\r\n", unique("html")).into_bytes(),
        format!("From: Broken Mime <{erin}>\r\nTo: {to}\r\nSubject: Kapot\r\nMessage-ID: <{}@x>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"nooit\"\r\n\r\n--nooit\r\nContent-Type: text/plain\r\n\r\nTekst zonder einde van de grens\r\n", unique("broken")).into_bytes(),
        format!("From: Hostile Names <{erin}>\r\nTo: {to}\r\nSubject: Bijlagen\r\nMessage-ID: <{}@x>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"B\"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nZie bijlagen.\r\n--B\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"../../../../tmp/klachtd-pwned\"\r\nContent-Transfer-Encoding: base64\r\n\r\naGFsbG8=\r\n--B\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"groot.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{big_b64}\r\n--B--\r\n", unique("attach")).into_bytes(),
    ];
    for m in &mails {
        w.append(m, None).await;
    }
    let daemon = w.start();
    eventually("five cases", WAIT, || async { (case_count(&w).await == 5).then_some(()) }).await;
    daemon.stop().await;
    let store = w.store().await;
    let cases = store.list_cases().await.unwrap();
    let by_subject = |s: &str| cases.iter().find(|c| c.subject == s).unwrap_or_else(|| panic!("no case {s:?} in {cases:#?}")).clone();
    assert_eq!(by_subject("Klacht over één afspraak").complainant_name.as_deref(), Some("José Müller"));
    assert_eq!(by_subject("Ærgerlijk: één klacht").complainant_name.as_deref(), Some("Zoë Ångström"));
    let latin = store.case_detail(&by_subject("Klacht over één afspraak").reference).await.unwrap();
    assert_eq!(latin.description, "Café was gesloten.");
    let html = store.case_detail(&by_subject("HTML").reference).await.unwrap();
    assert!(html.description.contains("Mijn klacht") && !html.description.contains("alert") && !html.description.contains('<'), "{}", html.description);
    let broken = store.case_detail(&by_subject("Kapot").reference).await.unwrap();
    assert!(broken.description.contains("Tekst zonder einde"), "{}", broken.description);
    let attach = store.case_detail(&by_subject("Bijlagen").reference).await.unwrap();
    let names: Vec<_> = attach.attachment_list.iter().map(|a| a.filename.as_str()).collect();
    assert_eq!(names, vec!["klachtd-pwned", "groot.pdf"]);
    assert_eq!(attach.attachment_list[1].size, big.len() as i64);
    assert!(!std::path::Path::new("/tmp/klachtd-pwned").exists());
    let stored = klachtd::store::attachments::AttachmentStore::new(&w.config.storage.data_dir);
    use std::os::unix::fs::PermissionsExt;
    for a in &attach.attachment_list {
        let path = stored.path_of(&a.sha256);
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.len(), a.size as u64, "{}", path.display());
        assert_eq!(meta.permissions().mode() & 0o777, 0o600, "attachments are for the service account only");
    }
    if db == Db::Sqlite {
        let file = w.db.url.trim_start_matches("sqlite://");
        assert_eq!(std::fs::metadata(file).unwrap().permissions().mode() & 0o777, 0o600, "the database is for the service account only");
    }
}

async fn unparseable_mail_is_quarantined_without_blocking_the_rest(db: Db) {
    let w = World::new(db).await;
    let fay = format!("{}@example.test", unique("fay"));
    w.append(b"\x00\x01\x02 dit is geen e-mail\r\n", None).await;
    let (_, good) = w.complaint("Fay", &fay, "Na de rommel", "Deze moet gewoon door.");
    w.append(&good, None).await;
    let daemon = w.start();
    eventually("good mail registered", WAIT, || async { (case_count(&w).await == 1).then_some(()) }).await;
    eventually("bad mail quarantined", WAIT, || async { (folder_len(&w, "Klachtd-Quarantaine").await == 1).then_some(()) }).await;
    daemon.stop().await;
    let q = w.store().await.quarantined().await.unwrap();
    assert_eq!(q.len(), 1);
    let reasons = [klachtd::domain::inbound::ParseError::NotAMessage.to_string(), klachtd::domain::inbound::ParseError::NoHeaders.to_string()];
    assert!(reasons.contains(&q[0].2), "reason recorded: {}", q[0].2);
}

async fn mail_from_before_the_first_start_is_held_not_answered(db: Db) {
    // The product default: only mail that arrives after the first start is answered at once.
    let w = World::with(db, MailStack::shared(), "").await;
    let gert = format!("{}@example.test", unique("gert"));
    let (_, old) = w.complaint("Gert", &gert, "Oude klacht", "Van vorige maand.");
    w.append(&old, Some("\"02-Nov-2026 10:00:00 +0100\"")).await;
    let daemon = w.start();
    let store = w.store().await;
    let case = eventually("old mail registered", WAIT, || async { store.list_cases().await.unwrap().into_iter().next() }).await;
    assert_eq!(case.received_on.to_string(), "2026-11-02", "deadlines count from the internal date");
    assert_eq!(case.acknowledgement_word(), "held");
    let (_, new) = w.complaint("Gert", &gert, "Nieuwe klacht", "Van vandaag.");
    w.send(&gert, &new).await;
    eventually("new mail acknowledged", WAIT, || async { (inbox_of(&w, &gert).await.len() == 1).then_some(()) }).await;
    // A handler releases the held acknowledgement.
    assert_eq!(store.release_held(&case.reference, "test").await.unwrap(), 1);
    eventually("released acknowledgement delivered", WAIT, || async { (inbox_of(&w, &gert).await.len() == 2).then_some(()) }).await;
    daemon.stop().await;
}

async fn a_flood_from_one_sender_gets_at_most_the_limit_of_replies(db: Db) {
    let w = World::with(db, MailStack::shared(), &format!("{ANSWER_ALL}max_auto_replies_per_sender_per_day = 3\n")).await;
    let robot = format!("{}@example.test", unique("robot"));
    for i in 0..5 {
        let (_, raw) = w.complaint("Robot", &robot, &format!("Bericht {i}"), "Tekst.");
        w.append(&raw, None).await;
    }
    let daemon = w.start();
    eventually("five cases", WAIT, || async { (case_count(&w).await == 5).then_some(()) }).await;
    eventually("three replies", WAIT, || async { (inbox_of(&w, &robot).await.len() == 3).then_some(()) }).await;
    daemon.stop().await;
    let counts = w.store().await.outbox_counts().await.unwrap();
    assert!(counts.contains(&("suppressed".to_string(), 2)), "{counts:?}");
    assert_eq!(inbox_of(&w, &robot).await.len(), 3);
}

async fn uidvalidity_change_rescans_without_duplicates(db: Db) {
    let folder = unique("Klachten");
    let w = World::new(db).await;
    let mut config = w.config.clone();
    config.imap_mut().inbox = folder.clone();
    config.imap_mut().mark = klachtd::config::MarkMode::Flag;
    {
        let mut s = w.stack.session(&w.complaints).await;
        s.create(&folder).await.unwrap();
        let _ = s.logout().await;
    }
    let hugo = format!("{}@example.test", unique("hugo"));
    let mut raws = Vec::new();
    for i in 0..3 {
        let (_, raw) = w.complaint("Hugo", &hugo, &format!("Klacht {i}"), "Tekst.");
        w.stack.append(&w.complaints, &folder, &raw, None).await;
        raws.push(raw);
    }
    let daemon = klachtd_running(&config);
    eventually("three cases", WAIT, || async { (case_count(&w).await == 3).then_some(()) }).await;
    daemon.stop().await;
    // The folder is recreated: same mails, new UIDs, new UIDVALIDITY, no keywords.
    {
        let mut s = w.stack.session(&w.complaints).await;
        s.rename(&folder, format!("{folder}-old")).await.unwrap();
        s.create(&folder).await.unwrap();
        for raw in &raws {
            s.append(&folder, None, None, raw).await.unwrap();
        }
        let (_, fresh) = w.complaint("Hugo", &hugo, "Klacht 3", "Nieuw.");
        s.append(&folder, None, None, &fresh).await.unwrap();
        let _ = s.logout().await;
    }
    let daemon = klachtd_running(&config);
    eventually("the new mail registered", WAIT, || async { (case_count(&w).await == 4).then_some(()) }).await;
    eventually("four acknowledgements", WAIT, || async { (inbox_of(&w, &hugo).await.len() == 4).then_some(()) }).await;
    daemon.stop().await;
    assert_eq!(case_count(&w).await, 4);
    assert_eq!(inbox_of(&w, &hugo).await.len(), 4);
}

async fn a_nul_byte_in_the_body_is_dropped_and_blocks_nothing(db: Db) {
    let w = World::new(db).await;
    let ines = format!("{}@example.test", unique("ines"));
    let nul = format!(
        "From: Ines Bakker <{ines}>\r\nTo: {}\r\nSubject: Met een nul\r\nMessage-ID: <{}@example.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nVoor=00 na de nul=01.\r\n",
        w.complaints,
        unique("nul")
    );
    w.append(nul.as_bytes(), None).await;
    let (_, later) = w.complaint("Ines Bakker", &ines, "Daarna", "Een latere klacht.");
    w.append(&later, None).await;
    let daemon = w.start();
    eventually("both registered", WAIT, || async { (case_count(&w).await == 2).then_some(()) }).await;
    eventually("both acknowledged", WAIT, || async { (inbox_of(&w, &ines).await.len() == 2).then_some(()) }).await;
    daemon.stop().await;
    let store = w.store().await;
    let case = store.list_cases().await.unwrap().into_iter().find(|c| c.subject == "Met een nul").expect("the mail with NUL is a case");
    assert_eq!(store.case_detail(&case.reference).await.unwrap().description, "Voor na de nul.");
    assert!(store.quarantined().await.unwrap().is_empty());
    assert!(w.messages(&w.complaints, "INBOX").await.is_empty());
}

/// A mail the database refuses every time (here: a constraint the test adds, standing in for
/// any such fault) is tried a few times, then quarantined with the reason; the mails before and
/// after it are registered once each (the one before was written in the batch's transaction
/// when the failure rolled that back).
async fn a_mail_that_keeps_failing_is_quarantined_and_the_rest_goes_on(db: Db) {
    let w = World::new(db).await;
    w.store().await; // migrated
    {
        sqlx::any::install_default_drivers();
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&w.db.url).await.unwrap();
        let sql = match db {
            Db::Sqlite => "CREATE TRIGGER poison BEFORE INSERT ON messages WHEN NEW.subject = 'Gif' BEGIN SELECT RAISE(ABORT, 'refused by test trigger'); END",
            Db::Postgres => "ALTER TABLE messages ADD CONSTRAINT poison CHECK (subject <> 'Gif')",
        };
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await.unwrap();
        let _ = sqlx::Connection::close(conn).await;
    }
    let piet = format!("{}@example.test", unique("piet"));
    let (_, before) = w.complaint("Piet", &piet, "Eerst", "Deze gaat ervoor.");
    let (_, poison) = w.complaint("Piet", &piet, "Gif", "Deze weigert de database.");
    let (_, after) = w.complaint("Piet", &piet, "Gewoon", "Deze moet erdoor.");
    for mail in [&before, &poison, &after] {
        w.append(mail, None).await;
    }
    let daemon = w.start();
    eventually("the mails around it registered", WAIT, || async { (case_count(&w).await == 2).then_some(()) }).await;
    eventually("the failing mail quarantined", WAIT, || async { (folder_len(&w, "Klachtd-Quarantaine").await == 1).then_some(()) }).await;
    eventually("acknowledged", WAIT, || async { (inbox_of(&w, &piet).await.len() == 2).then_some(()) }).await;
    daemon.stop().await;
    assert_eq!(inbox_of(&w, &piet).await.len(), 2, "one acknowledgement each");
    let mut subjects: Vec<String> = w.store().await.list_cases().await.unwrap().into_iter().map(|c| c.subject).collect();
    subjects.sort();
    assert_eq!(subjects, ["Eerst", "Gewoon"]);
    let q = w.store().await.quarantined().await.unwrap();
    assert_eq!(q.len(), 1);
    assert!(q[0].2.contains(&format!("failed {} times in a row", klachtd::app::intake::pass::MAX_ATTEMPTS)), "{}", q[0].2);
    assert!(w.messages(&w.complaints, "INBOX").await.is_empty());
}

async fn a_complaint_without_name_or_text_is_registered_as_incomplete(db: Db) {
    let w = World::new(db).await;
    let kees = format!("{}@example.test", unique("kees"));
    let raw = format!("From: {kees}\r\nTo: {}\r\nSubject: Klacht\r\nMessage-ID: <{}@example.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\r\n", w.complaints, unique("leeg"));
    w.send(&kees, raw.as_bytes()).await;
    let daemon = w.start();
    let store = w.store().await;
    let case = eventually("case registered", WAIT, || async { store.list_cases().await.unwrap().into_iter().next() }).await;
    assert_eq!(case.complainant_name, None);
    assert_eq!(case.complainant_email.as_deref(), Some(kees.as_str()));
    let mut incomplete = case.incomplete.clone();
    incomplete.sort();
    assert_eq!(incomplete, vec!["description".to_string(), "name".to_string()]);
    let acks = eventually("acknowledgement delivered", WAIT, || async { Some(inbox_of(&w, &kees).await).filter(|m| !m.is_empty()) }).await;
    daemon.stop().await;
    assert_eq!(acks.len(), 1);
    let body = text_of(&parsed(&acks[0]));
    for needle in ["Geachte heer/mevrouw", "missen wij nog", "een beschrijving van uw klacht", "uw naam"] {
        assert!(body.contains(needle), "{needle} missing in:\n{body}");
    }
}

async fn a_representatives_reply_to_is_kept_and_the_acknowledgement_goes_to_from(db: Db) {
    let w = World::new(db).await;
    let lies = format!("{}@example.test", unique("lies"));
    let rep = format!("{}@advocaat.test", unique("mr-de-wit"));
    let raw = format!(
        "From: Lies Jansen <{lies}>\r\nReply-To: Mr. De Wit <{rep}>\r\nTo: {}\r\nSubject: Klacht namens cliënte\r\nMessage-ID: <{}@example.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nMijn advocaat schrijft mee.\r\n",
        w.complaints,
        unique("rep")
    );
    w.send(&lies, raw.as_bytes()).await;
    let daemon = w.start();
    let store = w.store().await;
    let case = eventually("case registered", WAIT, || async { store.list_cases().await.unwrap().into_iter().next() }).await;
    assert_eq!(case.complainant_name.as_deref(), Some("Lies Jansen"));
    assert_eq!(case.complainant_email.as_deref(), Some(lies.as_str()));
    assert_eq!(case.reply_to_email.as_deref(), Some(rep.as_str()));
    assert!(case.incomplete.is_empty(), "{:?}", case.incomplete);
    let acks = eventually("acknowledgement delivered to From", WAIT, || async { Some(inbox_of(&w, &lies).await).filter(|m| !m.is_empty()) }).await;
    daemon.stop().await;
    assert_eq!(acks.len(), 1);
    assert!(text_of(&parsed(&acks[0])).contains("Geachte Lies Jansen"));
    assert_eq!(store.outbox_counts().await.unwrap(), vec![("sent".to_string(), 1)], "one acknowledgement, to From only");
    assert!(inbox_of(&w, &rep).await.is_empty(), "the representative is kept on the case, not mailed");
}

async fn flag_mode_without_move_copies_and_flags_what_it_sets_aside(db: Db) {
    let w = World::new(db).await;
    let mut config = w.config.clone();
    config.imap_mut().mark = klachtd::config::MarkMode::Flag;
    config.imap_mut().port = w.stack.imap_without_move().await;
    {
        let mut s = w.stack.session(&w.complaints).await;
        let caps = s.capabilities().await.unwrap();
        assert!(caps.has_str("MOVE"), "the stack itself offers MOVE");
        let _ = s.logout().await;
    }
    let mona = format!("{}@example.test", unique("mona"));
    let to = &w.complaints;
    let auto_reply = format!(
        "From: Mona <{mona}>\r\nTo: {to}\r\nSubject: Afwezig\r\nAuto-Submitted: auto-replied\r\nMessage-ID: <{}@x>\r\n\r\nIk ben er niet.\r\n",
        unique("ooo")
    );
    let (_, complaint) = w.complaint("Mona", &mona, "Vlag", "Klacht in vlagmodus.");
    w.stack.append(to, "INBOX", auto_reply.as_bytes(), None).await;
    w.stack.append(to, "INBOX", b"\x00\x01\x02 geen e-mail\r\n", None).await;
    w.stack.append(to, "INBOX", &complaint, None).await;
    let daemon = Running::start(config.clone());
    eventually("all three handled", WAIT, || async {
        let flags = w.stack.flags(to, "INBOX").await;
        (flags.len() == 3 && flags.iter().all(|f| f.iter().any(|k| k == klachtd::driven::imap::PROCESSED_KEYWORD))).then_some(())
    })
    .await;
    eventually("acknowledged", WAIT, || async { (inbox_of(&w, &mona).await.len() == 1).then_some(()) }).await;
    daemon.stop().await;
    assert_eq!(case_count(&w).await, 1);
    assert_eq!(folder_len(&w, "Klachtd-Genegeerd").await, 1, "the auto-reply copied to the ignored folder");
    assert_eq!(folder_len(&w, "Klachtd-Quarantaine").await, 1, "the garbage copied to quarantine");
    assert_eq!(folder_len(&w, "Klachtd-Verwerkt").await, 0);
    assert_eq!(folder_len(&w, "INBOX").await, 3, "nothing expunged or deleted");
    assert_eq!(w.store().await.quarantined().await.unwrap().len(), 1);

    // Even with the saved UID lost, flagged mail is not handled again: the search skips it.
    {
        sqlx::any::install_default_drivers();
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&w.db.url).await.unwrap();
        sqlx::query("DELETE FROM mailbox_state").execute(&mut conn).await.unwrap();
        let _ = sqlx::Connection::close(conn).await;
    }
    let (_, second) = w.complaint("Mona", &mona, "Vlag 2", "Nog een.");
    w.stack.append(to, "INBOX", &second, None).await;
    let daemon = Running::start(config);
    eventually("second case", WAIT, || async { (case_count(&w).await == 2).then_some(()) }).await;
    eventually("second acknowledgement", WAIT, || async { (inbox_of(&w, &mona).await.len() == 2).then_some(()) }).await;
    daemon.stop().await;
    assert_eq!(folder_len(&w, "Klachtd-Genegeerd").await, 1);
    assert_eq!(folder_len(&w, "Klachtd-Quarantaine").await, 1);
    assert_eq!(w.store().await.quarantined().await.unwrap().len(), 1, "not quarantined twice");
    assert_eq!(w.store().await.count(Table::Messages).await.unwrap(), 3, "two complaints and the auto-reply, each once");
    assert_eq!(case_count(&w).await, 2);
}

/// With IDLE off the mailbox is polled; a complaint that arrives after the first sync is found
/// by a later poll.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_without_idle_picks_up_a_complaint() {
    let w = World::new(Db::Sqlite).await;
    let mut config = w.config.clone();
    config.imap_mut().idle = false;
    config.imap_mut().poll_interval_secs = 1;
    let daemon = Running::start(config);
    let store = w.store().await;
    eventually("first sync done", WAIT, || async { store.mailbox_state("INBOX").await.unwrap() }).await;
    let nora = format!("{}@example.test", unique("nora"));
    let (_, raw) = w.complaint("Nora", &nora, "Peilen", "Gevonden door te peilen.");
    w.send(&nora, &raw).await;
    eventually("case registered by a poll", std::time::Duration::from_secs(15), || async { (case_count(&w).await == 1).then_some(()) }).await;
    eventually("acknowledged", WAIT, || async { (inbox_of(&w, &nora).await.len() == 1).then_some(()) }).await;
    daemon.stop().await;
}

async fn complaint_over_tls(mode: klachtd::config::TlsMode, port: u16) {
    let w = World::new(Db::Sqlite).await;
    let mut config = w.config.clone();
    config.imap_mut().tls = mode;
    config.imap_mut().port = port;
    // Without our test CA the server's certificate is refused: TLS is really spoken.
    let e = match klachtd::daemon::Daemon::prepare(&config).await {
        Ok(_) => panic!("a certificate from an unknown CA must be refused"),
        Err(e) => format!("{e:#}"),
    };
    assert!(e.contains("TLS with 127.0.0.1:"), "{e}");
    config.imap_mut().ca_file = Some(w.stack.ca.clone());
    assert!(config.problems().is_empty(), "{:?}", config.problems());
    let daemon = Running::start(config);
    let olga = format!("{}@example.test", unique("olga"));
    let (_, raw) = w.complaint("Olga", &olga, "Versleuteld", "Over TLS gelezen.");
    w.send(&olga, &raw).await;
    eventually("case registered", WAIT, || async { (case_count(&w).await == 1).then_some(()) }).await;
    eventually("acknowledged", WAIT, || async { (inbox_of(&w, &olga).await.len() == 1).then_some(()) }).await;
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complaint_read_over_implicit_tls() {
    complaint_over_tls(klachtd::config::TlsMode::Implicit, MailStack::shared().imaps_port).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complaint_read_over_starttls() {
    complaint_over_tls(klachtd::config::TlsMode::Starttls, MailStack::shared().imap_port).await;
}

fn klachtd_running(config: &klachtd::config::Config) -> Running {
    Running::start(config.clone())
}

fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len() * 4 / 3 + 4);
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn wrap76(s: &str) -> String {
    s.as_bytes().chunks(76).map(|c| std::str::from_utf8(c).unwrap()).collect::<Vec<_>>().join("\r\n")
}

/// Two klachtd instances on one PostgreSQL database and one mailbox: every complaint becomes
/// one case with one acknowledgement.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_daemons_on_one_postgres_database_do_nothing_twice() {
    let w = World::new(Db::Postgres).await;
    const N: usize = 20;
    let senders: Vec<String> = (0..N).map(|_| format!("{}@example.test", unique("twin"))).collect();
    let first = w.start();
    let second = w.start();
    for (i, s) in senders.iter().enumerate() {
        let (_, raw) = w.complaint("Twin", s, &format!("Klacht {i}"), "Tekst.");
        if i % 2 == 0 {
            w.send(s, &raw).await;
        } else {
            w.append(&raw, None).await;
        }
    }
    eventually("all registered and moved", WAIT, || async {
        (case_count(&w).await == N as i64 && folder_len(&w, "Klachtd-Verwerkt").await == N).then_some(())
    })
    .await;
    for s in &senders {
        eventually("acknowledged", WAIT, || async { (!inbox_of(&w, s).await.is_empty()).then_some(()) }).await;
    }
    first.stop().await;
    second.stop().await;
    assert_eq!(case_count(&w).await, N as i64);
    // One instance took the mail in (the lease): each mail moved once, no second copy.
    assert_eq!(folder_len(&w, "Klachtd-Verwerkt").await, N);
    for s in &senders {
        assert_eq!(inbox_of(&w, s).await.len(), 1, "exactly one acknowledgement for {s}");
    }
    let refs: std::collections::HashSet<String> = w.store().await.list_cases().await.unwrap().into_iter().map(|c| c.reference.to_string()).collect();
    assert_eq!(refs.len(), N);
}
