//! [`ProxyConfig`]: every option of the proxy, with its default, as the CLI's file spells it.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use super::next_hop::ForwardedHeaders;

/// What the upstream is told the `Host` was.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum HostPolicy {
    /// `Host` is the upstream's own authority (nginx's `proxy_set_header Host $proxy_host`);
    /// the client's host travels in `X-Forwarded-Host`. The default: virtual-hosted and
    /// `https://` upstreams answer only to their own name.
    #[default]
    Rewrite,
    /// `Host` is passed as the client sent it (Caddy's default), for upstreams that build
    /// absolute URLs from it.
    Preserve,
}

/// The proxy's options. Every field has a documented default; in a TOML file unknown keys are
/// errors, so a typo never silently changes behaviour.
///
/// ```
/// use std::time::Duration;
/// use tollgate::proxy::{HostPolicy, ProxyConfig};
///
/// let config: ProxyConfig = serde_json::from_str(r#"{
///     "host": "preserve", "connect_timeout": "2s", "max_body": "10M"
/// }"#).unwrap();
/// assert_eq!(config.host, HostPolicy::Preserve);
/// assert_eq!(config.connect_timeout, Duration::from_secs(2));
/// assert_eq!(config.max_body, Some(10 * 1024 * 1024));
/// assert_eq!(config.first_byte_timeout, Duration::from_secs(60));
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct ProxyConfig {
    /// What `Host` the upstream sees. Default is [`HostPolicy::Rewrite`].
    pub host: HostPolicy,
    /// Which forwarded headers are added. Default is [`ForwardedHeaders::XForwarded`].
    pub forwarded: ForwardedHeaders,
    /// The pseudonym this hop adds to `Via` in both directions, or `None` for no `Via`.
    /// Default is `"tollgate"`.
    pub via: Option<String>,
    /// How long connecting to the upstream (TCP) may take before the answer is `504`.
    /// Default is `10s`.
    #[serde(deserialize_with = "crate::syntax::duration::deserialize")]
    pub connect_timeout: Duration,
    /// How long the upstream may take to start its answer once the request (body included)
    /// was sent, before the answer is `504` (nginx's `proxy_read_timeout`). Default is `60s`.
    #[serde(deserialize_with = "crate::syntax::duration::deserialize")]
    pub first_byte_timeout: Duration,
    /// How long a body may stall in either direction: the upstream's answer body mid-stream
    /// (then the client's connection is cut), or the upload while the upstream does not take it
    /// (`504`). Default is `60s`.
    #[serde(deserialize_with = "crate::syntax::duration::deserialize")]
    pub idle_timeout: Duration,
    /// How long to wait for the upstream's `100 Continue` before sending a body the client
    /// announced with `Expect: 100-continue` anyway (as curl does). Default is `1s`.
    #[serde(deserialize_with = "crate::syntax::duration::deserialize")]
    pub expect_continue_timeout: Duration,
    /// The largest request body forwarded, in bytes (`"10M"`, `"1G"` or a number): a
    /// `Content-Length` above it is refused with `413` before anything reaches the upstream,
    /// a chunked body is cut with `413` when it passes it. Default is `None`: no limit, the
    /// body streams through whatever its size.
    #[serde(deserialize_with = "size")]
    pub max_body: Option<u64>,
    /// Rewrite `Location`, `Content-Location` and `Refresh` naming the upstream or its base path
    /// to the public address and prefix. Default is `true`.
    pub rewrite_redirects: bool,
    /// Rewrite `Set-Cookie` `Domain` and `Path` the same way. Default is `true`.
    pub rewrite_cookies: bool,
    /// Speak HTTP/2 to upstreams (prior knowledge on `http://`, ALPN `h2` on `https://`).
    /// Default is `false`: HTTP/1.1.
    pub http2: bool,
    /// A PEM file of extra CA certificates trusted for `https://` upstreams, on top of the
    /// webpki roots (Mozilla's list). Default is `None`.
    pub ca_file: Option<PathBuf>,
    /// A PEM certificate chain presented to `https://` upstreams that ask for a client
    /// certificate (mutual TLS), with [`tls_client_key`](Self::tls_client_key). Default is
    /// `None`: none presented.
    pub tls_client_cert: Option<PathBuf>,
    /// The PEM private key of [`tls_client_cert`](Self::tls_client_cert). Default is `None`.
    pub tls_client_key: Option<PathBuf>,
    /// How long an idle pooled upstream connection is kept. Default is `90s`.
    #[serde(deserialize_with = "crate::syntax::duration::deserialize")]
    pub pool_idle_timeout: Duration,
    /// The most idle connections kept per upstream (per worker thread when each worker runs
    /// its own runtime, as `tollgate proxy` does). Default is `1024`.
    pub pool_max_idle: usize,
    /// The header that tells the upstream who authenticated (from the auth layer), or `None`.
    /// A client-sent header of that name is always removed. Default is `"X-Forwarded-User"`.
    pub user_header: Option<String>,
    /// Pass `Authorization` on to the upstream after the gateway authenticated the request
    /// with it. Default is `false`: the upstream never sees the password.
    pub pass_authorization: bool,
    /// Show clients why the upstream failed (its URL and the cause) in `502`/`504` pages, for
    /// development. Default is `false`: clients get the status, a short reason that names
    /// nothing internal and the request id (when the request-id rule is on); the upstream and
    /// the cause go to the log only.
    pub expose_errors: bool,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        ProxyConfig {
            host: HostPolicy::default(),
            forwarded: ForwardedHeaders::default(),
            via: Some("tollgate".to_owned()),
            connect_timeout: Duration::from_secs(10),
            first_byte_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(60),
            expect_continue_timeout: Duration::from_secs(1),
            max_body: None,
            rewrite_redirects: true,
            rewrite_cookies: true,
            http2: false,
            ca_file: None,
            tls_client_cert: None,
            tls_client_key: None,
            pool_idle_timeout: Duration::from_secs(90),
            pool_max_idle: 1024,
            user_header: Some("X-Forwarded-User".to_owned()),
            pass_authorization: false,
            expose_errors: false,
        }
    }
}

pub use crate::syntax::size::{parse_size, SizeError};

fn size<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    crate::syntax::size::deserialize_option(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_refused() {
        let err = serde_json::from_str::<ProxyConfig>(r#"{"conect_timeout": "1s"}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
    }

    #[test]
    fn numbers_and_nulls() {
        let c: ProxyConfig =
            serde_json::from_str(r#"{"idle_timeout": 5, "max_body": 100, "via": null}"#).unwrap();
        assert_eq!(c.idle_timeout, Duration::from_secs(5));
        assert_eq!(c.max_body, Some(100));
        assert_eq!(c.via, None);
    }
}
