//! `tollgate proxy`'s access flags: `--allow`, `--groups`, `--allow-ip`, `--deny-ip`, put on
//! every route the command makes.

use std::path::PathBuf;

use clap::Args;
use tollgate::config::Config;

/// Who may use the gateway, and from where.
#[derive(Debug, Args)]
pub struct AclArgs {
    /// Allow only this user, or the members of `group:NAME` (repeatable); everyone else gets
    /// 403. Needs --users.
    #[arg(long, value_name = "USER|group:NAME")]
    pub allow: Vec<String>,

    /// The groups file `--allow group:NAME` reads (`group: user1 user2` lines, Apache's
    /// AuthGroupFile), re-read when it changes.
    #[arg(long, value_name = "FILE")]
    pub groups: Option<PathBuf>,

    /// Allow only clients in this network (repeatable), e.g. `10.0.0.0/8`; others get 403.
    /// The client is who --trusted-proxy proxies say it is, else the TCP peer.
    #[arg(long = "allow-ip", value_name = "CIDR", value_parser = network)]
    pub allow_ip: Vec<ipnet::IpNet>,

    /// Refuse clients in this network with 403 (repeatable), checked first.
    #[arg(long = "deny-ip", value_name = "CIDR", value_parser = network)]
    pub deny_ip: Vec<ipnet::IpNet>,
}

/// A network (`10.0.0.0/8`) or one address (`192.0.2.7`).
pub(crate) fn network(text: &str) -> Result<ipnet::IpNet, String> {
    tollgate::syntax::network::parse(text)
        .ok_or_else(|| format!("{text:?} is not a network like 10.0.0.0/8 or an address"))
}

impl AclArgs {
    /// Puts the rules on every route of `config`, and the groups file in `[acl]`.
    pub fn apply(&self, config: &mut Config) {
        config.acl.groups.clone_from(&self.groups);
        for route in &mut config.routes {
            route.allow.clone_from(&self.allow);
            route.allow_ip.clone_from(&self.allow_ip);
            route.deny_ip.clone_from(&self.deny_ip);
        }
    }
}
