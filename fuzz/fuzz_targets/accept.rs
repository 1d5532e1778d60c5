//! `negotiate::Accept::parse`: never panics, qualities stay within 0..=1000, and the best
//! offer is one of the offers and one the client accepts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate::negotiate::Accept;

fuzz_target!(|data: &[u8]| {
    let Ok(header) = std::str::from_utf8(data) else {
        return;
    };
    let accept = Accept::parse(header);
    let offers = [
        mime::TEXT_HTML,
        mime::APPLICATION_JSON,
        mime::TEXT_PLAIN_UTF_8,
        mime::IMAGE_PNG,
    ];
    for offer in &offers {
        assert!(accept.quality(offer) <= 1000);
    }
    if let Some(best) = accept.best(&offers) {
        assert!(offers.contains(best));
        // Only an empty (or wholly malformed) header accepts an offer of quality 0.
        assert!(accept.quality(best) > 0 || offers.iter().all(|o| accept.quality(o) == 0));
    }
});
