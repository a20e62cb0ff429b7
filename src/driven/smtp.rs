//! Outgoing mail over SMTP with lettre: the connection (see [`connection`]) and turning an
//! outbox row into a message with the headers that keep auto-replies from looping and replies
//! threaded.

pub mod connection;

use std::time::Duration;

use anyhow::Context as _;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, TlsParameters};
use lettre::Message;

use crate::config::{Smtp, TlsMode};
use crate::domain::text::single_line;
use crate::store::{MailPart, OutboxItem};

pub struct Mailer {
    endpoint: connection::Endpoint,
    /// Open connections between mails. Each send takes one (or opens one) and gives it back
    /// when the mail is accepted, so there are as many as mails are sent at once.
    open: std::sync::Mutex<Vec<connection::Connection>>,
    from: Mailbox,
    /// Each organisation's `From`, by its key: a case's letters come from its organisation's
    /// complaints address, where its replies are taken in (`from` for mail without a case).
    senders: std::collections::HashMap<String, Mailbox>,
    /// Bounds a whole send, connecting included.
    send_timeout: Duration,
    /// Where the documents a mail carries are read from (see `store::MailPart`).
    attachments: Option<crate::store::attachments::AttachmentStore>,
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("SMTP: {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
    #[error("SMTP: no answer within {0:?}")]
    Timeout(Duration),
    #[error("cannot build the message: {0}")]
    Build(String),
    #[error("SMTP: {0}")]
    OAuth(#[from] crate::driven::oauth::smtp::OAuthSmtpError),
    #[error("SMTP: cannot connect to {server}: {source}")]
    Connect { server: String, source: std::io::Error },
}

impl SendError {
    /// Whether trying again cannot help: the message cannot be built, or the server refused it
    /// with a 5xx reply. A refused or required login (530, 534, 535, 538), and a token the
    /// identity provider or the server refuses, are faults of our own configuration, not of the
    /// letter, and are retried like an outage until they are fixed.
    pub fn is_permanent(&self) -> bool {
        match self {
            SendError::Build(_) => true,
            SendError::Timeout(_) | SendError::Connect { .. } | SendError::OAuth(_) => false,
            SendError::Smtp(e) => e.is_permanent() && !e.status().is_some_and(|code| matches!(u16::from(code), 530 | 534 | 535 | 538)),
        }
    }
}

impl Mailer {
    pub fn new(config: &Smtp, from_name: &str, from_address: &str) -> anyhow::Result<Self> {
        Self::with_tokens(config, from_name, from_address, None)
    }

    /// `oauth`: the login and the tokens, when `smtp.auth` is "oauth2".
    pub fn with_tokens(
        config: &Smtp,
        from_name: &str,
        from_address: &str,
        oauth: Option<(String, std::sync::Arc<crate::driven::oauth::TokenSource>)>,
    ) -> anyhow::Result<Self> {
        let starttls = match config.tls {
            TlsMode::Starttls => {
                let mut builder = TlsParameters::builder(config.host.clone());
                if let Some(ca) = &config.ca_file {
                    let pem = std::fs::read(ca).with_context(|| format!("smtp.ca_file {}", ca.display()))?;
                    builder = builder.add_root_certificate(Certificate::from_pem(&pem).context("smtp.ca_file is not a PEM certificate")?);
                }
                Some(builder.build_rustls().context("SMTP TLS parameters")?)
            }
            _ => None,
        };
        let login = match (oauth, &config.user) {
            (Some((user, tokens)), _) => {
                Some(connection::Login::OAuth(crate::driven::oauth::smtp::OAuthLogin::new(config.host.clone(), config.port, user, tokens)))
            }
            (None, Some(user)) => Some(connection::Login::Password(Credentials::new(user.clone(), config.secret().resolve("smtp")?))),
            (None, None) => None,
        };
        let endpoint = connection::Endpoint {
            host: config.host.clone(),
            port: config.port,
            tls: config.tls,
            rustls: crate::driven::tls::client_config(config.ca_file.as_deref()).context("SMTP TLS")?,
            starttls,
            login,
            connect_timeout: config.timeout(),
        };
        let from =
            Mailbox::new(Some(single_line(from_name, 100)), from_address.parse().with_context(|| format!("organisation.complaints_address {from_address:?}"))?);
        Ok(Self { endpoint, open: std::sync::Mutex::new(Vec::new()), from, senders: Default::default(), send_timeout: config.timeout() * 2, attachments: None })
    }

    /// Each organisation's name and complaints address, by its key, as the `From` of its cases' mail.
    pub fn with_senders<'a>(mut self, senders: impl IntoIterator<Item = (&'a str, &'a str, &'a str)>) -> anyhow::Result<Self> {
        for (key, name, address) in senders {
            let address = address.parse().with_context(|| format!("the complaints address {address:?} of organisation {key}"))?;
            self.senders.insert(key.to_string(), Mailbox::new(Some(single_line(name, 100)), address));
        }
        Ok(self)
    }

    /// Reads the documents that mails carry from `store`.
    pub fn with_attachment_store(mut self, store: crate::store::attachments::AttachmentStore) -> Self {
        self.attachments = Some(store);
        self
    }

    /// Builds the message for an outbox row. Header values pass through lettre's encoder after
    /// `single_line`, so no name or subject can add a header line.
    pub fn message(&self, outbox_item: &OutboxItem) -> Result<Message, SendError> {
        let item = &outbox_item.mail;
        let address = item.recipient.parse().map_err(|e| SendError::Build(format!("recipient: {e}")))?;
        let to = Mailbox::new(item.recipient_name.as_deref().map(|n| single_line(n, 100)), address);
        let from = outbox_item.organisation.as_ref().and_then(|key| self.senders.get(key)).unwrap_or(&self.from);
        let mut builder = Message::builder()
            .from(from.clone())
            .to(to)
            .subject(single_line(&item.subject, 250))
            .message_id(Some(format!("<{}>", item.message_id)))
            .date_now()
            .raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("X-Auto-Response-Suppress"), "All".into()));
        if item.kind.is_automatic() {
            builder = builder.raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("Auto-Submitted"), "auto-replied".into()));
        }
        if let Some(parent) = &item.in_reply_to {
            builder = builder.in_reply_to(format!("<{}>", single_line(parent, 500)));
        }
        if !item.references.is_empty() {
            let refs: Vec<String> = item.references.iter().map(|r| format!("<{}>", single_line(r, 500))).collect();
            builder = builder.references(refs.join(" "));
        }
        let parts = &outbox_item.parts;
        if parts.is_empty() {
            return builder.header(flowed_text()).body(item.body.clone()).map_err(|e| SendError::Build(e.to_string()));
        }
        builder.multipart(self.parts(&item.body, parts)?).map_err(|e| SendError::Build(e.to_string()))
    }

    /// The text with its parts: `multipart/mixed` of the text (with a calendar invitation
    /// beside it in `multipart/alternative`, as Outlook, Gmail and Apple Calendar expect) and
    /// the attachments, the invitation again as an `.ics` file among them.
    fn parts(&self, text: &str, parts: &[MailPart]) -> Result<MultiPart, SendError> {
        let mut alternative: Option<MultiPart> = None;
        let mut attachments = Vec::new();
        for part in parts {
            match part {
                MailPart::Calendar { method, content, filename } => {
                    let inline = ContentType::parse(&format!("text/calendar; charset=utf-8; method={method}")).map_err(|e| SendError::Build(e.to_string()))?;
                    alternative = Some(
                        alternative
                            .unwrap_or_else(|| MultiPart::alternative().singlepart(text_part(text)))
                            .singlepart(SinglePart::builder().header(inline).body(content.clone())),
                    );
                    let file = ContentType::parse("application/ics").map_err(|e| SendError::Build(e.to_string()))?;
                    attachments.push(Attachment::new(single_line(filename, 100)).body(content.clone().into_bytes(), file));
                }
                MailPart::Attachment { sha256, filename, content_type } => {
                    let store = self.attachments.as_ref().ok_or_else(|| SendError::Build("no attachment store to read documents from".into()))?;
                    let data = std::fs::read(store.path_of(sha256)).map_err(|e| SendError::Build(format!("document {filename:?}: {e}")))?;
                    let ct = ContentType::parse(content_type).unwrap_or_else(|_| ContentType::parse("application/octet-stream").expect("a valid type"));
                    attachments.push(Attachment::new(single_line(filename, 200)).body(data, ct));
                }
            }
        }
        let mut mixed = match alternative {
            Some(alternative) => MultiPart::mixed().multipart(alternative),
            None => MultiPart::mixed().singlepart(text_part(text)),
        };
        for attachment in attachments {
            mixed = mixed.singlepart(attachment);
        }
        Ok(mixed)
    }

    /// Sends and returns the server's reply to the final DATA ("250 2.0.0 Ok: queued as ...").
    /// The connection stays open for the next mail; the caller records the mail as sent before
    /// anything else goes to the server.
    pub async fn send(&self, item: &OutboxItem) -> Result<String, SendError> {
        let message = self.message(item)?;
        let idle = self.idle().pop();
        let sent = tokio::time::timeout(self.send_timeout, async {
            let mut conn = match idle {
                Some(conn) if conn.usable() => conn,
                Some(stale) => {
                    stale.close().await;
                    connection::Connection::open(&self.endpoint).await?
                }
                None => connection::Connection::open(&self.endpoint).await?,
            };
            let response = conn.send(message.envelope(), &message.formatted()).await?;
            Ok::<_, SendError>((conn, response))
        })
        .await
        .map_err(|_| SendError::Timeout(self.send_timeout));
        // After a timeout or a refusal the state of the session is unknown (lettre ends it
        // after a refusal): only a connection whose mail was accepted carries the next one.
        let (conn, response) = sent??;
        self.idle().push(conn);
        Ok(format!("{} {}", response.code(), response.message().collect::<Vec<_>>().join(" ")))
    }

    /// The open connections not in use (a poisoned lock still holds them).
    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<connection::Connection>> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Ends the open connections, if any (after a quiet spell, and at shutdown).
    pub async fn close_idle(&self) {
        let idle = std::mem::take(&mut *self.idle());
        futures::future::join_all(idle.into_iter().map(connection::Connection::close)).await;
    }

    /// The longest one send (or check) may take; see [`crate::app::outbox::lease_for`].
    pub fn send_timeout(&self) -> Duration {
        self.send_timeout
    }

    /// Checks that the server answers and accepts our login.
    pub async fn check(&self) -> Result<(), SendError> {
        let conn = tokio::time::timeout(self.send_timeout, connection::Connection::open(&self.endpoint))
            .await
            .map_err(|_| SendError::Timeout(self.send_timeout))??;
        conn.close().await;
        Ok(())
    }
}

/// The daemon's transport: a 5xx reply or a message that cannot be built is permanent (see
/// [`SendError::is_permanent`]), everything else is retried.
impl crate::app::outbox::Transport for Mailer {
    fn send<'a>(&'a self, item: &'a OutboxItem) -> futures::future::BoxFuture<'a, Result<String, crate::app::outbox::SendFailure>> {
        use crate::app::outbox::SendFailure;
        Box::pin(async move {
            Mailer::send(self, item)
                .await
                .map_err(|e| if e.is_permanent() { SendFailure::Permanent(e.to_string()) } else { SendFailure::Temporary(e.to_string()) })
        })
    }

    fn close_idle(&self) -> futures::future::BoxFuture<'_, ()> {
        Box::pin(Mailer::close_idle(self))
    }

    fn send_timeout(&self) -> Duration {
        self.send_timeout
    }
}

/// The content type of every letter's text: UTF-8, flowed (RFC 3676). The body arrives in the
/// outbox flowed already (`domain::flowed`, applied where letters are rendered), so every
/// transport sends the same bytes.
fn flowed_text() -> ContentType {
    ContentType::parse("text/plain; charset=utf-8; format=flowed; delsp=no").expect("a valid content type")
}

/// A letter's text as a part of a multipart mail.
fn text_part(text: &str) -> SinglePart {
    SinglePart::builder().header(flowed_text()).body(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::OutgoingMail;

    fn mailer() -> Mailer {
        let config = Smtp {
            host: "localhost".into(),
            port: 25,
            tls: TlsMode::None,
            user: None,
            auth: crate::config::AuthMode::Password,
            password: None,
            password_file: None,
            password_env: None,
            ca_file: None,
            timeout_secs: 5,
        };
        Mailer::new(&config, "Klachten", "klachten@dienst.test").unwrap()
    }

    fn formatted(kind: &str) -> String {
        let item = OutboxItem {
            id: 1,
            case_id: Some(crate::domain::reference::CaseId::new(1)),
            attempts: 0,
            mail: OutgoingMail {
                kind: kind.parse().unwrap(),
                recipient: "mia@example.test".into(),
                recipient_name: Some("Mia Vos".into()),
                subject: "[KL-2026-0001] Onderwerp".into(),
                body: "Tekst.".into(),
                message_id: "KL-2026-0001.x.1@dienst.test".into(),
                in_reply_to: Some("complaint@example.test".into()),
                references: vec!["complaint@example.test".into()],
                status: crate::store::OutboxStatus::Pending,
            },
            parts: Vec::new(),
            organisation: None,
        };
        String::from_utf8(mailer().message(&item).unwrap().formatted()).unwrap()
    }

    #[test]
    fn only_automatic_mail_is_marked_auto_submitted() {
        for kind in ["acknowledgement", "assigned", "confirmation", "notice", "reminder", "escalation"] {
            assert!(formatted(kind).contains("Auto-Submitted: auto-replied\r\n"), "{kind}");
        }
        for kind in ["progress", "request-info", "response"] {
            let text = formatted(kind);
            assert!(!text.to_ascii_lowercase().contains("auto-submitted"), "{kind}: {text}");
            assert!(text.contains("In-Reply-To: <complaint@example.test>"), "{text}");
        }
    }
}
