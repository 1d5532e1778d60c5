//! [`Route`]: a type-erased, shareable service dispatch can call.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use tower::ServiceExt;

use crate::body::{Body, BoxError};

/// The future every routed service is turned into.
pub(crate) type RouteFuture = Pin<Box<dyn Future<Output = http::Response<Body>> + Send>>;

trait Erased: Send + Sync {
    fn call(&self, req: http::Request<Body>) -> RouteFuture;
}

struct Erase<S>(S);

impl<S, ResBody> Erased for Erase<S>
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
    fn call(&self, req: http::Request<Body>) -> RouteFuture {
        // A clone per call, as tower's `Steer` and axum's `Route` do: the shared service is
        // never driven to readiness and then left for another request.
        let svc = self.0.clone();
        Box::pin(async move {
            match svc.oneshot(req).await {
                Ok(res) => res.map(Body::new),
                Err(never) => match never {},
            }
        })
    }
}

/// A routed service behind an `Arc`: cloning a dispatcher clones pointers, not services.
#[derive(Clone)]
pub(crate) struct Route(Arc<dyn Erased>);

impl Route {
    pub(crate) fn new<S, ResBody>(svc: S) -> Self
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
        Route(Arc::new(Erase(svc)))
    }

    pub(crate) fn call(&self, req: http::Request<Body>) -> RouteFuture {
        self.0.call(req)
    }
}

impl fmt::Debug for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Route")
    }
}
