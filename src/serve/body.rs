//! The request body `serve` hands to services: hyper's `Incoming` with an idle read timeout
//! and a deadline for the whole body, and the error it fails with.

use std::time::Duration;

use tokio::time::Instant;

use crate::body::{BodyReadTimeout, BoxError, Expired, Watch};

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
