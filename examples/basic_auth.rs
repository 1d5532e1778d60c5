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

use tollgate::auth::password::hash_password;
use tollgate::auth::BasicAuthLayer;
use tollgate::ext::AuthenticatedUser;
use tollgate::{serve, Body, HttpError};
use tower::Layer;

async fn secure(req: http::Request<Body>) -> Result<http::Response<Body>, Infallible> {
    if req.uri().path() != "/secure" {
        return Ok(HttpError::not_found("no such page").into_response_for(req.headers()));
    }
    let user = req
        .extensions()
        .get::<AuthenticatedUser>()
        .map_or("stranger", |u| u.name());
    Ok(http::Response::new(Body::from(format!("Hello, {user}!"))))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    // Hashed at startup, never stored in clear (Flask-HTTPAuth's `generate_password_hash`).
    let users = HashMap::from([("David".to_string(), hash_password("4bYaDZCFsTY4"))]);
    let app =
        BasicAuthLayer::new("Authentication Required", users).layer(tower::service_fn(secure));
    serve::bind(
        serve::bind_addr_from(
            std::env::args().skip(1),
            std::env::var("TOLLGATE_BIND").ok(),
        ),
        app,
    )
    .await
}
