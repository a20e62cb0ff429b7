//! Signing in with the organisation's account (OpenID Connect, issue 24) in Chromium, against
//! the test provider (tests/it/common/oidc_provider.rs) on another site: a handler whose account
//! is mapped gets in; an account mapped to no one (even another handler's) does not; an ID
//! token with the wrong nonce, audience or issuer, expired, or with a bad signature or an
//! unknown key is refused; after the provider rotates its key, sign-in goes on working. The
//! refusals are logged without the person.

use super::oidc_provider::{OidcProvider, Tamper};
use super::*;

on_both_databases!(handlers_sign_in_with_their_organisations_account);

async fn handlers_sign_in_with_their_organisations_account(db: Db) {
    // On the heap: the walk through the sign-ins is one large future.
    Box::pin(walk(db)).await
}

/// Goes to the sign-in page, takes the organisation's account, and waits for a page with `text`.
async fn sign_in_with_account(browser: &Browser, base: &str, what: &str, text: &str) -> String {
    browser.goto(&format!("{base}/sign-in")).await;
    browser.wait_for("the sign-in page", "id=\"sign-in-oidc\"").await;
    browser.click("#sign-in-oidc").await;
    browser.wait_for(what, text).await
}

/// Not signed in: the cases send the browser to the sign-in page.
async fn assert_signed_out(browser: &Browser, base: &str) {
    browser.goto(&format!("{base}/cases")).await;
    browser.wait_for("the sign-in page", "id=\"send-link\"").await;
    assert!(browser.current_url().await.ends_with("/sign-in"));
}

/// The header's sign-out form: on every page of a signed-in handler.
const SIGNED_IN: &str = "action=\"/sign-out\"";
const REFUSED: &str = "niet gekoppeld aan een behandelaar";
const FAILED: &str = "Aanmelden niet voltooid";

async fn walk(db: Db) {
    capture_logs();
    let stack = MailStack::shared();
    let (ann, bob) = (format!("{}@dienst.test", unique("ann")), format!("{}@dienst.test", unique("bob")));
    let stranger = unique("oid-stranger");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let provider = OidcProvider::start("klachtd-app", "app-secret", &format!("{base}/sign-in/oidc/callback"));
    let secrets = tempfile::tempdir().unwrap();
    let secret_file = secrets.path().join("oidc-secret");
    std::fs::write(&secret_file, "app-secret\n").unwrap();
    let extra = format!(
        "{ANSWER_ALL}[[handlers]]\nname = \"Ann Smit\"\nemail = \"{ann}\"\n[[handlers]]\nname = \"Bob Berg\"\nemail = \"{bob}\"\n\
         [web]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"{base}\"\n\
         [web.oidc]\nprovider = \"generic\"\nissuer = \"{}\"\nclient_id = \"klachtd-app\"\nclient_secret_file = \"{}\"\nclaim = \"oid\"\n\
         [web.oidc.handlers]\n\"{ann}\" = \"oid-ann\"\n",
        provider.base,
        secret_file.display()
    );
    let w = World::with(db, stack, &extra).await;
    // What check-config asks of the provider: its discovery document and keys.
    let oidc = w.config.web.as_ref().and_then(|web| web.oidc.as_ref()).unwrap();
    let (issuer, keys) = klachtd::driven::oidc::Provider::new(oidc).unwrap().check().await.unwrap();
    assert_eq!((issuer, keys, provider.jwks_fetches()), (provider.base.clone(), 1, 1));
    let mut wrong = oidc.clone();
    // The same server by another name: its discovery document names another issuer.
    wrong.issuer = Some(provider.base.replace("localhost", "127.0.0.1"));
    let error = klachtd::driven::oidc::Provider::new(&wrong).unwrap().check().await.unwrap_err().to_string();
    assert!(error.contains("names issuer"), "{error}");
    let log_start = daemon_log().lock().unwrap().len();
    let daemon = w.start();
    eventually("the workspace listens", WAIT, || async { tokio::net::TcpStream::connect(("127.0.0.1", port)).await.ok() }).await;
    let downloads = tempfile::tempdir().unwrap();
    let browser = Browser::start(downloads.path()).await;
    let ann_account = json!({"sub": "s-ann", "oid": "oid-ann", "email": ann, "name": "Ann Smit"});

    // Ann's account is mapped to her: she gets in, and lands on "my day".
    provider.sign_in_as(ann_account.clone());
    browser.goto(&format!("{base}/sign-in")).await;
    browser.wait_for("the sign-in page", "id=\"sign-in-oidc\"").await;
    browser.screenshot(&format!("{db:?}-sign-in-oidc").to_lowercase()).await;
    let mut violations: Vec<String> = browser.axe().await.into_iter().map(|v| format!("sign-in: {v}")).collect();
    sign_in_with_account(&browser, &base, "Ann's cases", SIGNED_IN).await;
    assert!(browser.current_url().await.ends_with(&format!("{base}/")), "{}", browser.current_url().await);
    assert!(browser.source().await.contains("Ann Smit"));
    // The session cookie is a `__Host-` one, which Chromium takes on http://127.0.0.1.
    assert_eq!(browser.cookie("__Host-klachtd_session").await.len(), 64);
    assert_eq!(provider.jwks_fetches(), 2, "the daemon's first fetch (check-config made one before)");
    browser.click("header form button").await;
    browser.wait_for("signed out", "id=\"send-link\"").await;
    assert_signed_out(&browser, &base).await;

    // An account mapped to no one does not get in, not even when it is another handler's
    // address: only the configured claim counts.
    provider.sign_in_as(json!({"sub": "s-x", "oid": stranger, "email": bob}));
    sign_in_with_account(&browser, &base, "the refusal", REFUSED).await;
    browser.screenshot(&format!("{db:?}-oidc-refused").to_lowercase()).await;
    violations.extend(browser.axe().await.into_iter().map(|v| format!("refused: {v}")));
    assert_signed_out(&browser, &base).await;

    // ID tokens wrong in one way each are refused, each for its reason.
    provider.sign_in_as(ann_account.clone());
    let wrong = [
        (Tamper::Nonce, "nonce"),
        (Tamper::Audience, "another application (aud)"),
        (Tamper::Issuer, "another issuer"),
        (Tamper::Expired, "expired"),
        (Tamper::Signature, "signature does not verify"),
    ];
    for (tamper, reason) in wrong {
        provider.tamper(tamper);
        let mark = daemon_log().lock().unwrap().len();
        sign_in_with_account(&browser, &base, &format!("the refusal of {tamper:?}"), FAILED).await;
        let log = String::from_utf8_lossy(&daemon_log().lock().unwrap()[mark..]).into_owned();
        assert!(log.contains("oidc: sign-in refused") && log.contains(reason), "{tamper:?}: {log}");
        assert_signed_out(&browser, &base).await;
    }
    assert!(provider.refusals().is_empty(), "klachtd sent the code, verifier, secret and redirect_uri right: {:?}", provider.refusals());

    // The provider rotates its key: the unknown kid fetches the keys again, once.
    provider.tamper(Tamper::None);
    provider.rotate();
    sign_in_with_account(&browser, &base, "Ann's cases after the rotation", SIGNED_IN).await;
    assert_eq!(provider.jwks_fetches(), 3);
    // She had asked for her cases before signing in (assert_signed_out): she lands there.
    assert!(browser.current_url().await.ends_with("/cases"), "{}", browser.current_url().await);
    browser.click("header form button").await;
    browser.wait_for("signed out", "id=\"send-link\"").await;

    // A key the provider does not publish: refused, and the keys are not fetched again at
    // every such token (at most once a minute).
    provider.tamper(Tamper::UnknownKey);
    for _ in 0..2 {
        sign_in_with_account(&browser, &base, "the refusal of an unknown key", FAILED).await;
    }
    assert!(provider.jwks_fetches() <= 4, "{} fetches", provider.jwks_fetches());
    assert_signed_out(&browser, &base).await;

    // An answer that is not this browser's sign-in (no state cookie) is refused.
    let mut forged = Client::new(&base);
    let reply = forged.get(&format!("/sign-in/oidc/callback?code=x&state={}", "a".repeat(64))).await;
    assert_eq!(reply.status, 400);
    assert!(!forged.cookies.contains_key("__Host-klachtd_session"));

    assert!(violations.is_empty(), "axe-core (WCAG 2.1 A/AA): {violations:#?}");
    let log = String::from_utf8_lossy(&daemon_log().lock().unwrap()[log_start..]).into_owned();
    assert!(log.contains("oidc: sign-in refused") && log.contains("mapped to no handler"), "the refusal is logged");
    for personal in [stranger.as_str(), &bob, &ann, "oid-ann"] {
        assert!(!log.contains(personal), "{personal} in the log at info level");
    }
    daemon.stop().await;
}
