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
use tokio::runtime::Handle;

use super::admin_listener::start_admin;
use super::build::build_with;
use super::listening::{tls_files, Listening};
use super::order::route_order_changes;
use super::shared::SharedState;
use super::stack::{Gateway, GatewayFuture};
use crate::body::{Body, BoxError};
use crate::config::{
    load_file, warn_about, AdminConfig, Config, ConfigError, ConfigErrors, KeyPath,
};
use crate::metrics::Metrics;
use crate::serve::{self, bind_sockets, ServeConfig, Workers};

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
    // The same for SIGTERM and Ctrl-C, whose default action kills the process: installed
    // before binding and kept, since a handler made later would not see an earlier signal.
    let shutdown = serve::shutdown_signal();
    let runner = Runner::start(path).await?;
    runner.run_until(shutdown).await
}

/// A running gateway: its worker threads, its listeners and the configuration in force.
///
/// Each worker thread runs its own single-threaded runtime with its own copy of the stack
/// (connection pools) and serves every listener, as nginx's worker processes do; the
/// counters and the [`SharedState`] (the Basic auth layer: failure limits, verification
/// queue and cache) are shared by all workers.
#[derive(Debug)]
pub struct Runner {
    /// The file reloads read; `None` for a configuration built in code.
    path: Option<PathBuf>,
    metrics: Metrics,
    workers: Workers,
    /// The workers' stacks, one per worker.
    services: Vec<Swappable>,
    /// What every worker's stack shares, kept across reloads.
    shared: SharedState,
    listeners: Vec<Listening>,
    admin: Option<(AdminConfig, Listening)>,
    /// The pid file written, removed at shutdown.
    pid_file: Option<PathBuf>,
    /// Where `tollgate reload` asks for a reload and hears the outcome (removed when dropped).
    #[cfg(unix)]
    control: Option<super::control::ControlSocket>,
    /// `SIGHUP`, heard from before anything listens (a stream sees only later signals).
    #[cfg(unix)]
    hangup: Option<tokio::signal::unix::Signal>,
    /// The ACME certificates kept for `tls = { acme = ... }` listeners.
    #[cfg(feature = "acme")]
    acme: super::acme::Managed,
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

impl Runner {
    /// Loads, checks and builds the file at `path`, then starts the workers and serves every
    /// listener.
    ///
    /// # Errors
    ///
    /// Every error in the file, located; or the first listener that cannot be bound.
    pub async fn start(path: impl Into<PathBuf>) -> Result<Self, BoxError> {
        let path = path.into();
        let (config, text) = load_file(&path)?;
        Self::serve(Some(path), config, &text).await
    }

    /// Builds and serves a configuration made in code (e.g. from `tollgate proxy`'s flags);
    /// [`reload`](Self::reload) has no file to read and changes nothing.
    ///
    /// # Errors
    ///
    /// Every error of the configuration (key paths, no lines); the first listener that
    /// cannot be bound.
    pub async fn from_config(config: Config) -> Result<Self, BoxError> {
        Self::serve(None, config, "").await
    }

    async fn serve(path: Option<PathBuf>, config: Config, text: &str) -> Result<Self, BoxError> {
        let metrics = Metrics::new();
        #[cfg(feature = "acme")]
        let (config, acme) = super::acme::Managed::start(config, text, &metrics).await?;
        let workers = Workers::start(config.workers)?;
        let shared = SharedState::new();
        let gateways = build_each(&config, &metrics, &shared, workers.len())
            .await
            .map_err(|errors| errors.locate(text))?;
        let services: Vec<Swappable> = gateways.into_iter().map(Swappable::new).collect();
        tracing::info!(workers = workers.len(), "{} worker threads", workers.len());
        warn(&config);
        let mut runner = Runner {
            path,
            metrics,
            workers,
            services,
            shared,
            listeners: Vec::with_capacity(config.listen.len()),
            admin: None,
            pid_file: None,
            #[cfg(unix)]
            control: None,
            #[cfg(unix)]
            hangup: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok(),
            #[cfg(feature = "acme")]
            acme,
        };
        #[cfg(unix)]
        if runner.path.is_some() {
            // Bound before anything listens: once `Serving on` is printed, a reload is heard.
            match super::control::ControlSocket::bind() {
                Ok(control) => runner.control = Some(control),
                Err(e) => tracing::warn!(
                    error = %e,
                    "no control socket: `tollgate reload` cannot reach this gateway (SIGHUP still reloads)"
                ),
            }
        }
        for listen in &config.listen {
            match Listening::start(listen.clone(), None, &runner.on_workers()).await {
                Ok(listening) => runner.listeners.push(listening),
                Err(e) => {
                    runner.shutdown().await;
                    return Err(e.into());
                }
            }
        }
        if let Some(admin_config) = &config.admin {
            match start_admin(admin_config, &runner.metrics, &runner.shared, None).await {
                Ok(listening) => runner.admin = Some((admin_config.clone(), listening)),
                Err(e) => {
                    runner.shutdown().await;
                    return Err(e.into());
                }
            }
        }
        if let Err(e) = runner.write_pid_file(config.pid_file.as_deref()) {
            runner.shutdown().await;
            return Err(e.into());
        }
        runner.log_summary(&config);
        Ok(runner)
    }

    /// Each worker with its stack, as listeners start servers on them.
    fn on_workers(&self) -> Vec<(Handle, Swappable)> {
        self.workers
            .handles()
            .iter()
            .cloned()
            .zip(self.services.iter().cloned())
            .collect()
    }

    /// Writes this process's id to `path` (removing the previous pid file when it moves).
    fn write_pid_file(&mut self, path: Option<&Path>) -> std::io::Result<()> {
        if self.pid_file.as_deref() == path {
            return Ok(());
        }
        if let Some(path) = path {
            write_pid(path).map_err(|e| {
                let hint = if is_symlink_refusal(&e) {
                    " (it is a symbolic link, which tollgate never follows: remove it, or \
                     point `pid_file` at the real path)"
                } else {
                    ""
                };
                std::io::Error::new(
                    e.kind(),
                    format!("cannot write the pid file {}: {e}{hint}", path.display()),
                )
            })?;
        }
        if let Some(old) = std::mem::replace(&mut self.pid_file, path.map(Path::to_owned)) {
            let _ = std::fs::remove_file(old);
        }
        Ok(())
    }

    /// Logs what runs now: the file, the listeners, auth, the routes.
    fn log_summary(&self, config: &Config) {
        let listeners: Vec<(SocketAddr, bool)> = self
            .listeners
            .iter()
            .map(|l| (l.addr, is_tls(&l.config)))
            .collect();
        super::summary::log(
            self.path.as_deref(),
            config,
            &listeners,
            self.admin_address(),
        );
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

    /// How many worker threads serve the listeners.
    pub fn workers(&self) -> usize {
        self.workers.len()
    }

    /// Reads the file again and, when it is right, puts it in force; otherwise nothing changes.
    /// The number of workers stays as it was started until the process restarts.
    ///
    /// # Errors
    ///
    /// Every error of the new file, located; a new listener address that cannot be bound.
    pub async fn reload(&mut self) -> Result<(), ConfigErrors> {
        let Some(path) = self.path.clone() else {
            tracing::info!("no configuration file to reload");
            return Ok(());
        };
        let (config, text) = load_file(&path)?;
        #[cfg(feature = "acme")]
        let config = self.acme.reloaded(config, &text).await?;
        let gateways = build_each(&config, &self.metrics, &self.shared, self.workers.len())
            .await
            .map_err(|errors| errors.locate(&text))?;
        // Bind new addresses first: a failure leaves everything as it was.
        let mut fresh = Vec::new();
        for (i, listen) in config.listen.iter().enumerate() {
            if self.listeners.iter().any(|l| l.config.bind == listen.bind) {
                continue;
            }
            match bind_sockets(&listen.bind, self.workers.len()).await {
                Ok(sockets) => fresh.push((listen.bind.clone(), sockets)),
                Err(e) => {
                    let at = KeyPath::root().key("listen").index(i).key("bind");
                    return Err(
                        ConfigErrors(vec![ConfigError::new(at, e.to_string())]).locate(&text)
                    );
                }
            }
        }
        if Workers::count(config.workers) != self.workers.len() {
            tracing::warn!(
                running = self.workers.len(),
                "`workers` changed; the new number takes effect when the process restarts"
            );
        }
        for (service, gateway) in self.services.iter().zip(gateways) {
            service.replace(gateway);
        }
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
                    let sockets = fresh
                        .iter()
                        .position(|(bind, _)| *bind == listen.bind)
                        .map(|i| fresh.swap_remove(i).1);
                    match Listening::start(listen.clone(), sockets, &self.on_workers()).await {
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
        if let Err(e) = self.write_pid_file(config.pid_file.as_deref()) {
            tracing::error!(error = %e, "the pid file stays where it was");
        }
        warn(&config);
        tracing::info!(path = %path.display(), "configuration reloaded");
        self.log_summary(&config);
        Ok(())
    }

    /// Serves `current`'s sockets with `config` in new servers and lets the old ones finish.
    async fn restart(&self, current: Listening, config: ServeConfig) -> Listening {
        let started = match current.clone_sockets() {
            Ok(sockets) => Listening::start(config, Some(sockets), &self.on_workers()).await,
            Err(e) => Err(e),
        };
        match started {
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
        let sockets = match (&old, config) {
            (Some((old_config, l)), Some(new)) if old_config.bind == new.bind => {
                l.clone_sockets().ok()
            }
            _ => None,
        };
        if let Some((_, listening)) = old {
            tokio::spawn(listening.finish());
        }
        if let Some(config) = config {
            match start_admin(config, &self.metrics, &self.shared, sockets).await {
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
    /// The handlers are installed when this is called, after the listeners started: a
    /// program that must stop cleanly on a signal sent during startup makes
    /// [`serve::shutdown_signal`] before [`Runner::start`] and calls [`run_until`](Self::run_until).
    ///
    /// # Errors
    ///
    /// When the signal handlers cannot be installed.
    pub async fn run_until_signal(self) -> Result<(), BoxError> {
        self.run_until(serve::shutdown_signal()).await
    }

    /// Serves until `shutdown` completes (e.g. a [`serve::shutdown_signal`] made before the
    /// listeners were bound), reloading on `SIGHUP`, then shuts down gracefully.
    ///
    /// # Errors
    ///
    /// When the `SIGHUP` handler cannot be installed.
    pub async fn run_until(
        mut self,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> Result<(), BoxError> {
        #[cfg(unix)]
        let hangup = self.hangup.take().map(Ok);
        let mut hangup = match hangup.unwrap_or_else(|| {
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        }) {
            Ok(hangup) => hangup,
            Err(e) => {
                self.shutdown().await;
                return Err(e.into());
            }
        };
        #[cfg(unix)]
        let mut reloads = self.serve_control();
        tokio::pin!(shutdown);
        loop {
            #[cfg(unix)]
            let reload = hangup.recv();
            #[cfg(not(unix))]
            let reload = std::future::pending::<Option<()>>();
            #[cfg(unix)]
            let asked = reloads.recv();
            #[cfg(not(unix))]
            let asked = std::future::pending::<
                Option<tokio::sync::oneshot::Sender<Result<(), ConfigErrors>>>,
            >();
            tokio::select! {
                () = &mut shutdown => break,
                _ = reload => {
                    tracing::info!("SIGHUP: reloading the configuration");
                    let _ = self.reload_logged().await;
                }
                Some(tell) = asked => {
                    tracing::info!("tollgate reload: reloading the configuration");
                    let _ = tell.send(self.reload_logged().await);
                }
            }
        }
        tokio::spawn(super::second_signal::exit_at_once());
        self.shutdown().await;
        Ok(())
    }

    /// Starts answering the control socket, if there is one: the reloads it asks for arrive
    /// on the returned channel.
    #[cfg(unix)]
    fn serve_control(&mut self) -> tokio::sync::mpsc::Receiver<super::control::ReloadRequest> {
        let (tell, asked) = tokio::sync::mpsc::channel(1);
        if let (Some(control), Some(path)) = (&mut self.control, &self.path) {
            control.serve(super::control::absolute(path), tell);
        }
        asked
    }

    /// Reloads, logging a refusal; the refusal's errors, located.
    async fn reload_logged(&mut self) -> Result<(), ConfigErrors> {
        let Err(errors) = self.reload().await else {
            return Ok(());
        };
        tracing::error!("reload refused; the running configuration stays. {errors}");
        for e in errors
            .iter()
            .filter(|e| std::error::Error::source(e).is_some())
        {
            // The subscriber prints the error's causes.
            let e: &(dyn std::error::Error + 'static) = e;
            tracing::error!(error = e, "why the reload was refused");
        }
        Err(errors)
    }

    /// Stops every listener, waits for their connections to finish, then stops the workers.
    pub async fn shutdown(self) {
        let mut all: Vec<Listening> = self.listeners;
        if let Some((_, admin)) = self.admin {
            all.push(admin);
        }
        for listening in &all {
            listening.stop();
        }
        for listening in all {
            listening.finish().await;
        }
        self.workers.stop().await;
        if let Some(path) = self.pid_file {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Whether a listener serves TLS.
fn is_tls(config: &ServeConfig) -> bool {
    #[cfg(feature = "tls")]
    {
        config.tls.is_some()
    }
    #[cfg(not(feature = "tls"))]
    {
        let _ = config;
        false
    }
}

/// Builds the stack once per worker, each with its own connection pools; the process-wide
/// parts (the Basic auth layer) come from `shared`, built once for all workers.
async fn build_each(
    config: &Config,
    metrics: &Metrics,
    shared: &SharedState,
    workers: usize,
) -> Result<Vec<Gateway>, ConfigErrors> {
    let mut gateways = Vec::with_capacity(workers);
    for _ in 0..workers {
        gateways.push(build_with(config, metrics, shared).await?);
    }
    Ok(gateways)
}

/// The startup warnings of `config`: exposed secrets and metrics, and each route whose
/// answers changed with the route order rule.
fn warn(config: &Config) {
    warn_about(config);
    for change in route_order_changes(&config.routes) {
        tracing::warn!(route = change.route, "route order: {change}");
    }
}

/// Writes this process's id to `path`, never through a symbolic link: someone who can write
/// the pid file's directory must not make a gateway started as root truncate another file.
fn write_pid(path: &Path) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options
            .mode(0o644)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32);
    }
    #[cfg(not(unix))]
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(std::io::Error::other("refusing a symbolic link"));
    }
    let mut file = options.open(path)?;
    file.write_all(format!("{}\n", std::process::id()).as_bytes())
}

/// Whether opening failed because the path is a symbolic link (`ELOOP` under `O_NOFOLLOW`).
fn is_symlink_refusal(e: &std::io::Error) -> bool {
    #[cfg(unix)]
    {
        e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error())
    }
    #[cfg(not(unix))]
    {
        e.kind() == std::io::ErrorKind::Other
    }
}
