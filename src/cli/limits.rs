//! `tollgate proxy`'s `--rate-limit` and `--lockout` flags.

use clap::Args;
use tollgate::config::Config;
use tollgate::ratelimit::{Rate, RateLimitConfig};

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
    }
}
