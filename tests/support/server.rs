//! Services on `127.0.0.1:0`: behind `tollgate::serve` ([`start`]) or bare hyper
//! ([`gateway`]), and test upstreams that record what they receive ([`upstream`]).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tollgate::body::BoxError;
use tollgate::ext::PeerAddr;
use tollgate::serve::{self, ServeConfig, Server};
use tollgate::Body;

use super::{send, Fetched, TEST_TIMEOUT};

/// A server running in the background on `127.0.0.1:<free port>`.
///
/// Dropping it shuts the server down too (the signal's sender goes away); `shutdown().await`
/// also waits for the drain to finish and returns the server's result.
pub struct TestServer {
    /// The address the server listens on.
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    /// `http://127.0.0.1:PORT` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `GET path` with `headers` over a fresh HTTP/1.1 connection.
    pub async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Fetched {
        self.send(Method::GET, path, headers).await
    }

    /// `METHOD path` with `headers` over a fresh HTTP/1.1 connection.
    pub async fn send(
        &self,
        method: impl AsRef<str>,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Fetched {
        send(method, &self.url(path), headers).await
    }

    /// Signals a graceful shutdown and waits for it (bounded by [`TEST_TIMEOUT`]).
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let task = self.task.take().expect("the task is only taken here");
        tokio::time::timeout(TEST_TIMEOUT, task)
            .await
            .expect("the server shut down within the test timeout")
            .expect("the server task did not panic")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Starts `service` with the default [`ServeConfig`] on `127.0.0.1:0`.
pub async fn start<S, B>(service: S) -> TestServer
where
    S: tower::Service<http::Request<Body>, Response = http::Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body<Data = Bytes> + Send + Sync + 'static,
    B::Error: Into<BoxError>,
{
    start_with(service, ServeConfig::default()).await
}

/// Starts `service` with `config` on `127.0.0.1:0` (the config's `bind` is ignored).
pub async fn start_with<S, B>(service: S, config: ServeConfig) -> TestServer
where
    S: tower::Service<http::Request<Body>, Response = http::Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body<Data = Bytes> + Send + Sync + 'static,
    B::Error: Into<BoxError>,
{
    let listener = serve::listen("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener
        .local_addr()
        .expect("a bound listener has an address");
    let (stop, stopped) = oneshot::channel::<()>();
    let server = Server::new(service)
        .config(config)
        .with_graceful_shutdown(async {
            let _ = stopped.await;
        });
    let task = tokio::spawn(server.serve(listener));
    TestServer {
        addr,
        stop: Some(stop),
        task: Some(task),
    }
}

/// Runs `service` on `127.0.0.1:0` behind bare hyper (HTTP/1.1 and h2c, upgrades allowed),
/// putting the peer address in the extensions as `serve` does, but with none of `serve`'s
/// limits: what the proxy tests need to see the proxy alone. It lives as long as the test's
/// runtime.
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
/// that its handler chose to record. It lives as long as the test's runtime.
pub struct Upstream {
    pub addr: SocketAddr,
    pub connections: Arc<AtomicUsize>,
    /// Connections that ended (the gateway closed them or they failed).
    pub closed: Arc<AtomicUsize>,
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

impl Upstream {
    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The requests recorded so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// Connections ended so far.
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

/// An address nothing listens on (bound for a moment, then released).
pub fn dead_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}
