//! The bytes of an upstream's answer heads, checked before hyper reads them.
//!
//! hyper's client (httparse) takes a bare LF as a line end in an answer head, as RFC 9112 §2.2
//! lets a recipient do. A gateway that passes such an answer on vouches for a message that
//! another reader (a cache, a client, a second proxy) may split differently, so an upstream
//! that sends one gets a `502`, as for every other framing it could lie with. httparse has no
//! switch for it, so [`HeadGuard`] sits between the upstream connection and hyper: while an
//! answer head is due it reads into a buffer of its thread, looks at every line end, and hands the
//! bytes on; once the head has ended it steps aside until the pool sends the next request on
//! the connection ([`AnswerDue`]). It also refuses a flood of informational (`1xx`) answers
//! before the final one.
//!
//! Bodies are not scanned: hyper's chunked decoder already requires CRLF, and a
//! `Content-Length` body is bytes.

use std::cell::RefCell;
use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use hyper::rt::{Read, ReadBuf, ReadBufCursor, Write};

/// How many informational (`1xx`) answers may come before the final one.
pub(super) const MAX_INFORMATIONAL: u16 = 32;

/// How much one read takes while a head is due (the rest of a larger head comes in the next).
const SCRATCH: usize = 8 * 1024;

/// Why an answer head was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeadError {
    /// A line of the head ended with a bare LF (no CR before it).
    BareLf,
    /// More than [`MAX_INFORMATIONAL`] `1xx` answers came before the final one.
    TooManyInformational,
}

impl fmt::Display for HeadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeadError::BareLf => f.write_str("a line of its answer head ended with a bare LF"),
            HeadError::TooManyInformational => write!(
                f,
                "it sent more than {MAX_INFORMATIONAL} informational (1xx) answers before the final one"
            ),
        }
    }
}

impl std::error::Error for HeadError {}

/// Set by the pool when it sends a request on the connection: the next bytes start an answer.
#[derive(Debug, Default)]
pub(crate) struct AnswerDue(AtomicBool);

impl AnswerDue {
    /// A request is about to go out on the connection.
    pub(crate) fn expect(&self) {
        self.0.store(true, Ordering::Release);
    }

    fn take(&self) -> bool {
        // A load first: in a body, reads see `false` without a read-modify-write.
        self.0.load(Ordering::Acquire) && self.0.swap(false, Ordering::AcqRel)
    }
}

/// Where a scan of a head stands.
#[derive(Debug, Clone)]
struct HeadScan {
    /// The byte before the current one.
    last: u8,
    /// Whether the current line has had nothing but a CR so far.
    blank: bool,
    /// The first bytes of the status line (`HTTP/1.1 204`).
    start: [u8; 12],
    seen: usize,
    informational: u16,
}

impl HeadScan {
    fn new() -> Self {
        HeadScan {
            last: 0,
            blank: false,
            start: [0; 12],
            seen: 0,
            informational: 0,
        }
    }

    /// Scans `bytes`: `Ok(Some(n))` when the head (the final one, not a `1xx`) ended after
    /// `n` of them, `Ok(None)` when it goes on past them. The first bytes of a status line go
    /// one by one; the rest line by line, from one LF to the next (`memchr`).
    fn scan(&mut self, bytes: &[u8]) -> Result<Option<usize>, HeadError> {
        let mut pos = 0;
        while pos < bytes.len() {
            if self.seen < self.start.len() {
                let b = bytes[pos];
                pos += 1;
                if self.step(b)? {
                    return Ok(Some(pos));
                }
                continue;
            }
            let rest = &bytes[pos..];
            let Some(at) = memchr::memchr(b'\n', rest) else {
                if rest.iter().any(|&b| b != b'\r') {
                    self.blank = false;
                }
                self.last = rest[rest.len() - 1];
                return Ok(None);
            };
            let before = if at > 0 { rest[at - 1] } else { self.last };
            if before != b'\r' {
                return Err(HeadError::BareLf);
            }
            pos += at + 1;
            if self.blank && rest[..at].iter().all(|&b| b == b'\r') {
                if self.end_of_head()? {
                    return Ok(Some(pos));
                }
            } else {
                self.blank = true;
                self.last = b'\n';
            }
        }
        Ok(None)
    }

    /// One byte of the head: whether the head (the final one) ended with it.
    fn step(&mut self, b: u8) -> Result<bool, HeadError> {
        // Empty lines before the status line (which httparse skips) are not its start.
        if self.seen < self.start.len() && !(self.seen == 0 && (b == b'\r' || b == b'\n')) {
            self.start[self.seen] = b;
            self.seen += 1;
        }
        match b {
            b'\n' if self.last != b'\r' => return Err(HeadError::BareLf),
            b'\n' if self.blank => return self.end_of_head(),
            b'\n' => self.blank = self.seen > 0,
            b'\r' => {}
            _ => self.blank = false,
        }
        self.last = b;
        Ok(false)
    }

    /// At the blank line that ends a head: true for the final head; after a `1xx`, the scan
    /// starts over for the next head.
    fn end_of_head(&mut self) -> Result<bool, HeadError> {
        if !self.is_interim() {
            return Ok(true);
        }
        let informational = self.informational + 1;
        if informational > MAX_INFORMATIONAL {
            return Err(HeadError::TooManyInformational);
        }
        *self = HeadScan {
            informational,
            ..HeadScan::new()
        };
        Ok(false)
    }

    /// Whether the head just ended is a `1xx` after which another head comes (not `101`,
    /// after which the connection is no longer HTTP).
    fn is_interim(&self) -> bool {
        let status = &self.start[9..12];
        self.seen == self.start.len() && status[0] == b'1' && status != b"101"
    }
}

/// An upstream connection whose answer heads are checked before hyper reads them.
pub(crate) struct HeadGuard<T> {
    inner: T,
    due: Arc<AnswerDue>,
    /// `Some` while a head is being read.
    head: Option<HeadScan>,
}

impl<T> HeadGuard<T> {
    /// Wraps a fresh connection, on which the first bytes are an answer head.
    pub(crate) fn new(inner: T, due: Arc<AnswerDue>) -> Self {
        HeadGuard {
            inner,
            due,
            head: Some(HeadScan::new()),
        }
    }
}

thread_local! {
    /// The buffer a head is read into before hyper gets it: one per thread, used only within
    /// one `poll_read`, so an upstream connection costs no memory of its own for it.
    static SCRATCH_BUF: RefCell<Box<[u8]>> = RefCell::new(vec![0; SCRATCH].into_boxed_slice());
}

impl<T: Read + Unpin> Read for HeadGuard<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.due.take() {
            this.head = Some(HeadScan::new());
        }
        let Some(scan) = this.head.as_mut() else {
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        };
        let inner = &mut this.inner;
        let ended = SCRATCH_BUF.with_borrow_mut(|scratch| {
            let want = buf.remaining().min(scratch.len());
            let mut read = ReadBuf::new(&mut scratch[..want]);
            ready!(Pin::new(inner).poll_read(cx, read.unfilled()))?;
            let got = read.filled();
            let ended = scan
                .scan(got)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            buf.put_slice(got);
            Poll::Ready(Ok::<_, io::Error>(ended.is_some()))
        });
        if ready!(ended)? {
            this.head = None;
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: Write + Unpin> Write for HeadGuard<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }
}

/// The head error behind an upstream failure, if that is what it was.
pub(super) fn head_error(err: &io::Error) -> Option<HeadError> {
    err.get_ref()?.downcast_ref::<HeadError>().copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_all(parts: &[&str]) -> Result<Option<usize>, HeadError> {
        let mut scan = HeadScan::new();
        let mut offset = 0;
        for part in parts {
            if let Some(n) = scan.scan(part.as_bytes())? {
                return Ok(Some(offset + n));
            }
            offset += part.len();
        }
        Ok(None)
    }

    #[test]
    fn a_head_ends_at_its_blank_line_and_its_body_is_not_read() {
        let answer = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\na\nb";
        assert_eq!(scan_all(&[answer]), Ok(Some(answer.len() - 3)));
    }

    #[test]
    fn a_head_split_anywhere_ends_in_the_same_place() {
        let answer = "HTTP/1.1 200 OK\r\nX-A: 1\r\n\r\nbody";
        for cut in 0..answer.len() {
            let (a, b) = answer.split_at(cut);
            assert_eq!(
                scan_all(&[a, b]),
                Ok(Some(answer.len() - 4)),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn a_bare_lf_anywhere_in_a_head_is_refused() {
        for answer in [
            "HTTP/1.1 200 OK\nContent-Length: 2\r\n\r\nok",
            "HTTP/1.1 200 OK\r\nContent-Length: 2\n\r\nok",
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\nok",
            "HTTP/1.1 200 OK\nContent-Length: 2\n\nok",
            "HTTP/1.1 100 Continue\n\nHTTP/1.1 200 OK\r\n\r\n",
        ] {
            assert_eq!(scan_all(&[answer]), Err(HeadError::BareLf), "{answer:?}");
        }
    }

    #[test]
    fn informational_heads_are_followed_by_the_final_one() {
        let answer = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n\
                      HTTP/1.1 200 OK\r\n\r\nx\ny";
        assert_eq!(scan_all(&[answer]), Ok(Some(answer.len() - 3)));
        let flood = "HTTP/1.1 100 Continue\r\n\r\n".repeat(usize::from(MAX_INFORMATIONAL) + 1);
        assert_eq!(scan_all(&[&flood]), Err(HeadError::TooManyInformational));
        let bearable = "HTTP/1.1 100 Continue\r\n\r\n".repeat(usize::from(MAX_INFORMATIONAL));
        assert_eq!(
            scan_all(&[&bearable, "HTTP/1.1 204 No Content\r\n\r\n"]).map(|n| n.is_some()),
            Ok(true)
        );
    }

    #[test]
    fn a_101_ends_the_scan() {
        let answer = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\nraw\nbytes";
        assert_eq!(scan_all(&[answer]), Ok(Some(answer.len() - 9)));
    }

    #[test]
    fn empty_lines_before_the_status_line_do_not_end_the_head() {
        let answer = "\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n";
        assert_eq!(scan_all(&[answer]), Ok(Some(answer.len())));
    }

    /// The scan done one byte at a time (`step` alone): what the line-by-line scan must agree
    /// with.
    fn bytewise(bytes: &[u8]) -> Result<Option<usize>, HeadError> {
        let mut scan = HeadScan::new();
        for (i, &b) in bytes.iter().enumerate() {
            if scan.step(b)? {
                return Ok(Some(i + 1));
            }
        }
        Ok(None)
    }

    #[test]
    fn any_bytes_cut_anywhere_scan_as_they_do_whole() {
        // Heads built from pieces that matter (mostly CRLF line ends, now and then a bare LF
        // or CR), cut into three reads at random places.
        let pieces = [
            "\r\n",
            "\r\n",
            "\r\n",
            "\r\n",
            "HTTP/1.1 100 Continue",
            "HTTP/1.1 200 OK",
            "HTTP/1.1 101 Up",
            "X-A: 1",
            "a",
            "\n",
            "\r",
        ];
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            usize::try_from(seed % n as u64).unwrap()
        };
        let (mut ended, mut refused) = (0, 0);
        for _ in 0..20_000 {
            let text: String = (0..1 + next(16))
                .map(|_| pieces[next(pieces.len())])
                .collect();
            let len = text.len();
            let (a, b) = (next(len + 1), next(len + 1));
            let (a, b) = (a.min(b), a.max(b));
            let whole = scan_all(&[&text]);
            assert_eq!(whole, bytewise(text.as_bytes()), "{text:?} byte by byte");
            assert_eq!(
                whole,
                scan_all(&[&text[..a], &text[a..b], &text[b..]]),
                "{text:?} cut at {a} and {b}"
            );
            match whole {
                Ok(Some(_)) => ended += 1,
                Err(_) => refused += 1,
                Ok(None) => {}
            }
        }
        assert!(
            ended > 1_000 && refused > 1_000,
            "{ended} ended, {refused} refused"
        );
    }
}
