//! `wire::parse_request` on raw bytes: never panics, and `parse(write(parse(x))) == parse(x)`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate::wire::{self, Limits, Trailers};

fuzz_target!(|data: &[u8]| {
    let Ok((req, used)) = wire::parse_request(data) else {
        return;
    };
    assert!(used <= data.len());
    let bytes = wire::write_request(&req).expect("a parsed request writes");
    let (again, again_used) =
        wire::parse_request_with(&bytes, &relaxed()).expect("a written request parses");
    assert_eq!(again_used, bytes.len());
    assert_eq!(again.method(), req.method());
    assert_eq!(again.uri(), req.uri());
    assert_eq!(again.version(), req.version());
    assert_eq!(again.headers(), req.headers());
    assert_eq!(again.body(), req.body());
    assert_eq!(
        again.extensions().get::<Trailers>(),
        req.extensions().get::<Trailers>()
    );
});

/// Writing may lengthen a head a little (`name: value` with one space, an added
/// `Content-Length`), so a message right at a default limit is read back with room for that.
fn relaxed() -> Limits {
    let mut limits = Limits::default();
    limits.max_headers += 1;
    limits.max_header_section += 2 * limits.max_headers + 64;
    limits
}
