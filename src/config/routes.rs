//! `[[routes]]`: which requests go where. Routes are tried in file order and the first whose
//! host, path prefix and method all match answers, as an operator reads the file.

use std::sync::Arc;

use http::header::{HeaderValue, HOST, LOCATION};
use http::{HeaderMap, Method, Request, Response, StatusCode, Uri};
use serde::Deserialize;

use super::error::{ConfigError, KeyPath};
use super::stack::{Gateway, GatewayFuture};
use crate::body::Body;
use crate::error::HttpError;
use crate::ext::MountPrefix;

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
    /// The path prefix it matches, at a segment boundary. Default is `/`: every path.
    pub path: String,
    /// The methods it matches; a path that matches with another method is a `405` with
    /// `Allow` unless a later route takes it. Default is none: every method but `CONNECT`,
    /// which only a route that lists it takes (otherwise a `501`: the gateway is not a
    /// forward proxy).
    pub methods: Vec<String>,
    /// Header rules for this route only ([`RewriteConfig`](crate::rewrite::RewriteConfig)),
    /// inside the global ones: its request rules run after them, its response rules before
    /// them. Default is `None`.
    pub rewrite: Option<crate::rewrite::RewriteConfig>,
    /// Remove the prefix before passing the request on (the upstream sees `/x` for `/api/x`,
    /// and `X-Forwarded-Prefix: /api`, and its redirects are rewritten under `/api`). Default
    /// is `false`.
    pub strip_prefix: bool,
    /// Send the request to this `[upstreams.NAME]` group. Default is `None`.
    pub upstream: Option<String>,
    /// Answer with the echo service (a JSON description of the request). Default is `false`.
    pub echo: bool,
    /// Answer with a redirect. Default is `None`.
    pub redirect: Option<RedirectConfig>,
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
            upstream: None,
            echo: false,
            redirect: None,
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

impl RouteConfig {
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
            if let Err(reason) = HostMatch::parse(host) {
                errors.push(ConfigError::new(at.key("host"), reason));
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
            if !matches!(redirect.status, 301 | 302 | 303 | 307 | 308) {
                errors.push(ConfigError::new(
                    at.key("redirect").key("status"),
                    format!(
                        "{} is not a redirect status: use 301, 302, 303, 307 or 308",
                        redirect.status
                    ),
                ));
            }
            if redirect.to.parse::<Uri>().is_err() || HeaderValue::from_str(&redirect.to).is_err() {
                errors.push(ConfigError::new(
                    at.key("redirect").key("to"),
                    format!("`{}` is not a URL or a path", redirect.to),
                ));
            }
        }
        errors
    }
}

/// A host pattern: exact, or `*.` for any subdomain.
#[derive(Debug, Clone, PartialEq, Eq)]
enum HostMatch {
    Exact(String),
    /// The suffix with its leading dot: `.example.com`.
    Subdomains(String),
}

impl HostMatch {
    fn parse(pattern: &str) -> Result<Self, String> {
        let lower = pattern.trim_end_matches('.').to_ascii_lowercase();
        let bad = || {
            format!(
                "`{pattern}` is not a host pattern: write `example.com` or `*.example.com` \
                 (no port, no scheme)"
            )
        };
        let (suffix, wildcard) = match lower.strip_prefix("*.") {
            Some(rest) => (rest, true),
            None => (lower.as_str(), false),
        };
        let valid = !suffix.is_empty()
            && suffix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
        if !valid {
            return Err(bad());
        }
        Ok(if wildcard {
            HostMatch::Subdomains(format!(".{suffix}"))
        } else {
            HostMatch::Exact(suffix.to_owned())
        })
    }

    fn matches(&self, host: &str) -> bool {
        match self {
            HostMatch::Exact(h) => host.eq_ignore_ascii_case(h),
            HostMatch::Subdomains(suffix) => {
                host.len() > suffix.len()
                    && host.is_char_boundary(host.len() - suffix.len())
                    && host[host.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
            }
        }
    }
}

/// The request's host without port or trailing dot: the URI's authority (HTTP/2, absolute
/// form), else `Host`.
fn request_host<'a>(uri: &'a Uri, headers: &'a HeaderMap) -> Option<&'a str> {
    let raw = match uri.authority() {
        Some(a) => a.host(),
        None => {
            let host = headers.get(HOST)?.to_str().ok()?;
            if host.starts_with('[') {
                host.split_inclusive(']').next().unwrap_or(host)
            } else {
                host.rsplit_once(':').map_or(host, |(h, _)| h)
            }
        }
    };
    Some(raw.trim_end_matches('.'))
}

/// Whether `path` is under `prefix` at a segment boundary.
fn under(path: &str, prefix: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    match path.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

/// One built route.
struct Entry {
    host: Option<HostMatch>,
    prefix: String,
    methods: Vec<Method>,
    strip: bool,
    label: Arc<str>,
    target: Gateway,
}

impl Entry {
    fn matches_place(&self, uri: &Uri, headers: &HeaderMap) -> bool {
        if let Some(host) = &self.host {
            if !request_host(uri, headers).is_some_and(|h| host.matches(h)) {
                return false;
            }
        }
        under(uri.path(), &self.prefix)
    }

    fn takes(&self, method: &Method) -> bool {
        // CONNECT asks for a tunnel to any host: only a route that names it takes it.
        if *method == Method::CONNECT {
            return self.methods.contains(method);
        }
        self.methods.is_empty()
            || self.methods.contains(method)
            || (*method == Method::HEAD && self.methods.contains(&Method::GET))
    }
}

/// The routing table as a service: the first matching route answers; `404` when no route's
/// place matches, `405` with `Allow` when some did with other methods.
#[derive(Clone)]
pub(crate) struct Router {
    entries: Arc<[Entry]>,
}

impl Router {
    pub(crate) fn builder() -> RouterBuilder {
        RouterBuilder {
            entries: Vec::new(),
        }
    }

    /// The label of the route `req` would take (`"unmatched"` when none), for metrics.
    pub(crate) fn label_for(&self, method: &Method, uri: &Uri, headers: &HeaderMap) -> Arc<str> {
        self.find(method, uri, headers)
            .map_or_else(|| Arc::from("unmatched"), |e| e.label.clone())
    }

    fn find(&self, method: &Method, uri: &Uri, headers: &HeaderMap) -> Option<&Entry> {
        self.entries
            .iter()
            .find(|e| e.matches_place(uri, headers) && e.takes(method))
    }

    fn call(&self, mut req: Request<Body>) -> GatewayFuture {
        let Some(entry) = self.find(req.method(), req.uri(), req.headers()) else {
            let error = self.miss(&req);
            let res = error.into_response_for(req.headers());
            return Box::pin(async move { Ok(res) });
        };
        if entry.strip {
            strip_prefix(&mut req, &entry.prefix);
        }
        entry.target.call_shared(req)
    }

    /// The answer when no route took the request.
    fn miss<B>(&self, req: &Request<B>) -> HttpError {
        if req.method() == Method::CONNECT {
            return HttpError::not_implemented(
                "CONNECT is not supported: this is a reverse proxy, not a forward proxy (a \
                 route that lists CONNECT in `methods` takes it)",
            );
        }
        let mut allowed: Vec<Method> = Vec::new();
        for entry in self
            .entries
            .iter()
            .filter(|e| e.matches_place(req.uri(), req.headers()))
        {
            for m in &entry.methods {
                if !allowed.contains(m) {
                    allowed.push(m.clone());
                }
            }
        }
        if allowed.is_empty() {
            HttpError::not_found("no route for this request")
        } else {
            if allowed.contains(&Method::GET) && !allowed.contains(&Method::HEAD) {
                allowed.push(Method::HEAD);
            }
            HttpError::method_not_allowed(&allowed)
        }
    }
}

/// Moves `prefix` from the path into [`MountPrefix`].
fn strip_prefix<B>(req: &mut Request<B>, prefix: &str) {
    let prefix = prefix.trim_end_matches('/');
    if prefix.is_empty() {
        return;
    }
    let uri = req.uri();
    let rest = &uri.path()[prefix.len().min(uri.path().len())..];
    let rest = if rest.is_empty() { "/" } else { rest };
    let target = match uri.query() {
        Some(q) => format!("{rest}?{q}"),
        None => rest.to_owned(),
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = target.parse().ok();
    if let Ok(new) = Uri::from_parts(parts) {
        *req.uri_mut() = new;
        let mount = req.extensions_mut().get_or_insert_default::<MountPrefix>();
        mount.0.push_str(prefix);
    }
}

impl tower_service::Service<Request<Body>> for Router {
    type Response = Response<Body>;
    type Error = std::convert::Infallible;
    type Future = GatewayFuture;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        Router::call(self, req)
    }
}

/// Collects routes; see [`Router::builder`].
pub(crate) struct RouterBuilder {
    entries: Vec<Entry>,
}

impl RouterBuilder {
    /// Adds `config`'s place with `target`; `config` was checked already.
    pub(crate) fn route(&mut self, config: &RouteConfig, target: Gateway) {
        self.entries.push(Entry {
            host: config
                .host
                .as_deref()
                .and_then(|h| HostMatch::parse(h).ok()),
            prefix: config.path.clone(),
            methods: config
                .methods
                .iter()
                .filter_map(|m| Method::from_bytes(m.as_bytes()).ok())
                .collect(),
            strip: config.strip_prefix,
            label: Arc::from(config.label()),
            target,
        });
    }

    pub(crate) fn build(self) -> Router {
        Router {
            entries: self.entries.into(),
        }
    }
}

/// The service of a redirect route.
pub(crate) fn redirect(config: &RedirectConfig, prefix: &str) -> Gateway {
    let status = StatusCode::from_u16(config.status).unwrap_or(StatusCode::PERMANENT_REDIRECT);
    let to: Arc<str> = Arc::from(config.to.trim_end_matches('/'));
    let bare_to: Arc<str> = Arc::from(config.to.as_str());
    let keep = config.keep_path;
    let prefix: Arc<str> = Arc::from(prefix.trim_end_matches('/'));
    Gateway::new(tower::service_fn(move |req: Request<Body>| {
        let location = if keep {
            let path = req.uri().path();
            let rest = path.get(prefix.len()..).unwrap_or("");
            let mut location = format!("{to}{rest}");
            if location.is_empty() {
                location.push('/');
            }
            if let Some(q) = req.uri().query() {
                location.push('?');
                location.push_str(q);
            }
            location
        } else {
            bare_to.to_string()
        };
        let res = match HeaderValue::from_str(&location) {
            Ok(value) => {
                let mut res = Response::new(Body::empty());
                *res.status_mut() = status;
                res.headers_mut().insert(LOCATION, value);
                res
            }
            Err(_) => HttpError::bad_request("the request path cannot be redirected")
                .into_response_for(req.headers()),
        };
        std::future::ready(Ok::<_, std::convert::Infallible>(res))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_at_segment_boundaries() {
        assert!(under("/api", "/api"));
        assert!(under("/api/", "/api"));
        assert!(under("/api/x", "/api/"));
        assert!(!under("/apix", "/api"));
        assert!(under("/anything", "/"));
    }

    #[test]
    fn host_patterns() {
        let exact = HostMatch::parse("Example.com.").unwrap();
        assert!(exact.matches("example.COM"));
        assert!(!exact.matches("a.example.com"));
        let sub = HostMatch::parse("*.example.com").unwrap();
        assert!(sub.matches("a.b.example.com"));
        assert!(!sub.matches("example.com"));
        assert!(!sub.matches("badexample.com"));
        assert!(HostMatch::parse("example.com:80").is_err());
        assert!(HostMatch::parse("http://x").is_err());
    }

    #[test]
    fn hosts_from_requests() {
        let host = |uri: &str, h: Option<&str>| {
            let uri: Uri = uri.parse().unwrap();
            let mut headers = HeaderMap::new();
            if let Some(h) = h {
                headers.insert(HOST, h.parse().unwrap());
            }
            request_host(&uri, &headers).map(str::to_owned)
        };
        assert_eq!(host("/", Some("Ex.com:8080")).as_deref(), Some("Ex.com"));
        assert_eq!(host("/", Some("[::1]:80")).as_deref(), Some("[::1]"));
        assert_eq!(
            host("http://h2.example/x", None).as_deref(),
            Some("h2.example")
        );
    }

    #[test]
    fn strips_into_mount_prefix() {
        let mut req = Request::get("/api/x?y=1").body(()).unwrap();
        strip_prefix(&mut req, "/api/");
        assert_eq!(req.uri(), "/x?y=1");
        assert_eq!(req.extensions().get::<MountPrefix>().unwrap().0, "/api");
        let mut req = Request::get("/api").body(()).unwrap();
        strip_prefix(&mut req, "/api");
        assert_eq!(req.uri(), "/");
    }
}
