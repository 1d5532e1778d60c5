//! [`CacheLayer`] and [`Cache`]: the request's way through the cache — a fresh hit, a
//! revalidation, a stale answer allowed by RFC 5861, or a miss that one request fetches for
//! all.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::SystemTime;

use bytes::Bytes;
use http::header::{
    HeaderValue, AGE, AUTHORIZATION, CONTENT_LENGTH, CONTENT_RANGE, DATE, SET_COOKIE,
};
use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use http_cache_semantics::{AfterResponse, BeforeRequest, CacheOptions, CachePolicy, RequestLike};
use tower::ServiceExt;
use tower_layer::Layer;
use tower_service::Service;

use super::directives::{allows_stale, status_value};
use super::store::{Entry, Role};
use super::CacheStore;
use crate::body::{Body, BoxError};
use crate::ext::{AuthenticatedUser, CacheOutcome};
use crate::origin::Origin;
use crate::response::conditional::make_conditional;

/// The name of the RFC 9211 header every answer of the cache carries.
pub const CACHE_STATUS: &str = "cache-status";

/// Serves answers from a [`CacheStore`] when RFC 9111 allows it; see the
/// [module docs](super).
#[derive(Debug, Clone)]
#[must_use]
pub struct CacheLayer {
    store: CacheStore,
}

impl CacheLayer {
    /// A layer storing into `store` (share one store between routes and workers).
    pub fn new(store: CacheStore) -> Self {
        CacheLayer { store }
    }

    /// The store.
    pub fn store(&self) -> &CacheStore {
        &self.store
    }
}

impl<S> Layer<S> for CacheLayer {
    type Service = Cache<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Cache {
            inner,
            store: self.store.clone(),
        }
    }
}

/// The service of [`CacheLayer`].
#[derive(Debug, Clone)]
#[must_use]
pub struct Cache<S> {
    inner: S,
    store: CacheStore,
}

/// The future of [`Cache`].
pub type CacheFuture = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

impl<S> Service<Request<Body>> for Cache<S>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = CacheFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let inner = self.inner.clone();
        let store = self.store.clone();
        Box::pin(async move { Ok(handle(store, inner, req).await) })
    }
}

/// What the cache knows of one request: its parts and its effective URL.
#[derive(Clone)]
struct Asked {
    parts: http::request::Parts,
    url: String,
}

impl Asked {
    /// The request as the policy sees it, borrowed: for lookups.
    fn keyed(&self) -> Keyed<'_> {
        Keyed {
            url: &self.url,
            // `HEAD` is answered from what `GET` stored.
            method: if self.parts.method == Method::HEAD {
                &Method::GET
            } else {
                &self.parts.method
            },
            headers: &self.parts.headers,
        }
    }

    /// The request as a new policy records it. The auth layer takes credentials off the
    /// request it let in; for RFC 9111 §3.5 the request still was an authenticated one
    /// (answers are stored only when `public`, `s-maxage` or `must-revalidate` say they may
    /// be shared).
    fn recorded(&self) -> http::request::Parts {
        let keyed = self.keyed();
        let mut parts = Request::builder()
            .method(keyed.method.clone())
            .uri(keyed.uri())
            .body(())
            .map(|r| r.into_parts().0)
            .unwrap_or_else(|_| self.parts.clone());
        parts.headers = self.parts.headers.clone();
        if self.parts.extensions.get::<AuthenticatedUser>().is_some() {
            parts
                .headers
                .entry(AUTHORIZATION)
                .or_insert(HeaderValue::from_static("authenticated"));
        }
        parts
    }
}

/// A request as `http-cache-semantics` compares it, without copying its headers.
struct Keyed<'a> {
    url: &'a str,
    method: &'a Method,
    headers: &'a http::HeaderMap,
}

impl RequestLike for Keyed<'_> {
    fn uri(&self) -> http::Uri {
        self.url.parse().unwrap_or_default()
    }

    fn is_same_uri(&self, other: &http::Uri) -> bool {
        other == self.url
    }

    fn method(&self) -> &Method {
        self.method
    }

    fn headers(&self) -> &http::HeaderMap {
        self.headers
    }
}

async fn call<S>(inner: S, req: Request<Body>) -> Response<Body>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>,
{
    match inner.oneshot(req).await {
        Ok(res) => res,
        Err(never) => match never {},
    }
}

async fn handle<S>(store: CacheStore, inner: S, req: Request<Body>) -> Response<Body>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let (parts, body) = req.into_parts();
    let Some(url) = effective(&parts) else {
        let res = call(inner, Request::from_parts(parts, body)).await;
        return mark(res, CacheOutcome::Bypass, None);
    };
    let asked = Asked { parts, url };
    let method = asked.parts.method.clone();
    if method != Method::GET && method != Method::HEAD {
        let res = call(inner, Request::from_parts(asked.parts, body)).await;
        // RFC 9111 §4.4: a successful unsafe request invalidates what is stored for its URL.
        if !method.is_safe() && (res.status().is_success() || res.status().is_redirection()) {
            store.invalidate(&asked.url);
        }
        return mark(res, CacheOutcome::Bypass, None);
    }
    let now = SystemTime::now();
    if let Some(entry) = store.get(&asked.url, &asked.parts.headers) {
        if let Some((headers, ttl)) = entry.fresh_hit(now, &asked.parts.headers) {
            return serve(
                &entry,
                headers,
                &asked.parts,
                CacheOutcome::Hit { ttl },
                None,
            );
        }
        match entry.policy.before_request(&asked.keyed(), now) {
            BeforeRequest::Fresh(head) => {
                let ttl = entry.policy.time_to_live(now).as_secs();
                return serve(
                    &entry,
                    head.headers,
                    &asked.parts,
                    CacheOutcome::Hit { ttl },
                    None,
                );
            }
            BeforeRequest::Stale {
                request,
                matches: true,
            } if method == Method::GET => {
                return revalidate(store, inner, asked, body, entry, request.headers).await;
            }
            BeforeRequest::Stale { .. } => {}
        }
    }
    miss(store, inner, asked, body).await
}

/// The request's effective URL (`scheme://host[:port]` + the mount prefix + the target), or
/// `None` when it has no host to key by (or the URL would not parse).
fn effective(parts: &http::request::Parts) -> Option<String> {
    let origin = Origin::from_parts(parts);
    let host = origin.host()?;
    let port = origin.port().map(|p| format!(":{p}")).unwrap_or_default();
    let target = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    let url = format!(
        "{}://{host}{port}{}{target}",
        origin.scheme(),
        origin.prefix()
    );
    url.parse::<http::Uri>().ok()?;
    Some(url)
}

/// A stored answer served: the head the policy gave (with `Age`), the stored body, then the
/// client's own conditions and ranges (and `HEAD`) applied to it.
fn serve(
    entry: &Entry,
    mut headers: http::HeaderMap,
    parts: &http::request::Parts,
    outcome: CacheOutcome,
    detail: Option<&str>,
) -> Response<Body> {
    // The upstream's own `Date`, which `Age` counts from (http-cache-semantics writes the
    // time of the hit in RFC 2822 form); without one, the server adds the current date.
    match entry.headers.get(DATE) {
        Some(date) => {
            headers.insert(DATE, date.clone());
        }
        None => {
            headers.remove(DATE);
        }
    }
    headers.insert(CONTENT_LENGTH, HeaderValue::from(entry.body.len()));
    // Stored only with `store_set_cookie`, and kept out of the policy (which would refuse
    // to reuse the answer).
    if !headers.contains_key(SET_COOKIE) {
        for cookie in entry.headers.get_all(SET_COOKIE) {
            headers.append(SET_COOKIE, cookie.clone());
        }
    }
    // `make_conditional` drops the body for `HEAD` and keeps its length.
    let mut res = Response::new(Body::from(entry.body.clone()));
    *res.status_mut() = entry.status;
    *res.headers_mut() = headers;
    mark(make_conditional(parts, res), outcome, detail)
}

/// The head of a stale answer served as it is: its headers with its current `Age`.
fn stale_head(entry: &Entry, now: SystemTime) -> http::HeaderMap {
    let mut headers = entry.headers.clone();
    headers.insert(AGE, HeaderValue::from(entry.policy.age(now).as_secs()));
    headers
}

/// `Cache-Status` and the [`CacheOutcome`] extension on an answer.
fn mark(mut res: Response<Body>, outcome: CacheOutcome, detail: Option<&str>) -> Response<Body> {
    if let Ok(value) = HeaderValue::from_str(&status_value(outcome, detail)) {
        res.headers_mut().append(CACHE_STATUS, value);
    }
    res.extensions_mut().insert(outcome);
    res
}

/// A stale stored answer: served stale while it is revalidated in the background when
/// `stale-while-revalidate` allows; otherwise revalidated now (`If-None-Match` /
/// `If-Modified-Since` from the policy), its body reused on a `304`, served stale on a `5xx`
/// when `stale-if-error` allows.
async fn revalidate<S>(
    store: CacheStore,
    inner: S,
    asked: Asked,
    body: Body,
    entry: std::sync::Arc<Entry>,
    headers: http::HeaderMap,
) -> Response<Body>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let now = SystemTime::now();
    let mut upstream = asked.parts.clone();
    upstream.headers = headers;
    if allows_stale(
        &entry.headers,
        "stale-while-revalidate",
        entry.stale_for(now),
    ) {
        // One background revalidation per URL at a time: the others are served stale.
        if let Role::Lead(guard) = store.join(&asked.url) {
            let (store, stored, asked_bg) = (store.clone(), entry.clone(), asked.clone());
            tokio::spawn(async move {
                let res = call(inner, Request::from_parts(upstream, Body::empty())).await;
                let _ = refreshed(&store, asked_bg, &stored, res).await;
                drop(guard);
            });
        }
        let head = stale_head(&entry, now);
        let outcome = CacheOutcome::Stale { status: 0 };
        return serve(
            &entry,
            head,
            &asked.parts,
            outcome,
            Some("stale-while-revalidate"),
        );
    }
    let res = call(inner, Request::from_parts(upstream, body)).await;
    let status = res.status();
    let now = SystemTime::now();
    if status.is_server_error()
        && allows_stale(&entry.headers, "stale-if-error", entry.stale_for(now))
    {
        let outcome = CacheOutcome::Stale {
            status: status.as_u16(),
        };
        let head = stale_head(&entry, now);
        return serve(&entry, head, &asked.parts, outcome, Some("stale-if-error"));
    }
    let parts = asked.parts.clone();
    match refreshed(&store, asked.clone(), &entry, res).await {
        Refreshed::NotModified(entry, head) => {
            serve(&entry, head, &parts, CacheOutcome::Revalidated, None)
        }
        Refreshed::New(res) => res,
    }
}

/// What a revalidation brought.
enum Refreshed {
    /// `304`: the stored body with the refreshed head, stored again.
    NotModified(std::sync::Arc<Entry>, http::HeaderMap),
    /// Anything else, answered (and stored when allowed) like a miss.
    New(Response<Body>),
}

async fn refreshed(
    store: &CacheStore,
    asked: Asked,
    entry: &Entry,
    res: Response<Body>,
) -> Refreshed {
    let now = SystemTime::now();
    if res.status() == StatusCode::NOT_MODIFIED {
        let (head, _) = res.into_parts();
        if let AfterResponse::NotModified(policy, updated) =
            entry.policy.after_response(&asked.recorded(), &head, now)
        {
            let served = match policy.before_request(&asked.keyed(), now) {
                BeforeRequest::Fresh(fresh) => fresh.headers,
                BeforeRequest::Stale { .. } => updated.headers.clone(),
            };
            let mut headers = updated.headers;
            headers.remove(CONTENT_LENGTH);
            let kept = Entry::new(policy, entry.status, headers, entry.body.clone(), now);
            let kept = store.insert(&asked.url, &asked.parts.headers, kept);
            return Refreshed::NotModified(kept, served);
        }
        return Refreshed::New(Response::from_parts(head, Body::empty()));
    }
    Refreshed::New(store_or_pass(store, &asked, res).await)
}

/// Nothing usable stored: one request fetches the answer (nginx's `proxy_cache_lock`), the
/// others for the same URL wait for it (at most `lock_timeout`) and are served from the
/// cache, or ask the upstream themselves when it could not be stored.
async fn miss<S>(store: CacheStore, inner: S, asked: Asked, body: Body) -> Response<Body>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>,
{
    if asked.parts.method != Method::GET {
        let res = call(inner, Request::from_parts(asked.parts, body)).await;
        return mark(res, CacheOutcome::Miss { stored: false }, None);
    }
    let guard = match store.join(&asked.url) {
        Role::Lead(guard) => Some(guard),
        Role::Wait(mut done) => {
            let wait = done.wait_for(|done| *done);
            let _ = tokio::time::timeout(store.config.lock_timeout, wait).await;
            None
        }
    };
    // Also for a new leader: the answer may have been stored just before it led.
    let now = SystemTime::now();
    if let Some(entry) = store.get(&asked.url, &asked.parts.headers) {
        if let BeforeRequest::Fresh(head) = entry.policy.before_request(&asked.keyed(), now) {
            let ttl = entry.policy.time_to_live(now).as_secs();
            return serve(
                &entry,
                head.headers,
                &asked.parts,
                CacheOutcome::Hit { ttl },
                None,
            );
        }
    }
    let res = call(inner, Request::from_parts(asked.parts.clone(), body)).await;
    let res = store_or_pass(&store, &asked, res).await;
    drop(guard);
    res
}

/// The upstream's answer, stored when RFC 9111 and the configuration allow it and it fits
/// `max_object_size`; an answer past that size streams on, never held whole.
async fn store_or_pass(store: &CacheStore, asked: &Asked, res: Response<Body>) -> Response<Body> {
    let now = SystemTime::now();
    let (head, body) = res.into_parts();
    let config = &store.config;
    let recorded = asked.recorded();
    let policy = if config.store_set_cookie && head.headers.contains_key(SET_COOKIE) {
        let mut rules = head.clone();
        rules.headers.remove(SET_COOKIE);
        CachePolicy::new_options(&recorded, &rules, now, CacheOptions::default())
    } else {
        CachePolicy::new_options(&recorded, &head, now, CacheOptions::default())
    };
    let length = head
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        .or(http_body::Body::size_hint(&body).exact());
    let refused = if asked.parts.method != Method::GET || !policy.is_storable() {
        Some("not-storable")
    } else if head.headers.contains_key(SET_COOKIE) && !config.store_set_cookie {
        Some("set-cookie")
    } else if head.status == StatusCode::PARTIAL_CONTENT || head.headers.contains_key(CONTENT_RANGE)
    {
        Some("partial")
    } else if length.is_some_and(|n| n > config.max_object_size) {
        Some("too-large")
    } else {
        None
    };
    if let Some(reason) = refused {
        let res = Response::from_parts(head, body);
        return mark(res, CacheOutcome::Miss { stored: false }, Some(reason));
    }
    match collect_up_to(body, config.max_object_size).await {
        Ok(bytes) => {
            let mut headers = head.headers.clone();
            headers.remove(CONTENT_LENGTH);
            let entry = Entry::new(policy, head.status, headers, bytes.clone(), now);
            store.insert(&asked.url, &asked.parts.headers, entry);
            let res = Response::from_parts(head, Body::from(bytes));
            mark(res, CacheOutcome::Miss { stored: true }, None)
        }
        Err(rest) => {
            let res = Response::from_parts(head, rest);
            mark(res, CacheOutcome::Miss { stored: false }, Some("too-large"))
        }
    }
}

/// The whole body when it is at most `limit` bytes; otherwise (or when it fails) a body
/// that replays what was read, then streams the rest.
async fn collect_up_to(mut body: Body, limit: u64) -> Result<Bytes, Body> {
    let mut chunks: Vec<Bytes> = Vec::new();
    let mut total = 0u64;
    loop {
        match body.frame().await {
            None => break,
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    total += data.len() as u64;
                    chunks.push(data);
                    if total > limit {
                        let read = futures_util::stream::iter(chunks.into_iter().map(Ok));
                        let rest = http_body_util::BodyDataStream::new(body);
                        use futures_util::StreamExt;
                        return Err(Body::from_stream(read.chain(rest)));
                    }
                }
            }
            Some(Err(e)) => {
                let read = chunks
                    .into_iter()
                    .map(Ok::<Bytes, BoxError>)
                    .chain(std::iter::once(Err(e)));
                return Err(Body::from_stream(futures_util::stream::iter(read)));
            }
        }
    }
    let mut whole = bytes::BytesMut::with_capacity(total as usize);
    for chunk in chunks {
        whole.extend_from_slice(&chunk);
    }
    Ok(whole.freeze())
}
