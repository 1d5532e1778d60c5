//! `Forwarded` and `X-Forwarded-For` parsing, and the client resolution over them: never
//! panics, and every node parsed writes back (RFC 7239 spelling) to the same node.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};

use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use tollgate::forwarded::{self, ForwardedConfig, Trust};

fuzz_target!(|data: &[u8]| {
    let Ok(value) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(elements) = forwarded::parse_forwarded(value) {
        for element in elements {
            for node in [element.for_node, element.by].into_iter().flatten() {
                let written = format!("for={node}");
                let again = forwarded::parse_forwarded(&written).expect("a written node parses");
                assert_eq!(again.len(), 1);
                assert_eq!(again[0].for_node.as_ref(), Some(&node), "{written}");
            }
        }
    }
    let _ = forwarded::parse_x_forwarded_for(value);

    let Ok(header) = HeaderValue::from_bytes(data) else {
        return;
    };
    let mut headers = HeaderMap::new();
    for name in [
        "forwarded",
        "x-forwarded-for",
        "x-forwarded-proto",
        "x-forwarded-host",
    ] {
        headers.append(name, header.clone());
    }
    let peer = Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)));
    for hops in [1, 2, 5] {
        let config = ForwardedConfig::default().trust(Trust::Hops(hops));
        let _ = forwarded::client_info(&headers, peer, &config);
    }
});
