//! The families of issue 21 end to end: never silence a person, never answer a machine, and
//! send the letters where a web form's person asked. Each raw mail is written as the client,
//! form plugin or server named produces it.

use super::*;

on_both_databases!(never_silence_a_person_nor_answer_a_machine, a_reference_written_by_hand_threads_only_for_a_known_sender);

fn mail(from: &str, name: &str, to: &str, extra: &str, subject: &str, content_type: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {name} <{from}>\r\nTo: {to}\r\nSubject: {subject}\r\nDate: Tue, 24 Nov 2026 10:00:00 +0100\r\nMessage-ID: <{}>\r\n{extra}MIME-Version: 1.0\r\nContent-Type: {content_type}\r\n\r\n{body}\r\n",
        message_id()
    )
    .into_bytes()
}

async fn never_silence_a_person_nor_answer_a_machine(db: Db) {
    let w = World::new(db).await;
    let to = &w.complaints.clone();
    let [anna, wordpress, kees, carla, dirk, eva, jan, arf, shop, noreply] =
        ["anna", "wordpress", "kees", "carla", "dirk", "eva", "jan", "arf-feedback", "winkel", "noreply"].map(address);
    let plain = "text/plain; charset=utf-8";
    // A Proton Mail user: Feedback-ID on every mail they send.
    let proton = mail(
        &anna,
        "Anna Visser",
        to,
        "Feedback-ID: 1a2b3c4d5e6f7a8b:0f1e2d3c4b5a6978:pm:ProtonMail\r\nX-Pm-Origin: internal\r\n",
        "Klacht over mijn uitkering",
        plain,
        "Mijn uitkering is al twee maanden niet betaald en niemand belt terug.",
    );
    // Contact Form 7: From the site's WordPress address with the visitor's name, Reply-To the visitor.
    let form = mail(
        &wordpress,
        "Kees de Boer",
        to,
        &format!("Reply-To: {kees}\r\nX-Mailer: PHPMailer 6.9.1 (https://github.com/PHPMailer/PHPMailer)\r\n"),
        "Gemeente Voorbeeld \"Klacht over het loket\"",
        plain,
        &format!("Van: Kees de Boer <{kees}>\r\nOnderwerp: Klacht over het loket\r\n\r\nBerichttekst:\r\nIk ben drie keer voor een dicht loket gekomen.\r\n\r\n-- \r\nDeze e-mail is verzonden vanaf een contactformulier op Gemeente Voorbeeld"),
    );
    // Outlook forwarding a meeting request, with the person's own account above it.
    let invitation = mail(
        &carla,
        "Carla Smit",
        to,
        "",
        "FW: Gesprek over uw traject",
        "multipart/alternative; boundary=\"A\"",
        &format!(
            "--A\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nDit gesprek is al vier keer verzet zonder dat iemand mij belde. Ik dien een klacht in.\r\n\r\n-----Original Appointment-----\r\nFrom: Planning <planning@coach.example.test>\r\n\
             Sent: maandag 23 november 2026 09:00\r\nTo: Carla Smit\r\nSubject: Gesprek over uw traject\r\n\r\n--A\r\nContent-Type: text/calendar; charset=utf-8; method=REQUEST\r\n\r\n\
             BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nORGANIZER;CN=Planning:mailto:planning@coach.example.test\r\nATTENDEE;CN=Carla Smit:mailto:{carla}\r\nDTSTART:20261201T090000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n--A--"
        ),
    );
    // A bounce the person got, forwarded as an attachment with their question.
    let bounce = mail(
        &dirk,
        "Dirk Jansen",
        to,
        "",
        "Fwd: Undelivered Mail Returned to Sender",
        "multipart/mixed; boundary=F",
        "--F\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nMijn bezwaar aan mijn consulent kwam niet aan, zijn adres bestaat niet meer. Nu is de termijn verstreken.\r\n\
         --F\r\nContent-Type: message/rfc822\r\n\r\nFrom: MAILER-DAEMON@mx.example.test\r\nReturn-Path: <>\r\nSubject: Undelivered Mail Returned to Sender\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=R\r\n\r\n--R\r\nContent-Type: text/plain\r\n\r\nThis is the mail system.\r\n\
         --R\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.test\r\n\r\nAction: failed\r\nStatus: 5.1.1\r\n--R--\r\n--F--",
    );
    // An old client that says UTF-8 and writes Latin-1, forwarding in Apple Mail's quoted
    // style under a subject the sender rewrote.
    let mut latin1 = mail(&eva, "Eva de Wit", to, "Content-Transfer-Encoding: 8bit\r\n", "Klacht namens mijn moeder", plain, "");
    latin1.truncate(latin1.len() - 2);
    latin1.extend_from_slice(b"Mijn moeder wacht al \xe9\xe9n jaar op een antwoord.\r\n\r\n> Begin forwarded message:\r\n> \r\n> From: Truus de Wit <truus@example.test>\r\n> Subject: Aanvraag\r\n> Date: 2 November 2025 at 10:00:00 CET\r\n> To: info@dienst.test\r\n> \r\n> Mijn aanvraag.\r\n");
    // Machines: an Exchange 2007 out-of-office, an abuse report as multipart/mixed; a webshop's
    // notice and a no-reply notice from ordinary addresses.
    let oof = mail(
        &jan,
        "Jan de Vries",
        to,
        "X-Auto-Response-Suppress: All\r\nThread-Topic: Klacht\r\n",
        "Out of Office AutoReply: Klacht",
        plain,
        "Ik ben tot 1 december afwezig.",
    );
    let report = mail(
        &arf,
        "Feedback Loop",
        to,
        "",
        "Email Feedback Report for IP 192.0.2.1",
        "multipart/mixed; boundary=A",
        "--A\r\nContent-Type: text/plain\r\n\r\nThis is an email abuse report.\r\n--A\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\nUser-Agent: Feedback/1.0\r\nVersion: 1\r\n--A--",
    );
    let newsletter = mail(
        &shop,
        "Webwinkel",
        to,
        "",
        "Uw bestelling is verzonden",
        "text/html; charset=utf-8",
        "<table><tr><td><p>Uw bestelling 12345 is onderweg.</p><p><a href=\"https://winkel.example.test/u?x=1\">Afmelden</a></p></td></tr></table>",
    );
    let notice = mail(
        &noreply,
        "Huisartsenpraktijk",
        to,
        "",
        "Herinnering afspraak",
        plain,
        "Uw afspraak is morgen om 10:00.\r\n\r\nDit is een automatisch gegenereerd bericht. U kunt niet reageren op deze e-mail.",
    );
    for (from, raw) in [
        (&anna, proton),
        (&wordpress, form),
        (&carla, invitation),
        (&dirk, bounce),
        (&eva, latin1),
        (&jan, oof),
        (&arf, report),
        (&shop, newsletter),
        (&noreply, notice),
    ] {
        w.send(from, &raw).await;
    }

    let daemon = w.start();
    for who in [&anna, &kees, &carla, &dirk, &eva] {
        eventually("the person acknowledged", WAIT, || async { (inbox_of(&w, who).await.len() == 1).then_some(()) }).await;
    }
    eventually("two machines set aside", WAIT, || async { (folder_len(&w, IGNORED).await == 2).then_some(()) }).await;
    eventually("two unclear mails held", WAIT, || async { (folder_len(&w, QUARANTINE).await == 2).then_some(()) }).await;
    daemon.stop().await;

    let store = w.store().await;
    assert_eq!(store.count(Table::Cases).await.unwrap(), 5, "every person has a case");
    assert_eq!(store.count(Table::Outbox).await.unwrap(), 5, "and only they got an acknowledgement");
    for machine in [&wordpress, &jan, &arf, &shop, &noreply] {
        assert!(inbox_of(&w, machine).await.is_empty(), "nothing went to {machine}");
    }
    let cases = store.list_cases().await.unwrap();
    let form_case = cases.iter().find(|c| c.complainant_email.as_deref() == Some(kees.as_str())).expect("the form's case is the visitor's");
    assert_eq!((form_case.complainant_name.as_deref(), form_case.reply_to_email.as_deref()), (Some("Kees de Boer"), None));
    let eva_case = cases.iter().find(|c| c.complainant_email.as_deref() == Some(eva.as_str())).unwrap();
    let detail = store.case_detail(&eva_case.reference).await.unwrap();
    assert!(detail.description.starts_with("Mijn moeder wacht al één jaar op een antwoord."), "{:?}", detail.description);
    assert_eq!(detail.forwarded_sender.as_deref(), Some("Truus de Wit <truus@example.test>"));

    // What waits for a person says why, readably.
    let held = store.quarantined_mails().await.unwrap();
    assert_eq!(held.len(), 2);
    for m in &held {
        assert!(m.reason.starts_with("unclear whether a person wrote this"), "{}", m.reason);
    }
    let reason_of = |from: &str| held.iter().find(|m| m.from_address.as_deref() == Some(from)).map(|m| m.reason.clone()).unwrap();
    assert!(reason_of(&shop).contains("newsletter's layout"), "{}", reason_of(&shop));
    assert!(reason_of(&noreply).contains("no-reply address") && reason_of(&noreply).contains("notification's wording"), "{}", reason_of(&noreply));
}

async fn a_reference_written_by_hand_threads_only_for_a_known_sender(db: Db) {
    let w = World::new(db).await;
    let daemon = w.start();
    let alice = address("alice");
    let (reference, _) = acknowledged_complaint(&w, "Alice de Vries", &alice).await;
    let by_hand = reference.replace('-', " ");
    let store = w.store().await;
    let to = &w.complaints.clone();
    let plain = "text/plain; charset=utf-8";
    w.send(&alice, &mail(&alice, "Alice de Vries", to, "", &format!("Vraag over {by_hand}"), plain, "Wanneer hoor ik iets?")).await;
    eventually("threaded into the case", WAIT, || async { (store.case_detail(&cref(&reference)).await.unwrap().message_list.len() == 2).then_some(()) }).await;
    // A stranger with the same subject gets a case of their own that notes the reference.
    let bob = address("bob");
    w.send(&bob, &mail(&bob, "Bob Bakker", to, "", &format!("Vraag over {by_hand}"), plain, "Ik heb dezelfde klacht.")).await;
    eventually("the stranger acknowledged", WAIT, || async { (inbox_of(&w, &bob).await.len() == 1).then_some(()) }).await;
    daemon.stop().await;
    assert_eq!(store.case_detail(&cref(&reference)).await.unwrap().message_list.len(), 2, "nothing of Bob in Alice's case");
    let bobs = store.list_cases().await.unwrap().into_iter().find(|c| c.complainant_email.as_deref() == Some(bob.as_str())).unwrap();
    let history = store.case_detail(&bobs.reference).await.unwrap().history;
    assert!(history.iter().any(|e| e.action == event("mentions-case") && e.detail.contains(&reference)), "{history:?}");
}
