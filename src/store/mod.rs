//! Where rate-limit and lockout state lives: in the process ([`StoreLocation::Memory`], the
//! default) or in Redis/Valkey shared by every replica ([`RedisStore`], feature
//! `redis-store`).
//!
//! With one process the memory store is all one needs. With N replicas behind a load
//! balancer, per-process limits become N times the limit (a lockout of 5 failures lets an
//! attacker try 5 × N passwords); a Redis store makes them hold across replicas, as Envoy's
//! global rate limit, Traefik (v3.4+), oauth2-proxy and Authelia do.
//!
//! - **Keys.** A limit's state is keyed by *scope* (what the limit counts, e.g.
//!   `client 100/s /64` or `lockout 5/60000ms`) and *subject* (the user and the client
//!   address, IPv6 by its prefix), through one function for both stores,
//!   [`KeyScheme::key`]: the memory store counts under the very [`StoreKey`] whose text is
//!   the Redis key, so both scope a limit alike (Traefik#13706 did not). The key is
//!   `tollgate:{SLOT}:DIGEST`, DIGEST the HMAC-SHA256 of scope, user and client, SLOT a
//!   keyed hash of the client alone (a Redis Cluster hash tag): no user name or address is
//!   ever held in the clear.
//! - **Topologies.** One server (`redis://`), a Redis Cluster (`redis+cluster://H:P,H:P`;
//!   each script touches the keys of one client, which share a hash slot) or the master a
//!   set of Sentinels watches (`redis+sentinel://H:26379,H:26379/MASTER`; asked again after
//!   an error, so a failover is followed).
//! - **Atomic updates.** One Lua script per operation: the GCRA state is one key with
//!   `PEXPIRE`; a lockout counts with `INCR` + `PEXPIRE` per window and locks with a key set
//!   `PX = window << strikes`. The clock is Redis's (`TIME`), so replicas whose clocks
//!   differ still agree.
//! - **Redis unreachable** follows [`OnStoreError`]: `local` (default: the per-process
//!   limits take over, logged once, counted in metrics), `deny` (`503`) or `allow`. Redis
//!   coming back is picked up without a restart: the connection manager reconnects, tried
//!   again at most once a second while Redis is down.
//!
//! The verification cache (of correct passwords) stays per process: sharing it would put
//! credential-derived keys on the network and make Redis an oracle for them; its only cost
//! per replica is one password hash per user.

#[cfg(feature = "redis-store")]
pub(crate) mod connect;
mod key;
#[cfg(feature = "redis-store")]
mod redis;

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;

pub use self::key::{KeyScheme, StoreKey};
#[cfg(feature = "redis-store")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis-store")))]
pub use self::redis::{RedisStore, StoreConfigError, StoreUnavailable};

/// Where the limits' state lives: `"memory"` or a Redis URL: one server (`redis://`,
/// `valkey://`, `redis+unix://`; `rediss://` is refused, as this build has no TLS to Redis), a cluster (`redis+cluster://HOST:PORT,...`) or
/// Sentinels and the master they watch (`redis+sentinel://HOST:PORT,.../MASTER[/DB]`).
///
/// ```
/// use tollgate::store::StoreLocation;
/// assert_eq!("memory".parse::<StoreLocation>().unwrap(), StoreLocation::Memory);
/// assert!("redis://127.0.0.1:6379/0".parse::<StoreLocation>().is_ok());
/// assert!("redis+cluster://10.0.0.1:7000,10.0.0.2:7000".parse::<StoreLocation>().is_ok());
/// assert!("redis+sentinel://10.0.0.1:26379/mymaster".parse::<StoreLocation>().is_ok());
/// let err = "rediss://10.0.0.1:6379".parse::<StoreLocation>().unwrap_err();
/// assert!(err.to_string().contains("without TLS"));
/// let err = "redis+sentinel://10.0.0.1:26379".parse::<StoreLocation>().unwrap_err();
/// assert!(err.to_string().contains("MASTER"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum StoreLocation {
    /// In this process (the default): limits hold per replica.
    #[default]
    Memory,
    /// In the Redis (or Valkey) server at this URL, shared by every replica using it.
    Redis(String),
}

/// Why a `store` value was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreLocationError {
    /// Neither `memory` nor a Redis URL.
    Unknown(String),
    /// A Redis URL that could not be read (the reason).
    InvalidUrl(String),
    /// This build has no Redis support (feature `redis-store`).
    NotBuilt,
}

impl fmt::Display for StoreLocationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreLocationError::Unknown(text) => write!(
                f,
                "store `{text}` is neither `memory` nor a Redis URL; use `memory`, \
                 `redis://HOST:PORT/DB` (also `valkey://`, `redis+unix://`), \
                 `redis+cluster://HOST:PORT,HOST:PORT` or \
                 `redis+sentinel://HOST:26379,HOST:26379/MASTER`"
            ),
            StoreLocationError::InvalidUrl(why) => write!(
                f,
                "store: not a valid Redis URL ({why}); the forms are \
                 `redis://[USER:PASSWORD@]HOST:PORT/DB`, \
                 `redis+cluster://[USER:PASSWORD@]HOST:PORT,HOST:PORT` and \
                 `redis+sentinel://[USER:PASSWORD@]HOST:PORT,HOST:PORT/MASTER[/DB]`"
            ),
            StoreLocationError::NotBuilt => f.write_str(
                "store: this tollgate was built without Redis support; rebuild with the \
                 `redis-store` feature or use `store = \"memory\"`",
            ),
        }
    }
}

impl std::error::Error for StoreLocationError {}

impl FromStr for StoreLocation {
    type Err = StoreLocationError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text == "memory" {
            return Ok(StoreLocation::Memory);
        }
        let scheme = text.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
        match scheme.as_deref() {
            Some(
                "redis" | "valkey" | "redis+unix" | "unix" | "redis+cluster" | "valkey+cluster"
                | "redis+sentinel" | "valkey+sentinel",
            ) => {}
            Some("rediss" | "valkeys") => {
                return Err(StoreLocationError::InvalidUrl(
                    "this build speaks to Redis without TLS; keep Redis on a private network or \
                     behind a TLS tunnel (stunnel, spiped) and give a `redis://` URL"
                        .to_owned(),
                ))
            }
            _ => return Err(StoreLocationError::Unknown(text.to_owned())),
        }
        #[cfg(feature = "redis-store")]
        {
            redis::validate(text)?;
            Ok(StoreLocation::Redis(text.to_owned()))
        }
        #[cfg(not(feature = "redis-store"))]
        Err(StoreLocationError::NotBuilt)
    }
}

impl<'de> Deserialize<'de> for StoreLocation {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for StoreLocation {
    /// `memory`, or the URL with any password hidden.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreLocation::Memory => f.write_str("memory"),
            StoreLocation::Redis(url) => match url.split_once("://") {
                Some((scheme, rest)) => match rest.rsplit_once('@') {
                    Some((_, host)) => write!(f, "{scheme}://***@{host}"),
                    None => f.write_str(url),
                },
                None => f.write_str(url),
            },
        }
    }
}

/// What a limit does when its Redis store cannot answer (down, unreachable, slow):
/// `on_store_error = "local"`, `"deny"` or `"allow"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum OnStoreError {
    /// Count in this process meanwhile (the default): limits hold per replica until Redis
    /// is back. Logged once per outage, counted in metrics.
    #[default]
    Local,
    /// Refuse the request with `503 Service Unavailable` and `Retry-After: 1`.
    Deny,
    /// Let the request through unlimited.
    Allow,
}

/// The `503` of `on_store_error = "deny"` while the store cannot answer.
#[cfg(feature = "redis-store")]
pub(crate) fn unavailable(headers: &http::HeaderMap) -> http::Response<crate::body::Body> {
    crate::error::HttpError::service_unavailable(
        "the limits store is unavailable; retry shortly",
        1,
    )
    .into_response_for(headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        let cases: [(&str, Result<&str, &str>); 8] = [
            ("memory", Ok("memory")),
            (" memory ", Ok("memory")),
            ("redis://127.0.0.1:6379/0", Ok("redis://127.0.0.1:6379/0")),
            (
                "redis://:pw@10.0.0.5:6379/1",
                Ok("redis://***@10.0.0.5:6379/1"),
            ),
            ("redis+cluster://a:1,b:2", Ok("redis+cluster://a:1,b:2")),
            (
                "redis+sentinel://:pw@a:1/m",
                Ok("redis+sentinel://***@a:1/m"),
            ),
            (
                "http://127.0.0.1:6379",
                Err("neither `memory` nor a Redis URL"),
            ),
            ("memcached", Err("neither `memory` nor a Redis URL")),
        ];
        for (text, want) in cases {
            match (text.parse::<StoreLocation>(), want) {
                (Ok(location), Ok(shown)) => assert_eq!(location.to_string(), shown, "{text}"),
                (Err(e), Err(part)) => assert!(e.to_string().contains(part), "{text}: {e}"),
                (got, _) => panic!("{text}: {got:?}"),
            }
        }
    }
}
