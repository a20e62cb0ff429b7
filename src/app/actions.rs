//! Handler actions (R2, R6-R8): each writes its letter from a template, threads it to the case,
//! records it in the history and, through the outbox, meets the matching deadline. A complainant
//! without an e-mail address (a complaint by post) gets the letter as a file to print.

use std::path::PathBuf;

use anyhow::Context as _;
use chrono::NaiveDate;

use crate::app::templates::{case_context, long_date};
use crate::config::settings::SharedSettings;
use crate::config::Config;
use crate::domain::calendar::Deadlines;
use crate::domain::mail_actions::{self, MailCommand};
use crate::domain::procedure::{Outcome, Step};
use crate::domain::text::display_filename;
use crate::io::attachments::AttachmentStore;
use crate::io::smtp::new_message_id;
use crate::store::{AttachmentRecord, LetterCase, LetterEffect, MailOrigin, MessageRecord, NewCase, OutboxItem, OutgoingMail, Registration, Store, StoreError};

/// How a letter left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Queued for SMTP to this address.
    Mail(String),
    /// Written to this file, to be printed and posted.
    Print(PathBuf),
}

/// An action by mail that could not be carried out for a passing reason (the database or the
/// disk): nothing was recorded, and the mail is to be tried again.
#[derive(Debug, thiserror::Error)]
pub enum Transient {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0:#}")]
    Other(anyhow::Error),
}

/// What became of an action by mail that was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyDone {
    /// Carried out, or refused with the reason; either way confirmed to the handler.
    Recorded,
    /// This mail was recorded before (an earlier attempt committed): nothing was done now.
    AlreadyRecorded,
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
            letters_dir: letters_dir(&config.storage.data_dir),
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
            "web_url": settings.web_url,
        });
        let letter = settings.letters.render("assigned", &context)?;
        let mail = self.notice(reference, "assigned", &name, &email, letter);
        self.store.queue_notice(case.id, &mail, &format!("assigned to {name}")).await?;
        Ok(())
    }

    /// Whether a reply with this subject may be an action by mail (they are on, and the subject
    /// carries a token); [`authenticate_reply`](Self::authenticate_reply) decides.
    pub fn may_be_action(&self, subject: &str) -> bool {
        self.mail_secret.is_some() && mail_actions::token_in(subject).is_some()
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
        // A token stays valid for its case and handler; acting also needs the sender to handle
        // the case now (or to be a supervisor), so a reassignment takes the right away.
        if !self.store.may_act_on(reference, from).await? {
            tracing::warn!(reference, "a reply carried the token of a handler who no longer handles the case; treated as ordinary mail");
            return Ok(None);
        }
        Ok(Some(name))
    }

    /// Carries out an authenticated handler's reply and confirms it to them by mail, done or
    /// refused (with the reason). `message` is the reply as it is to be recorded on the case,
    /// `token` the token its subject carried.
    ///
    /// The record of the mail, the action (its letter, its effect on the case, its history) and
    /// the confirmation are one transaction. So either all of it is committed, and a second
    /// attempt with the same mail finds it recorded and does nothing (`AlreadyRecorded`: no
    /// second letter), or none of it is, and a database or disk error comes back as
    /// [`Transient`] for the caller to try the mail again. A refusal (a bad first line, the
    /// procedure says no, the text carries a token) is recorded and confirmed the same way.
    #[allow(clippy::too_many_arguments)]
    pub async fn carry_out_reply(
        &self,
        case_id: i64,
        reference: &str,
        name: &str,
        from: &str,
        token: &str,
        message: MessageRecord,
        body: &str,
    ) -> Result<ReplyDone, Transient> {
        let actor = format!("{name} (e-mail)");
        let command = mail_actions::parse(body).and_then(|command| match command.letter_text() {
            // The last guard: whatever slipped past the quote detection, the token that lets
            // its holder act on the case never goes out in a letter.
            Some(text) if mail_actions::carries_token(&text, token) => Err(
                "the letter text contains the action token from the subject (probably quoted text of the assignment notice); nothing was sent. Put your text above the quoted mail, or remove the quote, and reply again"
                    .to_string(),
            ),
            _ => Ok(command),
        });
        let label = match &command {
            Err(_) => "actie",
            Ok(MailCommand::Progress { .. }) => "voortgangsbericht",
            Ok(MailCommand::RequestInformation { .. }) => "verzoek om informatie",
            Ok(MailCommand::Respond { .. }) => "eindreactie",
            Ok(MailCommand::Note { .. }) => "notitie",
        };
        // The confirmation repeats the text that went out, so the handler sees where their reply
        // was cut.
        let letter = command.as_ref().ok().and_then(MailCommand::letter_text);
        let origin = |ok: bool, reason: Option<String>| MailOrigin {
            message: message.clone(),
            confirmation: self.confirmation(reference, name, from, label, ok, reason, letter.as_deref().filter(|_| ok)),
        };
        let result: anyhow::Result<Option<()>> = match command {
            Err(reason) => Err(anyhow::anyhow!(reason)),
            Ok(command) => {
                let done = origin(true, None);
                match command {
                    MailCommand::Progress { expected_by, message } => {
                        self.progress_from(reference, expected_by, Some(message).filter(|m| !m.is_empty()), &actor, Some(&done)).await.map(|d| d.map(|_| ()))
                    }
                    MailCommand::RequestInformation { message } => {
                        self.request_information_from(reference, message, None, &actor, Some(&done)).await.map(|d| d.map(|_| ()))
                    }
                    MailCommand::Respond { outcome, findings, measures } => {
                        self.respond_from(reference, outcome, findings, measures, &actor, Some(&done)).await.map(|d| d.map(|_| ()))
                    }
                    MailCommand::Note { text } => {
                        self.store.add_note_by_mail(reference, &text, &actor, &done).await.map(|fresh| fresh.then_some(())).map_err(Into::into)
                    }
                }
            }
        };
        match result {
            Ok(Some(())) => {
                tracing::info!(reference, done = true, "handler action by mail");
                Ok(ReplyDone::Recorded)
            }
            Ok(None) => Ok(ReplyDone::AlreadyRecorded),
            Err(e) => {
                let reason = match transient(e) {
                    Ok(transient) => return Err(transient),
                    Err(refusal) => refusal.to_string(),
                };
                tracing::info!(reference, done = false, "handler action by mail refused");
                match self.store.record_action_mail(case_id, &origin(false, Some(reason))).await? {
                    true => Ok(ReplyDone::Recorded),
                    false => Ok(ReplyDone::AlreadyRecorded),
                }
            }
        }
    }

    /// The confirmation of an action by mail, done or refused; `None` (logged) if the template
    /// cannot be rendered, which must not stop the action itself.
    #[allow(clippy::too_many_arguments)]
    fn confirmation(
        &self,
        reference: &str,
        name: &str,
        from: &str,
        label: &str,
        ok: bool,
        reason: Option<String>,
        letter: Option<&str>,
    ) -> Option<OutgoingMail> {
        let settings = self.settings.get();
        let context = serde_json::json!({
            "organisation": settings.organisation,
            "recipient": {"name": name},
            "case": {"reference": reference},
            "ok": ok,
            "action": label,
            "reason": reason,
            "letter": letter,
        });
        match settings.letters.render("action-confirmation", &context) {
            Ok(letter) => Some(self.notice(reference, "confirmation", name, from, letter)),
            Err(e) => {
                tracing::error!(reference, error = %e, "the confirmation of an action by mail cannot be rendered");
                None
            }
        }
    }
    /// Tells the handler of a closed case that mail arrived on it (the case is not reopened).
    pub async fn notify_mail_on_closed_case(&self, reference: &str) -> anyhow::Result<()> {
        self.notify_handler(reference, "closed-case-mail", "mail on a closed case").await
    }

    /// Tells the case's handler that one of our letters came back undelivered.
    pub async fn notify_delivery_failure(&self, reference: &str) -> anyhow::Result<()> {
        self.notify_handler(reference, "delivery-failed", "a letter was not delivered").await
    }

    /// Ends the attempts at a mail the SMTP server refused for good. A letter of a case to the
    /// complainant or another party is the handler's concern: they are told, in the same
    /// transaction. A notice to a handler that cannot be delivered starts nothing (no loop).
    pub async fn mail_undeliverable(&self, item: &OutboxItem, error: &str) -> anyhow::Result<()> {
        let notice = match item.case_id {
            Some(case_id) if crate::io::smtp::is_letter_to_a_party(&item.mail.kind) => {
                let reference = self.store.case_reference(case_id).await?;
                self.handler_notice(&reference, "delivery-failed", serde_json::json!({"refused": true})).await?.map(|(_, mail)| mail)
            }
            _ => None,
        };
        self.store.outbox_undeliverable(item, error, notice.as_ref()).await?;
        Ok(())
    }

    /// Queues the notice `letter` (a template that needs only the case's reference) to the
    /// case's handler; `why` goes into the history.
    async fn notify_handler(&self, reference: &str, letter: &str, why: &str) -> anyhow::Result<()> {
        if let Some((case_id, mail)) = self.handler_notice(reference, letter, serde_json::json!({})).await? {
            self.store.queue_notice(case_id, &mail, why).await?;
        }
        Ok(())
    }

    /// The notice `letter` to the case's handler, with the case's row id; `None` (logged) when
    /// it has no handler. `extra` adds to the template's context.
    async fn handler_notice(&self, reference: &str, letter: &str, extra: serde_json::Value) -> anyhow::Result<Option<(i64, OutgoingMail)>> {
        let case = self.store.letter_case(reference).await?;
        let (Some(name), Some(email)) = (case.handler_name.clone(), case.handler_email.clone()) else {
            tracing::warn!(reference, letter, "no handler to tell");
            return Ok(None);
        };
        let settings = self.settings.get();
        let mut context = serde_json::json!({"organisation": settings.organisation, "case": {"reference": reference}, "web_url": settings.web_url});
        if let (Some(context), serde_json::Value::Object(extra)) = (context.as_object_mut(), extra) {
            context.extend(extra);
        }
        let letter = settings.letters.render(letter, &context)?;
        Ok(Some((case.id, self.notice(reference, "notice", &name, &email, letter))))
    }

    fn notice(&self, reference: &str, kind: &str, name: &str, email: &str, letter: crate::app::templates::Letter) -> OutgoingMail {
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
        once(self.progress_from(reference, expected_by, message, actor, None).await)
    }

    pub async fn request_information(&self, reference: &str, message: String, to: Option<String>, actor: &str) -> anyhow::Result<Delivery> {
        once(self.request_information_from(reference, message, to, actor, None).await)
    }

    pub async fn respond(&self, reference: &str, outcome: Outcome, findings: String, measures: String, actor: &str) -> anyhow::Result<Delivery> {
        once(self.respond_from(reference, outcome, findings, measures, actor, None).await)
    }

    async fn progress_from(
        &self,
        reference: &str,
        expected_by: NaiveDate,
        message: Option<String>,
        actor: &str,
        origin: Option<&MailOrigin>,
    ) -> anyhow::Result<Option<Delivery>> {
        let case = self.store.letter_case(reference).await?;
        let extra = serde_json::json!({"message": message, "expected_by": long_date(expected_by, &self.language())});
        let to = case.complainant_email.clone();
        self.send(&case, Step::ProgressNotice, "progress", extra, to, LetterEffect::Progress { expected_by }, actor, origin).await
    }

    async fn request_information_from(
        &self,
        reference: &str,
        message: String,
        to: Option<String>,
        actor: &str,
        origin: Option<&MailOrigin>,
    ) -> anyhow::Result<Option<Delivery>> {
        anyhow::ensure!(!message.trim().is_empty(), "the request is empty; write what you need to know");
        let to = to.map(|a| a.trim().to_string());
        if let Some(address) = &to {
            if let Err(e) = address.parse::<lettre::Address>() {
                anyhow::bail!("{address:?} is not a valid e-mail address ({e}); nothing was sent");
            }
        }
        let case = self.store.letter_case(reference).await?;
        let to = to.or_else(|| case.complainant_email.clone());
        let effect = LetterEffect::RequestInformation { to: to.clone().unwrap_or_else(|| "by post".into()) };
        self.send(&case, Step::RequestInformation, "request-info", serde_json::json!({"message": message}), to, effect, actor, origin).await
    }

    async fn respond_from(
        &self,
        reference: &str,
        outcome: Outcome,
        findings: String,
        measures: String,
        actor: &str,
        origin: Option<&MailOrigin>,
    ) -> anyhow::Result<Option<Delivery>> {
        anyhow::ensure!(!findings.trim().is_empty(), "the findings are empty; the response must state them (R8)");
        let case = self.store.letter_case(reference).await?;
        let extra = serde_json::json!({"outcome": outcome.as_str(), "findings": findings, "measures": measures});
        let to = case.complainant_email.clone();
        self.send(&case, Step::FinalResponse, "response", extra, to, LetterEffect::Response { outcome, findings, measures }, actor, origin).await
    }

    fn language(&self) -> String {
        self.settings.get().letters.language().to_string()
    }

    #[allow(clippy::too_many_arguments)]
    /// Writes, threads and queues a letter (or writes it to print) and records its effect.
    /// `None`: `origin`, the mail that asked for it, was recorded before, so nothing was done.
    async fn send(
        &self,
        case: &LetterCase,
        step: Step,
        letter: &str,
        extra: serde_json::Value,
        to: Option<String>,
        effect: LetterEffect,
        actor: &str,
        origin: Option<&MailOrigin>,
    ) -> anyhow::Result<Option<Delivery>> {
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
        // Whatever the way in (a message file, a reply by mail, a template), an action token
        // never goes out in a letter: it lets its holder act on the case.
        anyhow::ensure!(
            !mail_actions::carries_token(&format!("{}\n{}", rendered.subject, rendered.body), ""),
            "the letter contains an action token ({{actie:...}}); nothing was sent. Remove it from the text"
        );
        let kind = match step {
            Step::ProgressNotice => "progress",
            Step::RequestInformation => "request-info",
            Step::FinalResponse => "response",
            Step::Reopen => unreachable!("reopening writes no letter"),
        };
        let (mail, delivery) = match to {
            Some(address) => {
                // Threaded to the complainant's own mails and our letters to them; a letter to
                // someone else only to our earlier letters to that address.
                let to_complainant = [&case.complainant_email].into_iter().flatten().any(|c| c.eq_ignore_ascii_case(address.trim()));
                let (in_reply_to, references) =
                    if to_complainant { (case.last_inbound.clone(), case.thread.clone()) } else { self.store.thread_with(case.id, &address, false).await? };
                let mail = OutgoingMail {
                    kind: kind.into(),
                    recipient: address.clone(),
                    recipient_name: case.complainant_name.clone().filter(|_| Some(&address) == case.complainant_email.as_ref()),
                    subject: rendered.subject,
                    body: rendered.body,
                    message_id: new_message_id(&format!("{}.{kind}", case.reference), &self.domain),
                    in_reply_to,
                    references,
                    status: "pending",
                };
                (Some(mail), Delivery::Mail(address))
            }
            None => {
                // The letter is on disk before the action is committed, so a failed write
                // changes nothing and can be retried; if the commit fails or is refused, the
                // file goes again. A later letter of the same kind gets its own file.
                let text = format!("{}\n\n{}", rendered.subject, rendered.body);
                let path = write_letter(&self.letters_dir, &format!("{}-{kind}", case.reference), &text)?;
                (None, Delivery::Print(path))
            }
        };
        let queued = self.store.queue_letter(case, step, &effect, mail.as_ref(), actor, origin).await;
        if !matches!(queued, Ok(Ok(true))) {
            if let Delivery::Print(path) = &delivery {
                let _ = std::fs::remove_file(path);
            }
        }
        match queued? {
            Err(refused) => anyhow::bail!(refused),
            Ok(true) => Ok(Some(delivery)),
            Ok(false) => Ok(None),
        }
    }

    /// Sends the acknowledgement of a case that did not go out: one that was held or
    /// suppressed is released; where none was ever written (the template failed, say) but the
    /// case has an e-mail address, one is written and queued now. `actor` goes into the
    /// history. Refused, changing nothing, once an acknowledgement was sent or recorded, while
    /// one is queued, or when there is no address (then: post it and use `cases acknowledged`).
    pub async fn release_acknowledgement(&self, reference: &str, actor: &str) -> anyhow::Result<String> {
        let released = self.store.release_held(reference, actor).await?;
        if released > 0 {
            return Ok(format!("{released} acknowledgement(s) released"));
        }
        let case = self.store.case_detail(reference).await?.summary;
        if let Some(at) = case.acknowledged_at {
            let day =
                chrono::DateTime::from_timestamp(at, 0).map(crate::domain::calendar::amsterdam_date).map_or("date unknown".to_string(), |d| d.to_string());
            anyhow::bail!("{reference} already has its acknowledgement ({day}); nothing to release");
        }
        match case.acknowledgement.as_str() {
            "none" => {}
            "pending" => anyhow::bail!("{reference}: its acknowledgement is queued already and goes out with the next delivery"),
            other => anyhow::bail!("{reference}: its acknowledgement is {other}; nothing to release"),
        }
        let Some(address) = case.complainant_email.clone() else {
            anyhow::bail!("{reference} has no e-mail address to acknowledge to; send the acknowledgement by post and record it with `klachtd cases acknowledged {reference} --date DATE`");
        };
        let date = |d: &str| NaiveDate::parse_from_str(d, "%Y-%m-%d").with_context(|| format!("stored date {d:?}"));
        // The dates the case was registered with, never recomputed.
        let deadlines = Deadlines {
            received: date(&case.received_on)?,
            acknowledge_by: date(&case.acknowledge_by)?,
            progress_by: date(&case.progress_by)?,
            respond_by: date(&case.respond_by)?,
        };
        let settings = self.settings.get();
        let incomplete: Vec<&str> = case.incomplete.iter().map(String::as_str).collect();
        let context = serde_json::json!({
            "organisation": settings.organisation,
            "case": case_context(reference, case.complainant_name.as_deref(), &deadlines, &incomplete, settings.letters.language()),
        });
        let letter = settings.letters.render("acknowledgement", &context)?;
        let thread = self.store.letter_case(reference).await?;
        let mail = OutgoingMail {
            kind: "acknowledgement".into(),
            recipient: address.clone(),
            recipient_name: case.complainant_name.clone(),
            subject: letter.subject,
            body: letter.body,
            message_id: new_message_id(&format!("{reference}.ack"), &self.domain),
            in_reply_to: thread.last_inbound,
            references: thread.thread,
            status: "pending",
        };
        self.store.queue_acknowledgement(reference, &mail, actor).await?;
        Ok(format!("acknowledgement written and queued for {address}"))
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
            records.push(AttachmentRecord { filename, content_type: "application/octet-stream".into(), size: data.len() as i64, sha256, role: "document" });
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
            direction: "in",
            kind: "letter".into(),
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
            crate::io::private_files::create_dir(&self.letters_dir).with_context(|| format!("cannot create {}", self.letters_dir.display()))?;
        }
        let mut printed: Option<anyhow::Result<PathBuf>> = None;
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
                anyhow::bail!("this complaint was registered before");
            }
        };
        let delivery = match (printed, &paper.email) {
            (Some(Ok(path)), _) => Delivery::Print(path),
            (Some(Err(e)), _) => anyhow::bail!("{reference} is registered, but its acknowledgement letter could not be written: {e:#}"),
            (None, Some(address)) => Delivery::Mail(address.clone()),
            (None, None) => anyhow::bail!("the acknowledgement could not be rendered; check the templates"),
        };
        Ok((reference, delivery))
    }
}

/// A letter from the command line always has no origin mail, so it is always done (or refused).
fn once(sent: anyhow::Result<Option<Delivery>>) -> anyhow::Result<Delivery> {
    sent?.context("the letter was recorded before")
}

/// Splits an action's failure into a passing one (the database or the disk: try the mail
/// again, tell the handler nothing) and a refusal to confirm with its reason.
fn transient(e: anyhow::Error) -> Result<Transient, anyhow::Error> {
    if matches!(e.downcast_ref::<StoreError>(), Some(StoreError::Db(_))) {
        return Ok(match e.downcast::<StoreError>() {
            Ok(store) => Transient::Store(store),
            Err(e) => Transient::Other(e),
        });
    }
    if e.downcast_ref::<sqlx::Error>().is_some() || e.downcast_ref::<std::io::Error>().is_some() {
        return Ok(Transient::Other(e));
    }
    Err(e)
}

/// Removes personal data of cases closed longer than the retention period (R9), files included:
/// attachments no case refers to any more, and the printed letters of every anonymised case.
pub async fn run_retention(store: &Store, data_dir: &std::path::Path, personal_data_days: u32) -> anyhow::Result<u64> {
    let attachments = AttachmentStore::new(data_dir);
    let cutoff = chrono::Utc::now().timestamp() - i64::from(personal_data_days) * 86_400;
    let (cases, orphaned) = store.remove_personal_data(cutoff).await?;
    for hash in &orphaned {
        attachments.remove(hash).with_context(|| format!("cannot remove attachment {hash}"))?;
    }
    // Every run sweeps the letters of all anonymised cases, so a file that could not be removed
    // once goes the next time.
    let letters = remove_letters(store, &letters_dir(data_dir)).await?;
    if cases > 0 || letters > 0 {
        tracing::info!(cases, files = orphaned.len(), letters, "personal data removed after the retention period");
    }
    Ok(cases)
}

/// Where letters to print are written: `data_dir/letters`.
fn letters_dir(data_dir: &std::path::Path) -> PathBuf {
    data_dir.join("letters")
}

/// Removes the letter files (`{reference}-*.txt`) of anonymised cases; returns how many.
async fn remove_letters(store: &Store, dir: &std::path::Path) -> anyhow::Result<usize> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", dir.display())),
    };
    let names: Vec<String> = entries.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect();
    if names.is_empty() {
        return Ok(0);
    }
    let mut removed = 0;
    for reference in store.anonymised_references().await? {
        let (prefix, unfinished) = (format!("{reference}-"), format!(".{reference}-"));
        let theirs = |n: &&String| (n.starts_with(&prefix) && n.ends_with(".txt")) || (n.starts_with(&unfinished) && n.ends_with(".tmp"));
        for name in names.iter().filter(theirs) {
            let path = dir.join(name);
            match std::fs::remove_file(&path) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_context(|| format!("cannot remove {}", path.display())),
            }
        }
    }
    Ok(removed)
}

/// Writes a letter to print as `dir/{stem}.txt`, or `{stem}-2.txt`, `-3`, ... if that exists:
/// never over an earlier letter. Mode 0600; written to a temporary file, synced, then linked
/// under its name, so the file is complete whenever it exists.
fn write_letter(dir: &std::path::Path, stem: &str, text: &str) -> anyhow::Result<PathBuf> {
    crate::io::private_files::create_dir(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let tmp = dir.join(format!(".{stem}.{}.{nanos}.tmp", std::process::id()));
    let written = (|| {
        crate::io::private_files::write_temporary(&tmp, text.as_bytes())?;
        for n in 1u32.. {
            let path = if n == 1 { dir.join(format!("{stem}.txt")) } else { dir.join(format!("{stem}-{n}.txt")) };
            match std::fs::hard_link(&tmp, &path) {
                Ok(()) => return Ok(path),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        unreachable!("some sequence number is free")
    })();
    let _ = std::fs::remove_file(&tmp);
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    written.with_context(|| format!("cannot write a letter in {}", dir.display()))
}
