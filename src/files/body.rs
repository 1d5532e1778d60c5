//! Streaming segments of an open file: each blocking call reads the next chunk of the current
//! span, and the next read starts as soon as a chunk is handed over.

use std::fs::File;
use std::future::Future;
use std::io::{self, Read, Seek, SeekFrom};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use tokio::task::JoinHandle;

use super::FileIo;
use crate::body::{Body, BoxError};
use crate::response::range::{ByteRange, Segment};
use crate::response::ranged::{SegmentsBody, SpanSource};

/// A body sending `segments` of `file`, `total` bytes in all, `chunk` bytes per read
/// ([`chunk_size`](super::chunk_size)).
/// With [`FileIo::Pool`], one blocking call per chunk, the next one read while the last is
/// written: never more than two chunks in memory. With [`FileIo::InPlace`], each chunk is read
/// when the server asks for it, on the runtime thread.
pub(crate) fn file_body(
    file: File,
    (segments, total): (Vec<Segment>, u64),
    io: FileIo,
    chunk: usize,
) -> Body {
    let source = FileSource {
        in_place: io == FileIo::InPlace,
        chunk: chunk.max(1) as u64,
        state: State::Idle(Some(file)),
    };
    Body::new(SegmentsBody::new(segments, total, source))
}

/// The spans of a file, read chunk by chunk.
struct FileSource {
    in_place: bool,
    /// Bytes per read.
    chunk: u64,
    state: State,
}

enum State {
    /// No read under way; `None` once the file is gone (after an error).
    Idle(Option<File>),
    /// A blocking read of the span starting at `first`.
    Reading {
        first: u64,
        read: JoinHandle<(File, io::Result<Bytes>)>,
    },
}

impl FileSource {
    /// Starts reading the next chunk of `span` on the blocking pool, unless a read is under
    /// way or the file is gone.
    fn start(&mut self, span: ByteRange) {
        if !matches!(self.state, State::Idle(Some(_))) {
            return;
        }
        if let State::Idle(Some(file)) = std::mem::replace(&mut self.state, State::Idle(None)) {
            // The buffer is allocated here, on the runtime thread that frees it once written:
            // an allocator's per-thread caches then stay on one thread (allocated on the
            // blocking threads, mimalloc held 1 GB with 200 of them).
            let span = head(span, self.chunk);
            let buf = chunk_buffer(span);
            self.state = State::Reading {
                first: span.first,
                read: tokio::task::spawn_blocking(move || read_chunk(file, span, buf)),
            };
        }
    }

    /// A chunk read from offset `first`, the file back for the next one; an error or an empty
    /// read (the file shrank) closes the file.
    fn chunk(&mut self, first: u64, file: File, result: io::Result<Bytes>) -> ChunkResult {
        let bytes = result?;
        if bytes.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file shrank while it was being sent",
            )
            .into());
        }
        self.state = State::Idle(Some(file));
        Ok((first, bytes))
    }
}

type ChunkResult = Result<(u64, Bytes), BoxError>;

impl SpanSource for FileSource {
    fn poll_span(&mut self, cx: &mut Context<'_>, span: ByteRange) -> Poll<ChunkResult> {
        if self.in_place {
            let State::Idle(Some(file)) = std::mem::replace(&mut self.state, State::Idle(None))
            else {
                return Poll::Ready(Err(gone()));
            };
            let span = head(span, self.chunk);
            let (file, result) = read_chunk(file, span, chunk_buffer(span));
            return Poll::Ready(self.chunk(span.first, file, result));
        }
        self.start(span);
        let State::Reading { first, read } = &mut self.state else {
            return Poll::Ready(Err(gone()));
        };
        let first = *first;
        let joined = ready!(Pin::new(read).poll(cx));
        self.state = State::Idle(None);
        let (file, result) = joined.map_err(io::Error::other)?;
        Poll::Ready(self.chunk(first, file, result))
    }

    fn read_ahead(&mut self, next: ByteRange) {
        if !self.in_place {
            self.start(next);
        }
    }
}

/// Why nothing more is read: an earlier read failed and closed the file.
fn gone() -> BoxError {
    "the file was closed after an earlier read failed".into()
}

/// The first `chunk` bytes of `span` (`chunk` ≥ 1), or all of it.
fn head(span: ByteRange, chunk: u64) -> ByteRange {
    ByteRange::new(
        span.first,
        span.last.min(span.first.saturating_add(chunk - 1)),
    )
}

/// An empty buffer for `span` (at most one chunk, so a usize).
fn chunk_buffer(span: ByteRange) -> Vec<u8> {
    Vec::with_capacity(span.len() as usize)
}

/// Reads `span` (one chunk) into `buf`, fewer bytes only at the end of the file.
fn read_chunk(mut file: File, span: ByteRange, mut buf: Vec<u8>) -> (File, io::Result<Bytes>) {
    let want = span.len();
    let result = file
        .seek(SeekFrom::Start(span.first))
        .and_then(|_| (&mut file).take(want).read_to_end(&mut buf))
        .map(|_| Bytes::from(buf));
    (file, result)
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
            let body = file_body(file, (segments.clone(), total), io, 100_000);
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
            let body = file_body(file, (span, 2000), io, super::super::CHUNK_SIZE);
            assert!(crate::body::to_bytes(body, 1 << 20).await.is_err());
        }
    }
}
