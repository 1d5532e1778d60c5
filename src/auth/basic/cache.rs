//! The verification cache: a keyed hash of (user, password) per user, so a repeated request
//! costs an HMAC instead of an argon2 or bcrypt run.
//!
//! The map holds HMAC-SHA-256 tags under a per-process random key, never the password or a
//! plain hash of it; tags are compared in constant time; each entry remembers the stored hash
//! it was verified against, so a changed password in the credentials file invalidates it.
//! Only successes are cached.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type Tag = [u8; 32];

struct Entry {
    tag: Tag,
    stored: Arc<str>,
    expires: Instant,
}

/// Successful verifications, per user, for a time.
pub(crate) struct VerificationCache {
    mac: Hmac<Sha256>,
    ttl: Duration,
    max_entries: usize,
    entries: Mutex<HashMap<Box<str>, Entry>>,
}

impl VerificationCache {
    pub(crate) fn new(ttl: Duration, max_entries: usize) -> Self {
        let mut key = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
        VerificationCache {
            mac: Hmac::new_from_slice(&key).expect("HMAC takes keys of any length"),
            ttl,
            max_entries,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn enabled(&self) -> bool {
        !self.ttl.is_zero() && self.max_entries > 0
    }

    fn tag(&self, user: &str, password: &str) -> Tag {
        let mut mac = self.mac.clone();
        // Length-prefixed, so ("ab", "c") and ("a", "bc") differ.
        mac.update(&(user.len() as u64).to_be_bytes());
        mac.update(user.as_bytes());
        mac.update(password.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// Whether `user` with `password` was verified against `stored` within the TTL.
    pub(crate) fn check(&self, user: &str, password: &str, stored: &Arc<str>) -> bool {
        if !self.enabled() {
            return false;
        }
        let tag = self.tag(user, password);
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let Some(entry) = entries.get(user) else {
            return false;
        };
        let same_hash = Arc::ptr_eq(&entry.stored, stored) || *entry.stored == **stored;
        if now >= entry.expires || !same_hash {
            entries.remove(user);
            return false;
        }
        entry.tag.ct_eq(&tag).into()
    }

    /// Remembers a successful verification.
    pub(crate) fn insert(&self, user: &str, password: &str, stored: Arc<str>) {
        if !self.enabled() {
            return;
        }
        let entry = Entry {
            tag: self.tag(user, password),
            stored,
            expires: Instant::now() + self.ttl,
        };
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= self.max_entries && !entries.contains_key(user) {
            let now = Instant::now();
            entries.retain(|_, e| e.expires > now);
            if entries.len() >= self.max_entries {
                // Evict the entry closest to expiry; O(n) only when full of live entries.
                if let Some(victim) = entries
                    .iter()
                    .min_by_key(|(_, e)| e.expires)
                    .map(|(k, _)| k.clone())
                {
                    entries.remove(&victim);
                }
            }
        }
        entries.insert(user.into(), entry);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.lock().unwrap().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(s: &str) -> Arc<str> {
        Arc::from(s)
    }

    #[test]
    fn hit_after_insert_only_for_the_same_password() {
        let cache = VerificationCache::new(Duration::from_secs(60), 10);
        let h = stored("$hash");
        assert!(!cache.check("ada", "pw", &h));
        cache.insert("ada", "pw", h.clone());
        assert!(cache.check("ada", "pw", &h));
        assert!(!cache.check("ada", "pW", &h));
        assert!(!cache.check("bob", "pw", &h));
    }

    #[test]
    fn changed_stored_hash_invalidates() {
        let cache = VerificationCache::new(Duration::from_secs(60), 10);
        cache.insert("ada", "pw", stored("$old"));
        assert!(!cache.check("ada", "pw", &stored("$new")));
        assert!(
            !cache.check("ada", "pw", &stored("$old")),
            "entry was dropped"
        );
    }

    #[test]
    fn expires_after_ttl() {
        let cache = VerificationCache::new(Duration::from_millis(1), 10);
        let h = stored("$h");
        cache.insert("ada", "pw", h.clone());
        std::thread::sleep(Duration::from_millis(5));
        assert!(!cache.check("ada", "pw", &h));
    }

    #[test]
    fn bounded_size() {
        let cache = VerificationCache::new(Duration::from_secs(60), 3);
        let h = stored("$h");
        for i in 0..10 {
            cache.insert(&format!("user{i}"), "pw", h.clone());
        }
        assert_eq!(cache.len(), 3);
        assert!(cache.check("user9", "pw", &h));
    }

    #[test]
    fn disabled_by_zero_ttl_or_size() {
        let h = stored("$h");
        for cache in [
            VerificationCache::new(Duration::ZERO, 10),
            VerificationCache::new(Duration::from_secs(1), 0),
        ] {
            cache.insert("ada", "pw", h.clone());
            assert!(!cache.check("ada", "pw", &h));
        }
    }

    #[test]
    fn tags_are_length_prefixed_and_keyed() {
        let a = VerificationCache::new(Duration::from_secs(1), 1);
        let b = VerificationCache::new(Duration::from_secs(1), 1);
        assert_ne!(a.tag("ab", "c"), a.tag("a", "bc"));
        assert_ne!(a.tag("a", "b"), b.tag("a", "b"), "per-process random key");
    }
}
