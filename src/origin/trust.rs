//! [`Trust`]: which proxies are believed about the client.

use ipnet::IpNet;
use serde::{Deserialize, Deserializer};

/// Which proxies are believed: the one trust setting of the [`forwarded`](crate::forwarded)
/// layer, which reads what they say, and the [`inbound`](crate::inbound) layer, which lets
/// their forwarding headers through.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Trust {
    /// This many proxies stand in front of the application, each appending one entry.
    /// `0` believes nothing.
    Hops(usize),
    /// Proxies in these networks. In a config file, plain addresses (`192.0.2.7`) are taken as
    /// single-host networks.
    Proxies(#[serde(deserialize_with = "networks")] Vec<IpNet>),
}

impl Default for Trust {
    /// Nobody: trust is always explicit. (Werkzeug's `ProxyFix` defaults to one hop, which
    /// lets any client that reaches the application directly choose its own address and
    /// scheme.)
    fn default() -> Self {
        Trust::Hops(0)
    }
}

impl Trust {
    /// Whether `peer` (the TCP peer) is believed: any peer under `Hops(n)` with `n > 0`, a
    /// peer in one of the networks under `Proxies`.
    ///
    /// ```
    /// use tollgate::origin::Trust;
    /// let trust = Trust::Proxies(vec!["10.0.0.0/8".parse().unwrap()]);
    /// assert!(trust.trusts_peer(Some([10, 1, 2, 3].into())));
    /// assert!(!trust.trusts_peer(Some([192, 0, 2, 1].into())));
    /// assert!(!Trust::default().trusts_peer(Some([10, 1, 2, 3].into())));
    /// ```
    pub fn trusts_peer(&self, peer: Option<std::net::IpAddr>) -> bool {
        match self {
            Trust::Hops(n) => *n > 0,
            Trust::Proxies(nets) => {
                peer.is_some_and(|p| nets.iter().any(|n| n.contains(&p.to_canonical())))
            }
        }
    }

    /// Whether nobody is believed (`Hops(0)` or no network).
    pub fn is_nobody(&self) -> bool {
        match self {
            Trust::Hops(n) => *n == 0,
            Trust::Proxies(nets) => nets.is_empty(),
        }
    }
}

fn networks<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<IpNet>, D::Error> {
    let items = Vec::<String>::deserialize(deserializer)?;
    items
        .iter()
        .map(|s| {
            crate::syntax::network::parse(s).ok_or_else(|| {
                    serde::de::Error::custom(format!(
                        "invalid trusted proxy {s:?}: write an address (`192.0.2.7`) or a network (`10.0.0.0/8`)"
                    ))
                })
        })
        .collect()
}
