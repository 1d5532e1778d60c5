//! `tollgate proxy --tls self-signed`: a certificate for local use, made at start with rcgen
//! (no openssl needed), its SHA-256 fingerprint printed so a client can pin or compare it.

use std::io::Write as _;
use std::path::PathBuf;

use sha2::{Digest as _, Sha256};
use tollgate::body::BoxError;

/// A certificate and key written for this process, and the certificate's fingerprint.
pub struct SelfSigned {
    /// The PEM certificate.
    pub cert: PathBuf,
    /// The PEM private key.
    pub key: PathBuf,
    /// `AB:CD:...`, the SHA-256 of the certificate's DER.
    pub fingerprint: String,
}

/// Makes a certificate for `localhost`, `127.0.0.1`, `::1` and the host of `bind`, valid
/// from now, and writes it with its key into the private control directory (`0700`).
///
/// # Errors
///
/// The certificate cannot be made or the files written.
pub fn make(bind: &str) -> Result<SelfSigned, BoxError> {
    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    if let Some((host, _)) = tollgate::syntax::host::split_host_port(bind) {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if !host.is_empty() && !names.iter().any(|n| n == host) && host != "0.0.0.0" && host != "::"
        {
            names.push(host.to_owned());
        }
    }
    let made = rcgen::generate_simple_self_signed(names)?;
    let dir = private_dir()?;
    let pid = std::process::id();
    let cert = dir.join(format!("{pid}-self-signed-cert.pem"));
    let key = dir.join(format!("{pid}-self-signed-key.pem"));
    std::fs::write(&cert, made.cert.pem())?;
    write_private(&key, made.signing_key.serialize_pem().as_bytes())?;
    let digest = Sha256::digest(made.cert.der());
    let fingerprint = digest
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":");
    Ok(SelfSigned {
        cert,
        key,
        fingerprint,
    })
}

#[cfg(unix)]
fn private_dir() -> Result<PathBuf, BoxError> {
    Ok(tollgate::gateway::control::ensure_dir()?)
}

#[cfg(not(unix))]
fn private_dir() -> Result<PathBuf, BoxError> {
    Ok(std::env::temp_dir())
}

/// Writes `bytes` to a new file only this user can read.
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options.open(path)?.write_all(bytes)
}

impl Drop for SelfSigned {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.cert);
        let _ = std::fs::remove_file(&self.key);
    }
}
