//! The HTTP/1.1 connection pool: idle `hyper::client::conn::http1` connections to one upstream,
//! kept per runtime thread.
//!
//! It replaces hyper-util's legacy client for HTTP/1.1 upstreams (`http://`, and `https://`
//! without `http2`), which costs a SipHash of the pool key and a mutex per checkout, a task
//! spawned per request to give the connection back once it is ready again, and `Map` layers
//! around every future. Here a checkout is a pop from the current thread's shelf, and a
//! connection goes back from the answer body itself, when the body ends (or at once for an
//! answer without one). Each connection is still driven by its own task (hyper's `Connection`),
//! spawned on the runtime that opened it.
//!
//! Behaviour kept from the legacy client:
//! - A request handed back unsent by a reused connection that turned out closed (the upstream
//!   closed it while it sat idle) is sent again, on another pooled connection or a fresh one
//!   (`retry_canceled_requests`). A request that was written is never sent twice.
//! - Idle connections close after `pool_idle_timeout`; at most `pool_max_idle` idle ones are
//!   kept (per thread), the oldest going first. The most recently used connection is reused
//!   first.
//! - A connection whose answer body was not read to the end, or that upgraded (`101`), never
//!   returns to the pool.
//!
//! Every connection's answer heads go through [`HeadGuard`] (a bare LF or a `1xx` flood fails
//! the request: a `502`); the pool tells it when a request goes out.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Context;
use std::time::Duration;

use http::{Request, Response, Uri};
use hyper::body::Incoming;
use hyper::client::conn::http1;
use tokio::time::Instant;

use super::client::{Connector, UpstreamBody};
use super::heads::{AnswerDue, HeadGuard};
use crate::body::BoxError;

/// Idle connections to one upstream, one shelf per runtime thread.
pub(crate) struct Pool {
    connector: Connector,
    builder: http1::Builder,
    /// `scheme://authority` of the upstream, what the connector dials.
    dial: Uri,
    shelves: Mutex<Vec<Shelf>>,
    max_idle: usize,
    idle_timeout: Duration,
    epoch: Instant,
    /// Whether the upstream's last answer was HTTP/1.0. hyper learns it per connection and
    /// then sends a body of unknown length as nothing at all (HTTP/1.0 has no chunked
    /// encoding); the proxy reads it here to buffer such bodies and send a `Content-Length`.
    http10: AtomicBool,
}

/// The idle connections of one thread, oldest first.
struct Shelf {
    owner: usize,
    idle: std::collections::VecDeque<Idle>,
}

struct Idle {
    tx: http1::SendRequest<UpstreamBody>,
    state: Arc<ConnState>,
}

/// A connection taken from the pool (or just opened) for one request.
pub(crate) struct Pooled {
    tx: http1::SendRequest<UpstreamBody>,
    state: Arc<ConnState>,
    /// Whether it served a request before: only then may a request it hands back unsent be
    /// tried again (a fresh connection that fails is the upstream's answer).
    reused: bool,
}

/// Why a request got no answer.
#[derive(Debug)]
pub(crate) enum SendError {
    /// No connection could be opened: nothing was sent.
    Connect(BoxError),
    /// The connection failed while the request was sent or its answer awaited.
    Send(hyper::Error),
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Connect(_) => f.write_str("could not connect to the upstream"),
            SendError::Send(_) => f.write_str("the upstream request failed"),
        }
    }
}

impl std::error::Error for SendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SendError::Connect(e) => Some(&**e),
            SendError::Send(e) => Some(e),
        }
    }
}

/// Whether a connection is in use, idle (and since when), or closed by its idle timer. The
/// pool and the connection's task race on it: whoever moves it out of "idle" first wins.
struct ConnState {
    since: AtomicU64,
    /// Told when a request goes out, so the connection's [`HeadGuard`] checks the answer's head.
    answer_due: Arc<AnswerDue>,
}

const BUSY: u64 = 0;
const CLOSED: u64 = u64::MAX;

impl ConnState {
    fn busy() -> Self {
        ConnState {
            since: AtomicU64::new(BUSY),
            answer_due: Arc::default(),
        }
    }

    /// Idle since `ms` (milliseconds after the pool's epoch, plus one so it is never `BUSY`).
    fn set_idle(&self, ms: u64) {
        self.since
            .store(ms.saturating_add(1).min(CLOSED - 1), Ordering::Release);
    }

    /// Idle → busy; false when the idle timer closed it first.
    fn claim(&self) -> bool {
        let current = self.since.load(Ordering::Acquire);
        current != CLOSED
            && current != BUSY
            && self
                .since
                .compare_exchange(current, BUSY, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
    }
}

impl Pool {
    pub(crate) fn new(
        connector: Connector,
        dial: Uri,
        max_idle: usize,
        idle_timeout: Duration,
    ) -> Self {
        Pool {
            connector,
            builder: http1::Builder::new(),
            dial,
            shelves: Mutex::new(Vec::new()),
            // A connection that may not stay idle at all is never pooled.
            max_idle: if idle_timeout.is_zero() { 0 } else { max_idle },
            idle_timeout,
            epoch: Instant::now(),
            http10: AtomicBool::new(false),
        }
    }

    /// Whether the upstream's last answer said HTTP/1.0.
    pub(crate) fn speaks_http10(&self) -> bool {
        self.http10.load(Ordering::Relaxed)
    }

    /// Records the version of an answer of the upstream (written only when it changes, so
    /// workers do not contend on it).
    pub(crate) fn learn_version(&self, version: http::Version) {
        let http10 = version == http::Version::HTTP_10;
        if self.http10.load(Ordering::Relaxed) != http10 {
            self.http10.store(http10, Ordering::Relaxed);
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(
            Instant::now()
                .saturating_duration_since(self.epoch)
                .as_millis(),
        )
        .unwrap_or(CLOSED - 1)
    }

    fn shelves(&self) -> std::sync::MutexGuard<'_, Vec<Shelf>> {
        // A poisoned lock only means a holder panicked; the lists are still valid.
        self.shelves.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The most recently idle connection of this thread that is still open.
    fn checkout(&self) -> Option<Pooled> {
        let owner = shelf_owner();
        let mut shelves = self.shelves();
        let shelf = shelves.iter_mut().find(|s| s.owner == owner)?;
        while let Some(idle) = shelf.idle.pop_back() {
            if idle.tx.is_ready() && idle.state.claim() {
                return Some(Pooled {
                    tx: idle.tx,
                    state: idle.state,
                    reused: true,
                });
            }
        }
        None
    }

    /// Puts a connection whose exchange is over back on this thread's shelf, or drops it (and
    /// so closes it) when pooling is off or it is already closed. A connection not yet ready
    /// for the next request (its dispatcher has not caught up) is put back once it is.
    pub(crate) fn checkin(self: &Arc<Self>, conn: Pooled) {
        if self.max_idle == 0 || conn.tx.is_closed() {
            return;
        }
        if !conn.tx.is_ready() {
            // Rare: the answer ended before the connection finished the exchange (an upload the
            // upstream answered early). Wait for it on the side, as hyper-util does.
            let Ok(runtime) = tokio::runtime::Handle::try_current() else {
                return;
            };
            let pool = Arc::clone(self);
            let mut conn = conn;
            runtime.spawn(async move {
                if conn.tx.ready().await.is_ok() {
                    pool.put(conn);
                }
            });
            return;
        }
        self.put(conn);
    }

    fn put(&self, conn: Pooled) {
        let now = self.now_ms();
        conn.state.set_idle(now);
        let owner = shelf_owner();
        let timeout = u64::try_from(self.idle_timeout.as_millis()).unwrap_or(u64::MAX);
        let mut shelves = self.shelves();
        let shelf = match shelves.iter().position(|s| s.owner == owner) {
            Some(i) => &mut shelves[i],
            None => {
                shelves.push(Shelf {
                    owner,
                    idle: std::collections::VecDeque::new(),
                });
                shelves.last_mut().expect("a shelf was just pushed")
            }
        };
        shelf.idle.push_back(Idle {
            tx: conn.tx,
            state: conn.state,
        });
        // Expired or closed connections at the old end go (their tasks close them on their
        // own; this drops what is left), then the oldest past the limit.
        while let Some(oldest) = shelf.idle.front() {
            let since = oldest.state.since.load(Ordering::Acquire).saturating_sub(1);
            let expired = now.saturating_sub(since) >= timeout;
            if shelf.idle.len() > self.max_idle || expired || oldest.tx.is_closed() {
                shelf.idle.pop_front();
            } else {
                break;
            }
        }
    }

    /// Sends `req` on a pooled connection, or a new one; a request a reused connection hands
    /// back unsent goes out again on the next.
    pub(crate) async fn send(
        &self,
        mut req: Request<UpstreamBody>,
    ) -> Result<(Response<Incoming>, Pooled), SendError> {
        loop {
            let mut conn = match self.checkout() {
                Some(conn) => conn,
                // Boxed: connecting is rare, and its future would make every request's
                // future (moved into a box per request) several kilobytes larger.
                None => Box::pin(self.connect()).await?,
            };
            conn.state.answer_due.expect();
            match conn.tx.try_send_request(req).await {
                Ok(res) => return Ok((res, conn)),
                Err(mut e) => match e.take_message() {
                    Some(unsent) if conn.reused => {
                        tracing::debug!(error = %e.error(), "pooled connection closed; sending on another");
                        req = unsent;
                    }
                    _ => return Err(SendError::Send(e.into_error())),
                },
            }
        }
    }

    async fn connect(&self) -> Result<Pooled, SendError> {
        use tower_service::Service;

        let mut connector = self.connector.clone();
        std::future::poll_fn(|cx: &mut Context<'_>| connector.poll_ready(cx))
            .await
            .map_err(connect_error)?;
        let io = connector
            .call(self.dial.clone())
            .await
            .map_err(connect_error)?;
        let state = Arc::new(ConnState::busy());
        let io = HeadGuard::new(io, Arc::clone(&state.answer_due));
        let (tx, conn) = self
            .builder
            .handshake(io)
            .await
            .map_err(|e| SendError::Connect(Box::new(e)))?;
        tokio::spawn(drive(
            conn.with_upgrades(),
            Arc::clone(&state),
            self.idle_timeout,
            self.epoch,
        ));
        Ok(Pooled {
            tx,
            state,
            reused: false,
        })
    }
}

/// A connector's error (its type differs with and without `tls`).
fn connect_error(e: impl Into<BoxError>) -> SendError {
    SendError::Connect(e.into())
}

/// Runs one connection until it closes, upgrades, or sits idle in the pool for `idle_timeout`.
async fn drive<F>(conn: F, state: Arc<ConnState>, idle_timeout: Duration, epoch: Instant)
where
    F: std::future::Future<Output = hyper::Result<()>>,
{
    let mut conn = std::pin::pin!(conn);
    let timer = tokio::time::sleep(idle_timeout);
    let mut timer = std::pin::pin!(timer);
    loop {
        tokio::select! {
            biased;
            done = &mut conn => {
                if let Err(e) = done {
                    tracing::debug!(error = %e, "upstream connection failed");
                }
                break;
            }
            () = &mut timer => {
                let now = Instant::now();
                let current = state.since.load(Ordering::Acquire);
                if current == BUSY {
                    // In use: look again later (not too often for a tiny timeout).
                    timer.as_mut().reset(later(now, idle_timeout.max(Duration::from_secs(1))));
                    continue;
                }
                let since = epoch + Duration::from_millis(current.saturating_sub(1));
                let deadline = later(since, idle_timeout);
                if deadline > now {
                    timer.as_mut().reset(deadline);
                } else if state
                    .since
                    .compare_exchange(current, CLOSED, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    tracing::debug!("idle upstream connection expired");
                    break;
                }
            }
        }
    }
    state.since.store(CLOSED, Ordering::Release);
}

/// `at + d`, or far in the future when that does not fit (a huge configured timeout).
fn later(at: Instant, d: Duration) -> Instant {
    at.checked_add(d)
        .or_else(|| at.checked_add(Duration::from_secs(30 * 365 * 86_400)))
        .unwrap_or(at)
}

/// Which shelf the current thread uses: its own on a current-thread runtime (the connection's
/// task runs where the request does), one shared shelf on a multi-thread runtime (tasks move
/// between threads anyway).
fn shelf_owner() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(1);
    thread_local! {
        static OWNER: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }
    OWNER.with(|owner| {
        let known = owner.get();
        if known != 0 {
            return known;
        }
        match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
            Ok(tokio::runtime::RuntimeFlavor::CurrentThread) => {
                let id = NEXT.fetch_add(1, Ordering::Relaxed);
                owner.set(id);
                id
            }
            _ => usize::MAX,
        }
    })
}

/// Gives a [`Pooled`] connection back to its pool when the answer it carries is over.
pub(crate) struct Return {
    pool: Arc<Pool>,
    conn: Pooled,
}

impl Return {
    pub(crate) fn new(pool: Arc<Pool>, conn: Pooled) -> Self {
        Return { pool, conn }
    }

    /// The answer was read to its end: the connection may serve another request.
    pub(crate) fn done(self) {
        self.pool.checkin(self.conn);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::client::{self, UpstreamClient};
    use crate::proxy::{ProxyConfig, Upstream};
    use http_body_util::BodyExt;
    use hyper_util::rt::TokioIo;

    /// An upstream on loopback answering `fresh` on every connection it accepts.
    async fn fresh_upstream() -> Upstream {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(hyper::server::conn::http1::Builder::new().serve_connection(
                    TokioIo::new(stream),
                    hyper::service::service_fn(|_req| async {
                        Ok::<_, std::convert::Infallible>(Response::new(http_body_util::Full::new(
                            bytes::Bytes::from("fresh"),
                        )))
                    }),
                ));
            }
        });
        format!("http://{addr}").parse().unwrap()
    }

    /// The pool of a proxy to a [`fresh_upstream`].
    async fn fresh_pool() -> Arc<Pool> {
        pool_with(ProxyConfig::default()).await
    }

    async fn pool_with(config: ProxyConfig) -> Arc<Pool> {
        let upstream = fresh_upstream().await;
        match client::build(&config, &upstream).unwrap() {
            UpstreamClient::Http1(pool) => pool,
            UpstreamClient::Http2(_) => unreachable!("HTTP/1.1 is the default"),
        }
    }

    fn get() -> Request<UpstreamBody> {
        let body = http_body_util::Empty::new()
            .map_err(|never| match never {})
            .boxed_unsync();
        Request::get("/")
            .header(http::header::HOST, "up")
            .body(body)
            .unwrap()
    }

    #[tokio::test]
    async fn a_request_a_reused_connection_hands_back_unsent_goes_out_on_a_fresh_one() {
        let pool = fresh_pool().await;
        // A pooled connection whose upstream side is closed before its task could notice: the
        // checkout takes it, and the request comes back unsent.
        let (ours, theirs) = tokio::io::duplex(4096);
        let (mut tx, conn) = pool.builder.handshake(TokioIo::new(ours)).await.unwrap();
        let state = Arc::new(ConnState::busy());
        tokio::spawn(drive(
            conn.with_upgrades(),
            Arc::clone(&state),
            pool.idle_timeout,
            pool.epoch,
        ));
        tx.ready().await.unwrap();
        pool.put(Pooled {
            tx,
            state,
            reused: true,
        });
        drop(theirs);

        let (res, conn) = pool.send(get()).await.unwrap();
        assert!(!conn.reused, "sent again on a new connection");
        let body = res.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, "fresh");
    }

    #[tokio::test]
    async fn a_connection_whose_answer_is_over_serves_the_next_request() {
        let pool = fresh_pool().await;
        let (res, conn) = pool.send(get()).await.unwrap();
        assert!(!conn.reused);
        res.into_body().collect().await.unwrap();
        Return::new(Arc::clone(&pool), conn).done();
        let (_, conn) = pool.send(get()).await.unwrap();
        assert!(conn.reused, "the first connection went back to the pool");
    }

    #[tokio::test]
    async fn the_upstreams_version_is_learnt_from_its_last_answer() {
        let pool = fresh_pool().await;
        assert!(!pool.speaks_http10(), "unknown is not HTTP/1.0");
        pool.learn_version(http::Version::HTTP_10);
        assert!(pool.speaks_http10());
        pool.learn_version(http::Version::HTTP_11);
        assert!(
            !pool.speaks_http10(),
            "an upgraded upstream is believed again"
        );
    }

    #[tokio::test]
    async fn a_zero_idle_timeout_pools_nothing() {
        let config = ProxyConfig {
            pool_idle_timeout: Duration::ZERO,
            ..ProxyConfig::default()
        };
        let pool = pool_with(config).await;
        for _ in 0..2 {
            let (res, conn) = pool.send(get()).await.unwrap();
            assert!(!conn.reused);
            res.into_body().collect().await.unwrap();
            Return::new(Arc::clone(&pool), conn).done();
        }
    }
}
