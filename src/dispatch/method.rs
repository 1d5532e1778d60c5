//! [`MethodRouter`]: the services of one path, by method.

use http::Method;

use super::route::{IntoRoute, Route};

/// The services answering one path, by method: `get(list).post(create)`.
///
/// `HEAD` is served by the `GET` service (the body dropped) unless a `HEAD` service is set;
/// `OPTIONS` is answered with `Allow` unless an `OPTIONS` service is set; [`any`] takes every
/// method no other service took.
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

    /// Routes every method no other service of this path takes to `svc`: no 405, no 501.
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

/// A [`MethodRouter`] checked and ready: its services and the `Allow` list.
#[derive(Debug)]
pub(crate) struct Endpoint {
    methods: Vec<(Method, Route)>,
    any: Option<Route>,
    /// What `Allow` lists: the methods in registration order, `HEAD` after `GET`, `OPTIONS`.
    pub(crate) allow: Vec<Method>,
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
    /// Checks for a method routed twice; returns it.
    pub(crate) fn new(router: MethodRouter) -> Result<Self, Method> {
        let mut allow: Vec<Method> = Vec::with_capacity(router.methods.len() + 2);
        for (method, _) in &router.methods {
            if allow.contains(method) {
                return Err(method.clone());
            }
            allow.push(method.clone());
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
        Ok(Endpoint {
            methods: router.methods,
            any: router.any,
            allow,
        })
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
        if let Some(route) = &self.any {
            return Choice::Call {
                route,
                strip_body: head,
            };
        }
        if *method == Method::OPTIONS {
            return Choice::Options;
        }
        Choice::NotAllowed
    }

    pub(crate) fn methods(&self) -> impl Iterator<Item = &Method> {
        self.methods.iter().map(|(m, _)| m)
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
        let ep = Endpoint::new(post(svc()).get(svc())).unwrap();
        assert_eq!(
            ep.allow,
            [Method::POST, Method::GET, Method::HEAD, Method::OPTIONS]
        );
    }

    #[test]
    fn explicit_head_and_options_are_not_duplicated() {
        let ep = Endpoint::new(get(svc()).head(svc()).options(svc())).unwrap();
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
        let ep = Endpoint::new(get(svc())).unwrap();
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
        let ep = Endpoint::new(get(svc()).any(svc())).unwrap();
        let brew = Method::from_bytes(b"BREW").unwrap();
        assert!(matches!(ep.choose(&brew), Choice::Call { .. }));
        assert!(matches!(ep.choose(&Method::OPTIONS), Choice::Call { .. }));
    }

    #[test]
    fn a_method_twice_is_refused() {
        assert_eq!(
            Endpoint::new(get(svc()).get(svc())).unwrap_err(),
            Method::GET
        );
    }
}
