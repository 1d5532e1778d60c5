//! HTTP Basic authentication (RFC 7617) as a tower layer: [`BasicAuthLayer`].
//!
//! Requests without valid credentials are answered `401 Unauthorized` with
//! `WWW-Authenticate: Basic realm="...", charset="UTF-8"` and an error page negotiated by
//! `Accept`; malformed `Authorization` headers are a `401` too (or a `400` for another scheme,
//! when asked), never a `500`. An authenticated request goes on with
//! [`AuthenticatedUser`](crate::ext::AuthenticatedUser) in its extensions and, by default,
//! without its `Authorization` header.
//!
//! What it costs and what it protects:
//!
//! - Password hashes are verified on the layer's own threads, `max_concurrent_verifications`
//!   of them (default: half the cores), at a lower scheduling priority than the workers,
//!   with a bounded queue; past it, requests that need a verification get `503` with
//!   `Retry-After` at once.
//! - A successful verification is cached (an HMAC-SHA-256 tag of user and password under a
//!   per-process random key, compared in constant time) until its TTL passes or the stored
//!   hash changes. The cache is checked before queueing, so a flood of wrong guesses never
//!   delays a user whose verification is cached. A refused (user, password) pair is
//!   remembered the same way for a minute, with the stored hash it was refused against (or
//!   none, for an unknown user), so the same wrong guess again is refused without a hash.
//! - Unknown users and locked accounts are verified against a dummy hash of the credentials
//!   file's most common scheme and cost, so timing does not reveal which users exist (users
//!   whose hash has another cost remain distinguishable: see `docs/auth.md`).
//! - Failed attempts are logged with user name (escaped, at most 64 characters) and peer
//!   address, never the password; an optional per-peer limit (IPv6 peers counted per /64)
//!   answers `429`.
//! - The cache, the queue and the failure counts belong to the layer: every service it
//!   makes, on any thread or runtime, shares them (the gateway builds one layer for all its
//!   workers).
//!
//! # Example
//!
//! ```
//! use std::collections::HashMap;
//! use tollgate::auth::basic::BasicAuthLayer;
//! use tollgate::auth::password::{hash_password_with, Params};
//! use tollgate::ext::AuthenticatedUser;
//! use tower::{service_fn, Layer, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! # let params = Params { memory_kib: 64, iterations: 1, parallelism: 1 };
//! // Real code hashes with `hash_password`, or reads an htpasswd file.
//! let users = HashMap::from([("ada".to_string(), hash_password_with("secret", &params).unwrap())]);
//! let app = service_fn(|req: http::Request<tollgate::Body>| async move {
//!     let user = req.extensions().get::<AuthenticatedUser>().unwrap().name().to_owned();
//!     Ok::<_, std::convert::Infallible>(http::Response::new(tollgate::Body::from(user)))
//! });
//! let svc = BasicAuthLayer::new("staff", users).layer(app);
//!
//! let req = http::Request::get("/").body(tollgate::Body::empty()).unwrap();
//! let res = svc.clone().oneshot(req).await.unwrap();
//! assert_eq!(res.status(), 401);
//! assert_eq!(res.headers()["www-authenticate"], "Basic realm=\"staff\", charset=\"UTF-8\"");
//!
//! let req = http::Request::get("/")
//!     .header("authorization", "Basic YWRhOnNlY3JldA==") // ada:secret
//!     .body(tollgate::Body::empty())
//!     .unwrap();
//! let res = svc.oneshot(req).await.unwrap();
//! assert_eq!(res.status(), 200);
//! # }
//! ```

mod cache;
mod future;
mod hashers;
mod inflight;
mod layer;
mod limiter;
mod service;
#[cfg(feature = "redis-store")]
mod shared_lockout;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

pub use self::future::ResponseFuture;
pub use self::layer::BasicAuthLayer;
pub use self::service::BasicAuth;
use crate::auth::htpasswd::HtpasswdError;

/// The Basic auth section of a configuration file; every field has a default.
///
/// ```
/// let config: tollgate::auth::basic::BasicAuthConfig = toml::from_str(r#"
///     realm = "staff"
///     htpasswd = "/etc/tollgate/users"
///     forward_user_header = "X-Forwarded-User"
///     exempt_paths = ["/healthz"]
///     exempt_methods = ["OPTIONS"]
///     max_failures_per_peer = 20
///     cache_ttl = "10m"
///     failure_window_secs = 30      # the old name and form, still accepted
/// "#).unwrap();
/// assert!(config.strip_authorization);
/// assert_eq!(config.cache_ttl, std::time::Duration::from_secs(600));
/// assert_eq!(config.failure_window, std::time::Duration::from_secs(30));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BasicAuthConfig {
    /// The realm shown in the challenge. Default is `"Restricted"`.
    pub realm: String,
    /// The credentials file (Apache `htpasswd` format), watched for changes.
    /// [`BasicAuthLayer::from_config`] needs it or `tokens`. Default is none.
    pub htpasswd: Option<PathBuf>,
    /// The API tokens file (`tollgate token USER` lines, see [`token`](crate::auth::token)),
    /// watched for changes like `htpasswd`: requests may then authenticate with
    /// `Authorization: Bearer TOKEN` (or `token_header`), alone or besides Basic. Default is
    /// none.
    pub tokens: Option<PathBuf>,
    /// Another header that carries a token as its whole value (e.g. `X-API-Key`), besides
    /// `Authorization: Bearer`; removed before passing the request on when
    /// `strip_authorization` is on. Default is none.
    pub token_header: Option<String>,
    /// Accept the weak legacy hash schemes (`{SHA}`, `$apr1$`, `$1$`, `{PLAIN}` text), with a
    /// warning at load. Default is `false`.
    pub allow_legacy_hashes: bool,
    /// How often the credentials file is checked for changes (`"5s"`; a number is seconds;
    /// `reload_interval_secs` is accepted as the old name). Default is 5 seconds.
    #[serde(
        alias = "reload_interval_secs",
        deserialize_with = "crate::syntax::duration::deserialize"
    )]
    pub reload_interval: Duration,
    /// Remove `Authorization` before passing the request on. Default is `true`.
    pub strip_authorization: bool,
    /// A header to pass the user name in (e.g. `X-Forwarded-User`); it is removed from
    /// incoming requests first. Default is none.
    pub forward_user_header: Option<String>,
    /// Paths let through without credentials: exact (compared byte for byte), or prefixes
    /// ending in `/*`. A path under a prefix is not exempt when it holds a `;` (path
    /// parameter), a `%` escape, a backslash, `//` or a `.`/`..` segment: servers behind
    /// may resolve those out of the prefix (`/public/..;/admin` is `/admin` to Tomcat,
    /// Jetty and Spring). Default is none.
    pub exempt_paths: Vec<String>,
    /// Methods let through without credentials (e.g. `OPTIONS`). Default is none.
    pub exempt_methods: Vec<String>,
    /// Answer `400` rather than `401` to another scheme than Basic. Default is `false`.
    pub other_schemes_bad_request: bool,
    /// Password verifications running at once, each on one of the layer's own hashing
    /// threads (at a lower scheduling priority than the workers). Default is half the number
    /// of cores, at least one.
    pub max_concurrent_verifications: Option<usize>,
    /// Verifications waiting for a thread before new ones get `503`. Default is `64`.
    pub max_queued_verifications: usize,
    /// How long a successful verification is cached (`"5m"`; `0` disables the cache;
    /// `cache_ttl_secs` is accepted as the old name). Default is 300 seconds.
    #[serde(
        alias = "cache_ttl_secs",
        deserialize_with = "crate::syntax::duration::deserialize"
    )]
    pub cache_ttl: Duration,
    /// How many users the verification cache holds. Default is `10000`.
    pub cache_max_entries: usize,
    /// Failed attempts per peer address within `failure_window` before `429`; the
    /// `429` then answers every request from that peer, correct credentials included, for
    /// `failure_window`, then twice as long at each new lock, up to a day (see `docs/auth.md`
    /// for why). Counted for the whole process, across
    /// workers. Default is none (no limit).
    pub max_failures_per_peer: Option<u32>,
    /// Failed attempts for one user from one client address, `"5/60s"`, before that user is
    /// locked out from that client (`429` with `Retry-After` for the window, then twice as long
    /// at each new lock, up to a day); the user still logs in from elsewhere. Default is none.
    pub lockout: Option<crate::syntax::rate::Rate>,
    /// The window for `max_failures_per_peer` (`"1m"`; `failure_window_secs` is accepted as
    /// the old name). Default is 60 seconds.
    #[serde(
        alias = "failure_window_secs",
        deserialize_with = "crate::syntax::duration::deserialize"
    )]
    pub failure_window: Duration,
    /// How many leading bits of an IPv6 client address `max_failures_per_peer` counts by
    /// (0 to 128): a client usually holds a whole `/64`, so counting single addresses would
    /// give it 2^64 tries. `128` counts each address. IPv4 addresses (and IPv4-mapped IPv6
    /// ones) are always counted one by one. Default is `64`.
    pub failure_ipv6_prefix: u8,
}

impl Default for BasicAuthConfig {
    fn default() -> Self {
        BasicAuthConfig {
            realm: "Restricted".into(),
            htpasswd: None,
            tokens: None,
            token_header: None,
            allow_legacy_hashes: false,
            reload_interval: Duration::from_secs(5),
            strip_authorization: true,
            forward_user_header: None,
            exempt_paths: Vec::new(),
            exempt_methods: Vec::new(),
            other_schemes_bad_request: false,
            max_concurrent_verifications: None,
            max_queued_verifications: 64,
            cache_ttl: Duration::from_secs(300),
            cache_max_entries: 10_000,
            max_failures_per_peer: None,
            lockout: None,
            failure_window: Duration::from_secs(60),
            failure_ipv6_prefix: 64,
        }
    }
}

/// Why a [`BasicAuthConfig`] could not become a layer.
#[derive(Debug)]
#[non_exhaustive]
pub enum BasicAuthConfigError {
    /// Neither an `htpasswd` nor a `tokens` file was configured.
    MissingHtpasswd,
    /// `token_header` is not a valid header name.
    InvalidTokenHeader {
        /// The name given.
        name: String,
    },
    /// The tokens file was refused.
    Tokens(crate::auth::token::TokenFileError),
    /// `forward_user_header` is not a valid header name.
    InvalidHeaderName {
        /// The name given.
        name: String,
    },
    /// An entry of `exempt_methods` is not a valid method.
    InvalidMethod {
        /// The method given.
        method: String,
    },
    /// An entry of `exempt_paths` does not start with `/`.
    InvalidExemptPath {
        /// The path given.
        path: String,
    },
    /// `failure_ipv6_prefix` is above 128.
    InvalidIpv6Prefix {
        /// The value given.
        prefix: u8,
    },
    /// The credentials file was refused.
    Htpasswd(HtpasswdError),
}

impl fmt::Display for BasicAuthConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BasicAuthConfigError::MissingHtpasswd => f.write_str(
                "auth needs a credentials file: set `htpasswd = \"PATH\"` (make lines with \
                 `tollgate hash USER`), or `tokens = \"PATH\"` (lines from `tollgate token USER`)",
            ),
            BasicAuthConfigError::InvalidTokenHeader { name } => {
                write!(f, "token_header `{name}` is not a valid header name")
            }
            BasicAuthConfigError::Tokens(_) => f.write_str("tokens file refused"),
            BasicAuthConfigError::InvalidHeaderName { name } => {
                write!(f, "forward_user_header `{name}` is not a valid header name")
            }
            BasicAuthConfigError::InvalidMethod { method } => {
                write!(
                    f,
                    "exempt_methods entry `{method}` is not a valid HTTP method"
                )
            }
            BasicAuthConfigError::InvalidExemptPath { path } => {
                write!(f, "exempt_paths entry `{path}` must start with `/`")
            }
            BasicAuthConfigError::InvalidIpv6Prefix { prefix } => write!(
                f,
                "failure_ipv6_prefix = {prefix} is not a prefix length; use 0 to 128 (64 counts \
                 each /64 network, 128 each address)"
            ),
            BasicAuthConfigError::Htpasswd(_) => f.write_str("credentials file refused"),
        }
    }
}

impl std::error::Error for BasicAuthConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BasicAuthConfigError::Htpasswd(e) => Some(e),
            BasicAuthConfigError::Tokens(e) => Some(e),
            _ => None,
        }
    }
}

impl From<HtpasswdError> for BasicAuthConfigError {
    fn from(err: HtpasswdError) -> Self {
        BasicAuthConfigError::Htpasswd(err)
    }
}
