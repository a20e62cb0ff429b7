//! Instances on one PostgreSQL database (issue 25): a dead instance's mailbox and letters in
//! flight are taken over within the lease time, and what it handed to the SMTP server is sent
//! again only where nobody can know (at most one mail per sender slot).

use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;
use klachtd::store::{Claim, OutgoingMail, Store, Table};

/// The lease time of the instances under test (`[service] lease_secs`).
const LEASE: u64 = 6;
/// The outbox's senders per instance (`CONNECTIONS` in app/outbox.rs): SMTP connections open at once.
const SENDERS: usize = 2;

fn ack(n: usize, recipient: &str) -> OutgoingMail {
    OutgoingMail {
        kind: klachtd::store::MailKind::Acknowledgement,
        recipient: recipient.into(),
        recipient_name: None,
        subject: format!("Ontvangstbevestiging {n}"),
        body: "b".into(),
        message_id: format!("{}.ack@test", unique("settle")),
        in_reply_to: None,
        references: vec![],
        status: klachtd::store::OutboxStatus::Pending,
    }
}

/// A dead instance's claimed mails: those it handed and that a later hand-over on the same slot
/// shows accepted are recorded as sent; the last of each slot is sent again; the rest are
/// claimable at once. One peer settles it, once; a live instance is left alone.
#[tokio::test]
async fn a_dead_instances_outbox_is_settled_once_by_one_peer() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::create(Db::Postgres, dir.path()).await;
    let (a, b) = (Store::open(&db.url, 4).await.unwrap(), Store::open(&db.url, 4).await.unwrap());
    let d = hand_made_case(
        Some("Test"),
        "test@example.test",
        "d",
        chrono::NaiveDate::from_ymd_opt(2026, 11, 2).unwrap(),
        [chrono::NaiveDate::from_ymd_opt(2026, 11, 2).unwrap(); 3],
    );
    for n in 0..6 {
        a.register_case(&d, &hand_made_message(&unique("m"), None, "complaint", "", 0), &[], |_| Some(ack(n, "test@example.test"))).await.unwrap();
    }
    let t = klachtd::store::now();
    a.beat_instance("dead:1:0", "dead", 1, t - 100, t - 1).await.unwrap();
    a.beat_instance("live:2:0", "live", 2, t, t + 60).await.unwrap();
    let claimed = a.claim_outbox_batch("dead:1:0", Duration::from_secs(300), Claim::ANY, 5).await.unwrap();
    assert_eq!(claimed.len(), 5);
    let live = a.claim_outbox_batch("live:2:0", Duration::from_secs(300), Claim::ANY, 5).await.unwrap();
    assert_eq!(live.len(), 1);
    // Slot 0 handed mails 0 and 1 (so 0 was accepted); slot 1 handed mail 2; 3 and 4 not handed.
    assert!(a.hand_over(&claimed[0], "dead:1:0", "dead:1:0#0.0", 1).await.unwrap());
    assert!(a.hand_over(&claimed[2], "dead:1:0", "dead:1:0#0.1", 2).await.unwrap());
    assert!(a.hand_over(&claimed[1], "dead:1:0", "dead:1:0#0.0", 3).await.unwrap());
    assert!(!a.hand_over(&claimed[3], "someone-else", "x#0.0", 4).await.unwrap(), "only the claimant hands a mail over");
    // Handed mails are never claimed again while their hand-over stands.
    assert!(a.claim_outbox_batch("live:2:0", Duration::ZERO, Claim::ANY, 10).await.unwrap().is_empty());
    let (x, y) = tokio::join!(a.settle_instance("dead:1:0"), b.settle_instance("dead:1:0"));
    let settled: Vec<_> = [x.unwrap(), y.unwrap()].into_iter().flatten().collect();
    assert_eq!(settled.len(), 1, "one peer settles it");
    let s = &settled[0];
    assert_eq!((s.accepted, s.unknown, s.released), (1, 2, 4), "{s:?}");
    assert!(a.settle_instance("live:2:0").await.unwrap().is_none(), "a live instance is left alone");
    assert!(a.pending_outbox_item(claimed[0].id).await.unwrap().is_none(), "recorded as sent");
    assert!(a.outbox_counts().await.unwrap().contains(&("sent".to_string(), 1)));
    // The rest are claimable at once (not after the 5-minute claim): the unknown two and the
    // two never handed.
    let again = b.claim_outbox_batch("live:2:0", Duration::from_secs(300), Claim::ANY, 10).await.unwrap();
    let again: HashSet<i64> = again.iter().map(|i| i.id).collect();
    assert_eq!(again, [claimed[1].id, claimed[2].id, claimed[3].id, claimed[4].id].into_iter().collect());
    let (live_ids, dead_ids) = a.instances().await.unwrap();
    assert!(live_ids.contains("live:2:0") && !live_ids.contains("dead:1:0") && dead_ids.is_empty());
}

/// A hand-over is one statement committed at once (a peer reads it), for the claimant of a
/// pending mail only, and leaves the connection waiting for the WAL flush as before for
/// everything else (its `synchronous_commit = off` is its own transaction's).
#[tokio::test]
async fn a_hand_over_is_committed_at_once_for_the_claimant_only() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::create(Db::Postgres, dir.path()).await;
    // One connection: what the hand-over leaves on it, the transaction below sees.
    let a = Store::open(&db.url, 1).await.unwrap();
    let peer = Store::open(&db.url, 1).await.unwrap();
    let d = chrono::NaiveDate::from_ymd_opt(2026, 11, 2).unwrap();
    for n in 0..2 {
        let case = hand_made_case(Some("Test"), "test@example.test", "d", d, [d; 3]);
        a.register_case(&case, &hand_made_message(&unique("m"), None, "complaint", "", 0), &[], |_| Some(ack(n, "test@example.test"))).await.unwrap();
    }
    let t = klachtd::store::now();
    a.beat_instance("a:1:0", "a", 1, t, t + 60).await.unwrap();
    let claimed = a.claim_outbox_batch("a:1:0", Duration::from_secs(300), Claim::ANY, 2).await.unwrap();
    assert_eq!(claimed.len(), 2);
    assert!(a.hand_over(&claimed[0], "a:1:0", "a:1:0#0.0", 7).await.unwrap());
    let handed = |id: i64| {
        let url = db.url.clone();
        async move {
            let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&url).await.unwrap();
            let row: (Option<String>, Option<i64>) =
                sqlx::query_as("SELECT handed_on, handed_seq FROM outbox WHERE id = $1").bind(id).fetch_one(&mut conn).await.unwrap();
            row
        }
    };
    assert_eq!(handed(claimed[0].id).await, (Some("a:1:0#0.0".into()), Some(7)), "committed: another connection reads it");
    assert!(!peer.hand_over(&claimed[1], "b:2:0", "b:2:0#0.0", 1).await.unwrap(), "not the claimant");
    assert_eq!(handed(claimed[1].id).await, (None, None));
    a.outbox_sent(&claimed[1], "250 ok").await.unwrap();
    assert!(!a.hand_over(&claimed[1], "a:1:0", "a:1:0#0.1", 8).await.unwrap(), "no longer pending");
    assert_eq!(handed(claimed[1].id).await, (None, None));
    let mut tx = a.transaction().await.unwrap();
    let setting: String = sqlx::query_scalar("SELECT current_setting('synchronous_commit')").fetch_one(&mut *tx).await.unwrap();
    assert_eq!(setting, "on", "the rest of the connection's commits wait for the flush");
    tx.rollback().await.unwrap();
}

/// The instances under test: killed when the test ends, also when it fails.
struct Instances(Vec<Child>);

impl Instances {
    /// Kills (SIGKILL) the instance named `id` in the database (`HOST:PID:N`) and waits for it
    /// to be gone; when it was killed.
    fn kill(&mut self, id: &str) -> Instant {
        let pid: u32 = id.split(':').nth(1).unwrap().parse().unwrap();
        let victim = self.0.iter().position(|c| c.id() == pid).expect("the holder is one of ours");
        let mut victim = self.0.remove(victim);
        victim.kill().unwrap();
        let killed = Instant::now();
        victim.wait().unwrap();
        killed
    }
}

impl Drop for Instances {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn spawn(config: &std::path::Path, log: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_klachtd"))
        .args(["--config", config.to_str().unwrap(), "run"])
        .env("KLACHTD_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap()
}

async fn holder(store: &Store) -> Option<String> {
    store.mailbox_holder("INBOX").await.unwrap()
}

/// Three instances of the real binary on one PostgreSQL database and one mailbox; the lease
/// holder is killed (SIGKILL) in the middle of the intake. Its mailbox and its letters in
/// flight are taken over within the lease time; every complaint is one case; each complainant
/// gets an acknowledgement, and no more of them twice than the killed one had senders.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_the_lease_holder_mid_intake_loses_nothing_and_sends_little_twice() {
    const N: usize = 600;
    // The acknowledgements go out beside the backlog (a key of `[outbox]`, which `extra`
    // continues), so that the holder is killed mid-intake while it sends.
    let extra = format!("backlog_hold_secs = 0\n{ANSWER_ALL}\n[service]\nlease_secs = {LEASE}\n");
    let w = World::with(Db::Postgres, MailStack::shared(), &extra).await;
    let senders: Vec<String> = (0..N).map(|i| format!("{}-{i}@example.test", unique("kill"))).collect();
    {
        let mut s = w.stack.session(&w.complaints).await;
        for (i, from) in senders.iter().enumerate() {
            let (_, raw) = w.complaint("Klager", from, &format!("Klacht {i}"), "Mijn afspraak ging niet door.");
            s.append("INBOX", None, None, &raw).await.unwrap();
        }
        let _ = s.logout().await;
    }
    let config = w.dir.path().join("klachtd.toml");
    std::fs::write(&config, config_text(w.stack, &w.complaints, &w.db.url, w.dir.path(), &extra)).unwrap();
    let mut children = Instances((0..3).map(|i| spawn(&config, &w.dir.path().join(format!("klachtd-{i}.log")))).collect());
    let store = w.store().await;
    let started = Instant::now();
    // Mid-intake: some cases registered, not all, and the holder sending acknowledgements.
    let mut db = <sqlx::AnyConnection as sqlx::Connection>::connect(&w.db.url).await.unwrap();
    let dead = loop {
        if let Some(h) = holder(store).await {
            let sending: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE status = 'pending' AND claimed_by = $1").bind(&h).fetch_one(&mut db).await.unwrap();
            if sending > 0 {
                break h;
            }
        }
        assert!(started.elapsed() < WAIT, "no progress");
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    let killed = children.kill(&dead);
    let cases_at_kill = store.count(Table::Cases).await.unwrap();
    assert!(cases_at_kill < N as i64, "killed mid-intake: {cases_at_kill} of {N}");
    // Its mailbox goes to another instance, and its claims are settled, within the lease time
    // (timestamps are whole seconds: one more).
    let limit = Duration::from_secs(LEASE + 1);
    let taken_over = eventually("mailbox taken over", WAIT, || async { holder(store).await.filter(|h| *h != dead).map(|_| killed.elapsed()) }).await;
    assert!(taken_over <= limit, "mailbox taken over after {taken_over:?}");
    let settled = eventually("claims settled", WAIT, || async {
        (!store.instances().await.unwrap().0.contains(&dead) && store.instances().await.unwrap().1.is_empty()).then(|| killed.elapsed())
    })
    .await;
    assert!(settled <= limit, "claims settled after {settled:?}");
    eventually("all registered and acknowledged", WAIT * 2, || async {
        let sent = store.outbox_counts().await.unwrap().iter().any(|(s, n)| s == "sent" && *n == N as i64);
        (sent && store.count(Table::Cases).await.unwrap() == N as i64).then_some(())
    })
    .await;
    for s in &senders {
        eventually("acknowledgement delivered", WAIT, || async { (!w.stack.messages(s, "INBOX").await.is_empty()).then_some(()) }).await;
    }
    for c in &mut children.0 {
        assert!(Command::new("kill").args(["-TERM", &c.id().to_string()]).status().unwrap().success());
        c.wait().unwrap();
    }
    assert_eq!(store.count(Table::Cases).await.unwrap(), N as i64, "one case per complaint");
    let refs: HashSet<String> = store.list_cases().await.unwrap().into_iter().map(|c| c.reference.to_string()).collect();
    assert_eq!(refs.len(), N);
    assert_eq!(w.stack.count(&w.complaints, "Klachtd-Verwerkt").await as usize, N, "each mail moved once");
    let mut twice = 0;
    for s in &senders {
        twice += w.stack.messages(s, "INBOX").await.len() - 1;
    }
    eprintln!("killed at {cases_at_kill} of {N} cases; mailbox taken over after {taken_over:?}, claims after {settled:?}; {twice} acknowledgements twice");
    assert!(twice <= SENDERS, "{twice} acknowledgements sent twice, more than the {SENDERS} senders of the killed instance");
}

/// The deployment of issue 25: three organisations (each its own prefix and procedure) with two
/// mailboxes each, three instances of the real binary on one PostgreSQL database, 600
/// complaints across the six mailboxes; the instance holding the most mailboxes is killed
/// (SIGKILL) mid-intake. Its mailboxes are taken over within the lease time, every complaint is
/// one case in its own organisation with that organisation's prefix and dates, each mail is
/// moved once, and no more acknowledgements go twice than the killed one had senders.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_organisations_six_mailboxes_three_instances_one_killed() {
    use crate::common::organisations::{Deployment, OrganisationSetup};
    const PER_MAILBOX: usize = 100;
    let setups = [
        OrganisationSetup { key: "wp", prefix: "WP", procedure: "preset = \"reintegratie\"", mailboxes: 2 },
        OrganisationSetup { key: "sh", prefix: "SH", procedure: "preset = \"awb\"", mailboxes: 2 },
        OrganisationSetup { key: "bz", prefix: "BZ", procedure: "preset = \"awb\", advisory_committee = true", mailboxes: 2 },
    ];
    let extra = format!("{ANSWER_ALL}\n[service]\nlease_secs = {LEASE}\n");
    let d = Deployment::new(Db::Postgres, &setups, &extra).await;
    let n = PER_MAILBOX * 6;
    // Who wrote to which organisation.
    let mut senders: Vec<(String, String)> = Vec::new();
    for o in &d.organisations {
        for address in &o.addresses {
            let mut s = d.stack.session(address).await;
            for i in 0..PER_MAILBOX {
                let from = format!("{}-{i}@example.test", unique(&o.key));
                let (_, raw) = d.complaint(&from, &[address], &format!("Klacht {i}"), "Mijn afspraak ging niet door.");
                s.append("INBOX", None, None, &raw).await.unwrap();
                senders.push((from, o.key.clone()));
            }
            let _ = s.logout().await;
        }
    }
    let config = d.dir.path().join("klachtd.toml");
    std::fs::write(&config, d.config_text()).unwrap();
    let mut children = Instances((0..3).map(|i| spawn(&config, &d.dir.path().join(format!("klachtd-{i}.log")))).collect());
    let store = d.store().await;
    let started = Instant::now();
    // Mid-intake: the leases spread and some cases registered, not all.
    let dead = loop {
        let leases = store.mailbox_leases().await.unwrap();
        let mut held: std::collections::BTreeMap<String, usize> = Default::default();
        for holding in leases.values().filter(|h| !h.expired) {
            *held.entry(holding.holder.clone()).or_default() += 1;
        }
        let cases = store.count(Table::Cases).await.unwrap();
        if held.len() == 3 && cases > 0 {
            assert!(held.values().all(|&m| m <= 3), "no instance above its share plus one: {held:?}");
            break held.into_iter().max_by_key(|(_, m)| *m).unwrap().0;
        }
        assert!(started.elapsed() < WAIT, "the instances did not spread the mailboxes: {held:?}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    let killed = children.kill(&dead);
    let cases_at_kill = store.count(Table::Cases).await.unwrap();
    assert!(cases_at_kill < n as i64, "killed mid-intake: {cases_at_kill} of {n}");
    // Every mailbox held by a live instance within the lease time (whole seconds: one more).
    let taken_over = eventually("mailboxes taken over", WAIT, || async {
        let leases = store.mailbox_leases().await.unwrap();
        (leases.len() == 6 && leases.values().all(|h| h.holder != dead && !h.expired)).then(|| killed.elapsed())
    })
    .await;
    assert!(taken_over <= Duration::from_secs(LEASE + 1), "mailboxes taken over after {taken_over:?}");
    eventually("all registered and acknowledged", WAIT * 2, || async {
        let sent = store.outbox_counts().await.unwrap().iter().any(|(s, k)| s == "sent" && *k == n as i64);
        (sent && store.count(Table::Cases).await.unwrap() == n as i64).then_some(())
    })
    .await;
    for (s, _) in &senders {
        eventually("acknowledgement delivered", WAIT, || async { (!d.stack.messages(s, "INBOX").await.is_empty()).then_some(()) }).await;
    }
    for c in &mut children.0 {
        assert!(Command::new("kill").args(["-TERM", &c.id().to_string()]).status().unwrap().success());
        c.wait().unwrap();
    }
    // One case per complaint, in its own organisation, with its prefix and its procedure's dates.
    let cases = d.cases().await;
    assert_eq!(cases.len(), n, "one case per complaint");
    assert_eq!(cases.iter().map(|c| &c.reference).collect::<HashSet<_>>().len(), n);
    let mut respond_by: std::collections::BTreeMap<(String, String), HashSet<String>> = Default::default();
    for o in &d.organisations {
        let own: Vec<_> = cases.iter().filter(|c| c.organisation == o.key).collect();
        assert_eq!(own.len(), PER_MAILBOX * 2, "{}'s cases", o.key);
        assert!(own.iter().all(|c| c.reference.starts_with(&format!("{}-", o.prefix))), "{}'s prefix", o.key);
        for c in own {
            respond_by.entry((c.received_on.clone(), o.key.clone())).or_default().insert(c.respond_by.clone());
        }
    }
    for ((day, key), dates) in &respond_by {
        assert_eq!(dates.len(), 1, "one final-response date for {key}'s complaints of {day}: {dates:?}");
    }
    let day = &cases[0].received_on;
    let date = |key: &str| respond_by[&(day.clone(), key.to_string())].iter().next().unwrap().clone();
    assert!(date("wp") < date("sh") && date("sh") < date("bz"), "4 weeks, 6 weeks, 10 weeks: {} {} {}", date("wp"), date("sh"), date("bz"));
    for o in &d.organisations {
        for address in &o.addresses {
            assert_eq!(d.stack.count(address, "Klachtd-Verwerkt").await as usize, PER_MAILBOX, "each mail of {address} moved once");
        }
    }
    // Each acknowledgement came from the complainant's own organisation.
    let mut twice = 0;
    for (s, key) in &senders {
        let got = d.stack.messages(s, "INBOX").await;
        let from = header(&parsed(&got[0]), "From").unwrap_or_default().to_string();
        let o = d.organisations.iter().find(|o| &o.key == key).unwrap();
        assert!(from.contains(&o.addresses[0]), "acknowledgement to {s} from {from}");
        twice += got.len() - 1;
    }
    eprintln!("killed at {cases_at_kill} of {n} cases; mailboxes taken over after {taken_over:?}; {twice} acknowledgements twice");
    assert!(twice <= SENDERS, "{twice} acknowledgements sent twice, more than the {SENDERS} senders of the killed instance");
}
