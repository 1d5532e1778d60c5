//! Counting failed attempts, per client address and per (user, client), for the `429` after
//! too many, with a lock that grows each time it is hit again.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::layer::Shared;
use crate::store::StoreKey;

/// How many keys are tracked at most; past it, forgotten ones go first, then the oldest.
const MAX_TRACKED: usize = 65_536;

/// The longest lock: the back-off stops doubling here.
const MAX_LOCK: Duration = Duration::from_secs(24 * 3600);

pub(crate) use crate::syntax::network::client_key as peer_key;

/// The scope of a failure limit, the same in memory and in Redis: what it counts, how many,
/// over how long (`lockout 5/60000ms`).
pub(crate) fn scope(what: &str, (max, window): (u32, Duration)) -> String {
    format!("{what} {max}/{}ms", window.as_millis())
}

impl Shared {
    /// The key `peer`'s failures count under (`max_failures_per_peer`), in this process and
    /// in a shared store alike; `None` without that limit.
    pub(crate) fn peer_failures(&self, peer: IpAddr) -> Option<StoreKey> {
        let (scope, _) = &self.failure_scopes;
        let client = peer_key(peer, self.settings.failure_ipv6_prefix);
        Some(self.keys.key(scope.as_deref()?, None, Some(client)))
    }

    /// The key the failures of `user` from `peer` count under (`lockout`), in this process
    /// and in a shared store alike (a keyed hash: the name is never held); `None` without
    /// that limit.
    pub(crate) fn pair_failures(&self, peer: IpAddr, user: &str) -> Option<StoreKey> {
        let (_, scope) = &self.failure_scopes;
        let client = peer_key(peer, self.settings.failure_ipv6_prefix);
        Some(self.keys.key(scope.as_deref()?, Some(user), Some(client)))
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Failures in the window that started at `start`.
    count: u32,
    start: Instant,
    /// How many times the key was locked; each lock lasts twice the one before.
    strikes: u32,
    locked_until: Option<Instant>,
    last: Instant,
}

impl Entry {
    /// Whether the entry says nothing any more: not locked, and quiet for as long as its
    /// next lock would last.
    fn forgotten(&self, now: Instant, window: Duration) -> bool {
        let locked = self.locked_until.is_some_and(|until| until > now);
        !locked && now.duration_since(self.last) >= lock_for(window, self.strikes)
    }
}

/// `window` doubled `strikes` times, at most [`MAX_LOCK`] (at least `window`).
fn lock_for(window: Duration, strikes: u32) -> Duration {
    window
        .checked_mul(1u32 << strikes.min(20))
        .unwrap_or(MAX_LOCK)
        .min(MAX_LOCK)
        .max(window)
}

/// At most `max` failures per key within `window` (counted from the first); the key is then
/// locked for `window`, and each further lock of the same key lasts twice the one before (up
/// to a day), until the key has been quiet as long as its next lock would last.
pub(crate) struct FailureLimiter<K> {
    max: u32,
    window: Duration,
    keys: Mutex<HashMap<K, Entry>>,
}

impl<K: Hash + Eq + Copy> FailureLimiter<K> {
    pub(crate) fn new(max: u32, window: Duration) -> Self {
        FailureLimiter {
            max: max.max(1),
            window,
            keys: Mutex::new(HashMap::new()),
        }
    }

    /// `Some(seconds to wait)` while `key` is locked.
    pub(crate) fn retry_after(&self, key: &K) -> Option<u64> {
        let keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        let left = keys
            .get(key)?
            .locked_until?
            .checked_duration_since(Instant::now())?;
        Some(left.as_secs() + u64::from(left.subsec_nanos() > 0))
    }

    /// Counts one failure for `key`, locking it at the `max`-th in a window: then returns
    /// how long the new lock lasts (to log once per lock, not once per refused request).
    pub(crate) fn record(&self, key: K) -> Option<Duration> {
        let now = Instant::now();
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        if keys.len() >= MAX_TRACKED && !keys.contains_key(&key) {
            let window = self.window;
            keys.retain(|_, e| !e.forgotten(now, window));
            if keys.len() >= MAX_TRACKED {
                if let Some(oldest) = keys.iter().min_by_key(|(_, e)| e.last).map(|(k, _)| *k) {
                    keys.remove(&oldest);
                }
            }
        }
        let entry = keys.entry(key).or_insert(Entry {
            count: 0,
            start: now,
            strikes: 0,
            locked_until: None,
            last: now,
        });
        if entry.forgotten(now, self.window) {
            entry.strikes = 0;
        }
        if now.duration_since(entry.start) >= self.window {
            entry.count = 0;
            entry.start = now;
        }
        entry.count = entry.count.saturating_add(1);
        entry.last = now;
        if entry.count < self.max {
            return None;
        }
        let lock = lock_for(self.window, entry.strikes);
        entry.locked_until = Some(now + lock);
        entry.strikes = entry.strikes.saturating_add(1);
        entry.count = 0;
        entry.start = now;
        Some(lock)
    }

    /// Forgets `key` (its user logged in from there).
    pub(crate) fn forget(&self, key: &K) {
        self.keys
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
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
    fn locks_after_max_failures() {
        let limiter = FailureLimiter::new(3, Duration::from_secs(60));
        for _ in 0..3 {
            assert_eq!(limiter.retry_after(&PEER), None);
            limiter.record(PEER);
        }
        let wait = limiter.retry_after(&PEER).unwrap();
        assert!((59..=60).contains(&wait), "{wait}");
        let other = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(limiter.retry_after(&other), None);
    }

    #[test]
    fn each_lock_lasts_twice_the_one_before() {
        let limiter = FailureLimiter::new(1, Duration::from_secs(60));
        let mut waits = Vec::new();
        for _ in 0..4 {
            limiter.record(PEER);
            waits.push(limiter.retry_after(&PEER).unwrap());
        }
        let expected = [60, 120, 240, 480];
        for (wait, want) in waits.iter().zip(expected) {
            assert!((want - 1..=want).contains(wait), "{waits:?}");
        }
        assert_eq!(lock_for(Duration::from_secs(60), 40), MAX_LOCK);
        limiter.forget(&PEER);
        assert_eq!(limiter.retry_after(&PEER), None);
    }

    #[test]
    fn a_quiet_key_starts_afresh() {
        let limiter = FailureLimiter::new(2, Duration::from_millis(1));
        limiter.record(PEER);
        std::thread::sleep(Duration::from_millis(5));
        limiter.record(PEER);
        // The first failure's window had passed: one failure in this one, no lock.
        assert_eq!(limiter.retry_after(&PEER), None);
    }

    #[test]
    fn ipv6_addresses_of_one_64_count_together() {
        let key = |s: &str| peer_key(v6(s), 64);
        let limiter = FailureLimiter::new(3, Duration::from_secs(60));
        for host in ["2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::9"] {
            limiter.record(key(host));
        }
        assert!(limiter.retry_after(&key("2001:db8:1:2::77")).is_some());
        assert_eq!(
            limiter.retry_after(&key("2001:db8:1:3::1")),
            None,
            "next /64"
        );
    }

    #[test]
    fn pairs_are_per_user_and_client() {
        let keys = crate::store::KeyScheme::new(&[1; 16]).unwrap();
        let pair = |ip: IpAddr, user: &str| keys.key("lockout 1/60000ms", Some(user), Some(ip));
        let limiter = FailureLimiter::new(1, Duration::from_secs(60));
        limiter.record(pair(PEER, "ada"));
        assert!(limiter.retry_after(&pair(PEER, "ada")).is_some());
        assert_eq!(limiter.retry_after(&pair(PEER, "bob")), None);
        assert_eq!(limiter.retry_after(&pair(v6("2001:db8::1"), "ada")), None);
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
