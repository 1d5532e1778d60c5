//! The connection's socket: a write-progress timeout (hyper has none), its slot under
//! `max_connections` and the idle timeout of an upgraded connection.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::OwnedSemaphorePermit;

use crate::idle::IdleTimer;

pin_project! {
    /// A served connection's socket. It fails writes that make no progress for
    /// `write_timeout` (a client that stopped reading). It holds the connection's permit under
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
        write: IdleTimer,
        tunnel: IdleTimer,
    }
}

impl<T> ConnIo<T> {
    pub(crate) fn new(
        io: T,
        permit: OwnedSemaphorePermit,
        upgraded: Arc<AtomicBool>,
        write_timeout: Duration,
        tunnel_idle: Duration,
    ) -> Self {
        ConnIo {
            io,
            _permit: permit,
            upgraded,
            write: IdleTimer::new(write_timeout),
            tunnel: IdleTimer::new(tunnel_idle),
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
        // Before an upgrade, `serve`'s own timers watch a quiet client.
        if result.is_pending() && !this.upgraded.load(Ordering::Acquire) {
            return Poll::Pending;
        }
        this.tunnel.watch(result, cx, |after| {
            Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("the upgraded connection was idle for {after:?} (tunnel_idle_timeout)"),
            ))
        })
    }
}

impl<T: AsyncWrite> ConnIo<T> {
    /// A write, flush or shutdown: it fails once it waited `write_timeout` without progress;
    /// a write that went through is activity, so the tunnel is not idle.
    fn watch_write<R>(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        op: impl FnOnce(Pin<&mut T>, &mut Context<'_>) -> Poll<io::Result<R>>,
        tunnel_activity: bool,
    ) -> Poll<io::Result<R>> {
        let this = self.project();
        let result = this.write.watch(op(this.io, cx), cx, |after| {
            Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("the client read nothing for {after:?}"),
            ))
        });
        if tunnel_activity && result.is_ready() {
            this.tunnel.progress();
        }
        result
    }
}

impl<T: AsyncWrite> AsyncWrite for ConnIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.watch_write(cx, |io, cx| io.poll_write(cx, buf), true)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.watch_write(cx, |io, cx| io.poll_write_vectored(cx, bufs), true)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.watch_write(cx, |io, cx| io.poll_flush(cx), false)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.watch_write(cx, |io, cx| io.poll_shutdown(cx), false)
    }
}
