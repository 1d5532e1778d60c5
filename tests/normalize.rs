//! The normalize layer in front of the echo service, over TCP.

mod support;

use support::{raw_get, raw_request, start, TestServer};
use tollgate::echo::EchoService;
use tollgate::normalize::{Action, NormalizeConfig, NormalizeLayer, PathOptions, TrailingSlash};
use tollgate::{handler, HttpError, Request, Response};
use tower::Layer;

async fn echo_behind(config: NormalizeConfig) -> TestServer {
    start(NormalizeLayer::new(config).layer(EchoService::new())).await
}

#[tokio::test]
async fn echo_sees_the_normalized_target() {
    let server = echo_behind(NormalizeConfig::default()).await;
    let res = raw_get(server.addr, "/a/./b/%2e%2E/c//d%7e?x=%7e&y=%3a", &[]).await;
    assert_eq!(res.status, 200, "{}", res.text());
    let echo = res.json();
    assert_eq!(echo["target"], "/a/c/d~?x=~&y=%3A");
    assert_eq!(echo["path"], "/a/c/d~");
}

#[tokio::test]
async fn echo_sees_the_normalized_host() {
    let server = echo_behind(NormalizeConfig::default()).await;
    let res = raw_request(server.addr, "GET / HTTP/1.1\r\nHost: Example.COM.:80").await;
    let echo = res.json();
    let host = echo["headers"]
        .as_array()
        .and_then(|h| h.iter().find(|p| p[0] == "host"))
        .map(|p| p[1].clone());
    assert_eq!(host, Some("example.com".into()), "{echo}");
}

#[tokio::test]
async fn each_refusal_is_a_400_with_its_reason() {
    let server = echo_behind(NormalizeConfig::default()).await;
    let cases = [
        ("GET /../etc/passwd HTTP/1.1", "climbs above the root"),
        ("GET /a/%2e%2e/%2E%2E/etc HTTP/1.1", "climbs above the root"),
        ("GET /a%2Fb HTTP/1.1", "encoded slash"),
        ("GET /a%5Cb HTTP/1.1", "backslash"),
        ("GET /a%00.txt HTTP/1.1", "NUL"),
        ("GET /a%0d%0aSet-Cookie:x=1 HTTP/1.1", "control character"),
        ("GET /a%zz HTTP/1.1", "malformed percent-encoding"),
        ("GET /x?a=%g1 HTTP/1.1", "malformed percent-encoding"),
        ("GET * HTTP/1.1", "only for OPTIONS"),
        ("CONNECT example.com:443 HTTP/1.1", "CONNECT"),
    ];
    for (line, reason) in cases {
        let res = raw_request(
            server.addr,
            &format!("{line}\r\nHost: localhost\r\nAccept: application/json"),
        )
        .await;
        assert_eq!(res.status, 400, "{line}: {}", res.text());
        let body = res.json();
        let message = body["error"].as_str().unwrap_or_default();
        assert!(
            message.contains(reason),
            "{line}: {message:?} lacks {reason:?}"
        );
    }
    let res = raw_request(server.addr, "GET / HTTP/1.1\r\nHost: a..b").await;
    assert_eq!(res.status, 400);
    assert!(res.text().contains("labels must be"), "{}", res.text());
}

#[tokio::test]
async fn options_asterisk_passes() {
    let server = echo_behind(NormalizeConfig::default()).await;
    let res = raw_request(server.addr, "OPTIONS * HTTP/1.1\r\nHost: localhost").await;
    assert_eq!(res.status, 200, "{}", res.text());
}

#[tokio::test]
async fn redirects_with_308_when_configured() {
    let config = NormalizeConfig::default().action(Action::Redirect);
    let server = echo_behind(config).await;
    let res = raw_get(server.addr, "/a//b/../c?q=%7e", &[]).await;
    assert_eq!(res.status, 308);
    assert_eq!(res.header("location"), Some("/a/c?q=~"));
    // Already normal: served.
    assert_eq!(raw_get(server.addr, "/a/c?q=~", &[]).await.status, 200);
}

#[tokio::test]
async fn strict_slashes_redirect_and_rewrite_the_rest() {
    let config = NormalizeConfig::default()
        .trailing_slash_action(Action::Redirect)
        .path(PathOptions::default().trailing_slash(TrailingSlash::Add));
    let server = echo_behind(config).await;
    let res = raw_get(server.addr, "/docs", &[]).await;
    assert_eq!(
        (res.status.as_u16(), res.header("location")),
        (308, Some("/docs/"))
    );
    let res = raw_get(server.addr, "/docs/./a//", &[]).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.json()["path"], "/docs/a/");
}

/// axum#1978: a normalizing layer that runs after routing does nothing. Here normalization
/// wraps whatever routes, so the route for `/users/7` serves `/users//./7/`.
#[tokio::test]
async fn normalized_path_reaches_the_route() {
    let router = handler::from_fn(|req: Request| async move {
        match req.path().as_ref() {
            "/users/7" => Ok(Response::text("user 7")),
            other => Err(HttpError::not_found(format!("no route for {other}"))),
        }
    });
    let config = NormalizeConfig::default()
        .path(PathOptions::default().trailing_slash(TrailingSlash::Strip));
    let server = start(NormalizeLayer::new(config).layer(router)).await;
    let res = raw_get(server.addr, "/users//./7/", &[]).await;
    assert_eq!((res.status.as_u16(), res.text().as_ref()), (200, "user 7"));
    let res = raw_get(server.addr, "/admin/../users/%37", &[]).await;
    assert_eq!((res.status.as_u16(), res.text().as_ref()), (200, "user 7"));
}
