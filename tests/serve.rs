//! `serve` over real sockets: protocols, Host checks, limits, timeouts, smuggling attempts,
//! graceful shutdown, TLS, the access log.

mod support;

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::StatusCode;
use support::{count_responses, curl, fetch_with, raw, read_to_close, start, start_with};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tollgate::ext::{ConnectionTls, PeerAddr};
use tollgate::serve::{self, ServeConfig};
use tollgate::Body;

type Seen = Arc<Mutex<Vec<String>>>;

/// Answers `path peer tls` without reading the body, recording every path it sees.
fn recorder(
    seen: Seen,
) -> impl tower::Service<
    http::Request<Body>,
    Response = http::Response<Body>,
    Error = Infallible,
    Future = impl Send,
> + Clone {
    tower::service_fn(move |req: http::Request<Body>| {
        let seen = Arc::clone(&seen);
        async move {
            seen.lock().unwrap().push(req.uri().path().to_owned());
            let peer = req.extensions().get::<PeerAddr>().map(|p| p.0.to_string());
            let tls = req.extensions().get::<ConnectionTls>().is_some();
            let host = req
                .headers()
                .get("host")
                .map(|h| h.to_str().unwrap().to_owned());
            let text = format!("{} peer={peer:?} tls={tls} host={host:?}", req.uri().path());
            Ok::<_, Infallible>(http::Response::new(Body::from(text)))
        }
    })
}

/// Reads the whole body (limit 1 KiB) and answers its length, or the read's error status.
fn reader() -> impl tower::Service<
    http::Request<Body>,
    Response = http::Response<Body>,
    Error = Infallible,
    Future = impl Send,
> + Clone {
    tower::service_fn(|req: http::Request<Body>| async move {
        match tollgate::body::to_bytes(req.into_body(), 1024).await {
            Ok(bytes) => Ok::<_, Infallible>(http::Response::new(Body::from(format!(
                "read {}",
                bytes.len()
            )))),
            Err(e) => Ok(e.into_response()),
        }
    })
}

fn seen() -> Seen {
    Arc::new(Mutex::new(Vec::new()))
}

/// Serves [`recorder`] with `config`, sends `bytes` on one connection and reads until the
/// server closes it; returns what came back and the paths the service saw.
async fn exchange(config: ServeConfig, bytes: &[u8]) -> (String, Vec<String>) {
    let seen = seen();
    let server = start_with(recorder(Arc::clone(&seen)), config).await;
    let out = raw(server.addr, bytes).await;
    let paths = seen.lock().unwrap().clone();
    (out, paths)
}

fn short(config: impl FnOnce(&mut ServeConfig)) -> ServeConfig {
    let mut c = ServeConfig::default();
    config(&mut c);
    c
}

#[tokio::test]
async fn answers_http1_with_the_peer_address() {
    let server = start(recorder(seen())).await;
    let res = support::get(&server.url("/hello")).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(
        res.text().starts_with("/hello peer=Some(\"127.0.0.1:"),
        "{}",
        res.text()
    );
    assert!(res.text().contains("tls=false"));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn answers_cleartext_http2() {
    let server = start(recorder(seen())).await;
    let req = http::Request::get(server.url("/h2"))
        .body(Body::empty())
        .unwrap();
    let res = fetch_with(&support::h2_client(), req).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.text().starts_with("/h2 peer=Some("), "{}", res.text());
}

#[tokio::test]
async fn curl_sees_the_answer() {
    let server = start(recorder(seen())).await;
    let res = curl(&[&server.url("/via-curl")]).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(
        res.header("content-length"),
        Some(res.body.len().to_string().as_str())
    );
    let h2 = curl(&["--http2-prior-knowledge", &server.url("/h2c")]).await;
    assert!(h2.text().starts_with("/h2c "), "{}", h2.text());
}

#[tokio::test]
async fn missing_host_is_400_before_the_service() {
    let (out, seen) = exchange(ServeConfig::default(), b"GET /nohost HTTP/1.1\r\n\r\n").await;
    assert!(out.starts_with("HTTP/1.1 400"), "{out}");
    assert!(out.contains("Host"), "the page says what is wrong: {out}");
    assert!(seen.is_empty());
}

#[tokio::test]
async fn repeated_or_malformed_host_is_400() {
    let seen = seen();
    let server = start(recorder(Arc::clone(&seen))).await;
    for request in [
        &b"GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nHost: user@a.example\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a.example/path\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a.example:99999\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: \r\n\r\n",
    ] {
        let out = raw(server.addr, request).await;
        assert!(out.starts_with("HTTP/1.1 400"), "{out}");
        assert!(
            out.to_ascii_lowercase().contains("connection: close"),
            "{out}"
        );
    }
    assert!(seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn http10_without_host_is_served() {
    let (out, _) = exchange(ServeConfig::default(), b"GET /old HTTP/1.0\r\n\r\n").await;
    assert!(out.starts_with("HTTP/1.0 200"), "{out}");
}

#[tokio::test]
async fn absolute_form_target_replaces_host() {
    let (out, _) = exchange(
        ServeConfig::default(),
        b"GET http://a.example/abs HTTP/1.1\r\nHost: b.example\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert!(out.contains("host=Some(\"a.example\")"), "{out}");
}

#[tokio::test]
async fn http2_host_differing_from_authority_is_400() {
    let seen = seen();
    let server = start(recorder(Arc::clone(&seen))).await;
    let req = http::Request::get(server.url("/h2host"))
        .header("host", "other.example")
        .body(Body::empty())
        .unwrap();
    let res = fetch_with(&support::h2_client(), req).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text());
    assert!(seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn request_cap_closes_the_connection() {
    let config = short(|c| c.max_requests_per_connection = 3);
    let one = "GET /n HTTP/1.1\r\nHost: x\r\n\r\n";
    let (out, seen) = exchange(config, one.repeat(5).as_bytes()).await;
    assert_eq!(count_responses(&out), 3, "{out}");
    let last = out.rsplit("HTTP/1.1 ").next().unwrap().to_ascii_lowercase();
    assert!(last.contains("connection: close"), "{out}");
    assert_eq!(seen.len(), 3);
}

#[tokio::test]
async fn slow_request_head_times_out() {
    let config = short(|c| c.header_read_timeout = Duration::from_millis(200));
    // Slowloris: a head that never ends. The server must close; `raw` bounds the wait.
    let (out, seen) = exchange(config, b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n").await;
    assert!(!out.contains("200 OK"), "{out}");
    assert!(seen.is_empty());
}

#[tokio::test]
async fn silent_connection_times_out() {
    // Before a byte arrives the protocol is unknown; hyper's HTTP/1 timer has not started.
    let config = short(|c| c.header_read_timeout = Duration::from_millis(200));
    let server = start_with(recorder(seen()), config).await;
    let mut stream = support::connect(server.addr).await;
    assert_eq!(read_to_close(&mut stream).await, "");
    // Half an HTTP/2 preface, then silence.
    let out = raw(server.addr, b"PRI * HTTP/2.0\r\n").await;
    assert!(!out.contains("200"), "{out}");
}

#[tokio::test]
async fn idle_keep_alive_connection_is_closed() {
    let config = short(|c| c.header_read_timeout = Duration::from_millis(200));
    let (out, _) = exchange(config, b"GET /one HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(count_responses(&out), 1, "{out}");
}

#[tokio::test]
async fn stalled_body_fails_the_read() {
    let config = short(|c| c.body_read_timeout = Duration::from_millis(200));
    let server = start_with(reader(), config).await;
    let out = raw(
        server.addr,
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc",
    )
    .await;
    assert!(out.starts_with("HTTP/1.1 408"), "{out}");
    assert!(out.contains("did not arrive in time"), "{out}");
}

#[tokio::test]
async fn body_is_read_when_it_arrives() {
    let server = start(reader()).await;
    let out = raw(
        server.addr,
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
    )
    .await;
    assert!(out.ends_with("read 5"), "{out}");
}

#[tokio::test]
async fn early_answer_with_unread_body_closes_the_connection() {
    // The "body" carries a second request; the length says more is still to come, so the
    // server can neither skip the body nor know where a next request would start.
    let (out, seen) = exchange(
        ServeConfig::default(),
        b"POST /first HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .await;
    assert_eq!(count_responses(&out), 1, "{out}");
    assert_eq!(seen, ["/first"]);
}

#[tokio::test]
async fn early_answer_with_complete_body_keeps_the_framing() {
    let (out, seen) = exchange(
        ServeConfig::default(),
        b"POST /first HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /second HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(count_responses(&out), 2, "{out}");
    assert_eq!(seen, ["/first", "/second"]);
}

#[tokio::test]
async fn content_length_with_transfer_encoding_is_not_smuggled() {
    let (out, seen) = exchange(
        ServeConfig::default(),
        b"POST /first HTTP/1.1\r\nHost: x\r\nContent-Length: 45\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .await;
    assert!(count_responses(&out) <= 1, "{out}");
    assert!(!seen.iter().any(|p| p == "/smuggled"));
}

#[tokio::test]
async fn chunk_size_overflow_is_refused() {
    let server = start(reader()).await;
    let out = raw(
        server.addr,
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nf0000000000000003\r\nabc\r\n0\r\n\r\n",
    )
    .await;
    // The body read fails (a 400 from the service), never a wrapped-around small chunk.
    assert!(out.starts_with("HTTP/1.1 400"), "{out}");
    assert!(!out.contains("read 3"), "{out}");
}

#[tokio::test]
async fn unknown_transfer_encoding_is_400() {
    let (out, seen) = exchange(
        ServeConfig::default(),
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nabc",
    )
    .await;
    assert!(out.starts_with("HTTP/1.1 400"), "{out}");
    assert!(seen.is_empty());
}

/// A service whose `/slow` answers only once `gate` is notified; `entered` says it started.
fn gated(
    entered: Arc<Notify>,
    gate: Arc<Notify>,
) -> impl tower::Service<
    http::Request<Body>,
    Response = http::Response<Body>,
    Error = Infallible,
    Future = impl Send,
> + Clone {
    tower::service_fn(move |_req: http::Request<Body>| {
        let (entered, gate) = (Arc::clone(&entered), Arc::clone(&gate));
        async move {
            entered.notify_one();
            gate.notified().await;
            Ok::<_, Infallible>(http::Response::new(Body::from("finished")))
        }
    })
}

#[tokio::test]
async fn graceful_shutdown_lets_in_flight_requests_finish() {
    let (entered, gate) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let server = start(gated(Arc::clone(&entered), Arc::clone(&gate))).await;
    let addr = server.addr;
    let url = server.url("/slow");
    let request = tokio::spawn(async move { support::get(&url).await });
    entered.notified().await;
    let shutdown = tokio::spawn(server.shutdown());
    // The listener closes at once; the in-flight request is still answered.
    tokio::time::timeout(support::TEST_TIMEOUT, async {
        while TcpStream::connect(addr).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the listener closed");
    gate.notify_one();
    let res = request.await.unwrap();
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.text(), "finished");
    shutdown.await.unwrap().unwrap();
}

#[tokio::test]
async fn shutdown_drain_is_bounded() {
    let (entered, gate) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let config = short(|c| c.shutdown_timeout = Duration::from_millis(200));
    let server = start_with(gated(Arc::clone(&entered), gate), config).await;
    let mut stream = support::connect(server.addr).await;
    stream
        .write_all(b"GET /forever HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    entered.notified().await;
    // The request never finishes; shutdown still returns, and the connection is closed.
    server.shutdown().await.unwrap();
    assert_eq!(read_to_close(&mut stream).await, "");
}

#[tokio::test]
async fn connection_cap_queues_further_clients_until_a_slot_is_idle() {
    let (entered, gate) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let config = short(|c| c.max_connections = 1);
    let server = start_with(gated(Arc::clone(&entered), Arc::clone(&gate)), config).await;
    let mut first = support::connect(server.addr).await;
    first
        .write_all(b"GET /first HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    entered.notified().await;
    let second = tokio::spawn(raw(
        server.addr,
        b"GET /second HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    ));
    tokio::time::sleep(Duration::from_millis(200)).await;
    // A connection with a request in flight is never closed to make room.
    assert!(!second.is_finished(), "the second client waits");
    gate.notify_one();
    // Answered, then idle: it is closed for the waiting client (after `EVICT_AFTER`).
    let out = read_to_close(&mut first).await;
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    entered.notified().await;
    gate.notify_one();
    let out = second.await.unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
}

#[tokio::test]
async fn service_error_is_a_500() {
    let failing = tower::service_fn(|_req: http::Request<Body>| async {
        Err::<http::Response<Body>, _>(std::io::Error::other("database on fire"))
    });
    let server = start(failing).await;
    let res = support::get(&server.url("/")).await;
    assert_eq!(res.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        !res.text().contains("database on fire"),
        "causes stay in the log"
    );
}

#[tokio::test]
async fn busy_port_is_a_clear_error() {
    let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let err = serve::listen(&addr).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    let message = err.to_string();
    assert!(
        message.starts_with(&format!("cannot listen on {addr}: ")),
        "{message}"
    );
    assert!(message.contains("--bind"), "{message}");
}

mod tls {
    use super::*;
    use tollgate::serve::TlsConfig;

    fn fixture(name: &str) -> String {
        format!("{}/tests/fixtures/tls/{name}", env!("CARGO_MANIFEST_DIR"))
    }

    fn config(cert: &str, key: &str) -> ServeConfig {
        short(|c| c.tls = Some(TlsConfig::new(fixture(cert), fixture(key))))
    }

    #[tokio::test]
    async fn terminates_tls_for_http1_and_h2() {
        let server = start_with(recorder(seen()), config("cert.pem", "key.pem")).await;
        let url = format!("https://localhost:{}/secure", server.addr.port());
        let resolve = format!("localhost:{}:127.0.0.1", server.addr.port());
        let cacert = fixture("cert.pem");
        for version in ["--http1.1", "--http2"] {
            let res = curl(&[version, "--cacert", &cacert, "--resolve", &resolve, &url]).await;
            assert_eq!(res.status, StatusCode::OK);
            assert!(res.text().contains("tls=true"), "{}", res.text());
        }
    }

    #[tokio::test]
    async fn missing_certificate_names_the_file() {
        let listener = serve::listen("127.0.0.1:0").await.unwrap();
        let err = serve::Server::new(recorder(seen()))
            .config(config("nope.pem", "key.pem"))
            .serve(listener)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("nope.pem"), "{err}");
    }

    #[tokio::test]
    async fn mismatched_key_names_both_files() {
        let listener = serve::listen("127.0.0.1:0").await.unwrap();
        let err = serve::Server::new(recorder(seen()))
            .config(config("cert.pem", "other-key.pem"))
            .serve(listener)
            .await
            .unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("cert.pem") && message.contains("other-key.pem"),
            "{message}"
        );
    }

    #[tokio::test]
    async fn key_file_without_a_key_is_an_error() {
        let listener = serve::listen("127.0.0.1:0").await.unwrap();
        let err = serve::Server::new(recorder(seen()))
            .config(config("cert.pem", "cert.pem"))
            .serve(listener)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("no PEM private key"), "{err}");
    }
}
