//! Which organisation a supervisor's register, its CSV and the yearly publication are of
//! (issue 25): one of the organisations they work for, chosen by `?organisation=KEY` (default
//! their first). A supervisor of several sees a choice; their registers are never summed.

use std::collections::HashMap;

use axum::http::StatusCode;
use axum::response::Response;

use crate::domain::organisation::OrganisationKey;
use crate::store::web::WebSession;
use crate::store::Reader;

/// The organisation chosen, and all that the supervisor works for (in order).
#[derive(Debug, Clone)]
pub struct Supervised {
    pub chosen: OrganisationKey,
    pub all: Vec<OrganisationKey>,
}

impl Supervised {
    /// The keys, for a page's choice.
    pub fn keys(&self) -> Vec<&str> {
        self.all.iter().map(OrganisationKey::as_str).collect()
    }
}

/// The organisation `query` asks for among those `session`'s supervisor works for; for a
/// handler who is no supervisor (or works for none) the page that says the page is for
/// supervisors, and for another organisation's key the page of something that does not exist.
pub async fn supervised(
    web: &super::Web,
    session: &WebSession,
    reader: &mut Reader,
    query: &HashMap<String, String>,
    back: &str,
) -> Result<Supervised, Response> {
    let forbidden = || web.message(StatusCode::FORBIDDEN, Some(session), "supervisors_only", "", Some("/cases"));
    if !session.user.supervisor {
        return Err(forbidden());
    }
    let all = web.store.handler_organisations_on(reader, &session.user.email).await.map_err(|e| super::pages::store_failure(web, session, e))?;
    let chosen = match query.get("organisation").map(|k| k.trim()).filter(|k| !k.is_empty()) {
        None => all.first().cloned().ok_or_else(forbidden)?,
        Some(key) => match all.iter().find(|k| k.as_str() == key) {
            Some(k) => k.clone(),
            None => {
                tracing::warn!("web: a supervisor asked for an organisation they do not work for");
                return Err(web.message(StatusCode::NOT_FOUND, Some(session), "not_found", "", Some(back)));
            }
        },
    };
    Ok(Supervised { chosen, all })
}
