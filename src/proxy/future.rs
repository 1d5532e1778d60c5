//! [`ResponseFuture`], the future a [`Proxy`](super::Proxy) call returns.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::body::Body;

/// The answer of a [`Proxy`](super::Proxy): the upstream's, or a `502`/`504`/`413` made here.
///
/// Boxed once per request: forwarding awaits the pool, the upstream and the timers in turn,
/// which an `async` block states far more plainly than a hand-written state machine, and the
/// allocation is noise next to a network round trip.
#[must_use = "futures do nothing unless polled"]
pub struct ResponseFuture {
    inner: Pin<Box<dyn Future<Output = http::Response<Body>> + Send>>,
}

impl ResponseFuture {
    pub(crate) fn new(future: impl Future<Output = http::Response<Body>> + Send + 'static) -> Self {
        ResponseFuture {
            inner: Box::pin(future),
        }
    }
}

impl Future for ResponseFuture {
    type Output = Result<http::Response<Body>, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx).map(Ok)
    }
}

impl fmt::Debug for ResponseFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ResponseFuture")
    }
}
