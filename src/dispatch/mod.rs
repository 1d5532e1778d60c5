//! (in progress)
pub(crate) mod host;
