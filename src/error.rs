//! [`HttpError`]: a status, a public message, extra headers and a private cause, rendered as
//! HTML, JSON or plain text by what the client accepts.
//!
//! Every parser error of the crate converts into it, so `?` works in handlers.
//!
//! # Example
//!
//! ```
//! use tollgate::error::HttpError;
//! use http::{HeaderMap, StatusCode, header::ACCEPT};
//!
//! let err = HttpError::not_found("no such page: /x");
//! let mut req_headers = HeaderMap::new();
//! req_headers.insert(ACCEPT, "application/json".parse().unwrap());
//! let res = err.into_response_for(&req_headers);
//! assert_eq!(res.status(), StatusCode::NOT_FOUND);
//! assert_eq!(res.headers()["content-type"], "application/json");
//! ```

use std::borrow::Cow;
use std::fmt;

use http::header::{
    HeaderName, HeaderValue, ACCEPT, ALLOW, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER,
    WWW_AUTHENTICATE,
};
use http::{HeaderMap, Method, StatusCode};

use crate::body::{Body, BoxError};

/// An HTTP error answer: status, public message, extra headers and an optional private cause.
///
/// The message is shown to the client (HTML-escaped in HTML pages); the [`source`] is for logs
/// only and never reaches the client.
///
/// [`source`]: std::error::Error::source
pub struct HttpError(Box<Inner>);

// Boxed so `Result<T, HttpError>` stays one pointer wide on the happy path.
struct Inner {
    status: StatusCode,
    message: Cow<'static, str>,
    headers: HeaderMap,
    source: Option<BoxError>,
}

/// The representation an error page is rendered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorFormat {
    /// A small HTML page (the default, like WebOb's).
    Html,
    /// `{"status": 404, "error": "..."}`.
    Json,
    /// The message as `text/plain`.
    Text,
}

impl HttpError {
    /// An error with this status and public message.
    pub fn new(status: StatusCode, message: impl Into<Cow<'static, str>>) -> Self {
        HttpError(Box::new(Inner {
            status,
            message: message.into(),
            headers: HeaderMap::new(),
            source: None,
        }))
    }

    /// `400 Bad Request`.
    pub fn bad_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// `401 Unauthorized` with a `WWW-Authenticate` challenge, e.g. `Basic realm="x"`.
    pub fn unauthorized(challenge: HeaderValue) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "Unauthorized Access")
            .with_header(WWW_AUTHENTICATE, challenge)
    }

    /// `403 Forbidden`.
    pub fn forbidden(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    /// `404 Not Found`.
    pub fn not_found(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// `405 Method Not Allowed` with an `Allow` header listing `allow`.
    pub fn method_not_allowed<'a>(allow: impl IntoIterator<Item = &'a Method>) -> Self {
        let allow = crate::answer::allow(allow);
        let list = allow.to_str().unwrap_or_default().to_owned();
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("method not allowed; allowed: {list}"),
        )
        .with_header(ALLOW, allow)
    }

    /// `413 Payload Too Large`.
    pub fn payload_too_large(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, message)
    }

    /// `415 Unsupported Media Type`.
    pub fn unsupported_media_type(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, message)
    }

    /// `429 Too Many Requests` with `Retry-After: seconds`.
    pub fn too_many_requests(retry_after_secs: u64) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too many requests; retry later",
        )
        .with_header(RETRY_AFTER, HeaderValue::from(retry_after_secs))
    }

    /// `500 Internal Server Error` with a generic public message; `source` goes to logs only.
    pub fn internal(source: impl Into<BoxError>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal server error").with_source(source)
    }

    /// `501 Not Implemented`.
    pub fn not_implemented(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::NOT_IMPLEMENTED, message)
    }

    /// `502 Bad Gateway`.
    pub fn bad_gateway(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_GATEWAY, message)
    }

    /// `503 Service Unavailable` with `Retry-After: seconds`.
    pub fn service_unavailable(
        message: impl Into<Cow<'static, str>>,
        retry_after_secs: u64,
    ) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, message)
            .with_header(RETRY_AFTER, HeaderValue::from(retry_after_secs))
    }

    /// `504 Gateway Timeout`.
    pub fn gateway_timeout(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::GATEWAY_TIMEOUT, message)
    }

    /// Adds a header to the answer (e.g. `Allow`, `WWW-Authenticate`, `Retry-After`).
    #[must_use]
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.0.headers.append(name, value);
        self
    }

    /// Attaches a private cause, reported by [`std::error::Error::source`] and never sent.
    #[must_use]
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.0.source = Some(source.into());
        self
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.0.status
    }

    /// The public message.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The extra headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.0.headers
    }

    /// The headers, mutably.
    pub fn headers_mut(&mut self) -> &mut HeaderMap {
        &mut self.0.headers
    }

    /// Renders the error as the client's `Accept` header prefers: JSON when it ranks
    /// `application/json` above `text/html`, plain text when it asks for `text/plain` only,
    /// HTML otherwise.
    pub fn into_response_for(self, request_headers: &HeaderMap) -> http::Response<Body> {
        let format = ErrorFormat::for_accept(request_headers.get(ACCEPT));
        self.into_response_as(format)
    }

    /// Renders the error as an HTML page.
    pub fn into_response(self) -> http::Response<Body> {
        self.into_response_as(ErrorFormat::Html)
    }

    /// Renders the error in the given format.
    pub fn into_response_as(self, format: ErrorFormat) -> http::Response<Body> {
        if let Some(source) = &self.0.source {
            tracing::debug!(status = self.0.status.as_u16(), error = %self.0.message, cause = %source, "error answer");
        }
        let (content_type, body) = match format {
            ErrorFormat::Html => ("text/html; charset=utf-8", self.html()),
            ErrorFormat::Json => ("application/json", self.json()),
            ErrorFormat::Text => ("text/plain; charset=utf-8", format!("{}\n", self.0.message)),
        };
        let mut res = http::Response::new(Body::from(body.clone()));
        *res.status_mut() = self.0.status;
        let headers = res.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
        for (name, value) in &self.0.headers {
            headers.append(name, value.clone());
        }
        res.extensions_mut().insert(RenderedError {
            message: std::sync::Arc::from(self.0.message.as_ref()),
            format,
        });
        res
    }

    fn reason(&self) -> &'static str {
        self.0.status.canonical_reason().unwrap_or("Error")
    }

    fn html(&self) -> String {
        let code = self.0.status.as_u16();
        let reason = self.reason();
        let message = html_escape(&self.0.message);
        format!(
            "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{code} {reason}</title></head>\n\
             <body><h1>{code} {reason}</h1>\n<p>{message}</p></body></html>\n"
        )
    }

    fn json(&self) -> String {
        serde_json::json!({ "status": self.0.status.as_u16(), "error": self.0.message }).to_string()
    }
}

/// Marks an answer an [`HttpError`] rendered, in its extensions: the public message and the
/// format chosen, so a layer such as `filter::ErrorPages` can render it again its own way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedError {
    message: std::sync::Arc<str>,
    format: ErrorFormat,
}

impl RenderedError {
    /// The error's public message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The format it was rendered in.
    pub fn format(&self) -> ErrorFormat {
        self.format
    }
}

impl ErrorFormat {
    /// Picks the format an `Accept` header prefers among HTML, JSON and plain text.
    pub fn for_accept(accept: Option<&HeaderValue>) -> Self {
        let Some(accept) = accept.and_then(|v| v.to_str().ok()) else {
            return ErrorFormat::Html;
        };
        let offers = [mime::TEXT_HTML, mime::APPLICATION_JSON, mime::TEXT_PLAIN];
        match crate::negotiate::Accept::parse(accept).best(&offers) {
            Some(m) if *m == mime::APPLICATION_JSON => ErrorFormat::Json,
            Some(m) if *m == mime::TEXT_PLAIN => ErrorFormat::Text,
            _ => ErrorFormat::Html,
        }
    }
}

/// Escapes `&`, `<`, `>`, `"` and `'` for HTML text and attribute values.
pub fn html_escape(text: &str) -> Cow<'_, str> {
    if !text.contains(['&', '<', '>', '"', '\'']) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

impl fmt::Debug for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpError")
            .field("status", &self.0.status)
            .field("message", &self.0.message)
            .field("source", &self.0.source)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.0.status.as_u16(),
            self.reason(),
            self.0.message
        )
    }
}

impl std::error::Error for HttpError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0
            .source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// An error the client's input caused, and the answer it gets: the parsers' errors implement
/// it, so `?` in a handler turns any of them into an [`HttpError`]. This blanket conversion is
/// the one way into `HttpError`, and it keeps the error as the answer's
/// [`source`](std::error::Error::source), for logs.
///
/// ```
/// use std::fmt;
/// use tollgate::error::{ClientError, HttpError};
///
/// #[derive(Debug)]
/// struct TooOld;
/// impl fmt::Display for TooOld {
///     fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
///         f.write_str("this client is too old; upgrade it")
///     }
/// }
/// impl std::error::Error for TooOld {}
/// impl ClientError for TooOld {
///     fn status(&self) -> http::StatusCode {
///         http::StatusCode::UPGRADE_REQUIRED
///     }
/// }
///
/// let e = HttpError::from(TooOld);
/// assert_eq!(e.status(), 426);
/// assert_eq!(e.message(), "this client is too old; upgrade it");
/// assert!(std::error::Error::source(&e).unwrap().is::<TooOld>());
/// ```
pub trait ClientError: std::error::Error + Send + Sync + 'static {
    /// The answer's status. Default is `400 Bad Request`.
    fn status(&self) -> StatusCode {
        StatusCode::BAD_REQUEST
    }

    /// What the client is told. Default is the error's message.
    fn public_message(&self) -> Cow<'static, str> {
        Cow::Owned(self.to_string())
    }

    /// Headers the answer carries (e.g. `Content-Range` on a `416`). Default is none.
    fn add_headers(&self, _headers: &mut HeaderMap) {}
}

impl<E: ClientError> From<E> for HttpError {
    fn from(error: E) -> Self {
        let mut answer = HttpError::new(error.status(), error.public_message());
        error.add_headers(answer.headers_mut());
        answer.with_source(error)
    }
}

impl From<std::convert::Infallible> for HttpError {
    fn from(never: std::convert::Infallible) -> Self {
        match never {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(ACCEPT, HeaderValue::from_static(value));
        h
    }

    #[test]
    fn html_page_escapes_the_message() {
        let res = HttpError::bad_request("<script>alert(1)</script>").into_response();
        assert_eq!(res.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
        let body = format!("{:?}", res.body());
        assert!(body.contains("bytes"));
        let html = HttpError::bad_request("<b>").html();
        assert!(html.contains("&lt;b&gt;") && !html.contains("<b>"));
    }

    #[test]
    fn json_when_preferred() {
        let res = HttpError::not_found("x")
            .into_response_for(&accept("application/json, text/html;q=0.5"));
        assert_eq!(res.headers()[CONTENT_TYPE], "application/json");
    }

    #[test]
    fn browsers_get_html() {
        let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
        assert_eq!(
            ErrorFormat::for_accept(Some(&HeaderValue::from_static(browser))),
            ErrorFormat::Html
        );
        assert_eq!(ErrorFormat::for_accept(None), ErrorFormat::Html);
        assert_eq!(
            ErrorFormat::for_accept(Some(&HeaderValue::from_static("*/*"))),
            ErrorFormat::Html
        );
        assert_eq!(
            ErrorFormat::for_accept(Some(&HeaderValue::from_static("text/plain"))),
            ErrorFormat::Text
        );
    }

    #[test]
    fn method_not_allowed_lists_methods() {
        let err = HttpError::method_not_allowed(&[Method::GET, Method::POST]);
        assert_eq!(err.headers()[ALLOW], "GET, POST");
    }

    /// The one conversion: status and message from the error, the error itself as source.
    fn converts_keeping_source<E: ClientError + fmt::Debug>(error: E, status: u16) {
        let shown = format!("{error:?}");
        let answer = HttpError::from(error);
        assert_eq!(answer.status(), status, "{shown}");
        let source = std::error::Error::source(&answer).expect("the source is kept");
        assert!(
            source.is::<E>(),
            "{shown}: the source is not the parser's error"
        );
    }

    #[test]
    fn every_parser_error_keeps_its_source() {
        converts_keeping_source(crate::serve::host::HostHeaderError::Missing, 400);
        #[cfg(feature = "normalize")]
        {
            converts_keeping_source(
                crate::normalize::PathError::NotAbsolute { path: "a".into() },
                400,
            );
            converts_keeping_source(crate::normalize::HostError::Empty, 400);
            converts_keeping_source(
                crate::normalize::NormalizeError::Host(crate::normalize::HostError::Empty),
                400,
            );
            let query = crate::normalize::query("a=%zz", &Default::default()).unwrap_err();
            converts_keeping_source(query, 400);
        }
        converts_keeping_source(crate::credentials::CredentialsError::InvalidBase64, 400);
        converts_keeping_source(crate::multimap::ParseError::TooManyPairs { limit: 1 }, 400);
        converts_keeping_source(
            crate::cookies::CookieError::MissingName { pair: "x".into() },
            400,
        );
        converts_keeping_source(
            crate::response::etag::ETag::parse("\"a b\"").unwrap_err(),
            400,
        );
        converts_keeping_source(
            crate::response::range::RangeError::Unsatisfiable { complete_len: 10 },
            416,
        );
        converts_keeping_source(crate::wire::WireError::Incomplete, 400);
        converts_keeping_source(crate::form::MultipartError::TooManyParts { limit: 1 }, 400);
        converts_keeping_source(
            crate::form::MultipartError::Spool(std::io::Error::other("x")),
            500,
        );
        #[cfg(feature = "files")]
        {
            let hidden = crate::files::FilePathError::Hidden {
                path: "/.env".into(),
            };
            assert_eq!(HttpError::from(hidden.clone()).message(), "not found");
            converts_keeping_source(hidden, 404);
            converts_keeping_source(
                crate::files::FilePathError::ParentDir { path: "/..".into() },
                400,
            );
        }
    }

    #[test]
    fn a_416_carries_its_content_range() {
        let answer =
            HttpError::from(crate::response::range::RangeError::Unsatisfiable { complete_len: 10 });
        assert_eq!(answer.headers()["content-range"], "bytes */10");
    }

    #[test]
    fn source_is_kept_but_not_displayed() {
        let err = HttpError::internal(std::io::Error::other("disk on fire"));
        assert!(std::error::Error::source(&err).is_some());
        assert!(!err.to_string().contains("disk"));
    }

    #[test]
    fn error_is_send_sync_and_small() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<HttpError>();
        assert_eq!(
            std::mem::size_of::<HttpError>(),
            std::mem::size_of::<usize>()
        );
    }
}
