//! [`RateLimitLayer`], the [`RateLimit`] service and its future.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota};
use http::{HeaderValue, Request, Response};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use super::Rate;
use crate::body::{Body, BoxError};
use crate::error::HttpError;
use crate::ext::AuthenticatedUser;
use crate::origin::Origin;
use crate::store::{KeyScheme, StoreKey};
use crate::syntax::network::client_key;

/// What a limit counts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Client { ipv6_prefix: u8 },
    User,
    Total,
}

impl Scope {
    /// The metrics label of its `429`s.
    fn label(self) -> &'static str {
        match self {
            Scope::Total => "route",
            other => other.name(),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Scope::Client { .. } => "client",
            Scope::User => "user",
            Scope::Total => "total",
        }
    }
}

/// How many checks between two sweeps of keys that are back to a full burst.
const SWEEP_EVERY: u32 = 4096;

struct Limiter {
    scope: Scope,
    rate: Rate,
    /// Counts per [`StoreKey`], the key the Redis store would count under too.
    gcra: DefaultKeyedRateLimiter<StoreKey>,
    checks: AtomicU32,
    policy: HeaderValue,
    /// The scope string the keys are made under (the same on every replica).
    name: String,
    /// This process's scheme, or the shared store's (so its keys are the store's keys).
    keys: KeyScheme,
    /// The shared store.
    #[cfg(feature = "redis-store")]
    shared: Option<crate::store::RedisStore>,
}

impl Limiter {
    /// The key of a request by `user` from `client` (the one that applies to this limit).
    fn key(&self, user: Option<&str>, client: Option<IpAddr>) -> StoreKey {
        self.keys.key(&self.name, user, client)
    }

    /// `Ok` to pass, `Err(seconds to wait)` when over the limit.
    fn check(&self, key: &StoreKey) -> Result<(), u64> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            // Keys whose bucket is full again carry no information: forget them.
            self.gcra.retain_recent();
            self.gcra.shrink_to_fit();
        }
        self.gcra.check_key(key).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.gcra.clock().now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }
}

/// Limits the rate of requests, per client, per user or in total; see the
/// [module docs](super).
///
/// Cloning shares the counts.
#[must_use]
#[derive(Clone)]
pub struct RateLimitLayer {
    limiter: Arc<Limiter>,
}

impl std::fmt::Debug for RateLimitLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimitLayer")
            .field("scope", &self.limiter.scope)
            .field("rate", &self.limiter.rate)
            .finish_non_exhaustive()
    }
}

impl RateLimitLayer {
    fn new(scope: Scope, rate: Rate) -> Self {
        let name = match scope {
            Scope::Client { ipv6_prefix } => format!("client {rate} /{ipv6_prefix}"),
            other => format!("{} {rate}", other.name()),
        };
        let quota = Quota::with_period(rate.window() / rate.count())
            .unwrap_or_else(|| Quota::per_second(rate.count))
            .allow_burst(rate.count);
        let window = rate.window().as_secs().max(1);
        let policy = format!("\"{}\";q={};w={window}", scope.name(), rate.count());
        RateLimitLayer {
            limiter: Arc::new(Limiter {
                scope,
                rate,
                gcra: DefaultKeyedRateLimiter::keyed(quota),
                checks: AtomicU32::new(0),
                policy: HeaderValue::from_str(&policy).expect("digits and a known name"),
                name,
                keys: KeyScheme::per_process(),
                #[cfg(feature = "redis-store")]
                shared: None,
            }),
        }
    }

    /// `rate` per client address (IPv6 clients per `/64`).
    pub fn per_client(rate: Rate) -> Self {
        Self::new(Scope::Client { ipv6_prefix: 64 }, rate)
    }

    /// `rate` per authenticated user (put it inside the auth layer).
    pub fn per_user(rate: Rate) -> Self {
        Self::new(Scope::User, rate)
    }

    /// `rate` for all requests together.
    pub fn total(rate: Rate) -> Self {
        Self::new(Scope::Total, rate)
    }

    /// How many leading bits of an IPv6 client address a per-client limit counts by: `128`
    /// counts each address, `48` whole sites. Starts the counts afresh. Default is `64`.
    pub fn ipv6_prefix(self, bits: u8) -> Self {
        match self.limiter.scope {
            Scope::Client { .. } => {
                let remade = Self::new(
                    Scope::Client {
                        ipv6_prefix: bits.min(128),
                    },
                    self.limiter.rate,
                );
                #[cfg(feature = "redis-store")]
                if let Some(store) = &self.limiter.shared {
                    return remade.with_store(store.clone(), self.limiter.name.clone());
                }
                remade
            }
            _ => self,
        }
    }

    /// Names what this limit counts by `scope` in its keys (default: what it counts and its
    /// rate, `client 100/s /64`, `user 20/s`, `total 5/s`): two limits of one store that
    /// must count apart need different scopes; the same limit on every replica, the same one.
    /// Starts the counts afresh.
    pub fn scope(self, scope: impl Into<String>) -> Self {
        let fresh = Self::new(self.limiter.scope, self.limiter.rate);
        let mut limiter = Arc::into_inner(fresh.limiter).expect("just made");
        limiter.name = scope.into();
        limiter.keys = self.limiter.keys.clone();
        #[cfg(feature = "redis-store")]
        {
            limiter.shared = self.limiter.shared.clone();
        }
        RateLimitLayer {
            limiter: Arc::new(limiter),
        }
    }

    /// Counts in `store` under `scope` (the same scope string for every replica, e.g. what
    /// the limit counts and its rate), rather than in this process; while Redis cannot
    /// answer, the store's [`OnStoreError`](crate::store::OnStoreError) decides (`local`:
    /// this process's counts, under the same keys). Starts the counts afresh.
    #[cfg(feature = "redis-store")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis-store")))]
    pub fn with_store(self, store: crate::store::RedisStore, scope: impl Into<String>) -> Self {
        let fresh = Self::new(self.limiter.scope, self.limiter.rate);
        let mut limiter = Arc::into_inner(fresh.limiter).expect("just made");
        limiter.keys = store.keys().clone();
        limiter.name = scope.into();
        limiter.shared = Some(store);
        RateLimitLayer {
            limiter: Arc::new(limiter),
        }
    }

    /// The key of `req`, `None` when this limit does not apply to it.
    fn key<B>(&self, req: &Request<B>) -> Option<StoreKey> {
        let limiter = &self.limiter;
        match limiter.scope {
            Scope::Client { ipv6_prefix } => Origin::of(req)
                .client_addr()
                .map(|ip| limiter.key(None, Some(client_key(ip, ipv6_prefix)))),
            Scope::User => req
                .extensions()
                .get::<AuthenticatedUser>()
                .map(|u| limiter.key(Some(&u.0), None)),
            Scope::Total => Some(limiter.key(None, None)),
        }
    }

    /// The `429` for a request that must wait `secs` seconds.
    fn refusal(&self, secs: u64, headers: &http::HeaderMap) -> Response<Body> {
        let limiter = &self.limiter;
        tracing::debug!(scope = limiter.scope.name(), "rate limited");
        let remaining = format!("\"{}\";r=0;t={secs}", limiter.scope.name());
        let mut res = HttpError::too_many_requests(secs)
            .with_header(
                http::HeaderName::from_static("ratelimit-policy"),
                limiter.policy.clone(),
            )
            .with_header(
                http::HeaderName::from_static("ratelimit"),
                HeaderValue::from_str(&remaining).expect("digits and a known name"),
            )
            .into_response_for(headers);
        res.extensions_mut()
            .insert(crate::ext::RateLimited(limiter.scope.label()));
        res
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimit {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service made by [`RateLimitLayer`]: answers `429` by itself, or passes the request on.
#[derive(Clone, Debug)]
pub struct RateLimit<S> {
    inner: S,
    layer: RateLimitLayer,
}

impl<S> RateLimit<S> {
    define_inner_service_accessors!();
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for RateLimit<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: http_body::Body<Data = Bytes> + Send + Sync + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let Some(key) = self.layer.key(&req) else {
            return ResponseFuture::passed(self.inner.call(req));
        };
        #[cfg(feature = "redis-store")]
        if let Some(store) = &self.layer.limiter.shared {
            // The ready service goes into the future; this one keeps a fresh clone.
            let clone = self.inner.clone();
            let inner = std::mem::replace(&mut self.inner, clone);
            return ResponseFuture {
                inner: Inner::Shared {
                    future: Box::pin(shared_check(
                        self.layer.clone(),
                        store.clone(),
                        key,
                        inner,
                        req,
                    )),
                },
            };
        }
        match self.layer.limiter.check(&key) {
            Ok(()) => ResponseFuture::passed(self.inner.call(req)),
            Err(secs) => ResponseFuture {
                inner: Inner::Limited {
                    response: Some(self.layer.refusal(secs, req.headers())),
                },
            },
        }
    }
}

/// The check of a limit kept in Redis, then the inner service (or the `429`/`503`).
#[cfg(feature = "redis-store")]
async fn shared_check<S, ReqBody, ResBody>(
    layer: RateLimitLayer,
    store: crate::store::RedisStore,
    key: StoreKey,
    mut inner: S,
    req: Request<ReqBody>,
) -> Result<Response<Body>, S::Error>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: http_body::Body<Data = Bytes> + Send + Sync + 'static,
    ResBody::Error: Into<BoxError>,
{
    use crate::store::OnStoreError;
    let verdict = match store.check_rate(&key, layer.limiter.rate).await {
        Ok(verdict) => verdict,
        Err(_) => match store.on_error() {
            OnStoreError::Allow => Ok(()),
            OnStoreError::Deny => {
                return Ok(crate::store::unavailable(req.headers()));
            }
            _ => layer.limiter.check(&key),
        },
    };
    match verdict {
        Ok(()) => Ok(inner.call(req).await?.map(Body::new)),
        Err(secs) => Ok(layer.refusal(secs, req.headers())),
    }
}

/// A boxed future of the whole answer.
type Boxed<E> = Pin<Box<dyn Future<Output = Result<Response<Body>, E>> + Send>>;

pin_project! {
    /// The response of [`RateLimit`]: the inner service's, or a `429`.
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F, E> {
        #[pin]
        inner: Inner<F, E>,
    }
}

pin_project! {
    #[project = InnerProj]
    enum Inner<F, E> {
        Limited { response: Option<Response<Body>> },
        Passed { #[pin] future: F },
        Shared { future: Boxed<E> },
    }
}

impl<F, E> ResponseFuture<F, E> {
    fn passed(future: F) -> Self {
        ResponseFuture {
            inner: Inner::Passed { future },
        }
    }
}

impl<F, E, ResBody> Future for ResponseFuture<F, E>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    ResBody: http_body::Body<Data = Bytes> + Send + Sync + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Output = Result<Response<Body>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().inner.project() {
            InnerProj::Limited { response } => Poll::Ready(Ok(response
                .take()
                .expect("ResponseFuture polled after completion"))),
            InnerProj::Passed { future } => {
                Poll::Ready(ready!(future.poll(cx)).map(|r| r.map(Body::new)))
            }
            InnerProj::Shared { future } => future.as_mut().poll(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_share_a_bucket_per_64() {
        let layer = RateLimitLayer::per_client("1/h".parse().unwrap());
        let key = |ip: &str| {
            layer
                .limiter
                .key(None, Some(client_key(ip.parse().unwrap(), 64)))
        };
        assert!(layer.limiter.check(&key("2001:db8::1")).is_ok());
        assert!(layer.limiter.check(&key("2001:db8::2")).is_err());
        assert!(layer.limiter.check(&key("2001:db9::1")).is_ok());
    }

    /// Traefik#13706: the memory and the Redis store scoped a limit differently. Here both
    /// count a subject under the key one function makes (the Redis key is its text).
    #[cfg(feature = "redis-store")]
    #[test]
    fn the_memory_and_redis_stores_key_alike() {
        use crate::store::{OnStoreError, RedisStore};
        let secret = [9u8; 32];
        let store = RedisStore::new("redis://127.0.0.1/", &secret, OnStoreError::Local).unwrap();
        let rate = "100/s".parse().unwrap();
        let memory = RateLimitLayer::per_client(rate);
        let mut memory = Arc::into_inner(memory.limiter).unwrap();
        memory.keys = KeyScheme::new(&secret).unwrap();
        let redis = RateLimitLayer::per_client(rate).with_store(store.clone(), "client 100/s /64");
        let ip = |s: &str| Some(client_key(s.parse().unwrap(), 64));
        let key = memory.key(None, ip("192.0.2.1"));
        assert_eq!(key, redis.limiter.key(None, ip("192.0.2.1")));
        assert_eq!(key, store.key("client 100/s /64", None, ip("192.0.2.1")));
        assert_ne!(key, redis.limiter.key(None, ip("192.0.2.2")));
        assert_ne!(key, memory.key(None, ip("2001:db8::1")));
        let user = RateLimitLayer::per_user(rate).with_store(store, "user 100/s");
        assert_ne!(key, user.limiter.key(Some("ada"), None));
        assert!(!key.to_string().contains("192.0.2.1"));
    }

    #[test]
    fn retry_after_rounds_up() {
        let layer = RateLimitLayer::total("1/90s".parse().unwrap());
        let total = layer.limiter.key(None, None);
        assert!(layer.limiter.check(&total).is_ok());
        let secs = layer.limiter.check(&total).unwrap_err();
        assert!((89..=90).contains(&secs), "{secs}");
    }
}
