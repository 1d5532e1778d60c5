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
use crate::syntax::network::client_key;

/// What a limit counts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Client { ipv6_prefix: u8 },
    User,
    Total,
}

impl Scope {
    fn name(self) -> &'static str {
        match self {
            Scope::Client { .. } => "client",
            Scope::User => "user",
            Scope::Total => "total",
        }
    }
}

/// The key a request is counted under.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Client(IpAddr),
    User(Arc<str>),
    Total,
}

/// How many checks between two sweeps of keys that are back to a full burst.
const SWEEP_EVERY: u32 = 4096;

struct Limiter {
    scope: Scope,
    rate: Rate,
    gcra: DefaultKeyedRateLimiter<Key>,
    checks: AtomicU32,
    policy: HeaderValue,
}

impl Limiter {
    /// `Ok` to pass, `Err(seconds to wait)` when over the limit.
    fn check(&self, key: &Key) -> Result<(), u64> {
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
            Scope::Client { .. } => Self::new(
                Scope::Client {
                    ipv6_prefix: bits.min(128),
                },
                self.limiter.rate,
            ),
            _ => self,
        }
    }

    /// The key of `req`, `None` when this limit does not apply to it.
    fn key<B>(&self, req: &Request<B>) -> Option<Key> {
        match self.limiter.scope {
            Scope::Client { ipv6_prefix } => Origin::of(req)
                .client_addr()
                .map(|ip| Key::Client(client_key(ip, ipv6_prefix))),
            Scope::User => req
                .extensions()
                .get::<AuthenticatedUser>()
                .map(|u| Key::User(u.0.clone())),
            Scope::Total => Some(Key::Total),
        }
    }

    /// The `429` for a request that must wait `secs` seconds.
    fn refusal(&self, secs: u64, headers: &http::HeaderMap) -> Response<Body> {
        let limiter = &self.limiter;
        let remaining = format!("\"{}\";r=0;t={secs}", limiter.scope.name());
        HttpError::too_many_requests(secs)
            .with_header(
                http::HeaderName::from_static("ratelimit-policy"),
                limiter.policy.clone(),
            )
            .with_header(
                http::HeaderName::from_static("ratelimit"),
                HeaderValue::from_str(&remaining).expect("digits and a known name"),
            )
            .into_response_for(headers)
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
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: http_body::Body<Data = Bytes> + Send + Sync + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let verdict = match self.layer.key(&req) {
            Some(key) => self.layer.limiter.check(&key),
            None => Ok(()),
        };
        match verdict {
            Ok(()) => ResponseFuture {
                inner: Inner::Passed {
                    future: self.inner.call(req),
                },
            },
            Err(secs) => {
                tracing::debug!(scope = self.layer.limiter.scope.name(), "rate limited");
                ResponseFuture {
                    inner: Inner::Limited {
                        response: Some(self.layer.refusal(secs, req.headers())),
                    },
                }
            }
        }
    }
}

pin_project! {
    /// The response of [`RateLimit`]: the inner service's, or a `429`.
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: Inner<F>,
    }
}

pin_project! {
    #[project = InnerProj]
    enum Inner<F> {
        Limited { response: Option<Response<Body>> },
        Passed { #[pin] future: F },
    }
}

impl<F, E, ResBody> Future for ResponseFuture<F>
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
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_share_a_bucket_per_64() {
        let layer = RateLimitLayer::per_client("1/h".parse().unwrap());
        let key = |ip: &str| Key::Client(client_key(ip.parse().unwrap(), 64));
        assert!(layer.limiter.check(&key("2001:db8::1")).is_ok());
        assert!(layer.limiter.check(&key("2001:db8::2")).is_err());
        assert!(layer.limiter.check(&key("2001:db9::1")).is_ok());
    }

    #[test]
    fn retry_after_rounds_up() {
        let layer = RateLimitLayer::total("1/90s".parse().unwrap());
        assert!(layer.limiter.check(&Key::Total).is_ok());
        let secs = layer.limiter.check(&Key::Total).unwrap_err();
        assert!((89..=90).contains(&secs), "{secs}");
    }
}
