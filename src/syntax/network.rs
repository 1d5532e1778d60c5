//! Client networks in configuration: `10.0.0.0/8`, `2001:db8::/32`, or one address
//! (`192.0.2.7`, a `/32`; `::1`, a `/128`); and the key a client is counted under by limits.
//!
//! ```
//! use tollgate::syntax::network;
//!
//! assert_eq!(network::parse("10.0.0.0/8").unwrap().to_string(), "10.0.0.0/8");
//! assert_eq!(network::parse("192.0.2.7").unwrap().to_string(), "192.0.2.7/32");
//! assert!(network::parse("10.0.0.0/33").is_none());
//! assert!(network::parse("example.com").is_none());
//! ```

use std::net::{IpAddr, Ipv6Addr};

#[cfg(any(feature = "forwarded", feature = "acl"))]
use ipnet::IpNet;

/// The key a client address is counted under by a limit: IPv4 addresses as they are
/// (IPv4-mapped IPv6 ones too), IPv6 ones with all but their first `ipv6_prefix` bits cleared
/// (one subscriber usually holds a whole `/64`, and could otherwise rotate through it).
///
/// ```
/// use tollgate::syntax::network::client_key;
///
/// let a = client_key("2001:db8:1:2::7".parse().unwrap(), 64);
/// assert_eq!(a, client_key("2001:db8:1:2:ffff::1".parse().unwrap(), 64));
/// assert_eq!(client_key("::ffff:192.0.2.7".parse().unwrap(), 64).to_string(), "192.0.2.7");
/// ```
pub fn client_key(addr: IpAddr, ipv6_prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(_) => addr,
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return IpAddr::V4(v4);
            }
            let prefix = u32::from(ipv6_prefix.min(128));
            let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
        }
    }
}

/// A network (`10.0.0.0/8`) or one address taken as a single-host network; `None` for
/// anything else.
#[cfg(any(feature = "forwarded", feature = "acl"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "forwarded", feature = "acl"))))]
pub fn parse(text: &str) -> Option<IpNet> {
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from))
        .ok()
}
