//! Nothing set aside is out of sight (issue 21): mail that became no case is listed for
//! supervisors with its reason, can be registered as a complaint with its original date of
//! receipt, and is counted once a day in the supervisors' digest. The store on SQLite and
//! PostgreSQL; the release and the count through the real mail stack. (The web page is tested
//! in the browser, in `web::set_aside`.)

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Europe::Amsterdam;

use crate::common::klachtd_as_handler as klachtd;
use crate::common::*;
use klachtd::store::set_aside::{HeldCursor, HeldFilter, HeldKind};
use klachtd::store::{MessageRecord, Store, Table};

on_both_databases!(
    held_mail_is_listed_newest_first_a_page_at_a_time,
    held_mail_gives_way_once_and_is_counted_once_a_day,
    a_set_aside_mail_becomes_a_case_with_its_original_date_from_the_command_line,
    supervisors_hear_once_a_day_how_much_mail_became_no_case,
    held_mail_is_counted_per_organisation,
    a_count_made_before_counts_were_per_organisation_survives_the_migration,
);

const IGNORED: &str = "Klachtd-Genegeerd";
const QUARANTINE: &str = "Klachtd-Quarantaine";

fn held(id: &str, kind: &str, note: &str, received_at: i64) -> MessageRecord {
    MessageRecord {
        note: note.into(),
        subject: format!("Onderwerp {id}"),
        ..hand_made_message(&format!("{id}@example.test"), Some("x@example.test"), kind, "Tekst", received_at)
    }
}

async fn store_on(db: Db) -> (tempfile::TempDir, TestDb, Store, Store) {
    let dir = tempfile::tempdir().unwrap();
    let test_db = TestDb::create(db, dir.path()).await;
    let a = Store::open(&test_db.url, 4).await.unwrap();
    let b = Store::open(&test_db.url, 4).await.unwrap();
    (dir, test_db, a, b)
}

async fn held_mail_is_listed_newest_first_a_page_at_a_time(db: Db) {
    let (_dir, _db, store, _) = store_on(db).await;
    let t = 1_764_000_000;
    // Received out of order of recording; two at the same second (then the later recorded first).
    for (id, kind, note, at) in [
        ("a", "automated", "system-sender", t + 30),
        ("b", "quarantined", "flagged as spam by spamassassin (intake.spam)", t + 10),
        ("c", "set-aside", "calendar-invitation", t + 50),
        ("d", "own", "own-mail", t + 20),
        ("e", "automated", "bulk-sender", t + 20),
    ] {
        assert!(store.record_message(None, &held(id, kind, note, at), &[]).await.unwrap());
    }
    // Mail of a case is not held, whatever its kind.
    let case = register_by_hand(
        &store,
        &hand_made_case(Some("K"), "k@example.test", "d", NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(), [NaiveDate::from_ymd_opt(2026, 11, 27).unwrap(); 3]),
    )
    .await;
    let case_id = store.case_link(&case).await.unwrap().unwrap().id;
    assert!(store.record_message(Some(case_id), &held("f", "automated", "auto-reply", t + 60), &[]).await.unwrap());

    let everything = store.held_mails(HeldFilter::All, None, 50, None).await.unwrap();
    let subjects: Vec<&str> = everything.mails.iter().map(|m| m.subject.trim_start_matches("Onderwerp ").trim_end_matches("@example.test")).collect();
    assert_eq!(subjects, ["c", "a", "e", "d", "b"], "newest first by date of receipt, later recorded first at the same second");
    assert!(everything.older.is_none());
    assert_eq!(everything.mails[0].kind, HeldKind::SetAside);
    assert_eq!(everything.mails[4].reason, "flagged as spam by spamassassin (intake.spam)");

    // Pages of two: each one older than the last, none missing, none twice.
    let mut seen = Vec::new();
    let mut before: Option<HeldCursor> = None;
    loop {
        let page = store.held_mails(HeldFilter::All, before, 2, None).await.unwrap();
        assert!(page.mails.len() <= 2);
        seen.extend(page.mails.iter().map(|m| m.id));
        match page.older {
            Some(c) => before = Some(c),
            None => break,
        }
    }
    assert_eq!(seen, everything.mails.iter().map(|m| m.id).collect::<Vec<_>>());

    // Set aside silently only: without the quarantined one.
    let silent = store.held_mails(HeldFilter::SetAside, None, 50, None).await.unwrap();
    assert_eq!(silent.mails.len(), 4);
    assert!(silent.mails.iter().all(|m| m.kind.is_silent()));

    // Opened: the text; the raw bytes and date of receipt for a release. Not a case's mail.
    let first = &everything.mails[0];
    let detail = store.held_mail(first.id, None).await.unwrap().unwrap();
    assert_eq!((detail.body.as_str(), detail.mail.received_at), ("Tekst", t + 50));
    let raw = store.held_raw(first.id).await.unwrap().unwrap();
    assert_eq!((raw.kind, raw.received_at, raw.reason.as_str()), (HeldKind::SetAside, t + 50, "calendar-invitation"));
    assert!(raw.raw.is_some_and(|r| String::from_utf8_lossy(&r).contains("Tekst")));
    let newest = everything.mails.iter().map(|m| m.id).max().unwrap();
    assert!(store.held_mail(newest + 1, None).await.unwrap().is_none(), "the case's complaint, recorded next, is not held");
    assert!(store.held_raw(newest + 1).await.unwrap().is_none());
}

async fn held_mail_gives_way_once_and_is_counted_once_a_day(db: Db) {
    let (_dir, _db, a, b) = store_on(db).await;
    let day = |d: u32| NaiveDate::from_ymd_opt(2026, 12, d).unwrap();
    let at = |d: u32| Amsterdam.with_ymd_and_hms(2026, 12, d, 9, 0, 0).unwrap().timestamp();
    let sue = "sue@dienst.test";
    // A supervisor counts the mail of the organisations they work for (issue 25): here the one.
    a.upsert_handler("Sue Bakker", sue, true).await.unwrap();
    a.upsert_handler("Ann Smit", "ann@dienst.test", true).await.unwrap();
    // Nothing held: no count, no mail, nothing claimed.
    let none = a.queue_digest_counted(sue, "default", &[], Some((day(7), at(7))), |_, _| panic!("nothing to compose")).await.unwrap();
    assert!(!none.mail());
    for (i, kind) in ["automated", "automated", "quarantined"].into_iter().enumerate() {
        a.record_message(None, &held(&format!("m{i}"), kind, "x", at(7) - 3600), &[]).await.unwrap();
    }
    // An old one, received before the last day, is not in the first count.
    a.record_message(None, &held("old", "automated", "x", at(7) - 3 * 86_400), &[]).await.unwrap();

    // Two instances sweep at once: one digest carries the count.
    let (monday, nine) = (day(7), at(7));
    let digest = move |store: Store| async move {
        store
            .queue_digest_counted(sue, "default", &[], Some((monday, nine)), |_, count| {
                let c = count.expect("composed only with a count");
                Some(digest_mail(sue, &format!("{} set aside, {} quarantined", c.set_aside, c.quarantined)))
            })
            .await
            .unwrap()
    };
    let (x, y) = tokio::join!(tokio::spawn(digest(a.clone())), tokio::spawn(digest(b.clone())));
    let counted: Vec<_> = [x.unwrap(), y.unwrap()].into_iter().filter_map(|q| q.count).collect();
    assert_eq!(counted.len(), 1, "once: {counted:?}");
    assert_eq!((counted[0].set_aside, counted[0].quarantined, counted[0].since), (2, 1, None));
    assert!(a.held_counted(sue, "default", day(7)).await.unwrap());
    // Later that day, with new mail: not again.
    a.record_message(None, &held("m3", "set-aside", "x", at(7) + 60), &[]).await.unwrap();
    assert!(!digest(a.clone()).await.mail(), "at most once a day");

    // The next day counts what came since the previous count, and says since when.
    let next = a
        .queue_digest_counted(sue, "default", &[], Some((day(8), at(8))), |_, count| {
            let c = count.unwrap();
            assert_eq!((c.set_aside, c.quarantined, c.since), (1, 0, Some(at(7))));
            Some(digest_mail(sue, "1"))
        })
        .await
        .unwrap();
    assert!(next.mail());
    // Another supervisor has a count of their own.
    let (count, _) = a.held_count("ann@dienst.test", "default", at(8)).await.unwrap();
    assert_eq!((count.total(), count.since), (1, None), "their first: what was received in the day before");
    assert_eq!(a.count(Table::Outbox).await.unwrap(), 2);

    // A held mail gives way once, to what it becomes.
    let id = a.held_mails(HeldFilter::All, None, 1, None).await.unwrap().mails[0].id;
    let mut tx = a.transaction().await.unwrap();
    assert!(a.unhold_on(&mut tx, id).await.unwrap());
    tx.commit().await.unwrap();
    let mut tx = b.transaction().await.unwrap();
    assert!(!b.unhold_on(&mut tx, id).await.unwrap(), "released by someone else meanwhile");
    tx.rollback().await.unwrap();
    assert!(a.held_mail(id, None).await.unwrap().is_none());
}

/// A supervisor of two organisations has a daily count of each one's held mail, in that
/// organisation's digest and claimed on its own (issue 25); a count from before counts were per
/// organisation (`''`) is where each one's next count starts.
async fn held_mail_is_counted_per_organisation(db: Db) {
    let (_dir, test_db, a, _) = store_on(db).await;
    let day = |d: u32| NaiveDate::from_ymd_opt(2026, 12, d).unwrap();
    let at = |d: u32| Amsterdam.with_ymd_and_hms(2026, 12, d, 9, 0, 0).unwrap().timestamp();
    let key = |k: &str| klachtd::domain::organisation::OrganisationKey::parse(k).unwrap();
    let (sam, ann) = ("sam@dienst.test", "ann@dienst.test");
    a.upsert_handler_in("Sam Smits", sam, true, &[key("wp"), key("kl")]).await.unwrap();
    a.upsert_handler_in("Ann Smit", ann, true, &[key("wp")]).await.unwrap();
    let conn = sqlx::AnyPool::connect(&test_db.url).await.unwrap();
    let hold = |organisation: &'static str, received_at: i64| {
        let conn = conn.clone();
        async move {
            let sql = format!(
                "INSERT INTO messages (case_id, direction, kind, from_address, subject, body, note, received_at, organisation)
                 VALUES (NULL, 'in', 'set-aside', 'robot@leverancier.test', 'Factuur', 'x', 'e-invoice', {received_at}, '{organisation}')"
            );
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&conn).await.unwrap();
        }
    };
    // Counted before counts were per organisation: the mail up to then, of all of Sam's at once.
    hold("wp", at(6) - 3600).await;
    let counted: i64 = sqlx::query_scalar("SELECT MAX(id) FROM messages").fetch_one(&conn).await.unwrap();
    let before = format!(
        "INSERT INTO digest_counts (recipient, day, organisation, last_message_id, set_aside, quarantined, created_at) VALUES ('{sam}', '2026-12-06', '', {counted}, 1, 0, {})",
        at(6)
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(before)).execute(&conn).await.unwrap();
    for organisation in ["wp", "wp", "kl"] {
        hold(organisation, at(7) - 3600).await;
    }
    let count = |who: &'static str, organisation: &'static str| {
        let a = a.clone();
        async move {
            let (c, _) = a.held_count(who, organisation, at(7)).await.unwrap();
            (c.total(), c.since)
        }
    };
    assert_eq!((count(sam, "wp").await, count(sam, "kl").await), ((2, Some(at(6))), (1, Some(at(6)))), "each since the count from before");
    assert_eq!(count(ann, "kl").await, (0, None), "nothing of an organisation she does not work for");
    // Each organisation's count is claimed in its own digest, once a day.
    for (organisation, n) in [("wp", 2), ("kl", 1)] {
        let queued = a
            .queue_digest_counted(sam, organisation, &[], Some((day(7), at(7))), |_, c| Some(digest_mail(sam, &c.unwrap().total().to_string())))
            .await
            .unwrap();
        assert_eq!(queued.count.map(|c| c.total()), Some(n), "{organisation}");
        assert!(a.held_counted(sam, organisation, day(7)).await.unwrap());
    }
    assert!(!a.queue_digest_counted(sam, "wp", &[], Some((day(7), at(7))), |_, _| panic!("counted already")).await.unwrap().mail());
    // Each digest comes from its organisation.
    let from: Vec<Option<String>> = sqlx::query_scalar("SELECT organisation FROM outbox ORDER BY id").fetch_all(&conn).await.unwrap();
    assert_eq!(from, [Some("wp".to_string()), Some("kl".to_string())]);
    conn.close().await;
}

/// A database of the version before counts were per organisation (migrations to 0022) with a
/// supervisor's count in it: migrating keeps the count, and each organisation's next count
/// starts after it.
async fn a_count_made_before_counts_were_per_organisation_survives_the_migration(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let test_db = TestDb::create(db, dir.path()).await;
    let pool = test_db.before_migration("0024").await;
    let at = Amsterdam.with_ymd_and_hms(2026, 12, 7, 9, 0, 0).unwrap().timestamp();
    for sql in [
        format!(
            "INSERT INTO messages (case_id, direction, kind, from_address, subject, body, note, received_at, organisation)
             VALUES (NULL, 'in', 'set-aside', 'robot@leverancier.test', 'Factuur', 'x', 'e-invoice', {}, 'wp')",
            at - 86_400
        ),
        format!(
            "INSERT INTO digest_counts (recipient, day, last_message_id, set_aside, quarantined, created_at) VALUES ('sam@dienst.test', '2026-12-06', 1, 1, 0, {})",
            at - 86_400 + 60
        ),
    ] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&pool).await.unwrap();
    }
    pool.close().await;

    let store = Store::open(&test_db.url, 2).await.unwrap();
    let key = klachtd::domain::organisation::OrganisationKey::parse("wp").unwrap();
    store.upsert_handler_in("Sam Smits", "sam@dienst.test", true, &[key]).await.unwrap();
    assert!(store.held_counted("sam@dienst.test", "", NaiveDate::from_ymd_opt(2026, 12, 6).unwrap()).await.unwrap(), "the count is kept");
    let (count, _) = store.held_count("sam@dienst.test", "wp", at).await.unwrap();
    assert_eq!((count.total(), count.since), (0, Some(at - 86_400 + 60)), "the mail it counted is not counted again");
    store.close().await;
}

fn digest_mail(to: &str, body: &str) -> klachtd::store::OutgoingMail {
    klachtd::store::OutgoingMail {
        kind: klachtd::store::MailKind::Reminder,
        recipient: to.into(),
        recipient_name: None,
        subject: "digest".into(),
        body: body.into(),
        message_id: format!("<{}@dienst.test>", unique("digest")),
        in_reply_to: None,
        references: vec![],
        status: klachtd::store::OutboxStatus::Pending,
    }
}

/// A complaint a web form sends in the name of the person who filled it in (`From` is theirs),
/// marked as automatic mail (RFC 3834): strong evidence of a machine, so the intake sets it
/// aside. A person's complaint all the same.
pub fn form_complaint(to: &str, from: &str, subject: &str, text: &str) -> Vec<u8> {
    format!(
        "From: Karin de Boer <{from}>\r\nTo: {to}\r\nSubject: {subject}\r\nDate: Fri, 20 Nov 2026 09:55:00 +0100\r\nMessage-ID: <{}@formulier.dienst.test>\r\n\
         Auto-Submitted: auto-generated\r\nX-Mailer: Webform 6.2\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n",
        unique("form")
    )
    .into_bytes()
}

async fn a_set_aside_mail_becomes_a_case_with_its_original_date_from_the_command_line(db: Db) {
    let w = World::with(db, MailStack::shared(), ANSWER_ALL).await;
    let cfg = w.dir.path().join("klachtd.toml");
    std::fs::write(&cfg, config_text(w.stack, &w.complaints, &w.db.url, w.dir.path(), ANSWER_ALL)).unwrap();
    let karin = format!("{}@burger.test", unique("karin"));
    // With the letter she uploaded: it must come along with the mail.
    let raw = format!(
        "From: Karin de Boer <{karin}>\r\nTo: {}\r\nSubject: Klacht via het formulier\r\nDate: Fri, 20 Nov 2026 09:55:00 +0100\r\nMessage-ID: <{}@formulier.dienst.test>\r\n\
         Auto-Submitted: auto-generated\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"f\"\r\n\r\n--f\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Mijn bezwaar is al twee maanden niet behandeld.\r\n--f\r\nContent-Type: application/pdf; name=\"brief.pdf\"\r\nContent-Disposition: attachment; filename=\"brief.pdf\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQgYnJpZWY=\r\n--f--\r\n",
        w.complaints,
        unique("form")
    );
    w.stack.append(&w.complaints, "INBOX", raw.as_bytes(), Some("\"20-Nov-2026 10:00:00 +0100\"")).await;
    let daemon = w.start();
    eventually("set aside", WAIT, || async { (w.stack.messages(&w.complaints, IGNORED).await.len() == 1).then_some(()) }).await;
    let store = w.store().await;
    assert_eq!(store.count(Table::Cases).await.unwrap(), 0);

    let (code, listed, err) = klachtd(&cfg, &["set-aside", "list", "--json"]);
    assert_eq!(code, 0, "{err}");
    let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
    let mail = &listed.as_array().unwrap()[0];
    assert_eq!(
        (mail["kind"].as_str(), mail["reason"].as_str(), mail["from_address"].as_str()),
        (Some("automated"), Some("auto-submitted"), Some(karin.as_str()))
    );
    let id = mail["id"].as_i64().unwrap();
    let (_, table, _) = klachtd(&cfg, &["set-aside", "list"]);
    assert!(table.contains("machine mail") && table.contains("auto-submitted"), "{table}");
    // Not a quarantined mail: `quarantine register` refuses it, as before.
    let (code, _, err) = klachtd(&cfg, &["quarantine", "register", &id.to_string()]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no quarantined mail with id"), "{err}");

    // Two supervisors at the same moment: one case.
    let register = || {
        let cfg = cfg.clone();
        std::thread::spawn(move || klachtd(&cfg, &["set-aside", "register", &id.to_string()]))
    };
    let both = [register(), register()].map(|t| t.join().unwrap());
    let registered: Vec<_> = both.iter().filter(|(_, out, _)| out.contains("registered as a complaint (received 2026-11-20)")).collect();
    assert_eq!(registered.len(), 1, "{both:?}");
    let (code, out, err) = both.iter().find(|(_, out, _)| !out.contains("registered as a complaint")).unwrap();
    assert!(
        (*code == 0 && out.contains(&format!("mail {id} was registered before"))) || (*code == 1 && err.contains("no set-aside or quarantined mail with id")),
        "the other is told: {code} {out} {err}"
    );
    let case = eventually("acknowledged", WAIT, || async { store.list_cases().await.unwrap().pop().filter(|c| c.acknowledgement_word() == "sent") }).await;
    assert_eq!((case.received_on.to_string().as_str(), case.complainant_email.as_deref()), ("2026-11-20", Some(karin.as_str())));
    let acks =
        eventually("the acknowledgement reaches Karin", WAIT, || async { Some(w.stack.messages(&karin, "INBOX").await).filter(|m| !m.is_empty()) }).await;
    assert!(parsed(&acks[0]).subject().unwrap().contains(&case.reference.to_string()));
    let detail = store.case_detail(&case.reference).await.unwrap();
    assert!(
        detail
            .history
            .iter()
            .any(|e| e.action == event("released-from-set-aside") && e.actor == "handler-ann" && e.detail == "set aside as machine mail (auto-submitted)"),
        "{:?}",
        detail.history
    );
    assert_eq!(detail.message_list.len(), 1, "the set-aside record became the complaint");
    assert_eq!((case.attachments, detail.attachment_list[0].filename.as_str()), (1, "brief.pdf"), "with its attachment");
    assert!(store.held_mails(HeldFilter::All, None, 50, None).await.unwrap().mails.is_empty());
    // Twice: refused, in one line.
    let (code, _, err) = klachtd(&cfg, &["set-aside", "register", &id.to_string()]);
    assert_eq!(code, 1);
    assert!(err.starts_with("klachtd: no set-aside or quarantined mail with id") && err.lines().count() == 1, "{err}");
    daemon.stop().await;
    assert_eq!(store.count(Table::Cases).await.unwrap(), 1);
}

/// Local time in Amsterdam.
fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Amsterdam.with_ymd_and_hms(y, m, d, h, min, 0).unwrap().with_timezone(&Utc)
}

async fn supervisors_hear_once_a_day_how_much_mail_became_no_case(db: Db) {
    use klachtd::app::reminders::ReminderService;
    use klachtd::app::settings::{Settings, SharedSettings};
    let (ann, sue) = (format!("{}@dienst.test", unique("ann")), format!("{}@dienst.test", unique("sue")));
    let extra = format!(
        "{ANSWER_ALL}[[handlers]]\nname = \"Ann Smit\"\nemail = \"{ann}\"\n[[handlers]]\nname = \"Sue Bakker\"\nemail = \"{sue}\"\nsupervisor = true\n"
    );
    let w = World::with(db, MailStack::shared(), &extra).await;
    let subject = "Vertrouwelijk onderwerp van een formulier";
    let sender = format!("{}@burger.test", unique("karin"));
    for (i, date) in ["\"03-Dec-2026 07:00:00 +0100\"", "\"03-Dec-2026 07:30:00 +0100\""].iter().enumerate() {
        let raw = form_complaint(&w.complaints, &sender, &format!("{subject} {i}"), "Tekst.");
        w.stack.append(&w.complaints, "INBOX", &raw, Some(date)).await;
    }
    let spam = format!(
        "X-Spam-Flag: YES\r\nX-Spam-Status: Yes, score=9.1 required=5.0\r\nFrom: <{sender}>\r\nTo: {}\r\nSubject: {subject} spam\r\nMessage-ID: <{}@x.test>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nKoop nu.\r\n",
        w.complaints,
        unique("spam")
    );
    w.stack.append(&w.complaints, "INBOX", spam.as_bytes(), Some("\"03-Dec-2026 08:00:00 +0100\"")).await;
    // The daemon takes the mail in on a Saturday: its own sweeps send nothing. (Dates of
    // receipt in the past: the intake takes a date in the future for the time of taking in.)
    let daemon = Running::start_with_clock(w.config.clone(), klachtd::app::clock::Clock::manual(at(2026, 12, 5, 10, 0)));
    eventually("two set aside, one quarantined", WAIT, || async {
        (w.stack.messages(&w.complaints, IGNORED).await.len() == 2 && w.stack.messages(&w.complaints, QUARANTINE).await.len() == 1).then_some(())
    })
    .await;
    daemon.stop().await;

    let store = w.store().await.clone();
    let letters = std::sync::Arc::new(klachtd::app::templates::Letters::load(None, "nl").unwrap());
    let reminders = ReminderService::new(store.clone(), SharedSettings::new(Settings::new(&w.config, letters)));
    // The preview shows the count it would send, and sends nothing.
    let preview = reminders.preview(at(2026, 12, 3, 9, 0)).await.unwrap();
    assert_eq!(preview.iter().map(|d| (d.email.as_str(), d.held.map(|h| (h.set_aside, h.quarantined)))).collect::<Vec<_>>(), [(sue.as_str(), Some((2, 1)))]);
    assert!(reminders.preview(at(2026, 12, 3, 7, 0)).await.unwrap().is_empty(), "outside working hours");
    for (when, mails, what) in [
        (at(2026, 12, 3, 7, 0), 0, "Thursday before working hours"),
        (at(2026, 12, 3, 9, 0), 1, "Thursday 09:00: the supervisor's count, in a digest of its own"),
        (at(2026, 12, 3, 9, 5), 0, "the next sweep: not again"),
        (at(2026, 12, 4, 9, 0), 0, "Friday: nothing new, no count"),
    ] {
        assert_eq!(reminders.sweep(when).await.unwrap(), mails, "{what}");
    }
    let digests = digest_rows(&w.db.url).await;
    assert_eq!(digests.len(), 1);
    let (recipient, mail_subject, body) = &digests[0];
    assert_eq!(recipient, &sue, "to the supervisor, not to the handler");
    assert_eq!(mail_subject, "3 e-mail(s) zonder zaak om na te kijken");
    assert!(body.contains("In het afgelopen etmaal") && body.contains("  2 terzijde gelegd") && body.contains("  1 in quarantaine"), "{body}");
    assert!(body.contains("klachtd set-aside list"), "without a web workspace, the command: {body}");
    for private in [subject, sender.as_str(), "Tekst", "Koop nu"] {
        assert!(!body.contains(private) && !mail_subject.contains(private), "no personal data ({private}): {body}");
    }

    // A mail on Friday: counted that day, since Thursday's count.
    let raw = form_complaint(&w.complaints, &sender, "Nog een", "Tekst.");
    w.stack.append(&w.complaints, "INBOX", &raw, Some("\"04-Dec-2026 09:30:00 +0100\"")).await;
    let daemon = Running::start_with_clock(w.config.clone(), klachtd::app::clock::Clock::manual(at(2026, 12, 5, 10, 0)));
    eventually("the third set aside", WAIT, || async { (w.stack.messages(&w.complaints, IGNORED).await.len() == 3).then_some(()) }).await;
    daemon.stop().await;
    assert_eq!(reminders.sweep(at(2026, 12, 4, 10, 0)).await.unwrap(), 1);
    assert_eq!(reminders.sweep(at(2026, 12, 4, 16, 0)).await.unwrap(), 0);
    let digests = digest_rows(&w.db.url).await;
    assert_eq!(digests.len(), 2);
    assert!(
        digests[1].2.contains("Sinds donderdag 3 december 2026 09:00")
            && digests[1].2.contains("  1 terzijde gelegd")
            && digests[1].2.contains("  0 in quarantaine"),
        "{}",
        digests[1].2
    );
}

/// Recipient, subject and body of every reminder digest queued, in order.
async fn digest_rows(db_url: &str) -> Vec<(String, String, String)> {
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(db_url).await.expect("connect to the test database");
    let rows =
        sqlx::query_as("SELECT recipient, subject, body FROM outbox WHERE kind IN ('reminder', 'escalation') ORDER BY id").fetch_all(&mut conn).await.unwrap();
    let _ = sqlx::Connection::close(conn).await;
    rows
}
