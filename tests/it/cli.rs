//! The command line as an operator uses it: the built binary, its output and exit codes.

use std::process::Command;

use crate::common::*;
use klachtd::store::Table;

fn klachtd(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_klachtd")).args(args).env_remove("KLACHTD_CONFIG").output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Runs klachtd with its standard output on a pipe nobody reads any more, as `| head` leaves
/// it: the exit code and what it said on stderr.
fn klachtd_to_closed_pipe(args: &[&str]) -> (Option<i32>, String) {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_klachtd")).args(args).env_remove("KLACHTD_CONFIG").stdout(writer).output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn output_cut_short_ends_quietly() {
    for args in [vec!["calendar", "--year", "2026"], vec!["deadlines", "--received", "2026-11-20"], vec!["completions", "bash"], vec!["man"]] {
        let mut full = vec!["--config", "/nonexistent/klachtd.toml"];
        full.extend(args.iter());
        let (code, err) = klachtd_to_closed_pipe(&full);
        assert_eq!((code, err.as_str()), (Some(141), ""), "{args:?}");
    }
}

#[test]
fn deadlines_prints_the_regulation_example_as_json() {
    let (code, out, _) = klachtd(&["--config", "/nonexistent/klachtd.toml", "deadlines", "--received", "2026-11-20"]);
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    let terms = serde_json::json!({"acknowledge": "5 working days", "progress": "10 working days", "respond": "4 weeks", "hearing_answer": "5 working days", "postponement": "4 weeks"});
    assert_eq!(
        json,
        serde_json::json!({"received": "2026-11-20", "acknowledge_by": "2026-11-27", "progress_by": "2026-12-04", "respond_by": "2026-12-18", "terms": terms})
    );
}

#[test]
fn deadlines_print_the_configured_procedure() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.toml");
    let procedure = "[procedure]\npreset = \"awb\"\nadvisory_committee = true\nhearing_answer = \"none\"\n";
    std::fs::write(&path, config_text(MailStack::shared(), "klachten@klacht.test", "sqlite:///tmp/x.db", dir.path(), procedure)).unwrap();
    let (code, out, err) = klachtd(&["--config", path.to_str().unwrap(), "deadlines", "--received", "2026-11-20"]);
    assert_eq!(code, 0, "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    // Ten weeks: Friday 29 January 2027; no progress notice, no term to answer an invitation.
    assert_eq!((json["acknowledge_by"].as_str(), json["respond_by"].as_str()), (Some("2026-11-27"), Some("2027-01-29")), "{out}");
    assert!(json["progress_by"].is_null() && json["terms"]["progress"].is_null() && json["terms"]["hearing_answer"].is_null(), "{out}");
    assert_eq!(json["terms"]["respond"], "10 weeks");
    // A procedure over the Awb's limits is valid, and check-config says where it exceeds them.
    let over = "[procedure]\nrespond = \"7 weeks\"\n";
    std::fs::write(&path, config_text(MailStack::shared(), "klachten@klacht.test", "sqlite:///tmp/x.db", dir.path(), over)).unwrap();
    let (code, out, err) = klachtd(&["--config", path.to_str().unwrap(), "check-config", "--offline"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(format!("{out}{err}").contains("procedure.respond: 7 weeks exceeds the handling term of Awb 9:11(1) (6 weeks)"), "{out}{err}");
}

#[test]
fn deadlines_honour_configured_closing_days() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.toml");
    let text = config_text(MailStack::shared(), "klachten@klacht.test", "sqlite:///tmp/x.db", dir.path(), "[calendar]\nextra_closing_days = [2026-11-23]\n");
    std::fs::write(&path, text).unwrap();
    let (code, out, err) = klachtd(&["--config", path.to_str().unwrap(), "deadlines", "--received", "2026-11-20"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"acknowledge_by\":\"2026-11-30\""), "{out}");
}

#[test]
fn deadlines_skip_good_friday_and_days_a_royal_decree_equates() {
    let deadlines = |received: &str| -> serde_json::Value {
        let (code, out, err) = klachtd(&["--config", "/nonexistent/klachtd.toml", "deadlines", "--received", received]);
        assert_eq!(code, 0, "{err}");
        serde_json::from_str(&out).unwrap()
    };
    assert_eq!(deadlines("2026-03-27")["acknowledge_by"], "2026-04-07", "Good Friday 3 April and Easter Monday");
    assert_eq!(deadlines("2026-05-07")["acknowledge_by"], "2026-05-18", "Ascension Day and Friday 15 May, equated");
    assert_eq!(deadlines("2025-12-24")["acknowledge_by"], "2026-01-06", "2 January 2026, equated");
}

#[test]
fn calendar_lists_a_years_closed_days_with_their_reasons() {
    let (code, out, err) = klachtd(&["--config", "/nonexistent/klachtd.toml", "calendar", "--year", "2026"]);
    assert_eq!(code, 0, "{err}");
    for line in [
        "Fri 2026-01-02  equated with a holiday, Atw art. 3(3): Besluit gelijkstelling van 2 januari 2026",
        "Fri 2026-04-03  Good Friday (Goede Vrijdag), Atw art. 3(2)",
        "Mon 2026-04-06  Easter Monday (tweede Paasdag), Atw art. 3(1)",
        "Sat 2026-12-26  Boxing Day (tweede Kerstdag), Atw art. 3(1) (a weekend day anyway)",
    ] {
        assert!(out.contains(line), "{line:?} not in:\n{out}");
    }
    assert!(!out.contains("No royal decree"), "{out}");

    // A configured closing day and a later decree show with theirs; a year no decree settles says so.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.toml");
    let extra = "[calendar]\nextra_closing_days = [2029-12-24]\n[[calendar.decrees]]\ntitle = \"Besluit gelijkstelling van 11 mei 2029\"\nfirst_year = 2029\nlast_year = 2031\ndays = [2029-05-11]\n";
    std::fs::write(&path, config_text(MailStack::shared(), "klachten@klacht.test", "sqlite:///tmp/x.db", dir.path(), extra)).unwrap();
    let (code, out, err) = klachtd(&["--config", path.to_str().unwrap(), "calendar", "--year", "2029", "--json"]);
    assert_eq!(code, 0, "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["decree_known"], true);
    let closed = json["closed"].as_array().unwrap();
    let on = |date: &str| closed.iter().find(|d| d["date"] == date).cloned().unwrap_or_else(|| panic!("{date} not in {out}"));
    assert_eq!(on("2029-05-11")["kind"], "equated");
    assert_eq!(on("2029-05-11")["source"], "Besluit gelijkstelling van 11 mei 2029");
    assert_eq!(on("2029-12-24")["kind"], "closing-day");
    assert_eq!(on("2029-03-30")["name"], "Good Friday");
    let (code, out, _) = klachtd(&["--config", path.to_str().unwrap(), "calendar", "--year", "2032"]);
    assert_eq!(code, 0);
    assert!(out.contains("No royal decree for 2032 is known"), "{out}");
}

#[test]
fn check_config_names_each_bad_key_and_its_fix() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    let text =
        config_text(MailStack::shared(), "klachten", "mysql://x", dir.path(), "").replace("host = \"127.0.0.1\"\nport", "host = \"imap.example.org\"\nport");
    std::fs::write(&path, text).unwrap();
    let (code, _, err) = klachtd(&["--config", path.to_str().unwrap(), "check-config", "--offline"]);
    assert_eq!(code, 78, "EX_CONFIG");
    for key in ["organisation.complaints_address", "database.url", "imap.tls"] {
        assert!(err.contains(key), "{key} not named in:\n{err}");
    }
    assert!(err.contains("fix:"), "{err}");

    std::fs::write(&path, "[organisation]\nnaam = 1\n").unwrap();
    let (code, _, err) = klachtd(&["--config", path.to_str().unwrap(), "check-config", "--offline"]);
    assert_eq!(code, 78);
    assert!(err.contains("naam"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_config_online_reaches_every_server_and_reports_a_bad_password_in_one_line() {
    let w = World::new(Db::Sqlite).await;
    let path = w.dir.path().join("k.toml");
    let text = config_text(w.stack, &w.complaints, &w.db.url, w.dir.path(), "");
    std::fs::write(&path, &text).unwrap();
    let (code, out, err) = klachtd(&["--config", path.to_str().unwrap(), "check-config"]);
    assert_eq!(code, 0, "{err}");
    for line in ["configuration is valid", "database: ok", "imap: ok", "smtp: ok"] {
        assert!(out.contains(line), "{line} missing in:\n{out}");
    }
    std::fs::write(&path, text.replace(&format!("password = \"{PASSWORD}\""), "password = \"wrong\"")).unwrap();
    let (code, _, err) = klachtd(&["--config", path.to_str().unwrap(), "check-config"]);
    assert_eq!(code, 78, "a refused login is for the operator to fix");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(err.contains("IMAP login as"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cases_list_and_show_speak_json() {
    let w = World::new(Db::Sqlite).await;
    let path = w.dir.path().join("k.toml");
    std::fs::write(&path, config_text(w.stack, &w.complaints, &w.db.url, w.dir.path(), ANSWER_ALL)).unwrap();
    let kim = format!("{}@example.test", unique("kim"));
    let (_, raw) = w.complaint("Kim", &kim, "Via de opdrachtregel", "Tekst.");
    w.stack.append(&w.complaints, "INBOX", &raw, None).await;
    let daemon = w.start();
    eventually("case", WAIT, || async { (w.store().await.count(klachtd::store::Table::Cases).await.unwrap() == 1).then_some(()) }).await;
    // The status below counts the outbox: the acknowledgement is out before the daemon stops.
    eventually("acknowledgement sent", WAIT, || async { (w.store().await.outbox_counts().await.unwrap() == vec![("sent".to_string(), 1)]).then_some(()) })
        .await;
    daemon.stop().await;

    let (code, out, err) = klachtd(&["--config", path.to_str().unwrap(), "cases", "list", "--json"]);
    assert_eq!(code, 0, "{err}");
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    let case = &list[0];
    let reference = case["reference"].as_str().unwrap();
    assert_eq!(case["complainant_email"], kim.as_str());
    assert_eq!(case["messages"], 1);
    for key in ["status", "received_on", "acknowledge_by", "progress_by", "respond_by", "incomplete", "attachments", "acknowledgement"] {
        assert!(case.get(key).is_some(), "{key} missing in {case}");
    }
    let (code, out, _) = klachtd(&["--config", path.to_str().unwrap(), "cases", "show", reference, "--json"]);
    assert_eq!(code, 0);
    let shown: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(shown["description"], "Tekst.");
    assert_eq!(shown["history"][0]["action"], "registered");

    let (code, out, _) = klachtd(&["--config", path.to_str().unwrap(), "cases", "list"]);
    assert_eq!(code, 0);
    assert!(out.contains(reference), "{out}");
    // A reader that has gone (`| head`) ends each command quietly, whatever way it prints.
    for args in [vec!["cases", "show", reference], vec!["cases", "show", reference, "--json"], vec!["cases", "list"], vec!["reminders", "preview"]] {
        let mut full = vec!["--config", path.to_str().unwrap()];
        full.extend(args.iter());
        let (code, err) = klachtd_to_closed_pipe(&full);
        assert_eq!((code, err.as_str()), (Some(141), ""), "{args:?}");
    }
    let (code, out, _) = klachtd(&["--config", path.to_str().unwrap(), "status", "--json"]);
    assert_eq!(code, 0);
    let status: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(status["open_cases"], 1);
    assert_eq!(status["outbox_pending"], 0);
    assert!(status["last_sync_at"].as_i64().is_some(), "{status}");
    let (code, _, err) = klachtd(&["--config", path.to_str().unwrap(), "cases", "show", "KL-1999-0001"]);
    assert_eq!(code, 1);
    assert_eq!(err.trim(), "klachtd: no case with reference KL-1999-0001");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handlers_assignment_and_reminder_preview_from_the_command_line() {
    let w = World::new(Db::Sqlite).await;
    let path = w.dir.path().join("k.toml");
    std::fs::write(&path, config_text(w.stack, &w.complaints, &w.db.url, w.dir.path(), ANSWER_ALL)).unwrap();
    let cfg = path.to_str().unwrap();
    assert_eq!(klachtd(&["--config", cfg, "handlers", "add", "Ann Smit", "ann@dienst.test"]).0, 0);
    assert_eq!(klachtd(&["--config", cfg, "handlers", "add", "Sue Bakker", "sue@dienst.test", "--supervisor"]).0, 0);
    let (code, out, _) = klachtd(&["--config", cfg, "handlers", "list", "--json"]);
    assert_eq!(code, 0);
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list[1]["name"], "Sue Bakker");
    assert_eq!(list[1]["supervisor"], true);

    let (_, raw) = w.complaint("Klager", "klager@example.test", "Klacht over Ann Smit", "Ann Smit luisterde niet.");
    w.stack.append(&w.complaints, "INBOX", &raw, Some("\"20-Nov-2026 10:00:00 +0100\"")).await;
    let daemon = w.start();
    let case = eventually("case", WAIT, || async { w.store().await.list_cases().await.unwrap().pop() }).await;
    daemon.stop().await;
    assert_eq!(case.handler.as_deref(), Some("Sue Bakker"), "Ann is named, so the supervisor gets it");

    let (code, _, err) = klachtd(&["--config", cfg, "cases", "subject", &case.reference.to_string(), "Ann Smit"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = klachtd(&["--config", cfg, "cases", "assign", &case.reference.to_string(), "Ann Smit"]);
    assert_eq!(code, 1);
    assert_eq!(err.trim(), format!("klachtd: Ann Smit kan {} niet behandelen: de klacht gaat over deze behandelaar (R5, onpartijdigheid)", case.reference));

    let outbox_before = w.store().await.count(Table::Outbox).await.unwrap();
    let (code, out, err) = klachtd(&["--config", cfg, "reminders", "preview", "--at", "2026-12-02 09:00"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("1 mail(s) would be sent") && out.contains("To Sue Bakker <sue@dienst.test>") && out.contains("progress"), "{out}");
    // A preview claims nothing: the same question gives the same answer, and nothing is queued.
    assert_eq!(klachtd(&["--config", cfg, "reminders", "preview", "--at", "2026-12-02 09:00"]).1, out);
    assert_eq!(w.store().await.count(Table::Outbox).await.unwrap(), outbox_before);
    let (_, out, _) = klachtd(&["--config", cfg, "reminders", "preview", "--at", "2026-12-02 20:00"]);
    assert!(out.contains("0 mail(s) would be sent"), "{out}");
    let (_, out, _) = klachtd(&["--config", cfg, "cases", "show", &case.reference.to_string()]);
    assert!(out.contains("Handler:        Sue Bakker") && out.contains("Supervisor check: the complaint names Ann Smit"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_from_the_configuration_is_removed_there_not_from_the_command_line() {
    let w = World::new(Db::Sqlite).await;
    let path = w.dir.path().join("k.toml");
    let listed = format!("{ANSWER_ALL}[[handlers]]\nname = \"Cor Vast\"\nemail = \"cor@dienst.test\"\n");
    std::fs::write(&path, config_text(w.stack, &w.complaints, &w.db.url, w.dir.path(), &listed)).unwrap();
    let cfg = path.to_str().unwrap();
    // It would come back at the next start: refused, with why, and nothing changes.
    let (code, _, err) = klachtd(&["--config", cfg, "handlers", "remove", "Cor Vast"]);
    assert_eq!(
        (code, err.lines().last().unwrap_or("")),
        (1, "klachtd: Cor Vast is listed under [[handlers]] in the configuration: remove them there first, or they come back at the next start")
    );
    assert_eq!(klachtd(&["--config", cfg, "handlers", "add", "Tijdelijk", "tijd@dienst.test"]).0, 0);
    assert_eq!(klachtd(&["--config", cfg, "handlers", "remove", "Tijdelijk"]).0, 0);
    let (_, out, _) = klachtd(&["--config", cfg, "handlers", "list", "--json"]);
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!((list[0]["name"].as_str(), list[0]["active"].as_bool()), (Some("Cor Vast"), Some(true)));
    assert_eq!((list[1]["name"].as_str(), list[1]["active"].as_bool()), (Some("Tijdelijk"), Some(false)));
}

#[test]
fn check_config_refuses_metrics_beyond_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.toml");
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/klachtd.example.toml")).unwrap();
    let text = text.replace("# metrics_listen = \"127.0.0.1:9187\"", "metrics_listen = \"0.0.0.0:9187\"");
    assert!(text.contains("\nmetrics_listen = \"0.0.0.0:9187\""), "the example documents metrics_listen");
    std::fs::write(&path, text).unwrap();
    let (code, _, err) = klachtd(&["--config", path.to_str().unwrap(), "check-config", "--offline"]);
    assert_eq!(code, 78);
    assert!(err.contains("service.metrics_listen") && err.contains("not a loopback address"), "{err}");
}

/// Under systemd the passwords are credentials only the service can read; the case commands
/// need no mail server and work without them, the daemon refuses to start without them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_commands_work_without_the_service_credentials() {
    let w = World::new(Db::Sqlite).await;
    let path = w.dir.path().join("k.toml");
    let text = config_text(w.stack, &w.complaints, &w.db.url, w.dir.path(), ANSWER_ALL)
        .replace(&format!("password = \"{PASSWORD}\""), "password_file = \"/run/credentials/klachtd.service/imap-password\"");
    std::fs::write(&path, text).unwrap();
    let cfg = path.to_str().unwrap();
    assert_eq!(klachtd(&["--config", cfg, "migrate"]).0, 0);
    let (code, out, err) = klachtd(&["--config", cfg, "cases", "list", "--json"]);
    assert_eq!((code, out.trim()), (0, "[]"), "{err}");
    assert_eq!(klachtd(&["--config", cfg, "status"]).0, 0);
    let (code, _, err) = klachtd(&["--config", cfg, "run"]);
    assert_eq!(code, 78);
    assert!(err.contains("imap.password") && err.contains("/run/credentials/klachtd.service/imap-password"), "{err}");
}

/// `log_format = "json"`: every log line is one JSON object with level and message, for log
/// shippers; the start-up error still ends as one plain line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_object_per_line() {
    let w = World::new(Db::Sqlite).await;
    let path = w.dir.path().join("k.toml");
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let text = config_text(w.stack, &w.complaints, &w.db.url, w.dir.path(), &format!("{ANSWER_ALL}[service]\nlog_format = \"json\"\n"))
        .replace(&format!("port = {}", w.stack.imap_port), &format!("port = {closed_port}"));
    std::fs::write(&path, text).unwrap();
    let (code, _, err) = klachtd(&["--config", path.to_str().unwrap(), "run"]);
    assert_eq!(code, 1);
    let lines: Vec<&str> = err.lines().collect();
    let (last, logs) = lines.split_last().unwrap();
    assert!(last.starts_with("klachtd: cannot connect to 127.0.0.1:"), "{err}");
    assert!(!logs.is_empty(), "the migrations are logged: {err}");
    for line in logs {
        let entry: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert_eq!(entry["level"], "INFO", "{line}");
        assert!(entry["message"].as_str().is_some_and(|m| !m.is_empty()), "{line}");
    }
}

/// A PostgreSQL password kept in a file goes into the connection (percent-encoded); the test
/// server trusts loopback, so this proves the assembled URL is one PostgreSQL accepts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_password_file_is_used_for_postgres() {
    let w = World::new(Db::Postgres).await;
    let path = w.dir.path().join("k.toml");
    let secret = w.dir.path().join("db-password");
    std::fs::write(&secret, "s3cr:et/@x\n").unwrap();
    let url_line = format!("url = \"{}\"\n", w.db.url);
    let text =
        config_text(w.stack, &w.complaints, &w.db.url, w.dir.path(), ANSWER_ALL).replacen(&url_line, &format!("{url_line}password_file = {secret:?}\n"), 1);
    assert!(text.contains("password_file"));
    std::fs::write(&path, text).unwrap();
    let (code, out, err) = klachtd(&["--config", path.to_str().unwrap(), "migrate"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = klachtd(&["--config", path.to_str().unwrap(), "cases", "list", "--json"]);
    assert_eq!((code, out.trim()), (0, "[]"), "{err}");
    assert!(!err.contains("s3cr"), "the password is never printed: {err}");
}

/// Dates of the wrong form or that do not exist: one line that names the expected form, exit 1.
#[test]
fn a_bad_date_is_one_line_that_names_the_form() {
    for (args, needle) in [
        (vec!["deadlines", "--received", "2026-02-30"], "2026-02-30 is not a day of the calendar"),
        (vec!["deadlines", "--received", "20-11-2026"], "YYYY-MM-DD"),
        (vec!["report", "--from", "2026-13-01", "--to", "2026-12-31"], "2026-13-01 is not a day of the calendar"),
        (vec!["cases", "progress", "KL-2026-0001", "--expected", "morgen"], "YYYY-MM-DD"),
    ] {
        let mut full = vec!["--config", "/nonexistent/klachtd.toml"];
        full.extend(args.iter());
        let (code, _, err) = klachtd(&full);
        assert_eq!(code, 1, "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: one line: {err}");
        assert!(err.starts_with("klachtd: ") && err.contains(needle), "{args:?}: {err}");
    }
}

/// The closed sets are listed where a handler looks: the short and the long help.
#[test]
fn help_lists_the_possible_values() {
    for (args, needle) in [
        (vec!["cases", "respond", "--help"], "[possible values: founded, partly-founded, unfounded]"),
        (vec!["cases", "respond", "-h"], "[possible values: founded, partly-founded, unfounded]"),
        (vec!["cases", "category", "--help"], "[possible values: service, staff, process, other]"),
        (vec!["report", "-h"], "[possible values: table, csv, json, publication]"),
    ] {
        let (code, out, err) = klachtd(&args);
        assert_eq!(code, 0, "{args:?}: {err}");
        assert!(out.contains(needle), "{args:?}: {out}");
    }
    // Every argument says what it is.
    let (_, out, _) = klachtd(&["cases", "register", "--help"]);
    for arg in ["--name", "--email", "--postal-address", "--received", "--description-file", "--attach"] {
        let line = out.lines().find(|l| l.trim_start().starts_with(arg)).unwrap_or_else(|| panic!("{arg} missing: {out}"));
        assert!(line.split_whitespace().count() > 2, "{arg} has no help: {line}");
    }
    // The generators are for packaging, not for the list of commands.
    let (_, out, _) = klachtd(&["--help"]);
    assert!(out.contains("cases") && !out.contains("completions") && !out.contains("\n  man "), "{out}");
}

/// A value outside its set or of the wrong form is refused as the command line is read, before
/// the configuration (missing here) is: one line that names the value, exit 1 like every
/// refusal, nothing on stdout.
#[test]
fn values_of_the_wrong_form_are_refused_in_one_line() {
    for (args, needle) in [
        (
            vec!["cases", "respond", "KL-2026-0001", "--outcome", "half", "--findings-file", "f.txt"],
            "\"half\" is not an outcome; use one of: founded, partly-founded, unfounded",
        ),
        (vec!["cases", "category", "KL-2026-0001", "misc"], "\"misc\" is not a category; use one of: service, staff, process, other"),
        (vec!["report", "--from", "2026-01-01", "--to", "2026-12-31", "--format", "xml"], "possible values: table, csv, json"),
        (vec!["handlers", "add", "Ann Smit", "ann@"], "\"ann@\" is not a valid e-mail address"),
        (vec!["cases", "complete", "KL-2026-0001", "--email", "geen adres"], "\"geen adres\" is not a valid e-mail address"),
        (vec!["cases", "request-info", "KL-2026-0001", "--message-file", "f.txt", "--to", "<a@b.test>"], "is not a valid e-mail address"),
        (vec!["cases", "show", "KL-26-1"], "\"KL-26-1\" is not a case reference such as KL-2026-0001"),
        (vec!["outbox", "retry", "KL-2026-0001", "2026-0002"], "\"2026-0002\" is not a case reference"),
        (vec!["reminders", "preview", "--at", "morgen"], "\"morgen\" is not \"YYYY-MM-DD HH:MM\" or RFC 3339"),
        (vec!["completions", "tcsh"], "possible values: bash, elvish, fish, powershell, zsh"),
        (vec!["calendar", "--year", "twenty"], "\"twenty\" is not a year such as 2027"),
    ] {
        let mut full = vec!["--config", "/nonexistent/klachtd.toml"];
        full.extend(args.iter());
        let (code, out, err) = klachtd(&full);
        assert_eq!(code, 1, "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: one line: {err}");
        assert!(err.starts_with("klachtd: invalid value ") && err.contains(needle), "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?}: {out}");
    }
}

/// `klachtd completions SHELL` prints a script that completes the commands and the closed sets.
#[test]
fn completions_know_the_commands() {
    for shell in ["bash", "zsh", "fish"] {
        let (code, out, err) = klachtd(&["completions", shell]);
        assert_eq!(code, 0, "{shell}: {err}");
        for needle in ["cases", "release-acknowledgement", "partly-founded", "due-within"] {
            assert!(out.contains(needle), "{shell}: {needle} missing");
        }
    }
    // Bash completes with it: a command, then the outcomes.
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("klachtd.bash");
    std::fs::write(&script, klachtd(&["completions", "bash"]).1).unwrap();
    let complete = |words: &str, cword: usize, cur: &str, prev: &str| {
        let line =
            format!("source {}; COMP_WORDS=({words}); COMP_CWORD={cword}; _klachtd klachtd '{cur}' '{prev}'; echo \"${{COMPREPLY[*]}}\"", script.display());
        let out = Command::new("bash").arg("-c").arg(line).output().unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(complete("klachtd cases res", 2, "res", "cases"), "respond");
    assert_eq!(complete("klachtd cases respond KL-2026-0001 --outcome ''", 5, "", "--outcome"), "founded partly-founded unfounded");
}

/// `klachtd man` prints klachtd(1) in roff; `--dir` writes it with a page per command.
#[test]
fn the_manual_page_is_roff_and_names_the_commands() {
    let (code, out, err) = klachtd(&["man"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with(".ie") || out.starts_with(".TH"), "{out}");
    assert!(out.lines().any(|l| l.starts_with(".TH klachtd 1")), "{out}");
    for section in [".SH NAME", ".SH SYNOPSIS", ".SH OPTIONS", ".SH SUBCOMMANDS"] {
        assert!(out.contains(section), "{section} missing: {out}");
    }
    for command in ["run", "check\\-config", "cases", "handlers", "report", "quarantine"] {
        assert!(out.contains(&format!("klachtd\\-{command}(1)")), "{command} missing: {out}");
    }
    assert!(!out.contains("completions"), "hidden commands have no page: {out}");
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = klachtd(&["man", "--dir", dir.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let respond = std::fs::read_to_string(dir.path().join("klachtd-cases-respond.1")).unwrap();
    assert!(respond.contains(".TH klachtd-cases-respond 1") && respond.contains("partly\\-founded"), "{respond}");
    for page in ["klachtd.1", "klachtd-cases.1", "klachtd-run.1", "klachtd-report.1"] {
        assert!(dir.path().join(page).exists(), "{page}");
    }
    assert!(!dir.path().join("klachtd-man.1").exists() && !dir.path().join("klachtd-completions.1").exists());
}

/// A missing configuration file is named once, with its OS error once; exit 78.
#[test]
fn a_missing_configuration_is_one_line_with_each_cause_once() {
    let (code, _, err) = klachtd(&["--config", "/nonexistent/klachtd.toml", "status"]);
    assert_eq!(code, 78, "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
}

/// Looking at cases on a mistyped database path refuses, and creates nothing.
#[test]
fn read_only_commands_refuse_a_database_that_does_not_exist() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.toml");
    let missing = dir.path().join("typo").join("klachtd.db");
    let url = format!("sqlite://{}", missing.display());
    std::fs::write(&path, config_text(MailStack::shared(), "klachten@klacht.test", &url, dir.path(), "")).unwrap();
    for args in [vec!["status"], vec!["cases", "list"], vec!["report", "--from", "2026-01-01", "--to", "2026-12-31"], vec!["handlers", "list"]] {
        let mut full = vec!["--config", path.to_str().unwrap()];
        full.extend(args.iter());
        let (code, out, err) = klachtd(&full);
        assert_eq!(code, 1, "{args:?}: {out}{err}");
        assert!(err.contains("does not exist") && err.contains("database.url"), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(!missing.exists() && !missing.parent().unwrap().exists(), "{args:?} created {}", missing.display());
    }
}

/// `cases list` filters (open, handler, deadline within N days, limit) and streams a valid JSON
/// array, on both databases.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cases_list_filters() {
    for db in [Db::Sqlite, Db::Postgres] {
        let w = World::new(db).await;
        let path = w.dir.path().join("k.toml");
        std::fs::write(&path, config_text(w.stack, &w.complaints, &w.db.url, w.dir.path(), "[[handlers]]\nname = \"Ann Smit\"\nemail = \"ann@dienst.test\"\n"))
            .unwrap();
        let cfg = path.to_str().unwrap();
        // The cases come first, while no handler is known, so none is assigned one.
        let store = w.store().await;
        let today = klachtd::domain::calendar::amsterdam_date(chrono::Utc::now());
        let day = |n: i64| today + chrono::Duration::days(n);
        // Due in 2 days; due in 30 days; closed long ago.
        let soon = register_by_hand(store, &hand_made_case(Some("A"), "a@example.test", "x", day(-3), [day(2), day(9), day(30)])).await.to_string();
        let later = register_by_hand(store, &hand_made_case(Some("B"), "b@example.test", "x", day(-1), [day(30), day(40), day(50)])).await.to_string();
        let closed = register_by_hand(store, &hand_made_case(Some("C"), "c@example.test", "x", day(-60), [day(-50), day(-40), day(-20)])).await.to_string();
        assert_eq!(klachtd(&["--config", cfg, "migrate"]).0, 0, "brings in the handler of the configuration");
        store.assign(&cref(&later), "Ann Smit", "test").await.unwrap();
        sqlx::any::install_default_drivers();
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&w.db.url).await.unwrap();
        sqlx::query("UPDATE cases SET status = 'closed' WHERE reference = $1").bind(&closed).execute(&mut conn).await.unwrap();
        let _ = sqlx::Connection::close(conn).await;
        let list = |args: &[&str]| {
            let mut full = vec!["--config", cfg, "cases", "list", "--json"];
            full.extend(args);
            let (code, out, err) = klachtd(&full);
            assert_eq!(code, 0, "{err}");
            let cases: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap_or_else(|e| panic!("not a JSON array ({e}): {out}"));
            cases.iter().map(|c| c["reference"].as_str().unwrap().to_string()).collect::<Vec<_>>()
        };
        assert_eq!(list(&[]), vec![soon.clone(), later.clone(), closed.clone()]);
        assert_eq!(list(&["--open"]), vec![soon.clone(), later.clone()]);
        assert_eq!(list(&["--handler", "Ann Smit"]), vec![later.clone()]);
        assert_eq!(list(&["--due-within", "7"]), vec![soon.clone()]);
        assert_eq!(list(&["--limit", "1"]), vec![soon.clone()]);
        assert!(list(&["--handler", "Niemand"]).is_empty());
        let (code, out, _) = klachtd(&["--config", cfg, "cases", "list", "--open"]);
        assert_eq!(code, 0);
        assert_eq!(out.lines().count(), 3, "a header and two cases: {out}");
    }
}
