//! [`ResponseFuture`]: the future of the filter module's services.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use pin_project_lite::pin_project;

use crate::body::{Body, BoxError};
use crate::response::Response;

/// A function applied to the inner service's answer ([`map_response`](super::map_response)).
pub(super) type ResponseFn = Arc<dyn Fn(Response) -> Response + Send + Sync>;

pin_project! {
    /// The future of [`Filter`](super::Filter), [`MapRequest`](super::MapRequest) and
    /// [`MapResponse`](super::MapResponse): the inner service's answer with its body made a
    /// [`Body`], or the filter's own answer.
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F> {
        #[pin]
        kind: Kind<F>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F> {
        Answered { response: Option<http::Response<Body>> },
        Called { #[pin] future: F, map: Option<ResponseFn> },
    }
}

impl<F> ResponseFuture<F> {
    pub(super) fn called(future: F) -> Self {
        Self::mapped(future, None)
    }

    pub(super) fn mapped(future: F, map: Option<ResponseFn>) -> Self {
        ResponseFuture {
            kind: Kind::Called { future, map },
        }
    }

    pub(super) fn answered(response: http::Response<Body>) -> Self {
        ResponseFuture {
            kind: Kind::Answered {
                response: Some(response),
            },
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<http::Response<B>, E>>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Output = Result<http::Response<Body>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Answered { response } => Poll::Ready(Ok(response
                .take()
                .expect("ResponseFuture polled after completion"))),
            KindProj::Called { future, map } => {
                let res = ready!(future.poll(cx))?.map(Body::from_send);
                Poll::Ready(Ok(match map.take() {
                    Some(map) => map(Response::from_http(res)).into_http(),
                    None => res,
                }))
            }
        }
    }
}
