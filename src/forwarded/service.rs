//! [`Forwarded`], the service.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::Request;
use tower_service::Service;

use super::{client_info, ForwardedConfig};
use crate::ext::{ClientInfo, PeerAddr};

/// Inserts a [`ClientInfo`] into each request whose trusted proxies reported something, before
/// calling the inner service; see the [module docs](super). When nothing was reported, the
/// request carries no `ClientInfo` (readers treat that as an empty one). Never answers by itself.
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

    define_inner_service_accessors!();
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
        if info == ClientInfo::default() {
            // Nothing reported (nothing trusted, or no forwarded headers): readers treat an
            // absent `ClientInfo` as this empty one, so nothing is inserted, and an outer
            // layer's verdict does not survive this one's.
            req.extensions_mut().remove::<ClientInfo>();
        } else {
            req.extensions_mut().insert(info);
        }
        self.inner.call(req)
    }
}
