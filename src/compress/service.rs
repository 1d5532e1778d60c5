//! [`CompressLayer`] and [`Compress`]: tower-http's `Compression` asked for one coding per
//! request, chosen by [`choose`](super::choose), with this crate's rules around it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http::header::{ACCEPT_ENCODING, CONTENT_ENCODING, ETAG, VARY};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use pin_project_lite::pin_project;
use tower_http::compression::{Compression, CompressionLevel, Predicate};
use tower_layer::Layer;
use tower_service::Service;

use super::rules::{choose, Choice, Rules};
use super::{Algorithm, CompressConfig};
use crate::body::{Body, BoxError, SyncBody};
use crate::error::HttpError;
use crate::negotiate::AcceptEncoding;
use crate::response::cache_control::add_vary;

/// What [`Compress`] needs on every request, shared by its clones.
#[derive(Debug)]
struct Shared {
    algorithms: Vec<Algorithm>,
    levels: super::Levels,
    rules: Rules,
}

/// Compresses answers with the coding the client prefers among those configured
/// ([`CompressConfig`]); see the [module docs](super).
#[derive(Debug, Clone)]
#[must_use]
pub struct CompressLayer {
    shared: Arc<Shared>,
}

impl CompressLayer {
    /// A layer with this configuration (check it first with [`CompressConfig::check`]: a
    /// level out of range is clamped, a malformed type skipped).
    pub fn new(config: &CompressConfig) -> Self {
        CompressLayer {
            shared: Arc::new(Shared {
                algorithms: config.algorithms.clone(),
                levels: config.levels,
                rules: Rules::new(config),
            }),
        }
    }
}

impl Default for CompressLayer {
    fn default() -> Self {
        Self::new(&CompressConfig::default())
    }
}

impl<S> Layer<S> for CompressLayer {
    type Service = Compress<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Compress {
            inner,
            shared: Arc::clone(&self.shared),
        }
    }
}

/// The service of [`CompressLayer`].
#[derive(Debug, Clone)]
#[must_use]
pub struct Compress<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Compress<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    ResBody: http_body::Body<Data = Bytes> + Send + Sync + 'static,
    ResBody::Error: Into<BoxError> + Send,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let choice = if req.method() == Method::HEAD {
            Choice::Identity
        } else {
            choose(
                &AcceptEncoding::from_headers(req.headers()),
                &self.shared.algorithms,
            )
        };
        let shared = Arc::clone(&self.shared);
        let inner = match choice {
            Choice::NotAcceptable => Inner::Refused {
                answer: Some(not_acceptable(&shared.algorithms)),
            },
            Choice::Identity => Inner::Plain {
                future: self.inner.call(req),
                shared,
            },
            Choice::Encode(algorithm) => {
                // The ready clone goes into tower-http's `Compression`, asked for exactly this
                // coding: the client's own header is restored for the inner service.
                let ready = {
                    let clone = self.inner.clone();
                    std::mem::replace(&mut self.inner, clone)
                };
                let original: Vec<HeaderValue> = req
                    .headers()
                    .get_all(ACCEPT_ENCODING)
                    .iter()
                    .cloned()
                    .collect();
                req.headers_mut()
                    .insert(ACCEPT_ENCODING, HeaderValue::from_static(algorithm.token()));
                req.extensions_mut().insert(ClientAcceptEncoding(original));
                let level = shared.levels.of(algorithm);
                let mut compression = Compression::new(Restore { inner: ready })
                    .no_deflate()
                    .gzip(algorithm == Algorithm::Gzip)
                    .br(algorithm == Algorithm::Br)
                    .zstd(algorithm == Algorithm::Zstd)
                    .quality(CompressionLevel::Precise(level))
                    .compress_when(Rule(shared));
                Inner::Encode {
                    future: compression.call(req),
                }
            }
        };
        ResponseFuture { inner }
    }
}

/// The `406` for a client that refused every coding offered and `identity` too.
fn not_acceptable(algorithms: &[Algorithm]) -> Response<Body> {
    let offered: Vec<&str> = algorithms.iter().map(|a| a.token()).collect();
    let mut res = HttpError::new(
        StatusCode::NOT_ACCEPTABLE,
        format!(
            "no content coding this client accepts: it refused identity, and the server offers {}",
            offered.join(", ")
        ),
    )
    .into_response();
    add_vary(res.headers_mut(), &ACCEPT_ENCODING);
    res
}

/// The client's `Accept-Encoding` fields, kept while tower-http reads the one coding chosen.
#[derive(Clone)]
struct ClientAcceptEncoding(Vec<HeaderValue>);

/// Marks answers the inner service sent without a coding, so that only those whose coding
/// this layer added get a weak `ETag`.
#[derive(Clone, Copy)]
struct Unencoded;

/// Between tower-http's `Compression` and the inner service: puts the client's
/// `Accept-Encoding` back, marks unencoded answers.
#[derive(Clone)]
struct Restore<S> {
    inner: S,
}

type Marked<F, B> = futures_util::future::MapOk<F, fn(Response<B>) -> Response<B>>;

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Restore<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = Marked<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        if let Some(ClientAcceptEncoding(values)) = req.extensions_mut().remove() {
            let headers = req.headers_mut();
            headers.remove(ACCEPT_ENCODING);
            for value in values {
                headers.append(ACCEPT_ENCODING, value);
            }
        }
        use futures_util::TryFutureExt;
        self.inner.call(req).map_ok(mark as fn(_) -> _)
    }
}

fn mark<B>(mut res: Response<B>) -> Response<B> {
    if !res.headers().contains_key(CONTENT_ENCODING) {
        res.extensions_mut().insert(Unencoded);
    }
    res
}

/// [`Rules`] as tower-http's predicate.
#[derive(Clone)]
struct Rule(Arc<Shared>);

impl Predicate for Rule {
    fn should_compress<B: http_body::Body>(&self, res: &Response<B>) -> bool {
        let length = res.body().size_hint().exact();
        self.0
            .rules
            .compressible(res.status(), res.headers(), length)
    }
}

type Encoding<F, B> = tower_http::compression::ResponseFuture<Marked<F, B>, Rule>;

pin_project! {
    /// The future of [`Compress`].
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F, B> {
        #[pin]
        inner: Inner<F, B>,
    }
}

pin_project! {
    #[project = InnerProj]
    enum Inner<F, B> {
        Refused { answer: Option<Response<Body>> },
        Plain { #[pin] future: F, shared: Arc<Shared> },
        Encode { #[pin] future: Encoding<F, B> },
    }
}

impl<F, B, E> Future for ResponseFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: http_body::Body<Data = Bytes> + Send + Sync + 'static,
    B::Error: Into<BoxError> + Send,
{
    type Output = Result<Response<Body>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().inner.project() {
            InnerProj::Refused { answer } => {
                Poll::Ready(Ok(answer.take().expect("a refused future is polled once")))
            }
            InnerProj::Plain { future, shared } => {
                let mut res = ready!(future.poll(cx))?;
                let length = http_body::Body::size_hint(res.body()).exact();
                if shared
                    .rules
                    .compressible(res.status(), res.headers(), length)
                {
                    // Another client would have had it compressed: caches must know.
                    add_vary(res.headers_mut(), &ACCEPT_ENCODING);
                }
                Poll::Ready(Ok(res.map(Body::new)))
            }
            InnerProj::Encode { future } => {
                let mut res = ready!(future.poll(cx))?;
                let ours = res.extensions_mut().remove::<Unencoded>().is_some()
                    && res.headers().contains_key(CONTENT_ENCODING);
                if ours {
                    weaken_etag(res.headers_mut());
                }
                debug_assert!(!ours || res.headers().contains_key(VARY));
                Poll::Ready(Ok(res.map(|body| Body::new(SyncBody::new(body)))))
            }
        }
    }
}

/// A strong `ETag` made weak (`"x"` → `W/"x"`): the encoded bytes differ from those the tag
/// names, so byte-range and strong comparisons must not match them (RFC 9110 §8.8.1).
fn weaken_etag(headers: &mut http::HeaderMap) {
    let Some(tag) = headers.get(ETAG) else {
        return;
    };
    if tag.as_bytes().starts_with(b"\"") {
        let mut weak = b"W/".to_vec();
        weak.extend_from_slice(tag.as_bytes());
        if let Ok(weak) = HeaderValue::from_bytes(&weak) {
            headers.insert(ETAG, weak);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strong_tags_become_weak_and_weak_ones_stay() {
        let mut headers = http::HeaderMap::new();
        headers.insert(ETAG, HeaderValue::from_static("\"v1\""));
        weaken_etag(&mut headers);
        assert_eq!(headers[ETAG], "W/\"v1\"");
        weaken_etag(&mut headers);
        assert_eq!(headers[ETAG], "W/\"v1\"");
    }
}
