//! Entity tags and conditional requests: `ETag::parse` round-trips through its header value;
//! `ETagList` and `evaluate_preconditions` never panic; `decide` answers 304 only to GET/HEAD
//! and partial ranges only inside the representation.
#![no_main]

use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderValue, Method, StatusCode};
use libfuzzer_sys::fuzz_target;
use tollgate::response::conditional::{decide, Decision};
use tollgate::response::etag::{if_range_holds, ETagList};
use tollgate::response::ETag;

const FIELDS: [&str; 6] = [
    "if-match",
    "if-none-match",
    "if-modified-since",
    "if-unmodified-since",
    "if-range",
    "range",
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.split('\n');
    let current = lines.next().and_then(|l| ETag::parse(l).ok());
    if let Some(tag) = &current {
        let again = ETag::parse(tag.to_header_value().to_str().expect("ASCII"))
            .expect("a written ETag parses");
        assert_eq!(&again, tag);
    }
    let mut headers = HeaderMap::new();
    for (name, line) in FIELDS.iter().zip(lines) {
        let _ = ETagList::parse(line);
        if let Ok(value) = HeaderValue::from_str(line) {
            headers.append(*name, value);
        }
    }
    let last_modified = Some(SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777));
    let _ = if_range_holds(&headers, current.as_ref(), last_modified);
    for method in [Method::GET, Method::HEAD, Method::POST, Method::PUT] {
        for len in [None, Some(0), Some(1), Some(100), Some(u64::MAX)] {
            let decision = decide(
                &(&method, &headers),
                StatusCode::OK,
                current.as_ref(),
                last_modified,
                len,
                8,
            );
            match decision {
                Decision::NotModified => assert!(method == Method::GET || method == Method::HEAD),
                Decision::Partial(ranges) => {
                    let len = len.expect("ranges need a length");
                    assert!(!ranges.is_empty() && ranges.len() <= 8);
                    assert!(ranges.iter().all(|r| r.first <= r.last && r.last < len));
                }
                Decision::Unsatisfiable(n) => assert_eq!(Some(n), len),
                _ => {}
            }
        }
    }
});
