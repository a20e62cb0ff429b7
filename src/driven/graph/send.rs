//! Outgoing mail through Microsoft Graph: `POST /users/{mailbox}/sendMail` with the MIME the
//! SMTP path builds (`Mailer::message`), base64-encoded as `text/plain`, so our Message-IDs,
//! `In-Reply-To` and `References` go out as they are.
//!
//! Exchange keeps a copy of mail sent as MIME in Sent Items. With
//! `graph.save_to_sent_items = false` that copy is looked up by its Message-ID after the send
//! and moved to Deleted Items, best effort (a copy filed later stays).

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use futures::future::BoxFuture;
use hyper::body::Bytes;
use hyper::Method;

use super::{encode, GraphClient, GraphError, READ_WRITE, SEND};
use crate::app::outbox::{SendFailure, Transport};
use crate::driven::smtp::Mailer;
use crate::store::OutboxItem;

pub struct GraphTransport {
    client: Arc<GraphClient>,
    /// Builds the MIME (it never connects to an SMTP server here).
    builder: Arc<Mailer>,
    save_to_sent_items: bool,
}

impl GraphTransport {
    pub fn new(client: Arc<GraphClient>, builder: Arc<Mailer>, save_to_sent_items: bool) -> Self {
        Self { client, builder, save_to_sent_items }
    }

    async fn send_item(&self, item: &OutboxItem) -> Result<String, SendFailure> {
        let message = self.builder.message(item).map_err(|e| SendFailure::Permanent(e.to_string()))?;
        let mime = base64::engine::general_purpose::STANDARD.encode(message.formatted());
        let url = self.client.url("/sendMail");
        match self.client.call("sendMail", SEND, Method::POST, &url, Some(("text/plain", Bytes::from(mime)))).await {
            Ok(answer) => drop(answer),
            // Malformed MIME or a message too large: sending it again cannot help.
            Err(e @ GraphError::Status { status: 400 | 413, .. }) => return Err(SendFailure::Permanent(e.to_string())),
            // Permissions, tokens, throttling, outages: retried until they are fixed.
            Err(e) => return Err(SendFailure::Temporary(e.to_string())),
        }
        if !self.save_to_sent_items {
            if let Err(e) = self.unfile(&item.mail.message_id).await {
                tracing::warn!(error = %e, "the copy in Sent Items could not be removed");
            }
        }
        Ok("202 Accepted (Microsoft Graph sendMail)".into())
    }

    /// Moves the Sent Items copy of the mail with `message_id` to Deleted Items, if it is there.
    async fn unfile(&self, message_id: &str) -> Result<(), GraphError> {
        let filter = encode(&format!("internetMessageId eq '<{}>'", message_id.replace('\'', "''")));
        let url = self.client.url(&format!("/mailFolders/sentitems/messages?$select=id&$filter={filter}"));
        let found = self.client.json("find sent copy", READ_WRITE, Method::GET, &url, None).await?;
        for m in found["value"].as_array().into_iter().flatten() {
            if let Some(id) = m["id"].as_str() {
                let url = self.client.url(&format!("/messages/{}/move", encode(id)));
                self.client.json("move sent copy", READ_WRITE, Method::POST, &url, Some(serde_json::json!({ "destinationId": "deleteditems" }))).await?;
            }
        }
        Ok(())
    }
}

impl Transport for GraphTransport {
    fn send<'a>(&'a self, item: &'a OutboxItem) -> BoxFuture<'a, Result<String, SendFailure>> {
        Box::pin(self.send_item(item))
    }

    fn close_idle(&self) -> BoxFuture<'_, ()> {
        Box::pin(std::future::ready(()))
    }

    /// A send may wait out a throttle (see `GraphClient::call`) besides its own time.
    fn send_timeout(&self) -> Duration {
        self.client.timeout() * 3 + super::WAIT_IN_CALL
    }
}
