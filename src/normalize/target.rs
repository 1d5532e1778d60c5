//! The request-level decision: which form the target has, what it normalizes to, and whether
//! the layer rewrites it or redirects.

use std::borrow::Cow;

use bytes::BytesMut;
use http::header::HOST;
use http::uri::{Authority, PathAndQuery};
use http::{HeaderMap, HeaderValue, Method, Uri};

use super::{
    host, path, query, Action, NormalizeConfig, NormalizeError, PathOptions, TrailingSlash,
};
use crate::ext::ConnectionTls;
use crate::syntax::path::with_trailing_slash;

/// What the layer does with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The request is already normal (or an `OPTIONS *` / allowed `CONNECT` target).
    Unchanged,
    /// Rewrite the request in place: the new target, and the new `Host` when it changed.
    Rewrite {
        /// The normalized URI.
        uri: Uri,
        /// The normalized `Host` header, when it differs from the one received.
        host: Option<HeaderValue>,
    },
    /// Answer `308 Permanent Redirect` to this `Location` (a path and query, no authority).
    Redirect(HeaderValue),
}

/// Decides what [`Normalize`](super::Normalize) does with a request with these parts.
///
/// # Errors
///
/// The [`NormalizeError`] to answer with (all 400): a refused path, host or query, an
/// asterisk-form target for another method than `OPTIONS`, or an authority-form target
/// (`CONNECT host:port`) unless allowed.
pub fn request_target(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    tls: Option<&ConnectionTls>,
    config: &NormalizeConfig,
) -> Result<Outcome, NormalizeError> {
    if uri.scheme().is_none() && (uri.authority().is_some() || uri.path() == "*") {
        return special_form(method, uri, config);
    }

    let scheme = match (uri.scheme(), tls) {
        (Some(s), _) => s.as_str(),
        (None, Some(ConnectionTls(true))) => "https",
        (None, _) => "http",
    };

    // The path without, then with, the trailing-slash policy: each change has its own action.
    // The policy is applied to the normalized path directly (the same as normalizing again
    // with it), so an already-normal path is only walked once and borrowed throughout.
    let keep = PathOptions {
        trailing_slash: TrailingSlash::Keep,
        ..config.path.clone()
    };
    let base = path(uri.path(), &keep)?;
    let path_changed = base != uri.path();
    let base_len = base.len();
    let full = with_trailing_slash(base, config.path.trailing_slash);
    // The policy only ever adds or removes slashes.
    let slash_changed = full.len() != base_len;
    let new_query = match uri.query() {
        Some(q) if config.query.normalize => Some(query(q, &config.query.options())?),
        Some(q) => Some(Cow::Borrowed(q)),
        None => None,
    };
    let new_authority = match uri.authority() {
        Some(a) if config.host => Some(host(a.as_str(), scheme)?),
        Some(a) => Some(Cow::Borrowed(a.as_str())),
        None => None,
    };
    let new_host_header = match headers.get(HOST).map(HeaderValue::to_str) {
        Some(Ok(h)) if config.host => match host(h, scheme)? {
            Cow::Borrowed(_) => None,
            Cow::Owned(h) => Some(h),
        },
        _ => None,
    };

    let query_changed = matches!(&new_query, Some(Cow::Owned(_)));
    let authority_changed = matches!(&new_authority, Some(Cow::Owned(_)));
    if !(path_changed || slash_changed || query_changed || authority_changed)
        && new_host_header.is_none()
    {
        return Ok(Outcome::Unchanged);
    }

    let new_query = new_query.as_deref().filter(|q| !q.is_empty());
    let slash_action = config.trailing_slash_action.unwrap_or(config.action);
    let redirect = (slash_changed && slash_action == Action::Redirect)
        || ((path_changed || query_changed) && config.action == Action::Redirect);
    // `//evil.example/x` as a Location is another site to a browser: such a path (kept when
    // slashes are not merged) is rewritten in place instead.
    if redirect && !full.starts_with("//") {
        if let Some(location) = location(&full, new_query) {
            return Ok(Outcome::Redirect(location));
        }
    }

    let uri = rebuild(uri, new_authority.as_deref(), &full, new_query)?;
    let host = new_host_header.and_then(|h| HeaderValue::from_str(&h).ok());
    Ok(Outcome::Rewrite { uri, host })
}

/// The authority form (`CONNECT host:port`) and the asterisk form (`OPTIONS *`): rare, so out
/// of the usual path's way.
#[cold]
#[inline(never)]
fn special_form(
    method: &Method,
    uri: &Uri,
    config: &NormalizeConfig,
) -> Result<Outcome, NormalizeError> {
    if uri.authority().is_some() {
        if config.allow_authority_form && method == Method::CONNECT {
            Ok(Outcome::Unchanged)
        } else {
            Err(NormalizeError::AuthorityForm {
                target: crate::syntax::excerpt(&uri.to_string(), 64),
            })
        }
    } else if method == Method::OPTIONS {
        Ok(Outcome::Unchanged)
    } else {
        Err(NormalizeError::AsteriskForm {
            method: method.to_string(),
        })
    }
}

#[cold]
#[inline(never)]
fn location(path: &str, query: Option<&str>) -> Option<HeaderValue> {
    HeaderValue::from_maybe_shared(joined(path, query).freeze()).ok()
}

/// `path?query`, built once, in the buffer the new URI or header value will own.
fn joined(path: &str, query: Option<&str>) -> BytesMut {
    let mut out = BytesMut::with_capacity(path.len() + query.map_or(0, |q| q.len() + 1));
    out.extend_from_slice(path.as_bytes());
    if let Some(q) = query {
        out.extend_from_slice(b"?");
        out.extend_from_slice(q.as_bytes());
    }
    out
}

fn rebuild(
    uri: &Uri,
    authority: Option<&str>,
    path: &str,
    query: Option<&str>,
) -> Result<Uri, NormalizeError> {
    let Ok(path_and_query) = PathAndQuery::from_maybe_shared(joined(path, query).freeze()) else {
        return Err(invalid_target(path, query));
    };
    if uri.scheme().is_none() && authority.is_none() {
        // Origin-form, the usual case: nothing else to carry over.
        return Ok(Uri::from(path_and_query));
    }
    with_authority(uri, authority, path_and_query).ok_or_else(|| invalid_target(path, query))
}

/// The absolute form (a proxy request, HTTP/2): scheme and authority around the new path.
#[inline(never)]
fn with_authority(uri: &Uri, authority: Option<&str>, path_and_query: PathAndQuery) -> Option<Uri> {
    let mut parts = http::uri::Parts::default();
    parts.scheme = uri.scheme().cloned();
    parts.authority = match authority {
        Some(a) => Some(Authority::try_from(a).ok()?),
        None => None,
    };
    parts.path_and_query = Some(path_and_query);
    Uri::from_parts(parts).ok()
}

#[cold]
#[inline(never)]
fn invalid_target(path: &str, query: Option<&str>) -> NormalizeError {
    NormalizeError::InvalidTarget {
        target: crate::syntax::excerpt(
            &match query {
                Some(q) => format!("{path}?{q}"),
                None => path.to_owned(),
            },
            64,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::{PathError, QueryConfig};

    fn decide(
        method: Method,
        target: &str,
        host: Option<&str>,
        config: &NormalizeConfig,
    ) -> Result<Outcome, NormalizeError> {
        let uri: Uri = target.parse().expect("test targets are valid URIs");
        let mut headers = HeaderMap::new();
        if let Some(h) = host {
            headers.insert(
                HOST,
                HeaderValue::from_str(h).expect("test hosts are valid"),
            );
        }
        request_target(&method, &uri, &headers, None, config)
    }

    fn rewritten(target: &str, config: &NormalizeConfig) -> String {
        match decide(Method::GET, target, None, config) {
            Ok(Outcome::Rewrite { uri, .. }) => uri.to_string(),
            other => panic!("{target}: {other:?}"),
        }
    }

    #[test]
    fn leaves_normal_requests_alone() {
        let config = NormalizeConfig::default();
        for t in ["/", "/a/b?x=1", "http://example.com/a", "/a/?"] {
            assert_eq!(
                decide(Method::GET, t, Some("example.com"), &config).unwrap(),
                Outcome::Unchanged,
                "{t}"
            );
        }
    }

    #[test]
    fn rewrites_path_query_and_authority() {
        let config = NormalizeConfig::default();
        assert_eq!(rewritten("/a/./b/../c?x=%7e", &config), "/a/c?x=~");
        assert_eq!(
            rewritten("HTTP://Example.COM:80//a/", &config),
            "http://example.com/a/"
        );
        let sorted = NormalizeConfig {
            query: QueryConfig {
                sort: true,
                drop_empty: true,
                ..QueryConfig::default()
            },
            ..NormalizeConfig::default()
        };
        assert_eq!(rewritten("/x?b=2&a=1&c=", &sorted), "/x?a=1&b=2");
        assert_eq!(rewritten("/x?&", &sorted), "/x");
    }

    #[test]
    fn rewrites_the_host_header() {
        let config = NormalizeConfig::default();
        match decide(Method::GET, "/", Some("Example.com.:80"), &config).unwrap() {
            Outcome::Rewrite { host, .. } => assert_eq!(host.unwrap(), "example.com"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn redirects_when_configured() {
        let config = NormalizeConfig {
            action: Action::Redirect,
            ..NormalizeConfig::default()
        };
        assert_eq!(
            decide(Method::GET, "/a/../b?x=%7e", None, &config).unwrap(),
            Outcome::Redirect(HeaderValue::from_static("/b?x=~"))
        );
    }

    #[test]
    fn trailing_slash_has_its_own_action() {
        // Werkzeug's strict slashes: redirect `/docs` to `/docs/`, rewrite the rest silently.
        let mut config = NormalizeConfig {
            trailing_slash_action: Some(Action::Redirect),
            ..NormalizeConfig::default()
        };
        config.path.trailing_slash = TrailingSlash::Add;
        assert_eq!(
            decide(Method::GET, "/docs?q=1", None, &config).unwrap(),
            Outcome::Redirect(HeaderValue::from_static("/docs/?q=1"))
        );
        assert_eq!(rewritten("/docs//./", &config), "/docs/");
    }

    #[test]
    fn never_redirects_to_another_site() {
        let mut config = NormalizeConfig {
            action: Action::Redirect,
            ..NormalizeConfig::default()
        };
        config.path.merge_slashes = false;
        match decide(Method::GET, "//evil.example/x/.", None, &config).unwrap() {
            Outcome::Rewrite { uri, .. } => assert_eq!(uri.path(), "//evil.example/x/"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn asterisk_form_only_for_options() {
        let config = NormalizeConfig::default();
        assert_eq!(
            decide(Method::OPTIONS, "*", None, &config).unwrap(),
            Outcome::Unchanged
        );
        assert!(matches!(
            decide(Method::GET, "*", None, &config),
            Err(NormalizeError::AsteriskForm { .. })
        ));
    }

    #[test]
    fn authority_form_refused_unless_allowed() {
        let config = NormalizeConfig::default();
        assert!(matches!(
            decide(Method::CONNECT, "example.com:443", None, &config),
            Err(NormalizeError::AuthorityForm { .. })
        ));
        let allowed = NormalizeConfig {
            allow_authority_form: true,
            ..NormalizeConfig::default()
        };
        assert_eq!(
            decide(Method::CONNECT, "example.com:443", None, &allowed).unwrap(),
            Outcome::Unchanged
        );
        assert!(decide(Method::GET, "example.com:443", None, &allowed).is_err());
    }

    #[test]
    fn refusals_are_typed() {
        let config = NormalizeConfig::default();
        assert!(matches!(
            decide(Method::GET, "/../x", None, &config),
            Err(NormalizeError::Path(PathError::ClimbsAboveRoot { .. }))
        ));
        assert!(matches!(
            decide(Method::GET, "/x?a=%zz", None, &config),
            Err(NormalizeError::Query(_))
        ));
        assert!(matches!(
            decide(Method::GET, "/", Some("a..b"), &config),
            Err(NormalizeError::Host(_))
        ));
    }

    #[test]
    fn https_default_port_from_the_connection() {
        let config = NormalizeConfig::default();
        let uri: Uri = "/".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(HOST, HeaderValue::from_static("example.com:443"));
        match request_target(
            &Method::GET,
            &uri,
            &headers,
            Some(&ConnectionTls(true)),
            &config,
        )
        .unwrap()
        {
            Outcome::Rewrite { host, .. } => assert_eq!(host.unwrap(), "example.com"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            request_target(&Method::GET, &uri, &headers, None, &config).unwrap(),
            Outcome::Unchanged
        );
    }
}
