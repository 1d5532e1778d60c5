//! The gateway's configuration file: [`Config`], read from TOML with every error located
//! ([`load`]) and checked on its own ([`Config::check`]). The [`gateway`](crate::gateway)
//! module builds and runs it.
//!
//! The file embeds the layers' own configuration types ([`ServeConfig`] for each listener,
//! [`ForwardedConfig`], [`NormalizeConfig`], [`RewriteConfig`], [`ProxyConfig`],
//! [`BalanceConfig`], [`ServeDirConfig`](crate::files::ServeDirConfig),
//! [`BasicAuthConfig`](crate::auth::basic::BasicAuthConfig)), so the file
//! and the Rust API cannot drift apart, and unknown keys are errors everywhere: a typo never
//! silently turns a feature off.
//!
//! `tollgate run FILE` serves it and reloads it on `SIGHUP` ([`gateway::run`](crate::gateway::run));
//! `tollgate check FILE` prints every error with its line and column, and each route whose
//! answers changed with the route order rule
//! ([`gateway::route_order_changes`](crate::gateway::route_order_changes)). The keys are
//! documented in `docs/config.md` and `examples/tollgate.toml`.
//!
//! # Example
//!
//! ```
//! use tollgate::config::{self, Config};
//! use tollgate::metrics::Metrics;
//! use tollgate::testing::TestClient;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let text = r#"
//!     [[listen]]
//!     bind = "127.0.0.1:8080"
//!
//!     [[routes]]
//!     path = "/old"
//!     redirect = { to = "/new" }
//!
//!     [[routes]]
//!     echo = true
//! "#;
//! let config: Config = config::load(text).unwrap();
//! let gateway = tollgate::gateway::build(&config, &Metrics::new()).await.unwrap();
//! let client = TestClient::new(gateway);
//! assert_eq!(client.get("/old/x?y").send().await.header("location"), Some("/new/x?y"));
//! let echo = client.get("/hello").send().await.json::<serde_json::Value>().await;
//! assert_eq!(echo["path"], "/hello");
//!
//! // A typo is an error that names its place.
//! let errors = config::load("[[listen]]\nbnid = \"127.0.0.1:80\"\n").unwrap_err();
//! assert_eq!(errors[0].line(), Some(2));
//! assert!(errors[0].message().contains("unknown field `bnid`"));
//! # }
//! ```

mod check;
mod edge;
mod error;
mod load;
mod routes;
mod warnings;

use std::collections::BTreeMap;

use serde::Deserialize;

pub use self::error::{ConfigError, ConfigErrors, KeyPath, Segment};
pub use self::load::{load, load_file, load_partial};
pub use self::routes::{RedirectConfig, RouteConfig};
pub(crate) use self::warnings::{is_loopback, warn_about};
use crate::forwarded::ForwardedConfig;
/// Moved to [`gateway`](crate::gateway); these paths stay for one release.
#[doc(no_inline)]
pub use crate::gateway::{
    build, build_with, run, Gateway, GatewayFuture, Runner, SharedState, Swappable,
};
use crate::inbound::InboundConfig;
use crate::normalize::NormalizeConfig;
pub use crate::proxy::balance::{BalanceConfig, HealthCheck, Policy};
use crate::proxy::{ProxyConfig, Upstream};
use crate::rewrite::RewriteConfig;
use crate::serve::ServeConfig;

/// A whole gateway: where it listens, what it does to requests, where it sends them.
///
/// Every section is optional except `[[listen]]` and `[[routes]]`; unknown keys are errors.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct Config {
    /// How many worker threads serve the listeners, each with its own single-threaded
    /// runtime, connection pools and caches (nginx's `worker_processes`). A reload keeps the
    /// running number; a restart takes the new one. Default is `0`: one per core.
    pub workers: usize,
    /// Where `tollgate run` writes its process id once it listens, for `tollgate reload`
    /// (removed when it stops). Default is `None`: no pid file.
    pub pid_file: Option<std::path::PathBuf>,
    /// The public listeners, one `[[listen]]` table each: a [`ServeConfig`] (address,
    /// timeouts, connection limits, `tls = { cert, key }`). At least one. Default is none.
    pub listen: Vec<ServeConfig>,
    /// The admin listener for `/metrics` and `/healthz`. Default is `None`: no admin listener;
    /// metrics are never served on a public listener.
    pub admin: Option<AdminConfig>,
    /// A health endpoint answered by the gateway itself on the public listeners, before
    /// anything else runs (no auth, no routing). Default is `None`: off.
    pub health: Option<HealthConfig>,
    /// What clients may send ([`InboundConfig`]): request headers with `_` in their names,
    /// path and method overrides, more headers the gateway vouches for. It applies to every
    /// request, before anything else. Default is [`InboundConfig::default`]: underscores and
    /// overrides dropped.
    pub inbound: InboundConfig,
    /// Trusted proxies in front of the gateway ([`ForwardedConfig`]); the table must say whom
    /// it trusts. Default is `None`: `X-Forwarded-*`/`Forwarded` and the rest of the
    /// forwarding family from clients are removed, never believed.
    pub forwarded: Option<ForwardedConfig>,
    /// Path, host and query normalization ([`NormalizeConfig`]). Default is `None`: off.
    pub normalize: Option<NormalizeConfig>,
    /// Header rules for every request and answer ([`RewriteConfig`]): set, remove, rename,
    /// request ids, security headers. Default is `None`: none.
    pub rewrite: Option<RewriteConfig>,
    /// Compression of answers and decoding of request bodies
    /// ([`CompressConfig`](crate::compress::CompressConfig)). Default is `None`: answers pass as
    /// the routes made them.
    pub compression: Option<crate::compress::CompressConfig>,
    /// The shared response cache ([`CacheConfig`](crate::cache::CacheConfig): sizes, what
    /// may be stored), used by every route to an upstream group unless the route says
    /// `cache = false`. Default is `None`: nothing is cached.
    pub cache: Option<crate::cache::CacheConfig>,
    /// Basic auth for every route ([`BasicAuthConfig`](crate::auth::basic::BasicAuthConfig):
    /// realm, credentials file, exemptions, verification cache, failure limits). Default is
    /// `None`: no auth, anyone gets through.
    #[cfg(feature = "auth")]
    #[cfg_attr(docsrs, doc(cfg(feature = "auth")))]
    pub auth: Option<crate::auth::basic::BasicAuthConfig>,
    /// Request rate limits per client and per user
    /// ([`RateLimitConfig`](crate::ratelimit::RateLimitConfig)); a route's own limit is its
    /// `rate_limit` key. Default is `None`: no limit.
    pub rate_limit: Option<crate::ratelimit::RateLimitConfig>,
    /// An auth service that decides on every request
    /// ([`ForwardAuthConfig`](crate::forward_auth::ForwardAuthConfig): `url`, `timeout`,
    /// `request_headers`, `copy_headers`, `user_header`, `cache`); a route opts out with
    /// `forward_auth = false`. Not with `[auth]`. Default is `None`: off.
    pub forward_auth: Option<crate::forward_auth::ForwardAuthConfig>,
    /// What every route's access rules share ([`AclConfig`](crate::acl::AclConfig)): the
    /// groups file that `allow = ["group:NAME"]` reads. Default is no groups file.
    pub acl: crate::acl::AclConfig,
    /// The proxy options every upstream group uses unless it has its own `proxy` table
    /// ([`ProxyConfig`]: timeouts, body limit, `Host` policy). Default is [`ProxyConfig::default`].
    pub proxy: ProxyConfig,
    /// Named groups of upstream servers, `[upstreams.NAME]`. Default is none.
    pub upstreams: BTreeMap<String, UpstreamGroupConfig>,
    /// The routes, `[[routes]]`: the most specific host, then the longest path prefix, then
    /// the method decides which one answers (see [`gateway`](crate::gateway)). At least one.
    /// Default is none.
    pub routes: Vec<RouteConfig>,
    /// Replacement pages for the errors the gateway itself renders, `[errors]`: a status (400
    /// to 599) and the HTML file of its page, `404 = "pages/404.html"`, a template where
    /// `{status}`, `{reason}` and `{message}` are replaced
    /// ([`ErrorPages`](crate::filter::ErrorPages)). Clients asking for JSON or text keep those;
    /// an upstream's own error pages pass untouched. Files are read when the gateway is built
    /// (and on reload). Default is none: the built-in pages.
    pub errors: BTreeMap<String, std::path::PathBuf>,
}

/// The admin listener, `[admin]`: metrics and health, never on a public listener.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct AdminConfig {
    /// The address, `host:port`; it must differ from every `[[listen]]` address. Default is
    /// `127.0.0.1:9090`.
    pub bind: String,
    /// Where the Prometheus metrics are. Default is `/metrics`.
    pub metrics_path: String,
    /// Where the health answer is. Default is `/healthz`.
    pub health_path: String,
    /// Whether `bind` may be an address other machines reach (`0.0.0.0:9090`, a LAN
    /// address): the metrics name routes, upstreams and traffic, so [`Config::check`] refuses
    /// a non-loopback admin address unless this says so. Default is `false`.
    pub allow_public: bool,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            bind: "127.0.0.1:9090".to_owned(),
            metrics_path: "/metrics".to_owned(),
            health_path: "/healthz".to_owned(),
            allow_public: false,
        }
    }
}

/// The health endpoint on the public listeners, `[health]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct HealthConfig {
    /// The path answered `200 ok` (any method but `GET` and `HEAD` is a `405`). Default is
    /// `/healthz`.
    pub path: String,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            path: "/healthz".to_owned(),
        }
    }
}

/// A group of upstream servers requests are balanced over, `[upstreams.NAME]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct UpstreamGroupConfig {
    /// The servers, `http://` or `https://` URLs (a base path is allowed). At least one.
    /// Default is none.
    pub servers: Vec<Upstream>,
    /// How a server is chosen, passive and active health, retries ([`BalanceConfig`]).
    /// Default is [`BalanceConfig::default`].
    pub balance: BalanceConfig,
    /// This group's proxy options, replacing the top-level `[proxy]` table as a whole.
    /// Default is `None`: the top-level one.
    pub proxy: Option<ProxyConfig>,
    /// The PEM certificate chain this group's servers are shown when they ask for a client
    /// certificate (mutual TLS to the upstream), with `tls_client_key`; it replaces the
    /// proxy table's [`tls_client_cert`](ProxyConfig::tls_client_cert). Default is `None`.
    pub tls_client_cert: Option<std::path::PathBuf>,
    /// The PEM private key of `tls_client_cert`. Default is `None`.
    pub tls_client_key: Option<std::path::PathBuf>,
}
