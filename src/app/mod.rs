//! The use cases: what klachtd does with a mail, a handler's action or the passing of time.
//! They decide with the domain, persist through the store and reach the outside world only
//! through traits of their own (such as [`outbox::Transport`]) that the adapters in `driven`
//! implement; they never name an adapter (see `LAYERS` in lib.rs).

pub mod actions;
pub mod backlog;
pub mod clock;
pub mod health;
pub mod intake;
pub mod leases;
pub mod messages;
pub mod outbox;
pub mod reminders;
pub mod retention;
pub mod schedule;
pub mod settings;
pub mod templates;

/// A fresh Message-ID (without brackets) for mail we write; see [`crate::domain::message_id`].
pub fn new_message_id(tag: &str, domain: &str) -> String {
    use ring::rand::SecureRandom;
    let mut random = [0u8; 8];
    ring::rand::SystemRandom::new().fill(&mut random).expect("system random source");
    crate::domain::message_id::message_id(tag, domain, &random)
}
