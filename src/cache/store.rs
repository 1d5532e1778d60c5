//! [`CacheStore`]: the bounded, concurrent storage of answers (moka), their keys, and the
//! requests in flight that others wait for.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use bytes::Bytes;
use http::header::VARY;
use http::{HeaderMap, HeaderName};
use http_cache_semantics::CachePolicy;
use moka::sync::Cache as Moka;
use tokio::sync::watch;

use super::CacheConfig;

/// One stored answer: its policy (freshness, validators, the request it answered), its head
/// and its whole body.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) policy: CachePolicy,
    pub(crate) status: http::StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    /// When it stops being fresh (for the `stale-*` allowances).
    pub(crate) fresh_until: SystemTime,
    /// When it was stored, and its age then (`Age` from upstream caches, time in transit).
    pub(crate) stored_at: SystemTime,
    pub(crate) age_at_store: std::time::Duration,
}

impl Entry {
    /// An entry for `policy`'s answer, stored at `now`.
    pub(crate) fn new(
        policy: CachePolicy,
        status: http::StatusCode,
        headers: HeaderMap,
        body: Bytes,
        now: SystemTime,
    ) -> Self {
        Entry {
            fresh_until: now + policy.time_to_live(now),
            age_at_store: policy.age(now),
            stored_at: now,
            policy,
            status,
            headers,
            body,
        }
    }

    /// The head to serve at `now` when the entry is fresh and the request asks nothing of
    /// the cache (no `Cache-Control`, no `Pragma`): what `CachePolicy::before_request` would
    /// decide, without re-parsing the stored headers on every hit. The key already holds
    /// the URL and the `Vary` values. Returns the headers (with `Age`) and the seconds left.
    pub(crate) fn fresh_hit(
        &self,
        now: SystemTime,
        request: &HeaderMap,
    ) -> Option<(HeaderMap, u64)> {
        let left = self.fresh_until.duration_since(now).ok()?;
        if left.is_zero()
            || request.contains_key(http::header::CACHE_CONTROL)
            || request.contains_key(http::header::PRAGMA)
        {
            return None;
        }
        let age = self.age_at_store + now.duration_since(self.stored_at).unwrap_or_default();
        let mut headers = self.headers.clone();
        headers.insert(http::header::AGE, http::HeaderValue::from(age.as_secs()));
        Some((headers, left.as_secs()))
    }

    /// Seconds it has been stale at `now` (0 while fresh).
    pub(crate) fn stale_for(&self, now: SystemTime) -> u64 {
        now.duration_since(self.fresh_until)
            .map_or(0, |d| d.as_secs())
    }

    fn weight(&self, key: &str) -> u32 {
        let headers: usize = self
            .headers
            .iter()
            .map(|(k, v)| k.as_str().len() + v.len() + 4)
            .sum();
        u32::try_from(self.body.len() + headers + key.len() + 256).unwrap_or(u32::MAX)
    }
}

/// The shared store of the response cache: answers by key (the effective URL, then the values
/// of the request headers the answer's `Vary` names), bounded by
/// [`CacheConfig::max_size`]. Clones share it; one store serves every worker.
#[derive(Clone)]
pub struct CacheStore {
    entries: Moka<String, Arc<Entry>>,
    /// Each URL's generation and the `Vary` names of its answers: every key of the URL
    /// holds the generation, so forgetting this index entry forgets all its variants at once.
    vary: Moka<String, Arc<Index>>,
    in_flight: Arc<Mutex<HashMap<String, watch::Receiver<bool>>>>,
    pub(crate) config: Arc<CacheConfig>,
}

impl std::fmt::Debug for CacheStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CacheStore")
            .field("entries", &self.entries.entry_count())
            .field("bytes", &self.entries.weighted_size())
            .finish_non_exhaustive()
    }
}

/// What the keys of one URL's answers are made of.
#[derive(Debug)]
struct Index {
    /// Never reused: a URL forgotten and stored again gets a new one, so the answers stored
    /// before cannot be reached again (they age out of the store).
    generation: u64,
    names: Vec<HeaderName>,
}

static GENERATIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A request's part in fetching an answer others may want too.
pub(crate) enum Role {
    /// Fetch it; the others are told when the guard goes.
    Lead(LeadGuard),
    /// Another request is fetching it: wait for this to turn `true` (or close).
    Wait(watch::Receiver<bool>),
}

/// Held by the request fetching an answer; dropping it wakes the requests waiting for it.
pub(crate) struct LeadGuard {
    store: CacheStore,
    key: String,
    done: watch::Sender<bool>,
}

impl Drop for LeadGuard {
    fn drop(&mut self) {
        lock(&self.store.in_flight).remove(&self.key);
        let _ = self.done.send(true);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl CacheStore {
    /// An empty store with these limits.
    pub fn new(config: CacheConfig) -> Self {
        let entries = Moka::builder()
            .max_capacity(config.max_size)
            .weigher(|key: &String, entry: &Arc<Entry>| entry.weight(key))
            .build();
        CacheStore {
            entries,
            vary: Moka::builder().max_capacity(100_000).build(),
            in_flight: Arc::default(),
            config: Arc::new(config),
        }
    }

    /// The key of the answer to a request for `url` with these headers under `index`.
    fn key(url: &str, index: &Index, headers: &HeaderMap) -> String {
        let mut key = format!("{url}\n{}", index.generation);
        for name in &index.names {
            key.push('\n');
            key.push_str(name.as_str());
            key.push(':');
            for value in headers.get_all(name) {
                key.push_str(&String::from_utf8_lossy(value.as_bytes()));
                key.push(',');
            }
        }
        key
    }

    /// The stored answer for a request for `url` with these headers.
    pub(crate) fn get(&self, url: &str, headers: &HeaderMap) -> Option<Arc<Entry>> {
        let index = self.vary.get(url)?;
        self.entries.get(&Self::key(url, &index, headers))
    }

    /// Stores `entry`, the answer to a request for `url` with `headers`, and returns it. An
    /// answer with `Vary: *` is never stored (no request could match it).
    pub(crate) fn insert(&self, url: &str, headers: &HeaderMap, entry: Entry) -> Arc<Entry> {
        let entry = Arc::new(entry);
        let mut names: Vec<HeaderName> = Vec::new();
        for value in entry.headers.get_all(VARY) {
            for name in value.to_str().unwrap_or("*").split(',') {
                let name = name.trim();
                if name == "*" {
                    return entry;
                }
                if let Ok(name) = HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()) {
                    if !names.contains(&name) {
                        names.push(name);
                    }
                }
            }
        }
        names.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        let index = match self.vary.get(url) {
            Some(index) if index.names == names => index,
            found => {
                let generation = found.map_or_else(
                    || GENERATIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
                    |index| index.generation,
                );
                let index = Arc::new(Index { generation, names });
                self.vary.insert(url.to_owned(), index.clone());
                index
            }
        };
        self.entries
            .insert(Self::key(url, &index, headers), entry.clone());
        entry
    }

    /// Forgets what is stored for `url` at once, without looking at the other answers (an
    /// unsafe method succeeded on it, RFC 9111 §4.4).
    pub(crate) fn invalidate(&self, url: &str) {
        self.vary.invalidate(url);
    }

    /// Forgets every answer stored for `url` (all its variants). Returns how many were found
    /// (this looks at every stored key: an admin's tool, not a per-request one).
    pub fn purge(&self, url: &str) -> usize {
        self.vary.invalidate(url);
        let own = format!("{url}\n");
        self.purge_where(|key| key.starts_with(&own))
    }

    /// Forgets every answer whose URL starts with `prefix` (`http://example.com/api/`).
    /// Returns how many were found.
    pub fn purge_prefix(&self, prefix: &str) -> usize {
        let urls: Vec<Arc<String>> = self
            .vary
            .iter()
            .map(|(url, _)| url)
            .filter(|url| url.starts_with(prefix))
            .collect();
        for url in urls {
            self.vary.invalidate(url.as_str());
        }
        self.purge_where(|key| key.starts_with(prefix))
    }

    fn purge_where(&self, matches: impl Fn(&str) -> bool) -> usize {
        let keys: Vec<Arc<String>> = self
            .entries
            .iter()
            .map(|(k, _)| k)
            .filter(|k| matches(k))
            .collect();
        for key in &keys {
            self.entries.invalidate(key.as_str());
        }
        keys.len()
    }

    /// How many answers are stored, and their weight in bytes (after pending work is done).
    pub fn usage(&self) -> (u64, u64) {
        self.entries.run_pending_tasks();
        (self.entries.entry_count(), self.entries.weighted_size())
    }

    /// Leads the fetch of `url`'s answer, or waits for the request already leading it.
    pub(crate) fn join(&self, url: &str) -> Role {
        let mut in_flight = lock(&self.in_flight);
        if let Some(rx) = in_flight.get(url) {
            return Role::Wait(rx.clone());
        }
        let (done, rx) = watch::channel(false);
        in_flight.insert(url.to_owned(), rx);
        Role::Lead(LeadGuard {
            store: self.clone(),
            key: url.to_owned(),
            done,
        })
    }
}
