//! What layers learned about a request, carried in [`http::Extensions`].
//!
//! Nothing downstream needs to know which layer ran: `serve` inserts [`PeerAddr`], the forwarded
//! layer [`ClientInfo`], the auth layer (or `serve`, from a client certificate)
//! [`AuthenticatedUser`], the access layer
//! [`AccessDecision`] (on the answer), dispatch [`MountPrefix`] and
//! [`RouteParams`]. [`Request`](crate::Request) reads them through its accessors.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// The address of the TCP peer, as the connection reported it. Inserted by [`serve`](crate::serve).
///
/// Behind a proxy this is the proxy's address; see [`ClientInfo`] for the client's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub SocketAddr);

/// Whether the connection the request came on was TLS. Inserted by `serve` for TLS listeners.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionTls(pub bool);

/// What trusted proxies reported about the original client. Inserted by the forwarded layer.
///
/// Only values from proxies the layer was configured to trust are here; see
/// `forwarded` for where trust begins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientInfo {
    /// The client's address, from the right-most untrusted entry.
    pub addr: Option<IpAddr>,
    /// The client's port when reported.
    pub port: Option<u16>,
    /// `http` or `https`, as the client used.
    pub scheme: Option<String>,
    /// The host (and port) the client asked for.
    pub host: Option<String>,
    /// The prefix the application is mounted under at the proxy (`X-Forwarded-Prefix`).
    pub prefix: Option<String>,
}

/// The user the auth layer authenticated, or, on a TLS listener with a `client_ca`, the user
/// the client certificate names (inserted by [`serve`](crate::serve) on every request of the
/// connection).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatedUser(pub Arc<str>);

impl AuthenticatedUser {
    /// The user name.
    pub fn name(&self) -> &str {
        &self.0
    }
}

/// The path prefix a dispatcher mount stripped (WSGI's `SCRIPT_NAME`); mounts nest, so this
/// is the whole prefix, e.g. `/api/v1`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MountPrefix(pub String);

/// The parameters of the route pattern that matched, in pattern order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteParams(pub Vec<(String, String)>);

impl RouteParams {
    /// The value of parameter `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The request id the rewrite layer kept or made (`X-Request-Id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub Arc<str>);

/// Longest incoming request id kept: 128 bytes. Longer ones are replaced.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// Whether an incoming id is kept: 1 to [`MAX_REQUEST_ID_LEN`] bytes of ASCII letters, digits
/// and `-_.:+/=@` (UUIDs, ULIDs, base64 and the ids common proxies make all fit). Anything else
/// (spaces, quotes, commas, control characters) is replaced, so the id is safe to log and to put
/// in a header unquoted.
pub fn is_valid_request_id(id: &[u8]) -> bool {
    !id.is_empty()
        && id.len() <= MAX_REQUEST_ID_LEN
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:+/=@".contains(b))
}

/// Marks a response the auth layer gave because credentials were missing or wrong, so metrics
/// and logs can count failures without parsing bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthFailure;

/// Marks a `429` given by a limit, naming what the limit counts: `client`, `user`, `route`
/// (a limit on all of a route's requests) or `lockout` (too many failed logins), for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimited(pub &'static str);

/// Marks a response the proxy gave because an upstream failed (refused, reset, timed out),
/// naming the upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamFailure(pub Arc<str>);

/// How the response cache gave an answer, on the response: what the metrics count and what
/// `Cache-Status` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CacheOutcome {
    /// Served from the cache without asking the upstream; `ttl` is the seconds it stays
    /// fresh.
    Hit {
        /// Seconds left before the stored answer goes stale.
        ttl: u64,
    },
    /// Asked the upstream (nothing usable was stored); `stored` if its answer was kept.
    Miss {
        /// Whether the upstream's answer was stored.
        stored: bool,
    },
    /// A stale answer was revalidated: the upstream said `304`, the stored body was served.
    Revalidated,
    /// A stale answer was served: the upstream failed with `status` (`stale-if-error`), or it
    /// is being revalidated in the background (`stale-while-revalidate`, status `0`).
    Stale {
        /// The upstream's status, `0` when it was not waited for.
        status: u16,
    },
    /// The cache did not apply (a method other than `GET`/`HEAD`).
    Bypass,
}

/// The upstream that answered (or failed to answer) a proxied request, on the response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamName(pub Arc<str>);

/// What the access layer decided for a request, and the rule that decided (`group:ops`,
/// `deny_ip 10.0.0.0/8`, `allow: not listed`), on the answer so the access log can print it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessDecision {
    /// Whether the request was let through.
    pub allowed: bool,
    /// The rule that decided.
    pub rule: Arc<str>,
}
