//! `response::range::parse_range`: never panics; the ranges lie inside the representation,
//! sorted, merged (disjoint and not adjacent), at most the cap.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate::response::range::{parse_range, DEFAULT_MAX_RANGES};

fuzz_target!(|data: &[u8]| {
    // The first byte picks the representation's length: small ones, and the edges of u64.
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let len = match pick {
        0..=199 => u64::from(pick),
        200..=249 => 1 << (pick - 200),
        _ => u64::MAX - u64::from(255 - pick),
    };
    let Ok(header) = std::str::from_utf8(rest) else {
        return;
    };
    let Ok(ranges) = parse_range(header, len, DEFAULT_MAX_RANGES) else {
        return;
    };
    assert!(!ranges.is_empty() && ranges.len() <= DEFAULT_MAX_RANGES);
    for range in &ranges {
        assert!(range.first <= range.last, "{range:?}");
        assert!(range.last < len, "{range:?} outside {len} bytes");
        assert!(range.len() >= 1);
    }
    for pair in ranges.windows(2) {
        assert!(pair[0].last + 1 < pair[1].first, "{pair:?} not merged");
    }
});
