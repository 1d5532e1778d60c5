//! TLS-ALPN-01 (RFC 8737): the challenge certificate every TLS listener of the process shows
//! the CA ([`serve::set_tls_alpn_challenge`](crate::serve::set_tls_alpn_challenge)), and a
//! responder for the TLS port while no listener is up yet (the first order, before serving).

use std::sync::Arc;

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::task::JoinHandle;

use super::AcmeError;

/// Shows the CA, for `name`, a self-signed certificate with the `acmeIdentifier` extension
/// holding `digest` (the SHA-256 of the key authorization).
pub(super) fn offer(name: &str, digest: &[u8]) -> Result<(), AcmeError> {
    let failed = |e: rcgen::Error| AcmeError::with("no TLS-ALPN-01 certificate can be made", e);
    let mut params = rcgen::CertificateParams::new(vec![name.to_owned()]).map_err(failed)?;
    params
        .custom_extensions
        .push(rcgen::CustomExtension::new_acme_identifier(digest));
    let key = rcgen::KeyPair::generate().map_err(failed)?;
    let cert = params.self_signed(&key).map_err(failed)?;
    let key = rustls::pki_types::PrivatePkcs8KeyDer::from(key.serialize_der());
    crate::serve::set_tls_alpn_challenge(name, Some((cert.der().clone(), key.into())))?;
    Ok(())
}

/// Answers TLS-ALPN-01 handshakes on `bind` until dropped (then the address is free for the
/// listener): for the first order, before the TLS listener serves.
#[derive(Debug)]
pub struct TlsAlpnResponder(JoinHandle<()>);

impl Drop for TlsAlpnResponder {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Only the challenge certificates.
#[derive(Debug)]
struct ChallengesOnly;

impl ResolvesServerCert for ChallengesOnly {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        crate::serve::tls_alpn_challenge(&hello)
    }
}

/// Starts a [`TlsAlpnResponder`] on `bind`.
///
/// # Errors
///
/// When `bind` cannot be bound.
pub async fn answer_tls_alpn(bind: &str) -> std::io::Result<TlsAlpnResponder> {
    let listener = crate::serve::listen(bind).await?;
    let provider = Arc::new(crate::pem::provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(std::io::Error::other)?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(ChallengesOnly));
    config.alpn_protocols = vec![crate::serve::ACME_TLS_ALPN.to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    Ok(TlsAlpnResponder(tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let handshake = acceptor.accept(stream);
            tokio::spawn(tokio::time::timeout(
                std::time::Duration::from_secs(10),
                handshake,
            ));
        }
    })))
}
