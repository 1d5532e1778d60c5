//! Who sent a request, and to where: the client's scheme, host, port, address and mount prefix
//! ([`Origin`]), whom to believe about them ([`Trust`]), and what a proxy tells the next hop
//! ([`append_next_hop`]).
//!
//! Every part of tollgate that asks "which host did the client ask for?" asks [`Origin`]:
//! [`Request::host`](crate::Request::host), `scheme()`, `url()` and `client_addr()`, the
//! rewrite templates (`{host}`, `{scheme}`, `{client_addr}`) and `when.host`, dispatch's host
//! routes, the proxy's outgoing `X-Forwarded-*` and its `Location` rewriting, balancing by
//! client address, and the auth layer's failure limit. So with a trusted `X-Forwarded-Host`,
//! the route taken, the templates and `req.host()` name the same host, and the upstream is
//! told that host.
//!
//! # Precedence
//!
//! Each part is read from the first source that has it:
//!
//! | part | 1. trusted proxies ([`ClientInfo`]) | 2. the connection and target | 3. last |
//! | --- | --- | --- | --- |
//! | host, port | `host` | the URI's authority (HTTP/2 `:authority`, an absolute-form target) | the `Host` header |
//! | scheme | `scheme` | `https` on a TLS connection ([`ConnectionTls`]), else the URI's scheme | `http` |
//! | client address | `addr` | | the TCP peer ([`PeerAddr`]) |
//! | prefix | `prefix` (`X-Forwarded-Prefix`), then | every dispatch mount ([`MountPrefix`]) | |
//!
//! Only the [`forwarded`](crate::forwarded) layer writes a [`ClientInfo`], and only with what
//! the proxies it was told to trust reported, so a client cannot choose any of these values
//! unless it is such a proxy. The authority wins over `Host` as RFC 9112 §3.2.2 says; `serve`
//! already refused a request whose `Host` disagrees with HTTP/2's `:authority`, and replaced
//! `Host` with an absolute-form target's authority, so behind `serve` the two never differ.
//! A source that is present but malformed is not skipped: [`host`](Origin::host) is then
//! `None`.
//!
//! # Example
//!
//! ```
//! use tollgate::ext::ClientInfo;
//! use tollgate::origin::Origin;
//!
//! let mut req = http::Request::get("/x").header("host", "internal:8080").body(()).unwrap();
//! assert_eq!(Origin::of(&req).host(), Some("internal"));
//! assert_eq!(Origin::of(&req).port(), Some(8080));
//!
//! // What the forwarded layer inserts when a trusted proxy sent `X-Forwarded-Host`.
//! let mut info = ClientInfo::default();
//! info.host = Some("public.example".into());
//! info.scheme = Some("https".into());
//! req.extensions_mut().insert(info);
//! let origin = Origin::of(&req);
//! assert_eq!(origin.authority(), Some("public.example"));
//! assert_eq!(origin.scheme(), "https");
//! ```

use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};

use http::header::HOST;
use http::{Extensions, HeaderMap, Uri};

use crate::ext::{ClientInfo, ConnectionTls, MountPrefix, PeerAddr};
use crate::syntax::host::split_host_port;

#[cfg(feature = "forwarded")]
mod outgoing;
#[cfg(feature = "forwarded")]
mod trust;

#[cfg(feature = "proxy")]
pub(crate) use outgoing::{append_hop, append_to_list, HopRef};
#[cfg(feature = "forwarded")]
#[cfg_attr(docsrs, doc(cfg(feature = "forwarded")))]
pub use outgoing::{append_next_hop, NextHop, Outgoing};
#[cfg(feature = "forwarded")]
#[cfg_attr(docsrs, doc(cfg(feature = "forwarded")))]
pub use trust::Trust;

/// The client's view of a request: the scheme, host and port it used, its address and the
/// prefix the application is mounted under, each read with the one precedence of the
/// [module docs](self#precedence).
///
/// A borrowed view: making one costs one extension lookup, and each accessor reads only what
/// it needs.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    uri: &'a Uri,
    headers: &'a HeaderMap,
    extensions: &'a Extensions,
    client: Option<&'a ClientInfo>,
}

impl<'a> Origin<'a> {
    /// The origin of `req`.
    pub fn of<B>(req: &'a http::Request<B>) -> Self {
        Self::new(req.uri(), req.headers(), req.extensions())
    }

    /// The origin of a request taken apart.
    pub fn from_parts(parts: &'a http::request::Parts) -> Self {
        Self::new(&parts.uri, &parts.headers, &parts.extensions)
    }

    /// The origin of a request given by its target, headers and extensions.
    pub fn new(uri: &'a Uri, headers: &'a HeaderMap, extensions: &'a Extensions) -> Self {
        Origin {
            uri,
            headers,
            extensions,
            client: extensions.get::<ClientInfo>(),
        }
    }

    /// The `host[:port]` the client asked for, as written: a trusted proxy's report, else the
    /// URI's authority (without user info), else the `Host` header.
    pub fn authority(&self) -> Option<&'a str> {
        if let Some(host) = self.client.and_then(|c| c.host.as_deref()) {
            return Some(host);
        }
        if let Some(authority) = self.uri.authority() {
            let authority = authority.as_str();
            let host_at = authority
                .bytes()
                .rposition(|b| b == b'@')
                .map_or(0, |at| at + 1);
            return Some(&authority[host_at..]);
        }
        self.headers.get(HOST)?.to_str().ok()
    }

    /// The host the client asked for, without the port, as written (IPv6 in brackets); `None`
    /// when there is none or [`authority`](Self::authority) is no `host[:port]`
    /// ([`split_host_port`]).
    pub fn host(&self) -> Option<&'a str> {
        self.host_and_port().map(|(host, _)| host)
    }

    /// The port the client asked for, when it gave one.
    pub fn port(&self) -> Option<u16> {
        self.host_and_port().and_then(|(_, port)| port)
    }

    fn host_and_port(&self) -> Option<(&'a str, Option<u16>)> {
        split_host_port(self.authority()?)
    }

    /// The scheme the client used: a trusted proxy's report, else `https` on a TLS connection,
    /// else the URI's scheme, else `http`.
    pub fn scheme(&self) -> &'a str {
        if let Some(scheme) = self.client.and_then(|c| c.scheme.as_deref()) {
            return scheme;
        }
        if self
            .extensions
            .get::<ConnectionTls>()
            .is_some_and(|tls| tls.0)
        {
            return "https";
        }
        self.uri.scheme_str().unwrap_or("http")
    }

    /// Whether the client used `https`.
    pub fn is_secure(&self) -> bool {
        self.scheme().eq_ignore_ascii_case("https")
    }

    /// The client's address: a trusted proxy's report, else the TCP peer's.
    pub fn client_addr(&self) -> Option<IpAddr> {
        self.client
            .and_then(|c| c.addr)
            .or_else(|| self.peer_addr().map(|p| p.ip()))
    }

    /// The address of the TCP peer ([`PeerAddr`]): behind a proxy, the proxy's.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.extensions.get::<PeerAddr>().map(|p| p.0)
    }

    /// The prefix the application is mounted under (WSGI's `SCRIPT_NAME`): a trusted
    /// `X-Forwarded-Prefix`, then every dispatch mount, without a trailing slash; `""` at the
    /// root.
    pub fn prefix(&self) -> Cow<'a, str> {
        let forwarded = self
            .client
            .and_then(|c| c.prefix.as_deref())
            .unwrap_or("")
            .trim_end_matches('/');
        let mounted = self
            .extensions
            .get::<MountPrefix>()
            .map_or("", |m| m.0.as_str())
            .trim_end_matches('/');
        match (forwarded, mounted) {
            (prefix, "") | ("", prefix) => Cow::Borrowed(prefix),
            (forwarded, mounted) => Cow::Owned(format!("{forwarded}{mounted}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(uri: &str, host: Option<&str>) -> http::Request<()> {
        let mut builder = http::Request::get(uri);
        if let Some(host) = host {
            builder = builder.header(HOST, host);
        }
        builder.body(()).expect("test requests are valid")
    }

    fn forwarded(host: &str, scheme: &str) -> ClientInfo {
        ClientInfo {
            host: Some(host.into()),
            scheme: Some(scheme.into()),
            addr: Some("203.0.113.9".parse().expect("an address")),
            ..ClientInfo::default()
        }
    }

    #[test]
    fn host_header_alone() {
        let req = request("/x", Some("Example.com:8080"));
        let origin = Origin::of(&req);
        assert_eq!(origin.authority(), Some("Example.com:8080"));
        assert_eq!(origin.host(), Some("Example.com"));
        assert_eq!(origin.port(), Some(8080));
        assert_eq!(origin.scheme(), "http");
    }

    #[test]
    fn the_uri_authority_wins_over_host() {
        let req = request("http://api.example.com/x", Some("other"));
        assert_eq!(Origin::of(&req).host(), Some("api.example.com"));
        let req = request("https://user@h2.example:8443/x", None);
        let origin = Origin::of(&req);
        assert_eq!(origin.authority(), Some("h2.example:8443"));
        assert_eq!(origin.scheme(), "https");
    }

    #[test]
    fn trusted_reports_win_over_everything() {
        let mut req = request("http://internal:9000/x", Some("internal:9000"));
        req.extensions_mut().insert(ConnectionTls(true));
        req.extensions_mut()
            .insert(forwarded("public.example", "http"));
        req.extensions_mut()
            .insert(PeerAddr("10.0.0.2:5555".parse().expect("an address")));
        let origin = Origin::of(&req);
        assert_eq!(origin.host(), Some("public.example"));
        assert_eq!(origin.port(), None);
        assert_eq!(origin.scheme(), "http");
        assert_eq!(origin.client_addr(), Some("203.0.113.9".parse().unwrap()));
        assert_eq!(origin.peer_addr(), Some("10.0.0.2:5555".parse().unwrap()));
    }

    #[test]
    fn the_connection_wins_over_the_target_for_the_scheme() {
        let mut req = request("http://a.example/x", None);
        assert_eq!(Origin::of(&req).scheme(), "http");
        req.extensions_mut().insert(ConnectionTls(true));
        assert!(Origin::of(&req).is_secure());
    }

    #[test]
    fn ipv6_keeps_its_brackets() {
        let req = request("/x", Some("[::1]:8080"));
        assert_eq!(Origin::of(&req).host(), Some("[::1]"));
        let req = request("/x", Some("[::1]"));
        assert_eq!(Origin::of(&req).host(), Some("[::1]"));
    }

    #[test]
    fn a_malformed_host_is_none_not_the_next_source() {
        for bad in ["a b", "x:port", "[::1", "h:99999"] {
            let req = request("/x", Some(bad));
            assert_eq!(Origin::of(&req).host(), None, "{bad:?}");
        }
        assert_eq!(Origin::of(&request("/x", None)).host(), None);
    }

    #[test]
    fn the_client_address_falls_back_to_the_peer() {
        let mut req = request("/x", None);
        assert_eq!(Origin::of(&req).client_addr(), None);
        req.extensions_mut()
            .insert(PeerAddr("10.0.0.2:5555".parse().expect("an address")));
        assert_eq!(
            Origin::of(&req).client_addr(),
            Some("10.0.0.2".parse().unwrap())
        );
    }

    #[test]
    fn the_prefix_joins_the_forwarded_one_and_the_mounts() {
        let mut req = request("/x", None);
        assert_eq!(Origin::of(&req).prefix(), "");
        req.extensions_mut().insert(MountPrefix("/api".into()));
        assert!(matches!(Origin::of(&req).prefix(), Cow::Borrowed("/api")));
        req.extensions_mut().insert(ClientInfo {
            prefix: Some("/app/".into()),
            ..ClientInfo::default()
        });
        assert_eq!(Origin::of(&req).prefix(), "/app/api");
        req.extensions_mut().remove::<MountPrefix>();
        assert_eq!(Origin::of(&req).prefix(), "/app");
    }
}
