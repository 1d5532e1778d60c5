//! [`DecompressLayer`]: request bodies sent with `Content-Encoding: gzip`, `br` or `zstd`
//! decoded by tower-http's `RequestDecompression`, and cut at a limit on the decoded size.

use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::future::MapOk;
use futures_util::TryFutureExt;
use http::header::CONTENT_ENCODING;
use http::{Request, Response};
use tower_http::body::UnsyncBoxBody;
use tower_http::decompression::{
    DecompressionBody, RequestDecompression, RequestDecompressionFuture,
};
use tower_layer::Layer;
use tower_service::Service;

use crate::body::{limited, Body, BoxError, SyncBody};

/// Decodes request bodies before the inner service reads them; a decoded body longer than the
/// limit fails with [`BodyTooLarge`](crate::body::BodyTooLarge), which the proxy and
/// [`to_bytes`](crate::body::to_bytes) answer with `413`. Another coding than `gzip`, `br`,
/// `zstd` or `identity` is a `415` with `Accept-Encoding` naming those.
///
/// ```
/// use tollgate::compress::DecompressLayer;
/// use tollgate::{handler, testing::TestClient, Request, Response};
/// use tower::Layer;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let length = handler::from_fn(|mut req: Request| async move {
///     let body = req.bytes(1 << 30).await?;
///     Ok::<_, tollgate::HttpError>(Response::text(body.len().to_string()))
/// });
/// let client = TestClient::new(DecompressLayer::new(1000).layer(length));
/// // 5 000 zeros, gzipped to a few dozen bytes: more than the limit once decoded.
/// let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
/// std::io::Write::write_all(&mut gz, &[0; 5000]).unwrap();
/// let res = client.post("/").header("content-encoding", "gzip").body(gz.finish().unwrap()).await;
/// assert_eq!(res.status(), 413);
/// # }
/// ```
#[derive(Debug, Clone, Copy)]
#[must_use]
pub struct DecompressLayer {
    limit: u64,
}

impl DecompressLayer {
    /// Decodes bodies up to `limit` bytes once decoded.
    pub fn new(limit: u64) -> Self {
        DecompressLayer { limit }
    }
}

impl<S> Layer<S> for DecompressLayer {
    type Service = Decompress<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Decompress {
            inner: RequestDecompression::new(Limit {
                inner,
                limit: self.limit,
            }),
        }
    }
}

/// The service of [`DecompressLayer`].
#[derive(Debug, Clone)]
#[must_use]
pub struct Decompress<S> {
    inner: RequestDecompression<Limit<S>>,
}

/// Marks a request whose body tower-http decodes.
#[derive(Clone, Copy)]
struct Decoding;

type Answer = Response<UnsyncBoxBody<Bytes, BoxError>>;

/// The future of [`Decompress`].
pub type DecompressFuture<F, B, E> =
    MapOk<RequestDecompressionFuture<F, B, E>, fn(Answer) -> Response<Body>>;

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Decompress<S>
where
    S: Service<Request<Body>, Response = Response<ResBody>>,
    ReqBody: http_body::Body<Data = Bytes> + Send + 'static,
    ReqBody::Error: Into<BoxError> + Send,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = DecompressFuture<S::Future, ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Service::<Request<ReqBody>>::poll_ready(&mut self.inner, cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let encoded = req
            .headers()
            .get(CONTENT_ENCODING)
            .is_some_and(|v| !v.as_bytes().eq_ignore_ascii_case(b"identity"));
        if encoded {
            req.extensions_mut().insert(Decoding);
        }
        self.inner
            .call(req)
            .map_ok(|res: Answer| res.map(|body| Body::new(SyncBody::new(body))))
    }
}

/// Inside tower-http's decoder: the decoded body counted against the limit.
#[derive(Debug, Clone)]
pub struct Limit<S> {
    inner: S,
    limit: u64,
}

impl<S, ReqBody> Service<Request<DecompressionBody<ReqBody>>> for Limit<S>
where
    S: Service<Request<Body>>,
    ReqBody: http_body::Body<Data = Bytes> + Send + 'static,
    ReqBody::Error: Into<BoxError> + Send,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<DecompressionBody<ReqBody>>) -> Self::Future {
        let (mut parts, body) = req.into_parts();
        let body = SyncBody::new(body);
        let body = if parts.extensions.remove::<Decoding>().is_some() {
            limited(body, self.limit)
        } else {
            Body::new(body)
        };
        self.inner.call(Request::from_parts(parts, body))
    }
}
