//! The unit tests of the rules, one mail class at a time.
use super::*;
use crate::domain::inbound::parse;

const OWN: &str = "klachten@dienst.nl";

fn mail(headers: &str) -> InboundMail {
    let raw = format!("{headers}\r\nSubject: test\r\n\r\nBody text\r\n");
    parse(raw.as_bytes()).unwrap()
}

fn policy() -> SpamPolicy {
    SpamPolicy { trusted: vec![SpamFilter::SpamAssassin, SpamFilter::Rspamd, SpamFilter::Microsoft], microsoft_min_scl: 5 }
}

fn class(headers: &str, linked: Option<u32>) -> Classification<u32> {
    classify(&mail(headers), &[OWN.to_string()], linked, Some(&policy()))
}

#[test]
fn person_without_reference_files_a_new_complaint() {
    assert_eq!(class("From: Jan <jan@example.nl>", None), Classification::NewComplaint);
    assert_eq!(class("From: jan@example.nl\r\nAuto-Submitted: no", None), Classification::NewComplaint);
}

#[test]
fn person_with_reference_follows_up() {
    assert_eq!(class("From: jan@example.nl", Some(7)), Classification::FollowUp(7));
}

#[test]
fn out_of_office_is_automated() {
    let c = class("From: jan@example.nl\r\nAuto-Submitted: auto-replied", Some(7));
    assert_eq!(c, Classification::Automated { reason: AutoReason::AutoSubmitted, case: Some(7) });
    let c = class("From: jan@example.nl\r\nX-Autoreply: yes", None);
    assert_eq!(c, Classification::Automated { reason: AutoReason::VendorAutoReply, case: None });
}

#[test]
fn list_and_bulk_mail_is_automated() {
    assert!(matches!(
        class("From: news@example.nl\r\nPrecedence: bulk\r\nList-Unsubscribe: <https://example.nl/u>", None),
        Classification::Automated { reason: AutoReason::BulkPrecedence, .. }
    ));
    // A forwarding service adds Precedence: bulk to a person's mail: weak, held for a person.
    assert!(matches!(class("From: jan@example.nl\r\nPrecedence: bulk", None), Classification::Quarantine(QuarantineReason::Unclear { .. })));
    assert!(matches!(
        class("From: news@example.nl\r\nPrecedence: list\r\nList-Post: <mailto:news@example.nl>", None),
        Classification::Automated { reason: AutoReason::MailingList, .. }
    ));
    assert!(matches!(class("From: news@example.nl\r\nList-Id: <news.example.nl>", None), Classification::Automated { reason: AutoReason::MailingList, .. }));
}

#[test]
fn bounces_are_automated() {
    assert!(matches!(class("From: jan@example.nl\r\nReturn-Path: <>", None), Classification::Automated { reason: AutoReason::EmptyReturnPath, .. }));
    assert!(matches!(class("From: MAILER-DAEMON@mx.example.nl", None), Classification::Automated { reason: AutoReason::SystemSender, .. }));
    // An administrator writes from postmaster@ too: weak alone, strong with a report.
    assert!(matches!(class("From: postmaster@example.nl", None), Classification::Quarantine(QuarantineReason::Unclear { .. })));
    assert!(matches!(class("From: MAILER-DAEMON <>", None), Classification::Automated { reason: AutoReason::SystemSender, .. }));
    assert!(matches!(
        class("From: postmaster@example.nl\r\nReturn-Path: <MAILER-DAEMON>", None),
        Classification::Automated { reason: AutoReason::EmptyReturnPath, .. }
    ));
    let report = "From: mx@example.nl\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=R";
    let raw = format!("{report}\r\nSubject: x\r\n\r\n--R\r\nContent-Type: text/plain\r\n\r\nx\r\n--R--\r\n");
    let m = parse(raw.as_bytes()).unwrap();
    assert!(matches!(classify::<u32>(&m, &[], None, Some(&policy())), Classification::Automated { reason: AutoReason::DeliveryReport, .. }));
}

#[test]
fn our_own_mail_is_recognised_first() {
    assert_eq!(class("From: Klachten <KLACHTEN@dienst.nl>\r\nAuto-Submitted: auto-replied", Some(3)), Classification::OwnMail { case: Some(3) });
    assert_eq!(class("From: klachten@dienst.nl", None), Classification::OwnMail { case: None });
}
