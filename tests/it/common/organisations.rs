//! A deployment of several organisations, each with mailboxes of its own on the test mail
//! stack (issue 25), in one database: for any test with N organisations of M mailboxes.

use klachtd::config::Config;
use klachtd::store::Store;

use super::{config_text_without_organisation, unique, Db, MailStack, Running, TestDb, PASSWORD};

/// An organisation to set up: its key, reference prefix, the keys of its `procedure` table
/// (e.g. `preset = "awb"`), and how many mailboxes it has.
pub struct OrganisationSetup {
    pub key: &'static str,
    pub prefix: &'static str,
    pub procedure: &'static str,
    pub mailboxes: usize,
}

/// An organisation as set up: the address of each of its mailboxes (its login too); the first
/// is its complaints address.
pub struct Organisation {
    pub key: String,
    pub prefix: String,
    pub addresses: Vec<String>,
}

/// A case as the database has it, with its organisation and dates (`Store::case_detail` has
/// the rest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseRow {
    pub id: i64,
    pub reference: String,
    pub organisation: String,
    pub received_on: String,
    pub acknowledge_by: String,
    pub respond_by: String,
}

pub struct Deployment {
    pub stack: &'static MailStack,
    /// The configuration file's text (`config` is it parsed).
    text: String,
    pub dir: tempfile::TempDir,
    pub db: TestDb,
    pub config: Config,
    pub organisations: Vec<Organisation>,
    store: tokio::sync::OnceCell<Store>,
}

impl Deployment {
    /// The organisations of `setups` on the shared mail stack, with `extra` appended to the
    /// configuration (e.g. `[intake]`).
    pub async fn new(kind: Db, setups: &[OrganisationSetup], extra: &str) -> Deployment {
        let stack = MailStack::shared();
        let dir = tempfile::tempdir().unwrap();
        let db = TestDb::create(kind, dir.path()).await;
        let organisations: Vec<Organisation> = setups
            .iter()
            .map(|s| Organisation {
                key: s.key.to_string(),
                prefix: s.prefix.to_string(),
                addresses: (0..s.mailboxes.max(1)).map(|i| format!("{}@{}.test", unique(&format!("klachten{i}")), s.key)).collect(),
            })
            .collect();
        let mut text = config_text_without_organisation(stack, &db.url, dir.path(), extra);
        for (o, s) in organisations.iter().zip(setups) {
            text.push_str(&organisation_text(stack, o, s.procedure));
        }
        let config = Config::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert!(config.problems().is_empty(), "{:?}", config.problems());
        Deployment { stack, text, dir, db, config, organisations, store: tokio::sync::OnceCell::new() }
    }

    /// The organisation `key` writes its letters in `language` (`templates.language`).
    pub fn with_language(mut self, key: &str, language: &str) -> Deployment {
        let entry = format!("\n[[organisations]]\nkey = \"{key}\"\n");
        assert!(self.text.contains(&entry), "no organisation {key}");
        self.text = self.text.replacen(&entry, &format!("{entry}language = \"{language}\"\n"), 1);
        self.config = Config::parse(&self.text).unwrap_or_else(|e| panic!("{e}\n{}", self.text));
        self
    }

    /// The configuration as a file has it (for the command line).
    pub fn config_text(&self) -> &str {
        &self.text
    }

    pub fn start(&self) -> Running {
        Running::start(self.config.clone())
    }

    /// The test's own view of the database.
    pub async fn store(&self) -> &Store {
        self.store.get_or_init(|| async { Store::open(&self.config.database.url, 2).await.expect("open test database") }).await
    }

    /// Every case, in the order registered.
    pub async fn cases(&self) -> Vec<CaseRow> {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&self.config.database.url).await.unwrap();
        let rows: Vec<(i64, String, String, String, String, String)> =
            sqlx::query_as("SELECT id, reference, organisation, received_on, acknowledge_by, respond_by FROM cases ORDER BY id")
                .fetch_all(&pool)
                .await
                .unwrap();
        pool.close().await;
        rows.into_iter()
            .map(|(id, reference, organisation, received_on, acknowledge_by, respond_by)| CaseRow {
                id,
                reference,
                organisation,
                received_on,
                acknowledge_by,
                respond_by,
            })
            .collect()
    }

    /// A complaint to `to` from `from` as a mail client writes it; its Message-ID and bytes.
    pub fn complaint(&self, from: &str, to: &[&str], subject: &str, body: &str) -> (String, Vec<u8>) {
        let id = format!("{}@example.test", unique("msg"));
        let raw = format!(
            "From: Klager <{from}>\r\nTo: {}\r\nSubject: {subject}\r\nMessage-ID: <{id}>\r\nDate: Wed, 25 Nov 2026 10:00:00 +0100\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n",
            to.join(", ")
        );
        (id, raw.into_bytes())
    }

    /// Sends `raw` to each address of `to` (one SMTP transaction each, as a mail server does).
    pub async fn send(&self, from: &str, to: &[&str], raw: &[u8]) {
        for address in to {
            self.stack.send_raw(from, address, raw).await;
        }
    }
}

/// One `[[organisations]]` entry with its mailboxes.
fn organisation_text(stack: &MailStack, o: &Organisation, procedure: &str) -> String {
    let mut text = format!(
        "\n[[organisations]]\nkey = \"{key}\"\nname = \"Organisatie {key}\"\ncomplaints_address = \"{address}\"\nreference_prefix = \"{prefix}\"\nregulation_url = \"https://{key}.test/regeling\"\nprocedure = {{ {procedure} }}\n",
        key = o.key,
        address = o.addresses[0],
        prefix = o.prefix,
    );
    for (i, address) in o.addresses.iter().enumerate() {
        text.push_str(&format!(
            "\n[[organisations.mailboxes]]\nname = \"{key}-{i}\"\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\nuser = \"{address}\"\npassword = \"{PASSWORD}\"\ntimeout_secs = 20\n",
            key = o.key,
            port = stack.imap_port,
        ));
    }
    text
}
