//! Hosts: splitting `host[:port]`, the one grammar of host names, and host patterns.
//!
//! Two questions, two functions, one grammar each:
//!
//! - Is this value an authority at all? [`split_host_port`] reads RFC 3986's
//!   `host [":" port]` (a reg-name or a bracketed IPv6 literal), the rule `serve` checks every
//!   `Host` against. It says nothing about whether the name exists.
//! - Is this a host name tollgate may compare, believe or write? [`normalize`] accepts DNS
//!   names (dot-separated labels of letters, digits, `-` and `_`, 1 to 63 bytes each, 253 in
//!   all, one optional trailing dot), IPv4 addresses and bracketed IPv6 addresses, and writes
//!   them one way (lowercase, no trailing dot, no default port, RFC 5952 IPv6). Values from
//!   trusted proxies, the public host written into redirects, and [`HostPattern`]s use it.
//!
//! `_` is accepted because internal names carry it (Docker Compose services, `_acme-challenge`
//! and other service labels), and refusing it would turn away requests the serving layer let
//! in; an empty label (`a..b`) is refused because no DNS name has one.
//!
//! # Example
//!
//! ```
//! use tollgate::syntax::host::{normalize, split_host_port, HostPattern};
//!
//! assert_eq!(split_host_port("Example.com:8080"), Some(("Example.com", Some(8080))));
//! assert_eq!(normalize("Example.COM.:80", "http").unwrap(), "example.com");
//!
//! let pattern = HostPattern::parse("*.example.com").unwrap();
//! assert!(pattern.matches("API.Example.com"));
//! assert!(!pattern.matches("example.com"));
//! ```

use std::borrow::Cow;
use std::fmt;
use std::net::Ipv6Addr;

/// The longest host name DNS allows (RFC 1035 §2.3.4), without the trailing dot.
const MAX_NAME: usize = 253;
/// The longest DNS label.
const MAX_LABEL: usize = 63;

/// Splits `host[:port]` (IPv6 in brackets) into the host and the port, as RFC 3986 §3.2.2
/// writes an authority without user info: `None` when the value is not one (empty, a bad
/// port, an unclosed bracket, a character a reg-name cannot hold, a `%` without two hex
/// digits). An empty port (`example.com:`) is no port. Nothing is allocated.
///
/// The host comes back as written (case, trailing dot); [`normalize`] gives its one spelling.
///
/// ```
/// use tollgate::syntax::host::split_host_port;
///
/// assert_eq!(split_host_port("example.com:8080"), Some(("example.com", Some(8080))));
/// assert_eq!(split_host_port("[::1]"), Some(("[::1]", None)));
/// assert_eq!(split_host_port("a b"), None);
/// assert_eq!(split_host_port("a:99999"), None);
/// ```
pub fn split_host_port(value: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = split(value)?;
    let valid_host = match host.as_bytes() {
        [] => false,
        [b'[', inner @ .., b']'] => {
            !inner.is_empty()
                && inner
                    .iter()
                    .all(|&b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        }
        name => {
            name.iter().all(|&b| super::percent::is_reg_name(b))
                && super::percent::escapes_complete(name)
        }
    };
    if !valid_host {
        return None;
    }
    Some((host, parse_port(port)?))
}

/// Splits an authority into the host (IPv6 with its brackets) and what follows it (`""` or
/// `":…"`, not yet checked); `None` for an unclosed bracket.
fn split(value: &str) -> Option<(&str, &str)> {
    // Byte scans: hosts are short, and `str::find` sets up a searcher per call (this runs on
    // every request, several times).
    let bytes = value.as_bytes();
    if bytes.first() == Some(&b'[') {
        let end = bytes.iter().position(|&b| b == b']')?;
        return Some(value.split_at(end + 1));
    }
    Some(value.split_at(bytes.iter().position(|&b| b == b':').unwrap_or(bytes.len())))
}

/// The port of what follows a host: `None` for `""` and `":"`, the number for `":digits"` up to
/// 65535; `None` outside (for anything else).
fn parse_port(rest: &str) -> Option<Option<u16>> {
    match rest.strip_prefix(':') {
        None if rest.is_empty() => Some(None),
        Some("") => Some(None),
        Some(digits) if digits.len() <= 5 && digits.bytes().all(|b| b.is_ascii_digit()) => {
            // At most five digits: no overflow in a u32.
            let number = digits
                .bytes()
                .fold(0u32, |n, b| n * 10 + u32::from(b - b'0'));
            u16::try_from(number).ok().map(Some)
        }
        _ => None,
    }
}

/// Whether `host` (as [`split_host_port`] gives it: no port) is an IP literal, which a cookie
/// `Domain` cannot name: an IPv4 address or a bracketed IPv6 address.
pub fn is_ip_literal(host: &str) -> bool {
    host.starts_with('[') || host.parse::<std::net::Ipv4Addr>().is_ok()
}

/// Why a host was refused: each is a `400 Bad Request` with this message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HostError {
    /// No host name.
    Empty,
    /// A non-ASCII character: internationalized names must come in punycode.
    NonAscii {
        /// The host (truncated).
        host: String,
        /// The first non-ASCII character.
        found: char,
    },
    /// A character that no DNS name or IPv4 address has.
    InvalidCharacter {
        /// The host (truncated).
        host: String,
        /// The first such character.
        found: char,
    },
    /// An empty label (`a..b`) or one longer than 63 bytes, or a name longer than 253.
    InvalidLabel {
        /// The host (truncated).
        host: String,
    },
    /// A bracketed literal that is not an IPv6 address (zone ids are refused too).
    InvalidIpv6 {
        /// The host (truncated).
        host: String,
    },
    /// A port that is not a number up to 65535.
    InvalidPort {
        /// The host (truncated).
        host: String,
    },
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostError::Empty => f.write_str("empty host name"),
            HostError::NonAscii { host, found } => write!(
                f,
                "invalid host {host:?}: non-ASCII character {found:?}; internationalized names must be supplied in punycode (`xn--…`)"
            ),
            HostError::InvalidCharacter { host, found } => write!(
                f,
                "invalid host {host:?}: {found:?} is not allowed in a host name"
            ),
            HostError::InvalidLabel { host } => write!(
                f,
                "invalid host {host:?}: labels must be 1 to 63 characters and the name at most 253"
            ),
            HostError::InvalidIpv6 { host } => {
                write!(f, "invalid host {host:?}: not an IPv6 address in brackets, like `[2001:db8::1]`")
            }
            HostError::InvalidPort { host } => {
                write!(f, "invalid host {host:?}: the port must be a number from 0 to 65535")
            }
        }
    }
}

impl std::error::Error for HostError {}

/// A host to match: exact (`example.com`) or a wildcard over subdomains (`*.example.com`).
///
/// Matching ignores ASCII case and a trailing dot. `*.example.com` matches any depth of
/// subdomain (`a.example.com`, `a.b.example.com`), as nginx's `server_name *.example.com`
/// does, and never the bare `example.com`. The name follows [`normalize`]'s grammar.
///
/// Dispatch's host routes and rewrite's `when.host` condition both use it, on the host
/// [`Origin`](crate::origin::Origin) reports, so both agree on what `*.example.com` means and
/// on which host a request is for.
///
/// ```
/// use tollgate::syntax::host::HostPattern;
///
/// let exact = HostPattern::parse("Example.com").unwrap();
/// assert!(exact.matches("example.COM."));
/// assert!(HostPattern::parse("a..b").is_err());
/// assert!(HostPattern::parse("example.com:80").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern(Kind);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// `example.com`, lowercased.
    Exact(String),
    /// `*.example.com`, stored as `.example.com`, lowercased.
    Suffix(String),
}

/// Why a host pattern was refused; its message says how to write one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPatternError(pub(crate) &'static str);

impl HostPatternError {
    /// What is wrong, and how to write the pattern instead.
    pub fn reason(&self) -> &'static str {
        self.0
    }
}

impl fmt::Display for HostPatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for HostPatternError {}

impl HostPattern {
    /// Parses `example.com` or `*.example.com`.
    ///
    /// # Errors
    ///
    /// A [`HostPatternError`] for an empty pattern, a `*` anywhere but as the whole first
    /// label, a port, or a name [`normalize`] refuses (`a..b`, `ex ample.com`).
    pub fn parse(pattern: &str) -> Result<Self, HostPatternError> {
        let (wild, name) = match pattern.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, pattern),
        };
        if name.is_empty() || name == "." {
            return Err(HostPatternError("the host is empty"));
        }
        if name.contains('*') {
            return Err(HostPatternError(
                "`*` is only allowed as the whole first label, as in `*.example.com`",
            ));
        }
        if name.contains(':') {
            return Err(HostPatternError(
                "host patterns match any port; leave the port out",
            ));
        }
        let name = reg_name(name, pattern).map_err(|_| {
            HostPatternError(
                "a host is dot-separated labels of letters, digits, `-` and `_`, 1 to 63 \
                 characters each (IDNA names in punycode)",
            )
        })?;
        Ok(HostPattern(if wild {
            Kind::Suffix(format!(".{name}"))
        } else {
            Kind::Exact(name.into_owned())
        }))
    }

    /// Whether `host` matches: a host without its port (as
    /// [`Origin::host`](crate::origin::Origin::host) gives it), in any case, with or without
    /// a trailing dot.
    pub fn matches(&self, host: &str) -> bool {
        let host = host.strip_suffix('.').unwrap_or(host).as_bytes();
        match &self.0 {
            Kind::Exact(exact) => host.eq_ignore_ascii_case(exact.as_bytes()),
            Kind::Suffix(suffix) => {
                host.len() > suffix.len()
                    && host[host.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
            }
        }
    }

    /// How specific the pattern is: exact beats any wildcard, a longer suffix beats a shorter.
    pub fn specificity(&self) -> usize {
        match &self.0 {
            Kind::Exact(_) => usize::MAX,
            Kind::Suffix(s) => s.len(),
        }
    }
}

/// The default port of a scheme, stripped by [`normalize`].
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
/// use tollgate::syntax::host::normalize;
///
/// assert_eq!(normalize("Example.COM.:80", "http").unwrap(), "example.com");
/// assert_eq!(normalize("example.com:443", "http").unwrap(), "example.com:443");
/// assert_eq!(normalize("[2001:DB8::0:1]:8443", "https").unwrap(), "[2001:db8::1]:8443");
/// assert!(normalize("bücher.example", "http").is_err());
/// ```
pub fn normalize<'a>(input: &'a str, scheme: &str) -> Result<Cow<'a, str>, HostError> {
    if input.is_empty() {
        return Err(HostError::Empty);
    }
    let (name, port) = split(input).ok_or_else(|| HostError::InvalidIpv6 {
        host: super::excerpt(input, 64),
    })?;
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
        host: super::excerpt(input, 64),
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
            host: super::excerpt(input, 64),
            found: c,
        };
    }
    if let Some(c) = name
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')))
    {
        return HostError::InvalidCharacter {
            host: super::excerpt(input, 64),
            found: c,
        };
    }
    if trimmed.is_empty() {
        return HostError::Empty;
    }
    HostError::InvalidLabel {
        host: super::excerpt(input, 64),
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

/// The port to keep, from what follows the name (`""`, `":"` or `":digits"`).
fn port_part(port: &str, scheme: &str, input: &str) -> Result<Option<u16>, HostError> {
    let number = parse_port(port).ok_or_else(|| HostError::InvalidPort {
        host: super::excerpt(input, 64),
    })?;
    let Some(number) = number else {
        return Ok(None);
    };
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
                let got = normalize($input, $scheme).map(Cow::into_owned);
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
            assert!(matches!(normalize(h, "http"), Ok(Cow::Borrowed(_))), "{h}");
        }
    }

    #[test]
    fn refuses_bad_hosts() {
        assert!(matches!(normalize("", "http"), Err(HostError::Empty)));
        assert!(matches!(normalize(".", "http"), Err(HostError::Empty)));
        assert!(matches!(normalize(":80", "http"), Err(HostError::Empty)));
        for h in ["a..b", "a.b..", ".a", &"a".repeat(64), &"a.".repeat(200)] {
            assert!(
                matches!(normalize(h, "http"), Err(HostError::InvalidLabel { .. })),
                "{h}"
            );
        }
        for h in ["a b", "a/b", "a\r\nb", "a@b", "a%2eb", "a\0"] {
            assert!(
                matches!(
                    normalize(h, "http"),
                    Err(HostError::InvalidCharacter { .. })
                ),
                "{h:?}"
            );
        }
        assert!(matches!(
            normalize("bücher.de", "http"),
            Err(HostError::NonAscii { found: 'ü', .. })
        ));
        for h in [
            "a:x", "a:99999", "a:65536", "a:-1", "a:1:2", "[::1]x", "[::1]:+1",
        ] {
            assert!(
                matches!(
                    normalize(h, "http"),
                    Err(HostError::InvalidPort { .. } | HostError::InvalidCharacter { .. })
                ),
                "{h}"
            );
        }
        for h in ["[::1", "[::g]", "[fe80::1%25eth0]", "[v1.x]", "[1.2.3.4]"] {
            assert!(
                matches!(normalize(h, "http"), Err(HostError::InvalidIpv6 { .. })),
                "{h}"
            );
        }
    }

    #[test]
    fn is_idempotent() {
        for h in ["Example.COM.:80", "[2001:DB8::0:1]:0443", "a.B.c:", "x:1"] {
            let once = normalize(h, "https").unwrap();
            assert_eq!(normalize(&once, "https").unwrap(), once);
        }
    }

    #[test]
    fn exact_pattern_ignores_case_and_trailing_dot() {
        let p = HostPattern::parse("Example.COM.").unwrap();
        assert_eq!(p, HostPattern::parse("example.com").unwrap());
        assert!(p.matches("example.com"));
        assert!(p.matches("EXAMPLE.com."));
        assert!(!p.matches("www.example.com"));
    }

    #[test]
    fn wildcard_matches_any_depth_but_not_the_bare_domain() {
        let p = HostPattern::parse("*.example.com").unwrap();
        assert!(p.matches("a.example.com"));
        assert!(p.matches("A.B.Example.com"));
        assert!(!p.matches("example.com"));
        assert!(!p.matches("badexample.com"));
    }

    #[test]
    fn patterns_follow_the_host_grammar() {
        for good in [
            "a",
            "my_service",
            "_acme-challenge.example.com",
            "xn--bcher-kva.example",
            "127.0.0.1",
        ] {
            assert!(HostPattern::parse(good).is_ok(), "{good:?} refused");
        }
        let long_label = "a".repeat(64);
        let long_name = "a.".repeat(127) + "a";
        for bad in [
            "",
            "*",
            "*.",
            ".",
            "a.*.com",
            "ex ample.com",
            "example.com:80",
            "[::1]",
            ".a.com",
            "a..b",
            "a..",
            "bücher.example",
            long_label.as_str(),
            long_name.as_str(),
        ] {
            assert!(HostPattern::parse(bad).is_err(), "{bad:?} accepted");
        }
        let err = HostPattern::parse("a..b").unwrap_err();
        assert!(err.to_string().contains("1 to 63"), "{err}");
    }

    #[test]
    fn specificity_orders_exact_then_longest_suffix() {
        let exact = HostPattern::parse("a.example.com").unwrap();
        let long = HostPattern::parse("*.a.example.com").unwrap();
        let short = HostPattern::parse("*.example.com").unwrap();
        assert!(exact.specificity() > long.specificity());
        assert!(long.specificity() > short.specificity());
    }

    macro_rules! splits {
        ($($name:ident: $input:expr => $expected:expr;)*) => {$(
            #[test]
            fn $name() {
                assert_eq!(split_host_port($input), $expected, "{:?}", $input);
            }
        )*};
    }

    splits! {
        split_name_and_port: "Example.com:8080" => Some(("Example.com", Some(8080)));
        split_name_alone: "example.com" => Some(("example.com", None));
        split_empty_port_is_none: "example.com:" => Some(("example.com", None));
        split_ipv6_keeps_brackets: "[::1]:8080" => Some(("[::1]", Some(8080)));
        split_bare_ipv6: "[2001:db8::1]" => Some(("[2001:db8::1]", None));
        split_reg_name_sub_delims: "a!b$c.example" => Some(("a!b$c.example", None));
        split_percent_escape: "a%41.example" => Some(("a%41.example", None));
        split_refuses_empty: "" => None;
        split_refuses_empty_host: ":80" => None;
        split_refuses_space: "a b" => None;
        split_refuses_port_word: "x:port" => None;
        split_refuses_big_port: "h:99999" => None;
        split_refuses_two_colons: "a:1:2" => None;
        split_refuses_unclosed_bracket: "[::1" => None;
        split_refuses_non_hex_literal: "[zz]" => None;
        split_refuses_empty_literal: "[]" => None;
        split_refuses_after_bracket: "[::1]x" => None;
        split_refuses_lone_percent: "a%" => None;
        split_refuses_user_info: "user@host" => None;
        split_refuses_slash: "a/b" => None;
    }

    #[test]
    fn ip_literals_are_told_from_names() {
        assert!(is_ip_literal("127.0.0.1"));
        assert!(is_ip_literal("[::1]"));
        assert!(!is_ip_literal("example.com"));
        assert!(!is_ip_literal("1.2.3"));
    }

    #[test]
    fn what_normalize_accepts_splits() {
        for h in [
            "example.com:8080",
            "[2001:db8::1]:443",
            "my_host.internal",
            "127.0.0.1:0",
        ] {
            let normal = normalize(h, "http").unwrap();
            assert!(split_host_port(&normal).is_some(), "{h}");
        }
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn never_panics_and_is_idempotent(input in "\\PC{0,40}", https in any::<bool>()) {
                let scheme = if https { "https" } else { "http" };
                if let Ok(once) = normalize(&input, scheme) {
                    prop_assert_eq!(normalize(&once, scheme).ok(), Some(once.clone()));
                    // A name it accepts is an authority.
                    prop_assert!(split_host_port(&once).is_some(), "{}", once);
                }
            }

            #[test]
            fn split_never_panics(input in "[a-z0-9:\\[\\]%.!_-]{0,20}") {
                let _ = split_host_port(&input);
            }
        }
    }
}
