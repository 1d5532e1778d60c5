//! A route's `cors` policy at the real gateway, behind Basic auth, in front of an upstream
//! that counts its requests: preflights answered before auth only for allowed origins,
//! headers on the answers, `Vary: Origin`, and the credentials rule of `tollgate check`.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use base64::Engine;
use http::{Request, Response};
use support::*;
use tollgate::config::{self, Config};
use tollgate::metrics::Metrics;

async fn counting_upstream() -> (Upstream, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let counter = count.clone();
    let up = upstream(move |_req: Request<hyper::body::Incoming>| {
        counter.fetch_add(1, Ordering::SeqCst);
        async move {
            Response::builder()
                .header("x-total", "3")
                .body(full("ok"))
                .unwrap()
        }
    })
    .await;
    (up, count)
}

/// The gateway with Basic auth (user `ada`, password `secret`) and one route with `cors`.
async fn gateway_with(dir: &std::path::Path, up: &Upstream, cors: &str) -> TestServer {
    let users = htpasswd_file(dir, "ada", "secret");
    let text = format!(
        "[[listen]]\nbind = \"127.0.0.1:0\"\n\n[auth]\nhtpasswd = \"{}\"\n\n\
         [upstreams.app]\nservers = [\"{}\"]\n\n\
         [[routes]]\npath = \"/api\"\nmethods = [\"GET\", \"PUT\"]\nupstream = \"app\"\ncors = {cors}\n\n\
         [[routes]]\nupstream = \"app\"\n",
        users.display(),
        up.url()
    );
    let config: Config = config::load(&text).unwrap();
    start(
        tollgate::gateway::build(&config, &Metrics::new())
            .await
            .unwrap(),
    )
    .await
}

fn basic() -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("ada:secret")
    )
}

const POLICY: &str = r#"{ origins = ["https://app.example", "https://*.example.org"], methods = ["GET", "PUT"], headers = ["x-token"], expose_headers = ["x-total"], credentials = true, max_age = "10m" }"#;

fn vary_names(res: &Fetched) -> Vec<String> {
    res.headers
        .get_all("vary")
        .iter()
        .flat_map(|v| v.to_str().unwrap().split(','))
        .map(|n| n.trim().to_ascii_lowercase())
        .collect()
}

#[tokio::test]
async fn preflights_from_allowed_origins_are_answered_before_auth() {
    let dir = temp_dir();
    let (up, count) = counting_upstream().await;
    let gw = gateway_with(dir.path(), &up, POLICY).await;
    for origin in ["https://app.example", "https://eu.example.org"] {
        let res = gw
            .send(
                "OPTIONS",
                "/api/items",
                &[
                    ("origin", origin),
                    ("access-control-request-method", "PUT"),
                    ("access-control-request-headers", "x-token"),
                ],
            )
            .await;
        assert_eq!(res.status, 200, "{origin}: {}", res.text());
        assert_eq!(res.header("access-control-allow-origin"), Some(origin));
        assert_eq!(res.header("access-control-allow-credentials"), Some("true"));
        assert_eq!(res.header("access-control-allow-methods"), Some("GET,PUT"));
        assert_eq!(res.header("access-control-allow-headers"), Some("x-token"));
        assert_eq!(res.header("access-control-max-age"), Some("600"));
        assert!(vary_names(&res).contains(&"origin".to_owned()));
    }
    assert_eq!(
        count.load(Ordering::SeqCst),
        0,
        "the upstream never saw a preflight"
    );
}

#[tokio::test]
async fn preflights_from_other_origins_meet_auth() {
    let dir = temp_dir();
    let (up, count) = counting_upstream().await;
    let gw = gateway_with(dir.path(), &up, POLICY).await;
    for origin in [
        "https://evil.example",
        "http://app.example",
        "https://example.org",
        "null",
    ] {
        let res = gw
            .send(
                "OPTIONS",
                "/api/items",
                &[("origin", origin), ("access-control-request-method", "PUT")],
            )
            .await;
        assert_eq!(res.status, 401, "{origin}");
        assert_eq!(res.header("access-control-allow-origin"), None, "{origin}");
    }
    // A route without a policy: no preflight is answered for it.
    let res = gw
        .send(
            "OPTIONS",
            "/other",
            &[
                ("origin", "https://app.example"),
                ("access-control-request-method", "GET"),
            ],
        )
        .await;
    assert_eq!(res.status, 401);
    assert_eq!(count.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn requests_from_allowed_origins_get_the_headers_after_auth() {
    let dir = temp_dir();
    let (up, count) = counting_upstream().await;
    let gw = gateway_with(dir.path(), &up, POLICY).await;
    let auth = basic();
    let res = gw
        .get(
            "/api/items",
            &[("origin", "https://app.example"), ("authorization", &auth)],
        )
        .await;
    assert_eq!(res.status, 200);
    assert_eq!(
        res.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert_eq!(res.header("access-control-allow-credentials"), Some("true"));
    assert_eq!(res.header("access-control-expose-headers"), Some("x-total"));
    assert!(vary_names(&res).contains(&"origin".to_owned()));

    // Credentials are still needed for the request itself.
    let res = gw
        .get("/api/items", &[("origin", "https://app.example")])
        .await;
    assert_eq!(res.status, 401);

    let res = gw
        .get(
            "/api/items",
            &[("origin", "https://evil.example"), ("authorization", &auth)],
        )
        .await;
    assert_eq!(res.status, 200);
    assert_eq!(res.header("access-control-allow-origin"), None);
    assert!(vary_names(&res).contains(&"origin".to_owned()));

    // Without `Origin`, the answer still says it depends on it.
    let res = gw.get("/api/items", &[("authorization", &auth)]).await;
    assert_eq!(vary_names(&res), ["origin"]);
    assert_eq!(count.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn check_refuses_any_origin_with_credentials() {
    let dir = temp_dir();
    let file = dir.path().join("tollgate.toml");
    std::fs::write(
        &file,
        "[[listen]]\nbind = \"127.0.0.1:8080\"\n\n[[routes]]\necho = true\n\
         cors = { origins = [\"*\"], credentials = true }\n",
    )
    .unwrap();
    let out = Launch::tollgate(["check"]).arg(&file).output().await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("routes[0].cors.origins[0]"), "{stderr}");
    assert!(stderr.contains("any origin's script"), "{stderr}");
    assert!(stderr.contains("list the origins you trust"), "{stderr}");
}

#[tokio::test]
async fn tollgate_proxy_takes_cors() {
    let (up, _) = counting_upstream().await;
    let gw = Gateway::start(&[
        "proxy",
        "--cors",
        "https://app.example",
        "--upstream",
        &up.url(),
    ])
    .await;
    let res = curl(&[
        "-X",
        "OPTIONS",
        "-H",
        "origin: https://app.example",
        "-H",
        "access-control-request-method: POST",
        &gw.url("/x"),
    ])
    .await;
    assert_eq!(res.status, 200);
    assert_eq!(
        res.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    let res = curl(&["-H", "origin: https://app.example", &gw.url("/x")]).await;
    assert_eq!(
        res.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert_eq!(res.text(), "ok");
}
