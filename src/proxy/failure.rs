//! What the client is told when its request cannot be forwarded or the upstream fails (a
//! status and a short reason naming nothing internal), and what the log is told (the upstream,
//! and why).

use std::time::Duration;

use http::header::{HeaderValue, ACCEPT, CONNECTION};
use http::{HeaderMap, Response};

use super::body::Progress;
use super::config::ProxyConfig;
use super::prepare::Origin;
use super::service::UpstreamError;
use super::upstream::Upstream;
use crate::body::Body;
use crate::error::HttpError;
use crate::ext::{UpstreamFailure, UpstreamName};

/// A request the upstream did not answer usefully: what the client is told (a status and a
/// short reason naming nothing internal) and what the log is told (the upstream, and why).
pub(super) struct Failure {
    public: HttpError,
    detail: String,
    /// Whether it counts against the upstream (metrics, passive health checks): not when the
    /// client's request was at fault.
    counts: bool,
}

impl Failure {
    /// The upstream failed: `public` for the client, `detail` (naming the upstream) for the log.
    pub(super) fn upstream(public: HttpError, detail: String) -> Self {
        Failure {
            public,
            detail,
            counts: true,
        }
    }

    /// The client's request could not be forwarded (too large, unreadable): it is told why.
    pub(super) fn client(public: HttpError) -> Self {
        let detail = public.message().to_owned();
        Failure {
            public,
            detail,
            counts: false,
        }
    }
}

impl Origin {
    /// The answer `err`, in the format the client's `Accept` asks for.
    pub(super) fn error(&self, err: HttpError) -> Response<Body> {
        let mut headers = HeaderMap::new();
        if let Some(accept) = &self.accept {
            headers.insert(ACCEPT, accept.clone());
        }
        err.into_response_for(&headers)
    }

    /// The answer to a failure of `upstream`: the detail and `cause` are logged (with the
    /// request id), the client gets the public status and reason (the detail too with
    /// `expose_errors`) and the request id; marked for metrics and the access log.
    pub(super) fn failure(
        &self,
        failure: Failure,
        upstream: &Upstream,
        cause: Option<&(dyn std::error::Error + 'static)>,
    ) -> Response<Body> {
        let Failure {
            public,
            detail,
            counts,
        } = failure;
        let request_id = self.request_id.as_ref().map(|id| &*id.0);
        tracing::warn!(
            upstream = %upstream,
            status = public.status().as_u16(),
            error = %detail,
            cause = ?cause,
            request_id = request_id.unwrap_or("-"),
            "upstream request failed"
        );
        let shown = if self.expose_errors {
            detail
        } else {
            public.message().to_owned()
        };
        let shown = match request_id {
            Some(id) => format!("{shown} (request id {id})"),
            None => shown,
        };
        let mut err = HttpError::new(public.status(), shown);
        for (name, value) in public.headers() {
            err.headers_mut().append(name, value.clone());
        }
        let mut res = self.error(err);
        res.extensions_mut().insert(UpstreamName(upstream.name()));
        if counts {
            res.extensions_mut()
                .insert(UpstreamFailure(upstream.name()));
        }
        res
    }
}

/// The answer when the upstream gave none: `err` says why, `None` that time ran out.
pub(super) fn unanswered(
    err: Option<UpstreamError>,
    origin: &Origin,
    upstream: &Upstream,
    progress: &Progress,
    config: &ProxyConfig,
) -> Response<Body> {
    let Some(err) = err else {
        let failure = if progress.too_large() {
            Failure::client(too_large(config))
        } else {
            Failure::upstream(
                HttpError::gateway_timeout("the upstream server did not answer in time"),
                format!(
                    "upstream {upstream} did not answer within {}",
                    human(config.first_byte_timeout)
                ),
            )
        };
        return origin.failure(failure, upstream, None);
    };
    let failure = classify(&err, upstream, progress, config);
    let mut res = origin.failure(failure, upstream, Some(err.as_error()));
    if err.is_connect() {
        // Nothing was sent: a balancer may try another upstream.
        res.extensions_mut().insert(super::balance::ConnectFailed);
    }
    res
}

/// The answer to a body over [`ProxyConfig::max_body`]; the connection closes (what is left of
/// the body cannot be told from a next request).
pub(super) fn too_large(config: &ProxyConfig) -> HttpError {
    let limit = config.max_body.unwrap_or(u64::MAX);
    HttpError::payload_too_large(format!(
        "the request body is larger than the limit of {limit} bytes"
    ))
    .with_header(CONNECTION, HeaderValue::from_static("close"))
}

/// Names a failure: refused or reset is a 502, a timeout a 504; the client is told the kind,
/// the log which upstream.
fn classify(
    err: &UpstreamError,
    upstream: &Upstream,
    progress: &Progress,
    config: &ProxyConfig,
) -> Failure {
    if progress.too_large() {
        return Failure::client(too_large(config));
    }
    let cause = err.as_error();
    let io_kind = find_cause::<std::io::Error>(cause).map(std::io::Error::kind);
    let bad_gateway = |public: &'static str, detail: String| {
        Failure::upstream(HttpError::bad_gateway(public), detail)
    };
    let timeout = |public: &'static str, detail: String| {
        Failure::upstream(HttpError::gateway_timeout(public), detail)
    };
    if err.is_connect() {
        return match io_kind {
            Some(std::io::ErrorKind::ConnectionRefused) => bad_gateway(
                "the upstream server refused the connection",
                format!("upstream {upstream} refused the connection"),
            ),
            Some(std::io::ErrorKind::TimedOut) => timeout(
                "the upstream server did not accept the connection in time",
                format!(
                    "upstream {upstream} did not accept the connection within {}",
                    human(config.connect_timeout)
                ),
            ),
            // TLS failures (certificate, handshake) land here too; the cause says which.
            _ => bad_gateway(
                "could not connect to the upstream server",
                format!(
                    "could not connect to upstream {upstream}{}",
                    tls_hint(cause)
                ),
            ),
        };
    }
    if progress.client_failed() {
        return Failure::client(crate::body::BodyReadTimeout::answer_for(cause));
    }
    if let Some(lie) = find_cause::<std::io::Error>(cause).and_then(super::heads::head_error) {
        return bad_gateway(
            "the upstream server sent an invalid answer",
            format!("upstream {upstream} sent an invalid answer: {lie}"),
        );
    }
    match find_cause::<hyper::Error>(cause) {
        Some(e) if e.is_parse() || e.is_parse_status() => bad_gateway(
            "the upstream server sent an invalid answer",
            format!("upstream {upstream} sent an invalid answer"),
        ),
        _ if io_kind == Some(std::io::ErrorKind::TimedOut) => timeout(
            "the upstream server did not answer in time",
            format!("upstream {upstream} timed out"),
        ),
        _ => bad_gateway(
            "the upstream server closed the connection without answering",
            format!("upstream {upstream} closed the connection without answering"),
        ),
    }
}

/// An HTTP/1.0 answer to a body sent chunked: the upstream could not have read it.
pub(super) fn http10_chunked(upstream: &Upstream) -> Failure {
    Failure {
        public: HttpError::bad_gateway(
            "the upstream server speaks HTTP/1.0 and could not read the request body, which \
             had no Content-Length; send the request again (a body up to 1 MiB is then sent \
             with a Content-Length) or send it with a Content-Length",
        ),
        detail: format!(
            "upstream {upstream} answered HTTP/1.0 to a request whose body was sent chunked, \
             which HTTP/1.0 cannot read; the answer was withheld from the client"
        ),
        // The upstream is up; the request did not suit it.
        counts: false,
    }
}

/// An answer whose length can be read two ways (`Content-Length` beside `Transfer-Encoding`,
/// RFC 9112 §6.1): refused as nginx does, since the upstream and the gateway may disagree on
/// where it ends; `None` for the others.
pub(super) fn ambiguous_framing(headers: &HeaderMap, upstream: &Upstream) -> Option<Failure> {
    let both = headers.contains_key(http::header::TRANSFER_ENCODING)
        && headers.contains_key(http::header::CONTENT_LENGTH);
    both.then(|| {
        Failure::upstream(
            HttpError::bad_gateway("the upstream server sent an invalid answer"),
            format!("upstream {upstream} sent both Content-Length and Transfer-Encoding"),
        )
    })
}

/// What to do about the usual certificate failures of an `https://` upstream, from the
/// cause chain's text (rustls and webpki name them); empty for the others.
fn tls_hint(err: &(dyn std::error::Error + 'static)) -> &'static str {
    let chain: String = std::iter::successors(Some(err), |e| e.source())
        .map(|e| format!("{e} {e:?} "))
        .collect();
    if chain.contains("CaUsedAsEndEntity") {
        "; its certificate is a CA certificate used as the server's own (as the usual \
         self-signed one is), which is refused even when trusted: give the upstream a leaf \
         certificate (basicConstraints CA:FALSE) signed by that CA, and trust the CA with \
         `ca_file` in [proxy] (--upstream-ca FILE for `tollgate proxy`)"
    } else if chain.contains("UnknownIssuer") {
        "; its certificate is not signed by a trusted CA: trust its CA with `ca_file` in \
         [proxy] (--upstream-ca FILE for `tollgate proxy`)"
    } else {
        ""
    }
}

/// The first error of type `E` in `err`'s source chain.
fn find_cause<'a, E: std::error::Error + 'static>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a E> {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<E>() {
            return Some(found);
        }
        current = e.source();
    }
    None
}

/// `10 s`, `250 ms`.
fn human(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}
