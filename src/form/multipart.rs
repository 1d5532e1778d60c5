//! [`Multipart`], the streaming reader, and its [`Field`]s.

use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use futures_util::{StreamExt, TryStreamExt};
use http::header::HeaderValue;
use http::HeaderMap;
use http_body_util::BodyExt;
use mime::Mime;

use super::scan::Scanner;
use super::{FormLimits, MultipartError};
use crate::body::BoxError;

/// The largest piece handed to `multer` at once; bigger chunks are split (without copying).
const PIECE: usize = 64 * 1024;
/// How much is read from the body in one poll before yielding: `multer` buffers whatever the
/// body has ready, and this keeps that bounded even when a fast client keeps it ready.
const READ_AHEAD: usize = 256 * 1024;

type BoxStream = Pin<Box<dyn Stream<Item = Result<Bytes, BoxError>> + Send>>;

/// A streaming reader of a `multipart/form-data` body: yields one [`Field`] at a time, whose
/// data arrives as chunks; nothing is buffered beyond a bounded read-ahead.
///
/// Every limit of [`FormLimits`] that concerns the body is enforced while reading: the body
/// size (with or without `Content-Length`), the number of parts, header bytes per part, the
/// boundary length, and the size of each field (`max_field_size` for text fields,
/// `max_file_size` for parts with a file name). `max_memory` and `spool_threshold` concern
/// [`FormData`](super::FormData), which is built on this reader.
///
/// ```
/// use tollgate::form::{FormLimits, Multipart};
/// use http::HeaderValue;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), tollgate::form::MultipartError> {
/// let body = "--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.txt\"\r\n\
///             Content-Type: text/plain\r\n\r\nhello\r\n--XyZ--\r\n";
/// let content_type = HeaderValue::from_static("multipart/form-data; boundary=XyZ");
/// let mut multipart = Multipart::new(&content_type, tollgate::Body::from(body), &FormLimits::default())?;
/// while let Some(mut field) = multipart.next_field().await? {
///     assert_eq!(field.name(), Some("f"));
///     assert_eq!(field.file_name(), Some("a.txt"));
///     let mut size = 0;
///     while let Some(chunk) = field.chunk().await? {
///         size += chunk.len(); // write it somewhere
///     }
///     assert_eq!(size, 5);
/// }
/// # Ok(()) }
/// ```
pub struct Multipart {
    inner: multer::Multipart<'static>,
    /// The body as multer reads it, shared so [`drain`](Self::drain) can read what multer left.
    body: Arc<Mutex<Guarded>>,
    max_field_size: u64,
    max_file_size: u64,
}

impl std::fmt::Debug for Multipart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Multipart").finish_non_exhaustive()
    }
}

impl Multipart {
    /// A reader for `body`, whose boundary comes from its `Content-Type`.
    ///
    /// # Errors
    ///
    /// [`MultipartError::NotMultipart`] when the content type is not `multipart/form-data`,
    /// [`MultipartError::MissingBoundary`], [`MultipartError::BoundaryTooLong`] or
    /// [`MultipartError::InvalidBoundary`] for its boundary, and
    /// [`MultipartError::BodyTooLarge`] when the body's `Content-Length` already says it is
    /// over `max_body_size`.
    pub fn new<B>(
        content_type: &HeaderValue,
        body: B,
        limits: &FormLimits,
    ) -> Result<Self, MultipartError>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError> + 'static,
    {
        let boundary = parse_boundary(content_type, limits)?;
        Self::with_body(body, &boundary, limits)
    }

    /// A reader for `body` framed by an already parsed `boundary`.
    pub(crate) fn with_body<B>(
        body: B,
        boundary: &str,
        limits: &FormLimits,
    ) -> Result<Self, MultipartError>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError> + 'static,
    {
        if body.size_hint().lower() > limits.max_body_size {
            return Err(MultipartError::BodyTooLarge {
                limit: limits.max_body_size,
            });
        }
        Self::with_boundary(body.into_data_stream(), boundary, limits)
    }

    /// A reader for a stream of body chunks framed by `boundary` (without the leading `--`).
    ///
    /// This is the entry point the fuzz target uses: whatever the chunks, the fields never
    /// yield more bytes than the stream gave.
    ///
    /// # Errors
    ///
    /// [`MultipartError::BoundaryTooLong`] or [`MultipartError::InvalidBoundary`].
    pub fn with_boundary<S, E>(
        stream: S,
        boundary: &str,
        limits: &FormLimits,
    ) -> Result<Self, MultipartError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: Into<BoxError> + 'static,
    {
        check_boundary(boundary, limits)?;
        let body = Arc::new(Mutex::new(Guarded {
            inner: Box::pin(stream.map_err(Into::into)),
            pending: Bytes::new(),
            scanner: Scanner::new(boundary, limits.max_header_bytes, limits.max_parts),
            received: 0,
            limits: limits.clone(),
            read_ahead: 0,
            finished: false,
        }));
        Ok(Multipart {
            inner: multer::Multipart::new(SharedBody(body.clone()), boundary),
            body,
            max_field_size: limits.max_field_size,
            max_file_size: limits.max_file_size,
        })
    }

    /// The next field, or `None` after the closing boundary. A field not read to its end is
    /// skipped (its bytes still count against `max_body_size`).
    ///
    /// # Errors
    ///
    /// Any [`MultipartError`] about the body's framing or limits; after an error the reader
    /// should be dropped.
    pub async fn next_field(&mut self) -> Result<Option<Field<'_>>, MultipartError> {
        let field = self
            .inner
            .next_field()
            .await
            .map_err(MultipartError::from_multer)?;
        Ok(field.map(|inner| {
            let limit = if inner.file_name().is_some() {
                self.max_file_size
            } else {
                self.max_field_size
            };
            Field {
                inner,
                received: 0,
                limit,
                failed: false,
                _reader: PhantomData,
            }
        }))
    }
}

impl Multipart {
    /// Reads the rest of the body and discards it: the parts not read yet and the epilogue
    /// after the closing boundary, still under `max_body_size`, `max_parts` and
    /// `max_header_bytes`. Call it when you answer before reading every field, so a keep-alive
    /// connection is left clean; [`FormData`](super::FormData) does.
    ///
    /// # Errors
    ///
    /// A limit passed, or the body failing.
    pub async fn drain(self) -> Result<(), MultipartError> {
        drop(self.inner);
        let mut rest = SharedBody(self.body);
        while rest.try_next().await?.is_some() {}
        Ok(())
    }
}

/// One part of a multipart body: its headers, and its data as a [`Stream`] of chunks.
///
/// It borrows the [`Multipart`] it came from, so only one field is read at a time.
pub struct Field<'a> {
    inner: multer::Field<'static>,
    received: u64,
    limit: u64,
    failed: bool,
    _reader: PhantomData<&'a mut Multipart>,
}

impl std::fmt::Debug for Field<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Field")
            .field("name", &self.name())
            .field("file_name", &self.file_name())
            .field("content_type", &self.content_type())
            .finish_non_exhaustive()
    }
}

impl Field<'_> {
    /// The `name` of its `Content-Disposition`, as sent.
    pub fn name(&self) -> Option<&str> {
        self.inner.name()
    }

    /// The `filename` of its `Content-Disposition`, as sent: untrusted, may hold `../`; see
    /// [`safe_filename`](super::safe_filename). `Some` makes the part a file.
    pub fn file_name(&self) -> Option<&str> {
        self.inner.file_name()
    }

    /// Its `Content-Type`, when present and valid.
    pub fn content_type(&self) -> Option<&Mime> {
        self.inner.content_type()
    }

    /// All its headers.
    pub fn headers(&self) -> &HeaderMap {
        self.inner.headers()
    }

    /// Its position in the body, from 0.
    pub fn index(&self) -> usize {
        self.inner.index()
    }

    /// Whether it is a file (it has a file name, even an empty one).
    pub fn is_file(&self) -> bool {
        self.file_name().is_some()
    }

    /// The next chunk of its data, `None` at its end.
    ///
    /// # Errors
    ///
    /// [`MultipartError::FieldTooLarge`] or [`MultipartError::FileTooLarge`] past its limit,
    /// or any error about the body.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, MultipartError> {
        self.next().await.transpose()
    }

    /// All its data, at most `max_field_size` or `max_file_size` bytes.
    ///
    /// # Errors
    ///
    /// As [`chunk`](Self::chunk).
    pub async fn bytes(mut self) -> Result<Bytes, MultipartError> {
        let mut buf = BytesMut::new();
        while let Some(chunk) = self.chunk().await? {
            buf.extend_from_slice(&chunk);
        }
        Ok(buf.freeze())
    }

    /// All its data as text; invalid UTF-8 is replaced with U+FFFD, as Werkzeug does.
    ///
    /// # Errors
    ///
    /// As [`chunk`](Self::chunk).
    pub async fn text(self) -> Result<String, MultipartError> {
        let bytes = self.bytes().await?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    fn too_large(&self) -> MultipartError {
        let name = crate::syntax::excerpt(self.name().unwrap_or(""), 64);
        if self.is_file() {
            MultipartError::FileTooLarge {
                name,
                limit: self.limit,
            }
        } else {
            MultipartError::FieldTooLarge {
                name,
                limit: self.limit,
            }
        }
    }
}

impl Stream for Field<'_> {
    type Item = Result<Bytes, MultipartError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.failed {
            return Poll::Ready(None);
        }
        let item = match std::task::ready!(this.inner.poll_next_unpin(cx)) {
            None => return Poll::Ready(None),
            Some(Ok(chunk)) => {
                this.received += chunk.len() as u64;
                if this.received > this.limit {
                    Err(this.too_large())
                } else {
                    Ok(chunk)
                }
            }
            Some(Err(err)) => Err(MultipartError::from_multer(err)),
        };
        this.failed = item.is_err();
        Poll::Ready(Some(item))
    }
}

/// The boundary of a `multipart/form-data` content type, checked against RFC 2046 and
/// `max_boundary_len`.
///
/// # Errors
///
/// [`MultipartError::NotMultipart`], [`MultipartError::MissingBoundary`],
/// [`MultipartError::BoundaryTooLong`] or [`MultipartError::InvalidBoundary`].
pub fn parse_boundary(
    content_type: &HeaderValue,
    limits: &FormLimits,
) -> Result<String, MultipartError> {
    let not_multipart = || MultipartError::NotMultipart {
        content_type: crate::syntax::excerpt(&String::from_utf8_lossy(content_type.as_bytes()), 64),
    };
    let mime: Mime = content_type
        .to_str()
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(not_multipart)?;
    if mime.type_() != mime::MULTIPART || mime.subtype() != mime::FORM_DATA {
        return Err(not_multipart());
    }
    let boundary = mime
        .get_param(mime::BOUNDARY)
        .ok_or(MultipartError::MissingBoundary)?
        .as_str()
        .to_owned();
    check_boundary(&boundary, limits)?;
    Ok(boundary)
}

/// RFC 2046 §5.1.1: 1 to 70 of `bchars`, not ending with a space.
fn check_boundary(boundary: &str, limits: &FormLimits) -> Result<(), MultipartError> {
    let limit = limits.boundary_limit();
    if boundary.len() > limit {
        return Err(MultipartError::BoundaryTooLong {
            len: boundary.len(),
            limit,
        });
    }
    let bchar = |b: u8| b.is_ascii_alphanumeric() || b"'()+_,-./:=? ".contains(&b);
    if boundary.is_empty() || boundary.ends_with(' ') || !boundary.bytes().all(bchar) {
        return Err(MultipartError::InvalidBoundary {
            boundary: crate::syntax::excerpt(boundary, 64),
        });
    }
    Ok(())
}

/// The body stream as `multer` sees it: cut at `max_body_size`, in pieces of at most
/// [`PIECE`] bytes, at most [`READ_AHEAD`] bytes per poll, each byte seen by the [`Scanner`].
struct Guarded {
    inner: BoxStream,
    pending: Bytes,
    scanner: Scanner,
    received: u64,
    limits: FormLimits,
    read_ahead: usize,
    finished: bool,
}

impl Guarded {
    fn fail(&mut self, err: MultipartError) -> Poll<Option<Result<Bytes, MultipartError>>> {
        self.finished = true;
        Poll::Ready(Some(Err(err)))
    }
}

/// The handle on [`Guarded`] that multer polls.
struct SharedBody(Arc<Mutex<Guarded>>);

impl Stream for SharedBody {
    type Item = Result<Bytes, MultipartError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        // Never contended: multer and `drain` poll one after the other, never at once.
        let mut guarded = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        guarded.poll_piece(cx)
    }
}

impl Guarded {
    fn poll_piece(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, MultipartError>>> {
        let this = self;
        if this.finished {
            return Poll::Ready(None);
        }
        if this.read_ahead >= READ_AHEAD {
            // Let multer work through what it has before it reads more.
            this.read_ahead = 0;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        if this.pending.is_empty() {
            match this.inner.as_mut().poll_next(cx) {
                Poll::Pending => {
                    this.read_ahead = 0;
                    return Poll::Pending;
                }
                Poll::Ready(None) => {
                    this.finished = true;
                    return Poll::Ready(None);
                }
                Poll::Ready(Some(Err(err))) => return this.fail(MultipartError::Read(err)),
                Poll::Ready(Some(Ok(chunk))) => {
                    this.received += chunk.len() as u64;
                    if this.received > this.limits.max_body_size {
                        let limit = this.limits.max_body_size;
                        return this.fail(MultipartError::BodyTooLarge { limit });
                    }
                    this.pending = chunk;
                }
            }
        }
        let piece = if this.pending.len() > PIECE {
            this.pending.split_to(PIECE)
        } else {
            std::mem::take(&mut this.pending)
        };
        if let Err(err) = this.scanner.feed(&piece) {
            let err = MultipartError::from_scan(err, &this.limits);
            return this.fail(err);
        }
        this.read_ahead += piece.len();
        Poll::Ready(Some(Ok(piece)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::stream;

    fn ct(value: &'static str) -> HeaderValue {
        HeaderValue::from_static(value)
    }

    #[test]
    fn boundary_is_read_from_the_content_type() {
        let limits = FormLimits::default();
        let b = parse_boundary(&ct("multipart/form-data; boundary=abc"), &limits).unwrap();
        assert_eq!(b, "abc");
        let quoted = ct("multipart/form-data; boundary=\"a b:c\"");
        assert_eq!(parse_boundary(&quoted, &limits).unwrap(), "a b:c");
    }

    #[test]
    fn boundary_errors_are_named() {
        let limits = FormLimits::default();
        let long =
            HeaderValue::from_str(&format!("multipart/form-data; boundary={}", "a".repeat(71)))
                .unwrap();
        let cases = [
            (ct("application/json"), "NotMultipart"),
            (ct("multipart/mixed; boundary=a"), "NotMultipart"),
            (ct("multipart/form-data"), "MissingBoundary"),
            (
                ct("multipart/form-data; boundary=\"a;b\""),
                "InvalidBoundary",
            ),
            (
                ct("multipart/form-data; boundary=\"ab \""),
                "InvalidBoundary",
            ),
            // mime refuses an empty quoted string: the whole content type is invalid.
            (ct("multipart/form-data; boundary=\"\""), "NotMultipart"),
            (long, "BoundaryTooLong"),
        ];
        for (value, expected) in cases {
            let err = parse_boundary(&value, &limits).unwrap_err();
            assert!(
                format!("{err:?}").starts_with(expected),
                "{value:?}: {err:?}"
            );
        }
    }

    #[test]
    fn boundary_limit_cannot_pass_70() {
        let limits = FormLimits::default().max_boundary_len(1000);
        let err = check_boundary(&"a".repeat(71), &limits).unwrap_err();
        assert!(matches!(
            err,
            MultipartError::BoundaryTooLong { limit: 70, .. }
        ));
    }

    /// Reads every field of `body`, given in pieces cut at `cuts`; returns (name, data) pairs.
    fn read_all(
        body: &[u8],
        cuts: &[usize],
        limits: &FormLimits,
    ) -> Result<Vec<(String, Vec<u8>)>, MultipartError> {
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (body.len() + 1)).collect();
        points.extend([0, body.len()]);
        points.sort_unstable();
        let chunks: Vec<_> = points
            .windows(2)
            .map(|w| Ok::<_, std::io::Error>(Bytes::copy_from_slice(&body[w[0]..w[1]])))
            .collect();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        runtime.block_on(async {
            let mut mp = Multipart::with_boundary(stream::iter(chunks), "XyZ", limits)?;
            let mut out = vec![];
            while let Some(field) = mp.next_field().await? {
                let name = field.name().unwrap_or("").to_owned();
                out.push((name, field.bytes().await?.to_vec()));
            }
            Ok(out)
        })
    }

    proptest::proptest! {
        #[test]
        fn fields_come_back_whatever_the_chunking(
            parts in proptest::collection::vec(("[a-z]{1,8}", "[a-z\r\n -]{0,300}"), 0..8),
            cuts in proptest::collection::vec(0usize..10_000, 0..12),
        ) {
            let mut body = Vec::new();
            for (name, data) in &parts {
                body.extend(format!("--XyZ\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes());
                body.extend(data.as_bytes());
                body.extend(b"\r\n");
            }
            body.extend(b"--XyZ--\r\n");
            let limits = FormLimits::default().max_header_bytes(64).max_parts(parts.len());
            let read = read_all(&body, &cuts, &limits).unwrap();
            let expected: Vec<_> = parts.iter().map(|(n, d)| (n.clone(), d.clone().into_bytes())).collect();
            proptest::prop_assert_eq!(read, expected);
        }

        #[test]
        fn never_yields_more_than_given(
            body in proptest::collection::vec(proptest::sample::select(b"XyZ-\r\n :=\"abname".to_vec()), 0..600),
            cuts in proptest::collection::vec(0usize..1000, 0..12),
        ) {
            let limits = FormLimits::default().max_header_bytes(128).max_parts(20);
            if let Ok(fields) = read_all(&body, &cuts, &limits) {
                let total: usize = fields.iter().map(|(_, d)| d.len()).sum();
                proptest::prop_assert!(total <= body.len());
            }
        }
    }

    #[tokio::test]
    async fn never_yields_more_than_it_was_given() {
        let body: &[u8] =
            b"--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n12345\r\n--b\r\n\
            Content-Disposition: form-data; name=\"c\"; filename=\"x\"\r\n\r\n\r\n--b--\r\n";
        for split in 1..body.len() {
            let chunks = body
                .chunks(split)
                .map(|c| Ok::<_, std::io::Error>(Bytes::copy_from_slice(c)))
                .collect::<Vec<_>>();
            let mut mp =
                Multipart::with_boundary(stream::iter(chunks), "b", &FormLimits::default())
                    .unwrap();
            let mut total = 0;
            let mut names = vec![];
            while let Some(field) = mp.next_field().await.unwrap() {
                names.push(field.name().unwrap().to_owned());
                total += field.bytes().await.unwrap().len();
            }
            assert_eq!(names, ["a", "c"]);
            assert_eq!(total, 5);
        }
    }
}
