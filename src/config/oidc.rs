//! `[web.oidc]`: handlers sign in with their organisation's account (OpenID Connect: Microsoft
//! Entra ID, Google, or any provider with discovery) beside the e-mailed link. One claim of the
//! ID token is matched against a value configured per handler; nobody else gets in.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::{ClientSecretError, Config, Problem, Secret, SecretError};

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
    pub fn client_secret(&self) -> Result<String, ClientSecretError> {
        const SECTION: &str = "web.oidc";
        let secret = Secret { password: None, password_file: self.client_secret_file.as_deref(), password_env: self.client_secret_env.as_deref() };
        let value = secret.resolve(SECTION).map_err(|e| match e {
            SecretError::File { path, source, .. } => ClientSecretError::File { section: SECTION, path, error: source },
            SecretError::Env { var, .. } => ClientSecretError::Env { section: SECTION, var },
        })?;
        if value.trim().is_empty() {
            return Err(ClientSecretError::Empty { section: SECTION });
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
            None | Some("") => {
                add("tenant", "is required for provider \"entra\"".into(), "set the directory (tenant) ID from the app registration's overview page")
            }
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
            Ok(u) if !u.https && !crate::config::check::is_loopback(&u.host) => {
                add("issuer", format!("{issuer} is not https"), "use the provider's https:// issuer")
            }
            Ok(_) => {}
            Err(e) => add("issuer", e, "write the issuer URL, e.g. https://login.microsoftonline.com/TENANT/v2.0"),
        }
    }
    if o.client_id.trim().is_empty() {
        add("client_id", "is empty".into(), "set the application (client) ID the provider gave the app");
    }
    if u8::from(o.client_secret_file.is_some()) + u8::from(o.client_secret_env.is_some()) != 1 {
        add(
            "client_secret_file",
            "needs exactly one of client_secret_file or client_secret_env".into(),
            "keep the secret in its own file (under systemd a credential), never in this file",
        );
    } else if secrets {
        if let Err(e) = o.client_secret() {
            let key = if o.client_secret_env.is_some() { "client_secret_env" } else { "client_secret_file" };
            add(key, e.reason(), "make the file readable by the service (under systemd: LoadCredential=) or set the variable");
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

#[cfg(test)]
mod tests {
    use crate::config::Config;

    /// The minimal configuration with `web` appended.
    fn config(web: &str) -> Config {
        let text = format!(
            "[organisation]\nname = \"X\"\ncomplaints_address = \"klachten@example.nl\"\nregulation_url = \"https://example.nl/r\"\n\
             [imap]\nhost = \"127.0.0.1\"\nport = 143\nuser = \"u\"\npassword = \"p\"\ntls = \"none\"\n[smtp]\nhost = \"127.0.0.1\"\nport = 25\ntls = \"none\"\n\
             [web]\nlisten = \"127.0.0.1:8080\"\n{web}"
        );
        Config::parse(&text).unwrap()
    }

    /// The problems, without reading secrets (the variables named here are not set).
    fn problems(oidc: &str) -> Vec<String> {
        config(oidc).check(false).into_iter().map(|p| p.key).collect()
    }

    const HANDLERS: &str = "[web.oidc.handlers]\n\"a.smit@example.nl\" = \"oid-a\"\n";

    #[test]
    fn every_documented_key_exists_and_foreign_keys_are_named() {
        let example = include_str!("../../config/klachtd.example.toml");
        let block = example.split("# [web.oidc]\n").nth(1).expect("the example documents [web.oidc]").split("\n\n").next().unwrap();
        let uncommented: Vec<&str> = block.lines().filter_map(|l| l.strip_prefix("# ")).filter(|l| l.starts_with('[') || l.contains(" = ")).collect();
        let c = config(&format!("[web.oidc]\n{}\n", uncommented.join("\n")));
        let o = c.web.as_ref().unwrap().oidc.as_ref().expect("every documented [web.oidc] key is known");
        assert_eq!((o.timeout_secs, o.handlers.len()), (15, 1));
        assert_eq!(o.handler_for("22222222-2222-2222-2222-222222222222"), Some("a.smit@example.nl"));
        // All keys at once: Google's hd is not Entra's, two secrets are one too many, and the CA
        // file is not there.
        let keys: Vec<_> = c.check(false).into_iter().map(|p| p.key).collect();
        assert_eq!(keys, ["web.oidc.hosted_domain", "web.oidc.client_secret_file", "web.oidc.ca_file"], "{keys:?}");
    }

    #[test]
    fn each_provider_needs_its_keys() {
        let base = "client_id = \"app\"\nclient_secret_env = \"S\"\nclaim = \"email\"\n";
        let ok = |extra: &str| problems(&format!("[web.oidc]\n{base}{extra}{HANDLERS}"));
        assert!(ok("provider = \"entra\"\ntenant = \"contoso.onmicrosoft.com\"\n").is_empty());
        assert!(ok("provider = \"google\"\nhosted_domain = \"example.nl\"\n").is_empty());
        assert!(ok("provider = \"generic\"\nissuer = \"http://127.0.0.1:9000\"\n").is_empty());
        assert_eq!(ok("provider = \"entra\"\n"), ["web.oidc.tenant"]);
        assert_eq!(ok("provider = \"entra\"\ntenant = \"common\"\n"), ["web.oidc.tenant"]);
        assert_eq!(ok("provider = \"generic\"\n"), ["web.oidc.issuer"]);
        assert_eq!(ok("provider = \"generic\"\nissuer = \"http://idp.example.nl\"\n"), ["web.oidc.issuer"], "plain HTTP only on loopback");
        assert_eq!(ok("provider = \"google\"\ntenant = \"x\"\n"), ["web.oidc.tenant"]);
        let google_oid = problems(&format!("[web.oidc]\nprovider = \"google\"\nclient_id = \"app\"\nclient_secret_env = \"S\"\nclaim = \"oid\"\n{HANDLERS}"));
        assert_eq!(google_oid, ["web.oidc.claim"]);
    }

    #[test]
    fn handlers_are_addresses_with_a_value_each_and_one_account_signs_in_one() {
        let head = "[web.oidc]\nprovider = \"google\"\nclient_id = \"app\"\nclient_secret_env = \"S\"\nclaim = \"email\"\n[web.oidc.handlers]\n";
        assert_eq!(problems(head), ["web.oidc.handlers"], "nobody could sign in");
        assert_eq!(problems(&format!("{head}\"ann\" = \"a@x.nl\"\n")), ["web.oidc.handlers"]);
        assert_eq!(problems(&format!("{head}\"a@x.nl\" = \" \"\n")), ["web.oidc.handlers"]);
        assert_eq!(problems(&format!("{head}\"a@x.nl\" = \"ann@x.nl\"\n\"b@x.nl\" = \"ANN@x.nl\"\n")), ["web.oidc.handlers"]);
        let c = config(&format!("{head}\"a@x.nl\" = \"Ann@X.nl\"\n"));
        let o = c.web.as_ref().unwrap().oidc.as_ref().unwrap();
        assert_eq!(o.handler_for("ann@x.nl"), Some("a@x.nl"), "addresses compare without case");
        assert_eq!(o.handler_for("bob@x.nl"), None);
        assert_eq!(o.issuer(), "https://accounts.google.com");
    }

    #[test]
    fn identifiers_compare_exactly_and_the_secret_is_read_when_asked() {
        let head = "[web.oidc]\nprovider = \"entra\"\ntenant = \"t\"\nclient_id = \"app\"\nclient_secret_file = \"/nonexistent/secret\"\nclaim = \"oid\"\n";
        let c = config(&format!("{head}[web.oidc.handlers]\n\"a@x.nl\" = \"AbC\"\n"));
        let o = c.web.as_ref().unwrap().oidc.as_ref().unwrap();
        assert_eq!((o.handler_for("AbC"), o.handler_for("abc")), (Some("a@x.nl"), None));
        assert_eq!(o.issuer(), "https://login.microsoftonline.com/t/v2.0");
        assert!(o.client_secret().unwrap_err().to_string().starts_with("web.oidc.client_secret_file: cannot read /nonexistent/secret: "));
        // Without secrets (the command line) the file is not read; with them it is a problem.
        assert!(c.check(false).is_empty());
        assert_eq!(c.check(true).into_iter().map(|p| p.key).collect::<Vec<_>>(), ["web.oidc.client_secret_file"]);
    }
}
