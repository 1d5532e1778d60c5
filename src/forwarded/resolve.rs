//! Deciding what trusted proxies said about the client: the pure function behind the layer.

use std::net::IpAddr;

use http::header::{GetAll, HeaderName, FORWARDED, HOST};
use http::{HeaderMap, HeaderValue};

use super::{ForwardedConfig, Headers};
use crate::ext::ClientInfo;
use crate::origin::Trust;
use crate::syntax::forwarded::{
    is_proto, parse_forwarded, ForwardedElement, ForwardedError, Node, X_FORWARDED_FOR,
    X_FORWARDED_HOST, X_FORWARDED_PORT, X_FORWARDED_PREFIX, X_FORWARDED_PROTO,
};
use crate::syntax::host;
use crate::syntax::path::{path, PathOptions, TrailingSlash};

/// What the trusted proxies in front of us reported about the client of this request.
///
/// `headers` are the request's headers, `peer` the address of the TCP peer (the nearest proxy;
/// [`PeerAddr`](crate::ext::PeerAddr) in a request's extensions). Nothing is trusted unless
/// `config` says so: with [`Trust::Proxies`] the peer must be in a trusted network; with
/// [`Trust::Hops`] the peer is assumed to be the last of that many proxies. Walking the
/// chain from the right, the client is the right-most entry not written by a trusted proxy
/// (never the left-most one, which the client itself may have written: Werkzeug#290).
///
/// Malformed values are skipped with a `debug` log: the request goes on without what they
/// would have said. Fields not reported stay `None`.
///
/// # Example
///
/// ```
/// use http::HeaderMap;
/// use tollgate::forwarded::{client_info, ForwardedConfig, Trust};
///
/// let mut headers = HeaderMap::new();
/// // The client wrote the first entry itself; our proxy (10.0.0.2) appended the second.
/// headers.insert("x-forwarded-for", "1.1.1.1, 203.0.113.9".parse().unwrap());
/// headers.insert("x-forwarded-proto", "https".parse().unwrap());
///
/// let config = ForwardedConfig::default().trust(Trust::Proxies(vec!["10.0.0.0/8".parse().unwrap()]));
/// let info = client_info(&headers, Some("10.0.0.2".parse().unwrap()), &config);
/// assert_eq!(info.addr, Some("203.0.113.9".parse().unwrap()));
/// assert_eq!(info.scheme.as_deref(), Some("https"));
///
/// // The same headers from a peer we do not trust say nothing.
/// let info = client_info(&headers, Some("198.51.100.1".parse().unwrap()), &config);
/// assert_eq!(info.addr, None);
/// ```
pub fn client_info(
    headers: &HeaderMap,
    peer: Option<IpAddr>,
    config: &ForwardedConfig,
) -> ClientInfo {
    let peer = peer.map(|p| p.to_canonical());
    match &config.trust {
        Trust::Hops(0) => return ClientInfo::default(),
        Trust::Hops(_) => {}
        Trust::Proxies(nets) => match peer {
            Some(p) if nets.iter().any(|n| n.contains(&p)) => {}
            Some(p) => {
                log::untrusted_peer(p);
                return ClientInfo::default();
            }
            None => {
                log::no_peer();
                return ClientInfo::default();
            }
        },
    }
    let use_forwarded = match config.headers {
        Headers::Forwarded => true,
        Headers::XForwarded => false,
        Headers::PreferForwarded => headers.contains_key(FORWARDED),
    };
    let mut info = ClientInfo::default();
    let depth = if use_forwarded {
        from_forwarded(headers, config, &mut info)
    } else {
        from_x_forwarded(headers, config, &mut info)
    };
    if config.x_prefix {
        if let Some(depth) = depth {
            info.prefix = pick(headers, &X_FORWARDED_PREFIX, depth).and_then(prefix);
        }
    }
    info
}

/// The trust decision for one entry of the chain, walking right to left.
fn trusted(node: Option<&Node>, trust: &Trust) -> bool {
    match (trust, node.and_then(Node::ip)) {
        (Trust::Proxies(nets), Some(ip)) => nets.iter().any(|n| n.contains(&ip)),
        _ => false,
    }
}

/// Walks a chain from the right (`entries` yields it right to left) to the client's entry;
/// returns how many entries from the right it is, and the entry, or `None` when the chain does
/// not allow an answer. A walk past an entry that is not `usable` stops: who wrote it, and
/// what it hides, is unknown.
fn select<T>(
    entries: impl Iterator<Item = T>,
    trust: &Trust,
    usable: impl Fn(&T) -> bool,
    is_trusted: impl Fn(&T) -> bool,
) -> Option<(usize, T)> {
    match trust {
        Trust::Hops(n) => {
            let mut seen = 0;
            for entry in entries {
                seen += 1;
                if !usable(&entry) {
                    log::ignored("malformed entry within the trusted hops");
                    return None;
                }
                if seen == *n {
                    return Some((seen, entry));
                }
            }
            log::fewer_entries_than_hops(seen, *n);
            None
        }
        Trust::Proxies(_) => {
            let mut depth = 0;
            let mut leftmost = None;
            for entry in entries {
                depth += 1;
                if !usable(&entry) {
                    log::ignored("malformed entry before an untrusted one");
                    return None;
                }
                if !is_trusted(&entry) {
                    return Some((depth, entry));
                }
                leftmost = Some(entry);
            }
            // Every entry is a trusted proxy: the left-most one is the client.
            leftmost.map(|entry| (depth, entry))
        }
    }
}

/// Reads `Forwarded`; returns the depth of the client's element, for `X-Forwarded-Prefix`.
#[inline(never)]
fn from_forwarded(
    headers: &HeaderMap,
    config: &ForwardedConfig,
    info: &mut ClientInfo,
) -> Option<usize> {
    // One slot per element; a line that does not parse is one `None` slot, so the walk stops
    // there: how many elements it held, and who wrote them, is unknown.
    let mut chain: Vec<Option<ForwardedElement>> = Vec::new();
    for value in headers.get_all(FORWARDED) {
        match value
            .to_str()
            .map_err(|_| ())
            .and_then(|v| parse_forwarded(v).map_err(|e| log::malformed("Forwarded header", &e)))
        {
            Ok(elements) => chain.extend(elements.into_iter().map(Some)),
            Err(()) => chain.push(None),
        }
    }
    let (depth, element) = select(
        chain.into_iter().rev(),
        &config.trust,
        Option::is_some,
        |e| trusted(e.as_ref().and_then(|e| e.for_node.as_ref()), &config.trust),
    )?;
    let element = element?;
    if let Some(Node::Ip { addr, port }) = &element.for_node {
        info.addr = Some(*addr);
        info.port = *port;
    }
    info.scheme = element.proto.as_deref().and_then(scheme);
    let scheme_for_host = info.scheme.as_deref().unwrap_or("http");
    info.host = element
        .host
        .as_deref()
        .and_then(|h| normal_host(h, scheme_for_host));
    Some(depth)
}

/// The entries of every `X-Forwarded-For` line, right to left, trimmed, empty ones skipped; a
/// line that is not visible ASCII is one unreadable (`None`) entry. Nothing is allocated.
fn x_forwarded_for_rev<'h>(
    lines: &GetAll<'h, HeaderValue>,
) -> impl Iterator<Item = Option<&'h str>> + 'h {
    lines.iter().rev().flat_map(|line| {
        let text = line.to_str().ok();
        let unreadable = text.is_none().then_some(None);
        list_rev(text.unwrap_or_default())
            .map(Some)
            .chain(unreadable)
    })
}

/// The items of a comma-separated list, right to left, trimmed, empty ones skipped.
fn list_rev(value: &str) -> ListRev<'_> {
    ListRev { rest: Some(value) }
}

/// [`list_rev`]'s iterator: byte searches on the short values these headers hold.
struct ListRev<'a> {
    rest: Option<&'a str>,
}

impl<'a> Iterator for ListRev<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        loop {
            let rest = self.rest?;
            let item = match rest.bytes().rposition(|b| b == b',') {
                Some(comma) => {
                    self.rest = Some(&rest[..comma]);
                    &rest[comma + 1..]
                }
                None => {
                    self.rest = None;
                    rest
                }
            };
            let item = item.trim_matches(|c| c == ' ' || c == '\t');
            if !item.is_empty() {
                return Some(item);
            }
        }
    }
}

/// Reads `X-Forwarded-*`; returns the depth of the client's entry.
fn from_x_forwarded(
    headers: &HeaderMap,
    config: &ForwardedConfig,
    info: &mut ClientInfo,
) -> Option<usize> {
    let lines = headers.get_all(X_FORWARDED_FOR);
    let mut entries = x_forwarded_for_rev(&lines).peekable();
    let depth = if entries.peek().is_none() {
        // No X-Forwarded-For: the peer (trusted) wrote the other headers itself.
        match config.trust {
            Trust::Hops(n) => n,
            Trust::Proxies(_) => 1,
        }
    } else {
        // Entries are parsed as the walk reaches them: only the trusted hops and the client's.
        let entries = entries.map(|entry| {
            let node = match entry {
                Some(entry) => Node::parse(entry),
                None => Err(ForwardedError::InvalidNode {
                    node: "(not ASCII)".into(),
                }),
            };
            if let Err(e) = &node {
                log::malformed("X-Forwarded-For entry", e);
            }
            node
        });
        let (depth, client) = select(
            entries,
            &config.trust,
            // An unparseable entry in hops mode is still one entry: commas cannot be quoted.
            |node| matches!(config.trust, Trust::Hops(_)) || node.is_ok(),
            |node| trusted(node.as_ref().ok(), &config.trust),
        )?;
        if let (true, Ok(Node::Ip { addr, port })) = (config.x_for, client) {
            info.addr = Some(addr);
            info.port = port;
        }
        depth
    };
    if config.x_proto {
        info.scheme = pick(headers, &X_FORWARDED_PROTO, depth).and_then(scheme);
    }
    let scheme_for_host = info.scheme.as_deref().unwrap_or("http");
    let mut reported_host = None;
    if config.x_host {
        reported_host =
            pick(headers, &X_FORWARDED_HOST, depth).and_then(|h| normal_host(h, scheme_for_host));
    }
    if config.x_port {
        if let Some(port) =
            pick(headers, &X_FORWARDED_PORT, depth).and_then(|p| p.parse::<u16>().ok())
        {
            let base = reported_host
                .as_deref()
                .or_else(|| headers.get(HOST).and_then(|h| h.to_str().ok()));
            reported_host = base.and_then(|b| with_port(b, port, scheme_for_host));
        }
    }
    info.host = reported_host;
    Some(depth)
}

/// The value of a comma-separated `X-Forwarded-*` header written at `depth` from the right.
///
/// When the header has fewer values than `depth`, some trusted proxy set it instead of
/// appending, so every value left was written by a trusted proxy: the left-most is taken.
fn pick<'h>(headers: &'h HeaderMap, name: &HeaderName, depth: usize) -> Option<&'h str> {
    let mut leftmost = None;
    let values = headers
        .get_all(name)
        .iter()
        .rev()
        .filter_map(|v| v.to_str().ok())
        .flat_map(list_rev);
    for (i, value) in values.enumerate() {
        if i + 1 == depth {
            return Some(value);
        }
        leftmost = Some(value);
    }
    leftmost
}

/// `scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`, lowercased.
fn scheme(value: &str) -> Option<String> {
    let ok = is_proto(value);
    if !ok {
        log::malformed_proto(value);
    }
    ok.then(|| value.to_ascii_lowercase())
}

#[inline(never)]
fn normal_host(value: &str, scheme: &str) -> Option<String> {
    match host::normalize(value, scheme) {
        Ok(h) => Some(h.into_owned()),
        Err(e) => {
            log::malformed("host", &e);
            None
        }
    }
}

#[inline(never)]
fn with_port(host_value: &str, port: u16, scheme: &str) -> Option<String> {
    // A value that is no `host[:port]` is passed whole, for `normalize` to refuse and log.
    let name = host::split_host_port(host_value).map_or(host_value, |(name, _)| name);
    normal_host(&format!("{name}:{port}"), scheme)
}

#[inline(never)]
fn prefix(value: &str) -> Option<String> {
    let options = PathOptions::default().trailing_slash(TrailingSlash::Strip);
    match path(value, &options) {
        Ok(p) if p != "/" => Some(p.into_owned()),
        Ok(_) => None,
        Err(e) => {
            log::malformed("X-Forwarded-Prefix", &e);
            None
        }
    }
}

/// The debug logs of the walk: out of line, as they are off and their callers hot.
mod log {
    use std::fmt::Display;
    use std::net::IpAddr;

    #[cold]
    #[inline(never)]
    pub(super) fn untrusted_peer(peer: IpAddr) {
        tracing::trace!(peer = %peer, "forwarded: peer is not a trusted proxy");
    }

    #[cold]
    #[inline(never)]
    pub(super) fn no_peer() {
        tracing::debug!("forwarded: no PeerAddr in the request; trusting nothing");
    }

    #[cold]
    #[inline(never)]
    pub(super) fn ignored(reason: &'static str) {
        tracing::debug!("forwarded: {reason}; ignored");
    }

    #[cold]
    #[inline(never)]
    pub(super) fn fewer_entries_than_hops(entries: usize, hops: usize) {
        tracing::debug!(
            entries,
            hops,
            "forwarded: fewer entries than trusted hops; ignored"
        );
    }

    #[cold]
    #[inline(never)]
    pub(super) fn malformed(what: &'static str, error: &dyn Display) {
        tracing::debug!(error = %error, "forwarded: malformed {what}; ignored");
    }

    #[cold]
    #[inline(never)]
    pub(super) fn malformed_proto(value: &str) {
        tracing::debug!(value, "forwarded: malformed proto; ignored");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forwarded::{ForwardedConfig, Headers, Trust};

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test addresses are valid")
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).expect("test names are valid"),
                HeaderValue::from_str(v).expect("test values are valid"),
            );
        }
        h
    }

    fn proxies(nets: &[&str]) -> ForwardedConfig {
        ForwardedConfig::default().trust(Trust::Proxies(
            nets.iter()
                .map(|n| n.parse().expect("test networks are valid"))
                .collect(),
        ))
    }

    fn hops(n: usize) -> ForwardedConfig {
        ForwardedConfig::default().trust(Trust::Hops(n))
    }

    const PROXY: &str = "10.0.0.2";

    fn addr(h: &[(&str, &str)], peer: &str, config: &ForwardedConfig) -> Option<IpAddr> {
        client_info(&headers(h), Some(ip(peer)), config).addr
    }

    // Werkzeug's ProxyFix tests, x_for cases.
    #[test]
    fn one_hop_takes_the_last_entry() {
        let h = [("x-forwarded-for", "192.168.0.1")];
        assert_eq!(addr(&h, PROXY, &hops(1)), Some(ip("192.168.0.1")));
    }

    #[test]
    fn spoofed_first_entry_is_ignored() {
        // Werkzeug#290: the client sent `X-Forwarded-For: 1.1.1.1`, our proxy appended the
        // real address.
        let h = [("x-forwarded-for", "1.1.1.1, 203.0.113.5")];
        assert_eq!(addr(&h, PROXY, &hops(1)), Some(ip("203.0.113.5")));
        assert_eq!(
            addr(&h, PROXY, &proxies(&["10.0.0.0/8"])),
            Some(ip("203.0.113.5"))
        );
    }

    #[test]
    fn several_proxies_by_count() {
        let h = [("x-forwarded-for", "1.1.1.1, 203.0.113.5, 10.0.0.7")];
        assert_eq!(addr(&h, PROXY, &hops(2)), Some(ip("203.0.113.5")));
        assert_eq!(addr(&h, PROXY, &hops(3)), Some(ip("1.1.1.1")));
        // Fewer entries than hops: the header is not what the configuration expects.
        assert_eq!(addr(&h, PROXY, &hops(4)), None);
        assert_eq!(addr(&h, PROXY, &hops(0)), None);
    }

    #[test]
    fn several_proxies_by_network() {
        let config = proxies(&["10.0.0.0/8", "192.168.0.0/16"]);
        let h = [(
            "x-forwarded-for",
            "1.1.1.1, 203.0.113.5, 192.168.1.1, 10.0.0.7",
        )];
        assert_eq!(addr(&h, PROXY, &config), Some(ip("203.0.113.5")));
        // Several header lines are one list.
        let h = [
            ("x-forwarded-for", "1.1.1.1, 203.0.113.5"),
            ("x-forwarded-for", "10.0.0.7"),
        ];
        assert_eq!(addr(&h, PROXY, &config), Some(ip("203.0.113.5")));
        // All trusted: the left-most is the client (an internal caller).
        let h = [("x-forwarded-for", "10.1.1.1, 10.0.0.7")];
        assert_eq!(addr(&h, PROXY, &config), Some(ip("10.1.1.1")));
    }

    #[test]
    fn untrusted_peer_says_nothing() {
        let h = [
            ("x-forwarded-for", "1.1.1.1"),
            ("x-forwarded-proto", "https"),
        ];
        let info = client_info(
            &headers(&h),
            Some(ip("203.0.113.9")),
            &proxies(&["10.0.0.0/8"]),
        );
        assert_eq!(info, ClientInfo::default());
        let info = client_info(&headers(&h), None, &proxies(&["10.0.0.0/8"]));
        assert_eq!(info, ClientInfo::default());
    }

    #[test]
    fn malformed_entries_are_ignored_not_trusted() {
        let config = proxies(&["10.0.0.0/8"]);
        // The walk meets garbage before an untrusted address: no answer.
        let h = [("x-forwarded-for", "1.1.1.1, garbage, 10.0.0.7")];
        assert_eq!(addr(&h, PROXY, &config), None);
        // Garbage left of the client is harmless.
        let h = [("x-forwarded-for", "garbage, 203.0.113.5, 10.0.0.7")];
        assert_eq!(addr(&h, PROXY, &config), Some(ip("203.0.113.5")));
        // By count, garbage at the client's position gives no address.
        let h = [("x-forwarded-for", "1.1.1.1, <script>")];
        assert_eq!(addr(&h, PROXY, &hops(1)), None);
        assert_eq!(addr(&h, PROXY, &hops(2)), Some(ip("1.1.1.1")));
    }

    #[test]
    fn ipv6_and_ports() {
        let config = proxies(&["10.0.0.0/8", "fd00::/8"]);
        let h = [("x-forwarded-for", "[2001:db8::1]:4711, fd00::2")];
        let info = client_info(&headers(&h), Some(ip("fd00::1")), &config);
        assert_eq!(info.addr, Some(ip("2001:db8::1")));
        assert_eq!(info.port, Some(4711));
        // An IPv4-mapped peer from a dual-stack listener is its IPv4 address.
        let h = [("x-forwarded-for", "2001:db8::1")];
        assert_eq!(
            addr(&h, "::ffff:10.0.0.2", &config),
            Some(ip("2001:db8::1"))
        );
    }

    #[test]
    fn proto_host_port_prefix_by_werkzeug_defaults() {
        let h = [
            ("host", "internal:8080"),
            ("x-forwarded-for", "203.0.113.5"),
            ("x-forwarded-proto", "HTTPS"),
            ("x-forwarded-host", "example.com"),
            ("x-forwarded-port", "8443"),
            ("x-forwarded-prefix", "/app/"),
        ];
        let info = client_info(&headers(&h), Some(ip(PROXY)), &hops(1));
        assert_eq!(info.scheme.as_deref(), Some("https"));
        // Host, port and prefix are off by default, as in Werkzeug.
        assert_eq!((info.host, info.prefix), (None, None));
        let all = hops(1).x_host(true).x_port(true).x_prefix(true);
        let info = client_info(&headers(&h), Some(ip(PROXY)), &all);
        assert_eq!(info.host.as_deref(), Some("example.com:8443"));
        assert_eq!(info.prefix.as_deref(), Some("/app"));
        // X-Forwarded-Port alone changes the Host's port; the default one disappears.
        let h = [
            ("host", "example.com:8080"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-port", "443"),
        ];
        let info = client_info(&headers(&h), Some(ip(PROXY)), &hops(1).x_port(true));
        assert_eq!(info.host.as_deref(), Some("example.com"));
    }

    #[test]
    fn other_headers_follow_the_client_depth() {
        let config = proxies(&["10.0.0.0/8"]).x_host(true);
        // Two trusted proxies, each appending: the outer one's values are the client's.
        let h = [
            ("x-forwarded-for", "6.6.6.6, 203.0.113.5, 10.0.0.7"),
            ("x-forwarded-proto", "gopher, https, http"),
            ("x-forwarded-host", "evil.example, example.com, internal"),
        ];
        let info = client_info(&headers(&h), Some(ip(PROXY)), &config);
        assert_eq!(info.scheme.as_deref(), Some("https"));
        assert_eq!(info.host.as_deref(), Some("example.com"));
        // Proxies that set rather than append: the one value is a trusted one.
        let h = [
            ("x-forwarded-for", "203.0.113.5, 10.0.0.7"),
            ("x-forwarded-proto", "https"),
        ];
        let info = client_info(&headers(&h), Some(ip(PROXY)), &config);
        assert_eq!(info.scheme.as_deref(), Some("https"));
    }

    #[test]
    fn malformed_other_headers_are_ignored() {
        let h = [
            ("x-forwarded-for", "203.0.113.5"),
            ("x-forwarded-proto", "ht tp"),
            ("x-forwarded-host", "a b"),
            ("x-forwarded-port", "http"),
            ("x-forwarded-prefix", "/../x"),
        ];
        let config = hops(1).x_host(true).x_port(true).x_prefix(true);
        let info = client_info(&headers(&h), Some(ip(PROXY)), &config);
        assert_eq!(info.addr, Some(ip("203.0.113.5")));
        assert_eq!((info.scheme, info.host, info.prefix), (None, None, None));
    }

    #[test]
    fn forwarded_header_by_count_and_network() {
        let h = [(
            "forwarded",
            r#"for=6.6.6.6;host=evil.example, for="[2001:db8:cafe::17]:4711";proto=https;host=example.com, for=10.0.0.7;proto=http"#,
        )];
        let config = proxies(&["10.0.0.0/8"]).headers(Headers::Forwarded);
        let info = client_info(&headers(&h), Some(ip(PROXY)), &config);
        assert_eq!(info.addr, Some(ip("2001:db8:cafe::17")));
        assert_eq!(info.port, Some(4711));
        assert_eq!(info.scheme.as_deref(), Some("https"));
        assert_eq!(info.host.as_deref(), Some("example.com"));
        let info = client_info(
            &headers(&h),
            Some(ip(PROXY)),
            &hops(2).headers(Headers::Forwarded),
        );
        assert_eq!(info.addr, Some(ip("2001:db8:cafe::17")));
        let info = client_info(
            &headers(&h),
            Some(ip(PROXY)),
            &hops(1).headers(Headers::Forwarded),
        );
        assert_eq!(info.addr, Some(ip("10.0.0.7")));
        assert_eq!(info.scheme.as_deref(), Some("http"));
    }

    #[test]
    fn forwarded_obfuscated_and_unknown_clients() {
        let config = proxies(&["10.0.0.0/8"]).headers(Headers::Forwarded);
        for client in ["_hidden", "unknown"] {
            let h = [(
                "forwarded",
                format!("for={client};proto=https, for=10.0.0.7"),
            )];
            let h: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let info = client_info(&headers(&h), Some(ip(PROXY)), &config);
            // The client's hop is found; its address is not given, the rest of its element is.
            assert_eq!(info.addr, None, "{client}");
            assert_eq!(info.scheme.as_deref(), Some("https"), "{client}");
        }
        // An obfuscated proxy is not a trusted network: the walk stops there.
        let h = [("forwarded", "for=203.0.113.5, for=_proxy, for=10.0.0.7")];
        assert_eq!(
            client_info(&headers(&h), Some(ip(PROXY)), &config).addr,
            None
        );
    }

    #[test]
    fn malformed_forwarded_line_stops_the_walk() {
        let config = proxies(&["10.0.0.0/8"]).headers(Headers::Forwarded);
        // The client's own line is broken, our proxy's line is fine and untrusted-first.
        let h = [
            ("forwarded", "for=\"broken"),
            ("forwarded", "for=203.0.113.5, for=10.0.0.7"),
        ];
        assert_eq!(addr(&h, PROXY, &config), Some(ip("203.0.113.5")));
        // A proxy that concatenated into one line: the unterminated quote swallows the rest.
        let h = [("forwarded", "for=\"broken, for=203.0.113.5")];
        assert_eq!(addr(&h, PROXY, &config), None);
    }

    #[test]
    fn precedence_between_forwarded_and_x_forwarded() {
        let h = [
            ("forwarded", "for=198.51.100.1;proto=https"),
            ("x-forwarded-for", "203.0.113.5"),
            ("x-forwarded-proto", "http"),
        ];
        let peer = Some(ip(PROXY));
        // Default: X-Forwarded-* only, whatever `Forwarded` says.
        let info = client_info(&headers(&h), peer, &hops(1));
        assert_eq!(
            (info.addr, info.scheme.as_deref()),
            (Some(ip("203.0.113.5")), Some("http"))
        );
        let info = client_info(&headers(&h), peer, &hops(1).headers(Headers::Forwarded));
        assert_eq!(
            (info.addr, info.scheme.as_deref()),
            (Some(ip("198.51.100.1")), Some("https"))
        );
        // PreferForwarded: `Forwarded` when present, the whole of it, no mixing...
        let config = hops(1).headers(Headers::PreferForwarded);
        let info = client_info(&headers(&h), peer, &config);
        assert_eq!(
            (info.addr, info.scheme.as_deref()),
            (Some(ip("198.51.100.1")), Some("https"))
        );
        // ... and no falling back when it is malformed (or a client could pick the header).
        let broken = [("forwarded", "for=\"x"), h[1], h[2]];
        assert_eq!(client_info(&headers(&broken), peer, &config).addr, None);
        // X-Forwarded-* when `Forwarded` is absent.
        assert_eq!(
            client_info(&headers(&h[1..]), peer, &config).addr,
            Some(ip("203.0.113.5"))
        );
    }

    #[test]
    fn spoofing_through_the_header_the_proxy_does_not_manage() {
        // The proxy appends X-Forwarded-For and passes a client's `Forwarded` through untouched:
        // under the default (X-Forwarded-* only) the forged `Forwarded` is never read.
        let h = [
            ("forwarded", "for=1.1.1.1"),
            ("x-forwarded-for", "203.0.113.5"),
        ];
        assert_eq!(
            addr(&h, PROXY, &proxies(&["10.0.0.0/8"])),
            Some(ip("203.0.113.5"))
        );
    }

    #[test]
    fn prefix_from_forwarded_mode_uses_the_same_depth() {
        let h = [
            ("forwarded", "for=203.0.113.5"),
            ("x-forwarded-prefix", "/api//v1/"),
        ];
        let config = hops(1).headers(Headers::Forwarded).x_prefix(true);
        let info = client_info(&headers(&h), Some(ip(PROXY)), &config);
        assert_eq!(info.prefix.as_deref(), Some("/api/v1"));
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn entry() -> impl Strategy<Value = String> {
            prop_oneof![
                any::<[u8; 4]>().prop_map(|a| IpAddr::from(a).to_string()),
                Just("10.0.0.9".to_owned()),
                Just("unknown".to_owned()),
                Just("_x".to_owned()),
                "[ -~]{0,8}",
            ]
        }

        proptest! {
            /// Whatever a client prepends, the address chosen is at or right of the entry our
            /// trusted proxy appended.
            #[test]
            fn client_cannot_choose_the_address(forged in proptest::collection::vec(entry(), 0..6), real in any::<[u8; 4]>()) {
                let real = IpAddr::from(real);
                prop_assume!(!"10.0.0.0/8".parse::<ipnet::IpNet>().unwrap().contains(&real));
                let mut chain = forged.join(", ");
                chain.push_str(&format!(", {real}"));
                let Ok(value) = HeaderValue::from_str(&chain) else { return Ok(()) };
                let mut h = HeaderMap::new();
                h.insert(X_FORWARDED_FOR, value);
                for config in [hops(1), proxies(&["10.0.0.0/8"])] {
                    prop_assert_eq!(client_info(&h, Some(ip(PROXY)), &config).addr, Some(real));
                }
            }

            #[test]
            fn never_panics(xff in "[ -~]{0,40}", fwd in "[ -~]{0,40}", proto in "[ -~]{0,10}", n in 0usize..4) {
                let mut h = HeaderMap::new();
                for (name, v) in [(X_FORWARDED_FOR, &xff), (FORWARDED, &fwd), (X_FORWARDED_PROTO, &proto), (X_FORWARDED_PREFIX, &proto)] {
                    if let Ok(v) = HeaderValue::from_str(v) { h.insert(name, v); }
                }
                for headers_mode in [Headers::XForwarded, Headers::Forwarded, Headers::PreferForwarded] {
                    let c = hops(n).headers(headers_mode).x_host(true).x_port(true).x_prefix(true);
                    let _ = client_info(&h, Some(ip(PROXY)), &c);
                }
            }
        }
    }

    #[test]
    fn what_we_write_the_next_hop_reads() {
        // Two tollgate proxies in a row: the second one's output, read by a third trusting both.
        let mut h = HeaderMap::new();
        h.insert(X_FORWARDED_FOR, HeaderValue::from_static("6.6.6.6"));
        h.insert(FORWARDED, HeaderValue::from_static("for=6.6.6.6"));
        crate::origin::append_next_hop(
            &mut h,
            &crate::origin::NextHop::new(Some(ip("203.0.113.5")))
                .proto("https".to_owned())
                .host("example.com:8443".to_owned()),
            crate::origin::Outgoing::Both,
        );
        crate::origin::append_next_hop(
            &mut h,
            &crate::origin::NextHop::new(Some(ip("10.0.0.7"))).proto("http".to_owned()),
            crate::origin::Outgoing::Both,
        );
        let trust = Trust::Proxies(vec!["10.0.0.0/8".parse().unwrap()]);
        for headers in [Headers::XForwarded, Headers::Forwarded] {
            let config = ForwardedConfig::default()
                .trust(trust.clone())
                .headers(headers);
            let info = client_info(&h, Some(ip("10.0.0.8")), &config);
            assert_eq!(info.addr, Some(ip("203.0.113.5")), "{headers:?}");
        }
    }
}
