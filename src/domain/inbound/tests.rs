use super::*;

#[test]
fn plain_complaint() {
    let raw = b"From: \"Jan de Vries\" <Jan@Example.NL>\r\nTo: klachten@dienst.nl\r\nSubject: Klacht over mijn coach\r\n\
                Message-ID: <abc@example.nl>\r\nDate: Fri, 20 Nov 2026 10:00:00 +0100\r\n\r\nIk ben ontevreden.\r\n";
    let m = parse(raw).unwrap();
    assert_eq!(m.message_id.as_deref(), Some("abc@example.nl"));
    assert_eq!(m.from, Some(Person { name: Some("Jan de Vries".into()), address: "jan@example.nl".into() }));
    assert_eq!(m.subject, "Klacht over mijn coach");
    assert_eq!(m.text, "Ik ben ontevreden.");
    assert_eq!(m.dedupe_key(), "mid:abc@example.nl");
    assert_eq!(m.return_path, ReturnPath::Absent);
    // The same mail to another organisation is a mail of its own; the default's key is as ever.
    let org = |k: &str| crate::domain::organisation::OrganisationKey::parse(k).unwrap();
    assert_eq!(m.dedupe_key_in(&org("default")), "mid:abc@example.nl");
    assert_eq!(m.dedupe_key_in(&org("wp")), "mid:abc@example.nl wp");
    assert_ne!(m.dedupe_key_in(&org("wp")), m.dedupe_key_in(&org("sh")));
}

#[test]
fn encoded_words_and_latin1() {
    let raw = b"From: =?ISO-8859-1?Q?Jos=E9_M=FCller?= <jose@example.nl>\r\nSubject: =?UTF-8?B?S2xhY2h0IMOpw6lu?=\r\n\
                Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\nCaf\xe9 gesloten\r\n";
    let m = parse(raw).unwrap();
    assert_eq!(m.from.as_ref().unwrap().name.as_deref(), Some("José Müller"));
    assert_eq!(m.subject, "Klacht één");
    assert_eq!(m.text, "Café gesloten");
    assert!(m.message_id.is_none());
    assert!(m.dedupe_key().starts_with("sha256:"));
}

#[test]
fn raw_utf8_headers() {
    let raw = "From: Zoë Ångström <zoe@example.nl>\r\nSubject: Ügyfél klacht\r\n\r\ntekst\r\n".as_bytes();
    let m = parse(raw).unwrap();
    assert_eq!(m.from.unwrap().name.as_deref(), Some("Zoë Ångström"));
    assert_eq!(m.subject, "Ügyfél klacht");
}

#[test]
fn html_only_mail_becomes_text() {
    let raw = b"From: a@example.nl\r\nSubject: x\r\nContent-Type: text/html\r\n\r\n<p>Hallo</p><script>steal()</script><p>daar</p>\r\n";
    let m = parse(raw).unwrap();
    assert!(m.text.contains("Hallo") && m.text.contains("daar"), "{}", m.text);
    assert!(!m.text.contains("steal"));
}

#[test]
fn threading_ids_from_both_headers() {
    let raw = b"From: a@example.nl\r\nSubject: Re: x\r\nIn-Reply-To: <ack-1@klachtd>\r\nReferences: <orig@example.nl> <ack-1@klachtd>\r\n\r\nok\r\n";
    let m = parse(raw).unwrap();
    assert_eq!(m.thread_ids, vec!["ack-1@klachtd".to_string(), "orig@example.nl".to_string()]);
}

#[test]
fn hostile_attachment_name_is_tamed() {
    let raw = b"From: a@example.nl\r\nSubject: x\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n\
                Content-Type: text/plain\r\n\r\nzie bijlage\r\n--B\r\nContent-Type: application/pdf\r\n\
                Content-Disposition: attachment; filename=\"../../etc/cron.d/evil\"\r\nContent-Transfer-Encoding: base64\r\n\r\nSGFsbG8=\r\n--B--\r\n";
    let m = parse(raw).unwrap();
    assert_eq!(m.attachments.len(), 1);
    assert_eq!(m.attachments[0].filename, "evil");
    assert_eq!(m.attachments[0].data, b"Hallo");
    assert_eq!(m.attachments[0].content_type, "application/pdf");
}

#[test]
fn broken_mime_keeps_its_text_as_description() {
    let raw = b"From: a@example.nl\r\nSubject: x\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"nooit\"\r\n\r\n\
                --nooit\r\nContent-Type: text/plain\r\n\r\nTekst zonder einde\r\n";
    let m = parse(raw).unwrap();
    assert_eq!(m.text, "Tekst zonder einde");
    assert!(m.attachments.is_empty());
}

#[test]
fn bounce_markers() {
    let raw = b"From: MAILER-DAEMON@mx.example.nl\r\nReturn-Path: <>\r\nSubject: Undelivered\r\nAuto-Submitted: auto-replied\r\n\
                Content-Type: multipart/report; report-type=delivery-status; boundary=R\r\n\r\n--R\r\nContent-Type: text/plain\r\n\r\nfailed\r\n\
                --R\r\nContent-Type: message/delivery-status\r\n\r\nStatus: 5.1.1\r\n--R--\r\n";
    let m = parse(raw).unwrap();
    assert_eq!(m.return_path, ReturnPath::Empty);
    assert!(m.delivery_report);
    assert!(m.thread_ids.is_empty(), "this report does not say which mail it returns");
    assert_eq!(m.auto_submitted.as_deref(), Some("auto-replied"));
}

#[test]
fn nul_bytes_are_stripped_from_everything_stored() {
    let raw = b"From: =?UTF-8?Q?Jan=00_de_Vries?= <jan@example.nl>\r\nSubject: =?UTF-8?Q?Klacht=00=01?=\r\nMIME-Version: 1.0\r\n\
                Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain; charset=utf-8\r\n\
                Content-Transfer-Encoding: quoted-printable\r\n\r\nMijn=00 klacht=1B.\r\n--B\r\nContent-Type: application/pdf\r\n\
                Content-Disposition: attachment; filename=\"=?UTF-8?Q?brief=00.pdf?=\"\r\n\r\nx\r\n--B--\r\n";
    let m = parse(raw).unwrap();
    assert_eq!(m.text, "Mijn klacht.");
    assert!(!m.subject.contains('\0') && m.subject.starts_with("Klacht"), "{:?}", m.subject);
    let name = m.from.unwrap().name.unwrap();
    assert!(!name.contains('\0'), "{name:?}");
    assert!(!m.attachments[0].filename.contains('\0'), "{:?}", m.attachments[0].filename);
}

#[test]
fn legacy_8bit_text_without_charset_is_windows_1252() {
    let raw = b"From: Piet <piet@example.nl>\r\nSubject: Klacht\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
                Mijn uitkering is \xe9\xe9n maand te laat; \x80 12,50 \x96 na\xefef.\r\n";
    assert_eq!(parse(raw).unwrap().text, "Mijn uitkering is één maand te laat; € 12,50 – naïef.");
    // No Content-Type at all (RFC 822 mail from an old client), and quoted-printable.
    let bare = b"From: Piet <piet@example.nl>\r\nSubject: Klacht\r\n\r\nCaf\xe9 dicht\r\n";
    assert_eq!(parse(bare).unwrap().text, "Café dicht");
    // The same old client writes its headers in 8 bits too.
    let headers = b"From: Jos\xe9 M\xfcller <jose@example.nl>\r\nSubject: Klacht \xe9\xe9n\r\nContent-Type: text/plain\r\n\r\nx\r\n";
    let m = parse(headers).unwrap();
    assert_eq!((m.subject.as_str(), m.from.unwrap().name.as_deref()), ("Klacht één", Some("José Müller")));
    let qp = b"From: Piet <piet@example.nl>\r\nSubject: Klacht\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=E9=E9n dag te laat=\r\n.\r\n";
    assert_eq!(parse(qp).unwrap().text, "één dag te laat.");
    // Valid UTF-8 without a charset stays as it is; a declared charset is obeyed.
    let utf8 = "From: a@example.nl\r\nSubject: x\r\nContent-Type: text/plain\r\n\r\néén\r\n".as_bytes();
    assert_eq!(parse(utf8).unwrap().text, "één");
    let declared = b"From: a@example.nl\r\nSubject: x\r\nContent-Type: text/plain; charset=iso-8859-15\r\n\r\n\xa4 5\r\n";
    assert_eq!(parse(declared).unwrap().text, "€ 5");
}

#[test]
fn signatures_and_report_parts_are_named_and_marked() {
    // PGP/MIME as Thunderbird sends it (named), and an S/MIME signature without a name.
    let pgp = b"From: a@example.nl\r\nSubject: x\r\nMIME-Version: 1.0\r\nContent-Type: multipart/signed; micalg=pgp-sha256; protocol=\"application/pgp-signature\"; boundary=\"S\"\r\n\r\n\
                --S\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nMijn klacht.\r\n--S\r\nContent-Type: application/pgp-signature; name=\"OpenPGP_signature.asc\"\r\n\
                Content-Description: OpenPGP digital signature\r\nContent-Disposition: attachment; filename=\"OpenPGP_signature.asc\"\r\n\r\n-----BEGIN PGP SIGNATURE-----\r\n\r\nwsF5BAABCAAjFiEE\r\n-----END PGP SIGNATURE-----\r\n--S--\r\n";
    let m = parse(pgp).unwrap();
    assert_eq!(m.text, "Mijn klacht.");
    assert_eq!((m.attachments[0].filename.as_str(), m.attachments[0].role), ("OpenPGP_signature.asc", AttachmentRole::Signature));
    let unnamed = String::from_utf8_lossy(pgp)
        .replace("; name=\"OpenPGP_signature.asc\"", "")
        .replace("Content-Disposition: attachment; filename=\"OpenPGP_signature.asc\"\r\n", "");
    assert_eq!(parse(unnamed.as_bytes()).unwrap().attachments[0].filename, "signature.asc");
    let smime = unnamed.replace("application/pgp-signature\r\n", "application/pkcs7-signature\r\n");
    let m = parse(smime.as_bytes()).unwrap();
    assert_eq!((m.attachments[0].filename.as_str(), m.attachments[0].role), ("smime.p7s", AttachmentRole::Signature));
    // The machine parts of a delivery report.
    let report = b"From: MAILER-DAEMON@mx.example.nl\r\nSubject: Undelivered\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=R\r\n\r\n\
                   --R\r\nContent-Type: text/plain\r\n\r\nfailed\r\n--R\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.nl\r\n\r\nAction: failed\r\n\
                   --R\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: klachten@dienst.nl\r\nSubject: x\r\n\r\n--R--\r\n";
    let m = parse(report).unwrap();
    let parts: Vec<_> = m.attachments.iter().map(|a| (a.filename.as_str(), a.role)).collect();
    assert_eq!(parts, [("delivery-status.txt", AttachmentRole::Report), ("returned-headers.txt", AttachmentRole::Report)]);
    // An ordinary PDF stays a document.
    assert_eq!(attachment_role("application/pdf", Some("brief.pdf")), AttachmentRole::Document);
}

#[test]
fn forwarded_complaints_name_the_original_sender() {
    let attached = b"From: Collega <collega@dienst.nl>\r\nSubject: FW: Klacht\r\nContent-Type: multipart/mixed; boundary=F\r\n\r\n--F\r\nContent-Type: text/plain\r\n\r\nZie bijlage.\r\n\
                     --F\r\nContent-Type: message/rfc822\r\n\r\nFrom: Petra Jansen <Petra@Example.nl>\r\nSubject: Klacht\r\nDate: Mon, 23 Nov 2026 09:14:00 +0100\r\n\r\nTekst.\r\n--F--\r\n";
    let m = parse(attached).unwrap();
    let f = m.forwarded.unwrap();
    assert_eq!(
        (f.name.as_deref(), f.address.as_deref(), f.date.as_deref()),
        (Some("Petra Jansen"), Some("petra@example.nl"), Some("2026-11-23T09:14:00+01:00"))
    );
    assert_eq!(m.attachments[0].filename, "forwarded-message.eml");
    let inline = b"From: Collega <collega@dienst.nl>\r\nSubject: Fwd: Klacht\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nTer info.\r\n\r\n\
                   ---------- Forwarded message ---------\r\nFrom: Petra Jansen <petra@example.nl>\r\nDate: Mon, 23 Nov 2026 at 09:14\r\nSubject: Klacht\r\n\r\nTekst.\r\n";
    assert_eq!(parse(inline).unwrap().forwarded.unwrap().address.as_deref(), Some("petra@example.nl"));
    // A complainant who attaches their own earlier mail forwards nothing of someone else,
    // nor does one who attaches a mail they got as evidence (no forward subject).
    let own = String::from_utf8_lossy(attached).replace("Petra Jansen <Petra@Example.nl>", "Collega <collega@dienst.nl>");
    assert!(parse(own.as_bytes()).unwrap().forwarded.is_none());
    let evidence = String::from_utf8_lossy(attached).replace("Subject: FW: Klacht", "Subject: Klacht over mijn coach");
    assert!(parse(evidence.as_bytes()).unwrap().forwarded.is_none());
}

#[test]
fn calendar_method_from_parameter_or_calendar() {
    let param = b"From: a@example.nl\r\nSubject: x\r\nContent-Type: text/calendar; method=CANCEL; charset=utf-8\r\n\r\nBEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n";
    assert_eq!(parse(param).unwrap().calendar_method.as_deref(), Some("CANCEL"));
    let body = b"From: a@example.nl\r\nSubject: x\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nx\r\n--B\r\nContent-Type: application/ics; name=invite.ics\r\n\r\nBEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nEND:VCALENDAR\r\n--B--\r\n";
    assert_eq!(parse(body).unwrap().calendar_method.as_deref(), Some("REPLY"));
    assert!(
        parse(b"From: a@example.nl\r\nSubject: x\r\n\r\nMETHOD:REQUEST\r\n").unwrap().calendar_method.is_none(),
        "text that looks like a calendar is not one"
    );
}

#[test]
fn garbage_is_rejected() {
    assert!(parse(b"").is_err());
    assert_eq!(parse(b"\x00\x01\x02 nothing here").unwrap_err(), ParseError::NoHeaders);
}

#[test]
fn a_delivery_report_is_linked_by_the_mail_it_returns() {
    let headers = b"From: MAILER-DAEMON@mx.example.nl\r\nReturn-Path: <>\r\nSubject: Undelivered Mail\r\nMessage-ID: <dsn-1@mx.example.nl>\r\n\
                    Content-Type: multipart/report; report-type=delivery-status; boundary=R\r\n\r\n--R\r\nContent-Type: text/plain\r\n\r\nfailed\r\n\
                    --R\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.nl\r\n\r\nFinal-Recipient: rfc822; weg@example.nl\r\nStatus: 5.1.1\r\n\
                    --R\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: klachten@dienst.nl\r\nSubject: [KL-2026-0001] Ontvangstbevestiging\r\nMessage-ID: <KL-2026-0001.ack.abc@dienst.nl>\r\n\r\n--R--\r\n";
    let failed = parse(headers).unwrap();
    assert_eq!(failed.thread_ids, ["KL-2026-0001.ack.abc@dienst.nl"]);
    assert!(!failed.delivery_failed, "no Action field: not known to have failed");
    let with_action = String::from_utf8_lossy(headers).replace("Status: 5.1.1", "Action: failed\r\nStatus: 5.1.1");
    assert!(parse(with_action.as_bytes()).unwrap().delivery_failed);
    let delayed = String::from_utf8_lossy(headers).replace("Status: 5.1.1", "Action: delayed\r\nStatus: 4.4.1");
    assert!(!parse(delayed.as_bytes()).unwrap().delivery_failed);
    let whole = b"From: MAILER-DAEMON@mx.example.nl\r\nReturn-Path: <>\r\nSubject: Undelivered Mail\r\n\
                  Content-Type: multipart/report; report-type=delivery-status; boundary=R\r\n\r\n--R\r\nContent-Type: text/plain\r\n\r\nfailed\r\n\
                  --R\r\nContent-Type: message/delivery-status\r\n\r\nStatus: 5.1.1\r\n\
                  --R\r\nContent-Type: message/rfc822\r\n\r\nFrom: klachten@dienst.nl\r\nSubject: x\r\nMessage-ID: <KL-2026-0002.response.def@dienst.nl>\r\n\r\nTekst.\r\n--R--\r\n";
    assert_eq!(parse(whole).unwrap().thread_ids, ["KL-2026-0002.response.def@dienst.nl"]);
    // An ordinary mail with a forwarded message attached is not linked by it.
    let forward =
        b"From: a@example.nl\r\nSubject: fwd\r\nContent-Type: multipart/mixed; boundary=F\r\n\r\n--F\r\nContent-Type: text/plain\r\n\r\nzie onder\r\n\
                    --F\r\nContent-Type: message/rfc822\r\n\r\nFrom: b@example.nl\r\nSubject: y\r\nMessage-ID: <other@example.nl>\r\n\r\nTekst.\r\n--F--\r\n";
    assert!(parse(forward).unwrap().thread_ids.is_empty());
}

#[test]
fn utf8_that_is_latin1_and_unknown_8bit_keep_their_letters() {
    for charset in ["utf-8", "UTF-8", "unknown-8bit", "x-unknown"] {
        let raw = format!(
            "From: Piet <piet@example.nl>\r\nSubject: Klacht\r\nContent-Type: text/plain; charset={charset}\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        );
        let mut raw = raw.into_bytes();
        raw.extend_from_slice(b"Caf\xe9 dicht, \x80 12,50 \xe9\xe9n dag.\r\n");
        assert_eq!(parse(&raw).unwrap().text, "Café dicht, € 12,50 één dag.", "{charset}");
    }
    // Real UTF-8 under its own label stays as it is, and so does a declared legacy charset.
    let utf8 = "From: a@example.nl\r\nSubject: x\r\nContent-Type: text/plain; charset=utf-8\r\n\r\néén €\r\n".as_bytes();
    assert_eq!(parse(utf8).unwrap().text, "één €");
    // HTML that says UTF-8 and is Latin-1.
    let html = b"From: a@example.nl\r\nSubject: x\r\nContent-Type: text/html; charset=\"utf-8\"\r\n\r\n<p>na\xefef</p>\r\n";
    assert_eq!(parse(html).unwrap().text, "naïef");
}

#[test]
fn a_forward_of_a_forward_names_the_deepest_original() {
    let nested = b"From: Collega B <b@dienst.nl>\r\nSubject: FW: FW: Klacht\r\nContent-Type: multipart/mixed; boundary=F\r\n\r\n--F\r\nContent-Type: text/plain\r\n\r\nVoor jou.\r\n\
                   --F\r\nContent-Type: message/rfc822\r\n\r\nFrom: Collega A <a@dienst.nl>\r\nSubject: FW: Klacht\r\nContent-Type: multipart/mixed; boundary=G\r\n\r\n--G\r\nContent-Type: text/plain\r\n\r\nZie bijlage.\r\n\
                   --G\r\nContent-Type: message/rfc822\r\n\r\nFrom: Petra Jansen <petra@example.nl>\r\nSubject: Klacht\r\nDate: Mon, 23 Nov 2026 09:14:00 +0100\r\n\r\nTekst.\r\n--G--\r\n--F--\r\n";
    assert_eq!(parse(nested).unwrap().forwarded.unwrap().address.as_deref(), Some("petra@example.nl"));
    // An attached forward whose text forwards inline in its turn.
    let inline = b"From: Collega B <b@dienst.nl>\r\nSubject: FW: Klacht\r\nContent-Type: multipart/mixed; boundary=F\r\n\r\n--F\r\nContent-Type: text/plain\r\n\r\nVoor jou.\r\n\
                   --F\r\nContent-Type: message/rfc822\r\n\r\nFrom: Collega A <a@dienst.nl>\r\nSubject: Fwd: Klacht\r\nContent-Type: text/plain\r\n\r\nZie onder.\r\n\r\n---------- Forwarded message ---------\r\nFrom: Petra Jansen <petra@example.nl>\r\nDate: Mon, 23 Nov 2026\r\nSubject: Klacht\r\n\r\nTekst.\r\n--F--\r\n";
    assert_eq!(parse(inline).unwrap().forwarded.unwrap().address.as_deref(), Some("petra@example.nl"));
}
