//! Dispatch: routing requests to services by host, path prefix (mounts), path pattern and
//! method, with 404, 405 (+`Allow`), 501, `HEAD` and `OPTIONS` answered for you.
//!
//! [`Dispatch`] collects the table; [`Dispatch::build`] checks it once (conflicting routes are
//! an error naming both) and returns a [`Dispatcher`], a `Clone` tower service answering
//! `http::Response<tollgate::Body>` that never fails.
//!
//! # How a request is matched
//!
//! In this order; the first step that matches decides:
//!
//! 1. **Hosts** ([`Dispatch::host`]): `example.com`, then the longest `*.example.com` (any depth
//!    of subdomain, never the bare domain). Case, port and a trailing dot are ignored. The host
//!    is [`Origin::host`](crate::origin::Origin::host): what trusted proxies reported, else the
//!    URI authority (HTTP/2), else `Host`. The service gets the request unchanged; give it
//!    another [`Dispatcher`] for per-host routes, and that dispatcher a
//!    [fallback](Dispatch::fallback) (e.g. a dispatcher of host-less routes) for the paths it
//!    does not route.
//! 2. **Mounts and prefixes** ([`Dispatch::mount`], [`Dispatch::prefix`]), longest prefix
//!    first, at segment boundaries: a mount at `/api` takes `/api`, `/api/` and `/api/...`
//!    (never `/apix`). A prefix passes the request on unchanged (nginx's `location /api/`).
//!    A mount strips it: the mounted service sees the rest of the path (`/api/users?x` →
//!    `/users?x`), and the stripped prefix is appended to
//!    [`MountPrefix`](crate::ext::MountPrefix) (mounts nest: `/api` then `/v1` gives
//!    `/api/v1`), as WSGI's `SCRIPT_NAME`/`PATH_INFO` split. **The bare `/api`** (no slash)
//!    of a mount is answered `308` to `./api/` by default ([`MountSlash::Redirect`]: relative
//!    links in the mounted app then resolve under `/api/`), or served as `/` with
//!    [`MountSlash::Serve`]. Either way `/api` and `/api/` reach the mounted service's `/`
//!    (axum#2267). A route under a prefix would never be reached, so it is a build error.
//! 3. **Routes** ([`Dispatch::route`]), by [`matchit`] pattern: `/users/{id}` (one segment),
//!    `/files/{*rest}` (the rest, at least one character), static segments beating
//!    parameters. Parameters are percent-decoded into
//!    [`RouteParams`](crate::ext::RouteParams) (what `Request::param` reads); one that is not
//!    UTF-8 once decoded is a 400.
//! 4. **No route**: the [fallback](Dispatch::fallback) when set, whatever the method; else
//!    `501` for an unknown method or `CONNECT`, `404` for another. `OPTIONS *` is answered
//!    `204` with every method the dispatcher knows.
//!
//! Then the method, through the route's [`MethodRouter`] (a method router is also a target of
//! its own for a mount, a prefix, a host or the fallback, with the same answers):
//!
//! - its service for the method; `HEAD` falls back to the `GET` service, body dropped;
//!   [`any`] takes whatever is left but `CONNECT`;
//! - `OPTIONS` with no service: `204` with `Allow`;
//! - `CONNECT` with no service routed for it by name (`on(Method::CONNECT, svc)`), or a method
//!   this dispatcher knows nowhere (not standard, not on any route, e.g. `BREW`): `501`;
//! - otherwise `405` with `Allow` (the route's methods, `HEAD` with `GET`, `OPTIONS`).
//!
//! A plain service (not a method router) under a host, a mount, a prefix or as the fallback
//! takes every method.
//!
//! **Fallback versus 405** (axum#1005, #2251): the fallback is for paths no route matches.
//! When the path matches a route but the method does not, the answer is `405`, not the
//! fallback: the resource exists. Add [`any`] to a route to take every method yourself.
//!
//! **`Allow` is never lost** (axum#1525, #1770): the 405 is built here, with `Allow`, from the
//! table, so layers around the dispatcher, around a route's service, or a dispatcher mounted
//! in another all pass it through unchanged.
//!
//! **Names.** A [`Route`] can be [named](Route::named); [`Dispatcher::route_name`] tells which
//! named route a request would reach without calling it (the gateway's `route` label in
//! metrics).
//!
//! **One order for the whole table**, nginx's: the most specific host, then the longest
//! prefix, then the method. Where routes are listed does not matter; the gateway's
//! `[[routes]]` follow the same rule (`docs/config.md`).
//!
//! Routes match the path exactly as it arrives: `/time` and `/time/` are different paths, and
//! `%2F` is not a `/`. Put the normalize layer in front of the dispatcher (it wraps it, so it
//! always runs before routing; axum#1978) to redirect or rewrite trailing slashes, dot-segments
//! and the like.
//!
//! Every answer dispatch gives itself (404, 405, 501, 400) is an
//! [`HttpError`](crate::HttpError) rendered for the client's `Accept` (HTML, JSON or text).
//!
//! # Example
//!
//! ```
//! use std::convert::Infallible;
//! use tollgate::dispatch::{get, Dispatch};
//! use tollgate::ext::{MountPrefix, RouteParams};
//! use tollgate::Body;
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let hello = tower::service_fn(|req: http::Request<Body>| async move {
//!     let id = req.extensions().get::<RouteParams>().and_then(|p| p.get("id")).unwrap_or("-").to_owned();
//!     let prefix = req.extensions().get::<MountPrefix>().map(|p| p.0.clone()).unwrap_or_default();
//!     Ok::<_, Infallible>(http::Response::new(Body::from(format!("{prefix} {} {id}", req.uri().path()))))
//! });
//! let api = Dispatch::new()
//!     .route("/users/{id}", get(hello.clone()))
//!     .build()
//!     .expect("no conflicts");
//! let app = Dispatch::new()
//!     .route("/time", get(hello.clone()).post(hello.clone()))
//!     .mount("/api", api)
//!     .build()
//!     .expect("no conflicts");
//!
//! let req = http::Request::get("/api/users/7").body(Body::empty()).unwrap();
//! let res = app.clone().oneshot(req).await.unwrap();
//! let body = tollgate::body::to_bytes(res.into_body(), 1024).await.unwrap();
//! assert_eq!(body, "/api /users/7 7");
//!
//! let req = http::Request::delete("/time").body(Body::empty()).unwrap();
//! let res = app.oneshot(req).await.unwrap();
//! assert_eq!(res.status(), 405);
//! assert_eq!(res.headers()["allow"], "GET, HEAD, POST, OPTIONS");
//! # }
//! ```

use std::fmt;

use serde::Deserialize;

mod future;
mod method;
mod path;
mod route;
mod service;
#[cfg(test)]
mod tests;

pub use future::ResponseFuture;
pub use method::{any, delete, get, head, on, options, patch, post, put, trace, MethodRouter};
pub use route::{IntoRoute, Route};
pub use service::Dispatcher;

use crate::syntax::host::HostPattern;
use method::Endpoint;
use service::{known_methods, Prefix, Table};

/// What a request for a bare mount prefix (`/api` for a mount at `/api`) gets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MountSlash {
    /// `308 Permanent Redirect` to `./api/` (the query kept). The default: relative links in
    /// the mounted application then resolve under the prefix, as Werkzeug's strict slashes and
    /// nginx's `location /api/` do.
    #[default]
    Redirect,
    /// Served by the mount as its `/`, no redirect.
    Serve,
}

/// The routing table being built; [`build`](Dispatch::build) checks it and makes a
/// [`Dispatcher`]. See the [module docs](self) for how requests are matched.
#[derive(Debug, Default)]
#[must_use]
pub struct Dispatch {
    routes: Vec<(String, MethodRouter)>,
    /// Mounts (`true`: the prefix is stripped) and prefixes.
    prefixes: Vec<(String, Route, bool)>,
    hosts: Vec<(String, Route)>,
    fallback: Option<Route>,
    mount_slash: MountSlash,
}

impl Dispatch {
    /// An empty table: every request is a 404 (or 501).
    pub fn new() -> Self {
        Self::default()
    }

    /// Routes `path` (a [`matchit`] pattern: `/users/{id}`, `/files/{*rest}`) by method.
    /// Routing the same path again adds its methods.
    pub fn route(mut self, path: impl Into<String>, methods: MethodRouter) -> Self {
        self.routes.push((path.into(), methods));
        self
    }

    /// Mounts `svc` at `prefix` (`/api`: no trailing slash, no parameters): it gets every path
    /// under the prefix, with the prefix stripped and recorded in
    /// [`MountPrefix`](crate::ext::MountPrefix).
    pub fn mount(mut self, prefix: impl Into<String>, svc: impl IntoRoute) -> Self {
        self.prefixes.push((prefix.into(), svc.into_route(), true));
        self
    }

    /// Sends every path under `prefix` (`/api`: no trailing slash, no parameters) to `svc`
    /// unchanged, as nginx's `location /api/` does: the path keeps its prefix and
    /// [`MountPrefix`](crate::ext::MountPrefix) is not touched. The bare `/api` goes there too.
    /// Mounts and prefixes share one longest-first order; give a [`MethodRouter`] to serve
    /// some methods only (others are a 405 with `Allow`).
    ///
    /// ```
    /// use tollgate::dispatch::{get, Dispatch};
    /// use tollgate::echo::EchoService;
    /// use tollgate::testing::TestClient;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let app = Dispatch::new()
    ///     .prefix("/api", get(EchoService::new()))
    ///     .build()
    ///     .unwrap();
    /// let client = TestClient::new(app);
    /// let echo = client.get("/api/users").send().await.json::<serde_json::Value>().await;
    /// assert_eq!(echo["path"], "/api/users");
    /// let refused = client.post("/api/users").send().await;
    /// assert_eq!(refused.status(), 405);
    /// assert_eq!(refused.header("allow"), Some("GET, HEAD, OPTIONS"));
    /// # }
    /// ```
    pub fn prefix(mut self, prefix: impl Into<String>, svc: impl IntoRoute) -> Self {
        self.prefixes.push((prefix.into(), svc.into_route(), false));
        self
    }

    /// Sends every request for `pattern` (`example.com` or `*.example.com`) to `svc`, before
    /// any mount or route. Use another [`Dispatcher`] as `svc` for per-host routes.
    pub fn host(mut self, pattern: impl Into<String>, svc: impl IntoRoute) -> Self {
        self.hosts.push((pattern.into(), svc.into_route()));
        self
    }

    /// Sends requests no host, mount or route matched to `svc` instead of answering 404/501.
    /// A path that matches a route with another method is still a 405.
    pub fn fallback(mut self, svc: impl IntoRoute) -> Self {
        self.fallback = Some(svc.into_route());
        self
    }

    /// What a request for a bare mount prefix gets. Default is [`MountSlash::Redirect`].
    pub fn mount_slash(mut self, mount_slash: MountSlash) -> Self {
        self.mount_slash = mount_slash;
        self
    }

    /// Checks the table and builds the service.
    ///
    /// # Errors
    ///
    /// Two routes that conflict (naming both), a method routed twice on one path or in one
    /// method router, a route under a mount or prefix, a mount, prefix or host given twice, a
    /// malformed path, prefix or host.
    pub fn build(self) -> Result<Dispatcher, DispatchError> {
        let hosts = check_hosts(self.hosts)?;
        let prefixes = check_prefixes(self.prefixes)?;
        if let Some(route) = &self.fallback {
            check_target("fallback", route)?;
        }
        let (router, endpoints) = build_routes(self.routes, &prefixes)?;
        let known = known_methods(endpoints.iter().flat_map(Endpoint::methods));
        Ok(Dispatcher {
            table: std::sync::Arc::new(Table {
                hosts,
                prefixes,
                router,
                endpoints,
                fallback: self.fallback,
                mount_slash: self.mount_slash,
                known,
            }),
        })
    }
}

/// A method routed twice in a method router given as a host, mount, prefix or fallback target.
fn check_target(place: &str, route: &Route) -> Result<(), DispatchError> {
    match route.duplicate_method() {
        Some(method) => Err(DispatchError::DuplicateMethod {
            route: place.to_owned(),
            method: method.to_string(),
        }),
        None => Ok(()),
    }
}

/// Parses the host patterns, most specific first.
fn check_hosts(given: Vec<(String, Route)>) -> Result<Vec<(HostPattern, Route)>, DispatchError> {
    let mut hosts: Vec<(HostPattern, Route)> = Vec::with_capacity(given.len());
    for (pattern, route) in given {
        let parsed = HostPattern::parse(&pattern).map_err(|e| DispatchError::InvalidHost {
            host: pattern.clone(),
            reason: e.0,
        })?;
        if hosts.iter().any(|(p, _)| *p == parsed) {
            return Err(DispatchError::DuplicateHost { host: pattern });
        }
        check_target(&pattern, &route)?;
        hosts.push((parsed, route));
    }
    hosts.sort_by_key(|(p, _)| std::cmp::Reverse(p.specificity()));
    Ok(hosts)
}

/// Checks mounts and prefixes, longest first.
fn check_prefixes(given: Vec<(String, Route, bool)>) -> Result<Vec<Prefix>, DispatchError> {
    let mut prefixes: Vec<Prefix> = Vec::with_capacity(given.len());
    for (prefix, route, strip) in given {
        path::check_mount(&prefix).map_err(|reason| DispatchError::InvalidMount {
            prefix: prefix.clone(),
            reason,
        })?;
        if prefixes.iter().any(|p| p.prefix == prefix) {
            return Err(DispatchError::DuplicateMount { prefix });
        }
        check_target(&prefix, &route)?;
        prefixes.push(Prefix {
            prefix,
            route,
            strip,
        });
    }
    prefixes.sort_by_key(|p| std::cmp::Reverse(p.prefix.len()));
    Ok(prefixes)
}

/// Merges the method routers of a path routed more than once, then checks and inserts each.
fn build_routes(
    routes: Vec<(String, MethodRouter)>,
    prefixes: &[Prefix],
) -> Result<(matchit::Router<usize>, Vec<Endpoint>), DispatchError> {
    let mut merged: Vec<(String, MethodRouter)> = Vec::new();
    for (path, router) in routes {
        match merged.iter_mut().find(|(p, _)| *p == path) {
            Some((_, existing)) => {
                existing.methods.extend(router.methods);
                if router.any.is_some() {
                    if existing.any.is_some() {
                        return Err(DispatchError::DuplicateMethod {
                            route: path,
                            method: "any".to_owned(),
                        });
                    }
                    existing.any = router.any;
                }
            }
            None => merged.push((path, router)),
        }
    }
    let mut router = matchit::Router::new();
    let mut endpoints = Vec::with_capacity(merged.len());
    for (path, methods) in merged {
        path::check_route(&path).map_err(|reason| DispatchError::InvalidRoute {
            route: path.clone(),
            reason: reason.to_owned(),
        })?;
        if let Some(mount) = prefixes
            .iter()
            .find(|p| crate::syntax::prefix::matches(&path, &p.prefix))
        {
            return Err(DispatchError::RouteUnderMount {
                route: path,
                mount: mount.prefix.clone(),
            });
        }
        router
            .insert(path.clone(), endpoints.len())
            .map_err(|e| match e {
                matchit::InsertError::Conflict { with } => DispatchError::Conflict {
                    route: path.clone(),
                    existing: with,
                },
                other => DispatchError::InvalidRoute {
                    route: path.clone(),
                    reason: other.to_string(),
                },
            })?;
        let endpoint = Endpoint::new(methods);
        if let Some(method) = endpoint.duplicate_method() {
            return Err(DispatchError::DuplicateMethod {
                route: path,
                method: method.to_string(),
            });
        }
        endpoints.push(endpoint);
    }
    Ok((router, endpoints))
}

/// Why a routing table was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DispatchError {
    /// Two route patterns match the same paths.
    Conflict {
        /// The route being added.
        route: String,
        /// The route it conflicts with.
        existing: String,
    },
    /// One method (or `any`) routed twice on a path, or in a method router given as a host,
    /// mount, prefix or fallback target.
    DuplicateMethod {
        /// The route (the host pattern, the prefix, or `fallback`).
        route: String,
        /// The method.
        method: String,
    },
    /// A route pattern that does not parse.
    InvalidRoute {
        /// The route.
        route: String,
        /// Why.
        reason: String,
    },
    /// A route under a mount's or prefix's prefix: the mount would take its requests.
    RouteUnderMount {
        /// The route.
        route: String,
        /// The mount prefix.
        mount: String,
    },
    /// A malformed mount or prefix.
    InvalidMount {
        /// The prefix.
        prefix: String,
        /// Why.
        reason: &'static str,
    },
    /// Two mounts or prefixes at one prefix.
    DuplicateMount {
        /// The prefix.
        prefix: String,
    },
    /// A malformed host pattern.
    InvalidHost {
        /// The pattern.
        host: String,
        /// Why.
        reason: &'static str,
    },
    /// Two services for one host pattern.
    DuplicateHost {
        /// The pattern.
        host: String,
    },
}

impl fmt::Display for DispatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DispatchError::Conflict { route, existing } => write!(
                f,
                "route `{route}` conflicts with route `{existing}`: both match the same paths; \
                 rename a parameter or make a segment static"
            ),
            DispatchError::DuplicateMethod { route, method } => write!(
                f,
                "route `{route}`: {method} is routed twice; keep one service per method"
            ),
            DispatchError::InvalidRoute { route, reason } => {
                write!(f, "invalid route `{route}`: {reason}")
            }
            DispatchError::RouteUnderMount { route, mount } => write!(
                f,
                "route `{route}` is under the mount at `{mount}`, which takes every path there; \
                 route it inside the mounted service"
            ),
            DispatchError::InvalidMount { prefix, reason } => {
                write!(f, "invalid mount `{prefix}`: {reason}")
            }
            DispatchError::DuplicateMount { prefix } => {
                write!(f, "two services are mounted at `{prefix}`")
            }
            DispatchError::InvalidHost { host, reason } => {
                write!(f, "invalid host pattern `{host}`: {reason}")
            }
            DispatchError::DuplicateHost { host } => {
                write!(f, "two services are routed for host `{host}`")
            }
        }
    }
}

impl std::error::Error for DispatchError {}
