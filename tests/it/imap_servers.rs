//! klachtd against a second real IMAP server: Cyrus IMAP 3.6 as Debian ships it (tests/cyrus.sh),
//! whose personal namespace is `INBOX.` with `.` between levels, which refuses folders outside
//! it, and which answers BAD to an unquoted name with a space. Dovecot accepts all of that, so
//! only a test against another server shows whether klachtd asks rather than assumes.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::common::*;
use futures::TryStreamExt;
use klachtd::store::Table;

/// A private Cyrus on a free port, stopped when this test process exits.
struct Cyrus {
    port: u16,
    _dir: tempfile::TempDir,
}

impl Cyrus {
    fn start(user: &str, password: &str) -> Cyrus {
        let dir = tempfile::Builder::new().prefix("klachtd-cyrus-").tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cyrus.sh");
        let run = |args: &[&str]| {
            let out = Command::new("bash").arg(&script).args(args).output().expect("run tests/cyrus.sh");
            assert!(out.status.success(), "cyrus.sh {args:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
        };
        let path = dir.path().to_str().unwrap().to_string();
        run(&["start", &path, &port.to_string(), "--owner-pid", &std::process::id().to_string()]);
        run(&["user", &path, user, password]);
        Cyrus { port, _dir: dir }
    }
}

async fn count(config: &klachtd::config::Imap, folder: &str) -> u32 {
    let tls = klachtd::driven::tls::client_config(None).unwrap();
    let mut s = klachtd::driven::imap::connect(config, &tls, PASSWORD).await.expect("login to Cyrus");
    let n = s.examine(folder).await.map_or(0, |m| m.exists);
    let _ = s.logout().await;
    n
}

async fn append(config: &klachtd::config::Imap, raw: &[u8]) {
    let tls = klachtd::driven::tls::client_config(None).unwrap();
    let mut s = klachtd::driven::imap::connect(config, &tls, PASSWORD).await.expect("login to Cyrus");
    s.append("INBOX", None, None, raw).await.expect("APPEND to Cyrus");
    let _ = s.logout().await;
}

async fn folders(config: &klachtd::config::Imap) -> Vec<String> {
    let tls = klachtd::driven::tls::client_config(None).unwrap();
    let mut s = klachtd::driven::imap::connect(config, &tls, PASSWORD).await.expect("login to Cyrus");
    let names: Vec<String> = s.list(Some(""), Some("*")).await.unwrap().map_ok(|n| n.name().to_string()).try_collect().await.unwrap();
    let _ = s.logout().await;
    names
}

/// Folders with a space and a non-ASCII letter, on a server that puts personal folders under
/// `INBOX.`: `check-config` creates them where the server wants them, the daemon takes a
/// complaint in, sets an auto-reply aside, and a second start does not trip over folders that
/// already exist. Mail that arrives while it idles on a server that does not announce it is
/// taken in at the next renewal of IDLE.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cyrus_with_its_namespace_quoting_and_idle() {
    let cyrus = Cyrus::start("klachten", PASSWORD);
    let w = World::new(Db::Sqlite).await;
    // Cyrus announces nothing in IDLE within the test (tests/cyrus.sh): the daemon's own
    // renewal every 3 s is what finds the mail that arrives while it idles.
    let folders_toml = "processed_folder = \"Klachten verwerkt\"\nignored_folder = \"Genegeerd-geëxporteerd\"\nidle_renew_secs = 3\n";
    let text = config_text(w.stack, &w.complaints, &w.db.url, w.dir.path(), ANSWER_ALL).replacen(
        &format!("port = {}\ntls = \"none\"\nuser = \"{}\"\n", w.stack.imap_port, w.complaints),
        &format!("port = {}\ntls = \"none\"\nuser = \"klachten\"\n{folders_toml}", cyrus.port),
        1,
    );
    assert!(text.contains(folders_toml), "the [imap] section was rewritten");
    let path = w.dir.path().join("cyrus.toml");
    std::fs::write(&path, &text).unwrap();
    let config = klachtd::config::Config::parse(&text).unwrap();

    // check-config creates the folders under the namespace, encoded.
    let out = Command::new(env!("CARGO_BIN_EXE_klachtd")).arg("--config").arg(&path).arg("check-config").output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("INBOX.Klachten verwerkt"), "{stdout}");
    let names = folders(config.imap()).await;
    for wanted in ["INBOX.Klachten verwerkt", "INBOX.Genegeerd-ge&AOs-xporteerd", "INBOX.Klachtd-Quarantaine"] {
        assert!(names.iter().any(|n| n == wanted), "{wanted} missing in {names:?}");
    }

    let bram = format!("{}@example.test", unique("bram"));
    let (_, raw) = w.complaint("Bram Bos", &bram, "Klacht via Cyrus", "Mijn afspraak werd twee keer verzet.");
    append(config.imap(), &raw).await;
    let auto = format!("From: Robot <robot@example.test>\r\nTo: klachten\r\nSubject: Automatisch antwoord\r\nAuto-Submitted: auto-replied\r\nMessage-ID: <{}@example.test>\r\n\r\nIk ben afwezig.\r\n", unique("auto"));
    append(config.imap(), auto.as_bytes()).await;

    let daemon = Running::start(config.clone());
    let store = w.store().await;
    eventually("the complaint registered", WAIT, || async { (store.count(Table::Cases).await.unwrap() == 1).then_some(()) }).await;
    eventually("both mails put away", WAIT, || async {
        (count(config.imap(), "INBOX.Klachten verwerkt").await == 1 && count(config.imap(), "INBOX.Genegeerd-ge&AOs-xporteerd").await == 1).then_some(())
    })
    .await;
    eventually("acknowledged", WAIT, || async { (w.stack.messages(&bram, "INBOX").await.len() == 1).then_some(()) }).await;
    daemon.stop().await;

    // A second start finds its folders; a complaint that arrives while it idles is taken in.
    let daemon = Running::start(config.clone());
    eventually("the daemon is up", WAIT, || async {
        (store.status(&["INBOX".to_string()], chrono::Utc::now().date_naive()).await.unwrap().last_sync_at.is_some()).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (_, raw) = w.complaint("Bram Bos", &bram, "Nog een klacht", "Ook de brief kwam te laat.");
    append(config.imap(), &raw).await;
    eventually("the second complaint registered", WAIT, || async { (store.count(Table::Cases).await.unwrap() == 2).then_some(()) }).await;
    daemon.stop().await;
    assert_eq!(count(config.imap(), "INBOX").await, 0, "nothing left in the inbox");
}
