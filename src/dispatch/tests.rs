//! The routing table's answers, in-process.

use http::{Method, StatusCode};
use serde_json::Value;

use super::*;
use crate::echo::EchoService;
use crate::testing::TestClient;
use crate::{handler, Request, Response};

fn text(
    body: &'static str,
) -> handler::Handler<impl Fn(Request) -> std::future::Ready<Response> + Clone> {
    handler::from_fn(move |_req: Request| std::future::ready(Response::text(body)))
}

fn client(dispatch: Dispatch) -> TestClient<Dispatcher> {
    TestClient::new(dispatch.build().expect("a valid table"))
}

#[tokio::test]
async fn unknown_path_is_a_negotiated_404() {
    let c = client(Dispatch::new().route("/a", get(text("a"))));
    let res = c
        .get("/b")
        .header("accept", "application/json")
        .send()
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(res.header("content-type"), Some("application/json"));
    let body: Value = res.json().await;
    assert_eq!(body["error"], "no route for `/b`");
}

#[tokio::test]
async fn wrong_method_is_405_with_allow() {
    let c = client(Dispatch::new().route("/time", get(text("t")).post(text("p"))));
    let res = c.delete("/time").send().await;
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(res.header("allow"), Some("GET, HEAD, POST, OPTIONS"));
    assert_eq!(c.post("/time").send().await.text().await, "p");
}

#[tokio::test]
async fn routing_a_path_twice_merges_its_methods() {
    let c = client(
        Dispatch::new()
            .route("/x", get(text("g")))
            .route("/x", put(text("p"))),
    );
    assert_eq!(c.put("/x").send().await.text().await, "p");
    let res = c.delete("/x").send().await;
    assert_eq!(res.header("allow"), Some("GET, HEAD, PUT, OPTIONS"));
}

#[tokio::test]
async fn unknown_method_is_501_known_extension_method_is_405() {
    let purge = Method::from_bytes(b"PURGE").unwrap();
    let brew = Method::from_bytes(b"BREW").unwrap();
    let c = client(
        Dispatch::new()
            .route("/cache", on(purge.clone(), text("purged")))
            .route("/pot", get(text("coffee"))),
    );
    assert_eq!(c.request(brew.clone(), "/pot").send().await.status(), 501);
    assert_eq!(c.request(brew, "/nowhere").send().await.status(), 501);
    // PURGE is known here (a route takes it), so on another path it is a plain 405.
    let res = c.request(purge.clone(), "/pot").send().await;
    assert_eq!(res.status(), 405);
    assert_eq!(
        c.request(purge, "/cache").send().await.text().await,
        "purged"
    );
}

#[tokio::test]
async fn head_is_served_by_get_without_a_body() {
    let c = client(Dispatch::new().route("/a", get(text("hello"))));
    let res = c.request(Method::HEAD, "/a").send().await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.header("content-length"), Some("5"));
    assert!(res.bytes().await.is_empty());
}

#[tokio::test]
async fn options_answers_allow_unless_a_route_handles_it() {
    let c = client(
        Dispatch::new()
            .route("/a", get(text("a")).delete(text("d")))
            .route("/b", get(text("b")).options(text("custom"))),
    );
    let res = c.request(Method::OPTIONS, "/a").send().await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(res.header("allow"), Some("GET, HEAD, DELETE, OPTIONS"));
    let res = c.request(Method::OPTIONS, "/b").send().await;
    assert_eq!(res.text().await, "custom");
}

#[tokio::test]
async fn options_star_lists_every_known_method() {
    let dispatcher = Dispatch::new()
        .route("/c", on(Method::from_bytes(b"PURGE").unwrap(), text("p")))
        .build()
        .unwrap();
    let req = http::Request::builder()
        .method(Method::OPTIONS)
        .uri("*")
        .body(crate::Body::empty())
        .unwrap();
    let res = TestClient::new(dispatcher).send(req).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        res.header("allow"),
        Some("GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH, PURGE")
    );
}

#[tokio::test]
async fn any_takes_every_method_left() {
    let c = client(Dispatch::new().route("/p", get(text("g")).any(text("any"))));
    assert_eq!(c.get("/p").send().await.text().await, "g");
    let brew = Method::from_bytes(b"BREW").unwrap();
    assert_eq!(c.request(brew, "/p").send().await.text().await, "any");
}

#[tokio::test]
async fn params_reach_request_param_decoded() {
    let show = handler::from_fn(|req: Request| async move {
        Response::text(format!(
            "{}|{}",
            req.param("id").unwrap_or("-"),
            req.param("rest").unwrap_or("-")
        ))
    });
    let c = client(
        Dispatch::new()
            .route("/users/{id}", get(show.clone()))
            .route("/users/me", get(text("me")))
            .route("/files/{*rest}", get(show)),
    );
    assert_eq!(c.get("/users/a%20b").send().await.text().await, "a b|-");
    assert_eq!(c.get("/users/me").send().await.text().await, "me");
    assert_eq!(c.get("/files/x/y%2Fz").send().await.text().await, "-|x/y/z");
    // `{*rest}` needs at least one character.
    assert_eq!(c.get("/files/").send().await.status(), 404);
    let res = c.get("/users/%FF").send().await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn mounts_strip_the_prefix_and_record_it() {
    let c = client(Dispatch::new().mount("/api", EchoService::new()));
    let echo: Value = c.get("/api/users?x=1").send().await.json().await;
    assert_eq!(echo["target"], "/users?x=1");
    assert_eq!(echo["script_name"], "/api");
    let echo: Value = c.get("/api/").send().await.json().await;
    assert_eq!(echo["target"], "/");
    assert_eq!(c.get("/apix").send().await.status(), 404);
}

#[tokio::test]
async fn nested_mounts_accumulate_the_prefix() {
    let v1 = Dispatch::new()
        .mount("/v1", EchoService::new())
        .build()
        .unwrap();
    let c = client(Dispatch::new().mount("/api", v1));
    let echo: Value = c.get("/api/v1/items").send().await.json().await;
    assert_eq!(echo["target"], "/items");
    assert_eq!(echo["script_name"], "/api/v1");
}

#[tokio::test]
async fn longest_mount_prefix_wins() {
    let c = client(
        Dispatch::new()
            .mount("/a", text("short"))
            .mount("/a/b", text("long")),
    );
    assert_eq!(c.get("/a/b/c").send().await.text().await, "long");
    assert_eq!(c.get("/a/bc").send().await.text().await, "short");
}

#[tokio::test]
async fn bare_mount_prefix_redirects_relative_with_query() {
    let c = client(Dispatch::new().mount("/api", EchoService::new()));
    let res = c.get("/api?x=1").send().await;
    assert_eq!(res.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(res.header("location"), Some("./api/?x=1"));
}

#[tokio::test]
async fn bare_mount_prefix_is_served_as_root_when_configured() {
    let c = client(
        Dispatch::new()
            .mount("/api", EchoService::new())
            .mount_slash(MountSlash::Serve),
    );
    let echo: Value = c.get("/api?x=1").send().await.json().await;
    assert_eq!(echo["target"], "/?x=1");
    assert_eq!(echo["script_name"], "/api");
}

#[tokio::test]
async fn hosts_route_exact_then_longest_wildcard_then_default() {
    let c = client(
        Dispatch::new()
            .host("api.example.com", text("exact"))
            .host("*.example.com", text("wild"))
            .host("*.eu.example.com", text("eu"))
            .route("/", get(text("default"))),
    );
    let at = |host: &'static str| {
        let c = c.clone();
        async move { c.get("/").header("host", host).send().await.text().await }
    };
    assert_eq!(at("API.example.com:8443").await, "exact");
    assert_eq!(at("www.example.com").await, "wild");
    assert_eq!(at("a.eu.example.com").await, "eu");
    assert_eq!(at("example.com").await, "default");
    assert_eq!(at("other.test").await, "default");
}

#[tokio::test]
async fn fallback_takes_unmatched_paths_but_not_wrong_methods() {
    let c = client(
        Dispatch::new()
            .route("/only-get", get(text("g")))
            .fallback(text("fallback")),
    );
    assert_eq!(c.get("/elsewhere").send().await.text().await, "fallback");
    let brew = Method::from_bytes(b"BREW").unwrap();
    assert_eq!(
        c.request(brew, "/elsewhere").send().await.text().await,
        "fallback"
    );
    // The path exists: the method is what is wrong. 405, not the fallback.
    let res = c.post("/only-get").send().await;
    assert_eq!(res.status(), 405);
    assert_eq!(res.header("allow"), Some("GET, HEAD, OPTIONS"));
}

#[cfg(feature = "rewrite")]
#[tokio::test]
async fn allow_survives_layers_and_nesting() {
    use tower::ServiceBuilder;
    let inner = Dispatch::new()
        .route(
            "/hello",
            get(ServiceBuilder::new()
                .map_response(|res: http::Response<crate::Body>| res)
                .service(text("hi"))),
        )
        .build()
        .unwrap();
    let outer = Dispatch::new().mount("/api", inner).build().unwrap();
    let rewrite = crate::rewrite::RewriteLayer::new(
        &crate::rewrite::RewriteConfig::new().response(crate::rewrite::Rule::remove_prefix("x-")),
    )
    .unwrap();
    let wrapped = ServiceBuilder::new()
        .layer(rewrite)
        .map_response(|res: http::Response<crate::Body>| res)
        .service(outer);
    let res = TestClient::new(wrapped).post("/api/hello").send().await;
    assert_eq!(res.status(), 405);
    assert_eq!(res.header("allow"), Some("GET, HEAD, OPTIONS"));
}

#[tokio::test]
async fn prefixes_pass_the_path_on_unchanged() {
    let c = client(
        Dispatch::new()
            .prefix("/api", EchoService::new())
            .mount("/api/v2", EchoService::new()),
    );
    let echo: Value = c.get("/api/users?x=1").send().await.json().await;
    assert_eq!(echo["target"], "/api/users?x=1");
    assert_eq!(echo["script_name"], "");
    // The bare prefix is served as it is, no redirect.
    let echo: Value = c.get("/api").send().await.json().await;
    assert_eq!(echo["target"], "/api");
    // The longest of mounts and prefixes wins.
    let echo: Value = c.get("/api/v2/x").send().await.json().await;
    assert_eq!(echo["target"], "/x");
    assert_eq!(c.get("/apix").send().await.status(), 404);
}

#[tokio::test]
async fn a_method_router_under_a_prefix_answers_405_with_allow() {
    let c = client(
        Dispatch::new()
            .mount("/api", get(text("g")).post(text("p")))
            .fallback(get(text("root"))),
    );
    assert_eq!(c.post("/api/x").send().await.text().await, "p");
    let res = c.delete("/api/x").send().await;
    assert_eq!(res.status(), 405);
    assert_eq!(res.header("allow"), Some("GET, HEAD, POST, OPTIONS"));
    let res = c.request(Method::OPTIONS, "/api/x").send().await;
    assert_eq!(res.status(), 204);
    assert_eq!(res.header("allow"), Some("GET, HEAD, POST, OPTIONS"));
    let res = c.request(Method::HEAD, "/api/x").send().await;
    assert_eq!(res.status(), 200);
    assert!(res.bytes().await.is_empty());
    // The fallback is a method router too.
    assert_eq!(c.get("/elsewhere").send().await.text().await, "root");
    assert_eq!(c.put("/elsewhere").send().await.status(), 405);
}

#[tokio::test]
async fn connect_is_taken_only_where_it_is_named() {
    let c = client(
        Dispatch::new()
            .route("/tunnel", on(Method::CONNECT, text("tunnel")))
            .route("/any", any(text("any")))
            .fallback(any(text("fallback"))),
    );
    let connect = |path: &'static str| {
        let c = c.clone();
        async move { c.request(Method::CONNECT, path).send().await }
    };
    assert_eq!(connect("/tunnel").await.text().await, "tunnel");
    for path in ["/any", "/elsewhere"] {
        let res = connect(path).await;
        assert_eq!(res.status(), 501, "{path}");
        assert!(res.text().await.contains("not a forward proxy"), "{path}");
    }
    let bare = client(Dispatch::new().route("/a", get(text("a"))));
    let res = bare.request(Method::CONNECT, "/b").send().await;
    assert_eq!(res.status(), 501);
}

#[tokio::test]
async fn a_host_table_falls_back_to_the_host_less_one() {
    let base = Dispatch::new()
        .prefix("/shared", text("shared"))
        .fallback(text("default"))
        .build()
        .unwrap();
    let example = Dispatch::new()
        .prefix("/own", text("own"))
        .fallback(base.clone())
        .build()
        .unwrap();
    let c = client(Dispatch::new().host("example.com", example).fallback(base));
    let at = |host: &'static str, path: &'static str| {
        let c = c.clone();
        async move { c.get(path).header("host", host).send().await.text().await }
    };
    assert_eq!(at("example.com", "/own/x").await, "own");
    assert_eq!(at("example.com", "/shared").await, "shared");
    assert_eq!(at("example.com", "/x").await, "default");
    assert_eq!(at("other.test", "/own/x").await, "default");
}

#[test]
fn route_names_follow_the_routing() {
    let named = |name: &'static str| Route::new(text(name)).named(name);
    let inner = Dispatch::new()
        .route("/users/{id}", get(named("user")))
        .build()
        .unwrap();
    // A table without host routes of its own, whose mount has some: the mount's table reads
    // the host itself.
    let hosted = Dispatch::new()
        .host("h.test", named("nested host"))
        .fallback(named("nested rest"))
        .build()
        .unwrap();
    let app = Dispatch::new()
        .host("admin.test", named("admin"))
        .mount("/api", inner)
        .mount("/hosted", hosted)
        .prefix("/static", get(named("static")).post(text("unnamed")))
        .fallback(named("rest"))
        .build()
        .unwrap();
    let name = |method: Method, target: &'static str, host: &'static str| {
        let req = http::Request::builder()
            .method(method)
            .uri(target)
            .header("host", host)
            .body(())
            .unwrap();
        app.route_name(&req.into_parts().0).map(|n| n.to_string())
    };
    assert_eq!(
        name(Method::GET, "/api/users/7", "a.test").as_deref(),
        Some("user")
    );
    assert_eq!(name(Method::POST, "/api/users/7", "a.test"), None, "405");
    assert_eq!(
        name(Method::GET, "/api", "a.test"),
        None,
        "the slash redirect"
    );
    assert_eq!(
        name(Method::HEAD, "/static/a", "a.test").as_deref(),
        Some("static")
    );
    assert_eq!(name(Method::POST, "/static/a", "a.test"), None, "no name");
    assert_eq!(
        name(Method::GET, "/x", "Admin.Test:80").as_deref(),
        Some("admin")
    );
    assert_eq!(name(Method::GET, "/x", "a.test").as_deref(), Some("rest"));
    assert_eq!(
        name(Method::GET, "/hosted/x", "H.test").as_deref(),
        Some("nested host")
    );
    assert_eq!(
        name(Method::GET, "/hosted/x", "a.test").as_deref(),
        Some("nested rest")
    );
}

/// Ready only on its second `poll_ready`: dispatch must wait for it, not call it unready.
#[derive(Clone, Default)]
struct SlowToStart {
    polled: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl tower_service::Service<http::Request<crate::Body>> for SlowToStart {
    type Response = http::Response<crate::Body>;
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        use std::sync::atomic::Ordering;
        if self.polled.swap(true, Ordering::SeqCst) {
            std::task::Poll::Ready(Ok(()))
        } else {
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    }

    fn call(&mut self, _req: http::Request<crate::Body>) -> Self::Future {
        let ready = self.polled.swap(false, std::sync::atomic::Ordering::SeqCst);
        let body = if ready { "ready" } else { "called unready" };
        std::future::ready(Ok(http::Response::new(crate::Body::from(body))))
    }
}

#[tokio::test]
async fn a_service_that_is_not_ready_is_waited_for() {
    let c = client(Dispatch::new().route("/slow", get(SlowToStart::default())));
    assert_eq!(c.get("/slow").send().await.text().await, "ready");
    assert_eq!(c.get("/slow").send().await.text().await, "ready");
}

fn build_err(dispatch: Dispatch) -> DispatchError {
    dispatch.build().expect_err("the table should be refused")
}

#[test]
fn conflicting_routes_are_refused_naming_both() {
    let err = build_err(
        Dispatch::new()
            .route("/users/{id}", get(text("a")))
            .route("/users/{name}", get(text("b"))),
    );
    assert_eq!(
        err,
        DispatchError::Conflict {
            route: "/users/{name}".into(),
            existing: "/users/{id}".into()
        }
    );
    let msg = err.to_string();
    assert!(
        msg.contains("/users/{name}") && msg.contains("/users/{id}"),
        "{msg}"
    );
}

#[test]
fn bad_tables_are_refused_with_a_reason() {
    let cases = [
        (
            Dispatch::new().route("/x", get(text("a")).get(text("b"))),
            "GET is routed twice",
        ),
        (
            Dispatch::new()
                .route("/x", get(text("a")))
                .route("/x", get(text("b"))),
            "GET is routed twice",
        ),
        (
            Dispatch::new().route("x", get(text("a"))),
            "starts with `/`",
        ),
        (
            Dispatch::new()
                .mount("/api", text("m"))
                .route("/api/health", get(text("h"))),
            "under the mount at `/api`",
        ),
        (
            Dispatch::new().mount("/api/", text("m")),
            "no trailing slash",
        ),
        (Dispatch::new().mount("/", text("m")), "use `fallback`"),
        (
            Dispatch::new()
                .mount("/a", text("m"))
                .mount("/a", text("n")),
            "two services are mounted at `/a`",
        ),
        (
            Dispatch::new()
                .host("a.com", text("m"))
                .host("A.com", text("n")),
            "two services are routed for host `A.com`",
        ),
        (
            Dispatch::new().host("a.*.com", text("m")),
            "invalid host pattern",
        ),
        (
            Dispatch::new().route("/f/{*rest}/x", get(text("a"))),
            "invalid route",
        ),
        (
            Dispatch::new().mount("/a", get(text("a")).get(text("b"))),
            "route `/a`: GET is routed twice",
        ),
        (
            Dispatch::new().fallback(post(text("a")).post(text("b"))),
            "route `fallback`: POST is routed twice",
        ),
        (
            Dispatch::new()
                .prefix("/a", text("m"))
                .mount("/a", text("n")),
            "two services are mounted at `/a`",
        ),
        (
            Dispatch::new()
                .prefix("/a", text("m"))
                .route("/a/b", get(text("n"))),
            "under the mount at `/a`",
        ),
    ];
    for (dispatch, expected) in cases {
        let msg = build_err(dispatch).to_string();
        assert!(
            msg.contains(expected),
            "{msg:?} does not contain {expected:?}"
        );
    }
}

#[test]
fn errors_are_send_sync() {
    fn assert_send_sync<T: Send + Sync + std::error::Error + 'static>() {}
    assert_send_sync::<DispatchError>();
}

#[test]
fn dispatcher_is_clone_send_sync() {
    fn assert_service<T: Clone + Send + Sync + 'static>() {}
    assert_service::<Dispatcher>();
}
