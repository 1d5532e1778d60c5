//! `cookies::parse` on a `Cookie` header: never panics, keeps at most the limit, and the
//! pairs it keeps, written back as `name=value; ...`, read back the same.
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
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    let again = cookies::parse(&written, 20);
    assert!(again == jar, "{:?} != {:?}", again, jar);
    for pair in cookies::pairs(header).flatten() {
        assert!(!pair.0.is_empty());
    }
});
