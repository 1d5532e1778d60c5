//! Streaming segments of an open file: seek to each span, read it in bounded chunks.

use std::io::{self, SeekFrom};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{BufMut, Bytes, BytesMut};
use http_body::{Frame, SizeHint};
use tokio::fs::File;
use tokio::io::AsyncSeek;

use crate::body::{Body, BoxError};
use crate::response::range::Segment;
use crate::response::ranged::{Next, Segments};

/// How much of a file is read at once: 64 KiB.
const CHUNK: usize = 64 * 1024;

/// A body sending `segments` of `file`, `total` bytes in all, never holding more than one
/// chunk in memory.
pub(crate) fn file_body(file: File, segments: Vec<Segment>, total: u64) -> Body {
    Body::new(FileBody {
        file,
        segments: Segments::new(segments, total),
        pos: 0,
        seeking: false,
        buf: BytesMut::new(),
    })
}

struct FileBody {
    file: File,
    segments: Segments,
    /// The file's read position.
    pos: u64,
    seeking: bool,
    buf: BytesMut,
}

impl http_body::Body for FileBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        loop {
            let span = match this.segments.next() {
                Next::Done => return Poll::Ready(None),
                Next::Literal(bytes) => return Poll::Ready(Some(Ok(Frame::data(bytes)))),
                Next::Span(span) => span,
            };
            if this.pos != span.first {
                if !this.seeking {
                    Pin::new(&mut this.file).start_seek(SeekFrom::Start(span.first))?;
                    this.seeking = true;
                }
                this.pos = ready!(Pin::new(&mut this.file).poll_complete(cx))?;
                this.seeking = false;
                if this.pos != span.first {
                    return Poll::Ready(Some(Err(io::Error::other("seek went astray").into())));
                }
                continue;
            }
            let want = usize::try_from(span.len()).unwrap_or(usize::MAX).min(CHUNK);
            this.buf.reserve(want);
            let n = ready!(tokio_util::io::poll_read_buf(
                Pin::new(&mut this.file),
                cx,
                &mut (&mut this.buf).limit(want)
            ))?;
            if n == 0 {
                return Poll::Ready(Some(Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the file shrank while it was being sent",
                )
                .into())));
            }
            this.pos += n as u64;
            this.segments.sent_span_until(this.pos, n);
            return Poll::Ready(Some(Ok(Frame::data(this.buf.split().freeze()))));
        }
    }

    fn is_end_stream(&self) -> bool {
        self.segments.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        self.segments.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::response::range::{multipart_layout, ByteRange};

    #[tokio::test]
    async fn reads_spans_in_chunks() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).expect("write");
        let ranges = [ByteRange::new(5, 70_004), ByteRange::new(150_000, 199_999)];
        let (segments, total) = multipart_layout(&ranges, 200_000, None, "B");
        let file = File::open(&path).await.expect("open");
        let body = file_body(file, segments, total);
        let out = crate::body::to_bytes(body, 1 << 20).await.expect("body");
        assert_eq!(out.len() as u64, total);
        let head = b"--B\r\nContent-Range: bytes 5-70004/200000\r\n\r\n";
        assert_eq!(&out[..head.len()], head);
        assert_eq!(&out[head.len()..head.len() + 70_000], &data[5..70_005]);
        assert!(out.ends_with(b"\r\n--B--\r\n"));
    }
}
