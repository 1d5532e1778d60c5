//! Forward auth (nginx `auth_request`, Traefik ForwardAuth, Caddy `forward_auth`): before a
//! request goes on, an auth service decides on it: [`ForwardAuthLayer`].
//!
//! For each request the layer sends the auth service a `GET` of its URL, bodiless, with:
//!
//! - `X-Forwarded-Method`, `X-Forwarded-Uri` (path and query as received),
//!   `X-Forwarded-Host` (`host[:port]`), `X-Forwarded-Proto` and `X-Forwarded-For`, all read
//!   from the one [`Origin`](crate::origin::Origin) (so the client address is the one trusted
//!   proxies reported, never what an untrusted client wrote);
//! - the request headers named in [`request_headers`](ForwardAuthConfig::request_headers)
//!   (default `Authorization` and `Cookie`), as the client sent them.
//!
//! Its answer decides:
//!
//! - **`2xx`** admits the request. First every copy the client sent of the
//!   [`copy_headers`](ForwardAuthConfig::copy_headers) and the
//!   [`user_header`](ForwardAuthConfig::user_header) is removed, in every spelling (any case,
//!   `_` for `-`), then the auth answer's values of `copy_headers` are set. So a client
//!   sending `Remote-User: admin` never reaches the upstream with it, even when the auth
//!   service admits without naming a user (Caddy's GHSA-7r4p-vjf4-gxv4). The `user_header`
//!   value becomes the [`AuthenticatedUser`](crate::ext::AuthenticatedUser): the user of
//!   access rules, of the proxy's user header and of the access log.
//! - **`3xx` and `4xx`** go back to the client as they are: status, headers
//!   (`WWW-Authenticate`, `Location`, `Set-Cookie`, ...; not hop-by-hop ones) and body up to
//!   64 KiB (a longer body is dropped).
//! - **`5xx`** (and anything else) is a `502 Bad Gateway`; an auth service that cannot be
//!   reached is a `503 Service Unavailable`, one that does not answer within
//!   [`timeout`](ForwardAuthConfig::timeout) a `504 Gateway Timeout`. None of them admits.
//!
//! The auth service is reached over plain `http` (it usually runs beside the gateway); its
//! connections are kept and reused. With [`cache`](ForwardAuthConfig::cache), an admission is
//! kept for a while under a SHA-256 digest of the whole question (method, URI, every header
//! sent, the client's address and credentials included): only the very same request from the
//! same client skips the auth service meanwhile, and no credential is kept in clear.
//!
//! # Example
//!
//! ```no_run
//! use tollgate::forward_auth::{ForwardAuthConfig, ForwardAuthLayer};
//! use tower::{service_fn, Layer};
//!
//! let config: ForwardAuthConfig = toml::from_str(r#"
//!     url = "http://127.0.0.1:9091/api/authz/forward-auth"
//!     timeout = "2s"
//!     copy_headers = ["Remote-User", "Remote-Groups"]
//!     user_header = "Remote-User"
//! "#).unwrap();
//! let layer = ForwardAuthLayer::new(&config).unwrap();
//! let app = layer.layer(service_fn(|req: http::Request<tollgate::Body>| async move {
//!     // Only admitted requests get here, with the auth service's Remote-User.
//!     Ok::<_, std::convert::Infallible>(http::Response::new(tollgate::Body::empty()))
//! }));
//! # let _ = app;
//! ```

mod ask;
mod cache;
mod layer;

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

pub use self::layer::{ForwardAuth, ForwardAuthLayer};

/// The gateway's `[forward_auth]` table.
///
/// ```
/// let config: tollgate::forward_auth::ForwardAuthConfig = toml::from_str(r#"
///     url = "http://127.0.0.1:4181/auth"
///     copy_headers = ["Remote-User"]
///     user_header = "Remote-User"
/// "#).unwrap();
/// assert_eq!(config.timeout.as_secs(), 5);
/// assert_eq!(config.request_headers, ["Authorization", "Cookie"]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ForwardAuthConfig {
    /// The auth service's URL (`http://HOST:PORT/PATH`), asked with `GET` for every request.
    pub url: String,
    /// How long the auth service may take to answer (`"2s"`, `"500ms"`; a number is seconds)
    /// before the client gets `504`. Default is 5 seconds.
    #[serde(
        default = "default_timeout",
        deserialize_with = "crate::syntax::duration::deserialize"
    )]
    pub timeout: Duration,
    /// Request headers sent on to the auth service as the client sent them. Default is
    /// `["Authorization", "Cookie"]`.
    #[serde(default = "default_request_headers")]
    pub request_headers: Vec<String>,
    /// Headers of an admitting answer set on the request (e.g. `Remote-User`,
    /// `Remote-Groups`), after every copy the client sent is removed. Default is none.
    #[serde(default)]
    pub copy_headers: Vec<String>,
    /// The header of an admitting answer that names the user (e.g. `Remote-User`). Default
    /// is none: admitted requests have no authenticated user.
    #[serde(default)]
    pub user_header: Option<String>,
    /// How long an admission is kept (`"10s"`), so the same request from the same client
    /// (same method, URI, host, scheme, address and `request_headers`) is not asked about
    /// again meanwhile; refusals are never kept. Default is `0`: every request is asked.
    #[serde(default, deserialize_with = "crate::syntax::duration::deserialize")]
    pub cache: Duration,
}

fn default_timeout() -> Duration {
    Duration::from_secs(5)
}

fn default_request_headers() -> Vec<String> {
    vec!["Authorization".to_owned(), "Cookie".to_owned()]
}

impl ForwardAuthConfig {
    /// A configuration asking `url`, with the defaults for everything else.
    pub fn new(url: impl Into<String>) -> Self {
        ForwardAuthConfig {
            url: url.into(),
            timeout: default_timeout(),
            request_headers: default_request_headers(),
            copy_headers: Vec::new(),
            user_header: None,
            cache: Duration::ZERO,
        }
    }
}

/// A [`ForwardAuthConfig`] that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ForwardAuthError {
    /// `url` is not an absolute `http://` URL.
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A header name in `request_headers`, `copy_headers` or `user_header` is not valid.
    InvalidHeaderName {
        /// The key it was under.
        key: &'static str,
        /// The name as given.
        name: String,
    },
    /// `timeout` is zero.
    ZeroTimeout,
}

impl ForwardAuthError {
    /// The key of `[forward_auth]` the error is about.
    pub fn key(&self) -> &'static str {
        match self {
            ForwardAuthError::InvalidUrl { .. } => "url",
            ForwardAuthError::InvalidHeaderName { key, .. } => key,
            ForwardAuthError::ZeroTimeout => "timeout",
        }
    }
}

impl fmt::Display for ForwardAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ForwardAuthError::InvalidUrl { url, reason } => write!(
                f,
                "forward auth URL `{url}` {reason}; give one like `http://127.0.0.1:9091/auth`"
            ),
            ForwardAuthError::InvalidHeaderName { key, name } => {
                write!(f, "{key}: `{name}` is not a valid header name")
            }
            ForwardAuthError::ZeroTimeout => {
                f.write_str("the forward auth timeout must be more than zero")
            }
        }
    }
}

impl std::error::Error for ForwardAuthError {}
