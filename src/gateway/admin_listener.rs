//! The admin listener's service: metrics, health and the cache purge, on a socket of its own.

use tokio::runtime::Handle;

use super::listening::Listening;
use super::shared::SharedState;
use super::stack::Gateway;
use crate::config::AdminConfig;
use crate::dispatch::{any, Dispatch, DispatchError};
use crate::health::HealthLayer;
use crate::metrics::Metrics;
use crate::serve::ServeConfig;
use tower_layer::Layer;

/// The admin listener's service: [`Metrics::exporter`] at `metrics_path` and a
/// [`HealthLayer`] at `health_path` (which wins if both are the same); every other path is a
/// 404.
///
/// # Errors
///
/// A `metrics_path` dispatch cannot route.
pub fn admin(config: &AdminConfig, metrics: &Metrics) -> Result<Gateway, DispatchError> {
    admin_with(config, metrics, &SharedState::new())
}

/// [`admin`], plus `POST /cache/purge?url=...|prefix=...` ([`crate::cache::purge`]) on the
/// response cache `shared` holds, when `[cache]` built one.
///
/// # Errors
///
/// As [`admin`].
pub fn admin_with(
    config: &AdminConfig,
    metrics: &Metrics,
    shared: &SharedState,
) -> Result<Gateway, DispatchError> {
    // The path is matched as it is written: braces are not a parameter here.
    let path = config.metrics_path.replace('{', "{{").replace('}', "}}");
    let shared = shared.clone();
    let purge = crate::handler::from_fn(move |req: crate::Request| {
        let answer = match shared.cache() {
            Some(store) => crate::cache::purge(&store, &req.into_http().into_parts().0),
            None => crate::HttpError::not_found("there is no [cache] to purge").into_response(),
        };
        async move { answer }
    });
    let exporter = Dispatch::new()
        .route(path, any(metrics.exporter()))
        .route("/cache/purge", any(purge))
        .build()?;
    let health = HealthLayer::new(config.health_path.as_str());
    Ok(Gateway::new(health.layer(exporter)))
}

/// Serves the admin listener of `config` (on `sockets`, or new ones) on the current runtime.
pub(super) async fn start_admin(
    config: &AdminConfig,
    metrics: &Metrics,
    shared: &SharedState,
    sockets: Option<Vec<std::net::TcpListener>>,
) -> std::io::Result<Listening> {
    // Checked by `build` already.
    let service = admin_with(config, metrics, shared).map_err(std::io::Error::other)?;
    // One server on the runtime that runs the gateway: the admin listener is not hot.
    let listening = Listening::start(
        ServeConfig::bind(&config.bind),
        sockets,
        &[(Handle::current(), service)],
    )
    .await?;
    tracing::info!(addr = %listening.addr, "admin listener (metrics, health) on http://{}", listening.addr);
    Ok(listening)
}
