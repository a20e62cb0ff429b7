//! OAuth 2.0 per mailbox with several organisations (issue 25), against the stack in its OAuth
//! mode (see tests/it/oauth.rs): Werkplein's mailbox logs in with tokens of its own Entra ID
//! tenant's app (its `[organisations.mailboxes.oauth2]`); Schuldhulp's two mailboxes and SMTP
//! with those of the shared `[oauth2]`, a Google service account acting for each mailbox.

use std::path::PathBuf;

use crate::common::oauth_idp::{self as idp, Idp};
use crate::common::*;
use crate::oauth::{assert_not_in, klachtd, stack, DOMAIN};
use klachtd::config::Config;

const SERVICE_ACCOUNT: &str = "klachtd@gedeeld.iam.gserviceaccount.test";

/// Two organisations, their mailboxes, tenants, database and files.
struct Setup {
    stack: &'static MailStack,
    idp: &'static Idp,
    dir: tempfile::TempDir,
    db: TestDb,
    /// Werkplein's own tenant, and the one of the shared service account.
    wp_tenant: String,
    shared_tenant: String,
    /// Werkplein's mailbox (outside the token-only domain: SMTP logs in as Schuldhulp's).
    wp: String,
    /// Schuldhulp's complaints mailbox (SMTP's login too) and its second mailbox.
    sh: [String; 2],
    secret: String,
    key_file: PathBuf,
}

impl Setup {
    /// Each app granted its mailboxes: Werkplein's app its one, the service account both of
    /// Schuldhulp's unless `sh_second_granted` is false.
    async fn new(sh_second_granted: bool) -> Setup {
        let (stack, idp) = (stack(), Idp::shared());
        let dir = tempfile::tempdir().unwrap();
        let db = TestDb::create(Db::Sqlite, dir.path()).await;
        let (wp_tenant, shared_tenant) = (unique("wp-tenant"), unique("gedeeld"));
        let wp = format!("{}@wp.test", unique("klachten"));
        let sh = [format!("{}@{DOMAIN}", unique("klachten-sh")), format!("{}@{DOMAIN}", unique("schuldhulp"))];
        let secret = format!("{}~Secr3tValue", unique("s"));
        idp.add_secret_client(&wp_tenant, "wp-app", &secret, &wp);
        std::fs::write(dir.path().join("wp-secret"), format!("{secret}\n")).unwrap();
        let (key, _, public, _) = idp::rsa_key_and_certificate(dir.path(), "sa");
        idp.add_service_account(&shared_tenant, SERVICE_ACCOUNT, public, &sh[0]);
        if sh_second_granted {
            idp.grant_service_account(&shared_tenant, SERVICE_ACCOUNT, &sh[1]);
        }
        let https = idp.https_base(&stack.dir.join("tls/server.pem"), &stack.dir.join("tls/server.key"));
        let key_file = dir.path().join("service-account.json");
        let json = serde_json::json!({"type": "service_account", "client_email": SERVICE_ACCOUNT, "private_key": std::fs::read_to_string(&key).unwrap(), "private_key_id": "k1", "token_uri": format!("{https}/{shared_tenant}/google/token")});
        std::fs::write(&key_file, json.to_string()).unwrap();
        Setup { stack, idp, dir, db, wp_tenant, shared_tenant, wp, sh, secret, key_file }
    }

    fn mailbox(&self, name: &str, user: &str) -> String {
        format!(
            "\n[[organisations.mailboxes]]\nname = \"{name}\"\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"implicit\"\nca_file = \"{ca}\"\nuser = \"{user}\"\nauth = \"oauth2\"\ntimeout_secs = 20\n",
            port = self.stack.imaps_port,
            ca = self.stack.ca.display(),
        )
    }

    fn text(&self) -> String {
        let ca = self.stack.ca.display();
        let mut text = format!(
            "[database]\nurl = \"{db}\"\n\n[storage]\ndata_dir = \"{data}\"\n\n[smtp]\nhost = \"127.0.0.1\"\nport = {smtp}\ntls = \"starttls\"\nca_file = \"{ca}\"\nuser = \"{sh}\"\nauth = \"oauth2\"\ntimeout_secs = 10\n\n[outbox]\npoll_interval_secs = 1\nmax_backoff_secs = 2\n\n[intake]\nacknowledge_since = \"2000-01-01\"\n\n[oauth2]\nprovider = \"google\"\nservice_account_file = {key:?}\nca_file = \"{ca}\"\n",
            db = self.db.url,
            data = self.dir.path().join("data").display(),
            smtp = self.stack.smtp_port,
            sh = self.sh[0],
            key = self.key_file,
        );
        text.push_str(&format!(
            "\n[[organisations]]\nkey = \"wp\"\nname = \"Werkplein\"\ncomplaints_address = \"{wp}\"\nreference_prefix = \"WP\"\nregulation_url = \"https://wp.test/regeling\"\n",
            wp = self.wp
        ));
        text.push_str(&self.mailbox("wp-klachten", &self.wp));
        text.push_str(&format!(
            "\n[organisations.mailboxes.oauth2]\nprovider = \"microsoft\"\ntenant = \"{t}\"\nclient_id = \"wp-app\"\nclient_secret_file = {file:?}\ntoken_url = \"{url}\"\n",
            t = self.wp_tenant,
            file = self.dir.path().join("wp-secret"),
            url = self.idp.microsoft_url(&self.wp_tenant),
        ));
        text.push_str(&format!(
            "\n[[organisations]]\nkey = \"sh\"\nname = \"Schuldhulp\"\ncomplaints_address = \"{sh}\"\nreference_prefix = \"SH\"\nregulation_url = \"https://sh.test/regeling\"\n",
            sh = self.sh[0]
        ));
        text.push_str(&self.mailbox("sh-klachten", &self.sh[0]));
        text.push_str(&self.mailbox("sh-schuldhulp", &self.sh[1]));
        text
    }

    fn config(&self) -> Config {
        let config = Config::parse(&self.text()).unwrap_or_else(|e| panic!("{e}\n{}", self.text()));
        assert!(config.problems().is_empty(), "{:?}", config.problems());
        config
    }

    fn config_file(&self) -> PathBuf {
        let path = self.dir.path().join("klachtd.toml");
        std::fs::write(&path, self.text()).unwrap();
        path
    }

    /// Sends a complaint to `to` from a fresh address; returns that address.
    async fn complain(&self, to: &str, subject: &str) -> String {
        let from = format!("{}@example.test", unique("klager"));
        let raw = format!(
            "From: Klager <{from}>\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{id}@example.test>\r\nDate: Wed, 25 Nov 2026 10:00:00 +0100\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nIk wacht al weken op een antwoord.\r\n",
            id = unique("msg")
        );
        self.stack.send_raw(&from, to, raw.as_bytes()).await;
        from
    }

    /// The reference in the acknowledgement that reached `complainant`, and who sent it.
    async fn acknowledged(&self, complainant: &str) -> (String, String) {
        let raw = eventually("the acknowledgement", WAIT, || async { self.stack.messages(complainant, "INBOX").await.into_iter().next() }).await;
        let ack = parsed(&raw);
        let subject = ack.subject().unwrap_or_default().to_string();
        let from = ack.from().unwrap().first().unwrap().address().unwrap().to_string();
        (subject.split(['[', ']']).nth(1).unwrap_or_default().to_string(), from)
    }

    /// (reference, organisation) of every case.
    async fn cases(&self) -> Vec<(String, String)> {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&self.db.url).await.unwrap();
        let rows = sqlx::query_as("SELECT reference, organisation FROM cases ORDER BY id").fetch_all(&pool).await.unwrap();
        pool.close().await;
        rows
    }
}

/// check-config logs each mailbox in with its own tokens; the daemon then takes a complaint
/// to each mailbox into its own organisation, and SMTP sends both organisations' letters.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_organisations_mailbox_logs_in_with_its_own_tokens() {
    let s = Setup::new(true).await;
    let out = klachtd(&["check-config"], &s.config_file()).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    for mailbox in ["organisations[0].mailboxes[0]: ok", "organisations[1].mailboxes[0]: ok", "organisations[1].mailboxes[1]: ok", "smtp: ok"] {
        assert!(stdout.contains(mailbox), "{stdout}");
    }
    let mut secrets = s.idp.issued(&s.wp_tenant);
    secrets.push(s.secret.clone());
    assert_not_in(&format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)), &secrets, "check-config's output");

    let (issued_wp, subjects) = (s.idp.issued(&s.wp_tenant).len(), s.idp.subjects(&s.shared_tenant).len());
    let daemon = Running::start(s.config());
    let to_wp = s.complain(&s.wp, "Werkplein reageert niet").await;
    let to_sh = s.complain(&s.sh[0], "Schuldhulp reageert niet").await;
    let to_sh_second = s.complain(&s.sh[1], "Ook hier niet").await;
    let (wp_reference, wp_from) = s.acknowledged(&to_wp).await;
    let (sh_reference, sh_from) = s.acknowledged(&to_sh).await;
    let (second_reference, second_from) = s.acknowledged(&to_sh_second).await;
    daemon.stop().await;
    assert!(wp_reference.starts_with("WP-") && wp_from == s.wp, "{wp_reference} from {wp_from}");
    assert!(sh_reference.starts_with("SH-") && second_reference.starts_with("SH-"), "{sh_reference}, {second_reference}");
    assert!(sh_from == s.sh[0] && second_from == s.sh[0], "Schuldhulp's letters come from its complaints address");
    let mut cases = s.cases().await;
    cases.sort();
    let organisations: Vec<&str> = cases.iter().map(|(_, o)| o.as_str()).collect();
    assert_eq!(organisations, ["sh", "sh", "wp"], "{cases:?}");

    // Werkplein's tenant gave its mailbox a token, which Dovecot accepted for it.
    assert_eq!(s.idp.issued(&s.wp_tenant).len(), issued_wp + 1, "one token at start-up serves the mailbox");
    assert!(s.idp.introspections(&s.wp).1 >= 1);
    // The service account acted for each of Schuldhulp's mailboxes; SMTP (as the first) and
    // that mailbox shared one token, the second mailbox had its own.
    let subjects = s.idp.subjects(&s.shared_tenant)[subjects..].to_vec();
    let mut sorted = subjects.clone();
    sorted.sort();
    let mut expected = s.sh.to_vec();
    expected.sort();
    assert_eq!(sorted, expected, "{subjects:?}");
    assert!(s.idp.introspections(&s.sh[1]).1 >= 1, "the second mailbox logged in with its own token");
}

/// The service account not granted Schuldhulp's second mailbox: the start stops with one line
/// naming that mailbox and the provider's refusal (exit 78, no restart). Werkplein's app
/// granted another mailbox than its own: its login is refused, and the line names it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mailbox_its_app_is_not_granted_stops_the_start_naming_it() {
    let s = Setup::new(false).await;
    let out = klachtd(&["run"], &s.config_file()).output().unwrap();
    assert_eq!(out.status.code(), Some(78), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    assert!(last.contains("mailbox \"sh-schuldhulp\"") && last.contains("unauthorized_client"), "{stderr}");
    assert!(!last.contains("wp-klachten") && !last.contains("\"sh-klachten\""), "only the mailbox concerned: {last}");
    assert_not_in(&stderr, std::slice::from_ref(&s.secret), "the output");

    s.idp.grant_service_account(&s.shared_tenant, SERVICE_ACCOUNT, &s.sh[1]);
    let other = format!("{}@wp.test", unique("iemand-anders"));
    s.idp.add_secret_client(&s.wp_tenant, "wp-app", &s.secret, &other);
    let err = format!("{:#}", klachtd::daemon::Daemon::prepare(&s.config()).await.err().expect("no start with a refused login"));
    assert!(err.starts_with("mailbox \"wp-klachten\" (organisations[0].mailboxes[0])") && !err.contains('\n'), "{err}");
    assert!(s.idp.introspections(&other).0 >= 1, "Dovecot asked about the token, and it was for another mailbox");
}
