//! Intake and acknowledgements with 1, 2 and 3 instances of the real klachtd binary on one
//! PostgreSQL database (issue 25), each instance's CPU beside it. For each instance count: N
//! complaints (default 1,000, each from another sender at `outside.test`, which the test
//! stack's Postfix queues and drops) spread over M mailboxes (default 12: three organisations
//! of four mailboxes each), the instances start together and spread the mailboxes by their
//! leases, and the bench prints the rate of registration, of acknowledgements accepted by
//! Postfix, each instance's CPU seconds and share of the wall time, how many mailboxes each one
//! held at the end, and how many mails each one sent.
//!
//!     cargo bench --bench instances              # N = 1000; 1, 2, 3 instances; 12 mailboxes
//!     cargo bench --bench instances -- 2000 3 6  # N = 2000; up to 3 instances; 6 mailboxes

#[path = "../it/common/mod.rs"]
mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::organisations::{Deployment, OrganisationSetup};
use common::*;
use klachtd::store::{Store, Table};

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let n = args.first().copied().unwrap_or(1000);
    let most = args.get(1).copied().unwrap_or(3);
    let mailboxes = args.get(2).copied().unwrap_or(12).max(3);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        println!("klachtd on PostgreSQL, {n} complaints over {mailboxes} mailboxes of 3 organisations, this machine ({} cores), one run each", cores());
        println!(
            "| instances | registered/s | acknowledgements/s | wall s | CPU s per instance (share of wall) | mailboxes held per instance | sent per instance |"
        );
        println!("|---|---|---|---|---|---|---|");
        for instances in 1..=most {
            run(n, instances, mailboxes).await;
        }
    });
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

async fn run(n: usize, instances: usize, mailboxes: usize) {
    let per_organisation = mailboxes / 3;
    let setups = [
        OrganisationSetup { key: "wp", prefix: "WP", procedure: "preset = \"reintegratie\"", mailboxes: per_organisation },
        OrganisationSetup { key: "sh", prefix: "SH", procedure: "preset = \"awb\"", mailboxes: per_organisation },
        OrganisationSetup { key: "bz", prefix: "BZ", procedure: "preset = \"awb\", advisory_committee = true", mailboxes: mailboxes - 2 * per_organisation },
    ];
    let d = Deployment::new(Db::Postgres, &setups, ANSWER_ALL).await;
    let addresses: Vec<&String> = d.organisations.iter().flat_map(|o| &o.addresses).collect();
    for (m, address) in addresses.iter().enumerate() {
        let mut s = d.stack.session(address).await;
        for i in (0..n).filter(|i| i % addresses.len() == m) {
            let raw = bench_complaint(i, address);
            s.append("INBOX", None, None, raw.as_bytes()).await.unwrap();
        }
        let _ = s.logout().await;
    }
    let config = d.dir.path().join("klachtd.toml");
    std::fs::write(&config, d.config_text()).unwrap();
    let store: &Store = d.store().await;
    let t = Instant::now();
    let mut children: Vec<Child> = (0..instances).map(|_| start_klachtd(&config)).collect();
    let (mut registered_at, mut first_sent_at) = (None, None);
    let all_sent_at = loop {
        let sent = store.outbox_counts().await.unwrap_or_default().iter().find(|(s, _)| s == "sent").map_or(0, |(_, n)| *n) as usize;
        if first_sent_at.is_none() && sent > 0 {
            first_sent_at = Some(t.elapsed());
        }
        if registered_at.is_none() && store.count(Table::Cases).await.unwrap() as usize >= n {
            registered_at = Some(t.elapsed());
        }
        if sent >= n {
            break t.elapsed();
        }
        assert!(t.elapsed() < Duration::from_secs(1800), "did not finish");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let cpu: Vec<f64> = children.iter().map(|c| cpu_seconds(c.id())).collect();
    let leases = store.mailbox_leases().await.unwrap();
    let held: Vec<usize> =
        children.iter().map(|c| leases.values().filter(|h| !h.expired && h.holder.split(':').nth(1) == Some(&c.id().to_string())).count()).collect();
    let per_instance = sent_per_instance(&d.db.url, &children).await;
    for c in &mut children {
        let _ = Command::new("kill").arg(c.id().to_string()).status();
        let _ = c.wait();
    }
    let wall = all_sent_at.as_secs_f64();
    let registered = n as f64 / registered_at.unwrap().as_secs_f64();
    let acknowledged = n as f64 / (all_sent_at - first_sent_at.unwrap()).as_secs_f64();
    let cpus: Vec<String> = cpu.iter().map(|s| format!("{s:.1} ({:.0} %)", 100.0 * s / wall)).collect();
    let list = |v: &[String]| v.join(", ");
    println!(
        "| {instances} | {registered:.0} | {acknowledged:.0} | {wall:.1} | {} | {} | {} |",
        list(&cpus),
        list(&held.iter().map(|n| n.to_string()).collect::<Vec<_>>()),
        list(&per_instance.iter().map(|n| n.to_string()).collect::<Vec<_>>())
    );
}

/// How many of the mails each instance claimed last (the one that sent it), by its pid.
async fn sent_per_instance(url: &str, children: &[Child]) -> Vec<i64> {
    let mut db = <sqlx::AnyConnection as sqlx::Connection>::connect(url).await.unwrap();
    let mut counts = Vec::new();
    for c in children {
        let pattern = format!("%:{}:%", c.id());
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE status = 'sent' AND claimed_by LIKE $1").bind(pattern).fetch_one(&mut db).await.unwrap();
        counts.push(n);
    }
    counts
}

/// The real klachtd binary, running with `config`; `BENCH_KLACHTD_LOG` sets its log filter.
fn start_klachtd(config: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_klachtd"))
        .args(["--config", config.to_str().unwrap(), "run"])
        .env("KLACHTD_LOG", std::env::var("BENCH_KLACHTD_LOG").unwrap_or("warn".into()))
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks: f64 = fields.get(11).and_then(|u| u.parse::<f64>().ok()).unwrap_or(0.0) + fields.get(12).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
    ticks / 100.0
}
