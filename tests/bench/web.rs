//! The web workspace under load with a full register (issue 24): a benchmark, not a test.
//! Builds the register of `cargo bench --bench scale` (N cases, default 1,000,000: ten years,
//! six handlers and a supervisor), starts the real binary (`klachtd run`) with the workspace on,
//! and lets 50 signed-in handlers at once open, in a loop: their list, a case of theirs, a
//! search (by a complainant's name, e-mail address or reference, in turn) and the register page
//! (which only a supervisor may see; the others get its refusal). Meanwhile the intake works
//! through a backlog of complaints put in the mailbox before the start.
//!
//! Reports p50/p95/p99 per page, the daemon's CPU (and the PostgreSQL backends') and memory, and
//! the intake's rate during the load. The 50 sessions are made in the database (the sign-in is
//! not what is measured), spread over the seven accounts of the register: about seven browsers
//! per account, one of them the supervisor.
//!
//!     cargo bench --bench web                          # 1,000,000 cases, SQLite, 60 s of load
//!     cargo bench --bench web -- 100000 postgres 30    # N, backend, seconds of load
//!
//! With `KLACHTD_BENCH_REGISTERS=/some/folder` (SQLite only) the register is written once per
//! size and day into that folder and copied from there by the next runs (see `Register::build`).

#[allow(dead_code)]
#[path = "scale.rs"]
mod scale;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::Utc;
use klachtd::domain::calendar::amsterdam_date;
use klachtd::driving::web::auth;
use klachtd::store::Store;
use scale::common::*;
use scale::Register;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

const SESSIONS: usize = 50;
/// Complaints waiting in the mailbox when the daemon starts (KLACHTD_BENCH_BACKLOG: another number).
fn backlog_size() -> usize {
    std::env::var("KLACHTD_BENCH_BACKLOG").ok().and_then(|n| n.parse().ok()).unwrap_or(2000)
}
const PAGES: [&str; 4] = ["list", "case", "search", "register"];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let numbers: Vec<i64> = args.iter().filter_map(|a| a.replace(['_', ','], "").parse().ok()).collect();
    let n = numbers.first().copied().unwrap_or(1_000_000);
    let seconds = numbers.get(1).copied().unwrap_or(60).max(5) as u64;
    let db = if args.iter().any(|a| a == "postgres") { Db::Postgres } else { Db::Sqlite };
    if std::env::var_os("KLACHTD_TEST_LOG").is_none() {
        std::env::set_var("KLACHTD_TEST_LOG", "warn,sqlx=error");
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(run(n, db, Duration::from_secs(seconds)));
}

/// What one browser looks at: its session cookie, and cases of its account to open and search.
#[derive(Clone)]
struct Browser {
    cookie: String,
    supervisor: bool,
    targets: Vec<(String, String, String)>,
}

async fn run(n: i64, db: Db, window: Duration) {
    let stack = MailStack::shared();
    let today = amsterdam_date(Utc::now());
    let register = Register::build(db, n, today, stack).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = format!("127.0.0.1:{port}");
    let config_path = register.dir.path().join("klachtd-web.toml");
    let text = std::fs::read_to_string(&register.config_path).unwrap();
    std::fs::write(&config_path, format!("{text}\n[web]\nlisten = \"{base}\"\npublic_url = \"http://{base}\"\n")).unwrap();

    let store = Store::open(&register.db.url, 2).await.unwrap();
    let browsers = sessions(&store, &register.db.url).await;
    backlog(stack, &register.complaints).await;

    let daemon = std::process::Command::new(env!("CARGO_BIN_EXE_klachtd"))
        .arg("--config")
        .arg(&config_path)
        .arg("run")
        // KLACHTD_BENCH_DAEMON_LOG: another filter for the daemon (its lines go to stderr).
        .env("KLACHTD_LOG", std::env::var("KLACHTD_BENCH_DAEMON_LOG").unwrap_or_else(|_| "warn,sqlx=error".into()))
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = daemon.id();
    let daemon = Guard(daemon);
    eventually("the workspace answers", Duration::from_secs(300), || async {
        Connection::new(&base).get("/sign-in", "").await.ok().filter(|(s, _)| *s == 200)
    })
    .await;
    let counter = scale::pool(&register.db.url).await;

    // Each browser opens its list once (the caches of a working day), then the load.
    for b in &browsers {
        let (status, _) = Connection::new(&base).get("/cases", &b.cookie).await.unwrap();
        assert_eq!(status, 200);
    }
    let backends = scale::pg_backends(&register.db.url).await;
    let cpu = || scale::cpu_of(pid) + backends.iter().map(|p| scale::cpu_of(*p)).sum::<f64>();
    let (cpu_before, cases_before, started) = (cpu(), registered(&counter, n).await, Instant::now());
    let deadline = started + window;
    let progress = tokio::spawn(progress(counter.clone(), n, started, deadline));
    let tasks: Vec<_> = browsers.into_iter().enumerate().map(|(i, b)| tokio::spawn(browse(base.clone(), b, i, started, deadline))).collect();
    let mut times: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
    let mut slices: BTreeMap<(u64, &str), Vec<Duration>> = BTreeMap::new();
    let mut refused = 0;
    for task in tasks {
        for (page, status, at, time) in task.await.unwrap() {
            match status {
                200 => times.entry(page).or_default().push(time),
                403 if page == "register" => refused += 1,
                other => panic!("{page}: status {other}"),
            }
            slices.entry((at.as_secs() / SLICE_SECONDS, page)).or_default().push(time);
        }
    }
    let progress = progress.await.unwrap();
    let elapsed = started.elapsed();
    let (cpu_after, cases_after) = (cpu(), registered(&counter, n).await);
    let memory = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb = |key: &str| memory.lines().find(|l| l.starts_with(key)).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    drop(daemon);

    let figures = Figures {
        db,
        n,
        elapsed,
        times,
        refused,
        cpu: cpu_after - cpu_before,
        with_backends: !backends.is_empty(),
        rss_kb: kb("VmRSS:"),
        peak_kb: kb("VmHWM:"),
        registered: cases_after - cases_before,
    };
    figures.print();
    print_slices(slices, &progress, cases_before);
}

/// The intake's progress and the outbox's (the backlog's acknowledgements, and notices to the
/// handlers) until `deadline`, to set beside the pages' times slice by slice: (when, cases
/// registered after the first `n`, mails sent since the start).
async fn progress(counter: sqlx::AnyPool, n: i64, started: Instant, deadline: Instant) -> Vec<(Duration, i64, i64)> {
    let mail_before: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM outbox").fetch_one(&counter).await.unwrap();
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        let count = registered(&counter, n).await;
        let sql = "SELECT COUNT(*) FROM outbox WHERE id > $1 AND status = 'sent'";
        let sent = sqlx::query_scalar::<_, i64>(sql).bind(mail_before).fetch_one(&counter).await.unwrap();
        seen.push((started.elapsed(), count, sent));
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    seen
}

/// Cases registered after the register's `n`: the intake's.
async fn registered(counter: &sqlx::AnyPool, n: i64) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM cases WHERE id > $1").bind(n).fetch_one(counter).await.unwrap()
}

/// The `p` quantile of `sorted` times (none of none).
fn quantile(sorted: &[Duration], p: f64) -> Option<Duration> {
    sorted.get(((sorted.len() as f64 * p).ceil() as usize).saturating_sub(1)).copied()
}

/// The length of a slice of the window in `print_slices`.
const SLICE_SECONDS: u64 = 5;

/// The p95 of the list, case and search pages slice by slice (by when each was asked for),
/// beside the intake's and the outbox's progress: where the p95 comes from.
fn print_slices(mut slices: BTreeMap<(u64, &str), Vec<Duration>>, progress: &[(Duration, i64, i64)], before: i64) {
    println!();
    println!("| seconds | list p95 | case p95 | search p95 | (pages) | registered by the slice's end | outbox mails sent |");
    println!("|---|---|---|---|---|---|---|");
    let last = slices.keys().last().map_or(0, |(slice, _)| *slice);
    for slice in 0..=last {
        let mut cells = Vec::new();
        let mut pages = 0;
        for page in ["list", "case", "search"] {
            let mut t = slices.remove(&(slice, page)).unwrap_or_default();
            t.sort();
            pages += t.len();
            let p95 = quantile(&t, 0.95);
            cells.push(p95.map_or("–".into(), |d| format!("{:.0} ms", d.as_secs_f64() * 1000.0)));
        }
        let end = Duration::from_secs((slice + 1) * SLICE_SECONDS);
        let (_, registered, sent) = progress.iter().take_while(|(when, ..)| *when <= end).last().copied().unwrap_or((end, before, 0));
        println!("| {}-{} | {} | {pages} | {} | {sent} |", slice * SLICE_SECONDS, (slice + 1) * SLICE_SECONDS, cells.join(" | "), registered - before);
    }
    let when = |value: fn(&(Duration, i64, i64)) -> i64| {
        let last = progress.last().map(value);
        progress.iter().find(|p| Some(value(p)) == last).map_or(0.0, |(when, ..)| when.as_secs_f64())
    };
    println!();
    println!("- the intake's last case registered by {:.1} s, the outbox's last mail sent by {:.1} s", when(|p| p.1), when(|p| p.2));
}

/// What a run measured.
struct Figures {
    db: Db,
    n: i64,
    elapsed: Duration,
    times: BTreeMap<&'static str, Vec<Duration>>,
    refused: usize,
    /// CPU seconds of the daemon (and the PostgreSQL backends) in the window.
    cpu: f64,
    with_backends: bool,
    rss_kb: u64,
    peak_kb: u64,
    registered: i64,
}

impl Figures {
    fn print(mut self) {
        let Figures { db, n, elapsed, refused, cpu, with_backends, rss_kb, peak_kb, registered, .. } = self;
        let requests = self.times.values().map(Vec::len).sum::<usize>() + refused;
        println!();
        println!("klachtd's workspace, {db:?}, {n} cases, {SESSIONS} browsers at once for {:.0} s, this machine", elapsed.as_secs_f64());
        println!();
        println!("| page | requests | p50 | p95 | p99 | goal p95 < 100 ms |");
        println!("|---|---|---|---|---|---|");
        for page in PAGES {
            let mut t = self.times.remove(page).unwrap_or_default();
            t.sort();
            let at = |p: f64| quantile(&t, p);
            let q = |p: f64| at(p).map_or("–".to_string(), |d| format!("{:.1} ms", d.as_secs_f64() * 1000.0));
            let goal = match (page, at(0.95)) {
                ("register", _) => "(no goal)",
                (_, Some(p95)) if p95 < Duration::from_millis(100) => "yes",
                _ => "**no**",
            };
            println!("| {page} | {} | {} | {} | {} | {goal} |", t.len(), q(0.5), q(0.95), q(0.99));
        }
        println!();
        println!("- register page refused to the handlers (not supervisors): {refused} times");
        println!(
            "- daemon CPU{}: {:.0} % of one core on average ({:.1} s in {:.0} s), {:.2} ms a request ({requests})",
            if with_backends { " with the PostgreSQL backends" } else { "" },
            cpu * 100.0 / elapsed.as_secs_f64(),
            cpu,
            elapsed.as_secs_f64(),
            cpu * 1000.0 / requests.max(1) as f64
        );
        println!("- daemon memory: {} MiB resident at the end, {} MiB at most", rss_kb / 1024, peak_kb / 1024);
        println!(
            "- intake during the load: {} complaints registered, {:.1} a second (backlog {})",
            registered,
            registered as f64 / elapsed.as_secs_f64(),
            backlog_size()
        );
    }
}

/// Kills the daemon if the benchmark fails half-way.
struct Guard(std::process::Child);
impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
/// The 50 sessions, over the register's seven accounts, each with cases of its account.
async fn sessions(store: &Store, url: &str) -> Vec<Browser> {
    let pool = scale::pool(url).await;
    let mut by_account = BTreeMap::new();
    for h in 1..=7i64 {
        // The supervisor (7) reads every case; the handlers their own.
        let sql = if h == 7 {
            "SELECT reference, complainant_name, complainant_email FROM cases WHERE anonymised_at IS NULL ORDER BY id DESC LIMIT 300"
        } else {
            "SELECT reference, complainant_name, complainant_email FROM cases WHERE handler_id = $1 AND anonymised_at IS NULL ORDER BY id DESC LIMIT 300"
        };
        let mut query = sqlx::query_as::<_, (String, String, String)>(sql);
        if h != 7 {
            query = query.bind(h);
        }
        by_account.insert(h, query.fetch_all(&pool).await.unwrap());
    }
    pool.close().await;
    let mut browsers = Vec::new();
    for i in 0..SESSIONS {
        let h = (i % 7) as i64 + 1;
        let email = if h == 7 { "leiding@klacht.test".to_string() } else { format!("behandelaar-{h}@klacht.test") };
        let token = auth::new_token();
        store.create_session(&auth::hash(&token), &email, &auth::new_token(), klachtd::store::now() + 9 * 3600).await.unwrap();
        browsers.push(Browser { cookie: format!("{}={token}", auth::SESSION_COOKIE), supervisor: h == 7, targets: by_account[&h].clone() });
    }
    browsers
}

/// Complaints in the mailbox before the daemon starts, over one IMAP session.
async fn backlog(stack: &MailStack, complaints: &str) {
    let mut session = stack.session(complaints).await;
    for i in 0..backlog_size() {
        let raw = format!(
            "From: Belaster {i} <belaster-{i}@burger.test>\r\nTo: {complaints}\r\nSubject: Klacht {i}\r\nMessage-ID: <load-{i}-{}@burger.test>\r\n\
             Date: Mon, 30 Nov 2026 10:00:00 +0100\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nMijn afspraak ging niet door ({i}).\r\n",
            unique("m")
        );
        session.append("INBOX", None, None, raw.as_bytes()).await.expect("APPEND");
    }
    let _ = session.logout().await;
}

/// One browser's loop until `deadline`: (page, status, when asked since `started`, time) of
/// every request.
async fn browse(base: String, b: Browser, seed: usize, started: Instant, deadline: Instant) -> Vec<(&'static str, u16, Duration, Duration)> {
    let mut out = Vec::new();
    let mut i = seed;
    let mut connection = Connection::new(&base);
    // KLACHTD_BENCH_PAGES=list,case: only these pages (to see what each costs); `none`: no
    // page at all, the intake alone.
    let only = std::env::var("KLACHTD_BENCH_PAGES").ok();
    if only.as_deref() == Some("none") {
        tokio::time::sleep(deadline.saturating_duration_since(Instant::now())).await;
        return out;
    }
    while Instant::now() < deadline {
        let (reference, name, email) = &b.targets[i % b.targets.len()];
        let q = match i % 3 {
            0 => name.clone(),
            1 => email.clone(),
            _ => reference.clone(),
        };
        let search = format!("/cases?q={}{}", urlencode(&q), if b.supervisor { "&scope=all" } else { "" });
        let pages = [("list", "/cases".to_string()), ("case", format!("/cases/{reference}")), ("search", search), ("register", "/register".to_string())];
        for (page, path) in pages.into_iter().filter(|(page, _)| only.as_ref().is_none_or(|o| o.split(',').any(|p| p == *page))) {
            let t = Instant::now();
            let (status, body) = connection.get(&path, &b.cookie).await.unwrap_or_else(|e| panic!("{path}: {e}"));
            let time = t.elapsed();
            // A name's words also start other names (Klager 12 and Klager 120); an address or a
            // reference is the case's own.
            if page == "search" && status == 200 && !i.is_multiple_of(3) {
                assert!(body.contains(reference.as_str()), "the search {q:?} finds {reference}");
            }
            out.push((page, status, t - started, time));
        }
        i += 7;
    }
    out
}

fn urlencode(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() || b"-._~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

/// A browser's connection to the workspace, kept open between its requests (HTTP/1.1
/// keep-alive, as a browser keeps it), opened again when the server closed it.
struct Connection {
    base: String,
    stream: Option<tokio::io::BufReader<tokio::net::TcpStream>>,
}

impl Connection {
    fn new(base: &str) -> Self {
        Self { base: base.to_string(), stream: None }
    }

    /// A GET: status and body (the body read only as far as the page asks: `Content-Length`).
    async fn get(&mut self, path: &str, cookie: &str) -> std::io::Result<(u16, String)> {
        // A kept connection the server closed meanwhile fails on first use: once more, anew.
        let kept = self.stream.is_some();
        match self.try_get(path, cookie).await {
            Err(_) if kept => {
                self.stream = None;
                self.try_get(path, cookie).await
            }
            result => result,
        }
    }

    async fn try_get(&mut self, path: &str, cookie: &str) -> std::io::Result<(u16, String)> {
        if self.stream.is_none() {
            let stream = tokio::net::TcpStream::connect(&self.base).await?;
            stream.set_nodelay(true)?;
            self.stream = Some(tokio::io::BufReader::new(stream));
        }
        let stream = self.stream.as_mut().expect("connected above");
        let cookie = if cookie.is_empty() { String::new() } else { format!("Cookie: {cookie}\r\n") };
        stream.get_mut().write_all(format!("GET {path} HTTP/1.1\r\nHost: {}\r\n{cookie}\r\n", self.base).as_bytes()).await?;
        let mut line = String::new();
        let (mut status, mut length, mut close) = (0u16, None, false);
        loop {
            line.clear();
            if stream.read_line(&mut line).await? == 0 {
                return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "closed before the response"));
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some(code) = header.strip_prefix("HTTP/1.1 ") {
                status = code.split(' ').next().and_then(|c| c.parse().ok()).unwrap_or(0);
            } else if let Some((name, value)) = header.split_once(':') {
                match name.to_ascii_lowercase().as_str() {
                    "content-length" => length = value.trim().parse::<usize>().ok(),
                    "connection" => close = value.trim().eq_ignore_ascii_case("close"),
                    _ => {}
                }
            }
        }
        let mut body = Vec::new();
        match length {
            Some(n) => {
                body.resize(n, 0);
                stream.read_exact(&mut body).await?;
            }
            None => {
                stream.read_to_end(&mut body).await?;
                close = true;
            }
        }
        if close {
            self.stream = None;
        }
        Ok((status, String::from_utf8_lossy(&body).into_owned()))
    }
}
