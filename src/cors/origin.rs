//! [`OriginPattern`]: an allowed origin, exact (`https://app.example.com`) or a pattern
//! (`https://*.example.com`), matched against the `Origin` header.

use std::fmt;

use crate::syntax::host::{default_port, split_host_port, HostPattern};

/// An origin a CORS policy allows: `scheme://host[:port]`, the host exact or `*.domain`
/// (any subdomain, not the domain itself), or `*` for any origin. Scheme and host compare
/// without case; a port the scheme implies (`:443` for `https`) may be written or not.
///
/// ```
/// use tollgate::cors::OriginPattern;
///
/// let sub = OriginPattern::parse("https://*.example.com").unwrap();
/// assert!(sub.matches("https://app.example.com"));
/// assert!(!sub.matches("https://example.com"));
/// assert!(!sub.matches("http://app.example.com"));
/// assert!(!sub.matches("https://app.example.com.evil.test"));
/// assert!(OriginPattern::parse("https://app.example:8443").unwrap().matches("https://APP.example:8443"));
/// assert!(OriginPattern::parse("example.com").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginPattern(Kind);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Any,
    Pattern {
        scheme: String,
        host: HostPattern,
        port: Option<u16>,
    },
}

/// Why an origin pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginPatternError {
    input: String,
    reason: &'static str,
}

impl fmt::Display for OriginPatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\" is not an origin: {}", self.input, self.reason)
    }
}

impl std::error::Error for OriginPatternError {}

impl OriginPattern {
    /// Parses `*`, `https://app.example.com`, `https://*.example.com` or `http://host:8080`.
    ///
    /// # Errors
    ///
    /// No `scheme://`, a path, a query or user info after the host, a host
    /// [`HostPattern`] refuses, or a bad port.
    pub fn parse(text: &str) -> Result<Self, OriginPatternError> {
        let err = |reason| OriginPatternError {
            input: crate::syntax::excerpt(text, 60),
            reason,
        };
        if text == "*" {
            return Ok(OriginPattern(Kind::Any));
        }
        let (scheme, rest) = text
            .split_once("://")
            .ok_or_else(|| err("write the scheme too, as in `https://app.example.com`"))?;
        if scheme.is_empty()
            || !scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
        {
            return Err(err("the scheme is not a URL scheme"));
        }
        if rest.contains(['/', '?', '#', '@']) {
            return Err(err(
                "an origin is only `scheme://host[:port]`: no path, query or user",
            ));
        }
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() && !rest.starts_with('[') => {
                let port: u16 = port.parse().map_err(|_| err("the port is not a number"))?;
                (host, Some(port))
            }
            _ => (rest, None),
        };
        let host = HostPattern::parse(host).map_err(|e| err(e.reason()))?;
        let scheme = scheme.to_ascii_lowercase();
        let port = port.filter(|&p| Some(p) != default_port(&scheme));
        Ok(OriginPattern(Kind::Pattern { scheme, host, port }))
    }

    /// Whether this is `*`, any origin.
    pub fn is_any(&self) -> bool {
        self.0 == Kind::Any
    }

    /// Whether the value of an `Origin` header matches (`null` and malformed values never
    /// match a pattern; `*` matches every value).
    pub fn matches(&self, origin: &str) -> bool {
        let Kind::Pattern { scheme, host, port } = &self.0 else {
            return true;
        };
        let Some((their_scheme, authority)) = origin.split_once("://") else {
            return false;
        };
        if !their_scheme.eq_ignore_ascii_case(scheme) || authority.contains(['/', '?', '#', '@']) {
            return false;
        }
        let Some((their_host, their_port)) = split_host_port(authority) else {
            return false;
        };
        let their_port = their_port.filter(|&p| Some(p) != default_port(scheme));
        host.matches(their_host) && their_port == *port
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_table() {
        let cases = [
            ("https://app.example", "https://app.example", true),
            ("https://app.example", "https://app.example:443", true),
            ("https://app.example:443", "https://app.example", true),
            ("https://app.example", "https://app.example:8443", false),
            ("https://app.example", "http://app.example", false),
            ("https://app.example", "https://app.example/", false),
            ("https://app.example", "https://user@app.example", false),
            ("https://app.example", "null", false),
            ("https://*.example.com", "https://a.b.example.com", true),
            ("https://*.example.com", "https://example.com", false),
            ("https://*.example.com", "https://evilexample.com", false),
            ("http://localhost:3000", "http://localhost:3000", true),
            ("http://localhost:3000", "http://localhost", false),
            ("*", "null", true),
        ];
        for (pattern, origin, expected) in cases {
            let parsed = OriginPattern::parse(pattern).unwrap();
            assert_eq!(parsed.matches(origin), expected, "{pattern} vs {origin}");
        }
    }

    #[test]
    fn refusals_say_why() {
        for bad in [
            "app.example",
            "https://",
            "https://a/b",
            "https://a:x",
            "https://*",
            "://a",
        ] {
            let e = OriginPattern::parse(bad).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("\"{bad}\" is not an origin: ")),
                "{e}"
            );
        }
    }
}
