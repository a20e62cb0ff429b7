//! `[web.oidc]`: handlers sign in with their organisation's account (OpenID Connect: Microsoft
//! Entra ID, Google, or any provider with discovery) beside the e-mailed link. One claim of the
//! ID token is matched against a value configured per handler; nobody else gets in.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::{Config, Problem, Secret, SecretError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OidcProvider {
    /// Microsoft Entra ID: the issuer of one tenant.
    Entra,
    /// Google (Workspace): `https://accounts.google.com`, optionally one hosted domain.
    Google,
    /// Any provider that publishes `/.well-known/openid-configuration` under its issuer.
    Generic,
}

/// The claim of the ID token that names the handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Claim {
    Email,
    /// Entra's user principal name (an optional claim of the app registration).
    Upn,
    PreferredUsername,
    /// Entra's object id of the user: stable, never reassigned.
    Oid,
    /// The provider's subject: stable per user and application.
    Sub,
}

impl Claim {
    pub fn name(self) -> &'static str {
        match self {
            Claim::Email => "email",
            Claim::Upn => "upn",
            Claim::PreferredUsername => "preferred_username",
            Claim::Oid => "oid",
            Claim::Sub => "sub",
        }
    }

    /// Addresses and user names compare without case; identifiers exactly.
    pub fn matches(self, configured: &str, given: &str) -> bool {
        match self {
            Claim::Email | Claim::Upn | Claim::PreferredUsername => configured.trim().eq_ignore_ascii_case(given.trim()),
            Claim::Oid | Claim::Sub => configured.trim() == given,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Oidc {
    pub provider: OidcProvider,
    /// Entra: the directory (tenant) ID or a verified domain of the tenant.
    pub tenant: Option<String>,
    /// Generic: the issuer (required); Entra and Google: overrides the provider's.
    pub issuer: Option<String>,
    pub client_id: String,
    /// The client secret: exactly one of a file (a systemd credential) or a variable.
    pub client_secret_file: Option<PathBuf>,
    pub client_secret_env: Option<String>,
    /// Which claim names the handler.
    pub claim: Claim,
    /// Google: only accounts of this Workspace domain (the `hd` claim).
    pub hosted_domain: Option<String>,
    /// Extra CA certificate (PEM) to trust for the provider besides the system's.
    pub ca_file: Option<PathBuf>,
    /// Limit for one request to the provider, in seconds (default 15).
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// Per handler (their address in klachtd) the value of `claim` that signs them in.
    #[serde(default)]
    pub handlers: BTreeMap<String, String>,
}

fn default_timeout() -> u64 {
    15
}

/// Tenants that stand for many organisations: anyone with an account somewhere would pass.
const SHARED_TENANTS: &[&str] = &["common", "organizations", "consumers"];

impl Oidc {
    /// The issuer: configured, or the provider's.
    pub fn issuer(&self) -> String {
        let issuer = match (&self.issuer, self.provider) {
            (Some(i), _) => i.clone(),
            (None, OidcProvider::Entra) => format!("https://login.microsoftonline.com/{}/v2.0", self.tenant.as_deref().unwrap_or_default()),
            (None, OidcProvider::Google) => "https://accounts.google.com".to_string(),
            (None, OidcProvider::Generic) => String::new(),
        };
        issuer.trim_end_matches('/').to_string()
    }

    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.timeout_secs)
    }

    /// The client secret, read from its file or variable at each use.
    pub fn client_secret(&self) -> Result<String, String> {
        let secret = Secret { password: None, password_file: self.client_secret_file.as_deref(), password_env: self.client_secret_env.as_deref() };
        let value = secret.resolve("web.oidc").map_err(|e| match e {
            SecretError::File { path, source, .. } => format!("web.oidc.client_secret_file: cannot read {}: {source}", path.display()),
            SecretError::Env { var, .. } => format!("web.oidc.client_secret_env: environment variable {var} is not set"),
        })?;
        if value.trim().is_empty() {
            return Err("web.oidc: the client secret is empty".into());
        }
        Ok(value)
    }

    /// The handler whose configured value is `value` (of the configured claim).
    pub fn handler_for(&self, value: &str) -> Option<&str> {
        self.handlers.iter().find(|(_, v)| self.claim.matches(v, value)).map(|(h, _)| h.as_str())
    }
}

/// Problems with `[web.oidc]`; reads the secret only if `secrets`.
pub fn problems(config: &Config, secrets: bool) -> Vec<Problem> {
    let Some(o) = config.web.as_ref().and_then(|w| w.oidc.as_ref()) else { return Vec::new() };
    let mut p = Vec::new();
    let mut add = |key: &str, message: String, fix: &str| p.push(Problem { key: format!("web.oidc.{key}"), message, fix: fix.into() });
    let provider = format!("{:?}", o.provider).to_lowercase();
    match o.provider {
        OidcProvider::Entra => match o.tenant.as_deref().map(str::trim) {
            None | Some("") => add("tenant", "is required for provider \"entra\"".into(), "set the directory (tenant) ID from the app registration's overview page"),
            Some(t) if SHARED_TENANTS.contains(&t.to_ascii_lowercase().as_str()) => add(
                "tenant",
                format!("{t:?} admits accounts of every organisation"),
                "set your own directory (tenant) ID, e.g. 00000000-0000-0000-0000-000000000000",
            ),
            Some(t) if !t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-') => {
                add("tenant", "is not a tenant ID or domain".into(), "use the directory (tenant) ID or the tenant's domain")
            }
            Some(_) => {}
        },
        OidcProvider::Generic if o.issuer.as_deref().is_none_or(|i| i.trim().is_empty()) => {
            add("issuer", "is required for provider \"generic\"".into(), "set the provider's issuer URL (its discovery document is under it)")
        }
        _ => {}
    }
    if o.tenant.is_some() && o.provider != OidcProvider::Entra {
        add("tenant", format!("is not used by provider \"{provider}\""), "remove it");
    }
    if o.hosted_domain.is_some() && o.provider != OidcProvider::Google {
        add("hosted_domain", format!("is not used by provider \"{provider}\""), "remove it; it is Google's");
    }
    let issuer = o.issuer();
    if !issuer.is_empty() {
        match crate::config::oauth::Url::parse(&issuer) {
            Ok(u) if !u.https && !crate::config::check::is_loopback(&u.host) => add("issuer", format!("{issuer} is not https"), "use the provider's https:// issuer"),
            Ok(_) => {}
            Err(e) => add("issuer", e, "write the issuer URL, e.g. https://login.microsoftonline.com/TENANT/v2.0"),
        }
    }
    if o.client_id.trim().is_empty() {
        add("client_id", "is empty".into(), "set the application (client) ID the provider gave the app");
    }
    if u8::from(o.client_secret_file.is_some()) + u8::from(o.client_secret_env.is_some()) != 1 {
        add("client_secret_file", "needs exactly one of client_secret_file or client_secret_env".into(), "keep the secret in its own file (under systemd a credential), never in this file");
    } else if secrets {
        if let Err(e) = o.client_secret() {
            let key = if o.client_secret_env.is_some() { "client_secret_env" } else { "client_secret_file" };
            add(key, e, "make the file readable by the service (under systemd: LoadCredential=) or set the variable");
        }
    }
    let fits = match o.claim {
        Claim::Upn | Claim::Oid => o.provider != OidcProvider::Google,
        Claim::Email | Claim::PreferredUsername | Claim::Sub => true,
    };
    if !fits {
        add("claim", format!("Google's ID tokens carry no {:?}", o.claim.name()), "use \"email\" or \"sub\"");
    }
    if o.timeout_secs == 0 || o.timeout_secs > 120 {
        add("timeout_secs", format!("{} is not between 1 and 120", o.timeout_secs), "use the default (15)");
    }
    if let Some(ca) = o.ca_file.as_ref().filter(|ca| !ca.is_file()) {
        add("ca_file", format!("{} does not exist", ca.display()), "point it at a PEM certificate or remove the key");
    }
    handler_problems(o, &mut add);
    p
}

/// Each handler once, by address, each value once: one account signs in one handler.
fn handler_problems(o: &Oidc, add: &mut impl FnMut(&str, String, &str)) {
    if o.handlers.is_empty() {
        add("handlers", "names no handler, so no one could sign in".into(), "add a line per handler: \"their address\" = \"their claim's value\"");
    }
    let mut seen: Vec<&str> = Vec::new();
    for (handler, value) in &o.handlers {
        if crate::domain::vocabulary::EmailAddress::parse(handler).is_err() {
            add("handlers", format!("{handler:?} is not a handler's e-mail address"), "the key is the handler's address as klachtd knows it");
        }
        if value.trim().is_empty() {
            add("handlers", format!("{handler}: the value is empty"), &format!("write the handler's {} as the provider sends it", o.claim.name()));
        } else if seen.iter().any(|s| o.claim.matches(s, value)) {
            add("handlers", format!("{handler}: {value:?} is given to another handler too"), "one account signs in one handler");
        }
        seen.push(value);
    }
}
