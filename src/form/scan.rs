//! The framing scanner: watches the raw bytes of a `multipart/form-data` body on their way into
//! `multer` and enforces the limits `multer` does not have (bytes before the first boundary,
//! header bytes per part, number of parts) before anything is buffered.
//!
//! It follows `multer`'s reading of the framing exactly: the first boundary is the first
//! `--BOUNDARY` anywhere, a part's headers run from the CRLF after its boundary line (after
//! optional spaces and tabs) to the first blank line, and its data runs to the next
//! `CRLF--BOUNDARY`. `--` right after a boundary ends the body. So a part header that never
//! ends is cut after `max_header_bytes`, whatever `multer` would have buffered.

use std::fmt;

/// What the scanner refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScanError {
    /// More than the header limit before the first boundary.
    PreambleTooLong,
    /// A part's headers (or the padding before them) passed the header limit.
    HeaderTooLarge,
    /// One part more than the limit began.
    TooManyParts,
}

impl fmt::Display for ScanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ScanError::PreambleTooLong => "no boundary within the header limit",
            ScanError::HeaderTooLarge => "part header over the limit",
            ScanError::TooManyParts => "too many parts",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the first `--BOUNDARY`.
    Preamble,
    /// Right after a boundary: `--` ends the body, anything else starts a part. Holds the first
    /// byte seen, if any.
    AfterBoundary(Option<u8>),
    /// Spaces and tabs after a boundary.
    Padding,
    /// Expecting the LF of the boundary line's CRLF.
    Lf,
    /// Inside a part's headers, looking for the blank line.
    Headers,
    /// Inside a part's data, looking for `CRLF--BOUNDARY`.
    Body,
    /// After the closing boundary: the epilogue is not looked at.
    Done,
}

/// A streaming Knuth–Morris–Pratt matcher: finds a pattern across chunk boundaries without
/// keeping any of the input.
#[derive(Debug, Clone)]
struct Matcher {
    pattern: Vec<u8>,
    fail: Vec<usize>,
    matched: usize,
}

impl Matcher {
    fn new(pattern: Vec<u8>) -> Self {
        debug_assert!(!pattern.is_empty());
        let mut fail = vec![0; pattern.len()];
        let mut k = 0;
        for i in 1..pattern.len() {
            while k > 0 && pattern[i] != pattern[k] {
                k = fail[k - 1];
            }
            if pattern[i] == pattern[k] {
                k += 1;
            }
            fail[i] = k;
        }
        Matcher {
            pattern,
            fail,
            matched: 0,
        }
    }

    fn reset(&mut self) {
        self.matched = 0;
    }

    /// Feeds one byte; true when it completes the pattern (the matcher then starts afresh).
    fn step(&mut self, byte: u8) -> bool {
        while self.matched > 0 && self.pattern[self.matched] != byte {
            self.matched = self.fail[self.matched - 1];
        }
        if self.pattern[self.matched] == byte {
            self.matched += 1;
        }
        if self.matched == self.pattern.len() {
            self.matched = 0;
            return true;
        }
        false
    }

    /// Feeds `data` until the pattern completes; returns how many bytes that took.
    fn find(&mut self, data: &[u8]) -> Option<usize> {
        let first = self.pattern[0];
        let mut i = 0;
        while i < data.len() {
            if self.matched == 0 {
                // Nothing half-matched: jump to the next possible start.
                i += data[i..].iter().position(|&b| b == first)?;
            }
            let byte = data[i];
            i += 1;
            if self.step(byte) {
                return Some(i);
            }
        }
        None
    }
}

/// Watches a multipart body's bytes in order and refuses it as soon as a limit is passed.
#[derive(Debug, Clone)]
pub(crate) struct Scanner {
    state: State,
    /// `--BOUNDARY`, the opening boundary.
    opening: Matcher,
    /// `CRLF--BOUNDARY`, the delimiter before every later boundary.
    delimiter: Matcher,
    /// `CRLFCRLF`, the end of a part's headers.
    header_end: Matcher,
    header_bytes: usize,
    max_header_bytes: usize,
    parts: usize,
    max_parts: usize,
}

impl Scanner {
    /// A scanner for `boundary` (without the leading `--`).
    pub(crate) fn new(boundary: &str, max_header_bytes: usize, max_parts: usize) -> Self {
        let opening = [b"--", boundary.as_bytes()].concat();
        let delimiter = [b"\r\n", &opening[..]].concat();
        Scanner {
            state: State::Preamble,
            opening: Matcher::new(opening),
            delimiter: Matcher::new(delimiter),
            header_end: Matcher::new(b"\r\n\r\n".to_vec()),
            header_bytes: 0,
            max_header_bytes,
            parts: 0,
            max_parts,
        }
    }

    /// How many parts have begun so far.
    #[cfg(test)]
    pub(crate) fn parts(&self) -> usize {
        self.parts
    }

    /// Whether the closing boundary was seen.
    #[cfg(test)]
    pub(crate) fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Looks at the next bytes of the body.
    pub(crate) fn feed(&mut self, data: &[u8]) -> Result<(), ScanError> {
        let mut i = 0;
        while i < data.len() {
            let rest = &data[i..];
            match self.state {
                State::Done => return Ok(()),
                State::Body => match self.delimiter.find(rest) {
                    Some(n) => {
                        i += n;
                        self.state = State::AfterBoundary(None);
                    }
                    None => return Ok(()),
                },
                State::Preamble => {
                    let found = self.opening.find(rest);
                    self.count(found.unwrap_or(rest.len()), ScanError::PreambleTooLong)?;
                    match found {
                        Some(n) => {
                            i += n;
                            self.state = State::AfterBoundary(None);
                        }
                        None => return Ok(()),
                    }
                }
                State::Headers => {
                    let found = self.header_end.find(rest);
                    self.count(found.unwrap_or(rest.len()), ScanError::HeaderTooLarge)?;
                    match found {
                        Some(n) => {
                            i += n;
                            self.enter_body();
                        }
                        None => return Ok(()),
                    }
                }
                State::AfterBoundary(None) => {
                    self.state = State::AfterBoundary(Some(rest[0]));
                    i += 1;
                }
                State::AfterBoundary(Some(first)) => {
                    i += 1;
                    if first == b'-' && rest[0] == b'-' {
                        self.state = State::Done;
                        return Ok(());
                    }
                    self.begin_part()?;
                    self.header_byte(first)?;
                    self.header_byte(rest[0])?;
                }
                State::Padding | State::Lf => {
                    self.header_byte(rest[0])?;
                    i += 1;
                }
            }
        }
        Ok(())
    }

    fn count(&mut self, n: usize, err: ScanError) -> Result<(), ScanError> {
        self.header_bytes = self.header_bytes.saturating_add(n);
        if self.header_bytes > self.max_header_bytes {
            return Err(err);
        }
        Ok(())
    }

    fn begin_part(&mut self) -> Result<(), ScanError> {
        self.parts += 1;
        if self.parts > self.max_parts {
            return Err(ScanError::TooManyParts);
        }
        self.header_bytes = 0;
        self.header_end.reset();
        self.state = State::Padding;
        Ok(())
    }

    fn enter_body(&mut self) {
        self.delimiter.reset();
        self.state = State::Body;
    }

    /// One byte between a boundary and the end of the part's headers.
    fn header_byte(&mut self, byte: u8) -> Result<(), ScanError> {
        self.count(1, ScanError::HeaderTooLarge)?;
        match self.state {
            State::Padding if byte == b' ' || byte == b'\t' => {}
            State::Padding if byte == b'\r' => self.state = State::Lf,
            // `multer` refuses anything else here; the scanner only has to keep counting.
            State::Padding | State::Lf => {
                let was_lf = self.state == State::Lf && byte == b'\n';
                self.state = State::Headers;
                if !was_lf && self.header_end.step(byte) {
                    self.enter_body();
                }
            }
            State::Headers => {
                if self.header_end.step(byte) {
                    self.enter_body();
                }
            }
            _ => unreachable!("header_byte is only called between a boundary and a body"),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = b"preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n\
        value with --XyZ inside\r\n--XyZ  \r\nContent-Disposition: form-data; name=\"f\"; \
        filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\n\r\n\r\nfile\r\n--XyZ--\r\nepilogue";

    fn scan_in_chunks(body: &[u8], chunk: usize, header: usize, parts: usize) -> Scanner {
        let mut s = Scanner::new("XyZ", header, parts);
        for c in body.chunks(chunk) {
            s.feed(c).unwrap();
        }
        s
    }

    #[test]
    fn counts_parts_and_sees_the_end_in_any_chunking() {
        for chunk in 1..=BODY.len() {
            let s = scan_in_chunks(BODY, chunk, 200, 2);
            assert_eq!(s.parts(), 2, "chunk size {chunk}");
            assert!(s.is_done(), "chunk size {chunk}");
        }
    }

    #[test]
    fn refuses_one_part_too_many() {
        let mut s = Scanner::new("XyZ", 200, 1);
        assert_eq!(s.feed(BODY), Err(ScanError::TooManyParts));
    }

    #[test]
    fn refuses_a_header_that_never_ends() {
        let mut s = Scanner::new("b", 100, 10);
        s.feed(b"--b\r\nContent-Disposition: form-data; name=\"a\"\r\nX: ")
            .unwrap();
        let endless = [b'x'; 16];
        let err = (0..10).find_map(|_| s.feed(&endless).err());
        assert_eq!(err, Some(ScanError::HeaderTooLarge));
    }

    #[test]
    fn refuses_endless_padding_after_a_boundary() {
        let mut s = Scanner::new("b", 100, 10);
        s.feed(b"--b").unwrap();
        let err = (0..100).find_map(|_| s.feed(b"  \t ").err());
        assert_eq!(err, Some(ScanError::HeaderTooLarge));
    }

    #[test]
    fn refuses_a_preamble_without_boundary() {
        let mut s = Scanner::new("b", 64, 10);
        let err = (0..100).find_map(|_| s.feed(b"-- no boundary here ").err());
        assert_eq!(err, Some(ScanError::PreambleTooLong));
    }

    #[test]
    fn header_limit_is_per_part() {
        // Each part's headers are 48 bytes; 1 000 of them pass a 64-byte limit.
        let mut s = Scanner::new("b", 64, 1000);
        s.feed(b"--b").unwrap();
        for _ in 0..999 {
            s.feed(b"\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--b")
                .unwrap();
        }
        s.feed(b"--\r\n").unwrap();
        assert_eq!(s.parts(), 999);
        assert!(s.is_done());
    }

    #[test]
    fn data_is_not_limited_by_the_header_limit() {
        let mut s = Scanner::new("b", 64, 10);
        s.feed(b"--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n")
            .unwrap();
        for _ in 0..1000 {
            s.feed(&[b'\r'; 100]).unwrap();
            s.feed(b"\r\n--c\r\n-\r\n--").unwrap();
        }
        s.feed(b"\r\n--b--").unwrap();
        assert!(s.is_done());
    }

    #[test]
    fn boundary_with_dashes_is_found_after_partial_matches() {
        // "-----x" self-overlaps: KMP must not skip the real start.
        let mut s = Scanner::new("---x", 64, 10);
        s.feed(b"------").unwrap();
        s.feed(b"-x\r\nA: b\r\n\r\n").unwrap();
        assert_eq!(s.parts(), 1);
        s.feed(b"data\r\n----\r\n-----x--").unwrap();
        assert!(s.is_done());
    }

    #[test]
    fn empty_form_ends_at_once() {
        let mut s = Scanner::new("b", 64, 0);
        s.feed(b"--b--\r\n").unwrap();
        assert!(s.is_done());
        assert_eq!(s.parts(), 0);
    }

    #[test]
    fn matcher_finds_across_chunks() {
        let mut m = Matcher::new(b"\r\n\r\n".to_vec());
        assert_eq!(m.find(b"abc\r\n\r"), None);
        assert_eq!(m.find(b"\r\n\r\n"), Some(4));
        assert_eq!(m.find(b"x\r\n\r\n"), Some(5));
    }
}
