//! Several organisations in one deployment (issue 25), end to end through the real mail stack
//! on SQLite and PostgreSQL: each organisation's mailbox is taken in by its own intake, its
//! complaints become its cases with its prefix and its procedure's dates, the same mail to two
//! organisations is a case of each, and a reply that quotes another organisation's reference
//! does not thread into that case.

use crate::common::organisations::{CaseRow, Deployment, OrganisationSetup};
use crate::common::*;
use chrono::Utc;
use klachtd::domain::calendar::amsterdam_date;
use klachtd::domain::terms::{Preset, Procedure};

on_both_databases!(
    complaints_to_each_organisation_are_its_cases_and_do_not_cross,
    each_organisation_keeps_personal_data_for_its_own_period,
    an_organisations_second_mailbox_is_read_on_its_own,
    each_organisations_reminders_come_from_it_and_name_its_cases_only
);

const SETUP: [OrganisationSetup; 2] = [
    OrganisationSetup { key: "wp", prefix: "WP", procedure: "preset = \"reintegratie\"", mailboxes: 1 },
    OrganisationSetup { key: "sh", prefix: "SH", procedure: "preset = \"awb\"", mailboxes: 1 },
];

/// The case of `organisation` that a predicate picks, once there.
async fn case_of(d: &Deployment, what: &str, pick: impl Fn(&CaseRow) -> bool) -> CaseRow {
    eventually(what, WAIT, || async { d.cases().await.into_iter().find(|c| pick(c)) }).await
}

/// The text `sql` reads of case `id`, once there is one.
async fn case_text(pool: &sqlx::AnyPool, sql: &'static str, id: i64) -> Option<String> {
    sqlx::query_scalar::<_, String>(sql).bind(id).fetch_optional(pool).await.ok().flatten()
}

async fn complaints_to_each_organisation_are_its_cases_and_do_not_cross(db: Db) {
    let metrics = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    // A handler of each organisation: a new case goes round its own organisation's handlers.
    let handlers = "[[handlers]]\nname = \"Wim\"\nemail = \"wim@wp.test\"\norganisations = [\"wp\"]\n\n[[handlers]]\nname = \"Sara\"\nemail = \"sara@sh.test\"\norganisations = [\"sh\"]\n";
    let d = Deployment::new(db, &SETUP, &format!("{ANSWER_ALL}{handlers}[service]\nmetrics_listen = \"127.0.0.1:{metrics}\"\n")).await;
    let (wp, sh) = (&d.organisations[0], &d.organisations[1]);
    let (wp_address, sh_address) = (wp.addresses[0].as_str(), sh.addresses[0].as_str());
    d.store().await; // migrated before the test looks
    let daemon = d.start();
    let alice = format!("{}@example.test", unique("alice"));
    let bob = format!("{}@example.test", unique("bob"));

    let (_, to_wp) = d.complaint(&alice, &[wp_address], "Mijn uitkering", "De re-integratie loopt niet.");
    d.send(&alice, &[wp_address], &to_wp).await;
    let (_, to_sh) = d.complaint(&bob, &[sh_address], "Schuldhulp", "Niemand belt terug.");
    d.send(&bob, &[sh_address], &to_sh).await;
    // One mail to both: a case in each, not a duplicate in the second.
    let (_, to_both) = d.complaint(&bob, &[wp_address, sh_address], "Aan allebei", "Ik klaag bij u beiden.");
    d.send(&bob, &[wp_address, sh_address], &to_both).await;

    let cases = eventually("four cases", WAIT, || async { Some(d.cases().await).filter(|c| c.len() == 4) }).await;
    let pool = sqlx::AnyPool::connect(&d.config.database.url).await.unwrap();
    let assigned: Vec<(String, String)> =
        sqlx::query_as("SELECT c.organisation, h.name FROM cases c JOIN handlers h ON h.id = c.handler_id ORDER BY c.id").fetch_all(&pool).await.unwrap();
    pool.close().await;
    assert_eq!(assigned.len(), 4, "each case has a handler: {assigned:?}");
    for (organisation, handler) in &assigned {
        assert_eq!(handler, if organisation == "wp" { "Wim" } else { "Sara" }, "a case of {organisation} went to {handler}");
    }
    let year = Utc::now().format("%Y").to_string();
    let received = amsterdam_date(Utc::now());
    let calendar = d.config.calendar();
    for (org, preset, prefix) in [("wp", Preset::Reintegratie, "WP"), ("sh", Preset::Awb, "SH")] {
        let own: Vec<_> = cases.iter().filter(|c| c.organisation == org).collect();
        assert_eq!(own.len(), 2, "{org}: {cases:?}");
        // Numbered per prefix: each organisation's first two.
        let mut references: Vec<_> = own.iter().map(|c| c.reference.clone()).collect();
        references.sort();
        assert_eq!(references, [format!("{prefix}-{year}-0001"), format!("{prefix}-{year}-0002")], "{org}");
        let expected = Procedure::preset(preset, false).deadlines(&calendar, received);
        for c in own {
            assert_eq!(c.received_on, received.to_string());
            assert_eq!(c.acknowledge_by, expected.acknowledge_by.to_string(), "{org}");
            assert_eq!(c.respond_by, expected.respond_by.to_string(), "{org}");
            let summary = d.store().await.case_detail(&cref(&c.reference)).await.unwrap().summary;
            assert_eq!(summary.progress_by, expected.progress_by, "{org}: awb has no progress notice");
        }
    }
    // The complaint mails are each organisation's.
    let pool = {
        sqlx::any::install_default_drivers();
        sqlx::AnyPool::connect(&d.config.database.url).await.unwrap()
    };
    let mail_orgs: Vec<(String, String)> =
        sqlx::query_as("SELECT m.organisation, c.organisation FROM messages m JOIN cases c ON c.id = m.case_id").fetch_all(&pool).await.unwrap();
    assert_eq!(mail_orgs.len(), 4);
    assert!(mail_orgs.iter().all(|(m, c)| m == c), "{mail_orgs:?}");

    // Each acknowledgement is written for its own organisation's case, with its terms.
    let wp_first = case_of(&d, "wp's case", |c| c.organisation == "wp").await;
    let acks: Vec<(i64, String, String)> = eventually("acknowledgements queued", WAIT, || async {
        let rows: Vec<(i64, String, String)> =
            sqlx::query_as("SELECT case_id, subject, body FROM outbox WHERE kind = 'acknowledgement' ORDER BY case_id").fetch_all(&pool).await.ok()?;
        (rows.len() == 4).then_some(rows)
    })
    .await;
    for c in &cases {
        let (_, subject, body) = acks.iter().find(|(id, ..)| *id == c.id).unwrap();
        assert!(subject.contains(&c.reference), "{subject}");
        let regulation = format!("https://{}.test/regeling", c.organisation);
        assert!(body.contains(&regulation), "{} links to its own regulation:\n{body}", c.reference);
    }

    // Each acknowledgement comes from its organisation's complaints address, where replies go.
    let bobs = eventually("bob's three acknowledgements", WAIT, || async { Some(d.stack.messages(&bob, "INBOX").await).filter(|m| m.len() == 3) }).await;
    for raw in &bobs {
        let ack = parsed(raw);
        let from = ack.from().unwrap().first().unwrap().address().unwrap().to_string();
        let subject = ack.subject().unwrap().to_string();
        let expected = if subject.contains("[SH-") { sh_address } else { wp_address };
        assert_eq!(from, expected, "{subject}");
    }

    // A reply to sh that quotes wp's case (and answers wp's acknowledgement) is sh's new case.
    let wp_ack_id: String =
        sqlx::query_scalar("SELECT message_id FROM outbox WHERE case_id = $1 AND kind = 'acknowledgement'").bind(wp_first.id).fetch_one(&pool).await.unwrap();
    let crossing = format!(
        "From: Alice <{alice}>\r\nTo: {sh_address}\r\nSubject: Re: {reference}\r\nMessage-ID: <{}@example.test>\r\nIn-Reply-To: <{wp_ack_id}>\r\nReferences: <{wp_ack_id}>\r\n\r\nOver mijn klacht {reference}: ook de schuldhulp reageert niet.\r\n",
        unique("cross"),
        reference = wp_first.reference,
    );
    d.send(&alice, &[sh_address], crossing.as_bytes()).await;
    let new_case = case_of(&d, "the crossing mail's case", |c| c.id > cases.iter().map(|c| c.id).max().unwrap()).await;
    assert_eq!(new_case.organisation, "sh");
    assert_eq!(new_case.reference, format!("SH-{year}-0003"));
    let on_wp: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM messages WHERE case_id = $1").bind(wp_first.id).fetch_one(&pool).await.unwrap();
    assert_eq!(on_wp, 1, "nothing threaded into the other organisation's case");
    let note = eventually("the foreign reference noted", WAIT, || {
        case_text(&pool, "SELECT detail FROM case_events WHERE case_id = $1 AND action = 'mentions-case'", new_case.id)
    })
    .await;
    assert!(note.contains(&wp_first.reference) && note.contains("no case of this organisation"), "{note}");
    let wp_notes: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM case_events WHERE case_id = $1 AND action = 'mentions-case'")
        .bind(wp_first.id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(wp_notes, 0, "the other organisation's case hears nothing of it");
    let ack =
        eventually("its acknowledgement", WAIT, || case_text(&pool, "SELECT body FROM outbox WHERE case_id = $1 AND kind = 'acknowledgement'", new_case.id))
            .await;
    assert!(!ack.contains(&wp_first.reference), "the acknowledgement says nothing of the other case:\n{ack}");

    // A handler's letter on a case is written as its organisation's.
    let path = d.dir.path().join("k.toml");
    std::fs::write(&path, d.config_text()).unwrap();
    let reason = d.dir.path().join("reason.txt");
    std::fs::write(&reason, "Wij wachten op een advies.").unwrap();
    let (code, _, err) = klachtd_as_handler(&path, &["cases", "postpone", &new_case.reference, "--weeks", "2", "--reason-file", reason.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let letter: String =
        sqlx::query_scalar("SELECT body FROM outbox WHERE case_id = $1 AND kind = 'postponement'").bind(new_case.id).fetch_one(&pool).await.unwrap();
    assert!(letter.contains("Organisatie sh") && !letter.contains("Organisatie wp"), "{letter}");
    pool.close().await;

    // The metrics carry each mailbox and organisation.
    let scraped = eventually("metrics", WAIT, || async { metrics_of(metrics).await }).await;
    for mailbox in ["mailbox=\"wp-0\",organisation=\"wp\"", "mailbox=\"sh-0\",organisation=\"sh\""] {
        let line = scraped.lines().find(|l| l.starts_with(&format!("klachtd_mailbox_sync_age_seconds{{{mailbox}}}"))).unwrap_or_else(|| panic!("{scraped}"));
        let age: i64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        assert!((0..300).contains(&age), "{line}");
        assert!(scraped.contains(&format!("klachtd_mailbox_up{{{mailbox}}} 1\n")), "{scraped}");
    }
    assert!(scraped.contains("klachtd_mailbox_connected 2\n"), "both sessions up: {scraped}");
    assert!(scraped.contains("klachtd_organisation_open_cases{organisation=\"wp\"} 2\n"), "{scraped}");
    assert!(scraped.contains("klachtd_organisation_open_cases{organisation=\"sh\"} 3\n"), "{scraped}");
    daemon.stop().await;
}

async fn metrics_of(port: u16) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut conn = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.ok()?;
    conn.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n").await.ok()?;
    let mut out = String::new();
    conn.read_to_string(&mut out).await.ok()?;
    out.starts_with("HTTP/1.1 200").then_some(out)
}

/// `klachtd deadlines --organisation KEY` prints that organisation's dates; without it, of
/// organisations with procedures of their own, none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadlines_are_the_organisations() {
    let d = Deployment::new(Db::Sqlite, &SETUP, "").await;
    let path = d.dir.path().join("k.toml");
    std::fs::write(&path, d.config_text()).unwrap();
    let deadlines = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_klachtd"))
            .args(["--config", path.to_str().unwrap(), "deadlines", "--received", "2026-11-20"])
            .args(args)
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let json = |out: &str| serde_json::from_str::<serde_json::Value>(out).unwrap();
    // Reintegratie: four weeks, a progress notice; Awb: six weeks, none.
    let (code, out, err) = deadlines(&["--organisation", "wp"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!((json(&out)["respond_by"].as_str(), json(&out)["progress_by"].as_str()), (Some("2026-12-18"), Some("2026-12-04")), "{out}");
    let (_, out, _) = deadlines(&["--organisation", "sh"]);
    assert_eq!((json(&out)["respond_by"].as_str(), json(&out)["progress_by"].as_str()), (Some("2027-01-04"), None), "{out}");
    // Without --organisation, no organisation's dates are given as everybody's.
    let (code, _, err) = deadlines(&[]);
    assert_eq!(code, Some(1));
    assert!(err.contains("procedures of their own: give --organisation KEY (wp, sh)"), "{err}");
    let (code, _, err) = deadlines(&["--organisation", "nope"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("no organisation \"nope\"") && err.contains("known: wp, sh"), "{err}");
}

/// The yearly publication from the command line names the register's organisation, not the
/// first of the configuration.
#[tokio::test]
async fn the_publication_names_its_organisation() {
    let d = Deployment::new(Db::Sqlite, &SETUP, "").await;
    d.store().await; // migrated
    let path = d.dir.path().join("k.toml");
    std::fs::write(&path, d.config_text()).unwrap();
    let (code, out, err) = klachtd_as_handler(&path, &["report", "--year", "2026", "--organisation", "sh", "--format", "publication"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Organisatie sh") && !out.contains("Organisatie wp"), "{out}");
}

/// Retention runs with each organisation's period: of two cases closed long ago, only the one
/// whose organisation keeps personal data for a shorter time loses it.
async fn each_organisation_keeps_personal_data_for_its_own_period(db: Db) {
    let d = Deployment::new(db, &SETUP, "").await;
    let store = d.store().await;
    let day = chrono::NaiveDate::from_ymd_opt(2020, 1, 6).unwrap();
    let mut references = Vec::new();
    for (i, organisation) in ["wp", "sh"].iter().enumerate() {
        let case = crate::common::hand_made_case(Some("Klager"), "klager@example.test", "Mijn klacht.", day, [day; 3]);
        let reference = register_by_hand(store, &case).await;
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&d.config.database.url).await.unwrap();
        sqlx::query("UPDATE cases SET organisation = $1, status = 'closed', outcome = 'unfounded', closed_at = $2 WHERE reference = $3")
            .bind(*organisation)
            .bind(noon(day) + i as i64)
            .bind(reference.to_string())
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
        references.push(reference);
    }
    let periods = [(Some("wp".to_string()), 30), (Some("sh".to_string()), 36_500)];
    assert_eq!(klachtd::app::retention::run_retention_by_organisation(store, &d.config.storage.data_dir, &periods).await.unwrap(), 1);
    let names: Vec<Option<String>> = {
        let mut names = Vec::new();
        for r in &references {
            names.push(store.case_detail(r).await.unwrap().summary.complainant_name);
        }
        names
    };
    assert_eq!(names, [None, Some("Klager".to_string())], "wp's case is anonymised, sh's kept");
    let from_config = klachtd::app::retention::retention_periods(&d.config);
    assert_eq!(from_config, [(Some("wp".to_string()), 730), (Some("sh".to_string()), 730)]);
}

/// An organisation with two mailboxes on one server: each is read by its own worker, each
/// keeps its own position, and both make the organisation's cases.
async fn an_organisations_second_mailbox_is_read_on_its_own(db: Db) {
    let setup = [OrganisationSetup { key: "sh", prefix: "SH", procedure: "preset = \"awb\"", mailboxes: 2 }];
    let d = Deployment::new(db, &setup, ANSWER_ALL).await;
    d.store().await;
    let daemon = d.start();
    let carol = format!("{}@example.test", unique("carol"));
    for address in &d.organisations[0].addresses {
        let (_, raw) = d.complaint(&carol, &[address], "Klacht", "Tekst.");
        d.send(&carol, &[address], &raw).await;
    }
    let cases = eventually("a case from each mailbox", WAIT, || async { Some(d.cases().await).filter(|c| c.len() == 2) }).await;
    assert!(cases.iter().all(|c| c.organisation == "sh" && c.reference.starts_with("SH-")), "{cases:?}");
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&d.config.database.url).await.unwrap();
    let positions: Vec<(String, i64)> = eventually("both positions saved", WAIT, || async {
        let rows: Vec<(String, i64)> = sqlx::query_as("SELECT folder, last_uid FROM mailbox_state ORDER BY folder").fetch_all(&pool).await.ok()?;
        (rows.len() == 2 && rows.iter().all(|(_, uid)| *uid >= 1)).then_some(rows)
    })
    .await;
    assert_eq!(positions.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), ["sh-0", "sh-1"], "one position per mailbox, not per folder name");
    pool.close().await;
    // `klachtd status` names each mailbox, its organisation, its last sync and who reads it.
    let path = d.dir.path().join("k.toml");
    std::fs::write(&path, d.config_text()).unwrap();
    let (code, out, err) = klachtd_as_handler(&path, &["status", "--json"]);
    assert_eq!(code, 0, "{err}");
    let status: serde_json::Value = serde_json::from_str(&out).unwrap();
    let mailboxes = status["mailboxes"].as_array().unwrap_or_else(|| panic!("{out}"));
    assert_eq!(mailboxes.iter().map(|m| m["name"].as_str().unwrap()).collect::<Vec<_>>(), ["sh-0", "sh-1"], "{out}");
    for m in mailboxes {
        assert_eq!(m["organisation"], "sh", "{out}");
        assert!(m["last_sync_at"].as_i64().is_some(), "{out}");
        assert!(m["read_by"].as_str().is_some_and(|id| id.contains(&format!(":{}:", std::process::id()))), "read by this test's daemon: {out}");
    }
    // The headline sync is the mailbox synced longest ago, not the first one's.
    let oldest = mailboxes.iter().filter_map(|m| m["last_sync_at"].as_i64()).min();
    assert!(status["last_sync_at"].as_i64().is_some_and(|t| Some(t) <= oldest), "{out}");
    let (_, text, _) = klachtd_as_handler(&path, &["status"]);
    assert!(text.contains("sh-1 (sh): synced ") && text.contains("Oldest mailbox sync: "), "{text}");
    daemon.stop().await;
}

/// A complaint received by post is registered in the organisation named: its prefix, its
/// procedure's dates (issue 25); an organisation the configuration does not name is refused.
#[tokio::test]
async fn a_paper_complaint_is_registered_in_its_organisation() {
    let d = Deployment::new(Db::Sqlite, &SETUP, "").await;
    d.store().await; // migrated
    let path = d.dir.path().join("k.toml");
    std::fs::write(&path, d.config_text()).unwrap();
    let desc = d.dir.path().join("brief.txt");
    std::fs::write(&desc, "De schuldhulp belde niet terug.").unwrap();
    let register = |organisation: &str| {
        klachtd_as_handler(
            &path,
            &[
                "cases",
                "--organisation",
                organisation,
                "register",
                "--name",
                "Pim Papier",
                "--postal-address",
                "Laan 1",
                "--received",
                "2026-11-20",
                "--description-file",
                desc.to_str().unwrap(),
            ],
        )
    };
    let (code, out, err) = register("sh");
    assert_eq!(code, 0, "{out}{err}");
    let cases = d.cases().await;
    assert_eq!(cases.len(), 1);
    assert_eq!(cases[0].organisation, "sh");
    assert!(cases[0].reference.starts_with("SH-2026-"), "{:?}", cases[0]);
    // Awb: six weeks from 20 November, moved past the new year's day (as `deadlines` says).
    assert_eq!(cases[0].respond_by, "2027-01-04", "{:?}", cases[0]);
    let (code, _, err) = register("nope");
    assert_ne!(code, 0);
    assert!(err.contains("no such organisation"), "{err}");
    assert_eq!(d.cases().await.len(), 1);
}

/// The reminders about an organisation's cases come from that organisation (issue 25): its
/// address and name, its language, its Message-IDs, its cases only. A handler of both gets one
/// digest of each.
async fn each_organisations_reminders_come_from_it_and_name_its_cases_only(db: Db) {
    let [wim, sara, bea] = ["wim", "sara", "bea"].map(|n| format!("{}@dienst.test", unique(n)));
    let handlers = format!(
        "[[handlers]]\nname = \"Wim Wouters\"\nemail = \"{wim}\"\norganisations = [\"wp\"]\n\
         [[handlers]]\nname = \"Sara Smit\"\nemail = \"{sara}\"\norganisations = [\"sh\"]\n\
         [[handlers]]\nname = \"Bea Bos\"\nemail = \"{bea}\"\norganisations = [\"wp\", \"sh\"]\n"
    );
    // The daemon sweeps every second, on a clock the test moves.
    let extra = format!("{ANSWER_ALL}{handlers}[reminders]\nsweep_cron = \"* * * * * *\"\n");
    let d = Deployment::new(db, &SETUP, &extra).await.with_language("sh", "en");
    d.store().await; // migrated before the test looks
    let clock = quiet_clock();
    let daemon = Running::start_with_clock(d.config.clone(), clock.clone());
    let (wp, sh) = (d.organisations[0].addresses[0].clone(), d.organisations[1].addresses[0].clone());
    let klager = format!("{}@example.test", unique("klager"));
    for (to, subject) in [(&wp, "Een"), (&wp, "Twee"), (&sh, "One"), (&sh, "Two")] {
        let (_, raw) = d.complaint(&klager, &[to], subject, "Tekst.");
        d.send(&klager, &[to], &raw).await;
    }
    let cases = eventually("four cases", WAIT, || async { Some(d.cases().await).filter(|c| c.len() == 4) }).await;
    let of = |o: &str| cases.iter().filter(|c| c.organisation == o).map(|c| c.reference.clone()).collect::<Vec<_>>();
    let (wp_cases, sh_cases) = (of("wp"), of("sh"));
    // One case of each organisation is Bea's, the other its own handler's.
    let store = d.store().await;
    for (reference, handler) in [(&wp_cases[0], "Wim Wouters"), (&wp_cases[1], "Bea Bos"), (&sh_cases[0], "Sara Smit"), (&sh_cases[1], "Bea Bos")] {
        store.assign(&cref(reference), handler, "test").await.unwrap();
    }
    // A working morning long after every term: each case's missed terms are escalated.
    let calendar = d.config.calendar();
    let later = calendar.add_working_days(amsterdam_date(Utc::now()), 60);
    clock.set(chrono::TimeZone::from_local_datetime(&chrono_tz::Europe::Amsterdam, &later.and_hms_opt(10, 0, 0).unwrap()).unwrap().with_timezone(&Utc));

    let digests = |who: String| async move {
        let all = d.stack.messages(&who, "INBOX").await;
        all.into_iter()
            .filter(|m| parsed(m).subject().is_some_and(|s| s.starts_with("Termijn verstreken") || s.starts_with("Deadline missed")))
            .collect::<Vec<_>>()
    };
    let bea_digests = eventually("two digests for the handler of both", WAIT, || async { Some(digests(bea.clone()).await).filter(|m| m.len() == 2) }).await;
    let (wim_digests, sara_digests) = eventually("a digest for each handler of one", WAIT, || async {
        Some((digests(wim.clone()).await, digests(sara.clone()).await)).filter(|(w, s)| !w.is_empty() && !s.is_empty())
    })
    .await;
    daemon.stop().await;
    // (organisation, its address, the case it must name, the other cases): each digest.
    let check = |raw: &[u8], organisation: &str, address: &str, own: &str| {
        let mail = parsed(raw);
        let (from, id, text) = (header(&mail, "From").unwrap_or_default(), header(&mail, "Message-ID").unwrap_or_default(), text_of(&mail));
        assert!(from.contains(address) && from.contains(&format!("Organisatie {organisation}")), "{from}");
        assert!(id.ends_with(&format!("@{organisation}.test>")), "{id}");
        let (words, signed) = match organisation {
            "sh" => ("Deadline missed", format!("sent automatically by klachtd for Organisatie {organisation}")),
            _ => ("Termijn verstreken", format!("verstuurd door klachtd voor Organisatie {organisation}")),
        };
        assert!(mail.subject().unwrap().starts_with(words) && text.contains(&signed), "in {organisation}'s language:\n{text}");
        assert!(text.contains(own), "{own} missing:\n{text}");
        for other in cases.iter().map(|c| &c.reference).filter(|r| *r != own) {
            assert!(!text.contains(other.as_str()), "{other} is not this digest's:\n{text}");
        }
    };
    assert_eq!((wim_digests.len(), sara_digests.len()), (1, 1));
    check(&wim_digests[0], "wp", &wp, &wp_cases[0]);
    check(&sara_digests[0], "sh", &sh, &sh_cases[0]);
    let (of_wp, of_sh): (Vec<_>, Vec<_>) = bea_digests.iter().partition(|m| header(&parsed(m), "From").unwrap_or_default().contains(&wp));
    assert_eq!((of_wp.len(), of_sh.len()), (1, 1), "one from each organisation");
    check(of_wp[0], "wp", &wp, &wp_cases[1]);
    check(of_sh[0], "sh", &sh, &sh_cases[1]);
}
