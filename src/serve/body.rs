//! The request body `serve` hands to services: hyper's `Incoming` with an idle read timeout
//! and a deadline for the whole body.

use std::fmt;
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
use crate::body::BoxError;

/// The error a request body yields when the client sent nothing for
/// [`ServeConfig::body_read_timeout`](super::ServeConfig::body_read_timeout), or had not
/// sent the whole body [`ServeConfig::body_total_timeout`](super::ServeConfig::body_total_timeout)
/// after its request arrived.
///
/// Reading the body with [`body::to_bytes`](crate::body::to_bytes), or through the proxy,
/// turns it into a `408 Request Timeout`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyReadTimeout {
    after: Duration,
    total: bool,
}

impl BodyReadTimeout {
    /// How long the body stayed silent, or, for [`is_total`](Self::is_total), the deadline
    /// of the whole body.
    pub fn after(&self) -> Duration {
        self.after
    }

    /// Whether the whole body took too long (`body_total_timeout`) rather than one read
    /// (`body_read_timeout`).
    pub fn is_total(&self) -> bool {
        self.total
    }

    /// The client's answer for a request body that failed with `err`: `408 Request Timeout`
    /// when a `BodyReadTimeout` is in its chain, `400` otherwise; both close the connection
    /// (what is left of the body cannot be told from a next request).
    pub(crate) fn answer_for(err: &(dyn std::error::Error + 'static)) -> crate::error::HttpError {
        use http::header::{HeaderValue, CONNECTION};
        let mut current = Some(err);
        let mut timed_out = false;
        while let Some(e) = current {
            if e.downcast_ref::<BodyReadTimeout>().is_some() {
                timed_out = true;
                break;
            }
            current = e.source();
        }
        let error = if timed_out {
            crate::error::HttpError::new(
                http::StatusCode::REQUEST_TIMEOUT,
                "the request body did not arrive in time",
            )
        } else {
            crate::error::HttpError::bad_request("the request body could not be read")
        };
        error.with_header(CONNECTION, HeaderValue::from_static("close"))
    }
}

impl fmt::Display for BodyReadTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.total {
            write!(
                f,
                "the client did not send the whole request body within {:?} \
                 (body_total_timeout); the read was abandoned",
                self.after
            )
        } else {
            write!(
                f,
                "the client sent no request body data for {:?} (body_read_timeout); the read \
                 was abandoned",
                self.after
            )
        }
    }
}

impl std::error::Error for BodyReadTimeout {}

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
