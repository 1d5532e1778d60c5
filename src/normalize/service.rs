//! [`Normalize`], the service.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::HOST;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use tower_service::Service;

use super::{request_target, NormalizeConfig, NormalizeError, Outcome, ResponseFuture};
use crate::body::{Body, BoxError};
use crate::error::HttpError;
use crate::ext::ConnectionTls;

/// Normalizes each request's target and `Host` before calling the inner service; see the
/// [module docs](super).
#[derive(Debug, Clone)]
#[must_use]
pub struct Normalize<S> {
    inner: S,
    config: Arc<NormalizeConfig>,
}

impl<S> Normalize<S> {
    /// Wraps `inner` with this configuration.
    pub fn new(inner: S, config: NormalizeConfig) -> Self {
        Self::from_shared(inner, Arc::new(config))
    }

    pub(super) fn from_shared(inner: S, config: Arc<NormalizeConfig>) -> Self {
        Normalize { inner, config }
    }

    define_inner_service_accessors!();
}

// The layer's own answers, out of line: the usual request is passed on.

#[cold]
#[inline(never)]
fn redirect(location: HeaderValue) -> Response<Body> {
    crate::answer::redirect(StatusCode::PERMANENT_REDIRECT, location)
}

#[cold]
#[inline(never)]
fn refusal(err: NormalizeError, headers: &HeaderMap) -> Response<Body> {
    tracing::debug!(error = %err, "normalize: refused request");
    HttpError::from(err).into_response_for(headers)
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Normalize<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: http_body::Body<Data = bytes::Bytes> + Send + Sync + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let outcome = request_target(
            req.method(),
            req.uri(),
            req.headers(),
            req.extensions().get::<ConnectionTls>(),
            &self.config,
        );
        match outcome {
            Ok(Outcome::Unchanged) => {}
            Ok(Outcome::Rewrite { uri, host }) => {
                *req.uri_mut() = uri;
                if let Some(host) = host {
                    req.headers_mut().insert(HOST, host);
                }
            }
            Ok(Outcome::Redirect(location)) => return ResponseFuture::answered(redirect(location)),
            Err(err) => return ResponseFuture::answered(refusal(err, req.headers())),
        }
        ResponseFuture::inner(self.inner.call(req))
    }
}
