//! [`KeyScheme`]: the one function that names what a limit counts, in memory and in Redis
//! alike (Traefik#13706 scoped its two stores differently).

use std::fmt;
use std::net::IpAddr;
use std::sync::OnceLock;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The shortest secret accepted, in bytes.
pub(crate) const MIN_SECRET: usize = 16;

/// Makes the keys limits count under: a keyed hash (HMAC-SHA256) of the limit's scope, the
/// user and the client address, so that neither a user name nor an address is ever held in
/// the clear, in this process or in Redis.
///
/// The memory store and the Redis store key by the same [`StoreKey`] for the same secret: a
/// limit scopes its counts alike in both. The memory store uses a secret drawn once per
/// process ([`per_process`](Self::per_process)); a Redis store the secret every replica
/// shares.
///
/// ```
/// use tollgate::store::KeyScheme;
/// let keys = KeyScheme::new(&[7; 32]).unwrap();
/// let ip = Some("192.0.2.1".parse().unwrap());
/// let key = keys.key("lockout 5/60000ms", Some("alice"), ip);
/// assert_eq!(key, keys.key("lockout 5/60000ms", Some("alice"), ip));
/// assert_ne!(key, keys.key("lockout 5/60000ms", Some("bob"), ip));
/// let text = key.to_string();
/// assert!(text.starts_with("tollgate:{") && !text.contains("alice"));
/// ```
#[derive(Clone)]
pub struct KeyScheme {
    mac: Hmac<Sha256>,
}

impl fmt::Debug for KeyScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyScheme { .. }")
    }
}

/// The key of one counted subject: 40 bytes, shown (and written to Redis) as
/// `tollgate:{SLOT}:DIGEST` in hex.
///
/// `DIGEST` is HMAC-SHA256(secret, `scope|user|client`). `SLOT`, a Redis Cluster hash tag,
/// is 8 bytes of the keyed hash of the client address alone (of the user when the limit
/// counts users, of the scope when it counts everything): all the keys of one client live in
/// one hash slot, so one Lua script may touch them together, and different clients spread
/// over the cluster's masters.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct StoreKey {
    slot: [u8; 8],
    digest: [u8; 32],
}

impl fmt::Display for StoreKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tollgate:{")?;
        self.slot.iter().try_for_each(|b| write!(f, "{b:02x}"))?;
        f.write_str("}:")?;
        self.digest.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoreKey({self})")
    }
}

impl KeyScheme {
    /// Keys hashed with `secret`; `None` when it is shorter than 16 bytes.
    pub fn new(secret: &[u8]) -> Option<Self> {
        if secret.len() < MIN_SECRET {
            return None;
        }
        let mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
        Some(KeyScheme { mac })
    }

    /// The scheme of this process's memory store: a secret of 32 random bytes drawn on first
    /// use, the same for every limit of the process.
    pub fn per_process() -> Self {
        static SCHEME: OnceLock<KeyScheme> = OnceLock::new();
        SCHEME
            .get_or_init(|| {
                let mut secret = [0u8; 32];
                rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut secret);
                KeyScheme::new(&secret).expect("32 bytes")
            })
            .clone()
    }

    /// The key of `subject` (a user, a client address, both or neither) under `scope` (what
    /// the limit counts, e.g. `client 100/s /64`). The client is taken in its 16-byte IPv6
    /// form (IPv4 mapped), already cut to the prefix the limit counts by.
    pub fn key(&self, scope: &str, user: Option<&str>, client: Option<IpAddr>) -> StoreKey {
        let octets = client.map(|ip| match ip {
            IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
            IpAddr::V6(v6) => v6.octets(),
        });
        let mut digest = self.mac.clone();
        digest.update(scope.as_bytes());
        digest.update(b"|");
        digest.update(user.unwrap_or("").as_bytes());
        digest.update(b"|");
        digest.update(octets.as_ref().map_or(&[][..], |o| &o[..]));
        let mut slot = self.mac.clone();
        let (kind, subject): (&[u8], &[u8]) = match (&octets, user) {
            (Some(octets), _) => (b"slot|c|", octets),
            (None, Some(user)) => (b"slot|u|", user.as_bytes()),
            (None, None) => (b"slot|s|", scope.as_bytes()),
        };
        slot.update(kind);
        slot.update(subject);
        let mut key = StoreKey {
            slot: [0; 8],
            digest: digest.finalize().into_bytes().into(),
        };
        key.slot.copy_from_slice(&slot.finalize().into_bytes()[..8]);
        key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_differ_by_scope_subject_and_secret() {
        let (one, other) = (
            KeyScheme::new(&[1; 16]).unwrap(),
            KeyScheme::new(&[2; 16]).unwrap(),
        );
        let ip = Some("192.0.2.1".parse().unwrap());
        let key = one.key("lockout", Some("ada"), ip);
        assert_eq!(key, one.key("lockout", Some("ada"), ip), "stable");
        for different in [
            one.key("peer", Some("ada"), ip),
            one.key("lockout", Some("bob"), ip),
            one.key("lockout", Some("ada"), Some("192.0.2.2".parse().unwrap())),
            one.key("lockout", Some("ada"), None),
            other.key("lockout", Some("ada"), ip),
        ] {
            assert_ne!(key, different);
        }
        assert!(KeyScheme::new(&[1; 15]).is_none());
    }

    #[test]
    fn one_client_keeps_one_slot_across_scopes_and_users() {
        let keys = KeyScheme::new(&[3; 32]).unwrap();
        let ip = Some("2001:db8::1".parse().unwrap());
        let slot = |k: StoreKey| k.slot;
        let peer = keys.key("peer 20/60000ms", None, ip);
        let pair = keys.key("lockout 5/60000ms", Some("ada"), ip);
        assert_eq!(slot(peer), slot(pair), "one script may lock both");
        let elsewhere = keys.key(
            "peer 20/60000ms",
            None,
            Some("2001:db8::2".parse().unwrap()),
        );
        assert_ne!(
            slot(peer),
            slot(elsewhere),
            "clients spread over the cluster"
        );
        let text = pair.to_string();
        assert_eq!(text.len(), "tollgate:{}:".len() + 16 + 64);
        assert!(!text.contains("ada") && !text.contains("2001"));
    }
}
