//! Handler actions (R2, R6-R8): each writes its letter from a template, threads it to the case,
//! records it in the history and, through the outbox, meets the matching deadline. A complainant
//! without an e-mail address (a complaint by post) gets the letter as a file to print.

use std::path::PathBuf;

use anyhow::Context as _;
use chrono::NaiveDate;

use crate::attachments::AttachmentStore;
use crate::config::Config;
use crate::domain::calendar::Deadlines;
use crate::domain::mail_actions::{self, MailCommand};
use crate::domain::procedure::{Outcome, Step};
use crate::domain::text::display_filename;
use crate::settings::SharedSettings;
use crate::smtp::new_message_id;
use crate::store::{AttachmentRecord, LetterCase, LetterEffect, MessageRecord, NewCase, OutgoingMail, Registration, Store};
use crate::templates::{case_context, long_date};

/// How a letter left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Queued for SMTP to this address.
    Mail(String),
    /// Written to this file, to be printed and posted.
    Print(PathBuf),
}

pub struct Actions {
    store: Store,
    settings: SharedSettings,
    attachments: AttachmentStore,
    letters_dir: PathBuf,
    domain: String,
    /// The HMAC key for actions by mail; `None` when that is off.
    mail_secret: Option<Vec<u8>>,
}

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
    pub fn new(config: &Config, store: Store, settings: SharedSettings) -> anyhow::Result<Self> {
        let mail_secret = match &config.actions_by_mail {
            Some(a) => Some(a.secret().resolve("actions_by_mail")?.into_bytes()),
            None => None,
        };
        Ok(Self {
            store,
            settings,
            attachments: AttachmentStore::new(&config.storage.data_dir),
            letters_dir: config.storage.data_dir.join("letters"),
            domain: config.organisation.complaints_address.rsplit('@').next().unwrap_or("klachtd.invalid").to_string(),
            mail_secret,
        })
    }

    /// Tells the responsible handler that a case is theirs. With actions by mail on, the
    /// subject carries the token that lets them act by replying.
    pub async fn notify_assignment(&self, reference: &str) -> anyhow::Result<()> {
        let case = self.store.letter_case(reference).await?;
        let (Some(name), Some(email)) = (case.handler_name.clone(), case.handler_email.clone()) else {
            return Ok(());
        };
        let settings = self.settings.get();
        let received = NaiveDate::parse_from_str(&case.received_on, "%Y-%m-%d").context("stored date of receipt")?;
        let deadlines = Deadlines::compute(&settings.calendar, received);
        let marker = self.mail_secret.as_ref().map(|secret| mail_actions::marker(&mail_actions::token(secret, reference, &email)));
        let context = serde_json::json!({
            "organisation": settings.organisation,
            "recipient": {"name": name},
            "case": case_context(reference, None, &deadlines, &[], settings.letters.language()),
            "marker": marker,
        });
        let letter = settings.letters.render("assigned", &context)?;
        let mail = self.notice(reference, "assigned", &name, &email, letter);
        self.store.queue_notice(case.id, &mail, &format!("assigned to {name}")).await?;
        Ok(())
    }

    /// The handler who sent a reply to a notification about `reference`, if the reply is
    /// authentic: the sender is an active handler and the subject carries the token for this
    /// case and this sender. A forged From alone never passes.
    pub async fn authenticate_reply(&self, reference: &str, from: &str, subject: &str) -> crate::store::Result<Option<String>> {
        let (Some(secret), Some(token)) = (&self.mail_secret, mail_actions::token_in(subject)) else {
            return Ok(None);
        };
        let Some(name) = self.store.handler_by_email(from).await? else {
            return Ok(None);
        };
        if !mail_actions::verify(secret, reference, from, token) {
            tracing::warn!(reference, "a reply carried an action token that does not verify; treated as ordinary mail");
            return Ok(None);
        }
        Ok(Some(name))
    }

    /// Carries out an authenticated handler's reply and confirms it to them by mail, done or
    /// refused (with the reason).
    pub async fn carry_out_reply(&self, reference: &str, name: &str, from: &str, body: &str) -> anyhow::Result<()> {
        let actor = format!("{name} (e-mail)");
        let (label, result) = match mail_actions::parse(body) {
            Err(reason) => ("actie".to_string(), Err(anyhow::anyhow!(reason))),
            Ok(MailCommand::Progress { expected_by, message }) => {
                ("voortgangsbericht".into(), self.progress(reference, expected_by, Some(message).filter(|m| !m.is_empty()), &actor).await.map(|_| ()))
            }
            Ok(MailCommand::RequestInformation { message }) => ("verzoek om informatie".into(), self.request_information(reference, message, None, &actor).await.map(|_| ())),
            Ok(MailCommand::Respond { outcome, findings, measures }) => ("eindreactie".into(), self.respond(reference, outcome, findings, measures, &actor).await.map(|_| ())),
            Ok(MailCommand::Note { text }) => ("notitie".into(), self.store.add_note(reference, &text, &actor).await.map_err(Into::into)),
        };
        let settings = self.settings.get();
        let context = serde_json::json!({
            "organisation": settings.organisation,
            "recipient": {"name": name},
            "case": {"reference": reference},
            "ok": result.is_ok(),
            "action": label,
            "reason": result.as_ref().err().map(|e| e.to_string()),
        });
        tracing::info!(reference, done = result.is_ok(), "handler action by mail");
        let letter = settings.letters.render("action-confirmation", &context)?;
        let case = self.store.letter_case(reference).await?;
        let mail = self.notice(reference, "confirmation", name, from, letter);
        self.store.queue_notice(case.id, &mail, "action by mail confirmed").await?;
        Ok(())
    }

    /// Tells the handler of a closed case that mail arrived on it (the case is not reopened).
    pub async fn notify_mail_on_closed_case(&self, reference: &str) -> anyhow::Result<()> {
        let case = self.store.letter_case(reference).await?;
        let (Some(name), Some(email)) = (case.handler_name.clone(), case.handler_email.clone()) else {
            tracing::warn!(reference, "mail on a closed case without a handler to tell");
            return Ok(());
        };
        let settings = self.settings.get();
        let context = serde_json::json!({"organisation": settings.organisation, "case": {"reference": reference}});
        let letter = settings.letters.render("closed-case-mail", &context)?;
        let mail = self.notice(reference, "notice", &name, &email, letter);
        self.store.queue_notice(case.id, &mail, "mail on a closed case").await?;
        Ok(())
    }

    fn notice(&self, reference: &str, kind: &str, name: &str, email: &str, letter: crate::templates::Letter) -> OutgoingMail {
        OutgoingMail {
            kind: kind.into(),
            recipient: email.to_string(),
            recipient_name: Some(name.to_string()),
            subject: letter.subject,
            body: letter.body,
            message_id: new_message_id(&format!("{reference}.{kind}"), &self.domain),
            in_reply_to: None,
            references: Vec::new(),
            status: "pending",
        }
    }

    pub async fn progress(&self, reference: &str, expected_by: NaiveDate, message: Option<String>, actor: &str) -> anyhow::Result<Delivery> {
        let case = self.store.letter_case(reference).await?;
        let extra = serde_json::json!({"message": message, "expected_by": long_date(expected_by, &self.language())});
        let to = case.complainant_email.clone();
        self.send(&case, Step::ProgressNotice, "progress", extra, to, LetterEffect::Progress { expected_by }, actor).await
    }

    pub async fn request_information(&self, reference: &str, message: String, to: Option<String>, actor: &str) -> anyhow::Result<Delivery> {
        anyhow::ensure!(!message.trim().is_empty(), "the request is empty; write what you need to know");
        let case = self.store.letter_case(reference).await?;
        let to = to.or_else(|| case.complainant_email.clone());
        let effect = LetterEffect::RequestInformation { to: to.clone().unwrap_or_else(|| "by post".into()) };
        self.send(&case, Step::RequestInformation, "request-info", serde_json::json!({"message": message}), to, effect, actor).await
    }

    pub async fn respond(&self, reference: &str, outcome: Outcome, findings: String, measures: String, actor: &str) -> anyhow::Result<Delivery> {
        anyhow::ensure!(!findings.trim().is_empty(), "the findings are empty; the response must state them (R8)");
        let case = self.store.letter_case(reference).await?;
        let extra = serde_json::json!({"outcome": outcome.as_str(), "findings": findings, "measures": measures});
        let to = case.complainant_email.clone();
        self.send(&case, Step::FinalResponse, "response", extra, to, LetterEffect::Response { outcome, findings, measures }, actor).await
    }

    fn language(&self) -> String {
        self.settings.get().letters.language().to_string()
    }

    #[allow(clippy::too_many_arguments)]
    async fn send(&self, case: &LetterCase, step: Step, letter: &str, extra: serde_json::Value, to: Option<String>, effect: LetterEffect, actor: &str) -> anyhow::Result<Delivery> {
        let settings = self.settings.get();
        let language = settings.letters.language();
        let received = NaiveDate::parse_from_str(&case.received_on, "%Y-%m-%d").context("stored date of receipt")?;
        let deadlines = Deadlines::compute(&settings.calendar, received);
        let mut context = serde_json::json!({
            "organisation": settings.organisation,
            "case": case_context(&case.reference, case.complainant_name.as_deref(), &deadlines, &[], language),
        });
        if let (Some(ctx), Some(extra)) = (context.as_object_mut(), extra.as_object()) {
            ctx.extend(extra.clone());
        }
        let rendered = settings.letters.render(letter, &context)?;
        let kind = match step {
            Step::ProgressNotice => "progress",
            Step::RequestInformation => "request-info",
            Step::FinalResponse => "response",
            Step::Reopen => unreachable!("reopening writes no letter"),
        };
        let (mail, delivery, printable) = match to {
            Some(address) => {
                let mail = OutgoingMail {
                    kind: kind.into(),
                    recipient: address.clone(),
                    recipient_name: case.complainant_name.clone().filter(|_| Some(&address) == case.complainant_email.as_ref()),
                    subject: rendered.subject,
                    body: rendered.body,
                    message_id: new_message_id(&format!("{}.{kind}", case.reference), &self.domain),
                    in_reply_to: case.last_inbound.clone(),
                    references: case.thread.clone(),
                    status: "pending",
                };
                (Some(mail), Delivery::Mail(address), None)
            }
            None => {
                let path = self.letters_dir.join(format!("{}-{kind}.txt", case.reference));
                (None, Delivery::Print(path), Some(format!("{}\n\n{}", rendered.subject, rendered.body)))
            }
        };
        if let Err(refused) = self.store.queue_letter(case, step, &effect, mail.as_ref(), actor).await? {
            anyhow::bail!(refused);
        }
        if let (Delivery::Print(path), Some(text)) = (&delivery, printable) {
            write_private(path, &text)?;
        }
        Ok(delivery)
    }

    /// Registers a complaint received by post, with its real date of receipt; deadlines count
    /// from that date. With an e-mail address the acknowledgement is mailed, otherwise written
    /// to a file for printing.
    pub async fn register_paper(&self, paper: PaperComplaint, actor: &str) -> anyhow::Result<(String, Delivery)> {
        anyhow::ensure!(!paper.name.trim().is_empty(), "a paper complaint needs the complainant's name");
        let settings = self.settings.get();
        let deadlines = Deadlines::compute(&settings.calendar, paper.received);
        let mut records = Vec::new();
        for path in &paper.attachments {
            let data = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            let sha256 = self.attachments.save(&data)?;
            let filename = display_filename(path.file_name().and_then(|n| n.to_str()));
            records.push(AttachmentRecord { filename, content_type: "application/octet-stream".into(), size: data.len() as i64, sha256 });
        }
        let mut incomplete = Vec::new();
        if paper.description.trim().is_empty() && records.is_empty() {
            incomplete.push("description");
        }
        let received_at = paper
            .received
            .and_hms_opt(12, 0, 0)
            .and_then(|t| t.and_local_timezone(chrono_tz::Europe::Amsterdam).earliest())
            .map_or(0, |t| t.timestamp());
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
        };
        let message = MessageRecord {
            direction: "in",
            kind: "letter".into(),
            dedupe_key: None,
            message_id: None,
            from_address: paper.email.clone(),
            subject: String::new(),
            body: paper.description.clone(),
            raw: None,
            note: format!("registered by {actor}"),
            received_at,
        };
        let language = settings.letters.language();
        let mut printed = None;
        let registration = self
            .store
            .register_case(&case, &message, &records, |reference| {
                let context = serde_json::json!({
                    "organisation": settings.organisation,
                    "case": case_context(reference, Some(paper.name.trim()), &deadlines, &incomplete, language),
                });
                let letter = settings.letters.render("acknowledgement", &context).ok()?;
                match &paper.email {
                    Some(address) => Some(OutgoingMail {
                        kind: "acknowledgement".into(),
                        recipient: address.clone(),
                        recipient_name: Some(paper.name.trim().to_string()),
                        subject: letter.subject,
                        body: letter.body,
                        message_id: new_message_id(&format!("{reference}.ack"), &self.domain),
                        in_reply_to: None,
                        references: Vec::new(),
                        status: "pending",
                    }),
                    None => {
                        printed = Some((reference.to_string(), format!("{}\n\n{}", letter.subject, letter.body)));
                        None
                    }
                }
            })
            .await?;
        let Registration::Registered { reference, .. } = registration else {
            anyhow::bail!("this complaint was registered before");
        };
        let delivery = match (printed, &paper.email) {
            (Some((_, text)), _) => {
                let path = self.letters_dir.join(format!("{reference}-acknowledgement.txt"));
                write_private(&path, &text)?;
                Delivery::Print(path)
            }
            (None, Some(address)) => Delivery::Mail(address.clone()),
            (None, None) => anyhow::bail!("the acknowledgement could not be rendered; check the templates"),
        };
        Ok((reference, delivery))
    }
}

/// Removes personal data of cases closed longer than the retention period (R9), files included.
pub async fn run_retention(store: &Store, attachments: &AttachmentStore, personal_data_days: u32) -> anyhow::Result<u64> {
    let cutoff = chrono::Utc::now().timestamp() - i64::from(personal_data_days) * 86_400;
    let (cases, orphaned) = store.remove_personal_data(cutoff).await?;
    for hash in &orphaned {
        attachments.remove(hash).with_context(|| format!("cannot remove attachment {hash}"))?;
    }
    if cases > 0 {
        tracing::info!(cases, files = orphaned.len(), "personal data removed after the retention period");
    }
    Ok(cases)
}

fn write_private(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    }
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path).with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(text.as_bytes())?;
    Ok(())
}
