//! "Return the current time" with `Request`/`Response` and a handler function: compare with
//! `timeapp_raw.rs`.
//!
//! ```sh
//! cargo run --example timeapp    # then: curl http://127.0.0.1:8000/
//! ```

use std::time::SystemTime;

use http::Method;
use tollgate::{handler, serve, HttpError, Request, Response};

/// Answers `GET` and `HEAD` with the time, anything else with 405.
pub async fn timeapp(req: Request) -> Result<Response, HttpError> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return Err(HttpError::method_not_allowed(&[Method::GET, Method::HEAD]));
    }
    let now = httpdate::fmt_http_date(SystemTime::now());
    Ok(Response::text(format!("The current time is {now}\n")))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    serve::bind(
        serve::bind_addr_from(
            std::env::args().skip(1),
            std::env::var("TOLLGATE_BIND").ok(),
        ),
        handler::from_fn(timeapp),
    )
    .await
}
