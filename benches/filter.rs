//! What a no-op filter (`filter::from_fn(|req, next| next.run(req))`) adds to a hello-world
//! request, compared with the same handler without it (issue 15's goal: at most 2 %).
//!
//! ```text
//! cargo bench --all-features --bench filter
//! ```
//!
//! Two measures, rounds interleaved so drift in machine load falls on every row alike:
//!
//! 1. **In process**: the service called and polled once (`now_or_never`), no runtime, no
//!    socket: the filter's own cost (the one box behind `Next`, which holds the inner
//!    service and its future), in ns per request, against the bare handler's.
//! 2. **Over TCP**: each service behind `tollgate::serve` on `127.0.0.1:0`, one kept-alive
//!    HTTP/1.1 connection per service, requests sent one after the other: what a client
//!    sees, in µs per request, and the ratio.
//!
//! Environment: `BENCH_ITERS` (calls per in-process round, default 2 000), `BENCH_ROUNDS`
//! (default 200), `BENCH_TCP_REQUESTS` (requests per TCP round, default 500),
//! `BENCH_TCP_ROUNDS` (default 20). The p10 columns (the least disturbed tenth of the rounds)
//! are steadier than the medians on a shared machine.

use std::convert::Infallible;
use std::hint::black_box;
use std::time::Instant;

use futures_util::FutureExt;
use http_body_util::BodyExt;
use tollgate::filter::{self, Next};
use tollgate::{handler, Body, HttpError, Request, Response};
use tower::{Layer, Service};

type Req = http::Request<Body>;

async fn hello(_req: Request) -> Result<Response, HttpError> {
    Ok(Response::text("Hello, world!"))
}

async fn noop(req: Request, next: Next) -> Result<Response, HttpError> {
    next.run(req).await
}

fn request() -> Req {
    http::Request::get("/")
        .header("host", "127.0.0.1")
        .header("accept", "*/*")
        .body(Body::empty())
        .expect("a valid request")
}

/// Calls `svc` once; every service here answers at once.
fn call_once<S>(svc: &mut S) -> u16
where
    S: Service<Req, Response = http::Response<Body>, Error = Infallible>,
{
    std::future::poll_fn(|cx| svc.poll_ready(cx))
        .now_or_never()
        .expect("ready at once")
        .expect("ready");
    let res = svc
        .call(request())
        .now_or_never()
        .expect("answers at once")
        .expect("answers");
    res.status().as_u16()
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The `q` quantile of the rounds (nearest rank).
fn quantile(xs: &[f64], q: f64) -> f64 {
    let mut xs = xs.to_vec();
    xs.sort_by(f64::total_cmp);
    let rank = ((xs.len() - 1) as f64 * q).round() as usize;
    xs[rank]
}

/// Interleaved rounds of `run(case)` for each case; per-round means in `samples[case]`.
fn report(title: &str, unit: &str, names: &[&str], samples: &[Vec<f64>]) {
    let medians: Vec<f64> = samples.iter().map(|xs| quantile(xs, 0.5)).collect();
    let lows: Vec<f64> = samples.iter().map(|xs| quantile(xs, 0.1)).collect();
    println!("{title}: {unit} per request, median and p10 of the rounds, and the added share");
    for (i, name) in names.iter().enumerate() {
        println!(
            "{:>10.2} {:>10.2} | {:>+7.2} % {:>+7.2} %  {name}",
            medians[i],
            lows[i],
            (medians[i] / medians[0] - 1.0) * 100.0,
            (lows[i] / lows[0] - 1.0) * 100.0,
        );
    }
}

fn in_process(quick: bool) {
    let iters = if quick {
        100
    } else {
        env_usize("BENCH_ITERS", 2_000)
    };
    let rounds = if quick {
        1
    } else {
        env_usize("BENCH_ROUNDS", 200)
    };
    let bare = handler::from_fn(hello);
    let mut cases: Vec<Box<dyn FnMut() -> u16>> = vec![
        Box::new({
            let mut svc = bare.clone();
            move || call_once(&mut svc)
        }),
        Box::new({
            let mut svc = filter::from_fn(noop).layer(bare.clone());
            move || call_once(&mut svc)
        }),
        Box::new({
            let mut svc = filter::map_response(|res| res).layer(bare.clone());
            move || call_once(&mut svc)
        }),
    ];
    let names = [
        "hello handler, no filter",
        "hello handler behind a no-op from_fn filter",
        "hello handler behind a no-op map_response",
    ];
    let mut samples = vec![Vec::new(); cases.len()];
    for _ in 0..iters {
        for case in &mut cases {
            assert_eq!(black_box(case()), 200);
        }
    }
    for _ in 0..rounds {
        for (case, out) in cases.iter_mut().zip(&mut samples) {
            let start = Instant::now();
            for _ in 0..iters {
                black_box(case());
            }
            out.push(start.elapsed().as_nanos() as f64 / iters as f64);
        }
    }
    report(
        &format!("in process, {iters} calls x {rounds} rounds"),
        "ns",
        &names,
        &samples,
    );
}

/// Serves `service` on `127.0.0.1:0` and opens one HTTP/1.1 connection to it.
async fn connect<S>(service: S) -> hyper::client::conn::http1::SendRequest<Body>
where
    S: tollgate::serve::ServeService,
{
    let listener = tollgate::serve::listen("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("an address");
    // Every request of the run on one connection: no cap on requests per connection.
    let config = tollgate::serve::ServeConfig {
        max_requests_per_connection: 0,
        ..tollgate::serve::ServeConfig::default()
    };
    tokio::spawn(
        tollgate::serve::Server::new(service)
            .config(config)
            .serve(listener),
    );
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (send, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    send
}

async fn one_request(send: &mut hyper::client::conn::http1::SendRequest<Body>) {
    send.ready().await.expect("the connection stays open");
    let res = send.send_request(request()).await.expect("an answer");
    assert_eq!(res.status(), 200);
    black_box(res.into_body().collect().await.expect("the body"));
}

async fn over_tcp(quick: bool) {
    let requests = if quick {
        10
    } else {
        env_usize("BENCH_TCP_REQUESTS", 500)
    };
    let rounds = if quick {
        1
    } else {
        env_usize("BENCH_TCP_ROUNDS", 20)
    };
    let bare = handler::from_fn(hello);
    let mut conns = vec![
        connect(bare.clone()).await,
        connect(filter::from_fn(noop).layer(bare)).await,
    ];
    let names = [
        "hello handler, no filter",
        "hello handler behind a no-op from_fn filter",
    ];
    let mut samples = vec![Vec::new(); conns.len()];
    for conn in &mut conns {
        for _ in 0..requests {
            one_request(conn).await;
        }
    }
    for round in 0..rounds {
        // Alternate which goes first.
        let order: Vec<usize> = if round % 2 == 0 {
            vec![0, 1]
        } else {
            vec![1, 0]
        };
        for i in order {
            let start = Instant::now();
            for _ in 0..requests {
                one_request(&mut conns[i]).await;
            }
            samples[i].push(start.elapsed().as_secs_f64() * 1e6 / requests as f64);
        }
    }
    report(
        &format!("over TCP, {requests} requests x {rounds} rounds, one connection each"),
        "µs",
        &names,
        &samples,
    );
}

fn main() {
    // `cargo test --benches` runs this with `--bench` absent: keep that quick.
    let quick = !std::env::args().any(|a| a == "--bench");
    in_process(quick);
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(over_tcp(quick));
}
