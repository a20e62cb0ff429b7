//! Handler actions from the command line (R2, R6-R11), with klachtd running: letters reach the
//! complainant threaded to the case, deadlines are met, refusals change nothing; the register
//! and retention.

use crate::common::*;
use klachtd::domain::case_action::CaseAction;
use klachtd::store::Table;

fn klachtd(config: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = klachtd_as_handler(config, args);
    cli_log().lock().unwrap().push_str(&out.2);
    out
}

on_both_databases!(
    handlers_act_by_replying_and_forgeries_do_nothing,
    the_procedure_from_progress_notice_to_final_response,
    paper_complaints_count_from_their_real_date,
    retention_removes_personal_data_and_keeps_the_register,
    refusals_change_nothing,
    the_register_counts_a_hand_made_month_exactly,
    a_reopened_case_counts_its_last_response,
    logs_carry_no_personal_data,
    an_action_by_mail_is_recorded_with_its_letter_or_not_at_all,
    letters_thread_only_to_their_own_recipient,
    acknowledgements_that_did_not_go_out_can_still_be_sent_or_recorded,
);

/// Everything the klachtd processes started by this test binary wrote to stderr (their log).
fn cli_log() -> &'static std::sync::Mutex<String> {
    static LOG: std::sync::OnceLock<std::sync::Mutex<String>> = std::sync::OnceLock::new();
    LOG.get_or_init(Default::default)
}

async fn setup(db: Db) -> (World, std::path::PathBuf, String) {
    setup_with(db, "").await
}

async fn setup_with(db: Db, more: &str) -> (World, std::path::PathBuf, String) {
    capture_logs();
    let ann = format!("{}@dienst.test", unique("ann"));
    let extra = format!("{ANSWER_ALL}[[handlers]]\nname = \"Ann Smit\"\nemail = \"{ann}\"\n{more}");
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
    let case = eventually("acknowledged", WAIT, || async { store.list_cases().await.unwrap().pop().filter(|c| c.acknowledgement_word() == "sent") }).await;
    let rs = case.reference.to_string();
    let r = rs.as_str();

    // Progress notice (R6), with the handler's own words.
    let msg = file(&w, "progress.txt", "We spreken uw coach volgende week.");
    let (code, out, err) = klachtd(&cfg, &["cases", "progress", r, "--expected", "2026-12-15", "--message-file", &msg]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("queued for {mia}")), "{out}");
    let mails = eventually("progress notice delivered", WAIT, || async { Some(w.stack.messages(&mia, "INBOX").await).filter(|m| m.len() == 2) }).await;
    let notice = parsed(&mails[1]);
    assert_eq!(notice.subject().unwrap(), format!("[{r}] Voortgang van de behandeling van uw klacht"));
    assert_eq!(notice.in_reply_to().as_text(), Some(complaint_id.as_str()));
    let body = text_of(&notice);
    assert!(body.contains("We spreken uw coach volgende week.") && body.contains("dinsdag 15 december 2026"), "{body}");
    eventually("progress deadline met", WAIT, || async { store.case_detail(&cref(r)).await.unwrap().summary.progress_sent_at.map(|_| ()) }).await;

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
    eventually("answer threaded", WAIT, || async { (store.case_detail(&cref(r)).await.unwrap().summary.messages == 2).then_some(()) }).await;

    // Clear refusals: one line, non-zero, nothing changed.
    let findings = file(&w, "findings.txt", "De coach heeft twee afspraken niet doorgegeven.");
    let (code, _, err) = klachtd(&cfg, &["cases", "respond", r, "--outcome", "half", "--findings-file", &findings]);
    assert_eq!((code, err.trim().lines().count()), (1, 1), "{err}");
    assert!(err.contains("\"half\" is not an outcome"), "{err}");
    let (code, _, err) = klachtd(&cfg, &["cases", "progress", "KL-1999-0009", "--expected", "2026-12-15"]);
    assert_eq!(code, 1);
    assert_eq!(err.trim(), "klachtd: er is geen zaak met kenmerk KL-1999-0009");
    // A NUL byte is refused before the database (PostgreSQL would refuse it, SQLite keep it).
    let nul = file(&w, "nul.txt", "De coach\0 kwam niet.");
    let (code, _, err) = klachtd(&cfg, &["cases", "respond", r, "--outcome", "founded", "--findings-file", &nul]);
    assert_eq!((code, err.trim().lines().count()), (1, 1), "{err}");
    assert!(err.contains("nul.txt contains a NUL character"), "{err}");
    assert_eq!(klachtd(&cfg, &["cases", "category", r, "staff"]).0, 0);
    assert_eq!(klachtd(&cfg, &["cases", "note", r, "Intern: coach gesproken."]).0, 0);

    // The final response (R8) states the external body (R11) and closes the case.
    let measures = file(&w, "measures.txt", "Afspraken worden voortaan bevestigd per sms.");
    let (code, out, err) = klachtd(&cfg, &["cases", "respond", r, "--outcome", "founded", "--findings-file", &findings, "--measures-file", &measures]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("closed"), "{out}");
    let mails = eventually("response delivered", WAIT, || async { Some(w.stack.messages(&mia, "INBOX").await).filter(|m| m.len() == 4) }).await;
    let response = text_of(&parsed(&mails[3]));
    // RFC 3834: the automatic acknowledgement is marked Auto-Submitted, the letters a handler
    // wrote are not.
    let (ack, progress_mail, letter) = (parsed(&mails[0]), parsed(&mails[1]), parsed(&mails[3]));
    assert_eq!(header(&ack, "Auto-Submitted"), Some("auto-replied"));
    assert_eq!(header(&progress_mail, "Auto-Submitted"), None);
    assert_eq!(header(&letter, "Auto-Submitted"), None);
    for needle in ["gegrond", "twee afspraken niet doorgegeven", "bevestigd per sms", "Nationale ombudsman", "Postbus 93122", "nationaleombudsman.nl"] {
        assert!(response.contains(needle), "{needle} missing in\n{response}");
    }
    // The letter can reach the mailbox before the daemon has recorded the server's acceptance
    // (and its event in the history): wait for that record before counting the history.
    eventually("response recorded as sent", WAIT, || async { store.case_detail(&cref(r)).await.unwrap().summary.responded_at.map(|_| ()) }).await;
    let before = store.case_detail(&cref(r)).await.unwrap();
    let (code, _, err) = klachtd(&cfg, &["cases", "respond", r, "--outcome", "unfounded", "--findings-file", &findings]);
    assert_eq!(code, 1);
    assert!(err.contains("heeft al een eindreactie"), "{err}");
    let (code, _, err) = klachtd(&cfg, &["cases", "progress", r, "--expected", "2026-12-20"]);
    assert_eq!(code, 1);
    assert!(err.contains("een voortgangsbericht komt daarvoor"), "{err}");
    assert_eq!(store.case_detail(&cref(r)).await.unwrap().history.len(), before.history.len(), "refusals change nothing");

    // Mail on a closed case is kept, the handler is told, the case stays closed.
    let late = format!(
        "From: Mia Vos <{mia}>\r\nTo: {}\r\nSubject: Re: [{r}] bedankt\r\nMessage-ID: <{}@example.test>\r\n\r\nDank u.\r\n",
        w.complaints,
        unique("late")
    );
    w.send(&mia, late.as_bytes()).await;
    let told = eventually("handler told", WAIT, || async {
        w.stack.messages(&ann, "INBOX").await.into_iter().find(|m| parsed(m).subject().unwrap_or("").contains("gesloten klacht"))
    })
    .await;
    assert_eq!(parsed(&told).subject().unwrap(), format!("[{r}] Nieuwe e-mail bij een gesloten klacht"));
    let after = store.case_detail(&cref(r)).await.unwrap();
    assert_eq!(after.summary.status.as_str(), "closed");
    assert_eq!(after.summary.messages, 3);

    assert_eq!(klachtd(&cfg, &["cases", "escalate", r, "--to", "Nationale ombudsman", "--date", "2026-12-20"]).0, 0);
    assert_eq!(klachtd(&cfg, &["cases", "reopen", r]).0, 0);
    let (code, _, err) = klachtd(&cfg, &["cases", "reopen", r]);
    assert_eq!(code, 1);
    assert!(err.contains("er is niets te heropenen"), "{err}");
    daemon.stop().await;

    let history: Vec<_> = store.case_detail(&cref(r)).await.unwrap().history.into_iter().map(|e| (e.actor, e.action)).collect();
    for action in ["progress-notice", "information-requested", "category", "note", "final-response", "handler-notified", "external-body", "reopened"] {
        assert!(history.iter().any(|(_, a)| *a == event(action)), "{action} missing in {history:?}");
    }
    assert!(history.iter().any(|(who, a)| who == "handler-ann" && *a == event("final-response")), "who acted is recorded");
    let notes_in_mail = w.stack.messages(&mia, "INBOX").await.iter().any(|m| String::from_utf8_lossy(m).contains("Intern: coach"));
    assert!(!notes_in_mail, "notes are never sent");
}

fn assert_private(path: &std::path::Path) {
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(path).unwrap().permissions()) & 0o777;
    assert_eq!(mode, 0o600, "{} is mode {mode:o}", path.display());
}

async fn paper_complaints_count_from_their_real_date(db: Db) {
    let (w, cfg, _) = setup(db).await;
    let desc = file(&w, "brief.txt", "Per brief: de coach was onvriendelijk.");
    let scan = file(&w, "scan.pdf", "%PDF-1.4 scan");
    let (code, out, err) = klachtd(
        &cfg,
        &[
            "cases",
            "register",
            "--name",
            "Henk Post",
            "--postal-address",
            "Dorpsstraat 1, Ergens",
            "--received",
            "2026-11-20",
            "--description-file",
            &desc,
            "--attach",
            &scan,
        ],
    );
    assert_eq!(code, 0, "{err}");
    let reference = out.split(':').next().unwrap().trim().to_string();
    assert!(out.contains("written to"), "{out}");
    let store = w.store().await;
    let case = store.case_detail(&cref(&reference)).await.unwrap();
    assert_eq!((case.summary.source, case.summary.received_on.to_string().as_str()), (klachtd::store::CaseSource::Post, "2026-11-20"));
    assert_eq!(
        (
            case.summary.acknowledge_by.to_string().as_str(),
            case.summary.progress_by.unwrap().to_string().as_str(),
            case.summary.respond_by.to_string().as_str()
        ),
        ("2026-11-27", "2026-12-04", "2026-12-18")
    );
    assert_eq!(case.attachment_list.len(), 1);
    assert_eq!(case.summary.handler.as_deref(), Some("Ann Smit"));
    let letters = w.config.storage.data_dir.join("letters");
    let letter = std::fs::read_to_string(letters.join(format!("{reference}-acknowledgement.txt"))).unwrap();
    assert!(letter.contains("Geachte Henk Post") && letter.contains("vrijdag 4 december 2026"), "{letter}");
    assert_private(&letters.join(format!("{reference}-acknowledgement.txt")));
    assert!(case.summary.acknowledged_at.is_none(), "not met until the letter is posted");
    assert_eq!(klachtd(&cfg, &["cases", "acknowledged", &reference, "--date", "2026-11-23"]).0, 0);
    assert!(store.case_detail(&cref(&reference)).await.unwrap().summary.acknowledged_at.is_some());

    // Two requests for information by post: two letters, the first one kept.
    let first = file(&w, "vraag1.txt", "Eerste vraag: welke coach?");
    let second = file(&w, "vraag2.txt", "Tweede vraag: welke datum?");
    let (code, out, err) = klachtd(&cfg, &["cases", "request-info", &reference, "--message-file", &first]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("{reference}-request-info.txt")), "{out}");
    let (code, out, err) = klachtd(&cfg, &["cases", "request-info", &reference, "--message-file", &second]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("{reference}-request-info-2.txt")), "{out}");
    let one = std::fs::read_to_string(letters.join(format!("{reference}-request-info.txt"))).unwrap();
    let two = std::fs::read_to_string(letters.join(format!("{reference}-request-info-2.txt"))).unwrap();
    assert!(one.contains("Eerste vraag") && !one.contains("Tweede vraag"), "{one}");
    assert!(two.contains("Tweede vraag"), "{two}");
    for name in std::fs::read_dir(&letters).unwrap().map(|e| e.unwrap().path()) {
        assert_private(&name);
        assert!(name.extension().is_some_and(|e| e == "txt"), "no temporary file is left behind: {}", name.display());
    }
    let dir_mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&letters).unwrap().permissions()) & 0o777;
    assert_eq!(dir_mode, 0o700, "the letters directory is private");

    // With an e-mail address the acknowledgement is mailed.
    let henk = format!("{}@example.test", unique("henk"));
    let (code, out, _) =
        klachtd(&cfg, &["cases", "register", "--name", "Henk Post", "--email", &henk, "--received", "2026-11-24", "--description-file", &desc]);
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
    let case = eventually("acknowledged", WAIT, || async { store.list_cases().await.unwrap().pop().filter(|c| c.acknowledgement_word() == "sent") }).await;
    let r = case.reference.clone();
    let findings = file(&w, "f.txt", "Noor had gelijk.");
    let measures = file(&w, "m.txt", "Werkinstructie aangepast.");
    assert_eq!(klachtd(&cfg, &["cases", "category", &r.to_string(), "process"]).0, 0);
    assert_eq!(
        klachtd(&cfg, &["cases", "respond", &r.to_string(), "--outcome", "partly-founded", "--findings-file", &findings, "--measures-file", &measures]).0,
        0
    );
    eventually("response sent", WAIT, || async { store.case_detail(&r).await.unwrap().summary.responded_at.map(|_| ()) }).await;
    daemon.stop().await;
    // An earlier failed attempt left its SMTP error, which can name the recipient.
    sql(
        &w,
        "UPDATE outbox SET last_error = 'smtp: 550 <noor@example.test> unknown' WHERE case_id = (SELECT id FROM cases WHERE reference = $1)",
        &r.to_string(),
    )
    .await;
    let dedupe_key: String =
        scalar(&w, "SELECT dedupe_key FROM messages WHERE case_id = (SELECT id FROM cases WHERE reference = $1) AND kind = 'complaint'", &r.to_string()).await;
    assert!(dedupe_key.starts_with("mid:"), "{dedupe_key}");

    // A paper complaint answered by post, received long before the report's period.
    let desc = file(&w, "brief.txt", "Per brief: Paula vertrouwt het niet.");
    let (code, out, err) = klachtd(
        &cfg,
        &["cases", "register", "--name", "Paula Papier", "--postal-address", "Geheimlaan 3, Ergens", "--received", "2026-01-05", "--description-file", &desc],
    );
    assert_eq!(code, 0, "{err}");
    let paper = out.split(':').next().unwrap().trim().to_string();
    assert_eq!(klachtd(&cfg, &["cases", "respond", &paper, "--outcome", "unfounded", "--findings-file", &findings]).0, 0);
    let letters_dir = w.config.storage.data_dir.join("letters");
    let letters_of = |reference: &str| -> Vec<String> {
        let mut names: Vec<String> =
            std::fs::read_dir(&letters_dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).filter(|n| n.contains(reference)).collect();
        names.sort();
        names
    };
    assert_eq!(letters_of(&paper), vec![format!("{paper}-acknowledgement.txt"), format!("{paper}-response.txt")]);

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
    let file_path = klachtd::store::attachments::AttachmentStore::new(&w.config.storage.data_dir).path_of(&attachment);
    assert!(file_path.exists());

    // Not yet: the case closed moments ago.
    let (code, out, _) = klachtd(&cfg, &["retention", "run"]);
    assert_eq!(code, 0);
    assert!(out.contains("from 0 case(s)"), "{out}");
    // A retention period that has passed (1 day; the case is made to have closed 2 days ago).
    let short = w.dir.path().join("short.toml");
    let text = std::fs::read_to_string(&cfg).unwrap() + "\n[retention]\npersonal_data_days = 1\n";
    std::fs::write(&short, text).unwrap();
    backdate_closing(&w, &r.to_string()).await;
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

    // The SMTP traces are gone; the dedupe key is a hash, and still recognises the mail.
    let traces: i64 = scalar(&w, "SELECT COUNT(*) FROM outbox WHERE case_id = (SELECT id FROM cases WHERE reference = $1) AND (last_error IS NOT NULL OR smtp_reply IS NOT NULL OR in_reply_to IS NOT NULL OR refs <> '')", &r.to_string()).await;
    assert_eq!(traces, 0, "SMTP replies, errors and threading headers are cleared");
    let hashed: String =
        scalar(&w, "SELECT dedupe_key FROM messages WHERE case_id = (SELECT id FROM cases WHERE reference = $1) AND kind = 'complaint'", &r.to_string()).await;
    assert_ne!(hashed, dedupe_key);
    assert!(!hashed.contains(dedupe_key.trim_start_matches("mid:")) && !hashed.contains("noor"), "{hashed}");
    assert!(seen(&w, store, &dedupe_key).await, "a re-delivered mail is still recognised");

    // The paper case's letters survive until its own retention period has passed.
    assert_eq!(letters_of(&paper).len(), 2);
    backdate_closing(&w, &paper).await;
    let (code, out, err) = klachtd(&short, &["retention", "run"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("from 1 case(s)"), "{out}");
    assert!(letters_of(&paper).is_empty(), "the printed letters are gone: {:?}", letters_of(&paper));
    assert_eq!(report(&short), before, "the register is still the same");

    // The same mail delivered again after retention is recognised, not a new complaint.
    let daemon = w.start();
    w.send(&noor, with_attachment.as_bytes()).await;
    eventually("re-delivery processed", WAIT, || async { (w.stack.messages(&w.complaints, &w.config.imap().processed_folder).await.len() == 2).then_some(()) })
        .await;
    daemon.stop().await;
    assert_eq!(store.count(Table::Cases).await.unwrap(), 2, "no new case for a re-delivered mail");
    assert!(!file_path.exists(), "a re-delivered mail leaves no copy of its attachment behind");
}

async fn sql(w: &World, statement: &'static str, reference: &str) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&w.config.database.url).await.unwrap();
    sqlx::query(statement).bind(reference).execute(&pool).await.unwrap();
    pool.close().await;
}

async fn scalar<T>(w: &World, statement: &'static str, reference: &str) -> T
where
    T: for<'r> sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any> + Send + Unpin,
{
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&w.config.database.url).await.unwrap();
    let v = sqlx::query_scalar(statement).bind(reference).fetch_one(&pool).await.unwrap();
    pool.close().await;
    v
}

/// Whether the intake would recognise a mail with this dedupe key (the look-up it makes itself).
async fn seen(w: &World, store: &klachtd::store::Store, dedupe_key: &str) -> bool {
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&w.config.database.url).await.unwrap();
    let seen = store.seen_on(&mut conn, dedupe_key).await.unwrap();
    let _ = sqlx::Connection::close(conn).await;
    !matches!(seen, klachtd::store::Seen::New)
}

/// Makes a case look closed two days ago (retention counts from the closing time).
async fn backdate_closing(w: &World, reference: &str) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&w.config.database.url).await.unwrap();
    let two_days_ago = chrono::Utc::now().timestamp() - 2 * 86_400;
    // The external body's term (a year after the final letter) is made to have passed as well:
    // retention keeps a case while it runs (tests/it/awb.rs).
    let term_passed = (chrono::Utc::now().date_naive() - chrono::Days::new(2)).to_string();
    sqlx::query("UPDATE cases SET closed_at = $1, external_term_ends = CASE WHEN external_term_ends IS NULL THEN NULL ELSE $2 END WHERE reference = $3")
        .bind(two_days_ago)
        .bind(term_passed)
        .bind(reference)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
}

const SECRET: &str = "0123456789abcdef-test-secret";

async fn handlers_act_by_replying_and_forgeries_do_nothing(db: Db) {
    capture_logs();
    let ann = format!("{}@dienst.test", unique("ann"));
    let bob = format!("{}@dienst.test", unique("bob"));
    let extra = format!(
        "{ANSWER_ALL}[assignment]\nrule = \"default\"\ndefault_handler = \"Ann Smit\"\n[[handlers]]\nname = \"Ann Smit\"\nemail = \"{ann}\"\n[[handlers]]\nname = \"Bob Berg\"\nemail = \"{bob}\"\n[actions_by_mail]\nsecret = \"{SECRET}\"\n"
    );
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
    let bobs_token = klachtd::domain::mail_actions::token(SECRET.as_bytes(), &cref(&reference), &bob);
    assert!(klachtd::domain::mail_actions::verify(SECRET.as_bytes(), &cref(&reference), &bob, &bobs_token), "a real token, for Bob");
    let wrong = reply(&ann, &format!("Re: [{reference}] {}", klachtd::domain::mail_actions::marker(&bobs_token)), "REACTIE unfounded\r\nOngegrond.");
    w.send(&ann, wrong.as_bytes()).await;
    eventually("forgeries kept as messages", WAIT, || async { (store.case_detail(&cref(&reference)).await.unwrap().summary.messages == 3).then_some(()) })
        .await;
    assert_eq!(store.case_detail(&cref(&reference)).await.unwrap().summary.status.as_str(), "open", "no forged response closed the case");

    // The real reply: a progress notice written in the handler's mail client.
    let real = reply(&ann, &format!("Re: {subject}"), "VOORTGANG 2026-12-18\r\nWe bellen u deze week.\r\n\r\nOp ma schreef klachtd:\r\n> oud");
    w.send(&ann, real.as_bytes()).await;
    let mails = eventually("progress notice to the complainant", WAIT, || async { Some(w.stack.messages(&ria, "INBOX").await).filter(|m| m.len() == 2) }).await;
    let body = text_of(&parsed(&mails[1]));
    assert!(body.contains("We bellen u deze week.") && body.contains("vrijdag 18 december 2026") && !body.contains("> oud"), "{body}");
    let confirmation = eventually("confirmation to the handler", WAIT, || async {
        w.stack.messages(&ann, "INBOX").await.into_iter().find(|m| parsed(m).subject().unwrap_or("").contains("Uitgevoerd"))
    })
    .await;
    assert_eq!(parsed(&confirmation).subject().unwrap(), format!("[{reference}] Uitgevoerd: voortgangsbericht"));
    let confirmed = text_of(&parsed(&confirmation));
    assert!(
        confirmed.contains("Deze tekst is verstuurd:\n\n  We bellen u deze week.") && !confirmed.contains("> oud"),
        "the handler sees what went out:\n{confirmed}"
    );

    // A reply the procedure refuses is confirmed as not done, with the reason.
    let bad = reply(&ann, &format!("Re: {subject}"), "REACTIE misschien\r\nTja.");
    w.send(&ann, bad.as_bytes()).await;
    let refused = eventually("refusal to the handler", WAIT, || async {
        w.stack.messages(&ann, "INBOX").await.into_iter().find(|m| parsed(m).subject().unwrap_or("").contains("Niet uitgevoerd"))
    })
    .await;
    assert!(text_of(&parsed(&refused)).contains("\"misschien\" is geen oordeel"));

    // Reassigned to Bob: Ann's token still verifies, but she no longer handles the case, so
    // her reply is ordinary mail and does nothing.
    store.assign(&cref(&reference), "Bob Berg", "supervisor-sam").await.unwrap();
    let before = snapshot(&w, &reference).await;
    let ann_mails = w.stack.messages(&ann, "INBOX").await.len();
    let messages = store.case_detail(&cref(&reference)).await.unwrap().summary.messages;
    let stale = reply(&ann, &format!("Re: {subject}"), "REACTIE unfounded\r\nOngegrond.");
    w.send(&ann, stale.as_bytes()).await;
    eventually("Ann's reply kept", WAIT, || async { (store.case_detail(&cref(&reference)).await.unwrap().summary.messages == messages + 1).then_some(()) })
        .await;
    let detail = store.case_detail(&cref(&reference)).await.unwrap();
    assert_eq!(detail.message_list.last().unwrap().kind.as_str(), "follow-up", "ordinary mail, not a handler action");
    assert_eq!(detail.summary.status.as_str(), "open");
    let after = snapshot(&w, &reference).await;
    assert_eq!(after.case, before.case, "the case is unchanged");
    assert_eq!(after.outbox, before.outbox, "nothing was sent");
    daemon.stop().await;
    assert_eq!(w.stack.messages(&ann, "INBOX").await.len(), ann_mails, "no confirmation or refusal to Ann");

    let history = store.case_detail(&cref(&reference)).await.unwrap().history;
    assert!(history.iter().any(|e| e.actor == "Ann Smit (e-mail)" && e.action == event("progress-notice")), "{history:?}");
    assert!(!history.iter().any(|e| e.action == event("final-response")));
    assert_eq!(w.stack.messages(&ria, "INBOX").await.len(), 2, "the complainant got no reply to the handlers' mails");
}

mod concurrency {
    use super::*;
    use klachtd::app::actions::Actions;
    use klachtd::domain::procedure::Outcome;
    use klachtd::store::Store;

    on_both_databases!(two_concurrent_responses_queue_one_letter);

    /// Two instances (two pools) respond to the same case at the same moment: one final
    /// response is queued, the other is refused. Several rounds, so the race really happens.
    async fn two_concurrent_responses_queue_one_letter(db: Db) {
        capture_logs();
        let w = World::new(db).await;
        let a = Store::open(&w.config.database.url, 4).await.unwrap();
        let b = Store::open(&w.config.database.url, 4).await.unwrap();
        let actions_a = std::sync::Arc::new(Actions::new(&w.config, a.clone(), klachtd::daemon::load_settings(&w.config).unwrap()).unwrap());
        let actions_b = std::sync::Arc::new(Actions::new(&w.config, b.clone(), klachtd::daemon::load_settings(&w.config).unwrap()).unwrap());
        for n in 0..8 {
            let d = chrono::NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
            let reference = register_by_hand(&a, &hand_made_case(Some("Race Tester"), &format!("race{n}@example.test"), "race", d, [d; 3])).await;
            let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(2));
            let run = |actions: std::sync::Arc<Actions>, outcome: Outcome| {
                let (reference, barrier) = (reference.clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    let respond = CaseAction::Respond { outcome, findings: "Bevindingen.".into(), measures: String::new() };
                    actions.perform(&reference, respond, "racer").await.map_err(|e| e.to_string())
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
            let responses = detail.history.iter().filter(|e| e.action == event("final-response")).count();
            assert_eq!(responses, 1, "round {n}: one final response in the history");
            let letters: i64 = outbox_of(&w, &reference.to_string(), "response").await;
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

/// What a refusal must leave alone: the case row, its outbox, its history, the letters on disk,
/// and the totals of the database.
#[derive(Debug, PartialEq)]
struct Snapshot {
    case: Option<String>,
    outbox: i64,
    history: i64,
    letters: Vec<String>,
    totals: (i64, i64, i64),
}

async fn snapshot(w: &World, reference: &str) -> Snapshot {
    use sqlx::Row;
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&w.config.database.url).await.unwrap();
    let row = sqlx::query(
        "SELECT status, outcome, findings, measures, closed_at, responded_at, acknowledged_at, progress_sent_at, expected_by, category,
                handler_id, external_body, external_on, anonymised_at, complainant_name, description
         FROM cases WHERE reference = $1",
    )
    .bind(reference)
    .fetch_optional(&pool)
    .await
    .unwrap();
    let case = row.map(|r| {
        let t = |i: usize| r.get::<Option<String>, _>(i);
        let n = |i: usize| r.get::<Option<i64>, _>(i);
        format!("{:?} {:?}", (t(0), t(1), t(2), t(3), n(4), n(5), n(6), n(7)), (t(8), t(9), n(10), t(11), t(12), n(13), t(14), t(15)))
    });
    let count = |sql: &'static str| {
        let pool = pool.clone();
        let reference = reference.to_string();
        async move { sqlx::query_scalar::<_, i64>(sql).bind(reference).fetch_one(&pool).await.unwrap() }
    };
    let outbox = count("SELECT COUNT(*) FROM outbox o JOIN cases c ON c.id = o.case_id WHERE c.reference = $1").await;
    let history = count("SELECT COUNT(*) FROM case_events e JOIN cases c ON c.id = e.case_id WHERE c.reference = $1").await;
    let totals = (
        count("SELECT COUNT(*) FROM cases WHERE reference <> $1").await,
        count("SELECT COUNT(*) FROM outbox WHERE message_id <> $1").await,
        count("SELECT COUNT(*) FROM case_events WHERE action <> $1").await,
    );
    pool.close().await;
    let mut letters: Vec<String> = std::fs::read_dir(w.config.storage.data_dir.join("letters"))
        .map(|d| d.map(|e| e.unwrap().file_name().into_string().unwrap()).collect())
        .unwrap_or_default();
    letters.sort();
    Snapshot { case, outbox, history, letters, totals }
}

fn d(month: u32, day: u32) -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, month, day).unwrap()
}

/// A complaint that came by e-mail, registered as intake would, with deadlines given by hand.
async fn email_case(store: &klachtd::store::Store, name: &str, received: chrono::NaiveDate, deadlines: [chrono::NaiveDate; 3]) -> String {
    let address = format!("{}@example.test", unique(&name.to_lowercase().replace(' ', ".")));
    let case = klachtd::store::NewCase {
        subject: format!("Klacht van {name}"),
        ..hand_made_case(Some(name), &address, &format!("{name} is ontevreden."), received, deadlines)
    };
    register_by_hand(store, &case).await.to_string()
}

/// Sets when a deadline was met (as if the server accepted the letter that day).
async fn met_on(w: &World, reference: &str, column: &str, day: chrono::NaiveDate) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&w.config.database.url).await.unwrap();
    let sql = format!("UPDATE cases SET {column} = $1 WHERE reference = $2");
    sqlx::query(sqlx::AssertSqlSafe(sql)).bind(noon(day)).bind(reference).execute(&pool).await.unwrap();
    pool.close().await;
}

async fn refusals_change_nothing(db: Db) {
    let (w, cfg, _) = setup(db).await;
    let store = w.store().await;
    let r = email_case(store, "Rob Refus", d(11, 2), [d(11, 9), d(11, 16), d(11, 30)]).await;
    let desc = file(&w, "brief.txt", "Per brief.");
    let (code, out, err) = klachtd(&cfg, &["cases", "register", "--name", "Pim Papier", "--received", "2026-11-20", "--description-file", &desc]);
    assert_eq!(code, 0, "{err}");
    let paper = out.split(':').next().unwrap().trim().to_string();
    let findings = file(&w, "findings.txt", "Bevindingen.");

    // Each refusal: one line on stderr, exit 1, and the same snapshot before and after.
    let refused = |args: Vec<String>, needle: &'static str, reference: String| {
        let (w, cfg) = (&w, &cfg);
        async move {
            let before = snapshot(w, &reference).await;
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let (code, _, err) = klachtd(cfg, &args);
            assert_eq!((code, err.trim().lines().count()), (1, 1), "{args:?}: {err}");
            assert!(err.contains(needle), "{args:?}: {err}");
            assert_eq!(snapshot(w, &reference).await, before, "{args:?} changed something");
        }
    };
    let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();

    refused(args(&["cases", "progress", "KL-1999-0009", "--expected", "2026-12-15"]), "er is geen zaak met kenmerk KL-1999-0009", r.clone()).await;
    refused(args(&["cases", "respond", "KL-1999-0009", "--outcome", "founded", "--findings-file", &findings]), "er is geen zaak met kenmerk", r.clone()).await;
    refused(args(&["cases", "respond", &r, "--outcome", "half", "--findings-file", &findings]), "\"half\" is not an outcome", r.clone()).await;
    // An e-mail case whose acknowledgement was sent: nothing to record by post.
    let mailed = email_case(store, "Mia Mailed", d(11, 2), [d(11, 9), d(11, 16), d(11, 30)]).await;
    met_on(&w, &mailed, "acknowledged_at", d(11, 2)).await;
    refused(args(&["cases", "acknowledged", &mailed, "--date", "2026-11-03"]), "is de ontvangstbevestiging al vastgelegd (02-11-2026)", mailed.clone()).await;
    refused(args(&["cases", "release-acknowledgement", &mailed]), "heeft al een ontvangstbevestiging (02-11-2026)", mailed.clone()).await;
    refused(args(&["cases", "reopen", &r]), "er is niets te heropenen", r.clone()).await;

    assert_eq!(klachtd(&cfg, &["cases", "respond", &r, "--outcome", "founded", "--findings-file", &findings]).0, 0);
    refused(args(&["cases", "respond", &r, "--outcome", "unfounded", "--findings-file", &findings]), "heeft al een eindreactie", r.clone()).await;
    refused(args(&["cases", "progress", &r, "--expected", "2026-12-20"]), "een voortgangsbericht komt daarvoor", r.clone()).await;
    refused(args(&["cases", "request-info", &r, "--message-file", &findings]), "heropen de zaak eerst", r.clone()).await;

    // A paper case by post: refusals leave its letters alone too.
    assert_eq!(klachtd(&cfg, &["cases", "acknowledged", &paper, "--date", "2026-11-23"]).0, 0);
    refused(args(&["cases", "acknowledged", &paper, "--date", "2026-11-24"]), "is de ontvangstbevestiging al vastgelegd (23-11-2026)", paper.clone()).await;
    assert_eq!(klachtd(&cfg, &["cases", "respond", &paper, "--outcome", "founded", "--findings-file", &findings]).0, 0);
    refused(args(&["cases", "respond", &paper, "--outcome", "founded", "--findings-file", &findings]), "heeft al een eindreactie", paper.clone()).await;
    refused(args(&["cases", "progress", &paper, "--expected", "2026-12-20"]), "een voortgangsbericht komt daarvoor", paper.clone()).await;
    let letters = snapshot(&w, &paper).await.letters;
    assert_eq!(letters, vec![format!("{paper}-acknowledgement.txt"), format!("{paper}-response.txt")], "no letter of a refused action is left");
}

/// A month built by hand, on both databases, through the actions themselves; the dates on which
/// deadlines were met are set by hand. Every figure below is counted by hand.
async fn the_register_counts_a_hand_made_month_exactly(db: Db) {
    let (w, cfg, _) = setup(db).await;
    let store = w.store().await;
    let text = |name: &str, t: &str| file(&w, name, t);
    let ask = text("ask.txt", "Welke datum?");
    let found = text("findings.txt", "Bevindingen.");
    let ok = |out: (i32, String, String)| {
        assert_eq!(out.0, 0, "{}", out.2);
        out.1
    };

    // A: e-mail, Mon 2 March; request for information by mail; founded with measures.
    let a = email_case(store, "Anna Mail", d(3, 2), [d(3, 9), d(3, 16), d(3, 30)]).await;
    ok(klachtd(&cfg, &["cases", "category", &a, "staff"]));
    assert!(ok(klachtd(&cfg, &["cases", "request-info", &a, "--message-file", &ask])).contains("queued for"));
    ok(klachtd(&cfg, &["cases", "progress", &a, "--expected", "2026-03-25"]));
    let m_a = text("ma.txt", "Coach krijgt extra begeleiding.");
    ok(klachtd(&cfg, &["cases", "respond", &a, "--outcome", "founded", "--findings-file", &found, "--measures-file", &m_a]));
    met_on(&w, &a, "acknowledged_at", d(3, 3)).await;
    met_on(&w, &a, "progress_sent_at", d(3, 10)).await;
    met_on(&w, &a, "responded_at", d(3, 20)).await; // 14 working days

    // B: paper without e-mail, Tue 3 March; request for information by post; unfounded by post;
    // taken to the external body.
    let desc = text("brief.txt", "Per brief.");
    let b = ok(klachtd(
        &cfg,
        &["cases", "register", "--name", "Bert Brief", "--postal-address", "Laan 1", "--received", "2026-03-03", "--description-file", &desc],
    ));
    let b = b.split(':').next().unwrap().trim().to_string();
    let s = store.case_detail(&cref(&b)).await.unwrap().summary;
    assert_eq!([s.acknowledge_by, s.progress_by.unwrap(), s.respond_by].map(|d| d.to_string()), ["2026-03-10", "2026-03-17", "2026-03-31"]);
    ok(klachtd(&cfg, &["cases", "category", &b, "service"]));
    assert!(ok(klachtd(&cfg, &["cases", "request-info", &b, "--message-file", &ask])).contains("for printing"));
    ok(klachtd(&cfg, &["cases", "acknowledged", &b, "--date", "2026-03-05"]));
    ok(klachtd(&cfg, &["cases", "respond", &b, "--outcome", "unfounded", "--findings-file", &found]));
    met_on(&w, &b, "responded_at", d(3, 12)).await; // 7 working days
    ok(klachtd(&cfg, &["cases", "escalate", &b, "--to", "Nationale ombudsman", "--date", "2026-03-20"]));

    // C: e-mail, Wed 4 March; acknowledged late; responded, reopened, responded again late.
    let c = email_case(store, "Cor Mail", d(3, 4), [d(3, 11), d(3, 18), d(4, 1)]).await;
    ok(klachtd(&cfg, &["cases", "category", &c, "process"]));
    ok(klachtd(&cfg, &["cases", "progress", &c, "--expected", "2026-03-25"]));
    let first = text("first.txt", "Eerste maatregel.");
    ok(klachtd(&cfg, &["cases", "respond", &c, "--outcome", "founded", "--findings-file", &found, "--measures-file", &first]));
    met_on(&w, &c, "acknowledged_at", d(3, 12)).await;
    met_on(&w, &c, "progress_sent_at", d(3, 18)).await;
    met_on(&w, &c, "responded_at", d(3, 20)).await;
    ok(klachtd(&cfg, &["cases", "reopen", &c]));
    let m_c = text("mc.txt", "Werkinstructie aangepast.");
    ok(klachtd(&cfg, &["cases", "respond", &c, "--outcome", "partly-founded", "--findings-file", &found, "--measures-file", &m_c]));
    met_on(&w, &c, "responded_at", d(4, 2)).await; // 21 working days; due 1 April

    // D: paper with e-mail, Mon 9 March; nothing done yet (its acknowledgement is queued).
    ok(klachtd(
        &cfg,
        &["cases", "register", "--name", "Dirk Digitaal", "--email", "dirk@example.test", "--received", "2026-03-09", "--description-file", &desc],
    ));

    // E: e-mail, 27 February, outside the period, with everything that would count.
    let e = email_case(store, "Eva Eerder", d(2, 27), [d(3, 6), d(3, 13), d(3, 27)]).await;
    ok(klachtd(&cfg, &["cases", "category", &e, "other"]));
    ok(klachtd(&cfg, &["cases", "request-info", &e, "--message-file", &ask]));
    ok(klachtd(&cfg, &["cases", "escalate", &e, "--to", "Nationale ombudsman", "--date", "2026-03-20"]));
    ok(klachtd(&cfg, &["cases", "respond", &e, "--outcome", "founded", "--findings-file", &found, "--measures-file", &m_a]));
    met_on(&w, &e, "responded_at", d(3, 2)).await;

    let json = ok(klachtd(&cfg, &["report", "--from", "2026-03-01", "--to", "2026-03-31", "--format", "json"]));
    let r: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(r["received"], 4, "{json}");
    assert_eq!(r["by_category"], serde_json::json!({"process": 1, "service": 1, "staff": 1, "uncategorised": 1}), "{json}");
    assert_eq!(r["by_outcome"], serde_json::json!({"founded": 1, "open": 1, "partly-founded": 1, "unfounded": 1}), "{json}");
    // As of 31/3 (the end of the period). Acknowledgement: A 3/3 and B 5/3 on time, C 12/3
    // after 11/3 late, D's (due 16/3) missed.
    assert_eq!(r["acknowledgement"], serde_json::json!({"on_time": 2, "late": 1, "open": 0, "missed": 1}), "{json}");
    // Progress notice: A 10/3 and C 18/3 on time; B's (due 17/3) and D's (due 23/3) missed.
    assert_eq!(r["progress_notice"], serde_json::json!({"on_time": 2, "late": 0, "open": 0, "missed": 2}), "{json}");
    // Final response: A 20/3 and B 12/3 on time, C's final one 2/4 after 1/4 late, D's not due
    // before April: open.
    assert_eq!(r["final_response"], serde_json::json!({"on_time": 2, "late": 1, "open": 1, "missed": 0}), "{json}");
    // Working days to the response: B 7, A 14, C 21 (its final response, not the first).
    assert_eq!(r["handling_days_median"].as_f64(), Some(14.0), "{json}");
    assert_eq!(r["handling_days_longest"], 21, "{json}");
    // One request by mail (A), one by post (B).
    assert_eq!(r["requests_for_information"], 2, "{json}");
    assert_eq!(r["external_escalations"], 1, "{json}");
    assert_eq!(r["measures"], serde_json::json!([[a, "Coach krijgt extra begeleiding."], [c, "Werkinstructie aangepast."]]), "{json}");

    // The reopened case keeps its earlier response in the history.
    let reopened = store.case_detail(&cref(&c)).await.unwrap().history.into_iter().find(|e| e.action == event("reopened")).unwrap();
    assert!(reopened.detail.contains("outcome founded, sent 2026-03-20") && reopened.detail.contains("Eerste maatregel."), "{}", reopened.detail);
}

/// A final response that is still in the outbox when the case is reopened does not meet the
/// deadline once it goes; the next response does. Reopening clears the live response.
async fn a_reopened_case_counts_its_last_response(db: Db) {
    let (w, cfg, _) = setup(db).await;
    let store = w.store().await;
    let r = email_case(store, "Rita Heropend", d(11, 2), [d(11, 9), d(11, 16), d(11, 30)]).await;
    let found = file(&w, "findings.txt", "Bevindingen.");
    let measures = file(&w, "m.txt", "Maatregel.");
    assert_eq!(klachtd(&cfg, &["cases", "respond", &r, "--outcome", "founded", "--findings-file", &found, "--measures-file", &measures]).0, 0);
    let lease = std::time::Duration::from_secs(300);
    let old = store.claim_outbox("test", lease, klachtd::store::Claim::ANY).await.unwrap().expect("the first response");
    assert_eq!(klachtd(&cfg, &["cases", "reopen", &r]).0, 0);
    let open = snapshot(&w, &r).await.case.unwrap();
    assert!(open.starts_with("(Some(\"open\"), None, None, None, None, None,"), "outcome, findings, measures, closing and response cleared: {open}");
    store.outbox_sent(&old, "250 ok").await.unwrap();
    assert_eq!(store.case_detail(&cref(&r)).await.unwrap().summary.responded_at, None, "the old letter answers no open case");

    assert_eq!(klachtd(&cfg, &["cases", "respond", &r, "--outcome", "unfounded", "--findings-file", &found]).0, 0);
    let new = store.claim_outbox("test", lease, klachtd::store::Claim::ANY).await.unwrap().expect("the second response");
    store.outbox_sent(&new, "250 ok").await.unwrap();
    let detail = store.case_detail(&cref(&r)).await.unwrap();
    assert!(detail.summary.responded_at.is_some());
    assert_eq!(detail.summary.status.as_str(), "closed");
    let history: Vec<_> = detail.history.iter().map(|e| e.action).collect();
    assert_eq!(history.iter().filter(|a| **a == event("final-response")).count(), 2, "{history:?}");
    let reopened = detail.history.iter().find(|e| e.action == event("reopened")).unwrap();
    assert!(reopened.detail.contains("outcome founded, sent not yet") && reopened.detail.contains("Maatregel."), "{}", reopened.detail);
}

/// R9: at info level the logs (the daemon's, and the commands') carry references and counts,
/// never a complainant's name, address or words, across every kind of action.
async fn logs_carry_no_personal_data(db: Db) {
    let (w, cfg, ann) = setup_with(db, &format!("[actions_by_mail]\nsecret = \"{SECRET}\"\n")).await;
    let cli_start = cli_log().lock().unwrap().len();
    let daemon_start = daemon_log().lock().unwrap().len();
    let saskia = format!("{}@geheimdomein.test", unique("saskia.zwijgers"));
    let private = [
        "Saskia Zwijgers".to_string(),
        "Zwijgers".into(),
        saskia.clone(),
        "geheimdomein".into(),
        "Onderwerp Vertrouwelijk".into(),
        "Mijn dossier nummer 4711".into(),
        "Bevinding Zwijgplicht".into(),
        "Maatregel Zwijgplicht".into(),
        "Notitie Zwijgplicht".into(),
        "Vraag Zwijgplicht".into(),
        "Gerrit Papierbrief".into(),
        "Kerkpad 7".into(),
        "Nergenshuizen".into(),
        "Brieftekst Onvriendelijk".into(),
        "Nagekomen Zwijgplicht".into(),
    ];
    let daemon = w.start();
    let (_, raw) = w.complaint("Saskia Zwijgers", &saskia, "Onderwerp Vertrouwelijk", "Mijn dossier nummer 4711 is zoek.");
    w.send(&saskia, &raw).await;
    let store = w.store().await;
    let case = eventually("acknowledged", WAIT, || async { store.list_cases().await.unwrap().pop().filter(|c| c.acknowledgement_word() == "sent") }).await;
    let r = case.reference.clone();

    // Handler actions at the command line.
    let ask = file(&w, "ask.txt", "Vraag Zwijgplicht: wanneer?");
    assert_eq!(klachtd(&cfg, &["cases", "progress", &r.to_string(), "--expected", "2026-12-15"]).0, 0);
    assert_eq!(klachtd(&cfg, &["cases", "request-info", &r.to_string(), "--message-file", &ask]).0, 0);
    assert_eq!(klachtd(&cfg, &["cases", "note", &r.to_string(), "Notitie Zwijgplicht"]).0, 0);
    assert_eq!(klachtd(&cfg, &["cases", "category", &r.to_string(), "staff"]).0, 0);

    // Actions by mail: a note and the final response.
    let notice = eventually("assignment notice", WAIT, || async { w.stack.messages(&ann, "INBOX").await.into_iter().next() }).await;
    let subject = parsed(&notice).subject().unwrap().to_string();
    let reply = |body: &str| {
        format!("From: Ann Smit <{ann}>\r\nTo: {}\r\nSubject: Re: {subject}\r\nMessage-ID: <{}@dienst.test>\r\n\r\n{body}\r\n", w.complaints, unique("act"))
    };
    w.send(&ann, reply("NOTITIE\r\nNotitie Zwijgplicht per mail").as_bytes()).await;
    w.send(&ann, reply("REACTIE founded\r\nBevinding Zwijgplicht.\r\nMAATREGELEN:\r\nMaatregel Zwijgplicht.").as_bytes()).await;
    eventually("closed by mail", WAIT, || async { (store.case_detail(&r).await.unwrap().summary.status.as_str() == "closed").then_some(()) }).await;

    // Mail on the closed case.
    let late = format!("From: Saskia Zwijgers <{saskia}>\r\nTo: {}\r\nSubject: Re: [{r}] Nagekomen Zwijgplicht\r\nMessage-ID: <{}@geheimdomein.test>\r\n\r\nNagekomen Zwijgplicht.\r\n", w.complaints, unique("late"));
    w.send(&saskia, late.as_bytes()).await;
    eventually("handler told", WAIT, || async {
        w.stack.messages(&ann, "INBOX").await.into_iter().find(|m| parsed(m).subject().unwrap_or("").contains("gesloten klacht"))
    })
    .await;

    // A paper complaint, answered by post.
    let desc = file(&w, "brief.txt", "Brieftekst Onvriendelijk behandeld.");
    let (code, out, err) = klachtd(
        &cfg,
        &[
            "cases",
            "register",
            "--name",
            "Gerrit Papierbrief",
            "--postal-address",
            "Kerkpad 7, Nergenshuizen",
            "--received",
            "2026-11-20",
            "--description-file",
            &desc,
        ],
    );
    assert_eq!(code, 0, "{err}");
    let paper = out.split(':').next().unwrap().trim().to_string();
    assert_eq!(klachtd(&cfg, &["cases", "request-info", &paper, "--message-file", &ask]).0, 0);
    assert_eq!(klachtd(&cfg, &["cases", "acknowledged", &paper, "--date", "2026-11-23"]).0, 0);
    let findings = file(&w, "f.txt", "Bevinding Zwijgplicht over Gerrit Papierbrief.");
    assert_eq!(klachtd(&cfg, &["cases", "respond", &paper, "--outcome", "unfounded", "--findings-file", &findings]).0, 0);
    daemon.stop().await;

    // Retention, by the daemon's code and by the command.
    backdate_closing(&w, &r.to_string()).await;
    backdate_closing(&w, &paper).await;
    assert_eq!(klachtd::app::retention::run_retention(store, &w.config.storage.data_dir, 1).await.unwrap(), 2);
    assert_eq!(klachtd(&cfg, &["retention", "run"]).0, 0);

    let daemon_text = String::from_utf8_lossy(&daemon_log().lock().unwrap()[daemon_start..]).into_owned();
    let cli_text = cli_log().lock().unwrap()[cli_start..].to_string();
    assert!(daemon_text.contains(&r.to_string()) && daemon_text.contains("personal data removed"), "the daemon's log was captured:\n{daemon_text}");
    assert!(daemon_text.contains("handler action by mail"), "{daemon_text}");
    for secret in &private {
        assert!(!daemon_text.contains(secret.as_str()), "{secret:?} appears in the daemon's log:\n{daemon_text}");
        assert!(!cli_text.contains(secret.as_str()), "{secret:?} appears in a command's log:\n{cli_text}");
    }
}

/// A handler's reply as a mail client sends it: `body` above an Outlook quote of the notice.
fn outlook_reply(from: &str, to: &str, reference: &str, token: &str, body: &str) -> (String, Vec<u8>) {
    let id = format!("{}@dienst.test", unique("act"));
    let marker = klachtd::domain::mail_actions::marker(token);
    let raw = format!(
        "From: Ann Smit <{from}>\r\nTo: {to}\r\nSubject: RE: [{reference}] Klacht aan u toegewezen {marker}\r\nMessage-ID: <{id}>\r\n\r\n{body}\r\n\r\n________________________________\r\nVan: Klachtenbehandeling <{to}>\r\nVerzonden: maandag 30 november 2026 10:00\r\nAan: Ann Smit <{from}>\r\nOnderwerp: [{reference}] Klacht aan u toegewezen {marker}\r\n\r\nBeste Ann Smit,\r\n\r\nDe klacht {reference} is aan u toegewezen.\r\n"
    );
    (id, raw.into_bytes())
}

/// Opens the database as the daemon does (with the configured handlers).
async fn daemon_store(w: &World) -> klachtd::store::Store {
    klachtd::daemon::open_store(&w.config).await.unwrap()
}

async fn outbox_rows(w: &World, reference: &str) -> Vec<(String, String, Option<String>, String, String, String)> {
    use sqlx::Row;
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&w.config.database.url).await.unwrap();
    let rows = sqlx::query(
        "SELECT o.kind, o.recipient, o.in_reply_to, o.refs, o.body, o.status FROM outbox o JOIN cases c ON c.id = o.case_id WHERE c.reference = $1 ORDER BY o.id",
    )
    .bind(reference)
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5))).collect()
}

/// An action by mail and the record of its mail commit together: a database error during the
/// action records nothing and tells the handler nothing (the mailbox tries the mail again), the
/// retry does it once, and every later attempt with the same mail is a duplicate.
async fn an_action_by_mail_is_recorded_with_its_letter_or_not_at_all(db: Db) {
    let (w, _, ann) = setup_with(db, &format!("[actions_by_mail]\nsecret = \"{SECRET}\"\n")).await;
    let store = daemon_store(&w).await;
    let r = email_case(&store, "Ria Retry", d(11, 2), [d(11, 9), d(11, 16), d(11, 30)]).await;
    let settings = klachtd::daemon::load_settings(&w.config).unwrap();
    let actions = std::sync::Arc::new(klachtd::app::actions::Actions::new(&w.config, store.clone(), settings.clone()).unwrap());
    let intake = klachtd::app::intake::Intake::new(
        &w.config,
        store.clone(),
        settings,
        actions.clone(),
        chrono::Utc::now(),
        std::sync::Arc::new(tokio::sync::Notify::new()),
    );
    let token = klachtd::domain::mail_actions::token(SECRET.as_bytes(), &cref(&r), &ann);
    let (id, raw) = outlook_reply(&ann, &w.complaints, &r, &token, "VOORTGANG 2026-12-18\r\nWe bellen u deze week.");

    // The database refuses the letter: nothing is recorded, and the mail is to be tried again.
    let pg = matches!(db, Db::Postgres);
    let failing: &[&'static str] = if pg {
        &[
            "CREATE FUNCTION fail_progress() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'simulated database failure'; END $$",
            "CREATE TRIGGER fail_progress BEFORE INSERT ON outbox FOR EACH ROW WHEN (NEW.kind = 'progress') EXECUTE FUNCTION fail_progress()",
        ]
    } else {
        &["CREATE TRIGGER fail_progress BEFORE INSERT ON outbox WHEN NEW.kind = 'progress' BEGIN SELECT RAISE(ABORT, 'simulated database failure'); END"]
    };
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&w.config.database.url).await.unwrap();
    for statement in failing {
        sqlx::raw_sql(sqlx::AssertSqlSafe(statement.to_string())).execute(&pool).await.unwrap();
    }
    let before = snapshot(&w, &r).await;
    let failed = intake.process_alone(&raw, chrono::Utc::now()).await;
    assert!(matches!(failed, Err(klachtd::app::intake::IntakeError::Store(_))), "{failed:?}");
    assert_eq!(snapshot(&w, &r).await, before, "nothing of the action, its mail or its confirmation is recorded");
    assert!(!seen(&w, &store, &format!("mid:{id}")).await, "the mail is not marked as done");
    sqlx::raw_sql("DROP TRIGGER fail_progress ON outbox").execute(&pool).await.ok();
    sqlx::raw_sql("DROP TRIGGER IF EXISTS fail_progress").execute(&pool).await.ok();
    pool.close().await;

    // Tried again: done once, confirmed once; the quoted notice (and its token) stays out.
    assert_eq!(intake.process_alone(&raw, chrono::Utc::now()).await.unwrap(), klachtd::app::intake::Outcome::FollowUp { reference: cref(&r) });
    assert_eq!(intake.process_alone(&raw, chrono::Utc::now()).await.unwrap(), klachtd::app::intake::Outcome::Duplicate);
    // A second attempt that got past the duplicate check (another instance, or a crash
    // before the mailbox moved the mail) finds the mail recorded inside its transaction.
    let record = klachtd::store::MessageRecord {
        direction: klachtd::domain::history::Direction::In,
        kind: klachtd::domain::history::MessageKind::HandlerAction,
        dedupe_key: Some(format!("mid:{id}")),
        message_id: Some(id.clone()),
        from_address: Some(ann.clone()),
        subject: String::new(),
        body: String::new(),
        raw: None,
        raw_file: None,
        note: String::new(),
        received_at: 0,
    };
    let again = actions
        .carry_out_reply(
            store.case_link(&cref(&r)).await.unwrap().unwrap().id,
            &cref(&r),
            "Ann Smit",
            &ann,
            &token,
            record,
            "VOORTGANG 2026-12-18\nWe bellen u deze week.",
        )
        .await
        .unwrap();
    assert_eq!(again, klachtd::app::actions::ReplyDone::AlreadyRecorded);
    let rows = outbox_rows(&w, &r).await;
    let progress: Vec<_> = rows.iter().filter(|o| o.0 == "progress").collect();
    assert_eq!(progress.len(), 1, "one letter: {rows:?}");
    assert!(progress[0].4.contains("We bellen u deze week.") && !progress[0].4.contains("Verzonden:") && !progress[0].4.contains(&token), "{}", progress[0].4);
    let confirmations: Vec<_> = rows.iter().filter(|o| o.0 == "confirmation").collect();
    assert_eq!(confirmations.len(), 1, "{rows:?}");
    assert!(!confirmations[0].4.contains("database"), "{}", confirmations[0].4);
    let detail = store.case_detail(&cref(&r)).await.unwrap();
    assert_eq!(detail.message_list.iter().filter(|m| m.kind.as_str() == "handler-action").count(), 1);
    assert_eq!(detail.history.iter().filter(|e| e.action == event("progress-notice")).count(), 1);

    // The last guard: a letter text that carries the token is refused and says why.
    let (_, leaky) = outlook_reply(&ann, &w.complaints, &r, &token, &format!("INFO\r\nWat bedoelt u met {token}?"));
    assert_eq!(intake.process_alone(&leaky, chrono::Utc::now()).await.unwrap(), klachtd::app::intake::Outcome::FollowUp { reference: cref(&r) });
    let rows = outbox_rows(&w, &r).await;
    assert!(!rows.iter().any(|o| o.0 == "request-info"), "no letter with the token: {rows:?}");
    let refusal = rows.iter().rev().find(|o| o.0 == "confirmation").unwrap();
    assert!(refusal.4.contains("Niet uitgevoerd") || refusal.4.contains("niet uitgevoerd"), "{}", refusal.4);
    assert!(refusal.4.contains("actiecode"), "{}", refusal.4);

    // Dutch outcome words.
    let (_, respond) = outlook_reply(
        &ann,
        &w.complaints,
        &r,
        &token,
        "REACTIE deels gegrond\r\nDe coach belde te laat.\r\nMAATREGELEN:\r\nEen belafspraak.\r\n-- \r\nAnn Smit\r\nTeamleider",
    );
    intake.process_alone(&respond, chrono::Utc::now()).await.unwrap();
    let detail = store.case_detail(&cref(&r)).await.unwrap();
    assert_eq!(detail.summary.status.as_str(), "closed");
    let response = outbox_rows(&w, &r).await.into_iter().find(|o| o.0 == "response").unwrap().4;
    assert!(response.contains("gedeeltelijk gegrond") && response.contains("Een belafspraak.") && !response.contains("Teamleider"), "{response}");
}

/// In-Reply-To and References: a letter to the complainant threads to their own mails and our
/// letters to them, never to a handler's action mail, automated mail or a third party's mail;
/// a letter to a third party carries none of the complainant's Message-IDs. A bad `--to` is
/// refused and changes nothing.
async fn letters_thread_only_to_their_own_recipient(db: Db) {
    let bob = format!("{}@dienst.test", unique("bob"));
    let (w, cfg, ann) = setup_with(db, &format!("[[handlers]]\nname = \"Bob Berg\"\nemail = \"{bob}\"\n")).await;
    let store = daemon_store(&w).await;
    let r = email_case(&store, "Tom Thread", d(11, 2), [d(11, 9), d(11, 16), d(11, 30)]).await;
    let complainant = store.case_detail(&cref(&r)).await.unwrap().summary.complainant_email.unwrap();
    let complaint_id = scalar::<String>(&w, "SELECT m.message_id FROM messages m JOIN cases c ON c.id = m.case_id WHERE c.reference = $1", &r).await;
    let case_id = store.case_link(&cref(&r)).await.unwrap().unwrap().id;
    let message = |kind: &str, id: &str, from: &str| klachtd::store::MessageRecord {
        direction: klachtd::domain::history::Direction::In,
        kind: kind.parse().unwrap(),
        dedupe_key: Some(format!("mid:{id}")),
        message_id: Some(id.into()),
        from_address: Some(from.into()),
        subject: String::new(),
        body: String::new(),
        raw: None,
        raw_file: None,
        note: String::new(),
        received_at: 0,
    };
    let third = format!("{}@elders.test", unique("coach"));
    for (kind, id, from) in [
        ("follow-up", "own-follow-up@example.test", complainant.as_str()),
        ("handler-action", "handler-action@dienst.test", ann.as_str()),
        ("automated", "bounce@example.test", "mailer-daemon@example.test"),
        ("follow-up", "third-party@elders.test", third.as_str()),
    ] {
        assert!(store.record_message(Some(case_id), &message(kind, id, from), &[]).await.unwrap());
    }
    let sent = |w: &World| {
        let url = w.config.database.url.clone();
        async move {
            let pool = sqlx::AnyPool::connect(&url).await.unwrap();
            sqlx::query("UPDATE outbox SET status = 'sent', sent_at = 1 WHERE status = 'pending'").execute(&pool).await.unwrap();
            pool.close().await;
        }
    };
    // A notice to a handler that went out must not be threaded to either.
    let subject_of = store.case_detail(&cref(&r)).await.unwrap().summary.handler.unwrap();
    assert_eq!(klachtd(&cfg, &["cases", "subject", &r, &subject_of]).0, 0);
    sent(&w).await;

    assert_eq!(klachtd(&cfg, &["cases", "progress", &r, "--expected", "2026-12-15"]).0, 0);
    let rows = outbox_rows(&w, &r).await;
    let progress = rows.iter().find(|o| o.0 == "progress").unwrap();
    assert_eq!(progress.2.as_deref(), Some("own-follow-up@example.test"));
    assert_eq!(progress.3, format!("{complaint_id} own-follow-up@example.test"));
    sent(&w).await;

    // To a third party: a fresh thread.
    let ask = file(&w, "ask.txt", "Wanneer had u afgesproken?");
    let (code, out, err) = klachtd(&cfg, &["cases", "request-info", &r, "--message-file", &ask, "--to", &third]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&third), "{out}");
    sent(&w).await;
    let (code, _, err) = klachtd(&cfg, &["cases", "request-info", &r, "--message-file", &ask, "--to", &third]);
    assert_eq!(code, 0, "{err}");
    let rows = outbox_rows(&w, &r).await;
    let requests: Vec<_> = rows.iter().filter(|o| o.0 == "request-info").collect();
    assert_eq!(requests.len(), 2);
    assert_eq!((requests[0].2.as_deref(), requests[0].3.as_str()), (None, ""), "the first letter to a third party starts a thread");
    let first_id = scalar::<String>(
        &w,
        "SELECT o.message_id FROM outbox o JOIN cases c ON c.id = o.case_id WHERE c.reference = $1 AND o.kind = 'request-info' ORDER BY o.id LIMIT 1",
        &r,
    )
    .await;
    assert_eq!((requests[1].2.as_deref(), requests[1].3.clone()), (None, first_id.clone()), "only our earlier letter to them");
    for request in &requests {
        assert!(!request.3.contains("example.test") && !request.3.contains("dienst.test"), "{request:?}");
    }
    sent(&w).await;

    // The complainant's next letter threads to their mails and our letters to them only.
    let findings = file(&w, "findings.txt", "Bevindingen.");
    assert_eq!(klachtd(&cfg, &["cases", "respond", &r, "--outcome", "founded", "--findings-file", &findings]).0, 0);
    let rows = outbox_rows(&w, &r).await;
    let response = rows.iter().find(|o| o.0 == "response").unwrap();
    let progress_id =
        scalar::<String>(&w, "SELECT o.message_id FROM outbox o JOIN cases c ON c.id = o.case_id WHERE c.reference = $1 AND o.kind = 'progress'", &r).await;
    assert_eq!(response.2.as_deref(), Some("own-follow-up@example.test"));
    assert_eq!(response.3, format!("{complaint_id} own-follow-up@example.test {progress_id}"));

    // A bad address: one line, nothing changes.
    assert_eq!(klachtd(&cfg, &["cases", "reopen", &r]).0, 0);
    for bad in ["not an address", "coach@", "a@b@c.test", "<coach@elders.test>"] {
        let before = snapshot(&w, &r).await;
        let (code, _, err) = klachtd(&cfg, &["cases", "request-info", &r, "--message-file", &ask, "--to", bad]);
        assert_eq!((code, err.trim().lines().count()), (1, 1), "{bad}: {err}");
        assert!(err.contains("is not a valid e-mail address"), "{err}");
        assert_eq!(snapshot(&w, &r).await, before, "{bad}");
    }
}

/// An acknowledgement that never went out (suppressed by the per-sender limit, never written,
/// no address) leaves a deadline that can still be met: released, written now, or recorded as
/// sent by post. Who did it is in the history. A new handler named as a subject is notified.
async fn acknowledgements_that_did_not_go_out_can_still_be_sent_or_recorded(db: Db) {
    let bob = format!("{}@dienst.test", unique("bob"));
    let (w, cfg, ann) = setup_with(db, &format!("[[handlers]]\nname = \"Bob Berg\"\nemail = \"{bob}\"\n")).await;
    let store = daemon_store(&w).await;
    let url = w.config.database.url.clone();
    let suppressed = |name: &'static str| {
        let (store, url) = (store.clone(), url.clone());
        async move {
            let r = email_case(&store, name, d(11, 2), [d(11, 9), d(11, 16), d(11, 30)]).await;
            let address = store.case_detail(&cref(&r)).await.unwrap().summary.complainant_email.unwrap();
            let pool = sqlx::AnyPool::connect(&url).await.unwrap();
            sqlx::query(
                "INSERT INTO outbox (case_id, kind, recipient, subject, body, message_id, refs, status, next_attempt_at, created_at)
                 SELECT id, 'acknowledgement', $1, 'Ontvangstbevestiging', 'Tekst', $2, '', 'suppressed', 0, 0 FROM cases WHERE reference = $3",
            )
            .bind(address)
            .bind(format!("{r}.ack.{}@klacht.test", unique("x")))
            .bind(&r)
            .execute(&pool)
            .await
            .unwrap();
            pool.close().await;
            r
        }
    };
    let history = |r: String| {
        let store = store.clone();
        async move { store.case_detail(&cref(&r)).await.unwrap().history.into_iter().map(|e| (e.actor, e.action)).collect::<Vec<_>>() }
    };

    // Suppressed: released, by the person at the command line.
    let s1 = suppressed("Sam Suppressed").await;
    assert_eq!(store.case_detail(&cref(&s1)).await.unwrap().summary.acknowledgement_word(), "suppressed");
    let (code, out, err) = klachtd(&cfg, &["cases", "release-acknowledgement", &s1]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("1 acknowledgement(s) released"), "{out}");
    assert_eq!(store.case_detail(&cref(&s1)).await.unwrap().summary.acknowledgement_word(), "pending");
    assert!(history(s1.clone()).await.contains(&("handler-ann".to_string(), event("acknowledgement-released"))));
    let (code, _, err) = klachtd(&cfg, &["cases", "release-acknowledgement", &s1]);
    assert_eq!((code, err.trim().lines().count()), (1, 1), "{err}");
    assert!(err.contains("staat al klaar"), "{err}");

    // Never written, but the case has an address: written and queued now, threaded.
    let n1 = email_case(&store, "Nina None", d(11, 2), [d(11, 9), d(11, 16), d(11, 30)]).await;
    assert_eq!(store.case_detail(&cref(&n1)).await.unwrap().summary.acknowledgement_word(), "none");
    let (code, out, err) = klachtd(&cfg, &["cases", "release-acknowledgement", &n1]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("written and queued"), "{out}");
    let rows = outbox_rows(&w, &n1).await;
    let ack = rows.iter().find(|o| o.0 == "acknowledgement").unwrap();
    let complaint_id = scalar::<String>(&w, "SELECT m.message_id FROM messages m JOIN cases c ON c.id = m.case_id WHERE c.reference = $1", &n1).await;
    assert_eq!((ack.2.as_deref(), ack.5.as_str()), (Some(complaint_id.as_str()), "pending"));
    let text = klachtd::domain::flowed::unflow(&ack.4);
    assert!(text.contains(&n1) && text.contains("maandag 9 november 2026"), "the stored deadlines: {text}");
    assert!(history(n1.clone()).await.contains(&("handler-ann".to_string(), event("acknowledgement-queued"))));

    // Suppressed, then sent by post instead: recorded; nothing to release afterwards.
    let s2 = suppressed("Saar Suppressed").await;
    let (code, _, err) = klachtd(&cfg, &["cases", "acknowledged", &s2, "--date", "2026-11-04"]);
    assert_eq!(code, 0, "{err}");
    assert!(store.case_detail(&cref(&s2)).await.unwrap().summary.acknowledged_at.is_some());
    let before = snapshot(&w, &s2).await;
    let (code, _, err) = klachtd(&cfg, &["cases", "release-acknowledgement", &s2]);
    assert_eq!((code, err.trim().lines().count()), (1, 1), "{err}");
    assert!(err.contains("heeft al een ontvangstbevestiging (04-11-2026)"), "{err}");
    let (code, _, err) = klachtd(&cfg, &["cases", "acknowledged", &s2, "--date", "2026-11-05"]);
    assert_eq!(code, 1);
    assert!(err.contains("is de ontvangstbevestiging al vastgelegd (04-11-2026)"), "{err}");
    assert_eq!(snapshot(&w, &s2).await, before);

    // A case without any address: told to post it.
    let p = email_case(&store, "Piet Post", d(11, 2), [d(11, 9), d(11, 16), d(11, 30)]).await;
    sql(&w, "UPDATE cases SET complainant_email = NULL WHERE reference = $1", &p).await;
    let (code, _, err) = klachtd(&cfg, &["cases", "release-acknowledgement", &p]);
    assert_eq!(code, 1);
    assert!(err.contains("geen e-mailadres") && err.contains("cases acknowledged"), "{err}");
    assert_eq!(klachtd(&cfg, &["cases", "acknowledged", &p, "--date", "2026-11-03"]).0, 0);

    // `cases subject` that moves the case notifies the new handler, as `cases assign` does.
    let handler = store.case_detail(&cref(&p)).await.unwrap().summary.handler.unwrap();
    let (next, next_email) = if handler == "Ann Smit" { ("Bob Berg", bob.clone()) } else { ("Ann Smit", ann.clone()) };
    let (code, out, err) = klachtd(&cfg, &["cases", "subject", &p, &handler]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("now assigned to {next} (notified by mail")), "{out}");
    let rows = outbox_rows(&w, &p).await;
    assert!(rows.iter().any(|o| o.0 == "assigned" && o.1 == next_email), "{rows:?}");
}
