//! The reverse proxy over real sockets: a gateway running `Proxy` in front of hyper upstreams
//! written for the tests.

mod support;

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use support::*;
use tokio::io::AsyncWriteExt;
use tollgate::ext::MountPrefix;
use tollgate::proxy::{HostPolicy, Proxy, ProxyConfig, Upstream};
use tollgate::Body;
use tower::ServiceExt;

fn proxy_to(up: &str, config: ProxyConfig) -> Proxy {
    Proxy::with_config(up.parse::<Upstream>().unwrap(), config).unwrap()
}

async fn timed<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(TEST_TIMEOUT, f)
        .await
        .expect("the test finished within its timeout")
}

/// A gateway that answers `/smuggled*` and `/forbidden*` itself with 403, without reading the
/// body, and proxies the rest: what auth or routing in front of a proxy looks like.
fn filtered(
    proxy: Proxy,
) -> impl tower::Service<
    Request<Body>,
    Response = Response<Body>,
    Error = Infallible,
    Future = impl Send + 'static,
> + Clone
       + Send
       + Sync
       + 'static {
    tower::service_fn(move |req: Request<Body>| {
        let proxy = proxy.clone();
        async move {
            let path = req.uri().path();
            if path.starts_with("/smuggled") || path.starts_with("/forbidden") {
                let mut res = Response::new(Body::from("forbidden"));
                *res.status_mut() = StatusCode::FORBIDDEN;
                return Ok(res);
            }
            proxy.oneshot(req).await
        }
    })
}

#[tokio::test]
async fn origin_form_and_absolute_form_targets_are_rebuilt_for_the_upstream() {
    let up = recording_upstream().await;
    let gw = gateway(proxy_to(&up.url(), ProxyConfig::default())).await;
    timed(async {
        let res = raw_exchange(
            gw,
            b"GET /a/b?c=1 HTTP/1.1\r\nHost: public.example\r\n\r\n",
            Duration::from_millis(300),
        )
        .await;
        assert!(res.starts_with("HTTP/1.1 200"), "{res}");
        let res = raw_exchange(
            gw,
            b"GET http://evil.example/x?y=2 HTTP/1.1\r\nHost: evil.example\r\n\r\n",
            Duration::from_millis(300),
        )
        .await;
        assert!(res.starts_with("HTTP/1.1 200"), "{res}");
    })
    .await;
    let seen = up.seen();
    assert_eq!(seen[0].uri, "/a/b?c=1");
    assert_eq!(
        seen[1].uri, "/x?y=2",
        "only path and query of an absolute-form target"
    );
    let authority = up.addr.to_string();
    assert_eq!(seen[0].headers["host"], authority.as_str());
    assert_eq!(seen[1].headers["host"], authority.as_str());
    assert_eq!(seen[0].headers["x-forwarded-host"], "public.example");
}

#[tokio::test]
async fn base_path_of_the_upstream_is_prefixed() {
    let up = recording_upstream().await;
    let gw = gateway(proxy_to(
        &format!("{}/app/", up.url()),
        ProxyConfig::default(),
    ))
    .await;
    timed(raw_exchange(
        gw,
        b"GET /x?q HTTP/1.1\r\nHost: a\r\n\r\n",
        Duration::from_millis(300),
    ))
    .await;
    assert_eq!(up.seen()[0].uri, "/app/x?q");
}

/// pingora#706 and axum-reverse-proxy#100 on one gateway: a client's `Connection: close, X-Foo`
/// reaches the upstream neither as `Connection` nor as `X-Foo`, the upstream connection is
/// reused, and a WebSocket upgrade still works through the same gateway.
#[tokio::test]
async fn hop_by_hop_headers_stop_here_and_websockets_still_pass() {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let up = upstream(move |mut req| {
        let log = log.clone();
        async move {
            if req.headers().contains_key("sec-websocket-key") {
                return websocket_echo(&mut req);
            }
            let seen = record(req).await;
            log.lock().unwrap().push(seen);
            Response::new(full("ok"))
        }
    })
    .await;
    let gw = gateway(proxy_to(&up.url(), ProxyConfig::default())).await;
    timed(async {
        for _ in 0..3 {
            let res = raw_exchange(
                gw,
                b"GET /h HTTP/1.1\r\nHost: a\r\nConnection: close, X-Foo\r\nX-Foo: secret\r\n\
                  Keep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nTE: gzip\r\n\
                  Proxy-Authorization: Basic eDp5\r\nUpgrade: h2c\r\nX-Kept: 1\r\n\r\n",
                Duration::from_secs(2),
            )
            .await;
            assert!(res.starts_with("HTTP/1.1 200"), "{res}");
            assert!(
                res.to_ascii_lowercase().contains("connection: close"),
                "the client's connection closes as it asked: {res}"
            );
        }
        assert_eq!(
            up.connections(),
            1,
            "one pooled upstream connection for the three requests"
        );

        let (mut ws, res) = tokio_tungstenite::connect_async(format!("ws://{gw}/ws"))
            .await
            .expect("the WebSocket handshake passes the gateway");
        assert_eq!(res.status(), StatusCode::SWITCHING_PROTOCOLS);
        for text in ["hello", "through", "the gateway"] {
            ws.send(text.into()).await.unwrap();
            let echoed = ws.next().await.unwrap().unwrap();
            assert_eq!(echoed.into_text().unwrap().as_str(), text);
        }
        ws.close(None).await.unwrap();
    })
    .await;

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3);
    for s in &seen {
        for name in [
            "connection",
            "x-foo",
            "keep-alive",
            "proxy-connection",
            "te",
            "proxy-authorization",
            "upgrade",
        ] {
            assert!(!s.headers.contains_key(name), "{name} reached the upstream");
        }
        assert_eq!(s.headers["x-kept"], "1");
    }
}

/// Answers a WebSocket handshake with 101 and echoes messages on the upgraded connection.
fn websocket_echo(req: &mut Request<hyper::body::Incoming>) -> Response<UpBody> {
    use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
    use tokio_tungstenite::tungstenite::protocol::Role;
    let key = req.headers()["sec-websocket-key"].as_bytes().to_vec();
    assert_eq!(req.headers()["upgrade"], "websocket");
    let on_upgrade = hyper::upgrade::on(req);
    tokio::spawn(async move {
        let upgraded = on_upgrade.await.unwrap();
        let mut ws = tokio_tungstenite::WebSocketStream::from_raw_socket(
            hyper_util::rt::TokioIo::new(upgraded),
            Role::Server,
            None,
        )
        .await;
        while let Some(Ok(msg)) = ws.next().await {
            if msg.is_text() && ws.send(msg).await.is_err() {
                break;
            }
        }
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-accept", derive_accept_key(&key))
        .body(full(""))
        .unwrap()
}

#[tokio::test]
async fn forwarded_headers_and_via_are_added_and_lies_removed() {
    let up = recording_upstream().await;
    let gw = gateway(proxy_to(&up.url(), ProxyConfig::default())).await;
    let res = timed(raw_exchange(
        gw,
        b"GET / HTTP/1.1\r\nHost: public.example:8080\r\nX-Forwarded-For: 6.6.6.6\r\n\
          X-Forwarded-Proto: https\r\nForwarded: for=6.6.6.6\r\nX-Forwarded-User: admin\r\n\r\n",
        Duration::from_millis(300),
    ))
    .await;
    assert!(
        res.to_ascii_lowercase().contains("via: 1.1 tollgate"),
        "{res}"
    );
    let h = &up.seen()[0].headers;
    assert_eq!(h["x-forwarded-for"], "127.0.0.1");
    assert_eq!(h["x-forwarded-proto"], "http");
    assert_eq!(h["x-forwarded-host"], "public.example:8080");
    assert_eq!(h["via"], "1.1 tollgate");
    assert!(!h.contains_key("forwarded"));
    assert!(
        !h.contains_key("x-forwarded-user"),
        "a client cannot claim a user"
    );
}

#[tokio::test]
async fn host_is_preserved_when_configured() {
    let up = recording_upstream().await;
    let mut config = ProxyConfig::default();
    config.host = HostPolicy::Preserve;
    let gw = gateway(proxy_to(&up.url(), config)).await;
    timed(raw_exchange(
        gw,
        b"GET / HTTP/1.1\r\nHost: public.example\r\n\r\n",
        Duration::from_millis(300),
    ))
    .await;
    assert_eq!(up.seen()[0].headers["host"], "public.example");
}

/// caddy#606: an upstream's `Location: /` must not leak through a prefix-mounted proxy.
#[tokio::test]
async fn location_refresh_and_cookies_are_rewritten_for_the_public_side() {
    let up = upstream(|req| async move {
        let own = req.headers()["host"].to_str().unwrap().to_owned();
        Response::builder()
            .status(StatusCode::FOUND)
            .header("location", format!("http://{own}/app/next?x=1"))
            .header("content-location", "/app/here")
            .header("refresh", "3; url=/app/later")
            .header("set-cookie", "sid=1; Path=/app; Domain=localhost; HttpOnly")
            .header("set-cookie", "other=2; Path=/elsewhere")
            .body(full(""))
            .unwrap()
    })
    .await;
    let proxy = proxy_to(
        &format!("http://localhost:{}/app", up.addr.port()),
        ProxyConfig::default(),
    );
    // What a dispatcher mount at /api tells the services below it.
    let mounted = tower::service_fn(move |mut req: Request<Body>| {
        req.extensions_mut().insert(MountPrefix("/api".into()));
        proxy.clone().oneshot(req)
    });
    let gw = gateway(mounted).await;
    let res = send(
        "GET",
        &format!("http://{gw}/next"),
        &[("host", "gw.example")],
    )
    .await;
    assert_eq!(res.status, StatusCode::FOUND);
    let h = &res.headers;
    assert_eq!(h["location"], "http://gw.example/api/next?x=1");
    assert_eq!(h["content-location"], "/api/here");
    assert_eq!(h["refresh"], "3; url=/api/later");
    let cookies: Vec<_> = h.get_all("set-cookie").iter().collect();
    assert_eq!(
        cookies,
        [
            "sid=1; Path=/api; Domain=gw.example; HttpOnly",
            "other=2; Path=/elsewhere"
        ]
    );
}

#[tokio::test]
async fn expect_continue_waits_for_the_upstream() {
    let up = recording_upstream().await;
    let refusing = upstream(|_req| async {
        Response::builder()
            .status(StatusCode::UNAUTHORIZED)
            .body(full("no"))
            .unwrap()
    })
    .await;
    let gw = gateway(proxy_to(&up.url(), ProxyConfig::default())).await;
    let gw_refusing = gateway(proxy_to(&refusing.url(), ProxyConfig::default())).await;
    timed(async {
        let mut stream = connect(gw).await;
        stream
            .write_all(
                b"POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
            )
            .await
            .unwrap();
        let interim = read_until_quiet(&mut stream, Duration::from_millis(500)).await;
        assert!(interim.starts_with("HTTP/1.1 100 Continue"), "{interim}");
        stream.write_all(b"hello").await.unwrap();
        let answer = read_until_quiet(&mut stream, Duration::from_millis(500)).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.ends_with("ok 5"), "{answer}");

        // An upstream that refuses without reading: the client gets the refusal, no 100.
        let mut stream = connect(gw_refusing).await;
        stream
            .write_all(
                b"POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
            )
            .await
            .unwrap();
        let answer = read_until_quiet(&mut stream, Duration::from_millis(500)).await;
        assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    })
    .await;
    assert_eq!(
        up.seen()[0].headers["expect"],
        "100-continue",
        "the expectation is forwarded"
    );
}

/// hyper-reverse-proxy#51: trailers pass in both directions.
#[tokio::test]
async fn trailers_pass_both_ways() {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let up = upstream(move |req| {
        let log = log.clone();
        async move {
            let seen = record(req).await;
            log.lock().unwrap().push(seen);
            let mut trailers = http::HeaderMap::new();
            trailers.insert("x-checksum", "down".parse().unwrap());
            let frames = futures_util::stream::iter([
                Ok::<_, BoxError>(http_body::Frame::data(Bytes::from_static(b"data"))),
                Ok(http_body::Frame::trailers(trailers)),
            ]);
            Response::builder()
                .header("trailer", "x-checksum")
                .body(BodyExt::boxed(StreamBody::new(frames)))
                .unwrap()
        }
    })
    .await;
    let gw = gateway(proxy_to(&up.url(), ProxyConfig::default())).await;
    let mut trailers = http::HeaderMap::new();
    trailers.insert("x-checksum", "up".parse().unwrap());
    let frames = futures_util::stream::iter([
        Ok::<_, BoxError>(http_body::Frame::data(Bytes::from_static(b"payload"))),
        Ok(http_body::Frame::trailers(trailers)),
    ]);
    let req = Request::post(format!("http://{gw}/t"))
        .header("trailer", "x-checksum")
        .header("te", "trailers")
        .body(Body::new(StreamBody::new(frames)))
        .unwrap();
    let res = timed(client().request(req)).await.unwrap();
    let collected = timed(res.into_body().collect()).await.unwrap();
    assert_eq!(collected.trailers().unwrap()["x-checksum"], "down");
    assert_eq!(collected.to_bytes(), "data");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen[0].trailers.as_ref().unwrap()["x-checksum"], "up");
    assert_eq!(seen[0].body_len, 7);
}

use tollgate::body::BoxError;

#[tokio::test]
async fn upstream_down_is_a_502_naming_it_when_errors_are_exposed() {
    let dead = dead_port();
    let mut config = ProxyConfig::default();
    // Longer than the test's own bound (`timed`): a refused connection must be answered at
    // once, not after the connect timeout.
    config.connect_timeout = TEST_TIMEOUT * 10;
    config.expose_errors = true;
    let gw = gateway(proxy_to(&format!("http://{dead}"), config)).await;
    let res = timed(raw_exchange(
        gw,
        b"GET / HTTP/1.1\r\nHost: a\r\nAccept: text/plain\r\n\r\n",
        Duration::from_millis(300),
    ))
    .await;
    assert!(res.starts_with("HTTP/1.1 502"), "{res}");
    assert!(
        res.contains(&format!("upstream http://{dead} refused the connection")),
        "{res}"
    );
}

#[tokio::test]
async fn slow_upstream_is_a_504() {
    let up = upstream(|_req| async {
        tokio::time::sleep(Duration::from_secs(10)).await;
        Response::new(full("late"))
    })
    .await;
    let mut config = ProxyConfig::default();
    config.first_byte_timeout = Duration::from_millis(300);
    config.expose_errors = true;
    let gw = gateway(proxy_to(&up.url(), config)).await;
    let res = timed(raw_exchange(
        gw,
        b"GET / HTTP/1.1\r\nHost: a\r\nAccept: application/json\r\n\r\n",
        Duration::from_millis(800),
    ))
    .await;
    assert!(res.starts_with("HTTP/1.1 504"), "{res}");
    assert!(res.contains("did not answer within 300 ms"), "{res}");
}

#[tokio::test]
async fn a_content_length_over_the_limit_never_reaches_the_upstream() {
    let up = recording_upstream().await;
    let mut config = ProxyConfig::default();
    config.max_body = Some(1000);
    let gw = gateway(proxy_to(&up.url(), config)).await;
    let res = timed(raw_exchange(
        gw,
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\nxxxx",
        Duration::from_millis(500),
    ))
    .await;
    assert!(res.starts_with("HTTP/1.1 413"), "{res}");
    assert_eq!(up.connections(), 0, "the upstream was never contacted");
}

/// tower-http#610: a chunked body that passes the limit is a clean 413.
#[tokio::test]
async fn a_chunked_body_over_the_limit_is_a_clean_413() {
    let up = recording_upstream().await;
    let mut config = ProxyConfig::default();
    config.max_body = Some(1000);
    let gw = gateway(proxy_to(&up.url(), config)).await;
    let chunks = futures_util::stream::iter(
        (0..10).map(|_| Ok::<_, Infallible>(Bytes::from(vec![b'x'; 500]))),
    );
    let req = Request::post(format!("http://{gw}/"))
        .body(Body::from_stream(chunks))
        .unwrap();
    let res = fetch(req).await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(res.text().contains("limit of 1000 bytes"));
    assert!(
        up.seen().iter().all(|s| s.body_len != 5000),
        "the upstream never got the whole body"
    );
}

/// RUSTSEC-2025-0037 and RUSTSEC-2026-0033/-0034 (pingora): request shapes that could make the
/// bytes of a second request reach the upstream behind the gateway's back.
#[tokio::test]
async fn smuggling_shapes_never_reach_the_upstream() {
    let up = recording_upstream().await;
    let gw = gateway(filtered(proxy_to(&up.url(), ProxyConfig::default()))).await;
    let shapes: [(&str, &[u8]); 4] = [
        (
            "premature upgrade: Upgrade asked for, upstream answers 200",
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n\
              GET /smuggled-upgrade HTTP/1.1\r\nHost: a\r\n\r\n",
        ),
        (
            "HTTP/1.0 with Transfer-Encoding",
            b"POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 29\r\n\r\n\
              0\r\n\r\nGET /smuggled-10 HTTP/1.1\r\nHost: a\r\n\r\n",
        ),
        (
            "Content-Length and Transfer-Encoding",
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n\
              0\r\n\r\nGET /smuggled-clte HTTP/1.1\r\nHost: a\r\n\r\n",
        ),
        (
            "an answer given before the body was read",
            b"POST /forbidden HTTP/1.1\r\nHost: a\r\nContent-Length: 39\r\n\r\n\
              GET /smuggled-early HTTP/1.1\r\nHost: a\r\n\r\n",
        ),
    ];
    for (name, raw) in shapes {
        let res = timed(raw_exchange(gw, raw, Duration::from_millis(500))).await;
        assert!(res.starts_with("HTTP/1."), "{name}: {res}");
    }
    for seen in up.seen() {
        assert!(
            !seen.uri.path().contains("smuggled"),
            "the upstream saw a smuggled request: {seen:?}"
        );
    }
}

#[tokio::test]
async fn proxied_answers_stream_and_keep_their_length() {
    let up = upstream(|req| async move {
        if req.method() == http::Method::HEAD {
            return Response::builder()
                .header("content-length", "12345")
                .body(full(""))
                .unwrap();
        }
        Response::new(full(vec![b'z'; 100_000]))
    })
    .await;
    let gw = gateway(proxy_to(&up.url(), ProxyConfig::default())).await;
    let res = get(&format!("http://{gw}/")).await;
    assert_eq!(res.headers["content-length"], "100000");
    assert_eq!(res.body.len(), 100_000);
    let res = send("HEAD", &format!("http://{gw}/"), NO_HEADERS).await;
    assert_eq!(
        res.headers["content-length"], "12345",
        "HEAD keeps the upstream's length"
    );
}

#[tokio::test]
async fn an_upstream_that_never_accepts_is_a_504_after_the_connect_timeout() {
    // A listener with a backlog of 0 that never accepts: once one connection waits in its
    // queue, the kernel drops further SYNs, so the next connect hangs (checked here first).
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(0).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut queued = Vec::new();
    let mut hangs = false;
    for _ in 0..16 {
        let connect = tokio::net::TcpStream::connect(addr);
        match tokio::time::timeout(Duration::from_millis(500), connect).await {
            Ok(Ok(stream)) => queued.push(stream),
            Ok(Err(e)) => panic!("connecting to the full listener failed at once: {e}"),
            Err(_) => {
                hangs = true;
                break;
            }
        }
    }
    assert!(hangs, "the kernel kept accepting into a full backlog");

    let mut config = ProxyConfig::default();
    config.connect_timeout = Duration::from_millis(200);
    config.expose_errors = true;
    let gw = gateway(proxy_to(&format!("http://{addr}"), config)).await;
    let res = timed(raw_exchange(
        gw,
        b"GET / HTTP/1.1\r\nHost: a\r\nAccept: text/plain\r\nConnection: close\r\n\r\n",
        TEST_TIMEOUT,
    ))
    .await;
    assert!(res.starts_with("HTTP/1.1 504"), "{res}");
    assert!(
        res.contains(&format!(
            "upstream http://{addr} did not accept the connection within 200 ms"
        )),
        "{res}"
    );
    drop((listener, queued));
}

/// `n` requests one after the other through `gw`, each answer read whole: (status, body).
async fn sequential(gw: std::net::SocketAddr, paths: &[(&str, http::Method)]) -> Vec<String> {
    let client = client();
    let mut out = Vec::new();
    for (path, method) in paths {
        let req = Request::builder()
            .method(method.clone())
            .uri(format!("http://{gw}{path}"))
            .body(Body::empty())
            .unwrap();
        let res = fetch_with(&client, req).await;
        out.push(format!("{} {}", res.status.as_u16(), res.text()));
    }
    out
}

#[tokio::test]
async fn upstream_connections_are_reused_after_answers_with_and_without_a_body() {
    let up = upstream(|req| async move {
        match req.uri().path() {
            "/empty" => Response::builder()
                .status(StatusCode::NO_CONTENT)
                .body(full(""))
                .unwrap(),
            "/chunked" => {
                let chunks = futures_util::stream::iter(
                    ["a", "b", "c"].map(|c| Ok(http_body::Frame::data(Bytes::from(c)))),
                );
                Response::new(BodyExt::boxed(StreamBody::new(chunks)))
            }
            _ => Response::new(full("ok")),
        }
    })
    .await;
    let gw = gateway(proxy_to(&up.url(), ProxyConfig::default())).await;
    let got = sequential(
        gw,
        &[
            ("/", http::Method::GET),
            ("/empty", http::Method::GET),
            ("/", http::Method::HEAD),
            ("/chunked", http::Method::GET),
            ("/", http::Method::GET),
        ],
    )
    .await;
    assert_eq!(got, ["200 ok", "204 ", "200 ", "200 abc", "200 ok"]);
    assert_eq!(
        up.connections(),
        1,
        "one upstream connection served them all"
    );
}

#[tokio::test]
async fn an_upstream_closing_idle_connections_never_causes_a_502() {
    // Answers one request per connection and closes it, without `Connection: close`: the
    // proxy finds out only when it tries to reuse the connection.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tokio::io::AsyncReadExt::read(&mut stream, &mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                    .await;
            });
        }
    });
    let gw = gateway(proxy_to(&format!("http://{addr}"), ProxyConfig::default())).await;
    let paths = vec![("/", http::Method::GET); 20];
    let got = sequential(gw, &paths).await;
    assert!(got.iter().all(|r| r == "200 ok"), "{got:?}");
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 20);
}

#[tokio::test]
async fn idle_upstream_connections_close_after_the_pool_idle_timeout() {
    let up = recording_upstream().await;
    let mut config = ProxyConfig::default();
    config.pool_idle_timeout = Duration::from_millis(200);
    let gw = gateway(proxy_to(&up.url(), config)).await;
    assert_eq!(
        sequential(gw, &[("/", http::Method::GET)]).await,
        ["200 ok 0"]
    );
    timed(async {
        while up.closed() == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert_eq!(
        sequential(gw, &[("/", http::Method::GET)]).await,
        ["200 ok 0"]
    );
    assert_eq!(up.connections(), 2, "the expired connection was not reused");
}

#[tokio::test]
async fn a_connection_whose_answer_was_cut_short_is_not_reused() {
    let up = upstream(|req| async move {
        if req.uri().path() == "/big" {
            let chunks = futures_util::stream::iter(0..64).then(|_| async {
                tokio::time::sleep(Duration::from_millis(5)).await;
                Ok(http_body::Frame::data(Bytes::from(vec![b'x'; 16 * 1024])))
            });
            return Response::new(BodyExt::boxed(StreamBody::new(chunks)));
        }
        Response::new(full("small"))
    })
    .await;
    let gw = gateway(proxy_to(&up.url(), ProxyConfig::default())).await;
    let mut stream = connect(gw).await;
    stream
        .write_all(b"GET /big HTTP/1.1\r\nHost: a\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 4096];
    let n = timed(tokio::io::AsyncReadExt::read(&mut stream, &mut buf))
        .await
        .unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    drop(stream);
    let got = sequential(gw, &[("/small", http::Method::GET)]).await;
    assert_eq!(got, ["200 small"]);
    assert_eq!(
        up.connections(),
        2,
        "the cut answer's connection was not reused"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_on_a_multi_thread_runtime_share_the_pool() {
    let up = upstream(|req| async move {
        tokio::time::sleep(Duration::from_millis(5)).await;
        Response::new(full(req.uri().path().to_owned()))
    })
    .await;
    let gw = gateway(proxy_to(&up.url(), ProxyConfig::default())).await;
    let client = client();
    for round in 0..3 {
        let requests = (0..20).map(|i| {
            let client = client.clone();
            async move {
                let req = Request::get(format!("http://{gw}/{round}/{i}"))
                    .body(Body::empty())
                    .unwrap();
                let res = fetch_with(&client, req).await;
                assert_eq!(res.body, format!("/{round}/{i}"));
            }
        });
        timed(futures_util::future::join_all(requests)).await;
    }
    assert!(
        up.connections() <= 20 * 2,
        "connections are reused across rounds: {}",
        up.connections()
    );
}
