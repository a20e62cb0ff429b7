//! Handler actions from the command line (R2, R6-R11), with klachtd running: letters reach the
//! complainant threaded to the case, deadlines are met, refusals change nothing; the register
//! and retention.

mod common;

use std::process::Command;

use common::*;
use klachtd::store::Table;

fn klachtd(config: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_klachtd")).arg("--config").arg(config).args(args).env("USER", "handler-ann").output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

on_both_databases!(handlers_act_by_replying_and_forgeries_do_nothing, the_procedure_from_progress_notice_to_final_response, paper_complaints_count_from_their_real_date, retention_removes_personal_data_and_keeps_the_register);

async fn setup(db: Db) -> (World, std::path::PathBuf, String) {
    let ann = format!("{}@dienst.test", unique("ann"));
    let extra = format!("{ANSWER_ALL}[[handlers]]\nname = \"Ann Smit\"\nemail = \"{ann}\"\n");
    let w = World::with(db, MailStack::shared(), &extra).await;
    let path = w.dir.path().join("klachtd.toml");
    std::fs::write(&path, config_text(w.stack, &w.complaints, &w.db.url, w.dir.path(), &extra)).unwrap();
    (w, path, ann)
}

fn file(w: &World, name: &str, text: &str) -> String {
    let p = w.dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

async fn the_procedure_from_progress_notice_to_final_response(db: Db) {
    let (w, cfg, ann) = setup(db).await;
    let mia = format!("{}@example.test", unique("mia"));
    let daemon = w.start();
    let (complaint_id, raw) = w.complaint("Mia Vos", &mia, "Lange wachttijd", "Ik wacht al weken.");
    w.send(&mia, &raw).await;
    let store = w.store().await;
    let case = eventually("acknowledged", WAIT, || async { store.list_cases().await.unwrap().pop().filter(|c| c.acknowledgement == "sent") }).await;
    let r = case.reference.as_str();

    // Progress notice (R6), with the handler's own words.
    let msg = file(&w, "progress.txt", "We spreken uw coach volgende week.");
    let (code, out, err) = klachtd(&cfg, &["cases", "progress", r, "--expected", "2026-12-15", "--message-file", &msg]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("queued for {mia}")), "{out}");
    let mails = eventually("progress notice delivered", WAIT, || async { Some(w.stack.messages(&mia, "INBOX").await).filter(|m| m.len() == 2) }).await;
    let notice = parsed(&mails[1]);
    assert_eq!(notice.subject().unwrap(), format!("[{r}] Voortgang van de behandeling van uw klacht"));
    assert_eq!(notice.in_reply_to().as_text(), Some(complaint_id.as_str()));
    let body = notice.body_text(0).unwrap();
    assert!(body.contains("We spreken uw coach volgende week.") && body.contains("dinsdag 15 december 2026"), "{body}");
    eventually("progress deadline met", WAIT, || async { store.case_detail(r).await.unwrap().summary.progress_sent_at.map(|_| ()) }).await;

    // A request for information (R7); the answer threads into the case.
    let ask = file(&w, "ask.txt", "Op welke data had u een afspraak?");
    assert_eq!(klachtd(&cfg, &["cases", "request-info", r, "--message-file", &ask]).0, 0);
    let mails = eventually("request delivered", WAIT, || async { Some(w.stack.messages(&mia, "INBOX").await).filter(|m| m.len() == 3) }).await;
    let request = parsed(&mails[2]);
    let answer = format!(
        "From: Mia Vos <{mia}>\r\nTo: {}\r\nSubject: Re: {}\r\nMessage-ID: <{}@example.test>\r\nIn-Reply-To: <{}>\r\n\r\nOp 3 en 10 november.\r\n",
        w.complaints,
        request.subject().unwrap(),
        unique("answer"),
        request.message_id().unwrap()
    );
    w.send(&mia, answer.as_bytes()).await;
    eventually("answer threaded", WAIT, || async { (store.case_detail(r).await.unwrap().summary.messages == 2).then_some(()) }).await;

    // Clear refusals: one line, non-zero, nothing changed.
    let findings = file(&w, "findings.txt", "De coach heeft twee afspraken niet doorgegeven.");
    let (code, _, err) = klachtd(&cfg, &["cases", "respond", r, "--outcome", "half", "--findings-file", &findings]);
    assert_eq!((code, err.trim().lines().count()), (1, 1), "{err}");
    assert!(err.contains("\"half\" is not an outcome"), "{err}");
    let (code, _, err) = klachtd(&cfg, &["cases", "progress", "KL-1999-0009", "--expected", "2026-12-15"]);
    assert_eq!(code, 1);
    assert_eq!(err.trim(), "klachtd: no case with reference KL-1999-0009");
    assert_eq!(klachtd(&cfg, &["cases", "category", r, "staff"]).0, 0);
    assert_eq!(klachtd(&cfg, &["cases", "note", r, "Intern: coach gesproken."]).0, 0);

    // The final response (R8) states the external body (R11) and closes the case.
    let measures = file(&w, "measures.txt", "Afspraken worden voortaan bevestigd per sms.");
    let (code, out, err) = klachtd(&cfg, &["cases", "respond", r, "--outcome", "founded", "--findings-file", &findings, "--measures-file", &measures]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("closed"), "{out}");
    let mails = eventually("response delivered", WAIT, || async { Some(w.stack.messages(&mia, "INBOX").await).filter(|m| m.len() == 4) }).await;
    let response = parsed(&mails[3]).body_text(0).unwrap().to_string();
    for needle in ["gegrond", "twee afspraken niet doorgegeven", "bevestigd per sms", "Nationale ombudsman", "Postbus 93122", "nationaleombudsman.nl"] {
        assert!(response.contains(needle), "{needle} missing in\n{response}");
    }
    let before = store.case_detail(r).await.unwrap();
    let (code, _, err) = klachtd(&cfg, &["cases", "respond", r, "--outcome", "unfounded", "--findings-file", &findings]);
    assert_eq!(code, 1);
    assert!(err.contains("already has its final response"), "{err}");
    let (code, _, err) = klachtd(&cfg, &["cases", "progress", r, "--expected", "2026-12-20"]);
    assert_eq!(code, 1);
    assert!(err.contains("a progress notice comes before it"), "{err}");
    assert_eq!(store.case_detail(r).await.unwrap().history.len(), before.history.len(), "refusals change nothing");

    // Mail on a closed case is kept, the handler is told, the case stays closed.
    let late = format!("From: Mia Vos <{mia}>\r\nTo: {}\r\nSubject: Re: [{r}] bedankt\r\nMessage-ID: <{}@example.test>\r\n\r\nDank u.\r\n", w.complaints, unique("late"));
    w.send(&mia, late.as_bytes()).await;
    let told = eventually("handler told", WAIT, || async {
        w.stack.messages(&ann, "INBOX").await.into_iter().find(|m| parsed(m).subject().unwrap_or("").contains("gesloten klacht"))
    })
    .await;
    assert_eq!(parsed(&told).subject().unwrap(), format!("[{r}] Nieuwe e-mail bij een gesloten klacht"));
    let after = store.case_detail(r).await.unwrap();
    assert_eq!(after.summary.status, "closed");
    assert_eq!(after.summary.messages, 3);

    assert_eq!(klachtd(&cfg, &["cases", "escalate", r, "--to", "Nationale ombudsman", "--date", "2026-12-20"]).0, 0);
    assert_eq!(klachtd(&cfg, &["cases", "reopen", r]).0, 0);
    let (code, _, err) = klachtd(&cfg, &["cases", "reopen", r]);
    assert_eq!(code, 1);
    assert!(err.contains("nothing to reopen"), "{err}");
    daemon.stop().await;

    let history: Vec<(String, String)> = store.case_detail(r).await.unwrap().history.into_iter().map(|e| (e.actor, e.action)).collect();
    for action in ["progress-notice", "information-requested", "category", "note", "final-response", "handler-notified", "external-body", "reopened"] {
        assert!(history.iter().any(|(_, a)| a == action), "{action} missing in {history:?}");
    }
    assert!(history.iter().any(|(who, a)| who == "handler-ann" && a == "final-response"), "who acted is recorded");
    let notes_in_mail = w.stack.messages(&mia, "INBOX").await.iter().any(|m| String::from_utf8_lossy(m).contains("Intern: coach"));
    assert!(!notes_in_mail, "notes are never sent");
}

async fn paper_complaints_count_from_their_real_date(db: Db) {
    let (w, cfg, _) = setup(db).await;
    let desc = file(&w, "brief.txt", "Per brief: de coach was onvriendelijk.");
    let scan = file(&w, "scan.pdf", "%PDF-1.4 scan");
    let (code, out, err) = klachtd(&cfg, &["cases", "register", "--name", "Henk Post", "--postal-address", "Dorpsstraat 1, Ergens", "--received", "2026-11-20", "--description-file", &desc, "--attach", &scan]);
    assert_eq!(code, 0, "{err}");
    let reference = out.split(':').next().unwrap().trim().to_string();
    assert!(out.contains("written to"), "{out}");
    let store = w.store().await;
    let case = store.case_detail(&reference).await.unwrap();
    assert_eq!((case.summary.source.as_str(), case.summary.received_on.as_str()), ("post", "2026-11-20"));
    assert_eq!((case.summary.acknowledge_by.as_str(), case.summary.progress_by.as_str(), case.summary.respond_by.as_str()), ("2026-11-27", "2026-12-04", "2026-12-18"));
    assert_eq!(case.attachment_list.len(), 1);
    assert_eq!(case.summary.handler.as_deref(), Some("Ann Smit"));
    let letter = std::fs::read_to_string(w.config.storage.data_dir.join(format!("letters/{reference}-acknowledgement.txt"))).unwrap();
    assert!(letter.contains("Geachte Henk Post") && letter.contains("vrijdag 4 december 2026"), "{letter}");
    assert!(case.summary.acknowledged_at.is_none(), "not met until the letter is posted");
    assert_eq!(klachtd(&cfg, &["cases", "acknowledged", &reference, "--date", "2026-11-23"]).0, 0);
    assert!(store.case_detail(&reference).await.unwrap().summary.acknowledged_at.is_some());

    // With an e-mail address the acknowledgement is mailed.
    let henk = format!("{}@example.test", unique("henk"));
    let (code, out, _) = klachtd(&cfg, &["cases", "register", "--name", "Henk Post", "--email", &henk, "--received", "2026-11-24", "--description-file", &desc]);
    assert_eq!(code, 0);
    assert!(out.contains(&format!("queued for {henk}")), "{out}");
    let daemon = w.start();
    eventually("acknowledgement mailed", WAIT, || async { (w.stack.messages(&henk, "INBOX").await.len() == 1).then_some(()) }).await;
    daemon.stop().await;
    assert_eq!(store.count(Table::Cases).await.unwrap(), 2);
}

async fn retention_removes_personal_data_and_keeps_the_register(db: Db) {
    let (w, cfg, _) = setup(db).await;
    let noor = format!("{}@example.test", unique("noor"));
    let daemon = w.start();
    let with_attachment = format!(
        "From: Noor Geheim <{noor}>\r\nTo: {}\r\nSubject: Vertrouwelijk onderwerp\r\nMessage-ID: <{}@x>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nPrivé details.\r\n--B\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"medisch.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nUHJpdsOpIGJpamxhZ2U=\r\n--B--\r\n",
        w.complaints,
        unique("noor")
    );
    w.send(&noor, with_attachment.as_bytes()).await;
    let store = w.store().await;
    let case = eventually("acknowledged", WAIT, || async { store.list_cases().await.unwrap().pop().filter(|c| c.acknowledgement == "sent") }).await;
    let r = case.reference.clone();
    let findings = file(&w, "f.txt", "Noor had gelijk.");
    let measures = file(&w, "m.txt", "Werkinstructie aangepast.");
    assert_eq!(klachtd(&cfg, &["cases", "category", &r, "process"]).0, 0);
    assert_eq!(klachtd(&cfg, &["cases", "respond", &r, "--outcome", "partly-founded", "--findings-file", &findings, "--measures-file", &measures]).0, 0);
    eventually("response sent", WAIT, || async { store.case_detail(&r).await.unwrap().summary.responded_at.map(|_| ()) }).await;
    daemon.stop().await;

    let today = chrono::Utc::now().date_naive();
    let period = [today - chrono::Duration::days(3), today + chrono::Duration::days(1)].map(|d| d.to_string());
    let report = |cfg: &std::path::Path| klachtd(cfg, &["report", "--from", &period[0], "--to", &period[1], "--format", "json"]).1;
    let before = report(&cfg);
    let json: serde_json::Value = serde_json::from_str(&before).unwrap();
    assert_eq!(json["received"], 1);
    assert_eq!(json["by_outcome"]["partly-founded"], 1);
    assert_eq!(json["by_category"]["process"], 1);
    assert_eq!(json["final_response"]["on_time"], 1);
    let attachment = store.case_detail(&r).await.unwrap().attachment_list[0].sha256.clone();
    let file_path = klachtd::attachments::AttachmentStore::new(&w.config.storage.data_dir).path_of(&attachment);
    assert!(file_path.exists());

    // Not yet: the case closed moments ago.
    let (code, out, _) = klachtd(&cfg, &["retention", "run"]);
    assert_eq!(code, 0);
    assert!(out.contains("from 0 case(s)"), "{out}");
    // A retention period that has passed (1 day; the case is made to have closed 2 days ago).
    let short = w.dir.path().join("short.toml");
    let text = std::fs::read_to_string(&cfg).unwrap() + "\n[retention]\npersonal_data_days = 1\n";
    std::fs::write(&short, text).unwrap();
    backdate_closing(&w, &r).await;
    let (code, out, err) = klachtd(&short, &["retention", "run"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("from 1 case(s)"), "{out}");

    assert_eq!(report(&short), before, "the register is the same before and after");
    let detail = store.case_detail(&r).await.unwrap();
    assert_eq!(detail.summary.complainant_name, None);
    assert_eq!(detail.summary.complainant_email, None);
    assert_eq!(detail.description, "");
    assert!(detail.attachment_list.is_empty());
    assert!(!file_path.exists(), "the attachment file is gone");
    assert!(store.raw_messages(&r).await.unwrap().is_empty(), "raw mail is gone");
    let json = serde_json::to_string(&detail).unwrap();
    for private in ["Noor", noor.as_str(), "Vertrouwelijk", "Privé", "had gelijk"] {
        assert!(!json.contains(private), "{private:?} survived retention: {json}");
    }
    assert_eq!(detail.summary.reference, r);
}

/// Makes a case look closed two days ago (retention counts from the closing time).
async fn backdate_closing(w: &World, reference: &str) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&w.config.database.url).await.unwrap();
    let two_days_ago = chrono::Utc::now().timestamp() - 2 * 86_400;
    sqlx::query("UPDATE cases SET closed_at = $1 WHERE reference = $2").bind(two_days_ago).bind(reference).execute(&pool).await.unwrap();
    pool.close().await;
}

async fn handlers_act_by_replying_and_forgeries_do_nothing(db: Db) {
    let ann = format!("{}@dienst.test", unique("ann"));
    let extra = format!("{ANSWER_ALL}[[handlers]]\nname = \"Ann Smit\"\nemail = \"{ann}\"\n[actions_by_mail]\nsecret = \"0123456789abcdef-test-secret\"\n");
    let w = World::with(db, MailStack::shared(), &extra).await;
    let ria = format!("{}@example.test", unique("ria"));
    let daemon = w.start();
    let (_, raw) = w.complaint("Ria Dam", &ria, "Geen terugbelverzoek", "Niemand belde terug.");
    w.send(&ria, &raw).await;
    let store = w.store().await;
    let notice = eventually("assignment notice", WAIT, || async { w.stack.messages(&ann, "INBOX").await.into_iter().next() }).await;
    let notice = parsed(&notice);
    let subject = notice.subject().unwrap().to_string();
    let reference = subject.trim_start_matches('[').split(']').next().unwrap().to_string();
    assert!(subject.contains("{actie:"), "{subject}");

    let reply = |from: &str, subject: &str, body: &str| {
        format!("From: Ann Smit <{from}>\r\nTo: {}\r\nSubject: {subject}\r\nMessage-ID: <{}@dienst.test>\r\n\r\n{body}\r\n", w.complaints, unique("act"))
    };
    // A forged From without the token, and one with a token for another handler: ordinary mail.
    let forged = reply(&ann, &format!("Re: [{reference}] Klacht aan u toegewezen"), "REACTIE unfounded\r\nOngegrond.");
    w.send(&ann, forged.as_bytes()).await;
    let wrong = reply(&ann, &format!("Re: [{reference}] {{actie:0123456789abcdef0123}}"), "REACTIE unfounded\r\nOngegrond.");
    w.send(&ann, wrong.as_bytes()).await;
    eventually("forgeries kept as messages", WAIT, || async { (store.case_detail(&reference).await.unwrap().summary.messages == 3).then_some(()) }).await;
    assert_eq!(store.case_detail(&reference).await.unwrap().summary.status, "open", "no forged response closed the case");

    // The real reply: a progress notice written in the handler's mail client.
    let real = reply(&ann, &format!("Re: {subject}"), "VOORTGANG 2026-12-18\r\nWe bellen u deze week.\r\n\r\nOp ma schreef klachtd:\r\n> oud");
    w.send(&ann, real.as_bytes()).await;
    let mails = eventually("progress notice to the complainant", WAIT, || async { Some(w.stack.messages(&ria, "INBOX").await).filter(|m| m.len() == 2) }).await;
    let body = parsed(&mails[1]).body_text(0).unwrap().to_string();
    assert!(body.contains("We bellen u deze week.") && body.contains("vrijdag 18 december 2026") && !body.contains("> oud"), "{body}");
    let confirmation = eventually("confirmation to the handler", WAIT, || async {
        w.stack.messages(&ann, "INBOX").await.into_iter().find(|m| parsed(m).subject().unwrap_or("").contains("Uitgevoerd"))
    })
    .await;
    assert_eq!(parsed(&confirmation).subject().unwrap(), format!("[{reference}] Uitgevoerd: voortgangsbericht"));

    // A reply the procedure refuses is confirmed as not done, with the reason.
    let bad = reply(&ann, &format!("Re: {subject}"), "REACTIE misschien\r\nTja.");
    w.send(&ann, bad.as_bytes()).await;
    let refused = eventually("refusal to the handler", WAIT, || async {
        w.stack.messages(&ann, "INBOX").await.into_iter().find(|m| parsed(m).subject().unwrap_or("").contains("Niet uitgevoerd"))
    })
    .await;
    assert!(parsed(&refused).body_text(0).unwrap().contains("\"misschien\" is not an outcome"));
    daemon.stop().await;

    let history = store.case_detail(&reference).await.unwrap().history;
    assert!(history.iter().any(|e| e.actor == "Ann Smit (e-mail)" && e.action == "progress-notice"), "{history:?}");
    assert!(!history.iter().any(|e| e.action == "final-response"));
    assert_eq!(w.stack.messages(&ria, "INBOX").await.len(), 2, "the complainant got no reply to the handlers' mails");
}

mod concurrency {
    use super::*;
    use klachtd::actions::Actions;
    use klachtd::domain::procedure::Outcome;
    use klachtd::store::{MessageRecord, NewCase, Registration, Store};

    on_both_databases!(two_concurrent_responses_queue_one_letter);

    fn email_case(n: usize) -> (NewCase, MessageRecord) {
        let d = chrono::NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
        let case = NewCase {
            source: "email",
            complainant_name: Some("Race Tester".into()),
            complainant_email: Some(format!("race{n}@example.test")),
            reply_to_name: None,
            reply_to_email: None,
            postal_address: None,
            subject: "race".into(),
            description: "race".into(),
            incomplete: vec![],
            received_on: d,
            received_at: 0,
            acknowledge_by: d,
            progress_by: d,
            respond_by: d,
            preferred_handler: None,
        };
        let message = MessageRecord {
            direction: "in",
            kind: "complaint".into(),
            dedupe_key: Some(format!("mid:race-{n}@example.test")),
            message_id: Some(format!("race-{n}@example.test")),
            from_address: None,
            subject: String::new(),
            body: String::new(),
            raw: None,
            note: String::new(),
            received_at: 0,
        };
        (case, message)
    }

    /// Two instances (two pools) respond to the same case at the same moment: one final
    /// response is queued, the other is refused. Several rounds, so the race really happens.
    async fn two_concurrent_responses_queue_one_letter(db: Db) {
        let w = World::new(db).await;
        let a = Store::open(&w.config.database.url, 4).await.unwrap();
        let b = Store::open(&w.config.database.url, 4).await.unwrap();
        let actions_a = std::sync::Arc::new(Actions::new(&w.config, a.clone(), klachtd::daemon::load_settings(&w.config).unwrap()).unwrap());
        let actions_b = std::sync::Arc::new(Actions::new(&w.config, b.clone(), klachtd::daemon::load_settings(&w.config).unwrap()).unwrap());
        for n in 0..8 {
            let (case, message) = email_case(n);
            let Registration::Registered { reference, .. } = a.register_case(&case, &message, &[], |_| None).await.unwrap() else { panic!("registered") };
            let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(2));
            let run = |actions: std::sync::Arc<Actions>, outcome: Outcome| {
                let (reference, barrier) = (reference.clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    actions.respond(&reference, outcome, "Bevindingen.".into(), String::new(), "racer").await.map_err(|e| e.to_string())
                })
            };
            let (x, y) = (run(actions_a.clone(), Outcome::Founded), run(actions_b.clone(), Outcome::Unfounded));
            let results = [x.await.unwrap(), y.await.unwrap()];
            let done = results.iter().filter(|r| r.is_ok()).count();
            let refused: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
            assert_eq!(done, 1, "round {n}: exactly one response: {results:?}");
            assert_eq!(refused.len(), 1, "round {n}: {results:?}");
            assert!(refused[0].contains("already has its final response"), "{}", refused[0]);
            let detail = a.case_detail(&reference).await.unwrap();
            let responses = detail.history.iter().filter(|e| e.action == "final-response").count();
            assert_eq!(responses, 1, "round {n}: one final response in the history");
            let letters: i64 = outbox_of(&w, &reference, "response").await;
            assert_eq!(letters, 1, "round {n}: one response letter queued");
        }
        a.close().await;
        b.close().await;
    }

    async fn outbox_of(w: &World, reference: &str, kind: &str) -> i64 {
        let pool = sqlx::AnyPool::connect(&w.config.database.url).await.unwrap();
        let n = sqlx::query_scalar("SELECT COUNT(*) FROM outbox o JOIN cases c ON c.id = o.case_id WHERE c.reference = $1 AND o.kind = $2")
            .bind(reference)
            .bind(kind)
            .fetch_one(&pool)
            .await
            .unwrap();
        pool.close().await;
        n
    }
}
