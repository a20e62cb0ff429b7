//! Throughput figures, side by side with the servers' own pace in the same run: loads N
//! complaints (default 2,000, ~1 KB each, every one from another sender at `outside.test`, whose
//! mail the test stack's Postfix queues and then drops, as if relayed to another organisation,
//! instead of creating a mailbox for each on this machine) into a fresh mailbox of the test mail
//! stack, measures how fast Dovecot hands them out (one `UID FETCH` per mail, and
//! all in one; and, on another mailbox, in klachtd's own pattern of FETCHes and a `UID MOVE`
//! per 50 mails) and how fast Postfix accepts mail over one connection, waits until Postfix has
//! delivered what it accepted, then lets the real klachtd binary take them in and answer them,
//! and prints:
//! - mails registered per second, and acknowledgements accepted by Postfix per second;
//! - klachtd's CPU time as a share of the wall time (low means it waits);
//! - IMAP commands per mail (counted by a proxy between klachtd and Dovecot), SMTP commands
//!   and connections per mail (from Postfix's own count at each disconnect) and, on
//!   PostgreSQL, commits per mail (`pg_stat_database`);
//! - klachtd's peak RSS;
//! - then, with the backlog done, the time from a complaint's arrival to its acknowledgement in
//!   the complainant's mailbox, for 20 complaints sent one at a time (to `example.test`, which
//!   the stack delivers).
//!
//! Run it with:
//!
//!     cargo bench --bench ingest                   # N = 2000, SQLite
//!     cargo bench --bench ingest -- 500 postgres   # N = 500, PostgreSQL
//!
//! `BENCH_KLACHTD_LOG` sets klachtd's log filter (default `warn`); `warn,sqlx::query=debug`
//! logs every statement with its time.

#[path = "../it/common/mod.rs"]
mod common;

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use futures::TryStreamExt;
use klachtd::store::{Store, Table};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(2000);
    let db = if args.iter().any(|a| a == "postgres") { Db::Postgres } else { Db::Sqlite };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(run(n, db));
}

async fn run(n: usize, db: Db) {
    let stack = MailStack::shared();
    let w = World::with(db, stack, ANSWER_ALL).await;
    let complaints = w.complaints.clone();

    let started = Instant::now();
    {
        let mut s = stack.session(&complaints).await;
        for i in 0..n {
            let raw = bench_complaint(i, &complaints);
            s.append("INBOX", None, None, raw.as_bytes()).await.unwrap();
        }
        let _ = s.logout().await;
    }
    let append_rate = n as f64 / started.elapsed().as_secs_f64();

    // Dovecot's own pace: one UID FETCH per mail (as a client that asks for each), and all in one.
    let (single, bulk) = {
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
        (single, bulk)
    };
    let postfix = postfix_rate(stack, n).await;
    // What Postfix accepted above is still being delivered for a while: klachtd starts on a
    // quiet stack, as Dovecot's and Postfix's own figures were taken on one.
    postfix_drained(stack).await;
    // The same pattern as klachtd's intake from a plain client, on another mailbox: sizes and
    // dates of 50 mails in one FETCH, their bodies in another, one UID MOVE of the 50.
    let batched = dovecot_batched_rate(stack, n).await;
    postfix_drained(stack).await;

    // klachtd, through a proxy that counts its IMAP commands.
    let commands = Arc::new(AtomicU64::new(0));
    let proxy = counting_proxy(stack.imap_port, commands.clone()).await;
    let text = config_text(stack, &complaints, &w.db.url, w.dir.path(), ANSWER_ALL).replacen(
        &format!("port = {}\n", stack.imap_port),
        &format!("port = {proxy}\n"),
        1,
    );
    let config_path = w.dir.path().join("klachtd.toml");
    std::fs::write(&config_path, text).unwrap();
    // The database is made (all migrations) before the clock starts: a daemon creates it once,
    // and the figures are of the intake. Timed with it, klachtd of 2026-11-27 was ready 0.74 s
    // after its start on PostgreSQL (a loaded machine), longer than its 500 mails took.
    let store = Store::open(&w.db.url, 1).await.unwrap();
    let commits_before = pg_commits(&w.db.url).await;
    let postfix_log = stack.dir.join("postfix.log");
    let log_offset = std::fs::metadata(&postfix_log).map_or(0, |m| m.len());
    let t = Instant::now();
    let mut child = start_klachtd(&config_path);
    let (mut peak_kib, mut registered_at, mut first_sent_at, mut cpu_at_registered) = (0, None, None, 0.0);
    let all_sent_at = loop {
        peak_kib = peak_kib.max(peak_rss_kib(child.id()));
        let sent = store.outbox_counts().await.unwrap_or_default().iter().find(|(s, _)| s == "sent").map_or(0, |(_, n)| *n) as usize;
        if first_sent_at.is_none() && sent > 0 {
            first_sent_at = Some(t.elapsed());
        }
        if registered_at.is_none() && store.count(Table::Cases).await.unwrap() as usize >= n {
            registered_at = Some(t.elapsed());
            cpu_at_registered = cpu_seconds(child.id());
        }
        if sent >= n {
            break t.elapsed();
        }
        assert!(t.elapsed() < Duration::from_secs(1800), "did not finish");
        // Finely until the last case is registered (100 ms steps were a tenth of that time).
        tokio::time::sleep(Duration::from_millis(if registered_at.is_none() { 10 } else { 100 })).await;
    };
    let cpu = cpu_seconds(child.id());
    peak_kib = peak_kib.max(peak_rss_kib(child.id()));
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let _ = child.wait();
    // PostgreSQL publishes a backend's counts when it ends, within a second.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (commits, wal_syncs) = {
        let (c, s) = pg_commits(&w.db.url).await;
        (c - commits_before.0, s - commits_before.1)
    };

    let (smtp_connections, smtp_commands) = smtp_counts(&postfix_log, log_offset);
    let imap_commands = commands.load(Ordering::Relaxed);
    let latencies = arrival_to_acknowledgement(stack, &complaints, &config_path, 20).await;
    let registered = n as f64 / registered_at.unwrap().as_secs_f64();
    let acknowledged = n as f64 / (all_sent_at - first_sent_at.unwrap()).as_secs_f64();
    println!("klachtd throughput, {n} complaints, {db:?}, this machine, one run");
    println!("| | klachtd | the server's own rate, same run | ratio |");
    println!("|---|---|---|---|");
    println!("| intake (registered + moved) | {registered:.0} mails/s | Dovecot, one `UID FETCH` per mail: {single:.0}/s; `UID FETCH 1:*`: {bulk:.0}/s | {:.1} % / {:.2} % |", 100.0 * registered / single, 100.0 * registered / bulk);
    println!(
        "| | | Dovecot, klachtd's pattern from a plain client (FETCH of sizes, FETCH of bodies, one `UID MOVE` per 50 mails): {batched:.0}/s | {:.1} % |",
        100.0 * registered / batched
    );
    println!(
        "| acknowledgements accepted by Postfix | {acknowledged:.0} mails/s | Postfix, one connection: {postfix:.0}/s | {:.1} % |",
        100.0 * acknowledged / postfix
    );
    println!();
    println!("klachtd CPU share of wall time   {:.0} % ({cpu:.1} s CPU in {:.1} s)", 100.0 * cpu / all_sent_at.as_secs_f64(), all_sent_at.as_secs_f64());
    // Up to the last case registered: the intake, with the outbox beside it.
    let intake_secs = registered_at.unwrap().as_secs_f64();
    println!("  of which up to the last case     {:.0} % ({cpu_at_registered:.1} s CPU in {intake_secs:.1} s)", 100.0 * cpu_at_registered / intake_secs);
    println!("IMAP commands per mail           {:.2}", imap_commands as f64 / n as f64);
    println!("SMTP commands per mail           {:.2} ({:.4} connections per mail)", smtp_commands as f64 / n as f64, smtp_connections as f64 / n as f64);
    if db == Db::Postgres {
        println!(
            "PostgreSQL per mail              {:.2} transactions (reads included), {:.2} WAL flushes",
            commits as f64 / n as f64,
            wal_syncs as f64 / n as f64
        );
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "arrival to acknowledgement       p50 {:.0} ms, p90 {:.0} ms, max {:.0} ms ({} complaints one at a time to an idle klachtd)",
        ms(latencies[latencies.len() / 2]),
        ms(latencies[latencies.len() * 9 / 10]),
        ms(latencies[latencies.len() - 1]),
        latencies.len()
    );
    println!("APPEND into the mailbox          {append_rate:.0} mails/s");
    println!("klachtd peak RSS                 {:.1} MiB", peak_kib as f64 / 1024.0);
}

/// The real klachtd binary, running with `config`; `BENCH_KLACHTD_LOG` sets its log filter.
fn start_klachtd(config: &std::path::Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_klachtd"))
        .args(["--config", config.to_str().unwrap(), "run"])
        .env("KLACHTD_LOG", std::env::var("BENCH_KLACHTD_LOG").unwrap_or("warn".into()))
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

/// Arrival to acknowledgement, one complaint at a time to a klachtd that idles: from Postfix's
/// acceptance of the complaint to the acknowledgement's file in the complainant's maildir
/// (Postfix's delivery both ways, Dovecot's IDLE notification and klachtd's work). Sorted.
async fn arrival_to_acknowledgement(stack: &MailStack, complaints: &str, config: &std::path::Path, rounds: usize) -> Vec<Duration> {
    let mut child = start_klachtd(config);
    // Started, through its empty inbox and into IDLE.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut latencies = Vec::with_capacity(rounds);
    for i in 0..rounds {
        let from = format!("latency-{i}-{}@example.test", unique("l"));
        let raw = format!(
            "From: Klager <{from}>\r\nTo: {complaints}\r\nSubject: Klacht {i}\r\nMessage-ID: <{}@example.test>\r\n\r\nMijn afspraak ging niet door.\r\n",
            unique("lat")
        );
        stack.send_raw(&from, complaints, raw.as_bytes()).await;
        let t = Instant::now();
        let maildir = stack.dir.join("mail").join(from.to_lowercase());
        while walk_count(&maildir.join("new")) + walk_count(&maildir.join("cur")) == 0 {
            assert!(t.elapsed() < Duration::from_secs(60), "no acknowledgement for complaint {i}");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        latencies.push(t.elapsed());
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let _ = child.wait();
    latencies.sort();
    latencies
}

/// Postfix's acceptance rate over one connection (TCP_NODELAY), with mails the size of an
/// acknowledgement, each to another recipient.
async fn postfix_rate(stack: &MailStack, n: usize) -> f64 {
    use lettre::transport::smtp::client::AsyncSmtpConnection;
    use lettre::transport::smtp::extension::ClientId;
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", stack.smtp_port)).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    let mut conn = AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &ClientId::default()).await.unwrap();
    let body = "Geachte heer/mevrouw,\r\n\r\nWij hebben uw klacht ontvangen.\r\n".repeat(24);
    let t = Instant::now();
    for i in 0..n {
        let to = format!("postfix-{i}-{}@outside.test", unique("r"));
        let envelope = lettre::address::Envelope::new(Some("klachten@klacht.test".parse().unwrap()), vec![to.parse().unwrap()]).unwrap();
        let message =
            format!("From: klachten@klacht.test\r\nTo: {to}\r\nSubject: Ontvangstbevestiging\r\nMessage-ID: <{}@klacht.test>\r\n\r\n{body}", unique("p"));
        conn.send(&envelope, message.as_bytes()).await.unwrap();
    }
    let rate = n as f64 / t.elapsed().as_secs_f64();
    let _ = conn.quit().await;
    rate
}

/// Waits until Postfix has delivered everything in its queue.
async fn postfix_drained(stack: &MailStack) {
    let queued = || ["incoming", "active", "deferred", "maildrop"].iter().map(|d| walk_count(&stack.dir.join("spool").join(d))).sum::<usize>();
    let t = Instant::now();
    while queued() > 0 && t.elapsed() < Duration::from_secs(300) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn walk_count(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| entries.flatten().map(|e| if e.path().is_dir() { walk_count(&e.path()) } else { 1 }).sum())
}

/// Dovecot's pace for the intake's own pattern, from a plain client on a mailbox of its own:
/// per 50 mails one FETCH of sizes and dates, one of the bodies and one `UID MOVE`.
async fn dovecot_batched_rate(stack: &MailStack, n: usize) -> f64 {
    let user = format!("{}@klacht.test", unique("batched"));
    let mut s = stack.session(&user).await;
    let _ = s.create("Done").await;
    for i in 0..n {
        let raw = format!(
            "From: Klager {i} <klager-{i}@example.test>\r\nSubject: Klacht nummer {i}\r\nMessage-ID: <{}@example.test>\r\n\r\n{}\r\n",
            unique("b"),
            "Mijn afspraak ging niet door en niemand liet iets weten. ".repeat(16)
        );
        s.append("INBOX", None, None, raw.as_bytes()).await.unwrap();
    }
    s.select("INBOX").await.unwrap();
    let mut uids: Vec<u32> = s.uid_search("ALL").await.unwrap().into_iter().collect();
    uids.sort_unstable();
    let t = Instant::now();
    for batch in uids.chunks(50) {
        let set = format!("{}:{}", batch[0], batch[batch.len() - 1]);
        let _: Vec<_> = s.uid_fetch(&set, "(UID RFC822.SIZE INTERNALDATE)").await.unwrap().try_collect().await.unwrap();
        let _: Vec<_> = s.uid_fetch(&set, "(UID BODY.PEEK[])").await.unwrap().try_collect().await.unwrap();
        s.uid_mv(&set, "Done").await.unwrap();
    }
    let rate = n as f64 / t.elapsed().as_secs_f64();
    let _ = s.logout().await;
    rate
}

/// SMTP connections and commands of the sessions Postfix ended after `offset` in its log
/// (smtpd's `disconnect from ... commands=N` line).
fn smtp_counts(log: &std::path::Path, offset: u64) -> (u64, u64) {
    let text = std::fs::read(log).unwrap_or_default();
    let text = String::from_utf8_lossy(&text[(offset as usize).min(text.len())..]).into_owned();
    text.lines()
        .filter(|l| l.contains("smtpd[") && l.contains("disconnect from"))
        .filter_map(|l| l.split_whitespace().find_map(|w| w.strip_prefix("commands=")?.split('/').next_back()?.parse::<u64>().ok()))
        .fold((0, 0), |(connections, commands), n| (connections + 1, commands + n))
}

/// A TCP proxy to Dovecot that counts the tagged commands a client sends.
async fn counting_proxy(upstream: u16, commands: Arc<AtomicU64>) -> u16 {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let commands = commands.clone();
            tokio::spawn(async move {
                let _ = client.set_nodelay(true);
                let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await else { return };
                let _ = server.set_nodelay(true);
                let (from_client, mut to_client) = client.into_split();
                let (mut from_server, mut to_server) = server.into_split();
                let down = tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut from_server, &mut to_client).await;
                });
                let mut from_client = tokio::io::BufReader::new(from_client);
                let mut line = Vec::new();
                loop {
                    line.clear();
                    match from_client.read_until(b'\n', &mut line).await {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                    // A command starts with a tag; IDLE's DONE and literals do not.
                    if line.first().is_some_and(u8::is_ascii_alphabetic)
                        && line.iter().position(|b| *b == b' ').is_some_and(|i| line[..i].iter().all(u8::is_ascii_alphanumeric))
                        && !line.starts_with(b"DONE")
                    {
                        commands.fetch_add(1, Ordering::Relaxed);
                    }
                    if to_server.write_all(&line).await.is_err() {
                        break;
                    }
                }
                down.abort();
            });
        }
    });
    port
}

/// Transactions of the test database and WAL flushes of the server so far (0 on SQLite).
async fn pg_commits(url: &str) -> (i64, i64) {
    if !url.starts_with("postgres") {
        return (0, 0);
    }
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(url).await.unwrap();
    let commits: i64 =
        sqlx::query_scalar("SELECT CAST(xact_commit AS BIGINT) FROM pg_stat_database WHERE datname = current_database()").fetch_one(&mut conn).await.unwrap();
    let syncs: i64 = sqlx::query_scalar("SELECT CAST(wal_sync AS BIGINT) FROM pg_stat_wal").fetch_one(&mut conn).await.unwrap();
    let _ = sqlx::Connection::close(conn).await;
    (commits, syncs)
}

/// User plus system CPU seconds of a process.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks: f64 = fields.get(11).and_then(|u| u.parse::<f64>().ok()).unwrap_or(0.0) + fields.get(12).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
    ticks / 100.0
}

fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0)
}
