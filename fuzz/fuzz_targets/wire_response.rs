//! `wire::parse_response` on raw bytes: never panics, and a parsed response writes and reads
//! back equal (a close-delimited one gains a `Content-Length`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate::wire::{self, Limits, Trailers};

fuzz_target!(|data: &[u8]| {
    let Ok((res, used)) = wire::parse_response(data) else {
        return;
    };
    assert!(used <= data.len());
    let bytes = wire::write_response(&res).expect("a parsed response writes");
    let (again, again_used) =
        wire::parse_response_with(&bytes, &relaxed(), false).expect("a written response parses");
    assert_eq!(again_used, bytes.len());
    assert_eq!(again.status(), res.status());
    assert_eq!(again.version(), res.version());
    assert_eq!(again.body(), res.body());
    assert_eq!(
        again.extensions().get::<Trailers>(),
        res.extensions().get::<Trailers>()
    );
    let framed = res.headers().contains_key("content-length")
        || res.headers().contains_key("transfer-encoding");
    let mut headers = again.headers().clone();
    if !framed {
        headers.remove("content-length");
    }
    assert_eq!(&headers, res.headers());
    let _ = wire::parse_response_to_head(data);
});

/// Writing may lengthen a head a little (`name: value` with one space, an added
/// `Content-Length`), so a message right at a default limit is read back with room for that.
fn relaxed() -> Limits {
    let mut limits = Limits::default();
    limits.max_headers += 1;
    limits.max_header_section += 2 * limits.max_headers + 64;
    limits
}
