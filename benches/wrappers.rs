//! The servers `benches/wrappers.sh` drives with wrk (and `benches/wrappers_callgrind.sh`
//! counts instructions of): the same "hello" answer from a handler written with
//! `Request`/`Response` behind `tollgate::serve` (`tollgate`), the same behind a no-op
//! `filter::from_fn` (`filter`), and from a bare `hyper::service::service_fn` on hyper's own
//! HTTP/1 server (`hyper`).
//!
//! ```sh
//! benches/wrappers.sh                     # builds, runs both, alternates wrk rounds
//! target/release/deps/wrappers-… tollgate 127.0.0.1:0   # one server by hand
//! ```
//!
//! Each prints `Serving on http://ADDR` first, then serves until killed.

use std::convert::Infallible;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::HeaderValue;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tollgate::filter::{self, Next};
use tollgate::{handler, serve, HttpError, Request, Response};
use tower::Layer;

const HELLO: &str = "Hello, world!";

async fn hello(_req: Request) -> Response {
    Response::text(HELLO)
}

async fn run_tollgate(addr: &str) -> std::io::Result<()> {
    let listener = serve::listen(addr).await?;
    serve::Server::new(handler::from_fn(hello))
        .serve(listener)
        .await
}

async fn noop(req: Request, next: Next) -> Result<Response, HttpError> {
    next.run(req).await
}

async fn run_filtered(addr: &str) -> std::io::Result<()> {
    let listener = serve::listen(addr).await?;
    serve::Server::new(filter::from_fn(noop).layer(handler::from_fn(hello)))
        .serve(listener)
        .await
}

async fn run_hyper(addr: &str) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    println!("Serving on http://{}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let service = service_fn(|_req| async {
                let mut res = http::Response::new(Full::new(Bytes::from_static(HELLO.as_bytes())));
                res.headers_mut().insert(
                    CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; charset=utf-8"),
                );
                Ok::<_, Infallible>(res)
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let addr = args.get(1).map_or("127.0.0.1:0", String::as_str);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match args.first().map(String::as_str) {
        Some("tollgate") => runtime.block_on(run_tollgate(addr)),
        Some("hyper") => runtime.block_on(run_hyper(addr)),
        Some("filter") => runtime.block_on(run_filtered(addr)),
        // `cargo bench` runs every bench with `--bench`: explain instead of serving forever.
        _ => {
            println!(
                "usage: wrappers (tollgate|filter|hyper) [ADDR]; benches/wrappers.sh runs the comparison"
            );
            Ok(())
        }
    }
}
