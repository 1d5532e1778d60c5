//! [`Gateway`]: a built stack behind one cheap, shareable handle.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use http::{Request, Response};
use tower::ServiceExt;

use crate::body::Body;

/// The future of a [`Gateway`] call.
pub type GatewayFuture = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

type Call = dyn Fn(Request<Body>) -> GatewayFuture + Send + Sync;

/// A whole gateway (or one route of it) as a tower service that is always ready and never
/// fails. Cloning shares it (one `Arc`); each call costs one boxed future, and no clone of the
/// stack inside is boxed.
#[derive(Clone)]
#[must_use]
pub struct Gateway {
    call: Arc<Call>,
}

impl Gateway {
    /// Erases `service`; it must be ready whenever called (as every tollgate service is).
    pub fn new<S>(service: S) -> Self
    where
        S: tower_service::Service<Request<Body>, Response = Response<Body>, Error = Infallible>
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        Gateway {
            call: Arc::new(move |req| {
                let mut service = service.clone();
                // tollgate's services are always ready: call directly, without `Oneshot`'s
                // state machine (and the service clone it carries) in every boxed future.
                let mut cx = Context::from_waker(Waker::noop());
                match service.poll_ready(&mut cx) {
                    Poll::Ready(Ok(())) => Box::pin(service.call(req)),
                    Poll::Ready(Err(never)) => match never {},
                    Poll::Pending => Box::pin(service.oneshot(req)),
                }
            }),
        }
    }

    /// Calls the gateway without needing `&mut` or readiness.
    pub fn call_shared(&self, req: Request<Body>) -> GatewayFuture {
        (self.call)(req)
    }
}

impl fmt::Debug for Gateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Gateway")
    }
}

impl tower_service::Service<Request<Body>> for Gateway {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = GatewayFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        (self.call)(req)
    }
}
