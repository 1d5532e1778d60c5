//! Filters written as functions, through real sockets: in tollgate's `serve`, in an axum
//! router, behind bare hyper, and in front of the reverse proxy; panics answered `500` on a
//! connection that stays usable; `examples/filters.rs` over TCP.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http::StatusCode;
use support::*;
use tollgate::filter::body::transform_response;
use tollgate::filter::{self, CatchPanicLayer, Next};
use tollgate::{handler, Body, HttpError, Request, Response};
use tower::{Layer, ServiceBuilder};

#[allow(dead_code)]
#[path = "../examples/filters.rs"]
mod filters_example;

/// A handler that counts its calls and echoes the method, path and body.
fn echo(calls: Arc<AtomicUsize>) -> handler::Handler<impl Fn(Request) -> EchoFuture + Clone> {
    handler::from_fn(move |mut req: Request| {
        let calls = Arc::clone(&calls);
        let fut: EchoFuture = Box::pin(async move {
            calls.fetch_add(1, Ordering::SeqCst);
            let body = req.text(1 << 20).await?;
            let user = req.header("x-user").unwrap_or("-").to_owned();
            Ok(Response::text(format!(
                "{} {} {user} {body}",
                req.method(),
                req.path()
            )))
        });
        fut
    })
}

type EchoFuture =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Response, HttpError>> + Send>>;

async fn guard(req: Request, next: Next) -> Result<Response, HttpError> {
    if req.path() == "/forbidden" {
        return Err(HttpError::forbidden("filtered out"));
    }
    let res = next.run(req).await?;
    Ok(res.header("x-filtered", "yes"))
}

#[tokio::test]
async fn a_function_filter_changes_answers_and_refuses_without_the_handler() {
    let calls = Arc::new(AtomicUsize::new(0));
    let server = start(filter::from_fn(guard).layer(echo(Arc::clone(&calls)))).await;
    let res = server.get("/a", NO_HEADERS).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.header("x-filtered"), Some("yes"));
    assert_eq!(res.text(), "GET /a - ");
    let refused = server
        .get("/forbidden", &[("accept", "application/json")])
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.header("content-type"), Some("application/json"));
    assert_eq!(refused.json()["error"], "filtered out");
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "the handler never saw /forbidden"
    );
}

/// Reads the body, changes the request, and the handler still reads the same body.
async fn inspect(mut req: Request, next: Next) -> Result<Response, HttpError> {
    let body = req.bytes(1024).await?;
    if body.as_ref() == b"drop tables" {
        return Err(HttpError::bad_request("no"));
    }
    req.as_http_mut()
        .headers_mut()
        .insert("x-user", http::HeaderValue::from_static("ada"));
    next.run(req).await
}

#[tokio::test]
async fn a_filter_that_read_the_body_passes_it_on() {
    let calls = Arc::new(AtomicUsize::new(0));
    let server = start(filter::from_fn(inspect).layer(echo(calls))).await;
    let post = |body: &'static str| {
        http::Request::post(server.url("/p"))
            .body(Body::from(body))
            .unwrap()
    };
    let res = fetch(post("hello")).await;
    assert_eq!(
        (res.status.as_u16(), res.text().as_ref()),
        (200, "POST /p ada hello")
    );
    let res = fetch(post("drop tables")).await;
    assert_eq!(res.status, 400);
}

#[derive(Clone)]
struct Quota {
    left: Arc<AtomicUsize>,
}

async fn quota(state: Quota, req: Request, next: Next) -> Result<Response, HttpError> {
    let left = state
        .left
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
    if left.is_err() {
        return Err(HttpError::too_many_requests(60));
    }
    next.run(req).await
}

#[tokio::test]
async fn state_is_shared_by_every_request() {
    let state = Quota {
        left: Arc::new(AtomicUsize::new(2)),
    };
    let calls = Arc::new(AtomicUsize::new(0));
    let server = start(filter::from_fn_with_state(state, quota).layer(echo(calls))).await;
    assert_eq!(server.get("/", NO_HEADERS).await.status, 200);
    assert_eq!(server.get("/", NO_HEADERS).await.status, 200);
    let third = server.get("/", NO_HEADERS).await;
    assert_eq!(third.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(third.header("retry-after"), Some("60"));
}

#[tokio::test]
async fn map_request_map_response_and_predicate_compose() {
    let calls = Arc::new(AtomicUsize::new(0));
    let stack = ServiceBuilder::new()
        .layer(filter::map_response(|res: Response| {
            res.header("x-answered-by", "tollgate")
        }))
        .layer(filter::predicate(|req: &Request| {
            match req.header("user-agent") {
                Some(agent) if agent.contains("BadBot") => Err(HttpError::forbidden("no bots")),
                _ => Ok(()),
            }
        }))
        .layer(filter::map_request(|mut req: Request| {
            req.as_http_mut()
                .headers_mut()
                .insert("x-user", http::HeaderValue::from_static("mapped"));
            Ok(req)
        }))
        .service(echo(Arc::clone(&calls)));
    let server = start(stack).await;
    let res = server.get("/x", NO_HEADERS).await;
    assert_eq!(res.text(), "GET /x mapped ");
    assert_eq!(res.header("x-answered-by"), Some("tollgate"));
    let bot = server.get("/x", &[("user-agent", "BadBot/1.0")]).await;
    assert_eq!(bot.status, 403);
    assert_eq!(bot.header("x-answered-by"), Some("tollgate"));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_filter_works_as_an_axum_layer() {
    let router = axum::Router::new()
        .route("/", axum::routing::get(|| async { "from axum" }))
        .layer(filter::from_fn(guard));
    // axum's bodies are `Send` but not `Sync`: `Body::from_send` makes them a tollgate `Body`.
    let service = ServiceBuilder::new()
        .map_response(|res: http::Response<axum::body::Body>| res.map(Body::from_send))
        .service(router);
    let server = start(service).await;
    let res = server.get("/", NO_HEADERS).await;
    assert_eq!(res.text(), "from axum");
    assert_eq!(res.header("x-filtered"), Some("yes"));
    assert_eq!(server.get("/forbidden", NO_HEADERS).await.status, 403);
}

#[tokio::test]
async fn a_filter_works_behind_bare_hyper() {
    let calls = Arc::new(AtomicUsize::new(0));
    let addr = gateway(filter::from_fn(guard).layer(echo(calls))).await;
    let res = get(&format!("http://{addr}/h")).await;
    assert_eq!(res.header("x-filtered"), Some("yes"));
    assert_eq!(res.text(), "GET /h - ");
}

/// A handler that panics on `/panic` and answers everything else.
async fn panicky(req: Request) -> Result<Response, HttpError> {
    if req.path() == "/panic" {
        panic!("deliberate panic for {}", req.path());
    }
    Ok(Response::text("page"))
}

/// Two requests on one connection: the answers, and whether the server then closed it.
async fn two_on_one_connection(addr: std::net::SocketAddr, accept: &str) -> String {
    let request = |path: &str, last: bool| {
        format!(
            "GET {path} HTTP/1.1\r\nHost: t\r\nAccept: {accept}\r\nX-Request-Id: rid-7\r\n{}\r\n",
            if last { "Connection: close\r\n" } else { "" }
        )
    };
    let both = format!("{}{}", request("/panic", false), request("/page", true));
    raw(addr, both.as_bytes()).await
}

#[tokio::test]
async fn serve_answers_a_panic_500_and_keeps_the_connection() {
    let server = start(handler::from_fn(panicky)).await;
    let text = two_on_one_connection(server.addr, "application/json").await;
    assert_eq!(count_responses(&text), 2, "{text}");
    let (first, second) = text.split_at(text.rfind("HTTP/1.1 ").unwrap());
    assert!(first.starts_with("HTTP/1.1 500 "), "{first}");
    assert!(first.contains("content-type: application/json"), "{first}");
    assert!(first.contains("request id rid-7"), "{first}");
    assert!(second.starts_with("HTTP/1.1 200 "), "{second}");
    assert!(second.ends_with("page"), "{second}");
}

#[tokio::test]
async fn catch_panic_layer_answers_inside_a_stack() {
    let stack = ServiceBuilder::new()
        .layer(filter::map_response(|res: Response| {
            res.header("x-outer", "ran")
        }))
        .layer(CatchPanicLayer::new())
        .service(handler::from_fn(panicky));
    let server = start(stack).await;
    let text = two_on_one_connection(server.addr, "text/plain").await;
    let (first, second) = text.split_at(text.rfind("HTTP/1.1 ").unwrap());
    assert!(first.starts_with("HTTP/1.1 500 "), "{first}");
    assert!(
        first.contains("x-outer: ran"),
        "the layers above still ran: {first}"
    );
    assert!(first.contains("x-request-id: rid-7"), "{first}");
    assert!(second.starts_with("HTTP/1.1 200 "), "{second}");
}

#[tokio::test]
async fn test_client_answers_a_panic_500() {
    let client = tollgate::testing::TestClient::new(handler::from_fn(panicky));
    let res = client
        .get("/panic")
        .header("accept", "application/json")
        .send()
        .await;
    assert_eq!(res.status(), 500);
    assert_eq!(res.header("content-type"), Some("application/json"));
    assert_eq!(client.get("/page").send().await.status(), 200);
}

#[tokio::test]
async fn the_filters_example_over_tcp() {
    let server = start(filters_example::service()).await;
    let page = get(&server.url("/page")).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.header("x-filtered"), Some("yes"));
    let expected = filters_example::PAGE.replace("</body>", "<p>injected</p></body>");
    assert_eq!(page.text(), expected);
    assert_eq!(
        page.header("content-length"),
        Some(expected.len().to_string().as_str())
    );
    let forbidden = get(&server.url("/forbidden")).await;
    assert_eq!(forbidden.status, 403);
    assert_eq!(forbidden.header("x-filtered"), Some("yes"));
    assert!(forbidden.text().contains("filtered out"));
    // `/panic` then `/page` on one kept-alive connection: 500, then 200.
    let text = two_on_one_connection(server.addr, "text/html").await;
    assert_eq!(count_responses(&text), 2, "{text}");
    let (first, second) = text.split_at(text.rfind("HTTP/1.1 ").unwrap());
    assert!(first.starts_with("HTTP/1.1 500 "), "{first}");
    assert!(first.contains("x-filtered: yes"), "{first}");
    assert!(second.starts_with("HTTP/1.1 200 "), "{second}");
    assert!(second.contains("<p>injected</p></body>"), "{second}");
}

/// The example's filters in front of the reverse proxy: the upstream's page is rewritten, its
/// length fixed, and a streaming transform counts what passed.
#[tokio::test]
async fn filters_in_front_of_the_proxy() {
    let upstream = upstream(|_req| async {
        http::Response::builder()
            .header("content-type", "text/html")
            .header("etag", "\"v1\"")
            .body(full("<html><body>upstream</body></html>"))
            .unwrap()
    })
    .await;
    let proxy = tollgate::proxy::Proxy::new(upstream.url().parse().expect("a valid upstream"));
    let counted = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&counted);
    let stack = ServiceBuilder::new()
        .layer(filter::map_response(move |res: Response| {
            let seen = Arc::clone(&seen);
            transform_response(res, move |chunk: Bytes| {
                seen.fetch_add(chunk.len(), Ordering::SeqCst);
                Ok(chunk)
            })
        }))
        .layer(filter::from_fn(filters_example::inject))
        .service(proxy);
    let server = start(stack).await;
    let res = get(&server.url("/")).await;
    assert_eq!(res.status, 200);
    assert_eq!(
        res.text(),
        "<html><body>upstream<p>injected</p></body></html>"
    );
    assert!(
        res.header("etag").is_none(),
        "the old tag named other bytes"
    );
    assert_eq!(counted.load(Ordering::SeqCst), res.body.len());
}

/// A service that is not ready at its first `poll_ready` (it wakes its task and is ready at
/// the next one), or whose `poll_ready` fails.
#[derive(Clone)]
struct Reluctant {
    polls: Arc<AtomicUsize>,
    fail: bool,
}

impl tower::Service<http::Request<Body>> for Reluctant {
    type Response = http::Response<Body>;
    type Error = std::io::Error;
    type Future = std::future::Ready<Result<http::Response<Body>, std::io::Error>>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), std::io::Error>> {
        if self.fail {
            return std::task::Poll::Ready(Err(std::io::Error::other("no room upstream")));
        }
        if self.polls.fetch_add(1, Ordering::SeqCst) % 2 == 0 {
            cx.waker().wake_by_ref();
            return std::task::Poll::Pending;
        }
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _req: http::Request<Body>) -> Self::Future {
        std::future::ready(Ok(Response::text("ready at last").into_http()))
    }
}

#[tokio::test]
async fn next_waits_for_an_inner_service_that_is_not_ready_and_answers_500_when_it_fails() {
    let polls = Arc::new(AtomicUsize::new(0));
    let waiting = Reluctant {
        polls: Arc::clone(&polls),
        fail: false,
    };
    let client = tollgate::testing::TestClient::new(filter::from_fn(guard).layer(waiting));
    for _ in 0..3 {
        let res = client.get("/").send().await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.header("x-filtered"), Some("yes"));
        assert_eq!(res.text().await, "ready at last");
    }
    assert_eq!(
        polls.load(Ordering::SeqCst),
        6,
        "one Pending and one Ready per request"
    );

    let failing = Reluctant { polls, fail: true };
    let client = tollgate::testing::TestClient::new(filter::from_fn(guard).layer(failing));
    let res = client.get("/").send().await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        res.header("x-filtered"),
        None,
        "the filter saw the error, not an answer"
    );
}
