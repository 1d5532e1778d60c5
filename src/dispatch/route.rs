//! [`Route`]: a type-erased, shareable service dispatch can call, with an optional name, and
//! [`IntoRoute`], what can become one.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http::Method;
use tower::ServiceExt;

use super::method::Methods;
use super::service::{Lookup, Table};
use super::{Dispatcher, MethodRouter, ResponseFuture};
use crate::body::{Body, BoxError};

/// The future every routed service is turned into.
pub(crate) type RouteFuture = Pin<Box<dyn Future<Output = http::Response<Body>> + Send>>;

/// A routed service behind its type: called with a request, it calls a clone of the service.
type Erased = dyn Fn(http::Request<Body>) -> RouteFuture + Send + Sync;

/// A service dispatch routes to, type-erased behind an `Arc`: cloning a dispatcher clones
/// pointers, not services. Made from any [`IntoRoute`] ([`Route::new`]), and optionally
/// [named](Route::named) for [`Dispatcher::route_name`].
#[derive(Clone)]
#[must_use]
pub struct Route {
    kind: Kind,
    name: Option<Arc<str>>,
}

#[derive(Clone)]
enum Kind {
    Service(Arc<Erased>),
    /// A nested [`Dispatcher`] (a mount's usual target), called in place: always ready, its
    /// future is dispatch's own, so there is no clone, no readiness wait and no boxed future
    /// per request (axum's `nest` recognises a nested `Router` the same way).
    Dispatcher(Arc<Table>),
    /// A [`MethodRouter`] under a mount, a prefix or as the fallback: chosen by method in
    /// place, with the 405, `Allow` and `OPTIONS` answers of a route.
    Methods(Arc<Methods>),
}

impl Route {
    /// Erases `svc` (the same as `svc.into_route()`).
    pub fn new(svc: impl IntoRoute) -> Self {
        svc.into_route()
    }

    /// Names the route: [`Dispatcher::route_name`] reports `name` for every request that
    /// reaches it (e.g. a metrics label), whatever it routes to inside.
    pub fn named(mut self, name: impl Into<Arc<str>>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The route's name, when it has one.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    fn of(kind: Kind) -> Self {
        Route { kind, name: None }
    }

    /// Calls the service; `strip_body` drops the response body (HEAD served by GET).
    pub(crate) fn call(&self, req: http::Request<Body>, strip_body: bool) -> ResponseFuture {
        match &self.kind {
            Kind::Service(call) => ResponseFuture::routed(call(req), strip_body),
            Kind::Methods(methods) => methods.call(req, strip_body),
            Kind::Dispatcher(table) if !strip_body => table.dispatch(req),
            Kind::Dispatcher(table) => {
                let future = table.dispatch(req);
                let future = Box::pin(async move {
                    match future.await {
                        Ok(res) => res,
                        Err(never) => match never {},
                    }
                });
                ResponseFuture::routed(future, true)
            }
        }
    }

    /// The name of the route a request for `path` reaches through this one: this route's own
    /// name, else the name found inside a nested dispatcher or method router.
    pub(crate) fn name_for(&self, at: Lookup<'_>) -> Option<Arc<str>> {
        if let Some(name) = &self.name {
            return Some(name.clone());
        }
        match &self.kind {
            Kind::Service(_) => None,
            Kind::Dispatcher(table) => table.name_for(at),
            Kind::Methods(methods) => methods.name_for(at),
        }
    }

    /// A method routed twice in a method router this route is or holds, found when the table
    /// is built (a [`MethodRouter`] becomes a route without checks).
    pub(crate) fn duplicate_method(&self) -> Option<Method> {
        match &self.kind {
            Kind::Methods(methods) => methods.duplicate_method(),
            Kind::Service(_) | Kind::Dispatcher(_) => None,
        }
    }
}

impl fmt::Debug for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "Route({name:?})"),
            None => f.write_str("Route"),
        }
    }
}

/// What dispatch can route to: any `Clone + Send + Sync` tower service of
/// `http::Request<tollgate::Body>` whose error is `Infallible`, with any response body of
/// [`Bytes`]. Handlers, the proxy, the file server, another
/// [`Dispatcher`](super::Dispatcher), a [`MethodRouter`] and
/// `tower::util::BoxCloneSyncService` all are.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be routed to",
    note = "dispatch routes to `Clone + Send + Sync + 'static` services of `http::Request<tollgate::Body>` with `Error = Infallible`; \
            wrap a `BoxCloneService` in `BoxCloneSyncService`, map errors to responses with `HttpError`"
)]
pub trait IntoRoute {
    /// Erases the service's type.
    fn into_route(self) -> Route;
}

/// A route is a service too, so a layer can wrap one (an access rule around a route a
/// program built: `AclLayer::new().allow_user("ada").layer(route)`). Making a route of a
/// route keeps it as it is (see [`IntoRoute`]).
impl tower_service::Service<http::Request<Body>> for Route {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = super::ResponseFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        Route::call(self, req, false)
    }
}

/// A method router under a mount, a prefix, a host or as the fallback: the methods it lists
/// are served, `OPTIONS` is answered with `Allow`, others are a `405` (see the
/// [module docs](super)). A method routed twice is reported by [`Dispatch::build`](super::Dispatch::build).
impl IntoRoute for MethodRouter {
    fn into_route(self) -> Route {
        Route::of(Kind::Methods(Arc::new(Methods::new(self))))
    }
}

impl<S, ResBody> IntoRoute for S
where
    S: tower_service::Service<
            http::Request<Body>,
            Response = http::Response<ResBody>,
            Error = Infallible,
        > + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
    ResBody: http_body::Body<Data = Bytes> + Send + Sync + 'static,
    ResBody::Error: Into<BoxError>,
{
    fn into_route(self) -> Route {
        let mut slot = Some(self);
        if let Some(route) = (&mut slot as &mut dyn std::any::Any).downcast_mut::<Option<Route>>() {
            return route.take().expect("the slot was filled just above");
        }
        if let Some(dispatcher) =
            (&mut slot as &mut dyn std::any::Any).downcast_mut::<Option<Dispatcher>>()
        {
            let dispatcher = dispatcher.take().expect("the slot was filled just above");
            return Route::of(Kind::Dispatcher(dispatcher.table));
        }
        let svc = slot.expect("the slot is only emptied when it held a Dispatcher");
        Route::of(Kind::Service(Arc::new(move |req| {
            // A clone per call, as tower's `Steer` and axum's `Route` do: the shared service is
            // never driven to readiness and then left for another request.
            let mut svc = svc.clone();
            // Most services are always ready: call at once, without `Oneshot`'s state machine
            // in every boxed future; wait for readiness only when the service asks for it.
            let mut cx = Context::from_waker(Waker::noop());
            match svc.poll_ready(&mut cx) {
                Poll::Ready(Ok(())) => {
                    let future = svc.call(req);
                    Box::pin(async move {
                        match future.await {
                            Ok(res) => res.map(Body::new),
                            Err(never) => match never {},
                        }
                    })
                }
                Poll::Ready(Err(never)) => match never {},
                Poll::Pending => Box::pin(async move {
                    match svc.oneshot(req).await {
                        Ok(res) => res.map(Body::new),
                        Err(never) => match never {},
                    }
                }),
            }
        })))
    }
}
