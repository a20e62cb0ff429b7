//! Moved to [`crate::store::private_files`].

pub use crate::store::private_files::*;
