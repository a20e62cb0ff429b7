//! The domain's words in the database: each enum is stored as its text (the same text as
//! before there were enums), and a text the enum does not know is a decoding error naming the
//! column, never a panic or a silent default.

use sqlx::any::AnyTypeInfo;
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::{Any, Database, Decode, Encode, Type};

use crate::domain::procedure::{Category, Outcome};
use crate::domain::vocabulary::{CaseStatus, MailKind, OutboxStatus};

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

stored_as_text!(MailKind, OutboxStatus, CaseStatus, Outcome, Category);
