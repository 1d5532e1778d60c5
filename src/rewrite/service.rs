//! [`Rewrite`]: the service a [`RewriteLayer`] makes.

use std::sync::Arc;
use std::task::{Context, Poll};

use super::layer::Rules;
use super::{ResponseFuture, RewriteConfig, RewriteError, RewriteLayer};

/// Applies header rules around an inner service; made by [`RewriteLayer`].
#[derive(Debug, Clone)]
#[must_use]
pub struct Rewrite<S> {
    inner: S,
    rules: Arc<Rules>,
}

impl<S> Rewrite<S> {
    /// Wraps `inner` with `config`'s rules.
    ///
    /// # Errors
    ///
    /// As [`RewriteLayer::new`].
    pub fn new(inner: S, config: &RewriteConfig) -> Result<Self, RewriteError> {
        Ok(Self::from_layer(inner, RewriteLayer::new(config)?))
    }

    pub(crate) fn from_layer(inner: S, layer: RewriteLayer) -> Self {
        Rewrite {
            inner,
            rules: layer.rules,
        }
    }

    define_inner_service_accessors!();
}

impl<S, B, ResBody> tower_service::Service<http::Request<B>> for Rewrite<S>
where
    S: tower_service::Service<http::Request<B>, Response = http::Response<ResBody>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        let pending = self.rules.on_request(&mut req);
        let state = pending.map(|p| (Arc::clone(&self.rules), p));
        ResponseFuture::new(self.inner.call(req), state)
    }
}
