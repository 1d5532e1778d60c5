//! Body transforms: chunk by chunk in bounded memory ([`Transform`], [`transform_response`],
//! [`transform_request`]), or the whole body up to a limit ([`WholeBody`]).
//!
//! # The header rule
//!
//! A transform that may change the bytes makes the old framing and validators wrong, so:
//!
//! - **`Content-Length`** is removed by a streaming transform (the answer is sent chunked)
//!   and set to the new length by [`WholeBody`];
//! - **`ETag`** is removed when the bytes may have changed (a streaming transform that does
//!   not only [`observe`](Transform::observes_only), or a whole-body one whose output differs),
//!   since it named the old bytes; set a new one with
//!   [`ETag::for_bytes`](crate::response::ETag::for_bytes) when needed;
//! - **`Content-Encoding`**: a body encoded with anything but `identity` (gzip, br, ...) is
//!   passed through untouched, neither decoded nor transformed: a transform sees only bytes it
//!   can read. Ask the upstream for `Accept-Encoding: identity` when every answer must be
//!   transformed;
//! - a **`206 Partial Content`** answer and answers without a body (`HEAD`, `204`, `304`) are
//!   passed through untouched too.
//!
//! # Example
//!
//! ```
//! use bytes::Bytes;
//! use tollgate::filter::body::{transform_response, WholeBody};
//! use tollgate::Response;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), tollgate::HttpError> {
//! // Whole: at most 1 MiB is read; a longer answer passes through unchanged.
//! let page = Response::html("<html><body><h1>Hi</h1></body></html>");
//! let page = WholeBody::new(1 << 20)
//!     .response(page, |html| {
//!         let text = String::from_utf8_lossy(&html).replace("</body>", "<p>injected</p></body>");
//!         Bytes::from(text)
//!     })
//!     .await?;
//! assert_eq!(page.headers()["content-length"], "52");
//!
//! // Streaming: upper-case every chunk as it passes.
//! let loud = transform_response(Response::text("quiet"), |chunk: Bytes| {
//!     Ok(Bytes::from(chunk.to_ascii_uppercase()))
//! });
//! assert!(loud.headers().get("content-length").is_none());
//! # Ok(()) }
//! ```

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http::header::{HeaderMap, CONTENT_ENCODING, CONTENT_LENGTH, ETAG};
use http::StatusCode;
use http_body::{Body as _, Frame, SizeHint};
use http_body_util::BodyExt;
use pin_project_lite::pin_project;

use crate::body::{Body, BoxError};
use crate::error::HttpError;
use crate::request::Request;
use crate::response::Response;

/// A chunk-by-chunk body transform: each data chunk goes through [`chunk`](Self::chunk) as it
/// arrives, so memory stays bounded by what the transform itself keeps.
///
/// Any `FnMut(Bytes) -> Result<Bytes, BoxError>` is one. An error ends the body with that
/// error (the client sees a cut answer; a request body's reader sees the error).
pub trait Transform: Send + 'static {
    /// The bytes to send for `chunk` (possibly empty, to hold bytes back for later).
    ///
    /// # Errors
    ///
    /// Ends the body with this error.
    fn chunk(&mut self, chunk: Bytes) -> Result<Bytes, BoxError>;

    /// The bytes to send once the inner body ended (what was held back). Default: none.
    ///
    /// # Errors
    ///
    /// Ends the body with this error.
    fn finish(&mut self) -> Result<Bytes, BoxError> {
        Ok(Bytes::new())
    }

    /// Whether the output is always the input unchanged (counting, hashing, scanning): then
    /// `Content-Length` and `ETag` stay. Default: `false`.
    fn observes_only(&self) -> bool {
        false
    }
}

impl<F> Transform for F
where
    F: FnMut(Bytes) -> Result<Bytes, BoxError> + Send + 'static,
{
    fn chunk(&mut self, chunk: Bytes) -> Result<Bytes, BoxError> {
        self(chunk)
    }
}

/// The answer with its body passed through `transform`, following the header rule of the
/// [module](self) (untouched when encoded, partial or bodiless).
pub fn transform_response<T: Transform>(res: Response, transform: T) -> Response {
    let mut res = res.into_http();
    if !transformable(res.status(), res.headers()) {
        return Response::from_http(res);
    }
    fix_streamed_headers(res.headers_mut(), transform.observes_only());
    Response::from_http(res.map(|body| Body::from_send(Transformed::new(body, transform))))
}

/// The request with its body passed through `transform` (same header rule; an encoded body
/// is left as it is).
pub fn transform_request<T: Transform>(req: Request, transform: T) -> Request {
    let mut req = req.into_http_with_body();
    if !is_identity(req.headers()) {
        return Request::from_http(req);
    }
    fix_streamed_headers(req.headers_mut(), transform.observes_only());
    Request::from_http(req.map(|body| Body::from_send(Transformed::new(body, transform))))
}

fn fix_streamed_headers(headers: &mut HeaderMap, observes_only: bool) {
    if !observes_only {
        headers.remove(CONTENT_LENGTH);
        headers.remove(ETAG);
    }
}

/// Whether an answer's body is one a transform may change: not encoded, not partial, and there.
fn transformable(status: StatusCode, headers: &HeaderMap) -> bool {
    status != StatusCode::PARTIAL_CONTENT
        && status != StatusCode::NO_CONTENT
        && status != StatusCode::NOT_MODIFIED
        && !status.is_informational()
        && is_identity(headers)
}

fn is_identity(headers: &HeaderMap) -> bool {
    headers.get_all(CONTENT_ENCODING).iter().all(|v| {
        v.to_str().is_ok_and(|v| {
            v.split(',')
                .all(|c| c.trim().eq_ignore_ascii_case("identity"))
        })
    })
}

pin_project! {
    /// A body passed through a [`Transform`].
    struct Transformed<T> {
        #[pin]
        inner: Body,
        transform: T,
        finished: bool,
    }
}

impl<T> Transformed<T> {
    fn new(inner: Body, transform: T) -> Self {
        Transformed {
            inner,
            transform,
            finished: false,
        }
    }
}

impl<T: Transform> http_body::Body for Transformed<T> {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let mut this = self.project();
        loop {
            if *this.finished {
                return Poll::Ready(None);
            }
            let frame = match std::task::ready!(this.inner.as_mut().poll_frame(cx)) {
                Some(Ok(frame)) => frame,
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                None => {
                    *this.finished = true;
                    let tail = this.transform.finish();
                    return Poll::Ready(match tail {
                        Ok(tail) if tail.is_empty() => None,
                        Ok(tail) => Some(Ok(Frame::data(tail))),
                        Err(e) => Some(Err(e)),
                    });
                }
            };
            match frame.into_data() {
                Ok(data) => match this.transform.chunk(data) {
                    // Nothing to send yet: read on rather than send an empty frame.
                    Ok(out) if out.is_empty() => continue,
                    Ok(out) => return Poll::Ready(Some(Ok(Frame::data(out)))),
                    Err(e) => return Poll::Ready(Some(Err(e))),
                },
                Err(trailers) => return Poll::Ready(Some(Ok(trailers))),
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.finished
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

/// What [`WholeBody`] does with a body longer than its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OverLimit {
    /// Send it on unchanged (the bytes read so far, then the rest). The default.
    #[default]
    PassThrough,
    /// Refuse it: `413 Payload Too Large` for a request, `502 Bad Gateway` for an answer.
    Refuse,
}

/// Reads a whole body, at most `limit` bytes, so a filter can replace it: the
/// [module](self)'s header rule decides what is read, and `Content-Length` is set to the new
/// length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct WholeBody {
    limit: usize,
    over_limit: OverLimit,
}

impl WholeBody {
    /// Reads at most `limit` bytes; a longer body passes through unchanged
    /// ([`OverLimit::PassThrough`]).
    pub fn new(limit: usize) -> Self {
        WholeBody {
            limit,
            over_limit: OverLimit::PassThrough,
        }
    }

    /// What to do with a body longer than the limit. Default: [`OverLimit::PassThrough`].
    pub fn over_limit(mut self, over_limit: OverLimit) -> Self {
        self.over_limit = over_limit;
        self
    }

    /// The answer with its body replaced by `replace(body)`, when the header rule allows and
    /// the body fits the limit.
    ///
    /// # Errors
    ///
    /// `502` when the body is over the limit and [`OverLimit::Refuse`] was chosen, or when the
    /// inner body failed while being read.
    pub async fn response<F>(&self, res: Response, replace: F) -> Result<Response, HttpError>
    where
        F: FnOnce(Bytes) -> Bytes,
    {
        if !transformable(res.status(), res.headers()) {
            return Ok(res);
        }
        let (mut parts, body) = res.into_http().into_parts();
        match self.read(body).await {
            Read::Whole(bytes) => {
                let body = replaced(&mut parts.headers, bytes, replace);
                Ok(Response::from_http(http::Response::from_parts(parts, body)))
            }
            Read::Over(body) => match self.over_limit {
                OverLimit::PassThrough => {
                    Ok(Response::from_http(http::Response::from_parts(parts, body)))
                }
                OverLimit::Refuse => Err(HttpError::bad_gateway(format!(
                    "the answer is larger than the filter's limit of {} bytes",
                    self.limit
                ))),
            },
            Read::Failed(e) => {
                Err(HttpError::bad_gateway("the answer's body failed").with_source(e))
            }
        }
    }

    /// The request with its body replaced by `replace(body)`, when it is not encoded and fits
    /// the limit.
    ///
    /// # Errors
    ///
    /// `413` when the body is over the limit and [`OverLimit::Refuse`] was chosen; `400` when
    /// the client's body failed while being read.
    pub async fn request<F>(&self, req: Request, replace: F) -> Result<Request, HttpError>
    where
        F: FnOnce(Bytes) -> Bytes,
    {
        let (mut parts, body) = req.into_http_with_body().into_parts();
        if !is_identity(&parts.headers) {
            return Ok(Request::from_http(http::Request::from_parts(parts, body)));
        }
        match self.read(body).await {
            Read::Whole(bytes) => {
                let body = replaced(&mut parts.headers, bytes, replace);
                Ok(Request::from_http(http::Request::from_parts(parts, body)))
            }
            Read::Over(body) => match self.over_limit {
                OverLimit::PassThrough => {
                    Ok(Request::from_http(http::Request::from_parts(parts, body)))
                }
                OverLimit::Refuse => Err(HttpError::payload_too_large(format!(
                    "request body is larger than the limit of {} bytes",
                    self.limit
                ))),
            },
            Read::Failed(e) => Err(crate::body::BodyReadTimeout::answer_for(&*e).with_source(e)),
        }
    }

    /// Reads `body` up to the limit.
    async fn read(&self, mut body: Body) -> Read {
        if body.size_hint().lower() > self.limit as u64 {
            return Read::Over(body);
        }
        let mut buf = BytesMut::new();
        while let Some(frame) = body.frame().await {
            let frame = match frame {
                Ok(frame) => frame,
                Err(e) => return Read::Failed(e),
            };
            let Ok(data) = frame.into_data() else {
                // Trailers: the body is over; whole bodies carry none.
                break;
            };
            buf.extend_from_slice(&data);
            if buf.len() > self.limit {
                return Read::Over(Body::new(Prefixed::new(buf.freeze(), body)));
            }
        }
        Read::Whole(buf.freeze())
    }
}

enum Read {
    Whole(Bytes),
    Over(Body),
    Failed(BoxError),
}

/// The new body and headers for `replace(bytes)`: the new `Content-Length`, and no `ETag` when
/// the bytes changed.
fn replaced(headers: &mut HeaderMap, bytes: Bytes, replace: impl FnOnce(Bytes) -> Bytes) -> Body {
    let new = replace(bytes.clone());
    if new != bytes {
        headers.remove(ETAG);
    }
    headers.insert(CONTENT_LENGTH, new.len().into());
    Body::from(new)
}

pin_project! {
    /// The bytes already read, then the rest of the body.
    struct Prefixed {
        head: Option<Bytes>,
        #[pin]
        rest: Body,
    }
}

impl Prefixed {
    fn new(head: Bytes, rest: Body) -> Self {
        Prefixed {
            head: Some(head),
            rest,
        }
    }
}

impl http_body::Body for Prefixed {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.project();
        if let Some(head) = this.head.take() {
            return Poll::Ready(Some(Ok(Frame::data(head))));
        }
        this.rest.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.head.is_none() && self.rest.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let head = self.head.as_ref().map_or(0, |h| h.len() as u64);
        let rest = self.rest.size_hint();
        let mut hint = SizeHint::new();
        hint.set_lower(rest.lower() + head);
        if let Some(upper) = rest.upper() {
            hint.set_upper(upper + head);
        }
        hint
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn text(res: Response) -> String {
        let bytes = crate::body::to_bytes(res.into_http().into_body(), 1 << 20)
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    fn chunked(parts: &'static [&'static str]) -> Response {
        let chunks = futures_util::stream::iter(
            parts
                .iter()
                .map(|p| Ok::<_, std::io::Error>(Bytes::from_static(p.as_bytes()))),
        );
        Response::stream(chunks)
    }

    #[tokio::test]
    async fn streaming_transform_sees_every_chunk_and_drops_the_length() {
        let res = Response::text("abc").header("etag", "\"x\"");
        let res = transform_response(res, |c: Bytes| Ok(Bytes::from(c.to_ascii_uppercase())));
        assert!(res.headers().get(CONTENT_LENGTH).is_none());
        assert!(res.headers().get(ETAG).is_none());
        assert_eq!(text(res).await, "ABC");
    }

    struct Count(std::sync::Arc<std::sync::atomic::AtomicUsize>);

    impl Transform for Count {
        fn chunk(&mut self, chunk: Bytes) -> Result<Bytes, BoxError> {
            self.0
                .fetch_add(chunk.len(), std::sync::atomic::Ordering::Relaxed);
            Ok(chunk)
        }
        fn observes_only(&self) -> bool {
            true
        }
    }

    #[tokio::test]
    async fn an_observer_keeps_the_headers() {
        let seen = std::sync::Arc::default();
        let res = transform_response(Response::text("hello"), Count(std::sync::Arc::clone(&seen)));
        assert_eq!(res.headers()[CONTENT_LENGTH], "5");
        assert_eq!(text(res).await, "hello");
        assert_eq!(seen.load(std::sync::atomic::Ordering::Relaxed), 5);
    }

    /// Holds everything back and sends it reversed at the end.
    struct Reverse(Vec<u8>);

    impl Transform for Reverse {
        fn chunk(&mut self, chunk: Bytes) -> Result<Bytes, BoxError> {
            self.0.extend_from_slice(&chunk);
            Ok(Bytes::new())
        }
        fn finish(&mut self) -> Result<Bytes, BoxError> {
            self.0.reverse();
            Ok(Bytes::from(std::mem::take(&mut self.0)))
        }
    }

    #[tokio::test]
    async fn finish_sends_what_was_held_back() {
        let res = transform_response(chunked(&["ab", "cd"]), Reverse(Vec::new()));
        assert_eq!(text(res).await, "dcba");
    }

    #[tokio::test]
    async fn encoded_and_partial_answers_pass_untouched() {
        let gz = Response::bytes("zz").header("content-encoding", "gzip");
        let gz = transform_response(gz, |_c: Bytes| Ok(Bytes::from_static(b"no")));
        assert_eq!(text(gz).await, "zz");
        let part = Response::text("p").with_status(StatusCode::PARTIAL_CONTENT);
        let part = WholeBody::new(10)
            .response(part, |_| Bytes::from_static(b"no"))
            .await
            .unwrap();
        assert_eq!(text(part).await, "p");
    }

    #[tokio::test]
    async fn whole_body_sets_the_new_length_and_drops_a_stale_etag() {
        let res = chunked(&["<body>", "</body>"]).header("etag", "\"old\"");
        let res = WholeBody::new(100)
            .response(res, |b| {
                let s = String::from_utf8_lossy(&b).replace("</body>", "<p>x</p></body>");
                Bytes::from(s)
            })
            .await
            .unwrap();
        assert_eq!(res.headers()[CONTENT_LENGTH], "21");
        assert!(res.headers().get(ETAG).is_none());
        assert_eq!(text(res).await, "<body><p>x</p></body>");
    }

    #[tokio::test]
    async fn whole_body_keeps_the_etag_of_unchanged_bytes() {
        let res = Response::text("same").header("etag", "\"e\"");
        let res = WholeBody::new(100).response(res, |b| b).await.unwrap();
        assert_eq!(res.headers()[ETAG], "\"e\"");
    }

    #[tokio::test]
    async fn over_the_limit_passes_through_or_is_refused() {
        let res = WholeBody::new(3)
            .response(chunked(&["ab", "cd", "ef"]), |_| Bytes::from_static(b"no"))
            .await
            .unwrap();
        assert_eq!(text(res).await, "abcdef");
        let refused = WholeBody::new(3)
            .over_limit(OverLimit::Refuse)
            .response(Response::text("abcdef"), |b| b)
            .await
            .unwrap_err();
        assert_eq!(refused.status(), StatusCode::BAD_GATEWAY);
        let req = Request::from_http(Request::post("/").body("abcdef").unwrap());
        let refused = WholeBody::new(3)
            .over_limit(OverLimit::Refuse)
            .request(req, |b| b)
            .await
            .unwrap_err();
        assert_eq!(refused.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[tokio::test]
    async fn request_bodies_are_replaced_with_their_length() {
        let req = Request::from_http(Request::post("/").body("secret=1").unwrap());
        let req = WholeBody::new(100)
            .request(req, |_| Bytes::from_static(b"secret=REDACTED"))
            .await
            .unwrap();
        assert_eq!(req.headers()[CONTENT_LENGTH], "15");
        let mut req = req;
        assert_eq!(&req.bytes(100).await.unwrap()[..], b"secret=REDACTED");
    }
}
