//! `cookies::parse` on a `Cookie` header: never panics, keeps at most the limit, and the
//! pairs it keeps, written back as `set_cookie` writes them (`cookies::encode_pair`), read
//! back the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate::cookies;

fuzz_target!(|data: &[u8]| {
    let Ok(header) = std::str::from_utf8(data) else {
        return;
    };
    let jar = cookies::parse(header, 20);
    assert!(jar.len() <= 20);
    let written = jar
        .iter()
        .map(|(k, v)| cookies::encode_pair(k, v))
        .collect::<Vec<_>>()
        .join("; ");
    let again = cookies::parse(&written, 20);
    assert!(again == jar, "{:?} != {:?}", again, jar);
    for pair in cookies::pairs(header).flatten() {
        assert!(!pair.0.is_empty());
    }
});
