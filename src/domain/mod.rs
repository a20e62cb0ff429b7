//! The complaints procedure itself: dates, references, what a mail means.
//! Nothing in here does I/O, so all of it is covered by plain unit tests.

pub mod assignment;
pub mod awb;
pub mod calendar;
pub mod case_action;
pub mod catalogue;
pub mod classify;
pub mod flowed;
pub mod forwarded;
pub mod history;
pub mod ical;
pub mod inbound;
pub mod leases;
pub mod mail_actions;
pub mod message_id;
pub mod mime;
pub mod organisation;
pub mod procedure;
pub mod reference;
pub mod register;
pub mod reminders;
pub mod terms;
pub mod text;
pub mod vocabulary;
