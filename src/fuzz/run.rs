//! Running what the fuzz targets feed: a service called in-process ([`answer`],
//! [`check_service`]), raw bytes through hyper's server ([`serve_raw`]), and the check every
//! answer must pass ([`check_answer`]).

use std::fmt;
use std::future::Future;

use bytes::Bytes;
use http::Method;

use super::FuzzRequest;
use crate::body::{Body, BoxError};

thread_local! {
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime builds when time and I/O drivers are available");
}

/// Calls `service` with `req` through a [`TestClient`](crate::testing::TestClient) and
/// reads the whole answer, blocking the current thread on a thread-local single-threaded
/// runtime.
///
/// # Panics
///
/// When the service returns an error or its body fails: a fuzzed service must answer.
/// Must not be called from inside an async runtime.
pub fn answer<S, ResBody>(service: &S, req: http::Request<Body>) -> http::Response<Bytes>
where
    S: tower_service::Service<http::Request<Body>, Response = http::Response<ResBody>> + Clone,
    S::Error: fmt::Debug,
    ResBody: http_body::Body<Data = Bytes> + Send + Sync + 'static,
    ResBody::Error: Into<BoxError>,
{
    let client = crate::testing::TestClient::new(service.clone());
    block_on(async {
        let res = client.send(req).await;
        let mut answer = http::Response::new(Bytes::new());
        *answer.status_mut() = res.status();
        *answer.headers_mut() = res.headers().clone();
        *answer.body_mut() = res.bytes().await;
        answer
    })
}

/// Serves one HTTP/1.1 connection with hyper's server over an in-memory stream: writes
/// `bytes` as the client, closes the client's sending side, and returns every byte the server
/// wrote back (the answers, in order). No socket and no timeout: the stream ends when the
/// server is done with the input. For fuzzing a hyper-based service (an axum `Router`, a
/// `hyper::service::service_fn`) with raw bytes such as [`RawRequest::bytes`](super::RawRequest::bytes).
///
/// ```
/// use std::convert::Infallible;
///
/// let service = hyper::service::service_fn(|_req| async {
///     Ok::<_, Infallible>(http::Response::new(http_body_util::Full::new(bytes::Bytes::from("hi"))))
/// });
/// let out = tollgate::fuzz::block_on(tollgate::fuzz::serve_raw(
///     service,
///     b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
/// ));
/// assert!(out.starts_with(b"HTTP/1.1 200 OK\r\n"));
/// ```
pub async fn serve_raw<S, B>(service: S, bytes: &[u8]) -> Vec<u8>
where
    S: hyper::service::HttpService<hyper::body::Incoming, ResBody = B>,
    S::Error: Into<BoxError>,
    B: http_body::Body + 'static,
    B::Error: Into<BoxError>,
{
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let (client, server) = tokio::io::duplex(64 * 1024);
    let conn = hyper::server::conn::http1::Builder::new()
        .half_close(true)
        .header_read_timeout(None)
        .serve_connection(hyper_util::rt::TokioIo::new(server), service);
    let (mut read, mut write) = tokio::io::split(client);
    let send = async {
        let _ = write.write_all(bytes).await;
        let _ = write.shutdown().await;
    };
    let mut out = Vec::new();
    let receive = read.read_to_end(&mut out);
    let _ = tokio::join!(conn, send, receive);
    out
}

/// Runs a future to completion on the thread-local fuzzing runtime.
pub fn block_on<F: Future>(future: F) -> F::Output {
    RUNTIME.with(|rt| rt.block_on(future))
}

/// Sends `req` to `service` with [`answer`] and checks the answer with [`check_answer`]: the
/// whole body of a fuzz target.
///
/// # Panics
///
/// As [`answer`] and [`check_answer`].
pub fn check_service<S, ResBody>(service: &S, req: FuzzRequest) -> http::Response<Bytes>
where
    S: tower_service::Service<http::Request<Body>, Response = http::Response<ResBody>> + Clone,
    S::Error: fmt::Debug,
    ResBody: http_body::Body<Data = Bytes> + Send + Sync + 'static,
    ResBody::Error: Into<BoxError>,
{
    let method = req.method().clone();
    let res = answer(service, req.into_http());
    check_answer(&method, &res);
    res
}

/// Panics unless `res` is a valid final answer to a client request with this `method`: not
/// 1xx, not 5xx, and writable as an HTTP/1.1 response that reads back with the same status
/// and body (so its `Content-Length` matches, it has no body where none is allowed, its
/// framing is not ambiguous). For HEAD the body is ignored (the server drops it) and a
/// `Content-Length` must be a valid length (of the GET answer, which is not checked here).
pub fn check_answer(method: &Method, res: &http::Response<Bytes>) {
    let status = res.status();
    assert!(
        !status.is_server_error(),
        "{status} for client input: {:?}",
        String::from_utf8_lossy(&res.body()[..res.body().len().min(200)])
    );
    assert!(!status.is_informational(), "{status} as a final answer");
    let mut copy = http::Response::new(res.body().clone());
    *copy.status_mut() = status;
    *copy.headers_mut() = res.headers().clone();
    if *method == Method::HEAD {
        // The server (hyper) drops any body of a HEAD answer; its Content-Length describes
        // the GET answer.
        if let Err(e) = crate::wire::content_length(res.headers()) {
            panic!("the answer's Content-Length is invalid: {e}");
        }
        copy.headers_mut().remove(http::header::CONTENT_LENGTH);
        *copy.body_mut() = Bytes::new();
    }
    let bytes = crate::wire::write_response(&copy)
        .unwrap_or_else(|e| panic!("the answer is not valid HTTP/1.1: {e}"));
    let (back, used) = crate::wire::parse_response(&bytes)
        .unwrap_or_else(|e| panic!("the answer does not read back: {e}"));
    assert_eq!(used, bytes.len(), "the answer's framing is off");
    assert_eq!(back.status(), status);
    assert_eq!(
        back.body(),
        copy.body(),
        "the answer's body does not read back"
    );
}
