//! Debian's `pebble` (a small ACME server for tests; `.ci/run` installs it) on free loopback
//! ports, with a certificate made by rcgen for its own HTTPS, killed when dropped.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use super::{curl, dead_port, eventually};

/// A running pebble (and, validating for real, its `pebble-challtestsrv` DNS server).
pub struct Pebble {
    child: tokio::process::Child,
    _dns: Option<tokio::process::Child>,
    /// Its directory URL.
    pub directory: String,
    /// The CA file that trusts its HTTPS (for `--acme-ca` and curl).
    pub tls_ca: PathBuf,
    management: String,
}

impl Pebble {
    /// Starts pebble in `dir` with challenge validation always passing
    /// (`PEBBLE_VA_ALWAYS_VALID=1`) and no refused nonces, and waits until its directory
    /// answers. [`start_validating`](Self::start_validating) validates for real.
    pub async fn start(dir: &Path) -> Pebble {
        Self::start_with_validity(dir, None).await
    }

    /// [`start`](Self::start), issuing certificates valid for `seconds` (to see renewals).
    pub async fn start_with_validity(dir: &Path, seconds: Option<u64>) -> Pebble {
        Self::launch(dir, seconds, None).await
    }

    /// Starts pebble validating challenges for real: HTTP-01 requests go to 127.0.0.1 on
    /// `http_port`, TLS-ALPN-01 handshakes on `tls_port` (every name resolves to 127.0.0.1
    /// through `pebble-challtestsrv`, from the same Debian package, answering DNS on a free
    /// port with its own challenge servers off).
    pub async fn start_validating(dir: &Path, http_port: u16, tls_port: u16) -> Pebble {
        Self::launch(dir, None, Some((http_port, tls_port))).await
    }

    /// [`start_validating`](Self::start_validating), issuing certificates valid for
    /// `seconds` (to see renewals validated for real).
    pub async fn start_validating_with_validity(
        dir: &Path,
        (http_port, tls_port): (u16, u16),
        seconds: u64,
    ) -> Pebble {
        Self::launch(dir, Some(seconds), Some((http_port, tls_port))).await
    }

    async fn launch(dir: &Path, seconds: Option<u64>, ports: Option<(u16, u16)>) -> Pebble {
        let certified =
            rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
                .unwrap();
        let tls_ca = dir.join("pebble-tls.pem");
        let key = dir.join("pebble-tls.key");
        std::fs::write(&tls_ca, certified.cert.pem()).unwrap();
        std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
        let (listen, management) = (dead_port(), dead_port());
        let config = dir.join("pebble.json");
        let mut json = serde_json::json!({ "pebble": {
            "listenAddress": listen.to_string(),
            "managementListenAddress": management.to_string(),
            "certificate": tls_ca,
            "privateKey": key,
            "httpPort": ports.map_or_else(|| dead_port().port(), |p| p.0),
            "tlsPort": ports.map_or_else(|| dead_port().port(), |p| p.1),
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false
        }});
        if let Some(seconds) = seconds {
            json["pebble"]["certificateValidityPeriod"] = seconds.into();
        }
        std::fs::write(&config, json.to_string()).unwrap();
        let mut pebble = tokio::process::Command::new("pebble");
        pebble.arg("-config").arg(&config);
        let dns = match ports {
            Some(_) => {
                let dns = dead_port();
                pebble.arg("-dnsserver").arg(dns.to_string());
                Some(challtestsrv(dns).await)
            }
            None => {
                pebble.env("PEBBLE_VA_ALWAYS_VALID", "1");
                None
            }
        };
        let child = pebble
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("pebble runs (apt-get install pebble; .ci/run does it)");
        let pebble = Pebble {
            child,
            _dns: dns,
            directory: format!("https://{listen}/dir"),
            tls_ca,
            management: format!("https://{management}"),
        };
        let up = eventually(async || tokio::net::TcpStream::connect(listen).await.is_ok()).await;
        assert!(up, "pebble did not listen on {listen}");
        pebble
    }

    /// The root of the certificates pebble issues (made at its start), written to `path`.
    pub async fn root(&self, path: &Path) -> PathBuf {
        let ca = self.tls_ca.to_str().unwrap();
        let res = curl(&["--cacert", ca, &format!("{}/roots/0", self.management)]).await;
        assert_eq!(res.status, 200, "{res:?}");
        std::fs::write(path, &res.body).unwrap();
        path.to_owned()
    }

    /// Stops pebble (a CA that is down).
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// `pebble-challtestsrv` answering every A query with 127.0.0.1 (and no AAAA) on `dns`, UDP
/// and TCP, with its challenge servers off; killed when dropped.
async fn challtestsrv(dns: std::net::SocketAddr) -> tokio::process::Child {
    let child = tokio::process::Command::new("pebble-challtestsrv")
        .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""])
        .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
        .arg("-dns01")
        .arg(dns.to_string())
        .arg("-management")
        .arg(dead_port().to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("pebble-challtestsrv runs (in Debian's pebble package)");
    let up = eventually(async || tokio::net::TcpStream::connect(dns).await.is_ok()).await;
    assert!(up, "pebble-challtestsrv did not listen on {dns}");
    child
}

/// A TLS client that trusts the certificates in `roots` (PEM) and no others.
#[cfg(feature = "tls")]
pub fn tls_connector(roots: &[u8]) -> tokio_rustls::TlsConnector {
    let mut store = rustls::RootCertStore::empty();
    use super::{CertificateDer, PemObject};
    for cert in CertificateDer::pem_slice_iter(roots) {
        store.add(cert.unwrap()).unwrap();
    }
    let provider = std::sync::Arc::new(super::tls_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(store)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
}

/// A TLS connection to `addr` for `name`, trusting `root`: the certificate it was shown and an
/// HTTP/1.1 sender that keeps the connection.
#[cfg(feature = "tls")]
pub async fn tls_connect(
    root: &Path,
    addr: &str,
    name: &str,
) -> (
    Vec<u8>,
    hyper::client::conn::http1::SendRequest<http_body_util::Empty<bytes::Bytes>>,
) {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from(name.to_owned()).unwrap();
    let tls = tls_connector(&std::fs::read(root).unwrap())
        .connect(name, tcp)
        .await
        .unwrap();
    let shown = tls.get_ref().1.peer_certificates().unwrap()[0].to_vec();
    let (sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    (shown, sender)
}
