//! `examples/gateway_by_hand.rs` (the library's public pieces, assembled by hand) and
//! `examples/tollgate.toml` (loaded and built by `tollgate::gateway`) are one gateway: both are
//! served on `127.0.0.1:0` in front of the same recording upstreams and sent the same table of
//! requests, and every answer's status, `Location` and `Allow`, and what the upstream saw, must
//! agree.

mod support;

#[allow(dead_code)]
#[path = "../examples/gateway_by_hand.rs"]
mod gateway_by_hand;

use std::net::SocketAddr;
use std::path::PathBuf;

use http::{Method, Request};
use http_body_util::BodyExt;
use support::{Seen, Upstream};
use tollgate::metrics::Metrics;
use tollgate::Body;

const ADA: &str = "Basic YWRhOnNlY3JldA=="; // ada:secret, examples/users.htpasswd
const WRONG: &str = "Basic YWRhOndyb25n"; // ada:wrong

/// One request of the table.
struct Case {
    method: Method,
    target: &'static str,
    host: Option<&'static str>,
    auth: Option<&'static str>,
}

fn case(method: Method, target: &'static str) -> Case {
    Case {
        method,
        target,
        host: None,
        auth: Some(ADA),
    }
}

impl Case {
    fn anonymous(mut self) -> Self {
        self.auth = None;
        self
    }

    fn auth(mut self, auth: &'static str) -> Self {
        self.auth = Some(auth);
        self
    }

    fn host(mut self, host: &'static str) -> Self {
        self.host = Some(host);
        self
    }
}

/// Every route of the example file, its 404s, 405s, redirects, auth and health.
fn table() -> Vec<Case> {
    vec![
        // [health], before auth.
        case(Method::GET, "/healthz").anonymous(),
        case(Method::POST, "/healthz").anonymous(),
        // [auth] in front of every route but the exemptions.
        case(Method::GET, "/app/x").anonymous(),
        case(Method::GET, "/app/x").auth(WRONG),
        // The catch-all: the app group, any method.
        case(Method::GET, "/app/x?q=1&q=2"),
        case(Method::DELETE, "/"),
        case(Method::GET, "/x-internal").host("localhost"),
        // The redirect, exempt from auth.
        case(Method::GET, "/old/a/b?c=d").anonymous(),
        case(Method::GET, "/old").anonymous(),
        case(Method::POST, "/old/").anonymous(),
        // The static directory: GET and HEAD, the prefix stripped, other methods a 405.
        case(Method::GET, "/static/tls/cert.pem").anonymous(),
        case(Method::HEAD, "/static/tls/cert.pem").anonymous(),
        case(Method::GET, "/static/missing.txt").anonymous(),
        case(Method::POST, "/static/tls/cert.pem"),
        case(Method::OPTIONS, "/static/tls").anonymous(),
        case(Method::DELETE, "/static").anonymous(),
        // The api group under /api, its prefix stripped.
        case(Method::GET, "/api/users?id=7"),
        case(Method::POST, "/api"),
        case(Method::PUT, "/apix"),
        // The echo route and its own header rule.
        case(Method::GET, "/echo/x?y"),
        // The host of its own.
        case(Method::GET, "/old/x").host("api.localhost"),
        case(Method::PATCH, "/static/y").host("api.localhost"),
        // Normalized before routing.
        case(Method::GET, "/static/../api/./users"),
    ]
}

/// What a gateway answered and what reached an upstream.
#[derive(Debug, PartialEq)]
struct Outcome {
    status: u16,
    location: Option<String>,
    allow: Option<String>,
    /// For the echo route: the request it describes.
    echo: Option<String>,
    upstream: Option<Reached>,
}

/// What an upstream saw of one request.
#[derive(Debug, PartialEq)]
struct Reached {
    group: &'static str,
    method: Method,
    target: String,
    /// The headers the gateway sets or passes.
    headers: Vec<(String, String)>,
}

/// The headers a gateway adds or passes, as the upstream saw them; the request id (a new one
/// each time) only as present or not.
fn added_headers(seen: &Seen) -> Vec<(String, String)> {
    let mut shown = Vec::new();
    for name in [
        "host",
        "x-forwarded-for",
        "x-forwarded-proto",
        "x-forwarded-host",
        "x-forwarded-prefix",
        "x-forwarded-user",
        "x-real-ip",
        "via",
        "authorization",
        "x-internal-secret",
        "x-debug",
        "x-request-id",
    ] {
        for value in seen.headers.get_all(name) {
            let value = if name == "x-request-id" {
                "(an id)".to_owned()
            } else {
                value.to_str().unwrap_or("(not text)").to_owned()
            };
            shown.push((name.to_owned(), value));
        }
    }
    shown
}

/// The requests an upstream saw, health probes left out.
fn seen(up: &Upstream) -> Vec<Seen> {
    up.seen()
        .into_iter()
        .filter(|s| s.uri.path() != "/healthz")
        .collect()
}

async fn send(gateway: SocketAddr, ups: &[(&'static str, &Upstream)], case: &Case) -> Outcome {
    let before: Vec<usize> = ups.iter().map(|(_, up)| seen(up).len()).collect();
    let mut req = Request::builder()
        .method(case.method.clone())
        .uri(format!("http://{gateway}{}", case.target))
        .header("x-internal-secret", "from the client");
    // One host for both gateways, though each listens on its own port.
    req = req.header("host", case.host.unwrap_or("gateway.test"));
    if let Some(auth) = case.auth {
        req = req.header("authorization", auth);
    }
    let res = tokio::time::timeout(
        support::TEST_TIMEOUT,
        support::client().request(req.body(Body::empty()).unwrap()),
    )
    .await
    .expect("answered in time")
    .expect("answered");
    let header = |name: &str| {
        res.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let (status, location, allow) = (res.status().as_u16(), header("location"), header("allow"));
    let json = header("content-type").is_some_and(|t| t.starts_with("application/json"));
    let body = res.into_body().collect().await.unwrap().to_bytes();
    let echo = (json && case.target.starts_with("/echo")).then(|| {
        let echo: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let debug = echo["headers"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|pair| pair[0] == "x-debug")
            .map_or(serde_json::Value::Null, |pair| pair[1].clone());
        format!("{} {} {debug}", echo["method"], echo["target"])
    });
    let mut upstream = None;
    for ((group, up), before) in ups.iter().zip(before) {
        let now = seen(up);
        assert!(now.len() <= before + 1, "one request reached {group} twice");
        if let Some(s) = now.get(before) {
            assert!(upstream.is_none(), "one request reached two upstreams");
            upstream = Some(Reached {
                group,
                method: s.method.clone(),
                target: s.uri.to_string(),
                headers: added_headers(s),
            });
        }
    }
    Outcome {
        status,
        location,
        allow,
        echo,
        upstream,
    }
}

/// The recording upstreams of the example's groups: `app` (two servers) and `api`.
struct Groups {
    app: [Upstream; 2],
    api: Upstream,
}

impl Groups {
    async fn start() -> Self {
        Groups {
            app: [
                support::recording_upstream().await,
                support::recording_upstream().await,
            ],
            api: support::recording_upstream().await,
        }
    }

    /// Each server with its group's name: the app group's two servers are one group to
    /// compare, since which one a request reaches is the balancer's choice.
    fn named(&self) -> [(&'static str, &Upstream); 3] {
        [
            ("app", &self.app[0]),
            ("app", &self.app[1]),
            ("api", &self.api),
        ]
    }

    /// The example's gateway built by hand in front of these servers, on `127.0.0.1:0`.
    async fn by_hand(&self) -> SocketAddr {
        let upstreams = gateway_by_hand::Upstreams {
            app: self
                .app
                .iter()
                .map(|up| up.url().parse().unwrap())
                .collect(),
            api: format!("{}/v1", self.api.url()).parse().unwrap(),
        };
        let gateway = gateway_by_hand::gateway(&upstreams, &Metrics::new()).expect("it builds");
        support::gateway(gateway).await
    }

    /// `examples/tollgate.toml`'s gateway in front of these servers, on `127.0.0.1:0`.
    async fn of_the_file(&self) -> SocketAddr {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(root.join("examples/tollgate.toml"))
            .unwrap()
            .replace("http://127.0.0.1:9001", &self.app[0].url())
            .replace("http://127.0.0.1:9002", &self.app[1].url())
            .replace("http://127.0.0.1:9003", &self.api.url());
        let config = tollgate::config::load(&text).expect("the example file loads");
        let gateway = tollgate::gateway::build(&config, &Metrics::new())
            .await
            .expect("the example file builds");
        support::gateway(gateway).await
    }
}

#[tokio::test]
async fn the_gateway_by_hand_is_the_gateway_of_the_file() {
    let groups = Groups::start().await;
    let ups = groups.named();
    let (by_hand, from_file) = (groups.by_hand().await, groups.of_the_file().await);

    let mut differences = Vec::new();
    for case in table() {
        let hand = send(by_hand, &ups, &case).await;
        let file = send(from_file, &ups, &case).await;
        if hand != file {
            differences.push(format!(
                "{} {} (host {:?}):\n  by hand:   {hand:?}\n  from file: {file:?}",
                case.method, case.target, case.host
            ));
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}

/// The table exercises what it says: the answers the example file gives.
#[tokio::test]
async fn the_table_covers_every_kind_of_answer() {
    let groups = Groups::start().await;
    let ups = groups.named();
    let gateway = groups.by_hand().await;
    let outcome = |method: Method, target: &'static str| case(method, target);

    let health = send(gateway, &ups, &outcome(Method::GET, "/healthz").anonymous()).await;
    assert_eq!(health.status, 200);
    let refused = send(gateway, &ups, &outcome(Method::GET, "/app/x").anonymous()).await;
    assert_eq!((refused.status, refused.upstream), (401, None));

    let app = send(gateway, &ups, &outcome(Method::GET, "/app/x?q=1")).await;
    let app = app.upstream.expect("proxied");
    assert_eq!(
        (app.group, &app.method, app.target.as_str()),
        ("app", &Method::GET, "/app/x?q=1")
    );
    let header = |name: &str| {
        app.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(header("x-forwarded-user"), Some("ada"));
    assert_eq!(header("authorization"), None, "stripped");
    assert_eq!(
        header("x-internal-secret"),
        None,
        "removed by the header rule"
    );

    let api_call = send(gateway, &ups, &outcome(Method::GET, "/api/users?id=7")).await;
    let api_call = api_call.upstream.expect("proxied");
    assert_eq!(
        (api_call.group, api_call.target.as_str()),
        ("api", "/v1/users?id=7")
    );
    let prefix = ("x-forwarded-prefix".to_owned(), "/api".to_owned());
    assert!(api_call.headers.contains(&prefix), "{:?}", api_call.headers);

    let moved = send(gateway, &ups, &outcome(Method::GET, "/old/a?b").anonymous()).await;
    assert_eq!(
        (moved.status, moved.location.as_deref()),
        (308, Some("/app/a?b"))
    );

    let not_allowed = send(gateway, &ups, &outcome(Method::POST, "/static/x")).await;
    assert_eq!(not_allowed.status, 405);
    assert_eq!(not_allowed.allow.as_deref(), Some("GET, HEAD, OPTIONS"));

    let missing = send(gateway, &ups, &outcome(Method::GET, "/static/missing.txt")).await;
    assert_eq!(missing.status, 404);

    let echo = send(gateway, &ups, &outcome(Method::GET, "/echo/x?y")).await;
    assert_eq!(echo.echo.as_deref(), Some(r#""GET" "/echo/x?y" "yes""#));

    let own_host = outcome(Method::GET, "/old/x").host("api.localhost");
    let reached = send(gateway, &ups, &own_host)
        .await
        .upstream
        .expect("proxied");
    assert_eq!(
        (reached.group, reached.target.as_str()),
        ("api", "/v1/old/x")
    );
}
