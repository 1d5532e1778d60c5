//! The one idle timer: what bodies ([`Watched`](crate::body::Watched)) and sockets
//! (`serve`'s connection I/O) use to give up on a peer that stopped moving.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

/// Fires when nothing progressed for `timeout` since the first wait after the last progress.
///
/// The sleep is allocated on the first wait, then reset: most reads and writes never wait.
#[derive(Debug)]
pub(crate) struct IdleTimer {
    timeout: Duration,
    sleep: Option<Pin<Box<Sleep>>>,
    waiting: bool,
}

impl IdleTimer {
    pub(crate) fn new(timeout: Duration) -> Self {
        IdleTimer {
            timeout,
            sleep: None,
            waiting: false,
        }
    }

    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Something moved: the next wait starts a fresh timer.
    pub(crate) fn progress(&mut self) {
        self.waiting = false;
    }

    /// The operation is waiting: `Ready` once it waited `timeout` without progress.
    pub(crate) fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let deadline = Instant::now() + self.timeout;
        let sleep = self
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if !self.waiting {
            sleep.as_mut().reset(deadline);
            self.waiting = true;
        }
        sleep.as_mut().poll(cx)
    }

    /// Passes a ready `result` through as progress; a pending one waits, and once it waited
    /// `timeout` without progress it becomes `expired(timeout)`.
    pub(crate) fn watch<T>(
        &mut self,
        result: Poll<T>,
        cx: &mut Context<'_>,
        expired: impl FnOnce(Duration) -> T,
    ) -> Poll<T> {
        if result.is_ready() {
            self.progress();
            return result;
        }
        self.poll_expired(cx).map(|()| expired(self.timeout))
    }
}

/// A deadline whose sleep is made at the first wait: what never waits costs no timer.
#[derive(Debug)]
pub(crate) struct Deadline {
    at: Instant,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl Deadline {
    pub(crate) fn new(at: Instant) -> Self {
        Deadline { at, sleep: None }
    }

    /// `Ready` once the deadline passed.
    pub(crate) fn poll_passed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let at = self.at;
        self.sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(at)))
            .as_mut()
            .poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn fires_after_a_quiet_wait_and_not_after_progress() {
        let mut timer = IdleTimer::new(Duration::from_secs(5));
        let waited =
            std::future::poll_fn(|cx| timer.watch(Poll::<Result<(), Duration>>::Pending, cx, Err))
                .await;
        assert_eq!(waited, Err(Duration::from_secs(5)));
        let moved =
            std::future::poll_fn(|cx| timer.watch(Poll::Ready(Ok::<_, Duration>(())), cx, Err));
        assert_eq!(moved.await, Ok(()));
    }

    #[tokio::test(start_paused = true)]
    async fn a_deadline_passes_once_its_time_comes() {
        let start = Instant::now();
        let mut deadline = Deadline::new(start + Duration::from_secs(2));
        std::future::poll_fn(|cx| deadline.poll_passed(cx)).await;
        assert!(Instant::now() >= start + Duration::from_secs(2));
    }
}
