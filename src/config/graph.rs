//! The `[graph]` section: the complaints mailbox through Microsoft Graph instead of IMAP and
//! SMTP (or one of them), with the `[oauth2]` app registration's application permissions
//! (`Mail.ReadWrite`, `Mail.Send`), and the checks `check-config` reports.

use serde::Deserialize;

use super::defaults::{default_ignored, default_max_message, default_processed, default_quarantine};
use super::{oauth::Provider, Config, Problem};

/// Where the complaints mailbox is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Receiving {
    Graph,
    Imap,
}

/// How the outbox sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sending {
    Graph,
    Smtp,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Graph {
    /// The complaints mailbox: its user principal name (the address) or its object ID.
    pub mailbox: String,
    #[serde(default = "default_receiving")]
    pub receiving: Receiving,
    #[serde(default = "default_sending")]
    pub sending: Sending,
    /// The folder new mail arrives in: a well-known name ("inbox") or a folder's display name.
    #[serde(default = "default_inbox")]
    pub inbox: String,
    #[serde(default = "default_processed")]
    pub processed_folder: String,
    #[serde(default = "default_ignored")]
    pub ignored_folder: String,
    #[serde(default = "default_quarantine")]
    pub quarantine_folder: String,
    /// How often the delta query asks for new mail.
    #[serde(default = "default_poll")]
    pub poll_interval_secs: u64,
    /// Whether mail sent through Graph is kept in Sent Items.
    #[serde(default = "default_true")]
    pub save_to_sent_items: bool,
    /// Limit for one request (a large mail's download gets more, by its size).
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// Mail larger than this is quarantined unread.
    #[serde(default = "default_max_message")]
    pub max_message_bytes: u64,
    /// The service root (national clouds, tests).
    #[serde(default = "default_url")]
    pub url: String,
    /// The scope asked of the token endpoint.
    #[serde(default = "default_scope")]
    pub scope: String,
    /// Extra CA certificate (PEM) to trust for the service root besides the system's.
    pub ca_file: Option<std::path::PathBuf>,
}

pub const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";

fn default_receiving() -> Receiving {
    Receiving::Graph
}
fn default_sending() -> Sending {
    Sending::Graph
}
fn default_inbox() -> String {
    "inbox".into()
}
fn default_poll() -> u64 {
    10
}
fn default_true() -> bool {
    true
}
fn default_timeout() -> u64 {
    60
}
fn default_url() -> String {
    "https://graph.microsoft.com/v1.0".into()
}
fn default_scope() -> String {
    GRAPH_SCOPE.into()
}

impl Graph {
    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.timeout_secs)
    }

    pub fn poll_interval(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.poll_interval_secs)
    }

    /// The `[oauth2]` section as Graph's tokens need it: Graph's scope.
    pub fn oauth2(&self, o: &super::oauth::OAuth2) -> super::oauth::OAuth2 {
        super::oauth::OAuth2 { scope: Some(self.scope.clone()), ..o.clone() }
    }
}

impl Config {
    /// Whether the mailbox is read through Graph.
    pub fn reads_graph(&self) -> bool {
        self.graph.as_ref().is_some_and(|g| g.receiving == Receiving::Graph)
    }

    /// Whether the outbox sends through Graph.
    pub fn sends_graph(&self) -> bool {
        self.graph.as_ref().is_some_and(|g| g.sending == Sending::Graph)
    }
}

/// Problems with `[graph]`.
pub fn problems(config: &Config) -> Vec<Problem> {
    let mut p = Vec::new();
    let Some(g) = &config.graph else { return p };
    let mut add = |key: &str, message: String, fix: &str| p.push(Problem { key: key.into(), message, fix: fix.into() });
    match &config.oauth2 {
        None => add(
            "graph",
            "needs an [oauth2] section (the app registration)".into(),
            "add [oauth2] with provider = \"microsoft\", tenant, client_id and a secret or certificate",
        ),
        Some(o) if !matches!(o.provider, Provider::Microsoft | Provider::Command) => {
            add("oauth2.provider", "Microsoft Graph takes tokens from Microsoft Entra ID".into(), "use provider = \"microsoft\" (or \"command\")")
        }
        Some(_) => {}
    }
    if g.mailbox.trim().is_empty() || g.mailbox.contains(['/', '?', '#', ' ']) {
        add("graph.mailbox", format!("{:?} is not a mailbox", g.mailbox), "the complaints mailbox's address (user principal name) or object ID");
    }
    let folders = [&g.inbox, &g.processed_folder, &g.ignored_folder, &g.quarantine_folder];
    if folders.iter().any(|f| f.trim().is_empty()) || folders.iter().enumerate().any(|(i, f)| folders[..i].iter().any(|o| o.eq_ignore_ascii_case(f))) {
        add("graph", "the inbox and the processed, ignored and quarantine folders must be four different, non-empty names".into(), "use the defaults");
    }
    if g.poll_interval_secs == 0 || g.timeout_secs == 0 {
        add("graph", "poll_interval_secs and timeout_secs must be at least 1 second".into(), "use the defaults");
    }
    match super::oauth::Url::parse(&g.url) {
        Ok(u) if !u.https && !super::check::is_loopback(&u.host) => {
            add("graph.url", format!("{} is not https", g.url), "leave it out (https://graph.microsoft.com/v1.0)")
        }
        Ok(_) => {}
        Err(e) => add("graph.url", e, "leave it out (https://graph.microsoft.com/v1.0)"),
    }
    p
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    const OAUTH: &str = "[oauth2]\nprovider = \"microsoft\"\ntenant = \"t\"\nclient_id = \"c\"\nclient_secret_env = \"X\"\n";

    #[test]
    fn a_graph_mailbox_is_configured_and_checked() {
        let c = Config::parse(&format!("{}\n[graph]\nmailbox = \"klachten@dienst.nl\"\n{OAUTH}", crate::config::tests::MINIMAL)).unwrap();
        let g = c.graph.as_ref().unwrap();
        assert!(c.reads_graph() && c.sends_graph() && g.save_to_sent_items);
        assert_eq!((g.inbox.as_str(), g.poll_interval_secs, g.url.as_str()), ("inbox", 10, "https://graph.microsoft.com/v1.0"));
        assert!(super::problems(&c).is_empty(), "{:?}", super::problems(&c));

        let c = Config::parse(&format!("{}\n[graph]\nmailbox = \"\"\nsending = \"smtp\"\nurl = \"http://graph.example\"\n", crate::config::tests::MINIMAL))
            .unwrap();
        assert!(c.reads_graph() && !c.sends_graph());
        let keys: Vec<_> = super::problems(&c).into_iter().map(|p| p.key).collect();
        assert_eq!(keys, ["graph", "graph.mailbox", "graph.url"]);
        assert!(Config::parse(&format!("{}\n[graph]\nmailbox = \"k@x.nl\"\nsending = \"pigeon\"\n", crate::config::tests::MINIMAL)).is_err());
    }

    #[test]
    fn every_documented_key_exists() {
        let example = include_str!("../../config/klachtd.example.toml");
        let block = example.split("# [graph]\n").nth(1).expect("the example documents [graph]").split("\n\n").next().unwrap();
        let keys: Vec<&str> =
            block.lines().filter_map(|l| l.strip_prefix("# ")).filter(|l| l.split_once(" = ").is_some_and(|(k, _)| !k.contains(' '))).collect();
        assert!(keys.len() >= 14, "{keys:?}");
        let c =
            Config::parse(&format!("{}\n[graph]\n{}\n{OAUTH}", crate::config::tests::MINIMAL, keys.join("\n"))).expect("every documented [graph] key is known");
        assert!(c.reads_graph() && c.sends_graph());
    }
}
