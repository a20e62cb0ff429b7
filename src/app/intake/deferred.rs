//! New complaints of a batch written together. A backlog is mostly new complaints, and each
//! costs eight statements or so when written on its own: on PostgreSQL each is a round trip,
//! which is most of the time a mail takes. So the batch keeps its new complaints in memory and
//! writes them at its end, a few statements for all of them ([`Intake::write_deferred`]).
//! Nothing of a complaint is stored before then, not even its attachments: one that proves
//! known (a crash before it left the inbox) leaves no file behind.
//!
//! What a later mail of the same batch learns from the database must not change by this:
//! - the same mail again (its dedupe key) ends as the first copy does: a duplicate, or in
//!   quarantine beside it when that was held there before;
//! - a reply to a waiting complaint (its Message-ID in the reply's thread) has them written
//!   first, so the reply finds its case;
//! - the loop guard counts the acknowledgements that wait, and handlers take their turns in
//!   the same order, because both are decided in order when the complaints are written;
//! - a handler's action by mail, which commits on its own, has them written first.
//!
//! Nothing else of a new case can be found by a later mail: its reference and its
//! acknowledgement do not exist before it is written.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::{Done, Intake, IntakeError, Mention, Outcome};
use crate::domain::inbound::InboundMail;
use crate::store::{CaseToWrite, Conn, OutboxStatus, Seen};

/// The new complaints of a batch that wait to be written, and what became of those taken up
/// since, with what is left to do once the batch commits.
#[derive(Default)]
pub struct Deferred {
    waiting: Vec<Waiting>,
    /// Later copies of a waiting complaint (its dedupe key), by tag: each ends as the first did,
    /// a duplicate, or in quarantine with it.
    copies: Vec<(u32, String)>,
    /// The dedupe keys and Message-IDs of the complaints that wait.
    keys: HashSet<String>,
    message_ids: HashSet<String>,
    taken: Vec<(u32, Done)>,
}

/// A new complaint as it came: nothing of it is stored, not even its attachments, before it
/// proves new when it is written.
struct Waiting {
    tag: u32,
    dedupe_key: String,
    mail: InboundMail,
    raw: Vec<u8>,
    arrived: DateTime<Utc>,
    mentions: Option<Mention>,
}

impl Deferred {
    /// Whether complaints wait to be written.
    pub fn is_waiting(&self) -> bool {
        !self.waiting.is_empty()
    }

    /// The mails taken up since this was last asked (registered, or found known), by the tag
    /// each was deferred with.
    pub fn take_written(&mut self) -> Vec<(u32, Done)> {
        std::mem::take(&mut self.taken)
    }

    /// Forgets everything: the transaction they were written in was rolled back.
    pub fn clear(&mut self) {
        *self = Deferred::default();
    }

    /// Whether a mail in this thread replies to a complaint that waits.
    pub(super) fn answered_by(&self, thread_ids: &[String]) -> bool {
        thread_ids.iter().any(|id| self.message_ids.contains(id))
    }

    /// Keeps the new complaint `tag` to be written with the others.
    pub(super) fn add(&mut self, tag: u32, dedupe_key: String, mail: InboundMail, raw: &[u8], arrived: DateTime<Utc>, mentions: Option<Mention>) {
        self.keys.insert(dedupe_key.clone());
        self.message_ids.extend(mail.message_id.clone());
        self.waiting.push(Waiting { tag, dedupe_key, mail, raw: raw.to_vec(), arrived, mentions });
    }

    /// Keeps the mail `tag` as a copy of a complaint that waits, if it is one.
    pub(super) fn add_copy(&mut self, tag: u32, dedupe_key: &str) -> bool {
        let copy = self.keys.contains(dedupe_key);
        if copy {
            self.copies.push((tag, dedupe_key.to_string()));
        }
        copy
    }
}

impl Intake {
    /// Writes the complaints that wait in `deferred` on `db` (the batch's transaction), in
    /// the order they came; [`Deferred::take_written`] has them then. A mail known already
    /// (a crash before it left the inbox) comes out a duplicate, or still in quarantine, and
    /// so do its copies. An error leaves the transaction to be rolled back: whatever of them
    /// was written is in it.
    pub async fn write_deferred(&self, db: &mut Conn, deferred: &mut Deferred) -> Result<(), IntakeError> {
        let waiting = std::mem::take(&mut deferred.waiting);
        let copies = std::mem::take(&mut deferred.copies);
        deferred.keys.clear();
        deferred.message_ids.clear();
        if waiting.is_empty() {
            return Ok(());
        }
        let keys: Vec<String> = waiting.iter().map(|w| w.dedupe_key.clone()).collect();
        let seen = self.store.seen_many_on(db, &keys).await?;
        // The copies end as their first did when that was in quarantine; else duplicates.
        for (tag, key) in copies {
            let outcome = match seen.get(&key) {
                Some(Seen::Quarantined(reason)) => Outcome::Quarantine { reason: reason.clone() },
                _ => Outcome::Duplicate,
            };
            deferred.taken.push((tag, Done::now(outcome)));
        }
        let settings = self.settings.get();
        let mut complaints = Vec::with_capacity(waiting.len());
        for w in waiting {
            match seen.get(&w.dedupe_key) {
                None | Some(Seen::New) => {
                    let complaint = self.complaint(&settings, &w.mail, &self.raw(&w.raw).await?, w.arrived, w.mentions).await?;
                    complaints.push((w.tag, complaint));
                }
                Some(Seen::Known) => deferred.taken.push((w.tag, Done::now(Outcome::Duplicate))),
                Some(Seen::Quarantined(reason)) => deferred.taken.push((w.tag, Done::now(Outcome::Quarantine { reason: reason.clone() }))),
            }
        }
        if complaints.is_empty() {
            return Ok(());
        }
        let days: Vec<_> = complaints.iter().map(|(_, c)| c.case.received_on).collect();
        let references = self.store.case_references_in(db, &self.book, &days).await?;
        // The loop guard, counted in order as if each complaint were written on its own.
        let mut senders: Vec<String> = complaints.iter().filter_map(|(_, c)| c.from.as_ref().map(|f| f.address.clone())).collect();
        senders.sort_unstable();
        senders.dedup();
        let mut recent: HashMap<String, i64> = self.store.auto_replies_since_many(db, &senders, Utc::now().timestamp() - 86_400).await?;
        let mut statuses = Vec::with_capacity(complaints.len());
        let mut rows = Vec::with_capacity(complaints.len());
        for ((_, c), reference) in complaints.iter().zip(&references) {
            let count = c.from.as_ref().map(|f| recent.entry(f.address.clone()).or_insert(0));
            let status = self.acknowledgement_status(&settings, c, count.as_deref().copied().unwrap_or(0));
            let acknowledgement = status.and_then(|s| self.acknowledgement(&settings, c, reference, s));
            if let (Some(count), Some(OutboxStatus::Pending | OutboxStatus::Held)) = (count, acknowledgement.as_ref().map(|a| a.status)) {
                *count += 1;
            }
            statuses.push(status);
            rows.push(CaseToWrite { reference: reference.clone(), case: &c.case, message: &c.record, attachments: &c.attachments, acknowledgement });
        }
        let Some(written) = self.store.register_cases_in(db, &self.book, &rows).await? else {
            return Err(IntakeError::WrittenMeanwhile);
        };
        drop(rows);
        for ((((tag, complaint), reference), status), (_, assigned)) in complaints.into_iter().zip(references).zip(statuses).zip(written) {
            deferred.taken.push((tag, complaint.registered(reference, status, assigned)));
        }
        Ok(())
    }
}
