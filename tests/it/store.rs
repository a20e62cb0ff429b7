//! The store's exactly-once guarantees under concurrency, on SQLite and PostgreSQL: two
//! connection pools stand in for two klachtd instances on one database.

use std::collections::HashSet;
use std::time::Duration;

use crate::common::*;
use chrono::NaiveDate;
use klachtd::store::{CaseFilter, CaseToWrite, MessageRecord, NewCase, OutgoingMail, Registration, Store, Table};

on_both_databases!(
    concurrent_registrations_get_distinct_consecutive_references,
    a_mail_registered_twice_is_a_duplicate_and_burns_no_number,
    a_duplicate_in_a_batch_rolls_back_alone,
    cases_written_together_number_on_per_year_and_take_handlers_in_turn,
    each_outgoing_mail_is_claimed_by_one_worker,
    mailbox_progress_never_goes_backwards,
    one_instance_at_a_time_holds_the_mailbox,
    cases_are_listed_in_batches_without_gaps_or_repeats,
    the_workspace_lists_open_cases_and_closed_ones_a_page_at_a_time,
    the_workspace_lists_open_cases_by_their_next_deadline_a_page_at_a_time,
    the_workspace_reads_while_a_write_is_open,
    a_case_is_found_by_the_words_of_its_complaint_stemmed_once,
);

async fn two_instances(db: Db) -> (tempfile::TempDir, TestDb, Store, Store) {
    let dir = tempfile::tempdir().unwrap();
    let test_db = TestDb::create(db, dir.path()).await;
    let a = Store::open(&test_db.url, 4).await.unwrap();
    let b = Store::open(&test_db.url, 4).await.unwrap();
    (dir, test_db, a, b)
}

fn new_case(day: u32) -> NewCase {
    let d = NaiveDate::from_ymd_opt(2026, 11, day).unwrap();
    hand_made_case(Some("Test"), "test@example.test", "d", d, [d; 3])
}

fn message(key: &str) -> MessageRecord {
    hand_made_message(key, None, "complaint", "", 0)
}

fn ack(reference: &klachtd::domain::reference::CaseRef) -> OutgoingMail {
    OutgoingMail {
        kind: klachtd::store::MailKind::Acknowledgement,
        recipient: "test@example.test".into(),
        recipient_name: None,
        subject: format!("[{reference}]"),
        body: "b".into(),
        message_id: format!("{reference}.ack@test"),
        in_reply_to: None,
        references: vec![],
        status: klachtd::store::OutboxStatus::Pending,
    }
}

async fn concurrent_registrations_get_distinct_consecutive_references(db: Db) {
    let (_dir, _db, a, b) = two_instances(db).await;
    let mut tasks = Vec::new();
    for i in 0..20 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move { store.register_case(&new_case(20), &message(&format!("m{i}")), &[], |r| Some(ack(r))).await.unwrap() }));
    }
    let mut refs = HashSet::new();
    for t in tasks {
        match t.await.unwrap() {
            Registration::Registered { reference, .. } => assert!(refs.insert(reference)),
            Registration::Duplicate => panic!("no duplicates here"),
        }
    }
    let expected: HashSet<_> = (1..=20).map(|n| klachtd::domain::reference::CaseRef::new("KL", 2026, n)).collect();
    assert_eq!(refs, expected);
    assert_eq!(a.count(Table::Outbox).await.unwrap(), 20);
}

async fn a_mail_registered_twice_is_a_duplicate_and_burns_no_number(db: Db) {
    let (_dir, _db, a, b) = two_instances(db).await;
    let first = a.register_case(&new_case(20), &message("same"), &[], |r| Some(ack(r))).await.unwrap();
    assert!(matches!(first, Registration::Registered { ref reference, .. } if reference.to_string() == "KL-2026-0001"));
    let again = b.register_case(&new_case(20), &message("same"), &[], |r| Some(ack(r))).await.unwrap();
    assert_eq!(again, Registration::Duplicate);
    assert_eq!(a.count(Table::Cases).await.unwrap(), 1);
    assert_eq!(a.count(Table::Outbox).await.unwrap(), 1);
    let next = b.register_case(&new_case(21), &message("other"), &[], |r| Some(ack(r))).await.unwrap();
    assert!(matches!(next, Registration::Registered { ref reference, .. } if reference.to_string() == "KL-2026-0002"), "{next:?}");
}

/// The intake's batch: each mail in a savepoint of one transaction. A duplicate (here a mail
/// recorded twice in one batch) is rolled back alone, burns no number, and the batch goes on.
async fn a_duplicate_in_a_batch_rolls_back_alone(db: Db) {
    let (_dir, _db, a, _b) = two_instances(db).await;
    let mut batch = a.transaction().await.unwrap();
    for (key, expected) in [("one", Some("KL-2026-0001")), ("one", None), ("two", Some("KL-2026-0002"))] {
        let mut mail = batch.savepoint().await.unwrap();
        match a.register_case_in(&mut mail, &a.book(), &new_case(20), &message(key), &[], |r| Some(ack(r))).await.unwrap() {
            Registration::Registered { reference, .. } => {
                assert_eq!(Some(reference.to_string().as_str()), expected);
                mail.commit().await.unwrap();
            }
            Registration::Duplicate => {
                assert_eq!(expected, None, "{key}");
                mail.rollback().await.unwrap();
            }
        }
    }
    let mut mail = batch.savepoint().await.unwrap();
    assert!(!a.record_message_on(&mut mail, None, &message("two"), &[]).await.unwrap(), "known");
    mail.rollback().await.unwrap();
    batch.commit().await.unwrap();
    assert_eq!(a.count(Table::Cases).await.unwrap(), 2);
    assert_eq!(a.count(Table::Outbox).await.unwrap(), 2);
}

/// The intake writes a batch's new complaints together (`Store::register_cases_on`): as if one
/// after the other, each year's numbers on from its counter, handlers in turn, never one the
/// complaint names; and nothing of it once one of its mails proves known.
async fn cases_written_together_number_on_per_year_and_take_handlers_in_turn(db: Db) {
    let (_dir, _db, a, _b) = two_instances(db).await;
    a.upsert_handler("Ann", "ann@example.test", false).await.unwrap();
    a.upsert_handler("Bob", "bob@example.test", false).await.unwrap();
    assert!(matches!(a.register_case(&new_case(20), &message("before"), &[], |_| None).await.unwrap(), Registration::Registered { .. }));
    let december = NaiveDate::from_ymd_opt(2026, 12, 31).unwrap();
    let january = NaiveDate::from_ymd_opt(2027, 1, 4).unwrap();
    let mut cases: Vec<NewCase> = [december, january, december].iter().map(|d| hand_made_case(Some("T"), "t@example.test", "d", *d, [*d; 3])).collect();
    cases[2].description = "Ann heeft mij slecht behandeld.".into();
    let messages: Vec<MessageRecord> = (0..3).map(|i| message(&format!("together-{i}"))).collect();

    let mut tx = a.transaction().await.unwrap();
    let references = a.case_references_on(&mut tx, &cases.iter().map(|c| c.received_on).collect::<Vec<_>>()).await.unwrap();
    assert_eq!(references, [cref("KL-2026-0002"), cref("KL-2027-0001"), cref("KL-2026-0003")]);
    let rows: Vec<CaseToWrite> = (0..3)
        .map(|i| CaseToWrite {
            reference: references[i].clone(),
            case: &cases[i],
            message: &messages[i],
            attachments: &[],
            acknowledgement: (i != 1).then(|| ack(&references[i])),
        })
        .collect();
    let written = a.register_cases_on(&mut tx, &rows).await.unwrap().expect("all new");
    tx.commit().await.unwrap();
    assert_eq!(written.iter().map(|(_, assigned)| *assigned).collect::<Vec<_>>(), [true; 3]);
    let mut handlers = Vec::new();
    for (reference, (id, _)) in references.iter().zip(&written) {
        let detail = a.case_detail(reference).await.unwrap();
        assert_eq!(a.case_reference(*id).await.unwrap(), *reference, "ids in the order given");
        handlers.push(detail.summary.handler.clone().unwrap());
        let actions: Vec<String> = detail.history.iter().map(|e| e.action.to_string()).collect();
        let acknowledged = if *reference == cref("KL-2027-0001") { "none" } else { "pending" };
        assert_eq!(detail.summary.acknowledgement_word(), acknowledged, "{reference}");
        let mut expected = vec!["registered"];
        if *reference == cref("KL-2026-0003") {
            assert_eq!(detail.summary.supervisor_check, "Ann");
            expected.push("supervisor-check");
        }
        expected.push("assigned");
        if acknowledged == "pending" {
            expected.push("acknowledgement-queued");
        }
        assert_eq!(actions, expected, "{reference}");
    }
    // Round-robin: the case before went to Ann (the lower id of two never assigned), so Bob,
    // then Ann; the third names Ann, so Bob again.
    assert_eq!(handlers, ["Bob", "Ann", "Bob"]);

    // One known mail among new ones: nothing is written, and the caller rolls back.
    let mut tx = a.transaction().await.unwrap();
    let again = [message("together-new"), message("together-1")];
    let rows: Vec<CaseToWrite> = again
        .iter()
        .map(|m| CaseToWrite {
            reference: klachtd::domain::reference::CaseRef::new("KL", 2026, 9000 + m.dedupe_key.as_deref().map_or(0, |k| k.len() as u32)),
            case: &cases[0],
            message: m,
            attachments: &[],
            acknowledgement: None,
        })
        .collect();
    assert_eq!(a.register_cases_on(&mut tx, &rows).await.unwrap(), None);
    tx.rollback().await.unwrap();
    assert_eq!(a.count(Table::Cases).await.unwrap(), 4);
    assert_eq!(a.count(Table::Outbox).await.unwrap(), 2);
}

async fn each_outgoing_mail_is_claimed_by_one_worker(db: Db) {
    let (_dir, _db, a, b) = two_instances(db).await;
    for i in 0..30 {
        a.register_case(&new_case(20), &message(&format!("m{i}")), &[], |r| Some(ack(r))).await.unwrap();
    }
    let mut workers = Vec::new();
    for (n, store) in [a.clone(), b.clone(), a.clone(), b.clone()].into_iter().enumerate() {
        workers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            while let Some(item) = store.claim_outbox(&format!("w{n}"), Duration::from_secs(300), klachtd::store::Claim::ANY).await.unwrap() {
                mine.push(item.id);
            }
            mine
        }));
    }
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await.unwrap());
    }
    let distinct: HashSet<_> = all.iter().collect();
    assert_eq!(all.len(), 30, "every mail claimed once: {all:?}");
    assert_eq!(distinct.len(), 30);
    // Claimed mail is not handed out again while the lease runs.
    assert!(a.claim_outbox("late", Duration::from_secs(300), klachtd::store::Claim::ANY).await.unwrap().is_none());
}

async fn mailbox_progress_never_goes_backwards(db: Db) {
    let (_dir, _db, a, b) = two_instances(db).await;
    a.save_mailbox_state("INBOX", 7, 40).await.unwrap();
    b.save_mailbox_state("INBOX", 7, 12).await.unwrap();
    assert_eq!(a.mailbox_state("INBOX").await.unwrap(), Some((7, 40)));
    b.save_mailbox_state("INBOX", 8, 3).await.unwrap();
    assert_eq!(a.mailbox_state("INBOX").await.unwrap(), Some((8, 3)), "a new UIDVALIDITY starts over");
}

/// The mailbox lease: of two instances asking at once, one gets it; the holder renews it; the
/// other gets it once it is given up or has run out.
async fn one_instance_at_a_time_holds_the_mailbox(db: Db) {
    let (_dir, _db, a, b) = two_instances(db).await;
    let lease = Duration::from_secs(300);
    let (x, y) = tokio::join!(a.hold_mailbox("INBOX", "a", lease), b.hold_mailbox("INBOX", "b", lease));
    let (x, y) = (x.unwrap(), y.unwrap());
    assert!(x ^ y, "exactly one of two concurrent claims wins: {x} {y}");
    let (winner, loser, w, l) = if x { (&a, &b, "a", "b") } else { (&b, &a, "b", "a") };
    assert!(winner.hold_mailbox("INBOX", w, lease).await.unwrap(), "the holder renews");
    assert!(!loser.hold_mailbox("INBOX", l, lease).await.unwrap());
    assert!(winner.hold_mailbox("Other", l, lease).await.unwrap(), "a lease per folder");
    winner.release_mailbox("INBOX", w).await.unwrap();
    assert!(loser.hold_mailbox("INBOX", l, Duration::ZERO).await.unwrap(), "free once given up");
    // A lease that ran out (zero length, a second ago) goes to whoever asks.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(winner.hold_mailbox("INBOX", w, lease).await.unwrap());
    assert!(!winner.take_over_mailbox("INBOX", "nobody", l, lease).await.unwrap(), "take-over only from the named holder");
    assert_eq!(winner.mailbox_holder("INBOX").await.unwrap().as_deref(), Some(w));
}

/// `cases_matching` reads by id in batches of 100, 1,000 and 10,000: every filter (and a
/// limit) gives each case once, in order, across the batch boundaries.
async fn cases_are_listed_in_batches_without_gaps_or_repeats(db: Db) {
    use futures::TryStreamExt;
    let (_dir, test_db, store, _) = two_instances(db).await;
    store.upsert_handler("Ann Smit", "ann@dienst.test", false).await.unwrap();
    store.upsert_handler("Bo Bakker", "bo@dienst.test", false).await.unwrap();
    let ann: i64 = sqlx::query_scalar("SELECT id FROM handlers WHERE name = 'Ann Smit'").fetch_one(&pool(&test_db.url).await).await.unwrap();
    // 1,234 cases written straight in: every third Ann's, every second open, an open one in
    // five due on 10 December, the rest later.
    let n = 1234;
    let case = |i: i64| {
        let open = i % 2 == 0;
        let due = if open && i % 5 == 0 { "2026-12-10" } else { "2027-01-31" };
        let handler = if i % 3 == 0 { ann.to_string() } else { "NULL".into() };
        format!("('KL-2026-{i:04}', '{}', 'email', 'x', 'x', '2026-12-01', 0, '{due}', '{due}', '{due}', 0, {handler})", if open { "open" } else { "closed" })
    };
    let conn = pool(&test_db.url).await;
    for chunk in (1..=n).collect::<Vec<i64>>().chunks(200) {
        let rows: Vec<String> = chunk.iter().map(|i| case(*i)).collect();
        let sql = format!(
            "INSERT INTO cases (reference, status, source, subject, description, received_on, received_at, acknowledge_by, progress_by, respond_by, created_at, handler_id) VALUES {}",
            rows.join(", ")
        );
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&conn).await.unwrap();
    }
    let list = |filter: CaseFilter| {
        let store = store.clone();
        async move { store.cases_matching(&filter).map_ok(|c| c.reference.to_string()).try_collect::<Vec<String>>().await.unwrap() }
    };
    let expect = |keep: &dyn Fn(i64) -> bool, limit: usize| (1..=n).filter(|i| keep(*i)).take(limit).map(|i| format!("KL-2026-{i:04}")).collect::<Vec<_>>();
    let day = NaiveDate::from_ymd_opt(2026, 12, 10);
    assert_eq!(list(CaseFilter::default()).await, expect(&|_| true, usize::MAX));
    for limit in [0, 1, 99, 100, 101, 1100, 1101, 1234, 5000] {
        let got = list(CaseFilter { limit: Some(limit), ..Default::default() }).await;
        assert_eq!(got, expect(&|_| true, limit as usize), "limit {limit}");
    }
    assert_eq!(list(CaseFilter { open_only: true, ..Default::default() }).await, expect(&|i| i % 2 == 0, usize::MAX));
    let anns = CaseFilter { handler: Some("Ann Smit".into()), ..Default::default() };
    assert_eq!(list(anns.clone()).await, expect(&|i| i % 3 == 0, usize::MAX));
    assert_eq!(list(CaseFilter { limit: Some(150), ..anns.clone() }).await, expect(&|i| i % 3 == 0, 150));
    assert_eq!(list(CaseFilter { open_only: true, ..anns.clone() }).await, expect(&|i| i % 6 == 0, usize::MAX));
    assert_eq!(list(CaseFilter { due_by: day, ..Default::default() }).await, expect(&|i| i % 10 == 0, usize::MAX));
    assert_eq!(list(CaseFilter { due_by: day, ..anns.clone() }).await, expect(&|i| i % 30 == 0, usize::MAX));
    assert!(list(CaseFilter { handler: Some("Bo Bakker".into()), ..Default::default() }).await.is_empty());
    assert!(list(CaseFilter { handler: Some("Niemand".into()), ..Default::default() }).await.is_empty());
}

/// A store with two handlers, Ann and Sam (a supervisor), a connection of the test's own, and
/// Ann's id: the workspace's lists' tests.
async fn ann_and_sam(db: Db) -> (tempfile::TempDir, TestDb, Store, sqlx::AnyPool, i64) {
    let (dir, test_db, store, _) = two_instances(db).await;
    store.upsert_handler("Ann Smit", "ann@dienst.test", false).await.unwrap();
    store.upsert_handler("Sam Smits", "sam@dienst.test", true).await.unwrap();
    let conn = pool(&test_db.url).await;
    let ann_id: i64 = sqlx::query_scalar("SELECT id FROM handlers WHERE name = 'Ann Smit'").fetch_one(&conn).await.unwrap();
    (dir, test_db, store, conn, ann_id)
}

/// The workspace's lists: every open case a handler may read, and the closed ones newest first,
/// a page at a time, each page starting where the one before ended.
async fn the_workspace_lists_open_cases_and_closed_ones_a_page_at_a_time(db: Db) {
    use klachtd::store::web::{CaseList, WebUser};
    let (_dir, _test_db, store, conn, ann_id) = ann_and_sam(db).await;
    // 25 cases: every second open, every third Ann's.
    let n = 25;
    let rows: Vec<String> = (1..=n)
        .map(|i| {
            let status = if i % 2 == 0 { "open" } else { "closed" };
            let handler = if i % 3 == 0 { ann_id.to_string() } else { "NULL".into() };
            format!("('KL-2026-{i:04}', '{status}', 'email', 'x', 'x', '2026-12-01', 0, '2026-12-10', '2026-12-10', '2026-12-10', 0, {handler})")
        })
        .collect();
    let sql = format!(
        "INSERT INTO cases (reference, status, source, subject, description, received_on, received_at, acknowledge_by, progress_by, respond_by, created_at, handler_id) VALUES {}",
        rows.join(", ")
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&conn).await.unwrap();
    let ann = WebUser { name: "Ann Smit".into(), email: "ann@dienst.test".into(), supervisor: false };
    let sam = WebUser { name: "Sam Smits".into(), email: "sam@dienst.test".into(), supervisor: true };
    let references = |ids: &mut dyn Iterator<Item = i64>| ids.map(|i| format!("KL-2026-{i:04}")).collect::<Vec<_>>();
    // Every page of closed cases, following `older`.
    let closed_pages = |user: WebUser, assigned_now: bool| {
        let store = store.clone();
        async move {
            let (mut pages, mut before) = (Vec::new(), None);
            loop {
                let page = store.cases_for(&user, assigned_now, CaseList::Closed { before, limit: 4 }).await.unwrap();
                pages.push(page.cases.into_iter().map(|c| c.reference.to_string()).collect::<Vec<_>>());
                match page.older {
                    Some(id) => before = Some(id),
                    None => return pages,
                }
            }
        }
    };

    let open = store.cases_for(&sam, false, CaseList::Open).await.unwrap();
    assert_eq!(open.older, None);
    assert_eq!(open.cases.into_iter().map(|c| c.reference.to_string()).collect::<Vec<_>>(), references(&mut (1..=n).filter(|i| i % 2 == 0)));
    let pages = closed_pages(sam.clone(), false).await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [4, 4, 4, 1], "13 closed cases, 4 a page");
    assert_eq!(pages.concat(), references(&mut (1..=n).rev().filter(|i| i % 2 == 1)), "newest first, none twice or left out");
    // A supervisor's own list, and a handler's: only their cases.
    assert!(closed_pages(sam, true).await.concat().is_empty());
    let anns_closed = references(&mut (1..=n).rev().filter(|i| i % 2 == 1 && i % 3 == 0));
    assert_eq!(closed_pages(ann.clone(), false).await.concat(), anns_closed);
    assert_eq!(closed_pages(ann.clone(), true).await.concat(), anns_closed);
    let anns_open = store.cases_for(&ann, false, CaseList::Open).await.unwrap().cases;
    assert_eq!(anns_open.into_iter().map(|c| c.reference.to_string()).collect::<Vec<_>>(), references(&mut (1..=n).filter(|i| i % 6 == 0)));
}

/// The cases list in its default order, the next deadline not met (issue 24: read through
/// the indexes of migration 0025, which hold that order): a handler's own and every open case,
/// both ways, a page at a time, and with the due filters; as the order computed here.
async fn the_workspace_lists_open_cases_by_their_next_deadline_a_page_at_a_time(db: Db) {
    use klachtd::store::search::{CaseQuery, Due, Scope, Sort, State};
    use klachtd::store::web::WebUser;
    let (_dir, _test_db, store, conn, ann_id) = ann_and_sam(db).await;
    let day = |d: i64| (NaiveDate::from_ymd_opt(2026, 12, 1).unwrap() + chrono::Days::new(d as u64)).to_string();
    // 40 cases: deadlines spread over December (several on one day), some met, some closed;
    // every third Ann's. (id, open, handler is Ann, the deadlines not met)
    let mut cases: Vec<(i64, bool, bool, Vec<String>)> = Vec::new();
    let mut rows = Vec::new();
    for i in 1..=40i64 {
        let (ack, progress, respond) = ((i * 7) % 11, (i * 5) % 13 + 3, (i * 3) % 17 + 10);
        let met = |k: i64| if (i + k) % 4 == 0 { "1" } else { "NULL" };
        let (ack_met, progress_met, respond_met) = (met(1), met(2), if i % 9 == 0 { "1" } else { "NULL" });
        let open = i % 5 != 0;
        let handler = if i % 3 == 0 { ann_id.to_string() } else { "NULL".into() };
        rows.push(format!(
            "('KL-2026-{i:04}', '{}', 'email', 'x', 'x', '2026-11-20', 0, '{}', '{}', '{}', {ack_met}, {progress_met}, {respond_met}, 0, {handler})",
            if open { "open" } else { "closed" },
            day(ack),
            day(progress),
            day(respond)
        ));
        let unmet = [(ack_met, ack), (progress_met, progress), (respond_met, respond)].iter().filter(|(m, _)| *m == "NULL").map(|(_, d)| day(*d)).collect();
        cases.push((i, open, i % 3 == 0, unmet));
    }
    let sql = format!(
        "INSERT INTO cases (reference, status, source, subject, description, received_on, received_at, acknowledge_by, progress_by, respond_by,
             acknowledged_at, progress_sent_at, responded_at, created_at, handler_id) VALUES {}",
        rows.join(", ")
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&conn).await.unwrap();
    let ann = WebUser { name: "Ann Smit".into(), email: "ann@dienst.test".into(), supervisor: false };
    let sam = WebUser { name: "Sam Smits".into(), email: "sam@dienst.test".into(), supervisor: true };
    let (today, week_end) = (NaiveDate::from_ymd_opt(2026, 12, 7).unwrap(), NaiveDate::from_ymd_opt(2026, 12, 13).unwrap());
    // Every page of a list, 4 a page, following `more`.
    let pages = |user: &WebUser, scope: Scope, due: Option<Due>, descending: bool| {
        let (store, user) = (store.clone(), user.clone());
        async move {
            let mut all = Vec::new();
            for page in 0.. {
                let query = CaseQuery { scope, state: State::Open, due, category: None, text: None, sort: Sort::Deadline, descending, page, per_page: 4 };
                let found = store.case_list(&user, &query, today, week_end).await.unwrap();
                assert!(found.cases.len() == 4 || !found.more, "a full page before the next");
                all.extend(found.cases.into_iter().map(|c| c.summary.reference.to_string()));
                if !found.more {
                    return all;
                }
            }
            unreachable!()
        }
    };
    let expected = |mine: bool, due: Option<Due>, descending: bool| {
        let (from, to) = (today.to_string(), week_end.to_string());
        let mut list: Vec<(String, i64)> = cases
            .iter()
            .filter(|(_, open, anns, unmet)| {
                let due_ok = match due {
                    None => true,
                    Some(Due::Overdue) => unmet.iter().any(|d| *d < from),
                    Some(Due::Week) => unmet.iter().any(|d| *d >= from && *d <= to),
                };
                *open && (*anns || !mine) && due_ok
            })
            .map(|(i, _, _, unmet)| (unmet.iter().min().cloned().unwrap_or_else(|| "9999-12-31".into()), *i))
            .collect();
        list.sort();
        if descending {
            list.reverse();
        }
        list.into_iter().map(|(_, i)| format!("KL-2026-{i:04}")).collect::<Vec<_>>()
    };
    for descending in [false, true] {
        assert_eq!(pages(&ann, Scope::Mine, None, descending).await, expected(true, None, descending), "Ann's, descending {descending}");
        assert_eq!(pages(&sam, Scope::All, None, descending).await, expected(false, None, descending), "all, descending {descending}");
        assert_eq!(pages(&ann, Scope::All, None, descending).await, expected(true, None, descending), "all Ann may read");
    }
    assert_eq!(pages(&sam, Scope::All, Some(Due::Overdue), false).await, expected(false, Some(Due::Overdue), false));
    assert_eq!(pages(&ann, Scope::Mine, Some(Due::Overdue), false).await, expected(true, Some(Due::Overdue), false));
    assert_eq!(pages(&sam, Scope::All, Some(Due::Week), true).await, expected(false, Some(Due::Week), true));
    assert_eq!(expected(false, None, false).len(), 32, "the open ones");
}

/// A page reads while the intake holds the write lock (on SQLite, beside the one writer): it sees
/// what was committed, not the open transaction's rows, and the commit at once after it.
async fn the_workspace_reads_while_a_write_is_open(db: Db) {
    use klachtd::store::web::WebUser;
    let dir = tempfile::tempdir().unwrap();
    let test_db = TestDb::create(db, dir.path()).await;
    let store = Store::open(&test_db.url, 2).await.unwrap();
    store.upsert_handler("Ann Smit", "ann@dienst.test", false).await.unwrap();
    let insert = |i: u32| {
        format!(
            "INSERT INTO cases (reference, status, source, subject, description, received_on, received_at, acknowledge_by, progress_by, respond_by, created_at, handler_id)
             VALUES ('KL-2026-{i:04}', 'open', 'email', 'x', 'x', '2026-12-01', 0, '2026-12-10', '2026-12-10', '2026-12-10', 0, (SELECT id FROM handlers WHERE name = 'Ann Smit'))"
        )
    };
    sqlx::raw_sql(sqlx::AssertSqlSafe(insert(1))).execute(&pool(&test_db.url).await).await.unwrap();
    let ann = WebUser { name: "Ann Smit".into(), email: "ann@dienst.test".into(), supervisor: false };

    let mut write = store.transaction().await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(insert(2))).execute(&mut *write).await.unwrap();
    // Before issue 24 these waited for the one SQLite connection until the pool gave up (10 s).
    assert!(store.may_read(&cref("KL-2026-0001"), &ann).await.unwrap().is_some());
    assert_eq!(store.count(Table::Cases).await.unwrap(), 1, "the open transaction's case is not seen");
    write.commit().await.unwrap();
    assert_eq!(store.count(Table::Cases).await.unwrap(), 2, "a committed case is seen by the next read");
    assert!(store.may_read(&cref("KL-2026-0002"), &ann).await.unwrap().is_some());
}

/// Search (issues 23 and 24): a case is found by the words of the complaint it was registered
/// from (by mail or on paper), of a later mail, of a corrected description; after retention only
/// by its reference. On PostgreSQL the complaint's own text is stemmed once, in the case's
/// column: the first mail's column holds its sender and subject, not its body again.
async fn a_case_is_found_by_the_words_of_its_complaint_stemmed_once(db: Db) {
    use klachtd::store::corrections::Correction;
    use klachtd::store::search::{CaseQuery, Scope, Sort, State};
    use klachtd::store::web::WebUser;
    let dir = tempfile::tempdir().unwrap();
    let test_db = TestDb::create(db, dir.path()).await;
    let store = Store::open(&test_db.url, 2).await.unwrap();
    store.upsert_handler("Sam Smits", "sam@dienst.test", true).await.unwrap();
    let sam = WebUser { name: "Sam Smits".into(), email: "sam@dienst.test".into(), supervisor: true };
    let day = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
    let register = |name: &'static str, email: &'static str, kind: &'static str, text: &'static str| {
        let store = store.clone();
        async move {
            let case = hand_made_case(Some(name), email, text, day, [day; 3]);
            let message = hand_made_message(&unique("search"), Some(email), kind, text, 0);
            match store.register_case(&case, &message, &[], |_| None).await.unwrap() {
                Registration::Registered { case_id, reference, .. } => (case_id, reference.to_string()),
                Registration::Duplicate => panic!("registered twice"),
            }
        }
    };
    let (mia_id, mia) = register("Mia Jansen", "mia@burger.test", "complaint", "Mijn afspraak bij het loket ging niet door.").await;
    let (_, lot) = register("Lot Vos", "lot@burger.test", "letter", "Mijn uitkering kwam te laat.").await;
    let follow_up = hand_made_message(&unique("search"), Some("mia@burger.test"), "follow-up", "Ik kreeg ook een parkeerboete.", 1);
    assert!(store.record_message(Some(mia_id), &follow_up, &[]).await.unwrap());
    let found = |text: &str| {
        let (store, text) = (store.clone(), text.to_string());
        let sam = sam.clone();
        async move {
            let query = CaseQuery {
                scope: Scope::All,
                state: State::Any,
                due: None,
                category: None,
                text: Some(text),
                sort: Sort::Reference,
                descending: false,
                page: 0,
                per_page: 50,
            };
            let page = store.case_list(&sam, &query, day, day).await.unwrap();
            page.cases.into_iter().map(|c| c.summary.reference.to_string()).collect::<Vec<_>>()
        }
    };
    for text in ["afspraak", "loket afspraak", "afspr", "Jansen loket", "mia@burger.test afspraak", "Klacht afspraak", "parkeerboete"] {
        assert_eq!(found(text).await, [mia.as_str()], "{text:?}");
    }
    assert_eq!(found("uitkering").await, [lot.as_str()], "a paper complaint's text");
    assert!(found("afspraak uitkering").await.is_empty(), "all words, in one case");
    if db == Db::Postgres {
        // The words of the complaints' bodies are in their cases' columns only; a later mail's
        // are in its own.
        let conn = pool(&test_db.url).await;
        let columns: Vec<(String, String)> = sqlx::query_as("SELECT kind, search::text FROM messages ORDER BY id").fetch_all(&conn).await.unwrap();
        assert_eq!(columns.len(), 3);
        for (kind, words) in &columns {
            let body_stems = ["afsprak", "loket", "uitker", "parkeerboet"].iter().filter(|w| words.contains(&format!("'{w}'"))).count();
            let expected = if kind == "follow-up" { 1 } else { 0 };
            assert_eq!(body_stems, expected, "{kind}: {words}");
            assert!(words.contains("burger.test") && words.contains("onderwerp"), "sender and subject stay: {kind}: {words}");
        }
    }

    // A corrected description is found at once. The complaint's own words: on PostgreSQL
    // through the case's column only, so no longer; SQLite's index of the mail still has them.
    let correction = Correction { description: Some("De balie was gesloten.".into()), ..Default::default() };
    store.correct_case(&cref(&mia), &correction, "test").await.unwrap();
    assert_eq!(found("balie").await, [mia.as_str()]);
    let by_original: &[&str] = if db == Db::Postgres { &[] } else { &[mia.as_str()] };
    assert_eq!(found("afspraak").await, by_original);

    // Retention: the texts go, the reference stays.
    let conn = pool(&test_db.url).await;
    sqlx::query("UPDATE cases SET status = 'closed', closed_at = 1").execute(&conn).await.unwrap();
    store.remove_personal_data(klachtd::store::now()).await.unwrap();
    for text in ["balie", "parkeerboete", "uitkering", "Jansen", "mia@burger.test", "Onderwerp"] {
        assert!(found(text).await.is_empty(), "{text:?} went with the texts");
    }
    assert_eq!(found(&mia).await, [mia.as_str()], "by its reference");

    // The daily merge of SQLite's index (each write above added a segment) keeps what is found.
    let merged = store.compact_search_index().await.unwrap();
    if db == Db::Sqlite {
        assert_eq!(merged, 2, "both indexes were in pieces");
        for table in ["cases_fts_idx", "messages_fts_idx"] {
            let sql = format!("SELECT COUNT(DISTINCT segid) FROM {table}");
            let segments: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(&conn).await.unwrap();
            // One, or none where retention left the index empty.
            assert!(segments <= 1, "{table}: {segments} segments");
        }
        assert_eq!(store.compact_search_index().await.unwrap(), 0, "nothing to merge twice");
    } else {
        assert_eq!(merged, 0, "PostgreSQL keeps its own");
    }
    assert_eq!(found(&mia).await, [mia.as_str()]);
    assert_eq!(found(&lot).await, [lot.as_str()]);
    assert!(found("Jansen").await.is_empty());
}
