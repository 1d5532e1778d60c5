//! Helpers shared by the integration tests: a real server on `127.0.0.1:0`, a hyper client,
//! `curl`, and raw bytes on a socket.
//!
//! Include with `mod support;` from a file in `tests/`. Not every test file uses every helper.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use http_body_util::BodyExt;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tollgate::body::BoxError;
use tollgate::serve::{self, ServeConfig, Server};
use tollgate::Body;

/// The bound on every network wait of a test: a hung test fails instead of hanging CI.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(20);

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

/// A response read whole.
#[derive(Debug)]
pub struct Fetched {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Fetched {
    /// The header `name` as text, when present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as UTF-8 text.
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("the body is UTF-8")
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("the body is JSON")
    }
}

/// A hyper client over plain TCP (HTTP/1.1; build requests with `http::Request` or
/// `tollgate::Request::get(..)`).
pub fn client() -> Client<HttpConnector, Body> {
    Client::builder(TokioExecutor::new()).build_http()
}

/// A hyper client that speaks cleartext HTTP/2 with prior knowledge (h2c).
pub fn h2_client() -> Client<HttpConnector, Body> {
    Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http()
}

/// Sends `req` with `client` and reads the whole answer, bounded by [`TEST_TIMEOUT`].
pub async fn fetch_with(client: &Client<HttpConnector, Body>, req: http::Request<Body>) -> Fetched {
    let work = async {
        let res = client.request(req).await.expect("the request succeeds");
        let (parts, body) = res.into_parts();
        let body = body.collect().await.expect("the body arrives").to_bytes();
        Fetched {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    };
    tokio::time::timeout(TEST_TIMEOUT, work)
        .await
        .expect("the answer arrived within the test timeout")
}

/// Sends `req` over a fresh HTTP/1.1 client and reads the whole answer.
pub async fn fetch(req: http::Request<Body>) -> Fetched {
    fetch_with(&client(), req).await
}

/// `GET url` over a fresh HTTP/1.1 client.
pub async fn get(url: &str) -> Fetched {
    let req = http::Request::get(url)
        .body(Body::empty())
        .expect("a valid test URL");
    fetch(req).await
}

/// Runs `curl -sS -D /dev/stderr ARGS...` (headers to stderr, body to stdout) and returns
/// the last response's status and headers, and the body.
///
/// # Panics
///
/// When curl is missing (`.ci/run` installs it) or fails (the message shows its stderr).
pub async fn curl(args: &[&str]) -> Fetched {
    let output = tokio::process::Command::new("curl")
        .args(["-sS", "--max-time", "20", "-D", "/dev/stderr"])
        .args(args)
        .output()
        .await
        .expect("curl runs (apt-get install curl; .ci/run does it)");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "curl {args:?} failed: {}\n{stderr}",
        output.status
    );
    // After redirects or `100 Continue` there are several header blocks: the last one counts.
    let block = stderr
        .rsplit_once("\r\n\r\n")
        .map(|(head, _)| head)
        .unwrap_or(&stderr);
    let block = block
        .rfind("HTTP/")
        .map(|i| &block[i..])
        .expect("curl printed a status line");
    let mut lines = block.split("\r\n");
    let status_line = lines.next().expect("a status line");
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let mut headers = HeaderMap::new();
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            let name = http::HeaderName::from_bytes(name.trim().as_bytes()).expect("a header name");
            let value = http::HeaderValue::from_str(value.trim()).expect("a header value");
            headers.append(name, value);
        }
    }
    Fetched {
        status,
        headers,
        body: Bytes::from(output.stdout),
    }
}

/// Writes `bytes` on a fresh connection to `addr`, then reads until the server closes it
/// (bounded by [`TEST_TIMEOUT`]) and returns everything read, lossily as text.
pub async fn raw(addr: SocketAddr, bytes: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(bytes).await.expect("write the request");
    read_to_close(&mut stream).await
}

/// Reads from `stream` until the server closes it, bounded by [`TEST_TIMEOUT`].
pub async fn read_to_close(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let read = tokio::time::timeout(TEST_TIMEOUT, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "the server did not close the connection; read so far: {:?}",
        String::from_utf8_lossy(&out)
    );
    String::from_utf8_lossy(&out).into_owned()
}

/// How many HTTP/1 responses (status lines) `text` holds.
pub fn count_responses(text: &str) -> usize {
    text.matches("HTTP/1.1 ").count() + text.matches("HTTP/1.0 ").count()
}
