//! The pure path work of dispatch: checking route and mount paths, decoding route parameters.
//! Matching and stripping a mount prefix is [`syntax::prefix`](crate::syntax::prefix)'s.

use http::uri::PathAndQuery;

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
}
