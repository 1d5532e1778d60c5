//! [`CorsLayer`] and [`Cors`]: tower-http's `Cors`, given only requests whose origin it
//! should answer.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use http::header::{ACCESS_CONTROL_REQUEST_METHOD, ORIGIN, VARY};
use http::{HeaderName, HeaderValue, Method, Request, Response};
use pin_project_lite::pin_project;
use tower_http::cors::{AllowHeaders, AllowMethods, AllowOrigin, ExposeHeaders};
use tower_layer::Layer;
use tower_service::Service;

use super::{CorsConfig, CorsConfigError, OriginPattern};
use crate::response::cache_control::add_vary;

/// The origins a policy allows.
#[derive(Debug)]
struct Origins(Vec<OriginPattern>);

impl Origins {
    fn allows(&self, origin: &HeaderValue) -> bool {
        origin
            .to_str()
            .is_ok_and(|o| self.0.iter().any(|p| p.matches(o)))
    }
}

/// Answers CORS preflights from allowed origins and adds `Access-Control-*` headers to their
/// requests' answers; see the [module docs](super).
#[derive(Debug, Clone)]
#[must_use]
pub struct CorsLayer {
    origins: Arc<Origins>,
    inner: tower_http::cors::CorsLayer,
}

impl CorsLayer {
    /// The layer for `config`.
    ///
    /// # Errors
    ///
    /// The first error of [`CorsConfig::check`]: in particular, any origin together with
    /// credentials.
    pub fn new(config: &CorsConfig) -> Result<Self, CorsConfigError> {
        if let Some(e) = config.check().into_iter().next() {
            return Err(e);
        }
        let patterns: Vec<OriginPattern> = config
            .origins
            .iter()
            .filter_map(|o| OriginPattern::parse(o).ok())
            .collect();
        let any = patterns.iter().any(OriginPattern::is_any);
        let origins = Arc::new(Origins(patterns));
        let allow_origin = if any {
            AllowOrigin::any()
        } else {
            let origins = Arc::clone(&origins);
            AllowOrigin::predicate(move |origin, _| origins.allows(origin))
        };
        let wildcard = |list: &[String]| list.iter().any(|e| e == "*");
        let names = |list: &[String]| -> Vec<HeaderName> {
            list.iter()
                .filter_map(|h| HeaderName::from_bytes(h.as_bytes()).ok())
                .collect()
        };
        let methods = if wildcard(&config.methods) {
            AllowMethods::any()
        } else {
            let methods: Vec<Method> = config
                .methods
                .iter()
                .filter_map(|m| Method::from_bytes(m.as_bytes()).ok())
                .collect();
            AllowMethods::list(methods)
        };
        let headers = if wildcard(&config.headers) {
            AllowHeaders::any()
        } else {
            AllowHeaders::list(names(&config.headers))
        };
        let expose = if wildcard(&config.expose_headers) {
            ExposeHeaders::any()
        } else {
            ExposeHeaders::list(names(&config.expose_headers))
        };
        let mut inner = tower_http::cors::CorsLayer::new()
            .allow_origin(allow_origin)
            .allow_methods(methods)
            .allow_headers(headers)
            .expose_headers(expose)
            .allow_credentials(config.credentials);
        if let Some(max_age) = config.max_age {
            inner = inner.max_age(max_age);
        }
        Ok(CorsLayer { origins, inner })
    }
}

impl<S> Layer<S> for CorsLayer {
    type Service = Cors<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Cors {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service of [`CorsLayer`].
#[derive(Debug, Clone)]
#[must_use]
pub struct Cors<S> {
    inner: S,
    layer: CorsLayer,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Cors<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let Some(origin) = req.headers().get(ORIGIN) else {
            return ResponseFuture::plain(self.inner.call(req));
        };
        let preflight = req.method() == Method::OPTIONS
            && req.headers().contains_key(ACCESS_CONTROL_REQUEST_METHOD);
        let allowed = self.layer.origins.allows(origin);
        // A preflight from an origin the policy does not know goes on like any request (to
        // auth, to the route); a plain `OPTIONS` is not tower-http's to answer.
        if (preflight && !allowed) || (req.method() == Method::OPTIONS && !preflight) {
            return ResponseFuture::plain(self.inner.call(req));
        }
        let ready = {
            let clone = self.inner.clone();
            std::mem::replace(&mut self.inner, clone)
        };
        let mut cors = self.layer.inner.layer(ready);
        ResponseFuture {
            inner: Inner::Cors {
                future: cors.call(req),
            },
        }
    }
}

pin_project! {
    /// The future of [`Cors`].
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: Inner<F>,
    }
}

pin_project! {
    #[project = InnerProj]
    enum Inner<F> {
        Plain { #[pin] future: F },
        Cors { #[pin] future: tower_http::cors::ResponseFuture<F> },
    }
}

impl<F> ResponseFuture<F> {
    fn plain(future: F) -> Self {
        ResponseFuture {
            inner: Inner::Plain { future },
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: Default,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut res = match self.project().inner.project() {
            InnerProj::Plain { future } => ready!(future.poll(cx))?,
            InnerProj::Cors { future } => ready!(future.poll(cx))?,
        };
        // Whether it is shared depends on `Origin`, whichever way this one went: caches
        // must not give one origin's answer to another.
        if !res.headers().get_all(VARY).iter().any(|v| {
            v.to_str().is_ok_and(|v| {
                v.split(',')
                    .any(|n| n.trim().eq_ignore_ascii_case("origin"))
            })
        }) {
            add_vary(res.headers_mut(), &ORIGIN);
        }
        Poll::Ready(Ok(res))
    }
}
