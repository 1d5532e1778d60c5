//! Forged identity headers: underscores, `Connection`, trailers, untrusted forwarding headers (items 1-5).

#[allow(unused_imports)]
use crate::proxy_support::*;
