//! Entity tags and the precondition headers that compare them (RFC 9110 §8.8, §13.1, §13.2).
//!
//! Pure functions, no I/O: [`ETag`], [`ETagList`] (`If-Match` / `If-None-Match` values),
//! [`parse_http_date`], and [`evaluate_preconditions`], which runs the RFC's §13.2.2 order.
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
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::{
    HeaderName, IF_MATCH, IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_RANGE, IF_UNMODIFIED_SINCE,
};
use http::{HeaderMap, HeaderValue, Method};

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

/// Parses an HTTP-date (IMF-fixdate, RFC 850 or asctime); `None` when malformed.
pub fn parse_http_date(value: &str) -> Option<SystemTime> {
    httpdate::parse_http_date(value.trim()).ok()
}

/// Formats a time as an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`).
pub fn fmt_http_date(time: SystemTime) -> String {
    httpdate::fmt_http_date(time)
}

/// Drops the sub-second part: HTTP dates have a one-second resolution.
pub fn truncate_to_seconds(time: SystemTime) -> SystemTime {
    match time.duration_since(UNIX_EPOCH) {
        Ok(d) => UNIX_EPOCH + Duration::from_secs(d.as_secs()),
        Err(_) => time,
    }
}

/// The single date of header `name`; `None` when absent, repeated or malformed (RFC 9110
/// §13.1.3: such a field is ignored).
fn single_date(headers: &HeaderMap, name: &HeaderName) -> Option<SystemTime> {
    let mut fields = headers.get_all(name).iter();
    let first = fields.next()?;
    if fields.next().is_some() {
        return None;
    }
    parse_http_date(first.to_str().ok()?)
}

/// What the precondition headers of a request say about the current representation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Precondition {
    /// Answer as if there were no conditions (range processing may follow).
    Proceed,
    /// `304 Not Modified` (GET and HEAD only).
    NotModified,
    /// `412 Precondition Failed`.
    Failed,
}

/// Evaluates `If-Match`, `If-Unmodified-Since`, `If-None-Match` and `If-Modified-Since` in
/// RFC 9110 §13.2.2's order against the current representation's validators.
///
/// - `If-Match` (strong comparison) false → 412; when absent, `If-Unmodified-Since` older than
///   `Last-Modified` → 412.
/// - `If-None-Match` (weak comparison) matching → 304 for GET/HEAD, 412 otherwise; when absent,
///   for GET/HEAD, `If-Modified-Since` not older than `Last-Modified` → 304.
///
/// A date compared against a missing `last_modified`, or a malformed or repeated date, is
/// ignored. The caller applies this only when its answer would otherwise be 2xx (§13.2.1).
pub fn evaluate_preconditions(
    method: &Method,
    headers: &HeaderMap,
    etag: Option<&ETag>,
    last_modified: Option<SystemTime>,
) -> Precondition {
    let last_modified = last_modified.map(truncate_to_seconds);
    // Step 1 and 2.
    if let Some(if_match) = ETagList::from_headers(headers, &IF_MATCH) {
        if !if_match.matches_strong(etag) {
            return Precondition::Failed;
        }
    } else if let (Some(since), Some(lm)) =
        (single_date(headers, &IF_UNMODIFIED_SINCE), last_modified)
    {
        if lm > since {
            return Precondition::Failed;
        }
    }
    let is_get_or_head = method == Method::GET || method == Method::HEAD;
    // Step 3 and 4.
    if let Some(if_none_match) = ETagList::from_headers(headers, &IF_NONE_MATCH) {
        if if_none_match.matches_weak(etag) {
            return if is_get_or_head {
                Precondition::NotModified
            } else {
                Precondition::Failed
            };
        }
    } else if is_get_or_head {
        if let (Some(since), Some(lm)) = (single_date(headers, &IF_MODIFIED_SINCE), last_modified) {
            if lm <= since {
                return Precondition::NotModified;
            }
        }
    }
    Precondition::Proceed
}

/// Whether an `If-Range` value still describes the current representation (RFC 9110
/// §13.1.5): an entity tag must match strongly (a weak tag never does), a date must equal
/// `Last-Modified` exactly. `None` (no `If-Range`) holds.
pub fn if_range_holds(
    headers: &HeaderMap,
    etag: Option<&ETag>,
    last_modified: Option<SystemTime>,
) -> bool {
    let mut fields = headers.get_all(IF_RANGE).iter();
    let Some(value) = fields.next() else {
        return true;
    };
    if fields.next().is_some() {
        return false;
    }
    let Ok(value) = value.to_str() else {
        return false;
    };
    let value = value.trim();
    if value.starts_with('"') || value.starts_with("W/") {
        match (ETag::parse(value), etag) {
            (Ok(asked), Some(cur)) => asked.strong_eq(cur),
            _ => false,
        }
    } else {
        match (parse_http_date(value), last_modified) {
            (Some(date), Some(lm)) => truncate_to_seconds(lm) == date,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(s: &str) -> ETag {
        ETag::parse(s).expect("test etag")
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).expect("name"),
                HeaderValue::from_str(v).expect("value"),
            );
        }
        h
    }

    const T0: &str = "Sun, 06 Nov 1994 08:49:37 GMT";
    const T1: &str = "Sun, 06 Nov 1994 08:49:38 GMT";

    fn t0() -> SystemTime {
        parse_http_date(T0).expect("date")
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
    fn if_none_match_weak_comparison_gives_304() {
        let cur = tag("\"v1\"");
        let h = headers(&[("if-none-match", "W/\"v1\"")]);
        assert_eq!(
            evaluate_preconditions(&Method::GET, &h, Some(&cur), None),
            Precondition::NotModified
        );
        assert_eq!(
            evaluate_preconditions(&Method::HEAD, &h, Some(&cur), None),
            Precondition::NotModified
        );
        assert_eq!(
            evaluate_preconditions(&Method::PUT, &h, Some(&cur), None),
            Precondition::Failed
        );
        let h = headers(&[("if-none-match", "\"v0\"")]);
        assert_eq!(
            evaluate_preconditions(&Method::GET, &h, Some(&cur), None),
            Precondition::Proceed
        );
    }

    #[test]
    fn if_none_match_star() {
        let h = headers(&[("if-none-match", "*")]);
        assert_eq!(
            evaluate_preconditions(&Method::GET, &h, Some(&tag("\"x\"")), None),
            Precondition::NotModified
        );
        assert_eq!(
            evaluate_preconditions(&Method::GET, &h, None, None),
            Precondition::Proceed
        );
    }

    #[test]
    fn if_match_strong_comparison() {
        let cur = tag("\"v1\"");
        let ok = headers(&[("if-match", "\"v0\", \"v1\"")]);
        let weak = headers(&[("if-match", "W/\"v1\"")]);
        assert_eq!(
            evaluate_preconditions(&Method::PUT, &ok, Some(&cur), None),
            Precondition::Proceed
        );
        assert_eq!(
            evaluate_preconditions(&Method::PUT, &weak, Some(&cur), None),
            Precondition::Failed
        );
        // A weak current tag never matches If-Match.
        assert_eq!(
            evaluate_preconditions(&Method::PUT, &ok, Some(&tag("W/\"v1\"")), None),
            Precondition::Failed
        );
        let star = headers(&[("if-match", "*")]);
        assert_eq!(
            evaluate_preconditions(&Method::GET, &star, None, None),
            Precondition::Failed
        );
    }

    #[test]
    fn if_match_comes_before_if_none_match() {
        let cur = tag("\"v1\"");
        let h = headers(&[("if-match", "\"v2\""), ("if-none-match", "\"v1\"")]);
        assert_eq!(
            evaluate_preconditions(&Method::GET, &h, Some(&cur), None),
            Precondition::Failed
        );
    }

    #[test]
    fn if_modified_since() {
        let h = headers(&[("if-modified-since", T0)]);
        assert_eq!(
            evaluate_preconditions(&Method::GET, &h, None, Some(t0())),
            Precondition::NotModified
        );
        // Sub-second parts of the modification time do not count.
        let lm = t0() + Duration::from_millis(700);
        assert_eq!(
            evaluate_preconditions(&Method::GET, &h, None, Some(lm)),
            Precondition::NotModified
        );
        let later = t0() + Duration::from_secs(1);
        assert_eq!(
            evaluate_preconditions(&Method::GET, &h, None, Some(later)),
            Precondition::Proceed
        );
        // Only for GET and HEAD.
        assert_eq!(
            evaluate_preconditions(&Method::POST, &h, None, Some(t0())),
            Precondition::Proceed
        );
        // Ignored when If-None-Match is present (step 4 only runs without it).
        let h = headers(&[("if-modified-since", T0), ("if-none-match", "\"other\"")]);
        assert_eq!(
            evaluate_preconditions(&Method::GET, &h, Some(&tag("\"x\"")), Some(t0())),
            Precondition::Proceed
        );
    }

    #[test]
    fn bad_dates_are_ignored() {
        for value in ["yesterday", "", "Sun, 06 Nov 1994 08:49:37"] {
            let h = headers(&[("if-modified-since", value)]);
            assert_eq!(
                evaluate_preconditions(&Method::GET, &h, None, Some(t0())),
                Precondition::Proceed,
                "{value}"
            );
        }
        let h = headers(&[("if-modified-since", T1), ("if-modified-since", T1)]);
        assert_eq!(
            evaluate_preconditions(&Method::GET, &h, None, Some(t0())),
            Precondition::Proceed
        );
        // Obsolete formats still parse.
        let h = headers(&[("if-modified-since", "Sunday, 06-Nov-94 08:49:37 GMT")]);
        assert_eq!(
            evaluate_preconditions(&Method::GET, &h, None, Some(t0())),
            Precondition::NotModified
        );
    }

    #[test]
    fn if_unmodified_since() {
        let h = headers(&[("if-unmodified-since", T0)]);
        let later = t0() + Duration::from_secs(1);
        assert_eq!(
            evaluate_preconditions(&Method::PUT, &h, None, Some(later)),
            Precondition::Failed
        );
        assert_eq!(
            evaluate_preconditions(&Method::PUT, &h, None, Some(t0())),
            Precondition::Proceed
        );
        // Ignored when If-Match is present.
        let h = headers(&[("if-unmodified-since", T0), ("if-match", "*")]);
        assert_eq!(
            evaluate_preconditions(&Method::PUT, &h, Some(&tag("\"x\"")), Some(later)),
            Precondition::Proceed
        );
    }

    #[test]
    fn if_range() {
        let cur = tag("\"v1\"");
        assert!(if_range_holds(&HeaderMap::new(), Some(&cur), None));
        assert!(if_range_holds(
            &headers(&[("if-range", "\"v1\"")]),
            Some(&cur),
            None
        ));
        assert!(!if_range_holds(
            &headers(&[("if-range", "W/\"v1\"")]),
            Some(&cur),
            None
        ));
        assert!(!if_range_holds(
            &headers(&[("if-range", "\"v1\"")]),
            Some(&tag("W/\"v1\"")),
            None
        ));
        assert!(if_range_holds(
            &headers(&[("if-range", T0)]),
            None,
            Some(t0())
        ));
        assert!(!if_range_holds(
            &headers(&[("if-range", T1)]),
            None,
            Some(t0())
        ));
        assert!(!if_range_holds(
            &headers(&[("if-range", "garbage")]),
            Some(&cur),
            Some(t0())
        ));
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
