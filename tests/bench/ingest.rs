//! Ingest figures: loads N complaints (default 2,000) into a fresh mailbox of the test mail stack,
//! measures how fast Dovecot hands them out to a bare UID FETCH, then lets the real klachtd
//! binary ingest them (SQLite) and prints mails registered per second and its peak RSS.
//!
//!     cargo bench --bench ingest            # N = 2000
//!     cargo bench --bench ingest -- 500     # N = 500

#[path = "../common/mod.rs"]
mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use futures::TryStreamExt;
use klachtd::store::{Store, Table};

fn main() {
    let n: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(2000);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(run(n));
}

async fn run(n: usize) {
    let stack = MailStack::shared();
    let dir = tempfile::tempdir().unwrap();
    let complaints = format!("{}@klacht.test", unique("bench"));

    let started = Instant::now();
    {
        let mut s = stack.session(&complaints).await;
        for i in 0..n {
            let raw = format!(
                "From: Klager {i} <klager-{i}@example.test>\r\nTo: {complaints}\r\nSubject: Klacht nummer {i}\r\nMessage-ID: <bench-{i}-{}@example.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{}\r\n",
                std::process::id(),
                "Mijn afspraak ging niet door en niemand liet iets weten. ".repeat(20)
            );
            s.append("INBOX", None, None, raw.as_bytes()).await.unwrap();
        }
        let _ = s.logout().await;
    }
    let append_secs = started.elapsed().as_secs_f64();

    // The server's own pace: all bodies in one UID FETCH, and one UID FETCH per mail (as klachtd does).
    let (bulk, single) = {
        let mut s = stack.session(&complaints).await;
        s.examine("INBOX").await.unwrap();
        let t = Instant::now();
        let all: Vec<_> = s.uid_fetch("1:*", "(UID INTERNALDATE BODY.PEEK[])").await.unwrap().try_collect().await.unwrap();
        assert_eq!(all.len(), n);
        let bulk = n as f64 / t.elapsed().as_secs_f64();
        let uids: Vec<u32> = all.iter().filter_map(|f| f.uid).collect();
        let t = Instant::now();
        for uid in &uids {
            let _: Vec<_> = s.uid_fetch(uid.to_string(), "(UID RFC822.SIZE INTERNALDATE BODY.PEEK[])").await.unwrap().try_collect().await.unwrap();
        }
        let single = n as f64 / t.elapsed().as_secs_f64();
        let _ = s.logout().await;
        (bulk, single)
    };

    let db_url = format!("sqlite://{}/klachtd.db", dir.path().display());
    let config_path = dir.path().join("klachtd.toml");
    let extra = "[intake]\nacknowledge_since = \"2000-01-01\"\nmax_auto_replies_per_sender_per_day = 5\n";
    std::fs::write(&config_path, config_text(stack, &complaints, &db_url, dir.path(), extra)).unwrap();
    let t = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_klachtd"))
        .args(["--config", config_path.to_str().unwrap(), "run"])
        .env("KLACHTD_LOG", "warn")
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let store = loop {
        if let Ok(s) = Store::open(&db_url, 1).await {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut peak_kib = 0;
    loop {
        peak_kib = peak_kib.max(peak_rss_kib(child.id()));
        if store.count(Table::Cases).await.unwrap() as usize >= n {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(1800), "ingest did not finish");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ingest_secs = t.elapsed().as_secs_f64();
    peak_kib = peak_kib.max(peak_rss_kib(child.id()));
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let _ = child.wait();

    println!("mails                          {n}");
    println!("APPEND into the mailbox        {:.0} mails/s", n as f64 / append_secs);
    println!("Dovecot, one UID FETCH 1:*     {bulk:.0} mails/s");
    println!("Dovecot, one UID FETCH a mail  {single:.0} mails/s");
    println!("klachtd registered             {:.0} mails/s ({n} cases in {ingest_secs:.1} s, start-up included)", n as f64 / ingest_secs);
    println!("klachtd peak RSS               {:.1} MiB", peak_kib as f64 / 1024.0);
}

fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0)
}
