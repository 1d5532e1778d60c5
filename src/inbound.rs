//! What a client may send: the header policy applied where a request enters the gateway,
//! before any layer adds what the gateway vouches for.
//!
//! The gateway vouches for some request headers: the authenticated user, the client's
//! address and scheme (`X-Forwarded-*`, `Forwarded`), headers its rules set, the request id.
//! A client must not be able to make the upstream see its own values for them, in any
//! spelling. [`InboundLayer`] goes first in the stack and, on headers and on request trailers
//! alike:
//!
//! - drops every header whose name contains `_` (nginx's `underscores_in_headers off`, Apache
//!   2.4's default): CGI, WSGI, Rack and PHP servers read `X_Forwarded_User` and
//!   `X-Forwarded-User` as the same variable (Puma's CVE-2024-45614, Caddy's
//!   GHSA-f59h-q822-g45g). With [`allow_underscores`](InboundConfig::allow_underscores) they
//!   pass, except those that read as a managed header once `_` is taken as `-`;
//! - removes the identity headers it manages (the user header, [`managed`](InboundConfig::managed))
//!   in every spelling;
//! - removes the forwarding family ([`is_forwarding_header`]: `Forwarded`, `X-Forwarded-*`,
//!   `X-Real-IP`, `True-Client-IP`, ...) unless the peer is a trusted proxy;
//! - removes the path and method overrides ([`is_override_header`]: `X-Original-URL`,
//!   `X-Rewrite-URL`, `X-HTTP-Method-Override`, ...), which make IIS, Symfony and others act on
//!   another path or method than the one the gateway decided on, unless
//!   [`allow_overrides`](InboundConfig::allow_overrides) is set;
//! - applies the client's `Connection` header now: the headers it names are removed before
//!   the gateway adds its own, and only the connection options (`close`, `keep-alive`,
//!   `upgrade`, standard hop-by-hop names) stay in it, so a proxy's hop-by-hop step later can
//!   never delete what the gateway added. Protected headers (`Host`, `Authorization`,
//!   `Cookie`, the forwarding family) are never removed by a `Connection` option.
//!
//! # Example
//!
//! ```
//! use tollgate::inbound::{InboundConfig, InboundLayer};
//! use tower::{service_fn, Layer, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let layer = InboundLayer::new(&InboundConfig::default())
//!     .unwrap()
//!     .identity("X-Forwarded-User".parse().unwrap());
//! let svc = layer.layer(service_fn(|req: http::Request<tollgate::Body>| async move {
//!     Ok::<_, std::convert::Infallible>(req.headers().clone())
//! }));
//! let req = http::Request::get("/")
//!     .header("x_forwarded_user", "admin")
//!     .header("x-forwarded-for", "6.6.6.6")
//!     .header("connection", "X-Gateway-Secret")
//!     .header("x-gateway-secret", "guess")
//!     .header("accept", "*/*")
//!     .body(tollgate::Body::empty())
//!     .unwrap();
//! let seen = svc.oneshot(req).await.unwrap();
//! assert_eq!(seen.len(), 1);
//! assert!(seen.contains_key("accept"));
//! # }
//! ```

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONNECTION};
use http::{HeaderMap, Request};
use http_body::Frame;
use serde::Deserialize;
use tower_layer::Layer;
use tower_service::Service;

use crate::body::{Body, BoxError, Watch, Watched};
use crate::ext::PeerAddr;
use crate::origin::Trust;
pub use crate::syntax::forwarded::is_forwarding_header;
use crate::syntax::forwarded::is_protected;

/// The `[inbound]` table of the gateway's file: what clients may send.
///
/// ```
/// let config: tollgate::inbound::InboundConfig = toml::from_str(r#"
///     allow_underscores = false
///     managed = ["X-Gateway-Secret"]
/// "#).unwrap();
/// assert!(!config.allow_overrides);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct InboundConfig {
    /// Pass request headers whose names contain `_` (nginx's `underscores_in_headers on`).
    /// Even then, one that reads as a header the gateway manages once `_` is taken as `-` is
    /// removed. Default is `false`: every such header is dropped.
    pub allow_underscores: bool,
    /// Pass `X-Original-URL`, `X-Rewrite-URL`, `X-Original-URI`, `X-Override-URL` and the
    /// method overrides (`X-HTTP-Method-Override`, `X-HTTP-Method`, `X-Method-Override`) from
    /// clients. Default is `false`: they are removed, since the upstream would act on another
    /// path or method than the one auth and routing decided on.
    pub allow_overrides: bool,
    /// More headers the gateway vouches for (a secret a rule sets, a header the upstream
    /// trusts): removed from every request in every spelling before the gateway's layers run.
    /// The user headers of `[auth]` and `[proxy]` are always managed. Default is none.
    pub managed: Vec<String>,
}

/// A name in [`InboundConfig::managed`] that is no header name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundError {
    /// The name as written.
    pub name: String,
}

impl fmt::Display for InboundError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` is not a header name: use letters, digits and `-` (e.g. `X-Gateway-Secret`)",
            self.name
        )
    }
}

impl std::error::Error for InboundError {}

/// Whether `name` (lower case, `-` separated) makes some servers act on another path or
/// method than the request line's: `X-Original-URL`, `X-Rewrite-URL` (IIS, Symfony),
/// `X-Original-URI`, `X-Override-URL`, `X-HTTP-Method-Override`, `X-HTTP-Method`,
/// `X-Method-Override`.
///
/// ```
/// assert!(tollgate::inbound::is_override_header("x-original-url"));
/// assert!(!tollgate::inbound::is_override_header("x-original"));
/// ```
pub fn is_override_header(name: &str) -> bool {
    matches!(
        name,
        "x-original-url"
            | "x-rewrite-url"
            | "x-original-uri"
            | "x-override-url"
            | "x-http-method-override"
            | "x-http-method"
            | "x-method-override"
    )
}

/// Connection options and standard hop-by-hop names, which stay in `Connection` for the
/// serving connection and the proxy to act on.
fn is_connection_option(token: &str) -> bool {
    [
        "close",
        "keep-alive",
        "upgrade",
        "te",
        "trailer",
        "transfer-encoding",
        "proxy-connection",
        "proxy-authorization",
        "proxy-authenticate",
        "http2-settings",
    ]
    .iter()
    .any(|o| token.eq_ignore_ascii_case(o))
}

/// The header policy of an [`InboundLayer`], usable on its own on any [`HeaderMap`].
#[derive(Debug, Clone)]
pub struct HeaderPolicy {
    allow_underscores: bool,
    allow_overrides: bool,
    /// Removed in every spelling.
    identity: Vec<HeaderName>,
    /// Set by the gateway's rules: removed when spelled with `_`.
    rules: Vec<HeaderName>,
    trust: Trust,
    /// The first bytes of every name without `_` that may be removed: most headers (`host`,
    /// `accept`, `user-agent`, ...) are kept after one look at this table.
    first: [bool; 256],
}

/// The first bytes of the forwarding and override names, lower case.
const FAMILY_FIRST_BYTES: &[u8] = b"xftc";

impl HeaderPolicy {
    /// Whether a header `name` (as `http` stores it: lower case) is removed, for a request from
    /// a trusted proxy or not.
    ///
    /// ```
    /// use tollgate::inbound::{InboundConfig, InboundLayer};
    /// let layer = InboundLayer::new(&InboundConfig::default()).unwrap();
    /// let policy = layer.policy();
    /// assert!(policy.removes("remote_user", false));
    /// assert!(policy.removes("x-real-ip", false));
    /// assert!(!policy.removes("x-real-ip", true));
    /// assert!(!policy.removes("accept", false));
    /// ```
    pub fn removes(&self, name: &str, trusted: bool) -> bool {
        let underscore = name.as_bytes().contains(&b'_');
        if !underscore {
            let first = name.as_bytes().first().copied().unwrap_or(0);
            if !self.first[usize::from(first)] {
                return false;
            }
        } else if !self.allow_underscores {
            return true;
        }
        let canonical: Cow<'_, str> = if underscore {
            Cow::Owned(name.replace('_', "-"))
        } else {
            Cow::Borrowed(name)
        };
        let canonical = &*canonical;
        if self.identity.iter().any(|n| n == canonical) {
            return true;
        }
        if is_forwarding_header(canonical) {
            return !trusted || underscore;
        }
        if is_override_header(canonical) {
            return !self.allow_overrides || underscore;
        }
        underscore && (canonical == "via" || self.rules.iter().any(|n| n == canonical))
    }

    /// Removes from `headers` what [`removes`](Self::removes) says; returns how many names
    /// went.
    pub fn screen(&self, headers: &mut HeaderMap, trusted: bool) -> usize {
        // Collected first: most requests lose nothing, and then nothing is allocated.
        let mut gone: Vec<HeaderName> = Vec::new();
        for name in headers.keys() {
            if self.removes(name.as_str(), trusted) {
                gone.push(name.clone());
            }
        }
        for name in &gone {
            headers.remove(name);
        }
        gone.len()
    }

    /// Whether `peer` is a proxy whose forwarding headers are believed.
    pub fn trusts(&self, peer: Option<IpAddr>) -> bool {
        self.trust.trusts_peer(peer)
    }
}

/// Applies the client's `Connection` header to `headers`: removes the headers it names
/// (never a protected one: `Host`, `Authorization`, `Cookie`, `Via`, the forwarding family)
/// and keeps only connection options in it (`close`, `keep-alive`, `upgrade` and the standard
/// hop-by-hop names). Returns the names removed.
///
/// ```
/// use http::HeaderMap;
/// use tollgate::inbound::apply_client_connection;
///
/// let mut h = HeaderMap::new();
/// h.insert("connection", "keep-alive, X-Secret, Host".parse().unwrap());
/// h.insert("x-secret", "1".parse().unwrap());
/// h.insert("host", "a.example".parse().unwrap());
/// assert_eq!(apply_client_connection(&mut h), 1);
/// assert_eq!(h["connection"], "keep-alive");
/// assert!(h.contains_key("host"));
/// ```
pub fn apply_client_connection(headers: &mut HeaderMap) -> usize {
    // Most requests say `keep-alive` or `close` or nothing: decided without allocating.
    let only_options = headers.get_all(CONNECTION).iter().all(|value| {
        value.to_str().is_ok_and(|text| {
            text.split(',')
                .map(str::trim)
                .all(|t| t.is_empty() || is_connection_option(t))
        })
    });
    if only_options {
        return 0;
    }
    // Something else is named (or a value is not text): rebuilt from the options only.
    let mut kept: Vec<&str> = Vec::new();
    let mut named: Vec<HeaderName> = Vec::new();
    for text in headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
    {
        for token in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            if is_connection_option(token) {
                kept.push(token);
            } else if let Ok(name) = HeaderName::from_bytes(token.as_bytes()) {
                if !is_protected(&name) {
                    named.push(name);
                }
            }
        }
    }
    let kept = kept.join(", ");
    for name in &named {
        headers.remove(name);
    }
    match HeaderValue::from_str(&kept) {
        Ok(value) if !kept.is_empty() => {
            headers.insert(CONNECTION, value);
        }
        _ => {
            headers.remove(CONNECTION);
        }
    }
    named.len()
}

/// `name` as [`HeaderPolicy::removes`] compares names: `_` read as `-`.
fn dashed(name: HeaderName) -> HeaderName {
    if !name.as_str().contains('_') {
        return name;
    }
    HeaderName::from_bytes(name.as_str().replace('_', "-").as_bytes()).unwrap_or(name)
}

/// The table of [`HeaderPolicy::first`]: the family's first bytes and the identity names'.
fn first_bytes(identity: &[HeaderName]) -> [bool; 256] {
    let mut table = [false; 256];
    let identity = identity.iter().filter_map(|n| n.as_str().bytes().next());
    for byte in FAMILY_FIRST_BYTES.iter().copied().chain(identity) {
        table[usize::from(byte)] = true;
    }
    table
}

/// Screens every request's headers and trailers with a [`HeaderPolicy`]; goes first in a
/// gateway's stack. See the [module docs](self).
#[derive(Debug, Clone)]
#[must_use]
pub struct InboundLayer {
    policy: Arc<HeaderPolicy>,
}

impl InboundLayer {
    /// The policy `config` describes, trusting no proxy.
    ///
    /// # Errors
    ///
    /// A name in `managed` that is no header name.
    pub fn new(config: &InboundConfig) -> Result<Self, InboundError> {
        let identity = config
            .managed
            .iter()
            .map(|name| {
                HeaderName::from_bytes(name.as_bytes())
                    .map(dashed)
                    .map_err(|_| InboundError { name: name.clone() })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(InboundLayer {
            policy: Arc::new(HeaderPolicy {
                allow_underscores: config.allow_underscores,
                allow_overrides: config.allow_overrides,
                first: first_bytes(&identity),
                identity,
                rules: Vec::new(),
                trust: Trust::Hops(0),
            }),
        })
    }

    /// Believes the forwarding headers of the proxies `trust` names (the same trust as the
    /// forwarded layer's).
    pub fn trusting(mut self, trust: Trust) -> Self {
        Arc::make_mut(&mut self.policy).trust = trust;
        self
    }

    /// Manages an identity header (e.g. the user header): removed in every spelling.
    pub fn identity(mut self, name: HeaderName) -> Self {
        let name = dashed(name);
        let policy = Arc::make_mut(&mut self.policy);
        if !policy.identity.contains(&name) {
            policy.identity.push(name);
            policy.first = first_bytes(&policy.identity);
        }
        self
    }

    /// Manages a header the gateway's rules set: removed when a client spells it with `_`.
    pub fn rule_header(mut self, name: HeaderName) -> Self {
        let name = dashed(name);
        let policy = Arc::make_mut(&mut self.policy);
        if !policy.rules.contains(&name) {
            policy.rules.push(name);
        }
        self
    }

    /// The policy, to screen headers without the layer.
    pub fn policy(&self) -> &HeaderPolicy {
        &self.policy
    }
}

impl<S> Layer<S> for InboundLayer {
    type Service = Inbound<S>;

    fn layer(&self, inner: S) -> Inbound<S> {
        Inbound {
            inner,
            policy: self.policy.clone(),
        }
    }
}

/// The service made by [`InboundLayer`].
#[derive(Debug, Clone)]
pub struct Inbound<S> {
    inner: S,
    policy: Arc<HeaderPolicy>,
}

impl<S> Inbound<S> {
    define_inner_service_accessors!();
}

impl<S, B> Service<Request<B>> for Inbound<S>
where
    S: Service<Request<Body>>,
    B: http_body::Body<Data = Bytes> + Send + Sync + 'static,
    B::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let (mut parts, body) = req.into_parts();
        let trusted = match &self.policy.trust {
            // No need to look the peer up.
            Trust::Hops(n) => *n > 0,
            Trust::Proxies(_) => self
                .policy
                .trusts(parts.extensions.get::<PeerAddr>().map(|p| p.0.ip())),
        };
        apply_client_connection(&mut parts.headers);
        self.policy.screen(&mut parts.headers, trusted);
        let body = if body.is_end_stream() {
            Body::new(body)
        } else {
            // Trailers follow the same policy as headers.
            let screen = ScreenedTrailers {
                policy: self.policy.clone(),
                trusted,
            };
            Body::new(Watched::new(body, screen))
        };
        self.inner.call(Request::from_parts(parts, body))
    }
}

/// Watches a request body so that its trailers pass through the policy; data, length and end
/// pass as they are (so a `Content-Length` body stays one for the next hop).
struct ScreenedTrailers {
    policy: Arc<HeaderPolicy>,
    trusted: bool,
}

impl Watch for ScreenedTrailers {
    fn frame(&mut self, mut frame: Frame<Bytes>, _end: bool) -> Result<Frame<Bytes>, BoxError> {
        if let Some(trailers) = frame.trailers_mut() {
            self.policy.screen(trailers, self.trusted);
        }
        Ok(frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(config: InboundConfig) -> HeaderPolicy {
        InboundLayer::new(&config)
            .unwrap()
            .identity(HeaderName::from_static("x-forwarded-user"))
            .rule_header(HeaderName::from_static("x-gateway"))
            .policy()
            .clone()
    }

    #[test]
    fn underscores_are_dropped_by_default() {
        let p = policy(InboundConfig::default());
        for name in ["x_forwarded_user", "remote_user", "x_anything", "_"] {
            assert!(p.removes(name, true), "{name}");
        }
        assert!(!p.removes("x-anything", false));
    }

    #[test]
    fn with_underscores_allowed_managed_spellings_still_go() {
        let p = policy(InboundConfig {
            allow_underscores: true,
            ..InboundConfig::default()
        });
        assert!(!p.removes("remote_user", false));
        assert!(p.removes("x_forwarded_user", false));
        assert!(
            p.removes("x_forwarded_for", true),
            "even from a trusted proxy"
        );
        assert!(p.removes("x_gateway", false));
        assert!(
            !p.removes("x-gateway", false),
            "the rule replaces it itself"
        );
        assert!(!p.removes("via", false));
        assert!(p.removes("x-forwarded_user", false));
    }

    #[test]
    fn forwarding_family_only_from_trusted_proxies() {
        let p = policy(InboundConfig::default());
        for name in [
            "x-real-ip",
            "x-forwarded-port",
            "x-forwarded-ssl",
            "x-forwarded-server",
            "x-client-ip",
            "true-client-ip",
            "cf-connecting-ip",
            "forwarded",
        ] {
            assert!(p.removes(name, false), "{name}");
            assert!(!p.removes(name, true), "{name}");
        }
        assert!(p.removes("x-forwarded-user", true), "the user is managed");
    }

    #[test]
    fn the_first_byte_table_covers_every_family_name() {
        let names = [
            "forwarded",
            "x-forwarded-for",
            "x-real-ip",
            "x-client-ip",
            "true-client-ip",
            "cf-connecting-ip",
            "x-cluster-client-ip",
            "fastly-client-ip",
            "x-original-forwarded-for",
            "x-proxyuser-ip",
            "front-end-https",
            "x-url-scheme",
            "x-original-host",
            "x-original-url",
            "x-rewrite-url",
            "x-original-uri",
            "x-override-url",
            "x-http-method-override",
            "x-http-method",
            "x-method-override",
        ];
        for name in names {
            assert!(
                is_forwarding_header(name) || is_override_header(name),
                "{name}"
            );
            assert!(FAMILY_FIRST_BYTES.contains(&name.as_bytes()[0]), "{name}");
        }
        let p = InboundLayer::new(&InboundConfig {
            managed: vec!["Secret-Key".into()],
            ..InboundConfig::default()
        })
        .unwrap()
        .policy()
        .clone();
        assert!(p.removes("secret-key", true));
        assert!(!p.removes("accept", false));

        // A managed name written with `_` is managed in every spelling too.
        let p = InboundLayer::new(&InboundConfig {
            managed: vec!["X_Secret".into()],
            allow_underscores: true,
            ..InboundConfig::default()
        })
        .unwrap()
        .policy()
        .clone();
        assert!(p.removes("x_secret", false));
        assert!(p.removes("x-secret", false));
    }

    #[test]
    fn overrides_go_unless_allowed() {
        let p = policy(InboundConfig::default());
        assert!(p.removes("x-original-url", true));
        assert!(p.removes("x-http-method-override", true));
        let p = policy(InboundConfig {
            allow_overrides: true,
            ..InboundConfig::default()
        });
        assert!(!p.removes("x-rewrite-url", false));
    }

    #[test]
    fn connection_keeps_options_only() {
        let mut h = HeaderMap::new();
        h.append(CONNECTION, "close, X-Forwarded-User".parse().unwrap());
        h.append(
            CONNECTION,
            "Upgrade, x-b, Authorization, bad name".parse().unwrap(),
        );
        h.insert("x-forwarded-user", "admin".parse().unwrap());
        h.insert("x-b", "1".parse().unwrap());
        h.insert("authorization", "Basic eDp5".parse().unwrap());
        assert_eq!(apply_client_connection(&mut h), 1);
        assert_eq!(h["connection"], "close, Upgrade");
        assert!(
            h.contains_key("x-forwarded-user"),
            "protected: removed by the policy instead"
        );
        assert!(h.contains_key("authorization"));
        assert!(!h.contains_key("x-b"));

        let mut h = HeaderMap::new();
        h.insert(CONNECTION, "x-a".parse().unwrap());
        h.insert("x-a", "1".parse().unwrap());
        apply_client_connection(&mut h);
        assert!(h.is_empty());

        let mut h = HeaderMap::new();
        h.insert(CONNECTION, "keep-alive".parse().unwrap());
        assert_eq!(apply_client_connection(&mut h), 0);
        assert_eq!(h["connection"], "keep-alive");
    }

    #[tokio::test]
    async fn bodies_keep_their_length_and_lose_managed_trailers() {
        use http_body_util::BodyExt;
        let layer = InboundLayer::new(&InboundConfig::default())
            .unwrap()
            .identity(HeaderName::from_static("x-forwarded-user"));
        let mut trailers = HeaderMap::new();
        trailers.insert("x-forwarded-user", "admin".parse().unwrap());
        trailers.insert("x-sum", "1".parse().unwrap());
        let inner = http_body_util::Full::new(Bytes::from_static(b"abc"))
            .with_trailers(async move { Some(Ok(trailers)) });
        let screen = ScreenedTrailers {
            policy: layer.policy.clone(),
            trusted: false,
        };
        let body = Watched::new(inner, screen);
        assert_eq!(http_body::Body::size_hint(&body).exact(), Some(3));
        let collected = body.collect().await.unwrap();
        let trailers = collected.trailers().cloned().unwrap();
        assert_eq!(trailers.len(), 1);
        assert_eq!(trailers["x-sum"], "1");
        assert_eq!(collected.to_bytes(), "abc");
    }

    #[test]
    fn managed_names_must_be_header_names() {
        let err = InboundLayer::new(&InboundConfig {
            managed: vec!["bad name".into()],
            ..InboundConfig::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("`bad name` is not a header name"));
    }
}
