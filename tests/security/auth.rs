//! Credentials files, failure limits and exempt paths (issue items 6-8, 11-13).

#[allow(unused_imports)]
use crate::proxy_support::*;
