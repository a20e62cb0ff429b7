//! What the intake writes: a new case with its first message and acknowledgement, a later
//! message threaded into its case, a quarantined mail; and the look-ups that decide which.

use std::collections::HashMap;

use sqlx::Connection as _;

use super::{
    begin_on, handler_candidates_in, insert_case_events, insert_event, insert_many, insert_outboxes, now, placeholders_on, register, AttachmentRecord, Book,
    CaseLink, Conn, MessageRecord, NewCase, OutgoingMail, Registration, Result, Store, LOOKUP_CHUNK,
};
use crate::domain::assignment::Candidate;
use crate::domain::history::{HistoryEvent, MessageKind};
use crate::domain::organisation::OrganisationKey;
use crate::domain::reference::{CaseId, CaseRef};

/// What the database knows of a mail, by its dedupe key (see [`Store::seen_on`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    New,
    /// Recorded before.
    Known,
    /// Seen before and waiting in quarantine for a handler, for this reason.
    Quarantined(String),
}

impl Store {
    /// Whether a mail with this dedupe key was recorded before, and whether it waits in
    /// quarantine (with its reason): one look-up, on `conn` (the intake's batch).
    pub async fn seen_on(&self, conn: &mut Conn, dedupe_key: &str) -> Result<Seen> {
        let mut seen = self.seen_many_on(conn, &[dedupe_key.to_string()]).await?;
        Ok(seen.remove(dedupe_key).unwrap_or(Seen::New))
    }

    /// [`seen_on`](Self::seen_on) for several keys at once: the keys the database knows, and
    /// what it knows of each (a key it does not know is left out).
    pub async fn seen_many_on(&self, conn: &mut Conn, dedupe_keys: &[String]) -> Result<HashMap<String, Seen>> {
        let mut seen = HashMap::new();
        for chunk in dedupe_keys.chunks(LOOKUP_CHUNK) {
            // Retention keeps only a hash of a Message-ID key (see `register::retained_dedupe_key`).
            let mut asked: HashMap<String, &String> = chunk.iter().map(|key| (register::retained_dedupe_key(key), key)).collect();
            asked.extend(chunk.iter().map(|key| (key.clone(), key)));
            let sql = format!("SELECT dedupe_key, kind, case_id, note FROM messages WHERE dedupe_key IN ({})", placeholders_on(conn, 1, asked.len()));
            let mut query = sqlx::query_as::<_, (Option<String>, String, Option<i64>, String)>(sqlx::AssertSqlSafe(sql));
            for stored in asked.keys() {
                query = query.bind(stored.clone());
            }
            for (stored, kind, case_id, note) in query.fetch_all(&mut *conn).await? {
                let Some(key) = stored.as_ref().and_then(|s| asked.get(s)) else { continue };
                // Waiting in quarantine: its own key (never a retained hash), on no case.
                if stored.as_deref() == Some(key.as_str()) && kind == MessageKind::Quarantined.as_str() && case_id.is_none() {
                    seen.insert((*key).clone(), Seen::Quarantined(note));
                } else {
                    seen.entry((*key).clone()).or_insert(Seen::Known);
                }
            }
        }
        Ok(seen)
    }

    /// The case that a mail refers to: by a reference in its subject, else by a Message-ID in
    /// its In-Reply-To/References that belongs to a message of a case. Only a case of the
    /// organisation of the store's book (see [`find_case_in`](Self::find_case_in)).
    pub async fn find_case_for(&self, conn: &mut Conn, references: &[CaseRef], thread_ids: &[String]) -> Result<Option<CaseLink>> {
        self.find_case_in(conn, &self.organisation.clone(), references, thread_ids).await
    }

    /// [`find_case_for`](Self::find_case_for) among the cases of `organisation` only: mail to
    /// one organisation never threads into another's case, whatever reference it quotes.
    pub async fn find_case_in(
        &self,
        conn: &mut Conn,
        organisation: &OrganisationKey,
        references: &[CaseRef],
        thread_ids: &[String],
    ) -> Result<Option<CaseLink>> {
        // In this order: a quoted reference, then each thread id among our mail in and out.
        const BY_REFERENCE: &str = "SELECT id, reference, status FROM cases WHERE reference = $1 AND organisation = $2";
        const BY_MAIL_IN: &str = "SELECT c.id, c.reference, c.status FROM messages m JOIN cases c ON c.id = m.case_id
                                  WHERE m.message_id = $1 AND c.organisation = $2 ORDER BY m.id LIMIT 1";
        const BY_MAIL_OUT: &str =
            "SELECT c.id, c.reference, c.status FROM outbox o JOIN cases c ON c.id = o.case_id WHERE o.message_id = $1 AND c.organisation = $2";
        let looks = references
            .iter()
            .map(|r| (BY_REFERENCE, r.to_string()))
            .chain(thread_ids.iter().flat_map(|id| [(BY_MAIL_IN, id.clone()), (BY_MAIL_OUT, id.clone())]));
        for (sql, key) in looks {
            let link = sqlx::query_as(sql).bind(key).bind(organisation.as_str()).fetch_optional(&mut *conn).await?;
            if link.is_some() {
                return Ok(link);
            }
        }
        Ok(None)
    }

    /// One of our letters about a case came back undelivered (a failed delivery report naming
    /// one of `message_ids`). Only letters to complainants or other parties count, never a
    /// notice to a handler (its bounce must not start another notice, and so on). The letter
    /// is marked `returned`, and the deadline it met (acknowledgement or progress notice) is
    /// open again. Returns the letter's kind, or `None` if no such letter was found.
    ///
    /// Runs in the caller's transaction on `conn` (the intake's savepoint for the mail).
    pub async fn letter_returned(&self, tx: &mut Conn, case_id: CaseId, message_ids: &[String]) -> Result<Option<String>> {
        for id in message_ids {
            let row: Option<(i64, String)> = sqlx::query_as(
                "SELECT id, kind FROM outbox WHERE case_id = $1 AND message_id = $2 AND status = 'sent'
                 AND kind IN ('acknowledgement', 'progress', 'request-info', 'response', 'postponement', 'not-handled', 'settled', 'disclosure', 'hearing-invitation', 'hearing-report')",
            )
            .bind(case_id)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((outbox_id, kind)) = row else { continue };
            sqlx::query("UPDATE outbox SET status = 'returned' WHERE id = $1").bind(outbox_id).execute(&mut *tx).await?;
            let reopened = match kind.as_str() {
                "acknowledgement" => Some("UPDATE cases SET acknowledged_at = NULL WHERE id = $1"),
                "progress" => Some("UPDATE cases SET progress_sent_at = NULL WHERE id = $1"),
                _ => None,
            };
            if let Some(sql) = reopened {
                sqlx::query(sql).bind(case_id).execute(&mut *tx).await?;
            }
            insert_event(tx, case_id, "klachtd", HistoryEvent::LetterReturned, &kind).await?;
            return Ok(Some(kind));
        }
        Ok(None)
    }

    /// Number of automatic mails queued for `recipient` since `since` (the loop guard).
    pub async fn auto_replies_since(&self, conn: &mut Conn, recipient: &str, since: i64) -> Result<i64> {
        let counts = self.auto_replies_since_many(conn, &[recipient.to_string()], since).await?;
        Ok(counts.get(recipient).copied().unwrap_or(0))
    }

    /// [`auto_replies_since`](Self::auto_replies_since) for several recipients at once (one
    /// with none is left out).
    pub async fn auto_replies_since_many(&self, conn: &mut Conn, recipients: &[String], since: i64) -> Result<HashMap<String, i64>> {
        let mut counts = HashMap::new();
        for chunk in recipients.chunks(LOOKUP_CHUNK) {
            // All values bound in order (see `placeholders_on`): the time first, then the list.
            let sql = format!(
                "SELECT recipient, COUNT(*) FROM outbox WHERE created_at >= {} AND status <> 'suppressed' AND recipient IN ({}) GROUP BY recipient",
                placeholders_on(conn, 1, 1),
                placeholders_on(conn, 2, chunk.len())
            );
            let mut query = sqlx::query_as::<_, (String, i64)>(sqlx::AssertSqlSafe(sql)).bind(since);
            for recipient in chunk {
                query = query.bind(recipient);
            }
            counts.extend(query.fetch_all(&mut *conn).await?);
        }
        Ok(counts)
    }

    /// Registers a new case with its first message, attachments and acknowledgement, in one
    /// transaction. `compose` gets the new reference and returns the acknowledgement to queue.
    pub async fn register_case(
        &self,
        case: &NewCase,
        message: &MessageRecord,
        attachments: &[AttachmentRecord],
        compose: impl FnOnce(&CaseRef) -> Option<OutgoingMail>,
    ) -> Result<Registration> {
        self.register_case_in(&mut *self.connection().await?, &self.book(), case, message, attachments, compose).await
    }

    /// [`register_case`](Self::register_case) in `book`: a case of its organisation (a paper
    /// complaint registered for one of several organisations).
    pub async fn register_case_of(
        &self,
        book: &Book,
        case: &NewCase,
        message: &MessageRecord,
        attachments: &[AttachmentRecord],
        compose: impl FnOnce(&CaseRef) -> Option<OutgoingMail>,
    ) -> Result<Registration> {
        self.register_case_in(&mut *self.connection().await?, book, case, message, attachments, compose).await
    }

    /// [`register_case`](Self::register_case) on `conn`, in `book`: a case of its organisation,
    /// with its reference. In a transaction already (the intake's savepoint for the mail) it
    /// opens none of its own: after `Duplicate` the caller rolls that back (what was written
    /// before the duplicate showed is in it).
    pub async fn register_case_in(
        &self,
        conn: &mut Conn,
        book: &Book,
        case: &NewCase,
        message: &MessageRecord,
        attachments: &[AttachmentRecord],
        compose: impl FnOnce(&CaseRef) -> Option<OutgoingMail>,
    ) -> Result<Registration> {
        if conn.is_in_transaction() {
            return self.insert_case(conn, book, case, message, attachments, compose).await;
        }
        let mut tx = begin_on(conn).await?;
        let registration = self.insert_case(&mut tx, book, case, message, attachments, compose).await?;
        match registration {
            Registration::Duplicate => tx.rollback().await?,
            Registration::Registered { .. } => tx.commit().await?,
        }
        Ok(registration)
    }

    async fn insert_case(
        &self,
        tx: &mut Conn,
        book: &Book,
        case: &NewCase,
        message: &MessageRecord,
        attachments: &[AttachmentRecord],
        compose: impl FnOnce(&CaseRef) -> Option<OutgoingMail>,
    ) -> Result<Registration> {
        let reference = self.case_references_in(tx, book, &[case.received_on]).await?.remove(0);
        let acknowledgement = compose(&reference);
        let written = self.register_cases_in(tx, book, &[CaseToWrite { reference: reference.clone(), case, message, attachments, acknowledgement }]).await?;
        Ok(match written.as_deref() {
            Some([(case_id, assigned)]) => Registration::Registered { case_id: *case_id, reference, assigned: *assigned },
            _ => Registration::Duplicate,
        })
    }

    /// Writes new cases with their first messages, attachments, acknowledgements and history,
    /// each statement for many cases at once (the intake's batch), and assigns each a handler
    /// (R5) in turn. Returns each case's row id and whether a handler was assigned, in the
    /// order given; `None` if one of the messages was recorded already (its dedupe key is
    /// unique), after which the caller rolls back what was written.
    pub async fn register_cases_on(&self, tx: &mut Conn, cases: &[CaseToWrite<'_>]) -> Result<Option<Vec<(CaseId, bool)>>> {
        self.register_cases_in(tx, &self.book(), cases).await
    }

    /// [`register_cases_on`](Self::register_cases_on) in `book`: cases (and their mail) of its
    /// organisation.
    pub async fn register_cases_in(&self, tx: &mut Conn, book: &Book, cases: &[CaseToWrite<'_>]) -> Result<Option<Vec<(CaseId, bool)>>> {
        let mut candidates = handler_candidates_in(tx, book.organisation.as_str()).await?;
        let created = now();
        let assignments: Vec<Assignment> = cases.iter().map(|c| Assignment::choose(&mut candidates, c.case, created)).collect();
        let rows: Vec<_> = cases.iter().zip(&assignments).collect();
        let into = "cases (reference, status, source, complainant_name, complainant_email, reply_to_name, reply_to_email, postal_address, subject,
                           description, incomplete, received_on, received_at, acknowledge_by, progress_by, respond_by, created_at,
                           forwarded_sender, forwarded_date, handler_id, supervisor_check, procedure_terms, organisation)";
        let case_ids = insert_many(tx, into, 23, &rows, |query, (c, assignment)| {
            let case = c.case;
            query
                .bind(&c.reference)
                .bind(crate::domain::vocabulary::CaseStatus::Open.as_str())
                .bind(case.source)
                .bind(case.complainant_name.clone())
                .bind(case.complainant_email.clone())
                .bind(case.reply_to_name.clone())
                .bind(case.reply_to_email.clone())
                .bind(case.postal_address.clone())
                .bind(&case.subject)
                .bind(&case.description)
                .bind(case.incomplete.join(","))
                .bind(case.received_on.to_string())
                .bind(case.received_at)
                .bind(case.acknowledge_by.to_string())
                .bind(super::deadline_column(case.progress_by))
                .bind(case.respond_by.to_string())
                .bind(created)
                .bind(case.forwarded.as_ref().and_then(|f| f.sender()))
                .bind(case.forwarded.as_ref().and_then(|f| f.date.clone()))
                .bind(assignment.handler.as_ref().map(|h| h.id))
                .bind(assignment.named.join(", "))
                .bind(case.procedure.to_string())
                .bind(book.organisation.as_str())
        })
        .await?
        .into_iter()
        .map(CaseId::new)
        .collect::<Vec<_>>();
        let messages: Vec<_> = cases.iter().zip(&case_ids).map(|(c, id)| (Some(*id), c.message, c.attachments)).collect();
        match insert_messages(tx, &book.organisation, &messages).await {
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => return Ok(None),
            other => other?,
        };
        // Each handler's turn in the round-robin, as the last of their cases left it.
        let mut turns: HashMap<i64, i64> = HashMap::new();
        for chosen in assignments.iter().filter_map(|a| a.handler.as_ref()) {
            turns.insert(chosen.id, chosen.last_assigned_at);
        }
        for (id, at) in turns {
            sqlx::query("UPDATE handlers SET last_assigned_at = $1 WHERE id = $2").bind(at).bind(id).execute(&mut *tx).await?;
        }
        let acknowledgements: Vec<_> = cases.iter().zip(&case_ids).filter_map(|(c, id)| Some((Some(*id), c.acknowledgement.as_ref()?))).collect();
        insert_outboxes(tx, &acknowledgements).await?;
        // Each case's history, in this order.
        let mut events: Vec<(CaseId, HistoryEvent, String)> = Vec::new();
        for ((c, id), assignment) in cases.iter().zip(&case_ids).zip(&assignments) {
            events.push((*id, HistoryEvent::Registered, format!("source={}", c.case.source)));
            if !assignment.named.is_empty() {
                events.push((*id, HistoryEvent::SupervisorCheck, format!("the complaint names {}", assignment.named.join(", "))));
            }
            if let Some(chosen) = &assignment.handler {
                events.push((*id, HistoryEvent::Assigned, format!("{} (automatic)", chosen.name)));
            }
            if let Some(mail) = &c.acknowledgement {
                events.push((*id, HistoryEvent::AcknowledgementQueued, mail.status.to_string()));
            }
        }
        insert_case_events(tx, created, "klachtd", &events).await?;
        Ok(Some(case_ids.into_iter().zip(assignments.iter().map(|a| a.handler.is_some())).collect()))
    }

    /// Records a mail that is not a new complaint: a follow-up, or automated or own mail,
    /// attached to `case_id` when it refers to a case. Returns false if it was known already.
    pub async fn record_message(&self, case_id: Option<CaseId>, message: &MessageRecord, attachments: &[AttachmentRecord]) -> Result<bool> {
        self.record_message_on(&mut *self.connection().await?, case_id, message, attachments).await
    }

    /// [`record_message`](Self::record_message) on `conn`. In a transaction already (the
    /// intake's savepoint for the mail) it opens none of its own: after `false` the caller rolls
    /// that back.
    pub async fn record_message_on(&self, conn: &mut Conn, case_id: Option<CaseId>, message: &MessageRecord, attachments: &[AttachmentRecord]) -> Result<bool> {
        self.record_message_in(conn, &self.organisation.clone(), case_id, message, attachments).await
    }

    /// [`record_message_on`](Self::record_message_on) as mail received by `organisation`.
    pub async fn record_message_in(
        &self,
        conn: &mut Conn,
        organisation: &OrganisationKey,
        case_id: Option<CaseId>,
        message: &MessageRecord,
        attachments: &[AttachmentRecord],
    ) -> Result<bool> {
        if conn.is_in_transaction() {
            return insert_recorded_message(conn, organisation, case_id, message, attachments).await;
        }
        let mut tx = begin_on(conn).await?;
        let fresh = insert_recorded_message(&mut tx, organisation, case_id, message, attachments).await?;
        match fresh {
            false => tx.rollback().await?,
            true => tx.commit().await?,
        }
        Ok(fresh)
    }

    pub async fn record_quarantine(&self, folder: &str, uidvalidity: u32, uid: u32, dedupe_key: Option<&str>, reason: &str) -> Result<()> {
        self.record_quarantine_on(&mut *self.connection().await?, folder, uidvalidity, uid, dedupe_key, reason).await
    }

    /// [`record_quarantine`](Self::record_quarantine) on `conn` (the intake's batch).
    pub async fn record_quarantine_on(&self, conn: &mut Conn, folder: &str, uidvalidity: u32, uid: u32, dedupe_key: Option<&str>, reason: &str) -> Result<()> {
        sqlx::query("INSERT INTO quarantine (folder, uidvalidity, uid, dedupe_key, reason, at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(folder)
            .bind(uidvalidity as i64)
            .bind(uid as i64)
            .bind(dedupe_key.map(str::to_string))
            .bind(reason)
            .bind(now())
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    /// A mail that waited in quarantine is recorded for good when a handler releases it: its
    /// quarantine record (same key, kept only for that) gives way, in the transaction that
    /// records it.
    pub async fn unquarantine_on(&self, conn: &mut Conn, dedupe_key: &str) -> Result<()> {
        Ok(drop_quarantine_record(conn, dedupe_key).await?)
    }

    pub async fn quarantined(&self) -> Result<Vec<(i64, u32, String)>> {
        let rows: Vec<(i64, i64, String)> = sqlx::query_as("SELECT at, uid, reason FROM quarantine ORDER BY id").fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(|(at, uid, reason)| (at, uid as u32, reason)).collect())
    }

    // ---- outbox ------------------------------------------------------------------------
}

/// A message and its history entry; false (nothing of it kept in a transaction that goes on)
/// if a mail with its dedupe key is recorded already.
async fn insert_recorded_message(
    tx: &mut Conn,
    organisation: &OrganisationKey,
    case_id: Option<CaseId>,
    message: &MessageRecord,
    attachments: &[AttachmentRecord],
) -> Result<bool> {
    match insert_messages(tx, organisation, &[(case_id, message, attachments)]).await {
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => return Ok(false),
        other => other?,
    };
    if let Some(case_id) = case_id {
        insert_event(tx, case_id, "klachtd", HistoryEvent::Message(message.kind), &message.note).await?;
    }
    Ok(true)
}

/// A new case to write with others (see [`Store::register_cases_on`]).
pub struct CaseToWrite<'a> {
    pub reference: CaseRef,
    pub case: &'a NewCase,
    pub message: &'a MessageRecord,
    pub attachments: &'a [AttachmentRecord],
    pub acknowledgement: Option<OutgoingMail>,
}

/// The handler a new case goes to (R5), and the handlers its complaint names.
struct Assignment {
    /// As their turn in the round-robin is after this case.
    handler: Option<Candidate>,
    /// Handlers the complaint names: none of them is chosen, and a supervisor checks the case.
    named: Vec<String>,
}

impl Assignment {
    /// Chooses the handler of a new case created `at` (R5): the preferred handler or
    /// round-robin, skipping any handler the complaint names; none if there is no handler to
    /// assign. The chosen handler's turn moves on in `candidates`, for the next case.
    fn choose(candidates: &mut [Candidate], case: &NewCase, at: i64) -> Assignment {
        use crate::domain::assignment::{named_in, pick};
        let text = format!("{}\n{}", case.subject, case.description);
        let named = named_in(&text, candidates.iter().map(|c| c.name.as_str()));
        let preferred = case.preferred_handler.as_ref().and_then(|p| candidates.iter().find(|c| c.name == *p && !named.contains(&c.name)));
        let id = preferred.or_else(|| pick(candidates, &named)).map(|c| c.id);
        // After everyone's turn so far, even within one second: of several cases written
        // together, the next goes to the next handler, not back to one with a lower id.
        let turn = candidates.iter().map(|c| c.last_assigned_at + 1).fold(at, i64::max);
        let handler = candidates.iter_mut().find(|c| Some(c.id) == id).map(|chosen| {
            chosen.last_assigned_at = turn;
            chosen.clone()
        });
        Assignment { handler, named }
    }
}

/// Deletes the quarantine record of the mail with `dedupe_key`, if any (see
/// [`Store::unquarantine_on`]).
pub(super) async fn drop_quarantine_record(tx: &mut Conn, dedupe_key: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM messages WHERE dedupe_key = $1 AND kind = 'quarantined' AND case_id IS NULL").bind(dedupe_key).execute(&mut *tx).await?;
    Ok(())
}

/// A message on `case_id`, as mail of the case's organisation (of `default` without a case).
pub(super) async fn insert_message(tx: &mut Conn, case_id: Option<CaseId>, m: &MessageRecord, attachments: &[AttachmentRecord]) -> Result<i64, sqlx::Error> {
    let organisation = match case_id {
        Some(id) => sqlx::query_scalar("SELECT organisation FROM cases WHERE id = $1").bind(id).fetch_optional(&mut *tx).await?,
        None => None,
    };
    let organisation = organisation.and_then(|o: String| OrganisationKey::parse(&o).ok()).unwrap_or_default();
    let ids = insert_messages(tx, &organisation, &[(case_id, m, attachments)]).await?;
    ids.first().copied().ok_or(sqlx::Error::RowNotFound)
}

/// Records messages with their attachments, `WRITE_CHUNK` a statement; their ids, in the order
/// given.
async fn insert_messages(
    tx: &mut Conn,
    organisation: &OrganisationKey,
    messages: &[(Option<CaseId>, &MessageRecord, &[AttachmentRecord])],
) -> Result<Vec<i64>, sqlx::Error> {
    let into = "messages (case_id, direction, kind, dedupe_key, message_id, from_address, subject, body, raw, note, received_at, raw_file, organisation)";
    let ids = insert_many(tx, into, 13, messages, |query, (case_id, m, _)| {
        query
            .bind(*case_id)
            .bind(m.direction)
            .bind(m.kind)
            .bind(m.dedupe_key.clone())
            .bind(m.message_id.clone())
            .bind(m.from_address.clone())
            .bind(&m.subject)
            .bind(&m.body)
            .bind(m.raw.as_deref())
            .bind(&m.note)
            .bind(m.received_at)
            .bind(m.raw_file.as_deref())
            .bind(organisation.as_str())
    })
    .await?;
    let attachments: Vec<_> = messages.iter().zip(&ids).flat_map(|((case_id, _, list), id)| list.iter().map(move |a| (*id, *case_id, a))).collect();
    let into = "attachments (message_id, case_id, filename, content_type, size, sha256, role)";
    insert_many(tx, into, 7, &attachments, |query, (id, case_id, a)| {
        query.bind(*id).bind(*case_id).bind(&a.filename).bind(&a.content_type).bind(a.size).bind(&a.sha256).bind(a.role)
    })
    .await?;
    Ok(ids)
}
