//! The hearing of Awb 9:10 from the command line, with klachtd running on the real mail stack:
//! the invitation reaches the complainant and the staff member complained about with an
//! iCalendar REQUEST that Python's `icalendar` (an independent parser, from PyPI; tests/run.sh
//! installs it, KLACHTD_PYTHON names its interpreter) reads as clients need it; the
//! complainant's REPLY threads into the case and is recorded (and ends the reminders of the
//! term to answer); the report reaches them; "no hearing" needs its ground; the register counts
//! both.

use crate::common::*;
use mail_parser::MimeHeaders;

fn klachtd(config: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    klachtd_as_handler(config, args)
}

on_both_databases!(an_invitation_its_answer_and_the_report);

fn python() -> String {
    std::env::var("KLACHTD_PYTHON").unwrap_or_else(|_| {
        let venv = std::path::Path::new(&std::env::var("HOME").unwrap_or_default()).join(".cache/klachtd-icalendar/bin/python3");
        if venv.exists() {
            venv.display().to_string()
        } else {
            "python3".into()
        }
    })
}

/// The facts Python's icalendar reads from `ics`, as JSON.
fn parsed_by_icalendar(ics: &str) -> serde_json::Value {
    let script = r#"
import sys, json, icalendar
cal = icalendar.Calendar.from_ical(sys.stdin.buffer.read())
ev = [c for c in cal.walk() if c.name == "VEVENT"][0]
att = ev.get("ATTENDEE")
print(json.dumps({
    "method": str(cal.get("METHOD")), "version": str(cal.get("VERSION")), "prodid": str(cal.get("PRODID")),
    "uid": str(ev.get("UID")), "summary": str(ev.get("SUMMARY")), "location": str(ev.get("LOCATION")),
    "start": ev.decoded("DTSTART").isoformat(), "end": ev.decoded("DTEND").isoformat(),
    "organizer": str(ev.get("ORGANIZER")), "attendee": str(att), "rsvp": str(att.params.get("RSVP")),
    "partstat": str(att.params.get("PARTSTAT")), "cn": str(att.params.get("CN")),
    "description": str(ev.get("DESCRIPTION")), "sequence": int(ev.get("SEQUENCE")),
}))
"#;
    use std::io::Write;
    let mut child = std::process::Command::new(python())
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 with icalendar (tests/run.sh installs it)");
    child.stdin.take().unwrap().write_all(ics.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "icalendar refused the invitation: {}\n{ics}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

async fn an_invitation_its_answer_and_the_report(db: Db) {
    capture_logs();
    let ann = format!("{}@dienst.test", unique("ann"));
    let bob = format!("{}@dienst.test", unique("bob"));
    let extra = format!(
        "{ANSWER_ALL}[assignment]\nrule = \"default\"\ndefault_handler = \"Ann Smit\"\n[[handlers]]\nname = \"Ann Smit\"\nemail = \"{ann}\"\n[[handlers]]\nname = \"Bob Berg\"\nemail = \"{bob}\"\n"
    );
    let w = World::with(db, MailStack::shared(), &extra).await;
    let cfg = w.dir.path().join("klachtd.toml");
    std::fs::write(&cfg, config_text(w.stack, &w.complaints, &w.db.url, w.dir.path(), &extra)).unwrap();
    let (mia, kim) = (format!("{}@example.test", unique("mia")), format!("{}@example.test", unique("kim")));
    let daemon = w.start();
    let store = w.store().await;
    let mut references = Vec::new();
    for (name, from) in [("Mia Vos", &mia), ("Kim de Wit", &kim)] {
        let (_, raw) = w.complaint(name, from, "Klacht", "Bob was onbeleefd.");
        w.send(from, &raw).await;
        let case = eventually("acknowledged", WAIT, || async {
            store.list_cases().await.unwrap().into_iter().find(|c| c.complainant_email.as_deref() == Some(from.as_str()) && c.acknowledgement_word() == "sent")
        })
        .await;
        references.push(case.reference);
    }
    let (r, other) = (references[0].clone(), references[1].clone());
    assert_eq!(klachtd(&cfg, &["cases", "subject", &r.to_string(), "Bob Berg"]).0, 0);

    // Refusals: no place, a time that has passed.
    let day = (chrono::Utc::now() + chrono::Duration::days(21)).with_timezone(&chrono_tz::Europe::Amsterdam).date_naive();
    let at = format!("{day} 14:30");
    let (code, _, err) = klachtd(&cfg, &["cases", "hearing-invite", &r.to_string(), "--at", &at, "--place", " "]);
    assert_eq!(code, 1);
    assert!(err.contains("een plaats of een videolink"), "{err}");
    let (code, _, err) = klachtd(&cfg, &["cases", "hearing-invite", &r.to_string(), "--at", "2020-01-06 10:00", "--place", "Kamer 3"]);
    assert_eq!(code, 1);
    assert!(err.contains("is voorbij"), "{err}");

    // The invitation, to Mia and to Bob.
    let (code, out, err) = klachtd(
        &cfg,
        &[
            "cases",
            "hearing-invite",
            &r.to_string(),
            "--at",
            &at,
            "--minutes",
            "45",
            "--place",
            "Stadskantoor, kamer 3; Den Haag",
            "--answer-days",
            "3",
            "--with-subjects",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&mia) && out.contains(&bob) && out.contains("answer by"), "{out}");
    let invitation = eventually("the invitation reaches Mia", WAIT, || async {
        w.stack.messages(&mia, "INBOX").await.into_iter().find(|m| parsed(m).subject().unwrap_or("").contains("Uitnodiging om te worden gehoord"))
    })
    .await;
    let message = parsed(&invitation);
    let raw = String::from_utf8_lossy(&invitation).into_owned();
    assert!(raw.contains("multipart/alternative"), "text and calendar side by side:\n{raw}");
    let calendar_part = message
        .parts
        .iter()
        .find(|p| p.content_type().is_some_and(|ct| ct.ctype() == "text" && ct.subtype() == Some("calendar")))
        .expect("a text/calendar part");
    assert_eq!(calendar_part.content_type().unwrap().attribute("method"), Some("REQUEST"));
    let ics_file = message.attachments().find(|a| a.attachment_name() == Some("hoorzitting.ics")).expect("the invitation as an .ics file too");
    let ics = String::from_utf8_lossy(calendar_part.contents()).into_owned();
    assert_eq!(String::from_utf8_lossy(ics_file.contents()), ics);
    assert!(ics.contains("\r\n") && !ics.replace("\r\n", "").contains('\n'), "CRLF lines");
    assert!(ics.split("\r\n").all(|l| l.len() <= 75), "folded at 75 octets");
    let body = text_of(&message);
    assert!(body.contains("14:30 tot 15:15") && body.contains("Stadskantoor, kamer 3; Den Haag"), "{body}");

    let facts = parsed_by_icalendar(&ics);
    let start = day.and_hms_opt(14, 30, 0).unwrap().and_local_timezone(chrono_tz::Europe::Amsterdam).unwrap().with_timezone(&chrono::Utc);
    assert_eq!(facts["method"], "REQUEST");
    assert_eq!(facts["version"], "2.0");
    assert!(facts["uid"].as_str().unwrap().starts_with(&format!("{r}.hearing.")), "{facts}");
    assert!(facts["summary"].as_str().unwrap().contains(&format!("[{r}]")), "the answer's subject will name the case: {facts}");
    assert_eq!(facts["location"], "Stadskantoor, kamer 3; Den Haag");
    assert_eq!(facts["start"], start.format("%Y-%m-%dT%H:%M:%S+00:00").to_string());
    assert_eq!(facts["end"], (start + chrono::Duration::minutes(45)).format("%Y-%m-%dT%H:%M:%S+00:00").to_string());
    assert_eq!(facts["organizer"], format!("mailto:{}", w.complaints));
    assert_eq!(facts["attendee"], format!("mailto:{mia}"));
    assert_eq!((facts["rsvp"].as_str(), facts["partstat"].as_str(), facts["cn"].as_str()), (Some("TRUE"), Some("NEEDS-ACTION"), Some("Mia Vos")));
    assert!(facts["description"].as_str().unwrap().contains("14:30 tot 15:15"), "{facts}");
    let uid = facts["uid"].as_str().unwrap().to_string();

    let bobs = eventually("Bob's invitation", WAIT, || async {
        w.stack.messages(&bob, "INBOX").await.into_iter().find(|m| parsed(m).subject().unwrap_or("").contains("Uitnodiging om te worden gehoord"))
    })
    .await;
    let bobs = parsed(&bobs);
    assert!(text_of(&bobs).contains("klacht over uw gedraging"), "the person complained about gets their own wording");
    let bobs_ics = bobs.parts.iter().find(|p| p.content_type().is_some_and(|ct| ct.subtype() == Some("calendar"))).unwrap();
    assert_eq!(parsed_by_icalendar(&String::from_utf8_lossy(bobs_ics.contents()))["attendee"], format!("mailto:{bob}"));

    // The term to answer is a deadline the reminders know, until the answer comes.
    let answer_by = out.rsplit("answer by ").next().unwrap().trim().to_string();
    let preview = || klachtd(&cfg, &["reminders", "preview", "--at", &format!("{answer_by} 09:00")]).1;
    let before_answer = preview();
    assert!(before_answer.contains(&format!("{r}  hearing-answer reminder   {answer_by}")), "{before_answer}");

    // "No answer" cannot be recorded while the term to answer runs.
    let (code, _, err) = klachtd(&cfg, &["cases", "no-hearing", &r.to_string(), "--ground", "no-answer"]);
    assert_eq!(code, 1);
    assert!(err.contains("de termijn om op de uitnodiging te antwoorden loopt tot"), "{err}");

    // Mia accepts in her calendar: an iTIP REPLY, subject as Outlook writes it.
    let messages_before = store.case_detail(&r).await.unwrap().summary.messages;
    let reply_ics = format!(
        "BEGIN:VCALENDAR\r\nPRODID:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN\r\nVERSION:2.0\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nATTENDEE;PARTSTAT=ACCEPTED;CN=\"Mia Vos\":mailto:{mia}\r\nDTSTAMP:20261201T100000Z\r\nSEQUENCE:0\r\nUID:{uid}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    );
    let reply = format!(
        "From: Mia Vos <{mia}>\r\nTo: {}\r\nSubject: Geaccepteerd: {}\r\nMessage-ID: <{}@example.test>\r\nIn-Reply-To: <{}>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nIk kom.\r\n--B\r\nContent-Type: text/calendar; charset=utf-8; method=REPLY\r\n\r\n{reply_ics}--B--\r\n",
        w.complaints,
        message.subject().unwrap(),
        unique("reply"),
        message.message_id().unwrap()
    );
    w.send(&mia, reply.as_bytes()).await;
    let answer = eventually("the answer threads into the case", WAIT, || async {
        let history = store.case_detail(&r).await.unwrap().history;
        history.iter().find(|e| e.action == event("hearing-answer")).map(|e| e.detail.clone())
    })
    .await;
    assert_eq!(answer, format!("ACCEPTED by {mia}"));
    let after_answer = preview();
    assert!(!after_answer.contains("hearing-answer"), "answered: no more reminders of the term\n{after_answer}");
    let detail = store.case_detail(&r).await.unwrap();
    assert_eq!(detail.summary.messages, messages_before + 1, "kept with its case");
    assert_eq!(detail.message_list.last().unwrap().kind.as_str(), "set-aside", "no follow-up that the handler must answer");
    assert_eq!(w.stack.messages(&mia, "INBOX").await.len(), 2, "no reply to a calendar answer (acknowledgement and invitation only)");

    // The report of the hearing reaches Mia.
    let report = w.dir.path().join("report.txt");
    std::fs::write(&report, "Mevrouw Vos lichtte toe dat Bob haar twee keer onderbrak.").unwrap();
    let (code, out, err) = klachtd(&cfg, &["cases", "hearing-report", &r.to_string(), "--report-file", report.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("queued for {mia}")), "{out}");
    let letter = eventually("the report reaches Mia", WAIT, || async {
        w.stack.messages(&mia, "INBOX").await.into_iter().map(|m| text_of(&parsed(&m))).find(|b| b.contains("twee keer onderbrak"))
    })
    .await;
    assert!(letter.contains("artikel 9:10"), "{letter}");

    // The other case: no hearing, the complainant did not wish it.
    let (code, _, err) = klachtd(&cfg, &["cases", "no-hearing", &other.to_string(), "--ground", "maybe"]);
    assert_eq!(code, 1);
    assert!(err.contains("clearly-unfounded"), "{err}");
    assert_eq!(klachtd(&cfg, &["cases", "no-hearing", &other.to_string(), "--ground", "not-wished"]).0, 0);

    let history = store.case_detail(&r).await.unwrap().history;
    for action in ["hearing-invited", "hearing-answer", "hearing-held"] {
        assert!(history.iter().any(|e| e.action == event(action)), "{action}: {history:?}");
    }
    let today = chrono::Utc::now().date_naive();
    let (code, out, err) = klachtd(
        &cfg,
        &["report", "--from", &(today - chrono::Days::new(3)).to_string(), "--to", &(today + chrono::Days::new(1)).to_string(), "--format", "json"],
    );
    assert_eq!(code, 0, "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["awb"]["heard"], 1);
    assert_eq!(json["awb"]["no_hearing_by_ground"]["not-wished"], 1);
    daemon.stop().await;
}
