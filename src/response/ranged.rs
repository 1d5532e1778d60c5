//! A body that sends chosen segments of a representation: literals (multipart boundaries) as
//! they are, spans read from a [`SpanSource`]: another body streamed once (206 answers built
//! from any [`Body`] of known length, here) or a file (`files`).

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http_body::{Body as _, Frame, SizeHint};

use super::range::{ByteRange, Segment};
use crate::body::{Body, BoxError};

/// Sends `segments` of `inner`: literals as they are, spans cut from `inner` as it streams by.
/// Spans must be in ascending, non-overlapping order (what `parse_range` returns); the rest of
/// `inner` is dropped unread once the last segment is out.
pub(crate) fn ranged_body(inner: Body, segments: Vec<Segment>, total: u64) -> Body {
    let source = Streamed {
        inner,
        buf: Bytes::new(),
        buf_start: 0,
        read: 0,
    };
    Body::new(SegmentsBody::new(segments, total, source))
}

/// Where a [`SegmentsBody`] reads the bytes of its spans.
pub(crate) trait SpanSource {
    /// The next bytes of `span`: their offset in the representation (`span.first`, unless the
    /// source is already past it) and at least one byte, at most up to `span.last`.
    fn poll_span(
        &mut self,
        cx: &mut Context<'_>,
        span: ByteRange,
    ) -> Poll<Result<(u64, Bytes), BoxError>>;

    /// `next` will be asked for after what was just read: a source may start on it now (a file
    /// reads the next chunk while this one is written). Default: nothing.
    fn read_ahead(&mut self, _next: ByteRange) {}
}

/// A body of `segments`, `total` bytes in all, the spans read from `source`.
pub(crate) struct SegmentsBody<S> {
    segments: Segments,
    source: S,
}

impl<S> SegmentsBody<S> {
    pub(crate) fn new(segments: Vec<Segment>, total: u64, source: S) -> Self {
        SegmentsBody {
            segments: Segments::new(segments, total),
            source,
        }
    }
}

impl<S: SpanSource + Unpin> http_body::Body for SegmentsBody<S> {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        let span = match this.segments.next() {
            Next::Done => return Poll::Ready(None),
            Next::Literal(bytes) => return Poll::Ready(Some(Ok(Frame::data(bytes)))),
            Next::Span(span) => span,
        };
        let (from, bytes) = match ready!(this.source.poll_span(cx, span)) {
            Ok(read) => read,
            Err(e) => return Poll::Ready(Some(Err(e))),
        };
        this.segments
            .sent_span_until(from + bytes.len() as u64, bytes.len());
        if let Some(next) = this.segments.next_span() {
            this.source.read_ahead(next);
        }
        Poll::Ready(Some(Ok(Frame::data(bytes))))
    }

    fn is_end_stream(&self) -> bool {
        self.segments.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        self.segments.size_hint()
    }
}

/// The segments still to send and how many bytes they hold.
#[derive(Debug)]
struct Segments {
    queue: VecDeque<Segment>,
    remaining: u64,
}

/// What to send next.
enum Next {
    /// Everything was sent.
    Done,
    /// These bytes, as they are.
    Literal(Bytes),
    /// Bytes of the representation, from `first` on (what is left of the current span).
    Span(ByteRange),
}

impl Segments {
    fn new(segments: Vec<Segment>, total: u64) -> Self {
        Segments {
            queue: segments.into(),
            remaining: total,
        }
    }

    /// The next thing to send; a literal is taken off the queue.
    fn next(&mut self) -> Next {
        match self.queue.front_mut() {
            None => Next::Done,
            Some(Segment::Span(span)) => Next::Span(*span),
            Some(Segment::Literal(bytes)) => {
                let bytes = std::mem::take(bytes);
                self.queue.pop_front();
                self.remaining = self.remaining.saturating_sub(bytes.len() as u64);
                Next::Literal(bytes)
            }
        }
    }

    /// The span to send next, when no literal comes first.
    fn next_span(&self) -> Option<ByteRange> {
        match self.queue.front() {
            Some(Segment::Span(span)) => Some(*span),
            _ => None,
        }
    }

    /// Records that the current span was sent up to offset `to` (exclusive), `n` bytes.
    fn sent_span_until(&mut self, to: u64, n: usize) {
        self.remaining = self.remaining.saturating_sub(n as u64);
        if let Some(Segment::Span(span)) = self.queue.front_mut() {
            if to > span.last {
                self.queue.pop_front();
            } else {
                span.first = to;
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

/// Spans cut from a body as it streams by, read once.
struct Streamed {
    inner: Body,
    /// Bytes of `inner` starting at offset `buf_start`, not yet sent or skipped.
    buf: Bytes,
    buf_start: u64,
    /// How many bytes of `inner` have been read.
    read: u64,
}

impl SpanSource for Streamed {
    fn poll_span(
        &mut self,
        cx: &mut Context<'_>,
        span: ByteRange,
    ) -> Poll<Result<(u64, Bytes), BoxError>> {
        loop {
            if self.buf.is_empty() {
                match ready!(Pin::new(&mut self.inner).poll_frame(cx)) {
                    Some(Ok(frame)) => {
                        if let Ok(data) = frame.into_data() {
                            self.buf_start = self.read;
                            self.read += data.len() as u64;
                            self.buf = data;
                        }
                        continue;
                    }
                    Some(Err(e)) => return Poll::Ready(Err(e)),
                    None => {
                        return Poll::Ready(Err("the body ended before the requested range".into()))
                    }
                }
            }
            let buf_end = self.buf_start + self.buf.len() as u64;
            if buf_end <= span.first {
                self.buf = Bytes::new();
                continue;
            }
            let from = span.first.max(self.buf_start);
            let to = (span.last + 1).min(buf_end);
            // Offsets inside `buf`, which is at most `usize` long.
            let skip = (from - self.buf_start) as usize;
            let take = (to - from) as usize;
            let _ = self.buf.split_to(skip);
            let out = self.buf.split_to(take);
            self.buf_start = to;
            return Poll::Ready(Ok((from, out)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::response::range::multipart_layout;
    use futures_util::stream;

    fn chunked(data: &'static [u8], chunk: usize) -> Body {
        Body::from_stream(stream::iter(
            data.chunks(chunk)
                .map(|c| Ok::<_, std::io::Error>(Bytes::from_static(c))),
        ))
    }

    async fn collect(body: Body) -> Vec<u8> {
        crate::body::to_bytes(body, 1 << 20)
            .await
            .expect("body")
            .to_vec()
    }

    #[tokio::test]
    async fn cuts_spans_across_chunks() {
        const DATA: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
        for chunk in [1, 3, 7, 36, 100] {
            let segments = vec![
                Segment::Span(ByteRange::new(2, 4)),
                Segment::Literal(Bytes::from_static(b"|")),
                Segment::Span(ByteRange::new(10, 12)),
                Segment::Span(ByteRange::new(30, 35)),
            ];
            let body = ranged_body(chunked(DATA, chunk), segments, 13);
            assert_eq!(collect(body).await, b"234|abcuvwxyz", "chunk {chunk}");
        }
    }

    #[tokio::test]
    async fn multipart_over_a_full_body() {
        let (segments, total) =
            multipart_layout(&[ByteRange::new(0, 1), ByteRange::new(4, 5)], 6, None, "b");
        let body = ranged_body(Body::from("abcdef"), segments, total);
        assert_eq!(http_body::Body::size_hint(&body).exact(), Some(total));
        let out = collect(body).await;
        assert_eq!(out.len() as u64, total);
        assert_eq!(
            out,
            b"--b\r\nContent-Range: bytes 0-1/6\r\n\r\nab\r\n--b\r\nContent-Range: bytes 4-5/6\r\n\r\nef\r\n--b--\r\n"
        );
    }

    #[tokio::test]
    async fn short_inner_body_is_an_error() {
        let body = ranged_body(
            Body::from("abc"),
            vec![Segment::Span(ByteRange::new(2, 9))],
            8,
        );
        assert!(crate::body::to_bytes(body, 100).await.is_err());
    }
}
