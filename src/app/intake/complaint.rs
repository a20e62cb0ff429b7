//! A new complaint registered: its case, first message and attachments, its handler, its
//! deadlines, and its acknowledgement (held back by the per-sender limit, or for mail from
//! before klachtd first met the mailbox).

use super::Mention;
use super::*;
use crate::domain::history::MessageKind;
use crate::domain::inbound::AttachmentRole;
use crate::domain::reference::CaseRef;

impl Intake {
    pub(super) async fn register(
        &self,
        db: &mut Conn,
        mail: &InboundMail,
        raw: &Raw<'_>,
        arrived: DateTime<Utc>,
        mentions: Option<Mention>,
    ) -> Result<Done, IntakeError> {
        let settings = self.settings.get();
        let complaint = self.complaint(&settings, mail, raw, arrived, mentions).await?;
        let recent = match &complaint.from {
            Some(f) if arrived >= self.acknowledge_since => self.store.auto_replies_since(db, &f.address, Utc::now().timestamp() - 86_400).await?,
            _ => 0,
        };
        let status = self.acknowledgement_status(&settings, &complaint, recent);
        let registration = self
            .store
            .register_case_in(db, &self.book, &complaint.case, &complaint.record, &complaint.attachments, |reference| {
                self.acknowledgement(&settings, &complaint, reference, status?)
            })
            .await?;
        Ok(match registration {
            Registration::Registered { reference, assigned, .. } => complaint.registered(reference, status, assigned),
            Registration::Duplicate => Done::duplicate_on_writing(),
        })
    }

    /// A new complaint as it is to be registered; its attachments are stored.
    pub(super) async fn complaint(
        &self,
        settings: &Settings,
        mail: &InboundMail,
        raw: &Raw<'_>,
        arrived: DateTime<Utc>,
        mentions: Option<Mention>,
    ) -> Result<Complaint, IntakeError> {
        let received_on = amsterdam_date(arrived);
        let procedure = settings.of(&self.book.organisation).procedure;
        let deadlines = procedure.deadlines(&settings.calendar, received_on);
        let attachments = self.save_attachments(mail).await?;
        let mut incomplete = Vec::new();
        if mail.text.trim().is_empty() && !attachments.iter().any(|a| a.role == AttachmentRole::Document && is_readable_document(&a.content_type)) {
            incomplete.push("description");
        }
        // The complainant of record, to whom the letters go: the person at `From`, or the
        // person a web form writes for (see `classify::correspondent`).
        let correspondent = correspondent(mail, &self.own_addresses);
        let from = correspondent.as_ref().map(|c| c.person.clone());
        let reply_to = correspondent.and_then(|c| c.reply_to);
        if from.as_ref().and_then(|f| f.name.as_ref()).is_none() {
            incomplete.push("name");
        }
        let case = NewCase {
            source: crate::store::CaseSource::Email,
            complainant_name: from.as_ref().and_then(|f| f.name.clone()),
            complainant_email: from.as_ref().map(|f| f.address.clone()),
            reply_to_name: reply_to.as_ref().and_then(|r| r.name.clone()),
            reply_to_email: reply_to.map(|r| r.address),
            postal_address: None,
            subject: mail.subject.clone(),
            description: mail.text.clone(),
            incomplete,
            received_on,
            received_at: arrived.timestamp(),
            acknowledge_by: deadlines.acknowledge_by,
            progress_by: deadlines.progress_by,
            respond_by: deadlines.respond_by,
            procedure,
            preferred_handler: settings.preferred_handler.clone(),
            forwarded: mail.forwarded.clone(),
        };
        Ok(Complaint {
            record: self.message_record(mail, raw, arrived, MessageKind::Complaint, ""),
            case,
            attachments,
            deadlines,
            from,
            arrived,
            in_reply_to: mail.message_id.clone(),
            references: mail.thread_ids.iter().cloned().chain(mail.message_id.clone()).collect(),
            mentions,
        })
    }

    /// What becomes of a complaint's acknowledgement, given how many automatic mails went to
    /// its sender in the last day (the loop guard): none without a sender, held for a handler
    /// when the mail is older than `acknowledge_since`, never sent over the limit.
    pub(super) fn acknowledgement_status(&self, settings: &Settings, complaint: &Complaint, recent: i64) -> Option<OutboxStatus> {
        complaint.from.as_ref()?;
        Some(match complaint.arrived {
            arrived if arrived < self.acknowledge_since => OutboxStatus::Held,
            _ if recent >= settings.sender_limit => OutboxStatus::Suppressed,
            _ => OutboxStatus::Pending,
        })
    }

    /// The acknowledgement of the complaint registered as `reference`; none if it cannot be
    /// written (the case is registered without one).
    pub(super) fn acknowledgement(&self, settings: &Settings, complaint: &Complaint, reference: &CaseRef, status: OutboxStatus) -> Option<OutgoingMail> {
        let from = complaint.from.as_ref()?;
        let own = settings.of(&self.book.organisation);
        let context = AcknowledgementContext {
            organisation: &own.context,
            case: CaseContext::new(
                reference,
                from.name.as_deref(),
                &complaint.deadlines,
                &complaint.case.procedure,
                &complaint.case.incomplete,
                own.letters.language(),
            ),
        };
        match own.letters.render("acknowledgement", &context) {
            Ok(letter) => Some(OutgoingMail {
                kind: MailKind::Acknowledgement,
                recipient: from.address.clone(),
                recipient_name: from.name.clone(),
                subject: letter.subject,
                body: letter.body,
                message_id: new_message_id(&format!("{reference}.ack"), &self.message_id_domain),
                in_reply_to: complaint.in_reply_to.clone(),
                references: complaint.references.clone(),
                status,
            }),
            Err(e) => {
                tracing::error!(error = %e, "acknowledgement could not be rendered; the case is registered without one");
                None
            }
        }
    }
}

/// A new complaint as it is to be registered: the case, its first message, and what its
/// acknowledgement answers.
pub(super) struct Complaint {
    pub(super) case: NewCase,
    pub(super) record: MessageRecord,
    pub(super) attachments: Vec<AttachmentRecord>,
    pub(super) deadlines: Deadlines,
    pub(super) from: Option<Person>,
    pub(super) arrived: DateTime<Utc>,
    /// The complaint's Message-ID, and its thread with it, which the acknowledgement answers.
    pub(super) in_reply_to: Option<String>,
    pub(super) references: Vec<String>,
    /// A case the text names without the mail being threaded into it (noted in the history).
    pub(super) mentions: Option<Mention>,
}

impl Complaint {
    /// The complaint registered as `reference`, and what is left to do once that has committed.
    pub(super) fn registered(self, reference: CaseRef, acknowledgement: Option<OutboxStatus>, assigned: bool) -> Done {
        Done {
            outcome: Outcome::Registered { reference: reference.clone() },
            later: Some(Later::Registered {
                reference,
                acknowledgement,
                assigned,
                incomplete: self.case.incomplete.len(),
                attachments: self.attachments.len(),
                mentions: self.mentions,
            }),
            undo: false,
        }
    }
}

/// Whether an attachment can stand in for a description (a letter as PDF or a document).
fn is_readable_document(content_type: &str) -> bool {
    content_type.starts_with("text/")
        || matches!(
            content_type,
            "application/pdf"
                | "application/msword"
                | "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
                | "application/vnd.oasis.opendocument.text"
                | "application/rtf"
        )
}
