//! The classes of mail from the second set of real-world mails (issue 11), each as a faithful
//! raw mail of the client or system that sends it.
use super::*;
use crate::domain::inbound::parse;

const OWN: &str = "klachten@dienst.nl";

fn all_filters() -> SpamPolicy {
    SpamPolicy { trusted: vec![SpamFilter::SpamAssassin, SpamFilter::Rspamd, SpamFilter::Microsoft], microsoft_min_scl: 5 }
}

fn of(raw: &str) -> Classification<u32> {
    classify(&parse(raw.as_bytes()).unwrap(), &[OWN.to_string()], None, Some(&all_filters()))
}

fn automated(raw: &str) -> Option<AutoReason> {
    match of(raw) {
        Classification::Automated { reason, .. } => Some(reason),
        _ => None,
    }
}

fn person(from: &str, extra: &str) -> String {
    format!("From: {from}\r\nTo: klachten@dienst.nl\r\nSubject: Klacht\r\nMessage-ID: <p1@example.nl>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0100\r\n{extra}MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nIk ben ontevreden over mijn coach.\r\n")
}

#[test]
fn power_automate_flow_is_platform_mail() {
    // As Exchange Online delivers a Power Automate "send an email" action.
    let flow = "Received: from AM9PR02MB7123.eurprd02.prod.outlook.com (2603:10a6:20b:3c1::9) by DB9PR02MB6554.eurprd02.prod.outlook.com\r\n\
            From: Microsoft Power Automate <flow-noreply@microsoft.com>\r\nTo: klachten@dienst.nl\r\nSubject: Nieuw antwoord op Klachtformulier\r\n\
            Date: Mon, 23 Nov 2026 09:12:44 +0000\r\nMessage-ID: <8f0c1c2e-5b4f-4c57-9d0e-0a4f1c1b7d21@AM9PR02MB7123.eurprd02.prod.outlook.com>\r\n\
            x-ms-mail-application: Microsoft Power Automate; User-Agent: azure-logic-apps/1.0 (workflow afa0fb167803450aa650267e95d43287; version 08586093372199532216) microsoft-flow/1.0\r\n\
            x-ms-mail-operation-type: Send\r\nX-MS-Exchange-Generated-Message-Source: Microsoft Flow\r\nX-MS-Exchange-Organization-AuthAs: Internal\r\nMIME-Version: 1.0\r\n\
            Content-Type: text/html; charset=\"utf-8\"\r\n\r\n<p>Geachte Microsoft Power Automate,</p><p>Er is een nieuw antwoord.</p>\r\n";
    assert_eq!(automated(flow), Some(AutoReason::SystemSender));
    // A flow that sends as a shared mailbox: its headers tell, each of them alone.
    let shared = flow.replace("Microsoft Power Automate <flow-noreply@microsoft.com>", "Klantcontact <klantcontact@dienst-partner.nl>");
    let power_automate_header = shared.replace("X-MS-Exchange-Generated-Message-Source: Microsoft Flow\r\n", "");
    assert_eq!(automated(&power_automate_header), Some(AutoReason::PlatformGenerated));
    let exchange_header = shared.lines().filter(|l| !l.starts_with("x-ms-mail-")).collect::<Vec<_>>().join("\n");
    assert!(!exchange_header.contains("x-ms-mail-application"));
    assert_eq!(automated(&exchange_header), Some(AutoReason::PlatformGenerated));
    // An inbox rule that forwards a person's mail marks it so: still the person's mail.
    let rule = exchange_header.replace("Microsoft Flow", "Mailbox Rules Agent");
    assert_eq!(of(&rule), Classification::NewComplaint);
}

#[test]
fn sender_address_families() {
    for a in [
        "noreply@mijnoverheid.nl",
        "no-reply@sharepointonline.com",
        "no_reply@example.nl",
        "donotreply@belastingdienst.nl",
        "do-not-reply@example.nl",
        "flow-noreply@microsoft.com",
        "forms-receipts-noreply@google.com",
        "noreply+abc@digid.nl",
        "notifications@github.com",
        "notification@example.nl",
        "bounce@mail.example.nl",
        "bounces+12345-abcd=dienst.nl@em123.example.com",
        "MAILER-DAEMON@mx.example.nl",
        "postmaster@example.nl",
        "noreply@email.teams.microsoft.com",
    ] {
        assert!(is_system_sender(&a.to_ascii_lowercase()), "{a}");
    }
    for a in ["jan@example.nl", "noreen@example.nl", "reply@example.nl", "notificatie.team@gemeente.nl", "info@example.nl", "no.rep@example.nl"] {
        assert!(!is_system_sender(a), "{a}");
    }
}

#[test]
fn government_notifications_are_machine_mail() {
    // A MijnOverheid Berichtenbox notice and a DigiD notice, as they arrive.
    let berichtenbox = "From: MijnOverheid <noreply@mijnoverheid.nl>\r\nTo: klachten@dienst.nl\r\nSubject: U heeft een nieuw bericht in uw Berichtenbox\r\n\
            Date: Tue, 24 Nov 2026 07:02:11 +0100\r\nMessage-ID: <20261124060211.4F2A1@mijnoverheid.nl>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n\
            Geachte heer/mevrouw,\r\n\r\nEr staat een nieuw bericht voor u klaar in uw Berichtenbox op MijnOverheid.nl.\r\n";
    assert_eq!(automated(berichtenbox), Some(AutoReason::SystemSender));
    let digid = berichtenbox
        .replace("MijnOverheid <noreply@mijnoverheid.nl>", "DigiD <noreply@digid.nl>")
        .replace("U heeft een nieuw bericht in uw Berichtenbox", "Er is ingelogd met uw DigiD");
    assert_eq!(automated(&digid), Some(AutoReason::SystemSender));
}

#[test]
fn vendor_platform_and_bulk_headers() {
    // A SharePoint alert as [MS-OSALER] shows one, from a site's own address.
    let sharepoint = person("Teamsite Klachten <teamsite@dienst.nl>", "X-AlertTitle: =?utf-8?B?RG9jdW1lbnRlbg==?=\r\nX-AlertId: {913D756A-E669-4969-A930-8CD9845926D8}:{D5D996C5-683C-4077-AB40-9F3721E30B9D}\r\nX-AlertServerType: STS\r\nX-Mailer: WSS (version 3)\r\n");
    assert_eq!(automated(&sharepoint), Some(AutoReason::PlatformGenerated));
    let google = person("Google Agenda <calendar-notification@google.com>", "X-Notifications: 7c2b1e0f4a3d0000\r\nX-Notifications-Bounce-Info: AXYZ\r\n");
    assert_eq!(automated(&google), Some(AutoReason::PlatformGenerated));
    let salesforce = person(
        "Gemeente Voorbeeld <info@gemeente-voorbeeld.nl>",
        "X-SFDC-LK: 00D5g000004ABCD\r\nX-SFDC-User: 0055g00000XYZab\r\nX-Sender: postmaster@salesforce.com\r\n",
    );
    assert_eq!(automated(&salesforce), Some(AutoReason::PlatformGenerated));
    let mailchimp = person(
            "Stichting Voorbeeld <nieuws@stichting-voorbeeld.nl>",
            "List-Unsubscribe: <https://stichting.us21.list-manage.com/unsubscribe?u=abc&id=def>, <mailto:unsubscribe-mc.us21_abc@mailchimpapp.net>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\nX-MC-User: 0a1b2c3d4e5f\r\nX-Mailer: Mailchimp Mailer - **CID8a7f**\r\nFeedback-ID: 123:0a1b2c3d4e5f:mailchimp\r\n",
        );
    assert_eq!(automated(&mailchimp), Some(AutoReason::BulkSender));
    // Feedback-ID alone is a hint (Proton Mail and Fastmail put it on all their users' mail);
    // with the headers of a bulk mail service it holds the mail for a person, unanswered.
    assert_eq!(of(&person("Jan <jan@example.nl>", "Feedback-ID: 1.eu-west-1.abc:AmazonSES\r\n")), Classification::NewComplaint);
    let ses = person("Jan <jan@example.nl>", "Feedback-ID: 1.eu-west-1.abc:AmazonSES\r\nX-SES-Outgoing: 2026.11.24-54.240.4.1\r\n");
    assert_eq!(
        of(&ses),
        Classification::Quarantine(QuarantineReason::Unclear { reasons: [WeakSignal::FeedbackId, WeakSignal::MailService].into_iter().collect() })
    );
    let one_click = person("Nieuws <nieuws@example.nl>", "List-Unsubscribe: <https://example.nl/u/1>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n");
    assert_eq!(automated(&one_click), Some(AutoReason::BulkSender));
    // List-Unsubscribe without any other bulk marker: a person's mail all the same.
    assert_eq!(of(&person("Jan <jan@example.nl>", "List-Unsubscribe: <mailto:unsub@example.nl>\r\n")), Classification::NewComplaint);
}

#[test]
fn spam_flagged_by_a_trusted_filter_is_quarantined() {
    // A phishing mail as SpamAssassin (via spamass-milter) leaves it in front of Dovecot.
    let sa = "Return-Path: <support@paypa1-secure.example>\r\nX-Spam-Flag: YES\r\nX-Spam-Checker-Version: SpamAssassin 4.0.0 (2022-12-13) on mx.dienst.nl\r\n\
            X-Spam-Level: *********\r\nX-Spam-Status: Yes, score=9.1 required=5.0 tests=BAYES_99,HTML_MESSAGE,\r\n\tRCVD_IN_SBL,URIBL_BLACK autolearn=no autolearn_force=no version=4.0.0\r\n\
            From: Klantenservice <klachten@dienst.nl.secure-login.example>\r\nTo: klachten@dienst.nl\r\nSubject: Uw account wordt geblokkeerd\r\nMessage-ID: <x1@secure-login.example>\r\n\r\nKlik hier.\r\n";
    assert_eq!(of(sa), Classification::Quarantine(QuarantineReason::Spam(SpamFilter::SpamAssassin)));
    assert_eq!(
        of(&sa.replace("X-Spam-Flag: YES\r\n", "")),
        Classification::Quarantine(QuarantineReason::Spam(SpamFilter::SpamAssassin)),
        "X-Spam-Status alone"
    );
    let rspamd = person(
        "x <x@spam.example>",
        "X-Spamd-Result: default: True [16.20 / 15.00];\r\n\tR_SPF_FAIL(1.00)[-all];\r\n\tBAYES_SPAM(5.10)[99.99%]\r\nX-Rspamd-Action: reject\r\n",
    );
    assert_eq!(of(&rspamd), Classification::Quarantine(QuarantineReason::Spam(SpamFilter::Rspamd)));
    assert_eq!(of(&person("x <x@spam.example>", "X-Spam: Yes\r\n")), Classification::Quarantine(QuarantineReason::Spam(SpamFilter::Rspamd)));
    let microsoft = |scl: &str, sfv: &str| {
        person("x <x@spam.example>", &format!("X-Forefront-Antispam-Report:\r\n CIP:203.0.113.7;CTRY:US;LANG:nl;SCL:{scl};SRV:;IPV:NLI;SFV:{sfv};H:mail.spam.example;PTR:mail.spam.example;CAT:SPM;SFS:(13230031)(4636009);DIR:INB;\r\n"))
    };
    assert_eq!(of(&microsoft("5", "SPM")), Classification::Quarantine(QuarantineReason::Spam(SpamFilter::Microsoft)));
    assert_eq!(of(&microsoft("6", "NSPM")), Classification::Quarantine(QuarantineReason::Spam(SpamFilter::Microsoft)), "SCL at or above the threshold");
    assert_eq!(of(&microsoft("1", "NSPM")), Classification::NewComplaint);
    assert_eq!(of(&microsoft("-1", "SKN")), Classification::NewComplaint, "safe-listed");
    assert_eq!(of(&microsoft("5", "SPM").replace("DIR:INB", "DIR:OUT")), Classification::NewComplaint, "the sender's outbound scan");
    // Clean verdicts, and verdicts of filters the configuration does not trust, are no spam.
    assert_eq!(of(&person("Jan <jan@example.nl>", "X-Spam-Flag: NO\r\nX-Spam-Status: No, score=-0.1 required=5.0\r\n")), Classification::NewComplaint);
    let only_sa = SpamPolicy { trusted: vec![SpamFilter::SpamAssassin], microsoft_min_scl: 5 };
    assert_eq!(classify::<u32>(&parse(rspamd.as_bytes()).unwrap(), &[], None, Some(&only_sa)), Classification::NewComplaint);
    // Only the topmost header counts: the lower one came from the sender's side.
    let relayed = person("Jan <jan@example.nl>", "X-Spam-Flag: NO\r\nReceived: from relay.example.nl\r\nX-Spam-Flag: YES\r\n");
    assert_eq!(of(&relayed), Classification::NewComplaint);
    // A handler's release lifts the verdict: the mail is what it would otherwise have been.
    assert_eq!(classify::<u32>(&parse(sa.as_bytes()).unwrap(), &[OWN.to_string()], None, None), Classification::NewComplaint);
    assert_eq!(classify(&parse(sa.as_bytes()).unwrap(), &[OWN.to_string()], Some(4), None), Classification::FollowUp(4));
}

/// An Outlook meeting request: text, HTML and the iTIP calendar as alternatives.
fn outlook_invitation(method: &str, subject: &str) -> String {
    format!(
            "From: Marieke Dekker <m.dekker@advocaat-dekker.nl>\r\nTo: klachten@dienst.nl\r\nSubject: {subject}\r\nDate: Tue, 24 Nov 2026 14:03:00 +0000\r\n\
            Message-ID: <AM0PR07MB4866B1@AM0PR07MB4866.eurprd07.prod.outlook.com>\r\nContent-Language: nl-NL\r\nX-MS-Has-Attach:\r\nX-MS-TNEF-Correlator:\r\n\
            MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"_000_AM0PR07MB4866_\"\r\n\r\n\
            --_000_AM0PR07MB4866_\r\nContent-Type: text/plain; charset=\"us-ascii\"\r\n\r\nHoorzitting klacht, graag uw aanwezigheid.\r\n\r\n\
            --_000_AM0PR07MB4866_\r\nContent-Type: text/html; charset=\"us-ascii\"\r\n\r\n<html><body><p>Hoorzitting klacht</p></body></html>\r\n\r\n\
            --_000_AM0PR07MB4866_\r\nContent-Type: text/calendar; charset=\"utf-8\"; method={method}\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n\r\n--_000_AM0PR07MB4866_--\r\n",
            b64(&format!("BEGIN:VCALENDAR\r\nMETHOD:{method}\r\nPRODID:Microsoft Exchange Server 2010\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nORGANIZER;CN=Marieke Dekker:mailto:m.dekker@advocaat-dekker.nl\r\nSUMMARY;LANGUAGE=nl-NL:Hoorzitting klacht\r\nDTSTART:20261201T090000Z\r\nUID:040000008200E00074C5B7101A82E008\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"))
        )
}

fn b64(s: &str) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in s.as_bytes().chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            out.push(if i <= chunk.len() { T[((n >> (18 - 6 * i)) & 63) as usize] as char } else { '=' });
        }
    }
    out
}

/// An invitation in a case's thread is kept with it unanswered; one about no case may be a
/// person (here a lawyer) asking to meet about a complaint, so a person decides.
#[test]
fn calendar_invitations_cancellations_and_replies_are_never_answered() {
    let held = Classification::Quarantine(QuarantineReason::Invitation);
    assert_eq!(of(&outlook_invitation("REQUEST", "Hoorzitting klacht")), held);
    assert_eq!(of(&outlook_invitation("CANCEL", "Geannuleerd: Hoorzitting klacht")), held);
    assert_eq!(of(&outlook_invitation("REPLY", "Geaccepteerd: Hoorzitting klacht")), held);
    // Released by a handler, it is the complaint they judged it to be.
    let released = classify::<u32>(&parse(outlook_invitation("REQUEST", "Hoorzitting klacht").as_bytes()).unwrap(), &[], None, None);
    assert_eq!(released, Classification::NewComplaint);
    let linked = classify(&parse(outlook_invitation("REQUEST", "Hoorzitting KL-2026-0003").as_bytes()).unwrap(), &[], Some(3), Some(&all_filters()));
    assert_eq!(linked, Classification::SetAside { reason: SetAsideReason::CalendarInvitation, case: Some(3) });
    // A Teams meeting notice: method in the calendar only, sent by the organiser's mailbox.
    let teams = "From: Planning <planning@dienst-partner.nl>\r\nTo: klachten@dienst.nl\r\nSubject: Microsoft Teams-vergadering: overleg\r\nMIME-Version: 1.0\r\n\
            Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Microsoft Teams-vergadering</p><p>Deelnemen</p>\r\n\
            --B\r\nContent-Type: text/calendar; charset=utf-8\r\nContent-Disposition: attachment; filename=invite.ics\r\n\r\nBEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nX-MICROSOFT-SKYPETEAMSMEETINGURL:https://teams.microsoft.com/l/meetup-join/x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n--B--\r\n";
    assert_eq!(of(teams), held);
    // A person who attaches an event for information (PUBLISH) still complains.
    let published = teams
        .replace("METHOD:REQUEST", "METHOD:PUBLISH")
        .replace("<p>Microsoft Teams-vergadering</p><p>Deelnemen</p>", "<p>Deze afspraak is niet doorgegaan, ik klaag.</p>");
    assert_eq!(of(&published), Classification::NewComplaint);
}

#[test]
fn e_invoices_are_set_aside() {
    // As an accounting package sends a Peppol/SI-UBL invoice with its PDF.
    let ubl = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<Invoice xmlns=\"urn:oasis:names:specification:ubl:schema:xsd:Invoice-2\" xmlns:cbc=\"urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2\">\r\n<cbc:CustomizationID>urn:cen.eu:en16931:2017#compliant#urn:fdc:nen.nl:nlcius:v1.0</cbc:CustomizationID>\r\n<cbc:ID>F2026-0412</cbc:ID>\r\n</Invoice>\r\n";
    let raw = format!(
            "From: Facturatie Voorbeeld BV <facturen@voorbeeld-bv.nl>\r\nTo: klachten@dienst.nl\r\nSubject: Factuur F2026-0412\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=F\r\n\r\n\
            --F\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nBijgaand onze factuur F2026-0412.\r\n--F\r\nContent-Type: application/pdf; name=F2026-0412.pdf\r\nContent-Disposition: attachment; filename=F2026-0412.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n\
            --F\r\nContent-Type: application/xml; name=F2026-0412.xml\r\nContent-Disposition: attachment; filename=F2026-0412.xml\r\n\r\n{ubl}\r\n--F--\r\n"
        );
    assert_eq!(of(&raw), Classification::SetAside { reason: SetAsideReason::Invoice, case: None });
    // A complaint about an invoice, with the invoice as a PDF, is a complaint.
    let pdf_only = raw
        .replace("application/xml; name=F2026-0412.xml", "application/pdf; name=kopie.pdf")
        .replace("filename=F2026-0412.xml", "filename=kopie.pdf")
        .replace(ubl, "JVBERi0xLjQK");
    assert_eq!(of(&pdf_only), Classification::NewComplaint);
}

/// A Ricoh scan-to-mail: device name as sender, its standard subject, a PDF and no text.
fn copier_scan(text: &str) -> String {
    format!(
            "From: RICOH IM C3000 <scanner@dienst.nl>\r\nTo: klachten@dienst.nl\r\nSubject: Gescand document van RICOH IM C3000\r\nDate: Tue, 24 Nov 2026 11:20:31 +0100\r\n\
            Message-ID: <20261124112031.001@scanner.dienst.nl>\r\nX-Mailer: RICOH IM C3000\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"RCH\"\r\n\r\n\
            --RCH\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n{text}\r\n--RCH\r\nContent-Type: application/pdf; name=\"20261124112031.pdf\"\r\n\
            Content-Disposition: attachment; filename=\"20261124112031.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKJcfsj6IKNSAwIG9iago=\r\n--RCH--\r\n"
        )
}

#[test]
fn a_copier_scan_waits_for_a_person() {
    assert_eq!(of(&copier_scan("")), Classification::Quarantine(QuarantineReason::ScannedDocument));
    let xerox = copier_scan("Please open the attached document. It was scanned and sent to you using a Xerox multifunction device.")
        .replace("RICOH IM C3000 <scanner@dienst.nl>", "Xerox AltaLink <mfp-2e@dienst.nl>")
        .replace("Gescand document van RICOH IM C3000", "Scanned from a Xerox Multifunction Printer");
    assert_eq!(of(&xerox), Classification::Quarantine(QuarantineReason::ScannedDocument));
    // A person's mail with a PDF and their own words is a complaint with a document.
    let letter = "From: Jan de Vries <jan@example.nl>\r\nTo: klachten@dienst.nl\r\nSubject: Mijn klacht\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n\
            --B\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nZie mijn brief in de bijlage; mijn uitkering is al twee maanden niet betaald.\r\n\
            --B\r\nContent-Type: application/pdf; name=brief.pdf\r\nContent-Disposition: attachment; filename=brief.pdf\r\n\r\n%PDF-1.4\r\n--B--\r\n";
    assert_eq!(of(letter), Classification::NewComplaint);
    // A scan in reply to one of our letters belongs to its case.
    assert_eq!(classify(&parse(copier_scan("").as_bytes()).unwrap(), &[], Some(9), Some(&all_filters())), Classification::FollowUp(9));
}

#[test]
fn a_voicemail_waits_for_a_person() {
    // Exchange Unified Messaging (and Teams' cloud voicemail) mark voice mail so.
    let um = "From: +31612345678 <noreply@dienst.nl>\r\nTo: klachten@dienst.nl\r\nSubject: Voicemail van +31612345678 (0:42)\r\nContent-Class: voice-uc\r\n\
            X-MS-Exchange-UM-PartnerContent: voice\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=V\r\n\r\n--V\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>U hebt een voicemail ontvangen.</p>\r\n\
            --V\r\nContent-Type: audio/mpeg; name=\"audio.mp3\"\r\nContent-Disposition: attachment; filename=\"audio.mp3\"\r\nContent-Transfer-Encoding: base64\r\n\r\nSUQzBAAAAAAAI1RTU0UAAAAPAAADTGF2ZjU4LjI5LjEwMAAAAAAAAAAAAAAA\r\n--V--\r\n";
    assert_eq!(of(um), Classification::Quarantine(QuarantineReason::Voicemail));
    // A hosted PBX: no special header, an audio file and its subject.
    let pbx = um.replace("Content-Class: voice-uc\r\nX-MS-Exchange-UM-PartnerContent: voice\r\n", "").replace("noreply@dienst.nl", "pbx@voip-aanbieder.nl");
    assert_eq!(of(&pbx), Classification::Quarantine(QuarantineReason::Voicemail));
    // A complainant who sends a recording as evidence, with their own account, complains.
    let evidence = pbx.replace("pbx@voip-aanbieder.nl", "jan@example.nl").replace(
        "<p>U hebt een voicemail ontvangen.</p>",
        &format!(
            "<p>In de bijlage de voicemail van mijn coach. {}</p>",
            "Hij zegt dat mijn traject stopt zonder dat iemand met mij heeft gesproken. ".repeat(5)
        ),
    );
    assert_eq!(of(&evidence), Classification::NewComplaint);
}
