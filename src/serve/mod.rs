//! Running any service on a socket: HTTP/1.1 and cleartext HTTP/2, timeouts, limits, graceful
//! shutdown.
//!
//! [`bind`] is the one-liner; [`Server`] takes a [`ServeConfig`], a listener of your own or a
//! shutdown signal of your own. Both serve until Ctrl-C or `SIGTERM` (unless told otherwise),
//! then stop accepting, let in-flight requests finish for up to
//! [`shutdown_timeout`](ServeConfig::shutdown_timeout) and return.
//!
//! What `serve` adds to hyper, before any service runs:
//!
//! - the peer address in the request's extensions as [`PeerAddr`](crate::ext::PeerAddr), and
//!   [`ConnectionTls`](crate::ext::ConnectionTls) on TLS connections;
//! - `Host` validation ([`host::check`]): a missing, repeated or malformed `Host` on HTTP/1.1,
//!   or an HTTP/2 `Host` that differs from `:authority`, is a 400;
//! - timeouts for a request's head (slowloris), idle connections, each read of a request body
//!   and the whole body ([`BodyReadTimeout`]), each write of the answer, and idle upgraded
//!   connections (WebSocket tunnels);
//! - a cap on connections (upgraded ones included) and on requests per connection;
//! - one access-log line per request through [`tracing`] (target `tollgate::access`: method,
//!   target, status, bytes, duration; never a header, so never an `Authorization` value);
//! - the line `Serving on http://ADDR` on standard output and through `tracing` at startup;
//! - on Linux, on plain HTTP/1.x connections: a file `files::ServeDir` (with
//!   `FileIo::InPlace`) answers from its memory cache goes out with `sendfile(2)` from the page
//!   cache rather than copied from memory (files larger than 64 KiB; `docs/files.md`).
//!
//! An answer given before the request body was read (a 401, a 413, a redirect) is safe: hyper
//! reads what is left of the body if it is already buffered, and otherwise closes the
//! connection after the answer, so leftover body bytes are never parsed as a next request.
//!
//! # Example
//!
//! ```no_run
//! use std::convert::Infallible;
//! use tollgate::{serve::{self, ServeConfig, Server}, Body};
//!
//! # #[tokio::main] async fn main() -> std::io::Result<()> {
//! let service = tower::service_fn(|_req: http::Request<Body>| async {
//!     Ok::<_, Infallible>(http::Response::new(Body::from("hello")))
//! });
//!
//! // The short way: 127.0.0.1:8000 unless `--bind ADDR` or `TOLLGATE_BIND` says otherwise.
//! use std::env;
//! let addr = serve::bind_addr_from(env::args().skip(1), env::var("TOLLGATE_BIND").ok());
//! serve::bind(addr, service.clone()).await?;
//!
//! // With limits of your own and a listener bound elsewhere.
//! let config = ServeConfig { max_connections: 64, ..ServeConfig::default() };
//! let listener = serve::listen("127.0.0.1:0").await?;
//! Server::new(service).config(config).serve(listener).await?;
//! # Ok(()) }
//! ```

mod accept;
mod announce;
mod body;
mod config;
mod conn;
mod connection;
mod evict;
pub mod h2;
pub mod host;
mod io;
#[cfg(feature = "tls")]
mod plain;
mod side;
#[cfg(feature = "tls")]
mod sni;
#[cfg(feature = "tls")]
mod tls;
mod workers;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

pub use self::announce::{announce, announce_as_json};
pub use self::config::{duration, ServeConfig, DEFAULT_BIND};
#[cfg(feature = "tls")]
pub use self::config::{CertPair, ClientAuth, ClientCertStatus, ClientUser, TlsConfig};
pub use self::conn::ServeService;
pub use self::host::HostHeaderError;
#[cfg(feature = "tls")]
pub use self::sni::{set_tls_alpn_challenge, tls_alpn_challenge, ACME_TLS_ALPN};
#[cfg(feature = "config")]
pub(crate) use self::workers::{bind_sockets, stopped, Workers};
pub use self::workers::{serve_workers, BLOCKING_THREADS_PER_WORKER};
pub use crate::body::BodyReadTimeout;

/// Serves `service` on `addr` with the default [`ServeConfig`] until Ctrl-C or `SIGTERM`.
///
/// # Errors
///
/// When the address cannot be bound (the message names it, e.g. `cannot listen on
/// 127.0.0.1:8000: Address already in use`), or the listener fails.
pub async fn bind<S: ServeService>(addr: impl AsRef<str>, service: S) -> std::io::Result<()> {
    Server::new(service)
        .config(ServeConfig::bind(addr.as_ref()))
        .run()
        .await
}

/// Binds a TCP listener on `addr` (`host:port`), with an error that names the address.
///
/// # Errors
///
/// `cannot listen on ADDR: ...` with a hint for the common causes (port in use, address not
/// on this machine, privileged port).
pub async fn listen(addr: &str) -> std::io::Result<TcpListener> {
    use std::io::ErrorKind;
    TcpListener::bind(addr).await.map_err(|e| {
        let hint = match e.kind() {
            ErrorKind::AddrInUse => {
                " (another program listens there: stop it, or choose another address: `bind` in the file, --bind on the command line)"
            }
            ErrorKind::AddrNotAvailable => " (no interface of this machine has that address)",
            ErrorKind::PermissionDenied => " (ports below 1024 need privileges)",
            _ => "",
        };
        std::io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}{hint}"))
    })
}

/// The address a program should listen on: `--bind ADDR` (or `--bind=ADDR`) among `args`,
/// else `env` (the `TOLLGATE_BIND` variable, when the program passes it), else
/// [`DEFAULT_BIND`] (`127.0.0.1:8000`). The examples use it; the `tollgate` command parses the
/// same with clap. The library never reads the process's arguments itself.
///
/// ```
/// use tollgate::serve::bind_addr_from;
///
/// let args = ["--bind", "0.0.0.0:9"].map(String::from);
/// assert_eq!(bind_addr_from(args, None), "0.0.0.0:9");
/// assert_eq!(bind_addr_from(Vec::new(), Some("[::1]:7".into())), "[::1]:7");
/// // In a program, with `use std::env;`:
/// // bind_addr_from(env::args().skip(1), env::var("TOLLGATE_BIND").ok())
/// ```
pub fn bind_addr_from(args: impl IntoIterator<Item = String>, env: Option<String>) -> String {
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == "--bind" {
            if let Some(addr) = args.next() {
                return addr;
            }
        } else if let Some(addr) = arg.strip_prefix("--bind=") {
            return addr.to_owned();
        }
    }
    env.filter(|a| !a.is_empty())
        .unwrap_or_else(|| DEFAULT_BIND.to_owned())
}

type Signal = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A service ready to be served with a [`ServeConfig`].
///
/// ```no_run
/// # use std::convert::Infallible;
/// # use tollgate::{serve::{self, Server}, Body};
/// # #[tokio::main] async fn main() -> std::io::Result<()> {
/// # let service = tower::service_fn(|_req: http::Request<Body>| async {
/// #     Ok::<_, Infallible>(http::Response::new(Body::from("hello")))
/// # });
/// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
/// let listener = serve::listen("127.0.0.1:0").await?;
/// let addr = listener.local_addr()?;
/// let server = tokio::spawn(
///     Server::new(service)
///         .with_graceful_shutdown(async { let _ = stopped.await; })
///         .serve(listener),
/// );
/// // ... talk to `addr` ...
/// let _ = stop.send(());
/// server.await.expect("the server task does not panic")?;
/// # Ok(()) }
/// ```
#[must_use = "a Server does nothing until `run` or `serve` is awaited"]
pub struct Server<S> {
    service: S,
    config: ServeConfig,
    signal: Option<Signal>,
    /// Whether `serve` prints the `Serving on` line (all but one worker stay quiet).
    announce: bool,
}

impl<S> std::fmt::Debug for Server<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<S: ServeService> Server<S> {
    /// A server for `service` with the default [`ServeConfig`].
    pub fn new(service: S) -> Self {
        Server {
            service,
            config: ServeConfig::default(),
            signal: None,
            announce: true,
        }
    }

    /// Replaces the configuration.
    pub fn config(mut self, config: ServeConfig) -> Self {
        self.config = config;
        self
    }

    /// Shuts down gracefully when `signal` completes, instead of on Ctrl-C or `SIGTERM`.
    pub fn with_graceful_shutdown(
        mut self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> Self {
        self.signal = Some(Box::pin(signal));
        self
    }

    /// Does not print the `Serving on` line (for all workers of [`serve_workers`] but one).
    pub(crate) fn quiet(mut self) -> Self {
        self.announce = false;
        self
    }

    /// Binds [`ServeConfig::bind`] and serves until the shutdown signal.
    ///
    /// # Errors
    ///
    /// See [`listen`] and [`serve`](Self::serve).
    pub async fn run(mut self) -> std::io::Result<()> {
        // Before binding: a SIGTERM once clients can connect must stop the server gracefully.
        if self.signal.is_none() {
            self.signal = Some(Box::pin(shutdown_signal()));
        }
        let listener = listen(&self.config.bind).await?;
        self.serve(listener).await
    }

    /// Serves connections from `listener` until the shutdown signal, then drains them.
    ///
    /// Without [`with_graceful_shutdown`](Self::with_graceful_shutdown) the Ctrl-C and
    /// `SIGTERM` handlers are installed here, once `listener` already listens: to stop cleanly
    /// on a signal that arrives before, pass [`shutdown_signal()`] made before binding.
    ///
    /// # Errors
    ///
    /// When the TLS files cannot be loaded (the message names the file) or the listener's
    /// address cannot be read. Errors of single connections are logged, never returned.
    pub async fn serve(self, listener: TcpListener) -> std::io::Result<()> {
        let Server {
            service,
            config,
            signal,
            announce,
        } = self;
        // Installed before the TLS files are read and before the `Serving on` line.
        let mut signal: Signal = signal.unwrap_or_else(|| Box::pin(shutdown_signal()));
        let tls = tls_acceptor(&config).await?;
        let addr = listener.local_addr()?;
        if announce {
            let scheme = if tls.is_some() { "https" } else { "http" };
            self::announce::announce(&format!("Serving on {scheme}://{addr}"));
            tracing::info!(%addr, "Serving on {scheme}://{addr}");
        }

        let shared = Arc::new(Shared {
            builder: builder(&config),
            config,
            connections: evict::Connections::default(),
        });
        let (shutdown_tx, shutdown_rx) = watch::channel(());
        let permits = Arc::new(Semaphore::new(shared.config.max_connections.max(1)));
        let mut tasks = JoinSet::new();
        loop {
            let (permit, accepted) = tokio::select! {
                biased;
                () = &mut signal => break,
                next = evict::next_client(&permits, &listener, &shared.connections) => next,
            };
            let (stream, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept::accept_error(e).await;
                    continue;
                }
            };
            while tasks.try_join_next().is_some() {}
            let socket = Socket {
                stream,
                peer,
                permit,
            };
            let shared = Arc::clone(&shared);
            let (service, shutdown) = (service.clone(), shutdown_rx.clone());
            tasks.spawn(shared.socket(socket, tls.clone(), service, shutdown));
        }

        drop(listener);
        let _ = shutdown_tx.send(());
        drain(tasks, shared.config.shutdown_timeout).await;
        if announce {
            tracing::info!(%addr, "server stopped");
        }
        Ok(())
    }
}

/// What finishes a TLS handshake and names the client by its certificate.
#[cfg(feature = "tls")]
type Acceptor = tls::Tls;
/// What finishes a TLS handshake: never one without the `tls` feature.
#[cfg(not(feature = "tls"))]
type Acceptor = std::convert::Infallible;

/// The TLS acceptor of `config`, its certificate and key loaded; `None` without TLS.
async fn tls_acceptor(config: &ServeConfig) -> std::io::Result<Option<Acceptor>> {
    #[cfg(feature = "tls")]
    if let Some(tls) = &config.tls {
        return Ok(Some(tls::acceptor(tls).await?));
    }
    let _ = config;
    Ok(None)
}

/// An accepted connection, with its slot under `max_connections`.
struct Socket {
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    permit: tokio::sync::OwnedSemaphorePermit,
}

/// Lets the open connections finish for up to `limit` after the listener closed, then closes
/// the rest.
async fn drain(mut tasks: JoinSet<()>, limit: Duration) {
    let open = tasks.len();
    if open > 0 {
        tracing::info!("shutting down: waiting up to {limit:?} for {open} open connection(s)");
    }
    let drain = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(limit, drain).await.is_err() {
        tracing::warn!(
            "{} connection(s) still busy after {limit:?}; closing them",
            tasks.len()
        );
        tasks.shutdown().await;
    }
}

/// How long a connection told to close gracefully for idleness may take before it is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// What every connection task of one server reads.
struct Shared {
    config: ServeConfig,
    builder: auto::Builder<TokioExecutor>,
    /// The open connections, to close the one idle longest when a client needs its slot.
    connections: evict::Connections,
}

fn builder(config: &ServeConfig) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        // The connection's own idle timer (`Shared::connection`) bounds the time to send a
        // head: hyper's would arm a fresh timer for every request, and does not cover a
        // connection that never sends a byte.
        .header_read_timeout(None)
        .keep_alive(config.keep_alive)
        .max_headers(config.max_headers);
    h2::limits(builder.http2().timer(TokioTimer::new()));
    builder
}

impl Shared {
    /// Serves an accepted socket: its timeouts and permit wrapped around it, its TLS handshake
    /// done (within the header read timeout), then [`connection`](Self::connection).
    async fn socket<S: ServeService>(
        self: Arc<Self>,
        socket: Socket,
        tls: Option<Acceptor>,
        service: S,
        shutdown: watch::Receiver<()>,
    ) {
        let Socket {
            stream,
            peer,
            permit,
        } = socket;
        // Small answers go out at once rather than waiting for Nagle's delayed ACK.
        let _ = stream.set_nodelay(true);
        #[cfg(feature = "tls")]
        if tls.is_some()
            && plain::starts_with_plain_http(&stream, self.config.header_read_timeout).await
        {
            return plain::answer(stream, peer, self.config.write_timeout).await;
        }
        // The socket holds the connection's permit: an upgraded connection (a WebSocket
        // tunnel) outlives this task and still counts against `max_connections`.
        let upgraded = Arc::new(AtomicBool::new(false));
        let io = io::ConnIo::new(
            stream,
            permit,
            Arc::clone(&upgraded),
            self.config.write_timeout,
            self.config.tunnel_idle_timeout,
        );
        let Some(tls) = tls else {
            // A plain connection sends the files it answers from memory with `sendfile`.
            #[cfg(sendfile)]
            {
                let region = Arc::new(crate::sendfile::FileRegion::default());
                let io = io.with_file_region(Arc::clone(&region));
                let connection =
                    self.connection(io, peer, (false, None), upgraded, service, shutdown);
                return crate::sendfile::scope(region, connection).await;
            }
            #[cfg(not(sendfile))]
            return self
                .connection(io, peer, (false, None), upgraded, service, shutdown)
                .await;
        };
        #[cfg(feature = "tls")]
        match tokio::time::timeout(self.config.header_read_timeout, tls.acceptor.accept(io)).await {
            // The CA's TLS-ALPN-01 check ends with the handshake.
            Ok(Ok(io)) if io.get_ref().1.alpn_protocol() == Some(sni::ACME_TLS_ALPN) => {}
            Ok(Ok(io)) => {
                let client = tls.clients.as_ref().map(|c| c.identify(io.get_ref().1));
                self.connection(io, peer, (true, client), upgraded, service, shutdown)
                    .await
            }
            Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
            Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
        }
        #[cfg(not(feature = "tls"))]
        match tls {}
    }
}

/// Completes on Ctrl-C (`SIGINT`) or, on Unix, `SIGTERM`.
///
/// The handlers are installed when this function is called, not when the future is first
/// polled: call it before binding a listener and keep the future, so a signal that arrives
/// while the server starts stops it gracefully instead of killing the process (the default
/// action of `SIGTERM`). A signal that arrived before the call is not seen.
///
/// # Panics
///
/// When called outside a Tokio runtime with signals enabled (`enable_all`, or
/// `#[tokio::main]`).
pub fn shutdown_signal() -> ShutdownSignal {
    #[cfg(unix)]
    let wait: Signal = {
        use tokio::signal::unix::{signal, SignalKind};
        // Registered now; a failure leaves that signal to its default action.
        let interrupt = signal(SignalKind::interrupt());
        let terminate = signal(SignalKind::terminate());
        Box::pin(async move {
            let interrupt = async {
                match interrupt {
                    Ok(mut s) => drop(s.recv().await),
                    Err(_) => std::future::pending().await,
                }
            };
            let terminate = async {
                match terminate {
                    Ok(mut s) => drop(s.recv().await),
                    Err(_) => std::future::pending().await,
                }
            };
            tokio::select! {
                () = interrupt => {}
                () = terminate => {}
            }
        })
    };
    #[cfg(not(unix))]
    let wait: Signal = Box::pin(async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    });
    ShutdownSignal { wait }
}

/// The future [`shutdown_signal`] returns: its signal handlers are already installed.
#[must_use = "futures do nothing unless polled"]
pub struct ShutdownSignal {
    wait: Signal,
}

impl std::fmt::Debug for ShutdownSignal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShutdownSignal").finish_non_exhaustive()
    }
}

impl Future for ShutdownSignal {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        std::task::ready!(self.wait.as_mut().poll(cx));
        tracing::info!("shutdown signal received; finishing in-flight requests");
        std::task::Poll::Ready(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn bind_flag_wins_over_env() {
        let addr = bind_addr_from(args(&["--bind", "0.0.0.0:9"]), Some("1.2.3.4:5".into()));
        assert_eq!(addr, "0.0.0.0:9");
        assert_eq!(bind_addr_from(args(&["--bind=[::1]:7"]), None), "[::1]:7");
    }

    #[test]
    fn env_wins_over_default() {
        assert_eq!(
            bind_addr_from(args(&[]), Some("1.2.3.4:5".into())),
            "1.2.3.4:5"
        );
        assert_eq!(bind_addr_from(args(&[]), Some(String::new())), DEFAULT_BIND);
    }

    #[test]
    fn default_is_localhost_8000() {
        assert_eq!(bind_addr_from(args(&["--other"]), None), "127.0.0.1:8000");
        // A dangling flag falls back rather than failing.
        assert_eq!(bind_addr_from(args(&["--bind"]), None), "127.0.0.1:8000");
    }
}
