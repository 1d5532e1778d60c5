//! Counting failed attempts per peer address, for the optional `429` after too many.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How many peers are tracked at most; past it, expired windows are dropped, then the oldest.
const MAX_TRACKED_PEERS: usize = 65_536;

/// At most `max` failures per peer in a fixed window that starts at the first failure.
pub(crate) struct FailureLimiter {
    max: u32,
    window: Duration,
    peers: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

impl FailureLimiter {
    pub(crate) fn new(max: u32, window: Duration) -> Self {
        FailureLimiter {
            max,
            window,
            peers: Mutex::new(HashMap::new()),
        }
    }

    /// `Some(seconds to wait)` when `peer` has used up its failures in the current window.
    pub(crate) fn retry_after(&self, peer: IpAddr) -> Option<u64> {
        let peers = self.peers.lock().unwrap_or_else(|e| e.into_inner());
        let &(count, start) = peers.get(&peer)?;
        let elapsed = start.elapsed();
        if count < self.max || elapsed >= self.window {
            return None;
        }
        let left = self.window - elapsed;
        Some(left.as_secs() + u64::from(left.subsec_nanos() > 0))
    }

    /// Counts one failure for `peer`.
    pub(crate) fn record(&self, peer: IpAddr) {
        let now = Instant::now();
        let mut peers = self.peers.lock().unwrap_or_else(|e| e.into_inner());
        if peers.len() >= MAX_TRACKED_PEERS && !peers.contains_key(&peer) {
            peers.retain(|_, (_, start)| now.duration_since(*start) < self.window);
            if peers.len() >= MAX_TRACKED_PEERS {
                if let Some(oldest) = peers.iter().min_by_key(|(_, (_, s))| *s).map(|(k, _)| *k) {
                    peers.remove(&oldest);
                }
            }
        }
        let entry = peers.entry(peer).or_insert((0, now));
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

    #[test]
    fn limits_after_max_failures() {
        let limiter = FailureLimiter::new(3, Duration::from_secs(60));
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
        let limiter = FailureLimiter::new(1, Duration::from_millis(1));
        limiter.record(PEER);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(limiter.retry_after(PEER), None);
        limiter.record(PEER);
        assert!(limiter.peers.lock().unwrap()[&PEER].0 == 1);
    }
}
