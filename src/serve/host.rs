//! Checking the `Host` of a request before any service sees it: hyper does not.

use http::header::HOST;
use http::{HeaderMap, Uri, Version};

/// Why `serve` refused a request's `Host` with `400 Bad Request`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HostHeaderError {
    /// An HTTP/1.1 request without a `Host` header, or an HTTP/2 request without `:authority`
    /// or `Host`.
    Missing,
    /// More than one `Host` header.
    Repeated,
    /// A `Host` that is not `host[:port]` (the bad value, truncated to 64 bytes).
    Malformed(String),
    /// An HTTP/2 `Host` header that names another authority than `:authority`.
    Mismatch {
        /// The `Host` header, truncated to 64 bytes.
        host: String,
        /// The `:authority` pseudo-header.
        authority: String,
    },
}

impl std::fmt::Display for HostHeaderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HostHeaderError::Missing => {
                f.write_str("the request has no Host header; HTTP/1.1 requires one")
            }
            HostHeaderError::Repeated => f.write_str("the request has more than one Host header"),
            HostHeaderError::Malformed(v) => {
                write!(f, "the Host header {v:?} is not a valid host[:port]")
            }
            HostHeaderError::Mismatch { host, authority } => write!(
                f,
                "the Host header {host:?} differs from the request's authority {authority:?}"
            ),
        }
    }
}

impl std::error::Error for HostHeaderError {}

impl crate::error::ClientError for HostHeaderError {}

/// Checks the `Host` of a request as RFC 9112 §3.2 and RFC 9113 §8.3.1 ask.
///
/// - HTTP/1.1: exactly one `Host`, a valid `host[:port]` (empty is refused too: every origin
///   served here has a name).
/// - HTTP/1.0: `Host` is optional; when present it is checked the same way.
/// - HTTP/2 and later: `:authority` or `Host` must be present; a `Host` that differs
///   (ASCII case-insensitively) from `:authority` is refused.
///
/// A target in absolute form (`GET http://a/ HTTP/1.1`) is accepted; the caller replaces `Host`
/// with the target's authority, as RFC 9112 §3.2.2 requires. That authority (and HTTP/2's
/// `:authority`) must be a valid `host[:port]` too, user info refused.
///
/// # Errors
///
/// The [`HostHeaderError`] naming what is wrong; it converts to a `400` [`HttpError`](crate::HttpError).
pub fn check(version: Version, uri: &Uri, headers: &HeaderMap) -> Result<(), HostHeaderError> {
    let mut hosts = headers.get_all(HOST).iter();
    let host = hosts.next();
    if hosts.next().is_some() {
        return Err(HostHeaderError::Repeated);
    }
    if let Some(host) = host {
        if !is_valid_host(host.as_bytes()) {
            return Err(HostHeaderError::Malformed(excerpt_bytes(host.as_bytes())));
        }
    }
    // An absolute-form target's authority replaces `Host`, and HTTP/2's `:authority` stands
    // for it: the same rules hold for them, or a client could pass a bad host around the check.
    if let Some(authority) = uri.authority() {
        if !is_valid_host(authority.as_str().as_bytes()) {
            return Err(HostHeaderError::Malformed(excerpt_bytes(
                authority.as_str().as_bytes(),
            )));
        }
    }
    match version {
        Version::HTTP_09 | Version::HTTP_10 => Ok(()),
        Version::HTTP_11 => host.map(|_| ()).ok_or(HostHeaderError::Missing),
        _ => match (host, uri.authority()) {
            (None, None) => Err(HostHeaderError::Missing),
            (Some(host), Some(authority))
                if !host
                    .as_bytes()
                    .eq_ignore_ascii_case(authority.as_str().as_bytes()) =>
            {
                Err(HostHeaderError::Mismatch {
                    host: excerpt_bytes(host.as_bytes()),
                    authority: excerpt_bytes(authority.as_str().as_bytes()),
                })
            }
            _ => Ok(()),
        },
    }
}

/// `uri-host [ ":" port ]` (RFC 3986), the grammar of
/// [`split_host_port`](crate::syntax::host::split_host_port): a non-empty reg-name or a
/// bracketed IPv6 literal, no user info, a port that fits in `u16`. Runs on every request,
/// without allocating.
fn is_valid_host(value: &[u8]) -> bool {
    std::str::from_utf8(value).is_ok_and(|v| crate::syntax::host::split_host_port(v).is_some())
}

/// A header value quoted in an error: its text, cut like every other excerpt.
fn excerpt_bytes(bytes: &[u8]) -> String {
    crate::syntax::excerpt(&String::from_utf8_lossy(bytes), 64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::HttpError;
    use http::HeaderValue;

    fn headers(hosts: &[&[u8]]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for h in hosts {
            map.append(HOST, HeaderValue::from_bytes(h).unwrap());
        }
        map
    }

    macro_rules! case {
        ($name:ident, $version:expr, $uri:expr, $hosts:expr, $ok:expr) => {
            #[test]
            fn $name() {
                let uri: Uri = $uri.parse().unwrap();
                let result = check($version, &uri, &headers($hosts));
                assert_eq!(result.is_ok(), $ok, "{result:?}");
            }
        };
    }

    case!(
        http11_plain_host,
        Version::HTTP_11,
        "/",
        &[b"example.com"],
        true
    );
    case!(
        http11_host_with_port,
        Version::HTTP_11,
        "/",
        &[b"example.com:8080"],
        true
    );
    case!(
        http11_ipv6_host,
        Version::HTTP_11,
        "/",
        &[b"[::1]:8080"],
        true
    );
    case!(http11_missing_host, Version::HTTP_11, "/", &[], false);
    case!(http11_lone_percent, Version::HTTP_11, "/", &[b"a%4"], false);
    case!(
        http11_percent_escape,
        Version::HTTP_11,
        "/",
        &[b"a%41"],
        true
    );
    case!(
        http11_repeated_host,
        Version::HTTP_11,
        "/",
        &[b"a", b"a"],
        false
    );
    case!(http11_empty_host, Version::HTTP_11, "/", &[b""], false);
    case!(
        http11_userinfo,
        Version::HTTP_11,
        "/",
        &[b"user@example.com"],
        false
    );
    case!(
        http11_space,
        Version::HTTP_11,
        "/",
        &[b"exa mple.com"],
        false
    );
    case!(
        http11_path_in_host,
        Version::HTTP_11,
        "/",
        &[b"example.com/x"],
        false
    );
    case!(
        http11_port_overflow,
        Version::HTTP_11,
        "/",
        &[b"example.com:70000"],
        false
    );
    case!(
        http11_non_utf8,
        Version::HTTP_11,
        "/",
        &[b"ex\xffample"],
        false
    );
    case!(
        http11_empty_port,
        Version::HTTP_11,
        "/",
        &[b"example.com:"],
        true
    );
    case!(
        http11_ipv6_no_port,
        Version::HTTP_11,
        "/",
        &[b"[::1]"],
        true
    );
    case!(
        http11_ipv6_unclosed,
        Version::HTTP_11,
        "/",
        &[b"[::1:80"],
        false
    );
    case!(
        http11_ipv6_garbage,
        Version::HTTP_11,
        "/",
        &[b"[zz]"],
        false
    );
    case!(
        http11_after_ipv6,
        Version::HTTP_11,
        "/",
        &[b"[::1]x"],
        false
    );
    case!(
        http11_letters_in_port,
        Version::HTTP_11,
        "/",
        &[b"a:8o"],
        false
    );
    case!(
        http11_two_colons,
        Version::HTTP_11,
        "/",
        &[b"a:80:80"],
        false
    );
    case!(
        http11_absolute_form,
        Version::HTTP_11,
        "http://a.example/x",
        &[b"b.example"],
        true
    );
    case!(http10_without_host, Version::HTTP_10, "/", &[], true);
    case!(
        absolute_form_with_user_info,
        Version::HTTP_11,
        "http://user@evil.example/",
        &[b"good.example"],
        false
    );
    case!(
        absolute_form_valid_authority,
        Version::HTTP_11,
        "http://other.example:8080/x",
        &[b"good.example"],
        true
    );
    case!(
        http2_authority_with_user_info,
        Version::HTTP_2,
        "https://user@good.example/",
        &[],
        false
    );
    case!(
        http10_malformed_host,
        Version::HTTP_10,
        "/",
        &[b"a b"],
        false
    );
    case!(
        h2_authority_only,
        Version::HTTP_2,
        "http://a.example/",
        &[],
        true
    );
    case!(
        h2_same_host,
        Version::HTTP_2,
        "http://a.example/",
        &[b"A.example"],
        true
    );
    case!(h2_host_only, Version::HTTP_2, "/", &[b"a.example"], true);
    case!(h2_neither, Version::HTTP_2, "/", &[], false);
    case!(
        h2_mismatch,
        Version::HTTP_2,
        "http://a.example/",
        &[b"b.example"],
        false
    );

    proptest::proptest! {
        #[test]
        fn never_panics_and_agrees_with_the_uri_parser(value in proptest::collection::vec(proptest::num::u8::ANY, 0..40)) {
            let valid = is_valid_host(&value);
            // Whatever we accept, `http` parses as an authority with that very host.
            if valid {
                let text = std::str::from_utf8(&value).unwrap();
                let authority: http::uri::Authority = text.parse().unwrap();
                proptest::prop_assert!(text.starts_with(authority.host()));
            }
        }
    }

    #[test]
    fn malformed_value_is_truncated() {
        let long = vec![b'a'; 300];
        let mut value = long.clone();
        value.push(b' ');
        let err = check(
            Version::HTTP_11,
            &Uri::from_static("/"),
            &headers(&[&value]),
        )
        .unwrap_err();
        let HostHeaderError::Malformed(shown) = err else {
            panic!("{err:?}")
        };
        assert_eq!(shown.len(), 64 + '…'.len_utf8(), "{shown}");
        assert!(shown.ends_with('…'));
    }

    #[test]
    fn errors_are_400() {
        let e: HttpError = HostHeaderError::Missing.into();
        assert_eq!(e.status(), http::StatusCode::BAD_REQUEST);
    }
}
