//! Client networks in configuration: `10.0.0.0/8`, `2001:db8::/32`, or one address
//! (`192.0.2.7`, a `/32`; `::1`, a `/128`).
//!
//! ```
//! use tollgate::syntax::network;
//!
//! assert_eq!(network::parse("10.0.0.0/8").unwrap().to_string(), "10.0.0.0/8");
//! assert_eq!(network::parse("192.0.2.7").unwrap().to_string(), "192.0.2.7/32");
//! assert!(network::parse("10.0.0.0/33").is_none());
//! assert!(network::parse("example.com").is_none());
//! ```

use ipnet::IpNet;

/// A network (`10.0.0.0/8`) or one address taken as a single-host network; `None` for
/// anything else.
pub fn parse(text: &str) -> Option<IpNet> {
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from))
        .ok()
}
