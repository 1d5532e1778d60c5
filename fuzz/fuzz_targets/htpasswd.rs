//! `auth::htpasswd` on any file: never panics; a file loads exactly when `check` finds no
//! error, with one user per valid line; every valid line has a sane user name.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate::auth::htpasswd::{check, Htpasswd, HtpasswdOptions};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, text)) = data.split_first() else {
        return;
    };
    let mut options = HtpasswdOptions::default();
    options.allow_legacy_hashes = flags & 1 != 0;
    let mut valid = 0;
    let mut failed = false;
    for line in check(text, &options) {
        match line {
            Ok(line) => {
                assert!(!line.user.is_empty() && !line.user.contains(':'));
                assert!(!line.user.chars().any(char::is_control));
                assert!(line.number >= 1);
                valid += 1;
            }
            Err(_) => failed = true,
        }
    }
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    match Htpasswd::parse(text, &options) {
        Ok(file) => {
            assert!(!failed, "a file with a bad line loaded");
            assert_eq!(file.len(), valid);
        }
        Err(_) => assert!(failed, "a file without a bad line was refused"),
    }
});
