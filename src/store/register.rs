//! The register's facts and the retention of personal data (R9, R10).

use chrono::NaiveDate;

use super::{now, stored_day, DeadlineColumns, Result, Store};
use crate::domain::awb::{HearingOutcome, HistoryKind, NotHandledGround};
use crate::domain::calendar::amsterdam_date;
use crate::domain::history::HistoryEvent;
use crate::domain::organisation::OrganisationKey;
use crate::domain::procedure::{CaseOutcome, Category};
use crate::domain::reference::CaseId;
use crate::domain::register::CaseFacts;

/// A case's row as [`Store::register_facts`] reads it.
struct FactsRow {
    reference: String,
    received_on: String,
    category: Option<Category>,
    outcome: Option<CaseOutcome>,
    external_body: Option<String>,
    measures: Option<String>,
    requests_for_information: i64,
    original_respond_by: Option<String>,
    postponements: i64,
    not_handled_ground: Option<NotHandledGround>,
    final_responses: i64,
    hearing_outcome: Option<HearingOutcome>,
    deadlines: DeadlineColumns,
}
from_columns!(FactsRow {
    reference, received_on, category, outcome, external_body, measures, requests_for_information, original_respond_by, postponements,
    not_handled_ground, final_responses, hearing_outcome
} with deadlines);

/// The history entries whose detail can name a person (a note, whom information was asked of,
/// the consent to a postponement, an answer to an invitation): blanked by retention (R9).
const PERSONAL_DETAIL: &[HistoryEvent] = &[
    HistoryEvent::Note,
    HistoryEvent::InformationRequested,
    HistoryEvent::SupervisorCheck,
    HistoryEvent::SupervisorChecked,
    HistoryEvent::SubjectAdded,
    HistoryEvent::Reopened,
    HistoryEvent::Corrected,
    HistoryEvent::Awb(HistoryKind::Postponed),
    HistoryEvent::Awb(HistoryKind::Disclosed),
    HistoryEvent::Awb(HistoryKind::HearingInvited),
    HistoryEvent::Awb(HistoryKind::HearingAnswer),
];

/// What the register's figures were read at: the newest case and the newest entry in any case's
/// history other than an access (a page opened, a download, a refusal). Every change to what
/// the register counts (a case registered, a deadline met or moved, a category, an outcome, a
/// hearing, a letter returned) is written with an entry in the case's history; so when neither
/// moved, the figures of the same period on the same day are the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegisterVersion {
    newest_case: Option<i64>,
    newest_change: Option<i64>,
}

/// The history entries that record an access, not a change.
const ACCESSES: &[HistoryEvent] = &[HistoryEvent::Viewed, HistoryEvent::AttachmentDownloaded, HistoryEvent::AccessRefused];

impl Store {
    /// See [`RegisterVersion`]. Both read backwards through the primary keys: the newest case,
    /// and the newest history entry past the accesses after it.
    pub async fn register_version(&self) -> Result<RegisterVersion> {
        self.register_version_on(&mut self.reader().await?).await
    }

    /// [`Store::register_version`] on the page's read connection.
    pub async fn register_version_on(&self, reader: &mut super::Reader) -> Result<RegisterVersion> {
        let newest_case: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM cases").fetch_one(&mut **reader).await?;
        let sql = format!("SELECT id FROM case_events WHERE action NOT IN ({}) ORDER BY id DESC LIMIT 1", super::placeholders(1, ACCESSES.len()));
        let newest_change: Option<i64> =
            ACCESSES.iter().fold(sqlx::query_scalar(sqlx::AssertSqlSafe(sql)), |q, e| q.bind(*e)).fetch_optional(&mut **reader).await?;
        Ok(RegisterVersion { newest_case, newest_change })
    }

    /// The register facts of `organisation`'s cases received from `from` to `to` inclusive
    /// (a register is of one organisation, issue 25). Requests for information are counted
    /// from the case history, so those sent by post count too.
    pub async fn register_facts(&self, from: NaiveDate, to: NaiveDate, organisation: &OrganisationKey) -> Result<Vec<CaseFacts>> {
        use futures::TryStreamExt;
        let day = |t: Option<i64>| t.and_then(|t| chrono::DateTime::from_timestamp(t, 0)).map(amsterdam_date);
        // A year of a large register is 100,000 rows: each is turned into its facts as it
        // arrives, rather than all rows held first.
        let mut rows = sqlx::query_as::<_, FactsRow>(
            "SELECT c.reference, c.received_on, c.category, c.outcome, c.acknowledge_by, c.acknowledged_at, c.progress_by,
                    c.progress_sent_at, c.respond_by, c.responded_at, c.external_body, c.measures,
                    (SELECT COUNT(*) FROM case_events e WHERE e.case_id = c.id AND e.action = 'information-requested') AS requests_for_information,
                    c.original_respond_by, c.postponements, c.not_handled_ground,
                    (SELECT COUNT(*) FROM case_events e WHERE e.case_id = c.id AND e.action = 'final-response') AS final_responses,
                    c.hearing_outcome
             FROM cases c WHERE c.received_on >= $1 AND c.received_on <= $2 AND c.organisation = $3 ORDER BY c.id",
        )
        .bind(from.to_string())
        .bind(to.to_string())
        .bind(organisation.as_str())
        .fetch(self.reads());
        let mut facts = Vec::new();
        while let Some(r) = rows.try_next().await? {
            let [(_, acknowledge_by, acknowledged_at), (_, progress_by, progress_sent_at), (_, respond_by, responded_at)] = r.deadlines.each();
            let date = |text: &str| stored_day(&r.reference, text);
            let original_respond_by = r.original_respond_by.as_deref().map(date).transpose()?;
            facts.push(CaseFacts {
                received_on: date(&r.received_on)?,
                acknowledge_by: date(acknowledge_by)?,
                acknowledged_on: day(acknowledged_at),
                progress_by: super::stored_deadline(progress_by).map(date).transpose()?,
                progress_on: day(progress_sent_at),
                respond_by: date(respond_by)?,
                responded_on: day(responded_at),
                reference: r.reference,
                category: r.category,
                outcome: r.outcome,
                external_body: r.external_body,
                measures: r.measures,
                requests_for_information: r.requests_for_information,
                original_respond_by,
                postponements: u32::try_from(r.postponements).unwrap_or(0),
                not_handled_ground: r.not_handled_ground,
                final_responses: r.final_responses,
                hearing_outcome: r.hearing_outcome,
            });
        }
        Ok(facts)
    }

    /// The organisations that have cases, in order (through the index on `cases.organisation`).
    pub async fn case_organisations(&self) -> Result<Vec<OrganisationKey>> {
        let keys: Vec<String> = sqlx::query_scalar("SELECT DISTINCT organisation FROM cases ORDER BY organisation").fetch_all(self.reads()).await?;
        Ok(keys.iter().filter_map(|k| OrganisationKey::parse(k).ok()).collect())
    }

    /// Removes the personal data of cases closed before `cutoff` (Unix seconds): texts, names,
    /// addresses, raw mail and attachments. References, dates, category, outcome, measures and
    /// deadline facts stay, so the register does not change. Mail that belongs to no case and
    /// quarantine records lose theirs too (see `remove_unlinked_mail`). Returns the number of
    /// cases and the hashes of files (attachments, large raw mails) nothing refers to any more.
    pub async fn remove_personal_data(&self, cutoff: i64) -> Result<(u64, Vec<String>)> {
        self.remove_personal_data_of(cutoff, None).await
    }

    /// [`remove_personal_data`](Self::remove_personal_data) of one organisation's cases and
    /// mail (each has its retention period); `None`: of all.
    pub async fn remove_personal_data_of(&self, cutoff: i64, organisation: Option<&str>) -> Result<(u64, Vec<String>)> {
        let mut tx = self.begin().await?;
        // Never while the complainant may still turn to the external body (Awb 9:24): its
        // term runs to `external_term_ends` inclusive, whatever the retention period.
        let today = amsterdam_date(chrono::Utc::now()).to_string();
        let ids: Vec<CaseId> = sqlx::query_scalar(
            "SELECT id FROM cases WHERE status = 'closed' AND closed_at < $1 AND anonymised_at IS NULL
               AND (external_term_ends IS NULL OR external_term_ends < $2) AND ($3 IS NULL OR organisation = $3)",
        )
        .bind(cutoff)
        .bind(today)
        .bind(organisation)
        .fetch_all(&mut *tx)
        .await?;
        let mut hashes = Vec::new();
        let t = now();
        let blank_details = format!("UPDATE case_events SET detail = '' WHERE case_id = $1 AND action IN ({})", super::placeholders(2, PERSONAL_DETAIL.len()));
        for id in &ids {
            // Large raw mails kept as files go with the rest (see `messages.raw_file`).
            let raw_files: Vec<String> =
                sqlx::query_scalar("SELECT raw_file FROM messages WHERE case_id = $1 AND raw_file IS NOT NULL").bind(id).fetch_all(&mut *tx).await?;
            hashes.extend(raw_files);
            let statements: [&'static str; 4] = [
                "UPDATE cases SET complainant_name = NULL, complainant_email = NULL, reply_to_name = NULL, reply_to_email = NULL,
                        postal_address = NULL, subject = '', description = '', findings = NULL, hearing_report = NULL,
                        forwarded_sender = NULL, forwarded_date = NULL WHERE id = $1",
                "UPDATE messages SET from_address = NULL, subject = '', body = '', raw = NULL, raw_file = NULL, message_id = NULL WHERE case_id = $1",
                // SMTP replies and errors can name the recipient; In-Reply-To and References
                // carry the complainant's Message-IDs.
                "UPDATE outbox SET recipient = '(removed)', recipient_name = NULL, subject = '', body = '', last_error = NULL, smtp_reply = NULL,
                        in_reply_to = NULL, refs = '', parts = NULL WHERE case_id = $1",
                "DELETE FROM case_subjects WHERE case_id = $1",
            ];
            for sql in statements {
                sqlx::query(sql).bind(id).execute(&mut *tx).await?;
            }
            let blank = PERSONAL_DETAIL.iter().fold(sqlx::query(sqlx::AssertSqlSafe(blank_details.as_str())).bind(id), |q, e| q.bind(*e));
            blank.execute(&mut *tx).await?;
            // A Message-ID can name a person or their mail host; keep only its hash, which
            // `seen_on` still recognises, so a re-delivered old mail is no new complaint.
            let keys: Vec<(i64, String)> =
                sqlx::query_as("SELECT id, dedupe_key FROM messages WHERE case_id = $1 AND dedupe_key LIKE 'mid:%'").bind(id).fetch_all(&mut *tx).await?;
            for (message, key) in keys {
                sqlx::query("UPDATE messages SET dedupe_key = $1 WHERE id = $2").bind(retained_dedupe_key(&key)).bind(message).execute(&mut *tx).await?;
            }
            let mine: Vec<String> = sqlx::query_scalar("SELECT sha256 FROM attachments WHERE case_id = $1").bind(id).fetch_all(&mut *tx).await?;
            sqlx::query("DELETE FROM attachments WHERE case_id = $1").bind(id).execute(&mut *tx).await?;
            hashes.extend(mine);
            sqlx::query("UPDATE cases SET anonymised_at = $1 WHERE id = $2").bind(t).bind(id).execute(&mut *tx).await?;
            super::insert_event(&mut tx, *id, "klachtd", HistoryEvent::PersonalDataRemoved, "retention period passed").await?;
        }
        let unlinked = remove_unlinked_mail(&mut tx, cutoff, organisation).await?;
        hashes.extend(unlinked.hashes.iter().cloned());
        let mut orphaned = Vec::new();
        hashes.sort();
        hashes.dedup();
        for h in hashes {
            let still: i64 =
                sqlx::query_scalar("SELECT (SELECT COUNT(*) FROM attachments WHERE sha256 = $1) + (SELECT COUNT(*) FROM messages WHERE raw_file = $1)")
                    .bind(&h)
                    .fetch_one(&mut *tx)
                    .await?;
            if still == 0 {
                orphaned.push(h);
            }
        }
        tx.commit().await?;
        if unlinked.messages > 0 || unlinked.quarantine > 0 {
            tracing::info!(
                messages = unlinked.messages,
                quarantine = unlinked.quarantine,
                attachments = unlinked.hashes.len(),
                "mail outside any case cleared after the retention period"
            );
        }
        Ok((ids.len() as u64, orphaned))
    }

    /// References of cases whose personal data was removed (their letter files go too).
    pub async fn anonymised_references(&self) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar("SELECT reference FROM cases WHERE anonymised_at IS NOT NULL ORDER BY id").fetch_all(self.reads()).await?)
    }
}

/// Mail that belongs to no case (auto-replies, bounces, list and own mail, kept with their raw
/// bytes) received before `cutoff` is deleted with its attachment rows, and the reason of a
/// quarantine record from before `cutoff` (it can quote a header) is blanked. Nothing the
/// register counts is touched.
/// `organisation`: only its mail (the quarantine records, which name none, in any run).
async fn remove_unlinked_mail(tx: &mut sqlx::Transaction<'static, sqlx::Any>, cutoff: i64, organisation: Option<&str>) -> Result<Unlinked> {
    const OF: &str = "($2 IS NULL OR m.organisation = $2)";
    let mut hashes: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT a.sha256 FROM attachments a JOIN messages m ON m.id = a.message_id WHERE m.case_id IS NULL AND m.received_at < $1 AND {OF}"
    )))
    .bind(cutoff)
    .bind(organisation)
    .fetch_all(&mut **tx)
    .await?;
    let raw_files: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT raw_file FROM messages m WHERE case_id IS NULL AND received_at < $1 AND raw_file IS NOT NULL AND {OF}"
    )))
    .bind(cutoff)
    .bind(organisation)
    .fetch_all(&mut **tx)
    .await?;
    hashes.extend(raw_files);
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DELETE FROM attachments WHERE message_id IN (SELECT id FROM messages m WHERE case_id IS NULL AND received_at < $1 AND {OF})"
    )))
    .bind(cutoff)
    .bind(organisation)
    .execute(&mut **tx)
    .await?;
    let messages = sqlx::query(sqlx::AssertSqlSafe(format!(
        "DELETE FROM messages WHERE id IN (SELECT id FROM messages m WHERE case_id IS NULL AND received_at < $1 AND {OF})"
    )))
    .bind(cutoff)
    .bind(organisation)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    let quarantine = sqlx::query("UPDATE quarantine SET reason = '' WHERE at < $1 AND reason <> ''").bind(cutoff).execute(&mut **tx).await?.rows_affected();
    Ok(Unlinked { hashes, messages, quarantine })
}

/// What `remove_unlinked_mail` removed: the hashes of the deleted attachment rows, the number of
/// deleted messages and of quarantine records whose reason was blanked.
struct Unlinked {
    hashes: Vec<String>,
    messages: u64,
    quarantine: u64,
}

/// What retention leaves of a dedupe key: a Message-ID key (`mid:...`) becomes the SHA-256 of
/// the whole key (`mid-sha256:...`); a key that is a content hash already stays as it is. The
/// same key always gives the same value, so a mail seen again is still recognised.
pub(crate) fn retained_dedupe_key(key: &str) -> String {
    if key.starts_with("mid:") {
        format!("mid-sha256:{}", crate::domain::inbound::hex(ring::digest::digest(&ring::digest::SHA256, key.as_bytes()).as_ref()))
    } else {
        key.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::PERSONAL_DETAIL;

    /// Retention blanks the details of these entries, stored as they always were.
    #[test]
    fn the_entries_whose_detail_retention_blanks() {
        let texts: Vec<String> = PERSONAL_DETAIL.iter().map(ToString::to_string).collect();
        assert_eq!(
            texts,
            [
                "note",
                "information-requested",
                "supervisor-check",
                "supervisor-checked",
                "subject-added",
                "reopened",
                "corrected",
                "postponed",
                "disclosed",
                "hearing-invited",
                "hearing-answer"
            ]
        );
    }
}
