//! [`NormalizeLayer`].

use std::sync::Arc;

use tower_layer::Layer;

use super::{Normalize, NormalizeConfig};

/// Applies [`Normalize`] to a service: requests are normalized (or redirected, or refused with
/// 400) before the inner service sees them.
#[derive(Debug, Clone)]
#[must_use]
pub struct NormalizeLayer {
    config: Arc<NormalizeConfig>,
}

impl NormalizeLayer {
    /// A layer with this configuration.
    pub fn new(config: NormalizeConfig) -> Self {
        NormalizeLayer {
            config: Arc::new(config),
        }
    }

    /// A layer that redirects (`308`) to the normalized URL instead of rewriting in place.
    pub fn redirecting() -> Self {
        Self::new(NormalizeConfig {
            action: super::Action::Redirect,
            ..NormalizeConfig::default()
        })
    }

    /// The configuration.
    pub fn config(&self) -> &NormalizeConfig {
        &self.config
    }
}

impl Default for NormalizeLayer {
    fn default() -> Self {
        Self::new(NormalizeConfig::default())
    }
}

impl<S> Layer<S> for NormalizeLayer {
    type Service = Normalize<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Normalize::from_shared(inner, Arc::clone(&self.config))
    }
}
