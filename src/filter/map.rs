//! The small filters: [`map_request`], [`predicate`] and [`map_response`]. They box nothing.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::ACCEPT;

use super::future::{ResponseFn, ResponseFuture};
use crate::body::{Body, BoxError};
use crate::error::{ErrorFormat, HttpError};
use crate::request::Request;
use crate::response::Response;

type RequestFn = Arc<dyn Fn(Request) -> Result<Request, HttpError> + Send + Sync>;

/// A layer that changes each request before the inner service sees it, or answers with the
/// error the function returns (rendered by `Accept`) without calling the inner service.
///
/// ```
/// use tollgate::{filter, handler, testing::TestClient, HttpError, Request, Response};
/// use tower::Layer;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let tag = filter::map_request(|mut req: Request| {
///     req.as_http_mut().headers_mut().insert("x-seen", "1".parse().unwrap());
///     Ok::<_, HttpError>(req)
/// });
/// let app = handler::from_fn(|req: Request| async move {
///     Response::text(req.header("x-seen").unwrap_or("no").to_string())
/// });
/// let res = TestClient::new(tag.layer(app)).get("/").send().await;
/// assert_eq!(res.text().await, "1");
/// # }
/// ```
pub fn map_request<F>(f: F) -> MapRequestLayer
where
    F: Fn(Request) -> Result<Request, HttpError> + Send + Sync + 'static,
{
    MapRequestLayer { f: Arc::new(f) }
}

/// A layer that lets a request through when `check` returns `Ok(())`, and answers with its
/// error otherwise (tower's `filter`, tower-http's `ValidateRequest`).
///
/// ```
/// use tollgate::{filter, HttpError, Request};
///
/// let only_get = filter::predicate(|req: &Request| {
///     if req.method() == http::Method::GET {
///         Ok(())
///     } else {
///         Err(HttpError::method_not_allowed([&http::Method::GET]))
///     }
/// });
/// ```
pub fn predicate<F>(check: F) -> MapRequestLayer
where
    F: Fn(&Request) -> Result<(), HttpError> + Send + Sync + 'static,
{
    map_request(move |req| check(&req).map(|()| req))
}

/// A layer that changes every answer of the inner service.
///
/// ```
/// use tollgate::{filter, Response};
///
/// let layer = filter::map_response(|res: Response| res.header("x-filtered", "yes"));
/// ```
pub fn map_response<F>(f: F) -> MapResponseLayer
where
    F: Fn(Response) -> Response + Send + Sync + 'static,
{
    MapResponseLayer { f: Arc::new(f) }
}

/// The layer of [`map_request`] and [`predicate`].
#[derive(Clone)]
#[must_use]
pub struct MapRequestLayer {
    f: RequestFn,
}

impl<S> tower_layer::Layer<S> for MapRequestLayer {
    type Service = MapRequest<S>;

    fn layer(&self, inner: S) -> MapRequest<S> {
        MapRequest {
            inner,
            f: Arc::clone(&self.f),
        }
    }
}

/// The service of a [`MapRequestLayer`].
#[derive(Clone)]
#[must_use]
pub struct MapRequest<S> {
    inner: S,
    f: RequestFn,
}

impl<S, B, ResBody> tower_service::Service<http::Request<B>> for MapRequest<S>
where
    S: tower_service::Service<http::Request<Body>, Response = http::Response<ResBody>>,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let accept = req.headers().get(ACCEPT).cloned();
        match (self.f)(Request::from_http(req.map(Body::from_send))) {
            Ok(req) => ResponseFuture::called(self.inner.call(req.into_http_with_body())),
            Err(e) => ResponseFuture::answered(
                e.into_response_as(ErrorFormat::for_accept(accept.as_ref())),
            ),
        }
    }
}

/// The layer of [`map_response`].
#[derive(Clone)]
#[must_use]
pub struct MapResponseLayer {
    f: ResponseFn,
}

impl<S> tower_layer::Layer<S> for MapResponseLayer {
    type Service = MapResponse<S>;

    fn layer(&self, inner: S) -> MapResponse<S> {
        MapResponse {
            inner,
            f: Arc::clone(&self.f),
        }
    }
}

/// The service of a [`MapResponseLayer`].
#[derive(Clone)]
#[must_use]
pub struct MapResponse<S> {
    inner: S,
    f: ResponseFn,
}

impl<S, B, ResBody> tower_service::Service<http::Request<B>> for MapResponse<S>
where
    S: tower_service::Service<http::Request<B>, Response = http::Response<ResBody>>,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        ResponseFuture::mapped(self.inner.call(req), Some(Arc::clone(&self.f)))
    }
}

macro_rules! opaque_debug {
    ($($name:ident $(<$s:ident>)?),*) => {$(
        impl$(<$s>)? fmt::Debug for $name$(<$s>)? {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(stringify!($name))
            }
        }
    )*};
}

opaque_debug!(
    MapRequestLayer,
    MapRequest<S>,
    MapResponseLayer,
    MapResponse<S>
);
