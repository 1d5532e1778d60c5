//! A server for multipart uploads, used by `benches/upload_memory.sh` to measure peak memory.
//!
//! ```text
//! cargo run --example upload_server -- echo        # FormSummary: files hashed, never stored
//! cargo run --example upload_server -- form-data   # Request::form_data: files spooled to $TMPDIR
//! ```
//!
//! Prints `listening on ADDR` once bound to 127.0.0.1 on a free port, then serves until killed.
//! Every upload is answered with JSON describing it.

use std::convert::Infallible;

use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::TcpListener;
use tower::ServiceExt;

use tollgate::echo::EchoService;
use tollgate::form::{FormLimits, MultipartError};
use tollgate::{handler, Body, Request, Response};

/// Limits large enough for the benchmark's upload.
fn limits() -> FormLimits {
    FormLimits::new()
        .max_body_size(1 << 40)
        .max_file_size(1 << 40)
}

async fn form_data(mut req: Request) -> Result<Response, MultipartError> {
    let form = req.form_data(&limits()).await?;
    let files: Vec<_> = form
        .files
        .iter()
        .map(|(field, f)| json!([field, f.safe_filename(), f.size(), f.path().is_some()]))
        .collect();
    Ok(Response::json(&json!({ "fields": form.fields, "files": files })))
}

async fn serve<S>(svc: S) -> std::io::Result<()>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    println!("listening on {}", listener.local_addr()?);
    loop {
        let (tcp, _) = listener.accept().await?;
        let svc = svc.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req: http::Request<Incoming>| {
                svc.clone().oneshot(req.map(Body::from))
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), svc)
                .await;
        });
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    match std::env::args().nth(1).as_deref() {
        Some("form-data") => serve(handler::from_fn(form_data)).await,
        _ => serve(EchoService::new().form_limits(limits())).await,
    }
}
