//! Filters written as functions, on a small app:
//!
//! - every answer gets `X-Filtered: yes` (a `map_response` filter, outermost);
//! - `GET /forbidden` is answered `403` by a `predicate` filter: the handler never runs;
//! - `GET /page` is an HTML page into which the `inject` filter puts `<p>injected</p>` before
//!   `</body>`, with the right `Content-Length`;
//! - `GET /panic` panics in the handler: the answer is a `500` (still stamped), and the
//!   connection stays open for the next request.
//!
//! ```sh
//! cargo run --example filters                   # --bind ADDR (or TOLLGATE_BIND) to move it
//! curl -i http://127.0.0.1:8000/page
//! curl -i http://127.0.0.1:8000/forbidden
//! curl -i http://127.0.0.1:8000/panic http://127.0.0.1:8000/page   # one connection
//! ```

use std::convert::Infallible;

use bytes::Bytes;
use tollgate::filter::body::WholeBody;
use tollgate::filter::{self, CatchPanicLayer, Next};
use tollgate::{handler, serve, Body, HttpError, Request, Response};
use tower::ServiceBuilder;

/// The page `/page` serves, before the filter injects its paragraph.
pub const PAGE: &str = "<!doctype html>\n<html><head><title>Filters</title></head>\n\
                        <body><h1>A page</h1></body></html>\n";

/// The app behind the filters: knows nothing of them.
pub async fn app(req: Request) -> Result<Response, HttpError> {
    match req.path().as_ref() {
        "/page" => Ok(Response::html(PAGE)),
        "/panic" => panic!("the /panic handler panics, as the example asks"),
        "/forbidden" => Ok(Response::text("the forbid filter lets nobody here\n")),
        _ => Err(HttpError::not_found("try /page, /forbidden or /panic")),
    }
}

/// Refuses `/forbidden` before the app sees it.
pub fn forbid(req: &Request) -> Result<(), HttpError> {
    if req.path() == "/forbidden" {
        return Err(HttpError::forbidden("filtered out"));
    }
    Ok(())
}

/// Puts `<p>injected</p>` before `</body>` of HTML answers up to 1 MiB; longer ones, and
/// everything else, pass unchanged.
pub async fn inject(req: Request, next: Next) -> Result<Response, HttpError> {
    let res = next.run(req).await?;
    let html = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if !html {
        return Ok(res);
    }
    WholeBody::new(1 << 20)
        .response(res, |page| {
            let page = String::from_utf8_lossy(&page);
            Bytes::from(page.replacen("</body>", "<p>injected</p></body>", 1))
        })
        .await
}

/// The whole stack, outermost first: the stamp on every answer, the `/forbidden` refusal, a
/// panic catcher (so a panic's `500` is stamped too), `inject`, then the app.
pub fn service() -> impl tower::Service<
    http::Request<Body>,
    Response = http::Response<Body>,
    Error = Infallible,
    Future: Send,
> + Clone
       + Send
       + Sync
       + 'static {
    ServiceBuilder::new()
        .layer(filter::map_response(|res: Response| {
            res.header("x-filtered", "yes")
        }))
        .layer(filter::predicate(forbid))
        .layer(CatchPanicLayer::new())
        .layer(filter::from_fn(inject))
        .service(handler::from_fn(app))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    serve::bind(
        serve::bind_addr_from(
            std::env::args().skip(1),
            std::env::var("TOLLGATE_BIND").ok(),
        ),
        service(),
    )
    .await
}
