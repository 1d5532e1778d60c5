//! Hop-by-hop header surgery (RFC 9110 §7.6.1, RFC 9112 §9.6): what one connection says about
//! itself never crosses to the next one.

use http::header::{
    HeaderName, HeaderValue, CONNECTION, CONTENT_LENGTH, PROXY_AUTHENTICATE, PROXY_AUTHORIZATION,
    TE, TRAILER, TRANSFER_ENCODING, UPGRADE,
};
use http::HeaderMap;

use crate::syntax::forwarded::is_protected;

static KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
static PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");
static HTTP2_SETTINGS: HeaderName = HeaderName::from_static("http2-settings");

/// What the surgery found that the caller needs.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct HopByHop {
    /// The `Upgrade` header, when `Connection` listed `upgrade` and upgrades were allowed.
    pub upgrade: Option<HeaderValue>,
    /// Whether the message carried `TE: trailers` (kept: it says trailers are welcome).
    pub te_trailers: bool,
    /// Whether `Connection` listed `close`.
    pub close: bool,
}

/// Removes every hop-by-hop header from `headers`: `Connection` and each header it names,
/// `Keep-Alive`, `Proxy-Connection`, `TE` (a plain `TE: trailers` is put back), `Transfer-Encoding`
/// and `Content-Length` (framing is regenerated for the next hop), `Upgrade`, `HTTP2-Settings`,
/// `Proxy-Authorization` and `Proxy-Authenticate`.
///
/// When `allow_upgrade` is set and `Connection` lists `upgrade`, the `Upgrade` value is
/// returned (and removed: the caller puts it back with `Connection: upgrade` on the next hop).
///
/// ```
/// use http::HeaderMap;
/// use tollgate::proxy::hop::remove_hop_by_hop;
///
/// let mut h = HeaderMap::new();
/// h.insert("connection", "close, X-Foo".parse().unwrap());
/// h.insert("x-foo", "1".parse().unwrap());
/// h.insert("x-bar", "2".parse().unwrap());
/// let found = remove_hop_by_hop(&mut h, false);
/// assert!(found.close);
/// assert_eq!(h.len(), 1);
/// assert!(h.contains_key("x-bar"));
/// ```
pub fn remove_hop_by_hop(headers: &mut HeaderMap, allow_upgrade: bool) -> HopByHop {
    let mut found = HopByHop::default();
    // One pass over the names present instead of a hashed lookup per hop-by-hop name: most
    // messages carry none of them, or only `Content-Length`.
    let fixed: [&HeaderName; 7] = [
        &KEEP_ALIVE,
        &PROXY_CONNECTION,
        &HTTP2_SETTINGS,
        &TRANSFER_ENCODING,
        &CONTENT_LENGTH,
        &PROXY_AUTHORIZATION,
        &PROXY_AUTHENTICATE,
    ];
    let (mut connection, mut te, mut upgrade_present, mut present) = (false, false, false, 0u8);
    for name in headers.keys() {
        if name == CONNECTION {
            connection = true;
        } else if name == TE {
            te = true;
        } else if name == UPGRADE {
            upgrade_present = true;
        } else if let Some(i) = fixed.iter().position(|h| *h == name) {
            present |= 1 << i;
        }
    }
    let mut connection_upgrade = false;
    if !connection {
        // Nothing named in a Connection header to look for.
    } else if let http::header::Entry::Occupied(entry) = headers.entry(CONNECTION) {
        let (_, values) = entry.remove_entry_mult();
        // Collected first: the map cannot be changed while `values` borrows it.
        let mut named: Vec<HeaderName> = Vec::new();
        for value in values {
            let Ok(text) = value.to_str() else { continue };
            for token in text.split(',') {
                let token = token.trim();
                if token.eq_ignore_ascii_case("close") {
                    found.close = true;
                } else if token.eq_ignore_ascii_case("upgrade") {
                    connection_upgrade = true;
                } else if let Ok(name) = HeaderName::from_bytes(token.as_bytes()) {
                    if !is_protected(&name) {
                        named.push(name);
                    }
                }
            }
        }
        for name in named {
            headers.remove(name);
        }
    }
    if !te {
        // No TE header.
    } else if let http::header::Entry::Occupied(entry) = headers.entry(TE) {
        let (_, values) = entry.remove_entry_mult();
        found.te_trailers = values.into_iter().any(|v| {
            v.to_str().is_ok_and(|v| {
                v.split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case("trailers"))
            })
        });
    }
    if upgrade_present {
        let upgrade = headers.remove(UPGRADE);
        if allow_upgrade && connection_upgrade {
            found.upgrade = upgrade;
        }
    }
    for (i, name) in fixed.into_iter().enumerate() {
        if present & (1 << i) != 0 {
            headers.remove(name);
        }
    }
    if found.te_trailers {
        headers.insert(TE, HeaderValue::from_static("trailers"));
    }
    found
}

/// Whether a message declares trailers (`Trailer` header): hyper only sends the trailer fields
/// a message declared, so the declaration must travel with it.
pub fn declares_trailers(headers: &HeaderMap) -> bool {
    headers.contains_key(TRAILER)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn names(h: &HeaderMap) -> Vec<&str> {
        let mut v: Vec<&str> = h.keys().map(HeaderName::as_str).collect();
        v.sort_unstable();
        v
    }

    #[test]
    fn removes_the_fixed_list() {
        let mut h = map(&[
            ("keep-alive", "timeout=5"),
            ("proxy-connection", "keep-alive"),
            ("transfer-encoding", "chunked"),
            ("content-length", "5"),
            ("proxy-authorization", "Basic eDp5"),
            ("proxy-authenticate", "Basic"),
            ("http2-settings", "AAMAAABkAAQAAP__"),
            ("upgrade", "websocket"),
            ("te", "gzip"),
            ("x-keep", "1"),
        ]);
        let found = remove_hop_by_hop(&mut h, true);
        assert_eq!(names(&h), ["x-keep"]);
        assert_eq!(
            found,
            HopByHop::default(),
            "no Connection: upgrade, no upgrade"
        );
    }

    #[test]
    fn removes_headers_named_in_connection() {
        let mut h = map(&[
            ("connection", "close, X-Foo"),
            ("connection", "x-bar"),
            ("x-foo", "1"),
            ("x-bar", "2"),
            ("x-baz", "3"),
        ]);
        let found = remove_hop_by_hop(&mut h, false);
        assert!(found.close);
        assert_eq!(names(&h), ["x-baz"]);
    }

    #[test]
    fn connection_cannot_remove_protected_headers() {
        let mut h = map(&[
            (
                "connection",
                "Host, Authorization, X-Forwarded-For, Forwarded, Cookie",
            ),
            ("host", "a"),
            ("authorization", "Basic eDp5"),
            ("x-forwarded-for", "1.2.3.4"),
            ("forwarded", "for=1.2.3.4"),
            ("cookie", "a=b"),
        ]);
        remove_hop_by_hop(&mut h, false);
        assert_eq!(h.len(), 5);
    }

    #[test]
    fn keeps_te_trailers_only() {
        let mut h = map(&[("te", "trailers, deflate")]);
        let found = remove_hop_by_hop(&mut h, false);
        assert!(found.te_trailers);
        assert_eq!(h["te"], "trailers");
        let mut h = map(&[("te", "deflate")]);
        assert!(!remove_hop_by_hop(&mut h, false).te_trailers);
        assert!(h.is_empty());
    }

    #[test]
    fn returns_upgrade_only_when_connection_says_so_and_allowed() {
        let pairs = [("connection", "Upgrade"), ("upgrade", "websocket")];
        let mut h = map(&pairs);
        assert_eq!(
            remove_hop_by_hop(&mut h, true).upgrade.unwrap(),
            "websocket"
        );
        assert!(h.is_empty());
        let mut h = map(&pairs);
        assert_eq!(remove_hop_by_hop(&mut h, false).upgrade, None);
        let mut h = map(&[("upgrade", "websocket")]);
        assert_eq!(remove_hop_by_hop(&mut h, true).upgrade, None);
    }

    #[test]
    fn ignores_garbage_connection_tokens() {
        let mut h = map(&[("connection", "  , ,bad name, \"q\""), ("x-a", "1")]);
        remove_hop_by_hop(&mut h, false);
        assert_eq!(names(&h), ["x-a"]);
    }
}
