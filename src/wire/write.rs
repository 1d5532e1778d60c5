//! Messages to bytes that [`parse_request`](super::parse_request) and
//! [`parse_response`](super::parse_response) read back to an equal message.

use http::header::{HeaderValue, CONTENT_LENGTH, HOST};
use http::{HeaderMap, Method, Version};

use super::error::{excerpt, WireError};
use super::framing::{self, Framing};
use super::{has_no_body, head, response_framing, Trailers};

/// Writes a request as HTTP/1.1 bytes that [`parse_request`](super::parse_request) reads back
/// to an equal request.
///
/// - HTTP/1.0 requests are written as HTTP/1.0; every other version as HTTP/1.1 (an HTTP/2
///   request gets a `Host` from its URI's authority when it has none).
/// - The fields are written as they are (names lowercase), in order. The framing comes from
///   them: with `Transfer-Encoding` the body is one chunk followed by the [`Trailers`]
///   extension; with `Content-Length` it must equal the body's length; with neither, a
///   non-empty body gets a `Content-Length`, so a body is never taken for the next request.
///
/// The head written may be a little longer than the one parsed (one space after each colon,
/// an added `Content-Length`), so a message right at a [`Limits`](super::Limits) edge may need
/// one more field or a few more bytes to read back.
///
/// # Errors
///
/// Whatever [`parse_request`](super::parse_request) would refuse in the result (ambiguous
/// framing, no `Host`, a target the method does not take, a value with surrounding
/// whitespace), plus [`WireError::ContentLengthMismatch`] and
/// [`WireError::TrailersWithoutChunked`].
pub fn write_request<B: AsRef<[u8]>>(req: &http::Request<B>) -> Result<Vec<u8>, WireError> {
    let version = written_version(req.version())?;
    let target = request_target(req.method(), req.uri());
    head::target(req.method(), &target)?;
    let added_host = match req.uri().authority() {
        Some(a) if version == Version::HTTP_11 && !req.headers().contains_key(HOST) => Some(
            HeaderValue::from_str(a.as_str()).map_err(|_| WireError::InvalidHost {
                value: excerpt(a.as_str().as_bytes()),
            })?,
        ),
        _ => None,
    };
    match &added_host {
        Some(host) => {
            let mut headers = req.headers().clone();
            headers.insert(HOST, host.clone());
            head::check_host(version, &headers)?;
        }
        None => head::check_host(version, req.headers())?,
    }
    let framing = framing::framing(version, req.headers())?;

    let body = req.body().as_ref();
    let mut out = Vec::with_capacity(256 + body.len());
    out.extend_from_slice(req.method().as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.as_bytes());
    out.push(b' ');
    out.extend_from_slice(version_str(version));
    out.extend_from_slice(b"\r\n");
    if let Some(host) = added_host {
        push_field(&mut out, "host", &host)?;
    }
    write_fields_and_body(
        &mut out,
        req.headers(),
        framing,
        body,
        req.extensions(),
        false,
    )?;
    Ok(out)
}

/// Writes a response as HTTP/1.1 bytes that [`parse_response`](super::parse_response) reads
/// back to an equal response.
///
/// The reason phrase is the status's canonical one. The framing rules are those of
/// [`write_request`], except that a response without framing fields always gets a
/// `Content-Length` (`0` for an empty body), so it never reads as close-delimited; 1xx, 204
/// and 304 responses must have an empty body and keep their fields as they are.
///
/// # Errors
///
/// As [`write_request`], plus [`WireError::BodyNotAllowed`].
pub fn write_response<B: AsRef<[u8]>>(res: &http::Response<B>) -> Result<Vec<u8>, WireError> {
    let version = written_version(res.version())?;
    let status = res.status();
    let framing = response_framing(version, status, res.headers())?;
    let body = res.body().as_ref();
    if has_no_body(status) && !body.is_empty() {
        return Err(WireError::BodyNotAllowed {
            status: status.as_u16(),
        });
    }
    let mut out = Vec::with_capacity(256 + body.len());
    out.extend_from_slice(version_str(version));
    out.push(b' ');
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    if has_no_body(status) {
        if res
            .extensions()
            .get::<Trailers>()
            .is_some_and(|t| !t.0.is_empty())
        {
            return Err(WireError::TrailersWithoutChunked);
        }
        write_fields(&mut out, res.headers())?;
        out.extend_from_slice(b"\r\n");
        return Ok(out);
    }
    write_fields_and_body(
        &mut out,
        res.headers(),
        framing,
        body,
        res.extensions(),
        true,
    )?;
    Ok(out)
}

fn written_version(version: Version) -> Result<Version, WireError> {
    if version == Version::HTTP_09 {
        return Err(WireError::UnsupportedVersion {
            line: "HTTP/0.9".into(),
        });
    }
    Ok(if version == Version::HTTP_10 {
        Version::HTTP_10
    } else {
        Version::HTTP_11
    })
}

fn version_str(version: Version) -> &'static [u8] {
    if version == Version::HTTP_10 {
        b"HTTP/1.0"
    } else {
        b"HTTP/1.1"
    }
}

/// The request target the URI stands for: authority-form for CONNECT, otherwise the URI as
/// it is (origin-form, absolute-form or `*`).
fn request_target(method: &Method, uri: &http::Uri) -> String {
    match uri.authority() {
        Some(a) if *method == Method::CONNECT && uri.scheme().is_none() => a.to_string(),
        _ => uri.to_string(),
    }
}

fn push_field(out: &mut Vec<u8>, name: &str, value: &HeaderValue) -> Result<(), WireError> {
    let bytes = value.as_bytes();
    // The parser drops whitespace around a value: such a value would not read back.
    if bytes.first().is_some_and(|b| b.is_ascii_whitespace())
        || bytes.last().is_some_and(|b| b.is_ascii_whitespace())
    {
        return Err(WireError::InvalidHeaderValue { name: name.into() });
    }
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(bytes);
    out.extend_from_slice(b"\r\n");
    Ok(())
}

fn write_fields(out: &mut Vec<u8>, fields: &HeaderMap) -> Result<(), WireError> {
    for (name, value) in fields {
        push_field(out, name.as_str(), value)?;
    }
    Ok(())
}

/// The fields, the blank line and the body, framed as `framing` says. `always_length`: a
/// message without framing fields gets a `Content-Length` even when its body is empty (a
/// response would otherwise read to the end of the input).
fn write_fields_and_body(
    out: &mut Vec<u8>,
    headers: &HeaderMap,
    framing: Framing,
    body: &[u8],
    extensions: &http::Extensions,
    always_length: bool,
) -> Result<(), WireError> {
    let trailers = extensions.get::<Trailers>().filter(|t| !t.0.is_empty());
    if trailers.is_some() && framing != Framing::Chunked {
        return Err(WireError::TrailersWithoutChunked);
    }
    write_fields(out, headers)?;
    match framing {
        Framing::Length(declared) if declared != body.len() as u64 => {
            return Err(WireError::ContentLengthMismatch {
                declared,
                actual: body.len(),
            })
        }
        Framing::None if always_length || !body.is_empty() => {
            push_field(out, CONTENT_LENGTH.as_str(), &HeaderValue::from(body.len()))?;
        }
        _ => {}
    }
    out.extend_from_slice(b"\r\n");
    if framing != Framing::Chunked {
        out.extend_from_slice(body);
        return Ok(());
    }
    if !body.is_empty() {
        out.extend_from_slice(format!("{:x}\r\n", body.len()).as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n");
    if let Some(trailers) = trailers {
        write_fields(out, &trailers.0)?;
    }
    out.extend_from_slice(b"\r\n");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{parse_request, parse_response};
    use super::*;
    use bytes::Bytes;

    #[test]
    fn writes_a_get() {
        let req = http::Request::get("/a?b")
            .header("host", "x")
            .body(Bytes::new())
            .unwrap();
        assert_eq!(
            write_request(&req).unwrap(),
            b"GET /a?b HTTP/1.1\r\nhost: x\r\n\r\n"
        );
    }

    #[test]
    fn adds_content_length_to_a_body() {
        let req = http::Request::post("/")
            .header("host", "x")
            .body("hi")
            .unwrap();
        let bytes = write_request(&req).unwrap();
        assert_eq!(
            bytes,
            b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\nhi"
        );
    }

    #[test]
    fn refuses_a_wrong_content_length() {
        let req = http::Request::post("/")
            .header("host", "x")
            .header("content-length", "3")
            .body("hi")
            .unwrap();
        assert_eq!(
            write_request(&req),
            Err(WireError::ContentLengthMismatch {
                declared: 3,
                actual: 2
            })
        );
    }

    #[test]
    fn chunks_with_trailers() {
        let mut req = http::Request::post("/")
            .header("host", "x")
            .header("transfer-encoding", "chunked")
            .body(Bytes::from_static(b"hello"))
            .unwrap();
        let mut t = HeaderMap::new();
        t.insert("x-sum", HeaderValue::from_static("1"));
        req.extensions_mut().insert(Trailers(t.clone()));
        let bytes = write_request(&req).unwrap();
        assert!(bytes.ends_with(b"\r\n\r\n5\r\nhello\r\n0\r\nx-sum: 1\r\n\r\n"));
        let (back, used) = parse_request(&bytes).unwrap();
        assert_eq!(used, bytes.len());
        assert_eq!(back.extensions().get::<Trailers>(), Some(&Trailers(t)));
    }

    #[test]
    fn http2_requests_get_a_host() {
        let req = http::Request::get("https://example.com/x")
            .version(Version::HTTP_2)
            .body("")
            .unwrap();
        let bytes = write_request(&req).unwrap();
        assert_eq!(
            bytes,
            b"GET https://example.com/x HTTP/1.1\r\nhost: example.com\r\n\r\n"
        );
    }

    #[test]
    fn connect_is_authority_form() {
        let req = http::Request::connect("example.com:443")
            .header("host", "example.com:443")
            .body("")
            .unwrap();
        let bytes = write_request(&req).unwrap();
        assert!(bytes.starts_with(b"CONNECT example.com:443 HTTP/1.1\r\n"));
        assert_eq!(parse_request(&bytes).unwrap().0.uri(), "example.com:443");
    }

    #[test]
    fn refuses_what_parse_refuses() {
        let no_host = http::Request::get("/").body("").unwrap();
        assert_eq!(write_request(&no_host), Err(WireError::MissingHost));
        let padded = http::Request::get("/")
            .header("host", "x")
            .header("a", " b")
            .body("")
            .unwrap();
        assert!(matches!(
            write_request(&padded),
            Err(WireError::InvalidHeaderValue { .. })
        ));
        let gzip = http::Request::post("/")
            .header("host", "x")
            .header("transfer-encoding", "gzip")
            .body("")
            .unwrap();
        assert!(matches!(
            write_request(&gzip),
            Err(WireError::TransferEncodingNotChunked { .. })
        ));
    }

    #[test]
    fn writes_responses() {
        let res = http::Response::builder().status(404).body("nope").unwrap();
        let bytes = write_response(&res).unwrap();
        assert_eq!(
            bytes,
            b"HTTP/1.1 404 Not Found\r\ncontent-length: 4\r\n\r\nnope"
        );
        let (back, _) = parse_response(&bytes).unwrap();
        assert_eq!(back.body(), "nope");
        let odd = http::Response::builder().status(599).body("").unwrap();
        assert_eq!(
            write_response(&odd).unwrap(),
            b"HTTP/1.1 599 \r\ncontent-length: 0\r\n\r\n"
        );
        let no_content = http::Response::builder().status(204).body("x").unwrap();
        assert_eq!(
            write_response(&no_content),
            Err(WireError::BodyNotAllowed { status: 204 })
        );
    }
}
