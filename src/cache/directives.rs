//! What `http-cache-semantics` leaves to the cache: RFC 5861's `stale-while-revalidate` and
//! `stale-if-error`, the effective URL of a request, and RFC 9211's `Cache-Status` values.

use http::header::CACHE_CONTROL;
use http::HeaderMap;

/// The seconds of a `Cache-Control` directive `name=N` of the stored answer, if present.
pub(crate) fn seconds(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers
        .get_all(CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|d| d.trim().split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.trim().trim_matches('"').parse().ok())
}

/// Whether `directive` of the answer allows serving it `stale_for` seconds past its
/// freshness (`must-revalidate` and `no-cache` forbid it).
pub(crate) fn allows_stale(headers: &HeaderMap, directive: &str, stale_for: u64) -> bool {
    let forbidden = headers
        .get_all(CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|d| {
            d.trim()
                .split('=')
                .next()
                .unwrap_or("")
                .to_ascii_lowercase()
        })
        .any(|d| d == "must-revalidate" || d == "proxy-revalidate" || d == "no-cache");
    !forbidden && seconds(headers, directive).is_some_and(|allowed| stale_for <= allowed)
}

/// How an answer was given, for `Cache-Status` (RFC 9211), the metrics
/// ([`CacheOutcome`](crate::ext::CacheOutcome)) and logs.
pub(crate) fn status_value(outcome: crate::ext::CacheOutcome, detail: Option<&str>) -> String {
    use crate::ext::CacheOutcome as O;
    let base = match outcome {
        O::Hit { ttl } => format!("tollgate; hit; ttl={ttl}"),
        O::Miss { stored: true } => "tollgate; fwd=miss; stored".to_owned(),
        O::Miss { stored: false } => "tollgate; fwd=miss".to_owned(),
        O::Revalidated => "tollgate; fwd=stale; fwd-status=304; stored".to_owned(),
        O::Stale { status: 0 } => "tollgate; hit; fwd=stale".to_owned(),
        O::Stale { status } => format!("tollgate; hit; fwd=stale; fwd-status={status}"),
        O::Bypass => "tollgate; fwd=bypass".to_owned(),
    };
    match detail {
        Some(detail) => format!("{base}; detail={detail}"),
        None => base,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cc(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(CACHE_CONTROL, value.parse().unwrap());
        h
    }

    #[test]
    fn stale_allowances() {
        let h = cc("max-age=1, stale-if-error=60, stale-while-revalidate=\"5\"");
        assert!(allows_stale(&h, "stale-if-error", 60));
        assert!(!allows_stale(&h, "stale-if-error", 61));
        assert!(allows_stale(&h, "stale-while-revalidate", 5));
        assert!(!allows_stale(&cc("max-age=1"), "stale-if-error", 0));
        assert!(!allows_stale(
            &cc("max-age=1, must-revalidate, stale-if-error=60"),
            "stale-if-error",
            1
        ));
    }

    #[test]
    fn status_values() {
        use crate::ext::CacheOutcome as O;
        assert_eq!(
            status_value(O::Hit { ttl: 9 }, None),
            "tollgate; hit; ttl=9"
        );
        assert_eq!(
            status_value(O::Miss { stored: false }, Some("too-large")),
            "tollgate; fwd=miss; detail=too-large"
        );
        assert_eq!(
            status_value(O::Stale { status: 502 }, None),
            "tollgate; hit; fwd=stale; fwd-status=502"
        );
    }
}
