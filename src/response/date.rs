//! HTTP dates (RFC 9110 §5.6.7): parsed in all three historic forms, written as IMF-fixdate,
//! compared at a one-second resolution.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::HeaderName;
use http::HeaderMap;

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
pub(crate) fn single_date(headers: &HeaderMap, name: &HeaderName) -> Option<SystemTime> {
    let mut fields = headers.get_all(name).iter();
    let first = fields.next()?;
    if fields.next().is_some() {
        return None;
    }
    parse_http_date(first.to_str().ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_at_second_resolution() {
        let t = parse_http_date(" Sun, 06 Nov 1994 08:49:37 GMT ").expect("date");
        assert_eq!(fmt_http_date(t), "Sun, 06 Nov 1994 08:49:37 GMT");
        let later = t + Duration::from_millis(900);
        assert_eq!(truncate_to_seconds(later), t);
        assert_eq!(parse_http_date("Sunday"), None);
    }

    #[test]
    fn a_repeated_date_field_is_ignored() {
        let mut h = HeaderMap::new();
        let name = HeaderName::from_static("if-modified-since");
        h.append(
            &name,
            "Sun, 06 Nov 1994 08:49:37 GMT".parse().expect("value"),
        );
        assert!(single_date(&h, &name).is_some());
        h.append(
            &name,
            "Sun, 06 Nov 1994 08:49:37 GMT".parse().expect("value"),
        );
        assert_eq!(single_date(&h, &name), None);
    }
}
