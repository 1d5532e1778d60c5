//! [`Watched`]: the one wrapper for a body that something must watch as it streams (bytes
//! counted, trailers screened, a limit, an idle timeout, a guard held until the body is gone).

use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use pin_project_lite::pin_project;
use tokio::time::Instant;

use super::BoxError;
use crate::idle::{Deadline, IdleTimer};

/// What passed, which [`Watch::timed_out`] is told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expired {
    /// The inner body sent nothing for [`Watch::idle_timeout`] (this long).
    Idle(Duration),
    /// [`Watch::deadline`] passed before the body ended.
    Deadline,
}

/// The hooks of a [`Watched`] body. Each has a default that lets the body pass as it is; a
/// watcher that must do something when the body is gone (answered, cut, dropped unread) does
/// it in its own `Drop`.
pub(crate) trait Watch {
    /// Before each poll of the inner body: `Pending` holds the body back, an error ends it.
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    /// A frame passed; `end` is the inner body's `is_end_stream` just after it (servers stop
    /// polling there, so the last frame, not the `None` after it, is the end they see). The
    /// frame may be changed, or replaced by an error.
    fn frame(&mut self, frame: Frame<Bytes>, _end: bool) -> Result<Frame<Bytes>, BoxError> {
        Ok(frame)
    }

    /// The inner body ended (it returned `None`).
    fn end(&mut self) {}

    /// The inner body failed: the error to pass on.
    fn error(&mut self, error: BoxError) -> BoxError {
        error
    }

    /// How long the inner body may send nothing; read once, when the body is wrapped.
    /// Default: forever.
    fn idle_timeout(&self) -> Option<Duration> {
        None
    }

    /// When the inner body must have ended; read once, when the body is wrapped. Default: never.
    fn deadline(&self) -> Option<Instant> {
        None
    }

    /// The error once [`idle_timeout`](Self::idle_timeout) or [`deadline`](Self::deadline)
    /// passed; asked again at every later poll, since a body cut short must never end as if it
    /// were complete.
    fn timed_out(&mut self, expired: Expired) -> BoxError {
        match expired {
            Expired::Idle(after) => format!("the body sent nothing for {after:?}").into(),
            Expired::Deadline => "the body did not end in time".into(),
        }
    }
}

pin_project! {
    /// A body of [`Bytes`] passed through a [`Watch`]: every frame, the end and errors go by
    /// its hooks, and its idle timeout and deadline cut the body when they pass.
    pub(crate) struct Watched<B, W> {
        #[pin]
        inner: B,
        watch: W,
        idle: Option<IdleTimer>,
        deadline: Option<Deadline>,
        expired: Option<Expired>,
    }
}

impl<B, W: Watch> Watched<B, W> {
    pub(crate) fn new(inner: B, watch: W) -> Self {
        Watched {
            inner,
            idle: watch.idle_timeout().map(IdleTimer::new),
            deadline: watch.deadline().map(Deadline::new),
            watch,
            expired: None,
        }
    }
}

impl<B, W> http_body::Body for Watched<B, W>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<BoxError>,
    W: Watch,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let mut this = self.project();
        if let Some(expired) = *this.expired {
            return Poll::Ready(Some(Err(this.watch.timed_out(expired))));
        }
        ready!(this.watch.poll_ready(cx))?;
        if let Poll::Ready(frame) = this.inner.as_mut().poll_frame(cx) {
            if let Some(idle) = this.idle {
                idle.progress();
            }
            return Poll::Ready(match frame {
                Some(Ok(frame)) => Some(this.watch.frame(frame, this.inner.is_end_stream())),
                Some(Err(e)) => Some(Err(this.watch.error(e.into()))),
                None => {
                    this.watch.end();
                    None
                }
            });
        }
        // A trickle that keeps the idle timeout at bay still meets the deadline.
        let passed = match this.deadline {
            Some(deadline) => deadline.poll_passed(cx).is_ready(),
            None => false,
        };
        let expired = if passed {
            Expired::Deadline
        } else {
            match this.idle {
                Some(idle) => {
                    ready!(idle.poll_expired(cx));
                    Expired::Idle(idle.timeout())
                }
                None => return Poll::Pending,
            }
        };
        *this.expired = Some(expired);
        Poll::Ready(Some(Err(this.watch.timed_out(expired))))
    }

    fn is_end_stream(&self) -> bool {
        self.expired.is_none() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::Body;
    use futures_util::stream;
    use http_body::Body as _;
    use http_body_util::{BodyExt, StreamBody};

    #[derive(Default)]
    struct Counter {
        bytes: usize,
        ends: usize,
    }

    impl Watch for &mut Counter {
        fn frame(&mut self, frame: Frame<Bytes>, end: bool) -> Result<Frame<Bytes>, BoxError> {
            self.bytes += frame.data_ref().map_or(0, Bytes::len);
            self.ends += usize::from(end);
            Ok(frame)
        }

        fn end(&mut self) {
            self.ends += 1;
        }
    }

    #[tokio::test]
    async fn frames_and_the_end_pass_by_the_hooks() {
        let mut counter = Counter::default();
        let body = Watched::new(Body::from("hello"), &mut counter);
        assert_eq!(body.size_hint().exact(), Some(5));
        assert_eq!(body.collect().await.unwrap().to_bytes(), "hello");
        // The last frame says the end, and so does the `None` after it.
        assert_eq!((counter.bytes, counter.ends), (5, 2));
    }

    struct Quiet;

    impl Watch for Quiet {
        fn idle_timeout(&self) -> Option<Duration> {
            Some(Duration::from_secs(5))
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_body_is_cut_and_never_looks_complete() {
        let stalled = StreamBody::new(stream::pending::<Result<Frame<Bytes>, BoxError>>());
        let mut body = Watched::new(stalled, Quiet);
        let err = body.frame().await.unwrap().unwrap_err();
        assert!(err.to_string().contains("sent nothing for 5s"), "{err}");
        assert!(!body.is_end_stream());
        assert!(body.frame().await.unwrap().is_err());
    }
}
