//! [`ServeConfig`]: every limit and timeout of [`serve`](crate::serve), with its default.

use std::time::Duration;

use serde::Deserialize;

pub use crate::syntax::duration;

/// How [`serve`](crate::serve) runs: address, timeouts, connection limits, TLS.
///
/// Every field has a default (below) so a config file names only what it changes. The defaults
/// follow nginx's, a sane reference for a server facing the internet. Durations in a config
/// file are a number of seconds or a string with a unit: `"60s"`, `"500ms"`, `"2m"`, `"1h"`.
///
/// ```
/// use std::time::Duration;
/// use tollgate::serve::ServeConfig;
///
/// let config: ServeConfig = serde_json::from_str(r#"{
///     "bind": "0.0.0.0:8080",
///     "header_read_timeout": "10s",
///     "max_connections": 256
/// }"#).unwrap();
/// assert_eq!(config.header_read_timeout, Duration::from_secs(10));
/// assert_eq!(config.max_requests_per_connection, 1000);
/// ```
///
/// Build one from the defaults with struct update syntax, so fields added later keep their
/// defaults: `ServeConfig { max_connections: 64, ..ServeConfig::default() }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServeConfig {
    /// The address to listen on, `host:port`; a name is resolved and the first address that
    /// binds is used. Default is `127.0.0.1:8000`.
    pub bind: String,
    /// How long a client may go without a request in flight: the time to send a request's
    /// head, counted from the accept or the end of the previous request. Slow heads
    /// (slowloris), clients that never send a byte, idle keep-alive and idle HTTP/2
    /// connections are closed after it (HTTP/2 with a `GOAWAY`; a half-sent head is dropped
    /// up to one second later). Default is `60s` (nginx's `client_header_timeout`).
    #[serde(deserialize_with = "duration::deserialize")]
    pub header_read_timeout: Duration,
    /// How long the server waits for the next piece of a request body before failing the read
    /// (the service sees an error, which [`body::to_bytes`](crate::body::to_bytes) turns into
    /// a 400). Measured between two reads, not for the whole body. Default is `60s` (nginx's
    /// `client_body_timeout`).
    #[serde(deserialize_with = "duration::deserialize")]
    pub body_read_timeout: Duration,
    /// How long a request body may take as a whole, counted from the arrival of the request's
    /// head: a client that sends a byte just before each `body_read_timeout` cannot hold a
    /// connection for longer. Past it, the body fails as for `body_read_timeout` (the proxy
    /// answers `400` and closes the connection). `0` means no deadline. Default is `600s`
    /// (a 1 GB upload needs about 14 Mbit/s to make it).
    #[serde(deserialize_with = "duration::deserialize")]
    pub body_total_timeout: Duration,
    /// How long a write to the client may make no progress before the connection is closed.
    /// Default is `60s` (nginx's `send_timeout`).
    #[serde(deserialize_with = "duration::deserialize")]
    pub write_timeout: Duration,
    /// How long an upgraded connection (a WebSocket or other `101 Switching Protocols`
    /// tunnel) may carry no byte in either direction before both sides are closed. A
    /// WebSocket ping counts as traffic, so applications that ping more often than this are
    /// never cut. Default is `300s`.
    #[serde(deserialize_with = "duration::deserialize")]
    pub tunnel_idle_timeout: Duration,
    /// How many connections are served at once, upgraded ones (WebSocket tunnels) included
    /// until they close. At the cap, a new client makes the connection idle longest close for
    /// it (no request in flight for at least a second: kept alive between requests, or never
    /// sent one), as nginx does; while none is, further clients wait in the kernel's accept
    /// queue. Raise it together with the open-files limit (`ulimit -n`). Default is `1024`.
    pub max_connections: usize,
    /// How many requests one connection may carry; the last answer says `Connection: close`
    /// (an HTTP/2 connection gets a `GOAWAY`). `0` means no limit. Default is `1000` (nginx's
    /// `keepalive_requests`).
    pub max_requests_per_connection: usize,
    /// How many header lines an HTTP/1 request may have; more is a `431`. Default is `100`.
    pub max_headers: usize,
    /// Whether HTTP/1 connections are kept open between requests. Default is `true`.
    pub keep_alive: bool,
    /// How long a graceful shutdown waits for in-flight requests before closing the remaining
    /// connections. Default is `30s`.
    #[serde(deserialize_with = "duration::deserialize")]
    pub shutdown_timeout: Duration,
    /// Terminate TLS with this certificate and key; plain HTTP when absent. Default is `None`.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub tls: Option<TlsConfig>,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            bind: DEFAULT_BIND.to_owned(),
            header_read_timeout: Duration::from_secs(60),
            body_read_timeout: Duration::from_secs(60),
            body_total_timeout: Duration::from_secs(600),
            write_timeout: Duration::from_secs(60),
            tunnel_idle_timeout: Duration::from_secs(300),
            max_connections: 1024,
            max_requests_per_connection: 1000,
            max_headers: 100,
            keep_alive: true,
            shutdown_timeout: Duration::from_secs(30),
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

impl ServeConfig {
    /// The default configuration listening on `bind`.
    pub fn bind(bind: impl Into<String>) -> Self {
        ServeConfig {
            bind: bind.into(),
            ..ServeConfig::default()
        }
    }
}

/// The address examples and the CLI listen on when told nothing else.
pub const DEFAULT_BIND: &str = "127.0.0.1:8000";

/// The certificate chain and private key `serve` terminates TLS with.
///
/// Both are PEM files: the chain leaf first (as Let's Encrypt's `fullchain.pem`), the key in
/// PKCS#8, PKCS#1 or SEC1 form. ALPN offers `h2` and `http/1.1`. In a gateway's
/// configuration, `acme` instead of `cert` and `key` has the certificate obtained and renewed
/// from an ACME directory (the gateway fills `cert` and `key` with the files it keeps).
#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct TlsConfig {
    /// The PEM certificate chain file (empty with `acme`, until the gateway fills it).
    #[serde(default)]
    pub cert: std::path::PathBuf,
    /// The PEM private key file (empty with `acme`, until the gateway fills it).
    #[serde(default)]
    pub key: std::path::PathBuf,
    /// More certificates, each served to the DNS names of its leaf (its subject alternative
    /// names; `*.example.com` for one label), chosen by the name the client asks for (SNI).
    /// With them, `cert` and `key` are optional: when set, they are served to every other name
    /// (and to clients that send none); when not, such a client gets a TLS alert, never
    /// another name's certificate. Default is none.
    #[serde(default)]
    pub certs: Vec<CertPair>,
    /// Get the certificate from an ACME directory and keep it renewed, instead of `cert` and
    /// `key` (the gateway does it: [`gateway::Runner`](crate::gateway::Runner)). Default is
    /// `None`.
    #[cfg(feature = "acme")]
    #[cfg_attr(docsrs, doc(cfg(feature = "acme")))]
    #[serde(default)]
    pub acme: Option<crate::acme::AcmeConfig>,
    /// Ask clients for a certificate and verify it against the CA certificates of this PEM
    /// file (mutual TLS); the verified certificate names the user
    /// ([`AuthenticatedUser`](crate::ext::AuthenticatedUser), see [`client_user`](Self::client_user)).
    /// Default is `None`: no client certificates.
    #[serde(default)]
    pub client_ca: Option<std::path::PathBuf>,
    /// What happens to a client without a valid certificate when `client_ca` is set. Default
    /// is [`ClientAuth::Require`]: the handshake fails with a TLS alert.
    #[serde(default)]
    pub client_auth: ClientAuth,
    /// Which part of a verified client certificate becomes the user name. Default is
    /// [`ClientUser::Cn`]: the subject's common name.
    #[serde(default)]
    pub client_user: ClientUser,
    /// The status of the answer to a request without a valid certificate under
    /// [`ClientAuth::Request`]: `401` or `403`. Default is `403`.
    #[serde(default)]
    pub client_cert_status: ClientCertStatus,
}

#[cfg(feature = "tls")]
impl TlsConfig {
    /// A TLS configuration from a certificate chain file and a key file.
    pub fn new(cert: impl Into<std::path::PathBuf>, key: impl Into<std::path::PathBuf>) -> Self {
        TlsConfig {
            cert: cert.into(),
            key: key.into(),
            client_ca: None,
            client_auth: ClientAuth::default(),
            client_user: ClientUser::default(),
            client_cert_status: ClientCertStatus::default(),
            certs: Vec::new(),
            #[cfg(feature = "acme")]
            acme: None,
        }
    }

    /// A TLS configuration whose certificate comes from an ACME directory.
    ///
    /// ```
    /// use tollgate::acme::AcmeConfig;
    /// use tollgate::serve::TlsConfig;
    ///
    /// let tls = TlsConfig::from_acme(AcmeConfig::new(["app.example.com"]));
    /// assert!(tls.cert.as_os_str().is_empty());
    /// ```
    #[cfg(feature = "acme")]
    pub fn from_acme(acme: crate::acme::AcmeConfig) -> Self {
        TlsConfig {
            acme: Some(acme),
            ..TlsConfig::new("", "")
        }
    }

    /// Verifies client certificates against the CA file `ca`, treating clients without a
    /// valid one as `auth` says.
    ///
    /// ```
    /// use tollgate::serve::{ClientAuth, TlsConfig};
    ///
    /// let tls = TlsConfig::new("cert.pem", "key.pem").client_ca("clients-ca.pem", ClientAuth::Require);
    /// assert!(tls.client_ca.is_some());
    /// ```
    #[must_use]
    pub fn client_ca(mut self, ca: impl Into<std::path::PathBuf>, auth: ClientAuth) -> Self {
        self.client_ca = Some(ca.into());
        self.client_auth = auth;
        self
    }
}

/// One certificate of [`TlsConfig::certs`]: a PEM chain file and its key file.
#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct CertPair {
    /// The PEM certificate chain file, leaf first.
    pub cert: std::path::PathBuf,
    /// The PEM private key file.
    pub key: std::path::PathBuf,
}

#[cfg(feature = "tls")]
impl CertPair {
    /// A certificate chain file and its key file.
    pub fn new(cert: impl Into<std::path::PathBuf>, key: impl Into<std::path::PathBuf>) -> Self {
        CertPair {
            cert: cert.into(),
            key: key.into(),
        }
    }
}

/// `client_auth`: what a TLS listener with a `client_ca` does with a client that has no valid
/// certificate.
#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ClientAuth {
    /// `"require"`: the TLS handshake fails with an alert (`certificate required`, `unknown
    /// CA`, `bad certificate`, ...); no HTTP request is read.
    #[default]
    Require,
    /// `"request"`: the handshake completes; every request on the connection is answered
    /// with [`client_cert_status`](TlsConfig::client_cert_status) and a page saying what was
    /// wrong with the certificate (none, unknown CA, expired, ...), which browsers show
    /// better than an alert.
    Request,
}

/// `client_user`: the part of a verified client certificate that becomes the user name.
#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ClientUser {
    /// `"cn"`: the subject's (first) common name, e.g. `CN=alice`.
    #[default]
    Cn,
    /// `"san-email"`: the first email address (`rfc822Name`) of the subject alternative
    /// names.
    SanEmail,
    /// `"san-dns"`: the first DNS name of the subject alternative names (machine clients).
    SanDns,
    /// `"san-uri"`: the first URI of the subject alternative names (SPIFFE IDs such as
    /// `spiffe://example.org/ns/web`).
    SanUri,
}

/// `client_cert_status`: `401` or `403`, the status of requests refused for their client
/// certificate under [`ClientAuth::Request`].
#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "u16")]
pub struct ClientCertStatus(http::StatusCode);

#[cfg(feature = "tls")]
impl ClientCertStatus {
    /// The status.
    pub fn status(self) -> http::StatusCode {
        self.0
    }
}

#[cfg(feature = "tls")]
impl Default for ClientCertStatus {
    fn default() -> Self {
        ClientCertStatus(http::StatusCode::FORBIDDEN)
    }
}

#[cfg(feature = "tls")]
impl TryFrom<u16> for ClientCertStatus {
    type Error = String;

    fn try_from(status: u16) -> Result<Self, String> {
        match status {
            401 => Ok(ClientCertStatus(http::StatusCode::UNAUTHORIZED)),
            403 => Ok(ClientCertStatus(http::StatusCode::FORBIDDEN)),
            other => Err(format!(
                "client_cert_status {other} is not allowed; use 401 or 403"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_from_an_empty_config() {
        let config: ServeConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(config, ServeConfig::default());
        assert_eq!(config.bind, "127.0.0.1:8000");
    }

    #[test]
    fn unknown_fields_are_refused() {
        let err = serde_json::from_str::<ServeConfig>(r#"{"max_conections": 3}"#).unwrap_err();
        assert!(err.to_string().contains("max_conections"), "{err}");
    }

    #[test]
    fn durations_take_numbers_and_units() {
        let config: ServeConfig = serde_json::from_str(
            r#"{"header_read_timeout": 5, "body_read_timeout": "1.5s", "write_timeout": 0.25, "shutdown_timeout": "2m"}"#,
        )
        .unwrap();
        assert_eq!(config.header_read_timeout, Duration::from_secs(5));
        assert_eq!(config.body_read_timeout, Duration::from_millis(1500));
        assert_eq!(config.write_timeout, Duration::from_millis(250));
        assert_eq!(config.shutdown_timeout, Duration::from_secs(120));
    }

    #[test]
    fn bad_durations_name_the_input() {
        for bad in [r#""5 years""#, r#""-1s""#, r#""""#, r#""1e400s""#, "-3"] {
            let json = format!(r#"{{"write_timeout": {bad}}}"#);
            let err = serde_json::from_str::<ServeConfig>(&json).unwrap_err();
            assert!(
                err.to_string().contains("duration") || err.to_string().contains("invalid"),
                "{bad}: {err}"
            );
        }
    }
}
