//! The `Cache-Control` response header as a builder (RFC 9111 §5.2.2), and `Vary`.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use tollgate::response::cache_control::CacheControl;
//!
//! let cc = CacheControl::new().public().max_age(Duration::from_secs(31_536_000)).immutable();
//! assert_eq!(cc.to_string(), "public, max-age=31536000, immutable");
//! assert_eq!(CacheControl::no_store().to_string(), "no-store");
//! ```

use std::fmt;
use std::time::Duration;

use http::header::{HeaderName, VARY};
use http::{HeaderMap, HeaderValue};

/// A `Cache-Control` response value, built directive by directive. Directives print in the
/// order they were added; adding one twice keeps the last value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct CacheControl {
    directives: Vec<(&'static str, Option<u64>)>,
}

impl CacheControl {
    /// No directive yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Just `no-store`: nothing may keep a copy (secrets, personal pages).
    pub fn no_store() -> Self {
        Self::new().directive("no-store", None)
    }

    /// Just `no-cache`: caches must revalidate before each reuse.
    pub fn no_cache() -> Self {
        Self::new().directive("no-cache", None)
    }

    fn directive(mut self, name: &'static str, value: Option<u64>) -> Self {
        self.directives.retain(|(n, _)| *n != name);
        self.directives.push((name, value));
        self
    }

    /// `max-age=SECS`: fresh for this long.
    pub fn max_age(self, age: Duration) -> Self {
        self.directive("max-age", Some(age.as_secs()))
    }

    /// `s-maxage=SECS`: fresh for this long in shared caches.
    pub fn s_maxage(self, age: Duration) -> Self {
        self.directive("s-maxage", Some(age.as_secs()))
    }

    /// `public`: shared caches may store it even when it would not be by default.
    pub fn public(self) -> Self {
        self.directive("public", None)
    }

    /// `private`: only the user's own cache may store it.
    pub fn private(self) -> Self {
        self.directive("private", None)
    }

    /// `no-cache`: revalidate before each reuse.
    pub fn and_no_cache(self) -> Self {
        self.directive("no-cache", None)
    }

    /// `no-store`: do not store at all.
    pub fn and_no_store(self) -> Self {
        self.directive("no-store", None)
    }

    /// `no-transform`: intermediaries must not change the content.
    pub fn no_transform(self) -> Self {
        self.directive("no-transform", None)
    }

    /// `must-revalidate`: once stale, never reuse without revalidating.
    pub fn must_revalidate(self) -> Self {
        self.directive("must-revalidate", None)
    }

    /// `proxy-revalidate`: `must-revalidate` for shared caches only.
    pub fn proxy_revalidate(self) -> Self {
        self.directive("proxy-revalidate", None)
    }

    /// `immutable` (RFC 8246): will not change while fresh; for fingerprinted assets.
    pub fn immutable(self) -> Self {
        self.directive("immutable", None)
    }

    /// `stale-while-revalidate=SECS` (RFC 5861).
    pub fn stale_while_revalidate(self, age: Duration) -> Self {
        self.directive("stale-while-revalidate", Some(age.as_secs()))
    }

    /// `stale-if-error=SECS` (RFC 5861).
    pub fn stale_if_error(self, age: Duration) -> Self {
        self.directive("stale-if-error", Some(age.as_secs()))
    }

    /// Whether no directive was added.
    pub fn is_empty(&self) -> bool {
        self.directives.is_empty()
    }

    /// The header value.
    pub fn to_header_value(&self) -> HeaderValue {
        HeaderValue::try_from(self.to_string())
            .expect("directive names and digits are a valid header value")
    }
}

impl fmt::Display for CacheControl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (name, value)) in self.directives.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(name)?;
            if let Some(v) = value {
                write!(f, "={v}")?;
            }
        }
        Ok(())
    }
}

/// Adds `name` to the `Vary` header unless it is already listed (case-insensitively) or
/// `Vary: *` is set. Several `Vary` fields are folded into one.
pub fn add_vary(headers: &mut HeaderMap, name: &HeaderName) {
    let mut names: Vec<String> = Vec::new();
    for value in headers.get_all(VARY) {
        for item in value.to_str().unwrap_or("").split(',') {
            let item = item.trim();
            if !item.is_empty() && !names.iter().any(|n| n.eq_ignore_ascii_case(item)) {
                names.push(item.to_owned());
            }
        }
    }
    if names
        .iter()
        .any(|n| n == "*" || n.eq_ignore_ascii_case(name.as_str()))
    {
        return;
    }
    names.push(name.as_str().to_owned());
    if let Ok(value) = HeaderValue::try_from(names.join(", ")) {
        headers.insert(VARY, value);
    }
}

/// Most directives [`CacheDirectives::parse`] keeps: 64.
pub const MAX_CACHE_DIRECTIVES: usize = 64;

/// A `Cache-Control` header read back (a request's or a response's): its directives in
/// order, names lower-cased, values unquoted. Malformed members are skipped.
///
/// ```
/// use std::time::Duration;
/// use tollgate::response::cache_control::CacheDirectives;
///
/// let cc = CacheDirectives::parse(r#"no-cache, max-age=60, private="set-cookie""#);
/// assert!(cc.has("no-cache"));
/// assert_eq!(cc.max_age(), Some(Duration::from_secs(60)));
/// assert_eq!(cc.get("private"), Some(Some("set-cookie")));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheDirectives {
    directives: Vec<(String, Option<String>)>,
}

impl CacheDirectives {
    /// Parses a `Cache-Control` value (several fields joined with `,`).
    pub fn parse(value: &str) -> Self {
        let directives = crate::syntax::token::split_outside_quotes(value, ',')
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .take(MAX_CACHE_DIRECTIVES)
            .filter_map(|d| {
                if d.contains('=') {
                    let (name, value) = crate::syntax::token::parse_param(d)?;
                    Some((name, Some(value)))
                } else {
                    crate::syntax::token::is_token(d).then(|| (d.to_ascii_lowercase(), None))
                }
            })
            .collect();
        CacheDirectives { directives }
    }

    /// Every `Cache-Control` field of `headers`; `None` when there is none.
    pub fn from_headers(headers: &HeaderMap) -> Option<Self> {
        headers.get(http::header::CACHE_CONTROL)?;
        let joined = crate::syntax::token::joined(headers, &http::header::CACHE_CONTROL);
        Some(Self::parse(&joined))
    }

    /// Directive `name` (lower case): `Some(None)` when present without a value.
    pub fn get(&self, name: &str) -> Option<Option<&str>> {
        self.directives
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_deref())
    }

    /// Whether directive `name` (lower case) is present.
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// `max-age` as a duration; `None` when absent or not a number.
    pub fn max_age(&self) -> Option<Duration> {
        self.seconds("max-age")
    }

    /// `s-maxage` as a duration.
    pub fn s_maxage(&self) -> Option<Duration> {
        self.seconds("s-maxage")
    }

    /// `no-cache`.
    pub fn no_cache(&self) -> bool {
        self.has("no-cache")
    }

    /// `no-store`.
    pub fn no_store(&self) -> bool {
        self.has("no-store")
    }

    fn seconds(&self, name: &str) -> Option<Duration> {
        let value = self.get(name)??;
        if !value.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        // RFC 9111 §1.2.2: a delta-seconds too large to hold is the largest one.
        Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)))
    }

    /// The directives in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        self.directives
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_deref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::{ACCEPT_ENCODING, ACCEPT_LANGUAGE};

    #[test]
    fn builds_directives_in_order() {
        let cc = CacheControl::new()
            .private()
            .max_age(Duration::from_secs(60))
            .must_revalidate()
            .max_age(Duration::from_secs(30));
        assert_eq!(cc.to_string(), "private, must-revalidate, max-age=30");
        assert_eq!(
            CacheControl::no_cache().and_no_store().to_string(),
            "no-cache, no-store"
        );
        assert!(CacheControl::new().is_empty());
    }

    #[test]
    fn vary_merges() {
        let mut h = HeaderMap::new();
        add_vary(&mut h, &ACCEPT_ENCODING);
        add_vary(&mut h, &ACCEPT_ENCODING);
        assert_eq!(h[VARY], "accept-encoding");
        h.append(VARY, HeaderValue::from_static("Origin"));
        add_vary(&mut h, &ACCEPT_LANGUAGE);
        assert_eq!(h[VARY], "accept-encoding, Origin, accept-language");
        assert_eq!(h.get_all(VARY).iter().count(), 1);
        let mut h = HeaderMap::new();
        h.insert(VARY, HeaderValue::from_static("*"));
        add_vary(&mut h, &ACCEPT_ENCODING);
        assert_eq!(h[VARY], "*");
    }
}
