//! The request body `serve` hands to services: hyper's `Incoming` with an idle read timeout
//! and a deadline for the whole body.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};

use super::io::IdleTimer;
use crate::body::{BodyReadTimeout, BoxError};

pin_project! {
    /// `Incoming` whose reads fail once the client sent nothing for the body read timeout,
    /// or once the body's deadline passed.
    pub(crate) struct TimeoutBody {
        #[pin]
        inner: Incoming,
        timer: IdleTimer,
        // When the whole body must have arrived, and its total timeout; `None`: no deadline.
        deadline: Option<(Instant, Duration)>,
        // Made at the first wait: a body that never waits costs no timer.
        deadline_sleep: Option<Pin<Box<Sleep>>>,
        timed_out: Option<BodyReadTimeout>,
    }
}

impl TimeoutBody {
    /// `total` of zero means no deadline for the whole body.
    pub(crate) fn new(inner: Incoming, timeout: Duration, total: Duration) -> Self {
        TimeoutBody {
            inner,
            timer: IdleTimer::new(timeout),
            deadline: (!total.is_zero()).then(|| (Instant::now() + total, total)),
            deadline_sleep: None,
            timed_out: None,
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
        if this.timed_out.is_none() {
            if let Poll::Ready(frame) = this.inner.poll_frame(cx) {
                this.timer.progress();
                return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
            }
            let total = match *this.deadline {
                Some((at, total)) => {
                    let sleep = this
                        .deadline_sleep
                        .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(at)));
                    sleep.as_mut().poll(cx).is_ready().then_some(total)
                }
                None => None,
            };
            let error = match total {
                // A trickle that keeps the read timeout at bay still meets the deadline.
                Some(total) => BodyReadTimeout {
                    after: total,
                    total: true,
                },
                None => {
                    ready!(this.timer.poll_expired(cx));
                    BodyReadTimeout {
                        after: this.timer.timeout(),
                        total: false,
                    }
                }
            };
            *this.timed_out = Some(error);
        }
        // Never `None` after a timeout: a truncated body must not look complete.
        let error = this.timed_out.clone().expect("set above");
        Poll::Ready(Some(Err(Box::new(error))))
    }

    fn is_end_stream(&self) -> bool {
        self.timed_out.is_none() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
