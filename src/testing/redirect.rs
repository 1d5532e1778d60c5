//! Following redirects the way a browser does, for [`TestClient`](super::TestClient).

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, COOKIE, HOST, LOCATION};
use http::{HeaderMap, Method, StatusCode};

use super::{Redirected, TestResponse};
use crate::body::Body;
use crate::ext::PeerAddr;

/// What is needed to send a request again elsewhere.
pub(super) struct Replay {
    method: Method,
    /// The absolute URL the request went to.
    url: String,
    /// Whether the target was origin-form without a host (then so is the next one, when it
    /// stays on that placeholder host).
    origin_form: bool,
    headers: HeaderMap,
    body: Option<Bytes>,
    peer: Option<PeerAddr>,
}

impl Replay {
    pub(super) fn of(req: &http::Request<Body>) -> Self {
        let uri = req.uri();
        let origin_form = uri.scheme().is_none();
        let url = if origin_form {
            let host = req
                .headers()
                .get(HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("localhost");
            let target = uri.path_and_query().map_or("/", |pq| pq.as_str());
            format!("http://{host}{target}")
        } else {
            uri.to_string()
        };
        Replay {
            method: req.method().clone(),
            url,
            origin_form: origin_form && !req.headers().contains_key(HOST),
            headers: req.headers().clone(),
            body: req.body().as_bytes().cloned(),
            peer: req.extensions().get::<PeerAddr>().copied(),
        }
    }

    /// The redirect `res` is and the request that follows it, if it is one.
    pub(super) fn follow(self, res: &TestResponse) -> Option<(Redirected, http::Request<Body>)> {
        let status = res.status;
        if ![301, 302, 303, 307, 308].contains(&status.as_u16()) {
            return None;
        }
        let location = res.headers.get(LOCATION)?.to_str().ok()?;
        let to = crate::response::headers::resolve(&self.url, location);
        let keep_method = match status {
            StatusCode::SEE_OTHER => self.method == Method::HEAD,
            StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND => self.method != Method::POST,
            _ => true,
        };
        let method = if keep_method {
            self.method.clone()
        } else {
            Method::GET
        };
        let mut headers = self.headers;
        headers.remove(COOKIE);
        headers.remove(HOST);
        if host_of(&to) != host_of(&self.url) {
            // Credentials never follow a redirect to another host.
            headers.remove(AUTHORIZATION);
        }
        let body = match (&self.body, keep_method) {
            (Some(bytes), true) => Body::from(bytes.clone()),
            _ => {
                headers.remove(CONTENT_TYPE);
                headers.remove(CONTENT_LENGTH);
                Body::empty()
            }
        };
        let target = match to.strip_prefix("http://localhost") {
            Some(path) if self.origin_form && path.starts_with('/') => path.to_owned(),
            _ => to.clone(),
        };
        let mut next = http::Request::builder()
            .method(method)
            .uri(&target)
            .body(body)
            .ok()?;
        *next.headers_mut() = headers;
        if let Some(peer) = self.peer {
            next.extensions_mut().insert(peer);
        }
        let redirected = Redirected {
            status,
            from: self.url,
            to,
        };
        Some((redirected, next))
    }
}

/// The authority of an absolute URL.
fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split(['/', '?', '#']).next().unwrap_or("")
}
