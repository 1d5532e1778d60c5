//! `tollgate proxy`'s `--rate-limit` and `--lockout` flags.

use clap::Args;
use tollgate::config::Config;
use tollgate::ratelimit::{Rate, RateLimitConfig};
use tollgate::store::{StoreLocation, StoreLocationError};

/// Request rate limits.
#[derive(Debug, Args)]
pub struct LimitFlags {
    /// The most requests one client address makes (IPv6: one /64), e.g. `100/s`, `10/m`,
    /// `5/60s`; past it, 429 with Retry-After. The client is who --trusted-proxy proxies say
    /// it is, else the TCP peer. Shared by every worker.
    #[arg(long, value_name = "N/WINDOW", value_parser = rate)]
    pub rate_limit: Option<Rate>,

    /// Lock a user out from one client after N wrong passwords within WINDOW, e.g. `5/60s`
    /// (429 with Retry-After; each new lock lasts twice as long, up to a day); the same user
    /// still logs in from elsewhere. A client is also locked out after 4×N failures for any
    /// users. Needs --users.
    #[arg(long, value_name = "N/WINDOW", value_parser = rate, requires = "users")]
    pub lockout: Option<Rate>,

    /// Where the rate limits and lockout count: `memory` (this process, the default) or
    /// `redis://HOST:PORT/DB`, shared by every replica naming the same server (Redis or
    /// Valkey); a cluster as `redis+cluster://HOST:PORT,HOST:PORT`, a master found by
    /// Sentinels as `redis+sentinel://HOST:26379,HOST:26379/MASTER`. While Redis cannot
    /// answer, each process counts on its own. Needs --limits-store-secret.
    #[arg(long, value_name = "URL", value_parser = store, requires = "limits_store_secret")]
    pub limits_store: Option<StoreLocation>,

    /// With a Redis --limits-store: a file of at least 16 random bytes shared by every
    /// replica (`head -c 32 /dev/urandom > FILE`); user names and addresses go to Redis only
    /// as hashes keyed by it.
    #[arg(long, value_name = "FILE")]
    pub limits_store_secret: Option<std::path::PathBuf>,
}

fn store(text: &str) -> Result<StoreLocation, String> {
    text.parse().map_err(|e: StoreLocationError| e.to_string())
}

fn rate(text: &str) -> Result<Rate, String> {
    text.parse()
        .map_err(|e: tollgate::ratelimit::RateError| e.to_string())
}

impl LimitFlags {
    /// Puts the limits in `[rate_limit]` and `[auth]`.
    pub fn apply(&self, config: &mut Config) {
        if let (Some(lockout), Some(auth)) = (self.lockout, config.auth.as_mut()) {
            auth.lockout = Some(lockout);
            auth.max_failures_per_peer = Some(lockout.count().saturating_mul(4));
            auth.failure_window = lockout.window();
        }
        if let Some(rate) = self.rate_limit {
            let mut limits = RateLimitConfig::default();
            limits.per_client = Some(rate);
            config.rate_limit = Some(limits);
        }
        if let Some(store) = &self.limits_store {
            let limits = config
                .rate_limit
                .get_or_insert_with(RateLimitConfig::default);
            limits.store = store.clone();
            limits.store_secret_file = self.limits_store_secret.clone();
        }
    }
}
