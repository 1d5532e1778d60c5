//! [`Upstream`]: where the proxy sends requests, parsed and checked once, up front.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use http::uri::{Authority, PathAndQuery, Scheme};
use http::HeaderValue;
use http::Uri;

/// An upstream server: an `http://` or `https://` URL with a host, an optional port and an
/// optional base path (`http://127.0.0.1:9000/app` sends `/x` to `/app/x`).
///
/// Parsed once when the proxy is configured, so a typo is a startup error rather than a 502 on
/// every request.
///
/// ```
/// use tollgate::proxy::Upstream;
///
/// let up: Upstream = "http://127.0.0.1:9000/app/".parse().unwrap();
/// assert_eq!(up.authority(), "127.0.0.1:9000");
/// assert_eq!(up.base_path(), "/app");
/// assert!(!up.is_https());
///
/// let err = "ftp://example.com".parse::<Upstream>().unwrap_err();
/// assert!(err.to_string().contains("http:// or https://"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Upstream {
    scheme: Scheme,
    authority: Authority,
    /// The base path without a trailing slash: `""` or `/app`.
    base_path: String,
    /// `scheme://authority/base`, made once for logs and error messages.
    name: Arc<str>,
    /// The `Host` header naming this upstream (the authority, default port left out).
    host_header: HeaderValue,
}

/// Why an upstream URL was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UpstreamError {
    /// Not a URL at all.
    Invalid {
        /// The text given (truncated).
        url: String,
        /// What the URL parser said.
        reason: String,
    },
    /// A scheme other than `http` or `https`, or none.
    Scheme {
        /// The text given (truncated).
        url: String,
    },
    /// User info (`user:pass@`), a query or a fragment: none of them mean anything here.
    Extra {
        /// The text given (truncated).
        url: String,
        /// Which part was there.
        part: &'static str,
    },
    /// An `https://` upstream in a build without the `tls` feature.
    TlsDisabled {
        /// The text given (truncated).
        url: String,
    },
}

impl fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UpstreamError::Invalid { url, reason } => write!(
                f,
                "invalid upstream URL \"{url}\": {reason}; write it like http://127.0.0.1:9000"
            ),
            UpstreamError::Scheme { url } => write!(
                f,
                "invalid upstream URL \"{url}\": it must start with http:// or https://"
            ),
            UpstreamError::Extra { url, part } => write!(
                f,
                "invalid upstream URL \"{url}\": remove the {part}; an upstream is a scheme, a host, \
                 an optional port and an optional base path"
            ),
            UpstreamError::TlsDisabled { url } => write!(
                f,
                "upstream \"{url}\" is https:// but tollgate was built without the `tls` feature"
            ),
        }
    }
}

impl std::error::Error for UpstreamError {}

impl Upstream {
    /// Parses an upstream URL.
    ///
    /// # Errors
    ///
    /// [`UpstreamError`] when the text is not an `http://` or `https://` URL with a host, or
    /// carries user info, a query or a fragment.
    pub fn parse(url: &str) -> Result<Self, UpstreamError> {
        let url = url.trim();
        let invalid = |reason: String| UpstreamError::Invalid {
            url: crate::syntax::excerpt(url, 200),
            reason,
        };
        let extra = |part| UpstreamError::Extra {
            url: crate::syntax::excerpt(url, 200),
            part,
        };
        if url.contains('#') {
            return Err(extra("fragment"));
        }
        let uri: Uri = url
            .parse()
            .map_err(|e: http::uri::InvalidUri| invalid(e.to_string()))?;
        let scheme = match uri.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("http") => Scheme::HTTP,
            Some(s) if s.eq_ignore_ascii_case("https") => Scheme::HTTPS,
            _ => {
                return Err(UpstreamError::Scheme {
                    url: crate::syntax::excerpt(url, 200),
                })
            }
        };
        if scheme == Scheme::HTTPS && !cfg!(feature = "tls") {
            return Err(UpstreamError::TlsDisabled {
                url: crate::syntax::excerpt(url, 200),
            });
        }
        let authority = uri
            .authority()
            .cloned()
            .ok_or_else(|| invalid("no host".into()))?;
        if authority.as_str().contains('@') {
            return Err(extra("user info"));
        }
        if authority.host().is_empty() {
            return Err(invalid("no host".into()));
        }
        if uri.query().is_some() {
            return Err(extra("query"));
        }
        let base_path = uri.path().trim_end_matches('/').to_owned();
        let name = format!("{scheme}://{authority}{base_path}").into();
        let default_port = if scheme == Scheme::HTTPS { 443 } else { 80 };
        let host = match authority.port_u16() {
            Some(port) if port == default_port => authority.host().to_owned(),
            _ => authority.as_str().to_owned(),
        };
        let host_header = HeaderValue::from_str(&host)
            .map_err(|_| invalid("the host is not a valid Host header".into()))?;
        Ok(Upstream {
            scheme,
            authority,
            base_path,
            name,
            host_header,
        })
    }

    /// `scheme://authority/base`, as logs and error messages name this upstream.
    pub fn name(&self) -> Arc<str> {
        self.name.clone()
    }

    /// The `Host` header the upstream is sent when the `Host` is rewritten.
    pub fn host_header(&self) -> &HeaderValue {
        &self.host_header
    }

    /// `http` or `https`.
    pub fn scheme(&self) -> &Scheme {
        &self.scheme
    }

    /// Whether requests go over TLS.
    pub fn is_https(&self) -> bool {
        self.scheme == Scheme::HTTPS
    }

    /// The host and port as written, e.g. `127.0.0.1:9000`.
    pub fn authority(&self) -> &str {
        self.authority.as_str()
    }

    /// The host alone (IPv6 addresses keep their brackets).
    pub fn host(&self) -> &str {
        self.authority.host()
    }

    /// The port, explicit or the scheme's default.
    pub fn port(&self) -> u16 {
        self.authority
            .port_u16()
            .unwrap_or(if self.is_https() { 443 } else { 80 })
    }

    /// The base path without a trailing slash: `""` when the URL has none.
    pub fn base_path(&self) -> &str {
        &self.base_path
    }

    /// The URI the request for `path_and_query` (origin-form, as the client sent it after any
    /// mount prefix was stripped) goes to: this upstream's scheme, authority and base path.
    ///
    /// An absolute-form request target (`GET http://example.com/x`) contributes only its path
    /// and query: the client does not choose where the proxy connects (hyper#1532).
    pub(crate) fn target_uri(&self, original: &Uri) -> Result<Uri, http::Error> {
        // Asterisk-form (`OPTIONS *`) and authority-form targets have no path to forward.
        let original = original
            .path_and_query()
            .filter(|pq| pq.as_str().starts_with('/'));
        let path_and_query = match (self.base_path.is_empty(), original) {
            (true, Some(pq)) => pq.clone(),
            (true, None) => PathAndQuery::from_static("/"),
            (false, pq) => {
                let pq = pq.map_or("/", PathAndQuery::as_str);
                let mut joined = String::with_capacity(self.base_path.len() + pq.len());
                joined.push_str(&self.base_path);
                joined.push_str(pq);
                PathAndQuery::try_from(joined)?
            }
        };
        Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query(path_and_query)
            .build()
    }
}

impl FromStr for Upstream {
    type Err = UpstreamError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Upstream::parse(s)
    }
}

impl TryFrom<&str> for Upstream {
    type Error = UpstreamError;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Upstream::parse(s)
    }
}

impl fmt::Display for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl fmt::Debug for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Upstream({self})")
    }
}

impl<'de> serde::Deserialize<'de> for Upstream {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Upstream::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! target {
        ($name:ident, upstream = $up:expr, request = $req:expr, expected = $exp:expr) => {
            #[test]
            fn $name() {
                let up = Upstream::parse($up).unwrap();
                let req: Uri = $req.parse().unwrap();
                assert_eq!(up.target_uri(&req).unwrap().to_string(), $exp);
            }
        };
    }

    target!(
        origin_form,
        upstream = "http://127.0.0.1:9000",
        request = "/a?b=1",
        expected = "http://127.0.0.1:9000/a?b=1"
    );
    target!(
        absolute_form_keeps_only_path,
        upstream = "http://127.0.0.1:9000",
        request = "http://evil.example/a?b",
        expected = "http://127.0.0.1:9000/a?b"
    );
    target!(
        base_path_prefixes,
        upstream = "http://up:81/app/",
        request = "/x?q",
        expected = "http://up:81/app/x?q"
    );
    target!(
        base_path_root,
        upstream = "http://up/app",
        request = "/",
        expected = "http://up/app/"
    );
    target!(
        asterisk_form_becomes_root,
        upstream = "https://up",
        request = "*",
        expected = "https://up/"
    );

    #[test]
    fn parses_parts() {
        let up = Upstream::parse("HTTPS://example.com").unwrap();
        assert!(up.is_https());
        assert_eq!(up.host(), "example.com");
        assert_eq!(up.port(), 443);
        assert_eq!(up.base_path(), "");
        assert_eq!(up.to_string(), "https://example.com");
        let v6 = Upstream::parse("http://[::1]:9000").unwrap();
        assert_eq!(v6.host(), "[::1]");
        assert_eq!(v6.port(), 9000);
    }

    #[test]
    fn refuses_bad_urls_with_a_reason() {
        let cases = [
            ("127.0.0.1:9000", "must start with http://"),
            ("ftp://x", "must start with http://"),
            ("http://u:p@x", "remove the user info"),
            ("http://x/?a=1", "remove the query"),
            ("http://x/#f", "remove the fragment"),
            ("http://", "invalid upstream URL"),
            ("http://exa mple", "invalid upstream URL"),
        ];
        for (url, msg) in cases {
            let err = Upstream::parse(url).unwrap_err();
            assert!(err.to_string().contains(msg), "{url}: {err}");
        }
    }

    #[test]
    fn error_is_send_sync() {
        fn check<T: Send + Sync + std::error::Error>() {}
        check::<UpstreamError>();
    }
}
