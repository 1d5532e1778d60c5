//! One hyper client and one response type, [`Fetched`], for every answer a test reads whole
//! (over hyper, raw bytes or curl).

use std::borrow::Cow;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use http_body_util::BodyExt;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use tollgate::Body;

use super::TEST_TIMEOUT;

/// A response read whole.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Fetched {
    /// The first header `name` as text, when present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }

    /// The body as JSON.
    ///
    /// # Panics
    ///
    /// When it is not JSON; the message shows the body.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

/// A hyper client over plain TCP (HTTP/1.1, pooled; build requests with `http::Request` or
/// `tollgate::Request::get(..)`).
pub fn client() -> Client<HttpConnector, Body> {
    Client::builder(TokioExecutor::new()).build_http()
}

/// A hyper client that speaks cleartext HTTP/2 with prior knowledge (h2c).
pub fn h2_client() -> Client<HttpConnector, Body> {
    Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http()
}

/// Sends `req` with `client` and reads the whole answer, bounded by [`TEST_TIMEOUT`].
pub async fn fetch_with(client: &Client<HttpConnector, Body>, req: http::Request<Body>) -> Fetched {
    let work = async {
        let res = client.request(req).await.expect("the request succeeds");
        let (parts, body) = res.into_parts();
        let body = body.collect().await.expect("the body arrives").to_bytes();
        Fetched {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    };
    tokio::time::timeout(TEST_TIMEOUT, work)
        .await
        .expect("the answer arrived within the test timeout")
}

/// Sends `req` over a fresh HTTP/1.1 client and reads the whole answer.
pub async fn fetch(req: http::Request<Body>) -> Fetched {
    fetch_with(&client(), req).await
}

/// `GET url` over a fresh HTTP/1.1 client.
pub async fn get(url: &str) -> Fetched {
    send(Method::GET, url, NO_HEADERS).await
}

/// No headers, for [`send`] (`&[]` alone leaves the value type open).
pub const NO_HEADERS: &[(&str, &str)] = &[];

/// Sends `method url` with `headers` (in order, repeats kept) and an empty body over a fresh
/// HTTP/1.1 client. Header values are bytes, so a test can send what is not UTF-8.
pub async fn send<V: AsRef<[u8]>>(
    method: impl AsRef<str>,
    url: &str,
    headers: &[(&str, V)],
) -> Fetched {
    let method = Method::from_bytes(method.as_ref().as_bytes()).expect("a valid test method");
    let mut req = http::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.as_bytes()).expect("a valid test header name");
        let value = HeaderValue::from_bytes(value.as_ref()).expect("a valid test header value");
        req = req.header(name, value);
    }
    fetch(req.body(Body::empty()).expect("a valid test request")).await
}
