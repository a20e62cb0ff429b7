//! What the intake writes: a new case with its first message and acknowledgement, a later
//! message threaded into its case, a quarantined mail; and the look-ups that decide which.

use sqlx::Connection as _;

use super::{
    begin_on, insert_event, insert_events, insert_outbox, now, register, AttachmentRecord, CaseLink, Conn, MessageRecord, NewCase, OutgoingMail, Registration,
    Result, Store,
};

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
        // Retention keeps only a hash of a Message-ID key (see `register::retained_dedupe_key`).
        let rows: Vec<(Option<String>, String, Option<i64>, String)> =
            sqlx::query_as("SELECT dedupe_key, kind, case_id, note FROM messages WHERE dedupe_key = $1 OR dedupe_key = $2")
                .bind(dedupe_key)
                .bind(register::retained_dedupe_key(dedupe_key))
                .fetch_all(&mut *conn)
                .await?;
        let quarantined = rows.iter().find(|(key, kind, case_id, _)| key.as_deref() == Some(dedupe_key) && kind == "quarantined" && case_id.is_none());
        Ok(match quarantined {
            Some((_, _, _, note)) => Seen::Quarantined(note.clone()),
            None if rows.is_empty() => Seen::New,
            None => Seen::Known,
        })
    }

    /// Whether a mail with this dedupe key was registered before.
    pub async fn is_known(&self, dedupe_key: &str) -> Result<bool> {
        // Retention keeps only a hash of a Message-ID key (see `register::retained_dedupe_key`).
        let id: Option<i64> = sqlx::query_scalar("SELECT id FROM messages WHERE dedupe_key = $1 OR dedupe_key = $2 LIMIT 1")
            .bind(dedupe_key)
            .bind(register::retained_dedupe_key(dedupe_key))
            .fetch_optional(&self.pool)
            .await?;
        Ok(id.is_some())
    }

    /// The case that a mail refers to: by a reference in its subject, else by a Message-ID in
    /// its In-Reply-To/References that belongs to a message of a case.
    pub async fn find_case_for(&self, conn: &mut Conn, references: &[String], thread_ids: &[String]) -> Result<Option<CaseLink>> {
        for reference in references {
            if let Some(link) = self.case_link_on(conn, reference).await? {
                return Ok(Some(link));
            }
        }
        for id in thread_ids {
            let link = sqlx::query_as(
                "SELECT c.id, c.reference, c.status FROM messages m JOIN cases c ON c.id = m.case_id
                 WHERE m.message_id = $1 ORDER BY m.id LIMIT 1",
            )
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
            if link.is_some() {
                return Ok(link);
            }
            let link = sqlx::query_as("SELECT c.id, c.reference, c.status FROM outbox o JOIN cases c ON c.id = o.case_id WHERE o.message_id = $1")
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?;
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
    pub async fn letter_returned(&self, tx: &mut Conn, case_id: i64, message_ids: &[String]) -> Result<Option<String>> {
        for id in message_ids {
            let row: Option<(i64, String)> = sqlx::query_as(
                "SELECT id, kind FROM outbox WHERE case_id = $1 AND message_id = $2 AND status = 'sent'
                 AND kind IN ('acknowledgement', 'progress', 'request-info', 'response')",
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
            insert_event(tx, case_id, "klachtd", "letter-returned", &kind).await?;
            return Ok(Some(kind));
        }
        Ok(None)
    }

    /// Number of automatic mails queued for `recipient` since `since` (the loop guard).
    pub async fn auto_replies_since(&self, conn: &mut Conn, recipient: &str, since: i64) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE recipient = $1 AND created_at >= $2 AND status <> 'suppressed'")
            .bind(recipient)
            .bind(since)
            .fetch_one(&mut *conn)
            .await?)
    }

    /// Registers a new case with its first message, attachments and acknowledgement, in one
    /// transaction. `compose` gets the new reference and returns the acknowledgement to queue.
    pub async fn register_case(
        &self,
        case: &NewCase,
        message: &MessageRecord,
        attachments: &[AttachmentRecord],
        compose: impl FnOnce(&str) -> Option<OutgoingMail>,
    ) -> Result<Registration> {
        self.register_case_on(&mut *self.connection().await?, case, message, attachments, compose).await
    }

    /// [`register_case`](Self::register_case) on `conn`. In a transaction already (the intake's
    /// savepoint for the mail) it opens none of its own: after `Duplicate` the caller rolls
    /// that back (what was written before the duplicate showed is in it).
    pub async fn register_case_on(
        &self,
        conn: &mut Conn,
        case: &NewCase,
        message: &MessageRecord,
        attachments: &[AttachmentRecord],
        compose: impl FnOnce(&str) -> Option<OutgoingMail>,
    ) -> Result<Registration> {
        if conn.is_in_transaction() {
            return self.insert_case(conn, case, message, attachments, compose).await;
        }
        let mut tx = begin_on(conn).await?;
        let registration = self.insert_case(&mut tx, case, message, attachments, compose).await?;
        match registration {
            Registration::Duplicate => tx.rollback().await?,
            Registration::Registered { .. } => tx.commit().await?,
        }
        Ok(registration)
    }

    async fn insert_case(
        &self,
        tx: &mut Conn,
        case: &NewCase,
        message: &MessageRecord,
        attachments: &[AttachmentRecord],
        compose: impl FnOnce(&str) -> Option<OutgoingMail>,
    ) -> Result<Registration> {
        let counter = format!("case-{}", chrono::Datelike::year(&case.received_on));
        let year = chrono::Datelike::year(&case.received_on);
        let number: i64 =
            sqlx::query_scalar("INSERT INTO counters (name, value) VALUES ($1, 1) ON CONFLICT (name) DO UPDATE SET value = counters.value + 1 RETURNING value")
                .bind(&counter)
                .fetch_one(&mut *tx)
                .await?;
        let reference = crate::domain::reference::CaseRef::new(&self.reference_prefix, year, number as u32).to_string();
        // The handler is chosen first, so the case goes in with it in one statement.
        let assignment = assignment_for(tx, case).await?;
        let created = now();
        let case_id: i64 = sqlx::query_scalar(
            "INSERT INTO cases (reference, status, source, complainant_name, complainant_email, reply_to_name, reply_to_email,
                                postal_address, subject, description, incomplete, received_on, received_at, acknowledge_by,
                                progress_by, respond_by, created_at, forwarded_sender, forwarded_date, handler_id, supervisor_check)
             VALUES ($1, 'open', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20) RETURNING id",
        )
        .bind(&reference)
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
        .bind(case.progress_by.to_string())
        .bind(case.respond_by.to_string())
        .bind(created)
        .bind(case.forwarded.as_ref().and_then(|f| f.sender()))
        .bind(case.forwarded.as_ref().and_then(|f| f.date.clone()))
        .bind(assignment.handler.as_ref().map(|h| h.id))
        .bind(assignment.named.join(", "))
        .fetch_one(&mut *tx)
        .await?;

        let inserted = insert_message(tx, Some(case_id), message, attachments).await;
        match inserted {
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => return Ok(Registration::Duplicate),
            other => other?,
        };
        // The history's entries go in together at the end, in this order.
        let mut events = vec![("registered", format!("source={}", case.source))];
        let assigned = assignment.record(tx, &mut events).await?;
        if let Some(mail) = compose(&reference) {
            insert_outbox(tx, Some(case_id), &mail).await?;
            events.push(("acknowledgement-queued", mail.status.to_string()));
        }
        insert_events(tx, case_id, "klachtd", &events).await?;
        Ok(Registration::Registered { case_id, reference, assigned })
    }

    /// Records a mail that is not a new complaint: a follow-up, or automated or own mail,
    /// attached to `case_id` when it refers to a case. Returns false if it was known already.
    pub async fn record_message(&self, case_id: Option<i64>, message: &MessageRecord, attachments: &[AttachmentRecord]) -> Result<bool> {
        self.record_message_on(&mut *self.connection().await?, case_id, message, attachments).await
    }

    /// [`record_message`](Self::record_message) on `conn`. In a transaction already (the
    /// intake's savepoint for the mail) it opens none of its own: after `false` the caller rolls
    /// that back.
    pub async fn record_message_on(&self, conn: &mut Conn, case_id: Option<i64>, message: &MessageRecord, attachments: &[AttachmentRecord]) -> Result<bool> {
        if conn.is_in_transaction() {
            return insert_recorded_message(conn, case_id, message, attachments).await;
        }
        let mut tx = begin_on(conn).await?;
        let fresh = insert_recorded_message(&mut tx, case_id, message, attachments).await?;
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
async fn insert_recorded_message(tx: &mut Conn, case_id: Option<i64>, message: &MessageRecord, attachments: &[AttachmentRecord]) -> Result<bool> {
    match insert_message(tx, case_id, message, attachments).await {
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => return Ok(false),
        other => other?,
    };
    if let Some(case_id) = case_id {
        insert_event(tx, case_id, "klachtd", &format!("message-{}", message.kind), &message.note).await?;
    }
    Ok(true)
}

/// The handler a new case goes to (R5), and the handlers its complaint names.
struct Assignment {
    handler: Option<crate::domain::assignment::Candidate>,
    /// Handlers the complaint names: none of them is chosen, and a supervisor checks the case.
    named: Vec<String>,
}

/// Chooses the handler of a new case (R5): the preferred handler or round-robin, skipping any
/// handler the complaint names; none if there is no handler to assign.
async fn assignment_for(tx: &mut Conn, case: &NewCase) -> Result<Assignment, sqlx::Error> {
    use crate::domain::assignment::{named_in, pick, Candidate};
    let rows: Vec<(i64, String, i64, i64)> =
        sqlx::query_as("SELECT id, name, supervisor, last_assigned_at FROM handlers WHERE active = 1").fetch_all(&mut *tx).await?;
    let candidates: Vec<Candidate> =
        rows.into_iter().map(|(id, name, supervisor, last_assigned_at)| Candidate { id, name, supervisor: supervisor != 0, last_assigned_at }).collect();
    let text = format!("{}\n{}", case.subject, case.description);
    let named = named_in(&text, candidates.iter().map(|c| c.name.as_str()));
    let preferred = case.preferred_handler.as_ref().and_then(|p| candidates.iter().find(|c| c.name == *p && !named.contains(&c.name)));
    let handler = preferred.or_else(|| pick(&candidates, &named)).cloned();
    Ok(Assignment { handler, named })
}

impl Assignment {
    /// Records the assignment of a case that went in with it: the handler's turn in the
    /// round-robin, and the history's entries (added to `events`). False if no handler was
    /// assigned.
    async fn record(&self, tx: &mut Conn, events: &mut Vec<(&'static str, String)>) -> Result<bool, sqlx::Error> {
        if !self.named.is_empty() {
            events.push(("supervisor-check", format!("the complaint names {}", self.named.join(", "))));
        }
        let Some(chosen) = &self.handler else {
            return Ok(false);
        };
        sqlx::query("UPDATE handlers SET last_assigned_at = $1 WHERE id = $2")
            .bind(now().max(chosen.last_assigned_at + 1))
            .bind(chosen.id)
            .execute(&mut *tx)
            .await?;
        events.push(("assigned", format!("{} (automatic)", chosen.name)));
        Ok(true)
    }
}

/// Deletes the quarantine record of the mail with `dedupe_key`, if any (see
/// [`Store::unquarantine_on`]).
pub(super) async fn drop_quarantine_record(tx: &mut Conn, dedupe_key: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM messages WHERE dedupe_key = $1 AND kind = 'quarantined' AND case_id IS NULL").bind(dedupe_key).execute(&mut *tx).await?;
    Ok(())
}

pub(super) async fn insert_message(tx: &mut Conn, case_id: Option<i64>, m: &MessageRecord, attachments: &[AttachmentRecord]) -> Result<i64, sqlx::Error> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO messages (case_id, direction, kind, dedupe_key, message_id, from_address, subject, body, raw, note, received_at, raw_file)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
    )
    .bind(case_id)
    .bind(m.direction)
    .bind(&m.kind)
    .bind(m.dedupe_key.clone())
    .bind(m.message_id.clone())
    .bind(m.from_address.clone())
    .bind(&m.subject)
    .bind(&m.body)
    .bind(m.raw.as_deref())
    .bind(&m.note)
    .bind(m.received_at)
    .bind(m.raw_file.as_deref())
    .fetch_one(&mut *tx)
    .await?;
    for a in attachments {
        sqlx::query("INSERT INTO attachments (message_id, case_id, filename, content_type, size, sha256, role) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(id)
            .bind(case_id)
            .bind(&a.filename)
            .bind(&a.content_type)
            .bind(a.size)
            .bind(&a.sha256)
            .bind(a.role)
            .execute(&mut *tx)
            .await?;
    }
    Ok(id)
}
