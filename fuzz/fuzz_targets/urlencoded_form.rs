//! `MultiMap::parse_urlencoded` on raw body bytes: never panics, stays within its pair
//! limit, and re-encoding the pairs parses back to the same pairs.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate::MultiMap;

fuzz_target!(|data: &[u8]| {
    let Ok(form) = MultiMap::parse_urlencoded(data, 1000) else {
        return;
    };
    assert!(form.len() <= 1000);
    let mut encoder = form_urlencoded::Serializer::new(String::new());
    for (k, v) in form.iter() {
        encoder.append_pair(k, v);
    }
    let again = MultiMap::parse_urlencoded(encoder.finish().as_bytes(), 1000)
        .expect("re-encoded pairs parse");
    assert!(again == form, "{:?} != {:?}", again, form);
});
