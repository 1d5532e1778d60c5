//! Host normalization: RFC 3986 §6.2.2.1 (case), §6.2.3 (default port), RFC 5952 (IPv6 text).

use std::borrow::Cow;
use std::net::Ipv6Addr;

use super::HostError;

/// The longest host name DNS allows (RFC 1035 §2.3.4), without the trailing dot.
const MAX_NAME: usize = 253;
/// The longest DNS label.
const MAX_LABEL: usize = 63;

/// The default port of a scheme, stripped by [`host`].
pub fn default_port(scheme: &str) -> Option<u16> {
    let is = |name: &str| scheme.eq_ignore_ascii_case(name);
    if is("http") || is("ws") {
        Some(80)
    } else if is("https") || is("wss") {
        Some(443)
    } else {
        None
    }
}

/// Normalizes a `Host` header value or URI authority (`host[:port]`, no user info) for `scheme`.
///
/// The name is lowercased and loses one trailing dot (`Example.COM.` → `example.com`); an
/// IPv6 literal is written the RFC 5952 way (`[2001:DB8:0::1]` → `[2001:db8::1]`); a port is
/// written without leading zeros, and dropped when empty or the default for `scheme` (`:80`
/// for `http`/`ws`, `:443` for `https`/`wss`). Punycode labels (`xn--…`) are left as they are:
/// no IDNA mapping happens here. The result is borrowed when nothing changed.
///
/// # Errors
///
/// A [`HostError`] (a 400 answer) for an empty host, a character a DNS name or IPv4 address
/// does not have (non-ASCII names must come in punycode), an empty or over-long label, a
/// malformed IPv6 literal or zone id, or a port that is not a number up to 65535.
///
/// # Example
///
/// ```
/// use tollgate::normalize::host;
///
/// assert_eq!(host("Example.COM.:80", "http").unwrap(), "example.com");
/// assert_eq!(host("example.com:443", "http").unwrap(), "example.com:443");
/// assert_eq!(host("[2001:DB8::0:1]:8443", "https").unwrap(), "[2001:db8::1]:8443");
/// assert!(host("bücher.example", "http").is_err());
/// ```
pub fn host<'a>(input: &'a str, scheme: &str) -> Result<Cow<'a, str>, HostError> {
    if input.is_empty() {
        return Err(HostError::Empty);
    }
    let (name, port) = if input.starts_with('[') {
        let end = input.find(']').ok_or_else(|| HostError::InvalidIpv6 {
            host: crate::syntax::excerpt(input, 64),
        })?;
        (&input[..=end], &input[end + 1..])
    } else {
        match input.bytes().rposition(|b| b == b':') {
            Some(colon) => (&input[..colon], &input[colon..]),
            None => (input, ""),
        }
    };
    let raw_port = port;
    let name_part = name;
    let name = if name.starts_with('[') {
        Cow::Owned(ipv6_literal(name, input)?)
    } else {
        reg_name(name, input)?
    };
    let port = port_part(port, scheme, input)?;
    // The usual case, without building anything: the name came through as it was and the port
    // is written as it would be (absent, or digits without a leading zero).
    if name.as_ref() == name_part && port_kept_verbatim(raw_port, port) {
        return Ok(Cow::Borrowed(input));
    }
    let mut out = String::with_capacity(name.len() + 6);
    out.push_str(&name);
    if let Some(port) = port {
        use std::fmt::Write as _;
        // Writing to a `String` cannot fail.
        let _ = write!(out, ":{port}");
    }
    if out == input {
        Ok(Cow::Borrowed(input))
    } else {
        Ok(Cow::Owned(out))
    }
}

#[inline(never)]
fn ipv6_literal(bracketed: &str, input: &str) -> Result<String, HostError> {
    let inner = &bracketed[1..bracketed.len() - 1];
    // Zone ids (`%25eth0`, RFC 6874) name an interface of the client, meaningless to a server.
    let addr: Ipv6Addr = inner.parse().map_err(|_| HostError::InvalidIpv6 {
        host: crate::syntax::excerpt(input, 64),
    })?;
    Ok(format!("[{addr}]"))
}

fn reg_name<'a>(name: &'a str, input: &str) -> Result<Cow<'a, str>, HostError> {
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    // One pass: a name it accepts is valid; one it turns down is refused, `reg_name_error` says why.
    let mut label = 0;
    let mut labels_ok = true;
    let mut upper = false;
    let mut chars_ok = true;
    for &b in trimmed.as_bytes() {
        match b {
            b'.' => {
                labels_ok &= label > 0 && label <= MAX_LABEL;
                label = 0;
            }
            b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' => label += 1,
            b'A'..=b'Z' => {
                upper = true;
                label += 1;
            }
            _ => chars_ok = false,
        }
    }
    labels_ok &= label > 0 && label <= MAX_LABEL && trimmed.len() <= MAX_NAME;
    if chars_ok && labels_ok {
        return Ok(if upper {
            Cow::Owned(trimmed.to_ascii_lowercase())
        } else {
            Cow::Borrowed(trimmed)
        });
    }
    Err(reg_name_error(name, trimmed, input))
}

/// Why a name the one-pass check turned down is refused, checked in this order: non-ASCII,
/// another invalid character, empty, a bad label or length.
#[cold]
#[inline(never)]
fn reg_name_error(name: &str, trimmed: &str, input: &str) -> HostError {
    if let Some(c) = name.chars().find(|c| !c.is_ascii()) {
        return HostError::NonAscii {
            host: crate::syntax::excerpt(input, 64),
            found: c,
        };
    }
    if let Some(c) = name
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')))
    {
        return HostError::InvalidCharacter {
            host: crate::syntax::excerpt(input, 64),
            found: c,
        };
    }
    if trimmed.is_empty() {
        return HostError::Empty;
    }
    HostError::InvalidLabel {
        host: crate::syntax::excerpt(input, 64),
    }
}

/// Whether `raw` (`""` or `":digits"`, already checked) is how `kept` is written.
fn port_kept_verbatim(raw: &str, kept: Option<u16>) -> bool {
    match (kept, raw.strip_prefix(':')) {
        (None, None) => true,
        (Some(_), Some(digits)) => !digits.starts_with('0') || digits == "0",
        _ => false,
    }
}

/// The port to keep, from `""` or `":digits"`.
fn port_part(port: &str, scheme: &str, input: &str) -> Result<Option<u16>, HostError> {
    let Some(digits) = port.strip_prefix(':') else {
        return if port.is_empty() {
            Ok(None)
        } else {
            Err(HostError::InvalidPort {
                host: crate::syntax::excerpt(input, 64),
            })
        };
    };
    if digits.is_empty() {
        return Ok(None);
    }
    if !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 5 {
        return Err(HostError::InvalidPort {
            host: crate::syntax::excerpt(input, 64),
        });
    }
    let number: u16 = digits.parse().map_err(|_| HostError::InvalidPort {
        host: crate::syntax::excerpt(input, 64),
    })?;
    if default_port(scheme) == Some(number) {
        Ok(None)
    } else {
        Ok(Some(number))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! cases {
        ($($name:ident: $input:expr, $scheme:expr => $expected:expr;)*) => {$(
            #[test]
            fn $name() {
                let got = host($input, $scheme).map(Cow::into_owned);
                assert_eq!(got.as_deref().ok(), Some($expected), "{:?} gave {:?}", $input, got);
            }
        )*};
    }

    cases! {
        lowercases: "Example.COM", "http" => "example.com";
        strips_trailing_dot: "example.com.", "http" => "example.com";
        strips_default_http_port: "example.com:80", "http" => "example.com";
        strips_default_https_port: "example.com:443", "HTTPS" => "example.com";
        strips_default_wss_port: "example.com:443", "wss" => "example.com";
        keeps_other_port: "example.com:8080", "http" => "example.com:8080";
        keeps_https_port_on_http: "example.com:443", "http" => "example.com:443";
        unknown_scheme_keeps_port: "example.com:80", "ftp" => "example.com:80";
        drops_empty_port: "example.com:", "http" => "example.com";
        drops_leading_zeros: "example.com:0080", "https" => "example.com:80";
        leading_zeros_of_default: "example.com:080", "http" => "example.com";
        punycode_left_as_is: "XN--bcher-kva.example", "http" => "xn--bcher-kva.example";
        ipv4: "127.0.0.1:80", "http" => "127.0.0.1";
        ipv6_rfc5952: "[2001:DB8:0:0::1]", "http" => "[2001:db8::1]";
        ipv6_with_port: "[::1]:8080", "http" => "[::1]:8080";
        ipv6_default_port: "[::1]:443", "https" => "[::1]";
        underscore_allowed: "my_host.internal", "http" => "my_host.internal";
        single_label: "localhost:3000", "http" => "localhost:3000";
    }

    #[test]
    fn normal_hosts_are_borrowed() {
        for h in ["example.com", "localhost:8080", "[::1]:8080", "127.0.0.1"] {
            assert!(matches!(host(h, "http"), Ok(Cow::Borrowed(_))), "{h}");
        }
    }

    #[test]
    fn refuses_bad_hosts() {
        assert!(matches!(host("", "http"), Err(HostError::Empty)));
        assert!(matches!(host(".", "http"), Err(HostError::Empty)));
        assert!(matches!(host(":80", "http"), Err(HostError::Empty)));
        for h in ["a..b", "a.b..", ".a", &"a".repeat(64), &"a.".repeat(200)] {
            assert!(
                matches!(host(h, "http"), Err(HostError::InvalidLabel { .. })),
                "{h}"
            );
        }
        for h in ["a b", "a/b", "a\r\nb", "a@b", "a%2eb", "a\0"] {
            assert!(
                matches!(host(h, "http"), Err(HostError::InvalidCharacter { .. })),
                "{h:?}"
            );
        }
        assert!(matches!(
            host("bücher.de", "http"),
            Err(HostError::NonAscii { found: 'ü', .. })
        ));
        for h in [
            "a:x", "a:99999", "a:65536", "a:-1", "a:1:2", "[::1]x", "[::1]:+1",
        ] {
            assert!(
                matches!(
                    host(h, "http"),
                    Err(HostError::InvalidPort { .. } | HostError::InvalidCharacter { .. })
                ),
                "{h}"
            );
        }
        for h in ["[::1", "[::g]", "[fe80::1%25eth0]", "[v1.x]", "[1.2.3.4]"] {
            assert!(
                matches!(host(h, "http"), Err(HostError::InvalidIpv6 { .. })),
                "{h}"
            );
        }
    }

    #[test]
    fn is_idempotent() {
        for h in ["Example.COM.:80", "[2001:DB8::0:1]:0443", "a.B.c:", "x:1"] {
            let once = host(h, "https").unwrap();
            assert_eq!(host(&once, "https").unwrap(), once);
        }
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn never_panics_and_is_idempotent(input in "\\PC{0,40}", https in any::<bool>()) {
                let scheme = if https { "https" } else { "http" };
                if let Ok(once) = host(&input, scheme) {
                    prop_assert_eq!(host(&once, scheme).ok(), Some(once.clone()));
                }
            }
        }
    }
}
