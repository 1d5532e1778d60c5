//! The gateway's limits: the `[rate_limit]` layers and the store they (and the lockout) count
//! in, both kept in [`SharedState`] for every worker.

use super::shared::{LimitsStore, SharedState};
use crate::config::{Config, ConfigError};
use crate::ratelimit::RateLimitLayer;

/// The `[rate_limit]` layers, shared by every worker through [`SharedState`].
pub(super) struct Limits {
    /// Per client, before auth.
    pub(super) client: Option<RateLimitLayer>,
    /// Per user, inside auth.
    pub(super) user: Option<RateLimitLayer>,
}

impl Limits {
    pub(super) fn new(
        config: &Config,
        shared: &SharedState,
        store: Option<&LimitsStore>,
    ) -> Limits {
        let Some(limits) = &config.rate_limit else {
            return Limits {
                client: None,
                user: None,
            };
        };
        let prefix = limits.ipv6_prefix;
        Limits {
            client: limits.per_client.map(|rate| {
                shared.rate_limit(format!("client {rate} /{prefix}"), store, || {
                    RateLimitLayer::per_client(rate).ipv6_prefix(prefix)
                })
            }),
            user: limits.per_user.map(|rate| {
                shared.rate_limit(format!("user {rate}"), store, || {
                    RateLimitLayer::per_user(rate)
                })
            }),
        }
    }
}

/// The Redis store of `[rate_limit] store` (from `shared` when equal settings made it
/// already), `None` for the memory store.
pub(super) fn limits_store(
    config: &Config,
    shared: &SharedState,
    errors: &mut Vec<ConfigError>,
) -> Option<LimitsStore> {
    #[cfg(feature = "redis-store")]
    return match shared.limits_store(config.rate_limit.as_ref()) {
        Ok(store) => store,
        Err(e) => {
            let key = match e {
                crate::store::StoreConfigError::Location(_) => "store",
                _ => "store_secret_file",
            };
            let at = crate::config::KeyPath::root().key("rate_limit").key(key);
            errors.push(ConfigError::from_error(at, e));
            None
        }
    };
    #[cfg(not(feature = "redis-store"))]
    {
        let _ = (config, shared, errors);
        None
    }
}
