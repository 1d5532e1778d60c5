//! The cookie store of a [`TestClient`](super::TestClient): RFC 6265 rules for `Domain`,
//! `Path`, `Secure`, `Expires`/`Max-Age` and the `__Host-`/`__Secure-` prefixes, as a browser
//! applies them.

use std::time::{Duration, SystemTime};

use http::header::SET_COOKIE;
use http::HeaderMap;

use crate::cookies::{encode_pair, Cookie, Expiration};

/// At most this many cookies are kept; the oldest go first.
const MAX_COOKIES: usize = 300;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Stored {
    name: String,
    value: String,
    /// Lower case, without a leading dot.
    domain: String,
    /// Set without `Domain`: only this exact host gets it back.
    host_only: bool,
    path: String,
    secure: bool,
    expires: Option<SystemTime>,
}

/// The URL parts cookies are matched against.
#[derive(Debug, Clone, Copy)]
pub(super) struct Target<'a> {
    pub(super) https: bool,
    pub(super) host: &'a str,
    pub(super) path: &'a str,
}

/// Cookies as a browser keeps them.
#[derive(Debug, Default)]
pub(super) struct Jar {
    cookies: Vec<Stored>,
}

impl Jar {
    /// The `Cookie` header for `target`: matching, unexpired cookies, longest paths first.
    pub(super) fn header_for(&mut self, target: Target<'_>) -> Option<String> {
        let now = SystemTime::now();
        self.cookies.retain(|c| c.expires.is_none_or(|t| t > now));
        let host = target.host.to_ascii_lowercase();
        let mut matching: Vec<&Stored> = self
            .cookies
            .iter()
            .filter(|c| {
                let domain_ok = if c.host_only {
                    host == c.domain
                } else {
                    domain_match(&host, &c.domain)
                };
                domain_ok && path_match(target.path, &c.path) && (!c.secure || target.https)
            })
            .collect();
        // Stable: equal paths keep the order they were set in.
        matching.sort_by_key(|c| std::cmp::Reverse(c.path.len()));
        (!matching.is_empty()).then(|| {
            matching
                .iter()
                .map(|c| encode_pair(&c.name, &c.value))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    /// Stores the `Set-Cookie`s of an answer to a request for `target`.
    pub(super) fn store(&mut self, target: Target<'_>, headers: &HeaderMap) {
        for value in headers.get_all(SET_COOKIE).iter() {
            let Some(cookie) = value
                .to_str()
                .ok()
                .and_then(|v| Cookie::parse_encoded(v).ok())
            else {
                continue;
            };
            if let Some(stored) = accept(target, &cookie) {
                self.cookies.retain(|c| {
                    (&c.name, &c.domain, &c.path) != (&stored.name, &stored.domain, &stored.path)
                });
                let expired = stored.expires.is_some_and(|t| t <= SystemTime::now());
                if !expired {
                    self.cookies.push(stored);
                }
            }
        }
        if self.cookies.len() > MAX_COOKIES {
            let extra = self.cookies.len() - MAX_COOKIES;
            self.cookies.drain(..extra);
        }
    }
}

/// The cookie as stored, or `None` when a browser would refuse it.
fn accept(target: Target<'_>, cookie: &Cookie<'_>) -> Option<Stored> {
    let host = target.host.to_ascii_lowercase();
    let (domain, host_only) = match cookie.domain() {
        Some(d) if !d.is_empty() => {
            let d = d.trim_start_matches('.').to_ascii_lowercase();
            if !domain_match(&host, &d) {
                return None;
            }
            (d, false)
        }
        _ => (host, true),
    };
    let path = match cookie.path() {
        Some(p) if p.starts_with('/') => p.to_owned(),
        _ => default_path(target.path),
    };
    let secure = cookie.secure() == Some(true);
    // RFC 6265bis §5.7: a non-secure origin cannot set a Secure cookie; the prefixes.
    if secure && !target.https {
        return None;
    }
    let name = cookie.name();
    if name.starts_with("__Secure-") && !secure {
        return None;
    }
    if name.starts_with("__Host-") && (!secure || !host_only || path != "/") {
        return None;
    }
    let expires = match (cookie.max_age(), cookie.expires()) {
        (Some(age), _) => {
            let secs = u64::try_from(age.whole_seconds()).unwrap_or(0);
            Some(SystemTime::now() + Duration::from_secs(secs))
        }
        (None, Some(Expiration::DateTime(at))) => Some(SystemTime::from(at)),
        _ => None,
    };
    Some(Stored {
        name: name.to_owned(),
        value: cookie.value().to_owned(),
        domain,
        host_only,
        path,
        secure,
        expires,
    })
}

/// RFC 6265 §5.1.3: `host` is `domain` or a subdomain of it (never an IP's suffix).
fn domain_match(host: &str, domain: &str) -> bool {
    host == domain
        || (host.ends_with(domain)
            && host[..host.len() - domain.len()].ends_with('.')
            && host.parse::<std::net::IpAddr>().is_err())
}

/// RFC 6265 §5.1.4.
fn path_match(request: &str, cookie: &str) -> bool {
    request == cookie
        || (request.starts_with(cookie)
            && (cookie.ends_with('/') || request[cookie.len()..].starts_with('/')))
}

/// RFC 6265 §5.1.4: the directory of the request's path.
fn default_path(path: &str) -> String {
    match path.rfind('/') {
        Some(0) | None => "/".to_owned(),
        Some(i) => path[..i].to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target<'a>(https: bool, host: &'a str, path: &'a str) -> Target<'a> {
        Target { https, host, path }
    }

    fn set(jar: &mut Jar, at: Target<'_>, cookies: &[&str]) {
        let mut headers = HeaderMap::new();
        for c in cookies {
            headers.append(SET_COOKIE, c.parse().unwrap());
        }
        jar.store(at, &headers);
    }

    #[test]
    fn domain_path_and_secure_decide_what_is_sent() {
        let mut jar = Jar::default();
        let site = target(true, "app.example.com", "/shop/cart");
        set(
            &mut jar,
            site,
            &[
                "host=1",
                "wide=2; Domain=example.com; Path=/",
                "deep=3; Path=/shop",
                "safe=4; Secure; Path=/",
                "other=5; Domain=evil.com",
            ],
        );
        let on = |jar: &mut Jar, https, host, path| jar.header_for(target(https, host, path));
        assert_eq!(
            on(&mut jar, true, "app.example.com", "/shop/x").as_deref(),
            Some("host=1; deep=3; wide=2; safe=4")
        );
        assert_eq!(
            on(&mut jar, false, "www.example.com", "/").as_deref(),
            Some("wide=2")
        );
        assert_eq!(
            on(&mut jar, true, "app.example.com", "/shopping").as_deref(),
            Some("wide=2; safe=4")
        );
    }

    #[test]
    fn expiry_removes_and_prefixes_are_enforced() {
        let mut jar = Jar::default();
        let plain = target(false, "localhost", "/");
        set(
            &mut jar,
            plain,
            &[
                "a=1; Max-Age=60",
                "b=2; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
            ],
        );
        set(
            &mut jar,
            plain,
            &["__Secure-x=1", "__Host-y=1; Secure; Path=/"],
        );
        assert_eq!(jar.header_for(plain).as_deref(), Some("a=1"));
        set(&mut jar, plain, &["a=; Max-Age=0"]);
        assert_eq!(jar.header_for(plain), None);
        let secure = target(true, "localhost", "/");
        set(
            &mut jar,
            secure,
            &["__Host-y=1; Secure; Path=/", "__Host-z=1; Secure; Path=/a"],
        );
        assert_eq!(jar.header_for(secure).as_deref(), Some("__Host-y=1"));
    }
}
