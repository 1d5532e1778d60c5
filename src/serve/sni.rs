//! The certificates of a TLS listener, chosen by the name the client asks for (SNI), and
//! replaced when their files change.
//!
//! `cert`/`key` is the default, served to every name no other certificate holds (and to
//! clients that send no name); each of `certs` is served to the DNS names of its leaf
//! (subject alternative names, `*.example.com` for one label). Without a default, a name no
//! certificate holds gets a TLS alert (`handshake_failure`): never another name's certificate.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use super::TlsConfig;
use crate::pem;

/// Every certificate of a listener, by name.
#[derive(Debug, Default)]
pub(crate) struct Certs {
    default: Option<Arc<CertifiedKey>>,
    /// Lowercase DNS names, `*.example.com` wildcards as written.
    by_name: HashMap<String, Arc<CertifiedKey>>,
}

impl Certs {
    /// The certificate for `name`: its own, a wildcard's one label up, else the default.
    fn for_name(&self, name: &str) -> Option<Arc<CertifiedKey>> {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        let wildcard = name
            .split_once('.')
            .map(|(_, parent)| format!("*.{parent}"));
        self.by_name
            .get(&name)
            .or_else(|| self.by_name.get(wildcard.as_deref()?))
            .or(self.default.as_ref())
            .cloned()
    }
}

/// The ALPN protocol of the TLS-ALPN-01 challenge (RFC 8737).
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

/// The TLS-ALPN-01 challenge certificates of the ACME orders in flight, by name.
static TLS_ALPN_CHALLENGES: RwLock<BTreeMap<String, Arc<CertifiedKey>>> =
    RwLock::new(BTreeMap::new());

/// Serves `cert` (a TLS-ALPN-01 challenge certificate and its key) on every TLS listener of
/// this process to handshakes for `name` that offer only the `acme-tls/1` protocol (the CA's);
/// `None` stops. Other handshakes never see it.
///
/// # Errors
///
/// When the key cannot be used.
pub fn set_tls_alpn_challenge(
    name: &str,
    cert: Option<(
        rustls::pki_types::CertificateDer<'static>,
        rustls::pki_types::PrivateKeyDer<'static>,
    )>,
) -> io::Result<()> {
    let certified = match cert {
        Some((cert, key)) => {
            // Not `from_der`: its check parses the certificate with webpki, which refuses the
            // critical `acmeIdentifier` extension a challenge certificate must have.
            let provider = pem::provider();
            let key = provider
                .key_provider
                .load_private_key(key)
                .map_err(io::Error::other)?;
            Some(Arc::new(CertifiedKey::new(vec![cert], key)))
        }
        None => None,
    };
    let mut challenges = TLS_ALPN_CHALLENGES
        .write()
        .map_err(|_| io::Error::other("poisoned"))?;
    let name = name.to_ascii_lowercase();
    match certified {
        Some(certified) => challenges.insert(name, certified),
        None => challenges.remove(&name),
    };
    Ok(())
}

/// The TLS-ALPN-01 challenge certificate for the handshake `hello`, when it is the CA's.
pub fn tls_alpn_challenge(hello: &ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
    let mut protocols = hello.alpn()?;
    let only_acme = protocols.next() == Some(ACME_TLS_ALPN) && protocols.next().is_none();
    let name = hello
        .server_name()?
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let challenges = TLS_ALPN_CHALLENGES.read().ok()?;
    only_acme.then(|| challenges.get(&name).cloned()).flatten()
}

/// The `(cert, key)` file pairs of `config`: the default first (when set), then `certs`.
fn pairs(config: &TlsConfig) -> Vec<(PathBuf, PathBuf)> {
    let default =
        (!config.cert.as_os_str().is_empty()).then(|| (config.cert.clone(), config.key.clone()));
    default
        .into_iter()
        .chain(config.certs.iter().map(|p| (p.cert.clone(), p.key.clone())))
        .collect()
}

/// What the files of every pair hold now (empty for a file that cannot be read).
async fn read_all(pairs: &[(PathBuf, PathBuf)]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::with_capacity(pairs.len());
    for (cert, key) in pairs {
        let cert = tokio::fs::read(cert).await.unwrap_or_default();
        out.push((cert, tokio::fs::read(key).await.unwrap_or_default()));
    }
    out
}

/// Loads every pair of `config` (read as `files`), each checked to fit together.
fn load(
    config: &TlsConfig,
    pairs: &[(PathBuf, PathBuf)],
    files: &[(Vec<u8>, Vec<u8>)],
    provider: &CryptoProvider,
) -> io::Result<Certs> {
    let mut certs = Certs::default();
    let has_default = !config.cert.as_os_str().is_empty();
    for (i, ((cert_path, key_path), (cert, key))) in pairs.iter().zip(files).enumerate() {
        let chain = pem::certs(cert_path, cert)?;
        let names = dns_names(cert_path, &chain)?;
        let key = pem::key(key_path, key)?;
        let certified = Arc::new(certified(cert_path, key_path, chain, key, provider)?);
        if i == 0 && has_default {
            certs.default = Some(certified);
            continue;
        }
        for name in names {
            certs
                .by_name
                .entry(name)
                .or_insert_with(|| Arc::clone(&certified));
        }
    }
    Ok(certs)
}

/// The DNS names of the leaf of `chain`, lowercase.
fn dns_names(
    path: &Path,
    chain: &[rustls::pki_types::CertificateDer<'_>],
) -> io::Result<Vec<String>> {
    use x509_parser::extensions::GeneralName;
    let bad = |e: String| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("TLS certificate {}: {e}", path.display()),
        )
    };
    let leaf = chain.first().ok_or_else(|| bad("no certificate".into()))?;
    let (_, cert) = x509_parser::parse_x509_certificate(leaf).map_err(|e| bad(e.to_string()))?;
    let san = cert
        .subject_alternative_name()
        .map_err(|e| bad(e.to_string()))?;
    Ok(san
        .map(|san| {
            san.value
                .general_names
                .iter()
                .filter_map(|n| match n {
                    GeneralName::DNSName(d) => Some(d.to_ascii_lowercase()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default())
}

/// The certificate and key as rustls serves them, checked to fit together.
pub(crate) fn certified(
    cert: &Path,
    key_path: &Path,
    chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    key: rustls::pki_types::PrivateKeyDer<'static>,
    provider: &CryptoProvider,
) -> io::Result<CertifiedKey> {
    CertifiedKey::from_der(chain, key, provider).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "TLS certificate {} and key {} do not fit together: {e}",
                cert.display(),
                key_path.display()
            ),
        )
    })
}

/// How often a listener looks at its certificate files for a new certificate.
const FILE_CHECK: std::time::Duration = std::time::Duration::from_secs(2);

/// The listener's certificates, replaced when their files change: connections already open
/// keep the one they started with, new handshakes get the new one.
#[derive(Debug)]
pub(crate) struct Reloading {
    current: std::sync::RwLock<Arc<Certs>>,
}

impl ResolvesServerCert for Reloading {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        if hello
            .alpn()
            .is_some_and(|mut p| p.any(|p| p == ACME_TLS_ALPN))
        {
            return tls_alpn_challenge(&hello);
        }
        let certs = Arc::clone(&*self.current.read().ok()?);
        match hello.server_name() {
            Some(name) => certs.for_name(name),
            None => certs.default.clone(),
        }
    }
}

/// Loads the certificates of `config` and keeps them current: every [`FILE_CHECK`], while the
/// listener lives, files that changed (a renewal by ACME, certbot or a person) are loaded
/// and swapped in; files that do not load are logged and the old certificates stay.
///
/// # Errors
///
/// The first pair that does not load, naming its file.
pub(crate) async fn reloading(
    config: &TlsConfig,
    provider: Arc<CryptoProvider>,
) -> io::Result<Arc<Reloading>> {
    let pairs = pairs(config);
    let mut seen = Vec::with_capacity(pairs.len());
    for (cert, key) in &pairs {
        let cert = pem::read_async(cert, "certificate").await?;
        seen.push((cert, pem::read_async(key, "key").await?));
    }
    let certs = load(config, &pairs, &seen, &provider)?;
    let resolver = Arc::new(Reloading {
        current: std::sync::RwLock::new(Arc::new(certs)),
    });
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return Ok(resolver);
    };
    let (config, weak) = (config.clone(), Arc::downgrade(&resolver));
    runtime.spawn(async move {
        loop {
            tokio::time::sleep(FILE_CHECK).await;
            let Some(resolver) = weak.upgrade() else { return };
            let now = read_all(&pairs).await;
            if now == seen || now.iter().any(|(c, k)| c.is_empty() || k.is_empty()) {
                continue;
            }
            let changed = now.iter().zip(&seen).position(|(a, b)| a != b).unwrap_or(0);
            seen = now;
            match load(&config, &pairs, &seen, &provider) {
                Ok(certs) => {
                    if let Ok(mut current) = resolver.current.write() {
                        *current = Arc::new(certs);
                    }
                    let cert = pairs.get(changed).map(|(cert, _)| cert.display());
                    tracing::info!(cert = %cert.map(|c| c.to_string()).unwrap_or_default(), "serving the new TLS certificate");
                }
                Err(e) => tracing::error!(
                    error = %e,
                    "the new TLS certificate files do not load; still serving the previous one"
                ),
            }
        }
    });
    Ok(resolver)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn certified(name: &str) -> Arc<CertifiedKey> {
        let made = rcgen::generate_simple_self_signed(vec![name.to_owned()]).unwrap();
        let key =
            rustls::pki_types::PrivateKeyDer::try_from(made.signing_key.serialize_der()).unwrap();
        let provider = pem::provider();
        Arc::new(CertifiedKey::from_der(vec![made.cert.der().clone()], key, &provider).unwrap())
    }

    #[test]
    fn a_name_gets_its_own_its_wildcard_or_the_default_else_none() {
        let (exact, wild) = (certified("a.example"), certified("*.w.example"));
        let mut certs = Certs::default();
        certs.by_name.insert("a.example".into(), Arc::clone(&exact));
        certs
            .by_name
            .insert("*.w.example".into(), Arc::clone(&wild));
        let chosen = |name: &str, certs: &Certs| certs.for_name(name);
        assert!(Arc::ptr_eq(&chosen("A.Example.", &certs).unwrap(), &exact));
        assert!(Arc::ptr_eq(&chosen("x.w.example", &certs).unwrap(), &wild));
        // One label only, as browsers match wildcards.
        assert!(chosen("y.x.w.example", &certs).is_none());
        assert!(chosen("w.example", &certs).is_none());
        assert!(chosen("b.example", &certs).is_none());
        let fallback = certified("default.example");
        certs.default = Some(Arc::clone(&fallback));
        assert!(Arc::ptr_eq(
            &chosen("b.example", &certs).unwrap(),
            &fallback
        ));
    }
}
