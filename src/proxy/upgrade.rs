//! `Upgrade` passthrough (WebSocket and the like): once the upstream answered `101`, both
//! connections are handed over and bytes are copied both ways until either side closes.

use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;

/// Joins the client's and the upstream's upgraded connections in a background task.
pub(crate) fn tunnel(client: OnUpgrade, upstream: OnUpgrade, name: std::sync::Arc<str>) {
    tokio::spawn(async move {
        let (client, upstream) = match tokio::try_join!(client, upstream) {
            Ok(pair) => pair,
            Err(e) => {
                tracing::debug!(upstream = %name, error = %e, "upgrade did not complete");
                return;
            }
        };
        let mut client = TokioIo::new(client);
        let mut upstream = TokioIo::new(upstream);
        match tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
            Ok((up, down)) => {
                tracing::debug!(upstream = %name, up, down, "upgraded connection closed");
            }
            Err(e) => {
                tracing::debug!(upstream = %name, error = %e, "upgraded connection failed");
            }
        }
    });
}
