//! Request rate limits per client address, per user or for everything a layer wraps, as a
//! generic cell-rate algorithm (GCRA, the [`governor`] crate): [`RateLimitLayer`].
//!
//! A rate `100/s` lets a key make 100 requests at once, then one more every 10 ms: the burst
//! is the count, refilled evenly over the window. A request over the limit is answered
//! `429 Too Many Requests` with `Retry-After` (whole seconds, rounded up) and the IETF
//! draft's `RateLimit-Policy` and `RateLimit` headers (`"client";q=100;w=1` and
//! `"client";r=0;t=3`).
//!
//! - [`RateLimitLayer::per_client`]: keyed by the client address as the forwarded layer
//!   resolved it ([`Origin::client_addr`](crate::origin::Origin::client_addr)); IPv6 clients
//!   by `/64` (see [`ipv6_prefix`](RateLimitLayer::ipv6_prefix)). A request without an
//!   address (in-process) is not limited.
//! - [`RateLimitLayer::per_user`]: keyed by the authenticated user; place it inside the auth
//!   layer. A request without a user is not limited by it.
//! - [`RateLimitLayer::total`]: one bucket for every request (a route's whole traffic).
//!
//! The state belongs to the layer: every service it makes, and their clones on any thread,
//! share it, so the limit holds across connections and workers (tower's own `RateLimit`
//! keeps its state per service clone, axum#2634). Keys unused for a while are forgotten as
//! requests come.
//!
//! # Example
//!
//! ```
//! use tollgate::ratelimit::{Rate, RateLimitLayer};
//! use tower::{service_fn, Layer, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let rate: Rate = "2/m".parse().unwrap();
//! let app = service_fn(|_req: http::Request<tollgate::Body>| async {
//!     Ok::<_, std::convert::Infallible>(http::Response::new(tollgate::Body::from("hi")))
//! });
//! let svc = RateLimitLayer::total(rate).layer(app);
//! let get = || http::Request::get("/").body(tollgate::Body::empty()).unwrap();
//! assert_eq!(svc.clone().oneshot(get()).await.unwrap().status(), 200);
//! assert_eq!(svc.clone().oneshot(get()).await.unwrap().status(), 200);
//! let res = svc.oneshot(get()).await.unwrap();
//! assert_eq!(res.status(), 429);
//! assert_eq!(res.headers()["retry-after"], "30");
//! assert_eq!(res.headers()["ratelimit-policy"], "\"total\";q=2;w=60");
//! # }
//! ```

mod layer;

use serde::Deserialize;

pub use self::layer::{RateLimit, RateLimitLayer, ResponseFuture};
pub use crate::syntax::rate::{Rate, RateError};

/// The gateway's `[rate_limit]` table: limits for every request (a route's own limit is its
/// `rate_limit` key).
///
/// ```
/// let config: tollgate::ratelimit::RateLimitConfig = toml::from_str(r#"
///     per_client = "100/s"
///     per_user = "20/s"
/// "#).unwrap();
/// assert_eq!(config.per_client.unwrap().count(), 100);
/// assert_eq!(config.ipv6_prefix, 64);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct RateLimitConfig {
    /// Requests per client address (as the trusted proxies reported it), checked before
    /// authentication. Default is none.
    pub per_client: Option<Rate>,
    /// Requests per authenticated user, checked after authentication. Default is none.
    pub per_user: Option<Rate>,
    /// How many leading bits of an IPv6 client address `per_client` counts by (0 to 128).
    /// Default is `64`.
    pub ipv6_prefix: u8,
    /// Where the counts of these limits, the routes' limits and `[auth]`'s lockout live:
    /// `"memory"` (this process) or `"redis://HOST:PORT/DB"`, shared by every replica that
    /// names the same server (see [`store`](crate::store) and `docs/scaling.md`). Default is
    /// `"memory"`.
    pub store: crate::store::StoreLocation,
    /// With a Redis store: a file of at least 16 random bytes, the same on every replica,
    /// that keys the hashes standing for user names and addresses in Redis (make one with
    /// `head -c 32 /dev/urandom > FILE`). Required with Redis; default is none.
    pub store_secret_file: Option<std::path::PathBuf>,
    /// What limits do while Redis cannot answer: `"local"` (count in this process
    /// meanwhile, logged once, counted in metrics), `"deny"` (`503`) or `"allow"`. Default is
    /// `"local"`.
    pub on_store_error: crate::store::OnStoreError,
}

impl RateLimitConfig {
    /// The Redis store these settings name, `None` for the memory store.
    ///
    /// # Errors
    ///
    /// A Redis store without a readable secret file of at least 16 bytes.
    #[cfg(feature = "redis-store")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis-store")))]
    pub fn redis_store(
        &self,
    ) -> Result<Option<crate::store::RedisStore>, crate::store::StoreConfigError> {
        let crate::store::StoreLocation::Redis(url) = &self.store else {
            return Ok(None);
        };
        let secret = self
            .store_secret_file
            .as_deref()
            .ok_or(crate::store::StoreConfigError::MissingSecret)?;
        crate::store::RedisStore::with_secret_file(url, secret, self.on_store_error).map(Some)
    }
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            per_client: None,
            per_user: None,
            ipv6_prefix: 64,
            store: crate::store::StoreLocation::Memory,
            store_secret_file: None,
            on_store_error: crate::store::OnStoreError::Local,
        }
    }
}
