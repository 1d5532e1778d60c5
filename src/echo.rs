//! [`EchoService`]: answers every request with a JSON description of it, like httpbin's
//! `/anything`. It runs behind `tollgate echo`, is the gateway's default upstream, and is the
//! target of many tests.
//!
//! The JSON object has these fields (documented in the README; new fields may be added, none
//! is removed or renamed):
//!
//! | field | value |
//! | --- | --- |
//! | `method` | the method |
//! | `target` | the request target as received (path and query, percent-encoded) |
//! | `path` | the path, percent-decoded |
//! | `query` | `[[key, value], ...]` in order |
//! | `headers` | `[[name, value], ...]` in arrival order (values not UTF-8 are lossily decoded) |
//! | `cookies` | `[[name, value], ...]` |
//! | `form` | `[[key, value], ...]` of a urlencoded body, or the text fields of a multipart one |
//! | `files` | `[[field, filename, content_type, size, sha256], ...]` of a multipart body |
//! | `json` | the body parsed, when it is JSON; else `null` |
//! | `body_bytes` | the body's length |
//! | `body_sha256` | the body's SHA-256, hex |
//! | `peer_addr` | the TCP peer, `"ip:port"`, or `null` |
//! | `client_addr` | the client as trusted proxies reported it, or the peer's IP, or `null` |
//! | `script_name` | the mount prefix, `""` at the root |
//! | `user` | the user the auth layer authenticated, or `null` |
//!
//! The body is hashed as it streams, so any size can be echoed; it is kept in memory only to
//! parse a form or JSON body, up to [`EchoService::parse_limit`].
//!
//! # Example
//!
//! ```
//! use tollgate::{echo::EchoService, testing::TestClient};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let client = TestClient::new(EchoService::new());
//! let echo: serde_json::Value = client.get("/a%20b?x=1&x=2").send().await.json().await;
//! assert_eq!(echo["path"], "/a b");
//! assert_eq!(echo["query"], serde_json::json!([["x", "1"], ["x", "2"]]));
//! # }
//! ```

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use http::header::CONTENT_TYPE;

use crate::body::{Body, BoxError, DEFAULT_BODY_LIMIT};
use crate::{HttpError, MultiMap, Request, Response};

/// The echo service; see the [module docs](self) for the JSON it answers.
#[derive(Debug, Clone)]
#[must_use]
pub struct EchoService {
    parse_limit: usize,
    raw: bool,
    #[cfg(feature = "multipart")]
    form_limits: crate::form::FormLimits,
}

impl Default for EchoService {
    fn default() -> Self {
        EchoService {
            parse_limit: DEFAULT_BODY_LIMIT,
            raw: false,
            // Files are hashed as they stream by, never stored: any size can be echoed.
            #[cfg(feature = "multipart")]
            form_limits: crate::form::FormLimits::default()
                .max_body_size(u64::MAX)
                .max_file_size(u64::MAX),
        }
    }
}

impl EchoService {
    /// An echo service that parses form and JSON bodies up to 1 MiB.
    pub fn new() -> Self {
        Self::default()
    }

    /// The largest form or JSON body that is parsed into `form`/`json`; larger ones are still
    /// counted and hashed. Default is 1 MiB.
    pub fn parse_limit(mut self, bytes: usize) -> Self {
        self.parse_limit = bytes;
        self
    }

    /// Answers with the request as raw HTTP/1.1 bytes (`message/http`), as `wire` writes it and
    /// a proxy would forward it, instead of JSON; bodies up to [`parse_limit`](Self::parse_limit).
    /// Default is `false`.
    ///
    /// ```
    /// use tollgate::{echo::EchoService, testing::TestClient};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let client = TestClient::new(EchoService::new().raw(true));
    /// let text = client.get("/x?y=1").header("host", "example.com").send().await.text().await;
    /// assert!(text.starts_with("GET /x?y=1 HTTP/1.1\r\nhost: example.com\r\n"), "{text}");
    /// # }
    /// ```
    pub fn raw(mut self, raw: bool) -> Self {
        self.raw = raw;
        self
    }

    /// The limits multipart bodies are read under. Default is
    /// [`FormLimits::default`](crate::form::FormLimits) without `max_body_size` and
    /// `max_file_size` (files are hashed as they stream by, never stored).
    #[cfg(feature = "multipart")]
    pub fn form_limits(mut self, limits: crate::form::FormLimits) -> Self {
        self.form_limits = limits;
        self
    }
}

impl<B> tower_service::Service<http::Request<B>> for EchoService
where
    B: http_body::Body<Data = Bytes> + Send + Sync + 'static,
    B::Error: Into<BoxError>,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<http::Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let parse_limit = self.parse_limit;
        let raw = self.raw;
        #[cfg(feature = "multipart")]
        let form_limits = self.form_limits.clone();
        Box::pin(async move {
            let mut req = Request::from_http(req.map(Body::new));
            let accept = req.headers().get(http::header::ACCEPT).cloned();
            if raw {
                let res = match req.to_bytes(parse_limit).await {
                    Ok(bytes) => Response::bytes(bytes).header(CONTENT_TYPE, "message/http"),
                    Err(e) => crate::IntoResponse::into_response_for(e, accept.as_ref()),
                };
                return Ok(res.into_http());
            }
            #[cfg(feature = "multipart")]
            let res = echo(req, parse_limit, &form_limits).await;
            #[cfg(not(feature = "multipart"))]
            let res = echo(req, parse_limit).await;
            let res = match res {
                Ok(res) => res,
                Err(e) => crate::IntoResponse::into_response_for(e, accept.as_ref()),
            };
            Ok(res.into_http())
        })
    }
}

/// What kind of body the echo parses besides hashing it.
#[derive(PartialEq)]
enum Parse {
    Nothing,
    Form,
    Json,
    #[cfg(feature = "multipart")]
    Multipart,
}

async fn echo(
    mut req: Request,
    parse_limit: usize,
    #[cfg(feature = "multipart")] form_limits: &crate::form::FormLimits,
) -> Result<Response, HttpError> {
    let parse = match req.content_type() {
        #[cfg(feature = "multipart")]
        Some(m) if m.essence_str() == mime::MULTIPART_FORM_DATA.essence_str() => Parse::Multipart,
        Some(m) if m.essence_str() == mime::APPLICATION_WWW_FORM_URLENCODED.essence_str() => {
            Parse::Form
        }
        Some(m) if m.subtype() == mime::JSON || m.suffix() == Some(mime::JSON) => Parse::Json,
        _ => Parse::Nothing,
    };
    #[cfg(feature = "multipart")]
    if parse == Parse::Multipart {
        let (summary, len, sha256) = crate::form::summarize_request(&mut req, form_limits).await?;
        let digest = BodyDigest {
            len,
            sha256,
            kept: None,
        };
        return describe(
            &req,
            digest,
            summary.form,
            Value::Null,
            json!(summary.files),
        );
    }
    let digest = digest_body(
        req.as_http_mut().body_mut(),
        parse != Parse::Nothing,
        parse_limit,
    )
    .await?;
    let form = match (&parse, &digest.kept) {
        (Parse::Form, Some(bytes)) => {
            MultiMap::parse_urlencoded(bytes, crate::multimap::DEFAULT_MAX_PAIRS)?
        }
        _ => MultiMap::new(),
    };
    let body_json = match (&parse, &digest.kept) {
        (Parse::Json, Some(bytes)) => serde_json::from_slice::<Value>(bytes).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    describe(&req, digest, form, body_json, json!([]))
}

/// The echo JSON of a request whose body was read into `digest`, `form`, `json` and `files`.
fn describe(
    req: &Request,
    digest: BodyDigest,
    form: MultiMap,
    body_json: Value,
    files: Value,
) -> Result<Response, HttpError> {
    let headers: Vec<[String; 2]> = req
        .headers()
        .iter()
        .map(|(k, v)| {
            [
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            ]
        })
        .collect();
    let target = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.raw_path().to_string(), |pq| pq.to_string());
    Ok(Response::json(&json!({
        "method": req.method().as_str(),
        "target": target,
        "path": req.path(),
        "query": req.args()?,
        "headers": headers,
        "cookies": req.cookies(),
        "form": form,
        "files": files,
        "json": body_json,
        "body_bytes": digest.len,
        "body_sha256": digest.sha256,
        "peer_addr": req.peer_addr().map(|a| a.to_string()),
        "client_addr": req.client_addr().map(|a| a.to_string()),
        "script_name": req.script_name(),
        "user": req.user(),
    })))
}

struct BodyDigest {
    len: u64,
    sha256: String,
    /// The whole body, when it was asked for and fit the limit.
    kept: Option<Bytes>,
}

async fn digest_body(body: &mut Body, keep: bool, limit: usize) -> Result<BodyDigest, HttpError> {
    let mut hasher = Sha256::new();
    let mut len = 0u64;
    let mut kept = keep.then(BytesMut::new);
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|e| crate::body::BodyReadTimeout::answer_for(&*e).with_source(e))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        hasher.update(&data);
        len += data.len() as u64;
        if kept.as_ref().is_some_and(|k| k.len() + data.len() > limit) {
            kept = None;
        }
        if let Some(k) = kept.as_mut() {
            k.extend_from_slice(&data);
        }
    }
    let sha256 = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(BodyDigest {
        len,
        sha256,
        kept: kept.map(BytesMut::freeze),
    })
}
