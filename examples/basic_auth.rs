//! The classic Flask-HTTPAuth example in Rust: `GET /secure` with Basic credentials.
//!
//! ```text
//! cargo run --example basic_auth                 # serves on 127.0.0.1:8000
//! curl -u David:4bYaDZCFsTY4 http://127.0.0.1:8000/secure   # Hello, David!
//! curl -i http://127.0.0.1:8000/secure                       # 401 Unauthorized Access
//! ```
//!
//! `--bind ADDR` (or `TOLLGATE_BIND`) changes the address.

use std::collections::HashMap;
use std::convert::Infallible;

use http::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tollgate::auth::password::hash_password;
use tollgate::auth::BasicAuthLayer;
use tollgate::ext::{AuthenticatedUser, PeerAddr};
use tollgate::{Body, HttpError};
use tower::{Layer, ServiceExt};

async fn secure<B>(req: Request<B>) -> Result<Response<Body>, Infallible> {
    if req.uri().path() != "/secure" {
        return Ok(HttpError::not_found("no such page").into_response_for(req.headers()));
    }
    let user = req
        .extensions()
        .get::<AuthenticatedUser>()
        .map_or("stranger", |u| u.name());
    let mut res = Response::new(Body::from(format!("Hello, {user}!")));
    *res.status_mut() = StatusCode::OK;
    Ok(res)
}

fn bind_addr() -> String {
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--bind" {
            if let Some(addr) = args.next() {
                return addr;
            }
        } else if let Some(addr) = arg.strip_prefix("--bind=") {
            return addr.to_owned();
        }
    }
    std::env::var("TOLLGATE_BIND").unwrap_or_else(|_| "127.0.0.1:8000".into())
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    // Hashed at startup, never stored in clear (Flask-HTTPAuth's `generate_password_hash`).
    let users = HashMap::from([("David".to_string(), hash_password("4bYaDZCFsTY4"))]);
    let app = BasicAuthLayer::new("Authentication Required", users)
        .layer(tower::service_fn(secure::<hyper::body::Incoming>));

    let listener = tokio::net::TcpListener::bind(bind_addr()).await?;
    println!("Serving on http://{}", listener.local_addr()?);
    loop {
        let (stream, peer) = listener.accept().await?;
        let app = app.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |mut req: Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(PeerAddr(peer));
                app.clone().oneshot(req)
            });
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}
