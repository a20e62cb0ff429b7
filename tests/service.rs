//! klachtd as systemd runs it: the built binary as a child process with `NOTIFY_SOCKET`
//! pointing at a socket this test reads. READY after migration and mailbox login, WATCHDOG
//! pings, SIGHUP reloading the templates, and a clean SIGTERM exit (STOPPING, code 0) with
//! nothing lost.

mod common;

use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
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

    let mut child = Command::new(env!("CARGO_BIN_EXE_klachtd"))
        .args(["--config", config_path.to_str().unwrap(), "run"])
        .env("NOTIFY_SOCKET", w.dir.path().join("notify.sock"))
        .env("WATCHDOG_USEC", "1000000")
        .env("JOURNAL_STREAM", "8:1234")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();

    let ready = notify.expect("READY=1", Duration::from_secs(60));
    assert!(ready.contains("STATUS=mailbox connected"), "{ready}");
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

    // Prometheus metrics on loopback.
    let metrics = eventually("metrics", WAIT, || async {
        let body = http_get(metrics_port, "/metrics").await?;
        body.contains("klachtd_acknowledgements_sent_total 2").then_some(body)
    })
    .await;
    for line in ["klachtd_cases_created_total 2", "klachtd_mailbox_connected 1", "klachtd_outbox_mails{status=\"sent\"} 2", "klachtd_sync_lag_seconds "] {
        assert!(metrics.contains(line), "{line} missing in:\n{metrics}");
    }

    // A status line reaches systemd as cases arrive.
    notify.expect("2 cases today", Duration::from_secs(40));

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
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();

    let store = w.store().await;
    assert_eq!(store.count(Table::Cases).await.unwrap(), 2);
    assert_eq!(store.outbox_counts().await.unwrap(), vec![("sent".to_string(), 2)]);
    assert!(w.stack.messages(&w.complaints, "INBOX").await.is_empty(), "nothing left behind");

    // Confidential by default: the info-level log names references and counts, never the
    // complainant's name, address or words.
    assert!(stderr.contains("complaint registered"), "{stderr}");
    for secret in ["Lena", "Jansen", lena.as_str(), "Eerste", "herlaadbeurt"] {
        assert!(!stderr.contains(secret), "{secret:?} appears in the log:\n{stderr}");
    }
    // Under the journal: no ANSI colours and no timestamps of our own.
    assert!(!stderr.contains('\u{1b}'), "{stderr}");
}

async fn http_get(port: u16, path: &str) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut conn = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.ok()?;
    conn.write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes()).await.ok()?;
    let mut out = String::new();
    conn.read_to_string(&mut out).await.ok()?;
    out.starts_with("HTTP/1.1 200").then_some(out)
}
