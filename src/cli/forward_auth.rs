//! `tollgate proxy`'s `--forward-auth` flag.

use clap::Args;
use tollgate::config::Config;
use tollgate::forward_auth::ForwardAuthConfig;

/// The headers an admitting answer passes on with `--forward-auth` (Authelia's and
/// Authentik's names); `Remote-User` names the user.
const COPIED: [&str; 4] = [
    "Remote-User",
    "Remote-Groups",
    "Remote-Name",
    "Remote-Email",
];

/// Forward auth.
#[derive(Debug, Args)]
pub struct ForwardAuthFlags {
    /// Ask this auth service about every request first (nginx's auth_request, Traefik's
    /// ForwardAuth), e.g. `http://127.0.0.1:9091/api/authz/forward-auth`: a 2xx admits it
    /// with the answer's Remote-User, Remote-Groups, Remote-Name and Remote-Email (the
    /// client's own copies removed; Remote-User is the user for --allow and the logs), a
    /// 3xx/4xx goes back to the client, no answer within 5s is a 504.
    #[arg(long, value_name = "URL", conflicts_with_all = ["users", "tokens"])]
    pub forward_auth: Option<String>,
}

impl ForwardAuthFlags {
    /// Puts the service in `[forward_auth]`.
    pub fn apply(&self, config: &mut Config) {
        if let Some(url) = &self.forward_auth {
            let mut forward = ForwardAuthConfig::new(url);
            forward.copy_headers = COPIED.map(str::to_owned).to_vec();
            forward.user_header = Some(COPIED[0].to_owned());
            config.forward_auth = Some(forward);
        }
    }
}
