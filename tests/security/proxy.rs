//! What the proxy passes and shows: `Location`/`Set-Cookie` hosts, error pages, `CONNECT`, HTTP/1.0 upstreams (items 14-17).

#[allow(unused_imports)]
use crate::proxy_support::*;
