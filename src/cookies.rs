//! Reading the `Cookie` header and writing `Set-Cookie` (the [`cookie`] crate underneath).
//!
//! Reading is lenient the way browsers and servers are: a malformed pair is skipped (with a
//! debug log), never an error page, and the well-formed pairs around it are kept.
//!
//! Values round-trip: [`Response::set_cookie`](crate::Response::set_cookie) percent-encodes
//! what a cookie cannot carry (spaces, `;`, `,`, `"`, `%`, non-ASCII, ...) and [`parse`]
//! (hence [`Request::cookies`](crate::Request::cookies)) decodes `%XX` escapes, so a value
//! reads back as it was set. A value whose escapes do not decode to UTF-8 is kept as sent.
//!
//! Signed and private cookies, with key rotation: [`CookieKeys`] (feature `secure-cookies`).
//!
//! # Example
//!
//! ```
//! use tollgate::cookies;
//!
//! let jar = cookies::parse("a=1; junk; b=\"two\"", cookies::DEFAULT_MAX_COOKIES);
//! assert_eq!(jar.get("a"), Some("1"));
//! assert_eq!(jar.get("b"), Some("two"));
//! ```

use std::borrow::Cow;
use std::fmt;

pub use cookie::{Cookie, CookieBuilder, Expiration, SameSite};

#[cfg(feature = "secure-cookies")]
mod keys;
#[cfg(feature = "secure-cookies")]
#[cfg_attr(docsrs, doc(cfg(feature = "secure-cookies")))]
pub use keys::{CookieKeys, Key, KeyLengthError};

use crate::MultiMap;

/// Default maximum number of cookies read from a request: 100. Further pairs are ignored.
pub const DEFAULT_MAX_COOKIES: usize = 100;

/// One `name=value` pair of a `Cookie` header that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CookieError {
    /// The pair has no `=` or an empty name.
    MissingName {
        /// The pair, cut to 64 bytes.
        pair: String,
    },
    /// The name or value holds characters RFC 6265 does not allow.
    InvalidCharacters {
        /// The pair, cut to 64 bytes.
        pair: String,
    },
}

impl fmt::Display for CookieError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CookieError::MissingName { pair } => {
                write!(f, "cookie `{pair}` has no name; expected `name=value`")
            }
            CookieError::InvalidCharacters { pair } => {
                write!(
                    f,
                    "cookie `{pair}` holds control characters, spaces or separators"
                )
            }
        }
    }
}

impl std::error::Error for CookieError {}

impl crate::error::ClientError for CookieError {}

/// Splits a `Cookie` header value into its pairs, each parsed or refused (RFC 6265 §4.2.1).
/// Values are returned as sent, without their surrounding double quotes.
pub fn pairs(header: &str) -> impl Iterator<Item = Result<(&str, &str), CookieError>> {
    header
        .split(';')
        // Optional whitespace is SP and HTAB only: `str::trim` would also take U+0085 or
        // U+00A0 off an unquoted value but not a quoted one (fuzz: cookie_header 752839e3).
        .map(trim_ows)
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let cut = || pair.chars().take(64).collect::<String>();
            let (name, value) = pair
                .split_once('=')
                .ok_or_else(|| CookieError::MissingName { pair: cut() })?;
            let (name, value) = (trim_ows(name), trim_ows(value));
            if name.is_empty() {
                return Err(CookieError::MissingName { pair: cut() });
            }
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            let name_ok = name.bytes().all(crate::syntax::is_tchar);
            let value_ok = value
                .bytes()
                .all(|b| b > 0x20 && b != 0x7f && b != b';' && b != b',' && b != b'"');
            if name_ok && value_ok {
                Ok((name, value))
            } else {
                Err(CookieError::InvalidCharacters { pair: cut() })
            }
        })
}

/// Reads a `Cookie` header into a [`MultiMap`], skipping malformed pairs and keeping at most
/// `max_cookies` of them; names and values are [`decode`]d.
pub fn parse(header: &str, max_cookies: usize) -> MultiMap {
    pairs(header)
        .filter_map(|pair| {
            pair.map_err(|e| tracing::debug!(error = %e, "skipping cookie"))
                .ok()
        })
        .take(max_cookies)
        .map(|(k, v)| (decode(k).into_owned(), decode(v).into_owned()))
        .collect()
}

/// A cookie name or value with its `%XX` escapes decoded (what
/// [`Response::set_cookie`](crate::Response::set_cookie) wrote); kept as sent when the
/// decoded bytes are not UTF-8.
pub fn decode(raw: &str) -> Cow<'_, str> {
    if !raw.contains('%') {
        return Cow::Borrowed(raw);
    }
    percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .unwrap_or(Cow::Borrowed(raw))
}

/// `name=value` as a `Cookie` header pair, encoded as
/// [`Response::set_cookie`](crate::Response::set_cookie) encodes it, so [`parse`] reads back
/// `value`.
pub fn encode_pair(name: &str, value: &str) -> String {
    Cookie::new(name, value).encoded().to_string()
}

/// The `Set-Cookie` that removes `cookie` (RFC 6265bis): the same name, path, domain and
/// `Partitioned`, an empty value, `Max-Age=0` and an expiry in the past. The `__Host-` prefix
/// forces `Secure`, `Path=/` and no domain, `__Secure-` and `Partitioned` force `Secure`:
/// browsers ignore a removal without them, leaving the cookie in place.
pub fn removal(cookie: &Cookie<'_>) -> Cookie<'static> {
    let name = cookie.name().to_owned();
    let mut removal = Cookie::new(name.clone(), "");
    if let Some(path) = cookie.path() {
        removal.set_path(path.to_owned());
    }
    if let Some(domain) = cookie.domain() {
        removal.set_domain(domain.to_owned());
    }
    if cookie.partitioned() == Some(true) {
        removal.set_partitioned(true);
        removal.set_secure(true);
    }
    if cookie.secure() == Some(true) || name.starts_with("__Secure-") {
        removal.set_secure(true);
    }
    if name.starts_with("__Host-") {
        removal.set_secure(true);
        removal.set_path("/");
        removal.unset_domain();
    }
    removal.make_removal();
    removal
}

/// `s` without leading and trailing SP and HTAB (RFC 9110 §5.6.3 `OWS`).
fn trim_ows(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_good_pairs_around_bad_ones() {
        let jar = parse("a=1; =nameless; b c=2; d=\"q\"; e=x;;", 10);
        assert_eq!(
            jar.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>(),
            ["a=1", "d=q", "e=x"]
        );
    }

    #[test]
    fn refuses_control_characters() {
        let errors: Vec<_> = pairs("a=\u{1}x; b=y\u{7f}")
            .filter_map(Result::err)
            .collect();
        assert_eq!(errors.len(), 2);
        assert!(errors[0].to_string().contains("control characters"));
    }

    #[test]
    fn caps_the_number_of_cookies() {
        let header = "a=1; ".repeat(10_000);
        assert_eq!(
            parse(&header, DEFAULT_MAX_COOKIES).len(),
            DEFAULT_MAX_COOKIES
        );
    }

    #[test]
    fn values_round_trip_through_set_cookie() {
        for value in [
            "a b",
            "x;y",
            "1,2",
            "say \"hi\"",
            "k=v",
            "100%",
            "héllo ☃",
            "",
        ] {
            let header = encode_pair("c", value);
            assert_eq!(parse(&header, 10).get("c"), Some(value), "{header}");
        }
    }

    #[test]
    fn raw_values_without_escapes_are_kept() {
        assert_eq!(parse("a=%zz; b=%FF", 10).get("a"), Some("%zz"));
        assert_eq!(parse("a=%zz; b=%FF", 10).get("b"), Some("%FF"));
    }

    #[test]
    fn removals_keep_what_browsers_require() {
        let host = removal(
            &Cookie::build(("__Host-id", "1"))
                .domain("x.example")
                .build(),
        );
        let text = host.to_string();
        assert!(text.contains("Secure") && text.contains("Path=/"), "{text}");
        assert!(!text.contains("Domain"), "{text}");
        assert!(text.contains("Max-Age=0"), "{text}");
        let secure = removal(&Cookie::new("__Secure-id", "1")).to_string();
        assert!(secure.contains("Secure"), "{secure}");
        let chips = removal(
            &Cookie::build(("c", "1"))
                .partitioned(true)
                .path("/a")
                .build(),
        );
        let chips = chips.to_string();
        assert!(
            chips.contains("Partitioned") && chips.contains("Secure"),
            "{chips}"
        );
        assert!(chips.contains("Path=/a"), "{chips}");
    }

    #[test]
    fn empty_and_whitespace_headers_are_empty() {
        assert!(parse("", 10).is_empty());
        assert!(parse(" ; ; ", 10).is_empty());
    }
}
