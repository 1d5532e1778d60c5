//! [`Proxy`]: the service that forwards a request to an upstream and streams the answer back.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{
    HeaderName, HeaderValue, ACCEPT, AUTHORIZATION, CONNECTION, CONTENT_LENGTH, EXPECT, HOST,
    UPGRADE,
};
use http::{HeaderMap, Method, Request, Response, StatusCode, Version};
use http_body_util::BodyExt;

use super::body::{continue_gate, download, upload, GateHandle, Progress};
use super::client::{self, ProxyBuildError, UpstreamClient};
use super::config::{HostPolicy, ProxyConfig};
use super::future::ResponseFuture;
use super::hop::remove_hop_by_hop;
use super::location::{self, Mapping};
use super::next_hop::{append_via, set_forwarded, via_entry, HopInfo};
use super::pool::{Return, SendError};
use super::upstream::Upstream;
use crate::body::{Body, BoxError};
use crate::error::HttpError;
use crate::ext::{
    AuthenticatedUser, ClientInfo, ConnectionTls, MountPrefix, PeerAddr, RequestId,
    UpstreamFailure, UpstreamName,
};

/// The largest body of unknown length (chunked, or HTTP/2 without `content-length`) read whole
/// to send it with a `Content-Length` to an upstream that speaks HTTP/1.0, which has no chunked
/// encoding: 1 MiB. A longer one is refused with `411 Length Required`.
pub const HTTP10_BODY_BUFFER: usize = 1 << 20;

/// A reverse proxy to one upstream: a `tower::Service` that forwards each request over a pooled
/// keep-alive connection and streams the answer back. It never fails: an upstream that refuses,
/// resets or times out becomes a `502`/`504` answer with a short reason; the log names it.
///
/// Cloning is cheap and clones share the connection pool.
#[derive(Clone)]
#[must_use]
pub struct Proxy {
    shared: Arc<Shared>,
}

struct Shared {
    client: UpstreamClient,
    targets: Targets,
    config: ProxyConfig,
    via: Option<Vias>,
    user_header: Option<HeaderName>,
}

/// Where a request may go. One upstream for now; balancing adds variants that pick per request
/// (the forwarding code takes the chosen [`Upstream`] and does not care how it was chosen).
enum Targets {
    One(Arc<Upstream>),
}

impl Targets {
    fn pick<B>(&self, _req: &Request<B>) -> Arc<Upstream> {
        match self {
            Targets::One(upstream) => upstream.clone(),
        }
    }
}

/// `Via` entries made once, per protocol version of the message received.
struct Vias {
    http10: HeaderValue,
    http11: HeaderValue,
    http2: HeaderValue,
}

impl Vias {
    fn new(pseudonym: &str) -> Option<Self> {
        Some(Vias {
            http10: via_entry(Version::HTTP_10, pseudonym)?,
            http11: via_entry(Version::HTTP_11, pseudonym)?,
            http2: via_entry(Version::HTTP_2, pseudonym)?,
        })
    }

    fn for_version(&self, version: Version) -> HeaderValue {
        match version {
            Version::HTTP_10 | Version::HTTP_09 => self.http10.clone(),
            Version::HTTP_2 | Version::HTTP_3 => self.http2.clone(),
            _ => self.http11.clone(),
        }
    }
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Targets::One(upstream) = &self.shared.targets;
        f.debug_struct("Proxy")
            .field("upstream", upstream)
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

impl Proxy {
    /// A proxy to `upstream` with the default [`ProxyConfig`].
    ///
    /// # Panics
    ///
    /// Never with the default config, which reads no file; use [`Proxy::with_config`] for one
    /// with a `ca_file`.
    pub fn new(upstream: Upstream) -> Self {
        Self::with_config(upstream, ProxyConfig::default())
            .expect("the default config reads no file and cannot fail")
    }

    /// A proxy to `upstream` with `config`.
    ///
    /// # Errors
    ///
    /// [`ProxyBuildError`] when the `ca_file` cannot be read or holds no certificate.
    pub fn with_config(upstream: Upstream, config: ProxyConfig) -> Result<Self, ProxyBuildError> {
        let client = client::build(&config, &upstream)?;
        let via = config.via.as_deref().and_then(Vias::new);
        let user_header = config
            .user_header
            .as_deref()
            .and_then(|h| HeaderName::from_bytes(h.as_bytes()).ok());
        Ok(Proxy {
            shared: Arc::new(Shared {
                client,
                targets: Targets::One(Arc::new(upstream)),
                config,
                via,
                user_header,
            }),
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &ProxyConfig {
        &self.shared.config
    }
}

impl<B> tower_service::Service<Request<B>> for Proxy
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        ResponseFuture::new(forward(self.shared.clone(), req))
    }
}

/// What the answer needs from the request once the request itself has moved on.
struct Origin {
    method: Method,
    accept: Option<HeaderValue>,
    public_scheme: &'static str,
    public_host: Option<HeaderValue>,
    prefix: String,
    /// Whether the upstream was sent the public `Host` rather than its own authority.
    host_preserved: bool,
    /// Who the auth layer let in, put on the answer for the access log.
    user: Option<AuthenticatedUser>,
    /// The request id the rewrite layer chose, shown on error pages.
    request_id: Option<RequestId>,
    /// Show the upstream and the cause on error pages ([`ProxyConfig::expose_errors`]).
    expose_errors: bool,
    /// The body's length is unknown: it goes chunked to an HTTP/1.1 upstream.
    body_unsized: bool,
    /// The upstream speaks HTTP/1.0: the unsized body is read whole first and sent with a
    /// `Content-Length` (up to [`HTTP10_BODY_BUFFER`]).
    buffer_for_http10: bool,
}

/// A request the upstream did not answer usefully: what the client is told (a status and a
/// short reason naming nothing internal) and what the log is told (the upstream, and why).
struct Failure {
    public: HttpError,
    detail: String,
    /// Whether it counts against the upstream (metrics, passive health checks): not when the
    /// client's request was at fault.
    counts: bool,
}

impl Failure {
    /// The upstream failed: `public` for the client, `detail` (naming the upstream) for the log.
    fn upstream(public: HttpError, detail: String) -> Self {
        Failure {
            public,
            detail,
            counts: true,
        }
    }

    /// The client's request could not be forwarded (too large, unreadable): it is told why.
    fn client(public: HttpError) -> Self {
        let detail = public.message().to_owned();
        Failure {
            public,
            detail,
            counts: false,
        }
    }
}

impl Origin {
    fn error(&self, err: HttpError) -> Response<Body> {
        let mut headers = HeaderMap::new();
        if let Some(accept) = &self.accept {
            headers.insert(ACCEPT, accept.clone());
        }
        err.into_response_for(&headers)
    }

    /// The answer to a failure of `upstream`: the detail and `cause` are logged (with the
    /// request id), the client gets the public status and reason (the detail too with
    /// `expose_errors`) and the request id; marked for metrics and the access log.
    fn failure(
        &self,
        failure: Failure,
        upstream: &Upstream,
        cause: Option<&(dyn std::error::Error + 'static)>,
    ) -> Response<Body> {
        let Failure {
            public,
            detail,
            counts,
        } = failure;
        let request_id = self.request_id.as_ref().map(|id| &*id.0);
        tracing::warn!(
            upstream = %upstream,
            status = public.status().as_u16(),
            error = %detail,
            cause = ?cause,
            request_id = request_id.unwrap_or("-"),
            "upstream request failed"
        );
        let shown = if self.expose_errors {
            detail
        } else {
            public.message().to_owned()
        };
        let shown = match request_id {
            Some(id) => format!("{shown} (request id {id})"),
            None => shown,
        };
        let mut err = HttpError::new(public.status(), shown);
        for (name, value) in public.headers() {
            err.headers_mut().append(name, value.clone());
        }
        let mut res = self.error(err);
        res.extensions_mut().insert(UpstreamName(upstream.name()));
        if counts {
            res.extensions_mut()
                .insert(UpstreamFailure(upstream.name()));
        }
        res
    }
}

fn forward<B>(
    shared: Arc<Shared>,
    req: Request<B>,
) -> impl Future<Output = Response<Body>> + Send + 'static
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let prepared = prepare(&shared, req);
    async move {
        let (upstream_req, origin, progress, gate, client_upgrade, upstream) = match prepared {
            Ok(p) => p,
            Err(res) => return *res,
        };
        let config = &shared.config;
        let upstream_req = if origin.buffer_for_http10 {
            match buffer_for_http10(upstream_req, &progress, config).await {
                Ok(req) => req,
                Err(failure) => return origin.failure(failure, &upstream, None),
            }
        } else {
            upstream_req
        };
        let sent = send(&shared.client, upstream_req);
        let result = with_deadline(sent, &progress, config).await;
        let (mut res, pooled) = match result {
            Some(Ok(sent)) => sent,
            Some(Err(e)) => {
                let failure = classify(&e, &upstream, &progress, config);
                let mut res = origin.failure(failure, &upstream, Some(e.as_error()));
                if e.is_connect() {
                    // Nothing was sent: a balancer may try another upstream.
                    res.extensions_mut().insert(super::balance::ConnectFailed);
                }
                return res;
            }
            None => {
                let failure = if progress.too_large() {
                    Failure::client(too_large(config))
                } else {
                    Failure::upstream(
                        HttpError::gateway_timeout("the upstream server did not answer in time"),
                        format!(
                            "upstream {upstream} did not answer within {}",
                            human(config.first_byte_timeout)
                        ),
                    )
                };
                return origin.failure(failure, &upstream, None);
            }
        };
        if let Some(gate) = &gate {
            gate.abandon();
        }
        if let UpstreamClient::Http1(pool) = &shared.client {
            pool.learn_version(res.version());
        }
        if res.version() == Version::HTTP_10 && origin.body_unsized && !origin.buffer_for_http10 {
            // hyper sent the body chunked (it could not know yet), which HTTP/1.0 cannot read:
            // the upstream saw no body, or garbage after the head. Never a silent success;
            // and the connection, with whatever it left unread, is not reused.
            drop(pooled);
            return origin.failure(http10_chunked(&upstream), &upstream, None);
        }
        let upstream_name = upstream.name();
        let status = res.status();
        if status == StatusCode::SWITCHING_PROTOCOLS {
            // The connection becomes the tunnel: never back to the pool.
            drop(pooled);
            return switch_protocols(res, client_upgrade, &origin, &upstream, &shared);
        }
        // An answer without a body (HEAD, 204, 304, `Content-Length: 0`) is over already.
        let pooled = match pooled {
            Some(back) if http_body::Body::is_end_stream(res.body()) => {
                back.done();
                None
            }
            other => other,
        };
        let head_length = (origin.method == Method::HEAD)
            .then(|| res.headers().get(CONTENT_LENGTH).cloned())
            .flatten();
        remove_hop_by_hop(res.headers_mut(), false);
        if let Some(length) = head_length {
            res.headers_mut().insert(CONTENT_LENGTH, length);
        }
        rewrite_answer(res.headers_mut(), &origin, &upstream, config);
        if let Some(via) = &shared.via {
            let entry = via.for_version(res.version());
            append_via(res.headers_mut(), entry);
        }
        // The client is answered in this hop's version (RFC 9110 §7.6.3), not the upstream's:
        // an HTTP/1.0 answer passed as such would close the client's connection.
        *res.version_mut() = Version::HTTP_11;
        res.extensions_mut()
            .insert(UpstreamName(upstream_name.clone()));
        if let Some(user) = origin.user {
            res.extensions_mut().insert(user);
        }
        res.map(|body| Body::new(download(body, config.idle_timeout, upstream_name, pooled)))
    }
}

/// Why the upstream gave no answer, from either client.
#[derive(Debug)]
enum UpstreamError {
    Http1(SendError),
    Http2(hyper_util::client::legacy::Error),
}

impl UpstreamError {
    /// Nothing was sent: connecting failed.
    fn is_connect(&self) -> bool {
        match self {
            UpstreamError::Http1(e) => matches!(e, SendError::Connect(_)),
            UpstreamError::Http2(e) => e.is_connect(),
        }
    }

    fn as_error(&self) -> &(dyn std::error::Error + 'static) {
        match self {
            UpstreamError::Http1(e) => e,
            UpstreamError::Http2(e) => e,
        }
    }
}

/// Sends the request upstream; the answer comes with the pooled connection to give back once
/// its body is over (HTTP/1.1 only: HTTP/2 connections are shared, never held).
async fn send(
    client: &UpstreamClient,
    req: Request<client::UpstreamBody>,
) -> Result<(Response<hyper::body::Incoming>, Option<Return>), UpstreamError> {
    match client {
        UpstreamClient::Http1(pool) => match pool.send(req).await {
            Ok((res, conn)) => Ok((res, Some(Return::new(Arc::clone(pool), conn)))),
            Err(e) => Err(UpstreamError::Http1(e)),
        },
        UpstreamClient::Http2(client) => match client.request(req).await {
            Ok(res) => Ok((res, None)),
            Err(e) => Err(UpstreamError::Http2(e)),
        },
    }
}

type Prepared = (
    Request<client::UpstreamBody>,
    Origin,
    Arc<Progress>,
    Option<GateHandle>,
    Option<hyper::upgrade::OnUpgrade>,
    Arc<Upstream>,
);

/// Turns the client's request into the upstream's: target, headers, body. An `Err` is the
/// answer given without contacting the upstream.
fn prepare<B>(shared: &Shared, req: Request<B>) -> Result<Prepared, Box<Response<Body>>>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let config = &shared.config;
    let upstream = shared.targets.pick(&req).clone();
    let (mut parts, body) = req.into_parts();
    let ext = &mut parts.extensions;
    let client_info = ext.remove::<ClientInfo>();
    let tls = ext.get::<ConnectionTls>().is_some_and(|t| t.0);
    let peer = ext.get::<PeerAddr>().map(|p| p.0.ip());
    let user = ext.remove::<AuthenticatedUser>();
    let mount = ext.remove::<MountPrefix>();
    let request_id = ext.get::<RequestId>().cloned();
    let client_upgrade = ext.remove::<hyper::upgrade::OnUpgrade>();

    let public_scheme = match client_info.as_ref().and_then(|c| c.scheme.as_deref()) {
        Some(s) if s.eq_ignore_ascii_case("https") => "https",
        Some(_) => "http",
        None if tls || parts.uri.scheme() == Some(&http::uri::Scheme::HTTPS) => "https",
        None => "http",
    };
    let public_host = client_info
        .as_ref()
        .and_then(|c| c.host.as_deref())
        .and_then(|h| HeaderValue::from_str(h).ok())
        .or_else(|| parts.headers.get(HOST).cloned())
        .or_else(|| {
            let authority = parts.uri.authority()?;
            HeaderValue::from_str(authority.as_str()).ok()
        })
        .filter(|h| h.to_str().is_ok());
    let mut prefix = client_info
        .as_ref()
        .and_then(|c| c.prefix.clone())
        .unwrap_or_default();
    if let Some(mount) = &mount {
        prefix.push_str(mount.0.trim_end_matches('/'));
    }
    let prefix = prefix.trim_end_matches('/').to_owned();
    let mut origin = Origin {
        method: parts.method.clone(),
        accept: parts.headers.get(ACCEPT).cloned(),
        public_scheme,
        public_host,
        prefix,
        host_preserved: config.host == HostPolicy::Preserve,
        user: None,
        request_id,
        expose_errors: config.expose_errors,
        body_unsized: false,
        buffer_for_http10: false,
    };

    if let Some(limit) = config.max_body {
        if body.size_hint().lower() > limit {
            return Err(Box::new(origin.error(too_large(config))));
        }
    }

    let uri = match upstream.target_uri(&parts.uri) {
        Ok(uri) => uri,
        Err(_) => {
            return Err(Box::new(origin.error(HttpError::bad_request(
                "the request target cannot be forwarded",
            ))))
        }
    };

    let headers = &mut parts.headers;
    let hop = remove_hop_by_hop(headers, parts.version == Version::HTTP_11);
    if origin.host_preserved {
        if let Some(host) = &origin.public_host {
            headers.insert(HOST, host.clone());
        }
    } else {
        // Made once per upstream; hyper's client would format it on every request.
        headers.insert(HOST, upstream.host_header().clone());
    }
    if !config.http2 && !headers.contains_key(HOST) {
        // HTTP/1.1 requires one; hyper-util's client used to add it.
        headers.insert(HOST, upstream.host_header().clone());
    }
    let hop_info = HopInfo {
        peer,
        proto: origin.public_scheme,
        host: origin.public_host.as_ref().and_then(|h| h.to_str().ok()),
        prefix: &origin.prefix,
        // The forwarded layer always leaves a ClientInfo; an empty one means the peer was not
        // a trusted proxy and nothing it sent was believed.
        trusted: client_info
            .as_ref()
            .is_some_and(|c| *c != ClientInfo::default()),
    };
    set_forwarded(headers, &hop_info, config.forwarded);
    if let Some(via) = &shared.via {
        append_via(headers, via.for_version(parts.version));
    }
    if let Some(name) = &shared.user_header {
        headers.remove(name);
        if let Some(user) = &user {
            if let Ok(mut value) = HeaderValue::from_str(user.name()) {
                value.set_sensitive(false);
                headers.insert(name.clone(), value);
            }
        }
    }
    if user.is_some() && !config.pass_authorization {
        headers.remove(AUTHORIZATION);
    }
    origin.user = user;
    let upgrading = hop.upgrade.is_some();
    if let Some(upgrade) = hop.upgrade {
        headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(UPGRADE, upgrade);
    }

    let expects_continue = headers
        .get(EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let body_empty = body.is_end_stream();
    origin.body_unsized = !body_empty && !config.http2 && body.size_hint().exact().is_none();
    origin.buffer_for_http10 = origin.body_unsized && shared.client.speaks_http10();
    let mut extensions = http::Extensions::new();
    let (gate, gate_handle) =
        if expects_continue && !body_empty && !config.http2 && !origin.buffer_for_http10 {
            let (gate, handle) = continue_gate(config.expect_continue_timeout);
            let opener = handle.clone();
            let mut probe = Request::new(());
            hyper::ext::on_informational(&mut probe, move |res| {
                if res.status() == StatusCode::CONTINUE {
                    opener.open();
                }
            });
            extensions = std::mem::take(probe.extensions_mut());
            (Some(gate), Some(handle))
        } else {
            headers.remove(EXPECT);
            (None, None)
        };

    let progress = Progress::new(body_empty);
    let body = if body_empty {
        // Most requests: no wrapper, and boxing a zero-sized body does not allocate.
        drop(body);
        http_body_util::Empty::new()
            .map_err(|never| match never {})
            .boxed_unsync()
    } else {
        upload(body, config.max_body, progress.clone(), gate).boxed_unsync()
    };
    parts.uri = if config.http2 {
        // hyper-util's client dials the URI's authority and sends the right form itself.
        uri
    } else {
        request_target(uri, &parts.method)
    };
    parts.version = if config.http2 {
        Version::HTTP_2
    } else {
        Version::HTTP_11
    };
    parts.extensions = extensions;
    let client_upgrade = if upgrading { client_upgrade } else { None };
    Ok((
        Request::from_parts(parts, body),
        origin,
        progress,
        gate_handle,
        client_upgrade,
        upstream,
    ))
}

/// The request target an HTTP/1.1 connection sends: origin-form (`/path?query`), or
/// authority-form for `CONNECT`, as hyper-util's client used to make it.
fn request_target(uri: http::Uri, method: &Method) -> http::Uri {
    let mut parts = uri.into_parts();
    if *method == Method::CONNECT {
        parts.scheme = None;
        parts.path_and_query = None;
    } else {
        parts.scheme = None;
        parts.authority = None;
    }
    http::Uri::from_parts(parts).unwrap_or_else(|_| http::Uri::from_static("/"))
}

/// Waits for the upstream's answer: `first_byte_timeout` once the request body was sent,
/// `idle_timeout` between its chunks while it is being sent. `None` when time ran out.
async fn with_deadline<F, T>(sent: F, progress: &Progress, config: &ProxyConfig) -> Option<T>
where
    F: Future<Output = T>,
{
    let mut sent = std::pin::pin!(sent);
    let deadline = |p: &Progress| {
        tokio::time::Instant::from_std(p.deadline(config.first_byte_timeout, config.idle_timeout))
    };
    let sleep = tokio::time::sleep_until(deadline(progress));
    let mut sleep = std::pin::pin!(sleep);
    loop {
        tokio::select! {
            biased;
            res = &mut sent => return Some(res),
            () = &mut sleep => {
                let next = deadline(progress);
                if next <= tokio::time::Instant::now() {
                    return None;
                }
                sleep.as_mut().reset(next);
            }
        }
    }
}

/// The answer to a `101` from the upstream: passed on, and both connections joined, only when
/// the client asked to upgrade and its connection can be taken over.
fn switch_protocols(
    mut res: Response<hyper::body::Incoming>,
    client_upgrade: Option<hyper::upgrade::OnUpgrade>,
    origin: &Origin,
    upstream: &Upstream,
    shared: &Shared,
) -> Response<Body> {
    let Some(client_upgrade) = client_upgrade else {
        return origin.failure(
            Failure::upstream(
                HttpError::bad_gateway("the upstream server sent an invalid answer"),
                format!("upstream {upstream} switched protocols without being asked to"),
            ),
            upstream,
            None,
        );
    };
    let hop = remove_hop_by_hop(res.headers_mut(), true);
    let Some(protocol) = hop.upgrade else {
        return origin.failure(
            Failure::upstream(
                HttpError::bad_gateway("the upstream server sent an invalid answer"),
                format!("upstream {upstream} answered 101 without an Upgrade header"),
            ),
            upstream,
            None,
        );
    };
    let upstream_upgrade = hyper::upgrade::on(&mut res);
    super::upgrade::tunnel(client_upgrade, upstream_upgrade, upstream.name());
    let (mut parts, _) = res.into_parts();
    parts
        .headers
        .insert(CONNECTION, HeaderValue::from_static("upgrade"));
    parts.headers.insert(UPGRADE, protocol);
    if let Some(via) = &shared.via {
        append_via(&mut parts.headers, via.for_version(parts.version));
    }
    parts.extensions = http::Extensions::new();
    parts.extensions.insert(UpstreamName(upstream.name()));
    Response::from_parts(parts, Body::empty())
}

/// Rewrites the upstream's own address and base path out of its answer.
fn rewrite_answer(
    headers: &mut HeaderMap,
    origin: &Origin,
    upstream: &Upstream,
    config: &ProxyConfig,
) {
    if !config.rewrite_redirects && !config.rewrite_cookies {
        return;
    }
    let (redirects, cookies) = location::has_rewritable(headers);
    let (redirects, cookies) = (
        redirects && config.rewrite_redirects,
        cookies && config.rewrite_cookies,
    );
    if !redirects && !cookies {
        return;
    }
    // Unknown (an HTTP/1.0 client without `Host`): the mapping then writes no host at all, as
    // for a host that is not a valid name (`location::Mapping::public_authority`).
    let public_authority = origin
        .public_host
        .as_ref()
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let map = Mapping {
        upstream_authority: upstream.authority(),
        sent_host: if origin.host_preserved {
            public_authority
        } else {
            upstream.authority()
        },
        upstream_base: upstream.base_path(),
        public_scheme: origin.public_scheme,
        public_authority,
        public_prefix: &origin.prefix,
    };
    if redirects {
        location::rewrite_redirects(headers, &map);
    }
    if cookies {
        location::rewrite_cookies(headers, &map);
    }
}

fn too_large(config: &ProxyConfig) -> HttpError {
    let limit = config.max_body.unwrap_or(u64::MAX);
    HttpError::payload_too_large(format!(
        "the request body is larger than the limit of {limit} bytes"
    ))
    .with_header(CONNECTION, HeaderValue::from_static("close"))
}

/// Names a failure: refused or reset is a 502, a timeout a 504; the client is told the kind,
/// the log which upstream.
fn classify(
    err: &UpstreamError,
    upstream: &Upstream,
    progress: &Progress,
    config: &ProxyConfig,
) -> Failure {
    if progress.too_large() {
        return Failure::client(too_large(config));
    }
    let cause = err.as_error();
    let io_kind = find_cause::<std::io::Error>(cause).map(std::io::Error::kind);
    let bad_gateway = |public: &'static str, detail: String| {
        Failure::upstream(HttpError::bad_gateway(public), detail)
    };
    let timeout = |public: &'static str, detail: String| {
        Failure::upstream(HttpError::gateway_timeout(public), detail)
    };
    if err.is_connect() {
        return match io_kind {
            Some(std::io::ErrorKind::ConnectionRefused) => bad_gateway(
                "the upstream server refused the connection",
                format!("upstream {upstream} refused the connection"),
            ),
            Some(std::io::ErrorKind::TimedOut) => timeout(
                "the upstream server did not accept the connection in time",
                format!(
                    "upstream {upstream} did not accept the connection within {}",
                    human(config.connect_timeout)
                ),
            ),
            // TLS failures (certificate, handshake) land here too; the cause says which.
            _ => bad_gateway(
                "could not connect to the upstream server",
                format!("could not connect to upstream {upstream}"),
            ),
        };
    }
    if progress.client_failed() {
        return Failure::client(crate::serve::BodyReadTimeout::answer_for(cause));
    }
    match find_cause::<hyper::Error>(cause) {
        Some(e) if e.is_parse() || e.is_parse_status() => bad_gateway(
            "the upstream server sent an invalid answer",
            format!("upstream {upstream} sent an invalid answer"),
        ),
        _ if io_kind == Some(std::io::ErrorKind::TimedOut) => timeout(
            "the upstream server did not answer in time",
            format!("upstream {upstream} timed out"),
        ),
        _ => bad_gateway(
            "the upstream server closed the connection without answering",
            format!("upstream {upstream} closed the connection without answering"),
        ),
    }
}

/// An HTTP/1.0 answer to a body sent chunked: the upstream could not have read it.
fn http10_chunked(upstream: &Upstream) -> Failure {
    Failure {
        public: HttpError::bad_gateway(
            "the upstream server speaks HTTP/1.0 and could not read the request body, which \
             had no Content-Length; send the request again (a body up to 1 MiB is then sent \
             with a Content-Length) or send it with a Content-Length",
        ),
        detail: format!(
            "upstream {upstream} answered HTTP/1.0 to a request whose body was sent chunked, \
             which HTTP/1.0 cannot read; the answer was withheld from the client"
        ),
        // The upstream is up; the request did not suit it.
        counts: false,
    }
}

/// Reads a body of unknown length whole for an upstream that speaks HTTP/1.0 (which has no
/// chunked encoding) and sends it with a `Content-Length`; one over [`HTTP10_BODY_BUFFER`] is
/// `411 Length Required`.
async fn buffer_for_http10(
    req: Request<client::UpstreamBody>,
    progress: &Progress,
    config: &ProxyConfig,
) -> Result<Request<client::UpstreamBody>, Failure> {
    let (mut parts, body) = req.into_parts();
    let read = with_deadline(read_at_most(body, HTTP10_BODY_BUFFER), progress, config).await;
    let close = |err: HttpError| {
        Failure::client(err.with_header(CONNECTION, HeaderValue::from_static("close")))
    };
    let bytes = match read {
        Some(Ok(Some(bytes))) => bytes,
        Some(Ok(None)) => {
            return Err(close(HttpError::new(
                StatusCode::LENGTH_REQUIRED,
                format!(
                    "the upstream server speaks HTTP/1.0, which cannot take a request body \
                     without a Content-Length, and this one is over the {HTTP10_BODY_BUFFER} \
                     bytes the gateway buffers for it; send it with a Content-Length"
                ),
            )))
        }
        _ if progress.too_large() => return Err(Failure::client(too_large(config))),
        Some(Err(_)) => {
            return Err(close(HttpError::bad_request(
                "the request body could not be read",
            )))
        }
        None => {
            return Err(close(HttpError::new(
                StatusCode::REQUEST_TIMEOUT,
                "the request body stopped arriving",
            )))
        }
    };
    parts
        .headers
        .insert(CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    let body = http_body_util::Full::new(bytes)
        .map_err(|never| match never {})
        .boxed_unsync();
    Ok(Request::from_parts(parts, body))
}

/// The whole body when it holds at most `limit` bytes, `None` when it holds more (trailers,
/// which HTTP/1.0 cannot carry, are dropped).
async fn read_at_most(
    mut body: client::UpstreamBody,
    limit: usize,
) -> Result<Option<Bytes>, BoxError> {
    let mut buf = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            if buf.len() + data.len() > limit {
                return Ok(None);
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(Some(buf.freeze()))
}

/// The first error of type `E` in `err`'s source chain.
fn find_cause<'a, E: std::error::Error + 'static>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a E> {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<E>() {
            return Some(found);
        }
        current = e.source();
    }
    None
}

/// `10 s`, `250 ms`.
fn human(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}
