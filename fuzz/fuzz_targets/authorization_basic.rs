//! The `Authorization` parsers on any value: `credentials::parse_basic` never panics, the user
//! name holds no `:` or control character, and parsed credentials written back parse to the
//! same ones; `parse_authorization` agrees with `parse_basic` on Basic and with
//! `bearer_token` on Bearer, and every Digest parameter it returns can be looked up.
#![no_main]

use http::HeaderValue;
use libfuzzer_sys::fuzz_target;
use tollgate::credentials::{
    bearer_token, parse_authorization, parse_basic, Authorization, Credentials,
};

fuzz_target!(|data: &[u8]| {
    let Ok(value) = HeaderValue::from_bytes(data) else {
        return;
    };
    match parse_authorization(&value) {
        Ok(Authorization::Basic(creds)) => {
            assert!(
                parse_basic(&value).is_ok_and(|c| c == creds),
                "Basic read two ways"
            );
        }
        Ok(Authorization::Bearer(token)) => {
            assert_eq!(
                bearer_token(&value),
                Some(token.as_str()),
                "Bearer read two ways"
            );
        }
        Ok(digest @ Authorization::Digest(_)) => {
            if let Authorization::Digest(params) = &digest {
                for (name, _) in params {
                    assert!(digest.digest_param(name).is_some(), "{name}");
                }
            }
        }
        Ok(_) | Err(_) => {}
    }
    if let Some(token) = bearer_token(&value) {
        assert!(!token.is_empty() && token.bytes().all(|b| b.is_ascii_graphic()));
    }
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
