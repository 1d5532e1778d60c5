//! [`MethodRouter`]: the services of one path, by method.

use std::sync::Arc;

use http::Method;

use super::route::{IntoRoute, Route};
use super::service::{known_methods, Lookup};
use super::ResponseFuture;
use crate::answer;
use crate::body::Body;
use crate::error::HttpError;

/// The services answering one path, by method: `get(list).post(create)`.
///
/// `HEAD` is served by the `GET` service (the body dropped) unless a `HEAD` service is set;
/// `OPTIONS` is answered with `Allow` unless an `OPTIONS` service is set; [`any`] takes every
/// method no other service took, except `CONNECT`, which only a service routed for it by name
/// takes (`on(Method::CONNECT, svc)`): a tunnel to any host is never opened by accident.
///
/// A method router is a route's target ([`Dispatch::route`](super::Dispatch::route)), and also
/// a target of its own for [`mount`](super::Dispatch::mount), [`prefix`](super::Dispatch::prefix),
/// [`host`](super::Dispatch::host) and [`fallback`](super::Dispatch::fallback): every path there
/// is then served by method, with the same `405` + `Allow` and `OPTIONS` answers.
///
/// A service here is anything [`IntoRoute`]: a `Clone + Send + Sync` tower service of
/// `http::Request<tollgate::Body>` whose error is `Infallible`, with any response body.
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct MethodRouter {
    pub(crate) methods: Vec<(Method, Route)>,
    pub(crate) any: Option<Route>,
}

macro_rules! method_fns {
    ($($(#[$doc:meta])* $name:ident => $method:ident;)*) => {
        impl MethodRouter {
            $(
                $(#[$doc])*
                pub fn $name(self, svc: impl IntoRoute) -> Self {
                    self.on(Method::$method, svc)
                }
            )*
        }

        $(
            $(#[$doc])*
            pub fn $name(svc: impl IntoRoute) -> MethodRouter {
                MethodRouter::new().on(Method::$method, svc)
            }
        )*
    };
}

method_fns! {
    /// Routes `GET` (and `HEAD`, unless a `HEAD` service is set) to `svc`.
    get => GET;
    /// Routes `POST` to `svc`.
    post => POST;
    /// Routes `PUT` to `svc`.
    put => PUT;
    /// Routes `DELETE` to `svc`.
    delete => DELETE;
    /// Routes `PATCH` to `svc`.
    patch => PATCH;
    /// Routes `HEAD` to `svc` (instead of the `GET` service).
    head => HEAD;
    /// Routes `OPTIONS` to `svc` (instead of the automatic `Allow` answer).
    options => OPTIONS;
    /// Routes `TRACE` to `svc`.
    trace => TRACE;
}

impl MethodRouter {
    /// No services yet: every method is a 405 (and `OPTIONS` an `Allow` answer).
    pub fn new() -> Self {
        Self::default()
    }

    /// Routes `method` to `svc`; any method, including extension methods like `PURGE`.
    pub fn on(mut self, method: Method, svc: impl IntoRoute) -> Self {
        self.methods.push((method, svc.into_route()));
        self
    }

    /// Routes every method no other service of this path takes to `svc` (no 405, no 501),
    /// except `CONNECT`, which only [`on`](Self::on)`(Method::CONNECT, svc)` routes.
    pub fn any(mut self, svc: impl IntoRoute) -> Self {
        self.any = Some(svc.into_route());
        self
    }
}

/// Routes `method` to `svc`; see [`MethodRouter::on`].
pub fn on(method: Method, svc: impl IntoRoute) -> MethodRouter {
    MethodRouter::new().on(method, svc)
}

/// Routes every method to `svc`; see [`MethodRouter::any`].
pub fn any(svc: impl IntoRoute) -> MethodRouter {
    MethodRouter::new().any(svc)
}

/// A [`MethodRouter`] ready to choose: its services and the `Allow` list.
#[derive(Debug)]
pub(crate) struct Endpoint {
    methods: Vec<(Method, Route)>,
    any: Option<Route>,
    /// What `Allow` lists: the methods in registration order, `HEAD` after `GET`, `OPTIONS`.
    pub(crate) allow: Vec<Method>,
    /// The first method routed twice (the first service is kept); [`Dispatch::build`]
    /// refuses the table.
    ///
    /// [`Dispatch::build`]: super::Dispatch::build
    duplicate: Option<Method>,
}

/// What an endpoint does with a method.
pub(crate) enum Choice<'a> {
    /// Call this service; `strip_body` for `HEAD` served by another method's service.
    Call { route: &'a Route, strip_body: bool },
    /// Answer `OPTIONS` with `Allow`.
    Options,
    /// The endpoint has no service for the method.
    NotAllowed,
}

impl Endpoint {
    pub(crate) fn new(router: MethodRouter) -> Self {
        let mut allow: Vec<Method> = Vec::with_capacity(router.methods.len() + 2);
        let mut duplicate = None;
        for (method, _) in &router.methods {
            if allow.contains(method) {
                duplicate.get_or_insert_with(|| method.clone());
            } else {
                allow.push(method.clone());
            }
        }
        if allow.contains(&Method::GET) && !allow.contains(&Method::HEAD) {
            let at = allow
                .iter()
                .position(|m| m == Method::GET)
                .map_or(0, |i| i + 1);
            allow.insert(at, Method::HEAD);
        }
        if !allow.contains(&Method::OPTIONS) {
            allow.push(Method::OPTIONS);
        }
        Endpoint {
            methods: router.methods,
            any: router.any,
            allow,
            duplicate,
        }
    }

    fn find(&self, method: &Method) -> Option<&Route> {
        self.methods
            .iter()
            .find(|(m, _)| m == method)
            .map(|(_, route)| route)
    }

    pub(crate) fn choose(&self, method: &Method) -> Choice<'_> {
        if let Some(route) = self.find(method) {
            return Choice::Call {
                route,
                strip_body: false,
            };
        }
        let head = *method == Method::HEAD;
        if head {
            if let Some(route) = self.find(&Method::GET) {
                return Choice::Call {
                    route,
                    strip_body: true,
                };
            }
        }
        // CONNECT opens a tunnel to any host: only a service routed for it by name takes it.
        if *method != Method::CONNECT {
            if let Some(route) = &self.any {
                return Choice::Call {
                    route,
                    strip_body: head,
                };
            }
        }
        if *method == Method::OPTIONS {
            return Choice::Options;
        }
        Choice::NotAllowed
    }

    /// Calls the service for the request's method, or answers `OPTIONS`, 405 or 501; `known`
    /// are the methods that are a 405 rather than a 501 here.
    pub(crate) fn call(
        &self,
        req: http::Request<Body>,
        strip_body: bool,
        known: &[Method],
    ) -> ResponseFuture {
        match self.choose(req.method()) {
            Choice::Call {
                route,
                strip_body: head,
            } => route.call(req, strip_body || head),
            Choice::Options => ResponseFuture::answer(answer::options(&self.allow)),
            Choice::NotAllowed => not_allowed(&req, &self.allow, known),
        }
    }

    /// The name of the route the method reaches, if any; see [`Route::name_for`].
    pub(crate) fn name_for(&self, at: Lookup<'_>) -> Option<Arc<str>> {
        match self.choose(at.method) {
            Choice::Call { route, .. } => route.name_for(at),
            Choice::Options | Choice::NotAllowed => None,
        }
    }

    pub(crate) fn methods(&self) -> impl Iterator<Item = &Method> {
        self.methods.iter().map(|(m, _)| m)
    }

    /// A method routed twice here or in a method router this endpoint routes to.
    pub(crate) fn duplicate_method(&self) -> Option<Method> {
        self.duplicate.clone().or_else(|| {
            self.methods
                .iter()
                .map(|(_, route)| route)
                .chain(&self.any)
                .find_map(Route::duplicate_method)
        })
    }
}

/// The answer for a method no service of the endpoint takes: 501 for `CONNECT` and for a
/// method outside `known`, else 405 with `Allow`.
#[cold]
#[inline(never)]
fn not_allowed(req: &http::Request<Body>, allow: &[Method], known: &[Method]) -> ResponseFuture {
    let error = if *req.method() == Method::CONNECT || !known.contains(req.method()) {
        not_implemented(req.method())
    } else {
        HttpError::method_not_allowed(allow)
    };
    ResponseFuture::answer(error.into_response_for(req.headers()))
}

/// `501` for a method dispatch does not route: `CONNECT` (this is no forward proxy) or one no
/// route takes.
pub(crate) fn not_implemented(method: &Method) -> HttpError {
    if *method == Method::CONNECT {
        return HttpError::not_implemented(
            "CONNECT is not supported: this is a reverse proxy, not a forward proxy (a route \
             that lists CONNECT in `methods` takes it)",
        );
    }
    let shown = crate::syntax::excerpt(method.as_str(), 32);
    HttpError::not_implemented(format!("method `{shown}` is not implemented here"))
}

/// A [`MethodRouter`] as the target of a mount, a prefix, a host or the fallback: its own
/// endpoint and the methods that are a 405 rather than a 501.
#[derive(Debug)]
pub(crate) struct Methods {
    endpoint: Endpoint,
    known: Vec<Method>,
}

impl Methods {
    pub(crate) fn new(router: MethodRouter) -> Self {
        let endpoint = Endpoint::new(router);
        let known = known_methods(endpoint.methods());
        Methods { endpoint, known }
    }

    pub(crate) fn call(&self, req: http::Request<Body>, strip_body: bool) -> ResponseFuture {
        self.endpoint.call(req, strip_body, &self.known)
    }

    pub(crate) fn name_for(&self, at: Lookup<'_>) -> Option<Arc<str>> {
        self.endpoint.name_for(at)
    }

    pub(crate) fn duplicate_method(&self) -> Option<Method> {
        self.endpoint.duplicate_method()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::Body;
    use std::convert::Infallible;

    fn svc() -> impl tower_service::Service<
        http::Request<Body>,
        Response = http::Response<Body>,
        Error = Infallible,
        Future = std::future::Ready<Result<http::Response<Body>, Infallible>>,
    > + Clone
           + Send
           + Sync {
        tower::service_fn(|_req: http::Request<Body>| {
            std::future::ready(Ok::<_, Infallible>(http::Response::new(Body::empty())))
        })
    }

    #[test]
    fn allow_lists_head_after_get_and_options_last() {
        let ep = Endpoint::new(post(svc()).get(svc()));
        assert_eq!(
            ep.allow,
            [Method::POST, Method::GET, Method::HEAD, Method::OPTIONS]
        );
    }

    #[test]
    fn explicit_head_and_options_are_not_duplicated() {
        let ep = Endpoint::new(get(svc()).head(svc()).options(svc()));
        assert_eq!(ep.allow, [Method::GET, Method::HEAD, Method::OPTIONS]);
        assert!(matches!(
            ep.choose(&Method::HEAD),
            Choice::Call {
                strip_body: false,
                ..
            }
        ));
        assert!(matches!(ep.choose(&Method::OPTIONS), Choice::Call { .. }));
    }

    #[test]
    fn head_uses_get_without_body() {
        let ep = Endpoint::new(get(svc()));
        assert!(matches!(
            ep.choose(&Method::HEAD),
            Choice::Call {
                strip_body: true,
                ..
            }
        ));
        assert!(matches!(ep.choose(&Method::OPTIONS), Choice::Options));
        assert!(matches!(ep.choose(&Method::POST), Choice::NotAllowed));
    }

    #[test]
    fn any_takes_the_rest() {
        let ep = Endpoint::new(get(svc()).any(svc()));
        let brew = Method::from_bytes(b"BREW").unwrap();
        assert!(matches!(ep.choose(&brew), Choice::Call { .. }));
        assert!(matches!(ep.choose(&Method::OPTIONS), Choice::Call { .. }));
    }

    #[test]
    fn connect_only_by_name() {
        let ep = Endpoint::new(any(svc()));
        assert!(matches!(ep.choose(&Method::CONNECT), Choice::NotAllowed));
        let ep = Endpoint::new(any(svc()).on(Method::CONNECT, svc()));
        assert!(matches!(ep.choose(&Method::CONNECT), Choice::Call { .. }));
    }

    #[test]
    fn a_method_twice_is_refused() {
        assert_eq!(
            Endpoint::new(get(svc()).get(svc())).duplicate_method(),
            Some(Method::GET)
        );
        let nested = get(get(svc()).post(svc()).post(svc()));
        assert_eq!(Endpoint::new(nested).duplicate_method(), Some(Method::POST));
    }
}
