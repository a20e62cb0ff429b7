//! A complaint received by post (R2): registered with its real date of receipt, its scanned
//! documents kept as attachments, and acknowledged by mail or, without an e-mail address, by a
//! letter written to a file to print.

use std::path::PathBuf;

use anyhow::Context as _;
use chrono::NaiveDate;

use super::{ActionError, Actions, Delivery};
use crate::app::new_message_id;
use crate::app::retention::write_letter;
use crate::app::templates::{AcknowledgementContext, CaseContext};
use crate::domain::calendar::Deadlines;
use crate::domain::history::{Direction, MessageKind};
use crate::domain::inbound::AttachmentRole;
use crate::domain::reference::CaseRef;
use crate::domain::text::display_filename;
use crate::domain::vocabulary::{MailKind, OutboxStatus};
use crate::store::{AttachmentRecord, MessageRecord, NewCase, OutgoingMail, Registration};

/// A complaint that came by post (R2).
#[derive(Debug, Clone)]
pub struct PaperComplaint {
    pub name: String,
    pub email: Option<String>,
    pub postal_address: Option<String>,
    pub received: NaiveDate,
    pub description: String,
    pub attachments: Vec<PathBuf>,
}

impl Actions {
    /// Registers a complaint received by post, with its real date of receipt; deadlines count
    /// from that date. With an e-mail address the acknowledgement is mailed, otherwise written
    /// to a file for printing.
    pub async fn register_paper(&self, paper: PaperComplaint, actor: &str) -> Result<(CaseRef, Delivery), ActionError> {
        if paper.name.trim().is_empty() {
            return Err(ActionError::refused("a paper complaint needs the complainant's name"));
        }
        let settings = self.settings.get();
        let deadlines = Deadlines::compute(&settings.calendar, paper.received);
        let mut records = Vec::new();
        for path in &paper.attachments {
            let data = std::fs::read(path).with_context(|| format!("cannot read {}", path.display())).map_err(ActionError::disk)?;
            let sha256 = self.attachments.save(&data).map_err(ActionError::disk)?;
            let filename = display_filename(path.file_name().and_then(|n| n.to_str()));
            records.push(AttachmentRecord {
                filename,
                content_type: "application/octet-stream".into(),
                size: data.len() as i64,
                sha256,
                role: AttachmentRole::Document,
            });
        }
        let mut incomplete = Vec::new();
        if paper.description.trim().is_empty() && records.is_empty() {
            incomplete.push("description");
        }
        let received_at =
            paper.received.and_hms_opt(12, 0, 0).and_then(|t| t.and_local_timezone(chrono_tz::Europe::Amsterdam).earliest()).map_or(0, |t| t.timestamp());
        let case = NewCase {
            source: "post",
            complainant_name: Some(paper.name.trim().to_string()),
            complainant_email: paper.email.clone(),
            reply_to_name: None,
            reply_to_email: None,
            postal_address: paper.postal_address.clone(),
            subject: "Klacht per post".into(),
            description: paper.description.clone(),
            incomplete: incomplete.clone(),
            received_on: paper.received,
            received_at,
            acknowledge_by: deadlines.acknowledge_by,
            progress_by: deadlines.progress_by,
            respond_by: deadlines.respond_by,
            preferred_handler: settings.preferred_handler.clone(),
            forwarded: None,
        };
        let message = MessageRecord {
            direction: Direction::In,
            kind: MessageKind::Letter,
            dedupe_key: None,
            message_id: None,
            from_address: paper.email.clone(),
            subject: String::new(),
            body: paper.description.clone(),
            raw: None,
            raw_file: None,
            note: format!("registered by {actor}"),
            received_at,
        };
        let language = settings.letters.language();
        // Without an e-mail address the acknowledgement is a letter on disk, written while the
        // registration's transaction is open (and removed if it does not commit).
        if paper.email.is_none() {
            crate::store::private_files::create_dir(&self.letters_dir)
                .with_context(|| format!("cannot create {}", self.letters_dir.display()))
                .map_err(ActionError::disk)?;
        }
        let mut printed: Option<anyhow::Result<PathBuf>> = None;
        let registration = self
            .store
            .register_case(&case, &message, &records, |reference| {
                let context = AcknowledgementContext {
                    organisation: &settings.organisation,
                    case: CaseContext::new(reference, Some(paper.name.trim()), &deadlines, &incomplete, language),
                };
                let letter = settings.letters.render("acknowledgement", &context).ok()?;
                match &paper.email {
                    Some(address) => Some(OutgoingMail {
                        kind: MailKind::Acknowledgement,
                        recipient: address.clone(),
                        recipient_name: Some(paper.name.trim().to_string()),
                        subject: letter.subject,
                        body: letter.body,
                        message_id: new_message_id(&format!("{reference}.ack"), &self.domain),
                        in_reply_to: None,
                        references: Vec::new(),
                        status: OutboxStatus::Pending,
                    }),
                    None => {
                        let text = format!("{}\n\n{}", letter.subject, letter.body);
                        printed = Some(write_letter(&self.letters_dir, &format!("{reference}-acknowledgement"), &text));
                        None
                    }
                }
            })
            .await;
        let reference = match registration {
            Ok(Registration::Registered { reference, .. }) => reference,
            other => {
                // Not committed: the letter must not stay behind.
                if let Some(Ok(path)) = &printed {
                    let _ = std::fs::remove_file(path);
                }
                other?;
                return Err(ActionError::refused("this complaint was registered before"));
            }
        };
        let delivery = match (printed, &paper.email) {
            (Some(Ok(path)), _) => Delivery::Print(path),
            // Registered: trying again would register it twice, so this is no passing failure.
            (Some(Err(e)), _) => {
                return Err(ActionError::failed(e.context(format!("{reference} is registered, but its acknowledgement letter could not be written"))))
            }
            (None, Some(address)) => Delivery::Mail(address.clone()),
            (None, None) => return Err(ActionError::failed(anyhow::anyhow!("the acknowledgement could not be rendered; check the templates"))),
        };
        Ok((reference, delivery))
    }
}
