//! Counting failed attempts per peer address, for the optional `429` after too many.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How many peers are tracked at most; past it, expired windows are dropped, then the oldest.
const MAX_TRACKED_PEERS: usize = 65_536;

/// At most `max` failures per peer in a fixed window that starts at the first failure.
///
/// A peer is an IPv4 address, or an IPv6 network of `ipv6_prefix` bits: one client usually
/// holds a whole `/64` and could otherwise rotate through its addresses.
pub(crate) struct FailureLimiter {
    max: u32,
    window: Duration,
    ipv6_prefix: u8,
    peers: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

pub(crate) use crate::syntax::network::client_key as peer_key;

impl FailureLimiter {
    pub(crate) fn new(max: u32, window: Duration, ipv6_prefix: u8) -> Self {
        FailureLimiter {
            max,
            window,
            ipv6_prefix,
            peers: Mutex::new(HashMap::new()),
        }
    }

    /// `Some(seconds to wait)` when `peer` has used up its failures in the current window.
    pub(crate) fn retry_after(&self, peer: IpAddr) -> Option<u64> {
        let key = peer_key(peer, self.ipv6_prefix);
        let peers = self.peers.lock().unwrap_or_else(|e| e.into_inner());
        let &(count, start) = peers.get(&key)?;
        let elapsed = start.elapsed();
        if count < self.max || elapsed >= self.window {
            return None;
        }
        let left = self.window - elapsed;
        Some(left.as_secs() + u64::from(left.subsec_nanos() > 0))
    }

    /// Counts one failure for `peer`.
    pub(crate) fn record(&self, peer: IpAddr) {
        let key = peer_key(peer, self.ipv6_prefix);
        let now = Instant::now();
        let mut peers = self.peers.lock().unwrap_or_else(|e| e.into_inner());
        if peers.len() >= MAX_TRACKED_PEERS && !peers.contains_key(&key) {
            peers.retain(|_, (_, start)| now.duration_since(*start) < self.window);
            if peers.len() >= MAX_TRACKED_PEERS {
                if let Some(oldest) = peers.iter().min_by_key(|(_, (_, s))| *s).map(|(k, _)| *k) {
                    peers.remove(&oldest);
                }
            }
        }
        let entry = peers.entry(key).or_insert((0, now));
        if now.duration_since(entry.1) >= self.window {
            *entry = (0, now);
        }
        entry.0 = entry.0.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    fn v6(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn limits_after_max_failures() {
        let limiter = FailureLimiter::new(3, Duration::from_secs(60), 64);
        for _ in 0..3 {
            assert_eq!(limiter.retry_after(PEER), None);
            limiter.record(PEER);
        }
        let wait = limiter.retry_after(PEER).unwrap();
        assert!((1..=60).contains(&wait), "{wait}");
        let other = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(limiter.retry_after(other), None);
    }

    #[test]
    fn window_resets() {
        let limiter = FailureLimiter::new(1, Duration::from_millis(1), 64);
        limiter.record(PEER);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(limiter.retry_after(PEER), None);
        limiter.record(PEER);
        assert!(limiter.peers.lock().unwrap()[&PEER].0 == 1);
    }

    #[test]
    fn ipv6_addresses_of_one_64_count_together() {
        let limiter = FailureLimiter::new(3, Duration::from_secs(60), 64);
        for host in ["2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::9"] {
            limiter.record(v6(host));
        }
        assert!(limiter.retry_after(v6("2001:db8:1:2::77")).is_some());
        assert_eq!(limiter.retry_after(v6("2001:db8:1:3::1")), None, "next /64");
    }

    #[test]
    fn ipv6_prefix_128_counts_each_address() {
        let limiter = FailureLimiter::new(1, Duration::from_secs(60), 128);
        limiter.record(v6("2001:db8::1"));
        assert!(limiter.retry_after(v6("2001:db8::1")).is_some());
        assert_eq!(limiter.retry_after(v6("2001:db8::2")), None);
    }

    #[test]
    fn peer_keys() {
        let cases = [
            ("v4 as is", "192.0.2.7", 64, "192.0.2.7"),
            ("mapped v4 as v4", "::ffff:192.0.2.7", 64, "192.0.2.7"),
            ("v6 /64", "2001:db8:a:b:c:d:e:f", 64, "2001:db8:a:b::"),
            ("v6 /48", "2001:db8:a:b:c:d:e:f", 48, "2001:db8:a::"),
            ("v6 /128", "2001:db8::f", 128, "2001:db8::f"),
            ("v6 /0", "2001:db8::f", 0, "::"),
            ("above 128 is 128", "2001:db8::f", 200, "2001:db8::f"),
        ];
        for (name, addr, prefix, key) in cases {
            assert_eq!(peer_key(v6(addr), prefix), v6(key), "{name}");
        }
    }
}
