//! One question to the auth service and what its answer means for the request.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::request::Parts;
use http::{Request, Response, Uri};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;

use super::cache::AdmissionCache;
use crate::body::Body;
use crate::error::HttpError;
use crate::ext::AuthFailure;
use crate::origin::Origin;

/// The longest body of an answer read (a refusal's is passed back to the client).
const MAX_REFUSAL_BODY: usize = 64 * 1024;

/// The client the layer asks with.
pub(super) type AuthClient = Client<HttpConnector, Empty<Bytes>>;

/// What the layer needs to ask.
pub(super) struct Asker {
    pub(super) client: AuthClient,
    pub(super) url: Uri,
    pub(super) timeout: Duration,
    pub(super) request_headers: Vec<HeaderName>,
    pub(super) copy_headers: Vec<HeaderName>,
    pub(super) user_header: Option<HeaderName>,
}

/// An admitting answer: the headers to set on the request and the user it names.
#[derive(Clone)]
pub(super) struct Admission {
    pub(super) headers: Vec<(HeaderName, HeaderValue)>,
    pub(super) user: Option<Arc<str>>,
}

/// What the auth service decided.
pub(super) enum Verdict {
    /// Pass the request on.
    Admit(Admission),
    /// Answer the client with this instead.
    Refuse(Response<Body>),
}

impl Asker {
    /// Asks the auth service about the request `head`, unless `cache` has its answer.
    pub(super) async fn ask(&self, head: &Parts, cache: Option<&AdmissionCache>) -> Verdict {
        let question = self.question(head);
        let key = cache.map(|_| AdmissionCache::key(&question));
        if let (Some(cache), Some(key)) = (cache, &key) {
            if let Some(admission) = cache.get(key) {
                return Verdict::Admit(admission);
            }
        }
        let answer = tokio::time::timeout(self.timeout, async {
            let res = self.client.request(question).await.map_err(Failure::Send)?;
            let (parts, body) = res.into_parts();
            // A refusal's body goes back to the client; an admission's is read too, so that
            // the connection goes back to the pool. Both bounded.
            let body = match Limited::new(body, MAX_REFUSAL_BODY).collect().await {
                Ok(body) => body.to_bytes(),
                Err(e) if e.is::<http_body_util::LengthLimitError>() => Bytes::new(),
                Err(e) => return Err(Failure::Read(e)),
            };
            Ok((parts, body))
        })
        .await;
        match answer {
            Ok(Ok((parts, body))) => {
                let verdict = self.decide(parts, body, &head.headers);
                if let (Verdict::Admit(admission), Some(cache), Some(key)) = (&verdict, cache, key)
                {
                    cache.put(key, admission);
                }
                verdict
            }
            Ok(Err(failure)) => Verdict::Refuse(failure.answer(&self.url, &head.headers)),
            Err(_) => {
                tracing::warn!(url = %self.url, timeout = ?self.timeout, "forward auth: no answer in time");
                Verdict::Refuse(
                    HttpError::gateway_timeout("the auth service did not answer in time")
                        .into_response_for(&head.headers),
                )
            }
        }
    }

    /// The `GET` for the auth service.
    fn question(&self, head: &Parts) -> Request<Empty<Bytes>> {
        let origin = Origin::from_parts(head);
        let mut req = Request::get(self.url.clone())
            .body(Empty::new())
            .expect("a checked URL makes a request");
        let headers = req.headers_mut();
        let mut put = |name: &'static str, value: &str| {
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.insert(HeaderName::from_static(name), value);
            }
        };
        put("x-forwarded-method", head.method.as_str());
        put(
            "x-forwarded-uri",
            head.uri.path_and_query().map_or("/", |p| p.as_str()),
        );
        if let Some(host) = origin.authority() {
            put("x-forwarded-host", host);
        }
        put("x-forwarded-proto", origin.scheme());
        if let Some(ip) = origin.client_addr() {
            put("x-forwarded-for", &ip.to_string());
        }
        for name in &self.request_headers {
            for value in head.headers.get_all(name) {
                headers.append(name.clone(), value.clone());
            }
        }
        req
    }

    /// What the answer `parts` (with `body` when it refuses) means.
    fn decide(
        &self,
        parts: http::response::Parts,
        body: Bytes,
        request_headers: &HeaderMap,
    ) -> Verdict {
        let status = parts.status;
        if status.is_success() {
            let headers = self
                .copy_headers
                .iter()
                .flat_map(|name| {
                    parts
                        .headers
                        .get_all(name)
                        .iter()
                        .map(move |v| (name.clone(), v.clone()))
                })
                .collect();
            let user = self
                .user_header
                .as_ref()
                .and_then(|name| parts.headers.get(name))
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|u| !u.is_empty())
                .map(Arc::from);
            return Verdict::Admit(Admission { headers, user });
        }
        if status.is_redirection() || status.is_client_error() {
            tracing::debug!(status = status.as_u16(), "forward auth: refused");
            let mut res = Response::new(Body::from(body));
            *res.status_mut() = status;
            *res.headers_mut() = answer_headers(parts.headers);
            res.extensions_mut().insert(AuthFailure);
            return Verdict::Refuse(res);
        }
        tracing::warn!(url = %self.url, status = status.as_u16(), "forward auth: the auth service failed");
        Verdict::Refuse(
            HttpError::bad_gateway(format!("the auth service answered {status}"))
                .into_response_for(request_headers),
        )
    }
}

/// The headers of a refusal the client gets: all but the hop-by-hop ones and the framing
/// (the body is sent afresh).
fn answer_headers(mut headers: HeaderMap) -> HeaderMap {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in [
        header::CONNECTION,
        header::CONTENT_LENGTH,
        header::TRANSFER_ENCODING,
        header::TE,
        header::TRAILER,
        header::UPGRADE,
        HeaderName::from_static("keep-alive"),
        HeaderName::from_static("proxy-connection"),
    ] {
        headers.remove(name);
    }
    headers
}

/// Why there is no answer.
enum Failure {
    Send(hyper_util::client::legacy::Error),
    Read(crate::body::BoxError),
}

impl Failure {
    fn answer(self, url: &Uri, request_headers: &HeaderMap) -> Response<Body> {
        let error = match self {
            Failure::Send(e) if e.is_connect() => {
                tracing::warn!(%url, error = %Chain(&e), "forward auth: the auth service cannot be reached");
                HttpError::service_unavailable("the auth service cannot be reached", 1)
            }
            Failure::Send(e) => {
                tracing::warn!(%url, error = %Chain(&e), "forward auth: asking the auth service failed");
                HttpError::bad_gateway("the auth service did not answer")
            }
            Failure::Read(e) => {
                tracing::warn!(%url, error = %e, "forward auth: reading the auth service's answer failed");
                HttpError::bad_gateway("the auth service's answer broke off")
            }
        };
        error.into_response_for(request_headers)
    }
}

/// An error and its sources, `: `-separated (hyper's client errors say little on their own).
struct Chain<'a>(&'a dyn std::error::Error);

impl std::fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(e) = source {
            write!(f, ": {e}")?;
            source = e.source();
        }
        Ok(())
    }
}
