//! Header rewriting over TCP in front of the echo service.
#![cfg(feature = "layers")]

mod support;

use std::sync::Arc;

use support::{start, Fetched};
use tollgate::dispatch::{get as on_get, Dispatch};
use tollgate::echo::EchoService;
use tollgate::ext::AuthenticatedUser;
use tollgate::rewrite::presets::{self, Preset};
use tollgate::rewrite::{RequestIdConfig, RewriteConfig, RewriteLayer, Rule};
use tower::{Layer, ServiceBuilder};

/// The values of request header `name` as the echo service saw them.
fn echoed(res: &Fetched, name: &str) -> Vec<String> {
    res.json()["headers"]
        .as_array()
        .expect("an echo body")
        .iter()
        .filter(|pair| {
            pair[0]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
        .map(|pair| pair[1].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn layer(config: RewriteConfig) -> RewriteLayer {
    RewriteLayer::new(&config).expect("valid rules")
}

/// The echo service, answering with `Server` and `X-Powered-By` as an app server would.
fn chatty_echo() -> impl tower::Service<
    http::Request<tollgate::Body>,
    Response = http::Response<tollgate::Body>,
    Error = std::convert::Infallible,
    Future = impl Send,
> + Clone
       + Send
       + Sync
       + 'static {
    ServiceBuilder::new()
        .map_response(|mut res: http::Response<tollgate::Body>| {
            res.headers_mut()
                .insert("server", "gunicorn/21".parse().unwrap());
            res.headers_mut()
                .insert("x-powered-by", "PHP/5".parse().unwrap());
            res
        })
        .service(EchoService::new())
}

#[tokio::test]
async fn request_rules_show_in_the_echo() {
    let config = RewriteConfig::new()
        .request(Rule::set("X-Real-IP", "{peer_addr}"))
        .request(Rule::set("X-Original", "{method} {scheme}://{host}{path}"))
        .request(Rule::remove_prefix("X-Internal-"))
        .request(Rule::rename("X-Old", "X-New"))
        .request(Rule::append("X-Tag", "gw"))
        .request(Rule::replace("X-Version", r"^v(\d+)$", "version-$1"))
        .request(
            Rule::set("X-Api", "yes")
                .when_path_prefix("/api")
                .when_method("GET"),
        );
    let server = start(layer(config).layer(EchoService::new())).await;
    let res = server
        .get(
            "/api/x?q=1",
            &[
                ("x-internal-token", "secret"),
                ("X-Internal-Debug", "1"),
                ("x-old", "o"),
                ("x-tag", "client"),
                ("x-version", "v2"),
            ],
        )
        .await;
    assert_eq!(res.status, 200);
    assert_eq!(echoed(&res, "x-real-ip"), ["127.0.0.1"]);
    assert_eq!(
        echoed(&res, "x-original"),
        [format!("GET http://{}/api/x", server.addr)]
    );
    assert!(echoed(&res, "x-internal-token").is_empty());
    assert!(echoed(&res, "x-internal-debug").is_empty());
    assert!(echoed(&res, "x-old").is_empty());
    assert_eq!(echoed(&res, "x-new"), ["o"]);
    assert_eq!(echoed(&res, "x-tag"), ["client", "gw"]);
    assert_eq!(echoed(&res, "x-version"), ["version-2"]);
    assert_eq!(echoed(&res, "x-api"), ["yes"]);

    let other = server.get("/apix", &[]).await;
    assert!(echoed(&other, "x-api").is_empty());
}

#[tokio::test]
async fn a_value_with_crlf_is_skipped_and_the_request_succeeds() {
    let config = RewriteConfig::new()
        .request(Rule::set("X-User", "{user}"))
        .request(Rule::replace("X-A", "(.*)", "$1\r\nInjected: 1"))
        .request(Rule::set("X-After", "ran"));
    // An authenticated user name with a newline (the auth layer would never make one; a
    // custom layer might).
    let svc = ServiceBuilder::new()
        .map_request(|mut req: http::Request<tollgate::Body>| {
            req.extensions_mut()
                .insert(AuthenticatedUser(Arc::from("eve\r\nX-Admin: 1")));
            req
        })
        .layer(layer(config))
        .service(EchoService::new());
    let server = start(svc).await;
    let res = server.get("/", &[("x-a", "kept")]).await;
    assert_eq!(res.status, 200);
    assert!(echoed(&res, "x-user").is_empty());
    assert!(echoed(&res, "x-admin").is_empty());
    assert!(echoed(&res, "injected").is_empty());
    assert_eq!(echoed(&res, "x-a"), ["kept"]);
    assert_eq!(echoed(&res, "x-after"), ["ran"]);
}

#[tokio::test]
async fn request_id_is_visible_to_both_sides() {
    let config = RewriteConfig::new()
        .request_id(RequestIdConfig::default())
        .request(Rule::set("X-Trace", "id={request_id}"));
    let server = start(layer(config).layer(EchoService::new())).await;

    let res = server.get("/", &[]).await;
    let sent = res
        .header("x-request-id")
        .expect("a response id")
        .to_owned();
    assert_eq!(sent.len(), 36);
    assert_eq!(echoed(&res, "x-request-id"), std::slice::from_ref(&sent));
    assert_eq!(echoed(&res, "x-trace"), [format!("id={sent}")]);

    let res = server.get("/", &[("x-request-id", "abc-123")]).await;
    assert_eq!(res.header("x-request-id"), Some("abc-123"));
    assert_eq!(echoed(&res, "x-request-id"), ["abc-123"]);

    let res = server
        .get("/", &[("x-request-id", "bad id, with spaces")])
        .await;
    let replaced = res.header("x-request-id").unwrap();
    assert_ne!(replaced, "bad id, with spaces");
    assert_eq!(echoed(&res, "x-request-id"), [replaced.to_owned()]);
}

#[tokio::test]
async fn presets_hide_the_server_and_add_security_headers() {
    let config = RewriteConfig::new()
        .preset(Preset::HideServer)
        .preset(Preset::SecurityHeaders);
    let server = start(layer(config).layer(chatty_echo())).await;
    let res = server.get("/", &[]).await;
    assert!(res.header("server").is_none());
    assert!(res.header("x-powered-by").is_none());
    assert_eq!(res.header("strict-transport-security"), Some(presets::HSTS));
    assert_eq!(res.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(
        res.header("referrer-policy"),
        Some(presets::REFERRER_POLICY)
    );
    assert_eq!(
        res.header("content-security-policy"),
        Some(presets::CONTENT_SECURITY_POLICY)
    );
}

#[tokio::test]
async fn response_rules_follow_request_conditions() {
    let config = RewriteConfig::new()
        .response(Rule::set("X-Cache", "api-{method}").when_path_prefix("/api"))
        .response(Rule::remove("server").when_header("x-hide"));
    let server = start(layer(config).layer(chatty_echo())).await;
    let res = server.get("/api/a", &[("x-hide", "1")]).await;
    assert_eq!(res.header("x-cache"), Some("api-GET"));
    assert!(res.header("server").is_none());
    let res = server.get("/other", &[]).await;
    assert!(res.header("x-cache").is_none());
    assert_eq!(res.header("server"), Some("gunicorn/21"));
}

/// nginx#487: one `add_header` in a nested block drops every inherited one. Here a route's
/// rules run in addition to the global ones, never instead of them.
#[tokio::test]
async fn global_and_route_rules_compose() {
    let global = RewriteConfig::new()
        .request_id(RequestIdConfig::default())
        .request(Rule::set("X-Gateway", "global"))
        .response(Rule::set("X-Global", "1"))
        .response(Rule::set_if_missing("X-Frame-Options", "DENY"));
    let route = RewriteConfig::new()
        .request_id(RequestIdConfig::default())
        .request(Rule::set("X-Route", "seen {header:X-Gateway}"))
        .response(Rule::set("X-Route", "1"))
        .response(Rule::set("X-Frame-Options", "SAMEORIGIN"));
    let app = Dispatch::new()
        .route("/special", on_get(layer(route).layer(EchoService::new())))
        .route("/plain", on_get(EchoService::new()))
        .build()
        .unwrap();
    let server = start(layer(global).layer(app)).await;

    let res = server.get("/special", &[]).await;
    // Both levels' response headers; the route's more specific value wins where the global
    // rule only fills a gap.
    assert_eq!(res.header("x-global"), Some("1"));
    assert_eq!(res.header("x-route"), Some("1"));
    assert_eq!(res.header("x-frame-options"), Some("SAMEORIGIN"));
    // Request side: global first, then the route, which sees what the global rules set.
    assert_eq!(echoed(&res, "x-gateway"), ["global"]);
    assert_eq!(echoed(&res, "x-route"), ["seen global"]);
    // One request id for both levels.
    let id = res.header("x-request-id").unwrap().to_owned();
    assert_eq!(echoed(&res, "x-request-id"), [id]);

    let res = server.get("/plain", &[]).await;
    assert_eq!(res.header("x-global"), Some("1"));
    assert_eq!(res.header("x-frame-options"), Some("DENY"));
    assert!(res.header("x-route").is_none());
}
