//! Differential: the same bytes to `wire::parse_request` (one request after the other) and to
//! hyper's HTTP/1.1 server. Where both read a request, they read the same method, target,
//! version, fields, body and trailers; neither reads a request the other refuses, except
//! where `wire` is stricter on purpose (`common::intended_refusal`, docs/wire.md); and both
//! see the same number of requests (no leftover read as a second request by one of them).
#![no_main]

mod common;

use common::{closes, hyper_requests, intended_refusal, wire_request};
use libfuzzer_sys::fuzz_target;
use tollgate::wire::{self, WireError};

fuzz_target!(|data: &[u8]| {
    let mut wire_seen = Vec::new();
    let mut rest = data;
    let mut stop = None;
    while let Some(next) = (!rest.is_empty()).then(|| wire::parse_request(rest)) {
        match next {
            Ok((req, used)) => {
                wire_seen.push(wire_request(&req));
                rest = &rest[used..];
                if closes(&req) {
                    break;
                }
            }
            Err(e) => {
                stop = Some(e);
                break;
            }
        }
    }
    let hyper_seen = hyper_requests(data);
    for (i, (w, h)) in wire_seen.iter().zip(&hyper_seen).enumerate() {
        assert_eq!(w, h, "request {i}: wire (left) and hyper (right) disagree");
    }
    if wire_seen.len() > hyper_seen.len() {
        panic!(
            "wire reads {} requests, hyper {}: hyper refused {:?}",
            wire_seen.len(),
            hyper_seen.len(),
            wire_seen[hyper_seen.len()]
        );
    }
    if let Some(extra) = hyper_seen.get(wire_seen.len()) {
        if extra.body.is_err() {
            return; // hyper refused it too, at the body
        }
        match &stop {
            Some(e) if intended_refusal(e) => {}
            Some(WireError::Incomplete) if only_empty_lines(rest) => {}
            other => panic!(
                "hyper reads request {} ({extra:?}), wire stops with {other:?}",
                wire_seen.len()
            ),
        }
    }
});

fn only_empty_lines(rest: &[u8]) -> bool {
    rest.iter().all(|&b| b == b'\r' || b == b'\n')
}
