//! The request body `serve` hands to services: hyper's `Incoming` with an idle read timeout.

use std::fmt;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use pin_project_lite::pin_project;

use super::io::IdleTimer;
use crate::body::BoxError;

/// The error a request body yields when the client sent nothing for
/// [`ServeConfig::body_read_timeout`](super::ServeConfig::body_read_timeout).
///
/// Reading the body with [`body::to_bytes`](crate::body::to_bytes) turns it into a 400.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyReadTimeout {
    after: Duration,
}

impl BodyReadTimeout {
    /// How long the body stayed silent.
    pub fn after(&self) -> Duration {
        self.after
    }
}

impl fmt::Display for BodyReadTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the client sent no request body data for {:?}; the read was abandoned",
            self.after
        )
    }
}

impl std::error::Error for BodyReadTimeout {}

pin_project! {
    /// `Incoming` whose reads fail once the client sent nothing for the body read timeout.
    pub(crate) struct TimeoutBody {
        #[pin]
        inner: Incoming,
        timer: IdleTimer,
        timed_out: bool,
    }
}

impl TimeoutBody {
    pub(crate) fn new(inner: Incoming, timeout: Duration) -> Self {
        TimeoutBody {
            inner,
            timer: IdleTimer::new(timeout),
            timed_out: false,
        }
    }
}

impl http_body::Body for TimeoutBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.project();
        if !*this.timed_out {
            if let Poll::Ready(frame) = this.inner.poll_frame(cx) {
                this.timer.progress();
                return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
            }
            ready!(this.timer.poll_expired(cx));
            *this.timed_out = true;
        }
        // Never `None` after a timeout: a truncated body must not look complete.
        Poll::Ready(Some(Err(Box::new(BodyReadTimeout {
            after: this.timer.timeout(),
        }))))
    }

    fn is_end_stream(&self) -> bool {
        !self.timed_out && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
