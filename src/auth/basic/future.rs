//! The response future of [`BasicAuth`](super::BasicAuth).

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http::Response;
use pin_project_lite::pin_project;

use crate::body::{Body, BoxError};
use crate::ext::AuthenticatedUser;

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
        Future { #[pin] future: F, user: Option<AuthenticatedUser> },
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

    /// The inner service's answer; `user`, when admitted, is also put on the answer's
    /// extensions so the access log names who was let in, whatever answered.
    pub(crate) fn future(future: F, user: Option<AuthenticatedUser>) -> Self {
        ResponseFuture {
            inner: Inner::Future { future, user },
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
            InnerProj::Future { future, user } => {
                let result = ready!(future.poll(cx));
                Poll::Ready(result.map(|res| with_user(res.map(Body::new), user.take())))
            }
            InnerProj::Verifying { future } => future.as_mut().poll(cx),
        }
    }
}

/// Puts the admitted user on the answer unless the inner service already did (a proxy does).
pub(crate) fn with_user(
    mut res: Response<Body>,
    user: Option<AuthenticatedUser>,
) -> Response<Body> {
    if let Some(user) = user {
        if res.extensions().get::<AuthenticatedUser>().is_none() {
            res.extensions_mut().insert(user);
        }
    }
    res
}
