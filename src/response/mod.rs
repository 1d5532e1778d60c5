//! (in progress)

pub mod cache_control;
pub mod conditional;
pub mod etag;
pub mod range;
mod ranged;
