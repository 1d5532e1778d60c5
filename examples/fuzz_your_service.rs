//! Fuzzing your own service with tollgate's request generator, without `cargo fuzz`.
//!
//! `cargo run --example fuzz_your_service --features fuzz [ITERATIONS]`
//!
//! Every iteration turns a seed into a hostile [`FuzzRequest`] (dot segments,
//! broken `Authorization`, `Range`, `Cookie` and forwarding headers, odd methods and
//! versions, any body), sends it to the service in-process, and checks the answer: no panic,
//! no 5xx, a valid HTTP/1.1 response. For coverage-guided fuzzing, put the same three lines
//! in a `cargo fuzz` target (see `fuzz/README.md`).
//!
//! Then the same a level lower, on an axum app: [`RawRequest`] makes raw HTTP/1.1 bytes with
//! the framing-level mutations of request smuggling (CL.TE, obfuscated `Transfer-Encoding`,
//! odd chunk sizes, bare LF, obs-fold, duplicate `Host`, pipelining, h2c upgrades...), which
//! hyper's HTTP/1.1 server reads over an in-memory stream and hands to the app. Every answer
//! must be valid HTTP/1.1, none a 5xx, and never more answers than requests were sent.

use std::convert::Infallible;

use tollgate::fuzz::{check_service, serve_raw, FuzzRequest, RawRequest};
use tollgate::{handler, wire, HttpError, Request, Response};
use tower::ServiceExt;

/// The service under test: yours goes here.
async fn greet(req: Request) -> Result<Response, HttpError> {
    let args = req.args()?;
    let name = args.get("name").unwrap_or("world");
    Ok(Response::text(format!(
        "Hello, {name}! You asked for {}",
        req.path()
    )))
}

fn main() {
    let iterations: u64 = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000);
    let service = handler::from_fn(greet);
    for seed in 0..iterations {
        // Deterministic: a failure replays with the same seed.
        let req = FuzzRequest::from_seed(seed);
        let shown = format!("{req:?}");
        let checked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            check_service(&service, req)
        }));
        if checked.is_err() {
            eprintln!("seed {seed}: bad answer to\n{shown}");
            std::process::exit(1);
        }
    }
    println!("{iterations} requests, every answer valid");
    fuzz_axum(iterations);
    println!("{iterations} raw requests to an axum app, every answer valid");
}

/// The axum app under test: yours goes here.
fn app() -> axum::Router {
    axum::Router::new()
        .route("/", axum::routing::get(|| async { "hello" }))
        .route(
            "/{name}",
            axum::routing::post(|body: String| async move { body }),
        )
}

fn fuzz_axum(iterations: u64) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    for seed in 0..iterations {
        let req = RawRequest::from_seed(seed);
        let out = runtime.block_on(exchange(req.bytes()));
        let sent = req
            .mutations()
            .iter()
            .map(|m| m.requests_meant())
            .max()
            .unwrap_or(1);
        let mut rest = &out[..];
        let mut answers = 0;
        while !rest.is_empty() {
            let (res, used) = match wire::parse_response(rest) {
                Ok(read) => read,
                Err(e) => fail(seed, &req, &format!("an answer wire cannot read: {e}")),
            };
            if res.status().is_server_error() {
                fail(seed, &req, &format!("answered {}", res.status()));
            }
            answers += 1;
            rest = &rest[used..];
        }
        if answers > sent {
            fail(seed, &req, &format!("{answers} answers to {sent} requests"));
        }
    }
}

/// Sends `bytes` to the app through hyper's HTTP/1.1 server and returns all it wrote back.
async fn exchange(bytes: &[u8]) -> Vec<u8> {
    let service = hyper::service::service_fn(|req: http::Request<hyper::body::Incoming>| async {
        Ok::<_, Infallible>(
            app()
                .oneshot(req)
                .await
                .unwrap_or_else(|never| match never {}),
        )
    });
    serve_raw(service, bytes).await
}

fn fail(seed: u64, req: &RawRequest, why: &str) -> ! {
    eprintln!(
        "seed {seed}: {why}\nmutations: {:?}\nrequest: {}",
        req.mutations(),
        String::from_utf8_lossy(req.bytes())
    );
    std::process::exit(1);
}
