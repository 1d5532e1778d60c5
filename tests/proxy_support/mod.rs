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
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
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
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            counter.fetch_add(1, Ordering::SeqCst);
            let handler = handler.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req| {
                    let fut = handler(req);
                    async move { Ok::<_, Infallible>(fut.await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .with_upgrades()
                    .await;
            });
        }
    });
    Upstream {
        addr,
        connections,
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
pub fn client() -> hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    Body,
> {
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
