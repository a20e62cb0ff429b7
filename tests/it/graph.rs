//! The complaints mailbox through Microsoft Graph, against the test Graph server
//! (tests/it/common/graph_server.rs) with tokens from the test identity provider: reading by
//! delta query, the date of receipt, moves, sending with our MIME, a missing permission at
//! start, throttling, and a kill -9 in the middle of the intake. The end-to-end suite
//! (e2e.rs) runs against the same server too.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::graph_server::GraphServer;
use crate::common::oauth_idp::Idp;
use crate::common::*;
use klachtd::store::Table;

on_both_databases!(a_complaint_is_read_by_delta_answered_by_send_mail_and_moved, a_burst_of_429s_while_300_mails_arrive_loses_and_repeats_nothing);

/// A world whose mailbox is on the Graph server: (world, tenant, client ID).
async fn graph_world(db: Db, extra: &str) -> (World, String, String) {
    let w = SOURCE.scope(Source::Graph, World::with(db, MailStack::shared(), &format!("{ANSWER_ALL}{extra}"))).await;
    let tenant = w.config.oauth2.as_ref().unwrap().tenant.clone().unwrap();
    let client = w.config.oauth2.as_ref().unwrap().client_id.clone().unwrap();
    (w, tenant, client)
}

fn server() -> &'static GraphServer {
    GraphServer::shared()
}

async fn a_complaint_is_read_by_delta_answered_by_send_mail_and_moved(db: Db) {
    let (w, _, _) = graph_world(db, "").await;
    // Three pages of a delta round: 23 complaints from as many senders, received a week ago.
    let received = chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 11, 20, 9, 30, 0).unwrap();
    let senders: Vec<String> = (0..23).map(|_| format!("{}@example.test", unique("ria"))).collect();
    let mut ids = Vec::new();
    for (i, s) in senders.iter().enumerate() {
        let (id, raw) = w.complaint("Ria", s, &format!("Klacht {i}"), "Mijn uitkering is te laat.");
        server().deliver(&w.complaints, &raw, Some(received));
        ids.push(id);
    }
    let daemon = w.start();
    let store = w.store().await;
    eventually("all moved to the processed folder", WAIT, || async { (server().messages(&w.complaints, "Klachtd-Verwerkt").len() == 23).then_some(()) }).await;
    let cases = store.list_cases().await.unwrap();
    assert_eq!(cases.len(), 23);
    assert!(cases.iter().all(|c| c.received_on.to_string() == "2026-11-20"), "the mailbox's received time is the date of receipt");
    assert!(server().messages(&w.complaints, "inbox").is_empty());

    // The acknowledgement went out through sendMail as our MIME: its Message-ID and threading
    // headers survive, and a copy is in Sent Items.
    let ack = eventually("acknowledgement delivered", WAIT, || async { server().messages(&senders[0], "inbox").into_iter().next() }).await;
    let parsed_ack = parsed(&ack);
    assert_eq!(parsed_ack.in_reply_to().as_text(), Some(ids[0].as_str()));
    assert!(header(&parsed_ack, "References").unwrap_or_default().contains(&ids[0]));
    assert_eq!(header(&parsed_ack, "Auto-Submitted"), Some("auto-replied"));
    let ack_id = parsed_ack.message_id().unwrap().to_string();
    eventually("all acknowledged", WAIT, || async { (server().messages(&w.complaints, "sentitems").len() == 23).then_some(()) }).await;
    assert!(server().messages(&w.complaints, "sentitems").iter().any(|m| parsed(m).message_id() == Some(ack_id.as_str())));

    // Machine mail goes to the ignored folder; the delta link resumes after a restart.
    let bot = format!(
        "From: Robot <noreply@example.test>\r\nTo: {}\r\nSubject: Afwezig\r\nAuto-Submitted: auto-replied\r\nMessage-ID: <{}@x>\r\n\r\nAfwezig.\r\n",
        w.complaints,
        unique("ooo")
    );
    server().deliver(&w.complaints, bot.as_bytes(), None);
    eventually("set aside", WAIT, || async { (server().messages(&w.complaints, "Klachtd-Genegeerd").len() == 1).then_some(()) }).await;
    daemon.stop().await;
    let link = store.graph_delta_link(&format!("graph:{}", w.complaints)).await.unwrap();
    assert!(link.is_some_and(|l| l.contains("$deltatoken=")), "the delta link is kept in the database");

    let reply_id = unique("reply");
    let reply = format!(
        "From: Ria <{}>\r\nTo: {}\r\nSubject: Re: klacht\r\nMessage-ID: <{reply_id}@example.test>\r\nIn-Reply-To: <{ack_id}>\r\n\r\nAanvulling.\r\n",
        senders[0], w.complaints
    );
    server().deliver(&w.complaints, reply.as_bytes(), None);
    let daemon = w.start();
    eventually("the reply threaded", WAIT, || async { (server().messages(&w.complaints, "Klachtd-Verwerkt").len() == 24).then_some(()) }).await;
    daemon.stop().await;
    assert_eq!(store.count(Table::Cases).await.unwrap(), 23, "nothing registered twice after the restart");
    let case = store.list_cases().await.unwrap().into_iter().find(|c| c.complainant_email.as_deref() == Some(senders[0].as_str())).unwrap();
    assert_eq!(store.case_detail(&case.reference).await.unwrap().summary.messages, 2, "the reply is kept with its case");
    assert_eq!(server().messages(&senders[0], "inbox").len(), 1, "a reply gets no answer");
}

/// Graph throttles while 300 mails arrive: every mail is registered once, no request goes out
/// while a Retry-After lasts (beyond those already on their way), never more than four at once.
async fn a_burst_of_429s_while_300_mails_arrive_loses_and_repeats_nothing(db: Db) {
    const N: usize = 300;
    let (w, _, _) = graph_world(db, "").await;
    let senders: Vec<String> = (0..N).map(|_| format!("{}@example.test", unique("tom"))).collect();
    for (i, s) in senders.iter().enumerate() {
        let (_, raw) = w.complaint("Tom", s, &format!("Klacht {i}"), "Beschrijving.");
        server().deliver(&w.complaints, &raw, None);
    }
    // A burst after the listing has begun, in the middle of the fetches, and one later among
    // the moves and sends.
    server().throttle(&w.complaints, 40, Duration::from_secs(3), 429);
    let daemon = w.start();
    let store = w.store().await;
    eventually("some taken in", WAIT, || async { (store.count(Table::Cases).await.unwrap() > 50).then_some(()) }).await;
    server().throttle(&w.complaints, 20, Duration::from_secs(2), 503);
    eventually("all moved", Duration::from_secs(120), || async { (server().messages(&w.complaints, "Klachtd-Verwerkt").len() == N).then_some(()) }).await;
    eventually("all acknowledged", Duration::from_secs(120), || async {
        store.outbox_counts().await.unwrap().iter().any(|(s, n)| s == "sent" && *n == N as i64).then_some(())
    })
    .await;
    daemon.stop().await;
    assert_eq!(store.count(Table::Cases).await.unwrap(), N as i64, "each mail registered once");
    let (requests, most, throttled, during) = server().counts(&w.complaints);
    eprintln!("{N} mails under throttling: {requests} requests, {throttled} answered 429/503, at most {most} at once, {during} during a Retry-After");
    assert!(throttled >= 2, "the server throttled ({throttled} of {requests} requests)");
    assert!(most <= klachtd::driven::graph::CONCURRENT, "at most four requests at once ({most})");
    // Requests already on their way when the first 429 was sent arrive during its Retry-After:
    // at most the other three slots' worth per burst. Anything more was sent while waiting.
    assert!(during <= 2 * (klachtd::driven::graph::CONCURRENT as u32 - 1), "{during} requests came while a Retry-After lasted");
    assert!(server().messages(&w.complaints, "inbox").is_empty());
}

/// A permission missing from the app registration: one line naming it, exit 78, at start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_permission_stops_the_start_with_exit_78() {
    let (w, tenant, client) = graph_world(Db::Sqlite, "").await;
    Idp::shared().set_graph_roles(&tenant, &client, &["Mail.Send"]);
    let path = w.dir.path().join("klachtd.toml");
    std::fs::write(&path, config_file_text(&w)).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_klachtd")).arg("--config").arg(&path).arg("run").env_remove("KLACHTD_LOG").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("klachtd:")).collect();
    assert_eq!(errors.len(), 1, "one line: {stderr}");
    assert!(errors[0].contains("Mail.ReadWrite") && errors[0].contains("403") && errors[0].contains(&w.complaints), "{}", errors[0]);
}

/// The test world's configuration as the binary reads it.
fn config_file_text(w: &World) -> String {
    let graph = w.config.graph.as_ref().unwrap();
    let o = w.config.oauth2.as_ref().unwrap();
    format!(
        "{}\n[graph]\nmailbox = \"{}\"\nurl = \"{}\"\npoll_interval_secs = 1\n\n[oauth2]\nprovider = \"microsoft\"\ntenant = \"{}\"\nclient_id = \"{}\"\nclient_secret_file = \"{}\"\ntoken_url = \"{}\"\n\n[intake]\nacknowledge_since = \"2000-01-01\"\n\n[outbox]\npoll_interval_secs = 1\n",
        base_config_text(MailStack::shared(), &w.complaints, &w.config.database.url, w.dir.path()),
        graph.mailbox,
        graph.url,
        o.tenant.as_deref().unwrap(),
        o.client_id.as_deref().unwrap(),
        o.client_secret_file.as_ref().unwrap().display(),
        o.token_url.as_deref().unwrap(),
    )
}

/// kill -9 of the daemon while it takes in a backlog, then a restart: every mail registered and
/// acknowledged once, none left in the inbox.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_9_during_the_intake_loses_and_repeats_nothing() {
    const N: usize = 2 * klachtd::app::intake::pass::BATCH_MAILS + 50;
    const CLAIMED: usize = 2 * 20;
    let (w, _, _) = graph_world(Db::Sqlite, "").await;
    let senders: Vec<String> = (0..N).map(|_| format!("{}@example.test", unique("kim"))).collect();
    for (i, s) in senders.iter().enumerate() {
        let (_, raw) = w.complaint("Kim", s, &format!("Klacht {i}"), "Beschrijving.");
        server().deliver(&w.complaints, &raw, None);
    }
    let path = w.dir.path().join("klachtd.toml");
    std::fs::write(&path, config_file_text(&w)).unwrap();
    let run = || Daemon(Command::new(env!("CARGO_BIN_EXE_klachtd")).arg("--config").arg(&path).arg("run").env_remove("KLACHTD_LOG").spawn().unwrap());
    let mut first = run();
    let store = w.store().await;
    let started = Instant::now();
    while store.count(Table::Cases).await.unwrap() < 1 {
        assert!(started.elapsed() < WAIT, "no progress before the kill");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    first.0.kill().unwrap(); // SIGKILL
    first.0.wait().unwrap();
    let at_kill = store.count(Table::Cases).await.unwrap();
    assert!(at_kill < N as i64, "killed in the middle of the intake ({at_kill} of {N})");
    let mut second = run();
    let at_restart = Instant::now();
    let done = async {
        eventually("all moved after the restart", Duration::from_secs(120), || async {
            (server().messages(&w.complaints, "Klachtd-Verwerkt").len() == N).then_some(())
        })
        .await;
        // Letters the killed process had claimed wait until their lease runs out (minutes), then
        // go: at most its two connections' claims of 20 (app/outbox.rs).
        eventually("acknowledged, but what the killed process had claimed", Duration::from_secs(120), || async {
            store.outbox_counts().await.unwrap().iter().any(|(s, n)| s == "sent" && *n >= (N - CLAIMED) as i64).then_some(())
        })
        .await;
    };
    done.await;
    let _ = Command::new("kill").arg(second.0.id().to_string()).status();
    second.0.wait().unwrap();
    eprintln!("kill -9 after {at_kill} of {N} cases; the restarted daemon was done in {:?}", at_restart.elapsed());
    assert_eq!(store.count(Table::Cases).await.unwrap(), N as i64, "one case per mail, none twice");
    assert!(server().messages(&w.complaints, "inbox").is_empty());
    // A send the kill interrupted may go twice (as with SMTP, see tests/bench/crash.rs); no other.
    let acknowledgements: Vec<usize> = senders.iter().map(|s| server().messages(s, "inbox").len()).collect();
    let counts = store.outbox_counts().await.unwrap();
    assert_eq!(counts.iter().map(|(_, n)| n).sum::<i64>(), N as i64, "one acknowledgement queued per case: {counts:?}");
    assert!(counts.iter().all(|(s, _)| s == "sent" || s == "pending"), "the rest still to go: {counts:?}");
    assert!(acknowledgements.iter().filter(|n| **n == 0).count() <= CLAIMED, "everyone acknowledged but what waits out its lease");
    assert!(acknowledgements.iter().sum::<usize>() <= N + 1, "{} acknowledgements for {N} cases", acknowledgements.iter().sum::<usize>());
}

/// `check-config` gets a Graph token and prepares the folders, without IMAP or SMTP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_config_gets_a_token_and_prepares_the_folders() {
    let (w, _, _) = graph_world(Db::Sqlite, "").await;
    let path = w.dir.path().join("klachtd.toml");
    // IMAP and SMTP point nowhere: Graph replaces both, so they are not contacted.
    let text = config_file_text(&w).replace(&format!("port = {}\n", MailStack::shared().imap_port), "port = 1\n");
    std::fs::write(&path, text.replace(&format!("port = {}\n", MailStack::shared().smtp_port), "port = 1\n")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_klachtd")).arg("--config").arg(&path).arg("check-config").env_remove("KLACHTD_LOG").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.lines().any(|l| l.starts_with("graph: ok (") && l.contains(&w.complaints)), "{stdout}");
    assert!(!stdout.contains("imap:") && !stdout.contains("smtp:"), "{stdout}");
    // The folders exist now (empty).
    let folders = ["Klachtd-Verwerkt", "Klachtd-Genegeerd", "Klachtd-Quarantaine"];
    let (requests, ..) = server().counts(&w.complaints);
    assert!(requests >= 4, "listed and created the folders ({requests} requests)");
    for f in folders {
        assert!(server().messages(&w.complaints, f).is_empty());
    }
}

/// A mail over 1 MiB is fetched alone, as it streams; one over graph.max_message_bytes goes to
/// quarantine unread after its attempts, and the rest goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_mail_is_fetched_alone_and_oversized_mail_is_quarantined() {
    let (mut w, _, _) = graph_world(Db::Sqlite, "").await;
    w.config.graph.as_mut().unwrap().max_message_bytes = 3 << 20;
    let sara = format!("{}@example.test", unique("sara"));
    let attachment =
        |bytes: usize| "QUJD".repeat(bytes / 4).as_bytes().chunks(76).map(|l| String::from_utf8_lossy(l).into_owned()).collect::<Vec<_>>().join("\r\n");
    let mail = |subject: &str, bytes: usize| {
        format!(
            "From: Sara <{sara}>\r\nTo: {}\r\nSubject: {subject}\r\nMessage-ID: <{}@example.test>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"B\"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nZie de bijlage.\r\n--B\r\nContent-Type: application/pdf; name=\"scan.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--B--\r\n",
            w.complaints,
            unique("big"),
            attachment(bytes)
        )
    };
    server().deliver(&w.complaints, mail("Groot", 2 << 20).as_bytes(), None);
    server().deliver(&w.complaints, mail("Te groot", 4 << 20).as_bytes(), None);
    let (_, small) = w.complaint("Sara", &sara, "Klein", "Gewoon.");
    server().deliver(&w.complaints, &small, None);
    let daemon = w.start();
    eventually("the oversized mail quarantined", Duration::from_secs(60), || async {
        (server().messages(&w.complaints, "Klachtd-Quarantaine").len() == 1).then_some(())
    })
    .await;
    eventually("the others registered", WAIT, || async { (server().messages(&w.complaints, "Klachtd-Verwerkt").len() == 2).then_some(()) }).await;
    daemon.stop().await;
    let mut subjects: Vec<String> = w.store().await.list_cases().await.unwrap().into_iter().map(|c| c.subject).collect();
    subjects.sort();
    assert_eq!(subjects, ["Groot", "Klein"]);
    let q = w.store().await.quarantined().await.unwrap();
    assert!(q.len() == 1 && q[0].2.contains("max_message_bytes"), "{q:?}");
}

/// With save_to_sent_items = false the copy Exchange files in Sent Items is moved out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_saving_to_sent_items_the_copy_is_moved_out() {
    let (mut w, _, _) = graph_world(Db::Sqlite, "").await;
    w.config.graph.as_mut().unwrap().save_to_sent_items = false;
    let (ivo, daemon) = (format!("{}@example.test", unique("ivo")), w.start());
    let (_, raw) = w.complaint("Ivo", &ivo, "Klacht", "Tekst.");
    server().deliver(&w.complaints, &raw, None);
    eventually("acknowledged", WAIT, || async { server().messages(&ivo, "inbox").into_iter().next() }).await;
    eventually("the sent copy moved out", WAIT, || async { (server().messages(&w.complaints, "deleteditems").len() == 1).then_some(()) }).await;
    daemon.stop().await;
    assert!(server().messages(&w.complaints, "sentitems").is_empty());
}

/// A daemon process, killed when the test ends however it ends.
struct Daemon(std::process::Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
