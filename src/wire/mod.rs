//! Raw HTTP/1.1 bytes to and from [`http`] messages: recording, replaying, fixtures, fuzzing.
//!
//! [`parse_request`] and [`parse_response`] read one complete message from the start of a
//! byte slice and say how many bytes it took, so pipelined messages are read one after the
//! other. [`write_request`] and [`write_response`] produce bytes that parse back to an equal
//! message (WebOb's `as_bytes` / `from_bytes`).
//!
//! # Example
//!
//! ```
//! use tollgate::wire;
//!
//! let raw = b"POST /upload HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n\
//!             5\r\nhello\r\n0\r\nX-Checksum: 42\r\n\r\nGET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
//! let (req, used) = wire::parse_request(raw).unwrap();
//! assert_eq!(req.uri(), "/upload");
//! assert_eq!(req.body(), "hello");
//! assert_eq!(req.extensions().get::<wire::Trailers>().unwrap().0["x-checksum"], "42");
//!
//! // The next request starts where the first one ended.
//! let (next, _) = wire::parse_request(&raw[used..]).unwrap();
//! assert_eq!(next.method(), "GET");
//!
//! // Writing gives bytes that read back to the same message.
//! let bytes = wire::write_request(&req).unwrap();
//! let (again, _) = wire::parse_request(&bytes).unwrap();
//! assert_eq!((again.uri(), again.headers(), again.body()), (req.uri(), req.headers(), req.body()));
//!
//! // Ambiguous framing is refused, with a 400 for the client.
//! let smuggle = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n";
//! let err = wire::parse_request(smuggle).unwrap_err();
//! assert_eq!(tollgate::HttpError::from(err).status(), 400);
//! ```
//!
//! # Strictness
//!
//! These functions read what a server must read and refuse what two parsers could read
//! differently (RFC 9112, the failures of request smuggling):
//!
//! - Lines end with CRLF: a bare CR or bare LF anywhere in the head or a chunk line is an
//!   error, and so is a NUL byte.
//! - Field lines: no obsolete line folding, no whitespace before the colon, names are tokens,
//!   values have no control characters (HTAB and obs-text are fine). Optional whitespace
//!   around a value is not part of it.
//! - Requests: the target has the form the method needs (`*` only for OPTIONS, `host:port`
//!   exactly for CONNECT, otherwise `/path` or an absolute URI; no fragment). An HTTP/1.1
//!   request has exactly one valid `Host`; HTTP/1.0 at most one. Empty lines (CRLF) before the
//!   request line are skipped (RFC 9112 §2.2).
//! - Framing (RFC 9112 §6.3): `Content-Length` together with `Transfer-Encoding`, several
//!   `Transfer-Encoding` fields, a `Transfer-Encoding` not ending in exactly one `chunked`,
//!   `Transfer-Encoding` in HTTP/1.0, and a `Content-Length` that is not plain digits (`+5`,
//!   `0x5`, beyond `u64`) or several `Content-Length`s that differ are errors, and so is a list
//!   in one field (`5, 5`); repeated fields of one length are one length.
//! - Chunks: sizes are hex digits that fit in 64 bits, extensions are
//!   `;name[=token|"quoted"]`, data is followed by CRLF.
//! - Limits on the start line, the header section, the number of fields and the body, each
//!   with a default ([`Limits`]). An over-long request line converts to 414, an over-large
//!   header section to 431, an over-large body to 413 ([`WireError::status`]).
//!
//! # What the parsed message holds
//!
//! - The fields exactly as received, framing fields included; the body decoded (chunks
//!   joined, chunk extensions dropped).
//! - The trailer fields of a chunked message, when there are any, in the [`Trailers`]
//!   extension (kept apart from the header fields, as RFC 9110 §6.5.1 asks).
//! - A request without `Content-Length` or `Transfer-Encoding` has no body, whatever its
//!   method; bytes after its head are the next request (hyper's RUSTSEC-2020-0008). A GET
//!   *with* a `Content-Length` has that body: RFC 9110 allows it, and it must be read so it
//!   is not taken for the next request (pingora's RUSTSEC-2025-0037).
//! - Responses: 1xx, 204 and 304 have no body whatever their fields say; a response with no
//!   framing field reads to the end of the input (close-delimited). The reason phrase is not
//!   kept. A response to HEAD has no body either: parse it with
//!   [`parse_response_to_head`].
//! - An `Upgrade` request is a request like any other: what follows it is the next request,
//!   never tunnel data (pingora's RUSTSEC-2026-0033); switching protocols is the caller's
//!   move after a 101.

mod error;
mod framing;
mod head;
pub(crate) mod mutation;
mod request;
mod write;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};

pub use error::WireError;
#[cfg(feature = "fuzz")]
pub(crate) use framing::content_length;
pub use mutation::Mutation;
pub use write::{write_request, write_response};

use framing::Framing;

/// Size limits for parsing. Every field is public; start from [`Limits::default()`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Longest request line or status line, in bytes. Default is `8192` (nginx's
    /// `large_client_header_buffers`).
    pub max_start_line: usize,
    /// Largest header section (start line and fields), and largest trailer section, in
    /// bytes. Default is `65536`.
    pub max_header_section: usize,
    /// Most header fields (and most trailer fields). Default is `100` (hyper's).
    pub max_headers: usize,
    /// Largest body, in bytes. Default is `16777216` (16 MiB).
    pub max_body: usize,
    /// Longest chunk-size line, extensions included, in bytes. Default is `4096`.
    pub max_chunk_line: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_start_line: 8192,
            max_header_section: 64 * 1024,
            max_headers: 100,
            max_body: 16 * 1024 * 1024,
            max_chunk_line: 4096,
        }
    }
}

/// The trailer fields of a chunked message, as an extension of the parsed message.
///
/// [`parse_request`] and [`parse_response`] insert it when a chunked body ends with trailer
/// fields; [`write_request`] and [`write_response`] write it after the last chunk (a message
/// carrying it must be chunked).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trailers(pub HeaderMap);

/// Reads one complete HTTP/1.1 (or 1.0) request from the start of `input`, with the default
/// [`Limits`].
///
/// Returns the request and the number of bytes it took; anything after belongs to the next
/// message.
///
/// # Errors
///
/// [`WireError::Incomplete`] when `input` ends inside the message; another [`WireError`] when
/// it is not a strict HTTP/1.1 request (see the [module docs](self#strictness)).
pub fn parse_request(input: &[u8]) -> Result<(http::Request<Bytes>, usize), WireError> {
    parse_request_with(input, &Limits::default())
}

/// [`parse_request`] with explicit [`Limits`].
///
/// # Errors
///
/// As [`parse_request`].
pub fn parse_request_with(
    input: &[u8],
    limits: &Limits,
) -> Result<(http::Request<Bytes>, usize), WireError> {
    let section = head::scan(input, true, true, limits)?;
    let raw = &input[section.start..section.end];
    let line = head::first_line(raw);
    let mut fields = vec![httparse::EMPTY_HEADER; section.fields];
    let mut parsed = httparse::Request::new(&mut fields);
    match parsed.parse(raw) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(WireError::Incomplete),
        Err(e) => return Err(head::httparse_error(e, line)),
    }
    let method = head::method(parsed.method.unwrap_or_default())?;
    let version = head::version(parsed.version, line)?;
    let uri = head::target(&method, parsed.path.unwrap_or_default())?;
    let headers = head::header_map(parsed.headers)?;
    head::check_host(version, &headers)?;
    let framing = framing::framing(version, &headers)?;
    let body = framing::read_body(&input[section.end..], section.end, framing, false, limits)?;

    let mut req = http::Request::new(body.body);
    *req.method_mut() = method;
    *req.uri_mut() = uri;
    *req.version_mut() = version;
    *req.headers_mut() = headers;
    if !body.trailers.is_empty() {
        req.extensions_mut().insert(Trailers(body.trailers));
    }
    Ok((req, section.end + body.consumed))
}

/// Reads one complete HTTP/1.1 (or 1.0) response from the start of `input`, with the default
/// [`Limits`].
///
/// A response without `Content-Length` or `Transfer-Encoding` (other than 1xx, 204, 304) is
/// close-delimited: its body is the rest of `input`.
///
/// # Errors
///
/// [`WireError::Incomplete`] when `input` ends inside the message; another [`WireError`] when
/// it is not a strict HTTP/1.1 response.
pub fn parse_response(input: &[u8]) -> Result<(http::Response<Bytes>, usize), WireError> {
    parse_response_with(input, &Limits::default(), false)
}

/// [`parse_response`] for the answer to a HEAD request: no body, whatever the fields say.
///
/// # Errors
///
/// As [`parse_response`].
pub fn parse_response_to_head(input: &[u8]) -> Result<(http::Response<Bytes>, usize), WireError> {
    parse_response_with(input, &Limits::default(), true)
}

/// [`parse_response`] with explicit [`Limits`]; `to_head` says the request was HEAD.
///
/// # Errors
///
/// As [`parse_response`].
pub fn parse_response_with(
    input: &[u8],
    limits: &Limits,
    to_head: bool,
) -> Result<(http::Response<Bytes>, usize), WireError> {
    let section = head::scan(input, true, false, limits)?;
    let raw = &input[section.start..section.end];
    let line = head::first_line(raw);
    let mut fields = vec![httparse::EMPTY_HEADER; section.fields];
    let mut parsed = httparse::Response::new(&mut fields);
    match parsed.parse(raw) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(WireError::Incomplete),
        Err(e) => return Err(head::httparse_error(e, line)),
    }
    let version = head::version(parsed.version, line)?;
    let status = parsed
        .code
        .and_then(|c| StatusCode::from_u16(c).ok())
        .ok_or_else(|| WireError::InvalidStatus {
            line: error::excerpt(line),
        })?;
    let headers = head::header_map(parsed.headers)?;
    let framing = response_framing(version, status, &headers)?;
    let framing = if to_head { Framing::None } else { framing };
    let close = !to_head && !has_no_body(status);
    let body = framing::read_body(&input[section.end..], section.end, framing, close, limits)?;

    let mut res = http::Response::new(body.body);
    *res.status_mut() = status;
    *res.version_mut() = version;
    *res.headers_mut() = headers;
    if !body.trailers.is_empty() {
        res.extensions_mut().insert(Trailers(body.trailers));
    }
    Ok((res, section.end + body.consumed))
}

/// 1xx, 204 and 304 responses never have a body (RFC 9112 §6.3 item 1).
fn has_no_body(status: StatusCode) -> bool {
    status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
}

/// The framing of a response: the fields are checked for every status, and ignored for
/// statuses without a body.
fn response_framing(
    version: http::Version,
    status: StatusCode,
    headers: &HeaderMap,
) -> Result<Framing, WireError> {
    let framing = framing::framing(version, headers)?;
    let no_te = status.is_informational() || status == StatusCode::NO_CONTENT;
    if no_te && framing == Framing::Chunked {
        return Err(WireError::TransferEncodingNotAllowed {
            status: status.as_u16(),
        });
    }
    Ok(if has_no_body(status) {
        Framing::None
    } else {
        framing
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(raw: &str) -> Result<(http::Request<Bytes>, usize), WireError> {
        parse_request(raw.as_bytes())
    }

    #[test]
    fn reads_a_simple_get() {
        let (r, used) = req("GET /a?b=1 HTTP/1.1\r\nHost: x\r\nAccept: */*  \r\n\r\n").unwrap();
        assert_eq!(r.method(), "GET");
        assert_eq!(r.uri(), "/a?b=1");
        assert_eq!(r.version(), http::Version::HTTP_11);
        assert_eq!(r.headers()["accept"], "*/*");
        assert!(r.body().is_empty());
        assert_eq!(used, 47);
    }

    #[test]
    fn reads_a_content_length_body() {
        let (r, used) =
            req("PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcdef").unwrap();
        assert_eq!(r.body(), "abc");
        assert_eq!(used, 49);
        assert_eq!(
            req("PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nab").unwrap_err(),
            WireError::Incomplete
        );
    }

    #[test]
    fn http10_needs_no_host() {
        let (r, _) = req("GET / HTTP/1.0\r\n\r\n").unwrap();
        assert_eq!(r.version(), http::Version::HTTP_10);
        assert_eq!(
            req("GET / HTTP/1.1\r\n\r\n").unwrap_err(),
            WireError::MissingHost
        );
    }

    #[test]
    fn rejects_other_versions() {
        for line in [
            "GET / HTTP/2.0",
            "GET / HTTP/1.2",
            "GET / http/1.1",
            "GET /",
        ] {
            let err = req(&format!("{line}\r\nHost: x\r\n\r\n")).unwrap_err();
            assert!(
                matches!(
                    err,
                    WireError::UnsupportedVersion { .. } | WireError::InvalidStartLine { .. }
                ),
                "{line}: {err:?}"
            );
        }
    }

    #[test]
    fn rejects_double_spaces_in_the_request_line() {
        assert!(req("GET  / HTTP/1.1\r\nHost: x\r\n\r\n").is_err());
        assert!(req("GET / HTTP/1.1 \r\nHost: x\r\n\r\n").is_err());
    }

    #[test]
    fn reads_responses() {
        let (r, used) = parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi").unwrap();
        assert_eq!(
            (r.status().as_u16(), r.body().as_ref(), used),
            (200, &b"hi"[..], 40)
        );
        let (r, used) = parse_response(b"HTTP/1.0 200 OK\r\n\r\nto the end").unwrap();
        assert_eq!((r.body().as_ref(), used), (&b"to the end"[..], 29));
        let (r, used) =
            parse_response(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n").unwrap();
        assert_eq!((r.body().len(), used), (0, 48));
        let (r, _) =
            parse_response_to_head(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n").unwrap();
        assert!(r.body().is_empty());
    }

    #[test]
    fn interim_responses_come_one_at_a_time() {
        let raw = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n";
        let (r, used) = parse_response(raw).unwrap();
        assert_eq!((r.status().as_u16(), used), (100, 25));
        let (r, _) = parse_response(&raw[used..]).unwrap();
        assert_eq!(r.status(), 204);
    }

    #[test]
    fn rejects_chunked_204() {
        let err = parse_response(b"HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n")
            .unwrap_err();
        assert_eq!(err, WireError::TransferEncodingNotAllowed { status: 204 });
    }

    #[test]
    fn rejects_bad_statuses() {
        for line in [
            "HTTP/1.1 099 X",
            "HTTP/1.1 1000 X",
            "HTTP/1.1 abc X",
            "HTTP/1.1",
        ] {
            assert!(
                parse_response(format!("{line}\r\n\r\n").as_bytes()).is_err(),
                "{line}"
            );
        }
    }
}
