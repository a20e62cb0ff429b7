//! The procedure as configuration (issue 25): a case keeps the terms it was registered under
//! when the configuration changes. A complaint by mail under the Awb's preset, then the seed's
//! regulation configured without a postponement: the first case's dates, its letters, its
//! reminders and its postponement still follow the Awb; a paper complaint registered after
//! the change follows the new terms.

use chrono::NaiveDate;
use klachtd::app::templates::long_date;
use klachtd::domain::terms::{Preset, Procedure};

use crate::common::*;

on_both_databases!(a_case_keeps_its_procedure_when_the_configuration_changes, cases_from_before_migrate_with_the_seeds_regulation);

fn klachtd(config: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    klachtd_as_handler(config, args)
}

fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

/// The mails in `user`'s INBOX once there are `n`, their bodies.
async fn bodies(w: &World, user: &str, n: usize) -> Vec<String> {
    let mails = eventually(&format!("{n} mails for {user}"), WAIT, || async { Some(w.stack.messages(user, "INBOX").await).filter(|m| m.len() >= n) }).await;
    mails.iter().map(|m| parsed(m).body_text(0).unwrap_or_default().into_owned()).collect()
}

async fn a_case_keeps_its_procedure_when_the_configuration_changes(db: Db) {
    let ann = format!("{}@dienst.test", unique("ann"));
    let handlers = format!("{ANSWER_ALL}[[handlers]]\nname = \"Ann Smit\"\nemail = \"{ann}\"\n");
    let awb_config = format!("{handlers}[procedure]\npreset = \"awb\"\n");
    let w = World::with(db, MailStack::shared(), &awb_config).await;
    let cfg = w.dir.path().join("klachtd.toml");
    std::fs::write(&cfg, config_text(w.stack, &w.complaints, &w.db.url, w.dir.path(), &awb_config)).unwrap();
    let daemon = w.start();

    // Registered under the Awb: six weeks, no progress notice, and the acknowledgement says so.
    let mia = format!("{}@example.test", unique("mia"));
    let (_, raw) = w.complaint("Mia Vos", &mia, "Klacht", "Mijn uitkering komt steeds te laat.");
    w.send(&mia, &raw).await;
    let store = w.store().await;
    let case = eventually("acknowledged", WAIT, || async {
        store.list_cases().await.unwrap().into_iter().find(|c| c.complainant_email.as_deref() == Some(mia.as_str()) && c.acknowledgement_word() == "sent")
    })
    .await;
    let r = case.reference.clone();
    let calendar = w.config.calendar();
    let received = case.received_on;
    let awb = Procedure::preset(Preset::Awb, false);
    let told = awb.deadlines(&calendar, received);
    assert_eq!((case.acknowledge_by, case.progress_by), (told.acknowledge_by, None));
    assert_eq!((case.respond_by, case.procedure.clone()), (told.respond_by, awb.to_string()));
    let ack = &bodies(&w, &mia, 1).await[0];
    assert!(ack.contains(&format!("Uiterlijk {} (binnen 6 weken na ontvangst)", long_date(told.respond_by, "nl"))), "{ack}");
    assert!(!ack.contains("hoe het met") && ack.contains("termijn van 5 werkdagen"), "no progress notice under the Awb:\n{ack}");

    // The configuration changes: the seed's regulation, without a postponement.
    let changed = format!("{handlers}[procedure]\npreset = \"reintegratie\"\npostponement = \"none\"\n");
    std::fs::write(&cfg, config_text(w.stack, &w.complaints, &w.db.url, w.dir.path(), &changed)).unwrap();
    let (code, out, err) = klachtd(&cfg, &["deadlines", "--received", &received.to_string()]);
    assert_eq!(code, 0, "{err}");
    let now = Procedure { postponement: None, ..Procedure::default() };
    let new = now.deadlines(&calendar, received);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!((json["respond_by"].as_str(), json["terms"]["postponement"].is_null()), (Some(new.respond_by.to_string().as_str()), true), "{out}");
    assert_ne!(new.respond_by, told.respond_by);

    // A paper complaint received the same day, registered now, gets the new terms.
    let desc = w.dir.path().join("desc.txt");
    std::fs::write(&desc, "Per post: mijn uitkering komt te laat.").unwrap();
    let (code, out, err) =
        klachtd(&cfg, &["cases", "register", "--name", "Bert Brief", "--received", &received.to_string(), "--description-file", desc.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let paper = store.case_detail(&cref(out.split(':').next().unwrap().trim())).await.unwrap().summary;
    assert_eq!((paper.progress_by, paper.respond_by, paper.procedure), (new.progress_by, new.respond_by, now.to_string()));

    // The case by mail keeps what its complainant was told: its dates, its reminders (no
    // progress notice on the new procedure's day), and the Awb's four weeks of postponement.
    let kept = store.case_detail(&r).await.unwrap().summary;
    assert_eq!((kept.progress_by, kept.respond_by, kept.procedure), (None, told.respond_by, awb.to_string()));
    let preview = |day: NaiveDate| klachtd(&cfg, &["reminders", "preview", "--at", &format!("{day} 09:00")]).1;
    let on_the_day = preview(told.respond_by);
    assert!(on_the_day.contains(&format!("{r}  respond     reminder   {}", told.respond_by)), "{on_the_day}");
    let progress_day = preview(new.progress_by.unwrap());
    assert!(!progress_day.contains(&format!("{r}  progress")) && progress_day.contains(&format!("{}  progress", paper.reference)), "{progress_day}");

    let reason = w.dir.path().join("reason.txt");
    std::fs::write(&reason, "Wij vragen advies.").unwrap();
    let postpone = |reference: &str, weeks: &str| klachtd(&cfg, &["cases", "postpone", reference, "--weeks", weeks, "--reason-file", reason.to_str().unwrap()]);
    let (code, _, err) = postpone(&paper.reference.to_string(), "1");
    assert_eq!(code, 1);
    assert!(err.contains("kent geen verdaging"), "{err}");
    let (code, out, err) = postpone(&r.to_string(), "4");
    assert_eq!(code, 0, "{err}");
    let postponed = calendar.on_or_next_working_day(told.respond_by + chrono::Days::new(28));
    assert!(out.contains(&format!("due by {postponed}")), "{out}");
    let letter = &bodies(&w, &mia, 2).await[1];
    assert!(letter.contains(&long_date(postponed, "nl")) && letter.contains(&long_date(told.respond_by, "nl")), "{letter}");
    daemon.stop().await;
}

/// A database of the version before procedures were stored (migrations 0001 to 0012) with a
/// case in it: migrating gives that case the seed's regulation, which its dates were counted by.
async fn cases_from_before_migrate_with_the_seeds_regulation(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let test_db = TestDb::create(db, dir.path()).await;
    let pool = test_db.before_migration("0013").await;
    sqlx::raw_sql(
        "INSERT INTO cases (reference, status, source, subject, description, received_on, received_at, acknowledge_by, progress_by, respond_by, created_at)
         VALUES ('KL-2026-0007', 'open', 'email', 'Klacht', 'Tekst', '2026-11-20', 0, '2026-11-27', '2026-12-04', '2026-12-18', 0)",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;

    let store = klachtd::store::Store::open(&test_db.url, 2).await.unwrap();
    let case = store.case_detail(&cref("KL-2026-0007")).await.unwrap().summary;
    assert_eq!((case.procedure, case.progress_by), (Procedure::default().to_string(), Some(day("2026-12-04"))));
    let letter_case = store.letter_case(&cref("KL-2026-0007")).await.unwrap();
    assert_eq!((letter_case.procedure, letter_case.progress_by), (Procedure::preset(Preset::Reintegratie, false), Some(day("2026-12-04"))));
    store.close().await;
}
