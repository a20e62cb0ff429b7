//! A handler's corrections (R3), a supervisor's check of the assignment (R5), open and missed
//! deadlines in the register (R10) and the retention of mail outside any case (R9), on both
//! databases, through the command line where a handler would use it.

use crate::common::klachtd_as_handler as klachtd;
use crate::common::*;
use chrono::NaiveDate;
use klachtd::store::{MessageRecord, Store, StoreError};

on_both_databases!(
    complete_clears_the_flags_and_the_history_records_it,
    a_refused_correction_changes_nothing,
    checked_clears_the_flag_and_lets_a_named_handler_be_assigned,
    the_register_tells_missed_from_open_deadlines,
    retention_purges_old_mail_outside_any_case,
);

/// A test world with its configuration written to a file for the command line.
async fn setup(db: Db) -> (World, std::path::PathBuf) {
    let w = World::with(db, MailStack::shared(), ANSWER_ALL).await;
    let path = w.dir.path().join("klachtd.toml");
    std::fs::write(&path, config_text(w.stack, &w.complaints, &w.db.url, w.dir.path(), ANSWER_ALL)).unwrap();
    (w, path)
}

fn file(w: &World, name: &str, text: &str) -> String {
    let p = w.dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

fn d(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).unwrap()
}

/// A complaint registered as intake would, with the deadlines given by hand.
async fn case(store: &Store, name: Option<&str>, description: &str, received: NaiveDate, deadlines: [NaiveDate; 3]) -> String {
    let address = format!("{}@example.test", unique("klager"));
    register_by_hand(store, &hand_made_case(name, &address, description, received, deadlines)).await.to_string()
}

fn message(id: Option<String>, from: Option<String>, body: &str, received_at: i64, kind: &str) -> MessageRecord {
    hand_made_message(&id.unwrap_or_default(), from.as_deref(), kind, body, received_at)
}

/// Everything a refused action must leave as it was.
async fn snapshot(store: &Store, reference: &str) -> String {
    serde_json::to_string(&store.case_detail(&cref(reference)).await.unwrap()).unwrap()
}

async fn complete_clears_the_flags_and_the_history_records_it(db: Db) {
    let (w, cfg) = setup(db).await;
    let store = w.store().await;
    let r = case(store, None, "", d(2026, 11, 2), [d(2026, 11, 9), d(2026, 11, 16), d(2026, 11, 30)]).await;
    assert_eq!(store.case_detail(&cref(&r)).await.unwrap().summary.incomplete, vec!["description", "name"]);

    // An address alone completes nothing.
    let (code, out, first_log) = klachtd(&cfg, &["cases", "complete", &r, "--email", "ans.nieuw@example.test"]);
    assert_eq!(code, 0, "{first_log}");
    assert_eq!(out.trim(), format!("{r}: e-mail address corrected; still missing description, name"));
    let s = store.case_detail(&cref(&r)).await.unwrap().summary;
    assert_eq!(s.complainant_email.as_deref(), Some("ans.nieuw@example.test"));
    assert_eq!(s.incomplete, vec!["description", "name"]);

    // Name and description together clear both flags.
    let desc = file(&w, "beschrijving.txt", "Mijn uitkering kwam drie maanden te laat.");
    let (code, out, err) = klachtd(&cfg, &["cases", "complete", &r, "--name", "Ans de Vries", "--description-file", &desc]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), format!("{r}: name, description corrected; complete"));
    let detail = store.case_detail(&cref(&r)).await.unwrap();
    assert!(detail.summary.incomplete.is_empty(), "{:?}", detail.summary.incomplete);
    assert_eq!(detail.summary.complainant_name.as_deref(), Some("Ans de Vries"));
    assert_eq!(detail.description, "Mijn uitkering kwam drie maanden te laat.");
    assert!(!klachtd(&cfg, &["cases", "list"]).1.contains("incomplete:"), "cases list shows no flag any more");

    // Who, what and when are in the history.
    let corrected: Vec<_> = detail.history.iter().filter(|e| e.action == event("corrected")).collect();
    assert_eq!(corrected.len(), 2, "{:?}", detail.history);
    assert!(corrected.iter().all(|e| e.actor == "handler-ann" && e.at > 0), "{corrected:?}");
    assert!(
        corrected[0].detail.starts_with("e-mail address (was ") && corrected[0].detail.ends_with("missing now: description, name"),
        "{}",
        corrected[0].detail
    );
    assert_eq!(corrected[1].detail, "name (was none), description; missing now: nothing");

    // The log at info level carries none of it.
    for private in ["Ans de Vries", "ans.nieuw", "uitkering"] {
        assert!(!first_log.contains(private) && !err.contains(private), "{private:?} in the log: {first_log}{err}");
    }
    // Only the name: the description flag stays where the description is still missing.
    let r2 = case(store, None, " ", d(2026, 11, 3), [d(2026, 11, 10), d(2026, 11, 17), d(2026, 12, 1)]).await;
    assert_eq!(klachtd(&cfg, &["cases", "complete", &r2, "--name", "Piet"]).0, 0);
    assert_eq!(store.case_detail(&cref(&r2)).await.unwrap().summary.incomplete, vec!["description"]);
}

async fn a_refused_correction_changes_nothing(db: Db) {
    let (w, cfg) = setup(db).await;
    let store = w.store().await;
    let r = case(store, None, "", d(2026, 11, 2), [d(2026, 11, 9), d(2026, 11, 16), d(2026, 11, 30)]).await;
    let desc = file(&w, "beschrijving.txt", "Tekst.");
    let empty = file(&w, "leeg.txt", "  \n");
    let before = snapshot(store, &r).await;
    for (args, needle) in [
        (vec!["cases", "complete", &r, "--name", "Ans", "--email", "ans@@example.test"], "is not a valid e-mail address"),
        (vec!["cases", "complete", &r, "--email", "geen adres"], "is not a valid e-mail address"),
        (vec!["cases", "complete", "KL-2026-9999", "--name", "Ans"], "er is geen zaak met kenmerk KL-2026-9999"),
        (vec!["cases", "complete", &r], "er is niets te corrigeren"),
        (vec!["cases", "complete", &r, "--name", " "], "de naam is leeg"),
        (vec!["cases", "complete", &r, "--name", "Ans", "--description-file", &empty], "de beschrijving is leeg"),
    ] {
        let (code, out, err) = klachtd(&cfg, &args);
        assert_eq!((code, err.trim().lines().count()), (1, 1), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(out.is_empty(), "{out}");
        assert_eq!(snapshot(store, &r).await, before, "{args:?} changed the case");
    }
    // The same through the store: a refusal, and nothing changed.
    let refused = store
        .correct_case(
            &cref(&r),
            &klachtd::store::corrections::Correction { name: Some("Ans".into()), email: Some("ans@".into()), description: Some("Tekst.".into()) },
            "test",
        )
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("\"ans@\" is not a valid e-mail address"), "{refused}");
    assert_eq!(snapshot(store, &r).await, before);
    // A case whose personal data was removed after the retention period gets none back.
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&w.config.database.url).await.unwrap();
    sqlx::query("UPDATE cases SET status = 'closed', outcome = 'unfounded', closed_at = $1 WHERE reference = $2")
        .bind(chrono::Utc::now().timestamp() - 3 * 86_400)
        .bind(&r)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    assert_eq!(klachtd::app::retention::run_retention(store, &w.config.storage.data_dir, 1).await.unwrap(), 1);
    let before = snapshot(store, &r).await;
    let (code, _, err) = klachtd(&cfg, &["cases", "complete", &r, "--name", "Ans", "--description-file", &desc]);
    assert_eq!((code, err.trim().lines().count()), (1, 1), "{err}");
    assert!(err.contains("persoonsgegevens zijn na de bewaartermijn verwijderd"), "{err}");
    assert_eq!(snapshot(store, &r).await, before);
}

async fn checked_clears_the_flag_and_lets_a_named_handler_be_assigned(db: Db) {
    let (w, cfg) = setup(db).await;
    let store = w.store().await;
    store.upsert_handler("Ann Smit", &format!("{}@dienst.test", unique("ann")), false).await.unwrap();
    store.upsert_handler("Bob de Wit", &format!("{}@dienst.test", unique("bob")), false).await.unwrap();
    store.upsert_handler("Sue Bakker", &format!("{}@dienst.test", unique("sue")), true).await.unwrap();
    let r = case(store, Some("Karel Klager"), "Bob de Wit nam nooit op.", d(2026, 11, 2), [d(2026, 11, 9), d(2026, 11, 16), d(2026, 11, 30)]).await;
    let s = store.case_detail(&cref(&r)).await.unwrap().summary;
    assert_eq!(s.supervisor_check, "Bob de Wit");
    assert_eq!(s.handler.as_deref(), Some("Ann Smit"), "a named handler is skipped");

    // Before the check: the named handler is refused, with the reason, and nothing changes.
    let refused = store.assign(&cref(&r), "Bob de Wit", "test").await.unwrap_err();
    assert!(matches!(refused, StoreError::NamedInComplaint { .. }), "{refused}");
    let before = snapshot(store, &r).await;
    let (code, _, err) = klachtd(&cfg, &["cases", "assign", &r, "Bob de Wit"]);
    assert_eq!((code, err.trim().lines().count()), (1, 1), "{err}");
    assert_eq!(
        err.trim(),
        format!(
            "klachtd: Bob de Wit kan {r} niet behandelen: de klacht noemt deze behandelaar; een leidinggevende bevestigt eerst met `klachtd cases checked {r}` (R5, onpartijdigheid)"
        )
    );
    assert_eq!(snapshot(store, &r).await, before);
    // Others can be assigned meanwhile; reminders carry the open check.
    store.assign(&cref(&r), "Sue Bakker", "test").await.unwrap();
    let preview = || klachtd(&cfg, &["reminders", "preview", "--at", "2026-11-05 10:00"]).1;
    assert!(preview().contains("supervisor check"), "{}", preview());

    // A supervisor checks the assignment: the flag is cleared and the history says who did it.
    let (code, out, err) = klachtd(&cfg, &["cases", "checked", &r]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("{r}: assignment checked")), "{out}");
    let detail = store.case_detail(&cref(&r)).await.unwrap();
    assert_eq!(detail.summary.supervisor_check, "");
    let event = detail.history.iter().find(|e| e.action == event("supervisor-checked")).expect("history records the check");
    assert_eq!(event.actor, "handler-ann");
    assert_eq!(event.detail, "assignment to Sue Bakker confirmed; the complaint names Bob de Wit");
    assert!(!preview().contains("supervisor check"), "reminders no longer ask for the check: {}", preview());

    // Now the named handler may be assigned; a second check is refused and changes nothing.
    let (code, out, err) = klachtd(&cfg, &["cases", "assign", &r, "Bob de Wit"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("assigned to Bob de Wit"), "{out}");
    assert_eq!(store.case_detail(&cref(&r)).await.unwrap().summary.handler.as_deref(), Some("Bob de Wit"));
    let before = snapshot(store, &r).await;
    let (code, _, err) = klachtd(&cfg, &["cases", "checked", &r]);
    assert_eq!((code, err.trim()), (1, format!("klachtd: {r} heeft geen controle door een leidinggevende openstaan").as_str()));
    assert_eq!(snapshot(store, &r).await, before);
    let (code, _, err) = klachtd(&cfg, &["cases", "checked", "KL-2026-9999"]);
    assert_eq!((code, err.trim().lines().count()), (1, 1), "{err}");

    // The check is about naming, not about the subject: a recorded subject stays refused.
    store.add_subject(&cref(&r), "Bob de Wit", "test").await.unwrap();
    assert!(matches!(store.assign(&cref(&r), "Bob de Wit", "test").await.unwrap_err(), StoreError::NotImpartial { .. }));
    // A reassignment because the handler turns out to be a subject skips the named handler too.
    let about_bob = case(store, Some("Lot"), "Bob de Wit belde niet terug.", d(2026, 11, 4), [d(2026, 11, 11), d(2026, 11, 18), d(2026, 12, 2)]).await;
    let first = store.case_detail(&cref(&about_bob)).await.unwrap().summary.handler.unwrap();
    assert_ne!(first, "Bob de Wit");
    assert_eq!(store.add_subject(&cref(&about_bob), &first, "test").await.unwrap().as_deref(), Some("Sue Bakker"), "neither {first} nor the named Bob");
    // A case that names nobody needs no check.
    let plain = case(store, Some("Els"), "Niemand belde terug.", d(2026, 11, 3), [d(2026, 11, 10), d(2026, 11, 17), d(2026, 12, 1)]).await;
    assert_eq!(klachtd(&cfg, &["cases", "checked", &plain]).0, 1);
    store.assign(&cref(&plain), "Bob de Wit", "test").await.unwrap();
}

/// A hand-made month, long past: every deadline not met is judged on the last day of the
/// period, whatever the day of the test. Then a period that runs beyond today.
async fn the_register_tells_missed_from_open_deadlines(db: Db) {
    let (w, cfg) = setup(db).await;
    let store = w.store().await;
    let met = |reference: String, column: &'static str, day: NaiveDate| {
        let url = w.config.database.url.clone();
        async move {
            sqlx::any::install_default_drivers();
            let pool = sqlx::AnyPool::connect(&url).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!("UPDATE cases SET {column} = $1 WHERE reference = $2")))
                .bind(noon(day))
                .bind(reference)
                .execute(&pool)
                .await
                .unwrap();
            pool.close().await;
        }
    };
    let y = 2025;
    // A: everything met on time. B: acknowledged late, nothing else; all its dates passed.
    let a = case(store, Some("A"), "a", d(y, 3, 3), [d(y, 3, 10), d(y, 3, 17), d(y, 3, 31)]).await;
    met(a.clone(), "acknowledged_at", d(y, 3, 4)).await;
    met(a.clone(), "progress_sent_at", d(y, 3, 14)).await;
    met(a.clone(), "responded_at", d(y, 3, 28)).await;
    let b = case(store, Some("B"), "b", d(y, 3, 5), [d(y, 3, 12), d(y, 3, 19), d(y, 4, 2)]).await;
    met(b.clone(), "acknowledged_at", d(y, 3, 13)).await;
    // C: progress due on the period's last day (still open then), response after it.
    let c = case(store, Some("C"), "c", d(y, 3, 17), [d(y, 3, 24), d(y, 3, 31), d(y, 4, 14)]).await;
    met(c.clone(), "acknowledged_at", d(y, 3, 17)).await;
    // D: nothing met; acknowledgement due before the end, the rest after it.
    case(store, Some("D"), "d", d(y, 3, 24), [d(y, 3, 28), d(y, 4, 7), d(y, 4, 21)]).await;
    // Outside the period.
    case(store, Some("E"), "e", d(y, 2, 27), [d(y, 3, 6), d(y, 3, 13), d(y, 3, 27)]).await;

    let (code, json, err) = klachtd(&cfg, &["report", "--from", "2025-03-01", "--to", "2025-03-31", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let r: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(r["received"], 4, "{json}");
    assert_eq!(r["as_of"], "2025-03-31", "{json}");
    // Acknowledgement: A and C on time, B late, D missed (due 28/3).
    assert_eq!(r["acknowledgement"], serde_json::json!({"on_time": 2, "late": 1, "open": 0, "missed": 1}), "{json}");
    // Progress notice: A on time; B missed (19/3); C due 31/3 and D due 7/4 open.
    assert_eq!(r["progress_notice"], serde_json::json!({"on_time": 1, "late": 0, "open": 2, "missed": 1}), "{json}");
    // Final response: A on time; B (2/4), C (14/4), D (21/4) not due by 31/3.
    assert_eq!(r["final_response"], serde_json::json!({"on_time": 1, "late": 0, "open": 3, "missed": 0}), "{json}");

    // CSV and table say the same.
    let (code, csv, err) = klachtd(&cfg, &["report", "--from", "2025-03-01", "--to", "2025-03-31", "--format", "csv"]);
    assert_eq!(code, 0, "{err}");
    for row in [
        "period,as_of,2025-03-31",
        "acknowledgement,open,0",
        "acknowledgement,missed,1",
        "progress_notice,open,2",
        "progress_notice,missed,1",
        "final_response,open,3",
        "final_response,missed,0",
    ] {
        assert!(csv.lines().any(|l| l == row), "{row} in {csv}");
    }
    let (code, table, err) = klachtd(&cfg, &["report", "--from", "2025-03-01", "--to", "2025-03-31"]);
    assert_eq!(code, 0, "{err}");
    assert!(table.contains("as of 2025-03-31"), "{table}");
    assert!(table.contains(&format!("{:<18} {:>8} {:>6} {:>6} {:>6}", "acknowledgement", 2, 1, 0, 1)), "{table}");
    assert!(table.contains(&format!("{:<18} {:>8} {:>6} {:>6} {:>6}", "progress notice", 1, 0, 2, 1)), "{table}");
    assert!(table.contains(&format!("{:<18} {:>8} {:>6} {:>6} {:>6}", "final response", 1, 0, 3, 0)), "{table}");

    // A period reaching past today: unmet deadlines are judged on today (Amsterdam).
    let today = klachtd::domain::calendar::amsterdam_date(chrono::Utc::now());
    let days = |n: i64| today + chrono::Duration::days(n);
    // Received yesterday; acknowledgement due yesterday (missed), progress due today (open).
    case(store, Some("F"), "f", days(-1), [days(-1), today, days(20)]).await;
    let (from, to) = (days(-2).to_string(), days(40).to_string());
    let (code, json, err) = klachtd(&cfg, &["report", "--from", &from, "--to", &to, "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let r: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(r["as_of"], today.to_string(), "{json}");
    assert_eq!(r["acknowledgement"], serde_json::json!({"on_time": 0, "late": 0, "open": 0, "missed": 1}), "{json}");
    assert_eq!(r["progress_notice"], serde_json::json!({"on_time": 0, "late": 0, "open": 1, "missed": 0}), "{json}");
    assert_eq!(r["final_response"], serde_json::json!({"on_time": 0, "late": 0, "open": 1, "missed": 0}), "{json}");
}

async fn retention_purges_old_mail_outside_any_case(db: Db) {
    let (w, cfg) = setup(db).await;
    let store = w.store().await;
    let files = klachtd::store::attachments::AttachmentStore::new(&w.config.storage.data_dir);
    let now = chrono::Utc::now().timestamp();
    let old = now - 10 * 86_400;
    let attachment = |data: &[u8], name: &str| klachtd::store::AttachmentRecord {
        filename: name.into(),
        content_type: "application/pdf".into(),
        size: data.len() as i64,
        sha256: files.save(data).unwrap(),
        role: klachtd::domain::inbound::AttachmentRole::Document,
    };

    // A case whose attachment is the same file as one of the old bounces': that file stays.
    let r = case(store, Some("Karel Klager"), "Klacht.", d(2026, 11, 2), [d(2026, 11, 9), d(2026, 11, 16), d(2026, 11, 30)]).await;
    let shared = attachment(b"gedeeld document", "gedeeld.pdf");
    let case_id = store.case_link(&cref(&r)).await.unwrap().unwrap().id;
    let follow_up = message(Some(format!("{}@example.test", unique("vervolg"))), Some("karel@example.test".into()), "Bijlage.", old, "follow-up");
    assert!(store.record_message(Some(case_id), &follow_up, std::slice::from_ref(&shared)).await.unwrap());

    // An old bounce with its own attachment and one shared with the case; an old auto-reply;
    // a recent auto-reply with an attachment.
    let own = attachment(b"bounce bijlage", "bounce.pdf");
    let old_bounce = message(Some(unique("bounce")), Some("mailer-daemon@example.test".into()), "Undeliverable: Noor Geheim", old, "automated");
    assert!(store.record_message(None, &old_bounce, &[own.clone(), shared.clone()]).await.unwrap());
    let old_auto = message(Some(unique("auto")), Some("noor@example.test".into()), "Ik ben met vakantie.", old, "automated");
    assert!(store.record_message(None, &old_auto, &[]).await.unwrap());
    let fresh = attachment(b"recente bijlage", "recent.pdf");
    let recent = message(Some(unique("recent")), Some("piet@example.test".into()), "Afwezig tot maandag.", now - 3600, "automated");
    assert!(store.record_message(None, &recent, std::slice::from_ref(&fresh)).await.unwrap());
    // Quarantine records: one old, one recent.
    store.record_quarantine("INBOX", 1, 7, None, "unparseable header From: Noor Geheim").await.unwrap();
    store.record_quarantine("INBOX", 1, 8, None, "too large (recent)").await.unwrap();
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&w.config.database.url).await.unwrap();
    sqlx::query("UPDATE quarantine SET at = $1 WHERE uid = 7").bind(old).execute(&pool).await.unwrap();

    let report = || klachtd(&cfg, &["report", "--from", "2026-11-01", "--to", "2026-11-30", "--format", "json"]).1;
    let before_report = report();
    let before_case = snapshot(store, &r).await;
    let db_pool = &pool;
    let unlinked = move || async move {
        let rows: Vec<(String,)> = sqlx::query_as("SELECT body FROM messages WHERE case_id IS NULL ORDER BY id").fetch_all(db_pool).await.unwrap();
        rows.into_iter().map(|(b,)| b).collect::<Vec<_>>()
    };
    assert_eq!(unlinked().await.len(), 3);

    // Retention of 5 days: the old unlinked mail goes, the recent stays.
    assert_eq!(klachtd::app::retention::run_retention(store, &w.config.storage.data_dir, 5).await.unwrap(), 0, "no case was closed");
    assert_eq!(unlinked().await, vec!["Afwezig tot maandag.".to_string()]);
    let rows: Vec<(String,)> = sqlx::query_as("SELECT sha256 FROM attachments ORDER BY id").fetch_all(&pool).await.unwrap();
    assert_eq!(
        rows.into_iter().map(|(h,)| h).collect::<Vec<_>>(),
        vec![shared.sha256.clone(), fresh.sha256.clone()],
        "the old bounce's attachment rows are gone"
    );
    assert!(!files.path_of(&own.sha256).exists(), "the old bounce's own attachment file is gone");
    assert!(files.path_of(&shared.sha256).exists(), "a file a case still refers to stays");
    assert!(files.path_of(&fresh.sha256).exists(), "the recent mail's attachment stays");
    let raw: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM messages WHERE case_id IS NULL AND raw IS NOT NULL").fetch_one(&pool).await.unwrap();
    assert_eq!(raw, 1, "only the recent mail's raw bytes are left");
    let reasons: Vec<(i64, String)> = sqlx::query_as("SELECT uid, reason FROM quarantine ORDER BY uid").fetch_all(&pool).await.unwrap();
    assert_eq!(reasons, vec![(7, String::new()), (8, "too large (recent)".to_string())]);
    assert_eq!(
        store.status(&[w.config.imap().inbox.clone()], d(2026, 11, 25)).await.unwrap().quarantined,
        2,
        "the quarantine records themselves are counted still"
    );

    // The case and the register are as they were.
    assert_eq!(snapshot(store, &r).await, before_case);
    assert_eq!(report(), before_report);
    // A second run finds nothing more to do.
    assert_eq!(klachtd::app::retention::run_retention(store, &w.config.storage.data_dir, 5).await.unwrap(), 0);
    assert_eq!(unlinked().await.len(), 1);
    pool.close().await;
}
