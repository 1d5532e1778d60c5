//! [`CatchPanicLayer`]: a panic below it becomes a `500`, and the connection lives on.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use pin_project_lite::pin_project;

use crate::body::{Body, BoxError};
use crate::panic::{catch, AnswerFor, CatchUnwind};

/// A layer that turns a panic in the services below it (their `call` or their future) into a
/// `500`, rendered by `Accept` like every [`HttpError`](crate::HttpError), naming the request
/// id (the rewrite layer's, else a valid `X-Request-Id`), and logged with the panic's message
/// and location.
///
/// `serve` and `TestClient` already catch panics of the whole service; this layer is for
/// placing the catch inside a stack: below the rewrite layer, so the `500` carries the id the
/// rewrite layer made (the gateway does this), or in an axum or hyper stack.
///
/// tower-http's `CatchPanic` is not used: its handler sees neither the request (no `Accept`,
/// no id) nor where the panic happened.
///
/// ```
/// use tollgate::{filter::CatchPanicLayer, handler, testing::TestClient, Request, Response};
/// use tower::Layer;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let app = handler::from_fn(|req: Request| async move {
///     if req.path() == "/panic" {
///         panic!("deliberately");
///     }
///     Response::text("fine")
/// });
/// let client = TestClient::new(CatchPanicLayer::new().layer(app));
/// assert_eq!(client.get("/panic").send().await.status(), 500);
/// assert_eq!(client.get("/").send().await.status(), 200);
/// # }
/// ```
#[derive(Debug, Clone, Copy, Default)]
#[must_use]
pub struct CatchPanicLayer {
    _private: (),
}

impl CatchPanicLayer {
    /// The layer.
    pub fn new() -> Self {
        CatchPanicLayer::default()
    }
}

impl<S> tower_layer::Layer<S> for CatchPanicLayer {
    type Service = CatchPanic<S>;

    fn layer(&self, inner: S) -> CatchPanic<S> {
        CatchPanic { inner }
    }
}

/// The service of a [`CatchPanicLayer`].
#[derive(Debug, Clone)]
#[must_use]
pub struct CatchPanic<S> {
    inner: S,
}

impl<S, B, ResBody> tower_service::Service<http::Request<B>> for CatchPanic<S>
where
    S: tower_service::Service<http::Request<B>, Response = http::Response<ResBody>>,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = CatchPanicFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let answer = AnswerFor::of(&req);
        let kind = match catch(|| self.inner.call(req)) {
            Ok(future) => Kind::Called {
                future: CatchUnwind::new(future),
                answer: Some(answer),
            },
            Err(caught) => Kind::Answered {
                response: Some(answer.answer(caught)),
            },
        };
        CatchPanicFuture { kind }
    }
}

pin_project! {
    /// The future of [`CatchPanic`].
    #[must_use = "futures do nothing unless polled"]
    pub struct CatchPanicFuture<F> {
        #[pin]
        kind: Kind<F>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F> {
        Answered { response: Option<http::Response<Body>> },
        Called { #[pin] future: CatchUnwind<F>, answer: Option<AnswerFor> },
    }
}

impl<F, B, E> Future for CatchPanicFuture<F>
where
    F: Future<Output = Result<http::Response<B>, E>>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Output = Result<http::Response<Body>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let done = "CatchPanicFuture polled after completion";
        match self.project().kind.project() {
            KindProj::Answered { response } => Poll::Ready(Ok(response.take().expect(done))),
            KindProj::Called { future, answer } => Poll::Ready(match ready!(future.poll(cx)) {
                Ok(result) => result.map(|res| res.map(Body::from_send)),
                Err(caught) => Ok(answer.take().expect(done).answer(caught)),
            }),
        }
    }
}
