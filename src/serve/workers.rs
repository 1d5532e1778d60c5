//! Thread-per-core serving: `n` threads, each with its own single-threaded runtime, its own
//! service and its own listening socket on the same address (`SO_REUSEPORT`, the kernel
//! spreads connections), as nginx runs its worker processes.
//!
//! Measured on 2 cores with `wrk` against `tollgate proxy` (benches/gateway.sh): a
//! multi-threaded runtime with one worker spends about 50% more system time per request than a
//! single-threaded one (wake-ups between the scheduler and the I/O driver), and a connection
//! pool shared across threads makes every upstream answer a cross-thread wake-up. With one
//! runtime per thread, a request is read, forwarded and answered on one thread.

use std::future::Future;
use std::net::SocketAddr;

use bytes::Bytes;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::watch;
use tower_service::Service;

use super::{shutdown_signal, ServeConfig, Server};
use crate::body::{Body, BoxError};

/// Serves on `config.bind` with `workers` threads until Ctrl-C or `SIGTERM`, then shuts every
/// worker down gracefully. `make_service` runs once on each worker thread, inside its runtime,
/// so what it builds (connection pools, caches, background tasks) stays on that thread.
///
/// Call it from a Tokio runtime (it waits for the signal there); `workers` of `0` means one
/// per core. The `Serving on` line is printed once.
///
/// # Errors
///
/// When the address cannot be bound, or a worker fails to start (its service could not be
/// built, a TLS file could not be read): the first error, after the other workers stopped.
pub async fn serve_workers<F, S, B>(
    workers: usize,
    config: ServeConfig,
    make_service: F,
) -> Result<(), BoxError>
where
    F: Fn() -> Result<S, BoxError> + Send + Sync + 'static,
    S: Service<http::Request<Body>, Response = http::Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body<Data = Bytes> + Send + Sync + 'static,
    B::Error: Into<BoxError>,
{
    let workers = if workers == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        workers
    };
    // Bound plainly first for the address (names resolved, port 0 chosen) and the error
    // messages of `listen`; then every worker gets a socket with SO_REUSEPORT on it.
    let addr = super::listen(&config.bind).await?.local_addr()?;
    let listeners = (0..workers)
        .map(|_| reuse_port(addr))
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;

    let make_service = std::sync::Arc::new(make_service);
    let (stop_tx, stop_rx) = watch::channel(false);
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut threads = Vec::with_capacity(workers);
    for (i, listener) in listeners.into_iter().enumerate() {
        let listener = listener.into_std()?;
        let make_service = make_service.clone();
        let config = config.clone();
        let mut stop = stop_rx.clone();
        let done = done_tx.clone();
        let thread = std::thread::Builder::new()
            .name(format!("tollgate-worker-{i}"))
            .spawn(move || {
                let result = run_worker(i, listener, config, &*make_service, async move {
                    while !*stop.borrow_and_update() {
                        if stop.changed().await.is_err() {
                            break;
                        }
                    }
                });
                let _ = done.send(result);
            })?;
        threads.push(thread);
    }
    drop(done_tx);

    let mut first_error = None;
    tokio::select! {
        () = shutdown_signal() => {}
        result = done_rx.recv() => {
            if let Some(Err(e)) = result {
                first_error = Some(e);
            }
        }
    }
    let _ = stop_tx.send(true);
    while let Some(result) = done_rx.recv().await {
        if let (Err(e), None) = (result, &first_error) {
            first_error = Some(e);
        }
    }
    for thread in threads {
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    }
    first_error.map_or(Ok(()), Err)
}

fn run_worker<F, S, B>(
    index: usize,
    listener: std::net::TcpListener,
    config: ServeConfig,
    make_service: &F,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<(), BoxError>
where
    F: Fn() -> Result<S, BoxError>,
    S: Service<http::Request<Body>, Response = http::Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body<Data = Bytes> + Send + Sync + 'static,
    B::Error: Into<BoxError>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = TcpListener::from_std(listener)?;
        let service = make_service()?;
        let server = Server::new(service)
            .config(config)
            .with_graceful_shutdown(stop);
        let server = if index == 0 { server } else { server.quiet() };
        server.serve(listener).await?;
        Ok(())
    })
}

/// A listening socket on `addr` with `SO_REUSEPORT`.
fn reuse_port(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.set_reuseport(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}
