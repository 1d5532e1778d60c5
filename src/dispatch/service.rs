//! [`Dispatcher`]: the built routing table as a tower service.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Method, StatusCode};

use super::method::{not_implemented, Endpoint};
use super::path::{decode_params, slash_redirect_location};
use super::route::Route;
use super::{MountSlash, ResponseFuture};
use crate::answer;
use crate::body::{Body, BoxError};
use crate::error::HttpError;
use crate::ext::{MountPrefix, RouteParams};
use crate::origin::Origin;
use crate::syntax::host::HostPattern;
use crate::syntax::prefix;

/// A built routing table: a `Clone` tower service of `http::Request<B>` answering
/// `http::Response<tollgate::Body>`, never failing. Made by [`Dispatch::build`](super::Dispatch::build).
#[derive(Debug, Clone)]
#[must_use]
pub struct Dispatcher {
    pub(crate) table: Arc<Table>,
}

#[derive(Debug)]
pub(crate) struct Table {
    /// Most specific first.
    pub(crate) hosts: Vec<(HostPattern, Route)>,
    /// Mounts and prefixes, longest first.
    pub(crate) prefixes: Vec<Prefix>,
    pub(crate) router: matchit::Router<usize>,
    pub(crate) endpoints: Vec<Endpoint>,
    pub(crate) fallback: Option<Route>,
    pub(crate) mount_slash: MountSlash,
    /// Every method some route takes, standard ones first: `OPTIONS *` lists them and a method
    /// outside them is a 501.
    pub(crate) known: Vec<Method>,
}

/// A [mount](super::Dispatch::mount) (`strip`) or a [prefix](super::Dispatch::prefix).
#[derive(Debug)]
pub(crate) struct Prefix {
    pub(crate) prefix: String,
    pub(crate) route: Route,
    /// Whether the prefix moves from the path into [`MountPrefix`].
    pub(crate) strip: bool,
}

/// A request as a name lookup sees it: its method, its head (for its host, [`Origin::host`],
/// read only by a table that has host routes), and the path left after the mounts it went
/// through.
#[derive(Clone, Copy)]
pub(crate) struct Lookup<'a> {
    pub(crate) method: &'a Method,
    pub(crate) path: &'a str,
    pub(crate) head: &'a http::request::Parts,
}

/// What the table chose for a request, before anything is called: one decision that both
/// [`Table::dispatch`] and [`Table::name_for`] act on.
enum Selected<'t, 'p> {
    Host(&'t Route),
    /// A mount or prefix; `rest` is what follows the prefix (`""` for the bare prefix).
    Prefix {
        entry: &'t Prefix,
        rest: &'p str,
    },
    OptionsStar,
    Endpoint {
        index: usize,
        params: matchit::Params<'t, 'p>,
    },
    Fallback(&'t Route),
    NoRoute,
}

/// The methods RFC 9110 and RFC 5789 define: never a 501 (but see `CONNECT`).
const STANDARD: [Method; 9] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::DELETE,
    Method::CONNECT,
    Method::OPTIONS,
    Method::TRACE,
    Method::PATCH,
];

/// Longest path shown in a 404 message.
const MAX_PATH_IN_MESSAGE: usize = 200;

pub(crate) fn known_methods<'a>(registered: impl Iterator<Item = &'a Method>) -> Vec<Method> {
    let mut known = STANDARD.to_vec();
    for method in registered {
        if !known.contains(method) {
            known.push(method.clone());
        }
    }
    known
}

impl Table {
    /// The one routing decision, in the order the [module docs](super) give.
    fn select<'t, 'p>(
        &'t self,
        method: &Method,
        path: &'p str,
        host: Option<&str>,
    ) -> Selected<'t, 'p> {
        if !self.hosts.is_empty() {
            // The host the client asked for, as every other reader sees it (`Origin`).
            let route = host.and_then(|host| self.hosts.iter().find(|(p, _)| p.matches(host)));
            if let Some((_, route)) = route {
                return Selected::Host(route);
            }
        }
        let prefix = self.prefixes.iter().find_map(|entry| {
            prefix::strip(path, &entry.prefix).map(|rest| Selected::Prefix { entry, rest })
        });
        if let Some(selected) = prefix {
            return selected;
        }
        if *method == Method::OPTIONS && path == "*" {
            return Selected::OptionsStar;
        }
        match self.router.at(path) {
            Ok(m) => Selected::Endpoint {
                index: *m.value,
                params: m.params,
            },
            Err(_) => match &self.fallback {
                Some(fallback) => Selected::Fallback(fallback),
                None => Selected::NoRoute,
            },
        }
    }

    pub(crate) fn dispatch(&self, mut req: http::Request<Body>) -> ResponseFuture {
        let path = req.uri().path();
        let host = if self.hosts.is_empty() {
            None
        } else {
            Origin::of(&req).host()
        };
        match self.select(req.method(), path, host) {
            Selected::Host(route) | Selected::Fallback(route) => route.call(req, false),
            Selected::Prefix { entry, .. } if !entry.strip => entry.route.call(req, false),
            Selected::Prefix { entry, rest } => {
                let bare = rest.is_empty();
                self.mount(entry, bare, req)
            }
            Selected::OptionsStar => ResponseFuture::answer(answer::options(&self.known)),
            Selected::Endpoint { index, params } => {
                let params = if params.is_empty() {
                    Ok(None)
                } else {
                    decode_params(&params).map(Some)
                };
                match params {
                    Err(name) => self.bad_parameter(&req, &name),
                    Ok(params) => {
                        if let Some(params) = params {
                            req.extensions_mut().insert(RouteParams(params));
                        }
                        self.endpoints[index].call(req, false, &self.known)
                    }
                }
            }
            Selected::NoRoute => self.no_route(&req),
        }
    }

    /// The name of the route a request reaches, without calling it; see
    /// [`Dispatcher::route_name`].
    pub(crate) fn name_for(&self, at: Lookup<'_>) -> Option<Arc<str>> {
        let host = if self.hosts.is_empty() {
            None
        } else {
            Origin::from_parts(at.head).host()
        };
        match self.select(at.method, at.path, host) {
            Selected::Host(route) | Selected::Fallback(route) => route.name_for(at),
            Selected::Prefix { entry, rest } => {
                let path = match (entry.strip, rest) {
                    (false, _) => at.path,
                    (true, "") if self.mount_slash == MountSlash::Redirect => return None,
                    (true, "") => "/",
                    (true, rest) => rest,
                };
                entry.route.name_for(Lookup { path, ..at })
            }
            Selected::Endpoint { index, .. } => self.endpoints[index].name_for(at),
            Selected::OptionsStar | Selected::NoRoute => None,
        }
    }

    /// Hands the request to a mount: the prefix moves from the path into [`MountPrefix`].
    fn mount(&self, entry: &Prefix, bare: bool, mut req: http::Request<Body>) -> ResponseFuture {
        if bare && self.mount_slash == MountSlash::Redirect {
            return self.bare_prefix_redirect(&entry.prefix, &req);
        }
        let Some(uri) = prefix::strip_uri(req.uri(), &entry.prefix) else {
            // Unreachable for a URI hyper parsed; refuse rather than route a path we cannot
            // express.
            return self.answer(&req, HttpError::bad_request("invalid request target"));
        };
        *req.uri_mut() = uri;
        let full = match req.extensions().get::<MountPrefix>() {
            Some(MountPrefix(outer)) => format!("{outer}{}", entry.prefix),
            None => entry.prefix.clone(),
        };
        req.extensions_mut().insert(MountPrefix(full));
        entry.route.call(req, false)
    }

    // The answers dispatch gives itself are out of line (`cold`): the routed path stays short.

    #[cold]
    #[inline(never)]
    fn bare_prefix_redirect(&self, prefix: &str, req: &http::Request<Body>) -> ResponseFuture {
        let location = slash_redirect_location(prefix, req.uri().query());
        match answer::redirect_to(StatusCode::PERMANENT_REDIRECT, &location) {
            Ok(res) => ResponseFuture::answer(res),
            Err(e) => self.answer(req, e),
        }
    }

    #[cold]
    #[inline(never)]
    fn bad_parameter(&self, req: &http::Request<Body>, name: &str) -> ResponseFuture {
        let msg = format!("path parameter `{name}` is not valid UTF-8 once decoded");
        self.answer(req, HttpError::bad_request(msg))
    }

    /// No host, prefix or route, and no fallback: 501 for `CONNECT` and unknown methods, else
    /// 404.
    #[cold]
    #[inline(never)]
    fn no_route(&self, req: &http::Request<Body>) -> ResponseFuture {
        let method = req.method();
        if *method == Method::CONNECT || !self.known.contains(method) {
            return self.answer(req, not_implemented(method));
        }
        let shown = crate::syntax::excerpt(req.uri().path(), MAX_PATH_IN_MESSAGE);
        self.answer(req, HttpError::not_found(format!("no route for `{shown}`")))
    }

    #[cold]
    #[inline(never)]
    fn answer(&self, req: &http::Request<Body>, err: HttpError) -> ResponseFuture {
        ResponseFuture::answer(err.into_response_for(req.headers()))
    }
}

impl Dispatcher {
    /// The methods this dispatcher knows: the standard ones and any a route takes. Others are
    /// a 501 (unless a fallback, mount or host takes the request).
    pub fn known_methods(&self) -> &[Method] {
        &self.table.known
    }

    /// The [name](Route::named) of the route a request (its head: method, target, headers and
    /// what the layers in front put in its extensions) would reach, found the way [`call`](tower_service::Service::call) finds it (hosts,
    /// prefixes, routes, method, nested dispatchers and method routers) without calling
    /// anything. `None` when dispatch would answer itself (404, 405, 501, `OPTIONS`) or the
    /// service reached has no name.
    ///
    /// It is a second lookup, for what runs *before* the dispatcher: a metrics layer in
    /// front of an auth layer counts the 401 it gave under the route the request was for
    /// ([`Metrics::layer_with`](crate::metrics::Metrics::layer_with)).
    ///
    /// ```
    /// use tollgate::dispatch::{get, Dispatch, Route};
    /// use tollgate::echo::EchoService;
    ///
    /// let app = Dispatch::new()
    ///     .route("/users", get(Route::new(EchoService::new()).named("users")))
    ///     .build()
    ///     .unwrap();
    /// let head = |method| http::Request::builder().method(method).uri("/users").body(()).unwrap();
    /// let (get, _) = head(http::Method::GET).into_parts();
    /// assert_eq!(app.route_name(&get).as_deref(), Some("users"));
    /// let (post, _) = head(http::Method::POST).into_parts();
    /// assert_eq!(app.route_name(&post), None); // a 405
    /// ```
    pub fn route_name(&self, head: &http::request::Parts) -> Option<Arc<str>> {
        self.table.name_for(Lookup {
            method: &head.method,
            path: head.uri.path(),
            head,
        })
    }
}

impl<B> tower_service::Service<http::Request<B>> for Dispatcher
where
    B: http_body::Body<Data = Bytes> + Send + Sync + 'static,
    B::Error: Into<BoxError>,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Routed services are driven to readiness per call, on their own clone.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        self.table.dispatch(req.map(Body::new))
    }
}
