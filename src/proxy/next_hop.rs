//! What the proxy adds for the next hop: `X-Forwarded-*` or `Forwarded` (RFC 7239), and `Via`.

use std::net::IpAddr;

use http::header::{HeaderName, HeaderValue, VIA};
use http::{HeaderMap, Version};

pub use crate::origin::Outgoing as ForwardedHeaders;
use crate::origin::{append_hop, append_to_list, HopRef};
use crate::syntax::forwarded::is_forwarding_header;

/// What this hop knows about the request it forwards.
#[derive(Debug, Clone, Copy)]
pub struct HopInfo<'a> {
    /// The address the request came from (the TCP peer).
    pub peer: Option<IpAddr>,
    /// The scheme the client used: `http` or `https`.
    pub proto: &'a str,
    /// The host the client asked for.
    pub host: Option<&'a str>,
    /// The public path prefix the upstream is mounted under (`""` when none).
    pub prefix: &'a str,
    /// Whether the incoming forwarded headers were vetted (the forwarded layer ran and found
    /// them sent by trusted proxies). Untrusted ones are removed, never extended.
    pub trusted: bool,
}

/// Replaces or extends the forwarded headers for the next hop.
///
/// Incoming `X-Forwarded-*`/`Forwarded` and the rest of the forwarding family
/// ([`is_forwarding_header`]) are dropped unless `hop.trusted`; then the one writer,
/// [`origin::append_next_hop`](crate::origin::append_next_hop), appends the peer to the chain
/// and sets `-Proto`/`-Host` to what this hop saw, and `X-Forwarded-Prefix` to the public
/// prefix when there is one. `ForwardedHeaders` is that writer's
/// [`Outgoing`](crate::origin::Outgoing).
///
/// ```
/// use http::HeaderMap;
/// use tollgate::proxy::next_hop::{set_forwarded, ForwardedHeaders, HopInfo};
///
/// let mut h = HeaderMap::new();
/// h.insert("x-forwarded-for", "6.6.6.6".parse().unwrap()); // a client's lie
/// let hop = HopInfo { peer: Some([10, 0, 0, 1].into()), proto: "https", host: Some("example.com"), prefix: "", trusted: false };
/// set_forwarded(&mut h, &hop, ForwardedHeaders::XForwarded);
/// assert_eq!(h["x-forwarded-for"], "10.0.0.1");
/// assert_eq!(h["x-forwarded-proto"], "https");
/// assert_eq!(h["x-forwarded-host"], "example.com");
/// ```
pub fn set_forwarded(headers: &mut HeaderMap, hop: &HopInfo<'_>, mode: ForwardedHeaders) {
    if !hop.trusted {
        // The whole family (`X-Real-IP`, `True-Client-IP`, ...), not only what this hop writes.
        let untrusted: Vec<HeaderName> = headers
            .keys()
            .filter(|name| is_forwarding_header(name.as_str()))
            .cloned()
            .collect();
        for name in untrusted {
            headers.remove(name);
        }
    }
    if mode == ForwardedHeaders::None {
        return;
    }
    let next = HopRef {
        peer: hop.peer.map(|p| p.to_canonical()),
        proto: Some(hop.proto),
        host: hop.host,
        prefix: (!hop.prefix.is_empty()).then_some(hop.prefix),
        by: None,
    };
    append_hop(headers, &next, mode);
}

/// The `Via` entry for a message received with `version`: `1.1 tollgate`, `2 tollgate`.
pub fn via_entry(version: Version, pseudonym: &str) -> Option<HeaderValue> {
    let protocol = match version {
        Version::HTTP_09 => "0.9",
        Version::HTTP_10 => "1.0",
        Version::HTTP_2 => "2",
        Version::HTTP_3 => "3",
        _ => "1.1",
    };
    HeaderValue::from_str(&format!("{protocol} {pseudonym}")).ok()
}

/// Appends this hop to `Via` (RFC 9110 §7.6.3).
pub fn append_via(headers: &mut HeaderMap, entry: HeaderValue) {
    match entry.to_str() {
        Ok(text) if headers.contains_key(VIA) => append_to_list(headers, VIA, text),
        _ => {
            headers.insert(VIA, entry);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hop(trusted: bool) -> HopInfo<'static> {
        HopInfo {
            peer: Some("192.0.2.7".parse().unwrap()),
            proto: "http",
            host: Some("public.example:8080"),
            prefix: "/app",
            trusted,
        }
    }

    #[test]
    fn untrusted_incoming_headers_are_replaced() {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", "6.6.6.6".parse().unwrap());
        h.insert("x-forwarded-host", "evil".parse().unwrap());
        h.insert("forwarded", "for=6.6.6.6".parse().unwrap());
        set_forwarded(&mut h, &hop(false), ForwardedHeaders::XForwarded);
        assert_eq!(h["x-forwarded-for"], "192.0.2.7");
        assert_eq!(h["x-forwarded-host"], "public.example:8080");
        assert_eq!(h["x-forwarded-proto"], "http");
        assert_eq!(h["x-forwarded-prefix"], "/app");
        assert!(!h.contains_key("forwarded"));
    }

    #[test]
    fn trusted_chain_is_extended() {
        let mut h = HeaderMap::new();
        h.append("x-forwarded-for", "1.1.1.1".parse().unwrap());
        h.append("x-forwarded-for", "2.2.2.2, 3.3.3.3".parse().unwrap());
        set_forwarded(&mut h, &hop(true), ForwardedHeaders::Both);
        assert_eq!(h["x-forwarded-for"], "1.1.1.1, 2.2.2.2, 3.3.3.3, 192.0.2.7");
        assert_eq!(
            h["forwarded"],
            "for=192.0.2.7;host=\"public.example:8080\";proto=http"
        );
    }

    #[test]
    fn forwarded_quotes_ipv6() {
        let mut h = HeaderMap::new();
        let mut info = hop(false);
        info.peer = Some("2001:db8::1".parse().unwrap());
        info.host = Some("a.example");
        set_forwarded(&mut h, &info, ForwardedHeaders::Forwarded);
        assert_eq!(
            h["forwarded"],
            "for=\"[2001:db8::1]\";host=a.example;proto=http"
        );
        assert!(!h.contains_key("x-forwarded-for"));
    }

    #[test]
    fn via_appends() {
        let mut h = HeaderMap::new();
        append_via(&mut h, via_entry(Version::HTTP_11, "tollgate").unwrap());
        assert_eq!(h["via"], "1.1 tollgate");
        append_via(&mut h, via_entry(Version::HTTP_2, "edge").unwrap());
        assert_eq!(h["via"], "1.1 tollgate, 2 edge");
    }
}
