//! The client's request made into the upstream's, before anything is sent: what the layers
//! before the proxy left in its extensions, the public origin the answer is rewritten for, the
//! target, the headers (hop-by-hop ones out; `Host`, the forwarded headers, `Via`, the user) and
//! the body (its limit and its `100-continue` gate).

use std::net::IpAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONNECTION, EXPECT, HOST, UPGRADE};
use http::request::Parts;
use http::{Method, Request, Response, StatusCode, Version};
use http_body_util::BodyExt;

use super::body::{continue_gate, upload, GateHandle, Progress};
use super::client;
use super::config::{HostPolicy, ProxyConfig};
use super::failure::too_large;
use super::hop::remove_hop_by_hop;
use super::next_hop::{append_via, set_forwarded, HopInfo};
use super::service::Shared;
use super::upstream::Upstream;
use crate::body::{Body, BoxError};
use crate::error::HttpError;
use crate::ext::{AuthenticatedUser, ClientInfo, MountPrefix, RequestId};

/// What the answer needs from the request once the request itself has moved on.
pub(super) struct Origin {
    pub(super) method: Method,
    pub(super) accept: Option<HeaderValue>,
    pub(super) public_scheme: &'static str,
    pub(super) public_host: Option<HeaderValue>,
    pub(super) prefix: String,
    /// Whether the upstream was sent the public `Host` rather than its own authority.
    pub(super) host_preserved: bool,
    /// Who the auth layer let in, put on the answer for the access log.
    pub(super) user: Option<AuthenticatedUser>,
    /// The request id the rewrite layer chose, shown on error pages.
    pub(super) request_id: Option<RequestId>,
    /// Show the upstream and the cause on error pages ([`ProxyConfig::expose_errors`]).
    pub(super) expose_errors: bool,
    /// The body's length is unknown: it goes chunked to an HTTP/1.1 upstream.
    pub(super) body_unsized: bool,
    /// The upstream speaks HTTP/1.0: the unsized body is read whole first and sent with a
    /// `Content-Length` (up to [`HTTP10_BODY_BUFFER`](super::HTTP10_BODY_BUFFER)).
    pub(super) buffer_for_http10: bool,
}

/// A request ready for the upstream, and what forwarding it needs besides.
pub(super) struct Prepared {
    pub(super) req: Request<client::UpstreamBody>,
    pub(super) origin: Origin,
    /// How the request body streams, for the timeouts and the 413.
    pub(super) progress: Arc<Progress>,
    /// Opens the body's `100-continue` gate; abandoned once an answer came.
    pub(super) gate: Option<GateHandle>,
    /// The client's connection, to be taken over when the upstream switches protocols.
    pub(super) client_upgrade: Option<hyper::upgrade::OnUpgrade>,
    pub(super) upstream: Arc<Upstream>,
}

/// Turns the client's request into the upstream's: target, headers, body. An `Err` is the
/// answer given without contacting the upstream.
pub(super) fn prepare<B>(shared: &Shared, req: Request<B>) -> Result<Prepared, Box<Response<Body>>>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let config = &shared.config;
    let upstream = shared.targets.pick(&req).clone();
    let (mut parts, body) = req.into_parts();
    let mut layers = FromLayers::take(&mut parts);
    let mut origin = Origin::new(&parts, &mut layers, config);

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

    let upgrading = upstream_headers(shared, &mut parts, &upstream, &origin, &layers);
    origin.user = layers.user.take();
    let (body, progress, gate) = upstream_body(shared, &mut parts, body, &mut origin);
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
    Ok(Prepared {
        req: Request::from_parts(parts, body),
        origin,
        progress,
        gate,
        client_upgrade: layers.client_upgrade.filter(|_| upgrading),
        upstream,
    })
}

/// What the layers before the proxy (and `serve`) left in the request's extensions, and the
/// client's scheme, host and prefix as every other part of tollgate reads them
/// ([`crate::origin::Origin`]).
struct FromLayers {
    public_scheme: &'static str,
    public_host: Option<HeaderValue>,
    prefix: String,
    peer: Option<IpAddr>,
    client_info: Option<ClientInfo>,
    user: Option<AuthenticatedUser>,
    request_id: Option<RequestId>,
    client_upgrade: Option<hyper::upgrade::OnUpgrade>,
}

impl FromLayers {
    /// Takes what must not reach the upstream's request; reads the rest.
    fn take(parts: &mut Parts) -> Self {
        let client = crate::origin::Origin::from_parts(parts);
        let public_scheme = if client.is_secure() { "https" } else { "http" };
        // The `Host` value itself when that is where the host came from: cloned, not copied.
        let public_host = client.authority().and_then(|authority| {
            let host = parts.headers.get(HOST);
            match host.filter(|h| h.as_bytes() == authority.as_bytes()) {
                Some(host) => Some(host.clone()),
                None => HeaderValue::from_str(authority).ok(),
            }
        });
        let prefix = client.prefix().into_owned();
        let peer = client.peer_addr().map(|p| p.ip());
        let ext = &mut parts.extensions;
        ext.remove::<MountPrefix>();
        FromLayers {
            public_scheme,
            public_host,
            prefix,
            peer,
            client_info: ext.remove::<ClientInfo>(),
            user: ext.remove::<AuthenticatedUser>(),
            request_id: ext.get::<RequestId>().cloned(),
            client_upgrade: ext.remove::<hyper::upgrade::OnUpgrade>(),
        }
    }
}

impl Origin {
    /// The scheme, host and path prefix the client used, as the trusted proxies reported them
    /// (or as this hop saw them), and the rest the answer needs.
    fn new(parts: &Parts, layers: &mut FromLayers, config: &ProxyConfig) -> Self {
        Origin {
            method: parts.method.clone(),
            accept: parts.headers.get(ACCEPT).cloned(),
            public_scheme: layers.public_scheme,
            public_host: layers.public_host.take(),
            prefix: std::mem::take(&mut layers.prefix),
            host_preserved: config.host == HostPolicy::Preserve,
            user: None,
            request_id: layers.request_id.clone(),
            expose_errors: config.expose_errors,
            body_unsized: false,
            buffer_for_http10: false,
        }
    }
}

/// The headers the upstream is sent: hop-by-hop ones removed; `Host`, the forwarded headers,
/// `Via` and the user header set; `Authorization` kept only when asked; the upgrade the client
/// asked for. Whether it asked for one.
fn upstream_headers(
    shared: &Shared,
    parts: &mut Parts,
    upstream: &Upstream,
    origin: &Origin,
    layers: &FromLayers,
) -> bool {
    let config = &shared.config;
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
        peer: layers.peer,
        proto: origin.public_scheme,
        host: origin.public_host.as_ref().and_then(|h| h.to_str().ok()),
        prefix: &origin.prefix,
        // The forwarded layer always leaves a ClientInfo; an empty one means the peer was not
        // a trusted proxy and nothing it sent was believed.
        trusted: layers
            .client_info
            .as_ref()
            .is_some_and(|c| *c != ClientInfo::default()),
    };
    set_forwarded(headers, &hop_info, config.forwarded);
    if let Some(via) = &shared.via {
        append_via(headers, via.for_version(parts.version));
    }
    if let Some(name) = &shared.user_header {
        headers.remove(name);
        if let Some(user) = &layers.user {
            if let Ok(mut value) = HeaderValue::from_str(user.name()) {
                value.set_sensitive(false);
                headers.insert(name.clone(), value);
            }
        }
    }
    if layers.user.is_some() && !config.pass_authorization {
        headers.remove(AUTHORIZATION);
    }
    let upgrading = hop.upgrade.is_some();
    if let Some(upgrade) = hop.upgrade {
        headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(UPGRADE, upgrade);
    }
    upgrading
}

/// The body the upstream is sent, watched for its limit and progress, behind a
/// `100-continue` gate when the client asked for one (the gate's callback then replaces the
/// request's extensions). Notes on `origin` whether the body must be buffered for HTTP/1.0.
fn upstream_body<B>(
    shared: &Shared,
    parts: &mut Parts,
    body: B,
    origin: &mut Origin,
) -> (client::UpstreamBody, Arc<Progress>, Option<GateHandle>)
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let config = &shared.config;
    let expects_continue = parts
        .headers
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
            parts.headers.remove(EXPECT);
            (None, None)
        };
    parts.extensions = extensions;

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
    (body, progress, gate_handle)
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
