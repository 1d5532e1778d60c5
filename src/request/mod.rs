//! [`Request`], a zero-copy view over [`http::Request`] with lazily parsed, cached parts, and
//! [`RequestBuilder`] for tests and clients (WebOb's `Request.blank`).
//!
//! # Example
//!
//! ```
//! use tollgate::Request;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), tollgate::HttpError> {
//! let http = Request::post("/greet?lang=fr")
//!     .header("x-student", "Ada")
//!     .form(&[("name", "Ada Lovelace")])
//!     .build()
//!     .unwrap();
//! let mut req = Request::from_http(http);
//! assert_eq!(req.path(), "/greet");
//! assert_eq!(req.args()?.get("lang"), Some("fr"));
//! assert_eq!(req.header("x-student"), Some("Ada"));
//! assert_eq!(req.form(1024).await?.get("name"), Some("Ada Lovelace"));
//! # Ok(()) }
//! ```

mod builder;
mod multipart_form;
mod typed;

use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};
use std::sync::OnceLock;

use bytes::Bytes;
use http::header::{AsHeaderName, CONTENT_LENGTH, CONTENT_TYPE, COOKIE};
use http::{Extensions, HeaderMap, Method, Uri, Version};
use mime::Mime;

pub use crate::syntax::host::split_host_port;
pub use builder::{RequestBuildError, RequestBuilder};
pub use multipart_form::MultipartForm;
pub use typed::IfRange;

pub use crate::credentials::{Credentials, CredentialsError};

use crate::body::{Body, BoxError};
use crate::ext::{AuthenticatedUser, RouteParams};
use crate::multimap::{self, MultiMap, ParseError};
use crate::origin::Origin;
use crate::HttpError;

/// A view over an [`http::Request`] that parses its parts on first use and caches them.
///
/// Nothing is parsed until asked for; [`into_http`](Self::into_http) gives the message back
/// unchanged.
pub struct Request<B = Body> {
    inner: http::Request<B>,
    args: OnceLock<Result<MultiMap, ParseError>>,
    cookies: OnceLock<MultiMap>,
    body: BodyState,
}

enum BodyState {
    Unread,
    Read(Bytes),
    Failed,
}

impl<B> Request<B> {
    /// Wraps a request. Costs nothing: parts are parsed when first asked for.
    pub fn from_http(inner: http::Request<B>) -> Self {
        Request {
            inner,
            args: OnceLock::new(),
            cookies: OnceLock::new(),
            body: BodyState::Unread,
        }
    }

    /// The wrapped request. A body already read through [`bytes`](Self::bytes) and friends is
    /// gone from it.
    pub fn into_http(self) -> http::Request<B> {
        self.inner
    }

    /// The wrapped request, borrowed.
    pub fn as_http(&self) -> &http::Request<B> {
        &self.inner
    }

    /// The wrapped request, mutably. Cached parts (arguments, cookies) are reset.
    pub fn as_http_mut(&mut self) -> &mut http::Request<B> {
        self.args = OnceLock::new();
        self.cookies = OnceLock::new();
        &mut self.inner
    }

    /// The method.
    pub fn method(&self) -> &Method {
        self.inner.method()
    }

    /// The request target as received.
    pub fn uri(&self) -> &Uri {
        self.inner.uri()
    }

    /// The HTTP version.
    pub fn version(&self) -> Version {
        self.inner.version()
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        self.inner.headers()
    }

    /// The extensions layers filled in (see [`crate::ext`]).
    pub fn extensions(&self) -> &Extensions {
        self.inner.extensions()
    }

    /// One extension by type.
    pub fn extension<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.inner.extensions().get::<T>()
    }

    /// The path, percent-decoded. Bytes that are not UTF-8 once decoded become U+FFFD; use
    /// [`try_path`](Self::try_path) to refuse them instead.
    pub fn path(&self) -> Cow<'_, str> {
        percent_encoding::percent_decode_str(self.raw_path()).decode_utf8_lossy()
    }

    /// The path, percent-decoded.
    ///
    /// # Errors
    ///
    /// A 400 when the decoded path is not UTF-8.
    pub fn try_path(&self) -> Result<Cow<'_, str>, HttpError> {
        percent_encoding::percent_decode_str(self.raw_path())
            .decode_utf8()
            .map_err(|e| {
                HttpError::bad_request("the path is not valid UTF-8 once percent-decoded")
                    .with_source(e)
            })
    }

    /// The path as sent, still percent-encoded.
    pub fn raw_path(&self) -> &str {
        self.inner.uri().path()
    }

    /// The query string as sent, without the `?`.
    pub fn query_string(&self) -> Option<&str> {
        self.inner.uri().query()
    }

    /// The query arguments (Werkzeug's `args`), parsed once and cached. At most
    /// [`DEFAULT_MAX_PAIRS`](multimap::DEFAULT_MAX_PAIRS) pairs.
    ///
    /// # Errors
    ///
    /// Too many pairs, or a pair that is not UTF-8 once decoded; both convert into a 400.
    pub fn args(&self) -> Result<&MultiMap, ParseError> {
        self.args
            .get_or_init(|| {
                MultiMap::parse_query(
                    self.query_string().unwrap_or(""),
                    multimap::DEFAULT_MAX_PAIRS,
                )
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The first value of a header, when it is visible ASCII.
    pub fn header<K: AsHeaderName>(&self, name: K) -> Option<&str> {
        self.inner.headers().get(name).and_then(|v| v.to_str().ok())
    }

    /// Every value of a header that is visible ASCII, in arrival order.
    pub fn header_all<K: AsHeaderName>(&self, name: K) -> impl Iterator<Item = &str> {
        self.inner
            .headers()
            .get_all(name)
            .into_iter()
            .filter_map(|v| v.to_str().ok())
    }

    /// The cookies of every `Cookie` header, parsed once; malformed pairs are skipped and at
    /// most [`DEFAULT_MAX_COOKIES`](crate::cookies::DEFAULT_MAX_COOKIES) are kept.
    pub fn cookies(&self) -> &MultiMap {
        self.cookies.get_or_init(|| {
            let joined = self.header_all(COOKIE).collect::<Vec<_>>().join("; ");
            crate::cookies::parse(&joined, crate::cookies::DEFAULT_MAX_COOKIES)
        })
    }

    /// One cookie's value.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies().get(name)
    }

    /// The value of signed cookie `name`, when one of `keys` signed it
    /// ([`CookieKeys::sign`](crate::cookies::CookieKeys::sign)); `None` when absent or forged.
    #[cfg(feature = "secure-cookies")]
    #[cfg_attr(docsrs, doc(cfg(feature = "secure-cookies")))]
    pub fn signed_cookie(&self, keys: &crate::cookies::CookieKeys, name: &str) -> Option<String> {
        keys.verify(name, self.cookie(name)?)
    }

    /// The value of private cookie `name`, when one of `keys` encrypted it
    /// ([`CookieKeys::encrypt`](crate::cookies::CookieKeys::encrypt)).
    #[cfg(feature = "secure-cookies")]
    #[cfg_attr(docsrs, doc(cfg(feature = "secure-cookies")))]
    pub fn private_cookie(&self, keys: &crate::cookies::CookieKeys, name: &str) -> Option<String> {
        keys.decrypt(name, self.cookie(name)?)
    }

    /// The parsed `Content-Type`; `None` when absent or malformed.
    pub fn content_type(&self) -> Option<Mime> {
        self.header(CONTENT_TYPE)?.parse().ok()
    }

    /// The declared `Content-Length`; `None` when absent or not a plain number.
    pub fn content_length(&self) -> Option<u64> {
        let value = self.header(CONTENT_LENGTH)?;
        // `u64::from_str` accepts a leading `+`; a length must be digits only (RFC 9110 §8.6).
        value
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| value.parse().ok())
            .flatten()
    }

    /// The `charset` parameter of the `Content-Type`, lowercased.
    pub fn charset(&self) -> Option<String> {
        Some(
            self.content_type()?
                .get_param(mime::CHARSET)?
                .as_str()
                .to_ascii_lowercase(),
        )
    }

    /// Who sent the request and to where: scheme, host, port, client address and mount
    /// prefix, each read with the one precedence of [`Origin`] (what trusted proxies reported,
    /// then the connection and the target's authority, then `Host`). The accessors below read
    /// it.
    pub fn origin(&self) -> Origin<'_> {
        Origin::of(&self.inner)
    }

    /// The host the client asked for, without the port: from trusted forwarded headers, then
    /// the target's authority (HTTP/2, absolute-form), then `Host` ([`Origin::host`]).
    pub fn host(&self) -> Option<&str> {
        self.origin().host()
    }

    /// The port the client asked for, when it gave one.
    pub fn port(&self) -> Option<u16> {
        self.origin().port()
    }

    /// `https` or `http`, as the client used: from trusted forwarded headers, then the
    /// connection, then the target ([`Origin::scheme`]).
    pub fn scheme(&self) -> &str {
        self.origin().scheme()
    }

    /// Whether the client used `https`.
    pub fn is_secure(&self) -> bool {
        self.origin().is_secure()
    }

    /// Whether the request says it came from `XMLHttpRequest` (`X-Requested-With`).
    pub fn is_xhr(&self) -> bool {
        self.header("x-requested-with")
            .is_some_and(|v| v.eq_ignore_ascii_case("XMLHttpRequest"))
    }

    /// The prefix the application is mounted under: a trusted `X-Forwarded-Prefix`, then every
    /// dispatcher mount (WSGI's `SCRIPT_NAME`). Empty at the root.
    pub fn script_name(&self) -> String {
        self.origin().prefix().into_owned()
    }

    /// The full URL as the client asked for it: scheme, host, port, mount prefix, path, query.
    pub fn url(&self) -> String {
        let origin = self.origin();
        let query = self
            .query_string()
            .map(|q| format!("?{q}"))
            .unwrap_or_default();
        format!(
            "{}://{}{}{}{}",
            origin.scheme(),
            origin.authority().unwrap_or("localhost"),
            origin.prefix(),
            self.raw_path(),
            query
        )
    }

    /// The address of the TCP peer (WebOb's `remote_addr`), inserted by [`serve`](crate::serve).
    /// Behind a proxy this is the proxy; see [`client_addr`](Self::client_addr).
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.origin().peer_addr()
    }

    /// The client's address (WebOb's `client_addr`): what trusted proxies reported through the
    /// forwarded layer, else the TCP peer. Only proxies the layer was told to trust count, so a
    /// client cannot choose this value.
    pub fn client_addr(&self) -> Option<IpAddr> {
        self.origin().client_addr()
    }

    /// The Basic credentials of the `Authorization` header (RFC 7617): `None` without one,
    /// an error when it is not well-formed Basic credentials or when several `Authorization`
    /// headers came (the auth layer refuses them too). For other schemes see
    /// [`authorization`](Self::authorization).
    ///
    /// This only reads the header; checking the password is the auth layer's job.
    ///
    /// ```
    /// use tollgate::Request;
    /// let req = Request::from_http(Request::get("/").basic_auth("ada", "pw").build().unwrap());
    /// let credentials = req.basic_auth().unwrap().unwrap();
    /// assert_eq!((credentials.username.as_str(), credentials.password.as_str()), ("ada", "pw"));
    /// ```
    pub fn basic_auth(&self) -> Option<Result<Credentials, CredentialsError>> {
        crate::credentials::basic_from_headers(self.inner.headers()).transpose()
    }

    /// The user the auth layer authenticated.
    pub fn user(&self) -> Option<&str> {
        self.extension::<AuthenticatedUser>()
            .map(AuthenticatedUser::name)
    }

    /// A parameter of the dispatcher route that matched, e.g. `id` in `/users/{id}`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.extension::<RouteParams>()?.get(name)
    }
}

impl<B> Request<B>
where
    B: http_body::Body + Unpin,
    B::Data: bytes::Buf,
    B::Error: Into<BoxError>,
{
    /// Reads the body, at most `limit` bytes; the bytes are kept, so calling again (or calling
    /// [`text`](Self::text), [`json`](Self::json), [`form`](Self::form)) returns them.
    ///
    /// # Errors
    ///
    /// 413 past the limit; 400 when the body stream fails or failed before.
    pub async fn bytes(&mut self, limit: usize) -> Result<Bytes, HttpError> {
        match &self.body {
            BodyState::Read(bytes) if bytes.len() > limit => {
                return Err(HttpError::payload_too_large(format!(
                    "request body is larger than the limit of {limit} bytes"
                )))
            }
            BodyState::Read(bytes) => return Ok(bytes.clone()),
            BodyState::Failed => {
                return Err(HttpError::bad_request("the request body could not be read"))
            }
            BodyState::Unread => {}
        }
        self.body = BodyState::Failed;
        let bytes = crate::body::to_bytes(self.inner.body_mut(), limit).await?;
        self.body = BodyState::Read(bytes.clone());
        Ok(bytes)
    }

    /// Reads the body as text, decoded per the `charset` (UTF-8 when none is given; also
    /// `us-ascii` and `iso-8859-1`).
    ///
    /// # Errors
    ///
    /// 415 for another charset, 400 for bytes invalid in it, and [`bytes`](Self::bytes)' errors.
    pub async fn text(&mut self, limit: usize) -> Result<String, HttpError> {
        let charset = self.charset();
        let bytes = self.bytes(limit).await?;
        decode_text(&bytes, charset.as_deref())
    }

    /// Reads a JSON body into `T`.
    ///
    /// # Errors
    ///
    /// 415 unless the content type is `application/json` or `*/*+json`; 400 naming the line
    /// and column for JSON that does not parse or fit `T`; and [`bytes`](Self::bytes)' errors.
    pub async fn json<T: serde::de::DeserializeOwned>(
        &mut self,
        limit: usize,
    ) -> Result<T, HttpError> {
        let is_json = self
            .content_type()
            .is_some_and(|m| m.subtype() == mime::JSON || m.suffix() == Some(mime::JSON));
        if !is_json {
            return Err(HttpError::unsupported_media_type(
                "expected a body of type application/json",
            ));
        }
        let bytes = self.bytes(limit).await?;
        serde_json::from_slice(&bytes).map_err(|e| {
            HttpError::bad_request(format!(
                "invalid JSON body at line {} column {}: {}",
                e.line(),
                e.column(),
                e
            ))
        })
    }

    /// Reads an `application/x-www-form-urlencoded` body, at most `limit` bytes and
    /// [`DEFAULT_MAX_PAIRS`](multimap::DEFAULT_MAX_PAIRS) pairs.
    ///
    /// # Errors
    ///
    /// 415 for other content types (multipart bodies are read with `form_data`); 400 for too
    /// many pairs or invalid UTF-8; and [`bytes`](Self::bytes)' errors.
    pub async fn form(&mut self, limit: usize) -> Result<MultiMap, HttpError> {
        match self.content_type() {
            Some(m) if m.essence_str() == mime::APPLICATION_WWW_FORM_URLENCODED.essence_str() => {}
            Some(m) if m.essence_str() == mime::MULTIPART_FORM_DATA.essence_str() => {
                return Err(HttpError::unsupported_media_type(
                    "multipart/form-data bodies are read with Request::form_data, not Request::form",
                ))
            }
            _ => {
                return Err(HttpError::unsupported_media_type(
                    "expected a body of type application/x-www-form-urlencoded",
                ))
            }
        }
        let bytes = self.bytes(limit).await?;
        Ok(MultiMap::parse_urlencoded(
            &bytes,
            multimap::DEFAULT_MAX_PAIRS,
        )?)
    }
}

/// Decodes body bytes in the given charset (UTF-8 when `None`).
fn decode_text(bytes: &[u8], charset: Option<&str>) -> Result<String, HttpError> {
    match charset.unwrap_or("utf-8") {
        "utf-8" | "utf8" => String::from_utf8(bytes.to_vec())
            .map_err(|e| HttpError::bad_request("the body is not valid UTF-8").with_source(e)),
        "us-ascii" | "ascii" if bytes.is_ascii() => Ok(bytes.iter().map(|&b| b as char).collect()),
        "us-ascii" | "ascii" => Err(HttpError::bad_request("the body is not valid US-ASCII")),
        "iso-8859-1" | "latin1" | "latin-1" => Ok(bytes.iter().map(|&b| b as char).collect()),
        other => Err(HttpError::unsupported_media_type(format!(
            "charset `{}` is not supported; send UTF-8",
            other.chars().take(40).collect::<String>()
        ))),
    }
}

impl<B: Default> Request<B> {
    /// Takes the body out for a streaming reader (`form::Multipart`): `Ok(body)`, or
    /// `Err(Some(bytes))` when [`bytes`](Self::bytes) already read and kept it, `Err(None)` when
    /// reading it failed. After `Ok`, the body readers answer 400.
    #[cfg_attr(not(feature = "multipart"), allow(dead_code))]
    pub(crate) fn take_body(&mut self) -> Result<B, Option<Bytes>> {
        match &self.body {
            BodyState::Unread => {
                self.body = BodyState::Failed;
                Ok(std::mem::take(self.inner.body_mut()))
            }
            BodyState::Read(bytes) => Err(Some(bytes.clone())),
            BodyState::Failed => Err(None),
        }
    }
}

impl Request<Body> {
    /// The wrapped request, to hand on: a body already read through [`bytes`](Self::bytes) and
    /// friends is put back as the bytes read, so what comes next reads the same body. This is
    /// what a filter's [`Next`](crate::filter::Next) sends.
    pub fn into_http_with_body(self) -> http::Request<Body> {
        let Request { inner, body, .. } = self;
        match body {
            BodyState::Read(bytes) => inner.map(|_| Body::from(bytes)),
            BodyState::Unread | BodyState::Failed => inner,
        }
    }

    /// A builder for a `GET` request, WebOb's `Request.blank`.
    pub fn get(uri: &str) -> RequestBuilder {
        RequestBuilder::new(Method::GET, uri)
    }

    /// A builder for a `POST` request.
    pub fn post(uri: &str) -> RequestBuilder {
        RequestBuilder::new(Method::POST, uri)
    }

    /// A builder for a `PUT` request.
    pub fn put(uri: &str) -> RequestBuilder {
        RequestBuilder::new(Method::PUT, uri)
    }

    /// A builder for a `DELETE` request.
    pub fn delete(uri: &str) -> RequestBuilder {
        RequestBuilder::new(Method::DELETE, uri)
    }

    /// A builder for any method.
    pub fn builder(method: Method, uri: &str) -> RequestBuilder {
        RequestBuilder::new(method, uri)
    }
}

impl<B> From<http::Request<B>> for Request<B> {
    fn from(inner: http::Request<B>) -> Self {
        Request::from_http(inner)
    }
}

impl<B> std::fmt::Debug for Request<B> {
    /// Shows method, target and version; headers are left out since they may hold credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("method", self.method())
            .field("uri", self.uri())
            .field("version", &self.version())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
