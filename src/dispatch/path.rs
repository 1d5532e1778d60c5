//! The pure path work of dispatch: checking route and mount paths, matching and stripping a
//! mount prefix, decoding route parameters.

use http::uri::{PathAndQuery, Uri};

/// Checks a mount prefix: starts with `/`, is not `/`, has no trailing slash, no `{` pattern,
/// no query. Returns a message teaching the fix.
pub(crate) fn check_mount(prefix: &str) -> Result<(), &'static str> {
    if !prefix.starts_with('/') {
        return Err("a mount prefix starts with `/`, as in `/api`");
    }
    if prefix == "/" {
        return Err("a mount at `/` would take every path; use `fallback` instead");
    }
    if prefix.ends_with('/') {
        return Err("a mount prefix has no trailing slash: `/api` serves `/api/` and `/api/...`");
    }
    if prefix.contains(['{', '}']) {
        return Err("a mount prefix is fixed text; parameters belong in routes");
    }
    if prefix.contains("//")
        || prefix.contains(['?', '#'])
        || prefix.parse::<PathAndQuery>().is_err()
    {
        return Err("a mount prefix is a plain path: no empty segment, query or fragment");
    }
    Ok(())
}

/// Checks a route pattern starts with `/` (matchit checks the rest).
pub(crate) fn check_route(path: &str) -> Result<(), &'static str> {
    if path.starts_with('/') {
        Ok(())
    } else {
        Err("a route starts with `/`; use `/` for the root")
    }
}

/// When `path` lies under `prefix` at a segment boundary, what follows it: `""` for the bare
/// prefix, `"/..."` otherwise. `/api` takes `/api`, `/api/` and `/api/x`, never `/apix`.
pub(crate) fn mount_rest<'a>(path: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = path.strip_prefix(prefix)?;
    (rest.is_empty() || rest.starts_with('/')).then_some(rest)
}

/// The URI the mounted service sees: the first `prefix_len` bytes of the path removed (`/` when
/// nothing is left), the query and any scheme/authority kept.
pub(crate) fn strip_prefix(uri: &Uri, prefix_len: usize) -> Option<Uri> {
    let path = uri.path();
    let rest = path.get(prefix_len..)?;
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

/// Where a request for the bare mount prefix is sent: `./{last segment}/` plus the query.
///
/// A relative reference resolves against what the *client* asked for, so the redirect is right
/// however many mounts and proxies (with their prefixes) sit in front: `/v1/api` → `./api/` →
/// `/v1/api/`. The `./` keeps a segment with a `:` from reading as a scheme.
pub(crate) fn slash_redirect_location(prefix: &str, query: Option<&str>) -> String {
    let last = prefix.rsplit('/').next().unwrap_or_default();
    match query {
        Some(query) => format!("./{last}/?{query}"),
        None => format!("./{last}/"),
    }
}

/// Percent-decodes route parameters. Errors with the parameter's name when a value is not UTF-8
/// once decoded.
pub(crate) fn decode_params(
    params: &matchit::Params<'_, '_>,
) -> Result<Vec<(String, String)>, String> {
    let mut decoded = Vec::with_capacity(params.len());
    for (name, value) in params.iter() {
        let value = if value.contains('%') {
            percent_encoding::percent_decode_str(value)
                .decode_utf8()
                .map_err(|_| name.to_owned())?
                .into_owned()
        } else {
            // Nothing to decode, and already UTF-8.
            value.to_owned()
        };
        decoded.push((name.to_owned(), value));
    }
    Ok(decoded)
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
                    let got = mount_rest(uri.path(), $prefix)
                        .and_then(|_| strip_prefix(&uri, $prefix.len()))
                        .map(|u| u.to_string());
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
    fn redirect_is_relative_to_what_the_client_asked() {
        assert_eq!(slash_redirect_location("/api", None), "./api/");
        assert_eq!(slash_redirect_location("/a/b", Some("x=1")), "./b/?x=1");
        assert_eq!(slash_redirect_location("/c:d", None), "./c:d/");
    }

    #[test]
    fn mount_checks_teach_the_fix() {
        assert!(check_mount("/api").is_ok());
        assert!(check_mount("/api/v1").is_ok());
        for bad in ["api", "/", "/api/", "/api/{id}", "/a//b", "/a?b", "/a b"] {
            assert!(check_mount(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn params_are_percent_decoded() {
        let mut router = matchit::Router::new();
        router.insert("/files/{*rest}", ()).unwrap();
        let m = router.at("/files/a%20b/%C3%A9").unwrap();
        assert_eq!(
            decode_params(&m.params).unwrap(),
            [("rest".to_owned(), "a b/é".to_owned())]
        );
        let m = router.at("/files/%FF").unwrap();
        assert_eq!(decode_params(&m.params).unwrap_err(), "rest");
    }

    proptest::proptest! {
        #[test]
        fn stripping_never_panics_and_keeps_the_rest(path in "/[a-z/%0-9?=&]{0,40}") {
            if let Ok(uri) = path.parse::<Uri>() {
                if let Some(rest) = mount_rest(uri.path(), "/a") {
                    let stripped = strip_prefix(&uri, 2).expect("a valid URI stays valid");
                    let expected = if rest.is_empty() { "/" } else { rest };
                    proptest::prop_assert_eq!(stripped.path(), expected);
                    proptest::prop_assert_eq!(stripped.query(), uri.query());
                }
            }
        }
    }
}
