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
//!     "set_headers": [["X-Gateway", "tollgate"]]
//! }"#).unwrap();
//! let client = TestClient::new(gateway::build(&config).unwrap());
//! let echo = client.get("/hello").send().await.json::<serde_json::Value>().await;
//! assert_eq!(echo["path"], "/hello");
//! # }
//! ```

use std::convert::Infallible;
use std::fmt;
use std::path::PathBuf;

use http::{Request, Response};
use serde::Deserialize;
use tower::util::BoxCloneService;

use super::{BuildError, Proxy, ProxyConfig, Upstream};
use crate::body::Body;
use crate::echo::EchoService;

/// The gateway as a service: what [`build`] returns, ready for [`serve`](crate::serve).
pub type Gateway = BoxCloneService<Request<Body>, Response<Body>, Infallible>;

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
    /// Headers set on every request before it is passed on, as `[name, value]` pairs
    /// (`--set-header NAME=VALUE`). Default is none.
    pub set_headers: Vec<(String, String)>,
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
    /// A `set_headers` entry is not a valid header name or value.
    Header {
        /// The name given.
        name: String,
    },
}

impl fmt::Display for GatewayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GatewayError::Proxy(_) => f.write_str("cannot set up the proxy"),
            GatewayError::Header { name } => write!(
                f,
                "invalid header rule for `{name}`: a name is letters, digits and `-`, a value \
                 has no line breaks"
            ),
        }
    }
}

impl std::error::Error for GatewayError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            GatewayError::Proxy(e) => Some(e),
            GatewayError::Header { .. } => None,
        }
    }
}

impl From<BuildError> for GatewayError {
    fn from(e: BuildError) -> Self {
        GatewayError::Proxy(e)
    }
}

/// Builds the gateway `config` describes.
///
/// # Errors
///
/// [`GatewayError`] naming the part that is wrong.
pub fn build(config: &GatewayConfig) -> Result<Gateway, GatewayError> {
    let core: Gateway = match &config.upstream {
        Some(upstream) => BoxCloneService::new(Proxy::with_config(
            upstream.clone(),
            config.proxy.clone(),
        )?),
        None => BoxCloneService::new(EchoService::new()),
    };
    Ok(core)
}
