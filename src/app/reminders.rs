//! Reminders and escalations to handlers. A frequent sweep (tokio-cron-scheduler) asks the
//! domain what is due *now* in Amsterdam time, and queues one digest mail per recipient and
//! organisation through the outbox. The store's reminder rows make every reminder go out once.
//!
//! A handler of two organisations gets two digests, each from its organisation's address, with
//! its name and in its language, naming its cases only (issue 25): what one organisation asks of
//! them is its business, a reply goes to the mailbox of the organisation whose cases they are,
//! and each digest reads like that organisation's other mail.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use tokio::sync::{watch, Notify};

use crate::app::clock::Clock;
use crate::app::health::Health;
use crate::app::new_message_id;
use crate::app::settings::SharedSettings;
use crate::app::templates::{long_date, HeldContext, RecipientContext, ReminderDigest, ReminderLine};
use crate::domain::calendar::amsterdam_date;
use crate::domain::organisation::OrganisationKey;
use crate::domain::reference::CaseRef;
use crate::domain::reminders::{due_at, horizon, sending_window_open, Due};
use crate::domain::vocabulary::{MailKind, OutboxStatus};
use crate::store::set_aside::HeldCount;
use crate::store::{OutgoingMail, ReminderClaim, Store};

/// One line of a digest, before it is claimed.
#[derive(Debug, Clone)]
pub struct Item {
    pub claim: ReminderClaim,
    pub reference: CaseRef,
    pub due: Due,
    pub status: String,
}

/// Everything one recipient should hear about one organisation's cases at one moment.
#[derive(Debug, Clone)]
pub struct Digest {
    pub name: String,
    pub email: String,
    /// The key of the organisation whose cases (and held mail) it names, and that sends it.
    pub organisation: String,
    pub items: Vec<Item>,
    /// A supervisor's daily count of held mail, as a preview finds it (a sweep claims it as it
    /// queues the digest).
    pub held: Option<HeldCount>,
}

pub struct ReminderService {
    store: Store,
    settings: SharedSettings,
}

impl ReminderService {
    pub fn new(store: Store, settings: SharedSettings) -> Self {
        Self { store, settings }
    }

    /// What would be sent at `now`, per recipient, leaving out what went out already.
    pub async fn preview(&self, now: DateTime<Utc>) -> crate::store::Result<Vec<Digest>> {
        let mut digests = self.digests(now).await?;
        let counting = self.add_supervisors(now, &mut digests).await?;
        for d in &mut digests {
            let claims: Vec<ReminderClaim> = d.items.iter().map(|i| i.claim.clone()).collect();
            let recorded = self.store.reminders_recorded(&claims, &d.email).await?;
            let mut recorded = recorded.into_iter();
            d.items.retain(|_| !recorded.next().unwrap_or(false));
            if let Some((day, supervisors)) = &counting {
                if supervisors.contains(&(d.email.clone(), d.organisation.clone())) && !self.store.held_counted(&d.email, &d.organisation, *day).await? {
                    let (count, _) = self.store.held_count(&d.email, &d.organisation, now.timestamp()).await?;
                    d.held = (count.total() > 0).then_some(count);
                }
            }
        }
        digests.retain(|d| !d.items.is_empty() || d.held.is_some());
        Ok(digests)
    }

    /// Queues the digests due at `now`. Returns how many mails were queued.
    ///
    /// Supervisors also hear, once a day, how many mails were set aside or quarantined since
    /// their previous count (issue 21): in that day's first digest, or in a digest of its own
    /// when nothing else is due. The count is claimed in the digest's transaction (see
    /// `Store::queue_digest_counted`), so it goes out once a day however often the sweep runs.
    pub async fn sweep(&self, now: DateTime<Utc>) -> crate::store::Result<usize> {
        let settings = self.settings.get();
        let mut queued = 0;
        let mut digests = self.digests(now).await?;
        let counting = self.add_supervisors(now, &mut digests).await?;
        for digest in digests {
            let claims: Vec<ReminderClaim> = digest.items.iter().map(|i| i.claim.clone()).collect();
            let supervised = (digest.email.clone(), digest.organisation.clone());
            let count = counting.as_ref().filter(|(_, supervisors)| supervisors.contains(&supervised)).map(|(day, _)| (*day, now.timestamp()));
            let done = self
                .store
                .queue_digest_counted(&digest.email, &digest.organisation, &claims, count, |fresh, held| {
                    let items: Vec<&Item> = fresh.iter().map(|&i| &digest.items[i]).collect();
                    self.compose(&settings, &digest, &items, held)
                })
                .await?;
            if done.mail() {
                queued += 1;
                tracing::info!(items = done.reminders, held_count = done.count.is_some(), "reminder digest queued");
            }
        }
        Ok(queued)
    }

    /// Inside the sending window (as reminders): the day, and the active supervisors with each
    /// organisation they supervise, each given a digest of it (empty when nothing else is due
    /// for them) to carry their daily count of its held mail. `None` outside the window.
    async fn add_supervisors(&self, now: DateTime<Utc>, digests: &mut Vec<Digest>) -> crate::store::Result<Option<(NaiveDate, Vec<(String, String)>)>> {
        let settings = self.settings.get();
        if !sending_window_open(now, &settings.calendar, &settings.reminders) {
            return Ok(None);
        }
        let mut supervisors = Vec::new();
        for supervisor in self.store.supervisors().await? {
            for organisation in &supervisor.organisations {
                if !digests.iter().any(|d| d.email == supervisor.email && &d.organisation == organisation) {
                    let (name, email) = (supervisor.name.clone(), supervisor.email.clone());
                    digests.push(Digest { name, email, organisation: organisation.clone(), items: Vec::new(), held: None });
                }
                supervisors.push((supervisor.email.clone(), organisation.clone()));
            }
        }
        Ok(Some((amsterdam_date(now), supervisors)))
    }

    async fn digests(&self, now: DateTime<Utc>) -> crate::store::Result<Vec<Digest>> {
        let settings = self.settings.get();
        // Outside working hours nothing is due, and the database is not asked; inside them,
        // only cases with a deadline that can be due now are read.
        let Some(horizon) = horizon(now, &settings.calendar, &settings.reminders) else {
            return Ok(Vec::new());
        };
        let supervisors = self.store.supervisors().await?;
        let mut by_recipient: BTreeMap<(String, String), Digest> = BTreeMap::new();
        let mut add = |name: &str, email: &str, organisation: &str, item: Item| {
            by_recipient
                .entry((email.to_string(), organisation.to_string()))
                .or_insert_with(|| Digest {
                    name: name.to_string(),
                    email: email.to_string(),
                    organisation: organisation.to_string(),
                    items: Vec::new(),
                    held: None,
                })
                .items
                .push(item);
        };
        for case in self.store.open_deadlines(horizon).await? {
            for due in due_at(now, &settings.calendar, &settings.reminders, &case.open) {
                let item = Item {
                    claim: ReminderClaim { case_id: case.case_id, deadline: due.deadline(), kind: due.mail_kind(), due_key: due.key() },
                    reference: case.reference.clone(),
                    due: due.clone(),
                    status: case.status.clone(),
                };
                // The responsible handler hears everything about their case; supervisors hear
                // about missed deadlines, and about everything on cases nobody handles: of
                // the organisations they supervise only (issue 25).
                if let Some((name, email)) = &case.handler {
                    add(name, email, &case.organisation, item.clone());
                }
                let escalate = matches!(due, Due::Escalation { .. });
                for supervisor in supervisors.iter().filter(|s| s.supervises(&case.organisation)) {
                    let is_handler = case.handler.as_ref().is_some_and(|(_, e)| *e == supervisor.email);
                    if (escalate || case.handler.is_none()) && !is_handler {
                        add(&supervisor.name, &supervisor.email, &case.organisation, item.clone());
                    }
                }
            }
        }
        let mut digests: Vec<Digest> = by_recipient.into_values().collect();
        for d in &mut digests {
            d.items.sort_by_key(|i| (i.due.date(), i.reference.clone()));
        }
        Ok(digests)
    }

    /// The digest in its organisation's words and language.
    fn compose(&self, settings: &crate::app::settings::Settings, digest: &Digest, items: &[&Item], held: Option<&HeldCount>) -> Option<OutgoingMail> {
        let Ok(key) = OrganisationKey::parse(&digest.organisation) else {
            tracing::error!(organisation = %digest.organisation, "a case's organisation is not a key; its reminders cannot be written");
            return None;
        };
        let own = settings.of(&key).clone();
        let language = own.letters.language();
        let escalation = items.iter().any(|i| matches!(i.due, Due::Escalation { .. }));
        let nearest = items.iter().map(|i| i.due.date()).min();
        if nearest.is_none() && held.is_none() {
            return None;
        }
        let lines: Vec<ReminderLine> = items
            .iter()
            .map(|i| {
                let (days_left, late) = match i.due {
                    Due::Reminder { days_left, .. } => (days_left, 0),
                    Due::Escalation { working_days_late, .. } => (0, working_days_late),
                };
                ReminderLine {
                    reference: i.reference.to_string(),
                    deadline: i.due.deadline().as_str(),
                    kind: i.due.kind(),
                    date: long_date(i.due.date(), language),
                    days_left,
                    working_days_late: late,
                    status: i.status.clone(),
                }
            })
            .collect();
        let context = ReminderDigest {
            organisation: &own.context,
            recipient: RecipientContext { name: digest.name.clone() },
            count: items.len(),
            nearest: nearest.map(|d| long_date(d, language)).unwrap_or_default(),
            escalation,
            items: lines,
            web_url: settings.web_url.as_deref(),
            held: held.map(|h| HeldContext::new(h, language)),
        };
        let letter = match own.letters.render("reminder", &context) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(error = %e, "reminder could not be rendered");
                return None;
            }
        };
        Some(OutgoingMail {
            kind: if escalation { MailKind::Escalation } else { MailKind::Reminder },
            recipient: digest.email.clone(),
            recipient_name: Some(digest.name.clone()),
            subject: letter.subject,
            body: letter.body,
            message_id: new_message_id("klachtd.reminder", own.message_id_domain()),
            in_reply_to: None,
            references: Vec::new(),
            status: OutboxStatus::Pending,
        })
    }
}

/// Runs the sweep on the cron schedule until shutdown (and once at start), at the time `clock`
/// tells; each finished sweep is counted in `health`. `swept_once` turns true when the first
/// sweep is over (whatever its outcome): start-up work that would hold up the database waits
/// for it.
pub async fn run(
    service: Arc<ReminderService>,
    cron: &str,
    clock: Clock,
    health: Arc<Health>,
    swept_once: watch::Sender<bool>,
    outbox_wake: Arc<Notify>,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    crate::app::schedule::every("reminders", cron, shutdown, || async {
        let swept = service.sweep(clock.now()).await;
        swept_once.send_replace(true);
        if swept.is_ok() {
            health.swept();
        }
        match swept {
            Ok(0) => {}
            Ok(_) => outbox_wake.notify_one(),
            Err(e) => tracing::warn!(error = %e, "reminder sweep failed; the next sweep retries"),
        }
    })
    .await
}
