//! A `Set-Cookie` value through `cookies::Cookie::parse` / `parse_encoded`: never panics, and
//! a parsed cookie written back parses to the same name and value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate::cookies::Cookie;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(cookie) = Cookie::parse_encoded(value) {
        let written = cookie.encoded().to_string();
        let again = Cookie::parse_encoded(written.as_str()).expect("a written cookie parses");
        assert_eq!(again.name(), cookie.name());
        assert_eq!(again.value(), cookie.value());
    }
    let _ = Cookie::parse(value);
});
