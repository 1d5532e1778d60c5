//! [`ResponseFuture`]: runs the response rules when the inner service answers.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use pin_project_lite::pin_project;

use super::layer::{Pending, Rules};

pin_project! {
    /// The future of [`Rewrite`](super::Rewrite).
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        state: Option<(Arc<Rules>, Pending)>,
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn new(inner: F, state: Option<(Arc<Rules>, Pending)>) -> Self {
        ResponseFuture { inner, state }
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<http::Response<ResBody>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut res = ready!(this.inner.poll(cx))?;
        if let Some((rules, pending)) = this.state.take() {
            rules.on_response(&mut res, pending);
        }
        Poll::Ready(Ok(res))
    }
}
