//! [`Listening`]: one listener of a running gateway, a server per worker on that worker's
//! socket, restartable on the same sockets.

use std::net::SocketAddr;

use http::{Request, Response};
use tokio::runtime::Handle;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::body::Body;
use crate::serve::{bind_sockets, stopped, ServeConfig, Server};

/// One listener: a server per worker, on that worker's socket.
#[derive(Debug)]
pub(super) struct Listening {
    pub(super) config: ServeConfig,
    /// The certificate, key and client CA as they were read, to see whether a reload changed
    /// them.
    pub(super) tls_files: Option<Vec<Vec<u8>>>,
    /// Handles on the sockets (one per worker), so a restart serves the same ones.
    sockets: Vec<std::net::TcpListener>,
    pub(super) addr: SocketAddr,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<std::io::Result<()>>>,
}

impl Listening {
    /// Serves `config` with one server per `(worker, service)` pair, on `sockets` (one per
    /// pair) or on new ones.
    pub(super) async fn start<S>(
        config: ServeConfig,
        sockets: Option<Vec<std::net::TcpListener>>,
        on: &[(Handle, S)],
    ) -> std::io::Result<Self>
    where
        S: tower_service::Service<
                Request<Body>,
                Response = Response<Body>,
                Error = std::convert::Infallible,
            > + Clone
            + Send
            + 'static,
        S::Future: Send + 'static,
    {
        let sockets = match sockets {
            Some(sockets) => sockets,
            None => bind_sockets(&config.bind, on.len()).await?,
        };
        let addr = sockets
            .first()
            .ok_or_else(|| std::io::Error::other("no worker to serve on"))?
            .local_addr()?;
        let (stop, stop_rx) = watch::channel(false);
        let mut tasks = Vec::with_capacity(on.len());
        for (i, ((worker, service), socket)) in on.iter().zip(&sockets).enumerate() {
            let socket = socket.try_clone()?;
            let server = Server::new(service.clone())
                .config(config.clone())
                .with_graceful_shutdown(stopped(stop_rx.clone()));
            let server = if i == 0 { server } else { server.quiet() };
            tasks.push(worker.spawn(async move {
                // Registered with the worker's own I/O driver.
                server
                    .serve(tokio::net::TcpListener::from_std(socket)?)
                    .await
            }));
        }
        Ok(Listening {
            tls_files: tls_files(&config).await,
            config,
            sockets,
            addr,
            stop,
            tasks,
        })
    }

    /// Stops accepting; open connections finish within the shutdown timeout.
    pub(super) fn stop(&self) {
        let _ = self.stop.send(true);
    }

    pub(super) async fn finish(self) {
        self.stop();
        // The handles kept for a restart close first: once the servers closed theirs, the port
        // refuses new clients while the open connections drain (they would otherwise wait in
        // the accept queue, unserved, until the process ends).
        let Listening {
            sockets,
            tasks,
            addr,
            ..
        } = self;
        drop(sockets);
        for task in tasks {
            match task.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!(addr = %addr, error = %e, "listener failed"),
                Err(e) => tracing::error!(addr = %addr, error = %e, "listener task failed"),
            }
        }
    }

    /// New handles on the same sockets.
    pub(super) fn clone_sockets(&self) -> std::io::Result<Vec<std::net::TcpListener>> {
        self.sockets.iter().map(|s| s.try_clone()).collect()
    }
}

#[cfg(feature = "tls")]
pub(super) async fn tls_files(config: &ServeConfig) -> Option<Vec<Vec<u8>>> {
    let tls = config.tls.as_ref()?;
    let mut files = Vec::with_capacity(3 + 2 * tls.certs.len());
    let pairs = tls.certs.iter().flat_map(|p| [&p.cert, &p.key]);
    for path in [Some(&tls.cert), Some(&tls.key), tls.client_ca.as_ref()]
        .into_iter()
        .flatten()
        .chain(pairs)
    {
        files.push(tokio::fs::read(path).await.unwrap_or_default());
    }
    Some(files)
}

#[cfg(not(feature = "tls"))]
pub(super) async fn tls_files(_config: &ServeConfig) -> Option<Vec<Vec<u8>>> {
    None
}
