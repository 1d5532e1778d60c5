//! Streaming segments of an open file: each blocking call reads the next chunk of the current
//! span, and the next read starts as soon as a chunk is handed over.

use std::fs::File;
use std::future::Future;
use std::io::{self, Read, Seek, SeekFrom};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use tokio::task::JoinHandle;

use super::{FileIo, CHUNK_SIZE};
use crate::body::{Body, BoxError};
use crate::response::range::{ByteRange, Segment};
use crate::response::ranged::{Next, Segments};

/// A body sending `segments` of `file`, `total` bytes in all, [`CHUNK_SIZE`] bytes per read.
/// With [`FileIo::Pool`], one blocking call per chunk, the next one read while the last is
/// written: never more than two chunks in memory. With [`FileIo::InPlace`], each chunk is read
/// when the server asks for it, on the runtime thread.
pub(crate) fn file_body(file: File, segments: Vec<Segment>, total: u64, io: FileIo) -> Body {
    Body::new(FileBody {
        in_place: io == FileIo::InPlace,
        state: State::Idle(Some(file)),
        segments: Segments::new(segments, total),
        pending: None,
    })
}

struct FileBody {
    in_place: bool,
    state: State,
    segments: Segments,
    /// A literal taken off the queue while starting the next read: sent next.
    pending: Option<Bytes>,
}

enum State {
    /// No read under way; `None` once the file is gone (an error, or the end).
    Idle(Option<File>),
    /// A blocking read of the span starting at `first`.
    Reading {
        first: u64,
        read: JoinHandle<(File, io::Result<Bytes>)>,
    },
}

impl FileBody {
    /// Takes the next segment: a literal is kept in `pending`, a span starts a read.
    fn start_next(&mut self) {
        match self.segments.next() {
            Next::Done => {}
            Next::Literal(bytes) => self.pending = Some(bytes),
            Next::Span(span) => {
                if let State::Idle(Some(file)) =
                    std::mem::replace(&mut self.state, State::Idle(None))
                {
                    // The buffer is allocated here, on the runtime thread that frees it once
                    // written: an allocator's per-thread caches then stay on one thread
                    // (allocated on the blocking threads, mimalloc held 1 GB with 200 of them).
                    let buf = chunk_buffer(span);
                    self.state = State::Reading {
                        first: span.first,
                        read: tokio::task::spawn_blocking(move || read_chunk(file, span, buf)),
                    };
                }
            }
        }
    }
}

impl FileBody {
    /// Records a chunk read from offset `first` as sent, and makes it a frame.
    fn sent(&mut self, first: u64, result: io::Result<Bytes>) -> Result<Frame<Bytes>, BoxError> {
        let bytes = result.inspect_err(|_| self.state = State::Idle(None))?;
        if bytes.is_empty() {
            self.state = State::Idle(None);
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file shrank while it was being sent",
            )
            .into());
        }
        let n = bytes.len();
        self.segments.sent_span_until(first + n as u64, n);
        Ok(Frame::data(bytes))
    }
}

/// An empty buffer for the next chunk of `span`.
fn chunk_buffer(span: ByteRange) -> Vec<u8> {
    // At most CHUNK_SIZE, a usize.
    Vec::with_capacity(span.len().min(CHUNK_SIZE as u64) as usize)
}

/// Reads the next chunk of `span` into `buf`: as many bytes as it can hold, fewer only at the
/// end of the file.
fn read_chunk(mut file: File, span: ByteRange, mut buf: Vec<u8>) -> (File, io::Result<Bytes>) {
    let want = span.len().min(CHUNK_SIZE as u64);
    let result = file
        .seek(SeekFrom::Start(span.first))
        .and_then(|_| (&mut file).take(want).read_to_end(&mut buf))
        .map(|_| Bytes::from(buf));
    (file, result)
}

impl http_body::Body for FileBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if let Some(bytes) = this.pending.take() {
            return Poll::Ready(Some(Ok(Frame::data(bytes))));
        }
        if this.in_place {
            let span = match this.segments.next() {
                Next::Done => return Poll::Ready(None),
                Next::Literal(bytes) => return Poll::Ready(Some(Ok(Frame::data(bytes)))),
                Next::Span(span) => span,
            };
            let State::Idle(Some(file)) = std::mem::replace(&mut this.state, State::Idle(None))
            else {
                return Poll::Ready(None);
            };
            let (file, result) = read_chunk(file, span, chunk_buffer(span));
            this.state = State::Idle(Some(file));
            return Poll::Ready(Some(this.sent(span.first, result)));
        }
        if let State::Idle(_) = this.state {
            this.start_next();
            if let Some(bytes) = this.pending.take() {
                return Poll::Ready(Some(Ok(Frame::data(bytes))));
            }
        }
        let State::Reading { first, read } = &mut this.state else {
            // Done, or the file is gone after an error.
            return Poll::Ready(None);
        };
        let first = *first;
        let (file, result) = ready!(Pin::new(read).poll(cx)).map_err(io::Error::other)?;
        this.state = State::Idle(Some(file));
        let frame = this.sent(first, result);
        if frame.is_ok() {
            // Read ahead: the next chunk is read while this one is written.
            this.start_next();
        }
        Poll::Ready(Some(frame))
    }

    fn is_end_stream(&self) -> bool {
        self.pending.is_none()
            && !matches!(self.state, State::Reading { .. })
            && self.segments.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        let mut hint = self.segments.size_hint();
        // `Segments` counts a literal as sent when it is taken off the queue.
        if let Some(bytes) = &self.pending {
            let n = hint.lower() + bytes.len() as u64;
            hint.set_exact(n);
        }
        hint
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::response::range::multipart_layout;

    #[tokio::test]
    async fn reads_spans_in_chunks() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        let data: Vec<u8> = (0..600_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).expect("write");
        let ranges = [ByteRange::new(5, 300_004), ByteRange::new(550_000, 599_999)];
        let (segments, total) = multipart_layout(&ranges, 600_000, None, "B");
        for io in [FileIo::Pool, FileIo::InPlace] {
            let file = File::open(&path).expect("open");
            let body = file_body(file, segments.clone(), total, io);
            let out = crate::body::to_bytes(body, 1 << 20).await.expect("body");
            assert_eq!(out.len() as u64, total);
            let head = b"--B\r\nContent-Range: bytes 5-300004/600000\r\n\r\n";
            assert_eq!(&out[..head.len()], head);
            assert_eq!(&out[head.len()..head.len() + 300_000], &data[5..300_005]);
            assert!(out.ends_with(b"\r\n--B--\r\n"));
        }
    }

    #[tokio::test]
    async fn a_file_that_shrank_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        std::fs::write(&path, vec![7u8; 1000]).expect("write");
        for io in [FileIo::Pool, FileIo::InPlace] {
            let file = File::open(&path).expect("open");
            let span = vec![Segment::Span(ByteRange::new(0, 1999))];
            let body = file_body(file, span, 2000, io);
            assert!(crate::body::to_bytes(body, 1 << 20).await.is_err());
        }
    }
}
