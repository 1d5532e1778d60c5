//! [`from_fn`]: an async function of a [`Request`] and [`Next`] as a layer.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http::header::ACCEPT;
use tower::ServiceExt;

use super::future::ResponseFuture;
use crate::body::{Body, BoxError};
use crate::error::HttpError;
use crate::request::Request;
use crate::response::{IntoResponse, Response};

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// What a filter function became: the answer is rendered already (errors by `Accept`).
type Run = dyn Fn(Request, Next) -> FilterFuture + Send + Sync;

/// The boxed future of a filter function, its answer rendered.
pub(super) type FilterFuture = BoxFuture<Result<http::Response<Body>, Infallible>>;

/// The inner service, called once.
type Call = Box<dyn FnOnce(http::Request<Body>) -> BoxFuture<Result<Response, BoxError>> + Send>;

/// A filter from `async fn(Request, Next) -> R` where `R` is a [`Response`], an [`HttpError`]
/// or a `Result` of them (anything [`IntoResponse`]).
///
/// The function may read and change the request, answer without calling `next`, or call
/// [`Next::run`] and change the answer. An error is rendered as the request's `Accept`
/// prefers (HTML, JSON or text).
pub fn from_fn<F, Fut, R>(f: F) -> FilterLayer
where
    F: Fn(Request, Next) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
    R: IntoResponse + 'static,
{
    FilterLayer {
        run: Arc::new(move |req: Request, next: Next| {
            let accept = req.headers().get(ACCEPT).cloned();
            let future = f(req, next);
            Box::pin(async move { Ok(future.await.into_response_for(accept.as_ref()).into_http()) })
        }),
    }
}

/// A filter from `async fn(T, Request, Next) -> R`: `state` is cloned for each request (keep
/// what is large behind an `Arc`). WebOb's `wsgify.middleware` keyword arguments, axum's
/// `from_fn_with_state`.
pub fn from_fn_with_state<T, F, Fut, R>(state: T, f: F) -> FilterLayer
where
    T: Clone + Send + Sync + 'static,
    F: Fn(T, Request, Next) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
    R: IntoResponse + 'static,
{
    from_fn(move |req, next| f(state.clone(), req, next))
}

/// The layer [`from_fn`] and [`from_fn_with_state`] make. Cloning shares the function.
#[derive(Clone)]
#[must_use]
pub struct FilterLayer {
    run: Arc<Run>,
}

impl<S> tower_layer::Layer<S> for FilterLayer {
    type Service = Filter<S>;

    fn layer(&self, inner: S) -> Filter<S> {
        Filter {
            inner,
            run: Arc::clone(&self.run),
        }
    }
}

impl fmt::Debug for FilterLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FilterLayer")
    }
}

/// The service of a [`FilterLayer`]: runs the function around `S`.
///
/// It takes requests with any body of [`Bytes`] (axum's too) and never fails: the inner
/// service's errors become a `500` through [`Next::run`].
#[derive(Clone)]
#[must_use]
pub struct Filter<S> {
    inner: S,
    run: Arc<Run>,
}

impl<S> fmt::Debug for Filter<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Filter")
    }
}

impl<S, B, ResBody> tower_service::Service<http::Request<B>> for Filter<S>
where
    S: tower_service::Service<http::Request<Body>, Response = http::Response<ResBody>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = ResponseFuture<FilterFuture>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // The inner service is made ready by `Next::run`, when (and if) the filter calls it.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let mut inner = self.inner.clone();
        let next = Next {
            call: Box::new(move |req| {
                // Most services are ready at once: call directly, so the boxed future holds
                // the inner future only, not the service and the request as well.
                let mut cx = Context::from_waker(Waker::noop());
                match inner.poll_ready(&mut cx) {
                    Poll::Ready(Ok(())) => {
                        let future = inner.call(req);
                        Box::pin(async move { answer(future.await) })
                    }
                    Poll::Ready(Err(e)) => Box::pin(std::future::ready(Err(e.into()))),
                    Poll::Pending => Box::pin(async move { answer(inner.oneshot(req).await) }),
                }
            }),
        };
        let req = Request::from_http(req.map(Body::from_send));
        ResponseFuture::called((self.run)(req, next))
    }
}

/// The inner service's answer as a [`Response`].
fn answer<B, E>(result: Result<http::Response<B>, E>) -> Result<Response, BoxError>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
    E: Into<BoxError>,
{
    let res = result.map_err(Into::into)?;
    Ok(Response::from_http(res.map(Body::from_send)))
}

/// The rest of the stack, handed to a filter function: [`run`](Self::run) it with the request
/// to get the inner service's answer, or drop it to answer alone.
#[must_use = "the inner service is only called by `Next::run`"]
pub struct Next {
    call: Call,
}

impl Next {
    /// Calls the inner service with `req`; await the answer. A body the filter read (with
    /// [`Request::bytes`] and friends) is passed on as the bytes read.
    ///
    /// The inner service is called here, not at the first poll: the returned future holds only
    /// the inner service's boxed future, so a filter's own future stays small.
    ///
    /// # Errors
    ///
    /// The future fails when the inner service did (an upstream error it did not turn into an
    /// answer): a `500` whose cause is the error, for logs.
    pub fn run(self, req: Request) -> NextFuture {
        NextFuture {
            future: (self.call)(req.into_http_with_body()),
        }
    }
}

/// The answer of the rest of the stack, from [`Next::run`].
#[must_use = "futures do nothing unless polled"]
pub struct NextFuture {
    future: BoxFuture<Result<Response, BoxError>>,
}

impl Future for NextFuture {
    type Output = Result<Response, HttpError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.future.as_mut().poll(cx).map_err(HttpError::internal)
    }
}

impl fmt::Debug for NextFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NextFuture")
    }
}

impl fmt::Debug for Next {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Next")
    }
}
