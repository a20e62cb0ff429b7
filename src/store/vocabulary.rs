//! The domain's words in the database: each enum is stored as its text (the same text as
//! before there were enums), and a text the enum does not know is a decoding error naming the
//! column, never a panic or a silent default.

use sqlx::any::AnyTypeInfo;
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::{Any, Database, Decode, Encode, Type};

use crate::domain::awb::{HearingOutcome, NotHandledGround};
use crate::domain::history::{Direction, HistoryEvent, MessageKind};
use crate::domain::inbound::AttachmentRole;
use crate::domain::procedure::{CaseOutcome, Category, Outcome};
use crate::domain::reference::{CaseId, CaseRef};
use crate::domain::vocabulary::{CaseSource, CaseStatus, MailKind, OutboxStatus};

macro_rules! stored_as_text {
    ($($t:ty),+) => {$(
        impl Type<Any> for $t {
            fn type_info() -> AnyTypeInfo {
                <str as Type<Any>>::type_info()
            }
        }
        impl<'q> Encode<'q, Any> for $t {
            fn encode_by_ref(&self, buf: &mut <Any as Database>::ArgumentBuffer) -> Result<IsNull, BoxDynError> {
                <&str as Encode<'q, Any>>::encode(self.as_str(), buf)
            }
        }
        impl<'r> Decode<'r, Any> for $t {
            fn decode(value: <Any as Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
                Ok(<&str as Decode<'r, Any>>::decode(value)?.parse::<$t>()?)
            }
        }
    )+};
}

stored_as_text!(
    MailKind,
    OutboxStatus,
    CaseStatus,
    CaseSource,
    Outcome,
    CaseOutcome,
    Category,
    NotHandledGround,
    HearingOutcome,
    Direction,
    MessageKind,
    AttachmentRole
);

/// A case's row id is stored as the integer it is.
impl Type<Any> for CaseId {
    fn type_info() -> AnyTypeInfo {
        <i64 as Type<Any>>::type_info()
    }
}

impl<'q> Encode<'q, Any> for CaseId {
    fn encode_by_ref(&self, buf: &mut <Any as Database>::ArgumentBuffer) -> Result<IsNull, BoxDynError> {
        <i64 as Encode<'q, Any>>::encode(self.get(), buf)
    }
}

impl<'r> Decode<'r, Any> for CaseId {
    fn decode(value: <Any as Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(CaseId::new(<i64 as Decode<'r, Any>>::decode(value)?))
    }
}

/// A case reference is stored as its text (`KL-2026-0001`); a stored text that is no
/// reference, or not in the form klachtd writes (which a lookup by the reference would then
/// miss), is a decoding error.
impl Type<Any> for CaseRef {
    fn type_info() -> AnyTypeInfo {
        <str as Type<Any>>::type_info()
    }
}

impl<'q> Encode<'q, Any> for CaseRef {
    fn encode_by_ref(&self, buf: &mut <Any as Database>::ArgumentBuffer) -> Result<IsNull, BoxDynError> {
        <String as Encode<'q, Any>>::encode(self.to_string(), buf)
    }
}

impl<'r> Decode<'r, Any> for CaseRef {
    fn decode(value: <Any as Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
        let text = <&str as Decode<'r, Any>>::decode(value)?;
        match CaseRef::parse_any(text) {
            Some(reference) if reference.to_string() == text => Ok(reference),
            _ => Err(format!("{text:?} is not a case reference as klachtd writes one").into()),
        }
    }
}

/// A history entry is stored as its text (`assigned`, `message-follow-up`, `progress-sent`).
impl Type<Any> for HistoryEvent {
    fn type_info() -> AnyTypeInfo {
        <str as Type<Any>>::type_info()
    }
}

impl<'q> Encode<'q, Any> for HistoryEvent {
    fn encode_by_ref(&self, buf: &mut <Any as Database>::ArgumentBuffer) -> Result<IsNull, BoxDynError> {
        <String as Encode<'q, Any>>::encode(self.to_string(), buf)
    }
}

impl<'r> Decode<'r, Any> for HistoryEvent {
    fn decode(value: <Any as Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(<&str as Decode<'r, Any>>::decode(value)?.parse::<HistoryEvent>()?)
    }
}
