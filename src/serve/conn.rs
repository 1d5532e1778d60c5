//! One connection's view of the service: Host check, peer address, request cap, access log.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONNECTION, HOST};
use http::{HeaderValue, Method, StatusCode, Version};
use http_body::{Body as _, Frame};
use hyper::body::Incoming;
use pin_project_lite::pin_project;
use tokio::sync::Notify;
use tokio::time::Instant;
use tower::util::Oneshot;
use tower::ServiceExt;
use tower_service::Service;

use super::body::SlowClient;
use super::host;
use crate::body::{Body, BoxError, Watch, Watched};
use crate::error::HttpError;
use crate::ext::{
    AccessDecision, AuthenticatedUser, ConnectionTls, PeerAddr, RequestId, UpstreamName,
};
use crate::panic::{AnswerFor, CatchUnwind, Caught};

/// What [`Server`](super::Server), [`bind`](super::bind) and
/// [`serve_workers`](super::serve_workers) run: a `tower::Service` of `http::Request<Body>`,
/// cloned for each connection, whose future is `Send` and whose answers have a body of
/// [`Bytes`]. An error it returns becomes a logged `500`.
///
/// Implemented for every such service: name it in bounds, never implement it.
pub trait ServeService:
    Service<
        http::Request<Body>,
        Response = http::Response<Self::ResBody>,
        Future: Send + 'static,
        Error: Into<BoxError>,
    > + Clone
    + Send
    + 'static
{
    /// The body of the service's answers.
    type ResBody: http_body::Body<Data = Bytes, Error: Into<BoxError>> + Send + Sync + 'static;
}

impl<S, B> ServeService for S
where
    S: Service<http::Request<Body>, Response = http::Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body<Data = Bytes> + Send + Sync + 'static,
    B::Error: Into<BoxError>,
{
    type ResBody = B;
}

/// What a TLS connection's client certificate established (listeners with a `client_ca`).
#[derive(Debug, Clone)]
#[cfg_attr(not(feature = "tls"), allow(dead_code))]
pub(crate) enum ClientIdentity {
    /// A verified certificate naming this user: every request carries it as
    /// [`AuthenticatedUser`].
    User(Arc<str>),
    /// No certificate, or one refused (`client_auth = "request"`): every request is answered
    /// with this status and reason.
    Refused {
        status: StatusCode,
        reason: std::borrow::Cow<'static, str>,
    },
}

/// What a connection's task and its requests share.
#[derive(Debug)]
pub(crate) struct ConnState {
    pub(crate) peer: SocketAddr,
    pub(crate) tls: bool,
    /// Who the client certificate says the client is, on listeners that ask for one.
    pub(crate) client: Option<ClientIdentity>,
    /// Set once an answer was `101 Switching Protocols`: the socket's tunnel idle timeout
    /// starts to apply ([`ConnIo`](super::io::ConnIo)).
    pub(crate) upgraded: Arc<AtomicBool>,
    pub(crate) body_read_timeout: Duration,
    pub(crate) body_total_timeout: Duration,
    pub(crate) max_requests: usize,
    pub(crate) requests: AtomicUsize,
    pub(crate) in_flight: AtomicUsize,
    /// When the connection was accepted.
    born: Instant,
    /// When the last request ended, in nanoseconds after `born`.
    last_done: AtomicU64,
    /// Woken when the request cap is reached. Nothing else wakes the connection's task per
    /// request: idleness is checked when its timer fires.
    pub(crate) cap: Notify,
    /// Woken when a new client needs this idle connection's slot (`max_connections`);
    /// `evicting` is set meanwhile, so the next client does not pick it again.
    pub(crate) evict: Notify,
    pub(crate) evicting: AtomicBool,
}

impl ConnState {
    pub(crate) fn new(
        peer: SocketAddr,
        tls: bool,
        client: Option<ClientIdentity>,
        upgraded: Arc<AtomicBool>,
        body_read_timeout: Duration,
        body_total_timeout: Duration,
        max_requests: usize,
    ) -> Self {
        ConnState {
            peer,
            tls,
            client,
            upgraded,
            body_read_timeout,
            body_total_timeout,
            max_requests,
            requests: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            born: Instant::now(),
            last_done: AtomicU64::new(0),
            cap: Notify::new(),
            evict: Notify::new(),
            evicting: AtomicBool::new(false),
        }
    }

    /// When the connection will have been idle for `timeout`: `None` while a request is in
    /// flight.
    pub(crate) fn idle_deadline(&self, timeout: Duration) -> Option<Instant> {
        Some(self.idle_since()? + timeout)
    }

    /// Since when no request was in flight (the accept, or the end of the last request);
    /// `None` while one is.
    pub(crate) fn idle_since(&self) -> Option<Instant> {
        if self.in_flight.load(Ordering::Acquire) != 0 {
            return None;
        }
        let since = Duration::from_nanos(self.last_done.load(Ordering::Acquire));
        Some(self.born + since)
    }
}

/// The hyper service of one connection, wrapping the user's tower service.
#[derive(Debug, Clone)]
pub(crate) struct ConnService<S> {
    inner: S,
    state: Arc<ConnState>,
}

impl<S> ConnService<S> {
    pub(crate) fn new(inner: S, state: Arc<ConnState>) -> Self {
        ConnService { inner, state }
    }
}

impl<S: ServeService> hyper::service::Service<http::Request<Incoming>> for ConnService<S> {
    type Response = http::Response<ResponseBody>;
    type Error = Infallible;
    type Future = ResponseFuture<CatchUnwind<Oneshot<S, http::Request<Body>>>>;

    fn call(&self, req: http::Request<Incoming>) -> Self::Future {
        let number = self.state.requests.fetch_add(1, Ordering::AcqRel) + 1;
        let last = self.state.max_requests != 0 && number >= self.state.max_requests;
        let exchange = Exchange::start(&self.state, &req);
        if last {
            self.state.cap.notify_one();
        }
        // HTTP/1.1 needs `Connection: close` on the last answer; HTTP/2 gets a GOAWAY from the
        // connection task instead (connection-specific headers are forbidden there).
        let close_after = last && req.version() <= Version::HTTP_11;

        if let Err(e) = host::check(req.version(), req.uri(), req.headers()) {
            // The body was not read: close rather than guess where the next request starts.
            let res = HttpError::from(e).into_response_for(req.headers());
            let http1 = req.version() <= Version::HTTP_11;
            return ResponseFuture::answered(res, exchange, http1);
        }
        let (mut parts, incoming) = req.into_parts();
        if parts.version <= Version::HTTP_11 {
            // RFC 9112 §3.2.2: an absolute-form target's authority replaces `Host`.
            if let Some(authority) = parts.uri.authority() {
                if let Ok(value) = HeaderValue::from_str(authority.as_str()) {
                    parts.headers.insert(HOST, value);
                }
            }
        }
        parts.extensions.insert(PeerAddr(self.state.peer));
        if self.state.tls {
            parts.extensions.insert(ConnectionTls(true));
        }
        match &self.state.client {
            None => {}
            Some(ClientIdentity::User(user)) => {
                parts.extensions.insert(AuthenticatedUser(Arc::clone(user)));
            }
            Some(ClientIdentity::Refused { status, reason }) => {
                // The body was not read: close rather than guess where the next request starts.
                let res = HttpError::new(*status, reason.clone()).into_response_for(&parts.headers);
                return ResponseFuture::answered(res, exchange, parts.version <= Version::HTTP_11);
            }
        }
        let body = if incoming.is_end_stream() {
            Body::empty()
        } else {
            let client =
                SlowClient::new(self.state.body_read_timeout, self.state.body_total_timeout);
            Body::new(Watched::new(incoming, client))
        };
        // A panic in the service (its `call` runs in the first poll of `Oneshot`) is a `500`
        // on a connection that stays usable.
        let answer = AnswerFor::from_headers(&parts.headers);
        let req = http::Request::from_parts(parts, body);
        let future = CatchUnwind::new(self.inner.clone().oneshot(req));
        ResponseFuture::called(future, answer, exchange, close_after)
    }
}

/// One request/response on a connection: counts it in flight and logs it when it ends.
#[derive(Debug)]
pub(crate) struct Exchange {
    state: Arc<ConnState>,
    log: Option<AccessLog>,
    status: StatusCode,
    bytes: u64,
    /// From the answer's extensions: who the auth layer let in, which upstream answered.
    user: Option<Arc<str>>,
    upstream: Option<Arc<str>>,
    /// The id the rewrite layer kept or made, to match log lines across services.
    request_id: Option<Arc<str>>,
    /// What the access layer decided, and by which rule.
    access: Option<AccessDecision>,
    /// Why the answer's body ended before its end (the upstream closed or stalled mid-body):
    /// the client got an incomplete answer.
    cut: Option<String>,
}

#[derive(Debug)]
struct AccessLog {
    method: Method,
    target: String,
    version: Version,
    /// `Referer` and `User-Agent`, for the combined log format: the only headers logged.
    referer: Option<String>,
    user_agent: Option<String>,
    start: Instant,
}

impl Exchange {
    fn start(state: &Arc<ConnState>, req: &http::Request<Incoming>) -> Self {
        state.in_flight.fetch_add(1, Ordering::AcqRel);
        let log = tracing::enabled!(target: "tollgate::access", tracing::Level::INFO).then(|| {
            AccessLog {
                method: req.method().clone(),
                target: req
                    .uri()
                    .path_and_query()
                    .map_or_else(|| req.uri().to_string(), |pq| pq.as_str().to_owned()),
                version: req.version(),
                referer: header_text(req, http::header::REFERER),
                user_agent: header_text(req, http::header::USER_AGENT),
                start: Instant::now(),
            }
        });
        Exchange {
            state: Arc::clone(state),
            log,
            // Replaced by the answer's status; left when the client went away first.
            status: client_closed(),
            bytes: 0,
            user: match &state.client {
                Some(ClientIdentity::User(user)) => Some(Arc::clone(user)),
                _ => None,
            },
            upstream: None,
            request_id: None,
            access: None,
            cut: None,
        }
    }
}

impl Drop for Exchange {
    fn drop(&mut self) {
        if let Some(log) = self.log.take() {
            // No header but `Referer` and `User-Agent`: others may carry `Authorization` or
            // cookies.
            tracing::info!(
                target: "tollgate::access",
                peer = %self.state.peer,
                method = %log.method,
                target = %log.target,
                version = ?log.version,
                status = self.status.as_u16(),
                bytes = self.bytes,
                user = %self.user.as_deref().unwrap_or("-"),
                upstream = %self.upstream.as_deref().unwrap_or("-"),
                request_id = self.request_id.as_deref().unwrap_or("-"),
                referer = log.referer.as_deref().unwrap_or("-"),
                user_agent = log.user_agent.as_deref().unwrap_or("-"),
                access = %Access(self.access.as_ref()),
                complete = self.cut.is_none(),
                cut = self.cut.as_deref().unwrap_or("-"),
                duration_ms = log.start.elapsed().as_secs_f64() * 1000.0,
                "{} {} {} {} bytes",
                log.method,
                log.target,
                self.status.as_u16(),
                self.bytes,
            );
        }
        let done = u64::try_from(self.state.born.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.state.last_done.store(done, Ordering::Release);
        self.state.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A header's value as text (at most 512 bytes, invalid UTF-8 replaced), for the access log.
fn header_text<B>(req: &http::Request<B>, name: http::header::HeaderName) -> Option<String> {
    let value = req.headers().get(name)?.as_bytes();
    let value = &value[..value.len().min(512)];
    Some(String::from_utf8_lossy(value).into_owned())
}

/// An access decision in the log: `allow group:ops`, `deny deny_ip 10.0.0.0/8`, `-` when no
/// access rule ran.
struct Access<'a>(Option<&'a AccessDecision>);

impl std::fmt::Display for Access<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(d) => write!(f, "{} {}", if d.allowed { "allow" } else { "deny" }, d.rule),
            None => f.write_str("-"),
        }
    }
}

/// nginx's "client closed request", logged when the client left before the answer.
fn client_closed() -> StatusCode {
    StatusCode::from_u16(499).expect("499 is a valid status code")
}

pin_project! {
    /// The future of one request on a connection.
    pub(crate) struct ResponseFuture<F> {
        #[pin]
        inner: Inner<F>,
        exchange: Option<Exchange>,
        close_after: bool,
    }
}

pin_project! {
    #[project = InnerProj]
    enum Inner<F> {
        Answered { response: Option<http::Response<Body>> },
        Called { #[pin] future: F, answer: Option<AnswerFor> },
    }
}

impl<F> ResponseFuture<F> {
    fn answered(response: http::Response<Body>, exchange: Exchange, close_after: bool) -> Self {
        ResponseFuture {
            inner: Inner::Answered {
                response: Some(response),
            },
            exchange: Some(exchange),
            close_after,
        }
    }

    fn called(future: F, answer: AnswerFor, exchange: Exchange, close_after: bool) -> Self {
        ResponseFuture {
            inner: Inner::Called {
                future,
                answer: Some(answer),
            },
            exchange: Some(exchange),
            close_after,
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Result<http::Response<B>, E>, Caught>>,
    B: http_body::Body<Data = Bytes> + Send + Sync + 'static,
    B::Error: Into<BoxError>,
    E: Into<BoxError>,
{
    type Output = Result<http::Response<ResponseBody>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut res = match this.inner.project() {
            InnerProj::Answered { response } => response
                .take()
                .expect("ResponseFuture polled after completion"),
            InnerProj::Called { future, answer } => match ready!(future.poll(cx)) {
                Ok(Ok(res)) => res.map(Body::new),
                Err(caught) => answer
                    .take()
                    .expect("ResponseFuture polled after completion")
                    .answer(caught),
                Ok(Err(e)) => {
                    let e: BoxError = e.into();
                    tracing::error!(error = %e, "the service failed; answering 500");
                    HttpError::internal(e).into_response()
                }
            },
        };
        if *this.close_after {
            res.headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
        }
        let mut exchange = this
            .exchange
            .take()
            .expect("ResponseFuture polled after completion");
        exchange.status = res.status();
        if res.status() == StatusCode::SWITCHING_PROTOCOLS {
            exchange.state.upgraded.store(true, Ordering::Release);
        }
        if exchange.log.is_some() {
            let ext = res.extensions();
            if let Some(user) = ext.get::<AuthenticatedUser>() {
                exchange.user = Some(user.0.clone());
            }
            exchange.upstream = ext.get::<UpstreamName>().map(|u| u.0.clone());
            exchange.request_id = ext.get::<RequestId>().map(|id| id.0.clone());
            exchange.access = ext.get::<AccessDecision>().cloned();
        }
        Poll::Ready(Ok(res.map(|body| Watched::new(body, exchange))))
    }
}

/// The response body: counts the bytes sent, and logs the exchange when dropped.
pub(crate) type ResponseBody = Watched<Body, Exchange>;

impl Watch for Exchange {
    fn frame(&mut self, frame: Frame<Bytes>, _end: bool) -> Result<Frame<Bytes>, BoxError> {
        if let Some(data) = frame.data_ref() {
            self.bytes += data.len() as u64;
        }
        Ok(frame)
    }

    fn error(&mut self, error: BoxError) -> BoxError {
        self.cut = Some(error.to_string());
        error
    }
}
