//! Failure counts kept in a [`RedisStore`], shared by replicas: asked only by password
//! verifications (never by a request whose password is cached), recorded before the `401`
//! goes out so that the next attempt, on any replica, sees it.

use std::future::Future;
use std::net::IpAddr;
use std::time::Duration;

use http::{HeaderMap, Response};

use super::layer::Shared;
use super::limiter::{pair_key, peer_key};
use crate::body::Body;
use crate::store::{OnStoreError, RedisStore};

/// The scope of a failure limit in Redis: what it counts, how many, over how long.
fn scope(what: &str, (max, window): (u32, Duration)) -> String {
    format!("{what} {max}/{}ms", window.as_millis())
}

/// The Redis keys of an attempt from `peer` (as `user`, when known): the client's under
/// `max_failures_per_peer`, the pair's under `lockout`.
fn keys(shared: &Shared, store: &RedisStore, peer: IpAddr, user: Option<&str>) -> Vec<String> {
    let settings = &shared.settings;
    let client = peer_key(peer, settings.failure_ipv6_prefix);
    let mut keys = Vec::with_capacity(2);
    if let Some(limit) = settings.max_failures_per_peer {
        keys.push(store.key(&scope("peer", limit), None, Some(client)));
    }
    if let (Some(limit), Some(user)) = (settings.lockout, user) {
        keys.push(store.key(&scope("lockout", limit), Some(user), Some(client)));
    }
    keys
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
        let keys = keys(self, store, ip, Some(user));
        if keys.is_empty() {
            return None;
        }
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
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
        let prefix = self.settings.failure_ipv6_prefix;
        let peer = self
            .failures
            .as_ref()
            .and_then(|f| f.retry_after(&peer_key(ip, prefix)));
        let pair = self
            .pairs
            .as_ref()
            .and_then(|p| p.retry_after(&pair_key(ip, prefix, user)));
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
            let keys = keys(&shared, store, peer, user.as_deref());
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
        let (Some(store), Some(limit)) = (&self.redis, self.settings.lockout) else {
            return;
        };
        let client = peer_key(peer, self.settings.failure_ipv6_prefix);
        let key = store.key(&scope("lockout", limit), Some(user), Some(client));
        // An error is counted by the store; the pair's count then ends with its window.
        let _ = store.forget(&key).await;
    }
}
