//! Servers that go away: the IMAP server restarted under a running daemon, the SMTP server
//! down when a complaint arrives, and servers that refuse us at start-up. Each test that stops
//! a server has a mail stack of its own.

use crate::common::*;
use klachtd::store::Table;

fn private_stack() -> &'static MailStack {
    Box::leak(Box::new(MailStack::start()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imap_server_restart_is_survived() {
    let stack = private_stack();
    let w = World::with(Db::Sqlite, stack, ANSWER_ALL).await;
    let ida = format!("{}@example.test", unique("ida"));
    let daemon = w.start();
    let (_, first) = w.complaint("Ida", &ida, "Eerste", "Voor de herstart.");
    w.send(&ida, &first).await;
    eventually("first case", WAIT, || async { (w.store().await.count(Table::Cases).await.unwrap() == 1).then_some(()) }).await;

    stack.control("stop-imap");
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    stack.control("start-imap");

    let (_, second) = w.complaint("Ida", &ida, "Tweede", "Na de herstart.");
    w.send(&ida, &second).await;
    eventually("second case after reconnect", WAIT, || async { (w.store().await.count(Table::Cases).await.unwrap() == 2).then_some(()) }).await;
    eventually("both acknowledged", WAIT, || async { (stack.messages(&ida, "INBOX").await.len() == 2).then_some(()) }).await;
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_outage_delays_the_acknowledgement_and_loses_nothing() {
    for db in [Db::Sqlite, Db::Postgres] {
        let stack = private_stack();
        let w = World::with(db, stack, ANSWER_ALL).await;
        let jan = format!("{}@example.test", unique("jan"));
        stack.control("stop-smtp");
        let daemon = w.start();
        // With Postfix down the complaint reaches the mailbox another way.
        let (_, raw) = w.complaint("Jan", &jan, "Tijdens storing", "SMTP ligt eruit.");
        stack.append(&w.complaints, "INBOX", &raw, None).await;
        let store = w.store().await;
        eventually("case registered while SMTP is down", WAIT, || async { (store.count(Table::Cases).await.unwrap() == 1).then_some(()) }).await;
        let last_error = eventually("a failed attempt recorded", WAIT, || async {
            let case = store.list_cases().await.unwrap().pop()?;
            (case.acknowledgement_word() == "pending").then_some(())?;
            let attempts: Vec<_> = store.outbox_counts().await.unwrap();
            (attempts == vec![("pending".to_string(), 1)]).then_some(())?;
            // Tried at least once, and the failure is on record (without addresses).
            let rows = outbox_attempts(&w.db.url).await;
            (rows.len() == 1 && rows[0].0 >= 1).then_some(())?;
            rows[0].1.clone().filter(|e| !e.is_empty())
        })
        .await;
        assert!(!last_error.contains('@'), "no addresses in last_error: {last_error}");
        assert!(stack.messages(&jan, "INBOX").await.is_empty(), "nothing delivered while Postfix is down");
        stack.control("start-smtp");
        eventually("acknowledgement delivered after the outage", WAIT, || async { (stack.messages(&jan, "INBOX").await.len() == 1).then_some(()) }).await;
        eventually("recorded as sent", WAIT, || async { (store.outbox_counts().await.unwrap() == vec![("sent".to_string(), 1)]).then_some(()) }).await;
        daemon.stop().await;
        assert_eq!(stack.messages(&jan, "INBOX").await.len(), 1, "sent once");
    }
}

async fn start_error(config: &klachtd::config::Config) -> String {
    match klachtd::daemon::Daemon::prepare(config).await {
        Ok(_) => panic!("start-up should have failed"),
        Err(e) => e.chain().map(ToString::to_string).collect::<Vec<_>>().join(": "),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_up_problems_are_one_clear_line() {
    let w = World::new(Db::Sqlite).await;

    let mut wrong_password = w.config.clone();
    wrong_password.imap_mut().password = Some("not-the-password".into());
    let e = start_error(&wrong_password).await;
    assert!(e.contains("IMAP login as") && e.contains("failed"), "{e}");
    assert!(!e.contains('\n'), "{e}");

    let mut unreachable = w.config.clone();
    unreachable.imap_mut().port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let e = start_error(&unreachable).await;
    assert!(e.contains("cannot connect to 127.0.0.1:"), "{e}");

    let mut no_database = w.config.clone();
    no_database.database.url = format!("postgres://postgres@127.0.0.1:{}/nope", unreachable.imap().port);
    let e = start_error(&no_database).await;
    assert!(e.starts_with("cannot open database postgres://postgres@127.0.0.1:"), "{e}");
}

/// A password the SMTP server refuses stops the start with one line (exit 78); a server that is
/// away does not (see the outage test above, which starts with Postfix down).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_smtp_login_is_a_one_line_start_up_error() {
    let w = World::new(Db::Sqlite).await;
    let mut wrong = w.config.clone();
    wrong.smtp.user = Some(w.complaints.clone());
    wrong.smtp.password = Some("not-the-password".into());
    let e = start_error(&wrong).await;
    assert!(e.starts_with("SMTP server 127.0.0.1:") && e.contains("refused us") && e.contains("535"), "{e}");
    assert!(!e.contains('\n'), "{e}");

    // The binary: one line on stderr, exit code 1.
    let text = config_text(w.stack, &w.complaints, &w.db.url, w.dir.path(), ANSWER_ALL)
        .replace("[smtp]\n", &format!("[smtp]\nuser = \"{}\"\npassword = \"not-the-password\"\n", w.complaints));
    let file = w.dir.path().join("klachtd.toml");
    std::fs::write(&file, text).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_klachtd")).arg("run").arg("--config").arg(&file).env_remove("NOTIFY_SOCKET").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // 78 (EX_CONFIG): systemd does not restart a service whose credentials are wrong.
    assert_eq!(out.status.code(), Some(78), "{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("klachtd: ")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(errors[0].contains("refused us") && errors[0].contains("535"), "{stderr}");
    assert_eq!(stderr.lines().last(), Some(errors[0]), "{stderr}");

    // With the right password the same configuration starts.
    let mut right = wrong.clone();
    right.smtp.password = Some(PASSWORD.into());
    assert!(klachtd::daemon::Daemon::prepare(&right).await.is_ok());
}

/// The exit status tells systemd whether a restart can help: 78 (EX_CONFIG) for a refused IMAP
/// login or a broken configuration, 1 for a server that is away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configuration_and_credential_errors_exit_78_and_outages_exit_1() {
    let w = World::new(Db::Sqlite).await;
    let run = |text: String| {
        let file = w.dir.path().join(format!("{}.toml", unique("run")));
        std::fs::write(&file, text).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_klachtd")).arg("run").arg("--config").arg(&file).env_remove("NOTIFY_SOCKET").output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let good = config_text(w.stack, &w.complaints, &w.db.url, w.dir.path(), ANSWER_ALL);

    let (code, stderr) = run(good.replace(&format!("password = \"{PASSWORD}\""), "password = \"not-the-password\""));
    assert_eq!(code, Some(78), "{stderr}");
    assert!(stderr.contains("IMAP login as"), "{stderr}");

    let (code, stderr) = run(good.replace("[imap]\n", "[imap]\nmisspelt_key = 1\n"));
    assert_eq!(code, Some(78), "{stderr}");
    assert!(stderr.contains("misspelt_key"), "{stderr}");

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (code, stderr) = run(good.replace(&format!("port = {}\ntls = \"none\"\nuser", w.stack.imap_port), &format!("port = {closed}\ntls = \"none\"\nuser")));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("cannot connect to 127.0.0.1:"), "{stderr}");
}

/// A letter the SMTP server refuses for good (5xx) is tried once: it is marked undeliverable,
/// the deadline stays open, the handler is told by mail, and `status` counts it apart from the
/// backlog. A refusal for the moment (4xx) keeps being retried. `outbox retry` queues an
/// undeliverable letter again once its cause is fixed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_letter_refused_for_good_is_handed_to_the_handler_and_a_deferred_one_retried() {
    for db in [Db::Sqlite, Db::Postgres] {
        let ann = format!("{}@dienst.test", unique("ann"));
        let extra = format!("{ANSWER_ALL}[[handlers]]\nname = \"Ann Smit\"\nemail = \"{ann}\"\n");
        let w = World::with(db, MailStack::shared(), &extra).await;
        let cfg = w.dir.path().join("klachtd.toml");
        std::fs::write(&cfg, config_text(w.stack, &w.complaints, &w.db.url, w.dir.path(), &extra)).unwrap();
        let daemon = w.start();
        let refused = format!("{}@refused.test", unique("rita"));
        let deferred = format!("{}@deferred.test", unique("dirk"));
        for (name, from) in [("Rita", &refused), ("Dirk", &deferred)] {
            let (_, raw) = w.complaint(name, from, "Klacht", "Beschrijving");
            w.stack.append(&w.complaints, "INBOX", &raw, None).await;
        }
        let store = w.store().await;
        let cases = eventually("both registered", WAIT, || async { Some(store.list_cases().await.unwrap()).filter(|c| c.len() == 2) }).await;
        let rita = cases.iter().find(|c| c.complainant_email.as_deref() == Some(refused.as_str())).unwrap().reference.clone();
        let dirk = cases.iter().find(|c| c.complainant_email.as_deref() == Some(deferred.as_str())).unwrap().reference.clone();

        // The refusal ends the attempts at once and the handler hears of it.
        let is_notice = |m: &Vec<u8>| parsed(m).subject().is_some_and(|s| s.contains(&rita.to_string()) && s.contains("niet aangekomen"));
        let notice = eventually("the handler is told", WAIT, || async { w.stack.messages(&ann, "INBOX").await.into_iter().find(is_notice) }).await;
        let notice = parsed(&notice);
        assert!(text_of(&notice).contains("blijvend"), "{}", text_of(&notice));
        let detail = store.case_detail(&rita).await.unwrap();
        assert_eq!(detail.summary.acknowledgement_word(), "undeliverable");
        assert_eq!(detail.summary.acknowledged_at, None, "the deadline stays open");
        assert!(detail.history.iter().any(|e| e.action == event("letter-undeliverable") && e.detail == "acknowledgement"), "{:?}", detail.history);

        // The deferred one is retried (max_backoff_secs = 2 in the tests), never given up.
        eventually("the deferred letter tried again", WAIT, || async {
            let rows = outbox_attempts(&w.db.url).await;
            rows.iter().any(|(attempts, error)| *attempts >= 3 && error.as_deref().is_some_and(|e| e.contains("450"))).then_some(())
        })
        .await;
        assert_eq!(store.case_detail(&dirk).await.unwrap().summary.acknowledgement_word(), "pending");
        let refused_row: Vec<(i64, Option<String>)> =
            outbox_attempts(&w.db.url).await.into_iter().filter(|(_, e)| e.as_deref().is_some_and(|e| e.contains("554"))).collect();
        assert_eq!(refused_row.len(), 1);
        assert_eq!(refused_row[0].0, 1, "a refusal for good is tried once");
        let status = store.status(&["INBOX".to_string()], chrono::Utc::now().date_naive()).await.unwrap();
        assert_eq!((status.outbox_undeliverable, status.outbox_pending), (1, 1), "{status:?}");

        // Queued again after the cause is "fixed" (here it is not, so it comes back).
        let out =
            std::process::Command::new(env!("CARGO_BIN_EXE_klachtd")).arg("--config").arg(&cfg).args(["outbox", "retry", &rita.to_string()]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).starts_with("1 mail(s) queued again"), "{}", String::from_utf8_lossy(&out.stdout));
        eventually("refused again", WAIT, || async {
            let rows = outbox_attempts(&w.db.url).await;
            rows.iter().any(|(attempts, error)| *attempts == 2 && error.as_deref().is_some_and(|e| e.contains("554"))).then_some(())
        })
        .await;
        let detail = eventually("undeliverable again", WAIT, || async {
            Some(store.case_detail(&rita).await.unwrap()).filter(|d| d.summary.acknowledgement_word() == "undeliverable")
        })
        .await;
        assert!(detail.history.iter().any(|e| e.action == event("letter-queued-again")), "{:?}", detail.history);
        daemon.stop().await;
    }
}
