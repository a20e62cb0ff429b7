//! The use cases: what klachtd does with a mail, a handler's action or the passing of time.
//! They decide with the domain, persist through the store and reach the outside world only
//! through the adapters in [`crate::io`].

pub mod actions;
pub mod clock;
pub mod intake;
pub mod outbox;
pub mod reminders;
pub mod retention;
pub mod schedule;
pub mod templates;
