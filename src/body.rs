//! [`Body`], the one body type every service of this crate returns, and reading bodies with a
//! byte limit.
//!
//! # Example
//!
//! ```
//! use tollgate::body::{self, Body};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let bytes = body::to_bytes(Body::from("hello"), 1024).await.unwrap();
//! assert_eq!(&bytes[..], b"hello");
//!
//! let err = body::to_bytes(Body::from("hello"), 3).await.unwrap_err();
//! assert_eq!(err.status(), http::StatusCode::PAYLOAD_TOO_LARGE);
//! # }
//! ```

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use http_body::{Frame, SizeHint};
use http_body_util::{BodyExt, Empty, Full, StreamBody};

use crate::error::HttpError;

mod limit;
#[cfg(feature = "compress")]
mod sync;
mod watched;
#[cfg(feature = "compress")]
pub(crate) use self::limit::limited;
pub use self::limit::BodyTooLarge;
#[cfg(feature = "compress")]
pub(crate) use self::sync::SyncBody;
pub(crate) use self::watched::{Expired, Watch, Watched};

/// The error type carried by a [`Body`]: any boxed error.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Default limit for reading a whole body into memory: 1 MiB, nginx's `client_max_body_size`.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// A boxed [`http_body::Body`] of [`Bytes`]: what every service of this crate returns.
///
/// It is `Send + Sync`, so it fits hyper, axum and tonic stacks alike.
pub struct Body(Inner);

enum Inner {
    Empty,
    Full(Option<Bytes>),
    Boxed(Pin<Box<dyn http_body::Body<Data = Bytes, Error = BoxError> + Send + Sync>>),
}

impl Body {
    /// An empty body (length 0).
    pub fn empty() -> Self {
        Body(Inner::Empty)
    }

    /// Wraps any body whose data is [`Bytes`] and whose error converts into [`BoxError`].
    ///
    /// A [`Body`] passed in is returned as it is, not boxed again, so layers can convert their
    /// inner service's body unconditionally.
    pub fn new<B>(body: B) -> Self
    where
        B: http_body::Body<Data = Bytes> + Send + Sync + 'static,
        B::Error: Into<BoxError>,
    {
        match already_body(body) {
            Ok(body) => body,
            Err(body) => Body(Inner::Boxed(Box::pin(body.map_err(Into::into)))),
        }
    }

    /// Wraps a body that is `Send` but not `Sync`, such as axum's: it is only ever polled
    /// through `&mut`, so the lock that makes it `Sync` is never contended. A [`Body`] passed in
    /// is returned as it is; another body costs one allocation more than [`new`](Self::new).
    pub fn from_send<B>(body: B) -> Self
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        match already_body(body) {
            Ok(body) => body,
            Err(body) => Body::new(SendBody(std::sync::Mutex::new(Box::pin(body)))),
        }
    }

    /// A body made of the chunks a [`Stream`] yields; sent chunked when it has no known length.
    ///
    /// ```
    /// use futures_util::stream;
    /// # use tollgate::body::Body;
    /// let chunks = stream::iter(["a", "b"].map(|s| Ok::<_, std::io::Error>(bytes::Bytes::from(s))));
    /// let body = Body::from_stream(chunks);
    /// ```
    pub fn from_stream<S, T, E>(stream: S) -> Self
    where
        S: Stream<Item = Result<T, E>> + Send + Sync + 'static,
        T: Into<Bytes> + 'static,
        E: Into<BoxError> + 'static,
    {
        use futures_util::TryStreamExt;
        let frames = stream
            .map_ok(|chunk| Frame::data(chunk.into()))
            .map_err(Into::into);
        Body::new(StreamBody::new(frames))
    }

    /// The bytes of a body made whole in memory (from bytes or text) and not yet read; `None`
    /// for a stream or an empty body.
    pub fn as_bytes(&self) -> Option<&Bytes> {
        match &self.0 {
            Inner::Full(bytes) => bytes.as_ref(),
            Inner::Empty | Inner::Boxed(_) => None,
        }
    }

    /// Reads the whole body, failing with `413 Payload Too Large` once more than `limit` bytes
    /// arrive. At most `limit` bytes are ever buffered.
    ///
    /// # Errors
    ///
    /// 413 past the limit, 400 when the body stream itself fails (the client went away).
    pub async fn to_bytes(self, limit: usize) -> Result<Bytes, HttpError> {
        to_bytes(self, limit).await
    }
}

impl Default for Body {
    fn default() -> Self {
        Body::empty()
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Inner::Empty => f.write_str("Body(empty)"),
            Inner::Full(Some(b)) => write!(f, "Body({} bytes)", b.len()),
            Inner::Full(None) => f.write_str("Body(consumed)"),
            Inner::Boxed(_) => f.write_str("Body(stream)"),
        }
    }
}

impl From<Bytes> for Body {
    fn from(bytes: Bytes) -> Self {
        Body(Inner::Full(Some(bytes)))
    }
}

impl From<Vec<u8>> for Body {
    fn from(bytes: Vec<u8>) -> Self {
        Body::from(Bytes::from(bytes))
    }
}

impl From<String> for Body {
    fn from(text: String) -> Self {
        Body::from(Bytes::from(text))
    }
}

impl From<&'static str> for Body {
    fn from(text: &'static str) -> Self {
        Body::from(Bytes::from_static(text.as_bytes()))
    }
}

impl From<&'static [u8]> for Body {
    fn from(bytes: &'static [u8]) -> Self {
        Body::from(Bytes::from_static(bytes))
    }
}

impl From<Full<Bytes>> for Body {
    fn from(body: Full<Bytes>) -> Self {
        Body::new(body)
    }
}

impl From<Empty<Bytes>> for Body {
    fn from(_: Empty<Bytes>) -> Self {
        Body::empty()
    }
}

impl From<hyper::body::Incoming> for Body {
    fn from(body: hyper::body::Incoming) -> Self {
        Body::new(body)
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match &mut self.get_mut().0 {
            Inner::Empty => Poll::Ready(None),
            Inner::Full(bytes) => Poll::Ready(
                bytes
                    .take()
                    .filter(|b| !b.is_empty())
                    .map(|b| Ok(Frame::data(b))),
            ),
            Inner::Boxed(body) => body.as_mut().poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.0 {
            Inner::Empty => true,
            Inner::Full(bytes) => bytes.as_ref().is_none_or(Bytes::is_empty),
            Inner::Boxed(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.0 {
            Inner::Empty => SizeHint::with_exact(0),
            Inner::Full(bytes) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
            Inner::Boxed(body) => body.size_hint(),
        }
    }
}

/// `body` itself when it is a [`Body`] already, so wrapping one costs nothing; else `body`
/// back.
fn already_body<B: 'static>(body: B) -> Result<Body, B> {
    let mut slot = Some(body);
    if let Some(already) = (&mut slot as &mut dyn std::any::Any).downcast_mut::<Option<Body>>() {
        return Ok(already.take().unwrap_or_default());
    }
    Err(slot.expect("the slot is only emptied when it held a Body"))
}

/// A `Send` body made `Sync` ([`Body::from_send`]).
struct SendBody<B>(std::sync::Mutex<Pin<Box<B>>>);

impl<B> SendBody<B> {
    /// The body; a panic while it was polled leaves it as it was, so poisoning is ignored.
    fn with<T>(&self, f: impl FnOnce(&B) -> T) -> T {
        let guard = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(guard.as_ref().get_ref())
    }
}

impl<B> http_body::Body for SendBody<B>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let body = self
            .get_mut()
            .0
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        body.as_mut().poll_frame(cx).map_err(Into::into)
    }

    fn is_end_stream(&self) -> bool {
        self.with(B::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.with(B::size_hint)
    }
}

/// Reads any body whole, failing with `413 Payload Too Large` once more than `limit` bytes arrive.
///
/// A `Content-Length`-framed body that announces more than `limit` is refused before any byte is
/// read; a chunked one is cut as soon as it passes the limit. At most `limit` bytes are buffered.
///
/// # Errors
///
/// 413 past the limit, 400 when the body stream fails (the client went away or sent bad framing).
pub async fn to_bytes<B>(body: B, limit: usize) -> Result<Bytes, HttpError>
where
    B: http_body::Body,
    B::Data: bytes::Buf,
    B::Error: Into<BoxError>,
{
    let too_large = || {
        HttpError::payload_too_large(format!(
            "request body is larger than the limit of {limit} bytes"
        ))
    };
    if body.size_hint().lower() > limit as u64 {
        return Err(too_large());
    }
    let mut body = std::pin::pin!(body);
    let mut buf = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            let e: BoxError = e.into();
            BodyReadTimeout::answer_for(&*e).with_source(e)
        })?;
        if let Ok(mut data) = frame.into_data() {
            use bytes::Buf;
            if buf.len() + data.remaining() > limit {
                return Err(too_large());
            }
            while data.has_remaining() {
                let chunk = data.chunk();
                buf.extend_from_slice(chunk);
                let n = chunk.len();
                data.advance(n);
            }
        }
    }
    Ok(buf.freeze())
}

/// The error a request body yields when the client sent nothing for `body_read_timeout`, or
/// had not sent the whole body `body_total_timeout` after its request arrived (both in
/// [`ServeConfig`](crate::serve::ServeConfig)).
///
/// Reading the body with [`to_bytes`], or through the proxy, turns it into a
/// `408 Request Timeout`. Also at its old path, `tollgate::serve::BodyReadTimeout`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyReadTimeout {
    pub(crate) after: Duration,
    pub(crate) total: bool,
}

impl BodyReadTimeout {
    /// How long the body stayed silent, or, for [`is_total`](Self::is_total), the deadline
    /// of the whole body.
    pub fn after(&self) -> Duration {
        self.after
    }

    /// Whether the whole body took too long (`body_total_timeout`) rather than one read
    /// (`body_read_timeout`).
    pub fn is_total(&self) -> bool {
        self.total
    }

    /// The client's answer for a request body that failed with `err`: `408 Request Timeout`
    /// when a `BodyReadTimeout` is in its chain, `413` for a [`BodyTooLarge`], `400`
    /// otherwise; all close the connection
    /// (what is left of the body cannot be told from a next request).
    pub(crate) fn answer_for(err: &(dyn std::error::Error + 'static)) -> crate::error::HttpError {
        use http::header::{HeaderValue, CONNECTION};
        let mut current = Some(err);
        let mut timed_out = false;
        while let Some(e) = current {
            if e.downcast_ref::<BodyReadTimeout>().is_some() {
                timed_out = true;
                break;
            }
            if let Some(too_large) = e.downcast_ref::<BodyTooLarge>() {
                return crate::error::HttpError::payload_too_large(too_large.to_string())
                    .with_header(CONNECTION, HeaderValue::from_static("close"));
            }
            current = e.source();
        }
        let error = if timed_out {
            crate::error::HttpError::new(
                http::StatusCode::REQUEST_TIMEOUT,
                "the request body did not arrive in time",
            )
        } else {
            crate::error::HttpError::bad_request("the request body could not be read")
        };
        error.with_header(CONNECTION, HeaderValue::from_static("close"))
    }
}

impl fmt::Display for BodyReadTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.total {
            write!(
                f,
                "the client did not send the whole request body within {:?} \
                 (body_total_timeout); the read was abandoned",
                self.after
            )
        } else {
            write!(
                f,
                "the client sent no request body data for {:?} (body_read_timeout); the read \
                 was abandoned",
                self.after
            )
        }
    }
}

impl std::error::Error for BodyReadTimeout {}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::stream;
    use http::StatusCode;

    #[tokio::test]
    async fn reads_within_limit() {
        let body = Body::from("abc");
        assert_eq!(to_bytes(body, 3).await.unwrap(), "abc");
    }

    #[tokio::test]
    async fn refuses_declared_length_over_limit() {
        let err = to_bytes(Body::from(vec![0u8; 10]), 9).await.unwrap_err();
        assert_eq!(err.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[tokio::test]
    async fn cuts_a_stream_past_the_limit_without_reading_the_rest() {
        // An endless stream: the reader must stop at the limit, not run forever.
        let endless = stream::repeat_with(|| Ok::<_, std::io::Error>(Bytes::from_static(b"xxxx")));
        let err = to_bytes(Body::from_stream(endless), 1000)
            .await
            .unwrap_err();
        assert_eq!(err.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[tokio::test]
    async fn stream_error_is_a_400() {
        let failing = stream::iter([Err::<Bytes, _>(std::io::Error::other("reset"))]);
        let err = to_bytes(Body::from_stream(failing), 10).await.unwrap_err();
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
    }

    #[tokio::test]
    async fn new_does_not_box_a_body_twice() {
        let body = Body::new(Body::from("abc"));
        assert_eq!(format!("{body:?}"), "Body(3 bytes)");
        assert_eq!(to_bytes(body, 10).await.unwrap(), "abc");
    }

    #[test]
    fn body_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Body>();
    }
}
