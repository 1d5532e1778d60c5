//! [`Config::check`]: what is wrong with a configuration on its own, before any file is read.

use super::error::{ConfigError, KeyPath};
use super::Config;

impl Config {
    /// What is wrong with the configuration itself, without reading any file: no listener or
    /// route, an admin listener on a public address, a group without servers, a route to a
    /// group that does not exist, a route with no target or several.
    pub fn check(&self) -> Vec<ConfigError> {
        let root = KeyPath::root();
        let mut errors = Vec::new();
        if self.listen.is_empty() {
            errors.push(ConfigError::new(
                root.clone(),
                "no listener: add a [[listen]] table with `bind = \"127.0.0.1:8080\"`",
            ));
        }
        for (i, listen) in self.listen.iter().enumerate() {
            let twice = self.listen[..i].iter().any(|l| l.bind == listen.bind);
            if twice && !listen.bind.ends_with(":0") {
                errors.push(ConfigError::new(
                    root.key("listen").index(i).key("bind"),
                    format!(
                        "`{}` is already the address of another listener",
                        listen.bind
                    ),
                ));
            }
        }
        #[cfg(feature = "tls")]
        errors.extend(self.check_tls_tables());
        if let Some(admin) = &self.admin {
            if !admin.bind.ends_with(":0") && self.listen.iter().any(|l| l.bind == admin.bind) {
                errors.push(ConfigError::new(
                    root.key("admin").key("bind"),
                    format!(
                        "the admin listener must not share the public address `{}`: metrics are \
                         never served to the public",
                        admin.bind
                    ),
                ));
            }
            if !admin.allow_public && !super::is_loopback(&admin.bind) {
                errors.push(ConfigError::new(
                    root.key("admin").key("bind"),
                    format!(
                        "the admin listener on `{}` would serve metrics to other machines: bind \
                         it to a loopback address (`127.0.0.1:9090`), or add \
                         `allow_public = true` to [admin] if a firewall guards it",
                        admin.bind
                    ),
                ));
            }
            for (key, path) in [
                ("metrics_path", &admin.metrics_path),
                ("health_path", &admin.health_path),
            ] {
                errors.extend(absolute_path(root.key("admin").key(key), path));
            }
        }
        errors.extend(self.check_error_pages());
        if let Some(forwarded) = &self.forwarded {
            if forwarded.trust.is_nobody() {
                errors.push(ConfigError::new(
                    root.key("forwarded").key("trust"),
                    "`[forwarded]` trusts no proxy, so clients could not be told from proxies: \
                     add `trust = { proxies = [\"10.0.0.0/8\"] }` with your proxies' addresses \
                     (or `trust = { hops = 1 }` when every request passes exactly one proxy), \
                     or remove the table",
                ));
            }
        }
        if let Some(health) = &self.health {
            errors.extend(absolute_path(root.key("health").key("path"), &health.path));
        }
        for (name, group) in &self.upstreams {
            if group.servers.is_empty() {
                errors.push(ConfigError::new(
                    root.key("upstreams").key(name),
                    format!(
                        "upstream group `{name}` has no servers: add `servers = [\"http://127.0.0.1:9000\"]`"
                    ),
                ));
            }
        }
        if self.routes.is_empty() {
            errors.push(ConfigError::new(
                root.clone(),
                "no route: every request would be a 404; add a [[routes]] table, e.g. \
                 `upstream = \"NAME\"` or `echo = true`",
            ));
        }
        errors.extend(self.check_edge());
        let groups: Vec<&str> = self.upstreams.keys().map(String::as_str).collect();
        for (i, route) in self.routes.iter().enumerate() {
            errors.extend(route.check(&root.key("routes").index(i), &groups));
            errors.extend(self.check_allow(i, route));
            if !route.forward_auth && self.forward_auth.is_none() {
                errors.push(ConfigError::new(
                    root.key("routes").index(i).key("forward_auth"),
                    "`forward_auth = false` turns off a [forward_auth] table that is not there: \
                     remove the key, or add the table",
                ));
            }
        }
        errors.extend(self.check_forward_auth());
        errors
    }

    /// `[errors]` keys that are not error statuses (400 to 599).
    fn check_error_pages(&self) -> Vec<ConfigError> {
        let valid = |status: &str| {
            status
                .parse::<u16>()
                .is_ok_and(|code| (400..=599).contains(&code))
        };
        self.errors
            .keys()
            .filter(|status| !valid(status))
            .map(|status| {
                ConfigError::new(
                    KeyPath::root().key("errors").key(status),
                    format!(
                        "`{status}` is not an error status: use 400 to 599, e.g. \
                         `404 = \"pages/404.html\"`"
                    ),
                )
            })
            .collect()
    }

    /// `[forward_auth]` beside `[auth]`: two authorities for one user.
    fn check_forward_auth(&self) -> Option<ConfigError> {
        #[cfg(feature = "auth")]
        let basic = self.auth.is_some();
        #[cfg(not(feature = "auth"))]
        let basic = false;
        (basic && self.forward_auth.is_some()).then(|| {
            ConfigError::new(
                KeyPath::root().key("forward_auth"),
                "[forward_auth] and [auth] are both set: the gateway would ask for two logins and \
                 not know whose user to keep; keep one of them (the auth service can check \
                 Basic credentials itself: `request_headers` passes `Authorization` on)",
            )
        })
    }

    /// Each `tls` table has a certificate (`cert` and `key` together, `certs`, or `acme`); an
    /// ACME plain listener (`http_bind`) is not the address of a `[[listen]]`.
    #[cfg(feature = "tls")]
    fn check_tls_tables(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        for (i, listen) in self.listen.iter().enumerate() {
            let Some(tls) = &listen.tls else { continue };
            let at = KeyPath::root().key("listen").index(i).key("tls");
            let (cert, key) = (
                tls.cert.as_os_str().is_empty(),
                tls.key.as_os_str().is_empty(),
            );
            if cert != key {
                let missing = if cert { "cert" } else { "key" };
                errors.push(ConfigError::new(
                    at.clone(),
                    format!("`{missing}` is missing: `cert` and `key` go together"),
                ));
            }
            #[cfg(feature = "acme")]
            let acme = tls.acme.as_ref();
            #[cfg(not(feature = "acme"))]
            let acme: Option<&()> = None;
            if cert && key && tls.certs.is_empty() && acme.is_none() {
                errors.push(ConfigError::new(
                    at.clone(),
                    "a `tls` table needs a certificate: `cert` and `key` (PEM files), `certs = \
                     [{ cert, key }, ...]` chosen by name, or `acme = { domains = \
                     [\"app.example.com\"], email = \"ops@example.com\" }` for one the gateway \
                     obtains and renews",
                ));
            }
            #[cfg(feature = "acme")]
            if let Some(acme) = acme {
                let taken = (!acme.http_bind.ends_with(":0"))
                    .then(|| self.listen.iter().position(|l| l.bind == acme.http_bind))
                    .flatten();
                if let Some(j) = taken {
                    errors.push(ConfigError::new(
                        at.key("acme").key("http_bind"),
                        format!(
                            "`{}` is also the address of [[listen]] {}: the ACME plain listener \
                             needs its own address (it answers the CA and redirects the rest \
                             to https); change `http_bind` or that listener's `bind`",
                            acme.http_bind,
                            j + 1
                        ),
                    ));
                }
            }
        }
        errors
    }

    /// Whether a listener names its clients by their certificates (`client_ca`).
    pub(crate) fn asks_client_certificates(&self) -> bool {
        #[cfg(feature = "tls")]
        return self
            .listen
            .iter()
            .any(|l| l.tls.as_ref().is_some_and(|tls| tls.client_ca.is_some()));
        #[cfg(not(feature = "tls"))]
        false
    }

    /// A route's `allow` needs users (`[auth]`), and its groups a groups file.
    fn check_allow(&self, i: usize, route: &super::RouteConfig) -> Option<ConfigError> {
        let at = KeyPath::root().key("routes").index(i).key("allow");
        #[cfg(feature = "auth")]
        let basic = self.auth.is_some();
        #[cfg(not(feature = "auth"))]
        let basic = false;
        let forward = self
            .forward_auth
            .as_ref()
            .is_some_and(|f| f.user_header.is_some());
        let authenticates = basic || forward || self.asks_client_certificates();
        if !route.allow.is_empty() && !authenticates {
            return Some(ConfigError::new(
                at,
                "`allow` lists users, but without [auth] (or [forward_auth] with a `user_header`, \
                 or client certificates: `client_ca` on a TLS listener) no request has a user and \
                 every one would be refused: add an [auth] table (`--users FILE`), or use \
                 `allow_ip`",
            ));
        }
        let group = route.allow.iter().find_map(|e| e.strip_prefix("group:"))?;
        self.acl.groups.is_none().then(|| {
            ConfigError::new(
                at,
                format!(
                    "`group:{group}` needs a groups file: set `[acl] groups = \"PATH\"` \
                     (`--groups FILE`) with lines like `{group}: alice bob`"
                ),
            )
        })
    }
}

fn absolute_path(at: KeyPath, path: &str) -> Option<ConfigError> {
    (!path.starts_with('/')).then(|| ConfigError::new(at, format!("`{path}` must start with `/`")))
}
