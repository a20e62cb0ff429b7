//! The outbox and the letters without a mail server: a [`StubTransport`] that answers as told,
//! and a real SQLite store in a temporary directory.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;

use super::*;
use crate::app::actions::{Actions, Delivery, Done, PaperComplaint};
use crate::app::settings::{Settings, SharedSettings};
use crate::app::templates::Letters;
use crate::config::Config;
use crate::domain::case_action::CaseAction;
use crate::domain::reference::CaseRef;
use crate::domain::vocabulary::MailKind;

struct World {
    dir: tempfile::TempDir,
    store: Store,
    actions: Arc<Actions>,
    settings: SharedSettings,
    health: Arc<Health>,
    stub: Arc<StubTransport>,
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "[organisation]\nname = \"Gemeente X\"\ncomplaints_address = \"klachten@dienst.test\"\nregulation_url = \"https://dienst.test/r\"\n\
         [imap]\nhost = \"127.0.0.1\"\nport = 143\nuser = \"u\"\npassword = \"p\"\ntls = \"none\"\n\
         [smtp]\nhost = \"127.0.0.1\"\nport = 25\ntls = \"none\"\n\
         [database]\nurl = \"sqlite://{0}/k.db\"\n[storage]\ndata_dir = \"{0}\"\n",
        dir.path().display()
    );
    let config = Config::parse(&text).unwrap();
    let store = Store::open(&config.database.connect_url().unwrap(), 1).await.unwrap();
    store.upsert_handler("Ann de Wit", "ann@dienst.test", false).await.unwrap();
    let letters = Letters::load(None, &config.templates.language).unwrap();
    let settings = SharedSettings::new(Settings::new(&config, Arc::new(letters)));
    let actions = Arc::new(Actions::new(&config, store.clone(), settings.clone()).unwrap());
    World { dir, store, actions, settings, health: Arc::new(Health::default()), stub: Arc::new(StubTransport::default()) }
}

impl World {
    fn journals(&self) -> PathBuf {
        self.dir.path().join("outbox")
    }

    fn worker(&self) -> OutboxWorker {
        let journal = journal::SentJournal::create(&self.journals(), "test-host").unwrap();
        let options = WorkerOptions { poll_interval: Duration::from_secs(1), max_backoff: Duration::from_secs(3600), worker_id: "test".into() };
        OutboxWorker::new(self.store.clone(), self.stub.clone(), self.actions.clone(), self.settings.clone(), self.health.clone(), journal, options)
    }

    /// A complaint by post from Mia (acknowledged by mail), handled by Ann; its reference.
    async fn case(&self) -> CaseRef {
        let paper = PaperComplaint {
            name: "Mia Vos".into(),
            email: Some("mia@example.test".into()),
            postal_address: None,
            received: NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(),
            description: "De stoep is al maanden kapot.".into(),
            attachments: Vec::new(),
            organisation: None,
        };
        let (reference, delivery) = self.actions.register_paper(paper, "test").await.unwrap();
        assert_eq!(delivery, Delivery::Mail("mia@example.test".into()));
        self.store.assign(&reference, "Ann de Wit", "test").await.unwrap();
        reference
    }

    async fn counts(&self) -> Vec<(String, i64)> {
        self.store.outbox_counts().await.unwrap()
    }
}

fn no_shutdown() -> watch::Receiver<bool> {
    watch::channel(false).1
}

fn count(counter: &std::sync::atomic::AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

#[tokio::test]
async fn claims_sends_and_records_the_acknowledgement() {
    let w = world().await;
    let reference = w.case().await;
    let worker = w.worker();
    assert!(worker.deliver_due(&no_shutdown()).await, "something was due");
    let sent = w.stub.sent();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].mail.kind, MailKind::Acknowledgement);
    assert_eq!(sent[0].mail.recipient, "mia@example.test");
    assert!(sent[0].mail.subject.contains(&reference.to_string()), "{}", sent[0].mail.subject);
    assert!(sent[0].mail.message_id.ends_with("@dienst.test") && sent[0].mail.message_id.starts_with(&reference.to_string()), "{}", sent[0].mail.message_id);
    assert_eq!(w.counts().await, [("sent".to_string(), 1)]);
    assert_eq!((count(&w.health.mails_sent), count(&w.health.acknowledgements_sent)), (1, 1));
    // Recorded, so the journal is empty again, and nothing is sent twice.
    assert!(!worker.deliver_due(&no_shutdown()).await);
    assert_eq!(w.stub.sent().len(), 1);
    let journal = std::fs::read_dir(w.journals()).unwrap().next().unwrap().unwrap().path();
    assert_eq!(std::fs::read_to_string(journal).unwrap(), "");
}

#[tokio::test]
async fn a_temporary_refusal_waits_with_backoff() {
    let w = world().await;
    w.case().await;
    w.stub.reply(Err(SendFailure::Temporary("421 4.3.2 try later".into())));
    let worker = w.worker();
    assert!(worker.deliver_due(&no_shutdown()).await);
    assert_eq!(w.stub.sent().len(), 1);
    assert_eq!(w.counts().await, [("pending".to_string(), 1)]);
    assert_eq!((count(&w.health.errors_smtp), count(&w.health.mails_sent)), (1, 0));
    // Not due again before its back-off (5 s after the first attempt) has passed.
    assert!(!worker.deliver_due(&no_shutdown()).await);
    assert_eq!(w.stub.sent().len(), 1);
    let item = w.store.pending_outbox_item(w.stub.sent()[0].id).await.unwrap().expect("still pending");
    assert_eq!(item.attempts, 1);
}

#[tokio::test]
async fn a_permanent_refusal_is_undeliverable_and_the_handler_is_told() {
    let w = world().await;
    let reference = w.case().await;
    w.stub.reply(Err(SendFailure::Permanent("550 5.1.1 no such user".into())));
    let worker = w.worker();
    assert!(worker.deliver_due(&no_shutdown()).await);
    assert_eq!(count(&w.health.mails_undeliverable), 1);
    // The notice to Ann is queued with it, and goes out in the next run.
    worker.deliver_due(&no_shutdown()).await;
    let sent = w.stub.sent();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!((sent[1].mail.recipient.as_str(), sent[1].mail.kind), ("ann@dienst.test", MailKind::Notice));
    assert!(sent[1].mail.subject.contains(&reference.to_string()) || sent[1].mail.body.contains(&reference.to_string()), "{:?}", sent[1].mail);
    assert_eq!(w.counts().await, [("sent".to_string(), 1), ("undeliverable".to_string(), 1)]);
}

#[tokio::test]
async fn mail_noted_in_a_journal_left_behind_is_recorded_and_not_sent_again() {
    let w = world().await;
    w.case().await;
    let id = w.store.claim_outbox("crashed", Duration::from_secs(1), crate::store::Claim::ANY).await.unwrap().expect("the acknowledgement").id;
    // A process that is gone (no pid 0) noted it, and a line cut short by the crash.
    std::fs::create_dir_all(w.journals()).unwrap();
    std::fs::write(w.journals().join("sent-test_host-0-0.log"), format!("{id}\n12")).unwrap();
    apply_left_journals(&w.store, &w.journals(), "test-host").await.unwrap();
    assert_eq!(w.counts().await, [("sent".to_string(), 1)]);
    assert!(!w.journals().join("sent-test_host-0-0.log").exists());
    assert!(!w.worker().deliver_due(&no_shutdown()).await);
    assert!(w.stub.sent().is_empty());
}

#[tokio::test]
async fn a_letter_goes_out_to_the_complainant_with_its_threading() {
    let w = world().await;
    let reference = w.case().await;
    let worker = w.worker();
    worker.deliver_due(&no_shutdown()).await;
    let ack = w.stub.sent().remove(0);
    let progress = CaseAction::Progress { expected_by: NaiveDate::from_ymd_opt(2026, 4, 1).unwrap(), message: Some("We spreken de aannemer.".into()) };
    let done = w.actions.perform(&reference, progress, "Ann de Wit").await.unwrap();
    assert_eq!(done, Done::Letter(Delivery::Mail("mia@example.test".into())));
    worker.deliver_due(&no_shutdown()).await;
    let sent = w.stub.sent();
    let letter = sent.iter().find(|i| i.mail.kind == MailKind::Progress).expect("the progress letter went out");
    assert_eq!(letter.mail.recipient, "mia@example.test");
    assert!(letter.mail.body.contains("We spreken de aannemer."), "{}", letter.mail.body);
    assert!(letter.mail.subject.contains(&reference.to_string()));
    assert!(
        letter.mail.references.contains(&ack.mail.message_id) || letter.mail.in_reply_to.as_deref() == Some(ack.mail.message_id.as_str()),
        "{:?}",
        letter.mail
    );
}

#[tokio::test]
async fn a_hearing_invitation_carries_its_calendar_part() {
    use crate::domain::case_action::Hearing;
    use crate::store::MailPart;
    let w = world().await;
    let reference = w.case().await;
    let worker = w.worker();
    worker.deliver_due(&no_shutdown()).await;
    let hearing = Hearing {
        start: chrono::Utc::now() + chrono::Duration::days(14),
        minutes: 60,
        place: "Stadhuis, kamer 2".into(),
        // The term to answer: the case's procedure's (five working days).
        answer_days: None,
        with_subjects: false,
    };
    let Done::Invited { addresses: invited, answer_by } = w.actions.perform(&reference, CaseAction::HearingInvite(hearing), "Ann de Wit").await.unwrap() else {
        panic!("an invitation is what a hearing-invite does")
    };
    let today = crate::domain::calendar::amsterdam_date(chrono::Utc::now());
    assert_eq!(answer_by, crate::domain::calendar::Calendar::default().add_working_days(today, 5));
    assert!(invited.contains(&"mia@example.test".to_string()), "{invited:?}");
    worker.deliver_due(&no_shutdown()).await;
    let sent = w.stub.sent();
    let invitation =
        sent.iter().find(|i| i.mail.kind == MailKind::HearingInvitation && i.mail.recipient == "mia@example.test").expect("the invitation went out");
    assert!(invitation.mail.body.contains("Stadhuis, kamer 2"), "{}", invitation.mail.body);
    let calendar = invitation.parts.iter().find_map(|p| match p {
        MailPart::Calendar { method, content, .. } => Some((method.clone(), content.clone())),
        _ => None,
    });
    let (method, content) = calendar.expect("a calendar part");
    assert_eq!(method, "REQUEST");
    assert!(content.contains("BEGIN:VEVENT") && content.contains("mia@example.test"), "{content}");
}

#[tokio::test]
async fn acknowledgements_wait_while_the_intake_registers_a_backlog_and_other_mail_does_not() {
    let w = world().await;
    let reference = w.case().await;
    let wake = Arc::new(Notify::new());
    let backlog = Arc::new(Backlog::new(wake.clone(), Duration::from_secs(30)));
    let worker = w.worker().with_wake(wake.clone()).with_backlog(backlog.clone());
    let pass = backlog.enter();
    assert!(!worker.deliver_due(&no_shutdown()).await, "the acknowledgement waits");
    assert!(w.stub.sent().is_empty());
    let progress = CaseAction::Progress { expected_by: NaiveDate::from_ymd_opt(2026, 4, 1).unwrap(), message: None };
    w.actions.perform(&reference, progress, "Ann de Wit").await.unwrap();
    assert!(worker.deliver_due(&no_shutdown()).await);
    let kinds: Vec<MailKind> = w.stub.sent().iter().map(|i| i.mail.kind).collect();
    assert_eq!(kinds, [MailKind::Progress], "a letter does not wait for the backlog");
    drop(pass);
    tokio::time::timeout(Duration::from_secs(5), wake.notified()).await.expect("the worker is woken when the backlog is registered");
    assert!(worker.deliver_due(&no_shutdown()).await);
    let kinds: Vec<MailKind> = w.stub.sent().iter().map(|i| i.mail.kind).collect();
    assert_eq!(kinds, [MailKind::Progress, MailKind::Acknowledgement]);
    assert_eq!(w.counts().await, [("sent".to_string(), 2)]);
}
