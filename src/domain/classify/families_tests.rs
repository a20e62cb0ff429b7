//! The families of the third and fourth sets of real-world mail (issue 21), each as a faithful
//! raw mail of the client, service or system that sends it: never silence a person, never
//! answer a machine.

use super::*;
use crate::domain::inbound::parse;

const OWN: &str = "klachten@dienst.nl";

fn policy() -> SpamPolicy {
    SpamPolicy { trusted: vec![SpamFilter::SpamAssassin, SpamFilter::Rspamd, SpamFilter::Microsoft], microsoft_min_scl: 5 }
}

fn of(raw: &str) -> Classification<u32> {
    classify(&parse(raw.as_bytes()).unwrap(), &[OWN.to_string()], None, Some(&policy()))
}

fn unclear(raw: &str) -> Option<Signals> {
    match of(raw) {
        Classification::Quarantine(QuarantineReason::Unclear { reasons }) => Some(reasons),
        _ => None,
    }
}

fn automated(raw: &str) -> Option<AutoReason> {
    match of(raw) {
        Classification::Automated { reason, .. } => Some(reason),
        _ => None,
    }
}

/// A mail with the given From, extra headers, subject and plain text body.
fn mail(from: &str, extra: &str, subject: &str, body: &str) -> String {
    format!(
        "From: {from}\r\nTo: klachten@dienst.nl\r\nSubject: {subject}\r\nDate: Tue, 24 Nov 2026 10:00:00 +0100\r\nMessage-ID: <m1@example.nl>\r\n{extra}MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
}

const COMPLAINT: &str =
    "Geachte heer, mevrouw,\r\n\r\nMijn uitkering is al twee maanden niet betaald en niemand belt mij terug.\r\n\r\nMet vriendelijke groet,\r\nAnna Visser";

#[test]
fn privacy_providers_feedback_id_is_no_machine() {
    // Proton Mail and Fastmail stamp every user's mail with a Feedback-ID.
    let proton = mail(
        "Anna Visser <anna.visser@proton.me>",
        "Feedback-ID: 1a2b3c4d5e6f7a8b:0f1e2d3c4b5a6978:pm:ProtonMail\r\nX-Pm-Spamscore: 0\r\nX-Pm-Origin: internal\r\nX-Pm-Content-Encryption: end-to-end\r\n",
        "Klacht over mijn uitkering",
        COMPLAINT,
    );
    assert_eq!(of(&proton), Classification::NewComplaint);
    let fastmail = mail(
        "Piet Bakker <piet@fastmail.com>",
        "Feedback-ID: i3c9f4e1b:fm1\r\nX-ME-Sender: <xms:AbCdEfGh>\r\nX-ME-Proxy: <xmx:AbCdEfGh>\r\nUser-Agent: Cyrus-JMAP/3.11.0\r\n",
        "Klacht",
        COMPLAINT,
    );
    assert_eq!(of(&fastmail), Classification::NewComplaint);
}

/// Contact Form 7's default mail: From the site's WordPress address with the visitor's name,
/// Reply-To the visitor.
fn contact_form_7(reply_to: &str) -> String {
    format!(
        "From: Anna Visser <wordpress@gemeente-voorbeeld.nl>\r\nTo: klachten@dienst.nl\r\nSubject: Gemeente Voorbeeld \"Klacht over afvalinzameling\"\r\nDate: Tue, 24 Nov 2026 10:00:00 +0000\r\n\
         Message-ID: <Xk3ZsT9qL2@gemeente-voorbeeld.nl>\r\nX-Mailer: PHPMailer 6.9.1 (https://github.com/PHPMailer/PHPMailer)\r\n{reply_to}MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n\
         Van: Anna Visser <anna.visser@example.nl>\r\nOnderwerp: Klacht over afvalinzameling\r\n\r\nBerichttekst:\r\nDe container in onze straat is al drie weken niet geleegd.\r\n\r\n-- \r\n\
         Deze e-mail is verzonden vanaf een contactformulier op Gemeente Voorbeeld (https://gemeente-voorbeeld.nl)\r\n"
    )
}

#[test]
fn web_forms_are_the_persons_complaint_and_letters_go_to_them() {
    let cf7 = parse(contact_form_7("Reply-To: anna.visser@example.nl\r\n").as_bytes()).unwrap();
    assert_eq!(classify::<u32>(&cf7, &[OWN.to_string()], None, Some(&policy())), Classification::NewComplaint);
    let c = correspondent(&cf7, &[OWN.to_string()]).unwrap();
    assert_eq!((c.person.name.as_deref(), c.person.address.as_str(), c.via_form), (Some("Anna Visser"), "anna.visser@example.nl", true));
    // Without the visitor's address the form's mail waits for a person: never silenced,
    // never answered to the website.
    let reasons = unclear(&contact_form_7("")).expect("held for a person");
    assert!(reasons.contains(WeakSignal::FormSender), "{reasons:?}");

    // WPForms and Gravity Forms from a no-reply address; Drupal's webform from the site address.
    let wpforms = mail(
        "Gemeente Voorbeeld <noreply@gemeente-voorbeeld.nl>",
        "Reply-To: \"Kees de Boer\" <kees.deboer@example.nl>\r\nX-Mailer: WPForms\r\n",
        "Nieuwe invoer: Klachtenformulier",
        "Naam\r\nKees de Boer\r\n\r\nE-mail\r\nkees.deboer@example.nl\r\n\r\nUw klacht\r\nIk ben drie keer voor niets naar het loket gekomen.",
    );
    assert_eq!(of(&wpforms), Classification::NewComplaint);
    let drupal = mail(
        "Website <website@gemeente-voorbeeld.nl>",
        "Reply-To: kees.deboer@example.nl\r\nX-Mailer: Drupal\r\n",
        "Formulier inzending: Klacht",
        "Naam: Kees de Boer\r\nKlacht: het loket was dicht.",
    );
    assert_eq!(of(&drupal), Classification::NewComplaint);
    // A form script on a web server: www-data, a library's mailer, a no-reply envelope.
    let script = mail(
        "www-data <www-data@gemeente-voorbeeld.nl>",
        "Reply-To: kees.deboer@example.nl\r\nX-Mailer: MIME::Lite 3.033\r\nReturn-Path: <noreply@gemeente-voorbeeld.nl>\r\n",
        "Klachtformulier",
        "Naam: Kees\r\nKlacht: het loket was dicht.",
    );
    assert_eq!(of(&script), Classification::NewComplaint);
    let c = correspondent(&parse(drupal.as_bytes()).unwrap(), &[]).unwrap();
    assert_eq!((c.person.name, c.person.address.as_str()), (None, "kees.deboer@example.nl"), "a machine's name is no complainant's");

    // Microsoft Forms through Power Automate, from the flow's address and with its headers.
    let flow = mail(
        "Microsoft Power Automate <flow-noreply@microsoft.com>",
        "Reply-To: Kees de Boer <kees.deboer@example.nl>\r\nx-ms-mail-application: Microsoft Power Automate; User-Agent: azure-logic-apps/1.0 (workflow 1f2e; version 0858) microsoft-flow/1.0\r\nX-MS-Exchange-Generated-Message-Source: Microsoft Flow\r\n",
        "Nieuwe klacht via het formulier",
        "Naam: Kees de Boer\r\nKlacht: Mijn aanvraag is kwijt.",
    );
    assert_eq!(of(&flow), Classification::NewComplaint);
    assert_eq!(correspondent(&parse(flow.as_bytes()).unwrap(), &[]).unwrap().person.address, "kees.deboer@example.nl");

    // Our own website's form writing as the complaints address on a person's behalf.
    let own_form =
        mail("Klachten <klachten@dienst.nl>", "Reply-To: kees.deboer@example.nl\r\n", "Klachtformulier", "Naam: Kees de Boer\r\nKlacht: te lang gewacht.");
    assert_eq!(of(&own_form), Classification::NewComplaint);
    // A handler writing from the shared mailbox with their own Reply-To is our own mail.
    let handler = mail("Klachten <klachten@dienst.nl>", "Reply-To: p.jansen@dienst.nl\r\n", "Uw klacht", "Ik bel u morgen.");
    assert_eq!(of(&handler), Classification::OwnMail { case: None });

    // A newsletter from no-reply with the editors as Reply-To stays list mail; a role address as
    // Reply-To is no person; an auto-reply with a Reply-To is still an auto-reply.
    let newsletter = mail(
        "Nieuwsbrief <noreply@stichting.nl>",
        "Reply-To: redactie@stichting.nl\r\nList-Id: <nieuws.stichting.nl>\r\n",
        "Nieuwsbrief november",
        "Het nieuws.",
    );
    assert_eq!(automated(&newsletter), Some(AutoReason::MailingList));
    let role = mail("Bank <noreply@bank-voorbeeld.nl>", "Reply-To: klantenservice@bank-voorbeeld.nl\r\n", "Uw afschrift", "Uw afschrift staat klaar.");
    assert!(unclear(&role).is_some_and(|r| r.contains(WeakSignal::NoReplySender)));
    let oof =
        mail("Jan <noreply@example.nl>", "Reply-To: jan@example.nl\r\nAuto-Submitted: auto-replied\r\n", "Automatisch antwoord: Klacht", "Ik ben afwezig.");
    assert_eq!(automated(&oof), Some(AutoReason::AutoSubmitted));
    // A form marked auto-generated with a person in Reply-To: the signals disagree.
    let marked = mail(
        "Website <website@gemeente-voorbeeld.nl>",
        "Reply-To: kees.deboer@example.nl\r\nAuto-Submitted: auto-generated\r\n",
        "Formulier",
        "Naam: Kees\r\nKlacht: x",
    );
    assert!(unclear(&marked).is_some_and(|r| r.contains(WeakSignal::Disagreeing)));
}

#[test]
fn person_to_person_reply_to_is_kept_but_not_written_to() {
    let m = parse(mail("Anna Visser <anna@example.nl>", "Reply-To: Mr. De Wit <dewit@advocaat.nl>\r\n", "Klacht", COMPLAINT).as_bytes()).unwrap();
    let c = correspondent(&m, &[]).unwrap();
    assert_eq!((c.person.address.as_str(), c.reply_to.map(|r| r.address), c.via_form), ("anna@example.nl", Some("dewit@advocaat.nl".to_string()), false));
}

/// A person forwards an invitation they received, as Outlook forwards a meeting request.
fn forwarded_invitation(own_text: &str) -> String {
    format!(
        "From: Anna Visser <anna@example.nl>\r\nTo: klachten@dienst.nl\r\nSubject: FW: Gesprek over uw re-integratie\r\nDate: Tue, 24 Nov 2026 10:00:00 +0100\r\n\
         Message-ID: <fw1@example.nl>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"A\"\r\n\r\n--A\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         {own_text}\r\n\r\n-----Original Appointment-----\r\nFrom: Coach Bureau <planning@coachbureau.nl>\r\nSent: maandag 23 november 2026 09:00\r\nTo: Anna Visser\r\nSubject: Gesprek over uw re-integratie\r\n\r\nGraag tot dan.\r\n\
         --A\r\nContent-Type: text/calendar; charset=utf-8; method=REQUEST\r\n\r\nBEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nORGANIZER;CN=Coach Bureau:mailto:planning@coachbureau.nl\r\n\
         ATTENDEE;CN=Anna Visser:mailto:anna@example.nl\r\nDTSTART:20261201T090000Z\r\nSUMMARY:Gesprek\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n--A--\r\n"
    )
}

#[test]
fn a_forwarded_invitation_or_bounce_is_the_persons_mail() {
    let with_text = forwarded_invitation("Dit gesprek is al vier keer verzet zonder dat iemand mij belde. Ik dien hierbij een klacht in.");
    assert_eq!(of(&with_text), Classification::NewComplaint);
    // Nothing of their own: a person looks at it; it is not answered, nor silenced.
    assert!(unclear(&forwarded_invitation("")).is_some_and(|r| r.contains(WeakSignal::MachinePart)));
    // An .ics attached beside a person's own account, with nobody named as organiser.
    let ics = "From: Anna Visser <anna@example.nl>\r\nTo: klachten@dienst.nl\r\nSubject: Afspraak niet nagekomen\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n\
        --B\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nIk had deze afspraak en er was niemand aanwezig. Dat is de derde keer.\r\n\
        --B\r\nContent-Type: text/calendar; charset=utf-8; name=afspraak.ics\r\nContent-Disposition: attachment; filename=afspraak.ics\r\n\r\nBEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nDTSTART:20261201T090000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n--B--\r\n";
    assert_eq!(of(ics), Classification::NewComplaint);

    // A bounce forwarded as an attachment: the report is inside the forwarded mail.
    let bounce = "From: Anna Visser <anna@example.nl>\r\nTo: klachten@dienst.nl\r\nSubject: Fwd: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=F\r\n\r\n\
        --F\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nMijn mail aan mijn consulent komt niet aan, zijn adres bestaat niet meer. Hoe kan ik hem bereiken?\r\n\
        --F\r\nContent-Type: message/rfc822\r\n\r\nFrom: MAILER-DAEMON@mx.example.nl\r\nReturn-Path: <>\r\nSubject: Undelivered Mail Returned to Sender\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=R\r\n\r\n\
        --R\r\nContent-Type: text/plain\r\n\r\nI'm sorry to have to inform you...\r\n--R\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.nl\r\n\r\nAction: failed\r\nStatus: 5.1.1\r\n--R--\r\n--F--\r\n";
    assert_eq!(of(bounce), Classification::NewComplaint);
    // Apple Mail forwarding a bounce puts its report part beside the text.
    let beside = "From: Anna Visser <anna@example.nl>\r\nTo: klachten@dienst.nl\r\nSubject: Fwd: Delivery Status Notification (Failure)\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=F\r\n\r\n\
        --F\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nMijn bezwaar is nooit aangekomen, hier is het bewijs. Nu is de termijn verstreken.\r\n\
        --F\r\nContent-Type: message/delivery-status; name=details.txt\r\nContent-Disposition: attachment; filename=details.txt\r\n\r\nReporting-MTA: dns; mx.example.nl\r\n\r\nAction: failed\r\nStatus: 5.1.1\r\n--F--\r\n";
    assert_eq!(of(beside), Classification::NewComplaint);
}

#[test]
fn out_of_office_of_older_servers_is_not_answered() {
    // Exchange 2007: "Out of Office AutoReply:" with X-Auto-Response-Suppress, no Auto-Submitted.
    let exchange = mail(
        "Jan de Vries <j.devries@gemeente.nl>",
        "X-Auto-Response-Suppress: All\r\nThread-Topic: Klacht\r\n",
        "Out of Office AutoReply: Klacht",
        "Ik ben tot 1 december afwezig.",
    );
    assert_eq!(automated(&exchange), Some(AutoReason::VendorAutoReply));
    for subject in ["Automatic reply: Klacht", "Afwezig: Klacht", "Automatisch antwoord: Klacht", "Out of Office: Klacht", "Abwesenheitsnotiz: Klacht"] {
        // The subject alone is weak: held for a person, not answered.
        let m = mail("Jan de Vries <j.devries@gemeente.nl>", "", subject, "Ik ben tot 1 december afwezig.");
        assert!(unclear(&m).is_some_and(|r| r.contains(WeakSignal::AutoReplySubject)), "{subject}");
    }
    // Lotus Notes' template, and iCloud's vacation reply.
    let notes = mail(
        "Jan de Vries/Gemeente@Gemeente <j.devries@gemeente.nl>",
        "X-Mailer: Lotus Notes Release 9.0.1 October 14, 2013\r\nX-MIMETrack: Serialize by Router on srv01/Gemeente\r\n",
        "AUTO: Jan de Vries is out of the office (returning 01-12-2026)",
        "I am out of the office until 01-12-2026.",
    );
    assert_eq!(automated(&notes), Some(AutoReason::VendorAutoReply));
    let icloud = mail("Jan <jan@icloud.com>", "X-Apple-Action: VACATION/1234abcd\r\n", "Re: Klacht", "Ik ben op vakantie.");
    assert_eq!(automated(&icloud), Some(AutoReason::VendorAutoReply));
    // "Auto:" is Dutch for a car; a complaint about one is no auto-reply, even one that says
    // someone was away.
    assert_eq!(of(&mail("Anna <anna@example.nl>", "", "Auto: weggesleept terwijl ik afwezig was", COMPLAINT)), Classification::NewComplaint);
    // A complaint about someone's absence is no auto-reply.
    assert_eq!(of(&mail("Anna <anna@example.nl>", "", "Afwezigheid van mijn coach", COMPLAINT)), Classification::NewComplaint);
}

#[test]
fn challenge_response_checks_are_not_answered() {
    let boxbe = mail(
        "Boxbe <notification@boxbe.com>",
        "",
        "Request to join my Guest List (Action Required)",
        "Jan uses Boxbe to manage email. Please confirm your message.",
    );
    assert_eq!(automated(&boxbe), Some(AutoReason::ChallengeResponse));
    let wording = mail(
        "Jan <jan@example.nl>",
        "",
        "Please confirm your message",
        "Your message is being held until you confirm that you are a human: https://verify.example/abc",
    );
    assert!(unclear(&wording).is_some_and(|r| r.contains(WeakSignal::ChallengeWording)));
}

#[test]
fn a_fax_waits_for_a_person() {
    let fax = "From: Fax Gateway <fax@dienst.nl>\r\nTo: klachten@dienst.nl\r\nSubject: Fax van +31201234567 (2 pagina's)\r\nX-Mailer: HylaFAX\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=X\r\n\r\n\
        --X\r\nContent-Type: text/plain\r\n\r\nU heeft een fax ontvangen.\r\n--X\r\nContent-Type: image/tiff; name=fax.tif\r\nContent-Disposition: attachment; filename=fax.tif\r\nContent-Transfer-Encoding: base64\r\n\r\nSUkqAA==\r\n--X--\r\n";
    assert_eq!(of(fax), Classification::Quarantine(QuarantineReason::Fax));
    // A gateway that sends the PDF alone, as octet-stream, from a fax number.
    let bare = "From: <\"#FAX#*3120123456#\"@gateway.example>\r\nTo: klachten@dienst.nl\r\nSubject: Ontvangen van *3120123456\r\nMIME-Version: 1.0\r\n\
        Content-Type: APPLICATION/OCTET-STREAM; name=\"IMAGE000.PDF\"\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"IMAGE000.PDF\"\r\n\r\nJVBERi0xLjQK\r\n";
    assert_eq!(of(bare), Classification::Quarantine(QuarantineReason::Fax));
}

#[test]
fn newsletters_and_notifications_from_ordinary_addresses_wait_for_a_person() {
    let html = |body: &str| {
        format!(
            "From: Webwinkel Voorbeeld <info@webwinkel-voorbeeld.nl>\r\nTo: klachten@dienst.nl\r\nSubject: Uw bestelling is verzonden\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{body}\r\n"
        )
    };
    let shop = html("<table><tr><td><p>Uw bestelling 12345 is onderweg.</p><p><a href=\"https://webwinkel-voorbeeld.nl/u?x=1\">Afmelden</a></p><img src=\"https://t.webwinkel-voorbeeld.nl/o.gif\" width=\"1\" height=\"1\"></td></tr></table>");
    assert!(unclear(&shop).is_some_and(|r| r.contains(WeakSignal::NewsletterLayout)));
    let notice = mail(
        "Gemeente Voorbeeld <berichten@gemeente-voorbeeld.nl>",
        "",
        "Uw aanvraag is ontvangen",
        "Beste meneer,\r\n\r\nUw aanvraag is ontvangen.\r\n\r\nDit is een automatisch gegenereerd bericht. U kunt niet reageren op deze e-mail.",
    );
    assert!(unclear(&notice).is_some_and(|r| r.contains(WeakSignal::NotificationWording)));
    // The wording quoted in a person's forward is not the person's own text.
    let fwd = mail("Anna <anna@example.nl>", "", "Fwd: Uw aanvraag is ontvangen", "Ik kreeg dit bericht maar daarna hoorde ik niets meer, al zes weken.\r\n\r\n---------- Forwarded message ---------\r\nFrom: Gemeente <berichten@gemeente-voorbeeld.nl>\r\nDate: ma 2 nov 2026\r\nSubject: Uw aanvraag is ontvangen\r\n\r\nDit is een automatisch gegenereerd bericht.");
    assert_eq!(of(&fwd), Classification::NewComplaint);
}

#[test]
fn list_managers_and_abuse_reports_are_machine_mail() {
    let mailman = mail("klachtenforum-request@lists.example.org", "X-List-Administrivia: yes\r\n", "Welcome to the \"Klachtenforum\" mailing list", "Welcome!");
    assert_eq!(automated(&mailman), Some(AutoReason::ListManager));
    assert_eq!(automated(&mail("LISTSERV@LISTSERV.EXAMPLE.EDU", "", "Output of your job", "> SUBSCRIBE")), Some(AutoReason::ListManager));
    assert!(unclear(&mail("klachtenforum-owner@lists.example.org", "", "Bericht voor de moderator", "Een bericht wacht op goedkeuring."))
        .is_some_and(|r| r.contains(WeakSignal::ListRoleSender)));
    // An ARF report as Yahoo sends it, and the same as multipart/mixed.
    let arf = |ct: &str| {
        format!(
            "From: feedback@arf.mail.example.com\r\nTo: klachten@dienst.nl\r\nSubject: Email Feedback Report for IP 192.0.2.1\r\nMIME-Version: 1.0\r\nContent-Type: {ct}; boundary=A\r\n\r\n\
             --A\r\nContent-Type: text/plain\r\n\r\nThis is an email abuse report.\r\n--A\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\nUser-Agent: Yahoo!-Mail-Feedback/1.0\r\nVersion: 1\r\n\r\n--A--\r\n"
        )
    };
    assert_eq!(automated(&arf("multipart/report; report-type=feedback-report")), Some(AutoReason::AbuseReport));
    assert_eq!(automated(&arf("multipart/mixed")), Some(AutoReason::AbuseReport));
}

#[test]
fn no_reply_addresses_in_other_languages() {
    for a in [
        "niet-beantwoorden@belastingdienst.nl",
        "geen-antwoord@gemeente.nl",
        "nietantwoorden@uwv.nl",
        "ne-pas-repondre@impots.gouv.fr",
        "nicht-antworten@example.de",
        "no_reply@example.nl",
        "noreply.kvk@kvk.nl",
    ] {
        assert!(is_system_sender(a), "{a}");
        let m = mail(&format!("Dienst <{a}>"), "", "Bericht", "U heeft een bericht.");
        assert!(automated(&m).is_some() || unclear(&m).is_some_and(|r| r.contains(WeakSignal::NoReplySender)), "{a}");
    }
    // Of a known platform, a no-reply address is strong; of anyone else, weak.
    assert_eq!(
        automated(&mail(
            "Belastingdienst <niet-beantwoorden@belastingdienst.nl>",
            "",
            "Er staat een bericht klaar",
            "Er staat een nieuw bericht voor u klaar."
        )),
        Some(AutoReason::SystemSender)
    );
    assert!(unclear(&mail("Huisarts <noreply@huisarts-voorbeeld.nl>", "", "Herinnering", "Uw afspraak is morgen.")).is_some());
}

#[test]
fn ticket_systems_wait_for_a_person_unless_marked() {
    let jira = mail(
        "Servicedesk (Jira) <jira@bedrijf.atlassian.net>",
        "Auto-Submitted: auto-generated\r\nX-JIRA-FingerPrint: 0123456789abcdef\r\n",
        "[JIRA] (SD-12) Klacht ontvangen",
        "Uw verzoek is ontvangen.",
    );
    assert_eq!(automated(&jira), Some(AutoReason::AutoSubmitted));
    let topdesk =
        mail("Servicedesk Gemeente <servicedesk@gemeente.nl>", "X-Mailer: TOPdesk\r\n", "Uw melding M2611 0123 is aangemaakt", "Uw melding is geregistreerd.");
    assert!(unclear(&topdesk).is_some_and(|r| r.contains(WeakSignal::TicketSystem)));
    let rt = mail(
        "Helpdesk via RT <helpdesk@example.org>",
        "RT-Ticket: example.org #4711\r\nManaged-BY: RT 5.0.5 (http://www.bestpractical.com/rt/)\r\nRT-Originator: agent@example.org\r\n",
        "[example.org #4711] Uw vraag",
        "We kijken ernaar.",
    );
    assert!(unclear(&rt).is_some_and(|r| r.contains(WeakSignal::TicketSystem)));
    let zendesk = mail("Support <support@bedrijf.zendesk.com>", "X-Zendesk-From-Account-Id: 12ab\r\n", "[Bedrijf] Re: klacht", "Bedankt voor uw bericht.");
    assert!(unclear(&zendesk).is_some());
}

#[test]
fn exchange_tnef_meeting_requests_are_invitations() {
    let tnef = "From: Marieke Dekker <m.dekker@advocaat-dekker.nl>\r\nTo: klachten@dienst.nl\r\nSubject: Hoorzitting\r\nContent-Class: urn:content-classes:calendarmessage\r\nX-MS-TNEF-Correlator: <AM0PR07@eurprd07.prod.outlook.com>\r\n\
        MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=T\r\n\r\n--T\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nWhen: 1 december 2026 10:00-11:00.\r\n\
        --T\r\nContent-Type: application/ms-tnef; name=\"winmail.dat\"\r\nContent-Disposition: attachment; filename=\"winmail.dat\"\r\nContent-Transfer-Encoding: base64\r\n\r\neJ8+IhAA\r\n--T--\r\n";
    assert_eq!(of(tnef), Classification::Quarantine(QuarantineReason::Invitation));
    // TNEF without the calendar class is a person's rich-text mail.
    let rich = tnef
        .replace("Content-Class: urn:content-classes:calendarmessage\r\n", "")
        .replace("When: 1 december 2026 10:00-11:00.", "Namens mijn cliente dien ik een klacht in over de gang van zaken.");
    assert_eq!(of(&rich), Classification::NewComplaint);
}

#[test]
fn reasons_are_recorded_and_readable() {
    let reasons: Signals = [WeakSignal::NoReplySender, WeakSignal::NotificationWording].into_iter().collect();
    let why = QuarantineReason::Unclear { reasons };
    assert_eq!(why.as_str(), "unclear");
    assert!(why.describe().contains("no-reply address") && why.describe().contains("notification's wording"), "{}", why.describe());
    assert_eq!(reasons.as_string(), "no-reply-sender,notification-wording");
    assert!(!AutoReason::AbuseReport.describe().is_empty() && !SetAsideReason::Invoice.describe().is_empty());
    // A hint alone holds nothing; two hints, or one signal, do.
    assert!(!Signals::from_iter([WeakSignal::FeedbackId]).holds());
    assert!(Signals::from_iter([WeakSignal::FeedbackId, WeakSignal::ListUnsubscribe]).holds());
    assert!(Signals::from_iter([WeakSignal::NewsletterLayout]).holds());
    // Released by a handler, a held mail is a complaint; in a case's thread, a follow-up.
    let notice = parse(mail("X <noreply@huisarts-voorbeeld.nl>", "", "Herinnering", "Uw afspraak.").as_bytes()).unwrap();
    assert_eq!(classify::<u32>(&notice, &[], None, None), Classification::NewComplaint);
    assert_eq!(classify(&notice, &[], Some(3), Some(&policy())), Classification::FollowUp(3));
}

#[test]
fn a_list_or_group_passing_on_a_persons_mail_does_not_silence_it() {
    // A group address that forwards to the complaints mailbox (Google Groups, Microsoft 365):
    // List-Id and Precedence: list on a person's mail. Held for a person, never silenced.
    let group = mail(
        "Anna Visser <anna@example.nl>",
        "List-Id: <info.gemeente.nl>\r\nPrecedence: list\r\nList-Unsubscribe: <mailto:info+unsubscribe@gemeente.nl>\r\n",
        "Klacht",
        COMPLAINT,
    );
    assert!(unclear(&group).is_some_and(|r| r.contains(WeakSignal::ListHeaders)));
    // With a sign of bulk mail besides, list mail is set aside.
    let newsletter = mail("Nieuwsbrief <nieuwsbrief@stichting.nl>", "List-Id: <nieuws.stichting.nl>\r\n", "November", "Het nieuws.");
    assert_eq!(automated(&newsletter), Some(AutoReason::MailingList));
    // LISTSERV names the list as Sender.
    let listserv = mail("Lon Peters <lpeters@example.com>", "Sender: Regional Group <RRGA-L@LIST.EXAMPLE.ORG>\r\n", "Comments on the release", "My comments.");
    assert!(unclear(&listserv).is_some_and(|r| r.contains(WeakSignal::ListHeaders)));
    // mlmmj's robots are named by a + tag.
    assert_eq!(automated(&mail("hackers+owner@lists.example.org", "", "Post to hackers denied", "Denied.")), Some(AutoReason::ListManager));
}

#[test]
fn system_accounts_missing_senders_and_spam_tags_wait_for_a_person() {
    assert!(unclear(&mail("Cron Daemon <root@db01.example.org>", "", "Cron <oracle@db01> /opt/check.sh", "Regelsets gevonden: 1"))
        .is_some_and(|r| r.contains(WeakSignal::SystemAccountSender)));
    let nobody = "To: klachten@dienst.nl\r\nSubject: Engine updated\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nThe scan engine was updated.\r\n";
    assert!(unclear(nobody).is_some_and(|r| r.contains(WeakSignal::NoSender)));
    let tagged = mail("Prijs <winnaar@loterij.example>", "", "***SPAM*** U heeft gewonnen", "Klik hier.");
    assert!(unclear(&tagged).is_some_and(|r| r.contains(WeakSignal::SpamTag)));
    // A client's Autocrypt setup message to itself.
    assert_eq!(
        automated(&mail("Anna <anna@example.nl>", "Autocrypt-Setup-Message: v1\r\n", "Autocrypt Setup Message", "Setup.")),
        Some(AutoReason::PlatformGenerated)
    );
    // A no-reply Return-Path of a billing system, and Request Tracker's subject tag.
    assert!(unclear(&mail(
        "Gate <team@support.gate.example>",
        "Return-Path: <noreply@bounce.gate.example>\r\n",
        "Ihre Rechnung als PDF",
        "Anbei Ihre Rechnung."
    ))
    .is_some_and(|r| r.contains(WeakSignal::BounceReturnPath)));
    assert!(unclear(&mail("RT <rt@example.org>", "", "[support.example.org #33575] Resolved: uw vraag", "Opgelost."))
        .is_some_and(|r| r.contains(WeakSignal::TicketSystem)));
}

#[test]
fn a_platforms_notification_or_a_disguised_sender_is_no_form() {
    // Gmail telling that someone accepted an invitation names them as Reply-To: no form.
    let gmail =
        mail("Gmail Team <gmail-noreply@google.com>", "Reply-To: x.y@gmail.com\r\n", "Nicolas has accepted your invitation to Gmail", "Nicolas accepted.");
    assert_eq!(automated(&gmail), Some(AutoReason::SystemSender));
    // A display name that is another address in front of a no-reply address.
    let disguised = mail(
        "purchasing@aquilla.example <do-not-reply@ncs.example>",
        "Reply-To: purchase@aquiIla.example\r\n",
        "Urgent Request for Order Quotation",
        "See attached order.",
    );
    assert!(correspondent(&parse(disguised.as_bytes()).unwrap(), &[]).is_some_and(|c| !c.via_form));
    assert!(unclear(&disguised).is_some_and(|r| r.contains(WeakSignal::NoReplySender)));
}

#[test]
fn signing_services_and_the_message_box_send_only_machine_mail() {
    let docusign = mail(
        "Gemeente Voorbeeld via DocuSign <dse_na3@docusign.net>",
        "Reply-To: j.devries@gemeente-voorbeeld.nl\r\n",
        "Onderteken: overeenkomst",
        "Bekijk het document.",
    );
    assert_eq!(automated(&docusign), Some(AutoReason::SystemSender));
    // A look-alike domain is not the service.
    assert_eq!(of(&mail("Jan <jan@notdocusign.net>", "", "Klacht", COMPLAINT)), Classification::NewComplaint);
}

#[test]
fn a_forwarded_newsletter_and_a_bouncy_castle_are_peoples_mail() {
    let fwd = "From: Anna <anna@example.nl>\r\nTo: klachten@dienst.nl\r\nSubject: Fwd: Nieuws van de gemeente\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
        <p>Ik heb mij drie keer afgemeld en krijg deze nieuwsbrief nog steeds, ook na mijn klacht.</p><p>---------- Forwarded message ---------<br>From: Gemeente &lt;nieuws@gemeente.nl&gt;<br>Subject: Nieuws</p>\
        <p>Het nieuws.</p><a href=\"https://gemeente.nl/u\">Afmelden</a>\r\n";
    assert_eq!(of(fwd), Classification::NewComplaint);
    assert_eq!(of(&mail("Verhuur <bouncekasteel@verhuur.nl>", "", "Klacht over de vergunning", COMPLAINT)), Classification::NewComplaint);
    assert!(is_system_sender("bounces-12345@mail.example.com") && is_system_sender("bounce@example.com"));
}

#[test]
fn mail_written_by_a_program_waits_for_a_person() {
    let cdo = mail("Meteo <meteo@regio.example>", "X-Mailer: Microsoft CDO for Windows 2000\r\n", "Weerbericht van 29 november", "Het weerbericht.");
    assert!(unclear(&cdo).is_some_and(|r| r.contains(WeakSignal::ProgramMailer)));
    // A mail client is no program mailer.
    assert_eq!(of(&mail("Jan <jan@example.nl>", "X-Mailer: Microsoft Outlook 16.0\r\n", "Klacht", COMPLAINT)), Classification::NewComplaint);
}
