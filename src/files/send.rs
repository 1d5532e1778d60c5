//! [`send_file`]: one file answered as [`ServeDir`] answers it (Werkzeug's `send_file`).

use std::path::Path;

use http::header::CONTENT_DISPOSITION;
use tower::ServiceExt;

use super::ServeDir;
use crate::error::HttpError;
use crate::request::Request;
use crate::response::Response;

/// Answers `path` for `req` exactly as [`ServeDir`] answers a file: content type from the
/// name, `ETag` and `Last-Modified`, `304`/`412` for conditional requests, `206` for ranges,
/// `HEAD` without a body, `404` when it is missing. `path` is trusted (the application chose
/// it): nothing of the request's path is used.
///
/// ```no_run
/// use tollgate::{files::send_file, HttpError, Request, Response};
///
/// async fn report(req: Request) -> Result<Response, HttpError> {
///     Ok(send_file(&req, "/srv/reports/latest.pdf").await?.attachment("report.pdf"))
/// }
/// ```
///
/// # Errors
///
/// A path without a file name (`/`, `..`) is a `500`: the application asked for something
/// that is not a file.
pub async fn send_file(req: &Request, path: impl AsRef<Path>) -> Result<Response, HttpError> {
    let path = path.as_ref();
    let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else {
        return Err(HttpError::internal(format!(
            "send_file needs the path of a file with a UTF-8 name, not {}",
            path.display()
        )));
    };
    let target = format!(
        "/{}",
        percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC)
    );
    let mut inner = http::Request::builder()
        .method(req.method().clone())
        .version(req.version())
        .uri(&target)
        .body(crate::body::Body::empty())
        .map_err(HttpError::internal)?;
    *inner.headers_mut() = req.headers().clone();
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let service = ServeDir::new(dir)
        .hidden(true)
        .listing(false)
        .index_file(None);
    let res = match service.oneshot(inner).await {
        Ok(res) => res,
        Err(never) => match never {},
    };
    let mut res = Response::from_http(res);
    res.headers_mut().remove(CONTENT_DISPOSITION);
    Ok(res)
}
