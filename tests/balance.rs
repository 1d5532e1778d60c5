//! Several upstreams behind one route, over TCP: spread, stickiness, passive and active
//! health, retries. Each test starts its own upstreams and a gateway built from TOML.

mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use support::{
    dead_port, eventually, fetch, full, gateway, send, upstream, Upstream, TEST_TIMEOUT,
};
use tokio::sync::Notify;
use tollgate::config;
use tollgate::metrics::Metrics;
use tollgate::Body;

/// An upstream answering its name; `/slow` waits for `release` first; `/healthz` answers 200
/// or 503 as `healthy` says.
async fn named(name: &'static str, release: Arc<Notify>, healthy: Arc<AtomicBool>) -> Upstream {
    upstream(move |req| {
        let release = release.clone();
        let healthy = healthy.clone();
        async move {
            match req.uri().path() {
                "/slow" => release.notified().await,
                "/healthz" if !healthy.load(Ordering::SeqCst) => {
                    return Response::builder().status(503).body(full("down")).unwrap();
                }
                _ => {}
            }
            Response::new(full(name))
        }
    })
    .await
}

async fn simple(name: &'static str) -> Upstream {
    named(
        name,
        Arc::new(Notify::new()),
        Arc::new(AtomicBool::new(true)),
    )
    .await
}

/// A gateway on a socket for the group `servers` balanced with `balance` (TOML table body).
async fn balanced(servers: &[String], balance: &str) -> SocketAddr {
    let list: Vec<String> = servers.iter().map(|s| format!("\"{s}\"")).collect();
    let text = format!(
        r#"
[[listen]]
bind = "127.0.0.1:0"

[proxy]
connect_timeout = "2s"

[upstreams.app]
servers = [{}]
[upstreams.app.balance]
{balance}

[[routes]]
upstream = "app"
"#,
        list.join(", ")
    );
    let config = config::load(&text).unwrap_or_else(|e| panic!("{e}"));
    let service = config::build(&config, &Metrics::new()).await.unwrap();
    gateway(service).await
}

/// `(status, body)` of one request.
async fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, String) {
    let res = send(method, &format!("http://{addr}{path}"), headers).await;
    (res.status.as_u16(), res.text().into_owned())
}

async fn get(addr: SocketAddr, path: &str) -> String {
    let (status, body) = call(addr, "GET", path, &[]).await;
    assert_eq!(status, 200, "{body}");
    body
}

fn count(names: &[String], name: &str) -> usize {
    names.iter().filter(|n| *n == name).count()
}

/// A server on `addr` answering `name` to everything (HTTP/1.1).
async fn answer_on(addr: SocketAddr, name: &'static str) -> tokio::task::JoinHandle<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .expect("the port is still free");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |_req| async move {
                    Ok::<_, std::convert::Infallible>(Response::new(full(name)))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                    .await;
            });
        }
    })
}

/// A port with nothing behind it now, that a test can bind later.
#[tokio::test]
async fn round_robin_spreads_evenly() {
    let (a, b, c) = (simple("a").await, simple("b").await, simple("c").await);
    let gw = balanced(&[a.url(), b.url(), c.url()], "policy = \"round_robin\"").await;
    let mut seen = Vec::new();
    for _ in 0..30 {
        seen.push(get(gw, "/").await);
    }
    for name in ["a", "b", "c"] {
        assert_eq!(count(&seen, name), 10, "{seen:?}");
    }
}

#[tokio::test]
async fn least_requests_avoids_the_busy_upstream() {
    let release = Arc::new(Notify::new());
    let up = Arc::new(AtomicBool::new(true));
    let a = named("a", release.clone(), up.clone()).await;
    let b = named("b", release.clone(), up.clone()).await;
    let gw = balanced(&[a.url(), b.url()], "policy = \"least_requests\"").await;

    // One request parks on an upstream; every request meanwhile goes to the other one.
    let parked = tokio::spawn(async move { call(gw, "GET", "/slow", &[]).await });
    assert!(
        eventually(async || a.connections() + b.connections() > 0).await,
        "the slow request never arrived"
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    let busy = if a.connections() > 0 { "a" } else { "b" };
    let mut seen = Vec::new();
    for _ in 0..10 {
        seen.push(get(gw, "/").await);
    }
    assert_eq!(count(&seen, busy), 0, "{busy} was busy: {seen:?}");
    release.notify_waiters();
    let (status, body) = tokio::time::timeout(TEST_TIMEOUT, parked)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((status, body.as_str()), (200, busy));
}

#[tokio::test]
async fn hashing_a_header_sticks_each_client_to_one_upstream() {
    let (a, b, c) = (simple("a").await, simple("b").await, simple("c").await);
    let gw = balanced(
        &[a.url(), b.url(), c.url()],
        "policy = { hash_header = \"X-User\" }",
    )
    .await;
    let mut used = std::collections::HashSet::new();
    for user in 0..12 {
        let user = format!("user{user}");
        let first = call(gw, "GET", "/", &[("x-user", &user)]).await.1;
        for _ in 0..4 {
            assert_eq!(
                call(gw, "GET", "/", &[("x-user", &user)]).await.1,
                first,
                "{user}"
            );
        }
        used.insert(first);
    }
    assert!(used.len() >= 2, "12 users all on {used:?}");
    // Without the header: round-robin.
    let mut seen = Vec::new();
    for _ in 0..6 {
        seen.push(get(gw, "/").await);
    }
    assert_eq!(count(&seen, "a"), 2, "{seen:?}");
}

#[tokio::test]
async fn hashing_the_client_address_and_a_cookie() {
    let (a, b) = (simple("a").await, simple("b").await);
    let gw = balanced(&[a.url(), b.url()], "policy = \"hash_client_addr\"").await;
    let first = get(gw, "/").await;
    for _ in 0..8 {
        assert_eq!(get(gw, "/").await, first);
    }
    let gw = balanced(&[a.url(), b.url()], "policy = { hash_cookie = \"sid\" }").await;
    let first = call(gw, "GET", "/", &[("cookie", "x=1; sid=abc")]).await.1;
    for _ in 0..8 {
        assert_eq!(
            call(gw, "GET", "/", &[("cookie", "sid=abc")]).await.1,
            first
        );
    }
}

#[tokio::test]
async fn passive_health_skips_a_dead_upstream_and_takes_it_back() {
    let live = simple("live").await;
    let dead = dead_port();
    let gw = balanced(
        &[live.url(), format!("http://{dead}")],
        "max_fails = 1\nfail_timeout = \"1s\"\nretries = 0",
    )
    .await;
    // The dead upstream fails once, then is skipped: everything reaches the live one.
    let mut failures = 0;
    for _ in 0..4 {
        let (status, _) = call(gw, "GET", "/", &[]).await;
        if status == 502 {
            failures += 1;
        }
    }
    assert_eq!(failures, 1);
    for _ in 0..10 {
        assert_eq!(get(gw, "/").await, "live");
    }
    // It comes back; after the cool-down it gets requests again.
    let back = answer_on(dead, "back").await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let mut seen = Vec::new();
    for _ in 0..6 {
        seen.push(get(gw, "/").await);
    }
    assert_eq!(count(&seen, "back"), 3, "{seen:?}");
    back.abort();
}

#[tokio::test]
async fn active_health_takes_out_an_upstream_until_it_passes() {
    let release = Arc::new(Notify::new());
    let a_ok = Arc::new(AtomicBool::new(false));
    let a = named("a", release.clone(), a_ok.clone()).await;
    let b = named("b", release, Arc::new(AtomicBool::new(true))).await;
    let gw = balanced(
        &[a.url(), b.url()],
        "[upstreams.app.balance.health_check]\npath = \"/healthz\"\ninterval = \"100ms\"\ntimeout = \"1s\"",
    )
    .await;
    // The first request starts the probes; soon every request goes to b.
    get(gw, "/").await;
    let deadline = tokio::time::Instant::now() + TEST_TIMEOUT;
    loop {
        let mut seen = Vec::new();
        for _ in 0..10 {
            seen.push(get(gw, "/").await);
        }
        if count(&seen, "b") == 10 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "a was never taken out: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // a passes again: it gets its share back.
    a_ok.store(true, Ordering::SeqCst);
    assert!(
        eventually(async || get(gw, "/").await == "a").await,
        "a never came back"
    );
    let mut seen = Vec::new();
    for _ in 0..10 {
        seen.push(get(gw, "/").await);
    }
    assert_eq!(count(&seen, "a"), 5, "{seen:?}");
}

#[tokio::test]
async fn only_idempotent_requests_are_retried_when_connecting_failed() {
    let live = simple("live").await;
    let dead = dead_port();
    let gw = balanced(
        &[live.url(), format!("http://{dead}")],
        "policy = \"round_robin\"\nmax_fails = 0\nretries = 1",
    )
    .await;
    for _ in 0..6 {
        let (status, body) = call(gw, "GET", "/", &[]).await;
        assert_eq!((status, body.as_str()), (200, "live"));
    }
    for _ in 0..4 {
        let (status, _) = call(gw, "DELETE", "/", &[]).await;
        assert_eq!(status, 200);
    }
    let mut failed = 0;
    for _ in 0..6 {
        let (status, _) = call(gw, "POST", "/", &[]).await;
        if status == 502 {
            failed += 1;
        }
    }
    assert_eq!(failed, 3, "POST is never retried");
}

#[tokio::test]
async fn a_retried_put_sends_its_whole_body_to_the_next_upstream() {
    let live = support::recording_upstream().await;
    let dead = dead_port();
    let gw = balanced(
        &[format!("http://{dead}"), live.url()],
        "policy = \"round_robin\"\nmax_fails = 0\nretries = 1",
    )
    .await;
    let body = "x".repeat(100_000);
    for _ in 0..4 {
        let req = Request::put(format!("http://{gw}/doc"))
            .body(Body::from(body.clone()))
            .unwrap();
        let res = fetch(req).await;
        assert_eq!(res.status, 200);
        assert_eq!(res.body, "ok 100000");
    }
    assert_eq!(live.seen().len(), 4);
    assert!(live.seen().iter().all(|s| s.body_len == 100_000));
}
