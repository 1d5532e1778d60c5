//! Trusted `Forwarded` / `X-Forwarded-*` handling: who the client is, behind proxies.
//!
//! Behind a reverse proxy the TCP peer is the proxy; the client's address, the scheme and host
//! it used and the prefix the application is mounted under arrive in headers the proxy wrote,
//! `Forwarded` (RFC 7239) or `X-Forwarded-For/-Proto/-Host/-Port/-Prefix`. Any client can write
//! those headers too. [`ForwardedLayer`] (Werkzeug's `ProxyFix`, with RFC 7239) reads them only
//! as far as the configured proxies vouch for them, and puts what it learned into a
//! [`ClientInfo`] in the request's extensions, which `Request::client_addr()`, `scheme()`,
//! `host()` and `url()` report (no `ClientInfo` at all when nothing was reported). The headers
//! themselves are left as they came.
//!
//! # Where trust begins
//!
//! Each proxy appends the address it received the request from, so the chain reads, left to
//! right, `client, proxy1, proxy2` and the peer is the last proxy. Only the entries the trusted
//! proxies appended can be believed: the client's address is the **right-most entry not written
//! by a trusted proxy**. Taking the left-most entry, as many frameworks did, lets a client put
//! any address there (Werkzeug#290).
//!
//! - [`Trust::Hops(n)`](Trust::Hops): exactly `n` proxies stand in front of the application;
//!   the client is the `n`-th entry from the right. Wrong if requests can reach the
//!   application without passing all `n` proxies: then clients can spoof.
//! - [`Trust::Proxies`]: the peer must be in one of these networks, or nothing is believed;
//!   then entries are skipped right to left while they are in a trusted network, and the first
//!   one that is not is the client. If all are trusted, the left-most is the client.
//!
//! A malformed entry is believed to be nothing: if the walk meets one before finding the
//! client, no address is reported (a `debug` log says why), never a 500. `unknown` and
//! obfuscated nodes (`_hidden`) are clients without an address: the rest of their element
//! (scheme, host) is still used. The other `X-Forwarded-*` headers are read at the same depth
//! as the client's address (the left-most value when a proxy set one instead of appending).
//!
//! # `Forwarded` or `X-Forwarded-*`
//!
//! A proxy manages one family of headers; the other passes through from the client,
//! untouched, and believing it would let the client choose. So [`Headers`] says which family
//! to read, and the default, [`Headers::XForwarded`], is what nginx, HAProxy, AWS load
//! balancers, Traefik and Caddy write. [`Headers::Forwarded`] reads RFC 7239 only.
//! [`Headers::PreferForwarded`] reads `Forwarded` when the request has one and `X-Forwarded-*`
//! otherwise, for fleets where every proxy strips or appends both: when `Forwarded` is present
//! it is used alone (no mixing of fields across families), and if it is malformed nothing is
//! reported (no falling back, which a client could trigger on purpose). `X-Forwarded-Prefix`
//! has no RFC 7239 counterpart and is read, when enabled, in every mode.
//!
//! # On the way out
//!
//! A proxy tells the next hop what it learned with [`append_next_hop`] and a [`NextHop`]
//! (usually [`NextHop::from_request`]): it appends to `X-Forwarded-For` / `Forwarded` and sets
//! `X-Forwarded-Proto` / `-Host`, never writing CR, LF or NUL.
//!
//! # Example
//!
//! ```
//! use std::convert::Infallible;
//! use tollgate::ext::{ClientInfo, PeerAddr};
//! use tollgate::forwarded::ForwardedLayer;
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let svc = ServiceBuilder::new()
//!     .layer(ForwardedLayer::trusted_proxies(["10.0.0.0/8".parse().unwrap()]))
//!     .service(service_fn(|req: http::Request<()>| async move {
//!         let info = req.extensions().get::<ClientInfo>().cloned().unwrap_or_default();
//!         Ok::<_, Infallible>(info)
//!     }));
//!
//! let mut req = http::Request::get("/")
//!     .header("x-forwarded-for", "6.6.6.6, 203.0.113.5")
//!     .header("x-forwarded-proto", "https")
//!     .body(())
//!     .unwrap();
//! req.extensions_mut().insert(PeerAddr("10.0.0.2:41000".parse().unwrap()));
//! let info = svc.oneshot(req).await.unwrap();
//! assert_eq!(info.addr, Some("203.0.113.5".parse().unwrap()));
//! assert_eq!(info.scheme.as_deref(), Some("https"));
//! # }
//! ```
//!
//! # Configuration
//!
//! [`ForwardedConfig`] is the `[forwarded]` table of the CLI's file:
//!
//! ```toml
//! [forwarded]
//! trust = { proxies = ["10.0.0.0/8", "192.0.2.7"] }   # or trust = { hops = 1 }
//! headers = "x-forwarded"     # "forwarded", "prefer-forwarded"
//! x_for = true
//! x_proto = true
//! x_host = false
//! x_port = false
//! x_prefix = false
//! ```

use serde::Deserialize;

pub use crate::ext::ClientInfo;
pub use crate::origin::{append_next_hop, NextHop, Outgoing, Trust};
pub use crate::syntax::forwarded::{
    parse_forwarded, parse_x_forwarded_for, ForwardedElement, ForwardedError, Node,
    X_FORWARDED_FOR, X_FORWARDED_HOST, X_FORWARDED_PORT, X_FORWARDED_PREFIX, X_FORWARDED_PROTO,
};

mod layer;
mod resolve;
mod service;

pub use layer::ForwardedLayer;
pub use resolve::client_info;
pub use service::Forwarded;

/// Which family of headers is read; see the [module docs](self#forwarded-or-x-forwarded-).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Headers {
    /// `X-Forwarded-For/-Proto/-Host/-Port/-Prefix` only.
    #[default]
    XForwarded,
    /// `Forwarded` (RFC 7239) only (and `X-Forwarded-Prefix` when `x_prefix` is on).
    Forwarded,
    /// `Forwarded` when present, else `X-Forwarded-*`; never both for one request.
    PreferForwarded,
}

/// Configuration of [`ForwardedLayer`]; the `[forwarded]` table of the CLI's file.
///
/// The `x_*` switches choose which `X-Forwarded-*` headers are believed, as Werkzeug's
/// `ProxyFix(x_for, x_proto, x_host, x_port, x_prefix)` does; turn one on only when every
/// trusted proxy sets or strips that header.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct ForwardedConfig {
    /// Which proxies are believed. Default is `Trust::Hops(0)`: nobody, so a `[forwarded]`
    /// table must say whom it trusts (`tollgate check` refuses one that does not).
    pub trust: Trust,
    /// Which headers are read. Default is [`Headers::XForwarded`].
    pub headers: Headers,
    /// Believe `X-Forwarded-For`. Default is `true`.
    pub x_for: bool,
    /// Believe `X-Forwarded-Proto`. Default is `true`.
    pub x_proto: bool,
    /// Believe `X-Forwarded-Host`. Default is `false`.
    pub x_host: bool,
    /// Believe `X-Forwarded-Port` (it replaces the port of the host). Default is `false`.
    pub x_port: bool,
    /// Believe `X-Forwarded-Prefix`. Default is `false`.
    pub x_prefix: bool,
}

impl Default for ForwardedConfig {
    fn default() -> Self {
        ForwardedConfig {
            trust: Trust::default(),
            headers: Headers::default(),
            x_for: true,
            x_proto: true,
            x_host: false,
            x_port: false,
            x_prefix: false,
        }
    }
}

impl ForwardedConfig {
    /// The same configuration with this trust.
    #[must_use]
    pub fn trust(mut self, trust: Trust) -> Self {
        self.trust = trust;
        self
    }

    /// The same configuration reading these headers.
    #[must_use]
    pub fn headers(mut self, headers: Headers) -> Self {
        self.headers = headers;
        self
    }

    /// The same configuration, believing `X-Forwarded-For` or not.
    #[must_use]
    pub fn x_for(mut self, on: bool) -> Self {
        self.x_for = on;
        self
    }

    /// The same configuration, believing `X-Forwarded-Proto` or not.
    #[must_use]
    pub fn x_proto(mut self, on: bool) -> Self {
        self.x_proto = on;
        self
    }

    /// The same configuration, believing `X-Forwarded-Host` or not.
    #[must_use]
    pub fn x_host(mut self, on: bool) -> Self {
        self.x_host = on;
        self
    }

    /// The same configuration, believing `X-Forwarded-Port` or not.
    #[must_use]
    pub fn x_port(mut self, on: bool) -> Self {
        self.x_port = on;
        self
    }

    /// The same configuration, believing `X-Forwarded-Prefix` or not.
    #[must_use]
    pub fn x_prefix(mut self, on: bool) -> Self {
        self.x_prefix = on;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_send_sync() {
        fn assert_send_sync<T: Send + Sync + std::error::Error>() {}
        assert_send_sync::<ForwardedError>();
        assert!(std::mem::size_of::<ForwardedError>() <= 56);
    }

    #[test]
    fn config_reads_from_toml_shapes() {
        let config: ForwardedConfig = serde_json::from_value(serde_json::json!({
            "trust": { "proxies": ["10.0.0.0/8", "192.0.2.7", "::1"] },
            "headers": "prefer-forwarded",
            "x_host": true
        }))
        .unwrap();
        let Trust::Proxies(nets) = &config.trust else {
            panic!("{:?}", config.trust)
        };
        assert_eq!(nets.len(), 3);
        assert!(nets[1].contains(&"192.0.2.7".parse::<std::net::IpAddr>().unwrap()));
        assert_eq!(config.headers, Headers::PreferForwarded);
        assert!(config.x_host && config.x_for && config.x_proto && !config.x_port);

        let hops: ForwardedConfig =
            serde_json::from_value(serde_json::json!({ "trust": { "hops": 2 } })).unwrap();
        assert_eq!(hops.trust, Trust::Hops(2));
        let defaults: ForwardedConfig = serde_json::from_value(serde_json::json!({})).unwrap();
        assert_eq!(defaults, ForwardedConfig::default());

        let err = serde_json::from_value::<ForwardedConfig>(
            serde_json::json!({ "trust": { "proxies": ["10.0.0.0/33"] } }),
        )
        .unwrap_err();
        assert!(err.to_string().contains("invalid trusted proxy"), "{err}");
        assert!(
            serde_json::from_value::<ForwardedConfig>(serde_json::json!({ "x_fro": true }))
                .is_err()
        );
    }
}
