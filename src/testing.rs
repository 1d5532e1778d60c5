//! [`TestClient`]: call any service in-process, no sockets.
//!
//! # Example
//!
//! ```
//! use tollgate::{handler, testing::TestClient, Request, Response};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let client = TestClient::new(handler::from_fn(|req: Request| async move {
//!     Response::text(format!("{} {}", req.method(), req.path()))
//! }));
//! let res = client.post("/x").form(&[("a", "1")]).send().await;
//! assert_eq!(res.status(), 200);
//! assert_eq!(res.text().await, "POST /x");
//! # }
//! ```

use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, COOKIE, SET_COOKIE};
use http::{HeaderMap, Method, StatusCode};
use tower::ServiceExt;

use crate::body::{Body, BoxError};
use crate::ext::PeerAddr;
use crate::request::{Request, RequestBuilder};

/// The peer address requests from a [`TestClient`] appear to come from.
pub const TEST_PEER: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 40000);

/// The cookies a [`TestClient`] keeps: name and value, in the order they were set.
type CookieJar = Arc<Mutex<Vec<(String, String)>>>;

/// Calls a service in-process, like a browser would: optionally keeping cookies between calls.
pub struct TestClient<S> {
    service: S,
    jar: Option<CookieJar>,
}

impl<S: Clone> Clone for TestClient<S> {
    fn clone(&self) -> Self {
        TestClient {
            service: self.service.clone(),
            jar: self.jar.clone(),
        }
    }
}

impl<S, ResBody> TestClient<S>
where
    S: tower_service::Service<http::Request<Body>, Response = http::Response<ResBody>> + Clone,
    S::Error: fmt::Debug,
    ResBody: http_body::Body<Data = Bytes> + Send + Sync + 'static,
    ResBody::Error: Into<BoxError>,
{
    /// A client for `service`; cookies are not kept unless [`keep_cookies`](Self::keep_cookies).
    pub fn new(service: S) -> Self {
        TestClient { service, jar: None }
    }

    /// Keeps cookies set by responses and sends them back, like a browser.
    #[must_use]
    pub fn keep_cookies(mut self) -> Self {
        self.jar = Some(Arc::default());
        self
    }

    /// A `GET` request.
    pub fn get(&self, uri: &str) -> TestRequest<'_, S> {
        self.request(Method::GET, uri)
    }

    /// A `POST` request.
    pub fn post(&self, uri: &str) -> TestRequest<'_, S> {
        self.request(Method::POST, uri)
    }

    /// A `PUT` request.
    pub fn put(&self, uri: &str) -> TestRequest<'_, S> {
        self.request(Method::PUT, uri)
    }

    /// A `DELETE` request.
    pub fn delete(&self, uri: &str) -> TestRequest<'_, S> {
        self.request(Method::DELETE, uri)
    }

    /// A request with any method.
    pub fn request(&self, method: Method, uri: &str) -> TestRequest<'_, S> {
        TestRequest {
            client: self,
            builder: Request::builder(method, uri).extension(PeerAddr(TEST_PEER)),
        }
    }

    /// Sends a request built elsewhere.
    ///
    /// A panic in the service is answered `500`, as [`serve`](crate::serve) answers it.
    ///
    /// # Panics
    ///
    /// When the service fails: services under test are expected to answer.
    pub async fn send(&self, mut req: http::Request<Body>) -> TestResponse {
        if let Some(jar) = &self.jar {
            let cookies = jar.lock().unwrap_or_else(|e| e.into_inner());
            if !cookies.is_empty() && !req.headers().contains_key(COOKIE) {
                let header = cookies
                    .iter()
                    .map(|(k, v)| crate::cookies::encode_pair(k, v))
                    .collect::<Vec<_>>()
                    .join("; ");
                if let Ok(value) = HeaderValue::from_str(&header) {
                    req.headers_mut().insert(COOKIE, value);
                }
            }
        }
        // A panic in the service is a `500`, as `serve` answers it.
        let answer = crate::panic::AnswerFor::of(&req);
        let res = match crate::panic::CatchUnwind::new(self.service.clone().oneshot(req)).await {
            Ok(res) => res.expect("the service under test failed").map(Body::new),
            Err(caught) => answer.answer(caught),
        };
        if let Some(jar) = &self.jar {
            store_cookies(
                &mut jar.lock().unwrap_or_else(|e| e.into_inner()),
                res.headers(),
            );
        }
        let (parts, body) = res.into_parts();
        TestResponse {
            status: parts.status,
            headers: parts.headers,
            body: Body::new(body),
        }
    }
}

fn store_cookies(jar: &mut Vec<(String, String)>, headers: &HeaderMap) {
    for value in headers
        .get_all(SET_COOKIE)
        .into_iter()
        .filter_map(|v| v.to_str().ok())
    {
        let Ok(cookie) = crate::cookies::Cookie::parse_encoded(value) else {
            continue;
        };
        jar.retain(|(k, _)| k != cookie.name());
        let expired = cookie
            .max_age()
            .is_some_and(|age| age.is_zero() || age.is_negative());
        if !expired {
            jar.push((cookie.name().to_string(), cookie.value().to_string()));
        }
    }
}

/// A request being built by a [`TestClient`].
#[must_use = "a request does nothing until sent"]
pub struct TestRequest<'a, S> {
    client: &'a TestClient<S>,
    builder: RequestBuilder,
}

impl<S, ResBody> TestRequest<'_, S>
where
    S: tower_service::Service<http::Request<Body>, Response = http::Response<ResBody>> + Clone,
    S::Error: fmt::Debug,
    ResBody: http_body::Body<Data = Bytes> + Send + Sync + 'static,
    ResBody::Error: Into<BoxError>,
{
    /// Appends a header (as [`RequestBuilder::header`]).
    pub fn header(
        mut self,
        name: impl TryInto<HeaderName, Error: Into<http::Error>>,
        value: impl TryInto<HeaderValue, Error: Into<http::Error>>,
    ) -> Self {
        self.builder = self.builder.header(name, value);
        self
    }

    /// Adds a cookie.
    pub fn cookie(mut self, name: &str, value: &str) -> Self {
        self.builder = self.builder.cookie(name, value);
        self
    }

    /// Sets Basic credentials.
    pub fn basic_auth(mut self, user: &str, password: &str) -> Self {
        self.builder = self.builder.basic_auth(user, password);
        self
    }

    /// Sets a urlencoded form body.
    pub fn form<T: serde::Serialize + ?Sized>(mut self, pairs: &T) -> Self {
        self.builder = self.builder.form(pairs);
        self
    }

    /// Sets a JSON body.
    pub fn json<T: serde::Serialize + ?Sized>(mut self, value: &T) -> Self {
        self.builder = self.builder.json(value);
        self
    }

    /// Adds an extension, as a layer in front would.
    pub fn extension<T: Clone + Send + Sync + 'static>(mut self, value: T) -> Self {
        self.builder = self.builder.extension(value);
        self
    }

    /// Sends the request with this body.
    ///
    /// # Panics
    ///
    /// When the request is invalid or the service fails.
    pub async fn body(self, body: impl Into<Body>) -> TestResponse {
        let req = self.builder.body(body).expect("invalid test request");
        self.client.send(req).await
    }

    /// Sends the request.
    ///
    /// # Panics
    ///
    /// When the request is invalid or the service fails.
    pub async fn send(self) -> TestResponse {
        let req = self.builder.build().expect("invalid test request");
        self.client.send(req).await
    }
}

/// A response received by a [`TestClient`].
#[derive(Debug)]
pub struct TestResponse {
    status: StatusCode,
    headers: HeaderMap,
    body: Body,
}

impl TestResponse {
    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The first value of a header, when it is visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The body.
    ///
    /// # Panics
    ///
    /// When the body stream fails.
    pub async fn bytes(self) -> Bytes {
        crate::body::to_bytes(self.body, usize::MAX)
            .await
            .expect("the response body failed")
    }

    /// The body as UTF-8 text.
    ///
    /// # Panics
    ///
    /// When the body fails or is not UTF-8.
    pub async fn text(self) -> String {
        String::from_utf8(self.bytes().await.to_vec()).expect("the response body is not UTF-8")
    }

    /// The body as JSON.
    ///
    /// # Panics
    ///
    /// When the body fails or is not JSON of type `T`.
    pub async fn json<T: serde::de::DeserializeOwned>(self) -> T {
        serde_json::from_slice(&self.bytes().await)
            .expect("the response body is not the expected JSON")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{handler, Response};

    #[tokio::test]
    async fn keeps_cookies_like_a_browser() {
        let svc = handler::from_fn(|req: Request| async move {
            match req.path().as_ref() {
                "/login" => Response::text("in").header(SET_COOKIE, "sid=42; Path=/"),
                "/logout" => Response::text("out").delete_cookie("sid", Some("/"), None),
                _ => Response::text(req.cookie("sid").unwrap_or("none").to_string()),
            }
        });
        let client = TestClient::new(svc).keep_cookies();
        assert_eq!(client.get("/me").send().await.text().await, "none");
        client.get("/login").send().await;
        assert_eq!(client.get("/me").send().await.text().await, "42");
        client.get("/logout").send().await;
        assert_eq!(client.get("/me").send().await.text().await, "none");
    }

    #[tokio::test]
    async fn requests_carry_a_peer_address() {
        let svc = handler::from_fn(|req: Request| async move {
            Response::text(req.peer_addr().map(|p| p.to_string()).unwrap_or_default())
        });
        let res = TestClient::new(svc).get("/").send().await;
        assert_eq!(res.text().await, TEST_PEER.to_string());
    }
}
