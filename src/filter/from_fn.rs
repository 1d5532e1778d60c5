//! [`from_fn`]: an async function of a [`Request`] and [`Next`] as a layer.
//!
//! Per request, a function filter allocates once: the box that holds the inner service's
//! clone and, once [`Next::run`] is called, its future (`Next` is not generic, so the inner
//! service is behind one `dyn`). The filter function's own future is not boxed: it is a field
//! of the [`Filter`]'s future.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll, Waker};

use bytes::Bytes;
use http::header::ACCEPT;
use http::HeaderValue;
use pin_project_lite::pin_project;

use super::future::ResponseFuture;
use crate::body::{Body, BoxError};
use crate::error::HttpError;
use crate::request::Request;
use crate::response::{IntoResponse, Response};

/// A filter function: what [`from_fn`] and [`from_fn_with_state`] take and [`FilterLayer`]
/// holds. Implemented for every `Fn(Request, Next) -> impl Future` whose output is
/// [`IntoResponse`]; there is nothing to implement by hand.
pub trait FilterFn: Send + Sync + 'static {
    /// The function's future.
    type Future: Future<Output = Self::Output> + Send + 'static;
    /// What the function answers: a [`Response`], an [`HttpError`] or a `Result` of them.
    type Output: IntoResponse + 'static;

    /// Runs the function.
    fn call(&self, req: Request, next: Next) -> Self::Future;
}

impl<F, Fut> FilterFn for F
where
    F: Fn(Request, Next) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: IntoResponse + 'static,
{
    type Future = Fut;
    type Output = Fut::Output;

    fn call(&self, req: Request, next: Next) -> Fut {
        self(req, next)
    }
}

/// A function of `(state, Request, Next)` with its state: what [`from_fn_with_state`] makes.
#[derive(Clone)]
pub struct WithState<T, F> {
    state: T,
    f: F,
}

impl<T, F, Fut> FilterFn for WithState<T, F>
where
    T: Clone + Send + Sync + 'static,
    F: Fn(T, Request, Next) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: IntoResponse + 'static,
{
    type Future = Fut;
    type Output = Fut::Output;

    fn call(&self, req: Request, next: Next) -> Fut {
        (self.f)(self.state.clone(), req, next)
    }
}

impl<T, F> fmt::Debug for WithState<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WithState")
    }
}

/// A filter from `async fn(Request, Next) -> R` where `R` is a [`Response`], an [`HttpError`]
/// or a `Result` of them (anything [`IntoResponse`]).
///
/// The function may read and change the request, answer without calling `next`, or call
/// [`Next::run`] and change the answer. An error is rendered as the request's `Accept`
/// prefers (HTML, JSON or text).
pub fn from_fn<F, Fut>(f: F) -> FilterLayer<F>
where
    F: Fn(Request, Next) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: IntoResponse + 'static,
{
    FilterLayer { f: Arc::new(f) }
}

/// A filter from `async fn(T, Request, Next) -> R`: `state` is cloned for each request (keep
/// what is large behind an `Arc`). WebOb's `wsgify.middleware` keyword arguments, axum's
/// `from_fn_with_state`.
pub fn from_fn_with_state<T, F, Fut>(state: T, f: F) -> FilterLayer<WithState<T, F>>
where
    T: Clone + Send + Sync + 'static,
    F: Fn(T, Request, Next) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: IntoResponse + 'static,
{
    FilterLayer {
        f: Arc::new(WithState { state, f }),
    }
}

/// The layer [`from_fn`] and [`from_fn_with_state`] make. Cloning shares the function.
#[must_use]
pub struct FilterLayer<F> {
    f: Arc<F>,
}

impl<F> Clone for FilterLayer<F> {
    fn clone(&self) -> Self {
        FilterLayer {
            f: Arc::clone(&self.f),
        }
    }
}

impl<S, F> tower_layer::Layer<S> for FilterLayer<F> {
    type Service = Filter<S, F>;

    fn layer(&self, inner: S) -> Filter<S, F> {
        Filter {
            inner,
            f: Arc::clone(&self.f),
        }
    }
}

impl<F> fmt::Debug for FilterLayer<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FilterLayer")
    }
}

/// The service of a [`FilterLayer`]: runs the function around `S`.
///
/// It takes requests with any body of [`Bytes`] (axum's too) and never fails: the inner
/// service's errors become a `500` through [`Next::run`].
#[must_use]
pub struct Filter<S, F> {
    inner: S,
    f: Arc<F>,
}

impl<S: Clone, F> Clone for Filter<S, F> {
    fn clone(&self) -> Self {
        Filter {
            inner: self.inner.clone(),
            f: Arc::clone(&self.f),
        }
    }
}

impl<S, F> fmt::Debug for Filter<S, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Filter")
    }
}

impl<S, F, B, ResBody> tower_service::Service<http::Request<B>> for Filter<S, F>
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
    F: FilterFn,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = ResponseFuture<FilterFuture<F::Future>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // The inner service is made ready by `Next::run`, when (and if) the filter calls it.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let next = Next {
            inner: Box::pin(Stage::Idle {
                service: self.inner.clone(),
            }),
        };
        let req = Request::from_http(req.map(Body::from_send));
        let accept = req.headers().get(ACCEPT).cloned();
        ResponseFuture::called(FilterFuture {
            future: self.f.call(req, next),
            accept,
        })
    }
}

pin_project! {
    /// The future of a filter function, its answer rendered (an error as the request's
    /// `Accept` prefers).
    #[must_use = "futures do nothing unless polled"]
    pub struct FilterFuture<Fut> {
        #[pin]
        future: Fut,
        accept: Option<HeaderValue>,
    }
}

impl<Fut> Future for FilterFuture<Fut>
where
    Fut: Future,
    Fut::Output: IntoResponse,
{
    type Output = Result<http::Response<Body>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let out = ready!(this.future.poll(cx));
        Poll::Ready(Ok(out.into_response_for(this.accept.as_ref()).into_http()))
    }
}

impl<Fut> fmt::Debug for FilterFuture<Fut> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FilterFuture")
    }
}

/// The inner service behind [`Next`]: started once with the request, then polled for the
/// answer. One box holds the service and then its future.
trait Inner: Send {
    fn start(self: Pin<&mut Self>, req: http::Request<Body>);
    fn poll_answer(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<Response, BoxError>>;
}

pin_project! {
    #[project = StageProj]
    #[project_replace = StageOwned]
    enum Stage<S, Fut> {
        // Not called yet.
        Idle { service: S },
        // Called while the service was not ready: waits for it.
        Waiting { service: S, req: http::Request<Body> },
        Called { #[pin] future: Fut },
        Failed { error: Option<BoxError> },
        Done,
    }
}

impl<S, ResBody> Inner for Stage<S, S::Future>
where
    S: tower_service::Service<http::Request<Body>, Response = http::Response<ResBody>> + Send,
    S::Future: Send,
    S::Error: Into<BoxError>,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    fn start(mut self: Pin<&mut Self>, req: http::Request<Body>) {
        let StageOwned::Idle { mut service } = self.as_mut().project_replace(Stage::Done) else {
            unreachable!("Next::run takes the Next: it starts once")
        };
        // Most services are ready at once: call them now, so the box holds the future only.
        let next = match service.poll_ready(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(Ok(())) => Stage::Called {
                future: service.call(req),
            },
            Poll::Ready(Err(e)) => Stage::Failed {
                error: Some(e.into()),
            },
            Poll::Pending => Stage::Waiting { service, req },
        };
        self.set(next);
    }

    fn poll_answer(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Response, BoxError>> {
        loop {
            match self.as_mut().project() {
                StageProj::Called { future } => return future.poll(cx).map(answer),
                StageProj::Waiting { service, .. } => match ready!(service.poll_ready(cx)) {
                    Ok(()) => {
                        let StageOwned::Waiting { mut service, req } =
                            self.as_mut().project_replace(Stage::Done)
                        else {
                            unreachable!("matched as Waiting above")
                        };
                        let future = service.call(req);
                        self.set(Stage::Called { future });
                    }
                    Err(e) => return Poll::Ready(Err(e.into())),
                },
                StageProj::Failed { error } => {
                    let error = error
                        .take()
                        .unwrap_or_else(|| "polled after its answer".into());
                    return Poll::Ready(Err(error));
                }
                StageProj::Idle { .. } | StageProj::Done => {
                    return Poll::Ready(Err("the inner service was not started".into()))
                }
            }
        }
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
    inner: Pin<Box<dyn Inner>>,
}

impl Next {
    /// Calls the inner service with `req`; await the answer. A body the filter read (with
    /// [`Request::bytes`] and friends) is passed on as the bytes read.
    ///
    /// The inner service is called here, not at the first poll, and its future lives in the
    /// box `Next` already holds: running the rest of the stack allocates nothing more.
    ///
    /// # Errors
    ///
    /// The future fails when the inner service did (an upstream error it did not turn into an
    /// answer): a `500` whose cause is the error, for logs.
    pub fn run(mut self, req: Request) -> NextFuture {
        self.inner.as_mut().start(req.into_http_with_body());
        NextFuture { inner: self.inner }
    }
}

/// The answer of the rest of the stack, from [`Next::run`].
#[must_use = "futures do nothing unless polled"]
pub struct NextFuture {
    inner: Pin<Box<dyn Inner>>,
}

impl Future for NextFuture {
    type Output = Result<Response, HttpError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner
            .as_mut()
            .poll_answer(cx)
            .map_err(HttpError::internal)
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
