//! A shared HTTP cache in front of a service, per RFC 9111: the rules computed by the
//! `http-cache-semantics` crate, the answers kept in a bounded concurrent store (`moka`).
//!
//! [`CacheLayer`] keys answers by the effective URL (scheme, host, port, mount prefix,
//! target) and the values of the request headers the answer's `Vary` names; `GET` answers
//! serve `HEAD` too. It honours `no-store`, `private` (never stored: the cache is shared),
//! `s-maxage`, `max-age`, `must-revalidate`, `no-cache`, an `Authorization` request (stored
//! only with `public`, `s-maxage` or `must-revalidate`, RFC 9111 §3.5) and `Set-Cookie`
//! (stored only with [`CacheConfig::store_set_cookie`]); `stale-while-revalidate` and
//! `stale-if-error` (RFC 5861). A stale answer is revalidated with `If-None-Match` /
//! `If-Modified-Since` and its body reused on a `304`. Served answers carry `Age` and a
//! `Cache-Status` (RFC 9211), and the client's own conditions and ranges are answered from
//! the stored answer. Concurrent misses for one URL make one upstream request, the others
//! waiting for it ([`CacheConfig::lock_timeout`]). Answers larger than
//! [`CacheConfig::max_object_size`] stream through uncached. Unsafe methods that succeed
//! invalidate their URL (§4.4). [`CacheStore::purge`] and [`CacheStore::purge_prefix`]
//! forget answers; [`PurgeService`] offers them to an admin listener.
//!
//! Put it where every request it sees has passed auth (the gateway puts it inside each
//! route): answers marked `private` are never stored, so one user's never reach another.
//!
//! # Example
//!
//! ```
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! use std::sync::Arc;
//! use tollgate::cache::{CacheConfig, CacheLayer, CacheStore};
//! use tollgate::{handler, testing::TestClient, Request, Response};
//! use tower::Layer;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let asked = Arc::new(AtomicUsize::new(0));
//! let counter = asked.clone();
//! let app = handler::from_fn(move |_req: Request| {
//!     counter.fetch_add(1, Ordering::SeqCst);
//!     async { Ok::<_, tollgate::HttpError>(Response::text("hello").header("cache-control", "max-age=60")) }
//! });
//! let store = CacheStore::new(CacheConfig::default());
//! let client = TestClient::new(CacheLayer::new(store).layer(app));
//! client.get("http://example.com/").send().await;
//! let res = client.get("http://example.com/").send().await;
//! assert!(res.header("cache-status").unwrap().starts_with("tollgate; hit"));
//! assert_eq!(asked.load(Ordering::SeqCst), 1);
//! # }
//! ```

mod config;
mod directives;
mod purge;
mod service;
mod store;

pub use self::config::CacheConfig;
pub use self::purge::{purge, PurgeService};
pub use self::service::{Cache, CacheFuture, CacheLayer, CACHE_STATUS};
pub use self::store::CacheStore;
