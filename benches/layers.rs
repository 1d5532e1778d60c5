//! Per-request cost of tollgate's filtering stack versus the closest tower-http/axum stack,
//! measured in the same run, rounds interleaved.
//!
//! ```text
//! cargo bench --all-features --bench layers
//! ```
//!
//! Every service here answers without waiting, so each call is polled once
//! (`now_or_never`) and no runtime is involved: what is measured is the layers' own work plus
//! building the request and dropping the response, the same for every stack. The `baseline`
//! row (build the request, call the trivial service) is that shared part.
//!
//! Environment: `BENCH_ITERS` (calls per round, default 2 000), `BENCH_ROUNDS` (default 200),
//! `BENCH_FILTER` (keep the baseline and the rows whose name contains it, e.g. to profile one
//! stack under `valgrind --tool=callgrind` with `BENCH_ITERS=1000 BENCH_ROUNDS=1`).
//! Many short rounds, every stack in each: on a shared machine the `p10` columns (the
//! least disturbed tenth of the rounds) are steadier than the medians.
//!
//! The last lines are the ratios (ours / theirs, each minus the baseline) on the median and the
//! p10, and whether the equivalent stack meets the goal of costing no more than tower-http's
//! `NormalizePath` + `SetRequestHeader` + axum's `Router` (issue 6).

use std::convert::Infallible;
use std::hint::black_box;
use std::time::Instant;

use futures_util::FutureExt;
use http::header::{HeaderName, HeaderValue};
use tollgate::dispatch::{get, Dispatch};
use tollgate::ext::PeerAddr;
use tollgate::forwarded::{ForwardedConfig, ForwardedLayer};
use tollgate::normalize::{NormalizeConfig, NormalizeLayer, PathOptions, TrailingSlash};
use tollgate::rewrite::{presets::Preset, RequestIdConfig, RewriteConfig, RewriteLayer, Rule};
use tollgate::Body;
use tower::{Service, ServiceBuilder};

type Req = http::Request<Body>;

/// The trivial service every stack ends in.
fn trivial() -> impl Service<
    Req,
    Response = http::Response<Body>,
    Error = Infallible,
    Future = std::future::Ready<Result<http::Response<Body>, Infallible>>,
> + Clone
       + Send
       + Sync
       + 'static {
    tower::service_fn(|_req: Req| {
        std::future::ready(Ok::<_, Infallible>(http::Response::new(Body::from("ok"))))
    })
}

/// The same trivial service for axum, whose router hands its routes `axum::body::Body`.
fn trivial_axum() -> impl Service<
    http::Request<axum::body::Body>,
    Response = http::Response<Body>,
    Error = Infallible,
    Future = std::future::Ready<Result<http::Response<Body>, Infallible>>,
> + Clone
       + Send
       + Sync
       + 'static {
    tower::service_fn(|_req: http::Request<axum::body::Body>| {
        std::future::ready(Ok::<_, Infallible>(http::Response::new(Body::from("ok"))))
    })
}

/// The request every stack gets: a mounted, parameterised route, a trailing slash to trim,
/// headers as a browser behind one proxy sends them.
fn request() -> Req {
    let mut req = http::Request::get("/api/users/42/?page=2")
        .header("host", "app.example.com")
        .header(
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64) Firefox/126.0",
        )
        .header("accept", "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8")
        .header("accept-language", "en-GB,en;q=0.5")
        .header("cookie", "session=abc123; theme=dark")
        .header("x-forwarded-for", "203.0.113.7")
        .header("x-forwarded-proto", "https")
        .header("x-internal-debug", "1")
        .body(Body::empty())
        .expect("a valid request");
    req.extensions_mut()
        .insert(PeerAddr("10.0.0.2:41000".parse().expect("an address")));
    req
}

/// Calls `svc` once; every service here is ready at once.
fn call_once<S, B>(svc: &mut S) -> http::Response<B>
where
    S: Service<Req, Response = http::Response<B>>,
    S::Error: std::fmt::Debug,
{
    std::future::poll_fn(|cx| svc.poll_ready(cx))
        .now_or_never()
        .expect("ready at once")
        .expect("ready");
    svc.call(request())
        .now_or_never()
        .expect("answers at once")
        .expect("answers")
}

/// A stack under test: name and one call.
struct Case {
    name: &'static str,
    call: Box<dyn FnMut() -> u16>,
}

fn case<S, B>(name: &'static str, mut svc: S) -> Case
where
    S: Service<Req, Response = http::Response<B>> + 'static,
    S::Error: std::fmt::Debug,
{
    let status = call_once(&mut svc).status();
    assert_eq!(status, 200, "{name} must route the bench request");
    Case {
        name,
        call: Box::new(move || call_once(&mut svc).status().as_u16()),
    }
}

fn routes_ours() -> tollgate::dispatch::Dispatcher {
    let api = Dispatch::new()
        .route("/users", get(trivial()).post(trivial()))
        .route(
            "/users/{id}",
            get(trivial()).put(trivial()).delete(trivial()),
        )
        .route("/users/{id}/posts", get(trivial()))
        .route("/files/{*rest}", get(trivial()))
        .build()
        .expect("valid api table");
    Dispatch::new()
        .route("/", get(trivial()))
        .route("/time", get(trivial()).post(trivial()))
        .route("/health", get(trivial()))
        .mount("/api", api)
        .build()
        .expect("valid table")
}

fn routes_axum() -> axum::Router {
    use axum::routing::get_service;
    let api = axum::Router::new()
        .route_service(
            "/users",
            get_service(trivial_axum()).post_service(trivial_axum()),
        )
        .route_service(
            "/users/{id}",
            get_service(trivial_axum())
                .put_service(trivial_axum())
                .delete_service(trivial_axum()),
        )
        .route_service("/users/{id}/posts", get_service(trivial_axum()))
        .route_service("/files/{*rest}", get_service(trivial_axum()));
    axum::Router::new()
        .route_service("/", get_service(trivial_axum()))
        .route_service(
            "/time",
            get_service(trivial_axum()).post_service(trivial_axum()),
        )
        .route_service("/health", get_service(trivial_axum()))
        .nest("/api", api)
}

fn rewrite(config: RewriteConfig) -> RewriteLayer {
    RewriteLayer::new(&config).expect("valid rules")
}

/// The same work as tower-http's `SetRequestHeader::overriding`: one fixed header.
fn rewrite_one_header() -> RewriteLayer {
    rewrite(RewriteConfig::new().request(Rule::set("x-gateway", "tollgate")))
}

/// What a gateway really configures: request id, the client address, internal headers
/// dropped, `Server` hidden.
fn rewrite_realistic() -> RewriteLayer {
    rewrite(
        RewriteConfig::new()
            .request_id(RequestIdConfig::default())
            .preset(Preset::HideServer)
            .request(Rule::remove_prefix("x-internal-"))
            .request(Rule::set("x-real-ip", "{client_addr}"))
            .request(Rule::set("x-gateway", "tollgate")),
    )
}

fn set_header_tower_http() -> tower_http::set_header::SetRequestHeaderLayer<HeaderValue> {
    tower_http::set_header::SetRequestHeaderLayer::overriding(
        HeaderName::from_static("x-gateway"),
        HeaderValue::from_static("tollgate"),
    )
}

/// Normalization as the tower-http row does it (trailing slash trimmed), plus what tollgate
/// always does: dot-segments, repeated slashes, percent-encoding, host, refusals.
fn normalize_ours() -> NormalizeLayer {
    NormalizeLayer::new(
        NormalizeConfig::default()
            .path(PathOptions::default().trailing_slash(TrailingSlash::Strip)),
    )
}

/// One trusted proxy hop (the request carries `X-Forwarded-For` and `-Proto`).
fn forwarded_ours() -> ForwardedLayer {
    ForwardedLayer::new(ForwardedConfig::default())
}

fn cases() -> Vec<Case> {
    use tower_http::normalize_path::NormalizePathLayer;
    vec![
        case("baseline (build request, trivial service)", trivial()),
        case(
            "dispatch: tollgate Dispatcher",
            ServiceBuilder::new()
                .layer(NormalizePathLayer::trim_trailing_slash())
                .service(routes_ours()),
        ),
        case(
            "dispatch: axum Router",
            ServiceBuilder::new()
                .layer(NormalizePathLayer::trim_trailing_slash())
                .service(routes_axum()),
        ),
        case(
            "normalize: tollgate Normalize",
            ServiceBuilder::new()
                .layer(normalize_ours())
                .service(trivial()),
        ),
        case(
            "normalize: tower-http NormalizePath",
            ServiceBuilder::new()
                .layer(NormalizePathLayer::trim_trailing_slash())
                .service(trivial()),
        ),
        case(
            "forwarded: tollgate Forwarded (no tower-http equivalent)",
            ServiceBuilder::new()
                .layer(forwarded_ours())
                .service(trivial()),
        ),
        case(
            "set one header: tollgate Rewrite",
            rewrite_one_header().layer_on(trivial()),
        ),
        case(
            "set one header: tower-http SetRequestHeader",
            ServiceBuilder::new()
                .layer(set_header_tower_http())
                .service(trivial()),
        ),
        case(
            "stack: tollgate normalize -> forwarded -> rewrite(1 header) -> dispatch",
            ServiceBuilder::new()
                .layer(normalize_ours())
                .layer(forwarded_ours())
                .layer(rewrite_one_header())
                .service(routes_ours()),
        ),
        case(
            "stack: tollgate normalize -> forwarded -> rewrite(realistic) -> dispatch",
            ServiceBuilder::new()
                .layer(normalize_ours())
                .layer(forwarded_ours())
                .layer(rewrite_realistic())
                .service(routes_ours()),
        ),
        case(
            "stack: tower-http NormalizePath -> SetRequestHeader -> axum Router",
            ServiceBuilder::new()
                .layer(NormalizePathLayer::trim_trailing_slash())
                .layer(set_header_tower_http())
                .service(routes_axum()),
        ),
    ]
}

trait LayerOn {
    fn layer_on<S>(&self, svc: S) -> tollgate::rewrite::Rewrite<S>;
}

impl LayerOn for RewriteLayer {
    fn layer_on<S>(&self, svc: S) -> tollgate::rewrite::Rewrite<S> {
        tower::Layer::layer(self, svc)
    }
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

fn main() {
    // `cargo test --benches` runs this with `--bench` absent: keep that quick.
    let quick = !std::env::args().any(|a| a == "--bench");
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
    // `BENCH_FILTER=text` keeps the baseline and the cases whose name contains `text` (for
    // profiling one stack under callgrind).
    let filter = std::env::var("BENCH_FILTER").unwrap_or_default();
    let mut cases: Vec<Case> = cases()
        .into_iter()
        .enumerate()
        .filter(|(i, c)| *i == 0 || c.name.contains(filter.as_str()))
        .map(|(_, c)| c)
        .collect();
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
    for _ in 0..iters {
        for case in &mut cases {
            black_box((case.call)());
        }
    }
    for _ in 0..rounds {
        for (case, out) in cases.iter_mut().zip(&mut samples) {
            let start = Instant::now();
            for _ in 0..iters {
                black_box((case.call)());
            }
            out.push(start.elapsed().as_nanos() as f64 / iters as f64);
        }
    }
    let lows: Vec<f64> = samples.iter().map(|xs| quantile(xs, 0.1)).collect();
    let medians: Vec<f64> = samples.iter().map(|xs| quantile(xs, 0.5)).collect();
    println!(
        "{iters} calls x {rounds} rounds; ns per request: median, p10 of rounds, and each minus the baseline's"
    );
    for (i, case) in cases.iter().enumerate() {
        println!(
            "{:>8.0} {:>8.0} | {:>7.0} {:>7.0}  {}",
            medians[i],
            lows[i],
            medians[i] - medians[0],
            lows[i] - lows[0],
            case.name
        );
    }
    let find = |prefix: &str| cases.iter().position(|c| c.name.starts_with(prefix));
    // Ratios of the costs above the baseline, ours over theirs: below 1.00, ours is cheaper.
    let ratio = |ours: &str, theirs: &str| {
        let (a, b) = (find(ours)?, find(theirs)?);
        let of = |xs: &[f64]| (xs[a] - xs[0]) / (xs[b] - xs[0]);
        let (median, p10) = (of(&medians), of(&lows));
        println!("ratio {median:.2} (median) {p10:.2} (p10)  {ours} / {theirs}");
        Some((median, p10))
    };
    ratio("dispatch: tollgate", "dispatch: axum");
    ratio("normalize: tollgate", "normalize: tower-http");
    ratio("set one header: tollgate", "set one header: tower-http");
    let stack = ratio(
        "stack: tollgate normalize -> forwarded -> rewrite(1",
        "stack: tower-http",
    );
    if let Some((median, p10)) = stack {
        let verdict = if median <= 1.0 && p10 <= 1.0 {
            "met"
        } else {
            "NOT met"
        };
        println!(
            "goal (the equivalent stack costs no more than tower-http + axum, median and p10): {verdict}"
        );
    }
    ratio(
        "stack: tollgate normalize -> forwarded -> rewrite(realistic",
        "stack: tower-http",
    );
}
