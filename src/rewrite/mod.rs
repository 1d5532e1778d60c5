//! Header rewriting: ordered rules that set, add, remove, rename or edit headers on requests
//! (before the inner service) and responses (after it).
//!
//! A [`RewriteConfig`] holds the rules; [`RewriteLayer::new`] compiles them once (header names,
//! regexes, value templates, `{env:…}` values) and refuses a bad rule naming its position. Per
//! request nothing is parsed again.
//!
//! - **Actions** ([`Rule`]): `set`, `set_if_missing`, `append`, `remove`, `remove_prefix`
//!   (every header whose name starts with it, e.g. `X-Internal-`), `rename` (the target takes
//!   the source's values), `replace` (a regex over each value, `$1` for captures).
//! - **Conditions** ([`When`]): path prefix (at a segment boundary: `/api` covers `/api/x`, not
//!   `/apix`), methods, host (`example.com` or `*.example.com`), a header present or absent.
//!   Conditions are always about the *request*, for response rules too.
//! - **Values** are templates: `{peer_addr}` (the TCP peer's IP), `{client_addr}` (the client
//!   the trusted proxies reported, else the peer), `{host}`, `{scheme}`, `{method}`, `{path}`,
//!   `{request_id}`, `{user}` (the auth layer's user, present only when this layer runs inside
//!   the auth layer), `{header:Name}` (a request header; several values joined with `, `),
//!   `{env:NAME}` (read once, when the layer is built). `{{` and `}}` are literal braces. A
//!   placeholder with nothing to show renders empty. Response values are rendered from the
//!   request as it reached the inner service.
//! - **Never a broken header**: a value that would hold CR, LF, NUL or another control
//!   character is not emitted; the rule is skipped with a warning and the request goes on.
//! - **Request id** ([`RequestIdConfig`]): keep a valid incoming `X-Request-Id` or make a UUID
//!   v4; it goes to the inner service (request header), to the client (response header), and
//!   into [`RequestId`](crate::ext::RequestId) in the request's extensions and the
//!   response's (where the access log, outside the stack, finds it). It is decided before the
//!   request rules run, so `{request_id}` works in them.
//! - **Presets** ([`presets`]): hide `Server`/`X-Powered-By`, add security headers.
//!
//! # Order and composition
//!
//! Within one layer: the request id, then `request` rules in order; on the way back the
//! response's request-id header, then presets' rules, then `response` rules in order.
//!
//! Layers nest like any tower layers, and **a rule set never replaces another** (nginx's
//! `add_header` in a nested block drops every inherited one, nginx#487; here nothing is
//! inherited or dropped, each layer runs its own rules). With a global layer around a
//! dispatcher and a per-route layer around one route:
//!
//! - request rules: global first, then the route's (the route sees and can override what the
//!   global rules set);
//! - response rules: the route's first, then the global ones. To let a route override a global
//!   response header, make the global rule `set_if_missing` (as the security preset does).
//!
//! A request id chosen by an outer layer is reused by inner ones.
//!
//! # Example
//!
//! ```
//! use std::convert::Infallible;
//! use tollgate::rewrite::{presets::Preset, RequestIdConfig, RewriteConfig, RewriteLayer, Rule};
//! use tower::{Layer, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let config = RewriteConfig::new()
//!     .request_id(RequestIdConfig::default())
//!     .preset(Preset::HideServer)
//!     .request(Rule::remove_prefix("X-Internal-"))
//!     .request(Rule::set("X-Forwarded-Host", "{host}"))
//!     .response(Rule::set("X-Served-By", "tollgate").when_path_prefix("/api"));
//! let layer = RewriteLayer::new(&config).expect("valid rules");
//!
//! let inner = tower::service_fn(|req: http::Request<String>| async move {
//!     assert!(req.headers().get("x-internal-secret").is_none());
//!     assert_eq!(req.headers()["x-forwarded-host"], "example.com");
//!     Ok::<_, Infallible>(http::Response::builder().header("server", "nginx/1.0").body(String::new()).unwrap())
//! });
//! let req = http::Request::get("/api/x")
//!     .header("host", "example.com")
//!     .header("x-internal-secret", "1")
//!     .body(String::new())
//!     .unwrap();
//! let res = layer.layer(inner).oneshot(req).await.unwrap();
//! assert!(res.headers().get("server").is_none());
//! assert_eq!(res.headers()["x-served-by"], "tollgate");
//! assert_eq!(res.headers()["x-request-id"].len(), 36);
//! # }
//! ```
//!
//! The same configuration in the gateway's TOML (this struct, embedded unchanged):
//!
//! ```toml
//! [rewrite]
//! presets = ["hide_server"]
//! request_id = {}
//!
//! [[rewrite.request]]
//! remove_prefix = "X-Internal-"
//!
//! [[rewrite.request]]
//! set = "X-Forwarded-Host"
//! value = "{host}"
//!
//! [[rewrite.response]]
//! set = "X-Served-By"
//! value = "tollgate"
//! when = { path_prefix = "/api" }
//! ```

use std::fmt;

use serde::Deserialize;

mod future;
mod layer;
pub mod presets;
mod request_id;
mod rules;
mod service;
mod template;

pub use future::ResponseFuture;
pub use layer::RewriteLayer;
pub use request_id::{is_valid_request_id, new_request_id, MAX_REQUEST_ID_LEN};
pub use rules::RulePosition;
pub use service::Rewrite;
pub use template::TemplateError;

use presets::Preset;

/// Everything one rewrite layer does. Deserializes from the gateway's `[rewrite]` table.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct RewriteConfig {
    /// Named rule sets run before `response` rules. Default is none.
    pub presets: Vec<Preset>,
    /// Keep or make a request id. Default is `None` (off); `request_id = {}` turns it on with
    /// the defaults of [`RequestIdConfig`].
    pub request_id: Option<RequestIdConfig>,
    /// Rules for the request, in order. Default is none.
    pub request: Vec<Rule>,
    /// Rules for the response, in order. Default is none.
    pub response: Vec<Rule>,
}

impl RewriteConfig {
    /// An empty configuration: the layer changes nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a request rule after the others.
    #[must_use]
    pub fn request(mut self, rule: Rule) -> Self {
        self.request.push(rule);
        self
    }

    /// Adds a response rule after the others.
    #[must_use]
    pub fn response(mut self, rule: Rule) -> Self {
        self.response.push(rule);
        self
    }

    /// Turns the request-id rule on.
    #[must_use]
    pub fn request_id(mut self, config: RequestIdConfig) -> Self {
        self.request_id = Some(config);
        self
    }

    /// Adds a preset.
    #[must_use]
    pub fn preset(mut self, preset: Preset) -> Self {
        self.presets.push(preset);
        self
    }
}

/// The request-id rule's settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct RequestIdConfig {
    /// The header carrying the id. Default is `X-Request-Id`.
    pub header: String,
    /// Keep a valid incoming id ([`is_valid_request_id`]). Turn it off when clients are not
    /// trusted to choose ids. Default is `true`.
    pub trust_incoming: bool,
    /// Send the id back in the response header too. Default is `true`.
    pub response: bool,
}

impl Default for RequestIdConfig {
    fn default() -> Self {
        RequestIdConfig {
            header: "x-request-id".to_owned(),
            trust_incoming: true,
            response: true,
        }
    }
}

impl RequestIdConfig {
    /// Uses another header, e.g. `X-Correlation-Id`.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>) -> Self {
        self.header = name.into();
        self
    }

    /// Whether a valid incoming id is kept.
    #[must_use]
    pub fn trust_incoming(mut self, trust: bool) -> Self {
        self.trust_incoming = trust;
        self
    }

    /// Whether the response carries the id.
    #[must_use]
    pub fn response(mut self, send: bool) -> Self {
        self.response = send;
        self
    }
}

/// One rule: exactly one action (the field naming the header), its arguments, and an optional
/// condition.
///
/// | action | arguments |
/// | --- | --- |
/// | `set = "Name"` | `value`: replaces every value |
/// | `set_if_missing = "Name"` | `value`: only when the header is absent |
/// | `append = "Name"` | `value`: adds one more value |
/// | `remove = "Name"` | |
/// | `remove_prefix = "X-Internal-"` | every header whose name starts with it (any case) |
/// | `rename = "Name"` | `to`: the new name takes all values (replacing its own); nothing happens when `Name` is absent |
/// | `replace = "Name"` | `pattern` (a [`regex`](https://docs.rs/regex) over each value), `with` (`$1`, `${name}` for captures) |
///
/// An argument an action does not take is an error, as is a rule with no action or two.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Rule {
    /// Replace every value of this header with `value`.
    pub set: Option<String>,
    /// Set this header to `value` when it is absent.
    pub set_if_missing: Option<String>,
    /// Add `value` to this header.
    pub append: Option<String>,
    /// Remove this header.
    pub remove: Option<String>,
    /// Remove every header whose name starts with this.
    pub remove_prefix: Option<String>,
    /// Rename this header to `to`.
    pub rename: Option<String>,
    /// Edit each value of this header: `pattern` replaced by `with`.
    pub replace: Option<String>,
    /// The value template of `set`, `set_if_missing`, `append`.
    pub value: Option<String>,
    /// The new name of `rename`.
    pub to: Option<String>,
    /// The regex of `replace`.
    pub pattern: Option<String>,
    /// The replacement of `replace`.
    pub with: Option<String>,
    /// When the rule applies. Default is always.
    #[serde(default)]
    pub when: When,
}

/// When a rule applies: every field set must hold. Always about the request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct When {
    /// The path is this or lies under it (`/api` covers `/api` and `/api/x`, not `/apix`).
    pub path_prefix: Option<String>,
    /// The method is one of these (any case). Default is any method.
    pub methods: Vec<String>,
    /// The host is this (`example.com`) or under it (`*.example.com`); case, port and a
    /// trailing dot are ignored.
    pub host: Option<String>,
    /// This request header is present.
    pub header: Option<String>,
    /// This request header is absent.
    pub header_absent: Option<String>,
}

impl Rule {
    fn with_target(field: fn(&mut Rule) -> &mut Option<String>, name: impl Into<String>) -> Self {
        let mut rule = Rule::default();
        *field(&mut rule) = Some(name.into());
        rule
    }

    /// `set`: replace every value of `name` with `value` (a template).
    pub fn set(name: impl Into<String>, value: impl Into<String>) -> Self {
        Rule {
            value: Some(value.into()),
            ..Self::with_target(|r| &mut r.set, name)
        }
    }

    /// `set_if_missing`: set `name` to `value` (a template) when it is absent.
    pub fn set_if_missing(name: impl Into<String>, value: impl Into<String>) -> Self {
        Rule {
            value: Some(value.into()),
            ..Self::with_target(|r| &mut r.set_if_missing, name)
        }
    }

    /// `append`: add `value` (a template) to `name`.
    pub fn append(name: impl Into<String>, value: impl Into<String>) -> Self {
        Rule {
            value: Some(value.into()),
            ..Self::with_target(|r| &mut r.append, name)
        }
    }

    /// `remove`: drop every value of `name`.
    pub fn remove(name: impl Into<String>) -> Self {
        Self::with_target(|r| &mut r.remove, name)
    }

    /// `remove_prefix`: drop every header whose name starts with `prefix` (any case).
    pub fn remove_prefix(prefix: impl Into<String>) -> Self {
        Self::with_target(|r| &mut r.remove_prefix, prefix)
    }

    /// `rename`: `to` takes the values of `from`.
    pub fn rename(from: impl Into<String>, to: impl Into<String>) -> Self {
        Rule {
            to: Some(to.into()),
            ..Self::with_target(|r| &mut r.rename, from)
        }
    }

    /// `replace`: in each value of `name`, replace matches of the regex `pattern` with `with`.
    pub fn replace(
        name: impl Into<String>,
        pattern: impl Into<String>,
        with: impl Into<String>,
    ) -> Self {
        Rule {
            pattern: Some(pattern.into()),
            with: Some(with.into()),
            ..Self::with_target(|r| &mut r.replace, name)
        }
    }

    /// Only for paths equal to or under `prefix`.
    #[must_use]
    pub fn when_path_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.when.path_prefix = Some(prefix.into());
        self
    }

    /// Only for this method (call again to allow several).
    #[must_use]
    pub fn when_method(mut self, method: impl Into<String>) -> Self {
        self.when.methods.push(method.into());
        self
    }

    /// Only for this host (`example.com` or `*.example.com`).
    #[must_use]
    pub fn when_host(mut self, host: impl Into<String>) -> Self {
        self.when.host = Some(host.into());
        self
    }

    /// Only when the request has this header.
    #[must_use]
    pub fn when_header(mut self, name: impl Into<String>) -> Self {
        self.when.header = Some(name.into());
        self
    }

    /// Only when the request lacks this header.
    #[must_use]
    pub fn when_header_absent(mut self, name: impl Into<String>) -> Self {
        self.when.header_absent = Some(name.into());
        self
    }
}

/// Why a rewrite configuration was refused. Each variant names the rule's position.
#[derive(Debug)]
#[non_exhaustive]
pub enum RewriteError {
    /// A header name that is not a valid token.
    InvalidHeaderName {
        /// The rule.
        position: RulePosition,
        /// The name (truncated).
        name: String,
    },
    /// A rule without an action.
    NoAction {
        /// The rule.
        position: RulePosition,
    },
    /// A rule with two actions.
    SeveralActions {
        /// The rule.
        position: RulePosition,
        /// The first action.
        first: &'static str,
        /// The second action.
        second: &'static str,
    },
    /// An action without an argument it needs.
    MissingField {
        /// The rule.
        position: RulePosition,
        /// The action.
        action: &'static str,
        /// The missing field.
        field: &'static str,
    },
    /// An argument the action does not take.
    UnexpectedField {
        /// The rule.
        position: RulePosition,
        /// The action.
        action: &'static str,
        /// The field it does not take.
        field: &'static str,
    },
    /// A value template that does not parse.
    Template {
        /// The rule.
        position: RulePosition,
        /// The template (truncated).
        template: String,
        /// What is wrong with it.
        source: TemplateError,
    },
    /// A `replace` pattern that does not compile.
    InvalidRegex {
        /// The rule.
        position: RulePosition,
        /// The pattern (truncated).
        pattern: String,
        /// The regex error.
        source: regex::Error,
    },
    /// A `when` that cannot hold: a bad method, host or path prefix.
    InvalidCondition {
        /// The rule.
        position: RulePosition,
        /// What is wrong.
        reason: String,
    },
}

impl fmt::Display for RewriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RewriteError::InvalidHeaderName { position, name } => write!(
                f,
                "{position}: `{name}` is not a valid header name (letters, digits and !#$%&'*+-.^_`|~ only)"
            ),
            RewriteError::NoAction { position } => write!(
                f,
                "{position}: no action; use one of set, set_if_missing, append, remove, remove_prefix, rename, replace"
            ),
            RewriteError::SeveralActions { position, first, second } => write!(
                f,
                "{position}: both `{first}` and `{second}`; a rule does one thing, split it in two"
            ),
            RewriteError::MissingField { position, action, field } => {
                write!(f, "{position}: `{action}` needs `{field}`")
            }
            RewriteError::UnexpectedField { position, action, field } => {
                write!(f, "{position}: `{action}` does not take `{field}`")
            }
            RewriteError::Template { position, template, .. } => {
                write!(f, "{position}: invalid value template `{template}`")
            }
            RewriteError::InvalidRegex { position, pattern, .. } => {
                write!(f, "{position}: invalid regex `{pattern}`")
            }
            RewriteError::InvalidCondition { position, reason } => {
                write!(f, "{position}: invalid `when`: {reason}")
            }
        }
    }
}

impl std::error::Error for RewriteError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RewriteError::Template { source, .. } => Some(source),
            RewriteError::InvalidRegex { source, .. } => Some(source),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_send_sync_and_chain_their_cause() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<RewriteError>();
        let err =
            RewriteLayer::new(&RewriteConfig::new().request(Rule::set("x", "{nope}"))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "request rule 1: invalid value template `{nope}`"
        );
        let cause = std::error::Error::source(&err).unwrap().to_string();
        assert!(cause.starts_with("unknown placeholder `{nope}`"), "{cause}");
    }

    #[test]
    fn config_deserializes_with_defaults_and_rejects_unknown_fields() {
        let json = r#"{
            "presets": ["hide_server", "security_headers"],
            "request_id": {},
            "request": [{"set": "X-A", "value": "{host}", "when": {"methods": ["GET"]}}],
            "response": [{"rename": "X-B", "to": "X-C"}]
        }"#;
        let config: RewriteConfig = serde_json::from_str(json).unwrap();
        assert_eq!(config.request_id, Some(RequestIdConfig::default()));
        assert_eq!(
            config.request[0],
            Rule::set("X-A", "{host}").when_method("GET")
        );
        assert!(RewriteLayer::new(&config).is_ok());
        let bad = r#"{"request": [{"set": "X-A", "valeu": "x"}]}"#;
        assert!(serde_json::from_str::<RewriteConfig>(bad).is_err());
        assert!(serde_json::from_str::<RewriteConfig>(r#"{"rules": []}"#).is_err());
    }

    #[cfg(feature = "cli")]
    #[test]
    fn the_documented_toml_loads() {
        #[derive(Deserialize)]
        struct Gateway {
            rewrite: RewriteConfig,
        }
        let text = r#"
            [rewrite]
            presets = ["hide_server", "security_headers"]
            request_id = { header = "X-Correlation-Id", trust_incoming = false }

            [[rewrite.request]]
            remove_prefix = "X-Internal-"

            [[rewrite.request]]
            set = "X-Real-IP"
            value = "{client_addr}"

            [[rewrite.response]]
            set = "Cache-Control"
            value = "no-store"
            when = { path_prefix = "/api", methods = ["GET", "HEAD"] }
        "#;
        let config = toml::from_str::<Gateway>(text).unwrap().rewrite;
        assert_eq!(config.request.len(), 2);
        assert_eq!(
            config.response[0],
            Rule::set("Cache-Control", "no-store")
                .when_path_prefix("/api")
                .when_method("GET")
                .when_method("HEAD")
        );
        assert!(!config.request_id.as_ref().unwrap().trust_incoming);
        assert!(RewriteLayer::new(&config).is_ok());
    }

    #[tokio::test]
    async fn request_id_reaches_the_response_extensions_for_the_access_log() {
        use tower::{Layer, ServiceExt};
        let config = RewriteConfig::new().request_id(RequestIdConfig::default().response(false));
        let svc = RewriteLayer::new(&config).unwrap().layer(tower::service_fn(
            |req: http::Request<()>| async move {
                let id = req.extensions().get::<crate::ext::RequestId>().cloned();
                Ok::<_, std::convert::Infallible>(http::Response::new(id))
            },
        ));
        let res = svc.oneshot(http::Request::new(())).await.unwrap();
        let seen_inside = res.body().clone().expect("the inner service saw the id");
        assert_eq!(
            res.extensions().get::<crate::ext::RequestId>(),
            Some(&seen_inside)
        );
        assert!(res.headers().get("x-request-id").is_none());
    }

    #[test]
    fn positions_count_from_one_per_side() {
        let config = RewriteConfig::new()
            .request(Rule::remove("a"))
            .response(Rule::remove("a"))
            .response(Rule::remove("bad name"));
        let err = RewriteLayer::new(&config).unwrap_err();
        assert!(matches!(
            err,
            RewriteError::InvalidHeaderName {
                position: RulePosition::Response(2),
                ..
            }
        ));
    }
}
