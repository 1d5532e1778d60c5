//! The streaming multipart reader, with a fixed and a fuzzed boundary and any chunking:
//! never panics, and the fields never yield more bytes than the body gave. Also
//! `parse_boundary` on the same bytes as a content type, and `safe_filename` on every file
//! name.
#![no_main]

use std::convert::Infallible;

use bytes::Bytes;
use http::HeaderValue;
use libfuzzer_sys::fuzz_target;
use tollgate::form::{parse_boundary, safe_filename, FormLimits, Multipart};
use tollgate::fuzz::block_on;

fn check_filename(untrusted: &str) {
    let safe = safe_filename(untrusted);
    assert!(!safe.is_empty() && safe.len() <= 255, "{safe:?}");
    assert!(!safe.contains(['/', '\\', '\0']), "{safe:?}");
    assert!(!safe.contains("..") && !safe.starts_with('.'), "{safe:?}");
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let limits = FormLimits::new()
        .max_parts(64)
        .max_field_size(64 * 1024)
        .max_file_size(64 * 1024)
        .max_memory(256 * 1024);
    if let Ok(content_type) = HeaderValue::from_bytes(rest) {
        let _ = parse_boundary(&content_type, &limits);
    }
    // Bit 0: fixed boundary, or the first line of the input. Bits 1..: chunk size.
    let (boundary, body) = if control & 1 == 0 {
        ("X-TOLLGATE-BOUNDARY".to_string(), rest)
    } else {
        let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        let boundary = String::from_utf8_lossy(&rest[..end]).into_owned();
        (boundary, rest.get(end + 1..).unwrap_or_default())
    };
    let chunk_size = usize::from(control >> 1) + 1;
    let chunks: Vec<Result<Bytes, Infallible>> = body
        .chunks(chunk_size)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let Ok(mut multipart) =
        Multipart::with_boundary(futures_util::stream::iter(chunks), &boundary, &limits)
    else {
        return;
    };
    block_on(async {
        let mut total = 0usize;
        while let Ok(Some(mut field)) = multipart.next_field().await {
            let _ = field.name();
            if let Some(name) = field.file_name() {
                check_filename(name);
            }
            while let Ok(Some(chunk)) = field.chunk().await {
                total += chunk.len();
                assert!(
                    total <= body.len(),
                    "{total} bytes out of a {} byte body",
                    body.len()
                );
            }
        }
    });
    if let Ok(text) = std::str::from_utf8(rest) {
        check_filename(text);
    }
});
