//! The pass against a mail source in memory, with a real SQLite store: what is written, what
//! is put away, and in which order.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;

use super::*;
use crate::app::actions::Actions;
use crate::config::Config;
use crate::store::{Conn, Seen, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Call {
    List,
    Fetch(Vec<u32>),
    /// A mail fetched alone, and whether the mails before it (of ordinary size) had committed.
    FetchOne(u32, bool),
    /// The mails, where to, and whether each was committed as it was put away.
    PutAway(Vec<u32>, Destination, bool),
}

#[derive(Debug, thiserror::Error)]
#[error("fake source: {0}")]
struct FakeError(&'static str);

/// A mailbox in memory that records what the intake asks of it. It reads the database on a
/// connection of its own, as another process would see it.
struct Fake {
    inbox: BTreeMap<u32, Vec<u8>>,
    /// Sizes to list instead of the real ones.
    sizes: HashMap<u32, u32>,
    calls: Vec<Call>,
    store: Store,
    reader: Conn,
    /// This many calls of `put_away` fail (a crash between commit and move).
    failing_puts: u32,
    /// Hold the database's write lock from the first batch's fetch to the next: the first
    /// batch cannot commit before the second is fetched.
    lock_until_second_fetch: bool,
    locked: bool,
    /// The second call of `fetch_batch` fails (the connection is gone).
    failing_second_fetch: bool,
    last: u32,
    /// The intake's backlogs, and whether they held the acknowledgements at each fetch.
    backlog: Option<Arc<crate::app::backlog::Backlog>>,
    held: Vec<bool>,
}

impl Fake {
    async fn new(store: &Store, url: &str, mails: &[Vec<u8>]) -> Self {
        let reader = <Conn as sqlx::Connection>::connect(url).await.unwrap();
        let inbox = mails.iter().enumerate().map(|(i, raw)| (i as u32 + 1, raw.clone())).collect();
        Fake {
            inbox,
            sizes: HashMap::new(),
            calls: Vec::new(),
            store: store.clone(),
            reader,
            failing_puts: 0,
            lock_until_second_fetch: false,
            locked: false,
            failing_second_fetch: false,
            last: 0,
            backlog: None,
            held: Vec::new(),
        }
    }

    async fn committed(&mut self, uid: u32) -> bool {
        let key = crate::domain::inbound::parse(&self.inbox[&uid]).unwrap().dedupe_key();
        !matches!(self.store.seen_on(&mut self.reader, &key).await.unwrap(), Seen::New)
    }
}

impl MailSource for Fake {
    type Key = u32;
    type Error = FakeError;
    type Position = u32;

    fn mailbox(&self) -> &str {
        "INBOX"
    }

    async fn list_new(&mut self) -> Result<Vec<Listed<u32>>, FakeError> {
        self.calls.push(Call::List);
        self.last = self.store.mailbox_state("INBOX").await.map_err(|_| FakeError("state"))?.map_or(0, |(_, uid)| uid);
        let last = self.last;
        Ok(self
            .inbox
            .iter()
            .filter(|(uid, _)| **uid > last)
            .map(|(uid, raw)| Listed { key: *uid, size: self.sizes.get(uid).copied().unwrap_or(raw.len() as u32), arrived: Utc::now() })
            .collect())
    }

    async fn fetch_batch(&mut self, mails: &[Listed<u32>]) -> Result<HashMap<u32, Vec<u8>>, FakeError> {
        self.calls.push(Call::Fetch(mails.iter().map(|m| m.key).collect()));
        if let Some(backlog) = &self.backlog {
            self.held.push(backlog.holds_acknowledgements());
        }
        let lock = match (self.lock_until_second_fetch, self.locked) {
            (true, false) => Some("BEGIN IMMEDIATE"),
            (_, true) => Some("COMMIT"),
            (false, false) => None,
        };
        if let Some(sql) = lock {
            sqlx::raw_sql(sql).execute(&mut self.reader).await.map_err(|_| FakeError("lock"))?;
            (self.locked, self.lock_until_second_fetch) = (!self.locked, false);
        }
        if self.failing_second_fetch && self.calls.iter().filter(|c| matches!(c, Call::Fetch(_))).count() == 2 {
            return Err(FakeError("the connection is gone"));
        }
        Ok(mails.iter().filter_map(|m| Some((m.key, self.inbox.get(&m.key)?.clone()))).collect())
    }

    async fn fetch_one(&mut self, mail: &Listed<u32>) -> Result<Option<Vec<u8>>, FakeError> {
        let before: Vec<u32> = self.inbox.keys().copied().filter(|uid| *uid < mail.key && !self.sizes.contains_key(uid)).collect();
        let mut committed = true;
        for uid in before {
            committed &= self.committed(uid).await;
        }
        self.calls.push(Call::FetchOne(mail.key, committed));
        Ok(self.inbox.get(&mail.key).cloned())
    }

    async fn still_there(&mut self, key: &u32) -> Result<bool, FakeError> {
        Ok(self.inbox.contains_key(key))
    }

    async fn put_away(&mut self, keys: &[u32], destination: Destination) -> Result<(), FakeError> {
        let mut committed = true;
        for uid in keys {
            committed &= self.committed(*uid).await || destination == Destination::Quarantine;
        }
        self.calls.push(Call::PutAway(keys.to_vec(), destination, committed));
        if self.failing_puts > 0 {
            self.failing_puts -= 1;
            return Err(FakeError("the process died before the move"));
        }
        for uid in keys {
            self.inbox.remove(uid);
        }
        Ok(())
    }

    fn origin(&self, key: &u32) -> MailOrigin {
        MailOrigin { folder: "INBOX".into(), validity: 1, uid: *key }
    }

    fn position_after(&self, last: Option<&u32>) -> u32 {
        last.copied().unwrap_or(self.last)
    }

    fn save_position<'a>(store: &'a Store, db: &'a mut Conn, at: &'a u32) -> impl std::future::Future<Output = Result<(), StoreError>> + Send + 'a {
        store.save_mailbox_state_on(db, "INBOX", 1, *at)
    }

    fn announced(&mut self) -> bool {
        false
    }

    async fn wait(&mut self, _: Duration, _: &mut watch::Receiver<bool>) -> Result<Waited, FakeError> {
        Ok(Waited::Changed)
    }
}

struct World {
    _dir: tempfile::TempDir,
    url: String,
    store: Store,
    intake: MailboxIntake,
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/klachtd.db", dir.path().display());
    let config =
        Config::parse(&format!("{}\n[database]\nurl = \"{url}\"\n\n[storage]\ndata_dir = \"{}\"\n", crate::config::tests::MINIMAL, dir.path().display()))
            .unwrap();
    let store = Store::open(&url, 1).await.unwrap();
    let letters = crate::app::templates::Letters::load(None, "nl").unwrap();
    let settings = crate::app::settings::SharedSettings::new(crate::app::settings::Settings::new(&config, Arc::new(letters)));
    let actions = Arc::new(Actions::new(&config, store.clone(), settings.clone()).unwrap());
    let first_start = Utc::now() - chrono::Duration::days(1);
    let intake = Intake::new(&config, store.clone(), settings, actions, first_start, Default::default());
    // This instance, alone, holding the mailbox.
    let leases = Arc::new(crate::app::leases::Leases::new(store.clone(), "test", Duration::from_secs(30)));
    leases.beat().await.unwrap();
    assert!(!leases.at_safe_point("INBOX", Duration::from_secs(60)).await.unwrap(), "not taken before a round");
    leases.balance().await.unwrap();
    let intake = MailboxIntake::new(Arc::new(intake), store.clone(), Arc::new(Health::default()), leases, Duration::from_secs(60), 10 << 20);
    World { _dir: dir, url, store, intake }
}

fn complaint(n: u32, subject: &str) -> Vec<u8> {
    format!(
        "From: Piet Jansen {n} <piet{n}@example.test>\r\nTo: klachten@dienst.nl\r\nSubject: {subject}\r\nMessage-ID: <klacht{n}@example.test>\r\n\
         Date: Sun, 06 Dec 2026 10:00:00 +0100\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Mijn uitkering is te laat betaald, voor de {n}e keer. Ik wil dat dit verandert.\r\n"
    )
    .into_bytes()
}

async fn pass(w: &World, source: &mut Fake) -> Result<PassReport, PassError<FakeError>> {
    let (_tx, shutdown) = watch::channel(false);
    w.intake.pass(source, &shutdown).await
}

#[tokio::test]
async fn a_batch_is_fetched_and_written_once_then_put_away() {
    let w = world().await;
    let mails: Vec<_> = (1..=5).map(|n| complaint(n, "Te laat betaald")).collect();
    let mut source = Fake::new(&w.store, &w.url, &mails).await;
    source.backlog = Some(w.intake.intake.backlog());
    let report = pass(&w, &mut source).await.unwrap();
    assert_eq!((report.fetched, report.registered), (5, 5), "{report:?}");
    assert_eq!(source.held, [false], "a batch or less is no backlog: acknowledged at once");
    assert_eq!(source.calls, [Call::List, Call::Fetch(vec![1, 2, 3, 4, 5]), Call::PutAway(vec![1, 2, 3, 4, 5], Destination::Processed, true)]);
    assert_eq!(w.store.mailbox_state("INBOX").await.unwrap(), Some((1, 5)), "the position after the last mail put away");
    assert_eq!(w.store.list_cases().await.unwrap().len(), 5);
    let again = pass(&w, &mut source).await.unwrap();
    assert_eq!(again, PassReport::default(), "nothing new");
}

#[tokio::test]
async fn the_handlers_of_a_batchs_new_cases_are_told_each_once() {
    let w = world().await;
    w.store.upsert_handler("Ann Smit", "ann@dienst.nl", false).await.unwrap();
    let mails: Vec<_> = (1..=30).map(|n| complaint(n, "Te laat betaald")).collect();
    let mut source = Fake::new(&w.store, &w.url, &mails).await;
    assert_eq!(pass(&w, &mut source).await.unwrap().registered, 30);
    let queued = w.store.claim_outbox_batch("test", Duration::from_secs(60), crate::store::Claim::ANY, 100).await.unwrap();
    let mut told: Vec<_> = queued.iter().filter(|m| m.mail.kind == crate::domain::vocabulary::MailKind::Assigned).map(|m| m.case_id.unwrap()).collect();
    let recipients: std::collections::BTreeSet<_> =
        queued.iter().filter(|m| m.mail.kind == crate::domain::vocabulary::MailKind::Assigned).map(|m| m.mail.recipient.as_str()).collect();
    assert_eq!(recipients, ["ann@dienst.nl"].into());
    told.sort();
    told.dedup();
    assert_eq!(told.len(), 30, "one notice for each new case");
    for case in w.store.list_cases().await.unwrap() {
        let history = w.store.case_detail(&case.reference).await.unwrap().history;
        let notified: Vec<_> =
            history.iter().filter(|e| e.action == crate::domain::history::HistoryEvent::HandlerNotified).map(|e| e.detail.as_str()).collect();
        assert_eq!(notified, ["assigned to Ann Smit"], "{}", case.reference);
    }
}

#[tokio::test]
async fn a_failing_mail_is_redone_alone_and_quarantined_after_max_attempts() {
    let w = world().await;
    {
        let mut conn = <Conn as sqlx::Connection>::connect(&w.url).await.unwrap();
        let sql = "CREATE TRIGGER poison BEFORE INSERT ON messages WHEN NEW.subject = 'Gif' BEGIN SELECT RAISE(ABORT, 'refused by test trigger'); END";
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await.unwrap();
    }
    let mails = [complaint(1, "Eerst"), complaint(2, "Gif"), complaint(3, "Daarna")];
    let mut source = Fake::new(&w.store, &w.url, &mails).await;
    for attempt in 1..MAX_ATTEMPTS {
        let failed = pass(&w, &mut source).await.unwrap_err();
        assert!(failed.may_be_the_mails_fault(), "attempt {attempt}: {failed}");
    }
    // The first pass wrote the batch together, failed, and wrote it again a mail at a time:
    // the mail before the failing one is committed and put away, once.
    assert_eq!(source.calls[..3], [Call::List, Call::Fetch(vec![1, 2, 3]), Call::PutAway(vec![1], Destination::Processed, true)]);
    let report = pass(&w, &mut source).await.unwrap();
    assert_eq!((report.registered, report.quarantined), (1, 1), "{report:?}");
    assert!(source.calls.contains(&Call::PutAway(vec![2], Destination::Quarantine, true)), "{:?}", source.calls);
    assert!(source.calls.contains(&Call::PutAway(vec![3], Destination::Processed, true)), "{:?}", source.calls);
    assert!(source.inbox.is_empty());
    let mut subjects: Vec<String> = w.store.list_cases().await.unwrap().into_iter().map(|c| c.subject).collect();
    subjects.sort();
    assert_eq!(subjects, ["Daarna", "Eerst"]);
    let quarantined = w.store.quarantined().await.unwrap();
    assert_eq!(quarantined.len(), 1);
    assert_eq!(quarantined[0].1, 2, "named by its place in the mailbox");
    assert!(quarantined[0].2.contains(&format!("failed {MAX_ATTEMPTS} times in a row")), "{}", quarantined[0].2);
}

#[tokio::test]
async fn a_crash_between_commit_and_move_leaves_mail_that_the_next_pass_recognises() {
    let w = world().await;
    let mails: Vec<_> = (1..=3).map(|n| complaint(n, "Te laat betaald")).collect();
    let mut source = Fake::new(&w.store, &w.url, &mails).await;
    source.failing_puts = 1;
    pass(&w, &mut source).await.unwrap_err();
    assert_eq!(source.calls.last(), Some(&Call::PutAway(vec![1, 2, 3], Destination::Processed, true)), "committed first");
    assert_eq!(source.inbox.len(), 3, "still in the mailbox");
    assert_ne!(w.store.mailbox_state("INBOX").await.unwrap(), Some((1, 3)), "the position is not past mail that was not put away");
    let report = pass(&w, &mut source).await.unwrap();
    assert_eq!((report.duplicates, report.registered), (3, 0), "{report:?}");
    assert!(source.inbox.is_empty());
    assert_eq!(w.store.list_cases().await.unwrap().len(), 3, "no case twice");
}

#[tokio::test]
async fn a_mail_too_large_is_quarantined_unread_and_a_large_one_fetched_alone() {
    let w = world().await;
    let mails: Vec<_> = (1..=4).map(|n| complaint(n, "Te laat betaald")).collect();
    let mut source = Fake::new(&w.store, &w.url, &mails).await;
    source.sizes.insert(2, 20 << 20);
    source.sizes.insert(3, 2 << 20);
    let report = pass(&w, &mut source).await.unwrap();
    assert_eq!((report.registered, report.quarantined), (3, 1), "{report:?}");
    assert_eq!(source.calls[1], Call::Fetch(vec![1, 4]), "the small ones together");
    // Mail 1 is committed before mail 3 is fetched: no transaction waits for the source.
    assert!(source.calls.contains(&Call::FetchOne(3, true)), "{:?}", source.calls);
    assert!(!source.calls.iter().any(|c| matches!(c, Call::FetchOne(2, _))), "{:?}", source.calls);
    assert!(source.inbox.is_empty());
    let quarantined = w.store.quarantined().await.unwrap();
    assert!(quarantined[0].2.contains("exceeds"), "{}", quarantined[0].2);
}

#[tokio::test]
async fn the_next_batch_is_fetched_while_a_batch_is_recorded() {
    let w = world().await;
    let mails: Vec<_> = (1..=BATCH_MAILS as u32 + 50).map(|n| complaint(n, "Te laat betaald")).collect();
    let mut source = Fake::new(&w.store, &w.url, &mails).await;
    // The first batch cannot commit until the second is fetched: had the intake waited for its
    // commit before that fetch, it would wait for the lock in vain, and fail.
    source.lock_until_second_fetch = true;
    source.backlog = Some(w.intake.intake.backlog());
    let report = pass(&w, &mut source).await.unwrap();
    assert_eq!(report.registered, mails.len() as u32, "{report:?}");
    assert_eq!(source.held, [true, true], "more than a batch: the acknowledgements wait while it is registered");
    assert!(!w.intake.intake.backlog().holds_acknowledgements(), "and no longer once the pass is over");
    let first: Vec<u32> = (1..=BATCH_MAILS as u32).collect();
    let second: Vec<u32> = (BATCH_MAILS as u32 + 1..=mails.len() as u32).collect();
    assert_eq!(
        source.calls,
        [
            Call::List,
            Call::Fetch(first.clone()),
            Call::Fetch(second.clone()),
            Call::PutAway(first, Destination::Processed, true),
            Call::PutAway(second, Destination::Processed, true)
        ]
    );
    assert!(source.inbox.is_empty());
}

#[tokio::test]
async fn a_failed_fetch_ahead_ends_the_pass_after_the_batch_before_is_put_away() {
    let w = world().await;
    let mails: Vec<_> = (1..=BATCH_MAILS as u32 + 50).map(|n| complaint(n, "Te laat betaald")).collect();
    let mut source = Fake::new(&w.store, &w.url, &mails).await;
    source.failing_second_fetch = true;
    let failed = pass(&w, &mut source).await.unwrap_err();
    assert!(matches!(failed, PassError::Source(_)), "{failed}");
    assert_eq!(source.inbox.len(), 50, "the first batch is committed and put away");
    assert_eq!(w.store.mailbox_state("INBOX").await.unwrap(), Some((1, BATCH_MAILS as u32)));
    let report = pass(&w, &mut source).await.unwrap();
    assert_eq!((report.registered, report.duplicates), (50, 0), "{report:?}");
    assert!(source.inbox.is_empty());
    assert_eq!(w.store.list_cases().await.unwrap().len(), mails.len());
}
