//! Counters for a running gateway, rendered in the Prometheus text format.
//!
//! [`Metrics`] is a cheap handle to one registry; [`Metrics::layer`] counts the requests of a
//! route by status, and [`Metrics::render`] writes every counter:
//!
//! - `tollgate_requests_total{route, status}`: answered requests;
//! - `tollgate_upstream_errors_total{upstream}`: proxied requests an upstream failed;
//! - `tollgate_auth_failures_total`: answers the auth layer gave for missing or wrong credentials;
//! - `tollgate_access_denied_total{rule}`: `403`s of the access rules, by the rule that refused;
//! - `tollgate_rate_limited_total{scope}`: `429`s of the limits, by what they count (`client`,
//!   `user`, `route`, `lockout`);
//! - `tollgate_limits_store_errors_total`: limit checks a Redis limits store could not answer
//!   (each then followed `on_store_error`), once [`Metrics::count_store_errors`] names it;
//! - `tollgate_in_flight_requests`: requests being answered now;
//! - `tollgate_request_duration_seconds`: a latency histogram, time to the response head;
//! - what [`Metrics::render_also`] adds: the gateway adds `tollgate_certificate_expiry_seconds`
//!   and `tollgate_acme_renewal_failures_total` for its ACME certificates.
//!
//! [`Metrics::exporter`] serves them to Prometheus.
//!
//! Failures are read from the markers the auth layer and the proxy put on responses
//! ([`ext::AuthFailure`], [`ext::UpstreamFailure`]).
//!
//! # Example
//!
//! ```
//! use tollgate::{echo::EchoService, metrics::Metrics, testing::TestClient};
//! use tower::Layer;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let metrics = Metrics::new();
//! let client = TestClient::new(metrics.layer("echo").layer(EchoService::new()));
//! client.get("/").send().await;
//! assert!(metrics.render().contains(r#"tollgate_requests_total{route="echo",status="200"} 1"#));
//! # }
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use pin_project_lite::pin_project;

use crate::ext;

/// Upper bounds of the latency histogram's buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// A handle to one set of counters; clones share them.
#[derive(Clone, Default)]
pub struct Metrics {
    inner: Arc<Registry>,
}

#[derive(Default)]
struct Registry {
    requests: Mutex<BTreeMap<(Arc<str>, u16), u64>>,
    upstream_errors: Mutex<BTreeMap<Arc<str>, u64>>,
    auth_failures: AtomicU64,
    denied: Mutex<BTreeMap<Arc<str>, u64>>,
    rate_limited: Mutex<BTreeMap<&'static str, u64>>,
    store_errors: Mutex<Option<StoreErrors>>,
    more: Mutex<Vec<MoreMetrics>>,
    cache: Mutex<BTreeMap<&'static str, u64>>,
    in_flight: AtomicI64,
    buckets: [AtomicU64; BUCKETS.len()],
    duration_count: AtomicU64,
    duration_micros: AtomicU64,
}

/// Reads a limits store's error count.
type StoreErrors = Box<dyn Fn() -> u64 + Send + Sync>;

/// Writes metrics kept elsewhere.
type MoreMetrics = Box<dyn Fn(&mut String) + Send + Sync>;

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// A layer that counts the requests of the route named `route`.
    pub fn layer(&self, route: &str) -> MetricsLayer {
        MetricsLayer {
            metrics: self.clone(),
            route: RouteName::Fixed(Arc::from(route)),
        }
    }

    /// A layer in front of several routes that names each request's route with `route`
    /// (called with the request's head — method, target, headers, extensions — before the inner
    /// service runs),
    /// so answers given before routing, such as a `401`, count under the route too.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tollgate::{echo::EchoService, metrics::Metrics, testing::TestClient};
    /// use tower::Layer;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let metrics = Metrics::new();
    /// let layer = metrics.layer_with(|head| {
    ///     Arc::from(if head.uri.path().starts_with("/api") { "api" } else { "site" })
    /// });
    /// let client = TestClient::new(layer.layer(EchoService::new()));
    /// client.get("/api/x").send().await;
    /// assert!(metrics.render().contains(r#"tollgate_requests_total{route="api",status="200"} 1"#));
    /// # }
    /// ```
    pub fn layer_with<F>(&self, route: F) -> MetricsLayer
    where
        F: Fn(&http::request::Parts) -> Arc<str> + Send + Sync + 'static,
    {
        MetricsLayer {
            metrics: self.clone(),
            route: RouteName::Dynamic(Arc::new(route)),
        }
    }

    fn record<B>(&self, route: &Arc<str>, res: &http::Response<B>, elapsed: Duration) {
        let r = &self.inner;
        *lock(&r.requests)
            .entry((route.clone(), res.status().as_u16()))
            .or_default() += 1;
        if res.extensions().get::<ext::AuthFailure>().is_some() {
            r.auth_failures.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(ext::RateLimited(scope)) = res.extensions().get() {
            *lock(&r.rate_limited).entry(scope).or_default() += 1;
        }
        if let Some(decision) = res.extensions().get::<ext::AccessDecision>() {
            if !decision.allowed {
                *lock(&r.denied).entry(decision.rule.clone()).or_default() += 1;
            }
        }
        if let Some(outcome) = res.extensions().get::<ext::CacheOutcome>() {
            *lock(&r.cache).entry(cache_label(outcome)).or_default() += 1;
        }
        if let Some(ext::UpstreamFailure(upstream)) = res.extensions().get() {
            *lock(&r.upstream_errors)
                .entry(upstream.clone())
                .or_default() += 1;
        }
        let secs = elapsed.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|&upper| secs <= upper) {
            r.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        r.duration_count.fetch_add(1, Ordering::Relaxed);
        r.duration_micros.fetch_add(
            elapsed.as_micros().min(u64::MAX as u128) as u64,
            Ordering::Relaxed,
        );
    }

    /// Every counter in the Prometheus text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let r = &self.inner;
        let mut out = String::new();
        out.push_str("# HELP tollgate_requests_total Requests answered, by route and status.\n");
        out.push_str("# TYPE tollgate_requests_total counter\n");
        for ((route, status), n) in lock(&r.requests).iter() {
            let _ = writeln!(
                out,
                "tollgate_requests_total{{route=\"{}\",status=\"{status}\"}} {n}",
                label(route)
            );
        }
        out.push_str(
            "# HELP tollgate_upstream_errors_total Proxied requests an upstream failed.\n",
        );
        out.push_str("# TYPE tollgate_upstream_errors_total counter\n");
        for (upstream, n) in lock(&r.upstream_errors).iter() {
            let _ = writeln!(
                out,
                "tollgate_upstream_errors_total{{upstream=\"{}\"}} {n}",
                label(upstream)
            );
        }
        let cache = lock(&r.cache);
        if !cache.is_empty() {
            out.push_str(
                "# HELP tollgate_cache_total Answers of the response cache, by outcome.\n\
                 # TYPE tollgate_cache_total counter\n",
            );
            for (outcome, n) in cache.iter() {
                let _ = writeln!(out, "tollgate_cache_total{{outcome=\"{outcome}\"}} {n}");
            }
        }
        drop(cache);
        self.render_limits(&mut out);
        let _ = write!(
            out,
            "# HELP tollgate_auth_failures_total Answers given for missing or wrong credentials.\n\
             # TYPE tollgate_auth_failures_total counter\ntollgate_auth_failures_total {}\n\
             # HELP tollgate_in_flight_requests Requests being answered now.\n\
             # TYPE tollgate_in_flight_requests gauge\ntollgate_in_flight_requests {}\n\
             # HELP tollgate_request_duration_seconds Time to the response head.\n\
             # TYPE tollgate_request_duration_seconds histogram\n",
            r.auth_failures.load(Ordering::Relaxed),
            r.in_flight.load(Ordering::Relaxed),
        );
        let mut cumulative = 0;
        for (upper, bucket) in BUCKETS.iter().zip(&r.buckets) {
            cumulative += bucket.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "tollgate_request_duration_seconds_bucket{{le=\"{upper}\"}} {cumulative}"
            );
        }
        let count = r.duration_count.load(Ordering::Relaxed);
        let sum = r.duration_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = write!(
            out,
            "tollgate_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}\n\
             tollgate_request_duration_seconds_sum {sum}\ntollgate_request_duration_seconds_count {count}\n"
        );
        for more in lock(&r.more).iter() {
            more(&mut out);
        }
        out
    }
}

impl Metrics {
    /// Renders `tollgate_limits_store_errors_total` from `errors` (a limits store's count of
    /// checks it could not answer, e.g. [`RedisStore::errors`]); a later call replaces it.
    ///
    /// [`RedisStore::errors`]: https://docs.rs/tollgate/latest/tollgate/store/struct.RedisStore.html#method.errors
    pub fn count_store_errors(&self, errors: impl Fn() -> u64 + Send + Sync + 'static) {
        *lock(&self.inner.store_errors) = Some(Box::new(errors));
    }

    /// Has [`render`](Self::render) end with what `write` writes (metrics kept elsewhere, in
    /// the Prometheus text format), e.g. [`AcmeStatus::render`]'s certificate expiry.
    ///
    /// [`AcmeStatus::render`]: https://docs.rs/tollgate/latest/tollgate/acme/struct.AcmeStatus.html#method.render
    pub fn render_also(&self, write: impl Fn(&mut String) + Send + Sync + 'static) {
        lock(&self.inner.more).push(Box::new(write));
    }

    /// The access, rate-limit and store counters.
    fn render_limits(&self, out: &mut String) {
        let r = &self.inner;
        out.push_str(
            "# HELP tollgate_access_denied_total Requests refused by an access rule, by rule.\n\
             # TYPE tollgate_access_denied_total counter\n",
        );
        for (rule, n) in lock(&r.denied).iter() {
            let _ = writeln!(
                out,
                "tollgate_access_denied_total{{rule=\"{}\"}} {n}",
                label(rule)
            );
        }
        out.push_str(
            "# HELP tollgate_rate_limited_total Requests refused by a limit, by what it counts.\n\
             # TYPE tollgate_rate_limited_total counter\n",
        );
        for (scope, n) in lock(&r.rate_limited).iter() {
            let _ = writeln!(out, "tollgate_rate_limited_total{{scope=\"{scope}\"}} {n}");
        }
        if let Some(errors) = lock(&r.store_errors).as_ref() {
            let _ = write!(
                out,
                "# HELP tollgate_limits_store_errors_total Limit checks the limits store could \
                 not answer.\n# TYPE tollgate_limits_store_errors_total counter\n\
                 tollgate_limits_store_errors_total {}\n",
                errors()
            );
        }
    }
}

/// The `outcome` label of a cache answer.
fn cache_label(outcome: &ext::CacheOutcome) -> &'static str {
    match outcome {
        ext::CacheOutcome::Hit { .. } => "hit",
        ext::CacheOutcome::Miss { .. } => "miss",
        ext::CacheOutcome::Revalidated => "revalidated",
        ext::CacheOutcome::Stale { .. } => "stale",
        _ => "bypass",
    }
}

impl Metrics {
    /// A service that serves [`render`](Self::render) to every `GET` and `HEAD` it gets
    /// (`text/plain; version=0.0.4`), and a `405` with `Allow: GET, HEAD` to other methods.
    /// Route it where Prometheus scrapes, on a listener the public cannot reach.
    ///
    /// ```
    /// use tollgate::dispatch::{any, Dispatch};
    /// use tollgate::metrics::Metrics;
    /// use tollgate::testing::TestClient;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let metrics = Metrics::new();
    /// let admin = Dispatch::new().route("/metrics", any(metrics.exporter())).build().unwrap();
    /// let text = TestClient::new(admin).get("/metrics").send().await.text().await;
    /// assert!(text.contains("# TYPE tollgate_requests_total counter"));
    /// # }
    /// ```
    pub fn exporter(&self) -> Exporter {
        Exporter {
            metrics: self.clone(),
        }
    }
}

/// Serves the counters in the Prometheus text format; see [`Metrics::exporter`].
#[derive(Clone, Debug)]
#[must_use]
pub struct Exporter {
    metrics: Metrics,
}

impl<B> tower_service::Service<http::Request<B>> for Exporter {
    type Response = http::Response<crate::body::Body>;
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        use http::Method;
        let res = if req.method() == Method::GET || req.method() == Method::HEAD {
            let mut res = http::Response::new(crate::body::Body::from(self.metrics.render()));
            res.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            res
        } else {
            crate::HttpError::method_not_allowed(&[Method::GET, Method::HEAD])
                .into_response_for(req.headers())
        };
        std::future::ready(Ok(res))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Escapes a label value per the exposition format.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Counts the requests of one route; see [`Metrics::layer`].
#[derive(Clone, Debug)]
#[must_use]
pub struct MetricsLayer {
    metrics: Metrics,
    route: RouteName,
}

type NameFn = dyn Fn(&http::request::Parts) -> Arc<str> + Send + Sync;

/// How a request's route is named: once for the layer, or per request.
#[derive(Clone)]
enum RouteName {
    Fixed(Arc<str>),
    Dynamic(Arc<NameFn>),
}

impl RouteName {
    /// The request's route name; the request is taken apart and put back (moves, no copies)
    /// so the function sees its head.
    fn of<B>(&self, req: http::Request<B>) -> (Arc<str>, http::Request<B>) {
        match self {
            RouteName::Fixed(name) => (name.clone(), req),
            RouteName::Dynamic(f) => {
                let (head, body) = req.into_parts();
                (f(&head), http::Request::from_parts(head, body))
            }
        }
    }
}

impl std::fmt::Debug for RouteName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RouteName::Fixed(name) => write!(f, "{name:?}"),
            RouteName::Dynamic(_) => f.write_str("<per request>"),
        }
    }
}

impl<S> tower_layer::Layer<S> for MetricsLayer {
    type Service = MetricsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MetricsService {
            inner,
            metrics: self.metrics.clone(),
            route: self.route.clone(),
        }
    }
}

/// The service [`MetricsLayer`] makes.
#[derive(Clone, Debug)]
pub struct MetricsService<S> {
    inner: S,
    metrics: Metrics,
    route: RouteName,
}

impl<S, ReqBody, ResBody> tower_service::Service<http::Request<ReqBody>> for MetricsService<S>
where
    S: tower_service::Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<ReqBody>) -> Self::Future {
        self.metrics.inner.in_flight.fetch_add(1, Ordering::Relaxed);
        let (route, req) = self.route.of(req);
        ResponseFuture {
            inner: self.inner.call(req),
            guard: InFlight(Some((self.metrics.clone(), route, Instant::now()))),
        }
    }
}

/// Takes the request off the in-flight gauge when the future ends, answered or dropped.
struct InFlight(Option<(Metrics, Arc<str>, Instant)>);

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some((metrics, _, _)) = &self.0 {
            metrics.inner.in_flight.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

pin_project! {
    /// The future of [`MetricsService`].
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        guard: InFlight,
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<http::Response<B>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        if let (Ok(res), Some((metrics, route, started))) = (&result, &this.guard.0) {
            metrics.record(route, res, started.elapsed());
        }
        Poll::Ready(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{handler, testing::TestClient, Request, Response};
    use tower::Layer;

    #[cfg(feature = "auth")]
    #[tokio::test]
    async fn counts_lockout_refusals_by_scope() {
        use crate::auth::basic::BasicAuthLayer;
        use std::collections::HashMap;
        let metrics = Metrics::new();
        let auth = BasicAuthLayer::new("r", HashMap::<String, String>::new())
            .lockout(1, Duration::from_secs(60));
        let peer = |mut req: http::Request<crate::Body>| {
            let addr = std::net::SocketAddr::from(([192, 0, 2, 1], 9));
            req.extensions_mut().insert(ext::PeerAddr(addr));
            req
        };
        let svc = tower::ServiceBuilder::new()
            .layer(metrics.layer("app"))
            .map_request(peer)
            .layer(auth)
            .service(crate::echo::EchoService::new());
        let client = TestClient::new(svc);
        // "ada:guess": an unknown user, one failure locks the pair.
        for _ in 0..2 {
            client
                .get("/")
                .header("authorization", "Basic YWRhOmd1ZXNz")
                .send()
                .await;
        }
        let text = metrics.render();
        assert!(
            text.contains("tollgate_rate_limited_total{scope=\"lockout\"} 1\n"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn counts_by_route_status_and_markers() {
        let metrics = Metrics::new();
        let svc = handler::from_fn(|req: Request| async move {
            let mut res = Response::text("x").into_http();
            match req.path().as_ref() {
                "/denied" => {
                    *res.status_mut() = http::StatusCode::UNAUTHORIZED;
                    res.extensions_mut().insert(ext::AuthFailure);
                }
                "/down" => {
                    *res.status_mut() = http::StatusCode::BAD_GATEWAY;
                    res.extensions_mut()
                        .insert(ext::UpstreamFailure(Arc::from("127.0.0.1:9")));
                }
                _ => {}
            }
            res
        });
        let client = TestClient::new(metrics.layer("app\"1").layer(svc));
        for path in ["/", "/", "/denied", "/down"] {
            client.get(path).send().await;
        }
        let text = metrics.render();
        assert!(
            text.contains(r#"tollgate_requests_total{route="app\"1",status="200"} 2"#),
            "{text}"
        );
        assert!(
            text.contains(r#"tollgate_requests_total{route="app\"1",status="401"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"tollgate_upstream_errors_total{upstream="127.0.0.1:9"} 1"#),
            "{text}"
        );
        assert!(text.contains("tollgate_auth_failures_total 1\n"), "{text}");
        assert!(text.contains("tollgate_in_flight_requests 0\n"), "{text}");
        assert!(
            text.contains("tollgate_request_duration_seconds_count 4\n"),
            "{text}"
        );
        assert!(
            text.contains("tollgate_request_duration_seconds_bucket{le=\"+Inf\"} 4\n"),
            "{text}"
        );
    }
}
