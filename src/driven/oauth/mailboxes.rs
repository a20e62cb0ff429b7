//! The token source of each mailbox (issue 25). A mailbox of `[[organisations]]` with
//! `auth = "oauth2"` takes its tokens from its own `oauth2` table (e.g. its municipality's own
//! Entra ID tenant) or else from the top-level `[oauth2]` (one app registration for several
//! mailboxes). Logins that would be served the same tokens share one source (see
//! [`TokenSource::fetches_as`]): an Entra ID app's token serves every mailbox the app is
//! granted, SMTP's included; a Google service account's acts for one mailbox.

use std::sync::Arc;

use anyhow::Context as _;

use super::TokenSource;
use crate::config::{AuthMode, Config, MailboxSpec};

/// The token source of each mailbox of `config` that logs in with tokens (None where it logs in
/// with a password), in the order of [`Config::mailboxes`]. `shared` is `[oauth2]`'s source for
/// SMTP ([`TokenSource::from_config`]), reused for every mailbox it would serve. Reads key
/// files, as [`TokenSource::new`] does.
pub fn for_mailboxes(config: &Config, shared: Option<&Arc<TokenSource>>) -> anyhow::Result<Vec<Option<Arc<TokenSource>>>> {
    let mut made: Vec<Arc<TokenSource>> = shared.into_iter().cloned().collect();
    let mut sources = Vec::new();
    for m in config.mailboxes() {
        if m.imap.auth != AuthMode::Oauth2 {
            sources.push(None);
            continue;
        }
        let o = m.oauth2(config).with_context(|| format!("{}.auth = \"oauth2\" needs an oauth2 table or an [oauth2] section", m.config_key))?;
        let source = match made.iter().find(|t| t.fetches_as(o, &m.imap.user)) {
            Some(same) => same.clone(),
            None => {
                let new = Arc::new(TokenSource::new(o, &m.imap.user).with_context(|| served(config, &[&m], false, &m.oauth2_key()))?);
                made.push(new.clone());
                new
            }
        };
        sources.push(Some(source));
    }
    Ok(sources)
}

/// Fetches a first token from each of `sources` (see [`for_mailboxes`]) other than `shared`
/// (fetched on its own, see [`label`]), so that a refused secret or an app not granted a
/// mailbox is one line at start-up that names the mailboxes concerned.
pub async fn first_tokens(config: &Config, sources: &[Option<Arc<TokenSource>>], shared: Option<&Arc<TokenSource>>) -> anyhow::Result<()> {
    let mut done: Vec<&Arc<TokenSource>> = shared.into_iter().collect();
    for source in sources.iter().flatten() {
        if done.iter().any(|d| Arc::ptr_eq(d, source)) {
            continue;
        }
        done.push(source);
        source.token().await.with_context(|| label(config, source, false))?;
    }
    Ok(())
}

/// What a source serves, for the start-up line of a refusal: `oauth2` with one
/// `[organisation]` (as it always was); else the logins it serves and its table, e.g.
/// `mailbox "wp-klachten" (organisations[0].mailboxes[0].oauth2)`.
pub fn label(config: &Config, source: &TokenSource, smtp: bool) -> String {
    if !config.lists_organisations() {
        return "oauth2".into();
    }
    let mailboxes = config.mailboxes();
    let mine: Vec<&MailboxSpec> =
        mailboxes.iter().filter(|m| m.imap.auth == AuthMode::Oauth2 && m.oauth2(config).is_some_and(|o| source.fetches_as(o, &m.imap.user))).collect();
    let table = mine.first().map_or_else(|| "oauth2".to_string(), |m| m.oauth2_key());
    served(config, &mine, smtp, &table)
}

/// `smtp, mailboxes "a", "b" (oauth2)`.
fn served(config: &Config, mailboxes: &[&MailboxSpec], smtp: bool, table: &str) -> String {
    if !config.lists_organisations() {
        return table.to_string();
    }
    let names: Vec<String> = mailboxes.iter().map(|m| format!("{:?}", m.name)).collect();
    let mut what: Vec<String> = smtp.then(|| "smtp".to_string()).into_iter().collect();
    match names.len() {
        0 => {}
        1 => what.push(format!("mailbox {}", names[0])),
        _ => what.push(format!("mailboxes {}", names.join(", "))),
    }
    format!("{} ({table})", what.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three mailboxes: two under the top-level Entra app, one under its own tenant's.
    fn config(top: &str, own: &str) -> Config {
        let mut text = crate::config::organisations::tests::TWO
            .replace("tls = \"none\"\nuser", "tls = \"implicit\"\nauth = \"oauth2\"\nuser")
            .replace("password = \"x\"\n", "");
        text = text.replacen("name = \"sh-2\"", &format!("name = \"sh-2\"\noauth2 = {{ {own} }}"), 1);
        text.push_str(&format!("user = \"uit@wp.example.nl\"\nauth = \"oauth2\"\n\n[oauth2]\n{top}\n"));
        let c = Config::parse(&text.replace("port = 10025\ntls = \"none\"", "port = 587\ntls = \"starttls\"")).unwrap();
        assert!(c.problems().is_empty(), "{:?}", c.problems());
        c
    }

    const MICROSOFT: &str = "provider = \"microsoft\"\ntenant = \"t\"\nclient_id = \"app\"\nclient_secret_env = \"PATH\"";

    #[test]
    fn mailboxes_of_one_app_share_its_source_and_a_table_of_their_own_has_its_own() {
        let c = config(MICROSOFT, "provider = \"microsoft\", tenant = \"t2\", client_id = \"app2\", client_secret_env = \"PATH\"");
        let smtp = TokenSource::from_config(&c).unwrap().expect("smtp logs in with tokens");
        let sources = for_mailboxes(&c, Some(&smtp)).unwrap();
        let [Some(wp), Some(sh1), Some(sh2)] = &sources[..] else { panic!("three sources") };
        assert!(Arc::ptr_eq(wp, &smtp) && Arc::ptr_eq(sh1, &smtp), "one Entra app's token serves SMTP and both mailboxes");
        assert!(!Arc::ptr_eq(sh2, &smtp), "its own tenant, its own source");
        assert_eq!(label(&c, &smtp, true), "smtp, mailboxes \"wp-klachten\", \"sh-1\" (oauth2)");
        assert_eq!(label(&c, sh2, false), "mailbox \"sh-2\" (organisations[1].mailboxes[1].oauth2)");
    }

    #[test]
    fn a_google_service_account_acts_for_each_mailbox_and_an_entra_app_for_none() {
        let google: crate::config::oauth::OAuth2 = toml::from_str("provider = \"google\"\nservice_account_file = \"/k.json\"").unwrap();
        assert_eq!(super::super::subject(&google, "a@x.nl").as_deref(), Some("a@x.nl"), "each mailbox its own subject, so its own source");
        let fixed = crate::config::oauth::OAuth2 { mailbox: Some("gedeeld@x.nl".into()), ..google };
        assert_eq!(super::super::subject(&fixed, "a@x.nl").as_deref(), Some("gedeeld@x.nl"));
        let entra: crate::config::oauth::OAuth2 = toml::from_str(MICROSOFT).unwrap();
        assert_eq!(super::super::subject(&entra, "a@x.nl"), None, "the app's token, whichever mailbox logs in");
    }

    #[test]
    fn one_organisation_keeps_one_source_for_imap_and_smtp() {
        let text = crate::config::tests::MINIMAL.replace("[smtp]", &format!("[oauth2]\n{MICROSOFT}\n\n[smtp]"));
        let text = text.replacen("password = ", "auth = \"oauth2\"\n# password = ", 1);
        let c = Config::parse(&text).unwrap();
        let shared = TokenSource::from_config(&c).unwrap().unwrap();
        let sources = for_mailboxes(&c, Some(&shared)).unwrap();
        assert!(sources.len() == 1 && Arc::ptr_eq(sources[0].as_ref().unwrap(), &shared));
        assert_eq!(label(&c, &shared, true), "oauth2");
    }
}
