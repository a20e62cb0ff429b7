//! A complaint received by post (R2): registered with its real date of receipt, its scanned
//! documents kept as attachments, and acknowledged by mail or, without an e-mail address, by a
//! letter written to a file to print.

use std::path::PathBuf;

use anyhow::Context as _;
use chrono::NaiveDate;

use super::{ActionError, Actions, Delivery};
use crate::app::retention::write_letter;
use crate::app::templates::{AcknowledgementContext, CaseContext};
use crate::domain::calendar::Deadlines;
use crate::domain::history::{Direction, MessageKind};
use crate::domain::inbound::AttachmentRole;
use crate::domain::organisation::OrganisationKey;
use crate::domain::reference::CaseRef;
use crate::domain::terms::Procedure;
use crate::domain::text::display_filename;
use crate::domain::vocabulary::MailKind;
use crate::store::{AttachmentRecord, Book, MessageRecord, NewCase, Registration};

/// A complaint that came by post (R2).
#[derive(Debug, Clone)]
pub struct PaperComplaint {
    pub name: String,
    pub email: Option<String>,
    pub postal_address: Option<String>,
    pub received: NaiveDate,
    pub description: String,
    pub attachments: Vec<PathBuf>,
    /// The organisation it was sent to (issue 25); `None`: the first of the configuration.
    pub organisation: Option<OrganisationKey>,
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
        // Its organisation's terms, letters and references (issue 25).
        let own = match &paper.organisation {
            None => settings.organisations().next().cloned(),
            Some(key) => settings.organisations().find(|o| &o.key == key).cloned(),
        };
        let Some(own) = own else {
            return Err(ActionError::refused("the configuration has no such organisation"));
        };
        let deadlines = own.procedure.deadlines(&settings.calendar, paper.received);
        let records = self.keep_scans(&paper.attachments)?;
        let (case, message) = paper_records(&paper, &deadlines, own.procedure, !records.is_empty(), settings.preferred_handler.clone(), actor);
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
            .register_case_of(&Book::new(own.key.clone(), &own.reference_prefix), &case, &message, &records, |reference| {
                let context = AcknowledgementContext {
                    organisation: &own.context,
                    case: CaseContext::new(reference, Some(paper.name.trim()), &deadlines, &case.procedure, &case.incomplete, own.letters.language()),
                };
                let letter = own.letters.render("acknowledgement", &context).ok()?;
                match &paper.email {
                    Some(address) => Some(self.first_mail(
                        own.message_id_domain(),
                        &format!("{reference}.ack"),
                        MailKind::Acknowledgement,
                        paper.name.trim(),
                        address,
                        letter,
                    )),
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
        let delivery = delivery(&reference, printed, paper.email)?;
        Ok((reference, delivery))
    }

    /// The scanned documents, kept by content hash, as the case's attachments.
    fn keep_scans(&self, paths: &[PathBuf]) -> Result<Vec<AttachmentRecord>, ActionError> {
        let mut records = Vec::new();
        for path in paths {
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
        Ok(records)
    }
}

/// The case and its first message, the letter as received: incomplete without a description
/// or a scan, received at noon of its day of receipt.
fn paper_records(
    paper: &PaperComplaint,
    deadlines: &Deadlines,
    procedure: Procedure,
    scans: bool,
    preferred_handler: Option<String>,
    actor: &str,
) -> (NewCase, MessageRecord) {
    let mut incomplete = Vec::new();
    if paper.description.trim().is_empty() && !scans {
        incomplete.push("description");
    }
    let received_at =
        paper.received.and_hms_opt(12, 0, 0).and_then(|t| t.and_local_timezone(chrono_tz::Europe::Amsterdam).earliest()).map_or(0, |t| t.timestamp());
    let case = NewCase {
        source: crate::store::CaseSource::Post,
        complainant_name: Some(paper.name.trim().to_string()),
        complainant_email: paper.email.clone(),
        reply_to_name: None,
        reply_to_email: None,
        postal_address: paper.postal_address.clone(),
        subject: "Klacht per post".into(),
        description: paper.description.clone(),
        incomplete,
        received_on: paper.received,
        received_at,
        acknowledge_by: deadlines.acknowledge_by,
        progress_by: deadlines.progress_by,
        respond_by: deadlines.respond_by,
        procedure,
        preferred_handler,
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
    (case, message)
}

/// How the acknowledgement of a registered case goes out: printed, or mailed.
fn delivery(reference: &CaseRef, printed: Option<anyhow::Result<PathBuf>>, email: Option<String>) -> Result<Delivery, ActionError> {
    match (printed, email) {
        (Some(Ok(path)), _) => Ok(Delivery::Print(path)),
        // Registered: trying again would register it twice, so this is no passing failure.
        (Some(Err(e)), _) => Err(ActionError::failed(e.context(format!("{reference} is registered, but its acknowledgement letter could not be written")))),
        (None, Some(address)) => Ok(Delivery::Mail(address)),
        (None, None) => Err(ActionError::failed(anyhow::anyhow!("the acknowledgement could not be rendered; check the templates"))),
    }
}
