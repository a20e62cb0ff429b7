//! Strict separation of organisations (issue 25) at the doors a handler uses: the workspace over
//! HTTP, and the command line with `--organisation`. A case of another organisation answers
//! exactly as a case that does not exist, and the refusal is in its history. The cases are
//! written into the database with their organisation, as each organisation's intake records
//! them; the handlers come from the configuration with their organisations.

use super::*;

on_both_databases!(another_organisations_case_is_unknown_on_the_web_and_the_command_line, the_sign_in_mail_is_of_the_handlers_own_organisations);

async fn another_organisations_case_is_unknown_on_the_web_and_the_command_line(db: Db) {
    Box::pin(walk(db)).await
}

/// The history entries of `reference` as (action, actor, detail).
async fn history(store: &klachtd::store::Store, reference: &str) -> Vec<(klachtd::store::HistoryEvent, String, String)> {
    store.case_detail(&cref(reference)).await.unwrap().history.into_iter().map(|e| (e.action, e.actor, e.detail)).collect()
}

async fn walk(db: Db) {
    let stack = MailStack::shared();
    let (ann, kim, sam) = (format!("{}@dienst.test", unique("ann")), format!("{}@dienst.test", unique("kim")), format!("{}@dienst.test", unique("sam")));
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let extra = format!(
        "{ANSWER_ALL}[[handlers]]\nname = \"Ann Smit\"\nemail = \"{ann}\"\norganisations = [\"wp\"]\n\
         [[handlers]]\nname = \"Kim Kok\"\nemail = \"{kim}\"\nsupervisor = true\norganisations = [\"kl\"]\n\
         [[handlers]]\nname = \"Sam Smits\"\nemail = \"{sam}\"\nsupervisor = true\norganisations = [\"wp\", \"kl\"]\n\
         [web]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"{base}\"\n"
    );
    let w = World::with(db, stack, &extra).await;
    let daemon = w.start();
    let store = w.store().await;
    eventually("the configured handlers", WAIT, || async { (store.handlers().await.unwrap().len() == 3).then_some(()) }).await;
    let conn = sqlx::AnyPool::connect(&w.db.url).await.unwrap();
    for (reference, organisation, handler) in [("WP-2026-0001", "wp", "'Ann Smit'"), ("WP-2026-0002", "wp", "NULL"), ("KL-2026-0001", "kl", "NULL")] {
        let sql = format!(
            "INSERT INTO cases (reference, status, source, subject, description, received_on, received_at, acknowledge_by, progress_by, respond_by, created_at, handler_id, organisation)
             VALUES ('{reference}', 'open', 'email', 'Klacht', 'Een zoekwoord.', '2026-11-02', 0, '2026-11-09', '2026-11-16', '2026-11-30', 0,
                     (SELECT id FROM handlers WHERE name = {handler}), '{organisation}')"
        );
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&conn).await.unwrap();
    }
    // Mail of today: retention removes mail outside any case after its period.
    let (mut held, now) = (Vec::new(), chrono::Utc::now().timestamp());
    for organisation in ["wp", "kl"] {
        let sql = format!(
            "INSERT INTO messages (case_id, direction, kind, from_address, subject, body, note, received_at, organisation)
             VALUES (NULL, 'in', 'set-aside', 'robot@leverancier.test', 'Factuur {organisation}', 'x', 'e-invoice', {now}, '{organisation}')"
        );
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&conn).await.unwrap();
        held.push(sqlx::query_scalar::<_, i64>("SELECT MAX(id) FROM messages").fetch_one(&conn).await.unwrap());
    }

    eventually("the workspace listening", WAIT, || async { tokio::net::TcpStream::connect(("127.0.0.1", port)).await.ok() }).await;

    // Kim supervises kl: the list, the search and the case pages are of kl only.
    let mut k = sign_in_raw(stack, &base, &kim).await;
    let list = k.get("/cases?scope=all&state=any").await.text();
    assert!(list.contains("KL-2026-0001") && !list.contains("WP-2026-000"), "{list}");
    let found = k.get("/cases?scope=all&state=any&q=zoekwoord").await.text();
    assert!(found.contains("KL-2026-0001") && !found.contains("WP-2026-000"), "{found}");
    assert_eq!(k.get("/cases/KL-2026-0001").await.status, 200);
    let foreign = k.get("/cases/WP-2026-0001").await;
    let missing = k.get("/cases/WP-2026-0999").await;
    assert_eq!((foreign.status, missing.status), (404, 404));
    assert_eq!(foreign.text(), missing.text(), "another organisation's case reads as one that does not exist");
    // Acting on it: the same answer, nothing done, the refusal recorded.
    let csrf = csrf_in(&list);
    let acted = k.post("/cases/WP-2026-0001/note", &[("csrf", &csrf), ("text", "Kijk ik even naar.")]).await;
    let acted_missing = k.post("/cases/WP-2026-0999/note", &[("csrf", &csrf), ("text", "Kijk ik even naar.")]).await;
    assert_eq!((acted.status, acted_missing.status), (404, 404), "{}", acted.text());
    assert_eq!(acted.text(), acted_missing.text());
    let refused = history(store, "WP-2026-0001").await;
    let by_kim: Vec<&str> =
        refused.iter().filter(|(a, actor, _)| *a == event("access-refused") && actor == "Kim Kok (web)").map(|(_, _, d)| d.as_str()).collect();
    assert_eq!(by_kim, ["case page", "action note"], "{refused:?}");
    assert!(!refused.iter().any(|(a, _, _)| *a == event("note")), "nothing was done: {refused:?}");

    // The register and its CSV: kl's; another organisation's is not there for Kim.
    let csv = k.get("/register.csv?from=2026-01-01&to=2026-12-31").await;
    assert_eq!(csv.status, 200);
    assert!(csv.text().contains("complaints,received,1\n"), "{}", csv.text());
    assert!(csv.header("content-disposition").unwrap().contains("register-kl-"), "{:?}", csv.headers);
    let register = k.get("/register?from=2026-01-01&to=2026-12-31").await;
    assert_eq!(register.status, 200);
    assert!(!register.text().contains(r#"id="organisations""#), "one organisation, no choice");
    assert!(register.text().contains("/register.csv?organisation=kl&amp;from=2026-01-01"), "{}", register.text());
    assert_eq!(k.get("/register.csv?organisation=wp&from=2026-01-01&to=2026-12-31").await.status, 404);
    assert_eq!(k.get("/register/publication?organisation=wp&year=2026").await.status, 404);
    // Set-aside mail: kl's.
    let aside = k.get("/set-aside").await.text();
    assert!(aside.contains("Factuur kl") && !aside.contains("Factuur wp"), "{aside}");
    assert_eq!(k.get(&format!("/set-aside/{}", held[0])).await.status, 404);
    assert_eq!(k.get(&format!("/set-aside/{}", held[1])).await.status, 200);

    // Sam supervises both: a choice of registers, each of one organisation, never summed.
    let mut s = sign_in_raw(stack, &base, &sam).await;
    let register = s.get("/register?from=2026-01-01&to=2026-12-31").await.text();
    assert!(register.contains(r#"id="organisations""#) && register.contains("organisation=wp") && register.contains("organisation=kl"), "{register}");
    let of = |k: &'static str| format!("/register.csv?organisation={k}&from=2026-01-01&to=2026-12-31");
    assert!(s.get(&of("wp")).await.text().contains("complaints,received,2\n"));
    assert!(s.get(&of("kl")).await.text().contains("complaints,received,1\n"));
    assert_eq!(s.get("/cases/WP-2026-0001").await.status, 200);
    daemon.stop().await;

    // The command line, limited to kl: the same refusal as for a case that does not exist.
    let path = w.dir.path().join("k.toml");
    std::fs::write(&path, config_text(w.stack, &w.complaints, &w.db.url, w.dir.path(), &extra)).unwrap();
    let run = |args: &[&str]| klachtd_as_handler(&path, args);
    let (code, _, err) = run(&["cases", "show", "WP-2026-0001", "--organisation", "kl"]);
    let (missing_code, _, missing_err) = run(&["cases", "show", "WP-2026-0999", "--organisation", "kl"]);
    assert_eq!((code, missing_code), (1, 1), "{err}");
    assert_eq!(err.replace("0001", "0999"), missing_err);
    let (code, _, err) = run(&["cases", "note", "WP-2026-0001", "Gebeld.", "--organisation", "kl"]);
    let (_, _, missing_err) = run(&["cases", "note", "WP-2026-0999", "Gebeld.", "--organisation", "kl"]);
    assert_eq!(code, 1);
    assert_eq!(err.replace("0001", "0999"), missing_err);
    let refused = history(store, "WP-2026-0001").await;
    let at_the_command_line: Vec<&str> =
        refused.iter().filter(|(a, actor, _)| *a == event("access-refused") && actor == "handler-ann").map(|(_, _, d)| d.as_str()).collect();
    assert_eq!(at_the_command_line, ["show (--organisation kl)", "note (--organisation kl)"], "{refused:?}");
    assert!(!refused.iter().any(|(a, _, _)| *a == event("note")), "{refused:?}");
    // Within the case's own organisation it works; the list is of the organisation asked for.
    let (code, out, err) = run(&["cases", "show", "WP-2026-0001", "--organisation", "wp"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("WP-2026-0001"));
    let (code, out, _) = run(&["cases", "list", "--organisation", "kl", "--json"]);
    assert_eq!(code, 0);
    let listed: Vec<String> =
        serde_json::from_str::<Vec<serde_json::Value>>(&out).unwrap().iter().map(|c| c["reference"].as_str().unwrap().to_string()).collect();
    assert_eq!(listed, ["KL-2026-0001"]);
    // The register of a database with several organisations is of one of them, asked for.
    let (code, _, err) = run(&["report", "--year", "2026"]);
    assert_eq!(code, 1);
    assert!(err.contains("several organisations (kl, wp)") && err.contains("--organisation"), "{err}");
    let (code, out, err) = run(&["report", "--year", "2026", "--organisation", "wp", "--format", "csv"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("complaints,received,2\n"), "{out}");
    let (code, out, _) = run(&["set-aside", "list", "--organisation", "kl", "--json"]);
    assert_eq!(code, 0);
    assert!(out.contains("Factuur kl") && !out.contains("Factuur wp"), "{out}");
    let quarantined = format!(
        "INSERT INTO messages (case_id, direction, kind, from_address, subject, body, note, received_at, organisation)
         VALUES (NULL, 'in', 'quarantined', 'scanner@dienst.test', 'Scan kl', 'x', 'a copier scan', {now}, 'kl')"
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(quarantined)).execute(&conn).await.unwrap();
    let (code, out, _) = run(&["quarantine", "list", "--organisation", "kl", "--json"]);
    assert_eq!(code, 0);
    assert!(out.contains("Scan kl"), "{out}");
    assert!(!run(&["quarantine", "list", "--organisation", "wp", "--json"]).1.contains("Scan kl"));
    let (code, out, _) = run(&["handlers", "list"]);
    assert_eq!(code, 0);
    assert!(out.lines().any(|l| l.starts_with("Sam Smits") && l.ends_with("kl, wp")), "{out}");
}

/// The sign-in mail is not the deployment's first organisation's (issue 25): a handler of one
/// organisation hears from it and of it only; a handler of several from the first of theirs,
/// naming each.
async fn the_sign_in_mail_is_of_the_handlers_own_organisations(db: Db) {
    use crate::common::organisations::{Deployment, OrganisationSetup};
    let [sara, bea] = ["sara", "bea"].map(|n| format!("{}@dienst.test", unique(n)));
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let extra = format!(
        "[[handlers]]\nname = \"Sara Smit\"\nemail = \"{sara}\"\norganisations = [\"sh\"]\n\
         [[handlers]]\nname = \"Bea Bos\"\nemail = \"{bea}\"\norganisations = [\"wp\", \"sh\"]\n\
         [web]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"{base}\"\n"
    );
    let setup = [
        OrganisationSetup { key: "wp", prefix: "WP", procedure: "preset = \"reintegratie\"", mailboxes: 1 },
        OrganisationSetup { key: "sh", prefix: "SH", procedure: "preset = \"awb\"", mailboxes: 1 },
    ];
    let d = Deployment::new(db, &setup, &extra).await;
    let daemon = d.start();
    let store = d.store().await;
    eventually("the configured handlers", WAIT, || async { (store.handlers().await.unwrap().len() == 2).then_some(()) }).await;
    eventually("the workspace listening", WAIT, || async { tokio::net::TcpStream::connect(("127.0.0.1", port)).await.ok() }).await;
    let (wp, sh) = (&d.organisations[0].addresses[0], &d.organisations[1].addresses[0]);
    // Bea works for both: the mail comes from the first of hers (by key), and names both.
    for (who, named) in [(&sara, "Organisatie sh"), (&bea, "Organisatie sh en Organisatie wp")] {
        let mut c = Client::new(&base);
        let csrf = csrf_in(&c.get("/sign-in").await.text());
        assert_eq!(c.post("/sign-in", &[("csrf", &csrf), ("email", who)]).await.status, 200);
        let mails = eventually("a sign-in mail", WAIT, || async { Some(d.stack.messages(who, "INBOX").await).filter(|m| !m.is_empty()) }).await;
        let mail = parsed(&mails[0]);
        let (from, id, text) = (header(&mail, "From").unwrap_or_default(), header(&mail, "Message-ID").unwrap_or_default(), text_of(&mail));
        assert!(from.contains(sh.as_str()) && from.contains("Organisatie sh") && !from.contains(wp.as_str()), "{from}");
        assert!(id.ends_with("@sh.test>"), "{id}");
        assert!(text.contains(&format!("klachtenwerkomgeving van {named}:")), "{text}");
        if who == &sara {
            assert!(!text.contains("Organisatie wp"), "not a word of another organisation:\n{text}");
        }
    }
    daemon.stop().await;
}
