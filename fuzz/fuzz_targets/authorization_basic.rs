//! `credentials::parse_basic` on any `Authorization` value: never panics, the user name holds
//! no `:` or control character, and parsed credentials written back parse to the same ones.
#![no_main]

use http::HeaderValue;
use libfuzzer_sys::fuzz_target;
use tollgate::credentials::{parse_basic, Credentials};

fuzz_target!(|data: &[u8]| {
    let Ok(value) = HeaderValue::from_bytes(data) else {
        return;
    };
    let Ok(creds) = parse_basic(&value) else {
        return;
    };
    assert!(!creds.username.contains(':'));
    assert!(!creds.username.chars().any(char::is_control));
    assert!(!creds.password.chars().any(char::is_control));
    let written = Credentials::new(creds.username.clone(), creds.password.clone())
        .to_header_value()
        .expect("parsed credentials write");
    let again = parse_basic(&written).expect("written credentials parse");
    assert!(again == creds, "credentials changed on the way back");
});
