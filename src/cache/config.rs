//! [`CacheConfig`]: the size of the shared response cache and what it may keep, as the
//! `[cache]` table spells it.

use std::time::Duration;

use serde::Deserialize;

/// The response cache's limits and options.
///
/// ```
/// use tollgate::cache::CacheConfig;
///
/// let config: CacheConfig = serde_json::from_str(r#"{"max_size": "64M", "max_object_size": "256k"}"#).unwrap();
/// assert_eq!(config.max_size, 64 << 20);
/// assert_eq!(config.max_object_size, 256 << 10);
/// assert!(!config.store_set_cookie);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct CacheConfig {
    /// The most bytes the cache holds (bodies, headers and keys); the least recently and
    /// least frequently used answers go first. Default is `256M`.
    #[serde(deserialize_with = "crate::syntax::size::deserialize")]
    pub max_size: u64,
    /// Answers larger than this are passed on as they stream and never stored (nor buffered
    /// past this many bytes). Default is `1M`.
    #[serde(deserialize_with = "crate::syntax::size::deserialize")]
    pub max_object_size: u64,
    /// Store answers that carry `Set-Cookie` (the cookie is then given to every client the
    /// stored answer is served to). Default is `false`: such answers pass uncached.
    pub store_set_cookie: bool,
    /// How long requests for an answer that another request is already fetching wait for it
    /// before asking the upstream themselves (nginx's `proxy_cache_lock_timeout`). Default is
    /// `5s`.
    #[serde(deserialize_with = "crate::syntax::duration::deserialize")]
    pub lock_timeout: Duration,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            max_size: 256 << 20,
            max_object_size: 1 << 20,
            store_set_cookie: false,
            lock_timeout: Duration::from_secs(5),
        }
    }
}
