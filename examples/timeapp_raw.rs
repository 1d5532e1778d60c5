//! "Return the current time", written against plain `http` types and a hand-written
//! `tower::Service`: no tollgate wrappers. Compare with `timeapp.rs`.
//!
//! ```sh
//! cargo run --example timeapp_raw            # http://127.0.0.1:8000
//! cargo run --example timeapp_raw -- --bind 127.0.0.1:9000
//! ```

use std::convert::Infallible;
use std::future::{ready, Ready};
use std::task::{Context, Poll};
use std::time::SystemTime;

use bytes::Bytes;
use http::header::{ALLOW, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Full;

/// The service: answers `GET` and `HEAD` with the time, anything else with 405.
#[derive(Debug, Clone, Copy, Default)]
pub struct TimeApp;

impl<B> tower::Service<Request<B>> for TimeApp {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let mut res = if req.method() == Method::GET || req.method() == Method::HEAD {
            let now = httpdate::fmt_http_date(SystemTime::now());
            Response::new(Full::from(format!("The current time is {now}\n")))
        } else {
            let mut res = Response::new(Full::from("Method Not Allowed\n"));
            *res.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
            res.headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
            res
        };
        let headers = res.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        let length = http_body::Body::size_hint(res.body()).exact().unwrap_or(0);
        res.headers_mut()
            .insert(CONTENT_LENGTH, HeaderValue::from(length));
        ready(Ok(res))
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tollgate::serve::bind(
        tollgate::serve::bind_addr_from(
            std::env::args().skip(1),
            std::env::var("TOLLGATE_BIND").ok(),
        ),
        TimeApp,
    )
    .await
}
