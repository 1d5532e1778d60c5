//! [`RequestBuilder`]: real `http::Request<Body>` values for tests and clients.

use std::fmt;

use base64::Engine as _;
use http::header::{HeaderName, HeaderValue, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, COOKIE};
use http::Method;

use crate::body::Body;

/// Builds an [`http::Request<Body>`]; errors are reported once, by [`build`](Self::build).
///
/// ```
/// use tollgate::Request;
///
/// let req = Request::get("/search?q=rust")
///     .header("accept", "application/json")
///     .cookie("session", "abc")
///     .basic_auth("ada", "secret")
///     .build()
///     .unwrap();
/// assert_eq!(req.headers()["cookie"], "session=abc");
/// ```
#[must_use = "a builder does nothing until `build` or `body` is called"]
pub struct RequestBuilder {
    inner: http::request::Builder,
    cookies: Vec<String>,
    body: Body,
    error: Option<RequestBuildError>,
}

/// A request the builder could not make.
#[derive(Debug)]
#[non_exhaustive]
pub enum RequestBuildError {
    /// An invalid method, target, header name or header value.
    Http(http::Error),
    /// A value given to [`RequestBuilder::json`] that does not serialize.
    Json(serde_json::Error),
    /// Pairs given to [`RequestBuilder::form`] that do not serialize.
    Form(serde_urlencoded::ser::Error),
}

impl fmt::Display for RequestBuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestBuildError::Http(_) => {
                f.write_str("invalid method, target or header in the request builder")
            }
            RequestBuildError::Json(_) => f.write_str("the JSON body does not serialize"),
            RequestBuildError::Form(_) => f.write_str("the form body does not serialize"),
        }
    }
}

impl std::error::Error for RequestBuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RequestBuildError::Http(e) => Some(e),
            RequestBuildError::Json(e) => Some(e),
            RequestBuildError::Form(e) => Some(e),
        }
    }
}

impl RequestBuilder {
    /// A builder for `method` and `uri` (origin-form like `/x?y=1`, or absolute).
    pub fn new(method: Method, uri: &str) -> Self {
        RequestBuilder {
            inner: http::Request::builder().method(method).uri(uri),
            cookies: Vec::new(),
            body: Body::empty(),
            error: None,
        }
    }

    /// Appends a header.
    pub fn header<K, V>(mut self, name: K, value: V) -> Self
    where
        K: TryInto<HeaderName>,
        K::Error: Into<http::Error>,
        V: TryInto<HeaderValue>,
        V::Error: Into<http::Error>,
    {
        self.inner = self.inner.header(name, value);
        self
    }

    /// Sets the HTTP version.
    pub fn version(mut self, version: http::Version) -> Self {
        self.inner = self.inner.version(version);
        self
    }

    /// Adds a cookie to the `Cookie` header, encoded as
    /// [`Response::set_cookie`](crate::Response::set_cookie) encodes it, so
    /// [`Request::cookie`](crate::Request::cookie) reads back `value`.
    pub fn cookie(mut self, name: &str, value: &str) -> Self {
        self.cookies.push(crate::cookies::encode_pair(name, value));
        self
    }

    /// Adds an extension, as a layer would (e.g. [`crate::ext::PeerAddr`]).
    pub fn extension<T: Clone + Send + Sync + 'static>(mut self, value: T) -> Self {
        self.inner = self.inner.extension(value);
        self
    }

    /// Sets `Authorization: Basic` for `user` and `password` (RFC 7617, UTF-8).
    pub fn basic_auth(self, user: &str, password: &str) -> Self {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        self.header(AUTHORIZATION, format!("Basic {token}"))
    }

    /// Sets an `application/x-www-form-urlencoded` body.
    pub fn form<T: serde::Serialize + ?Sized>(mut self, pairs: &T) -> Self {
        match serde_urlencoded::to_string(pairs) {
            Ok(encoded) => self.with_body(
                mime::APPLICATION_WWW_FORM_URLENCODED.as_ref(),
                encoded.into_bytes(),
            ),
            Err(e) => {
                self.error.get_or_insert(RequestBuildError::Form(e));
                self
            }
        }
    }

    /// Sets a `multipart/form-data` body with its boundary.
    pub fn multipart(self, form: super::MultipartForm) -> Self {
        let (content_type, body) = form.encode();
        self.with_body(&content_type, body.to_vec())
    }

    /// Sets an `application/json` body.
    pub fn json<T: serde::Serialize + ?Sized>(mut self, value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(encoded) => self.with_body("application/json", encoded),
            Err(e) => {
                self.error.get_or_insert(RequestBuildError::Json(e));
                self
            }
        }
    }

    fn with_body(mut self, content_type: &str, bytes: Vec<u8>) -> Self {
        self.inner = self
            .inner
            .header(CONTENT_TYPE, content_type)
            .header(CONTENT_LENGTH, bytes.len());
        self.body = Body::from(bytes);
        self
    }

    /// Builds the request with this body.
    ///
    /// # Errors
    ///
    /// The first invalid part given to the builder.
    pub fn body(mut self, body: impl Into<Body>) -> Result<http::Request<Body>, RequestBuildError> {
        self.body = body.into();
        self.build()
    }

    /// Builds the request.
    ///
    /// # Errors
    ///
    /// The first invalid part given to the builder.
    pub fn build(self) -> Result<http::Request<Body>, RequestBuildError> {
        if let Some(error) = self.error {
            return Err(error);
        }
        let mut inner = self.inner;
        if !self.cookies.is_empty() {
            inner = inner.header(COOKIE, self.cookies.join("; "));
        }
        inner.body(self.body).map_err(RequestBuildError::Http)
    }
}

impl fmt::Debug for RequestBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestBuilder").finish_non_exhaustive()
    }
}
