//! A short cache of admissions, keyed by a digest of everything the auth service was asked.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use http::Request;
use sha2::{Digest, Sha256};

use super::ask::Admission;

/// The most admissions kept; past it, expired ones are dropped, and new ones are not kept
/// until there is room.
const MAX_ENTRIES: usize = 10_000;

/// The key of a question: SHA-256 of its method, target and every header sent, each
/// length-prefixed, so two questions share a key only if the auth service would have seen the
/// same request. Credentials (cookies, `Authorization`) are kept only as part of the digest.
pub(super) type Key = [u8; 32];

/// Admissions by the question that got them, each for `ttl`.
pub(super) struct AdmissionCache {
    ttl: Duration,
    entries: Mutex<HashMap<Key, (Instant, Admission)>>,
}

impl AdmissionCache {
    pub(super) fn new(ttl: Duration) -> Self {
        AdmissionCache {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The key of `question` (the request the auth service is sent).
    pub(super) fn key<B>(question: &Request<B>) -> Key {
        let mut digest = Sha256::new();
        let mut field = |bytes: &[u8]| {
            digest.update((bytes.len() as u64).to_be_bytes());
            digest.update(bytes);
        };
        field(question.method().as_str().as_bytes());
        field(question.uri().to_string().as_bytes());
        for (name, value) in question.headers() {
            field(name.as_str().as_bytes());
            field(value.as_bytes());
        }
        digest.finalize().into()
    }

    /// The admission for `key`, while it is fresh.
    pub(super) fn get(&self, key: &Key) -> Option<Admission> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let (until, admission) = entries.get(key)?;
        (Instant::now() < *until).then(|| admission.clone())
    }

    /// Keeps `admission` for `key` for the cache's time.
    pub(super) fn put(&self, key: Key, admission: &Admission) {
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, (until, _)| now < *until);
            if entries.len() >= MAX_ENTRIES {
                return;
            }
        }
        entries.insert(key, (now + self.ttl, admission.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderName, HeaderValue};

    fn pair(name: &str, value: &str) -> (HeaderName, HeaderValue) {
        (name.parse().unwrap(), value.parse().unwrap())
    }

    fn question(uri: &str, headers: &[(&str, &str)]) -> Request<()> {
        let mut req = Request::get(uri).body(()).unwrap();
        for (name, value) in headers {
            let (name, value) = pair(name, value);
            req.headers_mut().append(name, value);
        }
        req
    }

    #[test]
    fn keys_differ_by_everything_asked() {
        let base = AdmissionCache::key(&question("http://a/auth", &[("cookie", "s=1")]));
        for other in [
            question("http://a/auth", &[("cookie", "s=2")]),
            question("http://a/auth", &[("cookie", "s=1"), ("cookie", "")]),
            question("http://a/auth", &[("cookie", "s"), ("cookies", "=1")]),
            question(
                "http://a/auth",
                &[("x-forwarded-uri", "/x"), ("cookie", "s=1")],
            ),
            question("http://a/auth", &[]),
        ] {
            assert_ne!(AdmissionCache::key(&other), base, "{other:?}");
        }
        let same = question("http://a/auth", &[("cookie", "s=1")]);
        assert_eq!(AdmissionCache::key(&same), base);
    }

    #[test]
    fn an_admission_is_kept_for_its_time() {
        let admission = Admission {
            headers: vec![pair("remote-user", "alice")],
            user: Some("alice".into()),
        };
        let kept = AdmissionCache::new(Duration::from_secs(3600));
        kept.put([1; 32], &admission);
        assert_eq!(kept.get(&[1; 32]).unwrap().user.as_deref(), Some("alice"));
        assert!(kept.get(&[2; 32]).is_none());
        let gone = AdmissionCache::new(Duration::ZERO);
        gone.put([1; 32], &admission);
        assert!(gone.get(&[1; 32]).is_none());
    }
}
