//! Path prefixes that end on a segment boundary: `/api` covers `/api`, `/api/` and `/api/x`,
//! never `/apix`.
//!
//! The one matcher behind dispatch's mounts, rewrite's `when.path_prefix`, the auth layer's
//! `exempt_paths` prefixes and the proxy's `Location` rewriting, so all of them agree on what
//! lies under a prefix. Comparisons are byte for byte (case-sensitive, no decoding): run
//! [`normalize`](crate::normalize) first when `/API` or `/a/../api` must count.
//!
//! # Example
//!
//! ```
//! use tollgate::syntax::prefix;
//!
//! assert_eq!(prefix::strip("/api/users", "/api"), Some("/users"));
//! assert_eq!(prefix::strip("/api", "/api"), Some(""));
//! assert_eq!(prefix::strip("/apix", "/api"), None);
//! assert!(prefix::matches("/anything", ""));
//!
//! let uri: http::Uri = "/api/users?page=2".parse().unwrap();
//! assert_eq!(prefix::strip_uri(&uri, "/api").unwrap(), "/users?page=2");
//! ```

use http::uri::{PathAndQuery, Uri};

/// What follows `prefix` in `path` when `prefix` ends on a segment boundary there: `""` for
/// the bare prefix, else the rest from its `/` (or from a `?` or `#`, for a path that carries
/// its query or fragment, as a `Location` value does). `None` when `path` does not lie under
/// `prefix`.
///
/// `prefix` is written without a trailing slash; `""` is the root and covers every path.
///
/// ```
/// use tollgate::syntax::prefix::strip;
///
/// assert_eq!(strip("/api/", "/api"), Some("/"));
/// assert_eq!(strip("/api?x=1", "/api"), Some("?x=1"));
/// assert_eq!(strip("/API/x", "/api"), None);
/// ```
pub fn strip<'a>(path: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = path.strip_prefix(prefix)?;
    (rest.is_empty() || rest.starts_with(['/', '?', '#'])).then_some(rest)
}

/// Whether `path` is `prefix` or lies under it at a segment boundary; see [`strip`].
pub fn matches(path: &str, prefix: &str) -> bool {
    strip(path, prefix).is_some()
}

/// The URI a service mounted at `prefix` sees: the prefix removed from the path (`/` when
/// nothing is left), the query and any scheme and authority kept. `None` when the path does
/// not lie under `prefix` (see [`strip`]).
pub fn strip_uri(uri: &Uri, prefix: &str) -> Option<Uri> {
    let rest = strip(uri.path(), prefix)?;
    let rest = if rest.is_empty() { "/" } else { rest };
    let query = uri.query();
    let mut buf = bytes::BytesMut::with_capacity(rest.len() + query.map_or(0, |q| q.len() + 1));
    buf.extend_from_slice(rest.as_bytes());
    if let Some(query) = query {
        buf.extend_from_slice(b"?");
        buf.extend_from_slice(query.as_bytes());
    }
    let path_and_query = PathAndQuery::from_maybe_shared(buf.freeze()).ok()?;
    if uri.scheme().is_none() && uri.authority().is_none() {
        // Origin-form, the usual HTTP/1.1 case: no parts to carry over.
        return Some(Uri::from(path_and_query));
    }
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(path_and_query);
    Uri::from_parts(parts).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! strip_test {
        ($($name:ident: uri = $uri:expr, prefix = $prefix:expr, expected = $expected:expr;)*) => {
            $(
                #[test]
                fn $name() {
                    let uri: Uri = $uri.parse().unwrap();
                    let got = strip_uri(&uri, $prefix).map(|u| u.to_string());
                    assert_eq!(got.as_deref(), $expected);
                }
            )*
        };
    }

    strip_test! {
        bare_prefix_becomes_root: uri = "/api", prefix = "/api", expected = Some("/");
        prefix_with_slash_becomes_root: uri = "/api/", prefix = "/api", expected = Some("/");
        one_segment_under: uri = "/api/users", prefix = "/api", expected = Some("/users");
        keeps_trailing_slash: uri = "/api/users/", prefix = "/api", expected = Some("/users/");
        keeps_query: uri = "/api/users?a=1&b", prefix = "/api", expected = Some("/users?a=1&b");
        bare_prefix_keeps_query: uri = "/api?a=1", prefix = "/api", expected = Some("/?a=1");
        not_a_segment_boundary: uri = "/apix", prefix = "/api", expected = None;
        deeper_prefix: uri = "/a/b/c", prefix = "/a/b", expected = Some("/c");
        case_sensitive: uri = "/API/x", prefix = "/api", expected = None;
        absolute_form_keeps_authority: uri = "http://example.com/api/x?q", prefix = "/api", expected = Some("http://example.com/x?q");
        double_slash_after_prefix: uri = "/api//x", prefix = "/api", expected = Some("//x");
    }

    #[test]
    fn segment_boundaries() {
        assert!(matches("/api", "/api"));
        assert!(matches("/api/x", "/api"));
        assert!(!matches("/apix", "/api"));
        assert!(!matches("/ap", "/api"));
        assert!(matches("/anything", ""));
        assert_eq!(strip("/app/login?next=/", "/app"), Some("/login?next=/"));
        assert_eq!(strip("/app#top", "/app"), Some("#top"));
        assert_eq!(strip("/app;x", "/app"), None);
    }

    proptest::proptest! {
        #[test]
        fn stripping_never_panics_and_keeps_the_rest(path in "/[a-z/%0-9?=&]{0,40}") {
            if let Ok(uri) = path.parse::<Uri>() {
                if let Some(rest) = strip(uri.path(), "/a") {
                    let stripped = strip_uri(&uri, "/a").expect("a valid URI stays valid");
                    let expected = if rest.is_empty() { "/" } else { rest };
                    proptest::prop_assert_eq!(stripped.path(), expected);
                    proptest::prop_assert_eq!(stripped.query(), uri.query());
                }
            }
        }
    }
}
