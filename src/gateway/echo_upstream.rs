//! The echo service as a real upstream on a loopback port: what `tollgate proxy` without
//! `--upstream` proxies to, so the echo shows exactly what an upstream would receive
//! (`X-Forwarded-*`, `Via`, the rewritten `Host`, no `Authorization`) and every proxy
//! option (`--max-body`) applies to it.

use std::net::SocketAddr;

use hyper_util::rt::{TokioExecutor, TokioIo};
use tower::ServiceExt as _;

use crate::body::Body;
use crate::echo::EchoService;
use crate::ext::PeerAddr;

/// Serves [`EchoService`] on `127.0.0.1` (a port of the system's choosing) on the current
/// runtime, for the life of the process, and returns its address. It writes no access log:
/// the gateway in front of it does.
///
/// # Errors
///
/// The loopback address cannot be bound.
pub async fn echo_upstream() -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let (stream, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::debug!(error = %e, "echo upstream: accept failed");
                    tokio::task::yield_now().await;
                    continue;
                }
            };
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: http::Request<_>| {
                    let mut req = req.map(Body::new);
                    req.extensions_mut().insert(PeerAddr(peer));
                    EchoService::new().oneshot(req)
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(addr)
}
