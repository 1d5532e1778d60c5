//! `negotiate`: `Accept`, `Accept-Language`, `Accept-Encoding` and `Accept-Charset` never
//! panic, qualities stay within 0..=1000, and the best offer is one of the offers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate::negotiate::{Accept, AcceptCharset, AcceptEncoding, AcceptLanguage};

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
    }

    let languages = AcceptLanguage::parse(header);
    let tags = ["en", "en-US", "de", "fr-CA"];
    for tag in tags {
        assert!(languages.quality(tag) <= 1000);
    }
    if let Some(best) = languages.best(&tags) {
        assert!(tags.contains(&best));
    }

    let encodings = AcceptEncoding::parse(header);
    let codings = ["gzip", "br", "zstd", "identity"];
    for coding in codings {
        assert!(encodings.quality(coding) <= 1000);
    }
    if let Some(best) = encodings.best(&codings) {
        assert!(codings.contains(&best));
    }

    let charsets = AcceptCharset::parse(header);
    assert!(charsets.quality("utf-8") <= 1000);
});
