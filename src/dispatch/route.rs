//! [`Route`]: a type-erased, shareable service dispatch can call, and [`IntoRoute`], what
//! can become one.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use tower::ServiceExt;

use super::service::Table;
use super::{Dispatcher, ResponseFuture};
use crate::body::{Body, BoxError};

/// The future every routed service is turned into.
pub(crate) type RouteFuture = Pin<Box<dyn Future<Output = http::Response<Body>> + Send>>;

/// A routed service behind its type: called with a request, it calls a clone of the service.
type Erased = dyn Fn(http::Request<Body>) -> RouteFuture + Send + Sync;

/// A service dispatch routes to, type-erased behind an `Arc`: cloning a dispatcher clones
/// pointers, not services. Made from any [`IntoRoute`].
#[derive(Clone)]
pub struct Route(Kind);

#[derive(Clone)]
enum Kind {
    Service(Arc<Erased>),
    /// A nested [`Dispatcher`] (a mount's usual target), called in place: always ready, its
    /// future is dispatch's own, so there is no clone, no readiness wait and no boxed future
    /// per request (axum's `nest` recognises a nested `Router` the same way).
    Dispatcher(Arc<Table>),
}

impl Route {
    /// Calls the service; `strip_body` drops the response body (HEAD served by GET).
    pub(crate) fn call(&self, req: http::Request<Body>, strip_body: bool) -> ResponseFuture {
        match &self.0 {
            Kind::Service(call) => ResponseFuture::routed(call(req), strip_body),
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
}

impl fmt::Debug for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Route")
    }
}

/// What dispatch can route to: any `Clone + Send + Sync` tower service of
/// `http::Request<tollgate::Body>` whose error is `Infallible`, with any response body of
/// [`Bytes`]. Handlers, the proxy, the file server, another
/// [`Dispatcher`](super::Dispatcher) and `tower::util::BoxCloneSyncService` all are.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be routed to",
    note = "dispatch routes to `Clone + Send + Sync + 'static` services of `http::Request<tollgate::Body>` with `Error = Infallible`; \
            wrap a `BoxCloneService` in `BoxCloneSyncService`, map errors to responses with `HttpError`"
)]
pub trait IntoRoute {
    /// Erases the service's type.
    fn into_route(self) -> Route;
}

impl IntoRoute for Route {
    fn into_route(self) -> Route {
        self
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
        if let Some(dispatcher) =
            (&mut slot as &mut dyn std::any::Any).downcast_mut::<Option<Dispatcher>>()
        {
            let dispatcher = dispatcher.take().expect("the slot was filled just above");
            return Route(Kind::Dispatcher(dispatcher.table));
        }
        let svc = slot.expect("the slot is only emptied when it held a Dispatcher");
        Route(Kind::Service(Arc::new(move |req| {
            // A clone per call, as tower's `Steer` and axum's `Route` do: the shared service is
            // never driven to readiness and then left for another request.
            let svc = svc.clone();
            Box::pin(async move {
                match svc.oneshot(req).await {
                    Ok(res) => res.map(Body::new),
                    Err(never) => match never {},
                }
            })
        })))
    }
}
