//! Host patterns (`example.com`, `*.example.com`) and reading the host a request asked for.
//!
//! Shared by dispatch's host routes and rewrite's `when.host` condition, so both agree on what
//! `*.example.com` means.

use std::fmt;

use http::header::HOST;
use http::{HeaderMap, Uri};

/// A host to match: exact (`example.com`) or a wildcard over subdomains (`*.example.com`).
///
/// Matching ignores ASCII case, a port and a trailing dot. `*.example.com` matches any depth of
/// subdomain (`a.example.com`, `a.b.example.com`), as nginx's `server_name *.example.com` does,
/// and never the bare `example.com`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HostPattern {
    /// `example.com`, lowercased.
    Exact(String),
    /// `*.example.com`, stored as `.example.com`, lowercased.
    Suffix(String),
}

/// Why a host pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InvalidHostPattern(pub(crate) &'static str);

impl fmt::Display for InvalidHostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl HostPattern {
    /// Parses `example.com` or `*.example.com`.
    pub(crate) fn parse(pattern: &str) -> Result<Self, InvalidHostPattern> {
        let lower = pattern.trim_end_matches('.').to_ascii_lowercase();
        let (wild, name) = match lower.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, lower.as_str()),
        };
        if name.is_empty() {
            return Err(InvalidHostPattern("the host is empty"));
        }
        if name.contains('*') {
            return Err(InvalidHostPattern(
                "`*` is only allowed as the whole first label, as in `*.example.com`",
            ));
        }
        if name.contains(':') {
            return Err(InvalidHostPattern(
                "host patterns match any port; leave the port out",
            ));
        }
        let valid = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_';
        if !name.bytes().all(valid) || name.starts_with('.') || name.contains("..") {
            return Err(InvalidHostPattern(
                "a host is dot-separated letters, digits, `-` and `_` (IDNA names in punycode)",
            ));
        }
        Ok(if wild {
            HostPattern::Suffix(format!(".{name}"))
        } else {
            HostPattern::Exact(name.to_owned())
        })
    }

    /// Whether `host` (already as [`request_host`] returns it: lowercase, no port, no trailing
    /// dot) matches.
    pub(crate) fn matches(&self, host: &str) -> bool {
        match self {
            HostPattern::Exact(exact) => host == exact,
            HostPattern::Suffix(suffix) => host.len() > suffix.len() && host.ends_with(suffix),
        }
    }

    /// How specific the pattern is: exact beats any wildcard, a longer suffix beats a shorter.
    pub(crate) fn specificity(&self) -> usize {
        match self {
            HostPattern::Exact(_) => usize::MAX,
            HostPattern::Suffix(s) => s.len(),
        }
    }
}

/// The host a request asked for: the URI's authority (HTTP/2, absolute-form) or the `Host`
/// header, without port or trailing dot, lowercased (borrowed when it already is).
///
/// `serve` already refused requests whose `Host` is missing, repeated or disagrees with
/// `:authority`; this reads what is there.
pub(crate) fn request_host<'a>(
    uri: &'a Uri,
    headers: &'a HeaderMap,
) -> Option<std::borrow::Cow<'a, str>> {
    let raw = match uri.host() {
        Some(h) => h,
        None => strip_port(headers.get(HOST)?.to_str().ok()?),
    };
    let raw = raw.strip_suffix('.').unwrap_or(raw);
    if raw.bytes().any(|b| b.is_ascii_uppercase()) {
        Some(std::borrow::Cow::Owned(raw.to_ascii_lowercase()))
    } else {
        Some(std::borrow::Cow::Borrowed(raw))
    }
}

fn strip_port(authority: &str) -> &str {
    if authority.starts_with('[') {
        // An IPv6 literal: the port, if any, follows the bracket.
        return match authority.find(']') {
            Some(end) => &authority[..=end],
            None => authority,
        };
    }
    match authority.rfind(':') {
        Some(colon) => &authority[..colon],
        None => authority,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn host_of(header: &'static str) -> Option<String> {
        let mut headers = HeaderMap::new();
        headers.insert(HOST, HeaderValue::from_static(header));
        request_host(&Uri::from_static("/x"), &headers).map(|h| h.into_owned())
    }

    #[test]
    fn exact_ignores_case_port_and_trailing_dot() {
        let p = HostPattern::parse("Example.COM.").unwrap();
        assert_eq!(host_of("EXAMPLE.com:8080").as_deref(), Some("example.com"));
        assert_eq!(host_of("example.com.").as_deref(), Some("example.com"));
        assert!(p.matches("example.com"));
        assert!(!p.matches("www.example.com"));
    }

    #[test]
    fn wildcard_matches_any_depth_but_not_the_bare_domain() {
        let p = HostPattern::parse("*.example.com").unwrap();
        assert!(p.matches("a.example.com"));
        assert!(p.matches("a.b.example.com"));
        assert!(!p.matches("example.com"));
        assert!(!p.matches("badexample.com"));
    }

    #[test]
    fn ipv6_host_keeps_its_brackets() {
        assert_eq!(host_of("[::1]:8080").as_deref(), Some("[::1]"));
        assert_eq!(host_of("[::1]").as_deref(), Some("[::1]"));
    }

    #[test]
    fn uri_authority_wins_over_host_header() {
        let mut headers = HeaderMap::new();
        headers.insert(HOST, HeaderValue::from_static("other"));
        let uri = Uri::from_static("http://Api.Example.com/x");
        assert_eq!(
            request_host(&uri, &headers).as_deref(),
            Some("api.example.com")
        );
    }

    #[test]
    fn refuses_bad_patterns() {
        for bad in [
            "",
            "*",
            "a.*.com",
            "ex ample.com",
            "example.com:80",
            ".a.com",
            "a..b",
        ] {
            assert!(HostPattern::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn specificity_orders_exact_then_longest_suffix() {
        let exact = HostPattern::parse("a.example.com").unwrap();
        let long = HostPattern::parse("*.a.example.com").unwrap();
        let short = HostPattern::parse("*.example.com").unwrap();
        assert!(exact.specificity() > long.specificity());
        assert!(long.specificity() > short.specificity());
    }
}
