//! A health endpoint for load balancers: [`HealthLayer`] answers one path with `200 ok` itself,
//! before the service it wraps (no auth, no routing, nothing upstream), and passes every other
//! request on.
//!
//! `GET` and `HEAD` get `200` with `ok\n` as `text/plain`; other methods a `405` with
//! `Allow: GET, HEAD`. The path matches exactly (`/healthz`, not `/healthz/`).
//!
//! # Example
//!
//! ```
//! use tollgate::echo::EchoService;
//! use tollgate::health::HealthLayer;
//! use tollgate::testing::TestClient;
//! use tower::Layer;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let client = TestClient::new(HealthLayer::new("/healthz").layer(EchoService::new()));
//! let res = client.get("/healthz").send().await;
//! assert_eq!(res.status(), 200);
//! assert_eq!(res.text().await, "ok\n");
//! assert_eq!(client.post("/healthz").send().await.status(), 405);
//! let echo = client.get("/app").send().await.json::<serde_json::Value>().await;
//! assert_eq!(echo["path"], "/app");
//! # }
//! ```

use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::future::{Either, Ready};
use http::header::{HeaderValue, CONTENT_TYPE};
use http::{Method, Request, Response};

use crate::body::Body;
use crate::error::HttpError;

/// Answers `path` with `200 ok` itself; see the [module docs](self).
#[derive(Clone, Debug)]
#[must_use]
pub struct HealthLayer {
    path: Arc<str>,
}

impl HealthLayer {
    /// Answers `path` (e.g. `/healthz`).
    pub fn new(path: impl Into<Arc<str>>) -> Self {
        HealthLayer { path: path.into() }
    }
}

impl<S> tower_layer::Layer<S> for HealthLayer {
    type Service = Health<S>;

    fn layer(&self, inner: S) -> Health<S> {
        Health {
            path: self.path.clone(),
            inner,
        }
    }
}

/// The service [`HealthLayer`] makes.
#[derive(Clone, Debug)]
#[must_use]
pub struct Health<S> {
    path: Arc<str>,
    inner: S,
}

impl<S> Health<S> {
    define_inner_service_accessors!();
}

impl<S, B> tower_service::Service<Request<B>> for Health<S>
where
    S: tower_service::Service<Request<B>, Response = Response<Body>>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = Either<Ready<Result<Response<Body>, S::Error>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        if req.uri().path() != &*self.path {
            return Either::Right(self.inner.call(req));
        }
        Either::Left(futures_util::future::ready(Ok(answer(&req))))
    }
}

/// `200 ok` for `GET` and `HEAD`, else `405`.
#[cold]
#[inline(never)]
fn answer<B>(req: &Request<B>) -> Response<Body> {
    if req.method() == Method::GET || req.method() == Method::HEAD {
        let mut res = Response::new(Body::from("ok\n"));
        res.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        res
    } else {
        HttpError::method_not_allowed(&[Method::GET, Method::HEAD]).into_response_for(req.headers())
    }
}
