//! Rewriting the upstream's own address out of its answers: `Location`, `Content-Location`,
//! `Refresh` and `Set-Cookie` `Domain`/`Path` (nginx's `proxy_redirect`, `proxy_cookie_domain`
//! and `proxy_cookie_path`; caddy#606).
//!
//! An upstream at `http://127.0.0.1:9000/app` mounted publicly at `https://example.com/api`
//! answers `Location: http://127.0.0.1:9000/app/login`; the client must see
//! `https://example.com/api/login`. A path-absolute `Location: /login` becomes `/api/login`.

use http::header::{HeaderName, HeaderValue, CONTENT_LOCATION, LOCATION, SET_COOKIE};
use http::HeaderMap;

use crate::syntax::{host, prefix};

/// The two sides of the mapping.
#[derive(Debug, Clone, Copy)]
pub struct Mapping<'a> {
    /// The upstream's authority, e.g. `127.0.0.1:9000`.
    pub upstream_authority: &'a str,
    /// The `Host` the upstream was sent (its own authority, or the public host when preserved).
    pub sent_host: &'a str,
    /// The upstream's base path without a trailing slash (`""` when none).
    pub upstream_base: &'a str,
    /// The scheme the client used.
    pub public_scheme: &'a str,
    /// The host (and port) the client used, as
    /// [`Origin::authority`](crate::origin::Origin::authority) reads it: `X-Forwarded-Host`
    /// from a trusted proxy, else the absolute-form target's authority or HTTP/2 `:authority`,
    /// else `Host`. Only a valid host name, IPv4 address or bracketed IPv6 address (with an
    /// optional port, as [`syntax::host::normalize`](crate::syntax::host::normalize) accepts)
    /// is ever written into an answer; any other value (`a;Domain=evil`, `""` when the client
    /// sent none) is treated as unknown: absolute URLs naming the upstream become path-absolute
    /// (`/login`, which the client resolves against the address it used) and a cookie `Domain`
    /// naming the upstream is dropped (the cookie then belongs to the host the client used).
    pub public_authority: &'a str,
    /// The public prefix the upstream is mounted under, without a trailing slash (`""` when
    /// none).
    pub public_prefix: &'a str,
}

impl Mapping<'_> {
    /// Whether a path-absolute value could change at all.
    fn moves_paths(&self) -> bool {
        self.upstream_base != self.public_prefix
    }

    /// [`Mapping::public_authority`] when it is a valid `host[:port]`, the only form ever
    /// copied into an answer.
    fn valid_public_authority(&self) -> Option<&str> {
        let authority = self.public_authority;
        host::normalize(authority, self.public_scheme)
            .is_ok()
            .then_some(authority)
    }
}

/// `Refresh`, which `http` has no constant for.
pub static REFRESH: HeaderName = HeaderName::from_static("refresh");

/// Whether `headers` hold anything [`rewrite_redirects`] (first) or [`rewrite_cookies`]
/// (second) would look at, in one pass over the names.
pub fn has_rewritable(headers: &HeaderMap) -> (bool, bool) {
    let (mut redirects, mut cookies) = (false, false);
    for name in headers.keys() {
        if name == LOCATION || name == CONTENT_LOCATION || name == REFRESH {
            redirects = true;
        } else if name == SET_COOKIE {
            cookies = true;
        }
    }
    (redirects, cookies)
}

/// Rewrites `Location`, `Content-Location` and `Refresh` in place.
pub fn rewrite_redirects(headers: &mut HeaderMap, map: &Mapping<'_>) {
    for name in [&LOCATION, &CONTENT_LOCATION] {
        if let Some(value) = headers.get_mut(name) {
            replace(value, |v| rewrite_location(v, map));
        }
    }
    if let Some(value) = headers.get_mut(&REFRESH) {
        replace(value, |v| rewrite_refresh(v, map));
    }
}

/// Rewrites every `Set-Cookie` in place, and drops those whose `Domain` is another site's
/// (see [`foreign_domain`]).
pub fn rewrite_cookies(headers: &mut HeaderMap, map: &Mapping<'_>) {
    let foreign = |v: &HeaderValue| v.to_str().is_ok_and(|v| foreign_domain(v, map));
    if headers.get_all(SET_COOKIE).iter().any(foreign) {
        let kept: Vec<HeaderValue> = headers
            .get_all(SET_COOKIE)
            .iter()
            .filter(|v| !foreign(v))
            .cloned()
            .collect();
        headers.remove(SET_COOKIE);
        for value in kept {
            headers.append(SET_COOKIE, value);
        }
    }
    if let http::header::Entry::Occupied(mut cookies) = headers.entry(SET_COOKIE) {
        for value in cookies.iter_mut() {
            replace(value, |v| rewrite_set_cookie(v, map));
        }
    }
}

fn replace(value: &mut HeaderValue, rewrite: impl FnOnce(&str) -> Option<String>) {
    if let Some(new) = value.to_str().ok().and_then(rewrite) {
        if let Ok(new) = HeaderValue::from_str(&new) {
            *value = new;
        }
    }
}

/// The public form of a `Location` value, or `None` when it stays as it is.
///
/// ```
/// use tollgate::proxy::location::{rewrite_location, Mapping};
///
/// let map = Mapping {
///     upstream_authority: "127.0.0.1:9000", sent_host: "127.0.0.1:9000", upstream_base: "",
///     public_scheme: "https", public_authority: "example.com", public_prefix: "/api",
/// };
/// assert_eq!(rewrite_location("http://127.0.0.1:9000/login?x=1", &map).unwrap(),
///            "https://example.com/api/login?x=1");
/// assert_eq!(rewrite_location("/", &map).unwrap(), "/api/");
/// assert_eq!(rewrite_location("https://elsewhere.example/", &map), None);
/// ```
pub fn rewrite_location(value: &str, map: &Mapping<'_>) -> Option<String> {
    let value = value.trim();
    if let Some((scheme, rest)) = split_scheme(value) {
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        if !same_authority(authority, map.upstream_authority, scheme)
            && !same_authority(authority, map.sent_host, scheme)
        {
            return None;
        }
        let path = if path.is_empty() { "/" } else { path };
        let path = map_path(path, map).unwrap_or_else(|| path.to_owned());
        let new = match map.valid_public_authority() {
            Some(public) => format!("{}://{public}{path}", map.public_scheme),
            // No host fit to write: the client resolves a path against the URL it used.
            None => path,
        };
        return (new != value).then_some(new);
    }
    if value.starts_with('/') && !value.starts_with("//") && map.moves_paths() {
        return map_path(value, map).filter(|new| new != value);
    }
    None
}

/// `http://` or `https://` (any case): the scheme and what follows `://`.
fn split_scheme(value: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = value.split_once("://")?;
    (scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https"))
        .then_some((scheme, rest))
}

/// Whether two authorities name the same host and port for `scheme`: equal but for ASCII
/// case, or written the same way once normalized (an omitted default port counts as given).
fn same_authority(a: &str, b: &str, scheme: &str) -> bool {
    if a.is_empty() {
        return false;
    }
    a.eq_ignore_ascii_case(b)
        || matches!(
            (host::normalize(a, scheme), host::normalize(b, scheme)),
            (Ok(a), Ok(b)) if a == b
        )
}

/// Maps a path (with any query) from the upstream's base to the public prefix; `None` when it
/// lies outside the upstream's base.
fn map_path(path: &str, map: &Mapping<'_>) -> Option<String> {
    let rest = prefix::strip(path, map.upstream_base)?;
    // An upstream that knows its public prefix (X-Forwarded-Prefix) already includes it.
    if !map.public_prefix.is_empty() && prefix::matches(rest, map.public_prefix) {
        return Some(rest.to_owned());
    }
    let mut out = String::with_capacity(map.public_prefix.len() + rest.len() + 1);
    out.push_str(map.public_prefix);
    if map.public_prefix.is_empty() && (rest.is_empty() || rest.starts_with(['?', '#'])) {
        out.push('/');
    }
    out.push_str(rest);
    Some(out)
}

/// Rewrites the URL of a `Refresh: 5; url=…` value.
pub fn rewrite_refresh(value: &str, map: &Mapping<'_>) -> Option<String> {
    let split = value.find([';', ','])?;
    let (delay, rest) = value.split_at(split);
    let rest = rest[1..].trim_start();
    rest.get(..3).filter(|k| k.eq_ignore_ascii_case("url"))?;
    let rest = rest[3..].trim_start().strip_prefix('=')?.trim_start();
    let (quote, url) = match rest.chars().next() {
        Some(q @ ('"' | '\'')) => (Some(q), rest[1..].trim_end().trim_end_matches(q)),
        _ => (None, rest.trim_end()),
    };
    let new = rewrite_location(url, map)?;
    Some(match quote {
        Some(q) => format!("{}; url={q}{new}{q}", delay.trim()),
        None => format!("{}; url={new}", delay.trim()),
    })
}

/// Rewrites the `Domain` and `Path` attributes of a `Set-Cookie` value.
///
/// A `Domain` naming the upstream's host becomes the public host (dropped when the public host
/// is an IP address, which cookies cannot name); a `Path` under the upstream's base moves under
/// the public prefix.
pub fn rewrite_set_cookie(value: &str, map: &Mapping<'_>) -> Option<String> {
    let upstream_host = host_of(map.upstream_authority);
    // Empty when unknown or invalid: a `Domain` naming the upstream is then dropped.
    let public_host = map.valid_public_authority().map_or("", host_of);
    let mut changed = false;
    let mut parts: Vec<String> = Vec::new();
    for (i, part) in value.split(';').enumerate() {
        let trimmed = part.trim();
        if i > 0 {
            if let Some((key, val)) = trimmed.split_once('=') {
                let (key, val) = (key.trim(), val.trim());
                if key.eq_ignore_ascii_case("domain") {
                    let domain = val.trim_start_matches('.');
                    if domain.eq_ignore_ascii_case(upstream_host)
                        && !domain.eq_ignore_ascii_case(public_host)
                    {
                        changed = true;
                        if !public_host.is_empty() && !host::is_ip_literal(public_host) {
                            parts.push(format!(" Domain={public_host}"));
                        }
                        continue;
                    }
                } else if key.eq_ignore_ascii_case("path") && map.moves_paths() {
                    if let Some(new) = map_path(val, map).filter(|new| new != val) {
                        changed = true;
                        parts.push(format!(" Path={new}"));
                        continue;
                    }
                }
            }
        }
        parts.push(part.to_owned());
    }
    changed.then(|| parts.join(";"))
}

/// Whether a `Set-Cookie` value has a `Domain` that is neither the upstream's host nor one the
/// public host is in (`app.example.com` is in `example.com`): a cookie for another site, which
/// browsers refuse (RFC 6265 §5.3, step 6) and the gateway never passes on. `false` when the
/// public host is unknown.
///
/// ```
/// use tollgate::proxy::location::{foreign_domain, Mapping};
///
/// let map = Mapping {
///     upstream_authority: "127.0.0.1:9000", sent_host: "127.0.0.1:9000", upstream_base: "",
///     public_scheme: "https", public_authority: "app.example.com", public_prefix: "",
/// };
/// assert!(foreign_domain("s=1; Domain=attacker.example", &map));
/// assert!(!foreign_domain("s=1; Domain=.example.com; Path=/", &map));
/// assert!(!foreign_domain("s=1; Domain=127.0.0.1", &map));
/// assert!(!foreign_domain("s=1; Path=/", &map));
/// ```
pub fn foreign_domain(value: &str, map: &Mapping<'_>) -> bool {
    let Some(public) = map.valid_public_authority().map(host_of) else {
        return false;
    };
    let upstream = host_of(map.upstream_authority);
    value
        .split(';')
        .skip(1)
        .filter_map(|attr| attr.trim().split_once('='))
        .filter(|(key, _)| key.trim().eq_ignore_ascii_case("domain"))
        .map(|(_, domain)| domain.trim().trim_start_matches('.'))
        .any(|domain| {
            let public = public.to_ascii_lowercase();
            let domain = domain.to_ascii_lowercase();
            !domain.is_empty()
                && domain != upstream.to_ascii_lowercase()
                && public != domain
                && !public.ends_with(&format!(".{domain}"))
        })
}

/// The host of an authority, without the port (IPv6 keeps its brackets); the whole value when
/// it is no `host[:port]`.
fn host_of(authority: &str) -> &str {
    host::split_host_port(authority).map_or(authority, |(host, _)| host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map() -> Mapping<'static> {
        Mapping {
            upstream_authority: "127.0.0.1:9000",
            sent_host: "127.0.0.1:9000",
            upstream_base: "/app",
            public_scheme: "https",
            public_authority: "example.com",
            public_prefix: "/api",
        }
    }

    macro_rules! location {
        ($name:ident, $map:expr, $input:expr, $expected:expr) => {
            #[test]
            fn $name() {
                let expected: Option<&str> = $expected;
                assert_eq!(rewrite_location($input, &$map).as_deref(), expected);
            }
        };
    }

    location!(
        absolute_upstream_url,
        map(),
        "http://127.0.0.1:9000/app/x?y#z",
        Some("https://example.com/api/x?y#z")
    );
    location!(
        absolute_base_only,
        map(),
        "http://127.0.0.1:9000/app",
        Some("https://example.com/api")
    );
    location!(
        absolute_no_path_is_outside_base,
        map(),
        "http://127.0.0.1:9000",
        Some("https://example.com/")
    );
    location!(
        absolute_outside_base_keeps_path,
        map(),
        "http://127.0.0.1:9000/other",
        Some("https://example.com/other")
    );
    location!(other_host_untouched, map(), "https://login.example/", None);
    location!(relative_under_base, map(), "/app/login", Some("/api/login"));
    location!(relative_outside_base, map(), "/static/x", None);
    location!(base_is_segment_bounded, map(), "/application", None);
    location!(
        protocol_relative_untouched,
        map(),
        "//127.0.0.1:9000/app",
        None
    );
    location!(plain_relative_untouched, map(), "next", None);
    location!(
        already_prefixed_kept,
        Mapping {
            upstream_base: "",
            ..map()
        },
        "/api/x",
        None
    );
    location!(
        root_gets_prefix,
        Mapping {
            upstream_base: "",
            ..map()
        },
        "/",
        Some("/api/")
    );
    location!(
        nothing_to_move,
        Mapping {
            upstream_base: "",
            public_prefix: "",
            ..map()
        },
        "/x",
        None
    );
    location!(
        preserved_host_gets_public_scheme,
        Mapping {
            sent_host: "example.com",
            upstream_base: "",
            public_prefix: "",
            ..map()
        },
        "http://example.com/x",
        Some("https://example.com/x")
    );
    location!(
        default_port_matches,
        Mapping {
            upstream_authority: "up",
            sent_host: "up",
            ..map()
        },
        "http://UP:80/app/",
        Some("https://example.com/api/")
    );

    #[test]
    fn refresh_url_is_rewritten() {
        assert_eq!(
            rewrite_refresh("5; url=/app/next", &map()).as_deref(),
            Some("5; url=/api/next")
        );
        assert_eq!(
            rewrite_refresh("0;URL='http://127.0.0.1:9000/app/'", &map()).as_deref(),
            Some("0; url='https://example.com/api/'")
        );
        assert_eq!(rewrite_refresh("5", &map()), None);
        assert_eq!(rewrite_refresh("5; url=https://other/", &map()), None);
    }

    #[test]
    fn cookie_domain_and_path_are_rewritten() {
        let m = Mapping {
            upstream_authority: "backend.internal:9000",
            ..map()
        };
        assert_eq!(
            rewrite_set_cookie("s=1; Domain=.backend.internal; Path=/app; HttpOnly", &m).as_deref(),
            Some("s=1; Domain=example.com; Path=/api; HttpOnly")
        );
        assert_eq!(
            rewrite_set_cookie("s=1; Path=/app/x", &m).as_deref(),
            Some("s=1; Path=/api/x")
        );
        assert_eq!(rewrite_set_cookie("s=1; Path=/other; Secure", &m), None);
        assert_eq!(rewrite_set_cookie("s=1", &m), None);
    }

    #[test]
    fn cookie_domain_dropped_for_ip_public_host() {
        let m = Mapping {
            upstream_authority: "backend:9000",
            public_authority: "127.0.0.1:8080",
            ..map()
        };
        assert_eq!(
            rewrite_set_cookie("s=1; Domain=backend", &m).as_deref(),
            Some("s=1")
        );
    }

    #[test]
    fn headers_are_rewritten_in_place() {
        let mut h = HeaderMap::new();
        h.insert(LOCATION, "/app/a".parse().unwrap());
        h.insert(
            CONTENT_LOCATION,
            "http://127.0.0.1:9000/app/b".parse().unwrap(),
        );
        h.insert(&REFRESH, "1; url=/app/c".parse().unwrap());
        h.append(SET_COOKIE, "a=1; Path=/app".parse().unwrap());
        h.append(SET_COOKIE, "b=2; Path=/".parse().unwrap());
        assert_eq!(has_rewritable(&h), (true, true));
        rewrite_redirects(&mut h, &map());
        rewrite_cookies(&mut h, &map());
        assert_eq!(h[LOCATION], "/api/a");
        assert_eq!(h[CONTENT_LOCATION], "https://example.com/api/b");
        assert_eq!(h[&REFRESH], "1; url=/api/c");
        let cookies: Vec<_> = h.get_all(SET_COOKIE).iter().collect();
        assert_eq!(cookies, ["a=1; Path=/api", "b=2; Path=/"]);
    }

    #[test]
    fn an_invalid_public_host_is_never_written() {
        for public in [
            "evil.example;Domain=attacker.example",
            "a=b",
            "",
            "a b",
            "a,b",
        ] {
            let m = Mapping {
                upstream_authority: "backend:9000",
                sent_host: "backend:9000",
                public_authority: public,
                ..map()
            };
            assert_eq!(
                rewrite_location("http://backend:9000/app/login", &m).as_deref(),
                Some("/api/login"),
                "{public:?}"
            );
            assert_eq!(
                rewrite_set_cookie("s=1; Domain=backend; Path=/app", &m).as_deref(),
                Some("s=1; Path=/api"),
                "{public:?}"
            );
            assert_eq!(
                rewrite_refresh("0; url=http://backend:9000/", &m).as_deref(),
                Some("0; url=/"),
                "{public:?}"
            );
        }
    }

    #[test]
    fn a_valid_public_host_with_port_or_ipv6_is_written() {
        for public in [
            "example.com:8443",
            "[::1]:8080",
            "127.0.0.1",
            "under_score.example",
        ] {
            let m = Mapping {
                public_authority: public,
                ..map()
            };
            assert_eq!(
                rewrite_location("http://127.0.0.1:9000/app/x", &m),
                Some(format!("https://{public}/api/x")),
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn only_a_valid_host_reaches_an_answer(public in "[a-z;=, .:]{0,20}") {
            let m = Mapping { public_authority: &public, ..map() };
            if let Some(out) = rewrite_location("http://127.0.0.1:9000/app/x", &m) {
                let host = out.strip_prefix("https://").and_then(|r| r.split_once('/')).map(|(h, _)| h);
                if let Some(host) = host {
                    proptest::prop_assert!(crate::syntax::host::normalize(host, "https").is_ok(), "{out}");
                }
            }
            if let Some(out) = rewrite_set_cookie("s=1; Domain=127.0.0.1", &m) {
                for domain in out.split(';').filter_map(|a| a.trim().strip_prefix("Domain=")) {
                    proptest::prop_assert!(crate::syntax::host::normalize(domain, "https").is_ok(), "{out}");
                }
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics(value in "\\PC{0,60}") {
            let _ = rewrite_location(&value, &map());
            let _ = rewrite_refresh(&value, &map());
            let _ = rewrite_set_cookie(&value, &map());
        }
    }
}
