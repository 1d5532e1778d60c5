//! [`ResponseFuture`]: an answer dispatch gave itself, or the routed service's.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use pin_project_lite::pin_project;

use super::route::RouteFuture;
use crate::body::Body;

pin_project! {
    /// The future of [`Dispatcher`](super::Dispatcher).
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture {
        #[pin]
        inner: Inner,
    }
}

pin_project! {
    #[project = InnerProj]
    enum Inner {
        Answer { res: Option<http::Response<Body>> },
        Routed { future: RouteFuture, strip_body: bool },
    }
}

impl ResponseFuture {
    pub(crate) fn answer(res: http::Response<Body>) -> Self {
        ResponseFuture {
            inner: Inner::Answer { res: Some(res) },
        }
    }

    pub(crate) fn routed(future: RouteFuture, strip_body: bool) -> Self {
        ResponseFuture {
            inner: Inner::Routed { future, strip_body },
        }
    }
}

impl Future for ResponseFuture {
    type Output = Result<http::Response<Body>, std::convert::Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().inner.project() {
            InnerProj::Answer { res } => {
                Poll::Ready(Ok(res.take().expect("polled after completion")))
            }
            InnerProj::Routed { future, strip_body } => {
                let res = ready!(future.as_mut().poll(cx));
                // HEAD served by the GET service: same headers (Content-Length included), no
                // body.
                let res = if *strip_body {
                    res.map(|_| Body::empty())
                } else {
                    res
                };
                Poll::Ready(Ok(res))
            }
        }
    }
}
