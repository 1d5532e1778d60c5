//! Differential at the head level: `wire::parse_request` / `parse_response` against a plain
//! `httparse` parse of the same bytes (the first input byte picks request or response). A head
//! `wire` reads, `httparse` reads completely and the same way (method, target, version,
//! status, fields with optional whitespace trimmed); a head `httparse` reads, `wire` refuses
//! only where it is stricter on purpose (`common::intended_refusal`, docs/wire.md) or for its
//! framing and body rules, which `httparse` does not know.
#![no_main]

mod common;

use common::intended_refusal;
use libfuzzer_sys::fuzz_target;
use tollgate::wire::{self, WireError};

fuzz_target!(|input: &[u8]| {
    let Some((&selector, data)) = input.split_first() else {
        return;
    };
    let mut slots = [httparse::EMPTY_HEADER; 128];
    if selector & 1 == 0 {
        let mut parsed = httparse::Request::new(&mut slots);
        let status = parsed.parse(data);
        match (wire::parse_request(data), status) {
            (Ok((req, _)), Ok(httparse::Status::Complete(_))) => {
                assert_eq!(Some(req.method().as_str()), parsed.method);
                let target: http::Uri = parsed.path.unwrap().parse().unwrap();
                assert_eq!(req.uri(), &target);
                assert_eq!(Some(minor(req.version())), parsed.version);
                same_fields(req.headers(), parsed.headers);
            }
            (Ok(_), other) => panic!("wire reads a request, httparse says {other:?}"),
            (Err(_), Ok(httparse::Status::Complete(n))) => {
                if let Err(e) = wire::parse_request(&data[..n]) {
                    check_refusal(&e);
                }
            }
            (Err(_), _) => {}
        }
    } else {
        let mut parsed = httparse::Response::new(&mut slots);
        let status = parsed.parse(data);
        match (wire::parse_response(data), status) {
            (Ok((res, _)), Ok(httparse::Status::Complete(_))) => {
                assert_eq!(Some(res.status().as_u16()), parsed.code);
                assert_eq!(Some(minor(res.version())), parsed.version);
                same_fields(res.headers(), parsed.headers);
            }
            (Ok(_), other) => panic!("wire reads a response, httparse says {other:?}"),
            // `httparse` reads any three digits; status codes start at 100 (RFC 9110 §15).
            (Err(_), Ok(httparse::Status::Complete(_))) if parsed.code < Some(100) => {}
            (Err(_), Ok(httparse::Status::Complete(n))) if data.starts_with(b"\r\n") => {
                assert!(wire::parse_response(&data[..n]).is_err());
            }
            (Err(_), Ok(httparse::Status::Complete(n))) => {
                if let Err(e) = wire::parse_response(&data[..n]) {
                    check_refusal(&e);
                }
            }
            (Err(_), _) => {}
        }
    }
});

fn minor(version: http::Version) -> u8 {
    u8::from(version == http::Version::HTTP_11)
}

fn same_fields(map: &http::HeaderMap, fields: &[httparse::Header<'_>]) {
    let ours: Vec<(&str, &[u8])> = map
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_bytes()))
        .collect();
    let theirs: Vec<(String, &[u8])> = fields
        .iter()
        .map(|f| (f.name.to_ascii_lowercase(), f.value.trim_ascii()))
        .collect();
    let mut theirs: Vec<(&str, &[u8])> = theirs.iter().map(|(n, v)| (n.as_str(), *v)).collect();
    let mut ours = ours;
    ours.sort();
    theirs.sort();
    assert_eq!(ours, theirs, "fields: wire (left), httparse (right)");
}

/// A head `httparse` reads completely (`e` is what `wire` says of that head alone): `wire`
/// refuses it on purpose, or for framing, or it waits for the body.
fn check_refusal(e: &WireError) {
    let head_level = matches!(
        e,
        WireError::InvalidStartLine { .. }
            | WireError::UnsupportedVersion { .. }
            | WireError::InvalidMethod { .. }
            | WireError::InvalidStatus { .. }
            | WireError::MissingColon { .. }
            | WireError::InvalidHeaderName { .. }
            | WireError::InvalidHeaderValue { .. }
    );
    assert!(
        !head_level || intended_refusal(e),
        "httparse reads a head wire refuses: {e:?}"
    );
}
