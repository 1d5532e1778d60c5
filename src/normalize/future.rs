//! [`ResponseFuture`] of [`Normalize`](super::Normalize).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Response;
use pin_project_lite::pin_project;

use crate::body::{Body, BoxError};

pin_project! {
    /// The response future of [`Normalize`](super::Normalize): the inner service's, or the
    /// layer's own answer (a redirect or a 400).
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: Inner<F>,
    }
}

pin_project! {
    #[project = InnerProj]
    enum Inner<F> {
        Answered { response: Option<Response<Body>> },
        Future { #[pin] future: F },
    }
}

impl<F> ResponseFuture<F> {
    pub(super) fn answered(response: Response<Body>) -> Self {
        ResponseFuture {
            inner: Inner::Answered {
                response: Some(response),
            },
        }
    }

    pub(super) fn inner(future: F) -> Self {
        ResponseFuture {
            inner: Inner::Future { future },
        }
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    ResBody: http_body::Body<Data = bytes::Bytes> + Send + Sync + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Output = Result<Response<Body>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().inner.project() {
            InnerProj::Answered { response } => Poll::Ready(Ok(response
                .take()
                .expect("ResponseFuture polled after completion"))),
            InnerProj::Future { future } => future
                .poll(cx)
                .map(|result| result.map(|res| res.map(Body::new))),
        }
    }
}
