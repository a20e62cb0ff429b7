//! Where a test's mailbox is: the mail stack (IMAP and SMTP) or the test Graph server, for the
//! end-to-end scenarios that run against both (`on_both_sources_and_databases!`).

use std::path::Path;

use super::{graph_server, oauth_idp, unique, World};

/// Declares each listed `async fn name(db: Db)` as `sqlite::name` and `postgres::name` against
/// the mail stack (IMAP and SMTP), and those in `both` also as `graph_sqlite::name` and
/// `graph_postgres::name` against the test Graph server (`World` reads the source from
/// [`SOURCE`]).
#[macro_export]
macro_rules! on_both_sources_and_databases {
    (both: [$($name:ident),* $(,)?], imap_only: [$($imap:ident),* $(,)?] $(,)?) => {
        on_both_databases!($($name,)* $($imap),*);
        mod graph_sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { $crate::common::SOURCE.scope($crate::common::Source::Graph, super::$name(super::Db::Sqlite)).await })*
        }
        mod graph_postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { $crate::common::SOURCE.scope($crate::common::Source::Graph, super::$name(super::Db::Postgres)).await })*
        }
    };
}

/// Where a test's complaints mailbox is: the mail stack, or the test Graph server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Imap,
    Graph,
}

tokio::task_local! {
    /// The mailbox source of the test running in this task (IMAP when not set).
    pub static SOURCE: Source;
}

/// The test's mailbox source.
pub fn source() -> Source {
    SOURCE.try_with(|s| *s).unwrap_or(Source::Imap)
}

/// `[graph]` and `[oauth2]` for a complaints mailbox on the test Graph server, with an app
/// registered at the test identity provider (its secret in a file under `dir`), polling every
/// second. Returns the text and the (tenant, client ID).
pub fn graph_config_text(complaints: &str, dir: &Path) -> (String, (String, String)) {
    let (tenant, client_id) = (unique("tenant"), unique("app"));
    let secret = dir.join("graph-secret");
    std::fs::write(&secret, "graph-app-secret\n").unwrap();
    let idp = oauth_idp::Idp::shared();
    idp.add_secret_client(&tenant, &client_id, "graph-app-secret", complaints);
    let text = format!(
        "[graph]\nmailbox = \"{complaints}\"\nurl = \"{url}\"\npoll_interval_secs = 1\ntimeout_secs = 20\n\n[oauth2]\nprovider = \"microsoft\"\ntenant = \"{tenant}\"\nclient_id = \"{client_id}\"\nclient_secret_file = \"{secret}\"\ntoken_url = \"{token_url}\"\n",
        url = graph_server::GraphServer::shared().url,
        secret = secret.display(),
        token_url = idp.microsoft_url(&tenant),
    );
    (text, (tenant, client_id))
}

impl World {
    /// Puts a mail straight into the complaints inbox (received at `internal_date`, IMAP's form).
    pub async fn append(&self, raw: &[u8], internal_date: Option<&str>) {
        match source() {
            Source::Imap => self.stack.append(&self.complaints, "INBOX", raw, internal_date).await,
            Source::Graph => {
                let at = internal_date
                    .map(|d| chrono::DateTime::parse_from_str(d.trim_matches('"'), "%d-%b-%Y %H:%M:%S %z").expect("an IMAP date").with_timezone(&chrono::Utc));
                graph_server::GraphServer::shared().deliver(&self.complaints, raw, at)
            }
        }
    }

    /// The mails in `user`'s folder, wherever the test's mailboxes are ("INBOX" is the inbox).
    pub async fn messages(&self, user: &str, folder: &str) -> Vec<Vec<u8>> {
        match source() {
            Source::Imap => self.stack.messages(user, folder).await,
            Source::Graph => graph_server::GraphServer::shared().messages(user, if folder == "INBOX" { "inbox" } else { folder }),
        }
    }
}
