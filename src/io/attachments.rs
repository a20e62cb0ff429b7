//! Moved to [`crate::store::attachments`]: the files the database names by hash are the store's.

pub use crate::store::attachments::*;
