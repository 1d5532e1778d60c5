//! `MultiMap::parse_query`: never panics, stays within its pair limit, and re-encoding the
//! pairs parses back to the same pairs.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate::MultiMap;

fuzz_target!(|data: &[u8]| {
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(args) = MultiMap::parse_query(query, 100) else {
        return;
    };
    assert!(args.len() <= 100);
    let mut encoder = form_urlencoded::Serializer::new(String::new());
    for (k, v) in args.iter() {
        encoder.append_pair(k, v);
    }
    let again = MultiMap::parse_query(&encoder.finish(), 100).expect("re-encoded pairs parse");
    assert!(again == args, "{:?} != {:?}", again, args);
});
