//! Basic auth costs: argon2id hash/verify with the default parameters, the cached verification
//! per request, and throughput over TCP with the layer (cached) versus without, as a ratio
//! from the same run (alternating rounds).
//!
//! ```text
//! cargo bench --bench auth --all-features            # AUTH_BENCH_SECS=3 AUTH_BENCH_ROUNDS=3
//! ```
//!
//! Both servers run on `tollgate::serve`. The TCP rounds use `wrk` when it is on `PATH` (Debian's package), else a built-in
//! keep-alive hyper client.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tollgate::auth::password::{hash_password, verify_password};
use tollgate::auth::BasicAuthLayer;
use tollgate::serve::{self, Server};
use tollgate::Body;
use tower::{Layer, ServiceExt};

const AUTH: &str = "Basic YWRhOmNvcnJlY3QgaG9yc2U="; // ada:correct horse

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn hello<B>(_req: Request<B>) -> Result<Response<Body>, Infallible> {
    Ok(Response::new(Body::from("hello")))
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let secs = env_num("AUTH_BENCH_SECS", 3);
    let rounds = env_num("AUTH_BENCH_ROUNDS", 3);

    // 1. The slow path: argon2id with the default (OWASP) parameters.
    let hashes: Vec<_> = (0..5)
        .map(|_| {
            let t = Instant::now();
            let h = hash_password("correct horse");
            (t.elapsed(), h)
        })
        .collect();
    let stored = hashes[0].1.clone();
    let verify: Vec<_> = (0..5)
        .map(|_| {
            let t = Instant::now();
            assert_eq!(verify_password("correct horse", &stored), Ok(true));
            t.elapsed()
        })
        .collect();
    println!(
        "argon2id m=19456,t=2,p=1: hash median {:.1} ms, verify median {:.1} ms",
        median(hashes.iter().map(|h| h.0).collect()).as_secs_f64() * 1e3,
        median(verify).as_secs_f64() * 1e3
    );

    let users = HashMap::from([("ada".to_string(), stored)]);
    let layer = BasicAuthLayer::new("bench", users);

    // 2. The cached path, in-process: the layer's cost per request over the bare service.
    rt.block_on(async {
        let authed = layer.clone().layer(tower::service_fn(hello::<Body>));
        let bare = tower::service_fn(hello::<Body>);
        let req = || {
            Request::get("/")
                .header("authorization", AUTH)
                .body(Body::empty())
                .expect("request")
        };
        assert_eq!(authed.clone().oneshot(req()).await.unwrap().status(), 200);
        let n = 200_000u32;
        let mut best = (Duration::MAX, Duration::MAX);
        for _ in 0..3 {
            let t = Instant::now();
            for _ in 0..n {
                let _ = bare.oneshot(req()).await;
            }
            best.0 = best.0.min(t.elapsed());
            let t = Instant::now();
            for _ in 0..n {
                let _ = authed.clone().oneshot(req()).await;
            }
            best.1 = best.1.min(t.elapsed());
        }
        let per = |d: Duration| d.as_secs_f64() * 1e9 / f64::from(n);
        println!(
            "cached verification, in-process: {:.0} ns/request with the layer, {:.0} ns without, \
             {:.0} ns added",
            per(best.1),
            per(best.0),
            per(best.1) - per(best.0)
        );
    });

    // 3. Throughput over TCP, alternating rounds.
    rt.block_on(async {
        let bare = start(None).await;
        let authed = start(Some(layer.clone())).await;
        let wrk = which_wrk();
        println!(
            "throughput: {rounds} alternating rounds of {secs} s each, {}",
            if wrk {
                "wrk -t1 -c16"
            } else {
                "built-in client, 16 connections"
            }
        );
        let (mut total_bare, mut total_auth) = (0.0, 0.0);
        for round in 1..=rounds {
            let b = drive(bare, false, secs, wrk).await;
            let a = drive(authed, true, secs, wrk).await;
            println!("  round {round}: without {b:.0} req/s, with layer (cached) {a:.0} req/s");
            total_bare += b;
            total_auth += a;
        }
        println!(
            "throughput: without {:.0} req/s, with layer (cached) {:.0} req/s, ratio {:.3}",
            total_bare / rounds as f64,
            total_auth / rounds as f64,
            total_auth / total_bare
        );
    });
}

async fn start(layer: Option<BasicAuthLayer>) -> SocketAddr {
    let listener = serve::listen("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let bare = tower::service_fn(hello::<Body>);
    match layer {
        Some(layer) => tokio::spawn(
            Server::new(layer.layer(bare))
                .with_graceful_shutdown(std::future::pending())
                .serve(listener),
        ),
        None => tokio::spawn(
            Server::new(bare)
                .with_graceful_shutdown(std::future::pending())
                .serve(listener),
        ),
    };
    addr
}

fn which_wrk() -> bool {
    std::process::Command::new("wrk")
        .arg("--version")
        .output()
        .is_ok()
}

/// Requests per second against `addr` for `secs` seconds.
async fn drive(addr: SocketAddr, auth: bool, secs: u64, wrk: bool) -> f64 {
    if wrk {
        let mut cmd = tokio::process::Command::new("wrk");
        cmd.args(["-t1", "-c16", &format!("-d{secs}s")]);
        if auth {
            cmd.args(["-H", &format!("Authorization: {AUTH}")]);
        }
        let out = cmd
            .arg(format!("http://{addr}/"))
            .output()
            .await
            .expect("wrk");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(!text.contains("Non-2xx"), "{text}");
        return text
            .lines()
            .find_map(|l| l.strip_prefix("Requests/sec:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("wrk output: {text}"));
    }
    let count = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let count = count.clone();
            tokio::spawn(async move {
                let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
                let (mut sender, conn) =
                    hyper::client::conn::http1::handshake(TokioIo::new(stream))
                        .await
                        .expect("handshake");
                tokio::spawn(conn);
                while Instant::now() < deadline {
                    let mut req = Request::get("/").header("host", "bench");
                    if auth {
                        req = req.header("authorization", AUTH);
                    }
                    let req = req.body(Full::new(Bytes::new())).expect("request");
                    sender.ready().await.expect("ready");
                    let res = sender.send_request(req).await.expect("response");
                    assert_eq!(res.status(), 200);
                    let _ = res.into_body().collect().await;
                    count.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
    count.load(Ordering::Relaxed) as f64 / secs as f64
}
