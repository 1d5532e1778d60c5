//! [`Proxy`]: the service that forwards a request to an upstream and streams the answer back.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONNECTION, CONTENT_LENGTH, UPGRADE};
use http::{HeaderMap, Method, Request, Response, StatusCode, Version};
use http_body_util::BodyExt;

use super::body::{download, Progress};
use super::client::{self, ProxyBuildError, UpstreamClient};
use super::config::ProxyConfig;
use super::failure::{ambiguous_framing, http10_chunked, too_large, unanswered, Failure};
use super::future::ResponseFuture;
use super::hop::remove_hop_by_hop;
use super::location::{self, Mapping};
use super::next_hop::{append_via, via_entry};
use super::pool::{Return, SendError};
use super::prepare::{prepare, Origin, Prepared};
use super::upstream::Upstream;
use crate::body::{Body, BoxError};
use crate::error::HttpError;
use crate::ext::UpstreamName;

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

/// What every request of one [`Proxy`] (and its clones) reads.
pub(super) struct Shared {
    pub(super) client: UpstreamClient,
    pub(super) targets: Targets,
    pub(super) config: ProxyConfig,
    pub(super) via: Option<Vias>,
    pub(super) user_header: Option<HeaderName>,
}

/// Where a request may go. One upstream for now; balancing adds variants that pick per request
/// (the forwarding code takes the chosen [`Upstream`] and does not care how it was chosen).
pub(super) enum Targets {
    One(Arc<Upstream>),
}

impl Targets {
    pub(super) fn pick<B>(&self, _req: &Request<B>) -> Arc<Upstream> {
        match self {
            Targets::One(upstream) => upstream.clone(),
        }
    }
}

/// `Via` entries made once, per protocol version of the message received.
pub(super) struct Vias {
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

    pub(super) fn for_version(&self, version: Version) -> HeaderValue {
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
    /// [`ProxyBuildError`] when the `ca_file` cannot be read or holds no certificate, or when
    /// `user_header` is not a header name (it was silently dropped before).
    pub fn with_config(upstream: Upstream, config: ProxyConfig) -> Result<Self, ProxyBuildError> {
        let user_header = config
            .user_header
            .as_deref()
            .map(|name| {
                HeaderName::from_bytes(name.as_bytes()).map_err(|_| ProxyBuildError::UserHeader {
                    name: crate::syntax::excerpt(name, 64),
                })
            })
            .transpose()?;
        let client = client::build(&config, &upstream)?;
        let via = config.via.as_deref().and_then(Vias::new);
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

/// Forwards `req`: prepared, sent, and its answer passed back, or the answer saying why not.
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
        let Prepared {
            req,
            origin,
            progress,
            gate,
            client_upgrade,
            upstream,
        } = match prepared {
            Ok(p) => p,
            Err(res) => return *res,
        };
        let config = &shared.config;
        let req = if origin.buffer_for_http10 {
            match buffer_for_http10(req, &progress, config).await {
                Ok(req) => req,
                Err(failure) => return origin.failure(failure, &upstream, None),
            }
        } else {
            req
        };
        let sent = send(&shared.client, req);
        let (res, pooled) = match with_deadline(sent, &progress, config).await {
            Some(Ok(sent)) => sent,
            Some(Err(e)) => return unanswered(Some(e), &origin, &upstream, &progress, config),
            None => return unanswered(None, &origin, &upstream, &progress, config),
        };
        if let Some(gate) = &gate {
            gate.abandon();
        }
        pass_answer(&shared, res, pooled, origin, &upstream, client_upgrade)
    }
}

/// The upstream's answer made the client's: hop-by-hop headers out, its own address rewritten
/// out, `Via` added, answered in this hop's version; its body streamed with an idle timeout and
/// its connection given back to the pool once the body is over.
fn pass_answer(
    shared: &Shared,
    mut res: Response<hyper::body::Incoming>,
    pooled: Option<Return>,
    origin: Origin,
    upstream: &Upstream,
    client_upgrade: Option<hyper::upgrade::OnUpgrade>,
) -> Response<Body> {
    let config = &shared.config;
    if let UpstreamClient::Http1(pool) = &shared.client {
        pool.learn_version(res.version());
    }
    if res.version() == Version::HTTP_10 && origin.body_unsized && !origin.buffer_for_http10 {
        // hyper sent the body chunked (it could not know yet), which HTTP/1.0 cannot read:
        // the upstream saw no body, or garbage after the head. Never a silent success;
        // and the connection, with whatever it left unread, is not reused.
        drop(pooled);
        return origin.failure(http10_chunked(upstream), upstream, None);
    }
    if let Some(failure) = ambiguous_framing(res.headers(), upstream) {
        // Its body is never read: the connection closes with whatever it held.
        drop(pooled);
        return origin.failure(failure, upstream, None);
    }
    let upstream_name = upstream.name();
    let status = res.status();
    if status == StatusCode::SWITCHING_PROTOCOLS {
        // The connection becomes the tunnel: never back to the pool.
        drop(pooled);
        return switch_protocols(res, client_upgrade, &origin, upstream, shared);
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
    rewrite_answer(res.headers_mut(), &origin, upstream, config);
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

/// Why the upstream gave no answer, from either client.
#[derive(Debug)]
pub(super) enum UpstreamError {
    Http1(SendError),
    Http2(hyper_util::client::legacy::Error),
}

impl UpstreamError {
    /// Nothing was sent: connecting failed.
    pub(super) fn is_connect(&self) -> bool {
        match self {
            UpstreamError::Http1(e) => matches!(e, SendError::Connect(_)),
            UpstreamError::Http2(e) => e.is_connect(),
        }
    }

    pub(super) fn as_error(&self) -> &(dyn std::error::Error + 'static) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_user_header_is_refused_not_dropped() {
        let upstream = Upstream::parse("http://127.0.0.1:9").unwrap();
        let config = ProxyConfig {
            user_header: Some("X Remote User".to_owned()),
            ..ProxyConfig::default()
        };
        let err = Proxy::with_config(upstream, config).expect_err("refused");
        assert!(matches!(err, ProxyBuildError::UserHeader { .. }), "{err:?}");
        assert!(err.to_string().contains("`X Remote User`"), "{err}");
    }
}
