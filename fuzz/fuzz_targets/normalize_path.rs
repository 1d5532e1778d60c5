//! `normalize::path` (and `query`, `host`) on any input: never panics, normalizing is
//! idempotent, and a normalized path starts at the root and never climbs above it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate::normalize::{self, PathOptions, QueryOptions, TrailingSlash};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let Ok(input) = std::str::from_utf8(rest) else {
        return;
    };
    let trailing = [
        TrailingSlash::Keep,
        TrailingSlash::Strip,
        TrailingSlash::Add,
    ];
    let options = PathOptions::default()
        .merge_slashes(flags & 1 != 0)
        .allow_encoded_slash(flags & 2 != 0)
        .allow_backslash(flags & 4 != 0)
        .trailing_slash(trailing[usize::from(flags >> 3) % 3]);

    if let Ok(once) = normalize::path(input, &options) {
        assert!(once.starts_with('/'), "{once:?} is not rooted");
        for segment in once.split('/') {
            assert!(
                segment != "." && segment != "..",
                "{once:?} keeps a dot segment"
            );
        }
        let twice = normalize::path(&once, &options).expect("a normalized path normalizes");
        assert_eq!(once, twice, "normalizing is not idempotent");
    }

    let query_options = QueryOptions::default()
        .sort(flags & 1 != 0)
        .drop_empty(flags & 2 != 0);
    if let Ok(once) = normalize::query(input, &query_options) {
        let twice = normalize::query(&once, &query_options).expect("a normalized query normalizes");
        assert_eq!(once, twice, "query normalizing is not idempotent");
    }

    let scheme = if flags & 16 != 0 { "https" } else { "http" };
    if let Ok(once) = normalize::host(input, scheme) {
        let twice = normalize::host(&once, scheme).expect("a normalized host normalizes");
        assert_eq!(once, twice, "host normalizing is not idempotent");
    }
});
