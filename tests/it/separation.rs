//! Strict separation of organisations (issue 25), on SQLite and PostgreSQL: a handler sees and
//! acts on the cases of the organisations they work for only, in every read the workspace, the
//! command line and the reminders make, whatever else (being assigned, supervising) would allow.
//! The cases are written straight into the database with their organisation, as the intake of
//! each organisation's mailbox records them.

use chrono::{NaiveDate, TimeZone, Utc};
use chrono_tz::Europe::Amsterdam;

use crate::common::*;
use klachtd::domain::organisation::OrganisationKey;
use klachtd::store::search::{CaseQuery, Scope, Sort, State};
use klachtd::store::set_aside::HeldFilter;
use klachtd::store::web::{CaseList, WebUser};
use klachtd::store::{Store, StoreError};

on_both_databases!(every_read_keeps_organisations_apart, reminders_go_to_the_organisations_own_people_only);

fn key(k: &str) -> OrganisationKey {
    OrganisationKey::parse(k).unwrap()
}

fn user(name: &str, email: &str, supervisor: bool) -> WebUser {
    WebUser { name: name.into(), email: email.into(), supervisor }
}

/// Two organisations and their people: Ann handles for wp; Kim supervises kl; Wim supervises
/// wp; Sam supervises both. Cases WP-2026-0001..4 (wp; 1, 2 and 3 Ann's, 3 closed) and
/// KL-2026-0001..3 (kl; 2 assigned to Ann, who does not work for kl, 3 closed); every open one
/// with its acknowledgement overdue; each text says "zoekwoord". One set-aside mail of each
/// organisation, received at `held_at`.
async fn two_organisations(db: Db, held_at: i64) -> (tempfile::TempDir, TestDb, Store, [i64; 2]) {
    let dir = tempfile::tempdir().unwrap();
    let test_db = TestDb::create(db, dir.path()).await;
    let store = Store::open(&test_db.url, 2).await.unwrap();
    store.upsert_handler_in("Ann Smit", "ann@dienst.test", false, &[key("wp")]).await.unwrap();
    store.upsert_handler_in("Kim Kok", "kim@dienst.test", true, &[key("kl")]).await.unwrap();
    store.upsert_handler_in("Wim Wit", "wim@dienst.test", true, &[key("wp")]).await.unwrap();
    store.upsert_handler_in("Sam Smits", "sam@dienst.test", true, &[key("wp"), key("kl")]).await.unwrap();
    let conn = pool(&test_db.url).await;
    let rows = [
        ("WP-2026-0001", "wp", "open", true),
        ("WP-2026-0002", "wp", "open", true),
        ("WP-2026-0003", "wp", "closed", true),
        ("WP-2026-0004", "wp", "open", false),
        ("KL-2026-0001", "kl", "open", false),
        ("KL-2026-0002", "kl", "open", true),
        ("KL-2026-0003", "kl", "closed", false),
    ];
    for (reference, organisation, status, anns) in rows {
        let handler = if anns { "(SELECT id FROM handlers WHERE name = 'Ann Smit')" } else { "NULL" };
        let sql = format!(
            "INSERT INTO cases (reference, status, source, subject, description, received_on, received_at, acknowledge_by, progress_by, respond_by, created_at, handler_id, organisation)
             VALUES ('{reference}', '{status}', 'email', 'Klacht', 'Een zoekwoord in de klacht.', '2026-11-02', 0, '2026-11-09', '2026-11-16', '2026-11-30', 0, {handler}, '{organisation}')"
        );
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&conn).await.unwrap();
    }
    let mut held = [0; 2];
    for (i, organisation) in ["wp", "kl"].into_iter().enumerate() {
        let sql = format!(
            "INSERT INTO messages (case_id, direction, kind, from_address, subject, body, note, received_at, organisation)
             VALUES (NULL, 'in', 'set-aside', 'robot@leverancier.test', 'Factuur {organisation}', 'x', 'e-invoice', {held_at}, '{organisation}')"
        );
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&conn).await.unwrap();
        held[i] = sqlx::query_scalar("SELECT MAX(id) FROM messages").fetch_one(&conn).await.unwrap();
    }
    (dir, test_db, store, held)
}

fn refs(cases: impl IntoIterator<Item = klachtd::store::CaseSummary>) -> Vec<String> {
    let mut refs: Vec<String> = cases.into_iter().map(|c| c.reference.to_string()).collect();
    refs.sort();
    refs
}

fn everything(text: Option<&str>) -> CaseQuery {
    CaseQuery {
        scope: Scope::All,
        state: State::Any,
        due: None,
        category: None,
        text: text.map(str::to_string),
        sort: Sort::Reference,
        descending: false,
        page: 0,
        per_page: 50,
    }
}

async fn every_read_keeps_organisations_apart(db: Db) {
    let (_dir, _db, store, [wp_mail, kl_mail]) = two_organisations(db, Utc::now().timestamp() - 3600).await;
    let (ann, kim, wim, sam) = (
        user("Ann Smit", "ann@dienst.test", false),
        user("Kim Kok", "kim@dienst.test", true),
        user("Wim Wit", "wim@dienst.test", true),
        user("Sam Smits", "sam@dienst.test", true),
    );
    let open = |u: WebUser| {
        let store = store.clone();
        async move { refs(store.cases_for(&u, false, CaseList::Open).await.unwrap().cases) }
    };
    // The open cases: a supervisor's are their organisations', a handler's only those of an
    // organisation they work for, even a case assigned to them.
    assert_eq!(open(kim.clone()).await, ["KL-2026-0001", "KL-2026-0002"]);
    assert_eq!(open(wim.clone()).await, ["WP-2026-0001", "WP-2026-0002", "WP-2026-0004"]);
    assert_eq!(open(ann.clone()).await, ["WP-2026-0001", "WP-2026-0002"], "not KL-2026-0002, though assigned to Ann");
    assert_eq!(open(sam.clone()).await.len(), 5, "Sam supervises both");
    let closed = store.cases_for(&kim, false, CaseList::Closed { before: None, limit: 10 }).await.unwrap();
    assert_eq!(refs(closed.cases), ["KL-2026-0003"]);

    // One case: another organisation's answers as readable by no one, a missing one as unknown.
    assert!(store.may_read(&cref("WP-2026-0001"), &ann).await.unwrap().is_some());
    assert!(store.may_read(&cref("KL-2026-0002"), &ann).await.unwrap().is_none());
    assert!(store.may_read(&cref("WP-2026-0001"), &kim).await.unwrap().is_none());
    assert!(store.may_read(&cref("KL-2026-0001"), &sam).await.unwrap().is_some());
    assert!(matches!(store.may_read(&cref("KL-2026-0009"), &kim).await, Err(StoreError::UnknownCase(_))));

    // The list with its filters and search: the words, and a reference, find nothing of another
    // organisation.
    let today = NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
    let week_end = NaiveDate::from_ymd_opt(2026, 12, 6).unwrap();
    let listed = |u: WebUser, text: Option<&'static str>| {
        let store = store.clone();
        async move { refs(store.case_list(&u, &everything(text), today, week_end).await.unwrap().cases.into_iter().map(|c| c.summary)) }
    };
    assert_eq!(listed(kim.clone(), Some("zoekwoord")).await, ["KL-2026-0001", "KL-2026-0002", "KL-2026-0003"]);
    assert!(listed(kim.clone(), Some("WP-2026-0001")).await.is_empty(), "another organisation's reference finds nothing");
    assert_eq!(listed(wim.clone(), None).await, ["WP-2026-0001", "WP-2026-0002", "WP-2026-0003", "WP-2026-0004"]);
    assert_eq!(listed(sam.clone(), Some("zoekwoord")).await.len(), 7);
    // Ann's day: her cases of her organisation.
    let day = store.my_day(&ann, today).await.unwrap();
    assert_eq!(refs(day.due), ["WP-2026-0001", "WP-2026-0002"]);

    // Acting: only a handler of the case's organisation, whatever their role.
    assert!(store.works_for_case("sam@dienst.test", store.case_and_organisation(&cref("KL-2026-0001")).await.unwrap().0).await.unwrap());
    assert!(!store.works_for_case("ann@dienst.test", store.case_and_organisation(&cref("KL-2026-0002")).await.unwrap().0).await.unwrap());
    assert!(!store.may_act_on(&cref("KL-2026-0002"), "ann@dienst.test").await.unwrap(), "assigned, but of another organisation");
    assert!(!store.may_act_on(&cref("WP-2026-0001"), "kim@dienst.test").await.unwrap());
    assert!(store.may_act_on(&cref("WP-2026-0001"), "wim@dienst.test").await.unwrap());
    // A case goes to a handler of its organisation only: another's is no handler for it.
    assert!(matches!(store.assign(&cref("KL-2026-0001"), "Ann Smit", "test").await, Err(StoreError::UnknownHandler(_))));
    store.assign(&cref("WP-2026-0002"), "Wim Wit", "test").await.unwrap();

    // The register is of one organisation.
    let (from, to) = (NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(), NaiveDate::from_ymd_opt(2026, 12, 31).unwrap());
    let facts = |k: &'static str| {
        let store = store.clone();
        async move {
            let mut r: Vec<String> = store.register_facts(from, to, &key(k)).await.unwrap().into_iter().map(|f| f.reference).collect();
            r.sort();
            r
        }
    };
    assert_eq!(facts("kl").await, ["KL-2026-0001", "KL-2026-0002", "KL-2026-0003"]);
    assert_eq!(facts("wp").await.len(), 4);
    assert!(facts("default").await.is_empty());
    assert_eq!(store.case_organisations().await.unwrap(), [key("kl"), key("wp")]);

    // Mail set aside: of the chosen organisations only, one by one too.
    let held = |only: Option<Vec<OrganisationKey>>| {
        let store = store.clone();
        async move { store.held_mails(HeldFilter::All, None, 50, only.as_deref()).await.unwrap().mails.into_iter().map(|m| m.id).collect::<Vec<_>>() }
    };
    assert_eq!(held(Some(vec![key("kl")])).await, [kl_mail]);
    assert_eq!(held(Some(vec![key("wp"), key("kl")])).await.len(), 2);
    assert_eq!(held(None).await.len(), 2);
    assert!(held(Some(vec![])).await.is_empty());
    assert!(store.held_mail(wp_mail, Some(&[key("kl")])).await.unwrap().is_none());
    assert!(store.held_mail(wp_mail, Some(&[key("wp")])).await.unwrap().is_some());

    // Handlers with their organisations.
    let handlers = store.handlers().await.unwrap();
    let of = |name: &str| handlers.iter().find(|h| h.name == name).unwrap().organisations.clone();
    assert_eq!((of("Sam Smits"), of("Ann Smit")), (vec!["kl".to_string(), "wp".to_string()], vec!["wp".to_string()]));
    assert_eq!(store.handler_organisations("KIM@dienst.test").await.unwrap(), [key("kl")]);
    // Updating a handler sets their organisations anew; the plain form is the default one.
    store.upsert_handler("Kim Kok", "kim@dienst.test", true).await.unwrap();
    assert_eq!(store.handler_organisations("kim@dienst.test").await.unwrap(), [OrganisationKey::default()]);
    assert!(open(kim).await.is_empty(), "no case is of the default organisation");
}

/// A configuration without servers to reach, with `extra` appended.
fn config_text(dir: &std::path::Path, extra: &str) -> String {
    format!(
        "[organisation]\nname = \"Test\"\ncomplaints_address = \"klachten@klacht.test\"\nregulation_url = \"https://dienst.test/r\"\n\
         [database]\nurl = \"sqlite://{0}/unused.db\"\n[storage]\ndata_dir = \"{0}\"\n\
         [imap]\nhost = \"127.0.0.1\"\nport = 1\ntls = \"none\"\nuser = \"klachten@klacht.test\"\npassword = \"x\"\n\
         [smtp]\nhost = \"127.0.0.1\"\nport = 1\ntls = \"none\"\n{extra}",
        dir.display()
    )
}

fn service(store: Store, dir: &std::path::Path) -> klachtd::app::reminders::ReminderService {
    let config = klachtd::config::Config::parse(&config_text(dir, "")).unwrap();
    let letters = std::sync::Arc::new(klachtd::app::templates::Letters::load(None, "nl").unwrap());
    let settings = klachtd::app::settings::SharedSettings::new(klachtd::app::settings::Settings::new(&config, letters));
    klachtd::app::reminders::ReminderService::new(store, settings)
}

async fn reminders_go_to_the_organisations_own_people_only(db: Db) {
    // A working day's morning: every open case's acknowledgement is weeks overdue.
    let now = Amsterdam.with_ymd_and_hms(2026, 12, 2, 9, 0, 0).unwrap().with_timezone(&Utc);
    let (dir, _db, store, _) = two_organisations(db, now.timestamp() - 3600).await;
    let digests = service(store.clone(), dir.path()).preview(now).await.unwrap();
    // One digest per recipient and organisation (issue 25).
    let to = |name: &str, organisation: &str| {
        let digest = digests
            .iter()
            .find(|d| d.name == name && d.organisation == organisation)
            .unwrap_or_else(|| panic!("no digest of {organisation} for {name}: {digests:?}"));
        let mut refs: Vec<String> = digest.items.iter().map(|i| i.reference.to_string()).collect();
        refs.sort();
        refs.dedup();
        (refs, digest.held.map(|h| h.total()))
    };
    let organisations_of = |name: &str| digests.iter().filter(|d| d.name == name).map(|d| d.organisation.as_str()).collect::<Vec<_>>();
    // Ann hears of her cases of wp, not of the kl case assigned to her; kl's supervisor hears of
    // that one (it has no handler of kl) and of nothing of wp.
    // Supervisors hear of every case without a handler of its organisation (and of missed
    // deadlines, which may be due today or not): of their organisations only.
    assert_eq!(organisations_of("Ann Smit"), ["wp"]);
    assert_eq!(to("Ann Smit", "wp").0, ["WP-2026-0001", "WP-2026-0002"]);
    assert_eq!(organisations_of("Kim Kok"), ["kl"]);
    let (kim, kim_held) = to("Kim Kok", "kl");
    assert_eq!(kim, ["KL-2026-0001", "KL-2026-0002"]);
    assert_eq!(organisations_of("Wim Wit"), ["wp"]);
    let (wim, wim_held) = to("Wim Wit", "wp");
    assert!(wim.contains(&"WP-2026-0004".to_string()) && wim.iter().all(|r| r.starts_with("WP-")), "{wim:?}");
    // A supervisor of both gets one digest of each, naming that organisation's cases only.
    let (sam_wp, sam_wp_held) = to("Sam Smits", "wp");
    let (sam_kl, sam_kl_held) = to("Sam Smits", "kl");
    assert!(sam_wp.contains(&"WP-2026-0004".to_string()) && sam_wp.iter().all(|r| r.starts_with("WP-")), "{sam_wp:?}");
    assert!(sam_kl.contains(&"KL-2026-0001".to_string()) && sam_kl.iter().all(|r| r.starts_with("KL-")), "{sam_kl:?}");
    // The daily count of set-aside mail: of each digest's organisation.
    assert_eq!((kim_held, wim_held, sam_wp_held, sam_kl_held), (Some(1), Some(1), Some(1), Some(1)));
}

/// `[[handlers]]` name their organisations; without the key, the one organisation.
#[test]
fn handlers_in_the_configuration_name_their_organisations() {
    let dir = tempfile::tempdir().unwrap();
    let handlers = "[[handlers]]\nname = \"Ann\"\nemail = \"ann@dienst.test\"\n\
                    [[handlers]]\nname = \"Sam\"\nemail = \"sam@dienst.test\"\norganisations = [\"wp\", \"kl\", \"wp\"]\n";
    let config = klachtd::config::Config::parse(&config_text(dir.path(), handlers)).unwrap();
    assert!(config.problems().is_empty(), "{:?}", config.problems());
    assert_eq!(config.handlers[0].organisations(), [OrganisationKey::default()]);
    assert_eq!(config.handlers[1].organisations(), [key("kl"), key("wp")]);
    let none =
        klachtd::config::Config::parse(&config_text(dir.path(), "[[handlers]]\nname = \"Ann\"\nemail = \"ann@dienst.test\"\norganisations = []\n")).unwrap();
    assert!(none.problems().iter().any(|p| p.to_string().contains("handlers[0].organisations")), "{:?}", none.problems());
    let bad = klachtd::config::Config::parse(&config_text(dir.path(), "[[handlers]]\nname = \"Ann\"\nemail = \"ann@dienst.test\"\norganisations = [\"WP\"]\n"));
    assert!(bad.unwrap_err().to_string().contains("organisation key"));
}
