//! A connection's side events (shutdown, its request cap, its idle timer) polled only when one
//! of them woke the task, not on every wake-up that the connection's own I/O causes.
//!
//! `tokio::select!` polls every branch each time the task runs: for a kept-alive connection
//! that is a lock for each `Notify` and a timer registration per request, for events that
//! happen once per connection. Here the side futures get a waker of their own that raises a
//! flag before waking the task, and are polled only when the flag is up.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Wake, Waker};

use futures_util::task::AtomicWaker;

/// The side waker of one connection's task.
pub(crate) struct SideEvents {
    flag: Arc<Flag>,
    waker: Waker,
}

struct Flag {
    fired: AtomicBool,
    task: AtomicWaker,
}

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.fired.store(true, Ordering::Release);
        self.task.wake();
    }
}

impl SideEvents {
    /// Armed: the first poll registers every side future.
    pub(crate) fn new() -> Self {
        let flag = Arc::new(Flag {
            fired: AtomicBool::new(true),
            task: AtomicWaker::new(),
        });
        let waker = Waker::from(Arc::clone(&flag));
        SideEvents { flag, waker }
    }

    /// Whether the side futures must be polled now (one of them woke the task, or
    /// [`arm`](Self::arm) asked for it); remembers `task` as the waker to pass the wake-up on to.
    pub(crate) fn fired(&self, task: &Waker) -> bool {
        self.flag.task.register(task);
        self.flag.fired.swap(false, Ordering::AcqRel)
    }

    /// Polls the side futures at the next [`fired`](Self::fired): after a side event was handled
    /// and its futures were made again or reset.
    pub(crate) fn arm(&self) {
        self.flag.fired.store(true, Ordering::Release);
    }

    /// The context to poll the side futures with.
    pub(crate) fn context(&self) -> Context<'_> {
        Context::from_waker(&self.waker)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::task::Poll;

    #[tokio::test]
    async fn a_side_event_wakes_the_task_and_is_polled_once_fired() {
        let side = SideEvents::new();
        let notify = Arc::new(tokio::sync::Notify::new());
        let mut notified = std::pin::pin!(notify.notified());
        let mut polls = 0;
        let waiter = std::future::poll_fn(|cx| {
            if !side.fired(cx.waker()) {
                return Poll::Pending;
            }
            polls += 1;
            notified.as_mut().poll(&mut side.context())
        });
        let trigger = Arc::clone(&notify);
        tokio::spawn(async move {
            tokio::task::yield_now().await;
            trigger.notify_one();
        });
        tokio::time::timeout(std::time::Duration::from_secs(10), waiter)
            .await
            .expect("the side event woke the task");
        assert_eq!(polls, 2, "polled when armed, then once when it fired");
    }
}
