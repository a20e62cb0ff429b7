//! Sign-in links keep no token in the outbox (issue 24): the mail that carried one loses its
//! body once the SMTP server has it, and once the link expired unused; a mail still waiting
//! when its link expires is not sent at all. On the store, on both databases.

use std::time::Duration;

use super::*;
use klachtd::domain::vocabulary::{MailKind, OutboxStatus};
use klachtd::store::{OutgoingMail, Store};

on_both_databases!(sign_in_links_keep_no_token_in_the_outbox);

fn link_mail(token: &str) -> OutgoingMail {
    OutgoingMail {
        kind: MailKind::SignInLink,
        recipient: "ann@dienst.test".into(),
        recipient_name: None,
        subject: "Aanmelden".into(),
        body: format!("http://127.0.0.1/sign-in/{token}\n"),
        message_id: format!("<{}@klacht.test>", unique("sign-in")),
        in_reply_to: None,
        references: Vec::new(),
        status: OutboxStatus::Pending,
    }
}

async fn bodies(store_url: &str) -> Vec<(String, String)> {
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(store_url).await.unwrap();
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT status, body FROM outbox ORDER BY id").fetch_all(&mut conn).await.unwrap();
    let _ = sqlx::Connection::close(conn).await;
    rows
}

async fn sign_in_links_keep_no_token_in_the_outbox(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let test_db = TestDb::create(db, dir.path()).await;
    let store = Store::open(&test_db.url, 2).await.unwrap();
    let now = klachtd::store::now();
    // Sent: the body goes with the acceptance.
    store.create_sign_in_link("hash-sent", "ann@dienst.test", "browser", now + 900, &link_mail("token-sent"), "default").await.unwrap();
    let item = store.claim_outbox("w", Duration::from_secs(60), klachtd::store::Claim::ANY).await.unwrap().expect("the link's mail");
    assert!(item.mail.body.contains("token-sent"), "the mail itself carries the link");
    store.outbox_sent(&item, "250 OK").await.unwrap();
    assert_eq!(bodies(&test_db.url).await, [("sent".to_string(), "(sign-in link sent)".to_string())]);

    // Waiting, live: kept as it is. Waiting, expired: not sent.
    store.create_sign_in_link("hash-live", "ann@dienst.test", "browser", now + 900, &link_mail("token-live"), "default").await.unwrap();
    store.create_sign_in_link("hash-late", "ann@dienst.test", "browser", now - 1, &link_mail("token-late"), "default").await.unwrap();
    assert_eq!(bodies(&test_db.url).await.len(), 3);
    assert_eq!(store.scrub_expired_sign_in_links().await.unwrap(), 1);
    let rows = bodies(&test_db.url).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(rows[1].1.contains("token-live"), "a live link waits to be sent: {rows:?}");
    assert!(!rows.iter().any(|(_, body)| body.contains("token-late")));
    // Nothing more to do: a second run changes nothing.
    assert_eq!(store.scrub_expired_sign_in_links().await.unwrap(), 0);
}
