//! klachtd as systemd runs it: the built binary as a child process with `NOTIFY_SOCKET`
//! pointing at a socket this test reads. READY after migration and mailbox login, WATCHDOG
//! pings, SIGHUP reloading the templates (and naming what needs a restart), journal priorities
//! on every log line, and a clean SIGTERM exit in the middle of a batch (STOPPING, code 0) with
//! nothing lost.

use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;
use klachtd::store::Table;

struct NotifySocket {
    socket: UnixDatagram,
    seen: Vec<String>,
}

impl NotifySocket {
    fn bind(path: &std::path::Path) -> Self {
        let socket = UnixDatagram::bind(path).unwrap();
        socket.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        Self { socket, seen: Vec::new() }
    }

    /// Waits for a datagram containing `needle`; returns it.
    fn expect(&mut self, needle: &str, limit: Duration) -> String {
        let start = Instant::now();
        let mut buf = [0u8; 4096];
        while start.elapsed() < limit {
            if let Ok(n) = self.socket.recv(&mut buf) {
                let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
                self.seen.push(msg.clone());
                if msg.contains(needle) {
                    return msg;
                }
            }
        }
        panic!("no {needle:?} from klachtd within {limit:?}; got {:?}", self.seen);
    }

    /// A datagram containing `needle` seen already, or else the next one that does: for a state
    /// that may have been reported before the test got to ask (a status line comes only when
    /// it changes, and the reloads above may have taken the one with the news).
    fn seen_or_expect(&mut self, needle: &str, limit: Duration) -> String {
        match self.seen.iter().find(|m| m.contains(needle)) {
            Some(m) => m.clone(),
            None => self.expect(needle, limit),
        }
    }
}

fn signal(pid: u32, sig: &str) {
    assert!(Command::new("kill").args([sig, &pid.to_string()]).status().unwrap().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_under_systemd_notify_and_stops_cleanly() {
    let w = World::new(Db::Sqlite).await;
    let templates = w.dir.path().join("templates");
    std::fs::create_dir_all(templates.join("nl")).unwrap();
    let config_path = w.dir.path().join("klachtd.toml");
    let metrics_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let extra = format!("{ANSWER_ALL}[templates]\ndir = \"{}\"\n[service]\nmetrics_listen = \"127.0.0.1:{metrics_port}\"\n", templates.display());
    std::fs::write(&config_path, config_text(w.stack, &w.complaints, &w.db.url, w.dir.path(), &extra)).unwrap();
    let mut notify = NotifySocket::bind(&w.dir.path().join("notify.sock"));

    // Like systemd, tell klachtd which stream is the journal's: here a file, by device and inode.
    let log_path = w.dir.path().join("journal.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let journal_stream = {
        use std::os::unix::fs::MetadataExt;
        let m = log.metadata().unwrap();
        format!("{}:{}", m.dev(), m.ino())
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_klachtd"))
        .args(["--config", config_path.to_str().unwrap(), "run"])
        .env("NOTIFY_SOCKET", w.dir.path().join("notify.sock"))
        .env("WATCHDOG_USEC", "1000000")
        .env("JOURNAL_STREAM", journal_stream)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let pid = child.id();

    let ready = notify.expect("READY=1", Duration::from_secs(60));
    assert!(ready.contains("STATUS=1/1 mailbox connected"), "{ready}");
    notify.expect("WATCHDOG=1", Duration::from_secs(5));

    let lena = format!("{}@example.test", unique("lena"));
    let (_, raw) = w.complaint("Lena Jansen", &lena, "Voor de herlaadbeurt", "Eerste.");
    w.send(&lena, &raw).await;
    eventually("first acknowledgement", WAIT, || async { (w.stack.messages(&lena, "INBOX").await.len() == 1).then_some(()) }).await;

    // SIGHUP picks up a new template without a restart.
    std::fs::write(templates.join("nl/acknowledgement.txt"), "Subject: [{{ case.reference }}] Nieuw sjabloon\n\nTekst.\n").unwrap();
    signal(pid, "-HUP");
    notify.expect("RELOADING=1", Duration::from_secs(10));
    notify.expect("READY=1", Duration::from_secs(10));
    let (_, raw) = w.complaint("Lena Jansen", &lena, "Na de herlaadbeurt", "Tweede.");
    w.send(&lena, &raw).await;
    let acks = eventually("second acknowledgement", WAIT, || async { Some(w.stack.messages(&lena, "INBOX").await).filter(|m| m.len() == 2) }).await;
    assert!(parsed(&acks[1]).subject().unwrap().ends_with("] Nieuw sjabloon"), "{:?}", parsed(&acks[1]).subject());

    // A change that needs a restart is named, on this reload and on every later one until the
    // restart; a broken file is refused and the running configuration kept.
    let text = std::fs::read_to_string(&config_path).unwrap();
    std::fs::write(&config_path, text.replacen("timeout_secs = 20", "timeout_secs = 21", 1)).unwrap();
    for _ in 0..2 {
        signal(pid, "-HUP");
        notify.expect("RELOADING=1", Duration::from_secs(10));
        notify.expect("READY=1", Duration::from_secs(10));
    }
    std::fs::write(&config_path, format!("{text}\n[imap]\n")).unwrap();
    signal(pid, "-HUP");
    notify.expect("RELOADING=1", Duration::from_secs(10));
    let after = notify.expect("READY=1", Duration::from_secs(10));
    assert!(after.contains("STATUS=1/1 mailbox connected"), "the real status line is back: {after}");

    // Prometheus metrics on loopback.
    let metrics = eventually("metrics", WAIT, || async {
        let body = http_get(metrics_port, "/metrics").await?;
        body.contains("klachtd_acknowledgements_sent_total 2").then_some(body)
    })
    .await;
    for line in [
        "klachtd_cases_created_total 2",
        "klachtd_mailbox_connected 1",
        "klachtd_mails_sent_total 2",
        "klachtd_outbox_mails{status=\"pending\"} 0",
        "klachtd_sync_lag_seconds ",
        "klachtd_open_cases{state=\"all\"} 2",
        "klachtd_open_cases{state=\"response_due\"} 0",
        "klachtd_outbox_oldest_unsent_age_seconds -1",
        "klachtd_quarantined_mails 0",
    ] {
        assert!(metrics.contains(line), "{line} missing in:\n{metrics}");
    }
    let value = |name: &str| metrics.lines().find_map(|l| l.strip_prefix(name)?.trim().parse::<i64>().ok());
    assert!(value("klachtd_reminder_sweeps_total ").is_some_and(|n| n >= 1), "the sweep at start counts:\n{metrics}");
    assert!(value("klachtd_reminder_sweep_age_seconds ").is_some_and(|age| (0..600).contains(&age)), "{metrics}");

    // A status line reaches systemd as cases arrive.
    notify.seen_or_expect("2 cases today", Duration::from_secs(40));

    // SIGTERM in the middle of a batch: the mail in hand is finished, the rest stays in the
    // mailbox, and every registered case has its acknowledgement sent or queued.
    let batch = 20;
    for i in 0..batch {
        // Different senders: one sender's sixth mail of the day would rightly get no reply.
        let (_, raw) = w.complaint("Lena Jansen", &format!("{i}.{lena}"), &format!("Stapel {i}"), "Derde.");
        w.stack.append(&w.complaints, "INBOX", &raw, None).await;
    }
    let store = w.store().await;
    eventually("the batch is being taken in", WAIT, || async { (store.count(Table::Cases).await.unwrap() > 2).then_some(()) }).await;
    signal(pid, "-TERM");
    notify.expect("STOPPING=1", Duration::from_secs(10));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(start.elapsed() < Duration::from_secs(25), "klachtd did not exit within 25 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status.code(), Some(0));
    let stderr = std::fs::read_to_string(&log_path).unwrap();

    let cases = store.count(Table::Cases).await.unwrap() as usize;
    let left = w.stack.messages(&w.complaints, "INBOX").await.len();
    eprintln!("SIGTERM left {left} of {batch} in the inbox");
    assert_eq!(cases + left, 2 + batch, "each mail is a case or still in the inbox ({cases} cases, {left} left)");
    assert_eq!(w.stack.messages(&w.complaints, "Klachtd-Verwerkt").await.len(), cases, "exactly the registered mail was moved");
    let outbox: i64 = store.outbox_counts().await.unwrap().iter().filter(|(s, _)| s == "sent" || s == "pending").map(|(_, n)| n).sum();
    assert_eq!(outbox as usize, cases, "one acknowledgement per case, sent or queued");

    // Confidential by default: the info-level log names references and counts, never the
    // complainant's name, address or words.
    assert!(stderr.contains("complaint registered"), "{stderr}");
    for secret in ["Lena", "Jansen", lena.as_str(), "Eerste", "herlaadbeurt", "Stapel"] {
        assert!(!stderr.contains(secret), "{secret:?} appears in the log:\n{stderr}");
    }
    // Under the journal: a priority on every line, no ANSI colours, no timestamps of our own.
    assert!(!stderr.contains('\u{1b}'), "{stderr}");
    for line in stderr.lines() {
        assert!(["<3>", "<4>", "<6>"].iter().any(|p| line.starts_with(p)), "line without a journal priority: {line:?}");
        assert!(!line[3..].trim_start().starts_with("20"), "a timestamp of our own: {line:?}");
    }
    assert!(stderr.lines().any(|l| l.starts_with("<6>") && l.contains("klachtd ready")), "{stderr}");
    let restart_named = stderr.lines().filter(|l| l.starts_with("<4>") && l.contains("needs_restart=imap")).count();
    assert_eq!(restart_named, 2, "both reloads name the imap change:\n{stderr}");
    assert!(stderr.lines().any(|l| l.starts_with("<3>") && l.contains("reload refused")), "{stderr}");
}

async fn http_get(port: u16, path: &str) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut conn = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.ok()?;
    conn.write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes()).await.ok()?;
    let mut out = String::new();
    conn.read_to_string(&mut out).await.ok()?;
    out.starts_with("HTTP/1.1 200").then_some(out)
}

/// A large mail is taken in without holding several copies of it: the daemon's peak resident
/// memory stays under 50 MiB plus twice the mail's size (the README gives the measured figure).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_mail_costs_at_most_twice_its_size_in_memory() {
    const ATTACHMENT: usize = 22 << 20;
    let w = World::new(Db::Sqlite).await;
    let config_path = w.dir.path().join("klachtd.toml");
    std::fs::write(&config_path, config_text(w.stack, &w.complaints, &w.db.url, w.dir.path(), ANSWER_ALL)).unwrap();
    // Incompressible content, base64 as a mail client sends it: about 30 MiB of mail.
    let mut data = vec![0u8; ATTACHMENT];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for b in data.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    let lena = format!("{}@example.test", unique("lena"));
    let encoded = base64_lines(&data);
    let raw = format!(
        "From: Lena Jansen <{lena}>\r\nTo: {}\r\nSubject: Groot bestand\r\nMessage-ID: <{}@example.test>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nZie de bijlage.\r\n--b\r\nContent-Type: application/pdf; name=\"scan.pdf\"\r\nContent-Disposition: attachment; filename=\"scan.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{encoded}--b--\r\n",
        w.complaints,
        unique("big")
    );
    drop(encoded);
    let size = raw.len();
    let sha256: String = ring::digest::digest(&ring::digest::SHA256, raw.as_bytes()).as_ref().iter().map(|b| format!("{b:02x}")).collect();
    w.stack.append(&w.complaints, "INBOX", raw.as_bytes(), None).await;
    drop(raw);
    let mut child = Command::new(env!("CARGO_BIN_EXE_klachtd"))
        .args(["--config", config_path.to_str().unwrap(), "run"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let store = w.store().await;
    eventually("the large complaint registered", Duration::from_secs(120), || async { (store.count(Table::Cases).await.unwrap() == 1).then_some(()) }).await;
    eventually("the mail put away", WAIT, || async { (w.stack.count(&w.complaints, "INBOX").await == 0).then_some(()) }).await;
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    let peak_kib: usize = status.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok()).unwrap();
    signal(child.id(), "-TERM");
    child.wait().unwrap();
    // Kept whole, as a file beside the attachments rather than in the database.
    let reference = store.list_cases().await.unwrap()[0].reference.clone();
    assert_eq!(store.raw_files(&reference).await.unwrap(), vec![sha256.clone()]);
    assert_eq!(std::fs::metadata(w.dir.path().join("data/attachments").join(&sha256[..2]).join(&sha256)).unwrap().len(), size as u64);
    let limit_kib = (50 << 10) + 2 * size / 1024;
    eprintln!("large mail: {} MiB, peak resident {} MiB, limit {} MiB", size >> 20, peak_kib >> 10, limit_kib >> 10);
    assert!(peak_kib < limit_kib, "peak resident {peak_kib} KiB for a mail of {size} bytes (limit {limit_kib} KiB)");
}

fn base64_lines(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len() * 4 / 3 + data.len() / 38);
    for (i, chunk) in data.chunks(3).enumerate() {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for j in 0..4 {
            out.push(if j <= chunk.len() { ALPHABET[(n >> (18 - 6 * j) & 63) as usize] as char } else { '=' });
        }
        if i % 19 == 18 {
            out.push_str("\r\n");
        }
    }
    out.push_str("\r\n");
    out
}
