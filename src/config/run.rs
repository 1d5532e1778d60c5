//! Running a configuration file: listeners, the admin listener, and reloads that never drop a
//! connection.
//!
//! Every public listener serves one [`Swappable`] service; a reload builds and checks the new
//! stack first (configuration, certificates, CA files), then swaps it in. A request takes the
//! stack in force when it arrives and finishes on it, so in-flight requests are never affected
//! and keep-alive connections carry on with the new configuration for their next request.
//! A listener whose own settings (timeouts, limits, certificate files) changed is restarted
//! on the very same socket: the new server accepts while the old one finishes its connections.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};

use http::{Request, Response};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::build::{admin, build};
use super::error::{ConfigError, ConfigErrors, KeyPath};
use super::load::load_file;
use super::stack::{Gateway, GatewayFuture};
use super::{AdminConfig, Config};
use crate::body::{Body, BoxError};
use crate::metrics::Metrics;
use crate::serve::{self, ServeConfig, Server};

/// Runs the configuration file at `path` until Ctrl-C or `SIGTERM`, reloading it on `SIGHUP`.
///
/// # Errors
///
/// When the file is wrong (every error, located) or a listener cannot be bound.
pub async fn run(path: impl Into<PathBuf>) -> Result<(), BoxError> {
    // Taken over before anything listens: a SIGHUP during startup must not end the process
    // (its default action); tokio keeps the handler for the life of the process.
    #[cfg(unix)]
    let _early = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    let runner = Runner::start(path).await?;
    runner.run_until_signal().await
}

/// A running gateway: its listeners and the configuration in force.
#[derive(Debug)]
pub struct Runner {
    /// The file reloads read; `None` for a configuration built in code.
    path: Option<PathBuf>,
    metrics: Metrics,
    service: Swappable,
    listeners: Vec<Listening>,
    admin: Option<(AdminConfig, Listening)>,
}

/// The service every public listener runs: the stack in force when a request arrives.
#[derive(Clone, Debug)]
pub struct Swappable {
    current: Arc<RwLock<Gateway>>,
}

impl Swappable {
    fn new(gateway: Gateway) -> Self {
        Swappable {
            current: Arc::new(RwLock::new(gateway)),
        }
    }

    fn current(&self) -> Gateway {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn replace(&self, gateway: Gateway) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = gateway;
    }
}

impl tower_service::Service<Request<Body>> for Swappable {
    type Response = Response<Body>;
    type Error = std::convert::Infallible;
    type Future = GatewayFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        self.current().call_shared(req)
    }
}

/// One server on one socket.
#[derive(Debug)]
struct Listening {
    config: ServeConfig,
    /// The certificate and key as they were read, to see whether a reload changed them.
    tls_files: Option<(Vec<u8>, Vec<u8>)>,
    /// A handle on the socket, so a restart serves the same one.
    socket: std::net::TcpListener,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Listening {
    async fn start<S>(
        config: ServeConfig,
        socket: Option<std::net::TcpListener>,
        service: S,
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
        let socket = match socket {
            Some(socket) => socket,
            None => serve::listen(&config.bind).await?.into_std()?,
        };
        let keep = socket.try_clone()?;
        let listener = tokio::net::TcpListener::from_std(socket)?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let server = Server::new(service)
            .config(config.clone())
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            });
        let task = tokio::spawn(server.serve(listener));
        Ok(Listening {
            tls_files: tls_files(&config).await,
            config,
            socket: keep,
            addr,
            stop: Some(stop),
            task,
        })
    }

    /// Stops accepting; open connections finish within the shutdown timeout.
    fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    async fn finish(mut self) {
        self.stop();
        match self.task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(addr = %self.addr, error = %e, "listener failed"),
            Err(e) => tracing::error!(addr = %self.addr, error = %e, "listener task failed"),
        }
    }
}

#[cfg(feature = "tls")]
async fn tls_files(config: &ServeConfig) -> Option<(Vec<u8>, Vec<u8>)> {
    let tls = config.tls.as_ref()?;
    let cert = tokio::fs::read(&tls.cert).await.unwrap_or_default();
    let key = tokio::fs::read(&tls.key).await.unwrap_or_default();
    Some((cert, key))
}

#[cfg(not(feature = "tls"))]
async fn tls_files(_config: &ServeConfig) -> Option<(Vec<u8>, Vec<u8>)> {
    None
}

impl Runner {
    /// Loads, checks and builds the file at `path`, then binds and serves every listener.
    ///
    /// # Errors
    ///
    /// Every error in the file, located; or the first listener that cannot be bound.
    pub async fn start(path: impl Into<PathBuf>) -> Result<Self, BoxError> {
        let path = path.into();
        let metrics = Metrics::new();
        let (config, gateway) = prepare(&path, &metrics).await?;
        Self::serve(Some(path), config, gateway, metrics).await
    }

    /// Builds and serves a configuration made in code (e.g. from `tollgate proxy`'s flags);
    /// [`reload`](Self::reload) has no file to read and changes nothing.
    ///
    /// # Errors
    ///
    /// Every error of the configuration (key paths, no lines); the first listener that
    /// cannot be bound.
    pub async fn from_config(config: Config) -> Result<Self, BoxError> {
        let mut errors = config.check();
        if !errors.is_empty() {
            errors.sort_by_key(|e| e.path().to_string());
            return Err(ConfigErrors(errors).into());
        }
        let metrics = Metrics::new();
        let gateway = build(&config, &metrics).await?;
        Self::serve(None, config, gateway, metrics).await
    }

    async fn serve(
        path: Option<PathBuf>,
        config: Config,
        gateway: Gateway,
        metrics: Metrics,
    ) -> Result<Self, BoxError> {
        let service = Swappable::new(gateway);
        let mut listeners = Vec::with_capacity(config.listen.len());
        for listen in &config.listen {
            listeners.push(Listening::start(listen.clone(), None, service.clone()).await?);
        }
        let admin = match &config.admin {
            Some(admin_config) => Some((
                admin_config.clone(),
                start_admin(admin_config, &metrics, None).await?,
            )),
            None => None,
        };
        warn_about(&config);
        Ok(Runner {
            path,
            metrics,
            service,
            listeners,
            admin,
        })
    }

    /// The addresses of the public listeners, in file order.
    pub fn addresses(&self) -> Vec<SocketAddr> {
        self.listeners.iter().map(|l| l.addr).collect()
    }

    /// The admin listener's address, when there is one.
    pub fn admin_address(&self) -> Option<SocketAddr> {
        self.admin.as_ref().map(|(_, l)| l.addr)
    }

    /// The counters every listener reports into.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Reads the file again and, when it is right, puts it in force; otherwise nothing changes.
    ///
    /// # Errors
    ///
    /// Every error of the new file, located; a new listener address that cannot be bound.
    pub async fn reload(&mut self) -> Result<(), ConfigErrors> {
        let Some(path) = self.path.clone() else {
            tracing::info!("no configuration file to reload");
            return Ok(());
        };
        let (config, gateway) = prepare(&path, &self.metrics).await?;
        // Bind new addresses first: a failure leaves everything as it was.
        let mut fresh = Vec::new();
        for (i, listen) in config.listen.iter().enumerate() {
            if self.listeners.iter().any(|l| l.config.bind == listen.bind) {
                continue;
            }
            match serve::listen(&listen.bind).await.and_then(|l| l.into_std()) {
                Ok(socket) => fresh.push((listen.bind.clone(), socket)),
                Err(e) => {
                    let at = KeyPath::root().key("listen").index(i).key("bind");
                    let text = std::fs::read_to_string(&path).unwrap_or_default();
                    return Err(
                        ConfigErrors(vec![ConfigError::new(at, e.to_string())]).locate(&text)
                    );
                }
            }
        }
        self.service.replace(gateway);
        let mut old: Vec<Listening> = std::mem::take(&mut self.listeners);
        for listen in &config.listen {
            let same = old.iter().position(|l| l.config.bind == listen.bind);
            let running = match same {
                Some(i) => {
                    let current = old.remove(i);
                    if current.config == *listen && current.tls_files == tls_files(listen).await {
                        current
                    } else {
                        self.restart(current, listen.clone()).await
                    }
                }
                None => {
                    let socket = fresh
                        .iter()
                        .position(|(bind, _)| *bind == listen.bind)
                        .map(|i| fresh.swap_remove(i).1);
                    match Listening::start(listen.clone(), socket, self.service.clone()).await {
                        Ok(l) => l,
                        Err(e) => {
                            tracing::error!(bind = %listen.bind, error = %e, "cannot start a listener");
                            continue;
                        }
                    }
                }
            };
            self.listeners.push(running);
        }
        for gone in old {
            tracing::info!(addr = %gone.addr, "listener removed from the configuration; stopping it");
            tokio::spawn(gone.finish());
        }
        self.reload_admin(config.admin.as_ref()).await;
        warn_about(&config);
        tracing::info!(path = %path.display(), "configuration reloaded");
        Ok(())
    }

    /// Serves `current`'s socket with `config` in a new server and lets the old one finish.
    async fn restart(&self, mut current: Listening, config: ServeConfig) -> Listening {
        let socket = match current.socket.try_clone() {
            Ok(socket) => socket,
            Err(e) => {
                tracing::error!(addr = %current.addr, error = %e, "cannot restart the listener; keeping it");
                return current;
            }
        };
        match Listening::start(config, Some(socket), self.service.clone()).await {
            Ok(new) => {
                current.stop();
                tokio::spawn(current.finish());
                new
            }
            Err(e) => {
                tracing::error!(addr = %current.addr, error = %e, "cannot restart the listener; keeping it");
                current
            }
        }
    }

    async fn reload_admin(&mut self, config: Option<&AdminConfig>) {
        let unchanged = match (&self.admin, config) {
            (Some((old, _)), Some(new)) => old == new,
            (None, None) => true,
            _ => false,
        };
        if unchanged {
            return;
        }
        let old = self.admin.take();
        let socket = match (&old, config) {
            (Some((old_config, l)), Some(new)) if old_config.bind == new.bind => {
                l.socket.try_clone().ok()
            }
            _ => None,
        };
        if let Some((_, listening)) = old {
            tokio::spawn(listening.finish());
        }
        if let Some(config) = config {
            match start_admin(config, &self.metrics, socket).await {
                Ok(l) => self.admin = Some((config.clone(), l)),
                Err(e) => {
                    tracing::error!(bind = %config.bind, error = %e, "cannot start the admin listener")
                }
            }
        }
    }

    /// Serves until Ctrl-C or `SIGTERM`, reloading on `SIGHUP`; a reload that fails is logged
    /// and the running configuration stays.
    ///
    /// # Errors
    ///
    /// When the signal handlers cannot be installed.
    pub async fn run_until_signal(mut self) -> Result<(), BoxError> {
        #[cfg(unix)]
        let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
        let shutdown = serve::shutdown_signal();
        tokio::pin!(shutdown);
        loop {
            #[cfg(unix)]
            let reload = hangup.recv();
            #[cfg(not(unix))]
            let reload = std::future::pending::<Option<()>>();
            tokio::select! {
                () = &mut shutdown => break,
                _ = reload => {
                    tracing::info!("SIGHUP: reloading the configuration");
                    if let Err(errors) = self.reload().await {
                        tracing::error!("reload refused; the running configuration stays. {errors}");
                    }
                }
            }
        }
        self.shutdown().await;
        Ok(())
    }

    /// Stops every listener and waits for their connections to finish.
    pub async fn shutdown(self) {
        let mut all: Vec<Listening> = self.listeners;
        if let Some((_, admin)) = self.admin {
            all.push(admin);
        }
        for listening in &mut all {
            listening.stop();
        }
        for listening in all {
            listening.finish().await;
        }
    }
}

/// Loads, checks and builds the file: the new configuration only if all of it is right.
async fn prepare(path: &Path, metrics: &Metrics) -> Result<(Config, Gateway), ConfigErrors> {
    let (config, text) = load_file(path)?;
    let gateway = build(&config, metrics)
        .await
        .map_err(|errors| errors.locate(&text))?;
    Ok((config, gateway))
}

async fn start_admin(
    config: &AdminConfig,
    metrics: &Metrics,
    socket: Option<std::net::TcpListener>,
) -> std::io::Result<Listening> {
    let listening = Listening::start(
        ServeConfig::bind(&config.bind),
        socket,
        admin(config, metrics),
    )
    .await?;
    tracing::info!(addr = %listening.addr, "admin listener (metrics, health) on http://{}", listening.addr);
    Ok(listening)
}

/// The startup warnings: passwords or metrics exposed.
fn warn_about(config: &Config) {
    #[cfg(feature = "auth")]
    if config.auth.is_some() {
        for listen in &config.listen {
            let tls = {
                #[cfg(feature = "tls")]
                {
                    listen.tls.is_some()
                }
                #[cfg(not(feature = "tls"))]
                {
                    false
                }
            };
            if !tls && !is_loopback(&listen.bind) {
                tracing::warn!(
                    bind = %listen.bind,
                    "Basic auth on plain HTTP on {}: passwords travel in clear text; add `tls` to \
                     the listener or put TLS in front",
                    listen.bind
                );
            }
        }
    } else {
        tracing::warn!("no [auth]: anyone can use this gateway");
    }
    if let Some(admin) = &config.admin {
        if !is_loopback(&admin.bind) {
            tracing::warn!(bind = %admin.bind, "the admin listener is reachable from other machines");
        }
    }
}

/// Whether `bind` only listens on this machine (`127.0.0.1:8080`, `[::1]:8080`, `localhost:8080`).
pub(crate) fn is_loopback(bind: &str) -> bool {
    match bind.parse::<SocketAddr>() {
        Ok(addr) => addr.ip().is_loopback(),
        Err(_) => bind
            .rsplit_once(':')
            .is_some_and(|(host, _)| host.eq_ignore_ascii_case("localhost")),
    }
}
