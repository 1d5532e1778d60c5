//! The connection's socket: a write-progress timeout (hyper has none), its slot under
//! `max_connections` and the idle timeout of an upgraded connection.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use pin_project_lite::pin_project;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::OwnedSemaphorePermit;
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

    /// Passes a ready I/O result through as progress; a pending one waits, then times out.
    fn watch<R>(
        &mut self,
        result: Poll<io::Result<R>>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<R>> {
        if result.is_ready() {
            self.progress();
            return result;
        }
        match self.poll_expired(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("the client read nothing for {:?}", self.timeout),
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

pin_project! {
    /// Fails writes that make no progress for a while (a client that stopped reading).
    pub(crate) struct WriteTimeout<T> {
        #[pin]
        io: T,
        timer: IdleTimer,
    }
}

impl<T> WriteTimeout<T> {
    pub(crate) fn new(io: T, timeout: Duration) -> Self {
        WriteTimeout {
            io,
            timer: IdleTimer::new(timeout),
        }
    }
}

impl<T: AsyncRead> AsyncRead for WriteTimeout<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.project().io.poll_read(cx, buf)
    }
}

impl<T: AsyncWrite> AsyncWrite for WriteTimeout<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        this.timer.watch(this.io.poll_write(cx, buf), cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        this.timer.watch(this.io.poll_write_vectored(cx, bufs), cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.project();
        this.timer.watch(this.io.poll_flush(cx), cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.project();
        this.timer.watch(this.io.poll_shutdown(cx), cx)
    }
}

pin_project! {
    /// A served connection's socket. It holds the connection's permit under
    /// `max_connections` for as long as the socket lives, so a connection hyper handed over
    /// after a `101` (a WebSocket tunnel) still counts; and once `upgraded` is set, it fails
    /// reads after `tunnel_idle` without a byte either way, which ends the tunnel (the proxy
    /// then closes the upstream side too).
    pub(crate) struct ConnIo<T> {
        #[pin]
        io: T,
        // Released when the socket is dropped, wherever it went.
        _permit: OwnedSemaphorePermit,
        upgraded: Arc<AtomicBool>,
        idle: IdleTimer,
    }
}

impl<T> ConnIo<T> {
    pub(crate) fn new(
        io: T,
        permit: OwnedSemaphorePermit,
        upgraded: Arc<AtomicBool>,
        tunnel_idle: Duration,
    ) -> Self {
        ConnIo {
            io,
            _permit: permit,
            upgraded,
            idle: IdleTimer::new(tunnel_idle),
        }
    }
}

impl<T: AsyncRead> AsyncRead for ConnIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.project();
        let result = this.io.poll_read(cx, buf);
        if result.is_ready() {
            this.idle.progress();
            return result;
        }
        // Before an upgrade, `serve`'s own timers watch a quiet client.
        if !this.upgraded.load(Ordering::Acquire) {
            return Poll::Pending;
        }
        match this.idle.poll_expired(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "the upgraded connection was idle for {:?} (tunnel_idle_timeout)",
                    this.idle.timeout()
                ),
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: AsyncWrite> AsyncWrite for ConnIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        progressed(this.idle, this.io.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        progressed(this.idle, this.io.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().io.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().io.poll_shutdown(cx)
    }
}

/// A write that went through is activity: the tunnel is not idle.
fn progressed<R>(idle: &mut IdleTimer, result: Poll<io::Result<R>>) -> Poll<io::Result<R>> {
    if result.is_ready() {
        idle.progress();
    }
    result
}
