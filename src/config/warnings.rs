//! What `tollgate run` warns about at start and on every reload: passwords in clear text, no
//! authentication, metrics reachable from other machines, secret files others can read.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use super::Config;

/// The startup warnings: passwords or metrics exposed.
pub(crate) fn warn_about(config: &Config) {
    #[cfg(feature = "auth")]
    if config.auth.is_some() {
        for listen in &config.listen {
            let tls = {
                #[cfg(feature = "tls")]
                {
                    listen.tls.is_some()
                }
                #[cfg(not(feature = "tls"))]
                {
                    false
                }
            };
            if !tls && !is_loopback(&listen.bind) {
                tracing::warn!(
                    bind = %listen.bind,
                    "Basic auth on plain HTTP on {}: passwords travel in clear text; add `tls` to \
                     the listener (--tls-cert/--tls-key) or put TLS in front",
                    listen.bind
                );
            }
        }
    } else if !config.asks_client_certificates() {
        tracing::warn!(
            "no authentication: anyone can use this gateway (add an [auth] table, or --users \
             FILE to `tollgate proxy`)"
        );
    }
    if let Some(admin) = &config.admin {
        if !is_loopback(&admin.bind) {
            tracing::warn!(
                bind = %admin.bind,
                "the admin listener is reachable from other machines (`allow_public = true`)"
            );
        }
    }
    for secret in secret_files(config) {
        warn_if_readable_by_others(&secret);
    }
}

/// The files holding secrets: TLS private keys and the credentials file.
fn secret_files(config: &Config) -> Vec<PathBuf> {
    #[allow(unused_mut)]
    let mut files: Vec<PathBuf> = Vec::new();
    #[cfg(feature = "tls")]
    files.extend(
        config
            .listen
            .iter()
            .filter_map(|l| l.tls.as_ref().map(|tls| tls.key.clone())),
    );
    #[cfg(feature = "auth")]
    files.extend(config.auth.as_ref().and_then(|a| a.htpasswd.clone()));
    #[cfg(not(any(feature = "tls", feature = "auth")))]
    let _ = config;
    files
}

/// Warns when a secret file can be read by every user of the machine (mode `o+r`).
fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let Ok(meta) = std::fs::metadata(path) else {
            return;
        };
        if meta.permissions().mode() & 0o004 != 0 {
            tracing::warn!(
                file = %path.display(),
                "{} is readable by every user of this machine; run `chmod 600 {}` (or 640 \
                 with a group the gateway runs as)",
                path.display(),
                path.display()
            );
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// Whether `bind` only listens on this machine (`127.0.0.1:8080`, `[::1]:8080`, `localhost:8080`).
pub(crate) fn is_loopback(bind: &str) -> bool {
    match bind.parse::<SocketAddr>() {
        Ok(addr) => addr.ip().is_loopback(),
        Err(_) => bind
            .rsplit_once(':')
            .is_some_and(|(host, _)| host.eq_ignore_ascii_case("localhost")),
    }
}

#[cfg(test)]
mod tests {
    use super::is_loopback;

    #[test]
    fn loopback_addresses() {
        assert!(is_loopback("127.0.0.1:8080"));
        assert!(is_loopback("[::1]:8080"));
        assert!(is_loopback("localhost:8080"));
        assert!(!is_loopback("0.0.0.0:8080"));
        assert!(!is_loopback("192.168.1.2:80"));
        assert!(!is_loopback("example.com:80"));
    }
}
