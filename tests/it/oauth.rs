//! OAuth 2.0 end to end: klachtd logs in to the real Dovecot (IMAP) and Postfix (SMTP AUTH
//! through Dovecot) with access tokens only, from a test identity provider in this process
//! (tests/it/common/oauth_idp.rs) that stands in for Microsoft Entra ID and Google. The stack runs
//! in its OAuth mode: accounts in `oauth.test` have no working password, Dovecot introspects
//! each token at the identity provider, and Postfix takes mail from such an address only after
//! AUTH as it.

use crate::common::oauth_idp as idp;

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use crate::common::*;
use idp::Idp;
use klachtd::config::Config;

pub(crate) const DOMAIN: &str = "oauth.test";

pub(crate) fn stack() -> &'static MailStack {
    static STACK: OnceLock<MailStack> = OnceLock::new();
    STACK.get_or_init(|| {
        MailStack::start_with(&[("KLACHTD_STACK_OAUTH_INTROSPECTION_URL", Idp::shared().introspection_url()), ("KLACHTD_STACK_OAUTH_DOMAIN", DOMAIN.into())])
    })
}

/// A second stack that offers only XOAUTH2 (as Exchange Online's IMAP does).
fn xoauth2_stack() -> &'static MailStack {
    static STACK: OnceLock<MailStack> = OnceLock::new();
    STACK.get_or_init(|| {
        MailStack::start_with(&[
            ("KLACHTD_STACK_OAUTH_INTROSPECTION_URL", Idp::shared().introspection_url()),
            ("KLACHTD_STACK_OAUTH_DOMAIN", DOMAIN.into()),
            ("KLACHTD_STACK_OAUTH_MECHANISMS", "xoauth2".into()),
        ])
    })
}

/// One test's mailbox, tenant, database and files.
struct World {
    stack: &'static MailStack,
    idp: &'static Idp,
    tenant: String,
    complaints: String,
    dir: tempfile::TempDir,
    db: TestDb,
}

impl World {
    async fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let db = TestDb::create(Db::Sqlite, dir.path()).await;
        World { stack: stack(), idp: Idp::shared(), tenant: unique("tenant"), complaints: format!("{}@{DOMAIN}", unique("klachten")), dir, db }
    }

    /// A Microsoft app with a client secret in a file; returns the secret.
    fn microsoft_secret_app(&self) -> (String, String) {
        let secret = format!("{}~Secr3tValue", unique("s"));
        self.idp.add_secret_client(&self.tenant, "app-1", &secret, &self.complaints);
        let file = self.dir.path().join("client-secret");
        std::fs::write(&file, format!("{secret}\n")).unwrap();
        let section = format!(
            "[oauth2]\nprovider = \"microsoft\"\ntenant = \"{t}\"\nclient_id = \"app-1\"\nclient_secret_file = {file:?}\ntoken_url = \"{url}\"\n",
            t = self.tenant,
            url = self.idp.microsoft_url(&self.tenant)
        );
        (section, secret)
    }

    fn config_text(&self, oauth2: &str) -> String {
        format!(
            r#"
[organisation]
name = "Re-integratiedienst Test"
complaints_address = "{complaints}"
regulation_url = "https://dienst.test/klachtenregeling"

[database]
url = "{db}"

[storage]
data_dir = "{data}"

[imap]
host = "127.0.0.1"
port = {imaps}
tls = "implicit"
ca_file = "{ca}"
user = "{complaints}"
auth = "oauth2"
timeout_secs = 20

[smtp]
host = "127.0.0.1"
port = {smtp}
tls = "starttls"
ca_file = "{ca}"
auth = "oauth2"
timeout_secs = 10

[outbox]
poll_interval_secs = 1
max_backoff_secs = 2

[intake]
acknowledge_since = "2000-01-01"

{oauth2}
"#,
            complaints = self.complaints,
            db = self.db.url,
            data = self.dir.path().join("data").display(),
            imaps = self.stack.imaps_port,
            smtp = self.stack.smtp_port,
            ca = self.stack.ca.display(),
        )
    }

    fn config(&self, oauth2: &str) -> Config {
        let config = Config::parse(&self.config_text(oauth2)).unwrap();
        assert!(config.problems().is_empty(), "{:?}", config.problems());
        config
    }

    fn config_file(&self, oauth2: &str) -> std::path::PathBuf {
        let path = self.dir.path().join("klachtd.toml");
        std::fs::write(&path, self.config_text(oauth2)).unwrap();
        path
    }

    /// Sends a complaint from a fresh address; returns that address.
    async fn complain(&self, subject: &str) -> String {
        let from = format!("{}@example.test", unique("mia"));
        let raw = format!(
            "From: Mia Vos <{from}>\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{id}@example.test>\r\nDate: Wed, 25 Nov 2026 10:00:00 +0100\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nIk wacht al weken op een antwoord.\r\n",
            to = self.complaints,
            id = unique("msg")
        );
        self.stack.send_raw(&from, &self.complaints, raw.as_bytes()).await;
        from
    }

    /// Waits for the acknowledgement in the complainant's mailbox; returns its reference.
    async fn acknowledged(&self, complainant: &str) -> String {
        let raw = eventually("the acknowledgement in the complainant's mailbox", WAIT, || async {
            self.stack.messages(complainant, "INBOX").await.into_iter().next()
        })
        .await;
        let text = String::from_utf8_lossy(&raw).into_owned();
        assert!(text.contains(&format!("From: \"Re-integratiedienst Test\" <{}>", self.complaints)) || text.contains(&self.complaints), "{text}");
        let subject = parsed(&raw).subject().unwrap_or_default().to_string();
        subject.split(['[', ']']).nth(1).unwrap_or_default().to_string()
    }

    /// Runs the built binary at trace level until a complaint is acknowledged, stops it with
    /// SIGTERM, and returns its logs.
    async fn run_binary_until_acknowledged(&self, oauth2: &str) -> String {
        let path = self.config_file(oauth2);
        let log = self.dir.path().join("klachtd.log");
        let child = klachtd(&["run"], &path).stdout(std::fs::File::create(&log).unwrap()).stderr(std::fs::File::create(&log).unwrap()).spawn().unwrap();
        let mut child = KillOnDrop(Some(child));
        let complainant = self.complain("Klacht over de wachttijd").await;
        let reference = self.acknowledged(&complainant).await;
        assert!(reference.starts_with("KL-"), "{reference}");
        let mut child = child.0.take().unwrap();
        assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
        let status = tokio::task::spawn_blocking(move || child.wait()).await.unwrap().unwrap();
        assert!(status.success(), "{status}");
        let logs = std::fs::read_to_string(&log).unwrap();
        assert!(logs.contains("access token obtained") && logs.contains("mail accepted by SMTP server"), "{logs}");
        assert!(logs.contains("DEBUG"), "debug logging (trace filter) was on");
        logs
    }

    /// Ends the daemon's IMAP sessions from the server side (as Exchange does when a token
    /// expires), so it has to log in again.
    fn kick_imap(&self) {
        let out = Command::new("doveadm").arg("-c").arg(self.stack.dir.join("dovecot.conf")).arg("kick").arg(&self.complaints).output().unwrap();
        assert!(out.status.success(), "doveadm kick: {}", String::from_utf8_lossy(&out.stderr));
    }
}

/// The built binary with `args`, under `KLACHTD_LOG=trace`.
pub(crate) fn klachtd(args: &[&str], config: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_klachtd"));
    c.args(["--config", config.to_str().unwrap()])
        .args(args)
        .env("KLACHTD_LOG", "trace")
        .env_remove("KLACHTD_CONFIG")
        .env_remove("JOURNAL_STREAM")
        .env_remove("NOTIFY_SOCKET");
    c
}

/// Stops the daemon a failed test leaves behind.
struct KillOnDrop(Option<std::process::Child>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub(crate) fn assert_not_in(text: &str, secrets: &[String], what: &str) {
    for s in secrets {
        assert!(s.len() > 8, "a real secret to look for");
        assert!(!text.contains(s.as_str()), "{what} contains a secret, token or assertion");
        // A token is long; a log line could carry part of one.
        if s.len() > 100 {
            assert!(!text.contains(&s[s.len() / 2..s.len() / 2 + 40]), "{what} contains part of a token or assertion");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stack_takes_tokens_only_for_the_complaints_account() {
    let w = World::new().await;
    let tls = klachtd::driven::tls::client_config(Some(&w.stack.ca)).unwrap();
    let config = w.config(&w.microsoft_secret_app().0);
    // The password that works for every other account does not work here...
    let mut imap = config.imap().clone();
    imap.tls = klachtd::config::TlsMode::Implicit;
    let err = klachtd::driven::imap::connect(&imap, &tls, PASSWORD).await.map(|_| ()).unwrap_err();
    assert!(err.to_string().contains("login"), "{err}");
    // ...and without AUTH, Postfix refuses mail from the complaints address.
    let transport = lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::builder_dangerous("127.0.0.1").port(w.stack.smtp_port).build();
    let envelope = lettre::address::Envelope::new(Some(w.complaints.parse().unwrap()), vec!["x@example.test".parse().unwrap()]).unwrap();
    let refused = lettre::AsyncTransport::send_raw(&transport, &envelope, b"Subject: x\r\n\r\nx\r\n").await;
    assert!(refused.is_err(), "Postfix must refuse unauthenticated mail from the token-only account");
    // A token does both.
    let tokens = klachtd::driven::oauth::TokenSource::new(config.oauth2.as_ref().unwrap(), &w.complaints).unwrap();
    let mut session = klachtd::driven::imap::connect_oauth(config.imap(), &tls, &tokens).await.expect("IMAP login with a token");
    session.logout().await.unwrap();
    assert_eq!(w.idp.issued(&w.tenant).len(), 1);
    assert!(w.idp.introspections(&w.complaints).1 >= 1, "Dovecot asked the identity provider");
}

/// A complaint read and acknowledged with tokens only, by the built binary with trace logs:
/// none of them holds the secret or a token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complaint_is_read_and_acknowledged_with_tokens_only() {
    let w = World::new().await;
    let (section, secret) = w.microsoft_secret_app();
    let logs = w.run_binary_until_acknowledged(&section).await;
    let mut secrets = w.idp.issued(&w.tenant);
    assert!(!secrets.is_empty());
    secrets.push(secret);
    assert_not_in(&logs, &secrets, "the daemon's logs");
    let (introspected, active) = w.idp.introspections(&w.complaints);
    assert!(introspected >= 2 && active == introspected, "IMAP and SMTP logins both checked a valid token: {introspected}/{active}");
}

/// Tokens that live 3 seconds: the SMTP login after expiry and the IMAP login after the server
/// ends the session use new ones, and no mail waits for more than one reconnect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_that_expire_while_running_are_renewed() {
    let w = World::new().await;
    w.idp.set_lifetime(&w.tenant, Duration::from_secs(3));
    let daemon = Running::start(w.config(&w.microsoft_secret_app().0));
    let first = w.complain("Eerste klacht").await;
    w.acknowledged(&first).await;
    eventually("the first token to expire", WAIT, || async { w.idp.all_expired(&w.complaints).then_some(()) }).await;
    let before = w.idp.issued(&w.tenant).len();
    let second = w.complain("Tweede klacht").await;
    w.acknowledged(&second).await;
    assert!(w.idp.issued(&w.tenant).len() > before, "SMTP logged in with a new token");
    eventually("the token to expire again", WAIT, || async { w.idp.all_expired(&w.complaints).then_some(()) }).await;
    let before = w.idp.issued(&w.tenant).len();
    w.kick_imap();
    let third = w.complain("Derde klacht").await;
    w.acknowledged(&third).await;
    assert!(w.idp.issued(&w.tenant).len() > before);
    daemon.stop().await;
}

/// A token the servers refuse (revoked at the provider) is replaced once, not hammered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_is_fetched_anew_once() {
    let w = World::new().await;
    let daemon = Running::start(w.config(&w.microsoft_secret_app().0));
    let first = w.complain("Eerste klacht").await;
    w.acknowledged(&first).await;
    assert_eq!(w.idp.issued(&w.tenant).len(), 1, "one token serves IMAP and SMTP for its lifetime");
    w.idp.revoke_all(&w.complaints);
    let second = w.complain("Tweede klacht").await;
    w.acknowledged(&second).await;
    assert_eq!(w.idp.issued(&w.tenant).len(), 2, "SMTP refused the revoked token; exactly one new one");
    w.idp.revoke_all(&w.complaints);
    w.kick_imap();
    let third = w.complain("Derde klacht").await;
    w.acknowledged(&third).await;
    // IMAP's login is refused and gets a new token; SMTP then uses that one.
    assert_eq!(w.idp.issued(&w.tenant).len(), 3);
    daemon.stop().await;
}

/// The identity provider away for a while: mail waits in the outbox and in the mailbox, then
/// goes through, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_waits_while_the_identity_provider_is_down() {
    let w = World::new().await;
    w.idp.set_lifetime(&w.tenant, Duration::from_secs(3));
    let daemon = Running::start(w.config(&w.microsoft_secret_app().0));
    let first = w.complain("Eerste klacht").await;
    w.acknowledged(&first).await;
    w.idp.set_down(&w.tenant, true);
    eventually("the token to expire", WAIT, || async { w.idp.all_expired(&w.complaints).then_some(()) }).await;
    // Read over the open IMAP session; the acknowledgement cannot go out.
    let second = w.complain("Tweede klacht").await;
    eventually("the outbox to try and fail", WAIT, || async {
        let rows = outbox_attempts(&w.db.url).await;
        rows.iter().any(|(attempts, error)| *attempts >= 2 && error.as_deref().is_some_and(|e| e.contains("no access token"))).then_some(())
    })
    .await;
    // And a new IMAP session cannot log in either.
    w.kick_imap();
    let third = w.complain("Derde klacht").await;
    let dropped = w.idp.requests(&w.tenant).1;
    eventually("the daemon to ask the endpoint again", WAIT, || async { (w.idp.requests(&w.tenant).1 >= dropped + 2).then_some(()) }).await;
    assert!(w.stack.messages(&second, "INBOX").await.is_empty(), "nothing went out without a token");
    w.idp.set_down(&w.tenant, false);
    w.acknowledged(&second).await;
    w.acknowledged(&third).await;
    assert_eq!(w.stack.messages(&second, "INBOX").await.len(), 1, "sent once");
    daemon.stop().await;
}

/// A server that offers only XOAUTH2: IMAP and SMTP log in with it, a revoked token included
/// (XOAUTH2 answers a refused token with an error challenge that wants an empty reply).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xoauth2_when_the_server_offers_nothing_else() {
    let mut w = World::new().await;
    w.stack = xoauth2_stack();
    let daemon = Running::start(w.config(&w.microsoft_secret_app().0));
    let first = w.complain("Eerste klacht").await;
    w.acknowledged(&first).await;
    w.idp.revoke_all(&w.complaints);
    let second = w.complain("Tweede klacht").await;
    w.acknowledged(&second).await;
    w.idp.revoke_all(&w.complaints);
    w.kick_imap();
    let third = w.complain("Derde klacht").await;
    w.acknowledged(&third).await;
    assert_eq!(w.idp.issued(&w.tenant).len(), 3, "one token, then one new one per refusal");
    daemon.stop().await;
}

/// A wrong client secret: one clear line quoting the provider's code, exit status 78 (a
/// credential error, which systemd does not restart), and the secret nowhere in the output.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_is_a_clear_start_up_error() {
    let w = World::new().await;
    let (section, secret) = w.microsoft_secret_app();
    let wrong = format!("{}~Wr0ngValue", unique("w"));
    std::fs::write(w.dir.path().join("client-secret"), format!("{wrong}\n")).unwrap();
    let path = w.config_file(&section);
    for command in [&["run"][..], &["check-config"]] {
        let out = klachtd(command, &path).output().unwrap();
        assert_eq!(out.status.code(), Some(78), "{command:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let last = stderr.lines().last().unwrap_or_default();
        assert!(last.contains("invalid_client") && last.contains("AADSTS7000215"), "{command:?}: {stderr}");
        let all = format!("{}{stderr}", String::from_utf8_lossy(&out.stdout));
        assert_not_in(&all, &[wrong.clone(), secret.clone()], "the output");
    }
    assert!(w.idp.issued(&w.tenant).is_empty());
}

/// A token endpoint that does not answer at start stops the start like an IMAP server that
/// does not answer: one line that names the endpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_token_endpoint_at_start_is_named() {
    let w = World::new().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{closed}/{}/oauth2/v2.0/token", w.tenant);
    let section = w.microsoft_secret_app().0.replace(&w.idp.microsoft_url(&w.tenant), &url);
    let err = format!("{:#}", klachtd::daemon::Daemon::prepare(&w.config(&section)).await.err().expect("no start without a token"));
    assert!(err.starts_with("oauth2: no access token: token endpoint") && err.contains(&url) && !err.contains('\n'), "{err}");
}

/// The certificate credential: a signed client assertion the provider checks (signature,
/// thumbprint, audience, issuer, subject, lifetime, one-time jti), by the built binary with
/// trace logs that hold no assertion and no token. An unregistered certificate is refused at
/// start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_signs_the_client_assertion() {
    let w = World::new().await;
    let (key, cert, public, der) = idp::rsa_key_and_certificate(w.dir.path(), "app");
    w.idp.add_certificate_client(&w.tenant, "app-cert", public, &der, &w.complaints);
    let section = format!(
        "[oauth2]\nprovider = \"microsoft\"\ntenant = \"{t}\"\nclient_id = \"app-cert\"\ncertificate_file = {cert:?}\nprivate_key_file = {key:?}\ntoken_url = \"{url}\"\n",
        t = w.tenant,
        url = w.idp.microsoft_url(&w.tenant)
    );
    let logs = w.run_binary_until_acknowledged(&section).await;
    let assertions = w.idp.assertions(&w.tenant);
    assert!(!assertions.is_empty() && assertions.len() == w.idp.issued(&w.tenant).len(), "every token came from a valid assertion");
    let mut secrets = w.idp.issued(&w.tenant);
    secrets.extend(assertions);
    secrets.push(std::fs::read_to_string(&key).unwrap().lines().nth(1).unwrap().to_string());
    assert_not_in(&logs, &secrets, "the daemon's logs");

    let (other_key, other_cert, _, _) = idp::rsa_key_and_certificate(w.dir.path(), "other");
    let unregistered = section.replace(&format!("{cert:?}"), &format!("{other_cert:?}")).replace(&format!("{key:?}"), &format!("{other_key:?}"));
    let err = klachtd::daemon::Daemon::prepare(&w.config(&unregistered)).await.err().expect("refused");
    assert!(format!("{err:#}").contains("AADSTS700027"), "{err:#}");
}

/// Google: a service account acting for the mailbox (domain-wide delegation, JWT bearer grant),
/// with the token endpoint over TLS as Google's is (trusted through oauth2.ca_file).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_google_service_account_acts_for_the_mailbox() {
    let w = World::new().await;
    let (key, _, public, _) = idp::rsa_key_and_certificate(w.dir.path(), "sa");
    let email = "klachtd@project.iam.gserviceaccount.test";
    w.idp.add_service_account(&w.tenant, email, public, &w.complaints);
    let key_file = w.dir.path().join("service-account.json");
    let https = w.idp.https_base(&w.stack.dir.join("tls/server.pem"), &w.stack.dir.join("tls/server.key"));
    let token_uri = format!("{https}/{}/google/token", w.tenant);
    let json = serde_json::json!({"type": "service_account", "client_email": email, "private_key": std::fs::read_to_string(&key).unwrap(), "private_key_id": "k1", "token_uri": token_uri});
    std::fs::write(&key_file, json.to_string()).unwrap();
    let daemon = Running::start(w.config(&format!("[oauth2]\nprovider = \"google\"\nservice_account_file = {key_file:?}\nca_file = {:?}\n", w.stack.ca)));
    let complainant = w.complain("Klacht").await;
    w.acknowledged(&complainant).await;
    daemon.stop().await;
    let subjects = w.idp.subjects(&w.tenant);
    assert!(!subjects.is_empty() && subjects.iter().all(|s| *s == w.complaints), "{subjects:?}");
}

/// `token_command`: its output is the token (here one the provider minted for a broker).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_command_provides_the_token() {
    let w = World::new().await;
    let token = w.idp.mint(&w.complaints, Duration::from_secs(600));
    let file = w.dir.path().join("token");
    std::fs::write(&file, format!("{token}\n")).unwrap();
    let runs = w.dir.path().join("runs");
    let daemon =
        Running::start(w.config(&format!("[oauth2]\nprovider = \"command\"\ntoken_command = \"echo run >> {} && cat {}\"\n", runs.display(), file.display())));
    let complainant = w.complain("Klacht").await;
    w.acknowledged(&complainant).await;
    daemon.stop().await;
    let runs = std::fs::read_to_string(&runs).unwrap().lines().count();
    assert!(runs >= 2, "the command ran for the IMAP and the SMTP login ({runs})");
    let failing = w.config("[oauth2]\nprovider = \"command\"\ntoken_command = \"echo broker unreachable >&2; exit 3\"\n");
    let err = klachtd::daemon::Daemon::prepare(&failing).await.err().expect("a failing command stops the start");
    assert!(format!("{err:#}").contains("broker unreachable"), "{err:#}");
}

/// check-config gets a token and logs in to IMAP and SMTP with it (the generic provider).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_config_logs_in_with_a_token() {
    let w = World::new().await;
    let secret = format!("{}-generic", unique("g"));
    w.idp.add_secret_client(&w.tenant, "generic-1", &secret, &w.complaints);
    w.idp.set_generic_scope(&w.tenant, "mail imap smtp");
    let section = format!("[oauth2]\nprovider = \"generic\"\ntoken_url = \"{}\"\nclient_id = \"generic-1\"\nclient_secret_env = \"KLACHTD_TEST_GENERIC_SECRET\"\nscope = \"mail imap smtp\"\n", w.idp.generic_url(&w.tenant));
    let path = w.config_file(&section);
    let out = klachtd(&["check-config"], &path).env("KLACHTD_TEST_GENERIC_SECRET", &secret).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    for line in ["oauth2: ok", "imap: ok", "smtp: ok"] {
        assert!(stdout.contains(line), "{stdout}");
    }
    assert_eq!(w.idp.issued(&w.tenant).len(), 1);
    assert!(w.idp.introspections(&w.complaints).1 >= 2, "both logins used the token");
    let all = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let mut secrets = w.idp.issued(&w.tenant);
    secrets.push(secret);
    assert_not_in(&all, &secrets, "check-config's output");
}

/// check-config names what is missing or does not belong, offline.
#[test]
fn check_config_names_oauth_mistakes() {
    let dir = tempfile::tempdir().unwrap();
    let keys = |oauth2: &str, imap_extra: &str| {
        let text = format!(
            "[organisation]\nname = \"X\"\ncomplaints_address = \"k@x.nl\"\nregulation_url = \"https://x.nl\"\n[imap]\nhost = \"imap.x.nl\"\nport = 993\ntls = \"implicit\"\nuser = \"k@x.nl\"\nauth = \"oauth2\"\n{imap_extra}\n[smtp]\nhost = \"smtp.x.nl\"\nport = 587\ntls = \"starttls\"\nauth = \"oauth2\"\n{oauth2}"
        );
        let path = dir.path().join("k.toml");
        std::fs::write(&path, text).unwrap();
        match Config::load(&path) {
            Ok(_) => Vec::new(),
            Err(e @ klachtd::config::ConfigError::Invalid { .. }) => {
                e.to_string().lines().skip(1).map(|l| l.trim_start_matches("  - ").split(':').next().unwrap().to_string()).collect::<Vec<_>>()
            }
            Err(e) => vec![e.to_string()],
        }
    };
    assert_eq!(keys("", ""), ["imap.auth", "smtp.auth"]);
    assert_eq!(
        keys("[oauth2]\nprovider = \"microsoft\"\nclient_id = \"a\"\nclient_secret_env = \"KLACHTD_TEST_UNSET_SECRET\"\n", ""),
        ["oauth2.tenant", "oauth2.client_secret_env"]
    );
    assert_eq!(
        keys("[oauth2]\nprovider = \"google\"\nservice_account_file = \"/nonexistent.json\"\ntenant = \"t\"\n", "password = \"x\""),
        ["imap.password", "oauth2.tenant", "oauth2.service_account_file"]
    );
    assert_eq!(
        keys("[oauth2]\nprovider = \"generic\"\nclient_id = \"a\"\nclient_secret_env = \"PATH\"\nscope = \"s\"\ntoken_url = \"http://idp.x.nl/token\"\n", ""),
        ["oauth2.token_url"]
    );
    let typo = keys("[oauth2]\nprovider = \"command\"\ntoken_comand = \"x\"\n", "");
    assert!(typo.iter().any(|k| k.contains("token_comand")), "{typo:?}");
    let none = keys("[oauth2]\nprovider = \"command\"\ntoken_command = \"x\"\n", "").len();
    assert_eq!(none, 0);
}
