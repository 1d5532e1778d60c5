//! Structure-aware fuzzing of services: [`arbitrary`] requests, a blocking call into any
//! service, and the checks every answer to client garbage must pass.
//!
//! A fuzzer hands over raw bytes; [`FuzzRequest`] turns them into a request that is valid as
//! an `http` value but hostile in content: dot segments and encoded slashes in the path,
//! repeated and conflicting headers, broken `Authorization`, `Range`, `Cookie`, `Accept` and
//! forwarding headers, odd methods and versions, any body. [`answer`] drives a tower service
//! with it, and [`check_answer`] panics (which is what a fuzzer reports) when the answer is a
//! 5xx or could not be written as a valid HTTP/1.1 response.
//!
//! # Example
//!
//! A `cargo fuzz` target for your own service (`fuzz/fuzz_targets/my_service.rs`):
//!
//! ```no_run
//! # // In a fuzz target: `libfuzzer_sys::fuzz_target!(|req: FuzzRequest| { ... });`
//! use tollgate::fuzz::{check_service, FuzzRequest};
//! use tollgate::{handler, Request, Response};
//!
//! fn fuzz_one(req: FuzzRequest) {
//!     let service = handler::from_fn(|req: Request| async move {
//!         Response::text(format!("hello {}", req.path()))
//!     });
//!     check_service(&service, req);
//! }
//! # let mut u = arbitrary::Unstructured::new(b"some fuzzer bytes");
//! # fuzz_one(arbitrary::Arbitrary::arbitrary(&mut u).unwrap());
//! ```
//!
//! Without `cargo fuzz`, drive it from any bytes (see `examples/fuzz_your_service.rs`):
//!
//! ```
//! use arbitrary::{Arbitrary, Unstructured};
//! use tollgate::fuzz::FuzzRequest;
//!
//! let mut u = Unstructured::new(b"\x01\x02GET /../etc/passwd\x07\x09 and more entropy");
//! let req = FuzzRequest::arbitrary(&mut u).unwrap();
//! let http = req.clone().into_http();
//! assert_eq!(http.method(), req.method());
//! ```

use std::fmt;

use arbitrary::{Arbitrary, Unstructured};
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{Method, Uri, Version};

use crate::body::Body;
use crate::request::RequestBuilder;

mod raw;
mod run;
pub use raw::{Mutation, RawRequest};
pub use run::{answer, block_on, check_answer, check_service, serve_raw};

/// An arbitrary HTTP request: valid as an `http` value, hostile in content.
#[derive(Clone, PartialEq, Eq)]
pub struct FuzzRequest {
    method: Method,
    uri: Uri,
    version: Version,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Bytes,
}

impl FuzzRequest {
    /// The method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The request target.
    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    /// The header fields, in order, repeats included.
    pub fn headers(&self) -> &[(HeaderName, HeaderValue)] {
        &self.headers
    }

    /// The body.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The request as `http::Request<Bytes>`, for parsers and [`wire::write_request`](crate::wire::write_request).
    pub fn to_http_bytes(&self) -> http::Request<Bytes> {
        let mut req = http::Request::new(self.body.clone());
        *req.method_mut() = self.method.clone();
        *req.uri_mut() = self.uri.clone();
        *req.version_mut() = self.version;
        for (name, value) in &self.headers {
            req.headers_mut().append(name.clone(), value.clone());
        }
        req
    }

    /// The request as `http::Request<Body>`, for services.
    pub fn into_http(self) -> http::Request<Body> {
        self.to_http_bytes().map(Body::from)
    }

    /// A request made from `seed` alone: the generator without a fuzzer, for smoke runs and
    /// property tests. The same seed gives the same request.
    ///
    /// ```
    /// use tollgate::fuzz::FuzzRequest;
    ///
    /// assert_eq!(FuzzRequest::from_seed(7), FuzzRequest::from_seed(7));
    /// ```
    pub fn from_seed(seed: u64) -> FuzzRequest {
        let data = seed_bytes(seed);
        FuzzRequest::arbitrary(&mut Unstructured::new(&data))
            .expect("a FuzzRequest is made from any bytes")
    }
}

/// Up to 511 pseudo-random bytes from `seed` (xorshift64).
fn seed_bytes(seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let len = state % 512;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect()
}

impl fmt::Debug for FuzzRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} {} {:?}", self.method, self.uri, self.version)?;
        for (name, value) in &self.headers {
            writeln!(f, "{name}: {value:?}")?;
        }
        write!(f, "\n{:?}", self.body)
    }
}

const METHODS: &[Method] = &[
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::DELETE,
    Method::OPTIONS,
    Method::PATCH,
    Method::TRACE,
    Method::CONNECT,
];

/// Path segments that have broken path handling somewhere.
const SEGMENTS: &[&str] = &[
    "",
    ".",
    "..",
    "%2e",
    "%2e%2e",
    "%2E.",
    ".%2e",
    "%2f",
    "%2F..",
    "%5c",
    "..%5c",
    "%00",
    "%c0%ae",
    "%C3%A9",
    "%ff",
    "a",
    "admin",
    "static",
    "files",
    "index.html",
    "~user",
    ";x=1",
    "a;b",
    "%20",
    "+",
    "*",
    "@",
    ":",
    "%25",
    "%252e%252e",
    "..;",
    "....",
    ".git",
    "x%0d%0ay",
];

const QUERY_PARTS: &[&str] = &[
    "a=1",
    "a=2",
    "a",
    "=",
    "&",
    "%",
    "%zz",
    "a=%C3%A9",
    "a[]=1",
    "a=%00",
    "+",
    "%2B",
    "q=x+y",
    "redirect=//evil",
    "next=http://evil/",
];

const HOSTS: &[&str] = &[
    "localhost",
    "example.com",
    "EXAMPLE.com.",
    "127.0.0.1:8080",
    "[::1]:80",
    "a:99999",
    "",
    "xn--nxasmq6b",
    "localhost:0",
    "evil.com@localhost",
];

/// Header names worth hitting, and values that have broken their parsers.
const FIELDS: &[(&str, &[&str])] = &[
    ("host", HOSTS),
    (
        "content-type",
        &[
            "application/x-www-form-urlencoded",
            "application/json",
            "text/plain; charset=latin1",
            "multipart/form-data; boundary=X",
            "multipart/form-data",
            "multipart/form-data; boundary=",
            "text/html; charset=\"",
            "*/*",
            ";;;",
        ],
    ),
    (
        "content-length",
        &["0", "1", "+5", "-1", "18446744073709551616", "5, 5", "x"],
    ),
    (
        "transfer-encoding",
        &["chunked", "gzip, chunked", "identity", "chunked, gzip"],
    ),
    (
        "cookie",
        &[
            "a=1",
            "a=1; a=2",
            "a",
            "=1",
            "a=\"1",
            "a=1;;; b=2",
            "session=%00",
            "a=é",
        ],
    ),
    (
        "authorization",
        &[
            "Basic YWxhZGRpbjpvcGVuc2VzYW1l",
            "Basic",
            "Basic ",
            "Basic !!!!",
            "Basic YQ==",
            "Basic Og==",
            "basic YTpi",
            "Bearer x",
            "Basic YTpi YTpi",
            "Digest a=b",
        ],
    ),
    (
        "accept",
        &[
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
            "*/*;q=0",
            "application/json;q=1.0001",
            "text/*;q=-1",
            "a/b;q=nan",
            ",,,",
            "*/json",
        ],
    ),
    (
        "accept-language",
        &["en-US,en;q=0.5", "*", "de;q=0.", "x-klingon;q=1e3", ";q=1"],
    ),
    (
        "accept-encoding",
        &["gzip, deflate, br, zstd", "identity;q=0", "*;q=0"],
    ),
    (
        "range",
        &[
            "bytes=0-0",
            "bytes=-1",
            "bytes=0-",
            "bytes=5-2",
            "bytes=0-1,2-3,0-1",
            "bytes=-0",
            "bytes=18446744073709551615-",
            "bytes=",
            "items=0-1",
            "bytes=1-2-3",
        ],
    ),
    (
        "if-none-match",
        &["*", "\"a\"", "W/\"a\", \"b\"", "\"unterminated", "a"],
    ),
    ("if-match", &["*", "\"a\"", "W/\"a\""]),
    (
        "if-modified-since",
        &[
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "0",
            "tomorrow",
        ],
    ),
    (
        "if-range",
        &["\"a\"", "Sun, 06 Nov 1994 08:49:37 GMT", "W/\"a\""],
    ),
    (
        "forwarded",
        &[
            "for=192.0.2.60;proto=http;by=203.0.113.43",
            "for=\"[2001:db8::1]:4711\"",
            "for=unknown",
            "for=_hidden, for=1.2.3.4",
            "for=\"",
            "proto=javascript",
            ";;,",
        ],
    ),
    (
        "x-forwarded-for",
        &["1.2.3.4", "1.2.3.4, 5.6.7.8", "unknown", "::1", "", ",,"],
    ),
    (
        "x-forwarded-proto",
        &["https", "http", "javascript", "https, http"],
    ),
    ("x-forwarded-host", &["evil.com", "a:1:2", ""]),
    (
        "connection",
        &["close", "keep-alive, Upgrade", "x-secret", "te, host"],
    ),
    ("upgrade", &["websocket", "h2c"]),
    ("expect", &["100-continue", "nope"]),
    ("origin", &["null", "https://example.com"]),
    ("x-request-id", &["1", "", "a\"b"]),
];

fn pick<'a, T>(u: &mut Unstructured<'_>, items: &'a [T]) -> arbitrary::Result<&'a T> {
    u.choose(items)
}

/// Arbitrary bytes made into a valid (possibly empty) header value.
fn raw_value(u: &mut Unstructured<'_>) -> arbitrary::Result<HeaderValue> {
    let len = u.int_in_range(0..=64)?;
    let bytes: Vec<u8> = u
        .bytes(len.min(u.len()))?
        .iter()
        .copied()
        .filter(|&b| b == b'\t' || (b' '..=b'~').contains(&b) || b >= 0x80)
        .collect();
    Ok(HeaderValue::from_bytes(&bytes).unwrap_or(HeaderValue::from_static("")))
}

/// A value from the lists above (some are deliberately non-ASCII).
fn listed_value(value: &str) -> HeaderValue {
    HeaderValue::from_bytes(value.as_bytes()).unwrap_or(HeaderValue::from_static(""))
}

fn raw_token(u: &mut Unstructured<'_>) -> arbitrary::Result<String> {
    const TCHARS: &[u8] = b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz";
    let len = u.int_in_range(1..=16)?;
    let s: String = u
        .bytes(len.min(u.len()))?
        .iter()
        .map(|&b| char::from(TCHARS[usize::from(b) % TCHARS.len()]))
        .collect();
    Ok(if s.is_empty() { "x".into() } else { s })
}

fn arbitrary_method(u: &mut Unstructured<'_>) -> arbitrary::Result<Method> {
    if u.ratio(1, 8)? {
        let token = raw_token(u)?.to_ascii_uppercase();
        return Ok(Method::from_bytes(token.as_bytes()).unwrap_or(Method::GET));
    }
    Ok(pick(u, METHODS)?.clone())
}

fn arbitrary_uri(u: &mut Unstructured<'_>, method: &Method) -> arbitrary::Result<Uri> {
    if *method == Method::CONNECT && u.ratio(3, 4)? {
        let host = pick(u, HOSTS)?;
        return Ok(host
            .parse()
            .unwrap_or_else(|_| Uri::from_static("localhost:443")));
    }
    if *method == Method::OPTIONS && u.ratio(1, 4)? {
        return Ok(Uri::from_static("*"));
    }
    let mut target = String::new();
    if u.ratio(1, 8)? {
        target.push_str(pick(u, &["http://", "https://", "ftp://"])?);
        target.push_str(pick(u, HOSTS)?);
    }
    for _ in 0..u.int_in_range(0..=6)? {
        target.push('/');
        if u.ratio(1, 6)? {
            target.push_str(&raw_token(u)?);
        } else {
            target.push_str(pick(u, SEGMENTS)?);
        }
    }
    if target.is_empty() || !target.ends_with('/') && u.ratio(1, 6)? {
        target.push('/');
    }
    if u.ratio(1, 3)? {
        target.push('?');
        for i in 0..u.int_in_range(0..=4)? {
            if i > 0 {
                target.push('&');
            }
            target.push_str(pick(u, QUERY_PARTS)?);
        }
    }
    Ok(target.parse().unwrap_or_else(|_| Uri::from_static("/")))
}

fn arbitrary_field(u: &mut Unstructured<'_>) -> arbitrary::Result<(HeaderName, HeaderValue)> {
    if u.ratio(1, 10)? {
        let name = HeaderName::from_bytes(raw_token(u)?.as_bytes())
            .unwrap_or(HeaderName::from_static("x-fuzz"));
        return Ok((name, raw_value(u)?));
    }
    let (name, values) = pick(u, FIELDS)?;
    let value = if u.ratio(1, 4)? {
        raw_value(u)?
    } else {
        listed_value(pick(u, values)?)
    };
    Ok((HeaderName::from_static(name), value))
}

impl<'a> Arbitrary<'a> for FuzzRequest {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let method = arbitrary_method(u)?;
        let uri = arbitrary_uri(u, &method)?;
        let version = *pick(
            u,
            &[
                Version::HTTP_11,
                Version::HTTP_11,
                Version::HTTP_11,
                Version::HTTP_10,
                Version::HTTP_2,
            ],
        )?;
        let mut headers = Vec::new();
        if u.ratio(7, 8)? {
            headers.push((http::header::HOST, listed_value(pick(u, HOSTS)?)));
        }
        for _ in 0..u.int_in_range(0..=12)? {
            headers.push(arbitrary_field(u)?);
        }
        let body = Bytes::copy_from_slice(u.bytes(u.len())?);
        Ok(FuzzRequest {
            method,
            uri,
            version,
            headers,
            body,
        })
    }
}

/// An arbitrary [`RequestBuilder`]: a [`FuzzRequest`]'s head, with an arbitrary urlencoded
/// form as its body half of the time.
impl<'a> Arbitrary<'a> for RequestBuilder {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let form: Option<Vec<(String, String)>> = Arbitrary::arbitrary(u)?;
        let req = FuzzRequest::arbitrary(u)?;
        let mut builder =
            RequestBuilder::new(req.method, &req.uri.to_string()).version(req.version);
        for (name, value) in req.headers {
            builder = builder.header(name, value);
        }
        if let Some(pairs) = form {
            builder = builder.form(&pairs);
        }
        Ok(builder)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_bytes_make_a_request() {
        for seed in 0..2000 {
            let req = FuzzRequest::from_seed(seed);
            let _ = req.clone().into_http();
            let data = seed_bytes(seed);
            let _ = RequestBuilder::arbitrary(&mut Unstructured::new(&data))
                .unwrap()
                .build();
        }
    }

    #[test]
    fn check_answer_accepts_a_good_answer() {
        let res = http::Response::new(Bytes::from_static(b"ok"));
        check_answer(&Method::GET, &res);
    }

    /// service_stack crash-f30a5854: a HEAD answer keeps the GET answer's `Content-Length`.
    #[test]
    fn check_answer_knows_head() {
        let res = http::Response::builder()
            .header("content-length", "11")
            .body(Bytes::new())
            .unwrap();
        check_answer(&Method::HEAD, &res);
    }

    #[test]
    #[should_panic(expected = "Content-Length is invalid")]
    fn check_answer_refuses_a_bad_length_to_head() {
        let res = http::Response::builder()
            .header("content-length", "+11")
            .body(Bytes::new())
            .unwrap();
        check_answer(&Method::HEAD, &res);
    }

    #[test]
    #[should_panic(expected = "500")]
    fn check_answer_refuses_a_5xx() {
        let mut res = http::Response::new(Bytes::new());
        *res.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
        check_answer(&Method::GET, &res);
    }

    #[test]
    #[should_panic(expected = "not valid HTTP/1.1")]
    fn check_answer_refuses_a_wrong_length() {
        let res = http::Response::builder()
            .header("content-length", "9")
            .body(Bytes::from_static(b"ok"))
            .unwrap();
        check_answer(&Method::GET, &res);
    }
}
