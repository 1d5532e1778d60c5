//! `Forwarded` and `X-Forwarded-For` parsing, and the client resolution over them: never
//! panics, and every node parsed writes back (RFC 7239 spelling) to the same node. The
//! resolution runs with trusted hops, and with trusted proxies over each header family
//! (`X-Forwarded-Host`, `-Port` and `-Prefix` read too), from a trusted, an untrusted and no peer.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};
use std::sync::OnceLock;

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
    let untrusted = Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9)));
    for config in proxy_configs() {
        for peer in [peer, untrusted, None] {
            let _ = forwarded::client_info(&headers, peer, config);
        }
    }
});

/// `Trust::Proxies` (10.0.0.0/8, 2001:db8::/32) with each `headers` setting and every
/// `X-Forwarded-*` reader on, read from TOML as a gateway file gives it.
fn proxy_configs() -> &'static [ForwardedConfig] {
    static CONFIGS: OnceLock<Vec<ForwardedConfig>> = OnceLock::new();
    CONFIGS.get_or_init(|| {
        ["x-forwarded", "forwarded", "prefer-forwarded"]
            .iter()
            .map(|headers| {
                let text = format!(
                    "trust = {{ proxies = [\"10.0.0.0/8\", \"2001:db8::/32\"] }}\n\
                     headers = \"{headers}\"\nx_host = true\nx_port = true\nx_prefix = true\n"
                );
                toml::from_str(&text).expect("a valid [forwarded] section")
            })
            .collect()
    })
}
