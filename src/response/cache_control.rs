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
