//! Find and read (issue 24) on the real mail stack and both databases: search by name, e-mail
//! address, reference and words of the complaint and of a follow-up (kept current by the
//! database on every write, retention included), only in the cases a handler may read; the
//! list's filters and order as links; "my day"; the case page's next step first; the pages
//! checked with axe-core in Chromium.

use super::*;

on_both_databases!(a_handler_finds_cases_and_sees_their_day);

async fn a_handler_finds_cases_and_sees_their_day(db: Db) {
    Box::pin(walk(db)).await
}

/// The references on a list page, in order.
fn references(html: &str) -> Vec<String> {
    html.split("<td><a href=\"/cases/").skip(1).map(|s| s.split('"').next().unwrap().to_string()).collect()
}

/// The world of this test: three handlers (Ann, Bob, and Sam, a supervisor), Mia's complaint by
/// mail (Ann's), a long overdue case of Ann's and one of Bob's, made by hand; everyone signed in.
struct Find {
    w: World,
    daemon: Running,
    base: String,
    ann: String,
    mia: String,
    mail_case: String,
    overdue: String,
    bobs: String,
    ann_client: Client,
    bob_client: Client,
    sam_client: Client,
}

async fn walk(db: Db) {
    capture_logs();
    let mut f = setup(db).await;
    searches(&mut f).await;
    my_day(&mut f).await;
    lists(&mut f).await;
    case_page_and_retention(&mut f).await;
    in_the_browser(&f, db).await;
    f.daemon.stop().await;
}

async fn setup(db: Db) -> Find {
    let stack = MailStack::shared();
    let Team { w, base, ann, bob, sam, mia } = team(db).await;
    let daemon = w.start();
    let store = w.store().await;
    let (_, raw) = w.complaint("Mia Jansen", &mia, "Afspraak gemist", "Mijn afspraak bij het loket ging niet door en niemand belde mij.");
    w.send(&mia, &raw).await;
    let mail_case = eventually("the complaint acknowledged", WAIT, || async {
        store.list_cases().await.unwrap().into_iter().find(|c| c.complainant_email.as_deref() == Some(mia.as_str()) && c.acknowledgement_word() == "sent")
    })
    .await
    .reference;
    // Two more by hand: Ann's, long overdue, about the staff; and one of Bob's.
    let day = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    let overdue = register_by_hand(
        store,
        &hand_made_case(
            Some("Kees Vos"),
            "kees@burger.test",
            "De medewerker was onbeleefd.",
            day("2020-03-02"),
            [day("2020-03-09"), day("2020-03-16"), day("2020-03-30")],
        ),
    )
    .await;
    store.assign(&overdue, "Ann Smit", "test").await.unwrap();
    let bobs = register_by_hand(
        store,
        &hand_made_case(
            Some("Lot Jansen"),
            "lot@burger.test",
            "Mijn uitkering kwam te laat.",
            day("2099-03-02"),
            [day("2099-03-09"), day("2099-03-16"), day("2099-03-30")],
        ),
    )
    .await;
    store.assign(&bobs, "Bob Berg", "test").await.unwrap();

    let (ann_client, bob_client, sam_client) =
        (sign_in_raw(stack, &base, &ann).await, sign_in_raw(stack, &base, &bob).await, sign_in_raw(stack, &base, &sam).await);
    Find {
        w,
        daemon,
        base,
        ann,
        mia,
        mail_case: mail_case.to_string(),
        overdue: overdue.to_string(),
        bobs: bobs.to_string(),
        ann_client,
        bob_client,
        sam_client,
    }
}

async fn searches(f: &mut Find) {
    let w = &f.w;
    let base = f.base.clone();
    let mia = f.mia.clone();
    let mail_case = f.mail_case.clone();
    let bobs = f.bobs.clone();
    let ann_client = &mut f.ann_client;
    let bob_client = &mut f.bob_client;
    let sam_client = &mut f.sam_client;
    // Search: by name, address, reference, words of the text (a stem's prefix too); only what
    // the handler may read (Bob's "Jansen" is not Ann's to see).
    for q in ["Jansen", "jans", mia.as_str(), mail_case.as_str(), &mail_case.to_lowercase(), "loket", "afspraak gemist"] {
        let page = ann_client.get(&format!("/cases?q={}", urlencode(q))).await;
        assert_eq!(page.status, 200, "{q}: {}", page.text());
        assert_eq!(references(&page.text()), [mail_case.as_str()], "Ann searches {q:?}");
    }
    assert_eq!(references(&bob_client.get("/cases?q=Jansen").await.text()), [bobs.as_str()], "Bob sees his own only");
    let all = references(&sam_client.get("/cases?q=Jansen&scope=all").await.text());
    assert_eq!(all.len(), 2, "a supervisor finds both: {all:?}");
    for q in ["%22%20OR%20*", "%22*%22%20-%20%3A"] {
        let nothing = ann_client.get(&format!("/cases?q={q}")).await;
        assert_eq!(nothing.status, 200, "FTS syntax is only text: {}", nothing.text());
        assert!(nothing.text().contains("id=\"no-cases\""), "{q}");
    }

    // A follow-up by mail is found by its words at once.
    let follow_up = format!(
        "From: Mia Jansen <{mia}>\r\nTo: {}\r\nSubject: Re: {mail_case}\r\nMessage-ID: <{}@example.test>\r\nDate: Thu, 26 Nov 2026 10:00:00 +0100\r\n\r\nIk kreeg ook een parkeerboete.\r\n",
        w.complaints,
        unique("follow")
    );
    w.send(&mia, follow_up.as_bytes()).await;
    let ann_cookies = ann_client.cookies.clone();
    eventually("the follow-up found by its words", WAIT, || async {
        let mut c = Client { base: base.clone(), cookies: ann_cookies.clone() };
        let page = c.get("/cases?q=parkeerboete").await.text();
        (references(&page) == [mail_case.as_str()]).then_some(())
    })
    .await;
}

async fn my_day(f: &mut Find) {
    let overdue = f.overdue.clone();
    let mail_case = f.mail_case.clone();
    let bobs = f.bobs.clone();
    let ann_client = &mut f.ann_client;
    // My day: the overdue case, the new assignment, the new mail; "seen" clears what is new.
    let my_day = ann_client.get("/").await;
    assert_eq!(my_day.status, 200, "{}", my_day.text());
    let html = my_day.text();
    let section = |id: &str| html.split(&format!("id=\"{id}\"")).nth(1).map(|s| s.split("</table>").next().unwrap().to_string()).unwrap_or_default();
    assert!(section("overdue").contains(&overdue), "overdue: {html}");
    assert!(section("assigned").contains(&overdue) && !section("assigned").contains(&bobs));
    assert!(section("new-mail").contains(&mail_case), "the follow-up is new mail: {html}");
    assert!(!html.contains(&bobs));
    let csrf = csrf_in(&html);
    assert_eq!(ann_client.post("/my-day/seen", &[("csrf", "0")]).await.status, 403);
    assert_eq!(ann_client.post("/my-day/seen", &[("csrf", &csrf)]).await.status, 303);
    let after = ann_client.get("/").await.text();
    assert!(!after.contains("id=\"new-mail\"") && !after.contains("id=\"assigned\""), "nothing new after seen: {after}");
    assert!(after.contains("id=\"overdue\""), "deadlines stay");
}

async fn lists(f: &mut Find) {
    let overdue = f.overdue.clone();
    let ann_client = &mut f.ann_client;
    // The list's filters and order, as links.
    assert_eq!(references(&ann_client.get("/cases?due=overdue").await.text()), [overdue.as_str()]);
    let by_reference = references(&ann_client.get("/cases?sort=reference").await.text());
    let mut sorted = by_reference.clone();
    sorted.sort();
    assert_eq!(by_reference, sorted);
    let reversed = references(&ann_client.get("/cases?sort=reference&desc=1").await.text());
    assert_eq!(reversed, by_reference.iter().rev().cloned().collect::<Vec<_>>());
    let csrf = csrf_in(&ann_client.get(&format!("/cases/{overdue}")).await.text());
    assert_eq!(ann_client.post(&format!("/cases/{overdue}/category"), &[("csrf", &csrf), ("category", "staff")]).await.status, 303);
    assert_eq!(references(&ann_client.get("/cases?category=staff").await.text()), [overdue.as_str()]);
    assert!(references(&ann_client.get("/cases?category=service").await.text()).is_empty());
    let bad = ann_client.get("/cases?due=tomorrow").await;
    assert_eq!(bad.status, 400);
    assert!(bad.text().contains("week, overdue"), "{}", bad.text());
}

async fn case_page_and_retention(f: &mut Find) {
    let w = &f.w;
    let mail_case = f.mail_case.clone();
    let overdue = f.overdue.clone();
    let ann_client = &mut f.ann_client;
    let sam_client = &mut f.sam_client;
    // The case page: the next step first, only the actions that apply.
    let page = ann_client.get(&format!("/cases/{mail_case}")).await.text();
    assert!(page.contains("id=\"next-step\"") && page.contains("href=\"#action-progress\""), "the progress notice is next");
    assert!(page.contains("id=\"action-respond\"><summary>"), "the final response is not open before the progress notice");
    assert!(page.contains("id=\"action-progress\" open>"));
    assert!(!page.contains("id=\"action-acknowledged\"") && !page.contains("id=\"action-reopen\"") && !page.contains("id=\"action-hearing-report\""));

    // Retention: the texts go, the case is still found by its reference (not by its words).
    let retained = w.config.database.url.clone();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&retained).await.unwrap();
    sqlx::query("UPDATE cases SET status = 'closed', closed_at = 1 WHERE reference = $1").bind(&overdue).execute(&mut conn).await.unwrap();
    let _ = sqlx::Connection::close(conn).await;
    w.store().await.remove_personal_data(klachtd::store::now()).await.unwrap();
    assert_eq!(references(&sam_client.get(&format!("/cases?q={overdue}&scope=all")).await.text()), [overdue.as_str()]);
    assert!(references(&sam_client.get("/cases?q=onbeleefd&scope=all").await.text()).is_empty(), "the words went with the text");
    assert!(references(&sam_client.get("/cases?q=Kees&scope=all").await.text()).is_empty(), "and the name");
}

async fn in_the_browser(f: &Find, db: Db) {
    let w = &f.w;
    let base = f.base.clone();
    let ann = f.ann.clone();
    let mail_case = f.mail_case.clone();
    let stack = w.stack;
    // In the browser: the list with a search, my day and a case page, checked with axe.
    let browser = Browser::start(tempfile::tempdir().unwrap().path()).await;
    browser.goto(&format!("{base}/sign-in")).await;
    browser.wait_for("the sign-in form", "id=\"send-link\"").await;
    let seen = stack.messages(&ann, "INBOX").await.len();
    browser.type_into("#email", &ann).await;
    browser.click("#send-link").await;
    browser.wait_for("the sent page", "id=\"sent\"").await;
    browser.goto(&sign_in_link(stack, &ann, seen).await).await;
    browser.click("#use-link").await;
    browser.wait_for("my day", "id=\"my-day-heading\"").await;
    browser.goto(&format!("{base}/cases")).await;
    browser.wait_for("my cases", "id=\"cases\"").await;
    let mut violations = Vec::new();
    browser.type_into("#q", "Jansen").await;
    browser.click("#find-button").await;
    let results = browser.wait_for("the search results", ">Zoekresultaten</h1>").await;
    assert_eq!(references(&results), [mail_case.as_str()]);
    assert!(browser.current_url().await.ends_with("/cases?q=Jansen"), "{}", browser.current_url().await);
    // The filters' form: overdue ones, all states.
    browser.goto(&format!("{base}/cases")).await;
    browser.wait_for("my cases", "id=\"filter\"").await;
    browser.click("#due option[value=overdue]").await;
    browser.click("#state option[value=any]").await;
    browser.click("#filter-button").await;
    let filtered = browser.wait_for("the filtered list", "aria-current=\"page\">Termijn verstreken").await;
    assert!(browser.current_url().await.ends_with("/cases?scope=mine&state=any&due=overdue&category="), "{}", browser.current_url().await);
    assert!(references(&filtered).is_empty(), "Ann's overdue case was closed by retention above: {:?}", references(&filtered));
    for (what, path, marker) in [
        ("search", "/cases?q=Jansen".to_string(), "id=\"cases\""),
        ("my day", "/".to_string(), "id=\"my-day-heading\""),
        ("case", format!("/cases/{mail_case}"), "id=\"next-step\""),
    ] {
        browser.goto(&format!("{base}{path}")).await;
        browser.wait_for(what, marker).await;
        violations.extend(browser.axe().await.into_iter().map(|v| format!("{what}: {v}")));
        browser.screenshot(&format!("{db:?}-find-{}", what.replace(' ', "-")).to_lowercase()).await;
    }
    assert!(violations.is_empty(), "axe-core found WCAG 2.1 A/AA violations:\n{}", violations.join("\n"));
}
