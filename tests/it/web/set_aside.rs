//! The supervisors' page of set-aside mail (issue 21) in the browser, on the real mail stack: a
//! complaint the intake set aside is found, opened with its text escaped, and registered as a
//! complaint with the page's one form; it becomes a case with its original date of receipt
//! and the complainant's acknowledgement arrives. A handler who is no supervisor is refused as
//! on the register. The pages are checked with axe-core.

use super::*;
use crate::set_aside::form_complaint;
use klachtd::store::set_aside::HeldFilter;

on_both_databases!(a_supervisor_registers_a_set_aside_mail_in_the_browser);

async fn a_supervisor_registers_a_set_aside_mail_in_the_browser(db: Db) {
    // On the heap: the walk through the pages is one large future.
    Box::pin(walk(db)).await
}

async fn walk(db: Db) {
    let stack = MailStack::shared();
    let (ann, sam, karin) = (format!("{}@dienst.test", unique("ann")), format!("{}@dienst.test", unique("sam")), format!("{}@burger.test", unique("karin")));
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let extra = format!(
        "{ANSWER_ALL}[[handlers]]\nname = \"Ann Smit\"\nemail = \"{ann}\"\n[[handlers]]\nname = \"Sam Smits\"\nemail = \"{sam}\"\nsupervisor = true\n\
         [web]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"{base}\"\n"
    );
    let w = World::with(db, stack, &extra).await;
    // A person's complaint through a web form that marks its mail automatic: set aside. Its
    // subject and text carry markup, which the page must show as text.
    let form = form_complaint(&w.complaints, &karin, "Klacht <b>formulier</b>", "Mijn bezwaar <script>alert(1)</script> is al twee maanden niet behandeld.");
    w.stack.append(&w.complaints, "INBOX", &form, Some("\"20-Nov-2026 10:00:00 +0100\"")).await;
    let spam = format!(
        "X-Spam-Flag: YES\r\nFrom: <{}>\r\nTo: {}\r\nSubject: Uw pakket\r\nMessage-ID: <{}@x.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nKlik hier.\r\n",
        unique("pakket"),
        w.complaints,
        unique("spam")
    );
    w.stack.append(&w.complaints, "INBOX", spam.as_bytes(), Some("\"21-Nov-2026 10:00:00 +0100\"")).await;
    let daemon = w.start();
    let store = w.store().await;
    let held = eventually("one set aside, one quarantined", WAIT, || async {
        Some(store.held_mails(HeldFilter::All, None, 10, None).await.unwrap().mails).filter(|m| m.len() == 2)
    })
    .await;
    let form_id = held.iter().find(|m| m.from_address.as_deref() == Some(karin.as_str())).unwrap().id;
    let spam_id = held.iter().find(|m| m.id != form_id).unwrap().id;

    // A handler who is no supervisor: the register's answer, for the list, a mail and the form.
    let mut ann_client = sign_in_raw(stack, &base, &ann).await;
    assert!(!ann_client.get("/cases").await.text().contains("href=\"/set-aside\""), "no link for a handler");
    let register = ann_client.get("/register").await;
    let refused = ann_client.get("/set-aside").await;
    assert_eq!((refused.status, register.status), (403, 403));
    assert_eq!(refused.text(), register.text(), "the same answer as for the register");
    assert_eq!(ann_client.get(&format!("/set-aside/{form_id}")).await.status, 403);
    let csrf = csrf_in(&register.text());
    assert_eq!(ann_client.post(&format!("/set-aside/{form_id}/register"), &[("csrf", &csrf)]).await.status, 403);
    assert!(!refused.text().contains(&karin) && !refused.text().contains("formulier"));
    assert_eq!(store.list_cases().await.unwrap().len(), 0, "nothing registered");

    // The supervisor, in the browser.
    let downloads = tempfile::tempdir().unwrap();
    let browser = Browser::start(downloads.path()).await;
    let mut violations = Vec::new();
    browser.goto(&format!("{base}/sign-in")).await;
    browser.wait_for("the sign-in form", "id=\"send-link\"").await;
    browser.type_into("#email", &sam).await;
    browser.click("#send-link").await;
    browser.wait_for("the sent page", "id=\"sent\"").await;
    let link = sign_in_link(stack, &sam, 0).await;
    browser.goto(&link).await;
    browser.click("#use-link").await;
    browser.wait_for("Sam's day", "id=\"my-day-heading\"").await;
    browser.click("a[href='/set-aside']").await;
    let list = browser.wait_for("the set-aside list", "id=\"set-aside\"").await;
    // Newest first: the spam of 21 November above the form of the 20th; class and reason in words.
    let (spam_at, form_at) = (list.find(&format!("/set-aside/{spam_id}\"")).unwrap(), list.find(&format!("/set-aside/{form_id}\"")).unwrap());
    assert!(spam_at < form_at, "newest first");
    for words in [
        karin.as_str(),
        "automatische e-mail",
        "automatisch verstuurd (Auto-Submitted)",
        "quarantaine",
        "door spamassassin als spam gemarkeerd",
        "20-11-2026 10:00",
    ] {
        assert!(list.contains(words), "{words} on the list");
    }
    assert!(list.contains("Klacht &lt;b&gt;formulier&lt;/b&gt;") && !list.contains("<b>formulier"), "the subject as text");
    browser.screenshot(&format!("{db:?}-set-aside").to_lowercase()).await;
    violations.extend(browser.axe().await.into_iter().map(|v| format!("set-aside list: {v}")));

    // Opened: the text as text, never as markup.
    browser.click(&format!("a[href='/set-aside/{form_id}']")).await;
    let page = browser.wait_for("the set-aside mail", "id=\"held-text\"").await;
    assert!(page.contains("Mijn bezwaar &lt;script&gt;alert(1)&lt;/script&gt; is al twee maanden"), "{page}");
    assert!(!page.contains("<script>alert(1)"));
    browser.screenshot(&format!("{db:?}-set-aside-mail").to_lowercase()).await;
    violations.extend(browser.axe().await.into_iter().map(|v| format!("set-aside mail: {v}")));

    // Without its token, the form does nothing.
    let mut sam_client = Client::new(&base);
    sam_client.cookies.insert("__Host-klachtd_session".into(), browser.cookie("__Host-klachtd_session").await);
    assert_eq!(sam_client.post(&format!("/set-aside/{spam_id}/register"), &[("csrf", &"0".repeat(64))]).await.status, 403);
    assert_eq!(sam_client.post(&format!("/set-aside/{spam_id}/register"), &[]).await.status, 403);
    assert_eq!(store.held_mails(HeldFilter::All, None, 10, None).await.unwrap().mails.len(), 2);

    // Registered as a complaint: a case with the original date, on its page.
    browser.click("#form-register-held button[type=submit]").await;
    let case_page = browser.wait_for("the new case", "id=\"done\"").await;
    assert!(case_page.contains("terzijde gelegde e-mail geregistreerd als klacht"), "{case_page}");
    let case = store.list_cases().await.unwrap().pop().expect("a case");
    assert!(browser.current_url().await.ends_with(&format!("/cases/{}?done=registered-from-set-aside", case.reference)));
    assert_eq!((case.received_on.to_string().as_str(), case.complainant_email.as_deref()), ("2026-11-20", Some(karin.as_str())));
    let acks = eventually("the acknowledgement reaches Karin", WAIT, || async { Some(stack.messages(&karin, "INBOX").await).filter(|m| !m.is_empty()) }).await;
    let ack = parsed(&acks[0]);
    assert!(ack.subject().unwrap().contains(&case.reference.to_string()));
    assert!(text_of(&ack).contains("20 november 2026"), "the acknowledgement names the original date");
    let history = store.case_detail(&case.reference).await.unwrap().history;
    assert!(
        history
            .iter()
            .any(|e| e.actor == "Sam Smits (web)" && e.action == event("released-from-set-aside") && e.detail == "set aside as machine mail (auto-submitted)"),
        "{history:?}"
    );
    // It left the list; the quarantined mail is still there. Twice: registered before.
    let left = store.held_mails(HeldFilter::All, None, 10, None).await.unwrap().mails;
    assert_eq!(left.iter().map(|m| m.id).collect::<Vec<_>>(), [spam_id]);
    let csrf = csrf_in(&sam_client.get("/set-aside").await.text());
    assert_eq!(sam_client.post(&format!("/set-aside/{form_id}/register"), &[("csrf", &csrf)]).await.status, 404);
    assert_eq!(store.list_cases().await.unwrap().len(), 1);

    assert!(violations.is_empty(), "axe-core found WCAG 2.1 A/AA violations:\n{}", violations.join("\n"));
    drop(browser);
    daemon.stop().await;
}
