//! PEM certificate chains and private keys read from files, with errors that name the file
//! and say what to do: the one reader of TLS files, for the server's certificate, the CA that
//! client certificates are checked against, and the client certificate the proxy presents to
//! upstreams. Also the one place the cryptography behind every TLS configuration is chosen.

use std::io;
use std::path::Path;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The cryptography of every TLS configuration tollgate builds (server, SNI, upstream client,
/// ACME challenge): *ring*'s, with its default cipher suites and key exchanges.
///
/// rustls 0.23.48 deprecated this constructor because *ring* has no post-quantum key exchange;
/// aws-lc-rs has one, but builds the AWS-LC C library and is not what the benchmarks measured.
/// Moving to it is a change of this function and of `Cargo.toml`'s features (`docs/tls.md`).
pub(crate) fn provider() -> CryptoProvider {
    #[allow(deprecated)]
    rustls::crypto::ring::default_provider()
}

/// Reads `path` (what it holds named by `what`, e.g. `certificate`) on the calling thread.
#[cfg(feature = "proxy")]
pub(crate) fn read(path: &Path, what: &str) -> io::Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| unreadable(path, what, e))
}

/// Reads `path` on the blocking pool.
pub(crate) async fn read_async(path: &Path, what: &str) -> io::Result<Vec<u8>> {
    tokio::fs::read(path)
        .await
        .map_err(|e| unreadable(path, what, e))
}

fn unreadable(path: &Path, what: &str, e: io::Error) -> io::Error {
    io::Error::new(
        e.kind(),
        format!("cannot read the TLS {what} file {}: {e}", path.display()),
    )
}

fn invalid(path: &Path, message: impl std::fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("TLS file {}: {message}", path.display()),
    )
}

/// The certificates of `pem` (the contents of `path`); at least one.
pub(crate) fn certs(path: &Path, pem: &[u8]) -> io::Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_slice_iter(pem)
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

/// The private key of `pem` (the contents of `path`), refused with advice when encrypted.
pub(crate) fn key(path: &Path, pem: &[u8]) -> io::Result<PrivateKeyDer<'static>> {
    let text = String::from_utf8_lossy(pem);
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
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| match e {
        pem::Error::NoItemsFound => invalid(path, "no PEM private key (BEGIN PRIVATE KEY) in it"),
        e => invalid(path, e),
    })
}

/// A root store holding every certificate of the CA file `path`.
pub(crate) fn roots(path: &Path, pem: &[u8]) -> io::Result<rustls::RootCertStore> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in certs(path, pem)? {
        roots
            .add(cert)
            .map_err(|e| invalid(path, format!("not a usable CA certificate: {e}")))?;
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_says_what_is_missing() {
        let e = certs(Path::new("c.pem"), b"").unwrap_err();
        assert!(e.to_string().contains("no PEM certificate"), "{e}");
        let e = key(Path::new("k.pem"), b"").unwrap_err();
        assert!(e.to_string().contains("no PEM private key"), "{e}");
    }

    #[test]
    fn an_encrypted_key_says_how_to_decrypt_it() {
        let pem =
            b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
        let e = key(Path::new("k.pem"), pem).unwrap_err();
        assert!(e.to_string().contains("openssl pkey -in k.pem"), "{e}");
    }
}
