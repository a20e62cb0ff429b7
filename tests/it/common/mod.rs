//! Test harness: a real mail stack (Dovecot + Postfix via tests/mailstack.sh), a real database
//! (a SQLite file, or a fresh PostgreSQL database per test), and klachtd running in-process.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use klachtd::app::clock::Clock;
use klachtd::config::Config;
use klachtd::store::Store;
use lettre::address::Envelope;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use tokio::sync::watch;

pub mod graph_server;
pub mod oauth_idp;
#[macro_use]
mod sources;
pub mod organisations;

pub use sources::*;

pub const PASSWORD: &str = "test-secret";

/// Declares each listed `async fn name(db: Db)` as two tests, `sqlite::name` and
/// `postgres::name`.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::Db::Sqlite).await })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::Db::Postgres).await })*
        }
    };
}

/// A running Dovecot + Postfix pair in its own directory and ports.
pub struct MailStack {
    pub dir: PathBuf,
    pub imap_port: u16,
    pub imaps_port: u16,
    pub smtp_port: u16,
    pub ca: PathBuf,
    _tmp: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mailstack.sh")
}

impl MailStack {
    /// Starts a private stack; a watcher stops it when this test process exits.
    pub fn start() -> MailStack {
        Self::start_with(&[])
    }

    /// `start` with more settings for tests/mailstack.sh (e.g. its OAuth mode).
    pub fn start_with(env: &[(&str, String)]) -> MailStack {
        let tmp = tempfile::Builder::new().prefix("klachtd-stack-").tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let (imap_port, imaps_port, smtp_port) = (free_port(), free_port(), free_port());
        let out = Command::new("bash")
            .arg(script())
            .arg("start")
            .arg(&dir)
            .arg("--owner-pid")
            .arg(std::process::id().to_string())
            .env("KLACHTD_STACK_IMAP_PORT", imap_port.to_string())
            .env("KLACHTD_STACK_IMAPS_PORT", imaps_port.to_string())
            .env("KLACHTD_STACK_SMTP_PORT", smtp_port.to_string())
            .env("KLACHTD_STACK_PASSWORD", PASSWORD)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .output()
            .expect("run tests/mailstack.sh");
        assert!(out.status.success(), "mail stack failed to start:\n{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        MailStack { ca: dir.join("tls/ca.pem"), dir, imap_port, imaps_port, smtp_port, _tmp: tmp }
    }

    /// One stack shared by the tests of a test binary that do not stop its servers.
    pub fn shared() -> &'static MailStack {
        static STACK: OnceLock<MailStack> = OnceLock::new();
        STACK.get_or_init(MailStack::start)
    }

    pub fn control(&self, action: &str) {
        let out = Command::new("bash").arg(script()).arg(action).arg(&self.dir).output().unwrap();
        assert!(out.status.success(), "mailstack {action} failed: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// Sends raw bytes over SMTP, as a complainant's mail server would.
    pub async fn send_raw(&self, from: &str, to: &str, raw: &[u8]) {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1").port(self.smtp_port).build();
        let envelope = Envelope::new(Some(from.parse().unwrap()), vec![to.parse().unwrap()]).unwrap();
        transport.send_raw(&envelope, raw).await.expect("SMTP send to the test stack");
    }

    pub fn imap_config(&self, user: &str) -> klachtd::config::Imap {
        let text =
            format!("host = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nuser = \"{user}\"\npassword = \"{PASSWORD}\"\ntimeout_secs = 20\n", self.imap_port);
        toml::from_str(&text).unwrap()
    }

    pub async fn session(&self, user: &str) -> klachtd::driven::imap::ImapSession {
        let tls = klachtd::driven::tls::client_config(Some(&self.ca)).unwrap();
        klachtd::driven::imap::connect(&self.imap_config(user), &tls, PASSWORD).await.expect("IMAP login")
    }

    /// Puts raw bytes straight into a folder, with an optional internal date.
    pub async fn append(&self, user: &str, folder: &str, raw: &[u8], internal_date: Option<&str>) {
        let mut s = self.session(user).await;
        s.append(folder, None, internal_date, raw).await.expect("APPEND");
        let _ = s.logout().await;
    }

    /// How many messages a folder holds (0 if it does not exist).
    pub async fn count(&self, user: &str, folder: &str) -> u32 {
        let mut s = self.session(user).await;
        let exists = s.examine(folder).await.map_or(0, |m| m.exists);
        let _ = s.logout().await;
        exists
    }

    /// All messages in a folder, raw, in UID order (empty if the folder does not exist).
    pub async fn messages(&self, user: &str, folder: &str) -> Vec<Vec<u8>> {
        let mut s = self.session(user).await;
        let Ok(mailbox) = s.examine(folder).await else { return Vec::new() };
        if mailbox.exists == 0 {
            let _ = s.logout().await;
            return Vec::new();
        }
        let fetched: Vec<_> = s.fetch("1:*", "(UID BODY.PEEK[])").await.unwrap().try_collect().await.unwrap();
        let mut out: Vec<_> = fetched.iter().map(|f| (f.uid.unwrap_or(0), f.body().unwrap_or_default().to_vec())).collect();
        out.sort_by_key(|(uid, _)| *uid);
        let _ = s.logout().await;
        out.into_iter().map(|(_, body)| body).collect()
    }
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A name that is unique in this test run (for addresses, databases and folders).
/// Complaint `i` of a benchmark to `to`: ~1 KB from its own sender at `outside.test` (whose
/// mail the test stack's Postfix queues and drops).
pub fn bench_complaint(i: usize, to: &str) -> String {
    format!(
        "From: Klager {i} <klager-{i}-{}@outside.test>\r\nTo: {to}\r\nSubject: Klacht nummer {i}\r\nMessage-ID: <{}@example.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{}\r\n",
        std::process::id(),
        unique(&format!("bench-{i}")),
        "Mijn afspraak ging niet door en niemand liet iets weten. ".repeat(16)
    )
}

pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// A database for one test: a SQLite file in a temp dir, or a fresh PostgreSQL database that
/// is dropped when the test ends.
pub struct TestDb {
    pub url: String,
    pg_name: Option<String>,
}

pub fn pg_admin_url() -> String {
    std::env::var("KLACHTD_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

impl TestDb {
    pub async fn create(kind: Db, dir: &Path) -> TestDb {
        match kind {
            Db::Sqlite => TestDb { url: format!("sqlite://{}/klachtd.db", dir.display()), pg_name: None },
            Db::Postgres => {
                let name = unique("klachtd_test").replace('-', "_");
                let admin = pg_admin_url();
                sqlx::any::install_default_drivers();
                let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin)
                    .await
                    .unwrap_or_else(|e| panic!("PostgreSQL at {admin} is needed for this test (tests/run.sh starts one): {e}"));
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut conn).await.unwrap();
                let base = admin.rsplit_once('/').unwrap().0;
                TestDb { url: format!("{base}/{name}"), pg_name: Some(name) }
            }
        }
    }
}

impl TestDb {
    /// A connection to this database with the schema of an older klachtd: the migrations
    /// numbered below `below` (e.g. "0013"), each recorded as applied, for tests of what an
    /// upgrade does to the data of before.
    pub async fn before_migration(&self, below: &str) -> sqlx::AnyPool {
        let backend = if self.url.starts_with("sqlite:") { "sqlite" } else { "postgres" };
        let url = if backend == "sqlite" { format!("{}?mode=rwc", self.url) } else { self.url.clone() };
        sqlx::any::install_default_drivers();
        let pool = sqlx::any::AnyPoolOptions::new().max_connections(1).connect(&url).await.unwrap();
        let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(backend);
        let mut files: Vec<_> = std::fs::read_dir(&folder).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        sqlx::raw_sql("CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)")
            .execute(&pool)
            .await
            .unwrap();
        for path in files.iter().filter(|p| p.file_name().unwrap().to_str().unwrap() < below) {
            sqlx::raw_sql(sqlx::AssertSqlSafe(std::fs::read_to_string(path).unwrap())).execute(&pool).await.unwrap();
            let version: i64 = path.file_name().unwrap().to_str().unwrap()[..4].parse().unwrap();
            sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, 'before', 0)").bind(version).execute(&pool).await.unwrap();
        }
        pool
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = self.pg_name.take() {
            // Drop runs outside async; a short-lived runtime on a thread does the cleanup.
            let admin = pg_admin_url();
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                rt.block_on(async {
                    if let Ok(mut conn) = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin).await {
                        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).execute(&mut conn).await;
                    }
                });
            })
            .join();
        }
    }
}

/// Everything one end-to-end test needs: its own addresses, database and data directory.
pub struct World {
    pub stack: &'static MailStack,
    pub complaints: String,
    pub dir: tempfile::TempDir,
    pub db: TestDb,
    pub config: Config,
    store: tokio::sync::OnceCell<Store>,
}

/// Tests put mail in the mailbox before they start klachtd; without this, the product's
/// default ("first-start") would rightly hold those acknowledgements.
pub const ANSWER_ALL: &str = "[intake]\nacknowledge_since = \"2000-01-01\"\n";

impl World {
    pub async fn new(kind: Db) -> World {
        Self::with(kind, MailStack::shared(), ANSWER_ALL).await
    }

    /// `extra` is appended to the generated TOML (e.g. an `[intake]` section).
    pub async fn with(kind: Db, stack: &'static MailStack, extra: &str) -> World {
        let dir = tempfile::tempdir().unwrap();
        let db = TestDb::create(kind, dir.path()).await;
        let complaints = format!("{}@klacht.test", unique("klachten"));
        let graph = match source() {
            Source::Graph => graph_config_text(&complaints, dir.path()).0,
            Source::Imap => String::new(),
        };
        let config = config_text(stack, &complaints, &db.url, dir.path(), &format!("{extra}\n{graph}"));
        let config = Config::parse(&config).unwrap();
        assert!(config.problems().is_empty(), "{:?}", config.problems());
        World { stack, complaints, dir, db, config, store: tokio::sync::OnceCell::new() }
    }

    /// The test's own view of the database (one pool per test, opened on first use).
    pub async fn store(&self) -> &Store {
        self.store.get_or_init(|| async { Store::open(&self.config.database.url, 2).await.expect("open test database") }).await
    }

    pub fn start(&self) -> Running {
        Running::start(self.config.clone())
    }

    /// A complaint from `from` as a mail client would write it.
    pub fn complaint(&self, from_name: &str, from: &str, subject: &str, body: &str) -> (String, Vec<u8>) {
        let id = format!("{}@example.test", unique("msg"));
        let raw = format!(
            "From: {from_name} <{from}>\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{id}>\r\nDate: Wed, 25 Nov 2026 10:00:00 +0100\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n",
            to = self.complaints
        );
        (id, raw.into_bytes())
    }

    pub async fn send(&self, from: &str, raw: &[u8]) {
        match source() {
            Source::Imap => self.stack.send_raw(from, &self.complaints, raw).await,
            Source::Graph => graph_server::GraphServer::shared().deliver(&self.complaints, raw, None),
        }
    }
}

/// A configuration for klachtd against `stack`, with the outbox polling every second (the tests
/// wait for it) and `extra` appended.
pub fn config_text(stack: &MailStack, complaints: &str, db_url: &str, dir: &Path, extra: &str) -> String {
    format!("{}\n[outbox]\npoll_interval_secs = 1\nmax_backoff_secs = 2\n{extra}\n", base_config_text(stack, complaints, db_url, dir))
}

/// [`config_text`] without `[organisation]` and `[imap]`: for `[[organisations]]` (see
/// `organisations::Deployment`), appended after `extra`.
pub fn config_text_without_organisation(stack: &MailStack, db_url: &str, dir: &Path, extra: &str) -> String {
    format!(
        "[database]\nurl = \"{db_url}\"\n\n[storage]\ndata_dir = \"{data}\"\n\n[smtp]\nhost = \"127.0.0.1\"\nport = {smtp}\ntls = \"none\"\ntimeout_secs = 10\n\n[outbox]\npoll_interval_secs = 1\nmax_backoff_secs = 2\n{extra}\n",
        data = dir.join("data").display(),
        smtp = stack.smtp_port,
    )
}

/// The sections every configuration against `stack` has, with klachtd's defaults for the rest.
pub fn base_config_text(stack: &MailStack, complaints: &str, db_url: &str, dir: &Path) -> String {
    format!(
        r#"
[organisation]
name = "Re-integratiedienst Test"
complaints_address = "{complaints}"
regulation_url = "https://dienst.test/klachtenregeling"

[database]
url = "{db_url}"

[storage]
data_dir = "{data}"

[imap]
host = "127.0.0.1"
port = {imap}
tls = "none"
user = "{complaints}"
password = "{PASSWORD}"
timeout_secs = 20

[smtp]
host = "127.0.0.1"
port = {smtp}
tls = "none"
timeout_secs = 10
"#,
        data = dir.join("data").display(),
        imap = stack.imap_port,
        smtp = stack.smtp_port,
    )
}

/// klachtd running in-process on its own tokio task.
pub struct Running {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    health: Arc<OnceLock<Arc<klachtd::app::health::Health>>>,
}

/// Logs of the daemon under test, shown for failing tests: KLACHTD_TEST_LOG=debug. All the
/// tests share one process and so one global subscriber: it is `capture_logs`'s, whichever test
/// comes first, so that a test that greps the log finds it installed.
pub fn init_logging() {
    capture_logs();
}

/// The reminder clock of a daemon under test unless a test sets one: a Sunday night, when no
/// reminder may go out, so a test's outcome never depends on the day it runs.
pub fn quiet_clock() -> Clock {
    Clock::manual(chrono::TimeZone::with_ymd_and_hms(&chrono_tz::Europe::Amsterdam, 2026, 11, 22, 3, 0, 0).unwrap().with_timezone(&chrono::Utc))
}

impl Running {
    pub fn start(config: Config) -> Running {
        Self::start_with_clock(config, quiet_clock())
    }

    pub fn start_with_clock(config: Config, clock: Clock) -> Running {
        init_logging();
        let (stop, shutdown) = watch::channel(false);
        let health = Arc::new(OnceLock::new());
        let task = tokio::spawn({
            let health = health.clone();
            async move {
                let result = async {
                    let daemon = klachtd::daemon::Daemon::prepare(&config).await?.with_clock(clock);
                    let _ = health.set(daemon.health());
                    daemon.run(shutdown).await
                }
                .await;
                if let Err(e) = &result {
                    tracing::error!("daemon under test failed: {e:#}");
                }
                result
            }
        });
        Running { stop, task, health }
    }

    /// How many reminder sweeps the daemon has finished (0 before it is up).
    pub fn sweeps(&self) -> u64 {
        self.health.get().map_or(0, |h| h.reminder_sweeps.load(Ordering::Relaxed))
    }

    /// Asks for shutdown and waits for it (bounded).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        tokio::time::timeout(Duration::from_secs(30), self.task).await.expect("daemon stops within 30 s").unwrap().unwrap();
    }
}

/// Polls `probe` until it returns Some, or panics with `what` after `limit`.
pub async fn eventually<T, F, Fut>(what: &str, limit: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(start.elapsed() < limit, "timed out after {limit:?} waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub const WAIT: Duration = Duration::from_secs(30);

/// Parsed view of a mail received by a test mailbox.
pub fn parsed(raw: &[u8]) -> mail_parser::Message<'_> {
    mail_parser::MessageParser::default().parse(raw).expect("parseable mail")
}

/// The text of a received letter as its reader sees it: its flowed lines (RFC 3676) joined
/// into their paragraphs again.
pub fn text_of(msg: &mail_parser::Message<'_>) -> String {
    klachtd::domain::flowed::unflow(&msg.body_text(0).unwrap_or_default().replace("\r\n", "\n"))
}

pub fn header<'a>(msg: &'a mail_parser::Message<'a>, name: &'a str) -> Option<&'a str> {
    msg.header_raw(name).map(str::trim)
}

pub type Shared<T> = Arc<T>;

/// A pool of one connection to the test database, for what a test reads or changes in it
/// directly.
pub async fn pool(url: &str) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::any::AnyPoolOptions::new().max_connections(1).connect(url).await.unwrap()
}

/// `(attempts, last_error)` of every outbox row, straight from the database.
pub async fn outbox_attempts(db_url: &str) -> Vec<(i64, Option<String>)> {
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(db_url).await.expect("connect to the test database");
    let rows: Vec<(i64, Option<String>)> =
        sqlx::query_as("SELECT attempts, last_error FROM outbox ORDER BY id").fetch_all(&mut conn).await.expect("read outbox");
    let _ = sqlx::Connection::close(conn).await;
    rows
}

impl MailStack {
    /// The flags of every message in a folder, in UID order.
    pub async fn flags(&self, user: &str, folder: &str) -> Vec<Vec<String>> {
        let mut s = self.session(user).await;
        let Ok(mailbox) = s.examine(folder).await else { return Vec::new() };
        if mailbox.exists == 0 {
            let _ = s.logout().await;
            return Vec::new();
        }
        let fetched: Vec<_> = s.fetch("1:*", "(UID FLAGS)").await.unwrap().try_collect().await.unwrap();
        let mut out: Vec<_> = fetched
            .iter()
            .map(|f| {
                (
                    f.uid.unwrap_or(0),
                    f.flags()
                        .map(|fl| match fl {
                            async_imap::types::Flag::Custom(c) => c.to_string(),
                            async_imap::types::Flag::Seen => "\\Seen".to_string(),
                            other => format!("{other:?}"),
                        })
                        .collect::<Vec<_>>(),
                )
            })
            .collect();
        out.sort_by_key(|(uid, _)| *uid);
        let _ = s.logout().await;
        out.into_iter().map(|(_, flags)| flags).collect()
    }

    /// A proxy in front of the plain IMAP port that hides the MOVE capability, as a server
    /// without RFC 6851 would; returns its port. It lives as long as the test's runtime.
    pub async fn imap_without_move(&self) -> u16 {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let upstream = self.imap_port;
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await else { return };
                    let (mut from_client, mut to_client) = client.into_split();
                    let (from_server, mut to_server) = server.into_split();
                    let up = tokio::spawn(async move {
                        let _ = tokio::io::copy(&mut from_client, &mut to_server).await;
                        let _ = to_server.shutdown().await;
                    });
                    let mut from_server = tokio::io::BufReader::new(from_server);
                    let mut line = Vec::new();
                    loop {
                        line.clear();
                        match from_server.read_until(b'\n', &mut line).await {
                            Ok(0) | Err(_) => break,
                            Ok(_) => {}
                        }
                        let out = match std::str::from_utf8(&line) {
                            Ok(text) if text.contains("CAPABILITY ") && !text.starts_with(|c: char| c.is_ascii_whitespace()) => {
                                text.replace(" MOVE ", " ").replace(" MOVE]", "]").replace(" MOVE\r\n", "\r\n").into_bytes()
                            }
                            _ => line.clone(),
                        };
                        if to_client.write_all(&out).await.is_err() {
                            break;
                        }
                    }
                    up.abort();
                });
            }
        });
        port
    }
}

/// Noon in Amsterdam on `day`, as Unix seconds.
pub fn noon(day: chrono::NaiveDate) -> i64 {
    day.and_hms_opt(12, 0, 0).unwrap().and_local_timezone(chrono_tz::Europe::Amsterdam).unwrap().timestamp()
}

/// A complaint by e-mail as the intake would register it, for tests that make their cases by
/// hand: received at noon on `received`, with the deadlines given. Incomplete as the intake
/// would flag it. Other fields: struct update syntax.
pub fn hand_made_case(
    name: Option<&str>,
    email: &str,
    description: &str,
    received: chrono::NaiveDate,
    deadlines: [chrono::NaiveDate; 3],
) -> klachtd::store::NewCase {
    let mut incomplete = Vec::new();
    if description.trim().is_empty() {
        incomplete.push("description");
    }
    if name.is_none() {
        incomplete.push("name");
    }
    klachtd::store::NewCase {
        source: klachtd::store::CaseSource::Email,
        complainant_name: name.map(str::to_string),
        complainant_email: Some(email.to_string()),
        reply_to_name: None,
        reply_to_email: None,
        postal_address: None,
        subject: "Klacht".into(),
        description: description.into(),
        incomplete,
        received_on: received,
        received_at: noon(received),
        acknowledge_by: deadlines[0],
        progress_by: Some(deadlines[1]),
        procedure: Default::default(),
        respond_by: deadlines[2],
        preferred_handler: None,
        forwarded: None,
    }
}

/// An incoming mail of `kind` with Message-ID `id` (deduplicated by it), as the intake records it.
pub fn hand_made_message(id: &str, from: Option<&str>, kind: &str, body: &str, received_at: i64) -> klachtd::store::MessageRecord {
    klachtd::store::MessageRecord {
        direction: klachtd::domain::history::Direction::In,
        kind: kind.parse().unwrap(),
        dedupe_key: Some(format!("mid:{id}")),
        message_id: Some(id.to_string()),
        from_address: from.map(str::to_string),
        subject: "Onderwerp".into(),
        body: body.into(),
        raw: Some(format!("Subject: Onderwerp\r\n\r\n{body}\r\n").into_bytes()),
        raw_file: None,
        note: String::new(),
        received_at,
    }
}

/// Registers `case` with its complaint mail (a fresh Message-ID); returns the reference.
pub async fn register_by_hand(store: &Store, case: &klachtd::store::NewCase) -> klachtd::domain::reference::CaseRef {
    let id = format!("{}@example.test", unique("complaint"));
    let message = hand_made_message(&id, case.complainant_email.as_deref(), "complaint", &case.description, case.received_at);
    match store.register_case(case, &message, &[], |_| None).await.unwrap() {
        klachtd::store::Registration::Registered { reference, .. } => reference,
        klachtd::store::Registration::Duplicate => panic!("registered twice"),
    }
}

/// The built binary run as a handler at the command line (`USER=handler-ann`, the default log
/// level): exit code, standard output, standard error.
pub fn klachtd_as_handler(config: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_klachtd"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env("USER", "handler-ann")
        .env_remove("KLACHTD_LOG")
        .output()
        .unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The in-process daemon's log at info level, as the journal would get it (see `capture_logs`).
pub fn daemon_log() -> &'static std::sync::Mutex<Vec<u8>> {
    static LOG: OnceLock<std::sync::Mutex<Vec<u8>>> = OnceLock::new();
    LOG.get_or_init(Default::default)
}

struct Capture;

impl std::io::Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        daemon_log().lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the process's subscriber (once; `init_logging` calls it too): every info-level
/// event of this process is kept in memory (`daemon_log`), besides the usual test output
/// (KLACHTD_TEST_LOG). The tests run in parallel, so a test that greps the log takes the part
/// written since it started, and looks there for what is its own (unique names).
pub fn capture_logs() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        use tracing_subscriber::layer::SubscriberExt;
        use tracing_subscriber::Layer;
        let shown = tracing_subscriber::EnvFilter::try_from_env("KLACHTD_TEST_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
        let subscriber = tracing_subscriber::registry()
            .with(tracing_subscriber::fmt::layer().with_writer(|| Capture).with_ansi(false).with_filter(tracing_subscriber::filter::LevelFilter::INFO))
            .with(tracing_subscriber::fmt::layer().with_test_writer().with_filter(shown));
        tracing::subscriber::set_global_default(subscriber).expect("the tests' one subscriber is installed before anything else logs");
    });
}

/// A case reference typed in a test (`"KL-2026-0001"`), or one a command printed.
pub fn cref(text: &str) -> klachtd::domain::reference::CaseRef {
    text.parse().unwrap_or_else(|e| panic!("{e}"))
}

/// A history entry by its stored word (`"viewed"`, `"progress-sent"`); a word klachtd does not
/// write fails the test rather than never matching.
pub fn event(text: &str) -> klachtd::store::HistoryEvent {
    text.parse().unwrap_or_else(|e| panic!("{e}"))
}
