//! The start line and the field section: a strict scan for what `httparse` tolerates (bare LF,
//! obs-fold, NUL, whitespace before the colon), then `httparse` for the structure.

use http::header::{HeaderName, HeaderValue, HOST};
use http::{HeaderMap, Method, Uri, Version};

use super::error::{excerpt, WireError};
use super::Limits;

/// Where a scanned section lies in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Section {
    /// First byte of the section (after skipped empty lines).
    pub start: usize,
    /// One past the blank line that ends it.
    pub end: usize,
    /// Number of field lines.
    pub fields: usize,
}

/// Scans a start line (when `start_line` is set) and field lines up to the blank line.
///
/// `skip_empty`: a server ignores empty lines before a request line (RFC 9112 §2.2).
pub(crate) fn scan(
    input: &[u8],
    start_line: bool,
    skip_empty: bool,
    limits: &Limits,
) -> Result<Section, WireError> {
    let mut start = 0;
    if skip_empty {
        while input[start..].starts_with(b"\r\n") && start < limits.max_header_section {
            start += 2;
        }
    }
    let mut i = start;
    let mut line_start = start;
    let mut first = start_line;
    let mut fields = 0;
    loop {
        if i - start > limits.max_header_section {
            return Err(if first {
                WireError::StartLineTooLong {
                    limit: limits.max_start_line,
                }
            } else {
                WireError::HeaderSectionTooLarge {
                    limit: limits.max_header_section,
                }
            });
        }
        let Some(&b) = input.get(i) else {
            return Err(WireError::Incomplete);
        };
        match b {
            b'\r' => match input.get(i + 1) {
                None => return Err(WireError::Incomplete),
                Some(b'\n') => {
                    let line = &input[line_start..i];
                    if line.is_empty() && first {
                        // A response never starts with an empty line (RFC 9112 §2.2 lets a
                        // server skip them before a request line only): say so, rather than
                        // read the status line as a field line.
                        return Err(WireError::InvalidStartLine {
                            line: String::new(),
                        });
                    }
                    if line.is_empty() {
                        return Ok(Section {
                            start,
                            end: i + 2,
                            fields,
                        });
                    }
                    if first {
                        first = false;
                    } else {
                        check_field_line(line)?;
                        fields += 1;
                        if fields > limits.max_headers {
                            return Err(WireError::TooManyHeaders {
                                limit: limits.max_headers,
                            });
                        }
                    }
                    i += 2;
                    line_start = i;
                    continue;
                }
                Some(_) => return Err(WireError::BareCr { offset: i }),
            },
            b'\n' => return Err(WireError::BareLf { offset: i }),
            0 => return Err(WireError::Nul { offset: i }),
            _ => {}
        }
        if first && i - line_start >= limits.max_start_line {
            return Err(WireError::StartLineTooLong {
                limit: limits.max_start_line,
            });
        }
        i += 1;
    }
}

fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

pub(crate) use crate::syntax::is_tchar;

/// RFC 9110 field-vchar plus SP and HTAB (obs-text allowed).
fn is_value_byte(b: u8) -> bool {
    b == b'\t' || (b' '..=b'~').contains(&b) || b >= 0x80
}

fn check_field_line(line: &[u8]) -> Result<(), WireError> {
    if line.first().copied().is_some_and(is_ws) {
        return Err(WireError::ObsFold {
            line: excerpt(line),
        });
    }
    let Some(colon) = line.iter().position(|&b| b == b':') else {
        return Err(WireError::MissingColon {
            line: excerpt(line),
        });
    };
    let name = &line[..colon];
    if name.last().copied().is_some_and(is_ws) {
        return Err(WireError::WhitespaceBeforeColon {
            name: excerpt(name.trim_ascii_end()),
        });
    }
    if name.is_empty() || !name.iter().copied().all(is_tchar) {
        return Err(WireError::InvalidHeaderName {
            name: excerpt(name),
        });
    }
    if !line[colon + 1..].iter().copied().all(is_value_byte) {
        return Err(WireError::InvalidHeaderValue {
            name: excerpt(name),
        });
    }
    Ok(())
}

/// Turns `httparse` fields into a `HeaderMap`, trimming optional whitespace around values.
pub(crate) fn header_map(fields: &[httparse::Header<'_>]) -> Result<HeaderMap, WireError> {
    let mut map = HeaderMap::with_capacity(fields.len());
    for field in fields {
        let name = HeaderName::from_bytes(field.name.as_bytes()).map_err(|_| {
            WireError::InvalidHeaderName {
                name: excerpt(field.name.as_bytes()),
            }
        })?;
        let value = HeaderValue::from_bytes(field.value.trim_ascii()).map_err(|_| {
            WireError::InvalidHeaderValue {
                name: excerpt(field.name.as_bytes()),
            }
        })?;
        map.append(name, value);
    }
    Ok(map)
}

/// Maps an `httparse` failure on a head whose lines were already checked.
pub(crate) fn httparse_error(err: httparse::Error, line: &[u8]) -> WireError {
    match err {
        httparse::Error::Version => WireError::UnsupportedVersion {
            line: excerpt(line),
        },
        httparse::Error::Status => WireError::InvalidStatus {
            line: excerpt(line),
        },
        httparse::Error::TooManyHeaders => WireError::TooManyHeaders { limit: 0 },
        _ => WireError::InvalidStartLine {
            line: excerpt(line),
        },
    }
}

/// The first line of a scanned section, for error messages.
pub(crate) fn first_line(head: &[u8]) -> &[u8] {
    let end = head.iter().position(|&b| b == b'\r').unwrap_or(head.len());
    &head[..end]
}

pub(crate) fn version(minor: Option<u8>, line: &[u8]) -> Result<Version, WireError> {
    match minor {
        Some(0) => Ok(Version::HTTP_10),
        Some(1) => Ok(Version::HTTP_11),
        _ => Err(WireError::UnsupportedVersion {
            line: excerpt(line),
        }),
    }
}

pub(crate) fn method(token: &str) -> Result<Method, WireError> {
    Method::from_bytes(token.as_bytes()).map_err(|_| WireError::InvalidMethod {
        method: excerpt(token.as_bytes()),
    })
}

/// Parses a request target and checks it has the form the method requires (RFC 9112 §3.2):
/// `*` only for OPTIONS, authority-form exactly for CONNECT, otherwise origin- or
/// absolute-form. Fragments are not part of a request target.
pub(crate) fn target(method: &Method, target: &str) -> Result<Uri, WireError> {
    let bad = |reason| WireError::InvalidTarget {
        target: excerpt(target.as_bytes()),
        reason,
    };
    if target.contains('#') {
        return Err(bad("a request target has no fragment"));
    }
    let uri: Uri = target
        .parse()
        .map_err(|_| bad("not a URI (percent-encode non-ASCII bytes)"))?;
    if *method == Method::CONNECT {
        if uri.scheme().is_some() || uri.authority().is_none() || target.starts_with('/') {
            return Err(bad("CONNECT takes host:port"));
        }
        return Ok(uri);
    }
    if target == "*" {
        return if *method == Method::OPTIONS {
            Ok(uri)
        } else {
            Err(bad("* is only for OPTIONS"))
        };
    }
    let origin_form = target.starts_with('/');
    let absolute_form = uri.scheme().is_some() && uri.authority().is_some();
    if !origin_form && !absolute_form {
        return Err(bad("expected /path or an absolute URI"));
    }
    if origin_form && uri.authority().is_some() {
        return Err(bad("expected /path or an absolute URI"));
    }
    Ok(uri)
}

/// RFC 9112 §3.2: an HTTP/1.1 request has exactly one valid `Host`; HTTP/1.0 at most one.
pub(crate) fn check_host(version: Version, headers: &HeaderMap) -> Result<(), WireError> {
    let mut hosts = headers.get_all(HOST).iter();
    let Some(host) = hosts.next() else {
        return if version == Version::HTTP_10 {
            Ok(())
        } else {
            Err(WireError::MissingHost)
        };
    };
    if hosts.next().is_some() {
        return Err(WireError::MultipleHost);
    }
    let bytes = host.as_bytes();
    if bytes.is_empty() {
        return Ok(());
    }
    // The grammar `serve` checks every `Host` against.
    let valid =
        std::str::from_utf8(bytes).is_ok_and(|v| crate::syntax::host::split_host_port(v).is_some());
    if valid {
        Ok(())
    } else {
        Err(WireError::InvalidHost {
            value: excerpt(bytes),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_req(input: &[u8]) -> Result<Section, WireError> {
        scan(input, true, true, &Limits::default())
    }

    #[test]
    fn finds_the_end_of_the_head() {
        let s = scan_req(b"GET / HTTP/1.1\r\nHost: a\r\n\r\nrest").unwrap();
        assert_eq!((s.start, s.end, s.fields), (0, 27, 1));
    }

    #[test]
    fn skips_leading_empty_lines() {
        let s = scan_req(b"\r\n\r\nGET / HTTP/1.1\r\n\r\n").unwrap();
        assert_eq!(s.start, 4);
    }

    #[test]
    fn an_empty_start_line_is_refused() {
        // Found by fuzz/diff_response: hyper's client skips it; this error used to be a
        // `MissingColon` on the status line read as a field line.
        let err = scan(
            b"\r\nHTTP/1.1 200 OK\r\n\r\n",
            true,
            false,
            &Limits::default(),
        );
        assert_eq!(
            err,
            Err(WireError::InvalidStartLine {
                line: String::new()
            })
        );
    }

    #[test]
    fn incomplete_until_the_blank_line() {
        assert_eq!(
            scan_req(b"GET / HTTP/1.1\r\nHost: a\r\n"),
            Err(WireError::Incomplete)
        );
        assert_eq!(scan_req(b"GET / HTTP/1.1\r"), Err(WireError::Incomplete));
    }

    #[test]
    fn rejects_bare_lf_and_cr() {
        assert_eq!(
            scan_req(b"GET / HTTP/1.1\n\n"),
            Err(WireError::BareLf { offset: 14 })
        );
        assert_eq!(
            scan_req(b"GET / HTTP/1.1\r\nA: b\rc\r\n\r\n"),
            Err(WireError::BareCr { offset: 20 })
        );
    }

    #[test]
    fn rejects_nul() {
        assert_eq!(
            scan_req(b"GET / HTTP/1.1\r\nA: b\0c\r\n\r\n"),
            Err(WireError::Nul { offset: 20 })
        );
    }

    #[test]
    fn rejects_obs_fold() {
        let err = scan_req(b"GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n").unwrap_err();
        assert!(matches!(err, WireError::ObsFold { .. }));
    }

    #[test]
    fn rejects_whitespace_before_colon() {
        let err = scan_req(b"GET / HTTP/1.1\r\nHost : a\r\n\r\n").unwrap_err();
        assert_eq!(
            err,
            WireError::WhitespaceBeforeColon {
                name: "Host".into()
            }
        );
    }

    #[test]
    fn rejects_control_bytes_in_values() {
        let err = scan_req(b"GET / HTTP/1.1\r\nA: \x01\r\n\r\n").unwrap_err();
        assert_eq!(err, WireError::InvalidHeaderValue { name: "A".into() });
    }

    #[test]
    fn limits_the_start_line_and_the_section() {
        let limits = Limits {
            max_start_line: 16,
            max_header_section: 40,
            ..Limits::default()
        };
        let long_line = b"GET /aaaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\n\r\n";
        assert_eq!(
            scan(long_line, true, true, &limits),
            Err(WireError::StartLineTooLong { limit: 16 })
        );
        let big = b"GET / HTTP/1.1\r\nA: 0123456789\r\nB: 0123456789\r\n\r\n";
        assert_eq!(
            scan(big, true, true, &limits),
            Err(WireError::HeaderSectionTooLarge { limit: 40 })
        );
        let many = Limits {
            max_headers: 1,
            ..Limits::default()
        };
        assert_eq!(
            scan(b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\n\r\n", true, true, &many),
            Err(WireError::TooManyHeaders { limit: 1 })
        );
    }

    #[test]
    fn targets_match_their_method() {
        assert!(target(&Method::GET, "/a?b").is_ok());
        assert!(target(&Method::GET, "http://a/b").is_ok());
        assert!(target(&Method::OPTIONS, "*").is_ok());
        assert!(target(&Method::CONNECT, "a:443").is_ok());
        assert!(target(&Method::GET, "*").is_err());
        assert!(target(&Method::GET, "a:443").is_err());
        assert!(target(&Method::CONNECT, "/a").is_err());
        assert!(target(&Method::GET, "/a#frag").is_err());
        assert!(target(&Method::GET, "//a/b").is_ok());
    }

    #[test]
    fn host_rules() {
        let mut h = HeaderMap::new();
        assert_eq!(
            check_host(Version::HTTP_11, &h),
            Err(WireError::MissingHost)
        );
        assert_eq!(check_host(Version::HTTP_10, &h), Ok(()));
        h.append(HOST, HeaderValue::from_static("a:80"));
        assert_eq!(check_host(Version::HTTP_11, &h), Ok(()));
        h.append(HOST, HeaderValue::from_static("b"));
        assert_eq!(
            check_host(Version::HTTP_11, &h),
            Err(WireError::MultipleHost)
        );
        let mut bad = HeaderMap::new();
        bad.insert(HOST, HeaderValue::from_static("u@a"));
        assert!(matches!(
            check_host(Version::HTTP_11, &bad),
            Err(WireError::InvalidHost { .. })
        ));
    }
}
