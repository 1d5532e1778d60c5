//! The connection's socket: a write-progress timeout (hyper has none), its slot under
//! `max_connections`, the idle timeout of an upgraded connection, and on Linux the file
//! regions it sends with `sendfile` ([`crate::sendfile`]).

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;

use crate::idle::IdleTimer;
#[cfg(sendfile)]
use crate::sendfile::FileRegion;

pin_project! {
    /// A served connection's socket. It fails writes that make no progress for
    /// `write_timeout` (a client that stopped reading). It holds the connection's permit under
    /// `max_connections` for as long as the socket lives, so a connection hyper handed over
    /// after a `101` (a WebSocket tunnel) still counts; and once `upgraded` is set, it fails
    /// reads after `tunnel_idle` without a byte either way, which ends the tunnel (the proxy
    /// then closes the upstream side too). On a plain connection it sends the file region
    /// the files service offered with `sendfile` ([`crate::sendfile`]).
    #[project = ConnIoProj]
    pub(crate) struct ConnIo {
        #[pin]
        io: TcpStream,
        // Released when the socket is dropped, wherever it went.
        _permit: OwnedSemaphorePermit,
        upgraded: Arc<AtomicBool>,
        write: IdleTimer,
        tunnel: IdleTimer,
        file_region: Region,
    }
}

/// The file region a plain connection's socket sends with `sendfile`, where it can.
#[cfg(sendfile)]
type Region = Option<Arc<FileRegion>>;
#[cfg(not(sendfile))]
type Region = ();

impl ConnIo {
    pub(crate) fn new(
        io: TcpStream,
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
            file_region: Region::default(),
        }
    }

    /// Sends what `region` is offered with `sendfile` (a plain connection's socket).
    #[cfg(sendfile)]
    pub(crate) fn with_file_region(mut self, region: Arc<FileRegion>) -> Self {
        self.file_region = Some(region);
        self
    }
}

impl AsyncRead for ConnIo {
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

impl ConnIo {
    /// A write, flush or shutdown: it fails once it waited `write_timeout` without progress;
    /// a write that went through is activity, so the tunnel is not idle.
    fn watch_write<R>(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        op: impl FnOnce(&mut ConnIoProj<'_>, &mut Context<'_>) -> Poll<io::Result<R>>,
        tunnel_activity: bool,
    ) -> Poll<io::Result<R>> {
        let mut this = self.project();
        let result = op(&mut this, cx);
        let result = this.write.watch(result, cx, |after| {
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

impl ConnIoProj<'_> {
    /// Writes `bufs` when one of them lies in the offered file region, with `sendfile`
    /// ([`crate::sendfile`]); `Ready(None)` leaves them to the socket's own write.
    fn poll_file_region(
        &self,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<Option<io::Result<usize>>> {
        #[cfg(sendfile)]
        if let Some(region) = self.file_region.as_deref() {
            return region.poll_write(&self.io, cx, bufs);
        }
        let _ = (cx, bufs);
        Poll::Ready(None)
    }
}

impl AsyncWrite for ConnIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.watch_write(
            cx,
            |this, cx| {
                if let Some(sent) = ready!(this.poll_file_region(cx, &[io::IoSlice::new(buf)])) {
                    return Poll::Ready(sent);
                }
                this.io.as_mut().poll_write(cx, buf)
            },
            true,
        )
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.watch_write(
            cx,
            |this, cx| {
                if let Some(sent) = ready!(this.poll_file_region(cx, bufs)) {
                    return Poll::Ready(sent);
                }
                this.io.as_mut().poll_write_vectored(cx, bufs)
            },
            true,
        )
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.watch_write(cx, |this, cx| this.io.as_mut().poll_flush(cx), false)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.watch_write(cx, |this, cx| this.io.as_mut().poll_shutdown(cx), false)
    }
}
