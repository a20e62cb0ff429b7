//! A complaint received by post, with its scanned documents (`/paper`, multipart), from any
//! signed-in handler. The CSRF token is checked first ([`SignedMultipart`]); then each document
//! goes to a private file of its own as it arrives, within the limit, never whole in memory,
//! and the files are removed once the complaint is registered (or not).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use axum::extract::multipart::MultipartError;
use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use tokio::io::AsyncWriteExt;

use super::forms::{delivered, NotDone};
use super::signed::SignedMultipart;
use super::{auth, Shared, Web};
use crate::app::actions::{ActionError, PaperComplaint};
use crate::store::web::WebSession;

/// The documents of one paper complaint together, at most (the route's body limit is the same).
pub const MAX_DOCUMENTS: u64 = 30 * 1024 * 1024;
/// The form's texts together, at most.
const MAX_TEXT: usize = 2 * 1024 * 1024;
/// The whole request, at most: the documents, the texts, and the multipart framing.
pub const MAX_BODY: usize = MAX_DOCUMENTS as usize + MAX_TEXT + 64 * 1024;

/// Why a form was not taken in.
enum Unreceived {
    TooLarge,
    /// The form could not be read (the multipart reader's words).
    Bad(String),
    /// A NUL in a text or a file name: no part of a text (PostgreSQL would refuse it).
    Nul,
    Disk(std::io::Error),
}

impl From<MultipartError> for Unreceived {
    fn from(e: MultipartError) -> Self {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Unreceived::TooLarge
        } else {
            Unreceived::Bad(e.body_text())
        }
    }
}

impl From<std::io::Error> for Unreceived {
    fn from(e: std::io::Error) -> Self {
        Unreceived::Disk(e)
    }
}

pub async fn register(State(web): State<Shared>, form: SignedMultipart) -> Response {
    let SignedMultipart { session, mut multipart } = form;
    // register_paper reads the documents from files, as from the command line: each goes into
    // a private directory of its own under its (made safe) name, all removed afterwards.
    let dir = web.uploads_dir.join(auth::new_token());
    let response = match receive(&mut multipart, &dir).await {
        Ok((fields, paths)) => register_received(&web, &session, &fields, paths).await,
        Err(Unreceived::TooLarge) => web.message(StatusCode::PAYLOAD_TOO_LARGE, Some(&session), "too_large", "", Some("/paper")),
        Err(Unreceived::Bad(text)) => web.message(StatusCode::BAD_REQUEST, Some(&session), "bad_input", &text, Some("/paper")),
        Err(Unreceived::Nul) => web.message(StatusCode::BAD_REQUEST, Some(&session), "bad_request", "", Some("/paper")),
        Err(Unreceived::Disk(e)) => {
            let error = ActionError::disk(anyhow::Error::new(e).context("cannot keep the uploaded documents"));
            NotDone { web: &web, session: &session, back: "/paper", error }.into_response()
        }
    };
    let _ = tokio::fs::remove_dir_all(&dir).await;
    response
}

/// Reads the rest of the form: its texts, and its documents into files under `dir`.
async fn receive(multipart: &mut Multipart, dir: &Path) -> Result<(HashMap<String, String>, Vec<PathBuf>), Unreceived> {
    let mut form = HashMap::new();
    let mut paths = Vec::new();
    let (mut text_bytes, mut document_bytes) = (0usize, 0u64);
    while let Some(mut field) = multipart.next_field().await? {
        let name = field.name().unwrap_or("").to_string();
        let Some(file) = field.file_name().map(str::to_string) else {
            let mut value = Vec::new();
            while let Some(chunk) = field.chunk().await? {
                text_bytes += chunk.len();
                if text_bytes > MAX_TEXT {
                    return Err(Unreceived::TooLarge);
                }
                value.extend_from_slice(&chunk);
            }
            let value = String::from_utf8_lossy(&value).into_owned();
            if name.contains('\0') || value.contains('\0') {
                return Err(Unreceived::Nul);
            }
            form.insert(name, value);
            continue;
        };
        if name != "documents" {
            continue;
        }
        if file.contains('\0') {
            return Err(Unreceived::Nul);
        }
        let sub = dir.join(paths.len().to_string());
        crate::store::private_files::create_dir(&sub)?;
        let path = sub.join(super::pages::safe_filename(&file));
        let mut out = tokio::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path).await?;
        let mut written = 0u64;
        while let Some(chunk) = field.chunk().await? {
            written += chunk.len() as u64;
            document_bytes += chunk.len() as u64;
            if document_bytes > MAX_DOCUMENTS {
                return Err(Unreceived::TooLarge);
            }
            out.write_all(&chunk).await?;
        }
        out.sync_all().await?;
        // A file input left empty sends a part without content: no document.
        if written > 0 {
            paths.push(path);
        } else {
            drop(out);
            tokio::fs::remove_dir_all(&sub).await?;
        }
    }
    Ok((form, paths))
}

fn field<'a>(form: &'a HashMap<String, String>, key: &str) -> Option<&'a str> {
    form.get(key).map(|v| v.trim()).filter(|v| !v.is_empty())
}

fn text(form: &HashMap<String, String>, key: &str) -> String {
    // Browsers send CRLF in text areas; letters are written with LF.
    form.get(key).map(|v| v.replace("\r\n", "\n")).unwrap_or_default()
}

fn date(form: &HashMap<String, String>, key: &str) -> anyhow::Result<NaiveDate> {
    let v = field(form, key).ok_or_else(|| anyhow::anyhow!("{key}: a date is needed (YYYY-MM-DD)"))?;
    NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| anyhow::anyhow!("{key}: {v:?} is not a date (YYYY-MM-DD)"))
}

async fn register_received(web: &Web, session: &WebSession, form: &HashMap<String, String>, attachments: Vec<PathBuf>) -> Response {
    let received = match date(form, "received") {
        Ok(d) => d,
        Err(e) => return web.message(StatusCode::UNPROCESSABLE_ENTITY, Some(session), "refused", &e.to_string(), Some("/paper")),
    };
    // One of the organisations the handler works for (issue 25): the one chosen, else their first.
    let theirs = match web.store.handler_organisations(&session.user.email).await {
        Ok(keys) => keys,
        Err(e) => return super::pages::store_failure(web, session, e),
    };
    let organisation = match field(form, "organisation") {
        None => theirs.first().cloned(),
        Some(key) => theirs.iter().find(|k| k.as_str() == key).cloned(),
    };
    let Some(organisation) = organisation else {
        return web.message(StatusCode::UNPROCESSABLE_ENTITY, Some(session), "refused", "organisation: not one you work for", Some("/paper"));
    };
    let paper = PaperComplaint {
        organisation: Some(organisation),
        name: form.get("name").cloned().unwrap_or_default(),
        email: field(form, "email").map(str::to_string),
        postal_address: field(form, "postal_address").map(|_| text(form, "postal_address")),
        received,
        description: text(form, "description"),
        attachments,
    };
    match web.actions.register_paper(paper, &format!("{} (web)", session.user.name)).await {
        Ok((reference, delivery)) => {
            web.wake.notify_one();
            tracing::info!(%reference, "paper complaint registered on the web");
            web.message(StatusCode::OK, Some(session), "registered", &format!("{reference}: {}", delivered(delivery)), Some(&format!("/cases/{reference}")))
        }
        Err(error) => NotDone { web, session, back: "/paper", error }.into_response(),
    }
}
