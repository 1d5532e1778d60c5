//! [`Forwarded`], the service.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::Request;
use tower_service::Service;

use super::{client_info, ForwardedConfig};
use crate::ext::PeerAddr;

/// Inserts a [`ClientInfo`](crate::ext::ClientInfo) into each request before calling the inner
/// service; see the [module docs](super). Never answers by itself.
#[derive(Debug, Clone)]
#[must_use]
pub struct Forwarded<S> {
    inner: S,
    config: Arc<ForwardedConfig>,
}

impl<S> Forwarded<S> {
    /// Wraps `inner` with this configuration.
    pub fn new(inner: S, config: ForwardedConfig) -> Self {
        Self::from_shared(inner, Arc::new(config))
    }

    pub(super) fn from_shared(inner: S, config: Arc<ForwardedConfig>) -> Self {
        Forwarded { inner, config }
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, B> Service<Request<B>> for Forwarded<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let peer = req.extensions().get::<PeerAddr>().map(|p| p.0.ip());
        let info = client_info(req.headers(), peer, &self.config);
        req.extensions_mut().insert(info);
        self.inner.call(req)
    }
}
