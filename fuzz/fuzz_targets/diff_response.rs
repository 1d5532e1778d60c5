//! Differential: the same bytes to `wire::parse_response` and to hyper's HTTP/1.1 client
//! (answering `GET /`, or `HEAD /` when the first input byte is odd). Interim 1xx answers are
//! skipped, as hyper's client does. Where both read the final answer, they read the same
//! status, version, fields, body and trailers; neither reads an answer the other refuses,
//! except where `wire` is stricter on purpose (`common::intended_refusal`, docs/wire.md).
#![no_main]

mod common;

use common::{hyper_response, intended_refusal, wire_response};
use libfuzzer_sys::fuzz_target;
use tollgate::wire::{self, Limits};

fuzz_target!(|input: &[u8]| {
    let Some((&selector, data)) = input.split_first() else {
        return;
    };
    let head = selector & 1 == 1;
    let mut rest = data;
    let wire_read = loop {
        match wire::parse_response_with(rest, &Limits::default(), head) {
            Ok((res, used))
                if res.status().is_informational()
                    && res.status() != http::StatusCode::SWITCHING_PROTOCOLS =>
            {
                rest = &rest[used..];
            }
            other => break other,
        }
    };
    match (wire_read, hyper_response(data, head)) {
        (Ok((res, _)), Ok(seen)) => assert_eq!(
            wire_response(&res),
            seen,
            "wire (left) and hyper (right) disagree"
        ),
        (Ok((res, _)), Err(e)) => panic!("hyper refuses what wire reads ({res:?}): {e}"),
        (Err(e), Ok(seen)) if seen.body.is_ok() => assert!(
            intended_refusal(&e) || starts_with_empty_line(rest) || cut_chunked(&e, &seen),
            "wire refuses ({e:?}) what hyper reads: {seen:?}"
        ),
        _ => {}
    }
});

/// hyper's client skips empty lines before a status line (also after a 1xx); `wire` reads
/// none (RFC 9112 §2.2 allows skipping them before a request line only).
fn starts_with_empty_line(data: &[u8]) -> bool {
    data.starts_with(b"\r\n") || data.starts_with(b"\n")
}

/// A chunked answer cut off before its first chunk line: hyper's client reads an empty body,
/// `wire` waits for the last chunk (it is incomplete).
fn cut_chunked(e: &tollgate::wire::WireError, seen: &common::Seen) -> bool {
    e.is_incomplete()
        && seen.headers.contains_key(http::header::TRANSFER_ENCODING)
        && seen.body.as_ref().is_ok_and(|b| b.is_empty())
}
