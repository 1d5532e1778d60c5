//! The verification cache: a keyed hash of (user, password) per user, so a repeated request
//! costs an HMAC instead of an argon2 or bcrypt run.
//!
//! The map holds HMAC-SHA-256 tags under a per-process random key, never the password or a
//! plain hash of it; tags are compared in constant time; each entry remembers the stored hash
//! it was verified against, so a changed password in the credentials file invalidates it.
//!
//! Refusals are remembered apart, keyed by the tag alone, for [`REFUSED_TTL`]: the same
//! wrong guess again (from any address) is refused without a hash. Each remembers the stored
//! hash it was refused against, or none for an unknown user, so a changed password or a user
//! added since is verified afresh. Unknown users and wrong passwords are remembered alike, so
//! repeating either costs the same.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// A keyed hash of (user, password): how the cache and the verifications in progress know
/// credentials without holding them.
pub(crate) type Tag = [u8; 32];

/// How long a refused (user, password) pair is refused without a hash.
pub(crate) const REFUSED_TTL: Duration = Duration::from_secs(60);

/// How many refused pairs are remembered at most; past it, expired ones go, then the oldest.
const MAX_REFUSED: usize = 10_000;

struct Refusal {
    stored: Option<Arc<str>>,
    expires: Instant,
}

/// The refused pairs, and their tags in the order they were refused. Every refusal lives
/// [`REFUSED_TTL`], so that order is also the order they expire in: the oldest is at the front,
/// found without a scan (a storm of distinct guesses must not cost a pass over 10 000 entries
/// each, on the runtime thread).
#[derive(Default)]
struct Refusals {
    by_tag: HashMap<Tag, Refusal>,
    order: VecDeque<(Tag, Instant)>,
}

impl Refusals {
    /// Takes the front of `order` and forgets its refusal unless it was renewed or dropped
    /// since: `Some(true)` when one was forgotten, `None` when `order` is empty.
    fn forget_front(&mut self) -> Option<bool> {
        let (tag, expires) = self.order.pop_front()?;
        let current = self.by_tag.get(&tag).is_some_and(|r| r.expires == expires);
        if current {
            self.by_tag.remove(&tag);
        }
        Some(current)
    }
}

struct Entry {
    tag: Tag,
    stored: Arc<str>,
    expires: Instant,
}

/// What [`VerificationCache::recall`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Recall {
    /// Verified before against the same hash: let it in.
    Verified,
    /// Refused before against the same hash: refuse it again without a hash.
    Refused,
    /// Neither: verify it.
    Nothing,
}

/// Successful verifications, per user, for a time.
pub(crate) struct VerificationCache {
    mac: Hmac<Sha256>,
    ttl: Duration,
    max_entries: usize,
    entries: Mutex<HashMap<Box<str>, Entry>>,
    refused: Mutex<Refusals>,
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
            refused: Mutex::default(),
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

    /// What is remembered of `user` with `password` (`stored`: the user's hash, `None` for an
    /// unknown user): verified against that hash within the TTL, refused within
    /// [`REFUSED_TTL`], or nothing. One tag and the same two lookups whether the user exists
    /// or not, so that an unknown user's answer takes as long. With the tag it looked up.
    pub(crate) fn recall(
        &self,
        user: &str,
        password: &str,
        stored: Option<&Arc<str>>,
    ) -> (Recall, Tag) {
        let tag = self.tag(user, password);
        let recalled = if self.verified(user, &tag, stored) {
            Recall::Verified
        } else if self.refused_before(&tag, stored) {
            Recall::Refused
        } else {
            Recall::Nothing
        };
        (recalled, tag)
    }

    /// Whether `user` with `password` was verified against `stored` within the TTL.
    #[cfg(test)]
    fn check(&self, user: &str, password: &str, stored: &Arc<str>) -> bool {
        self.verified(user, &self.tag(user, password), Some(stored))
    }

    fn verified(&self, user: &str, tag: &Tag, stored: Option<&Arc<str>>) -> bool {
        if !self.enabled() {
            return false;
        }
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        // Looked up for an unknown user too (never found): the same work either way.
        let (Some(entry), Some(stored)) = (entries.get(user), stored) else {
            return false;
        };
        let same_hash = Arc::ptr_eq(&entry.stored, stored) || *entry.stored == **stored;
        if now >= entry.expires || !same_hash {
            entries.remove(user);
            return false;
        }
        entry.tag.ct_eq(tag).into()
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

    /// Whether `user` with `password` was refused within [`REFUSED_TTL`] against the same
    /// stored hash (`None`: the user was unknown then and is now).
    #[cfg(test)]
    fn was_refused(&self, user: &str, password: &str, stored: Option<&Arc<str>>) -> bool {
        self.refused_before(&self.tag(user, password), stored)
    }

    fn refused_before(&self, tag: &Tag, stored: Option<&Arc<str>>) -> bool {
        let mut refused = self.refused.lock().unwrap_or_else(|e| e.into_inner());
        let Some(refusal) = refused.by_tag.get(tag) else {
            return false;
        };
        let same = match (&refusal.stored, stored) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b) || **a == **b,
            (None, None) => true,
            _ => false,
        };
        if !same || Instant::now() >= refusal.expires {
            refused.by_tag.remove(tag);
            return false;
        }
        true
    }

    /// Remembers a refusal of `user` with `password` against `stored`.
    pub(crate) fn refuse(&self, user: &str, password: &str, stored: Option<Arc<str>>) {
        let tag = self.tag(user, password);
        let now = Instant::now();
        let mut refused = self.refused.lock().unwrap_or_else(|e| e.into_inner());
        // Expired refusals leave from the front; past the bound, the oldest live one too.
        while refused
            .order
            .front()
            .is_some_and(|(_, expires)| *expires <= now)
        {
            refused.forget_front();
        }
        while refused.by_tag.len() >= MAX_REFUSED && !refused.by_tag.contains_key(&tag) {
            if refused.forget_front().is_none() {
                break;
            }
        }
        let expires = now + REFUSED_TTL;
        refused.order.push_back((tag, expires));
        refused.by_tag.insert(tag, Refusal { stored, expires });
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
    fn a_refusal_holds_for_the_same_pair_and_stored_hash_only() {
        let cache = VerificationCache::new(Duration::from_secs(60), 10);
        let h = stored("$h");
        cache.refuse("ada", "guess", Some(h.clone()));
        assert!(cache.was_refused("ada", "guess", Some(&h)));
        assert!(
            cache.was_refused("ada", "guess", Some(&stored("$h"))),
            "same text"
        );
        assert!(!cache.was_refused("ada", "guess2", Some(&h)));
        assert!(!cache.was_refused("bob", "guess", Some(&h)));
        assert!(
            !cache.was_refused("ada", "guess", Some(&stored("$new"))),
            "password changed"
        );
        assert!(
            !cache.was_refused("ada", "guess", Some(&h)),
            "dropped with the change"
        );

        cache.refuse("nobody", "pw", None);
        assert!(cache.was_refused("nobody", "pw", None));
        assert!(
            !cache.was_refused("nobody", "pw", Some(&h)),
            "the user was added"
        );
        // Refusals are kept when the success cache is off.
        let off = VerificationCache::new(Duration::ZERO, 0);
        off.refuse("ada", "guess", None);
        assert!(off.was_refused("ada", "guess", None));
    }

    #[test]
    fn refusals_are_bounded() {
        let cache = VerificationCache::new(Duration::from_secs(60), 10);
        for i in 0..MAX_REFUSED + 5 {
            cache.refuse("ada", &i.to_string(), None);
        }
        assert_eq!(cache.refused.lock().unwrap().by_tag.len(), MAX_REFUSED);
        assert!(cache.was_refused("ada", &(MAX_REFUSED + 4).to_string(), None));
        // The oldest went first.
        assert!(!cache.was_refused("ada", "4", None));
        assert!(cache.was_refused("ada", "5", None));
    }

    #[test]
    fn tags_are_length_prefixed_and_keyed() {
        let a = VerificationCache::new(Duration::from_secs(1), 1);
        let b = VerificationCache::new(Duration::from_secs(1), 1);
        assert_ne!(a.tag("ab", "c"), a.tag("a", "bc"));
        assert_ne!(a.tag("a", "b"), b.tag("a", "b"), "per-process random key");
    }
}
