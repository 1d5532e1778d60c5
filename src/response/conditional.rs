//! Conditional and range answers (RFC 9110 §13, §14): Werkzeug's `make_conditional`.
//!
//! [`make_conditional`] takes the request's method and headers and a finished response that
//! carries its validators (`ETag`, `Last-Modified`), and turns it into the answer the
//! request's preconditions and `Range` call for:
//!
//! 1. only a 2xx answer is touched (RFC 9110 §13.2.1);
//! 2. `If-Match` → `If-Unmodified-Since` → `If-None-Match` → `If-Modified-Since`, giving
//!    `304 Not Modified` (validators and caching headers kept, `Content-*` dropped, no body)
//!    or `412 Precondition Failed` ([`evaluate_preconditions`]);
//! 3. for a `GET` answered 200 with a known length, `Range` (honoured only while `If-Range`
//!    holds): one range → 206 with `Content-Range`; several → 206 `multipart/byteranges`;
//!    none satisfiable → 416 with `Content-Range: bytes */LEN`; more than `max_ranges` or a
//!    malformed header → `Range` is ignored and the 200 goes out ([`parse_range`]);
//! 4. a 200 of known length advertises `Accept-Ranges: bytes`; a `HEAD` answer keeps every
//!    header of the `GET` answer and loses its body.
//!
//! The [`decide`] function is the same logic without bodies; `files::ServeDir` uses it too.
//!
//! # Example
//!
//! ```
//! use http::{header, Request, StatusCode};
//! use tollgate::response::conditional::make_conditional;
//! use tollgate::response::etag::ETag;
//! use tollgate::Body;
//!
//! let res = http::Response::builder()
//!     .header(header::ETAG, ETag::strong("v1").unwrap().to_header_value())
//!     .body(Body::from("hello world"))
//!     .unwrap();
//! let req = Request::get("/").header(header::RANGE, "bytes=0-4").body(()).unwrap();
//! let res = make_conditional(&req, res);
//! assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
//! assert_eq!(res.headers()[header::CONTENT_RANGE], "bytes 0-4/11");
//! ```

use std::time::SystemTime;

use http::header::{
    HeaderName, ACCEPT_RANGES, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_LOCATION, CONTENT_RANGE,
    CONTENT_TYPE, ETAG, LAST_MODIFIED, RANGE, TRANSFER_ENCODING,
};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use http_body::Body as _;

use super::cache_control::{add_vary, CacheControl};
use super::date::{fmt_http_date, parse_http_date};
use super::etag::ETag;
use super::precondition::{evaluate_preconditions, if_range_holds, Precondition};
use super::range::{
    boundary, multipart_layout, parse_range, unsatisfied_content_range, ByteRange, Segment,
    DEFAULT_MAX_RANGES,
};
use super::ranged::ranged_body;
use crate::{Body, HttpError};

/// What [`make_conditional`] needs from a request: its method and headers.
pub trait RequestHead {
    /// The request method.
    fn method(&self) -> &Method;
    /// The request headers.
    fn headers(&self) -> &HeaderMap;
}

impl RequestHead for http::request::Parts {
    fn method(&self) -> &Method {
        &self.method
    }
    fn headers(&self) -> &HeaderMap {
        &self.headers
    }
}

impl<B> RequestHead for http::Request<B> {
    fn method(&self) -> &Method {
        self.method()
    }
    fn headers(&self) -> &HeaderMap {
        self.headers()
    }
}

impl<B> RequestHead for crate::Request<B> {
    fn method(&self) -> &Method {
        self.method()
    }
    fn headers(&self) -> &HeaderMap {
        self.headers()
    }
}

impl RequestHead for (&Method, &HeaderMap) {
    fn method(&self) -> &Method {
        self.0
    }
    fn headers(&self) -> &HeaderMap {
        self.1
    }
}

/// The answer the conditional headers of a request call for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Decision {
    /// Answer as usual, in full.
    Full,
    /// `304 Not Modified`.
    NotModified,
    /// `412 Precondition Failed`.
    PreconditionFailed,
    /// `206 Partial Content` with these ranges (sorted, disjoint, at least one).
    Partial(Vec<ByteRange>),
    /// `416 Range Not Satisfiable` for a representation of this length.
    Unsatisfiable(u64),
}

/// Decides how to answer a request for a representation with these validators and length
/// (`None`: unknown, so no ranges). `status` is what the answer would be without conditions.
pub fn decide(
    head: &impl RequestHead,
    status: StatusCode,
    etag: Option<&ETag>,
    last_modified: Option<SystemTime>,
    len: Option<u64>,
    max_ranges: usize,
) -> Decision {
    if !status.is_success() {
        return Decision::Full;
    }
    let (method, headers) = (head.method(), head.headers());
    match evaluate_preconditions(method, headers, etag, last_modified) {
        Precondition::NotModified => return Decision::NotModified,
        Precondition::Failed => return Decision::PreconditionFailed,
        _ => {}
    }
    if method != Method::GET || status != StatusCode::OK {
        return Decision::Full;
    }
    let Some(len) = len.filter(|len| *len > 0) else {
        // An empty representation has no satisfiable range; answering it whole is allowed
        // (a server MAY ignore Range) and friendlier than a 416.
        return Decision::Full;
    };
    let mut ranges = headers.get_all(RANGE).iter();
    let (Some(range), None) = (ranges.next(), ranges.next()) else {
        return Decision::Full;
    };
    let Ok(range) = range.to_str() else {
        return Decision::Full;
    };
    if !if_range_holds(headers, etag, last_modified) {
        return Decision::Full;
    }
    match parse_range(range, len, max_ranges) {
        Ok(ranges) => Decision::Partial(ranges),
        Err(e) if e.is_unsatisfiable() => Decision::Unsatisfiable(len),
        Err(_) => Decision::Full,
    }
}

/// How the body of an answer shaped by [`shape`] is made.
#[derive(Debug)]
pub(crate) enum Shape {
    /// The whole representation.
    Full,
    /// No body (304, HEAD).
    Empty,
    /// These segments of the representation, `total` bytes in all.
    Segments(Vec<Segment>, u64),
    /// A whole answer of its own (412, 416): send it instead.
    Answer(http::Response<Body>),
}

/// The `ETag` and `Last-Modified` a response carries.
pub(crate) fn validators(headers: &HeaderMap) -> (Option<ETag>, Option<SystemTime>) {
    let etag = headers
        .get(ETAG)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| ETag::parse(v).ok());
    let last_modified = headers
        .get(LAST_MODIFIED)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_http_date);
    (etag, last_modified)
}

/// Applies a decision to a response head, returning the body shape, or the whole answer
/// when it is an error page (412, 416).
pub(crate) fn shape(
    head: &impl RequestHead,
    parts: &mut http::response::Parts,
    len: Option<u64>,
    max_ranges: usize,
) -> Shape {
    let (etag, last_modified) = validators(&parts.headers);
    let decision = decide(
        head,
        parts.status,
        etag.as_ref(),
        last_modified,
        len,
        max_ranges,
    );
    let is_head = head.method() == Method::HEAD;
    let advertise_ranges = |parts: &mut http::response::Parts| {
        if len.is_some() && parts.status == StatusCode::OK {
            parts
                .headers
                .entry(ACCEPT_RANGES)
                .or_insert(HeaderValue::from_static("bytes"));
        }
    };
    match decision {
        Decision::Full => {
            advertise_ranges(parts);
            if let Some(len) = len {
                parts.headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
            }
            if is_head {
                Shape::Empty
            } else {
                Shape::Full
            }
        }
        Decision::NotModified => {
            parts.status = StatusCode::NOT_MODIFIED;
            strip_content_headers(&mut parts.headers);
            Shape::Empty
        }
        Decision::PreconditionFailed => Shape::Answer(
            HttpError::new(
                StatusCode::PRECONDITION_FAILED,
                "a precondition of the request (If-Match, If-Unmodified-Since or If-None-Match) \
             does not hold for the current representation",
            )
            .into_response_for(head.headers()),
        ),
        Decision::Unsatisfiable(len) => Shape::Answer(
            HttpError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                format!("no requested range overlaps the {len} bytes of the representation"),
            )
            .with_header(CONTENT_RANGE, unsatisfied_content_range(len))
            .into_response_for(head.headers()),
        ),
        Decision::Partial(ranges) => {
            let complete = len.expect("ranges are only chosen for a known length");
            parts.status = StatusCode::PARTIAL_CONTENT;
            parts
                .headers
                .insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
            if let [range] = ranges[..] {
                parts
                    .headers
                    .insert(CONTENT_RANGE, header_value(range.content_range(complete)));
                parts
                    .headers
                    .insert(CONTENT_LENGTH, HeaderValue::from(range.len()));
                return Shape::Segments(vec![Segment::Span(range)], range.len());
            }
            let boundary = boundary();
            let content_type = parts
                .headers
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok());
            let (segments, total) = multipart_layout(&ranges, complete, content_type, &boundary);
            parts.headers.insert(
                CONTENT_TYPE,
                header_value(format!("multipart/byteranges; boundary={boundary}")),
            );
            parts
                .headers
                .insert(CONTENT_LENGTH, HeaderValue::from(total));
            Shape::Segments(segments, total)
        }
    }
}

fn header_value(s: String) -> HeaderValue {
    HeaderValue::try_from(s).expect("built from digits and visible ASCII")
}

/// Drops what a 304 must not describe: the representation's `Content-*` fields (except
/// `Content-Location`) and framing. `ETag`, `Last-Modified`, `Cache-Control`, `Expires`,
/// `Vary` and `Date` stay, as RFC 9110 §15.4.5 asks.
fn strip_content_headers(headers: &mut HeaderMap) {
    let doomed: Vec<HeaderName> = headers
        .keys()
        .filter(|name| {
            (name.as_str().starts_with("content-") && **name != CONTENT_LOCATION)
                || **name == TRANSFER_ENCODING
        })
        .cloned()
        .collect();
    for name in doomed {
        headers.remove(name);
    }
}

/// The known length of a response body: its exact size hint, else `Content-Length`.
fn known_len(res: &http::Response<Body>) -> Option<u64> {
    res.body().size_hint().exact().or_else(|| {
        res.headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
    })
}

/// Werkzeug's `make_conditional`: answers the request's preconditions and `Range` from the
/// response's `ETag`, `Last-Modified` and body, allowing [`DEFAULT_MAX_RANGES`] ranges.
///
/// See the [module docs](self) for the order of evaluation and the answers.
pub fn make_conditional(
    head: &impl RequestHead,
    res: http::Response<Body>,
) -> http::Response<Body> {
    make_conditional_with(head, res, DEFAULT_MAX_RANGES)
}

/// [`make_conditional`] with a cap on the number of ranges (beyond it `Range` is ignored).
pub fn make_conditional_with(
    head: &impl RequestHead,
    res: http::Response<Body>,
    max_ranges: usize,
) -> http::Response<Body> {
    let len = known_len(&res);
    let (mut parts, body) = res.into_parts();
    match shape(head, &mut parts, len, max_ranges) {
        Shape::Answer(answer) => answer,
        Shape::Full => http::Response::from_parts(parts, body),
        Shape::Empty => http::Response::from_parts(parts, Body::empty()),
        Shape::Segments(segments, total) => {
            http::Response::from_parts(parts, ranged_body(body, segments, total))
        }
    }
}

/// Validators, caching headers and conditional answers.
impl crate::Response {
    /// Sets `ETag`.
    ///
    /// ```
    /// use tollgate::{response::ETag, Response};
    /// let res = Response::text("hi").with_etag(ETag::weak("v1").unwrap());
    /// assert_eq!(res.headers()["etag"], "W/\"v1\"");
    /// ```
    #[must_use]
    pub fn with_etag(mut self, etag: ETag) -> Self {
        self.headers_mut().insert(ETAG, etag.to_header_value());
        self
    }

    /// Sets `Last-Modified` (to the second, as HTTP dates go).
    #[must_use]
    pub fn with_last_modified(mut self, time: SystemTime) -> Self {
        let value = header_value(fmt_http_date(time));
        self.headers_mut().insert(LAST_MODIFIED, value);
        self
    }

    /// Sets `Cache-Control`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tollgate::{response::CacheControl, Response};
    /// let res = Response::text("hi")
    ///     .cache_control(CacheControl::new().private().max_age(Duration::from_secs(60)));
    /// assert_eq!(res.headers()["cache-control"], "private, max-age=60");
    /// ```
    #[must_use]
    pub fn cache_control(mut self, cache_control: CacheControl) -> Self {
        let value = cache_control.to_header_value();
        self.headers_mut().insert(CACHE_CONTROL, value);
        self
    }

    /// Adds a request header name to `Vary` (once; `Vary: *` stays as it is).
    ///
    /// ```
    /// use tollgate::Response;
    /// let res = Response::text("hi").vary(http::header::ACCEPT_LANGUAGE).vary(http::header::ACCEPT);
    /// assert_eq!(res.headers()["vary"], "accept-language, accept");
    /// ```
    #[must_use]
    pub fn vary(mut self, name: HeaderName) -> Self {
        add_vary(self.headers_mut(), &name);
        self
    }

    /// Answers the request's preconditions and `Range` from this response's `ETag`,
    /// `Last-Modified` and body: 304, 412, 206, 416, or this response (a HEAD answer without
    /// its body). See [`make_conditional`].
    ///
    /// ```
    /// use tollgate::{response::ETag, Request, Response};
    /// let req = Request::get("/").header("if-none-match", "\"v1\"").build().unwrap();
    /// let res = Response::text("hi").with_etag(ETag::strong("v1").unwrap()).conditional(&req);
    /// assert_eq!(res.status(), http::StatusCode::NOT_MODIFIED);
    /// ```
    #[must_use]
    pub fn conditional(self, request: &impl RequestHead) -> Self {
        crate::Response::from_http(make_conditional(request, self.into_http()))
    }

    /// [`conditional`](crate::Response::conditional) with a cap on the number of ranges (default
    /// [`DEFAULT_MAX_RANGES`]); past it `Range` is ignored and the whole body goes out.
    #[must_use]
    pub fn conditional_with(self, request: &impl RequestHead, max_ranges: usize) -> Self {
        crate::Response::from_http(make_conditional_with(request, self.into_http(), max_ranges))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::{IF_NONE_MATCH, IF_RANGE, VARY};

    fn response() -> http::Response<Body> {
        http::Response::builder()
            .header(ETAG, "\"v1\"")
            .header(LAST_MODIFIED, "Sun, 06 Nov 1994 08:49:37 GMT")
            .header(CONTENT_TYPE, "text/plain")
            .header(VARY, "accept-encoding")
            .body(Body::from("0123456789abcdefghij"))
            .expect("response")
    }

    fn request(method: Method, headers: &[(HeaderName, &str)]) -> http::Request<()> {
        let mut req = http::Request::builder().method(method).uri("/");
        for (k, v) in headers {
            req = req.header(k, *v);
        }
        req.body(()).expect("request")
    }

    async fn text(res: http::Response<Body>) -> String {
        let bytes = crate::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .expect("body");
        String::from_utf8(bytes.to_vec()).expect("utf-8")
    }

    #[tokio::test]
    async fn not_modified_keeps_validators_and_drops_content() {
        let req = request(Method::GET, &[(IF_NONE_MATCH, "W/\"v1\"")]);
        let res = make_conditional(&req, response());
        assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(res.headers()[ETAG], "\"v1\"");
        assert_eq!(res.headers()[VARY], "accept-encoding");
        assert!(res.headers().get(LAST_MODIFIED).is_some());
        assert!(res.headers().get(CONTENT_TYPE).is_none());
        assert!(res.headers().get(CONTENT_LENGTH).is_none());
        assert_eq!(text(res).await, "");
    }

    #[tokio::test]
    async fn single_range() {
        let req = request(Method::GET, &[(RANGE, "bytes=2-4")]);
        let res = make_conditional(&req, response());
        assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(res.headers()[CONTENT_RANGE], "bytes 2-4/20");
        assert_eq!(res.headers()[CONTENT_LENGTH], "3");
        assert_eq!(res.headers()[CONTENT_TYPE], "text/plain");
        assert_eq!(text(res).await, "234");
    }

    #[tokio::test]
    async fn several_ranges_are_multipart() {
        let req = request(Method::GET, &[(RANGE, "bytes=0-1,-2")]);
        let res = make_conditional(&req, response());
        assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
        let ct = res.headers()[CONTENT_TYPE]
            .to_str()
            .expect("ascii")
            .to_owned();
        let boundary = ct
            .strip_prefix("multipart/byteranges; boundary=")
            .expect("multipart");
        let len: usize = res.headers()[CONTENT_LENGTH]
            .to_str()
            .expect("ascii")
            .parse()
            .expect("number");
        let body = text(res).await;
        assert_eq!(body.len(), len);
        assert_eq!(
            body,
            format!(
                "--{boundary}\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-1/20\r\n\r\n01\
                 \r\n--{boundary}\r\nContent-Type: text/plain\r\nContent-Range: bytes 18-19/20\r\n\r\nij\
                 \r\n--{boundary}--\r\n"
            )
        );
    }

    #[tokio::test]
    async fn unsatisfiable_is_416() {
        let req = request(Method::GET, &[(RANGE, "bytes=20-")]);
        let res = make_conditional(&req, response());
        assert_eq!(res.status(), StatusCode::RANGE_NOT_SATISFIABLE);
        assert_eq!(res.headers()[CONTENT_RANGE], "bytes */20");
    }

    #[tokio::test]
    async fn stale_if_range_sends_everything() {
        let req = request(Method::GET, &[(RANGE, "bytes=0-1"), (IF_RANGE, "\"v0\"")]);
        let res = make_conditional(&req, response());
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()[ACCEPT_RANGES], "bytes");
        assert_eq!(text(res).await, "0123456789abcdefghij");
        let req = request(Method::GET, &[(RANGE, "bytes=0-1"), (IF_RANGE, "\"v1\"")]);
        assert_eq!(
            make_conditional(&req, response()).status(),
            StatusCode::PARTIAL_CONTENT
        );
    }

    #[tokio::test]
    async fn head_keeps_headers_without_body() {
        let req = request(Method::HEAD, &[(RANGE, "bytes=0-1")]);
        let res = make_conditional(&req, response());
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()[CONTENT_LENGTH], "20");
        assert_eq!(res.headers()[ETAG], "\"v1\"");
        assert_eq!(text(res).await, "");
    }

    #[tokio::test]
    async fn errors_and_non_get_are_left_alone() {
        let req = request(Method::GET, &[(IF_NONE_MATCH, "\"v1\"")]);
        let mut res = response();
        *res.status_mut() = StatusCode::NOT_FOUND;
        assert_eq!(make_conditional(&req, res).status(), StatusCode::NOT_FOUND);
        let req = request(Method::POST, &[(RANGE, "bytes=0-1")]);
        assert_eq!(make_conditional(&req, response()).status(), StatusCode::OK);
        let req = request(Method::POST, &[(IF_NONE_MATCH, "*")]);
        assert_eq!(
            make_conditional(&req, response()).status(),
            StatusCode::PRECONDITION_FAILED
        );
    }

    #[tokio::test]
    async fn ten_thousand_ranges_get_the_whole_body() {
        let header = format!(
            "bytes={}",
            (0..10_000)
                .map(|i| format!("{i}-{i}"))
                .collect::<Vec<_>>()
                .join(",")
        );
        let req = request(Method::GET, &[(RANGE, &header)]);
        let res = make_conditional(&req, response());
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(text(res).await.len(), 20);
    }

    #[test]
    fn decide_on_unknown_length_never_ranges() {
        let req = request(Method::GET, &[(RANGE, "bytes=0-1")]);
        assert_eq!(
            decide(&req, StatusCode::OK, None, None, None, 32),
            Decision::Full
        );
        assert_eq!(
            decide(&req, StatusCode::OK, None, None, Some(0), 32),
            Decision::Full
        );
    }
}
