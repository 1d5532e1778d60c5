//! What a gateway logs when it starts or reloads: the file, each listener, whether auth is on
//! and from which file, and a short table of the routes.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;

use crate::config::{Config, RouteConfig};

/// Logs the summary of `config`, served on `listeners` (`(address, tls)` in file order) and
/// `admin`, at `info`.
pub(super) fn log(
    file: Option<&Path>,
    config: &Config,
    listeners: &[(SocketAddr, bool)],
    admin: Option<SocketAddr>,
) {
    let file = file.map_or_else(
        || "command-line flags".to_owned(),
        |f| f.display().to_string(),
    );
    let listening = listeners
        .iter()
        .map(|(addr, tls)| format!("{}://{addr}", if *tls { "https" } else { "http" }))
        .collect::<Vec<_>>()
        .join(", ");
    let admin = admin.map_or_else(|| "none".to_owned(), |a| format!("http://{a}"));
    let auth = auth(config);
    tracing::info!(
        file = %file,
        listeners = %listening,
        admin = %admin,
        auth = %auth,
        routes = config.routes.len(),
        "gateway from {file}: listening on {listening}; admin {admin}; auth {auth}; {} route{}",
        config.routes.len(),
        if config.routes.len() == 1 { "" } else { "s" },
    );
    for (i, route) in config.routes.iter().enumerate() {
        let line = route_line(route);
        tracing::info!(route = %route.label(), index = i, "route {line}");
    }
    warn_without_users(config);
}

/// Warns when auth is on with a credentials file that holds no user: nobody can log in.
fn warn_without_users(config: &Config) {
    #[cfg(feature = "auth")]
    if let Some(file) = config.auth.as_ref().and_then(|a| a.htpasswd.as_ref()) {
        let text = std::fs::read(file).unwrap_or_default();
        let options = crate::auth::htpasswd::HtpasswdOptions::default();
        if crate::auth::htpasswd::check(&text, &options)
            .next()
            .is_none()
        {
            tracing::warn!(
                file = %file.display(),
                "{} holds no users: nobody can log in; add one with `tollgate users add {} USER`",
                file.display(),
                file.display()
            );
        }
    }
    let _ = config;
}

/// `on (users from FILE, realm "R")` or `off`.
fn auth(config: &Config) -> String {
    #[cfg(feature = "auth")]
    if let Some(auth) = &config.auth {
        let users = auth.htpasswd.as_ref().map_or_else(
            || "no users file".to_owned(),
            |f| format!("users from {}", f.display()),
        );
        return format!("on ({users}, realm {:?})", auth.realm);
    }
    let _ = config;
    "off".to_owned()
}

/// `api-host: api.localhost/ any -> upstream api`.
fn route_line(route: &RouteConfig) -> String {
    let mut line = format!("{}: ", route.label());
    if let Some(host) = &route.host {
        line.push_str(host);
    }
    line.push_str(&route.path);
    if route.methods.is_empty() {
        line.push_str(" any");
    } else {
        let _ = write!(line, " {}", route.methods.join(","));
    }
    line.push_str(" -> ");
    line.push_str(&target(route));
    if route.strip_prefix {
        line.push_str(" (prefix stripped)");
    }
    line
}

fn target(route: &RouteConfig) -> String {
    if let Some(group) = &route.upstream {
        return format!("upstream {group}");
    }
    #[cfg(feature = "files")]
    if let Some(files) = &route.files {
        return format!("files {}", files.dir.display());
    }
    if let Some(redirect) = &route.redirect {
        return format!("redirect {}", redirect.to);
    }
    if route.echo {
        return "echo".to_owned();
    }
    "nothing".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_lines() {
        let config: Config = crate::config::load(
            "[[listen]]\nbind = \"127.0.0.1:0\"\n[upstreams.api]\nservers = [\"http://127.0.0.1:9\"]\n\
             [[routes]]\nname = \"api\"\nhost = \"api.localhost\"\npath = \"/v1\"\nmethods = [\"GET\"]\n\
             strip_prefix = true\nupstream = \"api\"\n[[routes]]\necho = true\n",
        )
        .unwrap();
        assert_eq!(
            route_line(&config.routes[0]),
            "api: api.localhost/v1 GET -> upstream api (prefix stripped)"
        );
        assert_eq!(route_line(&config.routes[1]), "/: / any -> echo");
        assert_eq!(auth(&config), "off");
    }
}
