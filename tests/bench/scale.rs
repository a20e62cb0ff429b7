//! Scale with the register (issue 14): how the views, the report and the sweeps behave when the
//! database holds years of complaints. Builds a database of N cases (default 1,000,000) straight
//! in SQL, following the migrations (the store's own migrate first, then `INSERT ... SELECT`
//! over a generated series: cases, complaint and follow-up mails, attachments, the letters in
//! the outbox, reminder digests and their reminder rows, history events, handlers), and a
//! database of 2,000 cases made the same way to compare with. Then it times the real code:
//! - the reminder sweep at 10:00 on a working day (library call, as the daemon makes it): the
//!   first of the day, which queues the digests, and a later one, when nothing new is due;
//! - `reminders preview`, `report` for the last full year, `cases show` (the real binary, process
//!   start included);
//! - `cases list` with its filters: time to the first case line on the pipe, and to the end;
//! - idle CPU per minute of a running daemon over five minutes (in-process, with the mail stack
//!   of the tests and a systemd notify socket, so it keeps its status line current as under
//!   systemd), with the default five-minute reminder sweep on a clock that stands at the same
//!   10:00, everything due then recorded already; the PostgreSQL server's backends count too.
//!
//! Ten years of history, so 1,000,000 cases is an organisation with ~100,000 complaints a year:
//! most cases closed (those older than two years anonymised), the last four weeks' open with
//! their deadlines in the coming days, a few stragglers past their deadlines, six handlers and
//! a supervisor.
//!
//! Run it with:
//!
//!     cargo bench --bench scale                     # N = 1,000,000, SQLite
//!     cargo bench --bench scale -- 100000 postgres  # N = 100,000, PostgreSQL
//!     cargo bench --bench scale -- 100000 keep      # and leave the database for a closer look
//!     cargo bench --bench scale -- no-idle          # without the five minutes of idle CPU per size

#[path = "../it/common/mod.rs"]
pub mod common;

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use chrono_tz::Europe::Amsterdam;
use common::*;
use klachtd::app::clock::Clock;
use klachtd::config::Config;
use klachtd::domain::calendar::{amsterdam_date, Calendar, Deadlines};
use klachtd::store::Store;

/// Days of history the cases are spread over.
const DAYS: i64 = 3650;
/// Handlers 1..=6 are assigned cases; 7 is the supervisor.
const SUPERVISOR: i64 = 7;
const BASELINE: i64 = 2000;
/// Five minutes: one reminder sweep of the default schedule (every five minutes) falls in it.
const IDLE_WINDOW: Duration = Duration::from_secs(300);

const DESCRIPTION: &str = "Mijn afspraak op het kantoor ging niet door en niemand liet iets weten. Ik heb een vrije dag \
opgenomen en ben voor niets gekomen. Ik verwacht een excuus en een nieuwe afspraak, en ik wil weten hoe dit voortaan wordt voorkomen.";
const LETTER: &str = "Geachte heer/mevrouw, wij hebben uw klacht ontvangen en in behandeling genomen. U hoort binnen tien \
werkdagen van ons hoe het ervoor staat. Met vriendelijke groet, de klachtencoördinator.";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: i64 = args.iter().find_map(|a| a.replace(['_', ','], "").parse().ok()).unwrap_or(1_000_000);
    let db = if args.iter().any(|a| a == "postgres") { Db::Postgres } else { Db::Sqlite };
    if std::env::var_os("KLACHTD_TEST_LOG").is_none() {
        // The in-process daemon's log (see `common::init_logging`).
        std::env::set_var("KLACHTD_TEST_LOG", "warn,sqlx=error");
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(run(n, db, args.iter().any(|a| a == "keep"), !args.iter().any(|a| a == "no-idle")));
}

/// `keep`: leave the large database (and its configuration) in place for a closer look.
/// `idle`: measure the idle CPU (five minutes per size).
async fn run(n: i64, db: Db, keep: bool, idle: bool) {
    let stack = MailStack::shared();
    let today = amsterdam_date(Utc::now());
    let calendar = Calendar::default();
    // 10:00 in Amsterdam on a working day: inside the reminders' default working hours.
    let day = calendar.on_or_next_working_day(today);
    let at = Amsterdam.with_ymd_and_hms(day.year(), day.month(), day.day(), 10, 0, 0).unwrap().with_timezone(&Utc);
    let sizes: Vec<i64> = if n > BASELINE { vec![BASELINE, n] } else { vec![n] };
    let mut all = Vec::new();
    for size in sizes {
        let register = Register::build(db, size, today, stack).await;
        let figures = measure(&register, at, today, idle).await;
        all.push(figures);
        if keep && size == n {
            println!("kept: {} (klachtd --config {})", register.db.url, register.config_path.display());
            std::mem::forget(register);
        }
    }
    print_table(db, at, &all);
}

/// A database with its configuration file (also the web workspace's benchmark's, tests/bench/web.rs).
pub struct Register {
    pub dir: tempfile::TempDir,
    pub db: TestDb,
    pub config_path: PathBuf,
    pub config: Config,
    pub complaints: String,
    pub n: i64,
    pub load: Duration,
}

/// The search index as the daemon keeps it: merged after retention every night (see
/// `Store::compact_search_index`); the bulk load above leaves it in pieces.
async fn merge_search_index(store: &Store) {
    let t = Instant::now();
    let merged = store.compact_search_index().await.expect("merge the search index");
    if merged > 0 {
        println!("  {:<36} {:>9}      in {:5.1} s", "search index merged", "", t.elapsed().as_secs_f64());
    }
}

impl Register {
    pub async fn build(kind: Db, n: i64, today: NaiveDate, stack: &MailStack) -> Register {
        let dir = tempfile::tempdir().unwrap();
        let db = TestDb::create(kind, dir.path()).await;
        let complaints = format!("{}@klacht.test", unique("klachten"));
        // klachtd's defaults (a five-minute sweep, the outbox's own polling): the idle figures
        // are those of an installation.
        let text = base_config_text(stack, &complaints, &db.url, dir.path());
        let config_path = dir.path().join("klachtd.toml");
        std::fs::write(&config_path, &text).unwrap();
        let config = Config::parse(&text).unwrap();
        assert!(config.problems().is_empty(), "{:?}", config.problems());

        let started = Instant::now();
        // SQLite with KLACHTD_BENCH_REGISTERS: a copy of the register of the same size and day
        // written before, if there is one (then migrated to this klachtd's schema), else
        // written now and kept there for the next run.
        let kept =
            std::env::var_os("KLACHTD_BENCH_REGISTERS").filter(|_| kind == Db::Sqlite).map(|d| PathBuf::from(d).join(format!("register-{n}-{today}.db")));
        let file = dir.path().join("klachtd.db");
        if let Some(kept) = kept.as_ref().filter(|k| k.exists()) {
            std::fs::copy(kept, &file).unwrap();
            // On disk before the run: else the daemon's first checkpoint (on SQLite's one writer
            // connection, every write waiting) flushes the whole copy, a second or more.
            std::fs::File::open(&file).unwrap().sync_all().unwrap();
            let store = Store::open(&db.url, 1).await.expect("migrate");
            merge_search_index(&store).await;
            store.close().await;
            println!("{n} cases on {kind:?} copied from {} in {:.1} s", kept.display(), started.elapsed().as_secs_f64());
        } else {
            Store::open(&db.url, 1).await.expect("migrate").close().await;
            load(kind, &db.url, n, today).await;
            let store = Store::open(&db.url, 1).await.expect("open");
            merge_search_index(&store).await;
            store.close().await;
            println!("{n} cases on {kind:?} written in {:.1} s", started.elapsed().as_secs_f64());
            if let Some(kept) = kept {
                std::fs::create_dir_all(kept.parent().unwrap()).unwrap();
                std::fs::copy(&file, &kept).unwrap();
            }
        }
        let load = started.elapsed();
        Register { dir, db, config_path, config, complaints, n, load }
    }

    /// The real binary: wall time and standard output.
    fn klachtd(&self, args: &[&str]) -> (Duration, String) {
        let t = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_klachtd"))
            .arg("--config")
            .arg(&self.config_path)
            .args(args)
            .env("KLACHTD_LOG", "warn,sqlx=error")
            .output()
            .unwrap();
        let elapsed = t.elapsed();
        assert!(out.status.success(), "klachtd {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        (elapsed, String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Median wall time of three runs, and the output of the last.
    fn klachtd3(&self, args: &[&str]) -> (Duration, String) {
        let mut runs: Vec<(Duration, String)> = (0..3).map(|_| self.klachtd(args)).collect();
        runs.sort_by_key(|(d, _)| *d);
        let out = runs[2].1.clone();
        (runs[1].0, out)
    }

    /// The real binary with its output on a pipe: when the first case line (the line after the
    /// header) arrived, when the output ended, and how many cases it listed.
    fn streamed(&self, args: &[&str]) -> Listing {
        let t = Instant::now();
        let mut child = Command::new(env!("CARGO_BIN_EXE_klachtd"))
            .arg("--config")
            .arg(&self.config_path)
            .args(args)
            .env("KLACHTD_LOG", "warn,sqlx=error")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = child.stdout.take().unwrap();
        let mut buf = vec![0u8; 1 << 16];
        let (mut newlines, mut first) = (0usize, None);
        loop {
            let k = out.read(&mut buf).unwrap();
            if k == 0 {
                break;
            }
            newlines += buf[..k].iter().filter(|b| **b == b'\n').count();
            if first.is_none() && newlines >= 2 {
                first = Some(t.elapsed());
            }
        }
        assert!(child.wait().unwrap().success(), "klachtd {args:?} failed");
        let total = t.elapsed();
        Listing { first: first.unwrap_or(total), total, cases: newlines.saturating_sub(1) }
    }
}

struct Listing {
    first: Duration,
    total: Duration,
    cases: usize,
}

/// Writes `n` cases and everything that goes with them, in a handful of statements.
async fn load(kind: Db, url: &str, n: i64, today: NaiveDate) {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url).await.unwrap();
    let sqlite = kind == Db::Sqlite;
    let exec = |sql: String| sqlx::raw_sql(sqlx::AssertSqlSafe(sql));
    if sqlite {
        exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF; PRAGMA cache_size = -524288; PRAGMA temp_store = MEMORY".into())
            .execute(&mut conn)
            .await
            .unwrap();
    } else {
        exec("SET synchronous_commit = off".into()).execute(&mut conn).await.unwrap();
    }

    // One row per day of history, with the deadlines the calendar gives (the store keeps them
    // as dates, computed at registration).
    let calendar = Calendar::default();
    let local = |d: NaiveDate, h: u32| Amsterdam.with_ymd_and_hms(d.year(), d.month(), d.day(), h, 0, 0).earliest().unwrap().timestamp();
    exec(
        "CREATE TABLE bench_days (d BIGINT PRIMARY KEY, received_on TEXT NOT NULL, year BIGINT NOT NULL, received_ts BIGINT NOT NULL,
            acknowledge_by TEXT NOT NULL, progress_by TEXT NOT NULL, respond_by TEXT NOT NULL, progress_ts BIGINT NOT NULL,
            respond_ts BIGINT NOT NULL, digest_d BIGINT NOT NULL, age BIGINT NOT NULL)"
            .into(),
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let rows: Vec<String> = (0..DAYS)
        .map(|d| {
            let received = today - chrono::Days::new((DAYS - 1 - d) as u64);
            let dl = Deadlines::compute(&calendar, received);
            let progress_by = dl.progress_by.expect("the seed's regulation has a progress notice");
            let progress_d = d + (progress_by - received).num_days();
            format!(
                "({d}, '{received}', {}, {}, '{}', '{}', '{}', {}, {}, {}, {})",
                received.year(),
                local(received, 9),
                dl.acknowledge_by,
                progress_by,
                dl.respond_by,
                local(progress_by, 11) - 86_400,
                local(dl.respond_by, 14),
                (progress_d - 2).min(DAYS - 1),
                DAYS - 1 - d
            )
        })
        .collect();
    for chunk in rows.chunks(500) {
        exec(format!("INSERT INTO bench_days VALUES {}", chunk.join(", "))).execute(&mut conn).await.unwrap();
    }
    let now = Utc::now().timestamp();
    let handlers: Vec<String> = (1..=SUPERVISOR)
        .map(|h| {
            if h == SUPERVISOR {
                format!("({h}, 'Leidinggevende', 'leiding@klacht.test', 1, 1, 0, {now})")
            } else {
                format!("({h}, 'Behandelaar {h}', 'behandelaar-{h}@klacht.test', 0, 1, 0, {now})")
            }
        })
        .collect();
    exec(format!("INSERT INTO handlers (id, name, email, supervisor, active, last_assigned_at, created_at) VALUES {}", handlers.join(", ")))
        .execute(&mut conn)
        .await
        .unwrap();
    // They work for the one organisation of the register (issue 25; without it they may read none of its cases).
    exec("INSERT INTO handler_organisations (handler_id, organisation) SELECT id, 'default' FROM handlers".into()).execute(&mut conn).await.unwrap();
    exec(format!("INSERT INTO counters (name, value) SELECT 'case-' || year, {n} FROM bench_days GROUP BY year")).execute(&mut conn).await.unwrap();

    let (with, series, refnum, blob) = if sqlite {
        (format!("WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n})"), "s".to_string(), "printf('%04d', y.i)", "CAST({} AS BLOB)")
    } else {
        (
            String::new(),
            format!("generate_series(CAST(1 AS BIGINT), CAST({n} AS BIGINT)) AS s(i)"),
            "CASE WHEN y.i < 10000 THEN lpad(CAST(y.i AS TEXT), 4, '0') ELSE CAST(y.i AS TEXT) END",
            "convert_to({}, 'UTF8')",
        )
    };
    let blob = |e: &str| blob.replace("{}", e);
    let day_of = |id: &str| format!("(({id} - 1) * {DAYS}) / {n}");
    let (ack_id, progress_id, response_id, digest_id) = (0, n, 2 * n, 3 * n + 1);
    // A case is closed once its (mostly timely, 5 % late) response went out, except a few
    // stragglers of the last four months; closed cases older than ~two years are anonymised.
    let statements = [
        (
            "cases",
            format!(
                "{with}
                 INSERT INTO cases (id, reference, status, source, complainant_name, complainant_email, subject, description, incomplete,
                     received_on, received_at, acknowledge_by, progress_by, respond_by, acknowledged_at, created_at, handler_id,
                     supervisor_check, progress_sent_at, responded_at, category, outcome, findings, measures, expected_by, closed_at,
                     external_body, external_on, anonymised_at)
                 SELECT y.i, 'KL-' || y.year || '-' || {refnum}, CASE WHEN y.closed = 1 THEN 'closed' ELSE 'open' END, 'email',
                     CASE WHEN y.anon = 0 THEN 'Klager ' || y.i END,
                     CASE WHEN y.anon = 0 THEN 'klager-' || y.i || '@example.test' END,
                     CASE WHEN y.anon = 0 THEN 'Afspraak vervallen op ' || y.received_on ELSE '' END,
                     CASE WHEN y.anon = 0 THEN '{DESCRIPTION}' ELSE '' END,
                     CASE WHEN y.h1 % 40 = 0 THEN 'name' ELSE '' END,
                     y.received_on, y.received_at, y.acknowledge_by, y.progress_by, y.respond_by,
                     CASE WHEN y.closed = 0 AND y.h2 % 200 = 7 THEN NULL ELSE y.received_at + 90 END,
                     y.received_at + 5,
                     CASE WHEN y.closed = 0 AND y.h2 % 50 = 1 THEN NULL ELSE 1 + y.i % 6 END,
                     '',
                     CASE WHEN y.progress_ts < {now} AND NOT (y.closed = 0 AND y.h2 % 10 = 7) THEN y.progress_ts END,
                     CASE WHEN y.closed = 1 THEN y.resp_ts END,
                     CASE WHEN y.closed = 1 OR y.h1 % 2 = 0 THEN (CASE y.h2 % 4 WHEN 0 THEN 'service' WHEN 1 THEN 'staff' WHEN 2 THEN 'process' ELSE 'other' END) END,
                     CASE WHEN y.closed = 1 THEN (CASE y.h1 % 3 WHEN 0 THEN 'founded' WHEN 1 THEN 'partly-founded' ELSE 'unfounded' END) END,
                     CASE WHEN y.closed = 1 AND y.anon = 0 THEN 'De afspraak is door een fout in de planning vervallen.' END,
                     CASE WHEN y.closed = 1 AND y.h1 % 3 = 0 THEN 'De planning stuurt voortaan bij elke wijziging een bericht.' END,
                     CASE WHEN y.progress_ts < {now} THEN y.respond_by END,
                     CASE WHEN y.closed = 1 THEN y.resp_ts END,
                     CASE WHEN y.closed = 1 AND y.h1 % 100 = 42 THEN 'Nationale ombudsman' END,
                     CASE WHEN y.closed = 1 AND y.h1 % 100 = 42 THEN y.respond_by END,
                     CASE WHEN y.anon = 1 THEN y.resp_ts + 63072000 + 86400 END
                 FROM (SELECT x.*, CASE WHEN x.closed = 1 AND x.resp_ts < {retained} THEN 1 ELSE 0 END AS anon
                       FROM (SELECT w.*, CASE WHEN w.resp_ts < {now} AND NOT (w.h1 < 4 AND w.age <= 120) THEN 1 ELSE 0 END AS closed
                             FROM (SELECT s.i AS i, b.received_on, b.year, b.received_ts + ((s.i * 104729) % 1000) * 30 AS received_at,
                                          b.acknowledge_by, b.progress_by, b.respond_by, b.progress_ts, b.age,
                                          (s.i * 7919) % 1000 AS h1, (s.i * 104729) % 1000 AS h2,
                                          b.respond_ts - ((s.i * 7919) % 6) * 86400 + CASE WHEN (s.i * 104729) % 1000 < 50 THEN 691200 ELSE 0 END AS resp_ts
                                   FROM {series} JOIN bench_days b ON b.d = {day}) w) x) y",
                day = day_of("s.i"),
                retained = now - 730 * 86_400
            ),
        ),
        (
            "messages (complaints)",
            format!(
                "INSERT INTO messages (id, case_id, direction, kind, dedupe_key, message_id, from_address, subject, body, raw, note, received_at)
                 SELECT c.id, c.id, 'in', 'complaint',
                     CASE WHEN c.anonymised_at IS NULL THEN 'mid:bench-' || c.id || '@example.test' ELSE 'mid-sha256:bench-' || c.id END,
                     CASE WHEN c.anonymised_at IS NULL THEN 'bench-' || c.id || '@example.test' END,
                     c.complainant_email, c.subject, c.description,
                     CASE WHEN c.anonymised_at IS NULL THEN {raw} END, '', c.received_at
                 FROM cases c",
                raw = blob("'From: ' || c.complainant_email || ' | Subject: ' || c.subject || ' | ' || c.description")
            ),
        ),
        (
            "messages (follow-ups)",
            format!(
                "INSERT INTO messages (id, case_id, direction, kind, dedupe_key, message_id, from_address, subject, body, raw, note, received_at)
                 SELECT {n} + c.id, c.id, 'in', 'follow-up',
                     CASE WHEN c.anonymised_at IS NULL THEN 'mid:bench-f-' || c.id || '@example.test' ELSE 'mid-sha256:bench-f-' || c.id END,
                     CASE WHEN c.anonymised_at IS NULL THEN 'bench-f-' || c.id || '@example.test' END,
                     c.complainant_email, CASE WHEN c.anonymised_at IS NULL THEN 'Re: ' || c.subject ELSE '' END,
                     CASE WHEN c.anonymised_at IS NULL THEN 'Is er al nieuws over mijn klacht?' ELSE '' END,
                     CASE WHEN c.anonymised_at IS NULL THEN {raw} END, '', c.received_at + 432000
                 FROM cases c WHERE c.id % 4 = 0",
                raw = blob("'Subject: Re: ' || c.subject || ' | Is er al nieuws over mijn klacht?'")
            ),
        ),
        (
            "attachments",
            "INSERT INTO attachments (message_id, case_id, filename, content_type, size, sha256, role)
             SELECT c.id, c.id, 'brief.pdf', 'application/pdf', 48213 + c.id % 1000, '{SHA256}', 'document'
             FROM cases c WHERE c.id % 10 = 3 AND c.anonymised_at IS NULL"
                .replace("{SHA256}", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ),
        (
            "outbox (acknowledgements)",
            format!(
                "INSERT INTO outbox (id, case_id, kind, recipient, recipient_name, subject, body, message_id, in_reply_to, refs, status,
                                     attempts, next_attempt_at, claimed_until, claimed_by, created_at, sent_at, smtp_reply)
                 SELECT {ack_id} + c.id, c.id, 'acknowledgement', COALESCE(c.complainant_email, '(removed)'), c.complainant_name,
                     CASE WHEN c.anonymised_at IS NULL THEN 'Ontvangstbevestiging ' || c.reference ELSE '' END,
                     CASE WHEN c.anonymised_at IS NULL THEN '{LETTER}' ELSE '' END,
                     'ack-' || c.id || '@klacht.test', CASE WHEN c.anonymised_at IS NULL THEN 'bench-' || c.id || '@example.test' END, '',
                     CASE WHEN c.acknowledged_at IS NULL THEN 'held' ELSE 'sent' END, CASE WHEN c.acknowledged_at IS NULL THEN 0 ELSE 1 END,
                     c.received_at + 5, 0, CASE WHEN c.acknowledged_at IS NOT NULL THEN 'bench' END, c.received_at + 5, c.acknowledged_at,
                     CASE WHEN c.acknowledged_at IS NOT NULL AND c.anonymised_at IS NULL THEN '250 2.0.0 Ok: queued' END
                 FROM cases c"
            ),
        ),
        (
            "outbox (progress notices)",
            format!(
                "INSERT INTO outbox (id, case_id, kind, recipient, recipient_name, subject, body, message_id, refs, status,
                                     attempts, next_attempt_at, claimed_until, claimed_by, created_at, sent_at)
                 SELECT {progress_id} + c.id, c.id, 'progress', COALESCE(c.complainant_email, '(removed)'), c.complainant_name,
                     CASE WHEN c.anonymised_at IS NULL THEN 'Stand van zaken ' || c.reference ELSE '' END,
                     CASE WHEN c.anonymised_at IS NULL THEN '{LETTER}' ELSE '' END,
                     'progress-' || c.id || '@klacht.test', '', 'sent', 1, c.progress_sent_at - 5, 0, 'bench', c.progress_sent_at - 5, c.progress_sent_at
                 FROM cases c WHERE c.progress_sent_at IS NOT NULL"
            ),
        ),
        (
            "outbox (responses)",
            format!(
                "INSERT INTO outbox (id, case_id, kind, recipient, recipient_name, subject, body, message_id, refs, status,
                                     attempts, next_attempt_at, claimed_until, claimed_by, created_at, sent_at)
                 SELECT {response_id} + c.id, c.id, 'response', COALESCE(c.complainant_email, '(removed)'), c.complainant_name,
                     CASE WHEN c.anonymised_at IS NULL THEN 'Afhandeling van uw klacht ' || c.reference ELSE '' END,
                     CASE WHEN c.anonymised_at IS NULL THEN '{LETTER}' ELSE '' END,
                     'response-' || c.id || '@klacht.test', '', 'sent', 1, c.responded_at - 5, 0, 'bench', c.responded_at - 5, c.responded_at
                 FROM cases c WHERE c.responded_at IS NOT NULL"
            ),
        ),
        (
            "reminders",
            format!(
                "INSERT INTO reminders (case_id, deadline, kind, due_key, recipient, outbox_id, created_at)
                 SELECT c.id, CASE WHEN c.id % 3 = 0 THEN 'respond' ELSE 'progress' END, 'reminder', 'lead-2', h.email,
                     {digest_id} + b.digest_d * 8 + h.id, b.received_ts
                 FROM cases c JOIN handlers h ON h.id = c.handler_id JOIN bench_days b ON b.d = {day}
                 WHERE c.status = 'closed'",
                day = day_of("c.id")
            ),
        ),
        (
            "outbox (reminder digests)",
            "INSERT INTO outbox (id, case_id, kind, recipient, recipient_name, subject, body, message_id, refs, status,
                                 attempts, next_attempt_at, claimed_until, claimed_by, created_at, sent_at)
             SELECT r.outbox_id, NULL, 'reminder', r.recipient, NULL, 'Termijnen van klachten', 'Een termijn nadert.',
                 'digest-' || r.outbox_id || '@klacht.test', '', 'sent', 1, MIN(r.created_at), 0, 'bench', MIN(r.created_at), MIN(r.created_at) + 10
             FROM reminders r GROUP BY r.outbox_id, r.recipient"
                .to_string(),
        ),
        (
            "case_events (registered)",
            "INSERT INTO case_events (case_id, at, actor, action, detail) SELECT c.id, c.received_at, 'klachtd', 'registered', 'source=email' FROM cases c"
                .to_string(),
        ),
        (
            "case_events (assigned)",
            "INSERT INTO case_events (case_id, at, actor, action, detail)
             SELECT c.id, c.received_at, 'klachtd', 'assigned', h.name || ' (automatic)' FROM cases c JOIN handlers h ON h.id = c.handler_id"
                .to_string(),
        ),
        (
            "case_events (acknowledgement-sent)",
            "INSERT INTO case_events (case_id, at, actor, action, detail)
             SELECT c.id, c.acknowledged_at, 'klachtd', 'acknowledgement-sent', '' FROM cases c WHERE c.acknowledged_at IS NOT NULL"
                .to_string(),
        ),
        (
            "case_events (information-requested)",
            "INSERT INTO case_events (case_id, at, actor, action, detail)
             SELECT c.id, c.received_at + 172800, 'behandelaar', 'information-requested', CASE WHEN c.anonymised_at IS NULL THEN 'to ' || c.complainant_email ELSE '' END
             FROM cases c WHERE c.id % 20 = 1"
                .to_string(),
        ),
        (
            "case_events (progress-notice)",
            "INSERT INTO case_events (case_id, at, actor, action, detail)
             SELECT c.id, c.progress_sent_at, 'behandelaar', 'progress-notice', 'expected handling by ' || c.respond_by FROM cases c WHERE c.progress_sent_at IS NOT NULL"
                .to_string(),
        ),
        (
            "case_events (final-response)",
            "INSERT INTO case_events (case_id, at, actor, action, detail)
             SELECT c.id, c.closed_at, 'behandelaar', 'final-response', 'outcome ' || c.outcome || '; case closed' FROM cases c WHERE c.status = 'closed'"
                .to_string(),
        ),
    ];
    // The migrations' own indexes (not those of keys and unique constraints) are set aside and
    // built again after the load, as sorting once is much faster than growing them row by row;
    // on PostgreSQL the foreign keys are not checked while loading (the data is made to fit).
    let indexes: Vec<(String, String)> = if sqlite {
        sqlx::query_as("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND name NOT LIKE 'bench%'")
            .fetch_all(&mut conn)
            .await
            .unwrap()
    } else {
        exec("SET session_replication_role = replica; SET maintenance_work_mem = '256MB'".into()).execute(&mut conn).await.unwrap();
        sqlx::query_as(
            "SELECT CAST(indexname AS TEXT), indexdef FROM pg_indexes WHERE schemaname = current_schema()
               AND indexname NOT IN (SELECT conname FROM pg_constraint) AND tablename <> 'bench_days'",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap()
    };
    for (name, _) in &indexes {
        exec(format!("DROP INDEX {name}")).execute(&mut conn).await.unwrap();
    }
    for (what, sql) in statements {
        let t = Instant::now();
        let rows = exec(sql).execute(&mut conn).await.unwrap_or_else(|e| panic!("{what}: {e}")).rows_affected();
        println!("  {what:<36} {rows:>9} rows in {:5.1} s", t.elapsed().as_secs_f64());
    }
    exec("DROP TABLE bench_days".into()).execute(&mut conn).await.unwrap();
    let t = Instant::now();
    for (_, sql) in &indexes {
        exec(sql.clone()).execute(&mut conn).await.unwrap();
    }
    if !sqlite {
        exec("SET session_replication_role = DEFAULT".into()).execute(&mut conn).await.unwrap();
    }
    println!("  {:<36} {:>9}      in {:5.1} s", format!("{} indexes built again", indexes.len()), "", t.elapsed().as_secs_f64());
    let t = Instant::now();
    if sqlite {
        // No ANALYZE: klachtd never runs it, so the planner works without statistics as it does
        // in production.
        exec("PRAGMA wal_checkpoint(TRUNCATE)".into()).execute(&mut conn).await.unwrap();
    } else {
        for table in ["cases", "messages", "outbox", "handlers"] {
            exec(format!("SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")).execute(&mut conn).await.unwrap();
        }
        // What autovacuum does within a minute or so of a bulk load: statistics and the
        // visibility map.
        exec("VACUUM ANALYZE".into()).execute(&mut conn).await.unwrap();
        // And the checkpoint that follows it, as SQLite's above: without it, the checkpoint of
        // the load was spread over the whole window of `bench web` (57 s of writes), and every
        // commit waited for the WAL's flush behind them (the case page's p95 109-193 ms at
        // 30-35 s in every run, the other pages not).
        exec("CHECKPOINT".into()).execute(&mut conn).await.unwrap();
    }
    println!("  {:<36} {:>9}      in {:5.1} s", if sqlite { "checkpoint" } else { "vacuum analyze, checkpoint" }, "", t.elapsed().as_secs_f64());
    let _ = conn.close().await;
}

#[derive(Default)]
struct Figures {
    n: i64,
    load: Duration,
    open: i64,
    preview: Duration,
    preview_items: usize,
    preview_mails: usize,
    sweep_first: Duration,
    sweep_queued: usize,
    sweep_again: Duration,
    preview_after: Duration,
    report: Duration,
    report_cases: i64,
    show: Duration,
    lists: Vec<(String, Listing)>,
    /// The web workspace's lists as a page reads them: what, cases, time.
    web_lists: Vec<(String, usize, Duration)>,
    /// `None`: not measured (`no-idle`).
    idle_ms_per_minute: Option<f64>,
}

async fn measure(r: &Register, at: DateTime<Utc>, today: NaiveDate, idle: bool) -> Figures {
    let mut f = Figures { n: r.n, load: r.load, ..Figures::default() };
    let store = Store::open(&r.db.url, r.config.database.max_connections).await.unwrap();
    f.open = {
        let s = store.status(&[r.config.imap().inbox.clone()], today).await.unwrap();
        s.open_cases
    };
    let at_text = at.to_rfc3339();

    // What the sweep will queue, before it does.
    let (t, out) = r.klachtd3(&["reminders", "preview", "--at", &at_text]);
    f.preview = t;
    f.preview_items = out.lines().filter(|l| l.starts_with("  ")).count();
    f.preview_mails = out.lines().filter(|l| l.starts_with("To ")).count();

    let service = klachtd::app::reminders::ReminderService::new(store.clone(), klachtd::daemon::load_settings(&r.config).unwrap());
    let t = Instant::now();
    f.sweep_queued = service.sweep(at).await.unwrap();
    f.sweep_first = t.elapsed();
    let mut again: Vec<Duration> = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        assert_eq!(service.sweep(at).await.unwrap(), 0, "a second sweep at the same moment queues nothing");
        again.push(t.elapsed());
    }
    again.sort();
    f.sweep_again = again[1];
    f.preview_after = r.klachtd3(&["reminders", "preview", "--at", &at_text]).0;

    let year = today.year() - 1;
    let (from, to) = (format!("{year}-01-01"), format!("{year}-12-31"));
    f.report = r.klachtd3(&["report", "--from", &from, "--to", &to]).0;
    f.report_cases = sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM cases WHERE received_on >= $1 AND received_on <= $2")
        .bind(&from)
        .bind(&to)
        .fetch_one(&pool(&r.db.url).await)
        .await
        .unwrap();

    // A case of last month: open or just closed, with its mails, letters and history.
    let reference: String =
        sqlx::query_scalar("SELECT reference FROM cases WHERE id = $1").bind(r.n - r.n / 120).fetch_one(&pool(&r.db.url).await).await.unwrap();
    f.show = r.klachtd3(&["cases", "show", &reference]).0;

    for args in [
        &["cases", "list", "--limit", "20"][..],
        &["cases", "list", "--open"],
        &["cases", "list", "--handler", "Behandelaar 3"],
        &["cases", "list", "--open", "--handler", "Behandelaar 3"],
        &["cases", "list", "--due-within", "3"],
        &["cases", "list", "--due-within", "3", "--handler", "Behandelaar 3", "--limit", "10"],
        &["cases", "list"],
    ] {
        let listing = r.streamed(args);
        f.lists.push((args[2..].join(" "), listing));
    }

    // The web workspace's lists: a supervisor's (every case) and a handler's own, the open
    // cases and the first page of closed ones, and a page deep in the closed ones.
    {
        use klachtd::store::web::{CaseList, WebUser};
        let supervisor = WebUser { name: "Leidinggevende".into(), email: "leiding@klacht.test".into(), supervisor: true };
        let handler = WebUser { name: "Behandelaar 3".into(), email: "behandelaar-3@klacht.test".into(), supervisor: false };
        let deep: i64 = sqlx::query_scalar("SELECT id FROM cases WHERE status = 'closed' ORDER BY id LIMIT 1 OFFSET 1000")
            .fetch_optional(&pool(&r.db.url).await)
            .await
            .unwrap()
            .unwrap_or(1);
        let closed = |before| CaseList::Closed { before, limit: 50 };
        for (what, user, mine, list) in [
            ("all open (supervisor)", &supervisor, false, CaseList::Open),
            ("all closed, first page (supervisor)", &supervisor, false, closed(None)),
            ("all closed, a page 1,000 cases from the oldest", &supervisor, false, closed(Some(deep))),
            ("my open (handler)", &handler, true, CaseList::Open),
            ("my closed, first page (handler)", &handler, true, closed(None)),
            ("all I may read, closed, first page (handler)", &handler, false, closed(None)),
        ] {
            let t = Instant::now();
            let page = store.cases_for(user, mine, list).await.unwrap();
            f.web_lists.push((what.to_string(), page.cases.len(), t.elapsed()));
        }
    }

    if idle {
        f.idle_ms_per_minute = Some(idle_cpu(r, at).await);
    }
    store.close().await;
    f
}

pub async fn pool(url: &str) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::any::AnyPoolOptions::new().max_connections(1).connect(url).await.unwrap()
}

/// CPU (this process, and the database server's backends on PostgreSQL) of a daemon that has
/// nothing to do, in ms per minute.
async fn idle_cpu(r: &Register, at: DateTime<Utc>) -> f64 {
    // The daemon keeps its systemd status line current when it has a notify socket.
    let socket_path = r.dir.path().join("notify.sock");
    let socket = std::os::unix::net::UnixDatagram::bind(&socket_path).unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while socket.recv(&mut buf).is_ok() {}
    });
    std::env::set_var("NOTIFY_SOCKET", &socket_path);
    let running = Running::start_with_clock(r.config.clone(), Clock::manual(at));
    eventually("the daemon's first reminder sweep", Duration::from_secs(120), || async { (running.sweeps() >= 1).then_some(()) }).await;
    // Let the digests of the library sweep go out and the start-up settle.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let backends = pg_backends(&r.db.url).await;
    let before = own_cpu() + backends.iter().map(|p| cpu_of(*p)).sum::<f64>();
    let t = Instant::now();
    tokio::time::sleep(IDLE_WINDOW).await;
    let after = own_cpu() + backends.iter().map(|p| cpu_of(*p)).sum::<f64>();
    let elapsed = t.elapsed();
    let sweeps = running.sweeps();
    running.stop().await;
    std::env::remove_var("NOTIFY_SOCKET");
    assert!(sweeps >= 2, "a sweep ran in the window");
    (after - before) * 1000.0 * 60.0 / elapsed.as_secs_f64()
}

/// The PostgreSQL backends of the test database (none on SQLite).
pub async fn pg_backends(url: &str) -> Vec<u32> {
    if url.starts_with("sqlite") {
        return Vec::new();
    }
    let pool = pool(url).await;
    let pids: Vec<i32> =
        sqlx::query_scalar("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()").fetch_all(&pool).await.unwrap();
    pool.close().await;
    pids.into_iter().map(|p| p as u32).collect()
}

fn own_cpu() -> f64 {
    cpu_of(std::process::id())
}

/// User plus system CPU seconds of a process.
pub fn cpu_of(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks: f64 = fields.get(11).and_then(|u| u.parse::<f64>().ok()).unwrap_or(0.0) + fields.get(12).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
    ticks / 100.0
}

fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms >= 10_000.0 {
        format!("{:.0} s", ms / 1000.0)
    } else if ms >= 1000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else {
        format!("{ms:.0} ms")
    }
}

fn thousands(n: i64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn print_table(db: Db, at: DateTime<Utc>, all: &[Figures]) {
    let big = all.last().unwrap();
    let base = all.first().unwrap();
    let yes = |ok: bool| if ok { "yes" } else { "**no**" };
    println!();
    println!(
        "klachtd with a large register, {db:?}, this machine; sweeps and preview at {} (Amsterdam)",
        at.with_timezone(&Amsterdam).format("%Y-%m-%d %H:%M")
    );
    for f in all {
        println!("- {} cases ({} open): written in {:.0} s", thousands(f.n), thousands(f.open), f.load.as_secs_f64());
    }
    println!();
    let heads: Vec<String> = all.iter().map(|f| format!("{} cases", thousands(f.n))).collect();
    println!("| | goal | {} | met |", heads.join(" | "));
    println!("|---|---|{}---|", "---|".repeat(all.len()));
    let row = |what: String, goal: &str, cells: Vec<String>, met: bool| println!("| {what} | {goal} | {} | {} |", cells.join(" | "), yes(met));
    let second = Duration::from_secs(1);
    row(
        format!("reminder sweep, first of the day ({} items, {} digests at {} cases)", big.preview_items, big.sweep_queued, thousands(big.n)),
        "< 1 s",
        all.iter().map(|f| ms(f.sweep_first)).collect(),
        big.sweep_first < second,
    );
    row("reminder sweep, nothing new due".into(), "< 1 s", all.iter().map(|f| ms(f.sweep_again)).collect(), big.sweep_again < second);
    row("`reminders preview` (before the sweep)".into(), "< 1 s", all.iter().map(|f| ms(f.preview)).collect(), big.preview < second);
    row("`reminders preview` (after it)".into(), "< 1 s", all.iter().map(|f| ms(f.preview_after)).collect(), big.preview_after < second);
    row(
        format!("`report` for last year ({} cases)", thousands(big.report_cases)),
        "< 2 s",
        all.iter().map(|f| ms(f.report)).collect(),
        big.report < 2 * second,
    );
    row("`cases show REF`".into(), "< 50 ms", all.iter().map(|f| ms(f.show)).collect(), big.show < Duration::from_millis(50));
    for (i, (what, _)) in big.lists.iter().enumerate() {
        let at_once = big.lists[i].1.first < Duration::from_millis(100);
        row(
            format!("`cases list {what}`: first case line / all ({} cases)", thousands(big.lists[i].1.cases as i64)),
            "first line at once",
            all.iter().map(|f| format!("{} / {}", ms(f.lists[i].1.first), ms(f.lists[i].1.total))).collect(),
            at_once,
        );
    }
    for (i, (what, cases, _)) in big.web_lists.iter().enumerate() {
        let time = big.web_lists[i].2;
        row(format!("web list, {what} ({cases} cases)"), "at once", all.iter().map(|f| ms(f.web_lists[i].2)).collect(), time < Duration::from_millis(100));
    }
    if let (Some(big_idle), Some(base_idle)) = (big.idle_ms_per_minute, base.idle_ms_per_minute) {
        let same = big_idle <= (base_idle * 1.5).max(base_idle + 20.0);
        row(
            "idle CPU per minute (daemon over 5 minutes, one sweep)".into(),
            "same as 2,000",
            all.iter().map(|f| format!("{:.0} ms", f.idle_ms_per_minute.unwrap_or_default())).collect(),
            same,
        );
    }
    println!();
    println!("\"at once\": under 100 ms; times of the binary include its start (config, pool, migration check).");
}
