//! [`ForwardedLayer`].

use std::sync::Arc;

use tower_layer::Layer;

use super::{Forwarded, ForwardedConfig, Headers, Trust};

/// Applies [`Forwarded`] to a service: each request gets a [`ClientInfo`](crate::ext::ClientInfo)
/// with what the trusted proxies reported.
#[derive(Debug, Clone)]
#[must_use]
pub struct ForwardedLayer {
    config: Arc<ForwardedConfig>,
}

impl ForwardedLayer {
    /// A layer with this configuration.
    pub fn new(config: ForwardedConfig) -> Self {
        ForwardedLayer {
            config: Arc::new(config),
        }
    }

    /// Trust this many proxies in front of us (Werkzeug's `x_for=n`), reading `X-Forwarded-*`.
    pub fn hops(n: usize) -> Self {
        Self::new(ForwardedConfig::default().trust(Trust::Hops(n)))
    }

    /// Trust proxies in these networks, reading `X-Forwarded-*`.
    pub fn trusted_proxies(networks: impl IntoIterator<Item = ipnet::IpNet>) -> Self {
        Self::new(ForwardedConfig::default().trust(Trust::Proxies(networks.into_iter().collect())))
    }

    /// The same layer, reading these headers.
    pub fn headers(self, headers: Headers) -> Self {
        Self::new(self.config.as_ref().clone().headers(headers))
    }

    /// The configuration.
    pub fn config(&self) -> &ForwardedConfig {
        &self.config
    }
}

impl<S> Layer<S> for ForwardedLayer {
    type Service = Forwarded<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Forwarded::from_shared(inner, Arc::clone(&self.config))
    }
}
