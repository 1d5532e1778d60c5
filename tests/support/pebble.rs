//! Debian's `pebble` (a small ACME server for tests; `.ci/run` installs it) on free loopback
//! ports, with a certificate made by rcgen for its own HTTPS, killed when dropped.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use super::{curl, dead_port, eventually};

/// A running pebble.
pub struct Pebble {
    child: tokio::process::Child,
    /// Its directory URL.
    pub directory: String,
    /// The CA file that trusts its HTTPS (for `--acme-ca` and curl).
    pub tls_ca: PathBuf,
    management: String,
}

impl Pebble {
    /// Starts pebble in `dir` with challenge validation always passing
    /// (`PEBBLE_VA_ALWAYS_VALID=1`: no port 80 or 443 can be arranged for a test's name) and
    /// no refused nonces, and waits until its directory answers.
    pub async fn start(dir: &Path) -> Pebble {
        Self::start_with_validity(dir, None).await
    }

    /// [`start`](Self::start), issuing certificates valid for `seconds` (to see renewals).
    pub async fn start_with_validity(dir: &Path, seconds: Option<u64>) -> Pebble {
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
            "httpPort": dead_port().port(),
            "tlsPort": dead_port().port(),
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false
        }});
        if let Some(seconds) = seconds {
            json["pebble"]["certificateValidityPeriod"] = seconds.into();
        }
        std::fs::write(&config, json.to_string()).unwrap();
        let child = tokio::process::Command::new("pebble")
            .arg("-config")
            .arg(&config)
            .env("PEBBLE_VA_ALWAYS_VALID", "1")
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("pebble runs (apt-get install pebble; .ci/run does it)");
        let pebble = Pebble {
            child,
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
