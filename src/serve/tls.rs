//! TLS termination with rustls: PEM files in, a `TlsAcceptor` offering h2 and http/1.1 out.

use std::io;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use super::TlsConfig;

/// Builds the acceptor, failing with an error that names the file at fault.
pub(crate) async fn acceptor(config: &TlsConfig) -> io::Result<TlsAcceptor> {
    let certs = certs(&config.cert).await?;
    let key = key(&config.key).await?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "TLS certificate {} and key {} do not fit together: {e}",
                    config.cert.display(),
                    config.key.display()
                ),
            )
        })?;
    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(server)))
}

async fn read(path: &Path, what: &str) -> io::Result<Vec<u8>> {
    tokio::fs::read(path).await.map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot read the TLS {what} file {}: {e}", path.display()),
        )
    })
}

fn invalid(path: &Path, message: impl std::fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("TLS file {}: {message}", path.display()),
    )
}

async fn certs(path: &Path) -> io::Result<Vec<CertificateDer<'static>>> {
    let pem = read(path, "certificate").await?;
    let certs = rustls_pemfile::certs(&mut pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(path, e))?;
    if certs.is_empty() {
        return Err(invalid(
            path,
            "no PEM certificate (BEGIN CERTIFICATE) in it",
        ));
    }
    Ok(certs)
}

async fn key(path: &Path) -> io::Result<PrivateKeyDer<'static>> {
    let pem = read(path, "key").await?;
    let text = String::from_utf8_lossy(&pem);
    if text.contains("BEGIN ENCRYPTED PRIVATE KEY") || text.contains("Proc-Type: 4,ENCRYPTED") {
        return Err(invalid(
            path,
            format!(
                "the private key is encrypted with a passphrase, which tollgate cannot ask for; \
                 decrypt it once with `openssl pkey -in {0} -out {0}.plain` (then `chmod 600` \
                 it) and point the configuration at the decrypted file",
                path.display()
            ),
        ));
    }
    rustls_pemfile::private_key(&mut pem.as_slice())
        .map_err(|e| invalid(path, e))?
        .ok_or_else(|| invalid(path, "no PEM private key (BEGIN PRIVATE KEY) in it"))
}
