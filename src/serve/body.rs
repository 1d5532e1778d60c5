//! The request body `serve` hands to services: hyper's `Incoming` with an idle read timeout
//! and a deadline for the whole body, and the error it fails with.

use std::fmt;
use std::time::Duration;

use tokio::time::Instant;

use crate::body::{BoxError, Expired, Watch};

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

/// Watches a request body for `serve`: its reads fail once the client sent nothing for the
/// body read timeout, or once the body's deadline passed.
#[derive(Debug)]
pub(crate) struct SlowClient {
    read: Duration,
    /// The deadline of the whole body, counted from when it is wrapped; zero: none.
    total: Duration,
}

impl SlowClient {
    pub(crate) fn new(read: Duration, total: Duration) -> Self {
        SlowClient { read, total }
    }
}

impl Watch for SlowClient {
    fn idle_timeout(&self) -> Option<Duration> {
        Some(self.read)
    }

    fn deadline(&self) -> Option<Instant> {
        (!self.total.is_zero()).then(|| Instant::now() + self.total)
    }

    fn timed_out(&mut self, expired: Expired) -> BoxError {
        let (after, total) = match expired {
            Expired::Idle(after) => (after, false),
            Expired::Deadline => (self.total, true),
        };
        Box::new(BodyReadTimeout { after, total })
    }
}
