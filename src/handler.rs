//! Handlers: `async fn(Request) -> impl IntoResponse` as a [`tower::Service`] (the
//! `webob.dec.wsgify` counterpart).
//!
//! # Example
//!
//! ```
//! use tollgate::{handler, HttpError, Request, Response};
//! use tower::ServiceExt;
//!
//! async fn greet(req: Request) -> Result<Response, HttpError> {
//!     let name = req.args()?.get("name").ok_or_else(|| HttpError::bad_request("missing `name`"))?;
//!     Ok(Response::text(format!("Hello, {name}!")))
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let svc = handler::from_fn(greet);
//! let res = svc.oneshot(Request::get("/?name=Ada").build().unwrap()).await.unwrap();
//! assert_eq!(res.status(), 200);
//! # }
//! ```

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::ACCEPT;

use crate::body::{Body, BoxError};
use crate::request::Request;
use crate::response::IntoResponse;

/// The boxed future a [`Handler`] returns.
pub type HandlerFuture =
    Pin<Box<dyn Future<Output = Result<http::Response<Body>, Infallible>> + Send>>;

/// A [`tower::Service`] made from an async function of a [`Request`]; see [`from_fn`].
#[derive(Clone)]
#[must_use]
pub struct Handler<F> {
    f: F,
}

/// Turns `async fn(Request) -> impl IntoResponse` into a cloneable `Send` service that takes
/// `http::Request<B>` for any body of [`Bytes`] and never fails: errors become answers,
/// rendered as the request's `Accept` header prefers.
pub fn from_fn<F, Fut, R>(f: F) -> Handler<F>
where
    F: Fn(Request) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
    R: IntoResponse,
{
    Handler { f }
}

impl<F, Fut, R, B> tower_service::Service<http::Request<B>> for Handler<F>
where
    F: Fn(Request) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
    R: IntoResponse,
    B: http_body::Body<Data = Bytes> + Send + Sync + 'static,
    B::Error: Into<BoxError>,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = HandlerFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        // Kept so an error can be rendered in the format the client accepts; parsed only then.
        let accept = req.headers().get(ACCEPT).cloned();
        let future = (self.f)(Request::from_http(req.map(Body::new)));
        Box::pin(async move { Ok(future.await.into_response_for(accept.as_ref()).into_http()) })
    }
}

impl<F> fmt::Debug for Handler<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Handler")
    }
}
