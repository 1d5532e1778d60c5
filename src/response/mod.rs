//! [`Response`] and its constructors, cookies, and the [`IntoResponse`] trait handlers return.
//!
//! Every constructor sets `Content-Type` and, whenever the length is known, `Content-Length`.
//!
//! # Example
//!
//! ```
//! use tollgate::Response;
//! use http::StatusCode;
//!
//! let res = Response::html("<p>Bonjour Ada!</p>").header("x-greeting", "fr");
//! assert_eq!(res.headers()["content-type"], "text/html; charset=utf-8");
//! assert_eq!(res.headers()["content-length"], "19");
//!
//! let moved = Response::redirect(StatusCode::MOVED_PERMANENTLY, "/new").unwrap();
//! assert_eq!(moved.headers()["location"], "/new");
//! ```

pub mod cache_control;
pub mod conditional;
pub mod date;
pub mod etag;
pub(crate) mod headers;
pub mod precondition;
pub mod range;
pub(crate) mod ranged;

pub use cache_control::CacheControl;
pub use etag::ETag;

use std::convert::Infallible;
use std::fmt;

use bytes::Bytes;
use futures_core::Stream;
use http::header::{HeaderName, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, LOCATION, SET_COOKIE};
use http::{HeaderMap, StatusCode};
use mime::Mime;

use crate::body::{Body, BoxError};
use crate::cookies::Cookie;
use crate::error::HttpError;

/// An HTTP response under construction: an [`http::Response<Body>`] with builder methods.
pub struct Response {
    inner: http::Response<Body>,
}

impl Response {
    fn with_body(content_type: &'static str, body: Bytes) -> Self {
        let len = body.len();
        let mut inner = http::Response::new(Body::from(body));
        inner
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        inner
            .headers_mut()
            .insert(CONTENT_LENGTH, HeaderValue::from(len));
        Response { inner }
    }

    /// `200 OK` with `text/plain; charset=utf-8`.
    pub fn text(text: impl Into<String>) -> Self {
        Self::with_body("text/plain; charset=utf-8", Bytes::from(text.into()))
    }

    /// `200 OK` with `text/html; charset=utf-8`.
    pub fn html(html: impl Into<String>) -> Self {
        Self::with_body("text/html; charset=utf-8", Bytes::from(html.into()))
    }

    /// `200 OK` with `application/json`. A value that does not serialize (a map with non-string
    /// keys) is a `500` whose cause goes to the log.
    pub fn json<T: serde::Serialize + ?Sized>(value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(bytes) => Self::with_body("application/json", Bytes::from(bytes)),
            Err(e) => HttpError::internal(e).into_response().into(),
        }
    }

    /// `200 OK` with `application/octet-stream`.
    pub fn bytes(bytes: impl Into<Bytes>) -> Self {
        Self::with_body("application/octet-stream", bytes.into())
    }

    /// An answer with no body, e.g. `204 No Content`.
    pub fn empty(status: StatusCode) -> Self {
        let mut inner = http::Response::new(Body::empty());
        *inner.status_mut() = status;
        if status != StatusCode::NO_CONTENT
            && status != StatusCode::NOT_MODIFIED
            && !status.is_informational()
        {
            inner
                .headers_mut()
                .insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
        }
        Response { inner }
    }

    /// `200 OK` streaming the chunks of `stream` as they come (chunked, not buffered), as
    /// `application/octet-stream` until [`content_type`](Self::content_type) says otherwise.
    pub fn stream<S, T, E>(stream: S) -> Self
    where
        S: Stream<Item = Result<T, E>> + Send + Sync + 'static,
        T: Into<Bytes> + 'static,
        E: Into<BoxError> + 'static,
    {
        let mut inner = http::Response::new(Body::from_stream(stream));
        inner.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        Response { inner }
    }

    /// A redirect to `location`, which may be relative (RFC 9110 §10.2.2).
    ///
    /// # Errors
    ///
    /// A status other than 301, 302, 303, 307 or 308, or a location that is not a valid header
    /// value (control characters).
    pub fn redirect(status: StatusCode, location: &str) -> Result<Self, HttpError> {
        if ![301, 302, 303, 307, 308].contains(&status.as_u16()) {
            return Err(HttpError::internal(format!(
                "{status} is not a redirect status; use 301, 302, 303, 307 or 308"
            )));
        }
        let value = HeaderValue::from_str(location).map_err(|_| {
            HttpError::bad_request("the redirect location holds characters a header cannot")
        })?;
        let escaped = crate::error::html_escape(location);
        let mut res = Self::html(format!(
            "<p>Redirecting to <a href=\"{escaped}\">{escaped}</a>.</p>\n"
        ));
        res.inner.headers_mut().insert(LOCATION, value);
        Ok(res.with_status(status))
    }

    /// Sets the status.
    #[must_use]
    pub fn with_status(mut self, status: StatusCode) -> Self {
        *self.inner.status_mut() = status;
        self
    }

    /// Appends a header. A name or value that is not valid (CR, LF, NUL, non-token names) is
    /// never sent: it is logged and skipped; use [`try_header`](Self::try_header) to handle it.
    #[must_use]
    pub fn header<K, V>(self, name: K, value: V) -> Self
    where
        K: TryInto<HeaderName>,
        V: TryInto<HeaderValue>,
    {
        match self.try_header(name, value) {
            Ok(res) => res,
            Err((res, e)) => {
                tracing::warn!(error = %e, "skipping an invalid response header");
                res
            }
        }
    }

    /// Appends a header.
    ///
    /// # Errors
    ///
    /// Gives the response back with the error when the name or value is invalid.
    #[allow(clippy::result_large_err)]
    pub fn try_header<K, V>(mut self, name: K, value: V) -> Result<Self, (Self, InvalidHeader)>
    where
        K: TryInto<HeaderName>,
        V: TryInto<HeaderValue>,
    {
        let Ok(name) = name.try_into() else {
            return Err((self, InvalidHeader::Name));
        };
        let Ok(value) = value.try_into() else {
            return Err((self, InvalidHeader::Value(name)));
        };
        self.inner.headers_mut().append(name, value);
        Ok(self)
    }

    /// Sets `Content-Type`; text types get `charset=utf-8` unless a charset is given.
    #[must_use]
    pub fn content_type(mut self, mime: Mime) -> Self {
        let text = mime.type_() == mime::TEXT || mime.subtype() == mime::JAVASCRIPT;
        let value = if text && mime.get_param(mime::CHARSET).is_none() {
            format!("{mime}; charset=utf-8")
        } else {
            mime.to_string()
        };
        if let Ok(value) = HeaderValue::from_str(&value) {
            self.inner.headers_mut().insert(CONTENT_TYPE, value);
        }
        self
    }

    /// Adds a `Set-Cookie` header.
    ///
    /// ```
    /// use tollgate::{cookies::Cookie, Response};
    /// let res = Response::text("hi").set_cookie(Cookie::build(("id", "7")).http_only(true).path("/").build());
    /// assert_eq!(res.headers()["set-cookie"], "id=7; HttpOnly; Path=/");
    /// ```
    #[must_use]
    pub fn set_cookie(self, cookie: Cookie<'_>) -> Self {
        self.header(SET_COOKIE, cookie.encoded().to_string())
    }

    /// Adds a `Set-Cookie` header that removes cookie `name` set for `path` and `domain`.
    /// `__Host-` and `__Secure-` names get what browsers require of them (see
    /// [`cookies::removal`](crate::cookies::removal)); for a `Partitioned` cookie use
    /// [`remove_cookie`](Self::remove_cookie).
    #[must_use]
    pub fn delete_cookie(self, name: &str, path: Option<&str>, domain: Option<&str>) -> Self {
        let mut cookie = Cookie::new(name.to_string(), "");
        if let Some(path) = path {
            cookie.set_path(path.to_string());
        }
        if let Some(domain) = domain {
            cookie.set_domain(domain.to_string());
        }
        self.remove_cookie(&cookie)
    }

    /// Adds a `Set-Cookie` header that removes `cookie`, as it was set: same name, path,
    /// domain, `Secure` and `Partitioned` ([`cookies::removal`](crate::cookies::removal)).
    ///
    /// ```
    /// use tollgate::{cookies::Cookie, Response};
    /// let chip = Cookie::build(("__Host-embed", "1")).path("/").secure(true).partitioned(true).build();
    /// let res = Response::text("bye").remove_cookie(&chip);
    /// let set = res.headers()["set-cookie"].to_str().unwrap();
    /// assert!(set.starts_with("__Host-embed=; ") && set.contains("Partitioned") && set.contains("Secure"));
    /// ```
    #[must_use]
    pub fn remove_cookie(self, cookie: &Cookie<'_>) -> Self {
        self.set_cookie(crate::cookies::removal(cookie))
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.inner.status()
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        self.inner.headers()
    }

    /// The headers, mutably.
    pub fn headers_mut(&mut self) -> &mut HeaderMap {
        self.inner.headers_mut()
    }

    /// The body.
    pub fn body(&self) -> &Body {
        self.inner.body()
    }

    /// Wraps an `http` response.
    pub fn from_http(inner: http::Response<Body>) -> Self {
        Response { inner }
    }

    /// The `http` response, ready for hyper.
    pub fn into_http(self) -> http::Response<Body> {
        self.inner
    }

    /// The `http` response, borrowed.
    pub fn as_http(&self) -> &http::Response<Body> {
        &self.inner
    }

    /// The `http` response, mutably.
    pub fn as_http_mut(&mut self) -> &mut http::Response<Body> {
        &mut self.inner
    }
}

/// A header [`Response::try_header`] refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidHeader {
    /// The name is not a token.
    Name,
    /// The value of this header holds CR, LF, NUL or other bytes a header cannot carry.
    Value(HeaderName),
}

impl fmt::Display for InvalidHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvalidHeader::Name => f.write_str("invalid header name: use letters, digits and `-`"),
            InvalidHeader::Value(name) => write!(
                f,
                "invalid value for header `{name}`: CR, LF and NUL are not allowed"
            ),
        }
    }
}

impl std::error::Error for InvalidHeader {}

impl Default for Response {
    fn default() -> Self {
        Response::empty(StatusCode::OK)
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}

impl From<http::Response<Body>> for Response {
    fn from(inner: http::Response<Body>) -> Self {
        Response { inner }
    }
}

impl From<Response> for http::Response<Body> {
    fn from(res: Response) -> Self {
        res.inner
    }
}

/// What a handler may return: anything that becomes a [`Response`].
///
/// [`HttpError`] and `Result<T, E: Into<HttpError>>` render errors as the client's `Accept`
/// header prefers (HTML, JSON or text) when the handler adapter gives them the request's
/// `Accept` value.
pub trait IntoResponse {
    /// The response.
    fn into_response(self) -> Response;

    /// The response, with errors rendered for this `Accept` header value.
    fn into_response_for(self, accept: Option<&HeaderValue>) -> Response
    where
        Self: Sized,
    {
        let _ = accept;
        self.into_response()
    }
}

impl IntoResponse for Response {
    fn into_response(self) -> Response {
        self
    }
}

impl IntoResponse for http::Response<Body> {
    fn into_response(self) -> Response {
        Response { inner: self }
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        HttpError::into_response(self).into()
    }

    fn into_response_for(self, accept: Option<&HeaderValue>) -> Response {
        self.into_response_as(crate::error::ErrorFormat::for_accept(accept))
            .into()
    }
}

impl<T: IntoResponse, E: Into<HttpError>> IntoResponse for Result<T, E> {
    fn into_response(self) -> Response {
        self.into_response_for(None)
    }

    fn into_response_for(self, accept: Option<&HeaderValue>) -> Response {
        match self {
            Ok(ok) => ok.into_response_for(accept),
            Err(e) => IntoResponse::into_response_for(e.into(), accept),
        }
    }
}

impl IntoResponse for String {
    fn into_response(self) -> Response {
        Response::text(self)
    }
}

impl IntoResponse for &'static str {
    fn into_response(self) -> Response {
        Response::text(self)
    }
}

impl IntoResponse for StatusCode {
    fn into_response(self) -> Response {
        Response::empty(self)
    }
}

impl IntoResponse for Infallible {
    fn into_response(self) -> Response {
        match self {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_text(res: Response) -> String {
        let bytes = crate::body::to_bytes(res.into_http().into_body(), 1 << 20)
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn json_sets_type_and_length() {
        let res = Response::json(&serde_json::json!({"a": 1}));
        assert_eq!(res.headers()[CONTENT_TYPE], "application/json");
        assert_eq!(res.headers()[CONTENT_LENGTH], "7");
        assert_eq!(body_text(res).await, r#"{"a":1}"#);
    }

    #[test]
    fn redirect_accepts_only_redirect_statuses() {
        for code in [301, 302, 303, 307, 308] {
            let status = StatusCode::from_u16(code).unwrap();
            assert_eq!(Response::redirect(status, "/x").unwrap().status(), status);
        }
        for code in [200, 300, 304, 404] {
            assert!(Response::redirect(StatusCode::from_u16(code).unwrap(), "/x").is_err());
        }
        assert!(Response::redirect(StatusCode::FOUND, "/x\r\nSet-Cookie: a=b").is_err());
    }

    #[test]
    fn invalid_header_values_are_skipped() {
        let res = Response::text("x")
            .header("x-ok", "1")
            .header("x-bad", "a\r\nb")
            .header("bad name", "1");
        assert_eq!(res.headers()["x-ok"], "1");
        assert!(res.headers().get("x-bad").is_none());
        assert_eq!(res.headers().len(), 3);
    }

    #[test]
    fn content_type_adds_charset_to_text() {
        let res = Response::bytes("x").content_type(mime::TEXT_CSS);
        assert_eq!(res.headers()[CONTENT_TYPE], "text/css; charset=utf-8");
        let res = Response::bytes("x").content_type(mime::IMAGE_PNG);
        assert_eq!(res.headers()[CONTENT_TYPE], "image/png");
    }

    #[test]
    fn delete_cookie_expires_it() {
        let res = Response::empty(StatusCode::NO_CONTENT).delete_cookie("sid", Some("/"), None);
        let value = res.headers()[SET_COOKIE].to_str().unwrap();
        assert!(
            value.starts_with("sid=; ") && value.contains("Max-Age=0") && value.contains("Path=/"),
            "{value}"
        );
    }

    #[test]
    fn results_render_errors_by_accept() {
        let err: Result<Response, HttpError> = Err(HttpError::not_found("gone"));
        let json = HeaderValue::from_static("application/json");
        let res = err.into_response_for(Some(&json));
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        assert_eq!(res.headers()[CONTENT_TYPE], "application/json");
    }

    #[tokio::test]
    async fn stream_has_no_length() {
        let chunks = futures_util::stream::iter(["a", "b"].map(Ok::<_, Infallible>));
        let res = Response::stream(chunks);
        assert!(res.headers().get(CONTENT_LENGTH).is_none());
        assert_eq!(body_text(res).await, "ab");
    }
}
