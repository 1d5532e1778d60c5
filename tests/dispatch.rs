//! Dispatch over TCP in front of the echo service: mounts, parameters, hosts and the answers
//! dispatch gives itself.
#![cfg(feature = "layers")]

mod support;

use http::Method;
use support::start;
use tollgate::dispatch::{get as on_get, Dispatch, MountSlash};
use tollgate::echo::EchoService;
use tollgate::{handler, Request, Response};

fn app() -> tollgate::dispatch::Dispatcher {
    let user = handler::from_fn(|req: Request| async move {
        Response::text(format!("user {}", req.param("id").unwrap_or("?")))
    });
    let v1 = Dispatch::new()
        .route("/users/{id}", on_get(user.clone()))
        .mount("/echo", EchoService::new())
        .build()
        .expect("valid v1 table");
    Dispatch::new()
        .host("*.internal.test", EchoService::new())
        .mount("/api", EchoService::new())
        .mount("/v1", v1)
        .route("/time", on_get(user).post(EchoService::new()))
        .build()
        .expect("valid table")
}

#[tokio::test]
async fn mount_strips_the_prefix_and_echo_shows_it() {
    let server = start(app()).await;
    let echo = server.get("/api/users/7?x=1", &[]).await.json();
    assert_eq!(echo["target"], "/users/7?x=1");
    assert_eq!(echo["script_name"], "/api");
    assert_eq!(
        echo["peer_addr"]
            .as_str()
            .map(|a| a.starts_with("127.0.0.1:")),
        Some(true)
    );
}

#[tokio::test]
async fn nested_mounts_accumulate_over_tcp() {
    let server = start(app()).await;
    let echo = server.get("/v1/echo/deep/path", &[]).await.json();
    assert_eq!(echo["target"], "/deep/path");
    assert_eq!(echo["script_name"], "/v1/echo");
}

#[tokio::test]
async fn slash_semantics_of_a_mount() {
    // axum#2267: `/api/` and `/api` both reach the mounted service's `/`: the first directly,
    // the second through a relative 308 (or directly with MountSlash::Serve).
    let server = start(app()).await;
    let echo = server.get("/api/", &[]).await.json();
    assert_eq!(echo["target"], "/");
    let res = server.get("/api?q=1", &[]).await;
    assert_eq!(res.status, 308);
    assert_eq!(res.header("location"), Some("./api/?q=1"));
    assert_eq!(server.get("/apix", &[]).await.status, 404);

    let serve = Dispatch::new()
        .mount("/api", EchoService::new())
        .mount_slash(MountSlash::Serve)
        .build()
        .unwrap();
    let server = start(serve).await;
    let echo = server.get("/api?q=1", &[]).await.json();
    assert_eq!(echo["target"], "/?q=1");
    assert_eq!(echo["script_name"], "/api");
}

#[tokio::test]
async fn route_parameters_reach_the_handler() {
    let server = start(app()).await;
    let res = server.get("/v1/users/ada%20l", &[]).await;
    assert_eq!(res.body, "user ada l");
}

#[tokio::test]
async fn answers_404_405_501_head_options() {
    let server = start(app()).await;
    let res = server.get("/nope", &[("accept", "application/json")]).await;
    assert_eq!(res.status, 404);
    assert_eq!(res.json()["status"], 404);

    let res = server.send(Method::DELETE, "/time", &[]).await;
    assert_eq!(res.status, 405);
    assert_eq!(res.header("allow"), Some("GET, HEAD, POST, OPTIONS"));

    let brew = Method::from_bytes(b"BREW").unwrap();
    assert_eq!(server.send(brew, "/time", &[]).await.status, 501);

    let head = server.send(Method::HEAD, "/time", &[]).await;
    let get_res = server.get("/time", &[]).await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(
        head.header("content-length"),
        get_res.header("content-length")
    );

    let res = server.send(Method::OPTIONS, "/time", &[]).await;
    assert_eq!(res.status, 204);
    assert_eq!(res.header("allow"), Some("GET, HEAD, POST, OPTIONS"));
}

#[tokio::test]
async fn host_routes_take_the_whole_request() {
    let server = start(app()).await;
    let echo = server
        .get("/time", &[("host", "svc.internal.test:8080")])
        .await
        .json();
    assert_eq!(echo["target"], "/time");
    let res = server.get("/time", &[("host", "internal.test")]).await;
    assert_eq!(res.body, "user ?");
}

/// axum#1978: a `NormalizePathLayer` added with `Router::layer` runs after routing and does
/// nothing. Here the normalize layer wraps the dispatcher, so routing sees the normalized path.
#[tokio::test]
async fn a_normalized_path_reaches_the_right_route() {
    use tollgate::normalize::{NormalizeConfig, NormalizeLayer, PathOptions, TrailingSlash};
    use tower::Layer;

    let config = NormalizeConfig::default()
        .path(PathOptions::default().trailing_slash(TrailingSlash::Strip));
    let server = start(NormalizeLayer::new(config).layer(app())).await;
    for target in [
        "/v1/users/7/",
        "/v1/./users/7",
        "/v1//users/x/../7",
        "/v1/users/%37",
    ] {
        let res = server.get(target, &[]).await;
        assert_eq!(res.status, 200, "{target}");
        assert_eq!(res.body, "user 7", "{target}");
    }
    let echo = server.get("/api/a/./b//c/", &[]).await.json();
    assert_eq!(echo["target"], "/a/b/c");
    assert_eq!(echo["script_name"], "/api");
    // What normalization refuses never reaches a route.
    assert_eq!(
        server
            .get("/v1/users/%2e%2e/%2e%2e/%2e%2e/x", &[])
            .await
            .status,
        400
    );
}
