//! One connection's task: hyper's connection future, stopped by shutdown, the request cap,
//! the idle timer, or a new client at `max_connections` while it is idle.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tokio::time::Instant;

use super::conn::{ClientIdentity, ConnService, ConnState};
use super::side::SideEvents;
use super::{ServeService, Shared, CLOSE_GRACE};

impl Shared {
    /// Serves one connection until it ends, the server shuts down, its request cap is reached
    /// or it stays idle past the header read timeout.
    pub(super) async fn connection<I, S: ServeService>(
        &self,
        io: I,
        peer: SocketAddr,
        (tls, client): (bool, Option<ClientIdentity>),
        upgraded: Arc<AtomicBool>,
        service: S,
        mut shutdown: watch::Receiver<()>,
    ) where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let state = self.state(peer, (tls, client), upgraded);
        let _listed = self.connections.list(&state);
        let service = ConnService::new(service, Arc::clone(&state));
        let conn = self
            .builder
            .serve_connection_with_upgrades(TokioIo::new(io), service);
        tokio::pin!(conn);
        // While no request is in flight the client owes us a request head: after
        // `header_read_timeout` without one (slowloris, a silent client, an idle keep-alive or
        // HTTP/2 connection) the connection is closed. One timer per connection, looked at
        // only when it fires.
        let idle_timeout = self.config.header_read_timeout;
        let idle = tokio::time::sleep(idle_timeout);
        tokio::pin!(idle);
        let mut closing = false;
        // The connection is polled on every wake-up; shutdown, the request cap and the idle
        // timer only when one of them fired (`side`).
        let side = SideEvents::new();
        loop {
            let mut changed = std::pin::pin!(shutdown.changed());
            let mut capped = std::pin::pin!(state.cap.notified());
            let mut evicted = std::pin::pin!(state.evict.notified());
            let event = std::future::poll_fn(|cx| {
                if let Poll::Ready(result) = conn.as_mut().poll(cx) {
                    return Poll::Ready(Side::Ended(result));
                }
                if !side.fired(cx.waker()) {
                    return Poll::Pending;
                }
                let mut side_cx = side.context();
                if !closing
                    && (changed.as_mut().poll(&mut side_cx).is_ready()
                        || capped.as_mut().poll(&mut side_cx).is_ready())
                {
                    return Poll::Ready(Side::Close);
                }
                if !closing && evicted.as_mut().poll(&mut side_cx).is_ready() {
                    return Poll::Ready(Side::Idle(true));
                }
                match idle.as_mut().poll(&mut side_cx) {
                    Poll::Ready(()) => Poll::Ready(Side::Idle(false)),
                    Poll::Pending => Poll::Pending,
                }
            })
            .await;
            side.arm();
            match event {
                Side::Ended(result) => {
                    if let Err(e) = result {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                    return;
                }
                Side::Close => {
                    closing = true;
                    conn.as_mut().graceful_shutdown();
                }
                Side::Idle(evict) => {
                    let now = Instant::now();
                    // Evicted: idle at all will do (the new client's side checked how long).
                    let after = if evict { Duration::ZERO } else { idle_timeout };
                    match state.idle_deadline(after) {
                        Some(deadline) if deadline <= now => {}
                        // Busy (a request in flight is never cut), or active since the timer
                        // was set: look again later.
                        deadline => {
                            state.evicting.store(false, Ordering::Release);
                            idle.as_mut().reset(deadline.unwrap_or(now + idle_timeout));
                            continue;
                        }
                    }
                    if closing {
                        // The peer did not finish closing either: drop the socket.
                        return;
                    }
                    if evict {
                        tracing::debug!(%peer, "idle at max_connections; closing for a new client");
                    } else {
                        tracing::debug!(%peer, "no request for {idle_timeout:?}; closing");
                    }
                    // An idle HTTP/1 connection closes now, an HTTP/2 peer gets a GOAWAY; a
                    // half-sent head is dropped after a short grace.
                    closing = true;
                    conn.as_mut().graceful_shutdown();
                    idle.as_mut().reset(now + CLOSE_GRACE.min(idle_timeout));
                }
            }
        }
    }
}

impl Shared {
    /// The state a new connection's task and its requests share.
    fn state(
        &self,
        peer: SocketAddr,
        (tls, client): (bool, Option<ClientIdentity>),
        upgraded: Arc<AtomicBool>,
    ) -> Arc<ConnState> {
        Arc::new(ConnState::new(
            peer,
            tls,
            client,
            upgraded,
            self.config.body_read_timeout,
            self.config.body_total_timeout,
            self.config.max_requests_per_connection,
        ))
    }
}

/// What woke a connection's loop.
enum Side<E> {
    /// The connection is over.
    Ended(Result<(), E>),
    /// Shutdown began, or the request cap was reached.
    Close,
    /// The idle timer fired (`false`), or a new client at `max_connections` needs this
    /// connection's slot if it is idle (`true`).
    Idle(bool),
}
