//! Certificates from an ACME (RFC 8555) directory: Let's Encrypt by default, its staging
//! directory, or any other by URL (pebble, a private CA), for the names configured.
//!
//! [instant-acme](https://docs.rs/instant-acme) speaks the protocol; this module does the
//! lifecycle: the account key and certificates in a [`CertStore`] (a [`DirStore`] by default,
//! owner-only files written atomically), a stored certificate reused at start while it is not
//! due, a new one ordered when it is, and the renewal time (two thirds of the lifetime, minus
//! up to a day of jitter so replicas and restarts do not all renew at once).
//!
//! ```no_run
//! use tollgate::acme::{AcmeConfig, DirStore};
//!
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! let mut config = AcmeConfig::new(["app.example.com"]);
//! config.email = Some("ops@example.com".into());
//! let store = DirStore::open(&config.state_dir)?;
//! let issued = tollgate::acme::ensure(&config, &store, &Default::default()).await?;
//! println!("serving {} until {:?}", issued.cert_path.display(), issued.not_after);
//! # Ok(()) }
//! ```

mod http01;
mod issue;
mod manage;
#[cfg(feature = "redis-store")]
mod shared;
mod store;
mod tls_alpn;

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use serde::Deserialize;

pub use self::http01::{challenge_answer, serve_plain, Redirect};
pub use self::issue::{ensure, AcmeError, Challenges, Issued};
pub use self::manage::{manage, AcmeStatus};
pub use self::store::{CertStore, DirStore};
pub use self::tls_alpn::{answer_tls_alpn, TlsAlpnResponder};

/// Let's Encrypt's production directory, the default.
pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";

/// The state directory when none is configured.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/tollgate/acme";

/// The plain listener's address when none is configured.
pub const DEFAULT_HTTP_BIND: &str = "0.0.0.0:80";

/// `tls = { acme = { ... } }` on a listener, or `tollgate proxy --domain NAME ...`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct AcmeConfig {
    /// The DNS names of the certificate (not IP addresses); the first names its files. At
    /// least one.
    pub domains: Vec<String>,
    /// The contact address given to the CA (Let's Encrypt mails expiry warnings to it).
    /// Default is `None`.
    #[serde(default)]
    pub email: Option<String>,
    /// The ACME directory URL. Default is [`LETS_ENCRYPT`].
    #[serde(default = "lets_encrypt")]
    pub directory: String,
    /// A PEM CA certificate trusted for the directory's HTTPS (pebble's, a private CA's), on
    /// top of the usual roots. Default is `None`.
    #[serde(default)]
    pub ca: Option<PathBuf>,
    /// Where the account key, certificates and keys are kept. Default is
    /// [`DEFAULT_STATE_DIR`].
    #[serde(default = "default_state_dir")]
    pub state_dir: PathBuf,
    /// The plain HTTP listener the CA reaches for HTTP-01 challenges, which redirects every
    /// other request to `https://` with a `308`. Listeners with the same `http_bind` share
    /// it. Empty (`""`): no plain listener, the TLS-ALPN-01 challenge on the TLS listener
    /// instead. Default is [`DEFAULT_HTTP_BIND`].
    #[serde(default = "default_http_bind")]
    pub http_bind: String,
    /// Where replicas share the account, certificates, keys, an order lock per name and the
    /// HTTP-01 answers: a Redis URL (the forms of `[rate_limit] store`: `redis://HOST:PORT/DB`,
    /// `redis+cluster://...`, `redis+sentinel://.../MASTER`), so that one replica orders and
    /// the others load its certificate. `None` or `"memory"`: this process alone (the
    /// default). Each replica still serves from its own `state_dir`.
    #[serde(default)]
    pub store: Option<String>,
}

fn default_http_bind() -> String {
    DEFAULT_HTTP_BIND.to_owned()
}

fn lets_encrypt() -> String {
    LETS_ENCRYPT.to_owned()
}

fn default_state_dir() -> PathBuf {
    PathBuf::from(DEFAULT_STATE_DIR)
}

impl AcmeConfig {
    /// A configuration for `domains` with the defaults.
    pub fn new<S: Into<String>>(domains: impl IntoIterator<Item = S>) -> Self {
        AcmeConfig {
            domains: domains.into_iter().map(Into::into).collect(),
            email: None,
            directory: lets_encrypt(),
            ca: None,
            state_dir: default_state_dir(),
            http_bind: default_http_bind(),
            store: None,
        }
    }

    /// What keeps the state directory from being used, saying what to do: `None` when it
    /// exists and is writable, or when it can be created (its nearest existing parent is a
    /// writable directory). Nothing is created.
    pub fn state_dir_problem(&self) -> Option<String> {
        let dir = &self.state_dir;
        let existing = dir.ancestors().find(|a| a.exists())?;
        let fix = "set `state_dir` (--state-dir) to a directory the gateway's user owns";
        if !existing.is_dir() {
            return Some(format!(
                "the ACME state directory {}: {} is not a directory; {fix}",
                dir.display(),
                existing.display()
            ));
        }
        match tempfile::tempfile_in(existing) {
            Ok(_) => None,
            Err(e) if existing == dir.as_path() => Some(format!(
                "the ACME state directory {} is not writable by this user ({e}); {fix}",
                dir.display()
            )),
            Err(e) => Some(format!(
                "the ACME state directory {} cannot be created: {} is not writable by this user \
                 ({e}); create it for the gateway's user, or {fix}",
                dir.display(),
                existing.display()
            )),
        }
    }

    /// What is wrong with the settings, one message per problem, each saying what to do:
    /// names that are not DNS names (IP addresses, wildcards, which HTTP-01 cannot prove), an
    /// email that is not one, Let's Encrypt without an email.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.domains.is_empty() {
            problems.push("no domain: name at least one (`domains`, --domain NAME)".to_owned());
        }
        for name in &self.domains {
            if let Some(problem) = domain_problem(name) {
                problems.push(problem);
            }
        }
        match &self.email {
            Some(email) if !is_email(email) => problems.push(format!(
                "email {:?} is not an address like ops@example.com",
                crate::syntax::excerpt(email, 64)
            )),
            None if self.directory == LETS_ENCRYPT => problems.push(
                "Let's Encrypt needs a contact address for expiry warnings: set `email` \
                 (--acme-email ADDRESS)"
                    .to_owned(),
            ),
            _ => {}
        }
        if !(self.directory.starts_with("https://") || self.directory.starts_with("http://")) {
            problems.push(format!(
                "directory {:?} is not an http(s) URL",
                crate::syntax::excerpt(&self.directory, 64)
            ));
        }
        problems.extend(self.store.as_deref().and_then(store_problem));
        problems
    }
}

/// What is wrong with a [`AcmeConfig::store`] URL (read as `[rate_limit] store` is), `None`
/// when it is usable.
///
/// ```
/// assert!(tollgate::acme::store_problem("memory").is_none());
/// assert!(tollgate::acme::store_problem("memcached://10.0.0.1").is_some());
/// ```
pub fn store_problem(url: &str) -> Option<String> {
    #[cfg(feature = "redis-store")]
    return url
        .parse::<crate::store::StoreLocation>()
        .err()
        .map(|e| format!("ACME {e}"));
    #[cfg(not(feature = "redis-store"))]
    return (url.trim() != "memory").then(|| {
        "ACME store: this tollgate was built without Redis support; rebuild with the \
         `redis-store` feature or leave `store` out"
            .to_owned()
    });
}

fn domain_problem(name: &str) -> Option<String> {
    let shown = crate::syntax::excerpt(name, 64);
    if crate::syntax::host::is_ip_literal(name) || name.parse::<std::net::IpAddr>().is_ok() {
        return Some(format!(
            "{shown:?} is an IP address; ACME certificates here are for DNS names (use a name \
             that resolves to this machine)"
        ));
    }
    if name.starts_with("*.") {
        return Some(format!(
            "{shown:?} is a wildcard, which needs the DNS-01 challenge; name each host instead"
        ));
    }
    let valid = crate::syntax::host::normalize(name, "https")
        .is_ok_and(|n| n == name.to_ascii_lowercase() && name.contains('.') && !name.contains(':'));
    (!valid).then(|| {
        format!(
            "{shown:?} is not a DNS name like app.example.com (letters, digits and `-` in \
             dot-separated labels; punycode for other scripts)"
        )
    })
}

fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !text
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>')
}

/// When a certificate valid from `not_before` to `not_after` is renewed: at two thirds of its
/// lifetime, minus `jitter` (at most a tenth of the lifetime).
pub fn renewal_time(not_before: SystemTime, not_after: SystemTime, jitter: Duration) -> SystemTime {
    let lifetime = not_after
        .duration_since(not_before)
        .unwrap_or(Duration::ZERO);
    let at = not_before + lifetime * 2 / 3;
    at - jitter.min(lifetime / 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_must_be_dns_names() {
        let mut config = AcmeConfig::new([
            "app.example.com",
            "10.0.0.1",
            "*.example.com",
            "a..b",
            "[::1]",
        ]);
        config.email = Some("ops@example.com".into());
        let problems = config.problems();
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(problems[0].contains("IP address"), "{problems:?}");
        assert!(problems[1].contains("wildcard"), "{problems:?}");
        assert!(problems[2].contains("not a DNS name"), "{problems:?}");
        assert!(problems[3].contains("IP address"), "{problems:?}");
    }

    #[test]
    fn lets_encrypt_needs_a_valid_email() {
        let config = AcmeConfig::new(["app.example.com"]);
        assert!(config.problems()[0].contains("--acme-email"));
        let mut config = AcmeConfig::new(["app.example.com"]);
        config.email = Some("not an email".into());
        assert!(config.problems()[0].contains("not an address"));
        config.directory = "https://localhost:14000/dir".into();
        config.email = None;
        assert!(config.problems().is_empty());
    }

    #[test]
    fn renewal_is_at_two_thirds_minus_bounded_jitter() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let day = Duration::from_secs(86_400);
        let end = start + 90 * day;
        assert_eq!(renewal_time(start, end, Duration::ZERO), start + 60 * day);
        assert_eq!(renewal_time(start, end, day), start + 59 * day);
        // A jitter larger than a tenth of the lifetime is cut to it.
        assert_eq!(renewal_time(start, end, 30 * day), start + 51 * day);
    }
}
