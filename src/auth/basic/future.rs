//! The response future of [`BasicAuth`](super::BasicAuth).

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http::Response;
use pin_project_lite::pin_project;

use crate::body::{Body, BoxError};

type Verifying<E> = Pin<Box<dyn Future<Output = Result<Response<Body>, E>> + Send>>;

pin_project! {
    /// The response of [`BasicAuth`](super::BasicAuth): the inner service's, a rejection, or a
    /// password verification followed by the inner service's.
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F, E> {
        #[pin]
        inner: Inner<F, E>,
    }
}

pin_project! {
    #[project = InnerProj]
    enum Inner<F, E> {
        Answer { response: Option<Response<Body>> },
        Future { #[pin] future: F },
        Verifying { future: Verifying<E> },
    }
}

impl<F, E> ResponseFuture<F, E> {
    pub(crate) fn answer(response: Response<Body>) -> Self {
        ResponseFuture {
            inner: Inner::Answer {
                response: Some(response),
            },
        }
    }

    pub(crate) fn future(future: F) -> Self {
        ResponseFuture {
            inner: Inner::Future { future },
        }
    }

    pub(crate) fn verifying(future: Verifying<E>) -> Self {
        ResponseFuture {
            inner: Inner::Verifying { future },
        }
    }
}

impl<F, E, ResBody> Future for ResponseFuture<F, E>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    ResBody: http_body::Body<Data = Bytes> + Send + Sync + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Output = Result<Response<Body>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().inner.project() {
            InnerProj::Answer { response } => Poll::Ready(Ok(response
                .take()
                .expect("ResponseFuture polled after completion"))),
            InnerProj::Future { future } => {
                Poll::Ready(ready!(future.poll(cx)).map(|res| res.map(Body::new)))
            }
            InnerProj::Verifying { future } => future.as_mut().poll(cx),
        }
    }
}
