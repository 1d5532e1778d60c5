//! Parsing `Range: bytes=…` (RFC 9110 §14.1–§14.2) and laying out `multipart/byteranges`
//! answers (§14.6). Pure functions, no I/O.
//!
//! # What we do with many ranges
//!
//! RFC 9110 §14.2 lets a server ignore `Range` or coalesce ranges. [`parse_range`] counts the
//! range specs first and gives up on the header ([`RangeError::TooMany`], answered as if there
//! were no `Range`: a plain 200) past `max_ranges` ([`DEFAULT_MAX_RANGES`] = 32), like nginx's
//! `max_ranges` and Apache's `MaxRanges`. So a request for 10 000 ranges (tower-http#660) costs
//! one linear scan of the header. Below the cap, ranges are sorted and overlapping or adjacent
//! ones merged, so no byte is sent twice and one part comes out per disjoint span.
//!
//! # Example
//!
//! ```
//! use tollgate::response::range::{parse_range, ByteRange, DEFAULT_MAX_RANGES};
//!
//! let ranges = parse_range("bytes=0-9, 5-19, -5", 100, DEFAULT_MAX_RANGES).unwrap();
//! assert_eq!(ranges, [ByteRange::new(0, 19), ByteRange::new(95, 99)]);
//! ```

use std::fmt;

use bytes::Bytes;

/// The default cap on the number of ranges in one `Range` header: 32.
pub const DEFAULT_MAX_RANGES: usize = 32;

/// A satisfiable byte range, both ends inclusive (as in `Content-Range`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteRange {
    /// The first byte's offset.
    pub first: u64,
    /// The last byte's offset (inclusive).
    pub last: u64,
}

impl ByteRange {
    /// The range `first..=last`.
    ///
    /// # Panics
    ///
    /// When `last < first`: ranges of input come from [`parse_range`], which never makes one.
    pub fn new(first: u64, last: u64) -> Self {
        assert!(first <= last, "a byte range ends at or after its start");
        ByteRange { first, last }
    }

    /// The number of bytes in the range (never 0).
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> u64 {
        self.last - self.first + 1
    }

    /// The `Content-Range` value for this range of a representation of `complete_len` bytes.
    pub fn content_range(&self, complete_len: u64) -> String {
        format!("bytes {}-{}/{}", self.first, self.last, complete_len)
    }
}

/// Why a `Range` header does not select ranges.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RangeError {
    /// The unit is not `bytes`: the header must be ignored (answer 200).
    UnknownUnit {
        /// The unit, truncated to 32 bytes.
        unit: String,
    },
    /// The header does not follow the grammar: ignore it (answer 200).
    Malformed {
        /// The header, truncated to 64 bytes.
        input: String,
    },
    /// More range specs than the cap: ignore the header (answer 200).
    TooMany {
        /// The cap that was passed.
        max: usize,
    },
    /// No range overlaps the representation: answer 416 with `Content-Range: bytes */LEN`.
    Unsatisfiable {
        /// The representation's length.
        complete_len: u64,
    },
}

impl RangeError {
    /// Whether the right answer is `416 Range Not Satisfiable` (otherwise: ignore `Range`).
    pub fn is_unsatisfiable(&self) -> bool {
        matches!(self, RangeError::Unsatisfiable { .. })
    }
}

impl fmt::Display for RangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RangeError::UnknownUnit { unit } => {
                write!(f, "range unit {unit:?} is not supported; use `bytes`")
            }
            RangeError::Malformed { input } => write!(
                f,
                "invalid Range header {input:?}: expected `bytes=first-last`, `first-` or `-suffix`"
            ),
            RangeError::TooMany { max } => {
                write!(
                    f,
                    "more than {max} ranges requested; ask for fewer, larger ranges"
                )
            }
            RangeError::Unsatisfiable { complete_len } => write!(
                f,
                "no requested range overlaps the {complete_len} bytes of the representation"
            ),
        }
    }
}

impl std::error::Error for RangeError {}

impl crate::error::ClientError for RangeError {
    fn status(&self) -> http::StatusCode {
        match self {
            RangeError::Unsatisfiable { .. } => http::StatusCode::RANGE_NOT_SATISFIABLE,
            _ => http::StatusCode::BAD_REQUEST,
        }
    }

    fn add_headers(&self, headers: &mut http::HeaderMap) {
        if let RangeError::Unsatisfiable { complete_len } = self {
            headers.insert(
                http::header::CONTENT_RANGE,
                unsatisfied_content_range(*complete_len),
            );
        }
    }
}

/// `bytes */LEN`, the `Content-Range` of a 416.
fn complete_len_value(len: u64) -> String {
    format!("bytes */{len}")
}

/// The `Content-Range` value of a 416 for a representation of `len` bytes: `bytes */LEN`.
pub fn unsatisfied_content_range(len: u64) -> http::HeaderValue {
    http::HeaderValue::try_from(complete_len_value(len)).expect("digits are a valid header value")
}

/// Parses a `Range` header against a representation of `len` bytes.
///
/// Returns the satisfiable ranges sorted, with overlapping and adjacent ones merged. Specs that
/// start past the end are dropped; if none is left the answer is
/// [`RangeError::Unsatisfiable`]. Numbers too large for `u64` are read as "past the end". An
/// empty representation has no satisfiable range. More than `max_ranges` specs (empty list
/// elements not counted) give [`RangeError::TooMany`] before any is parsed.
///
/// # Errors
///
/// See [`RangeError`]: only `Unsatisfiable` should become an error answer; the others mean
/// "ignore `Range`".
pub fn parse_range(
    header: &str,
    len: u64,
    max_ranges: usize,
) -> Result<Vec<ByteRange>, RangeError> {
    let malformed = || RangeError::Malformed {
        input: crate::syntax::excerpt(header, 64),
    };
    let (unit, specs) = header.split_once('=').ok_or_else(malformed)?;
    let unit = unit.trim();
    if !unit.eq_ignore_ascii_case("bytes") {
        return Err(RangeError::UnknownUnit {
            unit: crate::syntax::excerpt(unit, 32),
        });
    }
    let specs = || specs.split(',').map(str::trim).filter(|s| !s.is_empty());
    if specs().nth(max_ranges).is_some() {
        return Err(RangeError::TooMany { max: max_ranges });
    }
    let mut ranges = Vec::new();
    let mut any = false;
    for spec in specs() {
        any = true;
        if let Some(range) = parse_spec(spec, len).ok_or_else(malformed)? {
            ranges.push(range);
        }
    }
    if !any {
        return Err(malformed());
    }
    if ranges.is_empty() {
        return Err(RangeError::Unsatisfiable { complete_len: len });
    }
    Ok(coalesce(ranges))
}

/// One spec: `None` outside the grammar, `Some(None)` when it selects nothing of `len`.
#[allow(clippy::option_option)]
fn parse_spec(spec: &str, len: u64) -> Option<Option<ByteRange>> {
    let (first, last) = spec.split_once('-')?;
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        // `-suffix`: the last `suffix` bytes.
        let suffix = digits(last)?;
        if suffix == 0 || len == 0 {
            return Some(None);
        }
        return Some(Some(ByteRange::new(len.saturating_sub(suffix), len - 1)));
    }
    let first = digits(first)?;
    let last = if last.is_empty() {
        u64::MAX
    } else {
        digits(last)?
    };
    if last < first {
        return None;
    }
    if first >= len {
        return Some(None);
    }
    Some(Some(ByteRange::new(first, last.min(len - 1))))
}

/// `1*DIGIT`, saturating at `u64::MAX` (a position that large is past any end).
fn digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.bytes().fold(0u64, |acc, b| {
        acc.saturating_mul(10).saturating_add(u64::from(b - b'0'))
    }))
}

/// Sorts and merges overlapping or adjacent ranges.
fn coalesce(mut ranges: Vec<ByteRange>) -> Vec<ByteRange> {
    ranges.sort_unstable();
    let mut out: Vec<ByteRange> = Vec::with_capacity(ranges.len());
    for r in ranges {
        match out.last_mut() {
            Some(prev) if r.first <= prev.last.saturating_add(1) => {
                prev.last = prev.last.max(r.last);
            }
            _ => out.push(r),
        }
    }
    out
}

/// One piece of a ranged body: literal bytes (a part's header) or a span of the representation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Bytes written as they are.
    Literal(Bytes),
    /// Bytes copied from the representation.
    Span(ByteRange),
}

/// The layout of a `multipart/byteranges` body: its segments, in order, and its total length.
///
/// Each part is `--BOUNDARY`, `Content-Type` (when given), `Content-Range`, a blank line, the
/// bytes; the body ends with `--BOUNDARY--`. Spans come in ascending order, so a reader can
/// stream the representation once.
pub fn multipart_layout(
    ranges: &[ByteRange],
    complete_len: u64,
    content_type: Option<&str>,
    boundary: &str,
) -> (Vec<Segment>, u64) {
    let mut segments = Vec::with_capacity(ranges.len() * 2 + 1);
    let mut total = 0u64;
    for (i, range) in ranges.iter().enumerate() {
        let mut head = String::with_capacity(96);
        if i > 0 {
            head.push_str("\r\n");
        }
        head.push_str("--");
        head.push_str(boundary);
        head.push_str("\r\n");
        if let Some(ct) = content_type {
            head.push_str("Content-Type: ");
            head.push_str(ct);
            head.push_str("\r\n");
        }
        head.push_str("Content-Range: ");
        head.push_str(&range.content_range(complete_len));
        head.push_str("\r\n\r\n");
        total += head.len() as u64 + range.len();
        segments.push(Segment::Literal(Bytes::from(head)));
        segments.push(Segment::Span(*range));
    }
    let tail = format!("\r\n--{boundary}--\r\n");
    total += tail.len() as u64;
    segments.push(Segment::Literal(Bytes::from(tail)));
    (segments, total)
}

/// A boundary unlikely to occur in the representation: derived from the clock and a counter.
pub fn boundary() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    // A cheap mix (splitmix64) so consecutive boundaries do not share a long prefix.
    let mut z = nanos ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    format!("tollgate-{z:016x}{n:x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(first: u64, last: u64) -> ByteRange {
        ByteRange::new(first, last)
    }

    fn parse(h: &str, len: u64) -> Result<Vec<ByteRange>, RangeError> {
        parse_range(h, len, DEFAULT_MAX_RANGES)
    }

    #[test]
    fn rfc9110_examples() {
        // RFC 9110 §14.1.2, for a representation of 10000 bytes.
        assert_eq!(parse("bytes=0-499", 10_000), Ok(vec![r(0, 499)]));
        assert_eq!(parse("bytes=500-999", 10_000), Ok(vec![r(500, 999)]));
        assert_eq!(parse("bytes=-500", 10_000), Ok(vec![r(9500, 9999)]));
        assert_eq!(parse("bytes=9500-", 10_000), Ok(vec![r(9500, 9999)]));
        assert_eq!(
            parse("bytes=0-0,-1", 10_000),
            Ok(vec![r(0, 0), r(9999, 9999)])
        );
        assert_eq!(
            parse("bytes= 0-999, 4500-5499, -1000", 10_000),
            Ok(vec![r(0, 999), r(4500, 5499), r(9000, 9999)])
        );
        assert_eq!(
            parse("bytes=500-600,601-999", 10_000),
            Ok(vec![r(500, 999)])
        );
        assert_eq!(
            parse("bytes=500-700,601-999", 10_000),
            Ok(vec![r(500, 999)])
        );
    }

    #[test]
    fn clamps_to_the_end() {
        assert_eq!(parse("bytes=0-99", 10), Ok(vec![r(0, 9)]));
        assert_eq!(parse("bytes=-99", 10), Ok(vec![r(0, 9)]));
        assert_eq!(
            parse("bytes=5-99999999999999999999999999", 10),
            Ok(vec![r(5, 9)])
        );
    }

    #[test]
    fn unsatisfiable() {
        let unsat = Err(RangeError::Unsatisfiable { complete_len: 10 });
        assert_eq!(parse("bytes=10-", 10), unsat);
        assert_eq!(parse("bytes=10-20, 30-40", 10), unsat);
        assert_eq!(parse("bytes=-0", 10), unsat);
        assert_eq!(parse("bytes=99999999999999999999999-", 10), unsat);
        assert_eq!(
            parse("bytes=0-0", 0),
            Err(RangeError::Unsatisfiable { complete_len: 0 })
        );
        // One satisfiable spec is enough.
        assert_eq!(parse("bytes=20-30, 2-3", 10), Ok(vec![r(2, 3)]));
    }

    #[test]
    fn malformed_is_ignored() {
        for h in [
            "bytes",
            "bytes=",
            "bytes=,",
            "bytes=5",
            "bytes=a-b",
            "bytes=5-4",
            "bytes=-",
            "bytes=--5",
            "bytes=+1-2",
            "bytes=1-2-3",
            "bytes=0x10-20",
            "bytes=1 0-20",
        ] {
            assert!(
                matches!(parse(h, 100), Err(RangeError::Malformed { .. })),
                "{h}"
            );
        }
        assert!(matches!(
            parse("items=0-5", 100),
            Err(RangeError::UnknownUnit { .. })
        ));
        assert_eq!(parse("BYTES=0-5", 100), Ok(vec![r(0, 5)]));
    }

    #[test]
    fn empty_elements_are_allowed() {
        assert_eq!(parse("bytes=0-1,,, 4-5,", 100), Ok(vec![r(0, 1), r(4, 5)]));
    }

    #[test]
    fn too_many_ranges_are_refused_before_parsing() {
        let header = format!(
            "bytes={}",
            (0..10_000)
                .map(|i| format!("{}-{}", i * 2, i * 2))
                .collect::<Vec<_>>()
                .join(",")
        );
        assert_eq!(
            parse(&header, 1 << 20),
            Err(RangeError::TooMany {
                max: DEFAULT_MAX_RANGES
            })
        );
        let header = format!("bytes={}", vec!["0-"; 32].join(","));
        assert_eq!(parse(&header, 10), Ok(vec![r(0, 9)]));
        let header = format!("bytes={}", vec!["0-"; 33].join(","));
        assert!(parse(&header, 10).is_err());
    }

    #[test]
    fn multipart_layout_lengths_add_up() {
        let ranges = [r(0, 9), r(20, 29)];
        let (segments, total) = multipart_layout(&ranges, 100, Some("text/plain"), "B");
        let mut len = 0u64;
        let mut text = String::new();
        for s in &segments {
            match s {
                Segment::Literal(b) => {
                    len += b.len() as u64;
                    text.push_str(std::str::from_utf8(b).expect("ascii"));
                }
                Segment::Span(range) => {
                    len += range.len();
                    text.push_str(&"x".repeat(range.len() as usize));
                }
            }
        }
        assert_eq!(len, total);
        assert_eq!(
            text,
            "--B\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-9/100\r\n\r\nxxxxxxxxxx\
             \r\n--B\r\nContent-Type: text/plain\r\nContent-Range: bytes 20-29/100\r\n\r\nxxxxxxxxxx\
             \r\n--B--\r\n"
        );
    }

    #[test]
    fn boundaries_differ() {
        assert_ne!(boundary(), boundary());
        assert!(boundary().len() <= 70);
    }

    proptest::proptest! {
        #[test]
        fn ranges_are_sorted_disjoint_and_inside(h in "bytes=[0-9, -]{0,60}", len in 0u64..200) {
            if let Ok(ranges) = parse(&h, len) {
                proptest::prop_assert!(!ranges.is_empty());
                for w in ranges.windows(2) {
                    proptest::prop_assert!(w[0].last + 1 < w[1].first);
                }
                for range in ranges {
                    proptest::prop_assert!(range.first <= range.last && range.last < len);
                }
            }
        }

        #[test]
        fn never_panics(h in "\\PC{0,100}", len: u64) {
            let _ = parse(&h, len);
        }
    }
}
