//! Shared by `tests/normalize.rs` and `tests/forwarded.rs` (which also include `support`):
//! the layers behind the real `serve`, and raw HTTP/1.1 requests so hostile request targets
//! reach them byte for byte.

#![allow(dead_code)]

use std::net::SocketAddr;

use crate::support::{self, TestServer};

pub use crate::support::start;

/// A response as read off the wire.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// Sends `head` (request line and headers, `\r\n`-separated, without the final blank line)
/// with `Connection: close` and reads the whole answer (bounded by `support::TEST_TIMEOUT`).
pub async fn raw(addr: SocketAddr, head: &str) -> RawResponse {
    let request = format!("{head}\r\nConnection: close\r\n\r\n");
    parse(support::raw(addr, request.as_bytes()).await.as_bytes())
}

/// `GET target` with a `Host` and extra header lines.
pub async fn get(server: &TestServer, target: &str, extra: &[(&str, &str)]) -> RawResponse {
    let mut head = format!("GET {target} HTTP/1.1\r\nHost: localhost");
    for (k, v) in extra {
        head.push_str(&format!("\r\n{k}: {v}"));
    }
    raw(server.addr, &head).await
}

fn parse(bytes: &[u8]) -> RawResponse {
    let text = String::from_utf8_lossy(bytes);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    RawResponse {
        status,
        headers,
        body,
    }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}
