//! The steps of Awb chapter 9 through the case page's forms in the browser: a postponement
//! (and a second one refused without the complainant's consent), not handling a complaint,
//! settling one, a copy of the complaint to the person it is about, a hearing's invitation and
//! report; the register's figures and the yearly publication; each letter in the complainant's mailbox, the history, the register page's
//! figures; the case and register pages checked with axe-core.

use super::*;

on_both_databases!(chapter_9_steps_in_the_browser);

/// Signs `email` in in `browser` by the link from their mailbox.
async fn sign_in(browser: &Browser, stack: &MailStack, base: &str, email: &str) {
    browser.goto(&format!("{base}/sign-in")).await;
    browser.wait_for("the sign-in form", "id=\"send-link\"").await;
    let seen = stack.messages(email, "INBOX").await.len();
    browser.type_into("#email", email).await;
    browser.click("#send-link").await;
    browser.wait_for("the sent page", "id=\"sent\"").await;
    let link = sign_in_link(stack, email, seen).await;
    browser.goto(&link).await;
    browser.click("#use-link").await;
    browser.wait_for("my day", "id=\"my-day-heading\"").await;
}

/// Opens an action's form on the case page: the steps of chapter 9 wait behind "more actions".
async fn open_action(browser: &Browser, action: &str) {
    browser.click("#more-actions > summary").await;
    browser.click(&format!("#action-{action} > summary")).await;
}

/// The body of the mail in `user`'s INBOX whose subject contains `subject`.
async fn letter(stack: &MailStack, user: &str, subject: &str) -> String {
    eventually(&format!("{subject:?} for {user}"), WAIT, || async {
        stack.messages(user, "INBOX").await.iter().map(|m| parsed(m)).find(|m| m.subject().unwrap_or("").contains(subject)).map(|m| text_of(&m))
    })
    .await
}

async fn chapter_9_steps_in_the_browser(db: Db) {
    Box::pin(walk(db)).await
}

async fn walk(db: Db) {
    capture_logs();
    let stack = MailStack::shared();
    let ann = format!("{}@dienst.test", unique("ann"));
    let (mia, kim, lot) = (format!("{}@burger.test", unique("mia")), format!("{}@burger.test", unique("kim")), format!("{}@burger.test", unique("lot")));
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let extra = format!(
        "{ANSWER_ALL}[assignment]\nrule = \"default\"\ndefault_handler = \"Ann Smit\"\n[[handlers]]\nname = \"Ann Smit\"\nemail = \"{ann}\"\nsupervisor = true\n\
         [web]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"{base}\"\n"
    );
    let w = World::with(db, stack, &extra).await;
    let daemon = w.start();
    let store = w.store().await;
    let mut references = Vec::new();
    for (name, from) in [("Mia Vos", &mia), ("Kim de Wit", &kim), ("Lot Post", &lot)] {
        let (_, raw) = w.complaint(name, from, "Klacht", "Mijn afspraak is niet doorgegaan.");
        w.send(from, &raw).await;
        let case = eventually("acknowledged", WAIT, || async {
            store.list_cases().await.unwrap().into_iter().find(|c| c.complainant_email.as_deref() == Some(from.as_str()) && c.acknowledgement_word() == "sent")
        })
        .await;
        references.push(case.reference);
    }
    let (postponed, not_handled, settled) = (&references[0], &references[1], &references[2]);
    let browser = Browser::start(tempfile::tempdir().unwrap().path()).await;
    sign_in(&browser, stack, &base, &ann).await;
    let mut violations = Vec::new();

    // Postpone by the form's four weeks, with a reason.
    let original = store.case_detail(postponed).await.unwrap().summary.respond_by.to_string();
    browser.goto(&format!("{base}/cases/{postponed}")).await;
    browser.wait_for("the case page", "id=\"form-postpone\"").await;
    violations.extend(browser.axe().await.into_iter().map(|v| format!("case: {v}")));
    open_action(&browser, "postpone").await;
    browser.type_into("#postpone-reason", "Wij wachten op het dossier van de uitvoerder.").await;
    browser.click("#form-postpone button[type=submit]").await;
    let page = browser.wait_for("the action is confirmed", "id=\"done\"").await;
    let due = chrono::NaiveDate::parse_from_str(&original, "%Y-%m-%d").unwrap() + chrono::Days::new(28);
    let due = w.config.calendar().on_or_next_working_day(due);
    assert!(page.contains(&due.format("%d-%m-%Y").to_string()), "the case page shows the postponed date, in the Dutch form");
    let body = letter(stack, &mia, "meer tijd nodig").await;
    assert!(body.contains("dossier van de uitvoerder") && body.contains(&klachtd::app::templates::long_date(due, "nl")), "{body}");
    assert_eq!(store.case_detail(postponed).await.unwrap().summary.respond_by, due);
    browser.screenshot(&format!("{db:?}-postponed").to_lowercase()).await;

    // A second postponement without consent is refused with the reason.
    browser.goto(&format!("{base}/cases/{postponed}")).await;
    browser.wait_for("the case page", "id=\"form-postpone\"").await;
    open_action(&browser, "postpone").await;
    browser.type_into("#postpone-reason", "Nog meer tijd.").await;
    browser.click("#form-postpone button[type=submit]").await;
    let refused = browser.wait_for("the refusal", "role=\"alert\"").await;
    assert!(refused.contains("schriftelijke instemming"), "the refusal says why");
    assert_eq!(store.case_detail(postponed).await.unwrap().summary.respond_by, due, "nothing changed");

    // Not handled, on a ground of 9:8.
    browser.goto(&format!("{base}/cases/{not_handled}")).await;
    browser.wait_for("the case page", "id=\"form-not-handled\"").await;
    open_action(&browser, "not-handled").await;
    browser.click("#ground-too-slight").await;
    browser.type_into("#not-handled-explanation", "U kreeg dezelfde dag een nieuwe afspraak.").await;
    browser.click("#form-not-handled button[type=submit]").await;
    browser.wait_for("the action is confirmed", "id=\"done\"").await;
    let body = letter(stack, &kim, "behandelen uw klacht niet").await;
    assert!(body.contains("kennelijk onvoldoende") && body.contains("Nationale ombudsman"), "{body}");

    // Settled to the complainant's satisfaction.
    browser.goto(&format!("{base}/cases/{settled}")).await;
    browser.wait_for("the case page", "id=\"form-settle\"").await;
    open_action(&browser, "settle").await;
    browser.type_into("#settlement", "U heeft een nieuwe afspraak en bent tevreden.").await;
    browser.click("#form-settle button[type=submit]").await;
    browser.wait_for("the action is confirmed", "id=\"done\"").await;
    let body = letter(stack, &lot, "naar tevredenheid opgelost").await;
    assert!(body.contains("bent tevreden"), "{body}");

    // A copy of the complaint to the person it is about (Awb 9:9).
    let piet = format!("{}@elders.test", unique("piet"));
    store.add_subject(postponed, "Piet Extern", "test").await.unwrap();
    browser.goto(&format!("{base}/cases/{postponed}")).await;
    browser.wait_for("the case page", "id=\"form-disclose\"").await;
    open_action(&browser, "disclose").await;
    browser.type_into("#disclose-name", "Piet Extern").await;
    browser.type_into("#disclose-email", &piet).await;
    browser.click("#form-disclose button[type=submit]").await;
    browser.wait_for("the action is confirmed", "id=\"done\"").await;
    let body = letter(stack, &piet, "Afschrift van een klacht").await;
    assert!(body.contains("Mijn afspraak is niet doorgegaan.") && body.contains("Beste Piet Extern"), "{body}");

    // The hearing: an invitation with its calendar part, then the report.
    let day = (chrono::Utc::now() + chrono::Duration::days(21)).with_timezone(&chrono_tz::Europe::Amsterdam).date_naive();
    browser.goto(&format!("{base}/cases/{postponed}")).await;
    browser.wait_for("the case page", "id=\"form-hearing-invite\"").await;
    open_action(&browser, "hearing-invite").await;
    // A datetime-local field takes no typed text in every locale; set its value as a picker would.
    browser.cmd("POST", "/execute/sync", json!({"script": format!("document.getElementById('hearing-at').value = '{day}T10:00';"), "args": []})).await;
    browser.type_into("#hearing-place", "https://video.example.nl/kamer-3").await;
    browser.click("#form-hearing-invite button[type=submit]").await;
    browser.wait_for("the action is confirmed", "id=\"done\"").await;
    let invitation = eventually("the invitation reaches Mia", WAIT, || async {
        stack.messages(&mia, "INBOX").await.into_iter().find(|m| parsed(m).subject().unwrap_or("").contains("Uitnodiging om te worden gehoord"))
    })
    .await;
    let raw = String::from_utf8_lossy(&invitation).into_owned();
    assert!(raw.contains("METHOD:REQUEST") || raw.contains("method=REQUEST"), "a calendar invitation");
    assert!(text_of(&parsed(&invitation)).contains("https://video.example.nl/kamer-3"));
    browser.goto(&format!("{base}/cases/{postponed}")).await;
    browser.wait_for("the case page", "id=\"form-hearing-report\"").await;
    open_action(&browser, "hearing-report").await;
    browser.type_into("#hearing-report", "Mevrouw Vos heeft haar klacht toegelicht.").await;
    browser.click("#form-hearing-report button[type=submit]").await;
    browser.wait_for("the action is confirmed", "id=\"done\"").await;
    let body = letter(stack, &mia, "Verslag van de hoorzitting").await;
    assert!(body.contains("haar klacht toegelicht"), "{body}");

    // The history names the web actor; the register page (for supervisors; Ann is one)
    // counts each apart.
    for (reference, action) in [
        (postponed, "postponed"),
        (postponed, "disclosed"),
        (postponed, "hearing-invited"),
        (postponed, "hearing-held"),
        (not_handled, "not-handled"),
        (settled, "settled"),
    ] {
        let history = store.case_detail(reference).await.unwrap().history;
        assert!(history.iter().any(|e| e.action == event(action) && e.actor == "Ann Smit (web)"), "{action}: {history:?}");
    }
    for (reference, status) in [(postponed, "open"), (not_handled, "closed"), (settled, "closed")] {
        assert_eq!(store.case_detail(reference).await.unwrap().summary.status.as_str(), status, "{reference}");
    }
    let today = chrono::Utc::now().date_naive();
    browser.goto(&format!("{base}/register?from={}&to={}", today - chrono::Days::new(3), today + chrono::Days::new(1))).await;
    let register = browser.wait_for("the register", "id=\"postponed-count\"").await;
    for (id, figure) in [("postponed-count", ">1 ("), ("not-handled-count", ">1 ("), ("settled-count", ">1 ("), ("heard-count", ">1<")] {
        let at = register.find(&format!("id=\"{id}\"")).unwrap();
        assert!(register[at..].starts_with(&format!("id=\"{id}\"{figure}")), "{id}: {}", &register[at..at + 80]);
    }
    browser.screenshot(&format!("{db:?}-register-awb").to_lowercase()).await;
    violations.extend(browser.axe().await.into_iter().map(|v| format!("register: {v}")));

    // The yearly publication, linked from the register.
    assert!(register.contains("id=\"publication-link\""));
    browser.goto(&format!("{base}/register/publication?year={}", today.format("%Y"))).await;
    let publication = browser.wait_for("the publication", "id=\"pub-received\"").await;
    assert!(publication.contains("Klachtenjaarverslag") && publication.contains(r#"id="pub-received">3<"#), "the year's figures");
    assert!(publication.contains(r#"id="pub-heard">1<"#) && publication.contains(r#"id="pub-postponed">1<"#));
    for private in [postponed.to_string().as_str(), not_handled.to_string().as_str(), "Mia", mia.as_str(), "dossier van de uitvoerder"] {
        assert!(!publication.contains(private), "{private:?} in the publication");
    }
    browser.screenshot(&format!("{db:?}-publication").to_lowercase()).await;
    violations.extend(browser.axe().await.into_iter().map(|v| format!("publication: {v}")));
    assert!(violations.is_empty(), "axe-core found WCAG 2.1 A/AA violations:\n{}", violations.join("\n"));
    drop(browser);
    daemon.stop().await;
}
