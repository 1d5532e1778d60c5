//! Helpers for the proxy tests: a gateway running any tower service on `127.0.0.1:0`, test
//! upstreams (plain hyper servers) that record what they received, and raw sockets.
#![allow(dead_code)]

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, Response};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use tollgate::body::BoxError;
use tollgate::ext::PeerAddr;
use tollgate::Body;

/// The bound on every network wait of a test.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs `service` as a gateway on `127.0.0.1:0` (HTTP/1.1 and h2c, upgrades allowed), putting
/// the peer address in the extensions as `serve` does.
pub async fn gateway<S>(service: S) -> SocketAddr
where
    S: tower::Service<Request<Body>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, peer)) = listener.accept().await else {
                return;
            };
            let service = service.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let mut svc = service.clone();
                    let (mut parts, body) = req.into_parts();
                    parts.extensions.insert(PeerAddr(peer));
                    let req = Request::from_parts(parts, Body::new(body));
                    async move {
                        use tower::ServiceExt;
                        svc.ready().await?;
                        svc.call(req).await
                    }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection_with_upgrades(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}

/// What a test upstream saw of one request.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: http::Method,
    pub uri: http::Uri,
    pub version: http::Version,
    pub headers: HeaderMap,
    pub body_len: usize,
    pub trailers: Option<HeaderMap>,
}

type Handler = Arc<
    dyn Fn(Request<Incoming>) -> Pin<Box<dyn Future<Output = Response<UpBody>> + Send>>
        + Send
        + Sync,
>;

/// The body test upstreams answer with.
pub type UpBody = BoxBody<Bytes, BoxError>;

/// A full body for an upstream answer.
pub fn full(data: impl Into<Bytes>) -> UpBody {
    Full::new(data.into()).map_err(|e| match e {}).boxed()
}

/// A hyper HTTP/1.1 server written for the tests; it counts connections and records requests
/// that its handler chose to record.
pub struct Upstream {
    pub addr: SocketAddr,
    pub connections: Arc<AtomicUsize>,
    /// Connections that ended (the gateway closed them or they failed).
    pub closed: Arc<AtomicUsize>,
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

impl Upstream {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    pub fn closed(&self) -> usize {
        self.closed.load(Ordering::SeqCst)
    }
}

/// Starts an upstream whose `handler` answers every request.
pub async fn upstream<F, Fut>(handler: F) -> Upstream
where
    F: Fn(Request<Incoming>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response<UpBody>> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let handler: Handler = Arc::new(move |req| Box::pin(handler(req)));
    let counter = connections.clone();
    let closed = Arc::new(AtomicUsize::new(0));
    let closes = closed.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            counter.fetch_add(1, Ordering::SeqCst);
            let handler = handler.clone();
            let closes = closes.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req| {
                    let fut = handler(req);
                    async move { Ok::<_, Infallible>(fut.await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .with_upgrades()
                    .await;
                closes.fetch_add(1, Ordering::SeqCst);
            });
        }
    });
    Upstream {
        addr,
        connections,
        closed,
        seen: Arc::new(Mutex::new(Vec::new())),
    }
}

/// An upstream that records each request (reading its body whole) and answers `200 ok`.
pub async fn recording_upstream() -> Upstream {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let mut up = upstream(move |req| {
        let log = log.clone();
        async move {
            let seen = record(req).await;
            let len = seen.body_len;
            log.lock().unwrap().push(seen);
            Response::builder()
                .header("x-upstream", "yes")
                .body(full(format!("ok {len}")))
                .unwrap()
        }
    })
    .await;
    up.seen = seen;
    up
}

/// Reads a request whole into a [`Seen`].
pub async fn record(req: Request<Incoming>) -> Seen {
    let (parts, body) = req.into_parts();
    let collected = body.collect().await;
    let (body_len, trailers) = match collected {
        Ok(c) => {
            let trailers = c.trailers().cloned();
            (c.to_bytes().len(), trailers)
        }
        Err(_) => (usize::MAX, None),
    };
    Seen {
        method: parts.method,
        uri: parts.uri,
        version: parts.version,
        headers: parts.headers,
        body_len,
        trailers,
    }
}

/// A hyper client (HTTP/1.1, pooled).
pub fn client(
) -> hyper_util::client::legacy::Client<hyper_util::client::legacy::connect::HttpConnector, Body> {
    hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build_http()
}

/// Sends `raw` on a fresh connection and reads until the server closes it or goes quiet for
/// `quiet`.
pub async fn raw_exchange(addr: SocketAddr, raw: &[u8], quiet: Duration) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(raw).await.unwrap();
    read_until_quiet(&mut stream, quiet).await
}

/// Reads what arrives until the peer closes or nothing comes for `quiet`.
pub async fn read_until_quiet(stream: &mut TcpStream, quiet: Duration) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match tokio::time::timeout(quiet, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A port nothing listens on.
pub fn dead_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

/// A running `tollgate` child, the address it serves on and what it has logged so far.
pub struct Gateway {
    pub child: Child,
    pub addr: String,
    log: Arc<Mutex<String>>,
    /// Ends when the child closes its stderr: the whole log is in `log` then.
    stderr: Option<tokio::task::JoinHandle<()>>,
}

impl Gateway {
    /// Starts `tollgate ARGS` (with `--bind 127.0.0.1:0` unless given) and waits for its
    /// `Serving on` line.
    pub async fn start(args: &[&str]) -> Gateway {
        let mut all: Vec<&str> = args.to_vec();
        if !args.contains(&"--bind") {
            all.extend(["--bind", "127.0.0.1:0"]);
        }
        Self::spawn(&all).await
    }

    /// Writes `toml` to `dir/gateway.toml` and starts `tollgate run` on it (with `before`
    /// arguments first, e.g. `--log info`).
    pub async fn run_file(dir: &std::path::Path, toml: &str, before: &[&str]) -> Gateway {
        let file = dir.join("gateway.toml");
        std::fs::write(&file, toml).unwrap();
        let file = file.to_str().expect("a UTF-8 temporary path").to_owned();
        let mut all = before.to_vec();
        all.extend(["run", &file]);
        Self::spawn(&all).await
    }

    /// Starts `tollgate ARGS` as given (e.g. `run FILE`) and waits for its first `Serving on`
    /// line; the one place the tests start the binary as a server.
    pub async fn spawn(all: &[&str]) -> Gateway {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
            .args(all)
            .env_remove("RUST_LOG")
            .env_remove("TOLLGATE_BIND")
            .env_remove("TOLLGATE_WORKERS")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the tollgate binary runs");
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        let log = Arc::new(Mutex::new(String::new()));
        let sink = log.clone();
        let stderr = tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(TEST_TIMEOUT, lines.next_line())
            .await
            .expect("the startup line within the test timeout")
            .expect("stdout is readable")
            .unwrap_or_default();
        let Some(addr) = first
            .strip_prefix("Serving on http://")
            .or_else(|| first.strip_prefix("Serving on https://"))
        else {
            let _ = child.start_kill();
            let _ = tokio::time::timeout(TEST_TIMEOUT, stderr).await;
            panic!(
                "unexpected startup line {first:?}; log: {}",
                log.lock().unwrap()
            );
        };
        Gateway {
            child,
            addr: addr.to_owned(),
            log,
            stderr: Some(stderr),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The address it serves on.
    pub fn socket_addr(&self) -> SocketAddr {
        self.addr.parse().expect("the gateway prints host:port")
    }

    /// What it has logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// The peak resident memory of the gateway process (VmHWM), in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        let pid = self.child.id().expect("the gateway runs");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM in /proc/PID/status")
    }

    /// Stops the gateway and returns what it logged.
    pub async fn stop(mut self) -> String {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
        if let Some(task) = self.stderr.take() {
            let _ = tokio::time::timeout(TEST_TIMEOUT, task).await;
        }
        self.log()
    }
}

/// Runs `tollgate ARGS` to the end (bounded): whether it succeeded, and its stdout then
/// stderr.
pub async fn run_to_end(args: &[&str]) -> (bool, String) {
    let out = tokio::time::timeout(
        TEST_TIMEOUT,
        Command::new(env!("CARGO_BIN_EXE_tollgate"))
            .args(args)
            .env_remove("RUST_LOG")
            .output(),
    )
    .await
    .expect("tollgate exits")
    .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Runs the gateway to the end and returns what it printed when it fails to start.
pub async fn start_failure(args: &[&str]) -> String {
    let (ok, out) = run_to_end(args).await;
    assert!(!ok, "tollgate should have refused to start: {out}");
    out
}

/// What `curl` printed and the status it reported.
pub struct CurlOutput {
    pub status: u16,
    pub body: String,
    pub stderr: String,
}

/// Runs `curl ARGS -w '\n%{http_code}'` and splits the status off the body.
pub async fn curl(args: &[&str]) -> CurlOutput {
    let out = tokio::time::timeout(
        TEST_TIMEOUT,
        Command::new("curl")
            .args(["-s", "-S", "--max-time", "20", "-w", "\n%{http_code}"])
            .args(args)
            .output(),
    )
    .await
    .expect("curl finished")
    .expect("curl runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').unwrap_or(("", &text));
    CurlOutput {
        status: status.trim().parse().unwrap_or(0),
        body: body.to_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Writes an htpasswd file with one bcrypt user (Apache's own `htpasswd -B`).
pub fn htpasswd_file(dir: &std::path::Path, user: &str, password: &str) -> std::path::PathBuf {
    let out = std::process::Command::new("htpasswd")
        .args(["-nbB", "-C", "5", user, password])
        .output()
        .expect("htpasswd (apache2-utils) is installed");
    assert!(out.status.success());
    let path = dir.join("users.htpasswd");
    std::fs::write(&path, &out.stdout).unwrap();
    path
}
