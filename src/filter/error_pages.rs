//! [`ErrorPages`]: an application's own pages for the error answers tollgate renders.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use http::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use http::StatusCode;

use crate::body::Body;
use crate::error::{html_escape, ErrorFormat, RenderedError};
use crate::response::Response;

type PageFn = dyn Fn(&ErrorPage<'_>) -> String + Send + Sync;

/// What a replacement page is made from: the status and the public message of the error.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct ErrorPage<'a> {
    /// The status.
    pub status: StatusCode,
    /// The error's public message (not escaped: escape it for HTML, e.g. with
    /// [`html_escape`](crate::error::html_escape)).
    pub message: &'a str,
}

#[derive(Clone)]
enum Page {
    Template(Arc<str>),
    Function(Arc<PageFn>),
}

/// Replacement HTML pages for the error answers tollgate renders ([`HttpError`]s of handlers,
/// filters, layers and services: auth's `401`, dispatch's `404`, the proxy's `502`, ...), by
/// status. Answers a client asked for as JSON or plain text keep those formats; answers that
/// tollgate did not render (an upstream's own `500` page, a handler's own `Response`) pass
/// untouched.
///
/// A template is HTML where `{status}`, `{reason}` and `{message}` (HTML-escaped) are
/// replaced; a function builds the page itself.
///
/// [`HttpError`]: crate::HttpError
///
/// ```
/// use http::StatusCode;
/// use tollgate::filter::ErrorPages;
/// use tollgate::{handler, testing::TestClient, HttpError, Request};
/// use tower::Layer;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let pages = ErrorPages::new()
///     .template(StatusCode::NOT_FOUND, "<h1>Lost?</h1><p>{message}</p>")
///     .fallback(|page| format!("<h1>{} trouble</h1>", page.status.as_u16()));
/// let app = handler::from_fn(|req: Request| async move {
///     Err::<String, _>(HttpError::not_found(format!("no {}", req.path())))
/// });
/// let client = TestClient::new(pages.layer().layer(app));
/// assert_eq!(client.get("/x").send().await.text().await, "<h1>Lost?</h1><p>no /x</p>");
/// # }
/// ```
#[derive(Clone, Default)]
#[must_use]
pub struct ErrorPages {
    pages: HashMap<StatusCode, Page>,
    fallback: Option<Page>,
}

impl ErrorPages {
    /// No replacement yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The page of `status` from an HTML template.
    pub fn template(mut self, status: StatusCode, html: impl Into<String>) -> Self {
        self.pages
            .insert(status, Page::Template(Arc::from(html.into())));
        self
    }

    /// The page of `status` from a function.
    pub fn function<F>(mut self, status: StatusCode, page: F) -> Self
    where
        F: Fn(&ErrorPage<'_>) -> String + Send + Sync + 'static,
    {
        self.pages.insert(status, Page::Function(Arc::new(page)));
        self
    }

    /// The page of every error status without a page of its own, from a function.
    pub fn fallback<F>(mut self, page: F) -> Self
    where
        F: Fn(&ErrorPage<'_>) -> String + Send + Sync + 'static,
    {
        self.fallback = Some(Page::Function(Arc::new(page)));
        self
    }

    /// Whether no page is replaced.
    pub fn is_empty(&self) -> bool {
        self.pages.is_empty() && self.fallback.is_none()
    }

    /// The layer that applies them: a [`map_response`](super::map_response).
    pub fn layer(&self) -> super::MapResponseLayer {
        let pages = self.clone();
        super::map_response(move |res| pages.apply(res))
    }

    /// `res` with its page replaced, when tollgate rendered it as HTML and a page is set for
    /// its status.
    pub fn apply(&self, res: Response) -> Response {
        let Some(rendered) = res.as_http().extensions().get::<RenderedError>() else {
            return res;
        };
        if rendered.format() != ErrorFormat::Html {
            return res;
        }
        let status = res.status();
        let Some(page) = self.pages.get(&status).or(self.fallback.as_ref()) else {
            return res;
        };
        let info = ErrorPage {
            status,
            message: rendered.message(),
        };
        let html = match page {
            Page::Template(template) => fill(template, &info),
            Page::Function(f) => f(&info),
        };
        let mut res = res.into_http();
        let headers = res.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        headers.insert(CONTENT_LENGTH, HeaderValue::from(html.len()));
        Response::from_http(res.map(|_| Body::from(html)))
    }
}

/// The template with its placeholders replaced.
fn fill(template: &str, page: &ErrorPage<'_>) -> String {
    template
        .replace("{status}", page.status.as_str())
        .replace(
            "{reason}",
            page.status.canonical_reason().unwrap_or("Error"),
        )
        .replace("{message}", &html_escape(page.message))
}

impl fmt::Debug for ErrorPages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut statuses: Vec<u16> = self.pages.keys().map(StatusCode::as_u16).collect();
        statuses.sort_unstable();
        f.debug_struct("ErrorPages")
            .field("statuses", &statuses)
            .field("fallback", &self.fallback.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::HttpError;

    #[test]
    fn templates_escape_the_message_and_keep_other_formats() {
        let pages =
            ErrorPages::new().template(StatusCode::FORBIDDEN, "{status} {reason}: {message}");
        let html = Response::from(HttpError::forbidden("<no>").into_response());
        let res = pages.apply(html);
        assert_eq!(res.headers()[CONTENT_LENGTH], "25");
        assert_eq!(
            res.body().as_bytes().unwrap().as_ref(),
            b"403 Forbidden: &lt;no&gt;"
        );
        let json = HttpError::forbidden("x").into_response_as(ErrorFormat::Json);
        let res = pages.apply(Response::from(json));
        assert_eq!(res.headers()[CONTENT_TYPE], "application/json");
    }

    #[test]
    fn answers_tollgate_did_not_render_pass() {
        let pages = ErrorPages::new().fallback(|_| "mine".into());
        let own = Response::text("teapot").with_status(StatusCode::IM_A_TEAPOT);
        let res = pages.apply(own);
        assert_eq!(res.body().as_bytes().unwrap().as_ref(), b"teapot");
    }
}
