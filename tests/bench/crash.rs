//! Crash trials: how often a `kill -9` leaves a mail that the SMTP server accepted but klachtd
//! had not yet recorded as sent. Such a mail is sent a second time once its lease runs out
//! (same Message-ID), so each one found here is a duplicate a complainant would receive.
//!
//! Each trial puts N complaints (default 300) in a fresh mailbox, starts the real klachtd
//! binary, kills it with SIGKILL at a random moment while it takes them in and answers them,
//! starts it again (which applies the outbox journal the killed process left), lets Postfix
//! deliver what it accepted, and compares the Message-IDs that reached the complainants with
//! the outbox rows still pending. Then it starts klachtd once more and checks that the intake
//! lost and repeated nothing (one case per complaint, each moved once).
//!
//!     cargo bench --bench crash                 # 50 trials on SQLite, N = 300
//!     cargo bench --bench crash -- 20 postgres  # 20 trials on PostgreSQL

#[path = "../it/common/mod.rs"]
mod common;

use std::collections::HashSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const N: usize = 300;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let trials: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(50);
    let db = if args.iter().any(|a| a == "postgres") { Db::Postgres } else { Db::Sqlite };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(run(trials, db));
}

async fn run(trials: usize, db: Db) {
    let mut seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    let mut random = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let (mut with_duplicate, mut duplicates, mut sent_at_kill, mut saved) = (0, 0, 0, 0);
    for trial in 0..trials {
        let w = World::new(db).await;
        let recipients: Vec<String> = (0..N).map(|i| format!("{}-{i}@example.test", unique("crash"))).collect();
        {
            let mut s = w.stack.session(&w.complaints).await;
            for (i, from) in recipients.iter().enumerate() {
                let (_, raw) = w.complaint("Klager", from, &format!("Klacht {i}"), "Mijn afspraak ging niet door.");
                s.append("INBOX", None, None, &raw).await.unwrap();
            }
            let _ = s.logout().await;
        }
        let config = w.dir.path().join("klachtd.toml");
        std::fs::write(&config, config_text(w.stack, &w.complaints, &w.db.url, w.dir.path(), ANSWER_ALL)).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_klachtd"))
            .args(["--config", config.to_str().unwrap(), "run"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Kill once sending is under way: after the first acknowledgement, plus up to 0.5 s (the
        // whole ingest takes about a second; a kill after it has finished tests nothing).
        let store = w.store().await;
        let started = Instant::now();
        while !store.outbox_counts().await.unwrap_or_default().iter().any(|(s, n)| s == "sent" && *n > 0) {
            assert!(started.elapsed() < Duration::from_secs(60), "nothing sent within a minute");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(random() % 500)).await;
        child.kill().unwrap();
        child.wait().unwrap();

        let sent = store.outbox_counts().await.unwrap().iter().find(|(s, _)| s == "sent").map_or(0, |(_, n)| *n);
        // Started again, as systemd would: it applies what the killed process noted as sent
        // before it sends anything. Its own sends go out only after the lease of the mail the
        // kill left claimed, minutes from now, so what is pending then is what would go twice.
        let journals = w.dir.path().join("data/outbox");
        let left: Vec<std::path::PathBuf> = std::fs::read_dir(&journals).unwrap().map(|e| e.unwrap().path()).collect();
        assert_eq!(left.len(), 1, "the killed process left its journal");
        let mut again = Command::new(env!("CARGO_BIN_EXE_klachtd"))
            .args(["--config", config.to_str().unwrap(), "run"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while left[0].exists() {
            assert!(started.elapsed() < Duration::from_secs(60), "the journal left behind was not applied");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Stopped as systemd would (SIGTERM): what it sent itself in the meantime is recorded,
        // so only the killed process's leftovers count below.
        let _ = Command::new("kill").arg(again.id().to_string()).status();
        again.wait().unwrap();
        // What Postfix accepted arrives in the complainants' mailboxes within seconds.
        let pending: HashSet<String> = pending_message_ids(&w.db.url).await;
        let from_journal = journal_recorded(&w.db.url).await;
        saved += from_journal;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let mut delivered_but_pending = 0;
        for to in &recipients {
            for raw in w.stack.messages(to, "INBOX").await {
                let id = parsed(&raw).message_id().map(str::to_string).unwrap_or_default();
                if pending.contains(&id) {
                    delivered_but_pending += 1;
                }
            }
        }
        sent_at_kill += sent;
        duplicates += delivered_but_pending;
        if delivered_but_pending > 0 {
            with_duplicate += 1;
        }
        // And the intake lost and repeated nothing: started once more, it takes in what the kill
        // left in the inbox; every complaint is one case, and moved once.
        let mut last = Command::new(env!("CARGO_BIN_EXE_klachtd"))
            .args(["--config", config.to_str().unwrap(), "run"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while !(store.count(klachtd::store::Table::Cases).await.unwrap() as usize >= N && w.stack.count(&w.complaints, "INBOX").await == 0) {
            assert!(started.elapsed() < Duration::from_secs(120), "the intake did not finish after the kill");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = Command::new("kill").arg(last.id().to_string()).status();
        last.wait().unwrap();
        assert_eq!(store.count(klachtd::store::Table::Cases).await.unwrap() as usize, N, "one case per complaint");
        assert_eq!(w.stack.count(&w.complaints, "Klachtd-Verwerkt").await as usize, N, "each complaint moved once");
        eprintln!(
            "trial {:>2}: killed after {sent:>3} sent; recorded from the journal at restart: {from_journal}; accepted but unrecorded: {delivered_but_pending}; intake complete after restart",
            trial + 1
        );
    }
    println!(
        "crash trials ({db:?}, {trials} kills during an ingest of {N}): {with_duplicate} left a duplicate ({duplicates} mails in all); {saved} mails the server had accepted were recorded from the outbox journal at restart; {:.0} sent per trial before the kill",
        sent_at_kill as f64 / trials as f64
    );
}

async fn pending_message_ids(url: &str) -> HashSet<String> {
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(url).await.unwrap();
    let ids: Vec<String> = sqlx::query_scalar("SELECT message_id FROM outbox WHERE status = 'pending'").fetch_all(&mut conn).await.unwrap();
    let _ = sqlx::Connection::close(conn).await;
    ids.into_iter().collect()
}

/// Mails the restarted daemon recorded as sent from the journal of the killed one.
async fn journal_recorded(url: &str) -> usize {
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(url).await.unwrap();
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE smtp_reply LIKE '%outbox journal%'").fetch_one(&mut conn).await.unwrap();
    let _ = sqlx::Connection::close(conn).await;
    n as usize
}
