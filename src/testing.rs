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
use http::header::{HeaderName, HeaderValue, COOKIE};
use http::{HeaderMap, Method, StatusCode};
use tower::ServiceExt;

use crate::body::{Body, BoxError};
use crate::ext::PeerAddr;
use crate::request::{MultipartForm, Request, RequestBuilder};

mod jar;
mod redirect;

use jar::{Jar, Target};

/// The peer address requests from a [`TestClient`] appear to come from.
pub const TEST_PEER: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 40000);

/// Calls a service in-process, like a browser would: optionally keeping cookies
/// ([`keep_cookies`](Self::keep_cookies)) and following redirects
/// ([`follow_redirects`](Self::follow_redirects)), with a base URL and default headers.
pub struct TestClient<S> {
    service: S,
    jar: Option<Arc<Mutex<Jar>>>,
    /// `scheme://authority` that origin-form targets are sent to.
    base: Option<String>,
    default_headers: HeaderMap,
    max_redirects: usize,
}

impl<S: Clone> Clone for TestClient<S> {
    fn clone(&self) -> Self {
        TestClient {
            service: self.service.clone(),
            jar: self.jar.clone(),
            base: self.base.clone(),
            default_headers: self.default_headers.clone(),
            max_redirects: self.max_redirects,
        }
    }
}

/// One redirect a [`TestClient`] followed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Redirected {
    /// The redirect's status.
    pub status: StatusCode,
    /// The URL that answered with it.
    pub from: String,
    /// Where it pointed, made absolute.
    pub to: String,
}

impl<S, ResBody> TestClient<S>
where
    S: tower_service::Service<http::Request<Body>, Response = http::Response<ResBody>> + Clone,
    S::Error: fmt::Debug,
    ResBody: http_body::Body<Data = Bytes> + Send + Sync + 'static,
    ResBody::Error: Into<BoxError>,
{
    /// A client for `service`: no cookies kept, no redirect followed, targets sent as given.
    pub fn new(service: S) -> Self {
        TestClient {
            service,
            jar: None,
            base: None,
            default_headers: HeaderMap::new(),
            max_redirects: 0,
        }
    }

    /// Keeps cookies as a browser does: `Domain`, `Path`, `Secure`, `Expires`/`Max-Age` and
    /// the `__Host-`/`__Secure-` prefixes decide what is stored and what is sent back.
    #[must_use]
    pub fn keep_cookies(mut self) -> Self {
        self.jar = Some(Arc::default());
        self
    }

    /// Sends targets like `/x` to `base` (`https://app.example.com`): the request's URI is
    /// absolute, so [`Request::host`] and [`Request::scheme`] read them, and cookies follow
    /// the host and scheme.
    #[must_use]
    pub fn base_url(mut self, base: &str) -> Self {
        self.base = Some(base.trim_end_matches('/').to_owned());
        self
    }

    /// A header every request carries unless it sets its own.
    ///
    /// # Panics
    ///
    /// When the name or value is invalid (these are test literals).
    #[must_use]
    pub fn default_header(mut self, name: &str, value: &str) -> Self {
        let name = HeaderName::from_bytes(name.as_bytes()).expect("a valid header name");
        let value = HeaderValue::from_str(value).expect("a valid header value");
        self.default_headers.append(name, value);
        self
    }

    /// Follows up to `max` redirects (`301`, `302`, `303`, `307`, `308` with a `Location`),
    /// as a browser: `303` (and `301`/`302` after a `POST`) become a `GET` without body, the
    /// others repeat the method and a body given whole. [`TestResponse::history`] lists them.
    /// Default is `0`: redirects are answers like any other.
    #[must_use]
    pub fn follow_redirects(mut self, max: usize) -> Self {
        self.max_redirects = max;
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
        let uri = match &self.base {
            Some(base) if uri.starts_with('/') => format!("{base}{uri}"),
            _ => uri.to_owned(),
        };
        TestRequest {
            client: self,
            builder: Request::builder(method, &uri).extension(PeerAddr(TEST_PEER)),
        }
    }

    /// Sends a request built elsewhere (default headers added, cookies and redirects handled
    /// as configured).
    ///
    /// A panic in the service is answered `500`, as [`serve`](crate::serve) answers it.
    ///
    /// # Panics
    ///
    /// When the service fails: services under test are expected to answer.
    pub async fn send(&self, mut req: http::Request<Body>) -> TestResponse {
        for name in self.default_headers.keys() {
            if !req.headers().contains_key(name) {
                for value in self.default_headers.get_all(name) {
                    req.headers_mut().append(name.clone(), value.clone());
                }
            }
        }
        let mut history = Vec::new();
        loop {
            let again = redirect::Replay::of(&req);
            let res = self.send_once(req).await;
            let next = (history.len() < self.max_redirects)
                .then(|| again.follow(&res))
                .flatten();
            match next {
                Some((redirected, next)) => {
                    history.push(redirected);
                    req = next;
                }
                None => return TestResponse { history, ..res },
            }
        }
    }

    /// One exchange: cookies sent and stored, a panic answered `500`.
    async fn send_once(&self, mut req: http::Request<Body>) -> TestResponse {
        let (https, host, path) = target_of(&req);
        let target = Target {
            https,
            host: &host,
            path: &path,
        };
        if let Some(jar) = &self.jar {
            let header = jar
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .header_for(target);
            if let Some(value) = header.and_then(|h| HeaderValue::from_str(&h).ok()) {
                if !req.headers().contains_key(COOKIE) {
                    req.headers_mut().insert(COOKIE, value);
                }
            }
        }
        let answer = crate::panic::AnswerFor::of(&req);
        let res = match crate::panic::CatchUnwind::new(self.service.clone().oneshot(req)).await {
            Ok(res) => res.expect("the service under test failed").map(Body::new),
            Err(caught) => answer.answer(caught),
        };
        if let Some(jar) = &self.jar {
            jar.lock()
                .unwrap_or_else(|e| e.into_inner())
                .store(target, res.headers());
        }
        let (parts, body) = res.into_parts();
        TestResponse {
            status: parts.status,
            headers: parts.headers,
            body,
            history: Vec::new(),
        }
    }
}

/// The scheme, host and path cookies are matched against: from the URI, else `Host`, else
/// `localhost`.
fn target_of(req: &http::Request<Body>) -> (bool, String, String) {
    let https = req.uri().scheme_str() == Some("https");
    let host = req
        .uri()
        .host()
        .map(str::to_owned)
        .or_else(|| {
            let host = req.headers().get(http::header::HOST)?.to_str().ok()?;
            let (name, _) = crate::syntax::host::split_host_port(host)?;
            Some(name.trim_matches(['[', ']']).to_owned())
        })
        .unwrap_or_else(|| "localhost".to_owned());
    (https, host, req.uri().path().to_owned())
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

    /// Sets a `multipart/form-data` body: text fields and files.
    pub fn multipart(mut self, form: MultipartForm) -> Self {
        self.builder = self.builder.multipart(form);
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
    history: Vec<Redirected>,
}

impl TestResponse {
    /// The redirects followed to get here, first to last (see
    /// [`TestClient::follow_redirects`]).
    pub fn history(&self) -> &[Redirected] {
        &self.history
    }

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
    use http::header::SET_COOKIE;

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
