//! [`WireError`]: why raw bytes are not a strict HTTP/1.1 message, or why a message cannot be
//! written as one.

use std::fmt;

use http::StatusCode;

/// How many bytes of bad input an error keeps (escaped for display).
const EXCERPT: usize = 64;

/// Why bytes are not one strict HTTP/1.1 message (or why a message cannot be written as one).
///
/// Every variant names what is wrong and carries a short, escaped excerpt of the bad input.
/// Converts into [`HttpError`](crate::HttpError): 414 for an over-long request line, 431 for an over-large
/// header section, 413 for an over-large body, 400 for everything else.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WireError {
    /// The input ends before the message does: read more bytes and parse again.
    Incomplete,
    /// The request line or status line is longer than [`Limits::max_start_line`](super::Limits).
    StartLineTooLong {
        /// The limit in bytes.
        limit: usize,
    },
    /// The header section (or trailer section) is larger than
    /// [`Limits::max_header_section`](super::Limits).
    HeaderSectionTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// More header (or trailer) fields than [`Limits::max_headers`](super::Limits).
    TooManyHeaders {
        /// The limit in fields.
        limit: usize,
    },
    /// The body is larger than [`Limits::max_body`](super::Limits).
    BodyTooLarge {
        /// The length announced (or read so far).
        length: u64,
        /// The limit in bytes.
        limit: usize,
    },
    /// A chunk-size line is longer than [`Limits::max_chunk_line`](super::Limits).
    ChunkLineTooLong {
        /// The limit in bytes.
        limit: usize,
    },
    /// A CR not followed by LF.
    BareCr {
        /// Offset of the CR in the input.
        offset: usize,
    },
    /// A LF not preceded by CR: lines end with CRLF.
    BareLf {
        /// Offset of the LF in the input.
        offset: usize,
    },
    /// A NUL byte in the start line, a field or a chunk line.
    Nul {
        /// Offset of the NUL in the input.
        offset: usize,
    },
    /// The request line or status line is malformed.
    InvalidStartLine {
        /// The line, truncated.
        line: String,
    },
    /// A protocol version other than HTTP/1.0 or HTTP/1.1.
    UnsupportedVersion {
        /// The start line, truncated.
        line: String,
    },
    /// The method is not a token.
    InvalidMethod {
        /// The method, truncated.
        method: String,
    },
    /// The request target is not a URI, or not the form the method requires.
    InvalidTarget {
        /// The target, truncated.
        target: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The status code is not a number from 100 to 999.
    InvalidStatus {
        /// The status line, truncated.
        line: String,
    },
    /// A field line starts with whitespace: obsolete line folding (RFC 9112 §5.2).
    ObsFold {
        /// The folded line, truncated.
        line: String,
    },
    /// Whitespace between a field name and its colon (RFC 9112 §5.1).
    WhitespaceBeforeColon {
        /// The field name, truncated.
        name: String,
    },
    /// A field line without a colon.
    MissingColon {
        /// The line, truncated.
        line: String,
    },
    /// A field name that is not a token.
    InvalidHeaderName {
        /// The name, truncated.
        name: String,
    },
    /// A field value with a control character, or (when writing) leading or trailing
    /// whitespace.
    InvalidHeaderValue {
        /// The field name.
        name: String,
    },
    /// An HTTP/1.1 request without a `Host` field (RFC 9112 §3.2).
    MissingHost,
    /// A request with several `Host` fields.
    MultipleHost,
    /// A `Host` field that is not `host[:port]`.
    InvalidHost {
        /// The value, truncated.
        value: String,
    },
    /// Both `Content-Length` and `Transfer-Encoding`: the classic smuggling setup.
    ContentLengthWithTransferEncoding,
    /// A `Content-Length` that is not plain decimal digits (`+5`, `0x5`, ` 5 5`, empty, or
    /// beyond `u64`).
    InvalidContentLength {
        /// The value, truncated.
        value: String,
    },
    /// Several `Content-Length` values that differ.
    ConflictingContentLength {
        /// The values, truncated.
        values: String,
    },
    /// More than one `Transfer-Encoding` field.
    MultipleTransferEncoding,
    /// A `Transfer-Encoding` whose final coding is not `chunked` (or that names `chunked`
    /// twice): the body length cannot be determined.
    TransferEncodingNotChunked {
        /// The value, truncated.
        value: String,
    },
    /// `Transfer-Encoding` in an HTTP/1.0 message, which predates it (RFC 9112 §6.1).
    Http10TransferEncoding,
    /// `Transfer-Encoding` in a 1xx or 204 response (RFC 9112 §6.1).
    TransferEncodingNotAllowed {
        /// The response status.
        status: u16,
    },
    /// A chunk size that is not hexadecimal digits.
    InvalidChunkSize {
        /// The chunk line, truncated.
        line: String,
    },
    /// A chunk size that does not fit in 64 bits.
    ChunkSizeOverflow {
        /// The chunk line, truncated.
        line: String,
    },
    /// A chunk extension that is not `;name[=token|"quoted"]`.
    InvalidChunkExtension {
        /// The chunk line, truncated.
        line: String,
    },
    /// Chunk data not followed by CRLF.
    InvalidChunkData {
        /// Offset in the input where CRLF was expected.
        offset: usize,
    },
    /// Bytes after the message where exactly one message was expected
    /// ([`Request::from_bytes`](crate::Request::from_bytes)).
    TrailingBytes {
        /// How many bytes follow the message.
        len: usize,
    },
    /// (writing) A `Content-Length` that differs from the body's length.
    ContentLengthMismatch {
        /// The length the field declares.
        declared: u64,
        /// The body's length.
        actual: usize,
    },
    /// (writing) A body on a 1xx, 204 or 304 response.
    BodyNotAllowed {
        /// The response status.
        status: u16,
    },
    /// (writing) A [`Trailers`](super::Trailers) extension on a message that is not chunked.
    TrailersWithoutChunked,
}

impl WireError {
    /// The HTTP status this error deserves: 414, 431, 413 or 400.
    pub fn status(&self) -> StatusCode {
        match self {
            WireError::StartLineTooLong { .. } => StatusCode::URI_TOO_LONG,
            WireError::HeaderSectionTooLarge { .. } | WireError::TooManyHeaders { .. } => {
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
            }
            WireError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// Whether more input could complete the message.
    pub fn is_incomplete(&self) -> bool {
        matches!(self, WireError::Incomplete)
    }
}

/// A short, escaped excerpt of untrusted bytes for an error message.
pub(crate) fn excerpt(bytes: &[u8]) -> String {
    let mut out: String = bytes
        .iter()
        .take(EXCERPT)
        .flat_map(|b| b.escape_ascii())
        .map(char::from)
        .collect();
    if bytes.len() > EXCERPT {
        out.push('…');
    }
    out
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use WireError::*;
        match self {
            Incomplete => f.write_str("incomplete HTTP message: more bytes are needed"),
            StartLineTooLong { limit } => write!(f, "request or status line longer than {limit} bytes"),
            HeaderSectionTooLarge { limit } => write!(f, "header section larger than {limit} bytes"),
            TooManyHeaders { limit } => write!(f, "more than {limit} header fields"),
            BodyTooLarge { length, limit } => write!(f, "body of {length} bytes is larger than the limit of {limit} bytes"),
            ChunkLineTooLong { limit } => write!(f, "chunk-size line longer than {limit} bytes"),
            BareCr { offset } => write!(f, "bare CR at byte {offset}: lines must end with CRLF"),
            BareLf { offset } => write!(f, "bare LF at byte {offset}: lines must end with CRLF"),
            Nul { offset } => write!(f, "NUL byte at byte {offset}"),
            InvalidStartLine { line } => write!(f, "malformed start line \"{line}\""),
            UnsupportedVersion { line } => write!(f, "unsupported HTTP version in \"{line}\": only HTTP/1.0 and HTTP/1.1 are read here"),
            InvalidMethod { method } => write!(f, "invalid method \"{method}\": methods are tokens"),
            InvalidTarget { target, reason } => write!(f, "invalid request target \"{target}\": {reason}"),
            InvalidStatus { line } => write!(f, "invalid status in \"{line}\": status codes are three digits from 100"),
            ObsFold { line } => write!(f, "obsolete line folding at \"{line}\": put each field on one line"),
            WhitespaceBeforeColon { name } => write!(f, "whitespace between field name \"{name}\" and its colon"),
            MissingColon { line } => write!(f, "field line without a colon: \"{line}\""),
            InvalidHeaderName { name } => write!(f, "invalid field name \"{name}\": names are tokens"),
            InvalidHeaderValue { name } => write!(f, "invalid value for field \"{name}\": control characters, or whitespace around the value"),
            MissingHost => f.write_str("HTTP/1.1 request without a Host field"),
            MultipleHost => f.write_str("request with several Host fields"),
            InvalidHost { value } => write!(f, "invalid Host \"{value}\": expected host[:port]"),
            ContentLengthWithTransferEncoding => f.write_str("both Content-Length and Transfer-Encoding: the body length is ambiguous"),
            InvalidContentLength { value } => write!(f, "invalid Content-Length \"{value}\": expected decimal digits only"),
            ConflictingContentLength { values } => write!(f, "conflicting Content-Length values \"{values}\""),
            MultipleTransferEncoding => f.write_str("several Transfer-Encoding fields: send one, ending in chunked"),
            TransferEncodingNotChunked { value } => write!(f, "Transfer-Encoding \"{value}\" does not end in chunked: the body length cannot be determined"),
            Http10TransferEncoding => f.write_str("Transfer-Encoding in an HTTP/1.0 message: use Content-Length"),
            TransferEncodingNotAllowed { status } => write!(f, "Transfer-Encoding in a {status} response, which has no body"),
            InvalidChunkSize { line } => write!(f, "invalid chunk size in \"{line}\": expected hexadecimal digits"),
            ChunkSizeOverflow { line } => write!(f, "chunk size in \"{line}\" does not fit in 64 bits"),
            InvalidChunkExtension { line } => write!(f, "invalid chunk extension in \"{line}\""),
            InvalidChunkData { offset } => write!(f, "chunk data not followed by CRLF at byte {offset}"),
            TrailingBytes { len } => write!(f, "{len} bytes after the message: use wire::parse_request to read several"),
            ContentLengthMismatch { declared, actual } => write!(f, "Content-Length says {declared} bytes but the body has {actual}: fix or remove the field"),
            BodyNotAllowed { status } => write!(f, "a {status} response has no body"),
            TrailersWithoutChunked => f.write_str("trailers need Transfer-Encoding: chunked"),
        }
    }
}

impl std::error::Error for WireError {}

impl crate::error::ClientError for WireError {
    fn status(&self) -> StatusCode {
        WireError::status(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::HttpError;

    #[test]
    fn is_send_sync_and_small() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<WireError>();
        assert!(std::mem::size_of::<WireError>() <= 48);
    }

    #[test]
    fn excerpt_escapes_and_truncates() {
        assert_eq!(excerpt(b"a\r\n\0"), "a\\r\\n\\x00");
        assert_eq!(excerpt(&[b'x'; 100]).chars().count(), EXCERPT + 1);
    }

    #[test]
    fn statuses() {
        assert_eq!(WireError::StartLineTooLong { limit: 1 }.status(), 414);
        assert_eq!(WireError::TooManyHeaders { limit: 1 }.status(), 431);
        assert_eq!(
            WireError::BodyTooLarge {
                length: 2,
                limit: 1
            }
            .status(),
            413
        );
        assert_eq!(HttpError::from(WireError::MissingHost).status(), 400);
    }
}
