//! Each route's `cors` policy, applied before auth: the route a request is for is looked up
//! with [`Dispatcher::route_name`] (a preflight by the method it announces), and that route's
//! [`Cors`] handles it.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::future::Either;
use http::header::ACCESS_CONTROL_REQUEST_METHOD;
use http::{Method, Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use crate::body::Body;
use crate::config::Config;
use crate::cors::{Cors, CorsLayer, ResponseFuture};
use crate::dispatch::Dispatcher;

/// The policies of the routes that have one, by route name; `None` when no route has one.
/// The policies were checked with the configuration.
pub(super) fn layer(config: &Config, names: &Dispatcher) -> Option<CorsRoutes> {
    let mut policies = HashMap::new();
    for route in &config.routes {
        if let Some(cors) = &route.cors {
            if let Ok(layer) = CorsLayer::new(cors) {
                policies
                    .entry(Arc::<str>::from(route.label()))
                    .or_insert(layer);
            }
        }
    }
    (!policies.is_empty()).then(|| CorsRoutes {
        names: names.clone(),
        policies: Arc::new(policies),
    })
}

/// The layer: the route's policy around the rest of the stack.
#[derive(Clone)]
pub(super) struct CorsRoutes {
    names: Dispatcher,
    policies: Arc<HashMap<Arc<str>, CorsLayer>>,
}

impl<S> Layer<S> for CorsRoutes {
    type Service = CorsByRoute<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CorsByRoute {
            inner,
            routes: self.clone(),
        }
    }
}

#[derive(Clone)]
pub(super) struct CorsByRoute<S> {
    inner: S,
    routes: CorsRoutes,
}

impl<S> CorsByRoute<S> {
    /// The name of the route `parts` is for; a preflight is looked up by the method it
    /// announces, as the request that follows it will be.
    fn route(&self, parts: &mut http::request::Parts) -> Option<Arc<str>> {
        let announced = (parts.method == Method::OPTIONS)
            .then(|| parts.headers.get(ACCESS_CONTROL_REQUEST_METHOD))
            .flatten()
            .and_then(|m| Method::from_bytes(m.as_bytes()).ok());
        let real = announced.map(|m| std::mem::replace(&mut parts.method, m));
        let name = self.routes.names.route_name(parts);
        if let Some(real) = real {
            parts.method = real;
        }
        name
    }
}

impl<S> Service<Request<Body>> for CorsByRoute<S>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible> + Clone,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Either<S::Future, ResponseFuture<S::Future>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let (mut parts, body) = req.into_parts();
        let policies = Arc::clone(&self.routes.policies);
        let name = self.route(&mut parts);
        let req = Request::from_parts(parts, body);
        match name.and_then(|name| policies.get(&name)) {
            None => Either::Left(self.inner.call(req)),
            Some(policy) => {
                let ready = {
                    let clone = self.inner.clone();
                    std::mem::replace(&mut self.inner, clone)
                };
                let mut cors: Cors<S> = policy.layer(ready);
                Either::Right(cors.call(req))
            }
        }
    }
}
