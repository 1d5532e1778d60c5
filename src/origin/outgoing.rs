//! On the way out: what a proxy tells the next hop about the request it received. The one
//! writer of `Forwarded` and `X-Forwarded-*`: the proxy's
//! [`set_forwarded`](crate::proxy::next_hop::set_forwarded) uses it too.

use std::net::IpAddr;

use http::header::FORWARDED;
use http::{HeaderMap, HeaderName, HeaderValue, Request};
use serde::Deserialize;

use super::Origin;
use crate::ext::PeerAddr;
use crate::syntax::forwarded::{
    is_obfuscated, is_proto, parse_forwarded, Node, X_FORWARDED_FOR, X_FORWARDED_HOST,
    X_FORWARDED_PREFIX, X_FORWARDED_PROTO,
};

/// Which headers [`append_next_hop`] writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Outgoing {
    /// `X-Forwarded-For` (appended), `X-Forwarded-Proto`, `X-Forwarded-Host` and, when there
    /// is a prefix, `X-Forwarded-Prefix` (set): what most applications read. The default.
    #[default]
    XForwarded,
    /// One RFC 7239 `Forwarded` element, appended.
    Forwarded,
    /// Both.
    Both,
    /// Neither: the headers are left as they are (the proxy still removes untrusted incoming
    /// ones, see [`set_forwarded`](crate::proxy::next_hop::set_forwarded)).
    None,
}

/// What a proxy tells the next hop: the address it received the request from, and the scheme,
/// host and mount prefix the client used.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct NextHop {
    /// The address the request came from (the TCP peer); `None` writes `for=unknown` in
    /// `Forwarded` and nothing in `X-Forwarded-For`.
    pub peer: Option<IpAddr>,
    /// The scheme the client used (`http`, `https`).
    pub proto: Option<String>,
    /// The `Host` the client asked for.
    pub host: Option<String>,
    /// The path prefix the application is mounted under (`X-Forwarded-Prefix`, which
    /// `Forwarded` has no parameter for); `None` or `""` writes nothing. Default is `None`.
    pub prefix: Option<String>,
    /// This proxy's identifier for `by=` (an IP address or an obfuscated `_name`); `None`
    /// leaves `by=` out. Default is `None`.
    pub by: Option<String>,
}

impl NextHop {
    /// A hop for a request received from `peer`.
    pub fn new(peer: Option<IpAddr>) -> Self {
        NextHop {
            peer: peer.map(|p| p.to_canonical()),
            ..NextHop::default()
        }
    }

    /// What to tell the next hop about `req`: the peer from [`PeerAddr`]; the scheme, host and
    /// mount prefix as [`Origin`] reports them (what trusted proxies said, else the
    /// connection and the request).
    pub fn from_request<B>(req: &Request<B>) -> Self {
        let origin = Origin::of(req);
        let prefix = origin.prefix();
        NextHop::new(req.extensions().get::<PeerAddr>().map(|p| p.0.ip()))
            .proto(origin.scheme().to_owned())
            .host(origin.authority().map(str::to_owned))
            .prefix((!prefix.is_empty()).then(|| prefix.into_owned()))
    }

    /// The same hop with this scheme.
    #[must_use]
    pub fn proto(mut self, proto: impl Into<Option<String>>) -> Self {
        self.proto = proto.into();
        self
    }

    /// The same hop with this host.
    #[must_use]
    pub fn host(mut self, host: impl Into<Option<String>>) -> Self {
        self.host = host.into();
        self
    }

    /// The same hop with this mount prefix.
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<Option<String>>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The same hop with this `by=` identifier.
    #[must_use]
    pub fn by(mut self, by: impl Into<Option<String>>) -> Self {
        self.by = by.into();
        self
    }
}

/// Writes what the next hop needs to know into the headers of the request a proxy sends on.
///
/// - `X-Forwarded-For`: the peer is appended to the list received (which is merged into one
///   line, so an upstream reading only the first line still sees the whole chain);
/// - `X-Forwarded-Proto`, `X-Forwarded-Host`: set to what the client used (replacing what
///   came in; trusted values came in through [`ClientInfo`](crate::ext::ClientInfo) already);
/// - `X-Forwarded-Prefix`: set to the prefix when there is one (else left as it came);
/// - `Forwarded`: one element `for=…;host=…;proto=…[;by=…]` appended. A `Forwarded` received
///   that does not parse is dropped first: merged into one line with ours it would make ours
///   unreadable too.
///
/// Every value is checked: one that holds CR, LF, NUL or another control character, or does
/// not fit the header's syntax, is left out (with a `debug` log), never written.
///
/// # Example
///
/// ```
/// use http::HeaderMap;
/// use tollgate::forwarded::{append_next_hop, NextHop, Outgoing};
///
/// let mut headers = HeaderMap::new();
/// headers.insert("x-forwarded-for", "203.0.113.5".parse().unwrap());
/// let hop = NextHop::new(Some("2001:db8::7".parse().unwrap()))
///     .proto("https".to_owned())
///     .host("example.com".to_owned());
/// append_next_hop(&mut headers, &hop, Outgoing::Both);
/// assert_eq!(headers["x-forwarded-for"], "203.0.113.5, 2001:db8::7");
/// assert_eq!(headers["x-forwarded-proto"], "https");
/// assert_eq!(headers["forwarded"], r#"for="[2001:db8::7]";host=example.com;proto=https"#);
/// ```
pub fn append_next_hop(headers: &mut HeaderMap, hop: &NextHop, style: Outgoing) {
    append_hop(
        headers,
        &HopRef {
            peer: hop.peer,
            proto: hop.proto.as_deref(),
            host: hop.host.as_deref(),
            prefix: hop.prefix.as_deref(),
            by: hop.by.as_deref(),
        },
        style,
    );
}

/// A [`NextHop`] that borrows its text: what the proxy passes per request, without copying
/// the scheme and host it already holds.
#[derive(Debug, Default)]
pub(crate) struct HopRef<'a> {
    /// Canonical ([`IpAddr::to_canonical`]), as [`NextHop::new`] makes it.
    pub(crate) peer: Option<IpAddr>,
    pub(crate) proto: Option<&'a str>,
    pub(crate) host: Option<&'a str>,
    pub(crate) prefix: Option<&'a str>,
    pub(crate) by: Option<&'a str>,
}

/// [`append_next_hop`] for a borrowed hop.
pub(crate) fn append_hop(headers: &mut HeaderMap, hop: &HopRef<'_>, style: Outgoing) {
    let proto = hop.proto.filter(|p| is_proto(p));
    let host = hop.host.filter(|h| valid_host(h));
    if hop.proto.is_some() && proto.is_none() {
        tracing::debug!(proto = ?hop.proto, "forwarded: invalid proto not forwarded");
    }
    if hop.host.is_some() && host.is_none() {
        tracing::debug!(host = ?hop.host, "forwarded: invalid host not forwarded");
    }
    if matches!(style, Outgoing::XForwarded | Outgoing::Both) {
        if let Some(peer) = hop.peer {
            append_to_list(headers, X_FORWARDED_FOR, IpText::new(peer).as_str());
        }
        set_or_remove(headers, X_FORWARDED_PROTO, proto);
        set_or_remove(headers, X_FORWARDED_HOST, host);
        if let Some(prefix) = hop.prefix.filter(|p| !p.is_empty()) {
            match header_safe(prefix) {
                Some(value) => {
                    headers.insert(X_FORWARDED_PREFIX, value);
                }
                None => tracing::debug!(prefix, "forwarded: invalid prefix not forwarded"),
            }
        }
    }
    if matches!(style, Outgoing::Forwarded | Outgoing::Both) {
        let received = headers
            .get_all(FORWARDED)
            .iter()
            .all(|v| v.to_str().is_ok_and(|v| parse_forwarded(v).is_ok()));
        if !received {
            tracing::debug!("forwarded: dropping a malformed Forwarded header before appending");
            headers.remove(FORWARDED);
        }
        let element = element(hop, host, proto);
        append_to_list(headers, FORWARDED, &element);
    }
}

/// An address as text. IPv4, the common case, is written by hand into a buffer on the stack:
/// `Display` costs the formatting machinery and an allocation on every proxied request.
enum IpText {
    V4([u8; 15], usize),
    Other(String),
}

impl IpText {
    fn new(ip: IpAddr) -> Self {
        let IpAddr::V4(v4) = ip else {
            return IpText::Other(ip.to_string());
        };
        let (mut buf, mut n) = ([0u8; 15], 0);
        for (i, octet) in v4.octets().into_iter().enumerate() {
            if i > 0 {
                buf[n] = b'.';
                n += 1;
            }
            for (min, digit) in [(100, octet / 100), (10, octet / 10 % 10), (0, octet % 10)] {
                if octet >= min {
                    buf[n] = b'0' + digit;
                    n += 1;
                }
            }
        }
        IpText::V4(buf, n)
    }

    fn as_str(&self) -> &str {
        match self {
            // Digits and dots only.
            IpText::V4(buf, n) => std::str::from_utf8(&buf[..*n]).unwrap_or_default(),
            IpText::Other(text) => text,
        }
    }
}

fn element(hop: &HopRef<'_>, host: Option<&str>, proto: Option<&str>) -> String {
    let node = match hop.peer {
        Some(addr) => Node::Ip { addr, port: None },
        None => Node::Unknown,
    };
    let mut out = format!("for={node}");
    if let Some(host) = host {
        out.push_str(";host=");
        out.push_str(&token_or_quoted(host));
    }
    if let Some(proto) = proto {
        out.push_str(";proto=");
        out.push_str(proto);
    }
    match hop.by {
        Some(by) if is_obfuscated(by) => {
            out.push_str(";by=");
            out.push_str(by);
        }
        Some(by) => match by.parse::<IpAddr>() {
            Ok(addr) => out.push_str(&format!(";by={}", Node::Ip { addr, port: None })),
            Err(_) => tracing::debug!(by, "forwarded: invalid by= identifier not forwarded"),
        },
        None => {}
    }
    out
}

/// A host is a token when it has no port and no IPv6 brackets; else it is quoted. Hosts are
/// checked first, so there is no `"` or `\` to escape.
fn token_or_quoted(host: &str) -> String {
    if host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
    {
        host.to_owned()
    } else {
        format!("\"{host}\"")
    }
}

fn valid_host(h: &str) -> bool {
    // Whatever the host grammar accepts, in any scheme: names, IPv4, bracketed IPv6, a port.
    crate::syntax::host::normalize(h, "").is_ok()
}

/// Appends `item` to the comma-separated list `name`, merging the lines received into one
/// (also the proxy's `Via`).
pub(crate) fn append_to_list(headers: &mut HeaderMap, name: HeaderName, item: &str) {
    let mut merged: Vec<u8> = Vec::new();
    for value in headers.get_all(&name) {
        let bytes = value.as_bytes();
        if bytes.iter().all(|b| matches!(b, b' ' | b'\t' | b',')) {
            continue;
        }
        if !merged.is_empty() {
            merged.extend_from_slice(b", ");
        }
        merged.extend_from_slice(bytes);
    }
    if !merged.is_empty() {
        merged.extend_from_slice(b", ");
    }
    merged.extend_from_slice(item.as_bytes());
    match HeaderValue::from_bytes(&merged) {
        Ok(value) => {
            headers.insert(name, value);
        }
        Err(_) => {
            if let Some(value) = header_safe(item) {
                headers.append(name, value);
            }
        }
    }
}

fn set_or_remove(headers: &mut HeaderMap, name: HeaderName, value: Option<&str>) {
    match value.and_then(header_safe) {
        Some(v) => {
            headers.insert(name, v);
        }
        None => {
            headers.remove(name);
        }
    }
}

/// Whether a value may go into a header: no CR, LF, NUL or other control character but tab.
fn header_safe(value: &str) -> Option<HeaderValue> {
    if value.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        return None;
    }
    HeaderValue::from_str(value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ext::ClientInfo;
    use http::header::HOST;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test addresses are valid")
    }

    fn hop() -> NextHop {
        NextHop::new(Some(ip("203.0.113.5")))
            .proto("https".to_owned())
            .host("example.com:8443".to_owned())
    }

    #[test]
    fn addresses_are_written_as_display_writes_them() {
        for octets in [
            [0, 0, 0, 0],
            [9, 10, 99, 100],
            [127, 0, 0, 1],
            [255, 255, 255, 255],
        ] {
            let addr = IpAddr::from(octets);
            assert_eq!(IpText::new(addr).as_str(), addr.to_string());
        }
        for a in 0..=255u8 {
            let addr = IpAddr::from([a, 255 - a, a / 3, a.wrapping_mul(7)]);
            assert_eq!(IpText::new(addr).as_str(), addr.to_string());
        }
        let v6 = ip("2001:db8::1");
        assert_eq!(IpText::new(v6).as_str(), "2001:db8::1");
    }

    #[test]
    fn appends_x_forwarded_for_and_sets_the_rest() {
        let mut h = HeaderMap::new();
        h.append(X_FORWARDED_FOR, HeaderValue::from_static("1.1.1.1"));
        h.append(
            X_FORWARDED_FOR,
            HeaderValue::from_static("2.2.2.2, 3.3.3.3"),
        );
        h.insert(X_FORWARDED_PROTO, HeaderValue::from_static("gopher"));
        append_next_hop(&mut h, &hop(), Outgoing::XForwarded);
        assert_eq!(h.get_all(X_FORWARDED_FOR).iter().count(), 1);
        assert_eq!(h[X_FORWARDED_FOR], "1.1.1.1, 2.2.2.2, 3.3.3.3, 203.0.113.5");
        assert_eq!(h[X_FORWARDED_PROTO], "https");
        assert_eq!(h[X_FORWARDED_HOST], "example.com:8443");
        assert!(!h.contains_key(FORWARDED));
    }

    #[test]
    fn appends_a_forwarded_element() {
        let mut h = HeaderMap::new();
        h.insert(FORWARDED, HeaderValue::from_static("for=_client"));
        append_next_hop(&mut h, &hop().by("_gw".to_owned()), Outgoing::Forwarded);
        assert_eq!(
            h[FORWARDED],
            r#"for=_client, for=203.0.113.5;host="example.com:8443";proto=https;by=_gw"#
        );
        assert!(!h.contains_key(X_FORWARDED_FOR));
        let mut h = HeaderMap::new();
        append_next_hop(&mut h, &NextHop::new(None), Outgoing::Forwarded);
        assert_eq!(h[FORWARDED], "for=unknown");
    }

    #[test]
    fn drops_a_malformed_forwarded_before_appending() {
        let mut h = HeaderMap::new();
        h.insert(FORWARDED, HeaderValue::from_static("for=\"unterminated"));
        append_next_hop(&mut h, &hop(), Outgoing::Forwarded);
        assert!(parse_forwarded(h[FORWARDED].to_str().unwrap()).is_ok());
    }

    #[test]
    fn never_writes_control_characters() {
        let bad = NextHop::new(Some(ip("203.0.113.5")))
            .proto("https\r\nX-Evil: 1".to_owned())
            .host("example.com\r\nX-Evil: 1".to_owned())
            .by("_gw\0".to_owned());
        let mut h = HeaderMap::new();
        h.insert(X_FORWARDED_HOST, HeaderValue::from_static("stale"));
        append_next_hop(&mut h, &bad, Outgoing::Both);
        for (_, v) in &h {
            assert!(
                !v.as_bytes().iter().any(|b| matches!(b, b'\r' | b'\n' | 0)),
                "{v:?}"
            );
        }
        assert!(!h.contains_key(X_FORWARDED_PROTO));
        assert!(!h.contains_key(X_FORWARDED_HOST));
        assert_eq!(h[FORWARDED], "for=203.0.113.5");
    }

    #[test]
    fn next_hop_from_a_request() {
        let mut req = Request::get("/x")
            .header(HOST, "internal")
            .body(())
            .unwrap();
        req.extensions_mut()
            .insert(PeerAddr("[::ffff:10.0.0.2]:5000".parse().unwrap()));
        let hop = NextHop::from_request(&req);
        assert_eq!(hop.peer, Some(ip("10.0.0.2")));
        assert_eq!(hop.proto.as_deref(), Some("http"));
        assert_eq!(hop.host.as_deref(), Some("internal"));
        req.extensions_mut().insert(ClientInfo {
            scheme: Some("https".into()),
            host: Some("example.com".into()),
            ..ClientInfo::default()
        });
        let hop = NextHop::from_request(&req);
        assert_eq!(hop.proto.as_deref(), Some("https"));
        assert_eq!(hop.host.as_deref(), Some("example.com"));
    }

    #[test]
    fn writes_the_prefix_with_x_forwarded_only() {
        let with_prefix = hop().prefix("/app".to_owned());
        let mut h = HeaderMap::new();
        append_next_hop(&mut h, &with_prefix, Outgoing::XForwarded);
        assert_eq!(h[X_FORWARDED_PREFIX], "/app");
        let mut h = HeaderMap::new();
        append_next_hop(&mut h, &with_prefix, Outgoing::Forwarded);
        assert!(!h.contains_key(X_FORWARDED_PREFIX));
        // No prefix at this hop: what came in stays.
        let mut h = HeaderMap::new();
        h.insert(X_FORWARDED_PREFIX, HeaderValue::from_static("/outer"));
        append_next_hop(&mut h, &hop().prefix(String::new()), Outgoing::Both);
        assert_eq!(h[X_FORWARDED_PREFIX], "/outer");
    }

    #[test]
    fn none_writes_nothing() {
        let mut h = HeaderMap::new();
        h.insert(X_FORWARDED_FOR, HeaderValue::from_static("6.6.6.6"));
        append_next_hop(&mut h, &hop().prefix("/app".to_owned()), Outgoing::None);
        assert_eq!(h.len(), 1);
        assert_eq!(h[X_FORWARDED_FOR], "6.6.6.6");
    }
}
