//! [`SharedState`]: what the stacks of every worker share, so that limits hold for the
//! process rather than for each worker.

use std::sync::{Arc, Mutex};

use std::collections::HashMap;

use crate::acl::{AclConfig, AclError, Groups};
use crate::forward_auth::{ForwardAuthConfig, ForwardAuthError, ForwardAuthLayer};
use crate::ratelimit::RateLimitLayer;

#[cfg(feature = "auth")]
use crate::auth::basic::{BasicAuthConfig, BasicAuthConfigError, BasicAuthLayer};

/// The Redis store of the limits, when the build has them.
#[cfg(feature = "redis-store")]
pub(crate) type LimitsStore = crate::store::RedisStore;
/// The Redis store of the limits, when the build has them (never, in this one).
#[cfg(not(feature = "redis-store"))]
pub(crate) type LimitsStore = std::convert::Infallible;

/// Which store a layer was built for: `0` for the memory store.
fn store_id(store: Option<&LimitsStore>) -> usize {
    #[cfg(feature = "redis-store")]
    return store.map_or(0, crate::store::RedisStore::id);
    #[cfg(not(feature = "redis-store"))]
    store.map_or(0, |never| match *never {})
}

/// The `[rate_limit]` store settings a Redis store was made for.
#[cfg(feature = "redis-store")]
type StoreSettings = (
    crate::store::StoreLocation,
    Option<std::path::PathBuf>,
    crate::store::OnStoreError,
);

/// A groups file being watched, and the `[acl]` table it was read for.
type WatchedGroups = (AclConfig, Arc<Groups>);

/// The process-wide part of a gateway: built once per configuration load and handed to the
/// stack of every worker (see [`build_with`](super::build_with)).
///
/// Today it holds the Basic auth layer, whose per-peer failure counts, verification queue
/// and verification cache must be shared by all workers: with one layer per worker,
/// `max_failures_per_peer = 3` let a client fail three times on every worker; the `[acl]`
/// groups file, watched by one task rather than one per worker; and the rate limits, whose
/// buckets must be the process's (axum#2634: a limiter per service clone lets N times the
/// rate through).
///
/// [`Runner`](super::Runner) keeps one for the life of the process: a reload whose `[auth]`
/// table is unchanged keeps the layer (and so its failure counts and cache), re-reading the
/// credentials file at once; a changed `[auth]` table gets a new layer.
#[derive(Clone, Debug, Default)]
pub struct SharedState {
    /// The response cache's store, with the `[cache]` table it was built for.
    cache: std::sync::Arc<std::sync::Mutex<Option<(CacheConfig, CacheStore)>>>,
    #[cfg(feature = "auth")]
    auth: Arc<Mutex<Option<(BasicAuthConfig, usize, BasicAuthLayer)>>>,
    /// The `[acl]` groups file, watched once for every worker.
    acl_groups: Arc<Mutex<Option<WatchedGroups>>>,
    /// The rate limits, by what they count and at which rate, so that every worker counts
    /// into the same buckets (and a reload that keeps a limit keeps its counts).
    rate_limits: Arc<Mutex<HashMap<(String, usize), RateLimitLayer>>>,
    /// The Redis store of `[rate_limit] store`, kept while its settings are.
    #[cfg(feature = "redis-store")]
    store: Arc<Mutex<Option<(StoreSettings, crate::store::RedisStore)>>>,
    /// The `[forward_auth]` layer whose admission cache every worker's layer shares.
    forward_auth: Arc<Mutex<Option<(ForwardAuthConfig, ForwardAuthLayer)>>>,
}

use crate::cache::{CacheConfig, CacheStore};

impl SharedState {
    /// The store for `config`: the one already built for an equal `[cache]` table (a reload
    /// keeps what is cached), else a new one.
    pub(crate) fn cache_store(&self, config: &CacheConfig) -> CacheStore {
        let mut guard = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        match guard.as_ref() {
            Some((built_for, store)) if built_for == config => store.clone(),
            _ => {
                let store = CacheStore::new(config.clone());
                *guard = Some((config.clone(), store.clone()));
                store
            }
        }
    }

    /// The response cache's store, when a `[cache]` table built one.
    pub fn cache(&self) -> Option<CacheStore> {
        let guard = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        guard.as_ref().map(|(_, store)| store.clone())
    }

    /// An empty state: the first build fills it.
    pub fn new() -> Self {
        SharedState::default()
    }

    /// The Basic auth layer for `config`: the one already built for an equal configuration,
    /// or a new one (which replaces it).
    #[cfg(feature = "auth")]
    pub(crate) async fn auth_layer(
        &self,
        config: &BasicAuthConfig,
        store: Option<&LimitsStore>,
    ) -> Result<BasicAuthLayer, BasicAuthConfigError> {
        let id = store_id(store);
        let kept = {
            let guard = self.auth.lock().unwrap_or_else(|e| e.into_inner());
            guard
                .as_ref()
                .filter(|(built_for, for_store, _)| built_for == config && *for_store == id)
                .map(|(_, _, layer)| layer.clone())
        };
        if let Some(layer) = kept {
            layer.reload_credentials().await;
            return Ok(layer);
        }
        let layer = BasicAuthLayer::from_config(config)?;
        #[cfg(feature = "redis-store")]
        let layer = match store {
            Some(store) => layer.with_store(store.clone()),
            None => layer,
        };
        *self.auth.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((config.clone(), id, layer.clone()));
        Ok(layer)
    }

    /// The rate limit whose scope is `scope` (what it counts, at which rate) in `store`
    /// (`None`: this process): the one already made, or `make`'s. The scope is the key of its
    /// counts in either store.
    pub(crate) fn rate_limit(
        &self,
        scope: String,
        store: Option<&LimitsStore>,
        make: impl FnOnce() -> RateLimitLayer,
    ) -> RateLimitLayer {
        let mut limits = self.rate_limits.lock().unwrap_or_else(|e| e.into_inner());
        let key = (scope, store_id(store));
        if let Some(kept) = limits.get(&key) {
            return kept.clone();
        }
        let layer = make();
        #[cfg(feature = "redis-store")]
        let layer = match store {
            Some(store) => layer.with_store(store.clone(), key.0.clone()),
            None => layer.scope(key.0.clone()),
        };
        #[cfg(not(feature = "redis-store"))]
        let layer = layer.scope(key.0.clone());
        limits.insert(key, layer.clone());
        layer
    }

    /// The Redis store `[rate_limit]` names (the one already made for equal settings, whose
    /// connection is kept), `None` for the memory store.
    #[cfg(feature = "redis-store")]
    pub(crate) fn limits_store(
        &self,
        config: Option<&crate::ratelimit::RateLimitConfig>,
    ) -> Result<Option<LimitsStore>, crate::store::StoreConfigError> {
        let Some(config) = config else {
            return Ok(None);
        };
        let settings = (
            config.store.clone(),
            config.store_secret_file.clone(),
            config.on_store_error,
        );
        let mut kept = self.store.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((built_for, store)) = kept.as_ref() {
            if *built_for == settings {
                return Ok(Some(store.clone()));
            }
        }
        let store = config.redis_store()?;
        *kept = store.clone().map(|store| (settings, store));
        Ok(store)
    }

    /// The groups file of `config`: the one already watched for an equal `[acl]` table
    /// (re-read now), or a new watch; `None` without a file.
    pub(crate) async fn acl_groups(
        &self,
        config: &AclConfig,
    ) -> Result<Option<Arc<Groups>>, AclError> {
        let Some(path) = &config.groups else {
            return Ok(None);
        };
        let kept = {
            let guard = self.acl_groups.lock().unwrap_or_else(|e| e.into_inner());
            guard
                .as_ref()
                .filter(|(built_for, _)| built_for == config)
                .map(|(_, groups)| groups.clone())
        };
        if let Some(groups) = kept {
            if let Err(err) = groups.reload().await {
                tracing::error!(error = %err, "groups: new file refused, keeping the previous groups");
            }
            return Ok(Some(groups));
        }
        let groups = Groups::watch(path, config.reload_interval)?;
        *self.acl_groups.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((config.clone(), groups.clone()));
        Ok(Some(groups))
    }

    /// A `[forward_auth]` layer for one worker: its own connections to the auth service, the
    /// admission cache of the first layer built for an equal table.
    pub(crate) fn forward_auth_layer(
        &self,
        config: &ForwardAuthConfig,
    ) -> Result<ForwardAuthLayer, ForwardAuthError> {
        let layer = ForwardAuthLayer::new(config)?;
        let mut kept = self.forward_auth.lock().unwrap_or_else(|e| e.into_inner());
        match &*kept {
            Some((same, first)) if same == config => Ok(layer.share_cache(first)),
            _ => {
                *kept = Some((config.clone(), layer.clone()));
                Ok(layer)
            }
        }
    }
}

#[cfg(all(test, feature = "auth"))]
mod tests {
    use super::*;

    fn config(dir: &std::path::Path, realm: &str) -> BasicAuthConfig {
        let users = dir.join("users");
        std::fs::write(
            &users,
            "ada:$2y$05$uTfWMJiUNPsIRCnP9QkYye1Ge.D3ulcAUNEwl.FUpa6e4FX4XNk.W\n",
        )
        .unwrap();
        BasicAuthConfig {
            realm: realm.into(),
            htpasswd: Some(users),
            max_failures_per_peer: Some(3),
            ..BasicAuthConfig::default()
        }
    }

    #[tokio::test]
    async fn one_layer_per_configuration_for_every_worker() {
        let dir = tempfile::tempdir().unwrap();
        let state = SharedState::new();
        let a = state
            .auth_layer(&config(dir.path(), "a"), None)
            .await
            .unwrap();
        let b = state
            .auth_layer(&config(dir.path(), "a"), None)
            .await
            .unwrap();
        assert!(
            Arc::ptr_eq(&a.shared, &b.shared),
            "same limiter, queue and cache"
        );
        let c = state
            .auth_layer(&config(dir.path(), "c"), None)
            .await
            .unwrap();
        assert!(
            !Arc::ptr_eq(&a.shared, &c.shared),
            "changed settings, new layer"
        );
        let other = SharedState::new()
            .auth_layer(&config(dir.path(), "c"), None)
            .await;
        assert!(!Arc::ptr_eq(&other.unwrap().shared, &c.shared));
    }
}
