//! Failure counts kept in a [`RedisStore`], shared by replicas: asked only by password
//! verifications (never by a request whose password is cached), recorded before the `401`
//! goes out so that the next attempt, on any replica, sees it.

use std::future::Future;
use std::net::IpAddr;

use http::{HeaderMap, Response};

use super::layer::Shared;
use crate::body::Body;
use crate::store::{OnStoreError, StoreKey};

/// The keys of an attempt from `peer` (as `user`, when known): the client's under
/// `max_failures_per_peer`, the pair's under `lockout` (both in the client's hash slot).
fn keys(shared: &Shared, peer: IpAddr, user: Option<&str>) -> Vec<StoreKey> {
    let pair = user.and_then(|user| shared.pair_failures(peer, user));
    shared.peer_failures(peer).into_iter().chain(pair).collect()
}

impl Shared {
    /// With a shared store, the answer for an attempt that must stop here: `429` while its
    /// client or pair is locked, `503` when Redis cannot answer and `on_store_error = "deny"`.
    pub(crate) async fn shared_lock(
        &self,
        peer: Option<IpAddr>,
        user: &str,
        headers: &HeaderMap,
    ) -> Option<Response<Body>> {
        let (store, ip) = (self.redis.as_ref()?, peer?);
        let keys = keys(self, ip, Some(user));
        if keys.is_empty() {
            return None;
        }
        let secs = match store.locked(&keys).await {
            Ok(secs) => secs,
            Err(_) => match store.on_error() {
                OnStoreError::Deny => return Some(crate::store::unavailable(headers)),
                OnStoreError::Allow => None,
                _ => self.local_lock(ip, user),
            },
        }?;
        tracing::debug!(peer = %ip, "basic auth: locked out (shared store)");
        Some(super::service::locked_out(secs, headers))
    }

    /// The seconds left on this process's own lock of `ip` or (`user`, `ip`).
    fn local_lock(&self, ip: IpAddr, user: &str) -> Option<u64> {
        let peer = (self.failures.as_ref())
            .zip(self.peer_failures(ip))
            .and_then(|(f, key)| f.retry_after(&key));
        let pair = (self.pairs.as_ref())
            .zip(self.pair_failures(ip, user))
            .and_then(|(p, key)| p.retry_after(&key));
        peer.max(pair)
    }

    /// Counts a failure in the shared store (in this process instead while Redis cannot
    /// answer, with `on_store_error = "local"`); the future owns what it needs, so a caller
    /// without a runtime at hand can spawn it.
    pub(crate) fn record_shared(
        self: &std::sync::Arc<Self>,
        peer: IpAddr,
        user: Option<&str>,
    ) -> impl Future<Output = ()> + Send + 'static {
        let shared = self.clone();
        let user = user.map(str::to_owned);
        async move {
            let Some(store) = &shared.redis else { return };
            let settings = &shared.settings;
            let keys = keys(&shared, peer, user.as_deref());
            let limits = settings
                .max_failures_per_peer
                .into_iter()
                .chain(settings.lockout.filter(|_| user.is_some()));
            for (key, (max, window)) in keys.iter().zip(limits) {
                match store.record_failure(key, max, window).await {
                    Ok(Some(lock)) => tracing::warn!(
                        peer = %peer,
                        seconds = lock.as_secs(),
                        "basic auth: too many failed attempts; locked out (shared store)"
                    ),
                    Ok(None) => {}
                    Err(_) if store.on_error() == OnStoreError::Local => {
                        shared.record_locally(Some(peer), user.as_deref());
                        return;
                    }
                    Err(_) => return,
                }
            }
        }
    }

    /// Forgets the (user, client) pair's failures: its user logged in from there.
    pub(crate) async fn forget_shared(&self, peer: IpAddr, user: &str) {
        let (Some(store), Some(key)) = (&self.redis, self.pair_failures(peer, user)) else {
            return;
        };
        // An error is counted by the store; the pair's count then ends with its window.
        let _ = store.forget(&key).await;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::auth::htpasswd::HtpasswdOptions;
    use crate::auth::{BasicAuthLayer, Htpasswd};
    use crate::store::{KeyScheme, RedisStore};

    /// Traefik#13706: the memory and the Redis store scoped a limit differently. Here a
    /// lockout counts (rule, user, address) under the one key both stores use.
    #[test]
    fn the_memory_and_redis_lockouts_key_alike() {
        let secret = [5u8; 32];
        let users = Htpasswd::parse("", &HtpasswdOptions::default()).unwrap();
        let memory = BasicAuthLayer::new("r", users).lockout(5, Duration::from_secs(60));
        let store = RedisStore::new("redis://127.0.0.1/", &secret, OnStoreError::Local).unwrap();
        let redis = memory.clone().with_store(store.clone());
        let mut memory = std::sync::Arc::into_inner(memory.shared).unwrap();
        memory.keys = KeyScheme::new(&secret).unwrap();
        let (one, two): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "::1".parse().unwrap());
        let key = memory.pair_failures(one, "ada").unwrap();
        assert_eq!(Some(key), redis.shared.pair_failures(one, "ada"));
        assert_eq!(key, store.key("lockout 5/60000ms", Some("ada"), Some(one)));
        for other in [
            redis.shared.pair_failures(one, "bob"),
            redis.shared.pair_failures(two, "ada"),
            memory.pair_failures(two, "ada"),
        ] {
            assert_ne!(Some(key), other);
        }
        assert!(!key.to_string().contains("ada"));
    }
}
