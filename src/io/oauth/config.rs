//! The `[oauth2]` section lives in [`crate::config::oauth`]; its names stay reachable here.

pub use crate::config::oauth::*;
