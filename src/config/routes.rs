//! `[[routes]]`: which requests go where, as the file says it. The gateway compiles them into
//! one [`dispatch`](crate::dispatch) router with nginx's order (the most specific host, then
//! the longest path prefix, then the method; see [`gateway`](crate::gateway)).

use http::{Method, StatusCode};
use serde::Deserialize;

use super::error::{ConfigError, KeyPath};
use crate::dispatch::{Dispatch, DispatchError, MethodRouter};
use crate::redirect::{Redirect, RedirectError};
use crate::syntax::host::HostPattern;

/// One route, `[[routes]]`: what it matches and the one thing it does.
///
/// ```toml
/// [[routes]]
/// host = "*.example.com"     # optional: exact, or any subdomain with `*.`
/// path = "/api"              # a prefix, at a segment boundary: /api, /api/, /api/x, not /apix
/// methods = ["GET", "HEAD"]  # optional: any method when empty
/// upstream = "app"           # or `echo = true`, or `redirect = { to = "https://..." }`
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct RouteConfig {
    /// The route's name in metrics (`route` label) and logs. Default is the host and path,
    /// e.g. `example.com/api` or `/api`.
    pub name: Option<String>,
    /// The host it matches: `example.com` (exactly) or `*.example.com` (any subdomain, not the
    /// bare domain); case, port and a trailing dot are ignored. Default is `None`: any host.
    pub host: Option<String>,
    /// The path prefix it matches, at a segment boundary (a trailing `/` is ignored). Default
    /// is `/`: every path.
    pub path: String,
    /// The methods it matches; another method on the route's host and prefix is a `405` with
    /// `Allow` (routes with the same host and prefix share their methods). Default is none:
    /// every method but `CONNECT`, which only a route that lists it takes (otherwise a `501`:
    /// the gateway is not a forward proxy).
    pub methods: Vec<String>,
    /// Header rules for this route only ([`RewriteConfig`](crate::rewrite::RewriteConfig)),
    /// inside the global ones: its request rules run after them, its response rules before
    /// them. Default is `None`.
    pub rewrite: Option<crate::rewrite::RewriteConfig>,
    /// Remove the prefix before passing the request on (the upstream sees `/x` for `/api/x`,
    /// and `X-Forwarded-Prefix: /api`, and its redirects are rewritten under `/api`). Default
    /// is `false`.
    pub strip_prefix: bool,
    /// Cross-origin requests from browsers ([`CorsConfig`](crate::cors::CorsConfig)):
    /// preflights from its origins are answered before auth. Routes with the same name (the
    /// same host and path) share one policy. Default is `None`: no `Access-Control-*`
    /// headers.
    pub cors: Option<crate::cors::CorsConfig>,
    /// Whether `[cache]` stores this route's answers (only routes to an upstream group are
    /// cached). Default is `None`: yes when there is a `[cache]` table.
    pub cache: Option<bool>,
    /// Send the request to this `[upstreams.NAME]` group. Default is `None`.
    pub upstream: Option<String>,
    /// Answer with the echo service (a JSON description of the request). Default is `false`.
    pub echo: bool,
    /// Answer with a redirect. Default is `None`.
    pub redirect: Option<RedirectConfig>,
    /// The users (`alice`) and groups (`group:ops`, from `[acl] groups`) who may use the
    /// route; once given, everyone else gets `403` (see [`acl`](crate::acl)). Needs `[auth]`.
    /// Default is empty: any user.
    pub allow: Vec<String>,
    /// The client networks that may use the route (`10.0.0.0/8`, `2001:db8::/32`, or one
    /// address), the client being who the trusted proxies said; once given, other clients get
    /// `403`. Default is empty: any client.
    #[serde(deserialize_with = "crate::acl::deserialize_networks")]
    pub allow_ip: Vec<ipnet::IpNet>,
    /// The client networks refused with `403`, checked first. Default is empty.
    #[serde(deserialize_with = "crate::acl::deserialize_networks")]
    pub deny_ip: Vec<ipnet::IpNet>,
    /// The most requests the route takes, all clients together (`"100/s"`, `"10/m"`): past
    /// it, `429` with `Retry-After` ([`ratelimit`](crate::ratelimit)). Default is `None`.
    pub rate_limit: Option<crate::ratelimit::Rate>,
    /// Ask the `[forward_auth]` service about this route's requests. Default is `true`;
    /// `false` lets them through unasked (the client's copies of the auth service's headers
    /// are still removed).
    pub forward_auth: bool,
    /// Serve a directory ([`ServeDirConfig`](crate::files::ServeDirConfig): `dir`, `listing`,
    /// `index_file`, ...); the prefix is always stripped (`/static/a.css` is `a.css` in the
    /// directory). Default is `None`.
    #[cfg(feature = "files")]
    #[cfg_attr(docsrs, doc(cfg(feature = "files")))]
    pub files: Option<crate::files::ServeDirConfig>,
}

impl Default for RouteConfig {
    fn default() -> Self {
        RouteConfig {
            name: None,
            host: None,
            path: "/".to_owned(),
            methods: Vec::new(),
            rewrite: None,
            strip_prefix: false,
            cors: None,
            cache: None,
            upstream: None,
            echo: false,
            redirect: None,
            allow: Vec::new(),
            allow_ip: Vec::new(),
            deny_ip: Vec::new(),
            rate_limit: None,
            forward_auth: true,
            #[cfg(feature = "files")]
            files: None,
        }
    }
}

/// A redirect route's answer, `redirect = { to = "https://example.com", status = 301 }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct RedirectConfig {
    /// Where to: an absolute URL or a path.
    pub to: String,
    /// The status, one of 301, 302, 303, 307, 308. Default is `308` (permanent, keeps the
    /// method).
    #[serde(default = "default_redirect_status")]
    pub status: u16,
    /// Append what follows the route's prefix, and the query, to `to` (`/old/x?y` → `to` +
    /// `/x?y`). Default is `true`.
    #[serde(default = "yes")]
    pub keep_path: bool,
}

fn default_redirect_status() -> u16 {
    308
}

fn yes() -> bool {
    true
}

impl RedirectConfig {
    /// The status, as a [`StatusCode`].
    ///
    /// # Errors
    ///
    /// A number that is not an HTTP status.
    pub fn status(&self) -> Result<StatusCode, RedirectError> {
        StatusCode::from_u16(self.status).map_err(|_| RedirectError::NotARedirectStatus {
            status: self.status,
        })
    }

    /// The [`Redirect`] service this table describes; [`keep_path`](Self::keep_path) is
    /// left to the caller, who knows the route's prefix.
    ///
    /// # Errors
    ///
    /// Not a redirect status, or a `to` that is neither a URL nor a path.
    pub fn service(&self) -> Result<Redirect, RedirectError> {
        Redirect::new(self.status()?, &self.to)
    }
}

impl RouteConfig {
    /// The path prefix as dispatch routes it: without its trailing `/`; `None` for `/` (every
    /// path).
    pub fn prefix(&self) -> Option<&str> {
        let prefix = self.path.trim_end_matches('/');
        (!prefix.is_empty()).then_some(prefix)
    }

    /// Whether the route takes its prefix off the path: `strip_prefix`, and always for
    /// `files`.
    pub fn strips_prefix(&self) -> bool {
        #[cfg(feature = "files")]
        if self.files.is_some() {
            return true;
        }
        self.strip_prefix
    }

    /// The route's access rules (`allow`, `allow_ip`, `deny_ip`).
    pub fn acl_rules(&self) -> crate::acl::AclRules {
        let mut rules = crate::acl::AclRules::default();
        rules.allow.clone_from(&self.allow);
        rules.allow_ip.clone_from(&self.allow_ip);
        rules.deny_ip.clone_from(&self.deny_ip);
        rules
    }

    /// The name metrics and logs use for this route.
    pub fn label(&self) -> String {
        match (&self.name, &self.host) {
            (Some(name), _) => name.clone(),
            (None, Some(host)) => format!("{host}{}", self.path),
            (None, None) => self.path.clone(),
        }
    }

    /// How many targets the route names (it must be exactly one).
    fn targets(&self) -> usize {
        let files = {
            #[cfg(feature = "files")]
            {
                usize::from(self.files.is_some())
            }
            #[cfg(not(feature = "files"))]
            {
                0
            }
        };
        usize::from(self.upstream.is_some())
            + usize::from(self.echo)
            + usize::from(self.redirect.is_some())
            + files
    }

    /// What is wrong with this route on its own (`at` is its place in the file).
    pub(crate) fn check(&self, at: &KeyPath, groups: &[&str]) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        match self.targets() {
            1 => {}
            0 => errors.push(ConfigError::new(
                at.clone(),
                "the route does nothing: give it `upstream = \"NAME\"`, `files = { dir = \"PATH\" }`, \
                 `echo = true` or `redirect = { to = \"URL\" }`",
            )),
            _ => errors.push(ConfigError::new(
                at.clone(),
                "the route has more than one target: keep one of `upstream`, `files`, `echo`, \
                 `redirect`",
            )),
        }
        if let Some(group) = &self.upstream {
            if !groups.contains(&group.as_str()) {
                let known = if groups.is_empty() {
                    "there is no [upstreams.NAME] table".to_owned()
                } else {
                    format!("the groups are: {}", groups.join(", "))
                };
                errors.push(ConfigError::new(
                    at.key("upstream"),
                    format!("no upstream group named `{group}`; {known}"),
                ));
            }
        }
        if !self.path.starts_with('/') {
            errors.push(ConfigError::new(
                at.key("path"),
                format!("the path `{}` must start with `/`", self.path),
            ));
        }
        if let Some(host) = &self.host {
            if let Some(reason) = host_error(host) {
                errors.push(ConfigError::new(
                    at.key("host"),
                    format!("`{host}` is not a host pattern: {reason}"),
                ));
            }
        }
        if let Some(reason) = self.prefix().and_then(prefix_error) {
            errors.push(ConfigError::new(
                at.key("path"),
                format!("the path `{}` cannot be routed: {reason}", self.path),
            ));
        }
        for (i, entry) in self.allow.iter().enumerate() {
            if let Err(e) = crate::acl::Principal::parse(entry) {
                errors.push(ConfigError::new(at.key("allow").index(i), e.to_string()));
            }
        }
        for (i, method) in self.methods.iter().enumerate() {
            if Method::from_bytes(method.as_bytes()).is_err() {
                errors.push(ConfigError::new(
                    at.key("methods").index(i),
                    format!("`{method}` is not an HTTP method"),
                ));
            }
        }
        if let Some(redirect) = &self.redirect {
            // Each key on its own, so both are reported.
            let status = redirect.status().and_then(|s| Redirect::new(s, "/"));
            let to = Redirect::new(StatusCode::PERMANENT_REDIRECT, &redirect.to);
            for (key, checked) in [("status", status), ("to", to)] {
                if let Err(e) = checked {
                    errors.push(ConfigError::new(at.key("redirect").key(key), e.to_string()));
                }
            }
        }
        errors
    }
}

/// Why `host` is not a host pattern ([`HostPattern`], the one host grammar).
fn host_error(host: &str) -> Option<&'static str> {
    HostPattern::parse(host).err().map(|e| e.reason())
}

/// Why dispatch refuses `prefix` as a prefix (it starts with `/`, checked before).
fn prefix_error(prefix: &str) -> Option<&'static str> {
    if !prefix.starts_with('/') {
        return None;
    }
    match Dispatch::new().prefix(prefix, MethodRouter::new()).build() {
        Err(DispatchError::InvalidMount { reason, .. }) => Some(reason),
        _ => None,
    }
}
