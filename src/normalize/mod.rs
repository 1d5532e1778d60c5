//! Request normalization: one spelling per resource, before anything routes or authorizes.
//!
//! `/a/./b`, `/a//b`, `/a/%62` and `/A/../a/b` name the same resource; a rule written for
//! `/a/b` must see all of them as `/a/b`, and a path that means nothing sane (`/../etc`,
//! `/a%2Fb`, `/a%00`) must be refused before it reaches a file system or a router. The work is
//! done by pure functions, usable alone: [`path`] (RFC 3986 §6.2.2 and §5.2.4), [`host`] and
//! [`query`]. [`NormalizeLayer`] applies them to every request, rewriting the target in place
//! or answering `308 Permanent Redirect` to the normalized URL, and answers `400 Bad Request`
//! with the reason for what it refuses.
//!
//! Put it in front of routing: in tollgate's stack it runs before [`dispatch`](crate::dispatch),
//! so a normalized path reaches the right route (axum's `NormalizePathLayer` added with
//! `Router::layer` runs after routing and does nothing, axum#1978).
//!
//! # Example
//!
//! ```
//! use std::convert::Infallible;
//! use tollgate::normalize::{NormalizeConfig, NormalizeLayer, PathOptions, TrailingSlash};
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let config = NormalizeConfig::default()
//!     .path(PathOptions::default().trailing_slash(TrailingSlash::Strip));
//! let svc = ServiceBuilder::new()
//!     .layer(NormalizeLayer::new(config))
//!     .service(service_fn(|req: http::Request<tollgate::Body>| async move {
//!         Ok::<_, Infallible>(http::Response::new(tollgate::Body::from(req.uri().to_string())))
//!     }));
//!
//! let req = http::Request::get("/docs/./guide//?b=%7e").body(tollgate::Body::empty()).unwrap();
//! let res = svc.clone().oneshot(req).await.unwrap();
//! let seen = tollgate::body::to_bytes(res.into_body(), 1024).await.unwrap();
//! assert_eq!(&seen[..], b"/docs/guide?b=~");
//!
//! let req = http::Request::get("/../etc/passwd").body(tollgate::Body::empty()).unwrap();
//! let res = svc.oneshot(req).await.unwrap();
//! assert_eq!(res.status(), http::StatusCode::BAD_REQUEST);
//! # }
//! ```
//!
//! # Configuration
//!
//! [`NormalizeConfig`] is the `[normalize]` table of the CLI's file:
//!
//! ```toml
//! [normalize]
//! action = "rewrite"            # or "redirect" (308)
//! trailing_slash_action = "redirect"
//! host = true
//!
//! [normalize.path]
//! merge_slashes = true
//! trailing_slash = "add"        # "keep", "strip" or "add"
//! allow_encoded_slash = false
//! allow_backslash = false
//!
//! [normalize.query]
//! normalize = true
//! sort = false
//! drop_empty = false
//! ```

use std::fmt;

use serde::Deserialize;

mod future;
mod layer;
mod query;
mod service;
mod target;

pub use crate::syntax::host::{default_port, normalize as host, HostError};
pub use crate::syntax::path::{path, PathError, PathOptions, TrailingSlash};
pub use future::ResponseFuture;
pub use layer::NormalizeLayer;
pub use query::{query, QueryOptions};
pub use service::Normalize;
pub use target::{request_target, Outcome};

/// What the layer does with a request that is not in normal form.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Action {
    /// Rewrite the request target in place: the inner service sees the normalized one.
    #[default]
    Rewrite,
    /// Answer `308 Permanent Redirect` to the normalized path and query, so the client (and
    /// caches, and search engines) learn the one spelling. `308` keeps the method and body.
    Redirect,
}

/// The query part of [`NormalizeConfig`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct QueryConfig {
    /// Normalize the query's encoding (and apply `sort` and `drop_empty`). Default is `true`.
    pub normalize: bool,
    /// Sort pairs by key; see [`QueryOptions::sort`]. Default is `false`.
    pub sort: bool,
    /// Drop empty pairs; see [`QueryOptions::drop_empty`]. Default is `false`.
    pub drop_empty: bool,
}

impl Default for QueryConfig {
    fn default() -> Self {
        QueryConfig {
            normalize: true,
            sort: false,
            drop_empty: false,
        }
    }
}

impl QueryConfig {
    /// The options passed to [`query`].
    pub fn options(&self) -> QueryOptions {
        QueryOptions::default()
            .sort(self.sort)
            .drop_empty(self.drop_empty)
    }
}

/// Configuration of [`NormalizeLayer`]; the `[normalize]` table of the CLI's file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct NormalizeConfig {
    /// What to do when the path or query changed. Default is [`Action::Rewrite`].
    pub action: Action,
    /// What to do when only the trailing-slash policy changed the path (Werkzeug's
    /// strict-slashes redirect is `Some(Action::Redirect)`). Default is `None`: as `action`.
    pub trailing_slash_action: Option<Action>,
    /// How paths are normalized. Default is [`PathOptions::default()`].
    pub path: PathOptions,
    /// How queries are normalized. Default is [`QueryConfig::default()`].
    pub query: QueryConfig,
    /// Normalize the `Host` header and the URI's authority with [`host`] (always in place,
    /// never a redirect). Default is `true`.
    pub host: bool,
    /// Let `CONNECT host:port` (authority-form) through untouched instead of answering 400.
    /// Default is `false`.
    pub allow_authority_form: bool,
}

impl Default for NormalizeConfig {
    fn default() -> Self {
        NormalizeConfig {
            action: Action::Rewrite,
            trailing_slash_action: None,
            path: PathOptions::default(),
            query: QueryConfig::default(),
            host: true,
            allow_authority_form: false,
        }
    }
}

impl NormalizeConfig {
    /// The same configuration with this action.
    #[must_use]
    pub fn action(mut self, action: Action) -> Self {
        self.action = action;
        self
    }

    /// The same configuration with this action for trailing-slash changes.
    #[must_use]
    pub fn trailing_slash_action(mut self, action: impl Into<Option<Action>>) -> Self {
        self.trailing_slash_action = action.into();
        self
    }

    /// The same configuration with these path options.
    #[must_use]
    pub fn path(mut self, options: PathOptions) -> Self {
        self.path = options;
        self
    }

    /// The same configuration with this query configuration.
    #[must_use]
    pub fn query(mut self, query: QueryConfig) -> Self {
        self.query = query;
        self
    }

    /// The same configuration, normalizing `Host` or not.
    #[must_use]
    pub fn host(mut self, on: bool) -> Self {
        self.host = on;
        self
    }

    /// The same configuration, letting authority-form targets through or not.
    #[must_use]
    pub fn allow_authority_form(mut self, allow: bool) -> Self {
        self.allow_authority_form = allow;
        self
    }
}

impl QueryConfig {
    /// The same configuration, normalizing queries or not.
    #[must_use]
    pub fn normalize(mut self, on: bool) -> Self {
        self.normalize = on;
        self
    }

    /// The same configuration, sorting pairs or not.
    #[must_use]
    pub fn sort(mut self, on: bool) -> Self {
        self.sort = on;
        self
    }

    /// The same configuration, dropping empty pairs or not.
    #[must_use]
    pub fn drop_empty(mut self, on: bool) -> Self {
        self.drop_empty = on;
        self
    }
}

/// Why a query was refused: each is a `400 Bad Request` with this message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum QueryError {
    /// A `%` not followed by two hex digits.
    MalformedPercent {
        /// The query (truncated).
        query: String,
        /// Byte offset of the `%`.
        at: usize,
    },
    /// A raw control character.
    ControlCharacter {
        /// The query (truncated).
        query: String,
        /// The character's byte.
        byte: u8,
    },
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueryError::MalformedPercent { query, at } => write!(
                f,
                "malformed percent-encoding at byte {at} of query {query:?}: `%` must be followed by two hex digits (write `%25` for a literal `%`)"
            ),
            QueryError::ControlCharacter { query, byte } => write!(
                f,
                "query {query:?} contains the raw control character 0x{byte:02X}; percent-encode it"
            ),
        }
    }
}

impl std::error::Error for QueryError {}

/// Why [`NormalizeLayer`] refused a request: each is a `400 Bad Request` with this message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NormalizeError {
    /// The path was refused.
    Path(PathError),
    /// The `Host` header or the URI's authority was refused.
    Host(HostError),
    /// The query was refused.
    Query(QueryError),
    /// `*` as the target of another method than `OPTIONS`.
    AsteriskForm {
        /// The request's method.
        method: String,
    },
    /// `host:port` as the target (`CONNECT`) while not allowed.
    AuthorityForm {
        /// The target (truncated).
        target: String,
    },
    /// The normalized target could not be made a URI again (should not happen; refused
    /// rather than passed on unnormalized).
    InvalidTarget {
        /// The target (truncated).
        target: String,
    },
}

impl fmt::Display for NormalizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NormalizeError::Path(e) => e.fmt(f),
            NormalizeError::Host(e) => e.fmt(f),
            NormalizeError::Query(e) => e.fmt(f),
            NormalizeError::AsteriskForm { method } => write!(
                f,
                "the target `*` is only for OPTIONS, not {method}; request a path like `/`"
            ),
            NormalizeError::AuthorityForm { target } => write!(
                f,
                "the target {target:?} is a CONNECT tunnel request, which this server does not serve; request a path like `/`"
            ),
            NormalizeError::InvalidTarget { target } => {
                write!(f, "the normalized target {target:?} is not a valid URI")
            }
        }
    }
}

impl std::error::Error for NormalizeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        // Display already prints the inner error (one level); source gives it to chains.
        match self {
            NormalizeError::Path(e) => Some(e),
            NormalizeError::Host(e) => Some(e),
            NormalizeError::Query(e) => Some(e),
            _ => None,
        }
    }
}

impl From<PathError> for NormalizeError {
    fn from(e: PathError) -> Self {
        NormalizeError::Path(e)
    }
}

impl From<HostError> for NormalizeError {
    fn from(e: HostError) -> Self {
        NormalizeError::Host(e)
    }
}

impl From<QueryError> for NormalizeError {
    fn from(e: QueryError) -> Self {
        NormalizeError::Query(e)
    }
}

impl crate::error::ClientError for NormalizeError {}
impl crate::error::ClientError for PathError {}
impl crate::error::ClientError for HostError {}
impl crate::error::ClientError for QueryError {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::HttpError;

    #[test]
    fn errors_are_send_sync_and_small() {
        fn assert_send_sync<T: Send + Sync + std::error::Error>() {}
        assert_send_sync::<PathError>();
        assert_send_sync::<HostError>();
        assert_send_sync::<QueryError>();
        assert_send_sync::<NormalizeError>();
        assert!(std::mem::size_of::<NormalizeError>() <= 48);
    }

    #[test]
    fn errors_are_400_with_a_reason() {
        let err: HttpError = PathError::EncodedSlash {
            path: "/a%2Fb".into(),
        }
        .into();
        assert_eq!(err.status(), http::StatusCode::BAD_REQUEST);
        assert!(
            err.message().contains("allow_encoded_slash"),
            "{}",
            err.message()
        );
    }

    #[test]
    fn config_reads_from_toml_shapes() {
        let config: NormalizeConfig = serde_json::from_value(serde_json::json!({
            "action": "redirect",
            "trailing_slash_action": "rewrite",
            "path": { "trailing_slash": "strip", "merge_slashes": false },
            "query": { "sort": true },
            "host": false
        }))
        .unwrap();
        assert_eq!(config.action, Action::Redirect);
        assert_eq!(config.trailing_slash_action, Some(Action::Rewrite));
        assert_eq!(config.path.trailing_slash, TrailingSlash::Strip);
        assert!(!config.path.merge_slashes);
        assert!(config.query.sort && config.query.normalize);
        assert!(!config.host);
        let defaults: NormalizeConfig = serde_json::from_value(serde_json::json!({})).unwrap();
        assert!(defaults.host && defaults.path.merge_slashes);
        assert!(serde_json::from_value::<NormalizeConfig>(serde_json::json!({"nope": 1})).is_err());
    }
}
