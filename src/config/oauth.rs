//! The `[oauth2]` section: how klachtd gets the access tokens it logs in to IMAP and SMTP with
//! when `imap.auth` / `smtp.auth` is "oauth2", and the checks `check-config` reports.

use std::path::PathBuf;

use serde::Deserialize;

use super::check::Problems;
use super::organisations::MailboxSpec;
use super::{AuthMode, ClientSecretError, Config, Problem, TlsMode};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// Microsoft Entra ID (Exchange Online): client credentials, with a secret or a certificate.
    Microsoft,
    /// Google Workspace: a service account with domain-wide delegation (JWT bearer grant).
    Google,
    /// Any OAuth 2.0 token endpoint: client credentials with a client secret.
    Generic,
    /// A command whose standard output is the access token.
    Command,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuth2 {
    pub provider: Provider,
    /// Microsoft: the directory (tenant) ID or a verified domain.
    pub tenant: Option<String>,
    /// Microsoft, generic: the application (client) ID.
    pub client_id: Option<String>,
    /// Microsoft, generic: the client secret, from a file or an environment variable.
    pub client_secret_file: Option<PathBuf>,
    pub client_secret_env: Option<String>,
    /// Microsoft: a certificate (PEM) registered with the app, and its RSA private key (PEM,
    /// PKCS#8 or PKCS#1), instead of a client secret.
    pub certificate_file: Option<PathBuf>,
    pub private_key_file: Option<PathBuf>,
    /// Google: the service account's JSON key file.
    pub service_account_file: Option<PathBuf>,
    /// Google: the mailbox to act for (default: imap.user).
    pub mailbox: Option<String>,
    /// The scope asked for; required for "generic", a default for the others.
    pub scope: Option<String>,
    /// Overrides the provider's token endpoint (sovereign clouds, tests); required for "generic".
    pub token_url: Option<String>,
    /// Command: run with `sh -c`; its standard output (trimmed) is the access token.
    pub token_command: Option<String>,
    /// Extra CA certificate (PEM) to trust for the token endpoint besides the system's.
    pub ca_file: Option<PathBuf>,
    /// Limit for one token request or command, in seconds (default 30).
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
}

fn default_timeout() -> u64 {
    30
}

pub const MICROSOFT_SCOPE: &str = "https://outlook.office365.com/.default";
pub const GOOGLE_SCOPE: &str = "https://mail.google.com/";

impl OAuth2 {
    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.timeout_secs)
    }

    /// The token endpoint: `token_url`, or the provider's (Google's comes from the key file).
    pub fn microsoft_token_url(&self) -> String {
        self.token_url.clone().unwrap_or_else(|| format!("https://login.microsoftonline.com/{}/oauth2/v2.0/token", self.tenant.as_deref().unwrap_or_default()))
    }

    pub fn scope_or(&self, default: &str) -> String {
        self.scope.clone().unwrap_or_else(|| default.to_string())
    }

    /// The client secret, read from its file (trailing newline trimmed) or variable.
    pub fn client_secret(&self) -> Result<String, ClientSecretError> {
        const SECTION: &str = "oauth2";
        let secret = if let Some(path) = &self.client_secret_file {
            std::fs::read_to_string(path)
                .map_err(|error| ClientSecretError::File { section: SECTION, path: path.clone(), error })?
                .trim_end_matches(['\r', '\n'])
                .to_string()
        } else if let Some(var) = &self.client_secret_env {
            std::env::var(var).map_err(|_| ClientSecretError::Env { section: SECTION, var: var.clone() })?
        } else {
            return Err(ClientSecretError::Missing { section: SECTION });
        };
        if secret.trim().is_empty() {
            return Err(ClientSecretError::Empty { section: SECTION });
        }
        Ok(secret)
    }
}

/// Problems with `[oauth2]`, each mailbox's `oauth2` table and the `auth` keys; reads secrets
/// and key files only if `secrets`.
pub fn problems(config: &Config, secrets: bool) -> Vec<Problem> {
    let mut p = Problems::default();
    if config.lists_organisations() {
        listed_auth_keys(config, &mut p);
    } else {
        auth_keys(config, &mut p);
    }
    let own = config.mailboxes().into_iter().filter_map(|m| m.own_oauth2.map(|o| (format!("{}.oauth2", m.config_key), o)));
    for (section, o) in config.oauth2.iter().map(|o| ("oauth2".to_string(), o.clone())).chain(own) {
        if o.timeout_secs == 0 {
            p.add(&format!("{section}.timeout_secs"), "must be at least 1 second".into(), "use the default (30)");
        }
        o.foreign_keys(&section, &mut p);
        o.required_keys(&section, &mut p);
        o.credentials(&section, &mut p, secrets);
        o.endpoints(&section, &mut p);
    }
    p.0
}

impl MailboxSpec {
    /// The table this mailbox's tokens come from: its own `oauth2`, else the top-level
    /// `[oauth2]` (one app registration for several mailboxes).
    pub fn oauth2<'a>(&'a self, config: &'a Config) -> Option<&'a OAuth2> {
        self.own_oauth2.as_ref().or(config.oauth2.as_ref())
    }

    /// That table's key in the file.
    pub fn oauth2_key(&self) -> String {
        if self.own_oauth2.is_some() {
            format!("{}.oauth2", self.config_key)
        } else {
            "oauth2".into()
        }
    }
}

/// `[[organisations]]`: each mailbox with `auth = "oauth2"` has a table to take tokens from, TLS
/// and no password; a mailbox's `oauth2` goes with its `auth = "oauth2"`; `[smtp]` as in
/// [`auth_keys`]; and `[oauth2]` serves SMTP or a mailbox without a table of its own.
fn listed_auth_keys(config: &Config, p: &mut Problems) {
    let mut top_used = config.graph.is_some();
    for m in config.mailboxes() {
        let key = &m.config_key;
        if m.imap.auth != AuthMode::Oauth2 {
            if m.own_oauth2.is_some() {
                p.add(
                    &format!("{key}.oauth2"),
                    "is given but auth is not \"oauth2\"".into(),
                    "set auth = \"oauth2\" in this mailbox, or remove its oauth2 table",
                );
            }
            continue;
        }
        top_used |= m.own_oauth2.is_none();
        if m.oauth2(config).is_none() {
            p.add(
                &format!("{key}.auth"),
                "\"oauth2\" needs an oauth2 table in this mailbox or an [oauth2] section".into(),
                "add [organisations.mailboxes.oauth2] for this mailbox's own app registration, or a top-level [oauth2] (see README, \"Several organisations\")",
            );
        }
        if m.imap.tls == TlsMode::None {
            p.add(
                &format!("{key}.tls"),
                "\"none\" with auth = \"oauth2\" would send the access token in clear text".into(),
                "use \"implicit\" or \"starttls\"",
            );
        }
        if m.imap.password.is_some() || m.imap.password_file.is_some() || m.imap.password_env.is_some() {
            p.add(&format!("{key}.password"), "is not used with auth = \"oauth2\"".into(), "remove password, password_file and password_env from this mailbox");
        }
    }
    let smtp = config.smtp.auth == AuthMode::Oauth2;
    if smtp {
        if config.oauth2.is_none() {
            p.add(
                "smtp.auth",
                "\"oauth2\" needs an [oauth2] section".into(),
                "add [oauth2] with provider = \"microsoft\", \"google\", \"generic\" or \"command\" (see the example configuration)",
            );
        }
        if config.smtp.tls == TlsMode::None {
            p.add("smtp.tls", "\"none\" with auth = \"oauth2\" would send the access token in clear text".into(), "use \"implicit\" or \"starttls\"");
        }
        if config.smtp.password.is_some() || config.smtp.password_file.is_some() || config.smtp.password_env.is_some() {
            p.add("smtp.password", "is not used with auth = \"oauth2\"".into(), "remove password, password_file and password_env from [smtp]");
        }
    }
    if config.oauth2.is_some() && !top_used && !smtp {
        p.add(
            "oauth2",
            "is configured but neither smtp.auth nor the auth of a mailbox without its own oauth2 table is \"oauth2\"".into(),
            "set auth = \"oauth2\" in [smtp] or a mailbox, or remove [oauth2]",
        );
    }
}

/// `auth = "oauth2"` in `[imap]` or `[smtp]`: an `[oauth2]` section, TLS for the token, no
/// password beside it; and an `[oauth2]` section that something uses.
fn auth_keys(config: &Config, p: &mut Problems) {
    let imap = config.imap().auth == crate::config::AuthMode::Oauth2;
    let smtp = config.smtp.auth == crate::config::AuthMode::Oauth2;
    for (section, used, tls) in [("imap", imap, config.imap().tls), ("smtp", smtp, config.smtp.tls)] {
        if !used {
            continue;
        }
        if config.oauth2.is_none() {
            p.add(
                &format!("{section}.auth"),
                "\"oauth2\" needs an [oauth2] section".into(),
                "add [oauth2] with provider = \"microsoft\", \"google\", \"generic\" or \"command\" (see the example configuration)",
            );
        }
        if tls == TlsMode::None {
            p.add(
                &format!("{section}.tls"),
                "\"none\" with auth = \"oauth2\" would send the access token in clear text".into(),
                "use \"implicit\" or \"starttls\"",
            );
        }
    }
    if imap && (config.imap().password.is_some() || config.imap().password_file.is_some() || config.imap().password_env.is_some()) {
        p.add("imap.password", "is not used with auth = \"oauth2\"".into(), "remove password, password_file and password_env from [imap]");
    }
    if smtp && (config.smtp.password.is_some() || config.smtp.password_file.is_some() || config.smtp.password_env.is_some()) {
        p.add("smtp.password", "is not used with auth = \"oauth2\"".into(), "remove password, password_file and password_env from [smtp]");
    }
    if config.oauth2.is_some() && !imap && !smtp && config.graph.is_none() {
        p.add(
            "oauth2",
            "is configured but neither imap.auth nor smtp.auth is \"oauth2\"".into(),
            "set auth = \"oauth2\" in [imap] and [smtp], or remove [oauth2]",
        );
    }
}

impl OAuth2 {
    fn provider_name(&self) -> String {
        format!("{:?}", self.provider).to_lowercase()
    }

    /// Keys that mean nothing for this provider are mistakes (a misplaced or misspelt setting).
    fn foreign_keys(&self, section: &str, p: &mut Problems) {
        let allowed: &[&str] = match self.provider {
            Provider::Microsoft => {
                &["tenant", "client_id", "client_secret_file", "client_secret_env", "certificate_file", "private_key_file", "scope", "token_url", "ca_file"]
            }
            Provider::Google => &["service_account_file", "mailbox", "scope", "token_url", "ca_file"],
            Provider::Generic => &["client_id", "client_secret_file", "client_secret_env", "scope", "token_url", "ca_file"],
            Provider::Command => &["token_command"],
        };
        let given = [
            ("tenant", self.tenant.is_some()),
            ("client_id", self.client_id.is_some()),
            ("client_secret_file", self.client_secret_file.is_some()),
            ("client_secret_env", self.client_secret_env.is_some()),
            ("certificate_file", self.certificate_file.is_some()),
            ("private_key_file", self.private_key_file.is_some()),
            ("service_account_file", self.service_account_file.is_some()),
            ("mailbox", self.mailbox.is_some()),
            ("scope", self.scope.is_some()),
            ("token_url", self.token_url.is_some()),
            ("token_command", self.token_command.is_some()),
            ("ca_file", self.ca_file.is_some()),
        ];
        let provider = self.provider_name();
        for (key, set) in given {
            if set && !allowed.contains(&key) {
                p.add(
                    &format!("{section}.{key}"),
                    format!("is not used by provider \"{provider}\""),
                    &format!("remove it; provider \"{provider}\" takes {}", allowed.join(", ")),
                );
            }
        }
    }

    /// The keys this provider cannot do without, and a tenant that is an ID or a domain.
    fn required_keys(&self, section: &str, p: &mut Problems) {
        let provider = self.provider_name();
        if self.provider == Provider::Microsoft
            && !self.tenant.as_deref().is_none_or(|t| t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-'))
        {
            p.add(
                &format!("{section}.tenant"),
                "is not a tenant ID or domain".into(),
                "use the directory (tenant) ID, e.g. 00000000-0000-0000-0000-000000000000, or the tenant's domain",
            );
        }
        let mut require = |key: &str, value: Option<&str>, fix: &str| {
            if value.is_none_or(|v| v.trim().is_empty()) {
                p.add(&format!("{section}.{key}"), format!("is required for provider \"{provider}\""), fix);
            }
        };
        match self.provider {
            Provider::Microsoft => {
                require("tenant", self.tenant.as_deref(), "set the directory (tenant) ID from the app registration's overview page");
                require("client_id", self.client_id.as_deref(), "set the application (client) ID from the app registration's overview page");
            }
            Provider::Google => {
                require("service_account_file", self.service_account_file.as_ref().and_then(|p| p.to_str()), "point it at the service account's JSON key file")
            }
            Provider::Generic => {
                require("token_url", self.token_url.as_deref(), "set the provider's token endpoint");
                require("client_id", self.client_id.as_deref(), "set the client ID");
                require("scope", self.scope.as_deref(), "set the scope that grants IMAP and SMTP access");
            }
            Provider::Command => require("token_command", self.token_command.as_deref(), "set a command that prints an access token"),
        }
    }

    /// Exactly one kind of client credentials (Microsoft, generic), readable if `secrets`; for
    /// Google a readable key file.
    fn credentials(&self, section: &str, p: &mut Problems, secrets: bool) {
        if matches!(self.provider, Provider::Microsoft | Provider::Generic) {
            let cert = self.certificate_file.is_some() || self.private_key_file.is_some();
            let sources = [self.client_secret_file.is_some(), self.client_secret_env.is_some(), cert].iter().filter(|b| **b).count();
            if sources != 1 {
                let what = if self.provider == Provider::Microsoft {
                    "client_secret_file, client_secret_env, or certificate_file with private_key_file"
                } else {
                    "client_secret_file or client_secret_env"
                };
                p.add(
                    &format!("{section}.client_secret_file"),
                    format!("needs exactly one of {what}"),
                    "keep one; the secret lives in its own file (under systemd a credential), never in this file",
                );
            } else if cert && (self.certificate_file.is_none() || self.private_key_file.is_none()) {
                p.add(
                    &format!("{section}.certificate_file"),
                    "certificate_file and private_key_file go together".into(),
                    "set both: the certificate uploaded to the app registration and its private key",
                );
            } else if secrets && cert {
                // Readable here; whether they are a certificate and its key the token source
                // finds out when the daemon starts.
                for (key, path) in [("certificate_file", &self.certificate_file), ("private_key_file", &self.private_key_file)] {
                    if let Some(Err(e)) = path.as_deref().map(std::fs::metadata) {
                        let path = path.as_deref().unwrap_or(std::path::Path::new("")).display();
                        p.add(
                            &format!("{section}.{key}"),
                            format!("cannot read {path}: {e}"),
                            "give a PEM certificate and its RSA private key (PEM, PKCS#8 or PKCS#1), readable by the service",
                        );
                    }
                }
            } else if secrets {
                if let Err(e) = self.client_secret() {
                    let key = if self.client_secret_env.is_some() { "client_secret_env" } else { "client_secret_file" };
                    p.add(
                        &format!("{section}.{key}"),
                        e.reason(),
                        "make the file readable by the service (under systemd: LoadCredential=) or set the variable",
                    );
                }
            }
        }
        if secrets && self.provider == Provider::Google {
            if let Some(path) = &self.service_account_file {
                if let Err(e) = std::fs::File::open(path) {
                    p.add(
                        &format!("{section}.service_account_file"),
                        format!("cannot read {}: {e}", path.display()),
                        "download a JSON key of the service account (IAM, Service accounts, Keys) and make it readable by the service",
                    );
                }
            }
        }
    }

    /// The extra CA certificate exists, and the token endpoint is https (http only to localhost).
    fn endpoints(&self, section: &str, p: &mut Problems) {
        if let Some(ca) = self.ca_file.as_ref().filter(|ca| !ca.is_file()) {
            p.add(&format!("{section}.ca_file"), format!("{} does not exist", ca.display()), "point it at a PEM certificate or remove the key");
        }
        if let Some(url) = &self.token_url {
            match Url::parse(url) {
                Ok(u) if !u.https && !crate::config::check::is_loopback(&u.host) => {
                    p.add(&format!("{section}.token_url"), format!("{url} is not https"), "use the provider's https:// endpoint; http:// only for localhost")
                }
                Ok(_) => {}
                Err(e) => p.add(&format!("{section}.token_url"), e, "write a URL like https://login.example.com/oauth2/token"),
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub https: bool,
    pub host: String,
    pub port: u16,
    /// Path and query, starting with '/'.
    pub path: String,
}

impl Url {
    pub fn parse(url: &str) -> Result<Url, String> {
        let (https, rest) = if let Some(r) = url.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = url.strip_prefix("http://") {
            (false, r)
        } else {
            return Err(format!("{url:?} is not an http(s) URL"));
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.contains('@') || authority.is_empty() || path.contains(char::is_whitespace) {
            return Err(format!("{url:?} is not a usable URL"));
        }
        let default = if https { 443 } else { 80 };
        // "[::1]:8080", "[::1]", "host:8080", "host".
        let (host, port) = match authority.strip_prefix('[').and_then(|a| a.split_once(']')) {
            Some((h, "")) => (h, None),
            Some((h, p)) => (h, Some(p.strip_prefix(':').unwrap_or("?"))),
            None => match authority.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            },
        };
        let port = match port {
            Some(p) => p.parse::<u16>().map_err(|_| format!("{url:?} has a bad port"))?,
            None => default,
        };
        Ok(Url { https, host: host.to_string(), port, path: path.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    /// The example's [oauth2] block with its keys uncommented, under a configuration that uses it.
    fn example_oauth2() -> String {
        let example = include_str!("../../config/klachtd.example.toml");
        let block = example.split("# [oauth2]\n").nth(1).expect("the example documents [oauth2]");
        let keys: Vec<&str> =
            block.lines().filter_map(|l| l.strip_prefix("# ")).filter(|l| l.split_once(" = ").is_some_and(|(k, _)| !k.contains(' '))).collect();
        let base = include_str!("../../config/klachtd.example.toml")
            .split("\n# [oauth2]")
            .next()
            .unwrap()
            .replace("# auth = \"password\"", "auth = \"oauth2\"")
            .replace("password_file = \"/etc/klachtd/imap-password\"\n", "")
            .replace("password_env = \"KLACHTD_SMTP_PASSWORD\"\n", "");
        format!("{base}\n[oauth2]\n{}\n", keys.join("\n"))
    }

    #[test]
    fn every_documented_key_exists_and_foreign_keys_are_named() {
        let c = Config::parse(&example_oauth2()).expect("every documented [oauth2] key is known");
        let o = c.oauth2.as_ref().unwrap();
        assert_eq!(o.provider, super::Provider::Microsoft);
        assert_eq!(o.timeout_secs, 30);
        let keys: Vec<_> = c.problems().into_iter().map(|p| p.key).collect();
        // All keys at once: Google's and the command's do not belong to Microsoft, and a secret
        // and a certificate together are one credential too many.
        assert_eq!(keys, ["oauth2.service_account_file", "oauth2.mailbox", "oauth2.token_command", "oauth2.client_secret_file", "oauth2.ca_file"], "{keys:?}");
    }

    #[test]
    fn oauth2_needs_tls() {
        let text = example_oauth2().replace("tls = \"implicit\"", "tls = \"none\"").replace("host = \"imap.example.nl\"", "host = \"127.0.0.1\"");
        let keys: Vec<_> = Config::parse(&text).unwrap().problems().into_iter().map(|p| p.key).collect();
        assert!(keys.contains(&"imap.tls".to_string()), "{keys:?}");
    }
}
