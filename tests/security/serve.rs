//! Listener limits: tunnels against the connection cap, body deadlines, admin listener, pid file (items 9, 10, 18).

#[allow(unused_imports)]
use crate::proxy_support::*;
