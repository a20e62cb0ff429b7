//! The extractors of every form a signed-in handler posts: the session is required and the
//! form's CSRF token checked here, once, so no handler can forget either. What the form says is
//! decoded afterwards into the struct of the form that was posted ([`SignedForm::decode`]); a
//! multipart form (the paper complaint's documents) is read on by its handler after the token
//! ([`SignedMultipart`]).

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use super::{auth, require, Shared};
use crate::domain::case_action::Unreadable;
use crate::store::web::WebSession;

/// A signed-in handler's form with its CSRF token checked. Without a session the rejection is
/// the way to the sign-in page; a wrong token is a 403 page, a NUL in a value a 400 page.
pub struct SignedForm {
    pub session: WebSession,
    body: Bytes,
}

#[derive(serde::Deserialize)]
struct Csrf {
    csrf: Option<String>,
}

impl FromRequest<Shared> for SignedForm {
    type Rejection = Response;

    async fn from_request(request: Request, web: &Shared) -> Result<Self, Response> {
        let session = require(web, request.headers()).await?;
        let back = back(request.uri().path());
        // A body axum cannot take is its plain-text rejection, which `rejection_pages` turns
        // into the workspace's page.
        let body = Bytes::from_request(request, web).await.map_err(IntoResponse::into_response)?;
        let csrf = serde_urlencoded::from_bytes::<Csrf>(&body).ok().and_then(|c| c.csrf);
        if !auth::csrf_matches(&session.csrf, csrf.as_deref()) {
            tracing::warn!("web: a form without its CSRF token was refused");
            return Err(web.message(StatusCode::FORBIDDEN, Some(&session), "csrf", "", Some(&back)));
        }
        // A NUL is no part of a text; PostgreSQL would refuse it, SQLite keep it.
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
        if pairs.iter().any(|(k, v)| k.contains('\0') || v.contains('\0')) {
            return Err(web.message(StatusCode::BAD_REQUEST, Some(&session), "bad_request", "", Some(&back)));
        }
        Ok(Self { session, body })
    }
}

/// A signed-in handler's multipart form, its CSRF token checked before anything else of it is
/// read: the token is the form's first field (browsers send the fields in the form's order),
/// so no document of a forged form is ever written to disk.
pub struct SignedMultipart {
    pub session: WebSession,
    /// The rest of the form, after the token.
    pub multipart: Multipart,
}

/// A CSRF token is 64 characters; a first field longer than this is no token.
const MAX_TOKEN: usize = 128;

impl FromRequest<Shared> for SignedMultipart {
    type Rejection = Response;

    async fn from_request(request: Request, web: &Shared) -> Result<Self, Response> {
        let session = require(web, request.headers()).await?;
        let back = request.uri().path().to_string();
        let mut multipart = Multipart::from_request(request, web).await.map_err(IntoResponse::into_response)?;
        let mut csrf = Vec::new();
        if let Ok(Some(mut field)) = multipart.next_field().await {
            if field.name() == Some("csrf") && field.file_name().is_none() {
                while let Ok(Some(chunk)) = field.chunk().await {
                    csrf.extend_from_slice(&chunk);
                    if csrf.len() > MAX_TOKEN {
                        break;
                    }
                }
            }
        }
        if !auth::csrf_matches(&session.csrf, std::str::from_utf8(&csrf).ok()) {
            tracing::warn!("web: a form without its CSRF token was refused");
            return Err(web.message(StatusCode::FORBIDDEN, Some(&session), "csrf", "", Some(&back)));
        }
        Ok(Self { session, multipart })
    }
}

impl SignedForm {
    /// The form as the struct `T`; the error is one line for the handler (the command line's
    /// words where a value does not read).
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, Unreadable> {
        decode(&self.body)
    }

    /// The form as posted (`application/x-www-form-urlencoded`).
    pub fn body(&self) -> &[u8] {
        &self.body
    }
}

/// A posted form as the struct `T`; see [`SignedForm::decode`].
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, Unreadable> {
    serde_urlencoded::from_bytes(body).map_err(|e| Unreadable(e.to_string()))
}

/// Where a refused form goes back to: the page the form was on (the path without its last
/// segment), or the list of cases.
fn back(path: &str) -> String {
    match path.trim_end_matches('/').rsplit_once('/') {
        Some((page, _)) if !page.is_empty() => page.to_string(),
        _ => "/cases".to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_refused_form_goes_back_to_its_page() {
        assert_eq!(super::back("/cases/KL-2026-0001/note"), "/cases/KL-2026-0001");
        assert_eq!(super::back("/set-aside/7/register"), "/set-aside/7");
        assert_eq!(super::back("/sign-out"), "/cases");
    }
}
