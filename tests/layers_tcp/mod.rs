//! Helpers of the rewrite and dispatch tests on top of the shared `support` module: a request
//! with a method and headers, and reading the echo service's view of the request headers.
#![allow(dead_code)]

use http::Method;
use tollgate::Body;

use crate::support::{fetch, Fetched, TestServer};

/// Sends `method path` with `headers` to `server` over TCP (HTTP/1.1).
pub async fn send(
    server: &TestServer,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
) -> Fetched {
    let mut req = http::Request::builder()
        .method(method)
        .uri(server.url(path));
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    fetch(req.body(Body::empty()).expect("a valid request")).await
}

/// `GET path` with `headers`.
pub async fn get(server: &TestServer, path: &str, headers: &[(&str, &str)]) -> Fetched {
    send(server, Method::GET, path, headers).await
}

/// The values of request header `name` as the echo service saw them.
pub fn echoed(res: &Fetched, name: &str) -> Vec<String> {
    res.json()["headers"]
        .as_array()
        .expect("an echo body")
        .iter()
        .filter(|pair| {
            pair[0]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
        .map(|pair| pair[1].as_str().unwrap_or_default().to_owned())
        .collect()
}
