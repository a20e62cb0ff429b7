//! A Dutch workspace says nothing in English (issue 24, "their own language"). A supervisor
//! walks it in Chromium: the list, a case with its history, a refusal, the register and the
//! set-aside mail with a quarantined mail's reasons. Every page's text (and the labels a
//! screen reader reads) is checked against the English words of the catalogues: a word of an
//! English value that no Dutch value has fails the test. Numbers and dates in the Dutch form.

use std::collections::BTreeSet;

use super::*;
use klachtd::store::set_aside::HeldFilter;

on_both_databases!(a_dutch_workspace_says_nothing_in_english);

async fn a_dutch_workspace_says_nothing_in_english(db: Db) {
    // On the heap: the walk through the pages is one large future.
    Box::pin(walk(db)).await
}

/// The words of a catalogue's values (TOML `key = "value"`), lower case, without placeholders.
fn words_of(toml_text: &str) -> BTreeSet<String> {
    let table: toml::Table = toml::from_str(toml_text).unwrap();
    let mut words = BTreeSet::new();
    for value in table.values().filter_map(|v| v.as_str()) {
        let mut text = String::new();
        let mut in_placeholder = false;
        for c in value.chars() {
            match c {
                '{' => in_placeholder = true,
                '}' => in_placeholder = false,
                c if !in_placeholder => text.push(c),
                _ => {}
            }
        }
        words.extend(text.split(|c: char| !c.is_alphabetic()).filter(|w| w.chars().count() >= 4).map(str::to_lowercase));
    }
    words
}

/// Words that only the English catalogues have: on a Dutch page, each is a word left untranslated.
fn english_only_words() -> BTreeSet<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    let read = |path: &str| std::fs::read_to_string(root.join(path)).unwrap();
    let english: BTreeSet<String> = words_of(&read("web/en/strings.toml")).union(&words_of(&read("en/messages.toml"))).cloned().collect();
    let dutch: BTreeSet<String> = words_of(&read("web/nl/strings.toml")).union(&words_of(&read("nl/messages.toml"))).cloned().collect();
    let english: BTreeSet<String> = english.difference(&dutch).cloned().collect();
    assert!(english.len() > 300 && english.contains("already") && english.contains("complaint"), "the English words are found: {english:?}");
    english
}

/// What a person reads on a page: its text outside tags, scripts and styles, and the
/// attributes a screen reader or a tooltip reads.
fn readable_text(html: &str) -> String {
    let mut text = String::new();
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        text.push_str(&rest[..open]);
        text.push(' ');
        let tag_end = rest[open..].find('>').map_or(rest.len(), |i| open + i + 1);
        let tag = &rest[open..tag_end];
        for attribute in ["aria-label=\"", "title=\"", "alt=\"", "placeholder=\""] {
            if let Some(at) = tag.find(attribute) {
                let value = &tag[at + attribute.len()..];
                text.push_str(&value[..value.find('"').unwrap_or(value.len())]);
                text.push(' ');
            }
        }
        rest = &rest[tag_end..];
        for skipped in ["script", "style"] {
            if tag.starts_with(&format!("<{skipped}")) {
                let close = format!("</{skipped}>");
                rest = rest.find(&close).map_or("", |i| &rest[i + close.len()..]);
            }
        }
    }
    text.push_str(rest);
    text.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#x27;", "'")
}

/// The English words on `page`, each with a little of its context.
fn english_on(page: &str, english: &BTreeSet<String>) -> Vec<String> {
    let text = readable_text(page);
    let mut found = Vec::new();
    for (at, word) in text.match_indices(|c: char| c.is_alphabetic()).fold(Vec::<(usize, String)>::new(), |mut words, (i, c)| {
        match words.last_mut() {
            Some((start, w)) if *start + w.len() == i => w.push_str(c),
            _ => words.push((i, c.to_string())),
        }
        words
    }) {
        if english.contains(&word.to_lowercase()) {
            let from = text[..at].char_indices().rev().nth(30).map_or(0, |(i, _)| i);
            let to = text[at..].char_indices().nth(40).map_or(text.len(), |(i, _)| at + i);
            found.push(format!("{word:?} in \"…{}…\"", text[from..to].split_whitespace().collect::<Vec<_>>().join(" ")));
        }
    }
    found
}

/// The workspace of a running daemon: a supervisor, and mail that made a case, a quarantine and a
/// set-aside mail.
struct Workspace {
    w: World,
    daemon: Running,
    base: String,
    sam: String,
    reference: String,
    quarantined: i64,
}

async fn workspace(db: Db) -> Workspace {
    let stack = MailStack::shared();
    let (ann, sam, mia) = (format!("{}@dienst.test", unique("ann")), format!("{}@dienst.test", unique("sam")), format!("{}@burger.test", unique("mia")));
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let extra = format!(
        "{ANSWER_ALL}[assignment]\nrule = \"default\"\ndefault_handler = \"Ann Smit\"\n\
         [[handlers]]\nname = \"Ann Smit\"\nemail = \"{ann}\"\n[[handlers]]\nname = \"Sam Smits\"\nemail = \"{sam}\"\nsupervisor = true\n\
         [web]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"{base}\"\n"
    );
    let w = World::with(db, stack, &extra).await;
    // A complaint; a mail from a no-reply address with a person's words (quarantined: unclear);
    // a web form's mail marked automatic (set aside).
    let (_, complaint) = w.complaint("Mia Jansen", &mia, "Klacht over mijn uitkering", "Mijn uitkering is drie maanden te laat betaald.");
    w.send(&mia, &complaint).await;
    let noreply = format!(
        "From: Gemeente Voorbeeld <noreply@{}.test>\r\nTo: {}\r\nSubject: Uw melding\r\nMessage-ID: <{}@gemeente.test>\r\nDate: Fri, 20 Nov 2026 09:00:00 +0100\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nIk wil klagen over de behandeling van mijn aanvraag.\r\n",
        unique("gemeente"),
        w.complaints,
        unique("noreply")
    );
    w.stack.append(&w.complaints, "INBOX", noreply.as_bytes(), Some("\"20-Nov-2026 09:00:00 +0100\"")).await;
    let form = crate::set_aside::form_complaint(&w.complaints, &format!("{}@burger.test", unique("karin")), "Formulier", "Ik heb een klacht.");
    w.stack.append(&w.complaints, "INBOX", &form, Some("\"21-Nov-2026 10:00:00 +0100\"")).await;
    let daemon = w.start();
    let store = w.store().await;
    let held = eventually("one quarantined, one set aside", WAIT, || async {
        Some(store.held_mails(HeldFilter::All, None, 10, None).await.unwrap().mails).filter(|m| m.len() == 2)
    })
    .await;
    let quarantined = held.iter().find(|m| m.kind.as_str() == "quarantined").expect("the no-reply mail is quarantined").id;
    let reference = eventually("the complaint is a case", WAIT, || async { store.list_cases().await.unwrap().into_iter().next() }).await.reference;
    eventually("its acknowledgement is sent", WAIT, || async { store.case_detail(&reference).await.unwrap().summary.acknowledged_at }).await;
    Workspace { w, daemon, base, sam, reference: reference.to_string(), quarantined }
}

async fn walk(db: Db) {
    let english = english_only_words();
    let Workspace { w, daemon, base, sam, reference, quarantined } = workspace(db).await;
    let (stack, store) = (w.stack, w.store().await);

    // The supervisor signs in, in the browser.
    let downloads = tempfile::tempdir().unwrap();
    let browser = Browser::start(downloads.path()).await;
    browser.goto(&format!("{base}/sign-in")).await;
    browser.wait_for("the sign-in form", "id=\"send-link\"").await;
    browser.type_into("#email", &sam).await;
    browser.click("#send-link").await;
    browser.wait_for("the sent page", "id=\"sent\"").await;
    let link = sign_in_link(stack, &sam, 0).await;
    browser.goto(&link).await;
    browser.click("#use-link").await;
    browser.wait_for("Sam's day", "id=\"my-day-heading\"").await;
    let mut pages: Vec<(&str, String)> = Vec::new();

    // A progress notice and a note by form, so the history has a date and a note in it.
    let mut sam_client = Client::new(&base);
    sam_client.cookies.insert("__Host-klachtd_session".into(), browser.cookie("__Host-klachtd_session").await);
    let csrf = csrf_in(&sam_client.get(&format!("/cases/{reference}")).await.text());
    let expected = chrono::NaiveDate::from_ymd_opt(2099, 1, 30).unwrap();
    for (action, fields) in [("progress", vec![("expected", expected.to_string())]), ("note", vec![("text", "Gebeld met mevrouw Jansen.".to_string())])] {
        let mut form = vec![("csrf", csrf.clone())];
        form.extend(fields);
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_eq!(sam_client.post(&format!("/cases/{reference}/{action}"), &form).await.status, 303, "{action}");
    }
    eventually("the progress notice is sent", WAIT, || async { store.case_detail(&cref(&reference)).await.unwrap().summary.progress_sent_at }).await;

    // The list of all cases.
    browser.goto(&format!("{base}/cases?all=1")).await;
    pages.push(("all cases", browser.wait_for("all cases", "id=\"cases\"").await));
    browser.goto(&format!("{base}/")).await;
    pages.push(("my day", browser.wait_for("my day", "id=\"my-day-heading\"").await));
    browser.goto(&format!("{base}/cases?q=klacht")).await;
    pages.push(("search", browser.wait_for("search results", "id=\"find\"").await));

    // The case: its history by kind, its dates in the Dutch form.
    browser.goto(&format!("{base}/cases/{reference}?done=progress")).await;
    let case_page = browser.wait_for("the case", "id=\"history\"").await;
    let history = readable_text(case_page.split("id=\"history\"").nth(1).unwrap());
    for words in ["geregistreerd", "binnengekomen per e-mail", "ontvangstbevestiging verzonden", "afhandeling verwacht op 30-01-2099", "notitie", "bekeken"] {
        assert!(history.contains(words), "{words:?} in the history: {history}");
    }
    assert!(case_page.contains("voortgangsbericht klaargezet"), "the done notice in Dutch");
    pages.push(("case", case_page));

    // A refusal: reopening an open case (the page offers no such form; a stale page would post it).
    let stale_form = format!(
        "const f = document.createElement('form'); f.method = 'post'; f.action = '/cases/{reference}/reopen'; \
         f.appendChild(document.querySelector(\"input[name=csrf]\").cloneNode()); document.body.appendChild(f); f.submit();"
    );
    browser.cmd("POST", "/execute/sync", json!({"script": stale_form, "args": []})).await;
    let refused = browser.wait_for("the refusal", "role=\"alert\"").await;
    assert!(refused.contains(&format!("{reference} is open; er is niets te heropenen")), "{refused}");
    pages.push(("refusal", refused));

    // The register, with its median in the Dutch form.
    browser.goto(&format!("{base}/register?from=2026-01-01&to=2099-12-31")).await;
    pages.push(("register", browser.wait_for("the register", "id=\"figures\"").await));

    // The set-aside mail, and the quarantined mail with its reasons in Dutch.
    browser.goto(&format!("{base}/set-aside")).await;
    let list = browser.wait_for("the set-aside list", "id=\"set-aside\"").await;
    assert!(list.contains("onduidelijk of een mens dit schreef (verstuurd vanaf een noreply-adres)"), "{}", readable_text(&list));
    assert!(list.contains("20-11-2026 09:00"), "the date and time in the Dutch form");
    pages.push(("set-aside", list));
    browser.goto(&format!("{base}/set-aside/{quarantined}")).await;
    pages.push(("quarantined mail", browser.wait_for("the quarantined mail", "id=\"held-text\"").await));

    // The check finds what it looks for: the English refusal would fail it.
    assert!(!english_on("<p>KL-2026-0001 is open; there is nothing to reopen</p>", &english).is_empty());
    if std::env::var_os("KLACHTD_TEST_SHOW_PAGES").is_some() {
        pages.iter().for_each(|(name, page)| println!("== {name}\n{}", readable_text(page).split_whitespace().collect::<Vec<_>>().join(" ")));
    }
    let english: Vec<String> = pages.iter().flat_map(|(name, page)| english_on(page, &english).into_iter().map(move |w| format!("{name}: {w}"))).collect();
    assert!(english.is_empty(), "English on the Dutch workspace:\n{}", english.join("\n"));
    drop(browser);
    daemon.stop().await;
}
