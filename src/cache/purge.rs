//! Forgetting stored answers on request: [`purge`] and [`PurgeService`], for an admin
//! listener (never a public one).

use std::convert::Infallible;
use std::future::{ready, Ready};
use std::task::{Context, Poll};

use http::{Method, StatusCode};

use super::CacheStore;
use crate::body::Body;
use crate::error::HttpError;
use crate::response::Response;

/// Answers a purge request against `store`: `POST` (or `PURGE`) with `?url=URL` forgets every
/// stored variant of that effective URL (`http://example.com/a?b`), `?prefix=PREFIX` every
/// answer whose URL starts with it. The answer is JSON, `{"purged": N}`; another method is a
/// `405`, a request with neither parameter a `400`.
///
/// ```
/// use tollgate::cache::{purge, CacheConfig, CacheStore};
///
/// let store = CacheStore::new(CacheConfig::default());
/// let (head, _) = http::Request::post("/cache/purge?prefix=http://example.com/api/")
///     .body(())
///     .unwrap()
///     .into_parts();
/// let res = purge(&store, &head);
/// assert_eq!(res.status(), 200);
/// ```
pub fn purge(store: &CacheStore, req: &http::request::Parts) -> http::Response<Body> {
    if req.method != Method::POST && req.method.as_str() != "PURGE" {
        let error = HttpError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "purge with POST (or PURGE) and `?url=URL` or `?prefix=PREFIX`",
        )
        .with_header(
            http::header::ALLOW,
            http::HeaderValue::from_static("POST, PURGE"),
        );
        return error.into_response_for(&req.headers);
    }
    let query = req.uri.query().unwrap_or("");
    let find = |name: &str| {
        form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    let purged = match (find("url"), find("prefix")) {
        (Some(url), None) => store.purge(&url),
        (None, Some(prefix)) if !prefix.is_empty() => store.purge_prefix(&prefix),
        _ => {
            return HttpError::bad_request(
                "say what to purge: `?url=http://host/path` (one URL, all its variants) or \
                 `?prefix=http://host/path/` (every URL under it)",
            )
            .into_response_for(&req.headers)
        }
    };
    Response::json(&serde_json::json!({ "purged": purged })).into_http()
}

/// [`purge`] as a service, to route on an admin listener.
#[derive(Debug, Clone)]
#[must_use]
pub struct PurgeService {
    store: CacheStore,
}

impl PurgeService {
    /// Purges from `store`.
    pub fn new(store: CacheStore) -> Self {
        PurgeService { store }
    }
}

impl<B> tower_service::Service<http::Request<B>> for PurgeService {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let (head, _) = req.into_parts();
        ready(Ok(purge(&self.store, &head)))
    }
}
