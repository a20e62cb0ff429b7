//! The classes of real-world mail of "What becomes a case" (README), end to end through the
//! real mail stack: what becomes a case, what is answered, and where the mail ends up. The raw
//! mails are written byte by byte as the clients and servers named produce them.

mod families;

use crate::common::klachtd_as_handler as klachtd;
use crate::common::*;
use klachtd::domain::calendar::Deadlines;
use klachtd::store::Table;

on_both_databases!(
    machine_senders_make_no_case_and_get_no_reply,
    spam_waits_in_quarantine_until_a_handler_registers_it,
    calendar_invitations_are_kept_with_their_case_or_held_for_a_person,
    a_reference_in_the_text_threads_only_for_a_known_sender,
    legacy_8bit_text_keeps_its_letters,
    hidden_html_leaves_no_trace_in_the_description,
    signatures_are_kept_and_forwarded_complaints_name_the_original_sender,
    retention_removes_the_original_sender_and_quarantined_mail,
);

const IGNORED: &str = "Klachtd-Genegeerd";
const QUARANTINE: &str = "Klachtd-Quarantaine";
const PROCESSED: &str = "Klachtd-Verwerkt";

/// A world with its configuration also on disk, for the command line.
async fn setup(db: Db) -> (World, std::path::PathBuf) {
    let w = World::with(db, MailStack::shared(), ANSWER_ALL).await;
    let path = w.dir.path().join("klachtd.toml");
    std::fs::write(&path, config_text(w.stack, &w.complaints, &w.db.url, w.dir.path(), ANSWER_ALL)).unwrap();
    (w, path)
}

async fn folder_len(w: &World, folder: &str) -> usize {
    w.stack.messages(&w.complaints, folder).await.len()
}

async fn inbox_of(w: &World, user: &str) -> Vec<Vec<u8>> {
    w.stack.messages(user, "INBOX").await
}

fn address(prefix: &str) -> String {
    format!("{}@example.test", unique(prefix))
}

fn message_id() -> String {
    format!("{}@example.test", unique("mid"))
}

/// A complaint that arrived and was acknowledged; returns its reference and the
/// acknowledgement's Message-ID.
async fn acknowledged_complaint(w: &World, name: &str, from: &str) -> (String, String) {
    let (_, raw) = w.complaint(name, from, "Mijn coach komt afspraken niet na", "Drie keer is mijn afspraak niet doorgegaan.");
    w.send(from, &raw).await;
    let acks = eventually("acknowledgement delivered", WAIT, || async { Some(inbox_of(w, from).await).filter(|m| !m.is_empty()) }).await;
    let ack = parsed(&acks[0]);
    let store = w.store().await;
    let case = store.list_cases().await.unwrap().into_iter().find(|c| c.complainant_email.as_deref() == Some(from)).unwrap();
    (case.reference.to_string(), ack.message_id().unwrap().to_string())
}

async fn machine_senders_make_no_case_and_get_no_reply(db: Db) {
    let w = World::new(db).await;
    let to = &w.complaints;
    let (flow, shared, news) = (address("flow-noreply"), address("klantcontact"), address("nieuws"));
    // Power Automate's "Send an email (V2)" from the flow's own address, as Exchange Online
    // delivers it; the same flow sending as a shared mailbox carries only Exchange's header.
    let power_automate = |from: &str, name: &str| {
        format!(
            "Received: from AM9PR02MB7123.eurprd02.prod.outlook.com (2603:10a6:20b:3c1::9) by DB9PR02MB6554.eurprd02.prod.outlook.com with HTTPS; Mon, 23 Nov 2026 09:12:44 +0000\r\n\
             From: {name} <{from}>\r\nTo: {to}\r\nSubject: Nieuw antwoord op Klachtformulier\r\nDate: Mon, 23 Nov 2026 09:12:44 +0000\r\nMessage-ID: <{}>\r\n\
             x-ms-mail-application: Microsoft Power Automate; User-Agent: azure-logic-apps/1.0 (workflow afa0fb167803450aa650267e95d43287; version 08586093372199532216) microsoft-flow/1.0\r\n\
             x-ms-mail-operation-type: Send\r\nX-MS-Exchange-Generated-Message-Source: Microsoft Flow\r\nX-MS-Exchange-Organization-AuthAs: Internal\r\nX-MS-Exchange-Transport-CrossTenantHeadersStamped: DB9PR02MB6554\r\n\
             MIME-Version: 1.0\r\nContent-Type: text/html; charset=\"utf-8\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
             <html><body><p>Er is een nieuw antwoord op het formulier Klachtformulier.</p><p>Naam: Jan de Vries</p></body></html>\r\n",
            message_id()
        )
    };
    let mailchimp = format!(
        "From: Stichting Voorbeeld <{news}>\r\nTo: {to}\r\nSubject: Nieuws van november\r\nDate: Tue, 24 Nov 2026 08:00:00 +0000\r\nMessage-ID: <{}>\r\n\
         List-Unsubscribe: <https://stichting.us21.list-manage.com/unsubscribe?u=abc&id=def>, <mailto:unsubscribe-mc.us21_abc@mailchimpapp.net?subject=unsubscribe>\r\n\
         List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\nX-MC-User: 0a1b2c3d4e5f67890a1b2c3d4\r\nFeedback-ID: 123456:0a1b2c3d4e5f:us21:mailchimp\r\n\
         X-Mailer: Mailchimp Mailer - **CID8a7f3b2c1d**\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nOns nieuws van deze maand.\r\n",
        message_id()
    );
    for (from, raw) in [(&flow, power_automate(&flow, "Microsoft Power Automate")), (&shared, power_automate(&shared, "Klantcontact")), (&news, mailchimp)] {
        w.send(from, raw.as_bytes()).await;
    }
    let daemon = w.start();
    eventually("all three set aside", WAIT, || async { (folder_len(&w, IGNORED).await == 3).then_some(()) }).await;
    daemon.stop().await;
    let store = w.store().await;
    assert_eq!(store.count(Table::Cases).await.unwrap(), 0, "no case");
    assert_eq!(store.count(Table::Outbox).await.unwrap(), 0, "no acknowledgement");
    assert_eq!(store.count(Table::Messages).await.unwrap(), 3, "kept, not dropped");
    for from in [&flow, &shared, &news] {
        assert!(inbox_of(&w, from).await.is_empty(), "nothing went to {from}");
    }
}

async fn spam_waits_in_quarantine_until_a_handler_registers_it(db: Db) {
    let (w, cfg) = setup(db).await;
    let to = &w.complaints;
    // A phishing mail whose forged sender is a real person, flagged by SpamAssassin in front of
    // the mailbox; and a real complaint that the filter flagged too (a false positive).
    let forged = address("klant");
    let phishing = format!(
        "Return-Path: <{forged}>\r\nX-Spam-Flag: YES\r\nX-Spam-Checker-Version: SpamAssassin 4.0.0 (2022-12-13) on mx.dienst.test\r\nX-Spam-Level: *********\r\n\
         X-Spam-Status: Yes, score=9.1 required=5.0 tests=BAYES_99,HTML_MESSAGE,\r\n\tRCVD_IN_SBL,URIBL_BLACK autolearn=no autolearn_force=no version=4.0.0\r\n\
         From: Klantenservice <{forged}>\r\nTo: {to}\r\nSubject: Uw uitkering wordt stopgezet\r\nDate: Wed, 25 Nov 2026 03:12:00 +0000\r\nMessage-ID: <{}>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nBevestig uw gegevens via de link.\r\n",
        message_id()
    );
    w.send(&forged, phishing.as_bytes()).await;
    let jan = address("jan");
    let genuine = format!(
        "X-Spam-Status: Yes, score=5.3 required=5.0 tests=FREEMAIL_FROM,HTML_IMAGE_ONLY_16,\r\n\tMIME_HTML_ONLY autolearn=no version=4.0.0\r\nX-Spam-Level: *****\r\n\
         From: Jan de Vries <{jan}>\r\nTo: {to}\r\nSubject: Klacht over mijn re-integratietraject\r\nDate: Fri, 20 Nov 2026 09:55:00 +0100\r\nMessage-ID: <{}>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nMijn coach is al drie keer niet gekomen.\r\n",
        message_id()
    );
    w.stack.append(&w.complaints, "INBOX", genuine.as_bytes(), Some("\"20-Nov-2026 10:00:00 +0100\"")).await;

    let daemon = w.start();
    eventually("both quarantined", WAIT, || async { (folder_len(&w, QUARANTINE).await == 2).then_some(()) }).await;
    let store = w.store().await;
    assert_eq!(store.count(Table::Cases).await.unwrap(), 0, "no fake case in the register");
    assert_eq!(store.count(Table::Outbox).await.unwrap(), 0, "no backscatter");
    let reasons: Vec<String> = store.quarantined().await.unwrap().into_iter().map(|(_, _, r)| r).collect();
    assert_eq!(reasons.len(), 2);
    assert!(reasons.iter().all(|r| r.contains("spam") && r.contains("spamassassin")), "{reasons:?}");
    assert_eq!(folder_len(&w, "INBOX").await, 0);

    // The handler sees both and registers the real complaint.
    let (code, listed, err) = klachtd(&cfg, &["quarantine", "list", "--json"]);
    assert_eq!(code, 0, "{err}");
    let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 2);
    let id = listed.iter().find(|m| m["from_address"] == jan.as_str()).unwrap()["id"].as_i64().unwrap();
    let (code, out, err) = klachtd(&cfg, &["quarantine", "register", &id.to_string()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("registered from quarantine (received 2026-11-20)"), "{out}");

    let case =
        eventually("acknowledged", WAIT, || async { store.list_cases().await.unwrap().into_iter().next().filter(|c| c.acknowledgement_word() == "sent") })
            .await;
    assert_eq!(case.complainant_email.as_deref(), Some(jan.as_str()));
    assert_eq!(case.received_on.to_string(), "2026-11-20", "the original date of receipt");
    let d = Deadlines::compute(&w.config.calendar(), chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap());
    assert_eq!(
        (case.acknowledge_by.to_string().as_str(), case.respond_by.to_string().as_str()),
        (d.acknowledge_by.to_string().as_str(), d.respond_by.to_string().as_str())
    );
    let acks = eventually("acknowledgement delivered", WAIT, || async { Some(inbox_of(&w, &jan).await).filter(|m| !m.is_empty()) }).await;
    assert!(parsed(&acks[0]).subject().unwrap().contains(&case.reference.to_string()));
    let detail = store.case_detail(&case.reference).await.unwrap();
    assert!(
        detail.history.iter().any(|e| e.action == event("released-from-quarantine") && e.actor == "handler-ann" && e.detail.contains("spamassassin")),
        "{:?}",
        detail.history
    );
    assert_eq!(detail.message_list.len(), 1, "the quarantine record became the complaint");

    // The phishing mail stays where it is; registering twice is refused and changes nothing.
    assert_eq!(store.quarantined_mails().await.unwrap().len(), 1);
    let (code, _, err) = klachtd(&cfg, &["quarantine", "register", &id.to_string()]);
    assert_eq!(code, 1);
    assert!(err.starts_with("klachtd: no quarantined mail with id") && err.lines().count() == 1, "{err}");
    daemon.stop().await;
    assert_eq!(store.count(Table::Cases).await.unwrap(), 1);
    assert!(inbox_of(&w, &forged).await.is_empty(), "the forged sender never heard from us");
}

/// An invitation as Outlook sends it: text, HTML and the iTIP calendar as alternatives.
fn invitation(from: &str, to: &str, method: &str, subject: &str) -> String {
    format!(
        "From: Marieke Dekker <{from}>\r\nTo: {to}\r\nSubject: {subject}\r\nDate: Tue, 24 Nov 2026 14:03:00 +0000\r\nMessage-ID: <{}>\r\nContent-Language: nl-NL\r\n\
         X-MS-Has-Attach:\r\nX-MS-TNEF-Correlator:\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"_000_AM0PR07MB4866_\"\r\n\r\n\
         --_000_AM0PR07MB4866_\r\nContent-Type: text/plain; charset=\"us-ascii\"\r\n\r\nHoorzitting over de klacht; graag uw aanwezigheid.\r\n\r\n\
         --_000_AM0PR07MB4866_\r\nContent-Type: text/html; charset=\"us-ascii\"\r\n\r\n<html><body><p>Hoorzitting over de klacht</p></body></html>\r\n\r\n\
         --_000_AM0PR07MB4866_\r\nContent-Type: text/calendar; charset=\"utf-8\"; method={method}\r\nContent-Transfer-Encoding: 7bit\r\n\r\n\
         BEGIN:VCALENDAR\r\nMETHOD:{method}\r\nPRODID:Microsoft Exchange Server 2010\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nORGANIZER;CN=Marieke Dekker:mailto:{from}\r\n\
         SUMMARY;LANGUAGE=nl-NL:{subject}\r\nDTSTART:20261201T090000Z\r\nDTEND:20261201T100000Z\r\nUID:040000008200E00074C5B7101A82E008{}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n\r\n\
         --_000_AM0PR07MB4866_--\r\n",
        message_id(),
        unique("uid")
    )
}

async fn calendar_invitations_are_kept_with_their_case_or_held_for_a_person(db: Db) {
    let w = World::new(db).await;
    let daemon = w.start();
    let alice = address("alice");
    let (reference, _) = acknowledged_complaint(&w, "Alice de Vries", &alice).await;
    let mediator = address("mediator");
    for raw in [
        invitation(&mediator, &w.complaints, "REQUEST", "Hoorzitting klacht"),
        invitation(&mediator, &w.complaints, "REQUEST", &format!("Hoorzitting {reference}")),
        invitation(&mediator, &w.complaints, "CANCEL", "Geannuleerd: Hoorzitting klacht"),
    ] {
        w.send(&mediator, raw.as_bytes()).await;
    }
    let store = w.store().await;
    // About no case, the mediator may want to meet about a complaint: a person decides.
    eventually("two invitations held for a person", WAIT, || async { (folder_len(&w, QUARANTINE).await == 2).then_some(()) }).await;
    let reasons: Vec<String> = store.quarantined().await.unwrap().into_iter().map(|(_, _, r)| r).collect();
    assert_eq!(reasons.len(), 2);
    assert!(reasons.iter().all(|r| r.contains("calendar invitation about no case")), "{reasons:?}");
    assert_eq!(folder_len(&w, IGNORED).await, 0);
    let detail = eventually("one kept with its case", WAIT, || async {
        Some(store.case_detail(&cref(&reference)).await.unwrap()).filter(|d| d.message_list.len() == 2)
    })
    .await;
    daemon.stop().await;
    let kept = &detail.message_list[1];
    assert_eq!((kept.kind.as_str(), kept.note.as_str()), ("set-aside", "calendar-invitation"));
    assert_eq!(store.count(Table::Cases).await.unwrap(), 1, "no case for an invitation");
    assert_eq!(store.count(Table::Outbox).await.unwrap(), 1, "only Alice's acknowledgement");
    assert!(inbox_of(&w, &mediator).await.is_empty(), "invitations are never answered");
    assert_eq!(folder_len(&w, PROCESSED).await, 2, "the complaint and the invitation kept with it");
}

async fn a_reference_in_the_text_threads_only_for_a_known_sender(db: Db) {
    let w = World::new(db).await;
    let daemon = w.start();
    let alice = address("alice");
    let (reference, _) = acknowledged_complaint(&w, "Alice de Vries", &alice).await;
    let store = w.store().await;
    // A new mail, no reply headers, the reference in the text only.
    let later = |from: &str, name: &str, text: &str| {
        format!(
            "From: {name} <{from}>\r\nTo: {}\r\nSubject: Nog steeds niets gehoord\r\nDate: Thu, 26 Nov 2026 09:00:00 +0100\r\nMessage-ID: <{}>\r\nMIME-Version: 1.0\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\r\nGeachte heer, mevrouw,\r\n\r\n{text}\r\n\r\nMet vriendelijke groet,\r\n{name}\r\n",
            w.complaints,
            message_id()
        )
    };
    w.send(&alice, later(&alice, "Alice de Vries", &format!("Over mijn klacht met kenmerk {reference}: er is nog niets gebeurd.")).as_bytes()).await;
    eventually("threaded into the case", WAIT, || async { (store.case_detail(&cref(&reference)).await.unwrap().message_list.len() == 2).then_some(()) }).await;
    assert_eq!(store.count(Table::Cases).await.unwrap(), 1, "no second case");

    // A stranger who names the case gets a case of their own, which notes the reference; the
    // first case gets nothing of theirs. A reference that does not exist is ignored.
    let bob = address("bob");
    w.send(&bob, later(&bob, "Bob Bakker", &format!("Ik klaag net als bij {reference}.")).as_bytes()).await;
    let carol = address("carol");
    w.send(&carol, later(&carol, "Carol Smit", "Over mijn klacht KL-2026-9999.").as_bytes()).await;
    for who in [&bob, &carol] {
        eventually("the stranger acknowledged", WAIT, || async { (inbox_of(&w, who).await.len() == 1).then_some(()) }).await;
    }
    daemon.stop().await;
    let cases = store.list_cases().await.unwrap();
    assert_eq!(cases.len(), 3);
    let bobs = cases.iter().find(|c| c.complainant_email.as_deref() == Some(bob.as_str())).unwrap();
    let history = store.case_detail(&bobs.reference).await.unwrap().history;
    assert!(history.iter().any(|e| e.action == event("mentions-case") && e.detail.contains(&reference)), "{history:?}");
    assert_eq!(store.case_detail(&cref(&reference)).await.unwrap().message_list.len(), 2, "nothing of Bob in Alice's case");
    let ack = String::from_utf8_lossy(&inbox_of(&w, &bob).await[0]).into_owned();
    assert!(!ack.contains(&reference) && !ack.contains("Alice"), "Bob learns nothing of Alice's case");
    assert_eq!(inbox_of(&w, &alice).await.len(), 1, "Alice's follow-up was not answered");
}

async fn legacy_8bit_text_keeps_its_letters(db: Db) {
    let w = World::new(db).await;
    let piet = address("piet");
    // An old client: 8-bit ISO-8859-1 text and no charset parameter.
    let mut raw = format!(
        "From: Piet Jansen <{piet}>\r\nTo: {}\r\nSubject: Klacht\r\nDate: Thu, 26 Nov 2026 09:00:00 +0100\r\nMessage-ID: <{}>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain\r\nContent-Transfer-Encoding: 8bit\r\nX-Mailer: Microsoft Outlook Express 6.00.2900.5512\r\n\r\n",
        w.complaints,
        message_id()
    )
    .into_bytes();
    raw.extend_from_slice(b"Mijn uitkering is \xe9\xe9n maand te laat. Caf\xe9, na\xefef, \x80 12,50.\r\n");
    w.send(&piet, &raw).await;
    let daemon = w.start();
    let store = w.store().await;
    let case = eventually("registered", WAIT, || async { store.list_cases().await.unwrap().into_iter().next() }).await;
    daemon.stop().await;
    let detail = store.case_detail(&case.reference).await.unwrap();
    assert_eq!(detail.description, "Mijn uitkering is één maand te laat. Café, naïef, € 12,50.");
    let stored = store.raw_messages(&case.reference).await.unwrap();
    assert!(stored[0].windows(4).any(|w| w == b"\xe9\xe9n "), "the raw mail is kept as it came");
}

async fn hidden_html_leaves_no_trace_in_the_description(db: Db) {
    let w = World::new(db).await;
    let noor = address("noor");
    // Written in a newsletter-style editor: a hidden preheader full of invisible fillers.
    // Lines stay under SMTP's 998 octets, as the editors write them (Postfix would fold them).
    let filler = format!("{}\r\n", "&#847;&zwnj;&nbsp;&#8199;&#65279;".repeat(10)).repeat(12);
    let raw = format!(
        "From: Noor Bakker <{noor}>\r\nTo: {}\r\nSubject: Klacht over de afhandeling\r\nDate: Thu, 26 Nov 2026 09:00:00 +0100\r\nMessage-ID: <{}>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/html; charset=utf-8\r\n\r\n<!DOCTYPE html><html><head><style>.preheader{{display:none!important}}</style></head><body>\r\n\
         <div class=\"preheader\" style=\"display:none;font-size:1px;color:#ffffff;line-height:1px;max-height:0px;max-width:0px;opacity:0;overflow:hidden;mso-hide:all;\">Mijn klacht {filler}</div>\r\n\
         <table role=\"presentation\" width=\"100%\"><tr><td style=\"padding: 20px\">\r\n      <p>Geachte heer, mevrouw,</p>\r\n      <p>Mijn   aanvraag is   nooit\u{200b} behandeld.</p>\r\n\
         </td></tr></table>{filler}</body></html>\r\n",
        w.complaints,
        message_id()
    );
    w.send(&noor, raw.as_bytes()).await;
    let daemon = w.start();
    let store = w.store().await;
    let case = eventually("registered", WAIT, || async { store.list_cases().await.unwrap().into_iter().next() }).await;
    daemon.stop().await;
    let description = store.case_detail(&case.reference).await.unwrap().description;
    let lines: Vec<&str> = description.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(lines, ["Geachte heer, mevrouw,", "Mijn aanvraag is nooit behandeld."], "{description:?}");
    assert!(!description.chars().any(|c| matches!(c, '\u{a0}' | '\u{34f}' | '\u{200b}'..='\u{200f}' | '\u{2007}' | '\u{feff}')), "{description:?}");
}

async fn signatures_are_kept_and_forwarded_complaints_name_the_original_sender(db: Db) {
    let (w, cfg) = setup(db).await;
    let to = &w.complaints;
    // An S/MIME-signed complaint as Outlook sends it: the text and the signature.
    let kees = address("kees");
    let signed = format!(
        "From: Kees de Boer <{kees}>\r\nTo: {to}\r\nSubject: Klacht\r\nDate: Thu, 26 Nov 2026 09:00:00 +0100\r\nMessage-ID: <{}>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/signed; protocol=\"application/x-pkcs7-signature\"; micalg=sha-256; boundary=\"----=_NextPart_000_0011_01DB3F\"\r\n\r\n\
         This is a multipart message in MIME format.\r\n\r\n------=_NextPart_000_0011_01DB3F\r\nContent-Type: text/plain; charset=\"us-ascii\"\r\nContent-Transfer-Encoding: 7bit\r\n\r\n\
         Mijn dossier is zoekgeraakt.\r\n\r\n------=_NextPart_000_0011_01DB3F\r\nContent-Type: application/pkcs7-signature; name=\"smime.p7s\"\r\n\
         Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"smime.p7s\"\r\n\r\nMIAGCSqGSIb3DQEHAqCAMIACAQExDzANBglghkgBZQMEAgEFADCABgkqhkiG9w0BBwEAAKCCA\r\n\r\n\
         ------=_NextPart_000_0011_01DB3F--\r\n",
        message_id()
    );
    w.send(&kees, signed.as_bytes()).await;
    // A colleague forwards a complaint as an attachment (Outlook "Forward as attachment").
    let colleague = address("collega");
    let petra = address("petra");
    let forwarded = format!(
        "From: Collega Balie <{colleague}>\r\nTo: {to}\r\nSubject: FW: Klacht over mijn traject\r\nDate: Thu, 26 Nov 2026 10:00:00 +0100\r\nMessage-ID: <{}>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"_004_fw_\"\r\n\r\n--_004_fw_\r\nContent-Type: text/plain; charset=\"utf-8\"\r\n\r\nDeze klacht kwam bij de balie binnen.\r\n\r\n\
         --_004_fw_\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment; filename=\"Klacht over mijn traject.eml\"\r\n\r\n\
         From: Petra Jansen <{petra}>\r\nTo: info@dienst.test\r\nSubject: Klacht over mijn traject\r\nDate: Mon, 23 Nov 2026 09:14:00 +0100\r\nMessage-ID: <{}>\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nIk ben het niet eens met de beslissing.\r\n\r\n--_004_fw_--\r\n",
        message_id(),
        message_id()
    );
    w.send(&colleague, forwarded.as_bytes()).await;
    let daemon = w.start();
    let store = w.store().await;
    let cases = eventually("two cases", WAIT, || async { Some(store.list_cases().await.unwrap()).filter(|c| c.len() == 2) }).await;
    eventually("both acknowledged", WAIT, || async { (inbox_of(&w, &kees).await.len() == 1 && inbox_of(&w, &colleague).await.len() == 1).then_some(()) }).await;
    daemon.stop().await;

    let signed_case = cases.iter().find(|c| c.complainant_email.as_deref() == Some(kees.as_str())).unwrap();
    assert_eq!(signed_case.attachments, 0, "a signature is no document of the complaint");
    let detail = store.case_detail(&signed_case.reference).await.unwrap();
    assert_eq!(detail.attachment_list.len(), 1, "but it is kept");
    assert_eq!((detail.attachment_list[0].filename.as_str(), detail.attachment_list[0].role.as_str()), ("smime.p7s", "signature"));
    let (code, shown, err) = klachtd(&cfg, &["cases", "show", &signed_case.reference.to_string()]);
    assert_eq!(code, 0, "{err}");
    assert!(shown.contains("smime.p7s (application/pkcs7-signature") && shown.contains("[signature]"), "{shown}");

    let fw = cases.iter().find(|c| c.complainant_email.as_deref() == Some(colleague.as_str())).unwrap();
    let detail = store.case_detail(&fw.reference).await.unwrap();
    assert_eq!(detail.forwarded_sender.as_deref(), Some(format!("Petra Jansen <{petra}>").as_str()));
    assert_eq!(detail.forwarded_date.as_deref(), Some("2026-11-23T09:14:00+01:00"));
    let (code, shown, err) = klachtd(&cfg, &["cases", "show", &fw.reference.to_string()]);
    assert_eq!(code, 0, "{err}");
    assert!(shown.contains(&format!("Forwarded:      originally from Petra Jansen <{petra}>, sent 2026-11-23T09:14:00+01:00")), "{shown}");
    assert!(inbox_of(&w, &petra).await.is_empty(), "the acknowledgement goes to the one who wrote to us");
    assert_eq!(folder_len(&w, PROCESSED).await, 2);
}

/// R9: the original sender of a forwarded complaint is personal data like the complainant's,
/// and quarantined mail is mail outside any case.
async fn retention_removes_the_original_sender_and_quarantined_mail(db: Db) {
    let w = World::new(db).await;
    let store = w.store().await;
    let now = chrono::Utc::now().timestamp();
    let old = now - 10 * 86_400;
    let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 2).unwrap();
    let forwarded = klachtd::domain::forwarded::Forwarded {
        name: Some("Petra Jansen".into()),
        address: Some("petra@example.test".into()),
        date: Some("2026-11-01T09:00:00+01:00".into()),
    };
    let case =
        klachtd::store::NewCase { forwarded: Some(forwarded), ..hand_made_case(Some("Collega"), "collega@example.test", "Doorgestuurd.", day, [day; 3]) };
    let reference = register_by_hand(store, &case).await;
    assert_eq!(store.case_detail(&reference).await.unwrap().forwarded_sender.as_deref(), Some("Petra Jansen <petra@example.test>"));
    for (key, at) in [("oud", old), ("recent", now - 3600)] {
        let held = klachtd::store::MessageRecord {
            kind: klachtd::domain::history::MessageKind::Quarantined,
            note: "flagged as spam by spamassassin (intake.spam)".into(),
            ..hand_made_message(&unique(key), Some("x@example.test"), "quarantined", "Klik hier.", at)
        };
        assert!(store.record_message(None, &held, &[]).await.unwrap());
    }
    assert_eq!(store.quarantined_mails().await.unwrap().len(), 2);
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&w.config.database.url).await.unwrap();
    sqlx::query("UPDATE cases SET status = 'closed', closed_at = $1 WHERE reference = $2").bind(old).bind(&reference).execute(&pool).await.unwrap();
    pool.close().await;

    assert_eq!(klachtd::app::retention::run_retention(store, &w.config.storage.data_dir, 5).await.unwrap(), 1);
    let detail = store.case_detail(&reference).await.unwrap();
    assert_eq!((detail.forwarded_sender, detail.forwarded_date), (None, None));
    let left = store.quarantined_mails().await.unwrap();
    assert_eq!(left.len(), 1, "only the recent quarantined mail is left");
    assert_eq!(left[0].received_at, now - 3600);
}
