//! The precondition headers (RFC 9110 §13.1, §13.2): `If-Match`, `If-Unmodified-Since`,
//! `If-None-Match`, `If-Modified-Since` in the RFC's order, and `If-Range`. Pure functions, no
//! I/O.
//!
//! # Example
//!
//! ```
//! use http::{HeaderMap, Method};
//! use tollgate::response::etag::ETag;
//! use tollgate::response::precondition::{evaluate_preconditions, Precondition};
//!
//! let current = ETag::strong("v2").unwrap();
//! let mut headers = HeaderMap::new();
//! headers.insert("if-none-match", "W/\"v1\", \"v2\"".parse().unwrap());
//! let outcome = evaluate_preconditions(&Method::GET, &headers, Some(&current), None);
//! assert_eq!(outcome, Precondition::NotModified);
//! ```

use std::time::SystemTime;

use http::header::{IF_MATCH, IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_RANGE, IF_UNMODIFIED_SINCE};
use http::{HeaderMap, Method};

use super::date::{parse_http_date, single_date, truncate_to_seconds};
use super::etag::{ETag, ETagList};

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
    use std::time::Duration;

    use http::header::HeaderName;
    use http::HeaderValue;

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
}
