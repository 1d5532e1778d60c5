//! The gateway `tollgate proxy` runs, as a library function: [`GatewayConfig`] in, one
//! service out, built from the same layers a library user would stack.
//!
//! ```text
//! Forwarded ─► Normalize ─► Rewrite ─► BasicAuth ─► Dispatch ─┬─► /PREFIX: static directory
//!                                                             └─► Proxy (or the echo service)
//! ```
//!
//! # Example
//!
//! ```
//! use tollgate::proxy::gateway::{self, GatewayConfig};
//! use tollgate::testing::TestClient;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! // No upstream: the echo service answers in-process and shows what an upstream would get.
//! let config: GatewayConfig = serde_json::from_str(r#"{
//!     "rewrite": { "request": [{ "set": "X-Gateway", "value": "tollgate" }] }
//! }"#).unwrap();
//! let client = TestClient::new(gateway::build(&config).unwrap());
//! let echo = client.get("/hello").send().await.json::<serde_json::Value>().await;
//! assert_eq!(echo["path"], "/hello");
//! let headers = echo["headers"].as_array().unwrap();
//! assert!(headers.iter().any(|h| h[0] == "x-gateway" && h[1] == "tollgate"));
//! # }
//! ```

use std::convert::Infallible;
use std::fmt;
use std::path::PathBuf;

use http::{Request, Response};
use serde::Deserialize;
use std::future::Future;

use tower::util::Either;
use tower::ServiceBuilder;
use tower_service::Service;

use super::{BuildError, Proxy, ProxyConfig, Upstream};
use crate::auth::basic::BasicAuthConfigError;
use crate::auth::{BasicAuthConfig, BasicAuthLayer};
use crate::body::Body;
use crate::dispatch::{Dispatch, DispatchError};
use crate::echo::EchoService;
use crate::files::ServeDir;
use crate::forwarded::{ForwardedConfig, ForwardedLayer};
use crate::normalize::{NormalizeConfig, NormalizeLayer};
use crate::rewrite::{RewriteConfig, RewriteError, RewriteLayer};

/// Everything the gateway is made of. Every field has a default; unknown keys are errors.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct GatewayConfig {
    /// Where requests go. Default is `None`: the echo service answers in-process, showing
    /// what an upstream would receive.
    pub upstream: Option<Upstream>,
    /// The proxy's options (timeouts, body limit, `Host` policy, ...).
    pub proxy: ProxyConfig,
    /// Which proxies in front of the gateway are trusted to report the client
    /// (`--trusted-proxy CIDR`). Default is `None`: nobody; clients' forwarded headers are
    /// dropped.
    pub forwarded: Option<ForwardedConfig>,
    /// Normalize paths, hosts and queries before anything else looks at them
    /// (`--normalize`). Default is `None`: off.
    pub normalize: Option<NormalizeConfig>,
    /// Header rules for requests and answers (`--set-header NAME=VALUE` adds a request
    /// rule). Default is `None`: headers pass as they are.
    pub rewrite: Option<RewriteConfig>,
    /// Basic auth in front of everything below it (`--users FILE --realm NAME`). Default is
    /// `None`: no authentication.
    pub auth: Option<BasicAuthConfig>,
    /// Static directories served under a path prefix instead of being proxied, as
    /// `[prefix, directory]` pairs (`--serve-dir PREFIX=DIR`). Default is none.
    pub static_dirs: Vec<(String, PathBuf)>,
}

/// Why a gateway could not be built.
#[derive(Debug)]
#[non_exhaustive]
pub enum GatewayError {
    /// The proxy could not be built (its CA file).
    Proxy(BuildError),
    /// The Basic auth configuration was refused (its credentials file, most often).
    Auth(BasicAuthConfigError),
    /// A header rule was refused.
    Rewrite(RewriteError),
    /// A static directory mount was refused.
    Dispatch(DispatchError),
}

impl fmt::Display for GatewayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GatewayError::Proxy(_) => f.write_str("cannot set up the proxy"),
            GatewayError::Auth(_) => f.write_str("cannot set up Basic auth"),
            GatewayError::Rewrite(_) => f.write_str("invalid header rule"),
            GatewayError::Dispatch(_) => f.write_str("invalid static directory mount"),
        }
    }
}

impl std::error::Error for GatewayError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            GatewayError::Proxy(e) => Some(e),
            GatewayError::Auth(e) => Some(e),
            GatewayError::Rewrite(e) => Some(e),
            GatewayError::Dispatch(e) => Some(e),
        }
    }
}

impl From<BuildError> for GatewayError {
    fn from(e: BuildError) -> Self {
        GatewayError::Proxy(e)
    }
}

impl From<BasicAuthConfigError> for GatewayError {
    fn from(e: BasicAuthConfigError) -> Self {
        GatewayError::Auth(e)
    }
}

impl From<RewriteError> for GatewayError {
    fn from(e: RewriteError) -> Self {
        GatewayError::Rewrite(e)
    }
}

impl From<DispatchError> for GatewayError {
    fn from(e: DispatchError) -> Self {
        GatewayError::Dispatch(e)
    }
}

/// Builds the gateway `config` describes.
///
/// # Errors
///
/// [`GatewayError`] naming the part that is wrong.
///
/// The service is a concrete stack, not boxed: boxing would allocate a future per request.
/// Box it (`tower::util::BoxCloneService::new`) where one type is needed, e.g. to swap it on
/// reload.
// The stack's concrete type is long and changes with every layer; `impl` keeps it unnamed.
#[allow(clippy::type_complexity)]
pub fn build(
    config: &GatewayConfig,
) -> Result<
    impl Service<
            Request<Body>,
            Response = Response<Body>,
            Error = Infallible,
            Future = impl Future<Output = Result<Response<Body>, Infallible>> + Send + 'static,
        > + Clone
        + Send
        + 'static,
    GatewayError,
> {
    let core = match &config.upstream {
        Some(upstream) => Either::Left(Proxy::with_config(upstream.clone(), config.proxy.clone())?),
        None => Either::Right(EchoService::new()),
    };
    let routed = if config.static_dirs.is_empty() {
        Either::Right(core)
    } else {
        let mut dispatch = Dispatch::new();
        for (prefix, dir) in &config.static_dirs {
            dispatch = dispatch.mount(prefix.clone(), ServeDir::new(dir.clone()));
        }
        Either::Left(dispatch.fallback(core).build()?)
    };
    let rewrite = config.rewrite.as_ref().map(RewriteLayer::new).transpose()?;
    let auth = config
        .auth
        .as_ref()
        .map(BasicAuthLayer::from_config)
        .transpose()?;
    // Either rather than a box per optional layer: a boxed service allocates its future on
    // every request, and this stack answers every request.
    let stack = ServiceBuilder::new()
        .option_layer(config.forwarded.clone().map(ForwardedLayer::new))
        .option_layer(config.normalize.clone().map(NormalizeLayer::new))
        .option_layer(rewrite)
        .option_layer(auth)
        .service(routed);
    Ok(stack)
}
