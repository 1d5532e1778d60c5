//! What hyper's HTTP/1.1 server and client make of raw bytes, in-process: a duplex stream on
//! one current-thread runtime built once per process (no socket, no server per input).
#![allow(dead_code)]

use std::convert::Infallible;
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode, Uri, Version};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tollgate::wire::{Trailers, WireError};

/// One message as a parser saw it: the parts both parsers report, body decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub method: Option<Method>,
    pub uri: Option<Uri>,
    pub status: Option<StatusCode>,
    pub version: Version,
    pub headers: HeaderMap,
    /// The decoded body, or why reading it failed.
    pub body: Result<Bytes, String>,
    pub trailers: Option<HeaderMap>,
}

pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a current-thread runtime")
    })
}

async fn collect(body: Incoming) -> (Result<Bytes, String>, Option<HeaderMap>) {
    match body.collect().await {
        Ok(c) => {
            let trailers = c.trailers().cloned().filter(|t| !t.is_empty());
            (Ok(c.to_bytes()), trailers)
        }
        Err(e) => (Err(e.to_string()), None),
    }
}

/// Every request hyper's HTTP/1.1 server reads from `data` (written, then the write side
/// closed), in order; each body read to its end. Every answer is an empty 404, so neither a
/// CONNECT nor an `Upgrade` turns the connection into a tunnel.
pub fn hyper_requests(data: &[u8]) -> Vec<Seen> {
    runtime().block_on(async {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        let service = service_fn(move |req: Request<Incoming>| {
            let log = Arc::clone(&log);
            async move {
                let (parts, body) = req.into_parts();
                let (body, trailers) = collect(body).await;
                log.lock().unwrap().push(Seen {
                    method: Some(parts.method),
                    uri: Some(parts.uri),
                    status: None,
                    version: parts.version,
                    headers: parts.headers,
                    body,
                    trailers,
                });
                let mut res = Response::new(Full::new(Bytes::new()));
                *res.status_mut() = StatusCode::NOT_FOUND;
                Ok::<_, Infallible>(res)
            }
        });
        tollgate::fuzz::serve_raw(service, data).await;
        let out = seen.lock().unwrap().clone();
        out
    })
}

/// The response hyper's HTTP/1.1 client reads from `data` after sending `GET /` (or `HEAD /`),
/// the server side closing after `data`. `Err` is hyper's error.
pub fn hyper_response(data: &[u8], head: bool) -> Result<Seen, String> {
    runtime().block_on(async {
        let (client, server) = tokio::io::duplex(64 * 1024);
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(client))
            .await
            .map_err(|e| e.to_string())?;
        let (mut read, mut write) = tokio::io::split(server);
        let upstream = async {
            // Read the request head, answer with the raw bytes, close.
            let mut buf = Vec::new();
            let mut chunk = [0u8; 512];
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                match read.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            let _ = write.write_all(data).await;
            let _ = write.shutdown().await;
            // Keep reading so the client's writes never block.
            let _ = read.read_to_end(&mut buf).await;
        };
        let method = if head { Method::HEAD } else { Method::GET };
        let request = Request::builder()
            .method(method)
            .uri("/")
            .header("host", "fuzz")
            .body(Full::new(Bytes::new()))
            .expect("a valid request");
        let exchange = async {
            let res = sender
                .send_request(request)
                .await
                .map_err(|e| e.to_string())?;
            let (parts, body) = res.into_parts();
            let (body, trailers) = collect(body).await;
            drop(sender);
            Ok(Seen {
                method: None,
                uri: None,
                status: Some(parts.status),
                version: parts.version,
                headers: parts.headers,
                body,
                trailers,
            })
        };
        let (out, _, _) = tokio::join!(exchange, conn, upstream);
        out
    })
}

/// `wire`'s reading of a parsed request, in the same shape.
pub fn wire_request(req: &http::Request<Bytes>) -> Seen {
    Seen {
        method: Some(req.method().clone()),
        uri: Some(req.uri().clone()),
        status: None,
        version: req.version(),
        headers: one_content_length(req.headers()),
        body: Ok(req.body().clone()),
        trailers: req.extensions().get::<Trailers>().map(|t| t.0.clone()),
    }
}

/// The fields as hyper's server keeps them: of several equal `Content-Length` fields (wire
/// refuses unequal ones) only the first; wire keeps every field as sent (docs/wire.md).
fn one_content_length(headers: &HeaderMap) -> HeaderMap {
    let mut kept = headers.clone();
    if headers.get_all(http::header::CONTENT_LENGTH).iter().count() > 1 {
        if let Some(first) = headers.get(http::header::CONTENT_LENGTH) {
            kept.insert(http::header::CONTENT_LENGTH, first.clone());
        }
    }
    kept
}

/// `wire`'s reading of a parsed response, in the same shape.
pub fn wire_response(res: &http::Response<Bytes>) -> Seen {
    Seen {
        method: None,
        uri: None,
        status: Some(res.status()),
        version: res.version(),
        headers: res.headers().clone(),
        body: Ok(res.body().clone()),
        trailers: res.extensions().get::<Trailers>().map(|t| t.0.clone()),
    }
}

/// The refusals where `wire` is stricter than hyper or httparse on purpose: each is listed,
/// with its reason, in docs/wire.md ("Differences with hyper and httparse").
pub fn intended_refusal(err: &WireError) -> bool {
    matches!(
        err,
        WireError::BareLf { .. }
            | WireError::BareCr { .. }
            | WireError::Nul { .. }
            | WireError::ObsFold { .. }
            | WireError::WhitespaceBeforeColon { .. }
            | WireError::MissingHost
            | WireError::MultipleHost
            | WireError::InvalidHost { .. }
            | WireError::ContentLengthWithTransferEncoding
            | WireError::MultipleTransferEncoding
            | WireError::InvalidTarget { .. }
            | WireError::InvalidChunkSize { .. }
            | WireError::InvalidChunkExtension { .. }
            | WireError::ChunkLineTooLong { .. }
            | WireError::StartLineTooLong { .. }
            | WireError::HeaderSectionTooLarge { .. }
            | WireError::TooManyHeaders { .. }
            | WireError::BodyTooLarge { .. }
            | WireError::TransferEncodingNotAllowed { .. }
            | WireError::TransferEncodingNotChunked { .. }
            | WireError::InvalidHeaderName { .. }
            | WireError::InvalidContentLength { .. }
            | WireError::ConflictingContentLength { .. }
            | WireError::Http10TransferEncoding
    )
}

/// Whether hyper's server closes after answering this request (RFC 9112 §9.3): HTTP/1.0
/// without `keep-alive`, or a `close` option.
pub fn closes(req: &http::Request<Bytes>) -> bool {
    let has = |option: &str| {
        req.headers()
            .get_all(http::header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|o| o.trim().eq_ignore_ascii_case(option))
    };
    if req.version() == Version::HTTP_10 {
        !has("keep-alive")
    } else {
        has("close")
    }
}
