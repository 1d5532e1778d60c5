//! The pooled keep-alive clients the proxy forwards through: its own HTTP/1.1 pool
//! ([`super::pool`]) and, for HTTP/2 upstreams, hyper-util's legacy client; rustls for
//! `https://` upstreams under the `tls` feature.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use super::config::ProxyConfig;
use super::pool::Pool;
use super::upstream::Upstream;
use crate::body::BoxError;

/// The body type sent upstream: whatever the client's body was, boxed once.
pub(crate) type UpstreamBody = UnsyncBoxBody<Bytes, BoxError>;

#[cfg(feature = "tls")]
pub(crate) type Connector = hyper_rustls::HttpsConnector<HttpConnector>;
#[cfg(not(feature = "tls"))]
pub(crate) type Connector = HttpConnector;

/// How requests reach one upstream.
pub(crate) enum UpstreamClient {
    /// HTTP/1.1: the proxy's own per-thread pool of connections.
    Http1(Arc<Pool>),
    /// HTTP/2 (`http2 = true`): hyper-util's client, which multiplexes on one connection.
    Http2(Box<Client<Connector, UpstreamBody>>),
}

impl UpstreamClient {
    /// Whether the upstream is known to speak HTTP/1.0 (its last answer said so).
    pub(crate) fn speaks_http10(&self) -> bool {
        match self {
            UpstreamClient::Http1(pool) => pool.speaks_http10(),
            UpstreamClient::Http2(_) => false,
        }
    }
}

/// Why a proxy could not be built.
#[derive(Debug)]
#[non_exhaustive]
pub enum ProxyBuildError {
    /// The `ca_file` could not be read.
    CaFile {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The `ca_file` held no usable certificate.
    CaFileEmpty {
        /// The file.
        path: PathBuf,
    },
    /// rustls refused the configuration.
    #[cfg(feature = "tls")]
    Tls(rustls::Error),
    /// The client certificate or key (`tls_client_cert`, `tls_client_key`) cannot be used;
    /// the error names the file and the reason.
    ClientCert(std::io::Error),
    /// `user_header` is not a valid header name.
    UserHeader {
        /// The name as configured.
        name: String,
    },
}

impl fmt::Display for ProxyBuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProxyBuildError::CaFile { path, .. } => {
                write!(f, "cannot read the CA file {}", path.display())
            }
            ProxyBuildError::CaFileEmpty { path } => write!(
                f,
                "the CA file {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                path.display()
            ),
            #[cfg(feature = "tls")]
            ProxyBuildError::Tls(_) => f.write_str("invalid TLS client configuration"),
            ProxyBuildError::ClientCert(_) => {
                f.write_str("cannot use the client certificate for upstreams")
            }
            ProxyBuildError::UserHeader { name } => write!(
                f,
                "user_header `{name}` is not a header name; use letters, digits and `-` \
                 (e.g. `X-Remote-User`)"
            ),
        }
    }
}

impl std::error::Error for ProxyBuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ProxyBuildError::CaFile { source, .. } | ProxyBuildError::ClientCert(source) => {
                Some(source)
            }
            #[cfg(feature = "tls")]
            ProxyBuildError::Tls(e) => Some(e),
            ProxyBuildError::CaFileEmpty { .. } | ProxyBuildError::UserHeader { .. } => None,
        }
    }
}

pub(crate) fn build(
    config: &ProxyConfig,
    upstream: &Upstream,
) -> Result<UpstreamClient, ProxyBuildError> {
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    http.set_connect_timeout(Some(config.connect_timeout));
    http.enforce_http(false);
    let connector = wrap_tls(http, config)?;
    if !config.http2 {
        let dial = http::Uri::builder()
            .scheme(upstream.scheme().clone())
            .authority(upstream.authority())
            .path_and_query("/")
            .build()
            .expect("an upstream's scheme and authority make a URI");
        return Ok(UpstreamClient::Http1(Arc::new(Pool::new(
            connector,
            dial,
            config.pool_max_idle,
            config.pool_idle_timeout,
        ))));
    }
    let mut builder = Client::builder(TokioExecutor::new());
    builder
        .pool_timer(TokioTimer::new())
        .timer(TokioTimer::new())
        .pool_idle_timeout(config.pool_idle_timeout)
        .pool_max_idle_per_host(config.pool_max_idle)
        .http2_only(true);
    Ok(UpstreamClient::Http2(Box::new(builder.build(connector))))
}

#[cfg(not(feature = "tls"))]
fn wrap_tls(http: HttpConnector, config: &ProxyConfig) -> Result<Connector, ProxyBuildError> {
    if let Some(path) = &config.ca_file {
        // Checked anyway so a typo is reported even in a build that would not use it.
        std::fs::metadata(path).map_err(|source| ProxyBuildError::CaFile {
            path: path.clone(),
            source,
        })?;
    }
    Ok(http)
}

#[cfg(feature = "tls")]
fn wrap_tls(http: HttpConnector, config: &ProxyConfig) -> Result<Connector, ProxyBuildError> {
    use rustls::pki_types::{pem::PemObject, CertificateDer};

    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = &config.ca_file {
        let ca_error = |source| ProxyBuildError::CaFile {
            path: path.clone(),
            source,
        };
        let pem = std::fs::read(path).map_err(ca_error)?;
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert
                .map_err(|e| ca_error(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))?;
            roots.add(cert).map_err(ProxyBuildError::Tls)?;
            added += 1;
        }
        if added == 0 {
            return Err(ProxyBuildError::CaFileEmpty { path: path.clone() });
        }
    }
    let provider = Arc::new(crate::pem::provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(ProxyBuildError::Tls)?
        .with_root_certificates(roots);
    let tls = match client_cert(config)? {
        Some((certs, key)) => tls
            .with_client_auth_cert(certs, key)
            .map_err(ProxyBuildError::Tls)?,
        None => tls.with_no_client_auth(),
    };
    let builder = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http();
    Ok(if config.http2 {
        builder.enable_http2().wrap_connector(http)
    } else {
        builder.enable_http1().wrap_connector(http)
    })
}

/// The certificate chain and key presented to upstreams that ask for one.
#[cfg(feature = "tls")]
type ClientCert = (
    Vec<rustls::pki_types::CertificateDer<'static>>,
    rustls::pki_types::PrivateKeyDer<'static>,
);

#[cfg(feature = "tls")]
fn client_cert(config: &ProxyConfig) -> Result<Option<ClientCert>, ProxyBuildError> {
    let (cert, key) = match (&config.tls_client_cert, &config.tls_client_key) {
        (None, None) => return Ok(None),
        (Some(cert), Some(key)) => (cert, key),
        (cert, _) => {
            let (set, missing) = if cert.is_some() {
                ("tls_client_cert", "tls_client_key")
            } else {
                ("tls_client_key", "tls_client_cert")
            };
            return Err(ProxyBuildError::ClientCert(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{set} is set without {missing}; set both (PEM files)"),
            )));
        }
    };
    let load = || -> std::io::Result<ClientCert> {
        let certs = crate::pem::certs(cert, &crate::pem::read(cert, "client certificate")?)?;
        Ok((
            certs,
            crate::pem::key(key, &crate::pem::read(key, "client key")?)?,
        ))
    };
    load().map(Some).map_err(ProxyBuildError::ClientCert)
}
