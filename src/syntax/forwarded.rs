//! The `Forwarded` (RFC 7239) and `X-Forwarded-*` vocabulary, without I/O: parsing the
//! values, the header names, and which headers belong to the forwarding family.
//!
//! Read by the [`forwarded`](crate::forwarded) layer, written by
//! [`append_next_hop`](crate::origin::append_next_hop), screened by the
//! [`inbound`](crate::inbound) layer and the proxy.
//!
//! # Example
//!
//! ```
//! use tollgate::syntax::forwarded::{parse_forwarded, Node};
//!
//! let elements = parse_forwarded(r#"for=192.0.2.60;proto=https, for="[2001:db8::1]""#).unwrap();
//! assert_eq!(elements.len(), 2);
//! assert_eq!(elements[0].proto.as_deref(), Some("https"));
//! assert_eq!(Node::parse("unknown").unwrap(), Node::Unknown);
//! ```

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use http::header::HeaderName;

use super::is_tchar;
use crate::syntax::token::{quoted_string, QuotedStringError};

/// `X-Forwarded-For`.
pub const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
/// `X-Forwarded-Proto`.
pub const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
/// `X-Forwarded-Host`.
pub const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
/// `X-Forwarded-Port`.
pub const X_FORWARDED_PORT: HeaderName = HeaderName::from_static("x-forwarded-port");
/// `X-Forwarded-Prefix`.
pub const X_FORWARDED_PREFIX: HeaderName = HeaderName::from_static("x-forwarded-prefix");

/// Whether `name` (lower case, `-` separated) is one of the headers through which proxies tell
/// the next hop about the client: `Forwarded`, every `X-Forwarded-*` (`-For`, `-Proto`,
/// `-Host`, `-Port`, `-Prefix`, `-Ssl`, `-Server`, ...), `X-Real-IP`, `X-Client-IP`,
/// `True-Client-IP`, `CF-Connecting-IP`, `X-Cluster-Client-IP`, `Fastly-Client-IP`,
/// `X-Original-Forwarded-For`, `X-ProxyUser-IP`, `Front-End-Https`, `X-Url-Scheme`,
/// `X-Original-Host`. Believed only from a trusted proxy.
///
/// ```
/// use tollgate::syntax::forwarded::is_forwarding_header;
/// assert!(is_forwarding_header("x-forwarded-ssl"));
/// assert!(is_forwarding_header("true-client-ip"));
/// assert!(!is_forwarding_header("x-request-id"));
/// ```
pub fn is_forwarding_header(name: &str) -> bool {
    name.starts_with("x-forwarded-")
        || matches!(
            name,
            "forwarded"
                | "x-real-ip"
                | "x-client-ip"
                | "true-client-ip"
                | "cf-connecting-ip"
                | "x-cluster-client-ip"
                | "fastly-client-ip"
                | "x-original-forwarded-for"
                | "x-proxyuser-ip"
                | "front-end-https"
                | "x-url-scheme"
                | "x-original-host"
        )
}

/// Whether `value` may be a `proto=` or `X-Forwarded-Proto` value: a URI scheme
/// (`ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`, RFC 3986 §3.1) of at most 32 bytes.
///
/// ```
/// use tollgate::syntax::forwarded::is_proto;
/// assert!(is_proto("https"));
/// assert!(is_proto("coap+tcp"));
/// assert!(!is_proto("1http"));
/// assert!(!is_proto("https\r\nX-Evil: 1"));
/// ```
pub fn is_proto(value: &str) -> bool {
    value
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic())
        && value.len() <= 32
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// Headers a `Connection` option may not remove: a client could otherwise strip what a
/// trusted proxy or the gateway vouches for (the Apache `mod_proxy` hop-by-hop abuse,
/// CVE-2022-31813). `Host` and credentials are end-to-end.
///
/// ```
/// use http::header::{HeaderName, HOST};
/// use tollgate::syntax::forwarded::is_protected;
/// assert!(is_protected(&HOST));
/// assert!(is_protected(&HeaderName::from_static("x-forwarded-for")));
/// assert!(!is_protected(&HeaderName::from_static("x-secret")));
/// ```
pub fn is_protected(name: &HeaderName) -> bool {
    use http::header::{AUTHORIZATION, COOKIE, HOST, VIA};
    name == HOST
        || name == AUTHORIZATION
        || name == COOKIE
        || name == VIA
        || is_forwarding_header(name.as_str())
}

/// Why a `Forwarded` or `X-Forwarded-For` value could not be parsed. The layer never answers
/// with it: the value is ignored with a `debug` log.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ForwardedError {
    /// The value breaks the RFC 7239 grammar at this byte.
    Syntax {
        /// The value (truncated).
        value: String,
        /// Byte offset of the problem.
        at: usize,
    },
    /// A quoted string is not closed.
    UnterminatedQuote {
        /// The value (truncated).
        value: String,
    },
    /// A parameter appears twice in one element.
    DuplicateParameter {
        /// The value (truncated).
        value: String,
        /// The parameter's name, lowercased.
        name: String,
    },
    /// A `for=`/`by=` value or an `X-Forwarded-For` entry that is no node.
    InvalidNode {
        /// The node (truncated).
        node: String,
    },
}

impl fmt::Display for ForwardedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ForwardedError::Syntax { value, at } => write!(
                f,
                "malformed Forwarded header {value:?} at byte {at}: expected `name=value` pairs separated by `;` and elements by `,`"
            ),
            ForwardedError::UnterminatedQuote { value } => {
                write!(f, "malformed Forwarded header {value:?}: a quoted string is not closed")
            }
            ForwardedError::DuplicateParameter { value, name } => write!(
                f,
                "malformed Forwarded header {value:?}: `{name}` appears twice in one element"
            ),
            ForwardedError::InvalidNode { node } => write!(
                f,
                "invalid node {node:?}: expected an IPv4 address, a bracketed IPv6 address, `unknown` or `_obfuscated`, optionally with `:port`"
            ),
        }
    }
}

impl std::error::Error for ForwardedError {}

/// A node of a `for=`/`by=` parameter or an `X-Forwarded-For` entry (RFC 7239 §6).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Node {
    /// An IP address, with the port when one was given (an obfuscated port is dropped).
    Ip {
        /// The address; IPv4-mapped IPv6 addresses are given as IPv4.
        addr: IpAddr,
        /// The port.
        port: Option<u16>,
    },
    /// `unknown`: the proxy did not know, or would not say, who sent the request.
    Unknown,
    /// An obfuscated identifier such as `_hidden` (RFC 7239 §6.3).
    Obfuscated(String),
}

impl Node {
    /// Parses a node: `192.0.2.1`, `192.0.2.1:8080`, `[2001:db8::1]`, `[2001:db8::1]:8080`,
    /// `unknown`, `_hidden`, `_hidden:_port`; plain `2001:db8::1` too, as `X-Forwarded-For`
    /// writes IPv6 addresses without brackets.
    ///
    /// # Errors
    ///
    /// [`ForwardedError::InvalidNode`] for anything else.
    pub fn parse(input: &str) -> Result<Node, ForwardedError> {
        let invalid = || ForwardedError::InvalidNode {
            node: super::excerpt(input, 64),
        };
        if input.is_empty() {
            return Err(invalid());
        }
        // The usual X-Forwarded-For entry, a plain IPv4 address, in one pass.
        if let Some(v4) = dotted_quad(input) {
            return Ok(Node::Ip {
                addr: IpAddr::V4(v4),
                port: None,
            });
        }
        // Unbracketed IPv6 (X-Forwarded-For style) has no port. Every IPv6 text has two
        // colons at least: the usual IPv4 entry skips this parse.
        let colons = input.bytes().filter(|&b| b == b':').count();
        if colons >= 2 {
            if let Ok(v6) = input.parse::<Ipv6Addr>() {
                return Ok(Node::Ip {
                    addr: IpAddr::V6(v6).to_canonical(),
                    port: None,
                });
            }
        }
        let (name, port) = if let Some(rest) = input.strip_prefix('[') {
            let end = rest.find(']').ok_or_else(invalid)?;
            let addr: Ipv6Addr = rest[..end].parse().map_err(|_| invalid())?;
            let after = &rest[end + 1..];
            let port = match after {
                "" => None,
                _ => Some(after.strip_prefix(':').ok_or_else(invalid)?),
            };
            let addr = IpAddr::V6(addr).to_canonical();
            return Ok(Node::Ip {
                addr,
                port: parse_port(port).ok_or_else(invalid)?,
            });
        } else {
            match input.split_once(':') {
                Some((name, port)) => (name, Some(port)),
                None => (input, None),
            }
        };
        let port = parse_port(port).ok_or_else(invalid)?;
        if name.eq_ignore_ascii_case("unknown") {
            return Ok(Node::Unknown);
        }
        if is_obfuscated(name) {
            return Ok(Node::Obfuscated(name.to_owned()));
        }
        // Only dotted-quad IPv4 here: `IpAddr` parsing would take nothing else anyway, but say so.
        match dotted_quad(name).map_or_else(|| name.parse::<Ipv4Addr>(), Ok) {
            Ok(v4) => Ok(Node::Ip {
                addr: IpAddr::V4(v4),
                port,
            }),
            Err(_) => Err(invalid()),
        }
    }

    /// The IP address, when the node is one.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Node::Ip { addr, .. } => Some(*addr),
            _ => None,
        }
    }
}

impl fmt::Display for Node {
    /// The RFC 7239 spelling, quoted when it must be: `192.0.2.1`, `"[2001:db8::1]:80"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::Ip {
                addr: IpAddr::V4(a),
                port: None,
            } => write!(f, "{a}"),
            Node::Ip {
                addr: IpAddr::V4(a),
                port: Some(p),
            } => write!(f, "\"{a}:{p}\""),
            Node::Ip {
                addr: IpAddr::V6(a),
                port: None,
            } => write!(f, "\"[{a}]\""),
            Node::Ip {
                addr: IpAddr::V6(a),
                port: Some(p),
            } => write!(f, "\"[{a}]:{p}\""),
            Node::Unknown => f.write_str("unknown"),
            Node::Obfuscated(s) => f.write_str(s),
        }
    }
}

/// `obfnode = "_" 1*( ALPHA / DIGIT / "." / "_" / "-")`.
pub(crate) fn is_obfuscated(s: &str) -> bool {
    s.len() > 1
        && s.starts_with('_')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The usual `a.b.c.d` (decimal octets, no leading zero), read in one pass; `None` for anything
/// else, which then gets the standard parser (so what is accepted does not change).
fn dotted_quad(s: &str) -> Option<Ipv4Addr> {
    let bytes = s.as_bytes();
    let mut octets = [0u8; 4];
    let mut i = 0;
    for (k, octet) in octets.iter_mut().enumerate() {
        if k > 0 {
            if bytes.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
        let start = i;
        let mut value: u16 = 0;
        while let Some(&b) = bytes.get(i).filter(|b| b.is_ascii_digit()) {
            if i - start == 3 {
                return None;
            }
            value = value * 10 + u16::from(b - b'0');
            i += 1;
        }
        if i == start || (i - start > 1 && bytes[start] == b'0') {
            return None;
        }
        *octet = u8::try_from(value).ok()?;
    }
    (i == bytes.len()).then(|| Ipv4Addr::from(octets))
}

/// `None` when malformed; `Some(None)` for no port or an obfuscated one.
fn parse_port(port: Option<&str>) -> Option<Option<u16>> {
    match port {
        None => Some(None),
        Some(p) if is_obfuscated(p) => Some(None),
        Some(p) if !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) => {
            p.parse().ok().map(Some)
        }
        Some(_) => None,
    }
}

/// One element of a `Forwarded` header: what one proxy reported.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ForwardedElement {
    /// `for=`: the node the proxy received the request from.
    pub for_node: Option<Node>,
    /// `by=`: the proxy's own interface.
    pub by: Option<Node>,
    /// `host=`: the `Host` the proxy received (unchecked here).
    pub host: Option<String>,
    /// `proto=`: the scheme the proxy received the request with (unchecked here).
    pub proto: Option<String>,
}

/// Parses one `Forwarded` header value into its elements, left to right.
///
/// Parameter names are case-insensitive, values are tokens or quoted strings, unknown
/// parameters are skipped. Two leniencies, both unambiguous: whitespace around `;` and `=` is
/// skipped, and an unquoted value may hold `:`, `[` and `]` (`for=[::1]`, which the RFC wants
/// quoted).
///
/// # Errors
///
/// A [`ForwardedError`] when the value breaks the grammar (an unterminated quote, a pair
/// without `=`, a stray character), repeats a parameter within an element, or has a
/// `for=`/`by=` that is not a [`Node`].
///
/// # Example
///
/// ```
/// use tollgate::forwarded::{parse_forwarded, Node};
///
/// let elements = parse_forwarded(r#"for=192.0.2.60;proto=http;by=203.0.113.43, for="[2001:db8:cafe::17]:4711""#).unwrap();
/// assert_eq!(elements.len(), 2);
/// assert_eq!(elements[0].proto.as_deref(), Some("http"));
/// assert_eq!(elements[1].for_node.as_ref().and_then(Node::ip), Some("2001:db8:cafe::17".parse().unwrap()));
/// ```
pub fn parse_forwarded(value: &str) -> Result<Vec<ForwardedElement>, ForwardedError> {
    let mut parser = Parser {
        input: value,
        bytes: value.as_bytes(),
        pos: 0,
    };
    let mut elements = Vec::new();
    let mut element = ForwardedElement::default();
    let mut empty = true;
    loop {
        parser.skip_ows();
        match parser.peek() {
            None => break,
            Some(b',') => {
                parser.pos += 1;
                if !empty {
                    elements.push(std::mem::take(&mut element));
                    empty = true;
                }
                continue;
            }
            Some(b';') => {
                parser.pos += 1;
                continue;
            }
            Some(_) => {}
        }
        let name = parser.token()?;
        parser.skip_ows();
        parser.expect(b'=')?;
        parser.skip_ows();
        let val = parser.value()?;
        parser.skip_ows();
        match parser.peek() {
            None | Some(b',' | b';') => {}
            Some(_) => return Err(parser.syntax()),
        }
        empty = false;
        let duplicate = || ForwardedError::DuplicateParameter {
            value: super::excerpt(value, 64),
            name: name.to_ascii_lowercase(),
        };
        match name.to_ascii_lowercase().as_str() {
            "for" if element.for_node.is_some() => return Err(duplicate()),
            "for" => element.for_node = Some(Node::parse(&val)?),
            "by" if element.by.is_some() => return Err(duplicate()),
            "by" => element.by = Some(Node::parse(&val)?),
            "host" if element.host.is_some() => return Err(duplicate()),
            "host" => element.host = Some(val),
            "proto" if element.proto.is_some() => return Err(duplicate()),
            "proto" => element.proto = Some(val),
            _ => {}
        }
    }
    if !empty {
        elements.push(element);
    }
    Ok(elements)
}

/// Splits one `X-Forwarded-For` value into its entries, left to right, each parsed as a
/// [`Node`]; empty list elements (`a,,b`) are skipped, as RFC 9110 §5.6.1 asks.
///
/// # Example
///
/// ```
/// use tollgate::forwarded::{parse_x_forwarded_for, Node};
///
/// let entries = parse_x_forwarded_for("203.0.113.7, 2001:db8::1 ,garbage, 10.0.0.1:443");
/// assert_eq!(entries.len(), 4);
/// assert!(entries[2].is_err());
/// assert_eq!(entries[3], Ok(Node::Ip { addr: "10.0.0.1".parse().unwrap(), port: Some(443) }));
/// ```
pub fn parse_x_forwarded_for(value: &str) -> Vec<Result<Node, ForwardedError>> {
    value
        .split(',')
        .map(|entry| entry.trim_matches([' ', '\t']))
        .filter(|entry| !entry.is_empty())
        .map(Node::parse)
        .collect()
}

struct Parser<'a> {
    input: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    fn syntax(&self) -> ForwardedError {
        ForwardedError::Syntax {
            value: super::excerpt(self.input, 64),
            at: self.pos,
        }
    }

    fn expect(&mut self, b: u8) -> Result<(), ForwardedError> {
        if self.peek() == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.syntax())
        }
    }

    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(&f) {
            self.pos += 1;
        }
        // Only ASCII bytes are taken, so both ends are character boundaries.
        &self.input[start..self.pos]
    }

    fn token(&mut self) -> Result<&'a str, ForwardedError> {
        let t = self.take_while(is_tchar);
        if t.is_empty() {
            return Err(self.syntax());
        }
        Ok(t)
    }

    fn value(&mut self) -> Result<String, ForwardedError> {
        if self.peek() != Some(b'"') {
            let t = self.take_while(|b| is_tchar(b) || matches!(b, b':' | b'[' | b']'));
            if t.is_empty() {
                return Err(self.syntax());
            }
            return Ok(t.to_owned());
        }
        match quoted_string(self.input, self.pos) {
            Ok((text, end)) => {
                self.pos = end;
                Ok(text)
            }
            Err(QuotedStringError::Unterminated) => Err(ForwardedError::UnterminatedQuote {
                value: super::excerpt(self.input, 64),
            }),
            Err(QuotedStringError::Invalid { at }) => {
                self.pos = at;
                Err(self.syntax())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test addresses are valid")
    }

    fn node_ip(s: &str, port: Option<u16>) -> Node {
        Node::Ip { addr: ip(s), port }
    }

    #[test]
    fn parses_nodes() {
        let cases = [
            ("192.0.2.43", node_ip("192.0.2.43", None)),
            ("192.0.2.43:47011", node_ip("192.0.2.43", Some(47011))),
            ("[2001:db8:cafe::17]", node_ip("2001:db8:cafe::17", None)),
            (
                "[2001:db8:cafe::17]:4711",
                node_ip("2001:db8:cafe::17", Some(4711)),
            ),
            ("2001:db8:cafe::17", node_ip("2001:db8:cafe::17", None)),
            ("::ffff:192.0.2.1", node_ip("192.0.2.1", None)),
            ("[::ffff:192.0.2.1]:80", node_ip("192.0.2.1", Some(80))),
            ("unknown", Node::Unknown),
            ("UNKNOWN:1234", Node::Unknown),
            ("_hidden", Node::Obfuscated("_hidden".into())),
            ("_SEVKISEK", Node::Obfuscated("_SEVKISEK".into())),
            ("192.0.2.43:_port1", node_ip("192.0.2.43", None)),
        ];
        for (input, expected) in cases {
            assert_eq!(Node::parse(input), Ok(expected), "{input}");
        }
    }

    #[test]
    fn refuses_bad_nodes() {
        for input in [
            "",
            "_",
            "example.com",
            "1.2.3",
            "1.2.3.4:",
            "1.2.3.4:99999",
            "1.2.3.4:-1",
            "[::1",
            "[::1]x",
            "[1.2.3.4]",
            "01.2.3.4",
            "_a b",
            "1.2.3.4 5",
            "[fe80::1%eth0]",
        ] {
            assert!(Node::parse(input).is_err(), "{input}");
        }
    }

    #[test]
    fn node_display_quotes_what_must_be() {
        assert_eq!(node_ip("192.0.2.1", None).to_string(), "192.0.2.1");
        assert_eq!(
            node_ip("2001:db8::1", Some(80)).to_string(),
            "\"[2001:db8::1]:80\""
        );
        assert_eq!(Node::Unknown.to_string(), "unknown");
    }

    #[test]
    fn parses_rfc_7239_examples() {
        // §4 and §7.4 examples.
        let e = parse_forwarded(r#"for="_gazonk""#).unwrap();
        assert_eq!(e[0].for_node, Some(Node::Obfuscated("_gazonk".into())));
        let e = parse_forwarded(r#"For="[2001:db8:cafe::17]:4711""#).unwrap();
        assert_eq!(
            e[0].for_node,
            Some(node_ip("2001:db8:cafe::17", Some(4711)))
        );
        let e = parse_forwarded("for=192.0.2.60;proto=http;by=203.0.113.43").unwrap();
        assert_eq!(e[0].for_node, Some(node_ip("192.0.2.60", None)));
        assert_eq!(e[0].proto.as_deref(), Some("http"));
        assert_eq!(e[0].by, Some(node_ip("203.0.113.43", None)));
        let e = parse_forwarded("for=192.0.2.43, for=198.51.100.17").unwrap();
        assert_eq!(e.len(), 2);
        let e = parse_forwarded(r#"for=192.0.2.43,for="[2001:db8:cafe::17]",for=unknown"#).unwrap();
        assert_eq!(e[2].for_node, Some(Node::Unknown));
    }

    #[test]
    fn quoted_values_unescape() {
        let e = parse_forwarded(r#"host="exa\"mple.com:8080";proto="https""#).unwrap();
        assert_eq!(e[0].host.as_deref(), Some("exa\"mple.com:8080"));
        assert_eq!(e[0].proto.as_deref(), Some("https"));
    }

    #[test]
    fn commas_inside_quotes_do_not_split() {
        let e = parse_forwarded(r#"host="a,b";for=unknown, for=_x"#).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].host.as_deref(), Some("a,b"));
    }

    #[test]
    fn lenient_where_unambiguous() {
        let e = parse_forwarded("for=[::1]:80 ; proto = https,, ;").unwrap();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].for_node, Some(node_ip("::1", Some(80))));
        assert_eq!(e[0].proto.as_deref(), Some("https"));
        let e = parse_forwarded("for=1.2.3.4;secret=x;by=_me").unwrap();
        assert_eq!(e[0].by, Some(Node::Obfuscated("_me".into())));
        assert!(parse_forwarded("").unwrap().is_empty());
    }

    #[test]
    fn refuses_broken_values() {
        for value in [
            r#"for="1.2.3.4"#,
            "for",
            "for=",
            "=1.2.3.4",
            "for=1.2.3.4 proto=http",
            "for=1.2.3.4;for=5.6.7.8",
            "for=example.com",
            "for=\"a\u{1}\"",
            "for=1.2.3.4;host=\"x\\",
            "for=\"\\\n\"",
            "for=1.2.3.4\"x\"",
        ] {
            assert!(parse_forwarded(value).is_err(), "{value:?}");
        }
    }

    #[test]
    fn parses_x_forwarded_for_lists() {
        let e = parse_x_forwarded_for(
            " 203.0.113.195, 2001:db8:85a3::8a2e:370:7334 ,, 198.51.100.178 ",
        );
        assert_eq!(
            e,
            vec![
                Ok(node_ip("203.0.113.195", None)),
                Ok(node_ip("2001:db8:85a3::8a2e:370:7334", None)),
                Ok(node_ip("198.51.100.178", None)),
            ]
        );
        assert!(parse_x_forwarded_for("").is_empty());
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn never_panics(input in "\\PC{0,80}") {
                let _ = parse_forwarded(&input);
                let _ = parse_x_forwarded_for(&input);
            }

            #[test]
            fn dotted_quad_agrees_with_std(input in "[0-9.]{0,17}", v4 in any::<[u8; 4]>()) {
                if let Some(addr) = dotted_quad(&input) {
                    prop_assert_eq!(input.parse::<Ipv4Addr>().ok(), Some(addr));
                }
                let text = Ipv4Addr::from(v4).to_string();
                prop_assert_eq!(dotted_quad(&text), Some(Ipv4Addr::from(v4)));
            }

            #[test]
            fn display_round_trips(v4 in any::<[u8; 4]>(), v6 in any::<[u16; 8]>(), port in proptest::option::of(any::<u16>())) {
                for addr in [IpAddr::from(v4), IpAddr::from(v6).to_canonical()] {
                    let node = Node::Ip { addr, port };
                    let text = node.to_string();
                    let element = parse_forwarded(&format!("for={text}")).unwrap();
                    prop_assert_eq!(element[0].for_node.as_ref(), Some(&node));
                }
            }
        }
    }
}
