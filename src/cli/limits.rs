//! `tollgate proxy`'s `--rate-limit` flag.

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
}

fn rate(text: &str) -> Result<Rate, String> {
    text.parse()
        .map_err(|e: tollgate::ratelimit::RateError| e.to_string())
}

impl LimitFlags {
    /// Puts the limit in `[rate_limit]`.
    pub fn apply(&self, config: &mut Config) {
        if let Some(rate) = self.rate_limit {
            let mut limits = RateLimitConfig::default();
            limits.per_client = Some(rate);
            config.rate_limit = Some(limits);
        }
    }
}
