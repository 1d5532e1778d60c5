//! Thread-per-core serving: `n` threads, each with its own single-threaded runtime, its own
//! service and its own listening socket on the same address (`SO_REUSEPORT`, the kernel
//! spreads connections), as nginx runs its worker processes.
//!
//! Measured on 2 cores with `wrk` against `tollgate proxy` (benches/gateway.sh): a
//! multi-threaded runtime with one worker spends about 50% more system time per request than a
//! single-threaded one (wake-ups between the scheduler and the I/O driver), and a connection
//! pool shared across threads makes every upstream answer a cross-thread wake-up. With one
//! runtime per thread, a request is read, forwarded and answered on one thread.

use std::net::SocketAddr;
use std::sync::Arc;

use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::net::{TcpListener, TcpSocket};
use tokio::runtime::Handle;
use tokio::sync::watch;

use super::{shutdown_signal, ServeConfig, ServeService, Server};
use crate::body::BoxError;

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
pub async fn serve_workers<F, S: ServeService>(
    workers: usize,
    config: ServeConfig,
    make_service: F,
) -> Result<(), BoxError>
where
    F: Fn() -> Result<S, BoxError> + Send + Sync + 'static,
{
    // Before anything listens: a SIGTERM during startup stops the workers gracefully.
    let shutdown = shutdown_signal();
    let pool = Workers::start(workers)?;
    let sockets = bind_sockets(&config.bind, pool.len()).await?;
    let make_service = Arc::new(make_service);
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut servers: FuturesUnordered<_> = pool
        .handles()
        .iter()
        .zip(sockets)
        .enumerate()
        .map(|(i, (handle, socket))| {
            let make_service = make_service.clone();
            let config = config.clone();
            let stop = stopped(stop_rx.clone());
            handle.spawn(async move {
                let listener = TcpListener::from_std(socket)?;
                let server = Server::new(make_service()?)
                    .config(config)
                    .with_graceful_shutdown(stop);
                let server = if i == 0 { server } else { server.quiet() };
                server.serve(listener).await?;
                Ok::<(), BoxError>(())
            })
        })
        .collect();

    let mut first_error = None;
    tokio::select! {
        () = shutdown => {}
        Some(result) = servers.next() => first_error = joined(result).err(),
    }
    let _ = stop_tx.send(true);
    while let Some(result) = servers.next().await {
        if let (Err(e), None) = (joined(result), &first_error) {
            first_error = Some(e);
        }
    }
    pool.stop().await;
    first_error.map_or(Ok(()), Err)
}

/// A server task's result, a panic included.
fn joined<E: Into<BoxError>>(
    result: Result<Result<(), E>, tokio::task::JoinError>,
) -> Result<(), BoxError> {
    match result {
        Ok(result) => result.map_err(Into::into),
        Err(e) => Err(format!("a worker failed: {e}").into()),
    }
}

/// Resolves when `stop` turns `true` (or its sender is gone).
pub(crate) async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// Threads each worker may start for blocking work (file system calls of `ServeDir` in its
/// default mode, password hashing, upload spooling). Tokio's default is 512 per runtime:
/// measured with `wrk -c32` against `tollgate serve` on a 1 KB file, an unbounded pool grew
/// to ~200 threads and 1 GB of allocator caches; 4 threads held 58 MB and answered 1.3× as
/// many requests per second, 16 threads 118 MB (see docs/files.md).
pub const BLOCKING_THREADS_PER_WORKER: usize = 8;

/// Worker threads, each driving its own single-threaded Tokio runtime until [`stop`](Self::stop).
/// Tasks are put on a worker with its [`Handle`]; they run on that thread only.
#[derive(Debug)]
pub(crate) struct Workers {
    handles: Vec<Handle>,
    stop: watch::Sender<bool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Workers {
    /// How many workers `n` means: `0` is one per core.
    pub(crate) fn count(n: usize) -> usize {
        if n == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            n
        }
    }

    /// Starts `n` workers; `0` means one per core.
    pub(crate) fn start(n: usize) -> std::io::Result<Workers> {
        let n = Self::count(n);
        let (stop, stop_rx) = watch::channel(false);
        let mut handles = Vec::with_capacity(n);
        let mut threads = Vec::with_capacity(n);
        for i in 0..n {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .max_blocking_threads(BLOCKING_THREADS_PER_WORKER)
                .thread_name(format!("tollgate-worker-{i}-blocking"))
                .build()?;
            handles.push(runtime.handle().clone());
            let stop = stopped(stop_rx.clone());
            threads.push(
                std::thread::Builder::new()
                    .name(format!("tollgate-worker-{i}"))
                    .spawn(move || runtime.block_on(stop))?,
            );
        }
        Ok(Workers {
            handles,
            stop,
            threads,
        })
    }

    /// How many workers there are.
    pub(crate) fn len(&self) -> usize {
        self.handles.len()
    }

    /// One handle per worker, to spawn tasks on it.
    pub(crate) fn handles(&self) -> &[Handle] {
        &self.handles
    }

    /// Stops every worker and waits for its thread; tasks still on a worker are dropped, so
    /// finish them first.
    pub(crate) async fn stop(self) {
        let _ = self.stop.send(true);
        for thread in self.threads {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

/// `n` listening sockets on `bind`, for `n` workers: one plain socket for one worker; else
/// `n` sockets with `SO_REUSEPORT` on the same address, between which the kernel spreads
/// connections.
///
/// The address is first bound plainly, so a port another program holds is an error (its
/// sockets would otherwise share connections with ours) and port `0` picks one port for all.
pub(crate) async fn bind_sockets(
    bind: &str,
    n: usize,
) -> std::io::Result<Vec<std::net::TcpListener>> {
    let probe = super::listen(bind).await?;
    if n <= 1 {
        return Ok(vec![probe.into_std()?]);
    }
    let addr = probe.local_addr()?;
    drop(probe);
    (0..n)
        .map(|_| reuse_port(addr).and_then(TcpListener::into_std))
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))
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
