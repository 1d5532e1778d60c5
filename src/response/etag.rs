//! Entity tags (RFC 9110 §8.8.3): [`ETag`], and [`ETagList`] for the values of `If-Match` and
//! `If-None-Match`. Pure functions, no I/O.
//!
//! The preconditions that compare them live in [`precondition`](super::precondition), HTTP
//! dates in [`date`](super::date); both are also re-exported here, where they used to be.
//!
//! # Example
//!
//! ```
//! use http::{HeaderMap, Method};
//! use tollgate::response::etag::{evaluate_preconditions, ETag, Precondition};
//!
//! let current = ETag::strong("v2").unwrap();
//! let mut headers = HeaderMap::new();
//! headers.insert("if-none-match", "W/\"v1\", \"v2\"".parse().unwrap());
//! let outcome = evaluate_preconditions(&Method::GET, &headers, Some(&current), None);
//! assert_eq!(outcome, Precondition::NotModified);
//! ```

use std::fmt;
use std::str::FromStr;

use http::header::HeaderName;
use http::{HeaderMap, HeaderValue};

pub use super::date::{fmt_http_date, parse_http_date, truncate_to_seconds};
pub use super::precondition::{evaluate_preconditions, if_range_holds, Precondition};

/// At most this many entity tags of an `If-Match` / `If-None-Match` list are kept.
pub const MAX_ETAGS: usize = 128;

/// An entity tag: an opaque validator, strong (`"abc"`) or weak (`W/"abc"`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ETag {
    weak: bool,
    tag: String,
}

/// Why an entity tag was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ETagError {
    /// The tag holds a character entity tags cannot carry (`"`, a control character, a space).
    InvalidCharacter {
        /// The tag, truncated to 64 bytes.
        tag: String,
    },
    /// The header form is not `"tag"` or `W/"tag"`.
    NotQuoted {
        /// The input, truncated to 64 bytes.
        input: String,
    },
}

impl fmt::Display for ETagError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ETagError::InvalidCharacter { tag } => write!(
                f,
                "invalid entity tag {tag:?}: use visible ASCII other than `\"` (hex digits are safest)"
            ),
            ETagError::NotQuoted { input } => write!(
                f,
                "invalid entity tag {input:?}: expected `\"tag\"` or `W/\"tag\"`"
            ),
        }
    }
}

impl std::error::Error for ETagError {}

impl crate::error::ClientError for ETagError {}

/// `etagc = %x21 / %x23-7E / obs-text`.
fn is_etagc(b: u8) -> bool {
    b == 0x21 || (0x23..=0x7e).contains(&b) || b >= 0x80
}

impl ETag {
    /// A strong tag (`"tag"`): equal tags promise byte-identical representations.
    ///
    /// # Errors
    ///
    /// When `tag` holds `"`, spaces, control characters or is not ASCII-visible.
    pub fn strong(tag: impl Into<String>) -> Result<Self, ETagError> {
        Self::new(false, tag.into())
    }

    /// A weak tag (`W/"tag"`): equal tags promise equivalent representations only.
    ///
    /// # Errors
    ///
    /// As [`ETag::strong`].
    pub fn weak(tag: impl Into<String>) -> Result<Self, ETagError> {
        Self::new(true, tag.into())
    }

    fn new(weak: bool, tag: String) -> Result<Self, ETagError> {
        // obs-text is allowed by the grammar but not representable in a `&str` header
        // reliably; accept visible ASCII only.
        if tag.bytes().all(|b| is_etagc(b) && b < 0x80) {
            Ok(ETag { weak, tag })
        } else {
            Err(ETagError::InvalidCharacter {
                tag: crate::syntax::excerpt(&tag, 64),
            })
        }
    }

    /// A strong tag naming `bytes`: the first 16 bytes of their SHA-256, in hex. Equal bytes
    /// give equal tags, so a filter that rewrote a body can tag what it sends.
    ///
    /// ```
    /// use tollgate::response::ETag;
    /// let tag = ETag::for_bytes(b"hello");
    /// assert_eq!(tag.to_header_value(), "\"2cf24dba5fb0a30e26e83b2ac5b9e29e\"");
    /// ```
    pub fn for_bytes(bytes: &[u8]) -> Self {
        use sha2::{Digest, Sha256};
        use std::fmt::Write;
        let digest = Sha256::digest(bytes);
        let mut tag = String::with_capacity(32);
        for b in &digest[..16] {
            let _ = write!(tag, "{b:02x}");
        }
        ETag { weak: false, tag }
    }

    /// Parses the header form: `"tag"` or `W/"tag"`, surrounding spaces ignored.
    ///
    /// # Errors
    ///
    /// When the quotes are missing or the tag holds a character it may not.
    pub fn parse(input: &str) -> Result<Self, ETagError> {
        let s = input.trim();
        let (weak, rest) = match s.strip_prefix("W/") {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let tag = rest
            .strip_prefix('"')
            .and_then(|r| r.strip_suffix('"'))
            .ok_or_else(|| ETagError::NotQuoted {
                input: crate::syntax::excerpt(input, 64),
            })?;
        Self::new(weak, tag.to_owned())
    }

    /// Whether the tag is weak.
    pub fn is_weak(&self) -> bool {
        self.weak
    }

    /// The opaque tag, without quotes or `W/`.
    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// Strong comparison (RFC 9110 §8.8.3.2): both strong and the same tag.
    pub fn strong_eq(&self, other: &ETag) -> bool {
        !self.weak && !other.weak && self.tag == other.tag
    }

    /// Weak comparison: the same tag, weak or not.
    pub fn weak_eq(&self, other: &ETag) -> bool {
        self.tag == other.tag
    }

    /// The header value (`"tag"` or `W/"tag"`).
    pub fn to_header_value(&self) -> HeaderValue {
        HeaderValue::try_from(self.to_string())
            .expect("an ETag holds visible ASCII only, checked when it was made")
    }
}

impl fmt::Display for ETag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.weak {
            f.write_str("W/")?;
        }
        write!(f, "\"{}\"", self.tag)
    }
}

impl FromStr for ETag {
    type Err = ETagError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ETag::parse(s)
    }
}

/// The value of `If-Match` or `If-None-Match`: `*` or a list of entity tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ETagList {
    /// `*`: any current representation.
    Any,
    /// The tags that parsed (malformed members are skipped; at most [`MAX_ETAGS`]).
    Tags(Vec<ETag>),
}

impl ETagList {
    /// Parses a list leniently: malformed members are skipped, so a list of garbage matches
    /// nothing. Commas inside quotes do not split.
    pub fn parse(value: &str) -> Self {
        if value.trim() == "*" {
            return ETagList::Any;
        }
        let mut tags = Vec::new();
        let mut rest = value;
        while tags.len() < MAX_ETAGS {
            rest = rest.trim_start_matches([' ', '\t', ',']);
            if rest.is_empty() {
                break;
            }
            let weak = rest.starts_with("W/");
            let body = if weak { &rest[2..] } else { rest };
            if let Some(inner) = body.strip_prefix('"') {
                if let Some(close) = inner.find('"') {
                    if let Ok(tag) = ETag::new(weak, inner[..close].to_owned()) {
                        tags.push(tag);
                    }
                    rest = &inner[close + 1..];
                    continue;
                }
            }
            // Not a quoted tag: skip to the next comma.
            match rest.find(',') {
                Some(i) => rest = &rest[i + 1..],
                None => break,
            }
        }
        ETagList::Tags(tags)
    }

    /// Every field named `name` in `headers` as one list; `None` when absent.
    pub fn from_headers(headers: &HeaderMap, name: &HeaderName) -> Option<Self> {
        let mut fields = headers.get_all(name).iter().peekable();
        fields.peek()?;
        let mut tags = Vec::new();
        for field in fields {
            match ETagList::parse(field.to_str().unwrap_or("")) {
                ETagList::Any => return Some(ETagList::Any),
                ETagList::Tags(t) => tags.extend(t),
            }
        }
        tags.truncate(MAX_ETAGS);
        Some(ETagList::Tags(tags))
    }

    /// `If-Match` semantics: strong comparison; `*` matches any existing representation.
    pub fn matches_strong(&self, current: Option<&ETag>) -> bool {
        match (self, current) {
            (_, None) => false,
            (ETagList::Any, Some(_)) => true,
            (ETagList::Tags(tags), Some(cur)) => tags.iter().any(|t| t.strong_eq(cur)),
        }
    }

    /// `If-None-Match` semantics: weak comparison; `*` matches any existing representation.
    pub fn matches_weak(&self, current: Option<&ETag>) -> bool {
        match (self, current) {
            (_, None) => false,
            (ETagList::Any, Some(_)) => true,
            (ETagList::Tags(tags), Some(cur)) => tags.iter().any(|t| t.weak_eq(cur)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(s: &str) -> ETag {
        ETag::parse(s).expect("test etag")
    }

    #[test]
    fn parses_strong_and_weak() {
        assert_eq!(tag("\"abc\""), ETag::strong("abc").expect("tag"));
        assert_eq!(tag(" W/\"abc\" "), ETag::weak("abc").expect("tag"));
        assert_eq!(tag("\"\"").tag(), "");
        assert!(ETag::parse("abc").is_err());
        assert!(ETag::parse("\"a\"b\"").is_err());
        assert!(ETag::parse("w/\"a\"").is_err());
        assert!(ETag::strong("a b").is_err());
        assert!(ETag::strong("a\r\nSet-Cookie: x").is_err());
        assert_eq!(ETag::weak("x").expect("tag").to_string(), "W/\"x\"");
    }

    #[test]
    fn rfc9110_comparison_table() {
        // RFC 9110 §8.8.3.2.
        let cases = [
            ("W/\"1\"", "W/\"1\"", false, true),
            ("W/\"1\"", "W/\"2\"", false, false),
            ("W/\"1\"", "\"1\"", false, true),
            ("\"1\"", "\"1\"", true, true),
        ];
        for (a, b, strong, weak) in cases {
            assert_eq!(tag(a).strong_eq(&tag(b)), strong, "{a} {b}");
            assert_eq!(tag(a).weak_eq(&tag(b)), weak, "{a} {b}");
        }
    }

    #[test]
    fn lists_skip_garbage() {
        let l = ETagList::parse("\"a\", garbage, W/\"b\",,\"c,d\" , \"unterminated");
        assert_eq!(
            l,
            ETagList::Tags(vec![tag("\"a\""), tag("W/\"b\""), tag("\"c,d\"")])
        );
        assert_eq!(ETagList::parse(" * "), ETagList::Any);
        assert_eq!(ETagList::parse(""), ETagList::Tags(vec![]));
    }

    #[test]
    fn lists_are_capped() {
        let value = "\"x\", ".repeat(10_000);
        match ETagList::parse(&value) {
            ETagList::Tags(t) => assert_eq!(t.len(), MAX_ETAGS),
            ETagList::Any => panic!("not any"),
        }
    }

    #[test]
    fn errors_are_send_sync() {
        fn check<T: Send + Sync + std::error::Error>() {}
        check::<ETagError>();
    }

    proptest::proptest! {
        #[test]
        fn lists_never_panic(s in "\\PC{0,120}") {
            let _ = ETagList::parse(&s);
            let _ = ETag::parse(&s);
        }

        #[test]
        fn display_round_trips(t in "[!#-~]{0,20}", weak: bool) {
            let e = if weak { ETag::weak(t) } else { ETag::strong(t) }.expect("valid tag");
            proptest::prop_assert_eq!(ETag::parse(&e.to_string()).expect("parses"), e);
        }
    }
}
