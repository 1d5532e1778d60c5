//! The HTTP Garden's "transducer" check on our own gateway: an arbitrary request goes through
//! the real layer stack (inbound → forwarded → normalize → rewrite) and the proxy to an
//! upstream on loopback that records the raw bytes it receives. Those bytes must be exactly
//! one request for `wire` (strict) and for hyper's server alike, read the same way by both,
//! and equal to what the stack handed the proxy: method, path and query, end-to-end fields in
//! order, body.
#![no_main]

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use common::{hyper_requests, runtime, wire_request};
use http::{HeaderMap, Method, Uri};
use libfuzzer_sys::fuzz_target;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tollgate::forwarded::ForwardedLayer;
use tollgate::fuzz::FuzzRequest;
use tollgate::inbound::{InboundConfig, InboundLayer};
use tollgate::normalize::{NormalizeConfig, NormalizeLayer};
use tollgate::proxy::{hop, Proxy, Upstream};
use tollgate::rewrite::{RewriteConfig, RewriteLayer, Rule};
use tollgate::wire::{self, WireError};
use tower::util::BoxCloneSyncService;
use tower::{ServiceBuilder, ServiceExt};

type Stack = BoxCloneSyncService<
    http::Request<tollgate::Body>,
    http::Response<tollgate::Body>,
    std::convert::Infallible,
>;

/// What the stack handed the proxy.
#[derive(Debug, Clone)]
struct Decided {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
}

struct Harness {
    stack: Stack,
    decided: Arc<Mutex<Option<Decided>>>,
    /// The raw requests the upstream received, one entry per request (or per unreadable rest).
    received: Arc<Mutex<Vec<Vec<u8>>>>,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let received = Arc::new(Mutex::new(Vec::new()));
        let addr = runtime().block_on(upstream(Arc::clone(&received)));
        let decided = Arc::new(Mutex::new(None));
        let record = Arc::clone(&decided);
        let proxy = Proxy::new(format!("http://{addr}").parse::<Upstream>().unwrap());
        let rewrite = RewriteConfig::new()
            .request(Rule::remove_prefix("X-Internal-"))
            .request(Rule::set("X-Forwarded-Host", "{host}"));
        let inbound = InboundLayer::new(&InboundConfig::default()).expect("a valid policy");
        let svc = ServiceBuilder::new()
            .layer(inbound)
            .layer(ForwardedLayer::hops(1))
            .layer(NormalizeLayer::new(NormalizeConfig::default()))
            .layer(RewriteLayer::new(&rewrite).expect("valid rules"))
            .map_request(move |req: http::Request<tollgate::Body>| {
                *record.lock().unwrap() = Some(Decided {
                    method: req.method().clone(),
                    uri: req.uri().clone(),
                    headers: req.headers().clone(),
                });
                req
            })
            .service(proxy);
        Harness {
            stack: BoxCloneSyncService::new(svc),
            decided,
            received,
        }
    })
}

/// An upstream that records every request's raw bytes (a request ends where `wire` says; an
/// unreadable rest is recorded as it is) and answers each with an empty 200.
async fn upstream(received: Arc<Mutex<Vec<Vec<u8>>>>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            tokio::spawn(serve_raw(conn, Arc::clone(&received)));
        }
    });
    addr
}

async fn serve_raw(mut conn: tokio::net::TcpStream, received: Arc<Mutex<Vec<Vec<u8>>>>) {
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    let mut continued = false;
    loop {
        match wire::parse_request(&buf) {
            Ok((_, used)) => {
                received.lock().unwrap().push(buf.drain(..used).collect());
                continued = false;
                let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                if conn.write_all(ok).await.is_err() {
                    return;
                }
                continue;
            }
            Err(WireError::Incomplete) => {}
            Err(_) => break,
        }
        let head_done = buf.windows(4).any(|w| w == b"\r\n\r\n");
        if head_done
            && !continued
            && buf
                .to_ascii_lowercase()
                .windows(12)
                .any(|w| w == b"100-continue")
        {
            continued = true;
            let _ = conn.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await;
        }
        // A request `wire` still finds incomplete after a second of silence is recorded as
        // it is (the target then fails on it).
        match tokio::time::timeout(Duration::from_secs(1), conn.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
            Err(_) => break,
        }
    }
    if !buf.is_empty() {
        received.lock().unwrap().push(buf);
    }
}

fuzz_target!(|req: FuzzRequest| {
    let h = harness();
    h.received.lock().unwrap().clear();
    *h.decided.lock().unwrap() = None;
    let body = req.body().clone();
    let stack = h.stack.clone();
    let answer = runtime().block_on(async move {
        let res = stack.oneshot(req.into_http()).await.unwrap();
        let status = res.status();
        let _ = http_body_util::BodyExt::collect(res.into_body()).await;
        status
    });
    let received = std::mem::take(&mut *h.received.lock().unwrap());
    let Some(decided) = h.decided.lock().unwrap().take() else {
        assert!(
            received.is_empty(),
            "the stack refused, yet the upstream got {received:?}"
        );
        return;
    };
    if received.is_empty() {
        assert!(
            answer.as_u16() >= 400,
            "forwarded nothing, yet answered {answer}"
        );
        return;
    }
    assert_eq!(
        received.len(),
        1,
        "one request in, {} out: {received:?}",
        received.len()
    );
    let raw = &received[0];
    let shown = String::from_utf8_lossy(raw);
    let (forwarded, used) = wire::parse_request(raw)
        .unwrap_or_else(|e| panic!("wire refuses what the proxy wrote ({e}):\n{shown}"));
    assert_eq!(
        used,
        raw.len(),
        "bytes after the forwarded request:\n{shown}"
    );
    let hyper = hyper_requests(raw);
    assert_eq!(
        hyper.len(),
        1,
        "hyper reads {} requests in:\n{shown}",
        hyper.len()
    );
    assert_eq!(
        hyper[0],
        wire_request(&forwarded),
        "wire and hyper disagree on:\n{shown}"
    );
    same_as_decided(&decided, &forwarded, &body, &shown);
});

/// The forwarded request is the one the stack decided on: method, path and query, body, and
/// the end-to-end fields in order (the proxy removes hop-by-hop fields and sets `Host`, `Via`,
/// the forwarding fields and the framing).
fn same_as_decided(decided: &Decided, forwarded: &http::Request<Bytes>, body: &Bytes, shown: &str) {
    assert_eq!(forwarded.method(), decided.method, "method:\n{shown}");
    // Asterisk-form and authority-form targets are forwarded as `/` on purpose
    // (`proxy::upstream` test `asterisk_form_becomes_root`).
    let path = |u: &Uri| match u.path_and_query().map(|p| p.as_str()) {
        Some(p) if p.starts_with('/') => p.to_owned(),
        _ => "/".to_owned(),
    };
    if decided.method == Method::CONNECT {
        // The library proxy sends `CONNECT` on in authority-form, to the upstream itself
        // (`proxy::prepare::request_target`); the gateway answers 501 unless a route lists it.
        assert_eq!(forwarded.uri().path_and_query(), None, "target:\n{shown}");
    } else {
        assert_eq!(
            path(forwarded.uri()),
            path(&decided.uri),
            "target:\n{shown}"
        );
    }
    if !matches!(decided.method, Method::HEAD) {
        assert_eq!(forwarded.body(), body, "body:\n{shown}");
    }
    let set_by_proxy = |name: &str| {
        matches!(
            name,
            "host" | "via" | "forwarded" | "authorization" | "expect" | "te"
        ) || name.starts_with("x-forwarded-")
    };
    let mut end_to_end = decided.headers.clone();
    hop::remove_hop_by_hop(&mut end_to_end, false);
    for name in end_to_end.keys() {
        if set_by_proxy(name.as_str()) {
            continue;
        }
        // Whitespace around a value is not part of it on the wire (RFC 9112 §5.1).
        let values = |map: &HeaderMap| -> Vec<Vec<u8>> {
            let all = map.get_all(name).iter();
            all.map(|v| v.as_bytes().trim_ascii().to_vec()).collect()
        };
        let (ours, theirs) = (values(forwarded.headers()), values(&end_to_end));
        assert_eq!(
            ours, theirs,
            "field {name} forwarded (left), decided (right):\n{shown}"
        );
    }
}
