//! The steps of Awb chapter 9 from the command line, with klachtd running on the real mail
//! stack: a postponement (9:11) and its consent rule, the final response naming the external
//! body's term (9:12, 9:24), not handling a complaint (9:8), settling it (9:5); each letter in
//! the recipient's mailbox in Dovecot, the history, the register's counts, and retention that
//! waits for the external body's term.

use crate::common::*;
use mail_parser::MimeHeaders;

fn klachtd(config: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    klachtd_as_handler(config, args)
}

on_both_databases!(
    postponement_final_response_and_retention,
    not_handled_and_settled_close_apart,
    chapter_9_steps_by_mail,
    a_copy_of_the_complaint_to_the_person_it_is_about
);

async fn setup(db: Db, more: &str) -> (World, std::path::PathBuf, String, String) {
    capture_logs();
    let ann = format!("{}@dienst.test", unique("ann"));
    let bob = format!("{}@dienst.test", unique("bob"));
    let extra = format!("{ANSWER_ALL}[[handlers]]\nname = \"Ann Smit\"\nemail = \"{ann}\"\n[[handlers]]\nname = \"Bob Berg\"\nemail = \"{bob}\"\n{more}");
    let w = World::with(db, MailStack::shared(), &extra).await;
    let path = w.dir.path().join("klachtd.toml");
    std::fs::write(&path, config_text(w.stack, &w.complaints, &w.db.url, w.dir.path(), &extra)).unwrap();
    (w, path, ann, bob)
}

fn file(w: &World, name: &str, text: &str) -> String {
    let p = w.dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

async fn scalar_text(w: &World, statement: &'static str, reference: &str) -> Option<String> {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&w.config.database.url).await.unwrap();
    let v: Option<String> = sqlx::query_scalar(statement).bind(reference).fetch_one(&pool).await.unwrap();
    pool.close().await;
    v
}

/// A complaint from `from` by mail, registered and acknowledged; its reference.
async fn complaint(w: &World, name: &str, from: &str, body: &str) -> String {
    let (_, raw) = w.complaint(name, from, "Klacht", body);
    w.send(from, &raw).await;
    let store = w.store().await;
    eventually("acknowledged", WAIT, || async {
        store.list_cases().await.unwrap().into_iter().find(|c| c.complainant_email.as_deref() == Some(from) && c.acknowledgement_word() == "sent")
    })
    .await
    .reference
    .to_string()
}

/// The mails in `user`'s INBOX once there are `n`, as (subject, body).
async fn inbox(w: &World, user: &str, n: usize) -> Vec<(String, String)> {
    let mails = eventually(&format!("{n} mails for {user}"), WAIT, || async { Some(w.stack.messages(user, "INBOX").await).filter(|m| m.len() >= n) }).await;
    mails.iter().map(|m| parsed(m)).map(|m| (m.subject().unwrap_or("").to_string(), text_of(&m))).collect()
}

fn report(cfg: &std::path::Path) -> serde_json::Value {
    let today = chrono::Utc::now().date_naive();
    let (from, to) = ((today - chrono::Days::new(3)).to_string(), (today + chrono::Days::new(1)).to_string());
    let (code, out, err) = klachtd(cfg, &["report", "--from", &from, "--to", &to, "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

async fn postponement_final_response_and_retention(db: Db) {
    let (w, cfg, _ann, bob) = setup(db, "[retention]\npersonal_data_days = 30\n").await;
    let mia = format!("{}@example.test", unique("mia"));
    let daemon = w.start();
    let r = complaint(&w, "Mia Vos", &mia, "Mijn coach belt niet terug.").await;
    let store = w.store().await;
    // Bob is who the complaint is about: he gets a copy of the postponement.
    assert_eq!(klachtd(&cfg, &["cases", "subject", &r, "Bob Berg"]).0, 0);
    let original = store.case_detail(&cref(&r)).await.unwrap().summary.respond_by.to_string();
    let original_day = chrono::NaiveDate::parse_from_str(&original, "%Y-%m-%d").unwrap();

    // More than four weeks, or without a reason: refused, nothing changes.
    let reason = file(&w, "reason.txt", "Wij vragen advies aan de teamleider.");
    let (code, _, err) = klachtd(&cfg, &["cases", "postpone", &r, "--weeks", "5", "--reason-file", &reason]);
    assert_eq!((code, err.trim().lines().count()), (1, 1), "{err}");
    assert!(err.contains("1 tot 4 weken"), "{err}");
    let empty = file(&w, "empty.txt", " ");
    assert!(klachtd(&cfg, &["cases", "postpone", &r, "--weeks", "2", "--reason-file", &empty]).2.contains("reden"));
    assert_eq!(store.case_detail(&cref(&r)).await.unwrap().summary.respond_by, original_day);

    // Reminders and escalations follow the date in force.
    let preview = |day: chrono::NaiveDate| klachtd(&cfg, &["reminders", "preview", "--at", &format!("{day} 09:00")]).1;
    let due_on = |day: chrono::NaiveDate| format!("{r}  respond     reminder   {day}");
    assert!(preview(original_day).contains(&due_on(original_day)), "{}", preview(original_day));

    // The first postponement: a letter with the new date, to Mia and a copy to Bob.
    let (code, out, err) = klachtd(&cfg, &["cases", "postpone", &r, "--weeks", "3", "--reason-file", &reason]);
    assert_eq!(code, 0, "{err}");
    let calendar = w.config.calendar();
    let new_date = calendar.on_or_next_working_day(original_day + chrono::Days::new(21));
    assert!(out.contains(&format!("queued for {mia}")) && out.contains(&format!("due by {new_date}")), "{out}");
    let mails = inbox(&w, &mia, 2).await;
    assert_eq!(mails[1].0, format!("[{r}] Wij hebben meer tijd nodig voor uw klacht"));
    let long = |d| klachtd::app::templates::long_date(d, "nl");
    for needle in [long(original_day), long(new_date), "advies aan de teamleider".into(), "3 weken".into()] {
        assert!(mails[1].1.contains(&needle), "{needle} missing in\n{}", mails[1].1);
    }
    let copy = eventually("Bob's copy", WAIT, || async {
        w.stack.messages(&bob, "INBOX").await.iter().map(|m| parsed(m)).find(|m| m.subject().unwrap_or("").starts_with("Kopie: ")).map(|m| text_of(&m))
    })
    .await;
    assert!(copy.contains(&long(new_date)), "{copy}");
    // The deadline in force is the postponed one (reminders and escalations read it); the
    // original stays stored.
    assert_eq!(store.case_detail(&cref(&r)).await.unwrap().summary.respond_by, new_date);
    let stored = scalar_text(&w, "SELECT original_respond_by FROM cases WHERE reference = $1", &r).await;
    assert_eq!(stored, Some(original.clone()));
    assert!(!preview(original_day).contains(&format!("{r}  respond")), "no reminder of the original date: {}", preview(original_day));
    assert!(preview(new_date).contains(&due_on(new_date)), "{}", preview(new_date));

    // A further postponement needs the complainant's written consent.
    let (code, _, err) = klachtd(&cfg, &["cases", "postpone", &r, "--weeks", "1", "--reason-file", &reason]);
    assert_eq!(code, 1);
    assert!(err.contains("schriftelijke instemming"), "{err}");
    assert_eq!(store.case_detail(&cref(&r)).await.unwrap().summary.respond_by, new_date, "a refusal changes nothing");
    let (code, out, err) = klachtd(&cfg, &["cases", "postpone", &r, "--weeks", "1", "--reason-file", &reason, "--consent", "mail van Mia Vos van vandaag"]);
    assert_eq!(code, 0, "{err}");
    let second = calendar.on_or_next_working_day(new_date + chrono::Days::new(7));
    assert!(out.contains(&format!("due by {second}")), "{out}");
    inbox(&w, &mia, 3).await;
    assert_eq!(scalar_text(&w, "SELECT original_respond_by FROM cases WHERE reference = $1", &r).await, Some(original.clone()));

    // The final response names the external body and the last day to turn to it.
    let findings = file(&w, "findings.txt", "De coach heeft niet teruggebeld.");
    assert_eq!(klachtd(&cfg, &["cases", "respond", &r, "--outcome", "founded", "--findings-file", &findings]).0, 0);
    let mails = inbox(&w, &mia, 4).await;
    let today = klachtd::domain::calendar::amsterdam_date(chrono::Utc::now());
    let term = klachtd::domain::awb::external_term_end(&calendar, today, 12);
    for needle in ["Nationale ombudsman", "binnen een jaar", long(term).as_str()] {
        assert!(mails[3].1.contains(needle), "{needle} missing in\n{}", mails[3].1);
    }
    eventually("response recorded as sent", WAIT, || async { store.case_detail(&cref(&r)).await.unwrap().summary.responded_at.map(|_| ()) }).await;
    let (code, _, err) = klachtd(&cfg, &["cases", "postpone", &r, "--weeks", "1", "--reason-file", &reason, "--consent", "x"]);
    assert_eq!(code, 1);
    assert!(err.contains("er is niets te verdagen"), "{err}");

    // The history: two postponements (the second with its consent), the response with its term.
    let history = store.case_detail(&cref(&r)).await.unwrap().history;
    let postponed: Vec<_> = history.iter().filter(|e| e.action == event("postponed")).collect();
    assert_eq!(postponed.len(), 2, "{history:?}");
    assert!(postponed[0].detail.contains(&format!("from {original} to {new_date}")) && postponed[0].detail.contains(&bob), "{postponed:?}");
    assert!(postponed[1].detail.contains("written consent: mail van Mia Vos"), "{postponed:?}");
    assert!(history.iter().any(|e| e.action == event("final-response") && e.detail.contains(&format!("external body until {term}"))), "{history:?}");

    // The register: postponed, on time against the postponed date and the original one.
    let json = report(&cfg);
    assert_eq!(json["awb"]["postponed"], 1);
    assert_eq!(json["awb"]["postponed_again"], 1);
    assert_eq!(json["final_response"]["on_time"], 1);
    assert_eq!(json["awb"]["final_response_original"]["on_time"], 1);
    daemon.stop().await;

    // Retention waits for the external body's term, whatever the configured period.
    let (code, out, _) = klachtd(&cfg, &["check-config", "--offline"]);
    assert_eq!(code, 0);
    assert!(out.contains("warning: retention.personal_data_days: 30 days is shorter than the 12 months"), "{out}");
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&w.config.database.url).await.unwrap();
    let long_ago = chrono::Utc::now().timestamp() - 60 * 86_400;
    sqlx::query("UPDATE cases SET closed_at = $1 WHERE reference = $2").bind(long_ago).bind(&r).execute(&pool).await.unwrap();
    let (code, out, err) = klachtd(&cfg, &["retention", "run"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("from 0 case(s)"), "{out}");
    assert_eq!(store.case_detail(&cref(&r)).await.unwrap().summary.complainant_email.as_deref(), Some(mia.as_str()));
    // Once the term has passed (its last day is yesterday), the period applies.
    let yesterday = (today - chrono::Days::new(1)).to_string();
    sqlx::query("UPDATE cases SET external_term_ends = $1 WHERE reference = $2").bind(yesterday).bind(&r).execute(&pool).await.unwrap();
    pool.close().await;
    let (code, out, err) = klachtd(&cfg, &["retention", "run"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("from 1 case(s)"), "{out}");
    let detail = store.case_detail(&cref(&r)).await.unwrap();
    assert_eq!(detail.summary.complainant_email, None);
    // The postponements' reasons, consent and the copies' addresses go with the rest.
    let json = serde_json::to_string(&detail).unwrap();
    for private in ["teamleider", "Mia Vos", bob.as_str(), mia.as_str()] {
        assert!(!json.contains(private), "{private:?} survived retention: {json}");
    }
}

async fn not_handled_and_settled_close_apart(db: Db) {
    let (w, cfg, _, _) = setup(db, "").await;
    let (kim, lot) = (format!("{}@example.test", unique("kim")), format!("{}@example.test", unique("lot")));
    let daemon = w.start();
    let store = w.store().await;
    let not_handled = complaint(&w, "Kim de Wit", &kim, "Het gesprek in 2023 ging slecht.").await;
    let settled = complaint(&w, "Lot Post", &lot, "Mijn afspraak is vergeten.").await;

    // Not handled (9:8): the ground, the ombudsman and the term in the letter; the case closes.
    let (code, _, err) = klachtd(&cfg, &["cases", "not-handled", &not_handled, "--ground", "vaag"]);
    assert_eq!(code, 1);
    assert!(err.contains("over-a-year"), "the grounds are listed: {err}");
    let why = file(&w, "why.txt", "Het gesprek was in maart 2023.");
    let (code, out, err) = klachtd(&cfg, &["cases", "not-handled", &not_handled, "--ground", "over-a-year", "--explanation-file", &why]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("closed, not handled (over-a-year)"), "{out}");
    let mails = inbox(&w, &kim, 2).await;
    assert_eq!(mails[1].0, format!("[{not_handled}] Wij behandelen uw klacht niet"));
    let today = klachtd::domain::calendar::amsterdam_date(chrono::Utc::now());
    let term = klachtd::domain::awb::external_term_end(&w.config.calendar(), today, 12);
    for needle in ["langer dan een jaar", "artikel 9:8", "maart 2023", "Nationale ombudsman", &klachtd::app::templates::long_date(term, "nl")] {
        assert!(mails[1].1.contains(needle), "{needle} missing in\n{}", mails[1].1);
    }
    // It meets the deadline of the response, and the case takes no final response now.
    eventually("not-handled letter recorded as sent", WAIT, || async {
        store.case_detail(&cref(&not_handled)).await.unwrap().summary.responded_at.map(|_| ())
    })
    .await;
    let findings = file(&w, "f.txt", "x");
    let (code, _, err) = klachtd(&cfg, &["cases", "respond", &not_handled, "--outcome", "founded", "--findings-file", &findings]);
    assert_eq!(code, 1);
    assert!(err.contains("heeft al een eindreactie"), "{err}");

    // Settled (9:5): confirmed in writing; closes the case.
    let how = file(&w, "how.txt", "U heeft op 3 december een nieuwe afspraak gekregen.");
    let (code, out, err) = klachtd(&cfg, &["cases", "settle", &settled, "--settlement-file", &how]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("closed, settled"), "{out}");
    let mails = inbox(&w, &lot, 2).await;
    assert_eq!(mails[1].0, format!("[{settled}] Uw klacht is naar tevredenheid opgelost"));
    assert!(mails[1].1.contains("nieuwe afspraak gekregen") && mails[1].1.contains("artikel 9:5"), "{}", mails[1].1);
    let (code, _, err) = klachtd(&cfg, &["cases", "settle", &settled, "--settlement-file", &how]);
    assert_eq!(code, 1);
    assert!(err.contains("heropen de zaak eerst"), "{err}");
    eventually("settled letter recorded as sent", WAIT, || async { store.case_detail(&cref(&settled)).await.unwrap().summary.responded_at.map(|_| ()) }).await;

    // The history and the register count them apart.
    let history = store.case_detail(&cref(&not_handled)).await.unwrap().history;
    assert!(
        history.iter().any(|e| e.action == event("not-handled") && e.detail.contains("over-a-year") && e.detail.contains(&term.to_string())),
        "{history:?}"
    );
    let history = store.case_detail(&cref(&settled)).await.unwrap().history;
    assert!(history.iter().any(|e| e.action == event("settled")), "{history:?}");
    let json = report(&cfg);
    assert_eq!(json["received"], 2);
    assert_eq!(json["by_outcome"]["not-handled"], 1);
    assert_eq!(json["by_outcome"]["settled"], 1);
    assert_eq!(json["awb"]["not_handled"], 1);
    assert_eq!(json["awb"]["not_handled_by_ground"]["over-a-year"], 1);
    assert_eq!(json["awb"]["settled"], 1);
    assert_eq!(json["awb"]["settled_before_response"], 1);
    assert_eq!(json["final_response"]["on_time"], 2);
    // The yearly publication (Awb 9:12a): the same figures, no reference, name or text.
    let year = today.format("%Y").to_string();
    let (code, html, err) = klachtd(&cfg, &["report", "--year", &year, "--format", "publication"]);
    assert_eq!(code, 0, "{err}");
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("<html lang=\"nl\">") && html.contains(&format!("Klachtenjaarverslag {year}")), "{html}");
    assert!(html.contains(r#"id="pub-received">2<"#) && html.contains(r#"id="pub-not-handled">1<"#) && html.contains(r#"id="pub-settled">1<"#), "{html}");
    assert!(html.contains("Gedraging langer dan een jaar voor de klacht") && html.contains("@media print"), "{html}");
    for private in [not_handled.as_str(), settled.as_str(), "Kim", "Lot", kim.as_str(), "maart 2023", "nieuwe afspraak"] {
        assert!(!html.contains(private), "{private:?} in the publication");
    }
    let (code, _, err) = klachtd(&cfg, &["report", "--from", &today.to_string(), "--to", &today.to_string(), "--format", "publication"]);
    assert_eq!(code, 1);
    assert!(err.contains("give --year"), "{err}");
    let (_, table, _) = klachtd(&cfg, &["report", "--from", &today.to_string(), "--to", &today.to_string()]);
    assert!(table.contains("Not handled (Awb 9:8): 1") && table.contains("Settled (Awb 9:5): 1 (before a formal response: 1)"), "{table}");
    daemon.stop().await;
}

#[test]
fn check_config_refuses_a_postponement_beyond_the_law() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.toml");
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/klachtd.example.toml")).unwrap();
    assert!(text.contains("\nmax_weeks = 4\n") && text.contains("\nterm_months = 12\n"), "the example documents both keys");
    std::fs::write(&path, text.replace("\nmax_weeks = 4\n", "\nmax_weeks = 6\n")).unwrap();
    let (code, _, err) = klachtd(&path, &["check-config", "--offline"]);
    assert_eq!(code, 78);
    assert!(err.contains("postponement.max_weeks") && err.contains("at most four weeks"), "{err}");
}

const SECRET: &str = "0123456789abcdef-test-secret";

/// A handler postpones (UITSTEL), is refused a second postponement without consent, sends a
/// copy to the person complained about (AFSCHRIFT), invites to a hearing (HOORZITTING), sends
/// its report (VERSLAG) and closes the case as settled (OPGELOST), each by replying to the
/// assignment notice.
async fn chapter_9_steps_by_mail(db: Db) {
    let (w, _cfg, ann, _) =
        setup(db, &format!("[assignment]\nrule = \"default\"\ndefault_handler = \"Ann Smit\"\n[actions_by_mail]\nsecret = \"{SECRET}\"\n")).await;
    let ria = format!("{}@example.test", unique("ria"));
    let daemon = w.start();
    let r = complaint(&w, "Ria Dam", &ria, "Niemand belde terug.").await;
    let store = w.store().await;
    let notice = eventually("assignment notice", WAIT, || async { w.stack.messages(&ann, "INBOX").await.into_iter().next() }).await;
    let subject = parsed(&notice).subject().unwrap().to_string();
    assert!(text_of(&parsed(&notice)).contains("UITSTEL weken"), "the notice lists the new actions");
    let reply = |body: &str| {
        format!("From: Ann Smit <{ann}>\r\nTo: {}\r\nSubject: Re: {subject}\r\nMessage-ID: <{}@dienst.test>\r\n\r\n{body}\r\n", w.complaints, unique("act"))
    };
    let confirmations = |n: usize| {
        let (w, ann) = (&w, &ann);
        async move {
            eventually(&format!("{n} confirmations"), WAIT, || async {
                let found: Vec<String> = w
                    .stack
                    .messages(ann, "INBOX")
                    .await
                    .iter()
                    .map(|m| parsed(m).subject().unwrap_or("").to_string())
                    .filter(|s| s.contains("tgevoerd"))
                    .collect();
                (found.len() >= n).then_some(found)
            })
            .await
        }
    };
    let original = store.case_detail(&cref(&r)).await.unwrap().summary.respond_by;
    w.send(&ann, reply("UITSTEL 2\r\nWij wachten op advies.\r\n\r\nOp ma schreef klachtd:\r\n> oud").as_bytes()).await;
    let mails = inbox(&w, &ria, 2).await;
    assert!(mails[1].0.contains("meer tijd nodig") && mails[1].1.contains("Wij wachten op advies.") && !mails[1].1.contains("> oud"), "{mails:?}");
    assert_eq!(confirmations(1).await, vec![format!("[{r}] Uitgevoerd: uitstel")]);
    assert_ne!(store.case_detail(&cref(&r)).await.unwrap().summary.respond_by, original);
    // A second one without consent: refused, and the handler is told why.
    w.send(&ann, reply("UITSTEL 1\r\nNog even.").as_bytes()).await;
    let found = confirmations(2).await;
    assert!(found.contains(&format!("[{r}] Niet uitgevoerd: uitstel")), "{found:?}");
    // A copy to the person complained about, an invitation to be heard, its report.
    let piet = format!("{}@elders.test", unique("piet"));
    store.add_subject(&cref(&r), "Piet Extern", "test").await.unwrap();
    w.send(&ann, reply(&format!("AFSCHRIFT Piet Extern\r\n{piet}")).as_bytes()).await;
    let copy = inbox(&w, &piet, 1).await;
    assert!(copy[0].0.contains("Afschrift") && copy[0].1.contains("Niemand belde terug."), "{copy:?}");
    confirmations(3).await;
    let day = (chrono::Utc::now() + chrono::Duration::days(20)).with_timezone(&chrono_tz::Europe::Amsterdam).date_naive();
    w.send(&ann, reply(&format!("HOORZITTING {day} 10:00 30\r\nStadskantoor, kamer 3")).as_bytes()).await;
    let mails = inbox(&w, &ria, 3).await;
    assert!(mails[2].0.contains("Uitnodiging om te worden gehoord") && mails[2].1.contains("10:00 tot 10:30") && mails[2].1.contains("kamer 3"), "{mails:?}");
    let raw = w.stack.messages(&ria, "INBOX").await[2].clone();
    assert!(String::from_utf8_lossy(&raw).contains("BEGIN:VCALENDAR") || String::from_utf8_lossy(&raw).contains("text/calendar"), "a calendar part");
    confirmations(4).await;
    w.send(&ann, reply("VERSLAG\r\nMevrouw Dam lichtte haar klacht toe.").as_bytes()).await;
    let mails = inbox(&w, &ria, 4).await;
    assert!(mails[3].0.contains("Verslag van de hoorzitting") && mails[3].1.contains("lichtte haar klacht toe"), "{mails:?}");
    confirmations(5).await;
    // Settled.
    w.send(&ann, reply("OPGELOST\r\nU bent teruggebeld en tevreden.").as_bytes()).await;
    let mails = inbox(&w, &ria, 5).await;
    assert!(mails[4].0.contains("naar tevredenheid opgelost") && mails[4].1.contains("teruggebeld en tevreden"), "{mails:?}");
    let found = confirmations(6).await;
    assert_eq!(found.iter().filter(|s| s.contains("Niet uitgevoerd")).count(), 1, "only the postponement without consent was refused: {found:?}");
    let history = store.case_detail(&cref(&r)).await.unwrap().history;
    assert_eq!(history.iter().filter(|e| e.action == event("postponed") && e.actor == "Ann Smit (e-mail)").count(), 1, "{history:?}");
    for action in ["settled", "disclosed", "hearing-invited", "hearing-held"] {
        assert!(history.iter().any(|e| e.action == event(action) && e.actor == "Ann Smit (e-mail)"), "{action}: {history:?}");
    }
    assert_eq!(store.case_detail(&cref(&r)).await.unwrap().summary.status.as_str(), "closed");
    daemon.stop().await;
}

/// Awb 9:9: the person the complaint is about gets a copy of it with its documents, recorded in
/// the history as a disclosure; a staff member at their handler's address, anyone else at the
/// address given.
async fn a_copy_of_the_complaint_to_the_person_it_is_about(db: Db) {
    let (w, cfg, _ann, bob) = setup(db, "").await;
    let mia = format!("{}@example.test", unique("mia"));
    let extern_address = format!("{}@elders.test", unique("piet"));
    let daemon = w.start();
    let raw = format!(
        "From: Mia Vos <{mia}>\r\nTo: {}\r\nSubject: Klacht over Bob\r\nMessage-ID: <{}@example.test>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nBob was onbeleefd aan de balie.\r\n--B\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"verslag.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQgdmVyc2xhZw==\r\n--B--\r\n",
        w.complaints,
        unique("c")
    );
    w.send(&mia, raw.as_bytes()).await;
    let store = w.store().await;
    let r =
        eventually("acknowledged", WAIT, || async { store.list_cases().await.unwrap().pop().filter(|c| c.acknowledgement_word() == "sent") }).await.reference;

    // Only to a person recorded as the complaint's subject.
    let (code, _, err) = klachtd(&cfg, &["cases", "disclose", &r.to_string(), "--name", "Bob Berg"]);
    assert_eq!(code, 1);
    assert!(err.contains("leg dat eerst vast"), "{err}");
    assert_eq!(klachtd(&cfg, &["cases", "subject", &r.to_string(), "Bob Berg"]).0, 0);
    let (code, out, err) = klachtd(&cfg, &["cases", "disclose", &r.to_string(), "--name", "Bob Berg"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("queued for {bob}")), "{out}");
    let copy = eventually("Bob's copy", WAIT, || async {
        w.stack.messages(&bob, "INBOX").await.into_iter().find(|m| parsed(m).subject().unwrap_or("").contains("Afschrift van een klacht"))
    })
    .await;
    let copy = parsed(&copy);
    assert_eq!(copy.subject().unwrap(), format!("[{r}] Afschrift van een klacht over uw gedraging"));
    let text = text_of(&copy);
    assert!(text.contains("onbeleefd aan de balie") && text.contains("artikel 9:9") && text.contains("verslag.pdf"), "{text}");
    let attachment = copy.attachments().next().expect("the document is attached");
    assert_eq!(attachment.attachment_name(), Some("verslag.pdf"));
    assert_eq!(attachment.contents(), b"%PDF-1.4 verslag");
    assert_eq!(copy.in_reply_to().as_text(), None, "never threaded to the complainant's mail");

    // Someone who is no handler, at the address given.
    assert_eq!(klachtd(&cfg, &["cases", "subject", &r.to_string(), "Piet Extern"]).0, 0);
    let (code, _, err) = klachtd(&cfg, &["cases", "disclose", &r.to_string(), "--name", "Piet Extern"]);
    assert_eq!(code, 1);
    assert!(err.contains("geef het e-mailadres"), "{err}");
    assert_eq!(klachtd(&cfg, &["cases", "disclose", &r.to_string(), "--name", "Piet Extern", "--email", &extern_address]).0, 0);
    let mails = inbox(&w, &extern_address, 1).await;
    assert!(mails[0].0.contains("Afschrift") && mails[0].1.contains("Beste Piet Extern"), "{mails:?}");

    let history = store.case_detail(&r).await.unwrap().history;
    let disclosed: Vec<_> = history.iter().filter(|e| e.action == event("disclosed")).collect();
    assert_eq!(disclosed.len(), 2, "{history:?}");
    assert!(disclosed[0].detail.contains("1 document(s) to Bob Berg") && disclosed[0].detail.contains("Awb 9:9"), "{disclosed:?}");
    daemon.stop().await;
}
