//! Fuzzing your own service with tollgate's request generator, without `cargo fuzz`.
//!
//! `cargo run --example fuzz_your_service --features fuzz [ITERATIONS]`
//!
//! Every iteration turns a seed into a hostile [`FuzzRequest`] (dot segments,
//! broken `Authorization`, `Range`, `Cookie` and forwarding headers, odd methods and
//! versions, any body), sends it to the service in-process, and checks the answer: no panic,
//! no 5xx, a valid HTTP/1.1 response. For coverage-guided fuzzing, put the same three lines
//! in a `cargo fuzz` target (see `fuzz/README.md`).

use tollgate::fuzz::{check_service, FuzzRequest};
use tollgate::{handler, HttpError, Request, Response};

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
}
