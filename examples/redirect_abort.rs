//! Redirects, error pages and streaming: `/old` answers 301 to `/new`, `/missing` a 404 page,
//! `/stream` ten lines sent one by one with a pause between them (chunked, not buffered).
//!
//! ```sh
//! cargo run --example redirect_abort
//! curl -iL http://127.0.0.1:8000/old
//! curl -N http://127.0.0.1:8000/stream    # watch the lines arrive
//! ```

use std::convert::Infallible;
use std::time::Duration;

use http::StatusCode;
use tollgate::{handler, serve, HttpError, Request, Response};

/// The pause between two lines of `/stream`.
pub const LINE_DELAY: Duration = Duration::from_millis(300);

/// The app with the default pause.
pub async fn redirect_abort(req: Request) -> Result<Response, HttpError> {
    app(req, LINE_DELAY).await
}

/// The app with `delay` between two lines of `/stream`.
pub async fn app(req: Request, delay: Duration) -> Result<Response, HttpError> {
    match &*req.path() {
        "/" => Ok(Response::html(
            "<ul><li><a href=\"/old\">/old</a></li><li><a href=\"/missing\">/missing</a></li>\
             <li><a href=\"/stream\">/stream</a></li></ul>",
        )),
        "/old" => Response::redirect(StatusCode::MOVED_PERMANENTLY, "/new"),
        "/new" => Ok(Response::text("This is the new page.\n")),
        "/stream" => Ok(Response::stream(lines(10, delay)).content_type(mime::TEXT_PLAIN)),
        _ => Err(HttpError::not_found(format!("nothing at {}", req.path()))),
    }
}

/// `count` lines, the first at once, each next one `delay` later.
fn lines(
    count: usize,
    delay: Duration,
) -> impl futures_util::Stream<Item = Result<String, Infallible>> + Send + Sync {
    let (tx, mut rx) = tokio::sync::mpsc::channel(1);
    tokio::spawn(async move {
        for n in 1..=count {
            if n > 1 {
                tokio::time::sleep(delay).await;
            }
            // The client went away: stop producing.
            if tx.send(Ok(format!("line {n} of {count}\n"))).await.is_err() {
                break;
            }
        }
    });
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    serve::bind(
        serve::bind_addr_from(
            std::env::args().skip(1),
            std::env::var("TOLLGATE_BIND").ok(),
        ),
        handler::from_fn(redirect_abort),
    )
    .await
}
