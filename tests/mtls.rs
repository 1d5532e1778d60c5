//! Client certificates (mutual TLS) through the real `tollgate` binary and `curl
//! --cert/--key`: the certificate's CN is the user (the upstream's user header, `--allow`, the
//! access log) and cannot be forged with a header; an unknown CA or no certificate fails the
//! handshake (`require`) or gets the configured status (`request`); an upstream that asks for
//! a client certificate gets the gateway's.
#![cfg(feature = "tls")]

mod support;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use http::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use support::*;
use tokio::net::TcpListener;

/// A CA made by rcgen, written to `dir/NAME-ca.pem`, that signs server and client
/// certificates.
struct Ca {
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    pem: String,
    path: PathBuf,
}

impl Ca {
    fn new(dir: &Path, name: &str) -> Ca {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::default();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, format!("{name} test CA"));
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        let pem = params.self_signed(&key).unwrap().pem();
        let path = dir.join(format!("{name}-ca.pem"));
        std::fs::write(&path, &pem).unwrap();
        Ca {
            issuer: rcgen::Issuer::new(params, key),
            pem,
            path,
        }
    }

    /// A leaf certificate and key at `dir/NAME.pem` and `dir/NAME.key`: a client one with
    /// `CN=NAME`, or a server one for `127.0.0.1` and `localhost`.
    fn leaf(&self, dir: &Path, name: &str, server: bool) -> (PathBuf, PathBuf) {
        let key = rcgen::KeyPair::generate().unwrap();
        let sans = if server {
            vec!["127.0.0.1".to_owned(), "localhost".to_owned()]
        } else {
            Vec::new()
        };
        let mut params = rcgen::CertificateParams::new(sans).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.extended_key_usages = vec![if server {
            rcgen::ExtendedKeyUsagePurpose::ServerAuth
        } else {
            rcgen::ExtendedKeyUsagePurpose::ClientAuth
        }];
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let (cert_path, key_path) = (
            dir.join(format!("{name}.pem")),
            dir.join(format!("{name}.key")),
        );
        std::fs::write(&cert_path, cert.pem()).unwrap();
        std::fs::write(&key_path, key.serialize_pem()).unwrap();
        (cert_path, key_path)
    }
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// The test's certificates: a CA the gateway trusts for clients (and that signed its own
/// certificate), another one it does not know.
struct Pki {
    dir: tempfile::TempDir,
    ca: Ca,
    rogue: Ca,
    server: (PathBuf, PathBuf),
}

impl Pki {
    fn new() -> Pki {
        let dir = temp_dir();
        let ca = Ca::new(dir.path(), "clients");
        let rogue = Ca::new(dir.path(), "rogue");
        let server = ca.leaf(dir.path(), "server", true);
        Pki {
            dir,
            ca,
            rogue,
            server,
        }
    }

    fn client(&self, name: &str) -> (PathBuf, PathBuf) {
        self.ca.leaf(self.dir.path(), name, false)
    }

    /// `tollgate proxy` on TLS with `--client-ca` and the extra `args`, logging JSON.
    async fn gateway(&self, args: &[&str]) -> Gateway {
        let mut all = vec![
            "--log-format",
            "json",
            "proxy",
            "--tls-cert",
            s(&self.server.0),
            "--tls-key",
            s(&self.server.1),
            "--client-ca",
            s(&self.ca.path),
        ];
        all.extend_from_slice(args);
        Gateway::start(&all).await
    }

    /// curl's arguments for `path` on `gw` as the holder of `cert`.
    fn curl_args<'a>(
        &'a self,
        gw: &Gateway,
        path: &str,
        cert: Option<&'a (PathBuf, PathBuf)>,
    ) -> Vec<String> {
        let mut args = vec![
            "--cacert".to_owned(),
            s(&self.ca.path).to_owned(),
            format!("https://{}{path}", gw.addr),
        ];
        if let Some((cert, key)) = cert {
            args.extend([
                "--cert".into(),
                s(cert).into(),
                "--key".into(),
                s(key).into(),
            ]);
        }
        args
    }
}

async fn curl_as(
    pki: &Pki,
    gw: &Gateway,
    path: &str,
    cert: Option<&(PathBuf, PathBuf)>,
    extra: &[&str],
) -> Fetched {
    let mut args = pki.curl_args(gw, path, cert);
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    curl(&args.iter().map(String::as_str).collect::<Vec<_>>()).await
}

async fn curl_refused(pki: &Pki, gw: &Gateway, cert: Option<&(PathBuf, PathBuf)>) -> String {
    let args = pki.curl_args(gw, "/", cert);
    curl_error(&args.iter().map(String::as_str).collect::<Vec<_>>()).await
}

/// The `user` field of the access line for `target`.
fn logged_user(log: &str, target: &str) -> String {
    log.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|j| j["target"] == "tollgate::access" && j["fields"]["target"] == target)
        .map(|j| j["fields"]["user"].as_str().unwrap_or_default().to_owned())
        .unwrap_or_else(|| panic!("no access line for {target}:\n{log}"))
}

#[tokio::test]
async fn the_certificate_cn_is_the_user_and_cannot_be_forged() {
    let pki = Pki::new();
    let alice = pki.client("alice");
    let gw = pki.gateway(&[]).await;
    // The client also claims to be root in the header the upstream trusts: removed.
    let res = curl_as(
        &pki,
        &gw,
        "/whoami",
        Some(&alice),
        &["-H", "X-Forwarded-User: root"],
    )
    .await;
    assert_eq!(res.status, 200, "{res:?}");
    let headers = res.json()["headers"].to_string();
    assert!(
        headers.contains(r#"["x-forwarded-user","alice"]"#),
        "{headers}"
    );
    assert!(!headers.contains("root"), "{headers}");
    gw.wait_for_log("/whoami", 1).await;
    assert_eq!(logged_user(&gw.log(), "/whoami"), "alice");
}

#[tokio::test]
async fn require_refuses_no_certificate_and_an_unknown_ca_in_the_handshake() {
    let pki = Pki::new();
    let gw = pki.gateway(&[]).await;
    // curl's words vary with its TLS library and version (an alert, a reset): it fails, and
    // no request reached the gateway's service.
    curl_refused(&pki, &gw, None).await;
    let mallory = pki.rogue.leaf(pki.dir.path(), "mallory", false);
    curl_refused(&pki, &gw, Some(&mallory)).await;
    let alice = pki.client("alice");
    assert_eq!(
        curl_as(&pki, &gw, "/alice", Some(&alice), &[]).await.status,
        200
    );
    gw.wait_for_log("/alice", 1).await;
    let log = gw.log();
    let requests = log.matches(r#""target":"tollgate::access""#).count();
    assert_eq!(requests, 1, "only alice's request was read:\n{log}");
}

#[tokio::test]
async fn request_answers_the_configured_status_saying_why() {
    let pki = Pki::new();
    let alice = pki.client("alice");
    let gw = pki
        .gateway(&["--client-auth", "request", "--client-cert-status", "401"])
        .await;
    let none = curl_as(&pki, &gw, "/", None, &[]).await;
    assert_eq!(none.status, 401, "{none:?}");
    assert!(none.text().contains("sent none"), "{}", none.text());
    let mallory = pki.rogue.leaf(pki.dir.path(), "mallory", false);
    let rogue = curl_as(&pki, &gw, "/", Some(&mallory), &[]).await;
    assert_eq!(rogue.status, 401, "{rogue:?}");
    assert!(
        rogue.text().contains("not signed by the CA"),
        "{}",
        rogue.text()
    );
    assert_eq!(curl_as(&pki, &gw, "/", Some(&alice), &[]).await.status, 200);
}

#[tokio::test]
async fn allow_lists_apply_to_certificate_users() {
    let pki = Pki::new();
    let (alice, bob) = (pki.client("alice"), pki.client("bob"));
    let gw = pki.gateway(&["--allow", "alice"]).await;
    assert_eq!(curl_as(&pki, &gw, "/", Some(&alice), &[]).await.status, 200);
    assert_eq!(curl_as(&pki, &gw, "/", Some(&bob), &[]).await.status, 403);
}

/// An HTTPS upstream that requires a client certificate from `ca` and answers with the
/// number of certificates the client showed.
async fn upstream_requiring_certificates(
    pki: &Pki,
    server: &(PathBuf, PathBuf),
) -> std::net::SocketAddr {
    let certs = CertificateDer::pem_slice_iter(std::fs::read(&server.0).unwrap().as_slice())
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(std::fs::read(&server.1).unwrap().as_slice()).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_slice_iter(pki.ca.pem.as_bytes()) {
        roots.add(ca.unwrap()).unwrap();
    }
    let provider = Arc::new(tls_provider());
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        Arc::clone(&provider),
    )
    .build()
    .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let shown = tls.get_ref().1.peer_certificates().map_or(0, <[_]>::len);
                let svc = hyper::service::service_fn(
                    move |_req: Request<hyper::body::Incoming>| async move {
                        Ok::<_, std::convert::Infallible>(Response::new(format!(
                            "client certificates: {shown}"
                        )))
                    },
                );
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), svc)
                    .await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn an_upstream_that_requires_a_client_certificate_gets_the_gateways() {
    let pki = Pki::new();
    let upstream_cert = pki.ca.leaf(pki.dir.path(), "upstream", true);
    let addr = upstream_requiring_certificates(&pki, &upstream_cert).await;
    let gateway_cert = pki.client("gateway");
    let upstream = format!("https://127.0.0.1:{}", addr.port());
    let gw = Gateway::start(&[
        "proxy",
        "--upstream",
        &upstream,
        "--upstream-ca",
        s(&pki.ca.path),
        "--upstream-client-cert",
        s(&gateway_cert.0),
        "--upstream-client-key",
        s(&gateway_cert.1),
    ])
    .await;
    let res = get(&gw.url("/")).await;
    assert_eq!(res.status, 200, "{res:?}");
    assert_eq!(res.text(), "client certificates: 1");

    // Without one, the upstream's refusal is the gateway's 502.
    let bare = Gateway::start(&[
        "proxy",
        "--upstream",
        &upstream,
        "--upstream-ca",
        s(&pki.ca.path),
    ])
    .await;
    assert_eq!(get(&bare.url("/")).await.status, 502);
}

#[tokio::test]
async fn client_ca_without_tls_is_refused_at_start() {
    let pki = Pki::new();
    let out = start_failure(&[
        "proxy",
        "--bind",
        "127.0.0.1:0",
        "--client-ca",
        s(&pki.ca.path),
    ])
    .await;
    assert!(
        out.contains("--client-ca: client certificates need TLS"),
        "{out}"
    );
}

/// The file form: `client_ca` and friends on `[[listen]] tls`, `tls_client_cert`/`key` on an
/// upstream group; `tollgate check` names each file at fault and a bad keyword.
#[tokio::test]
async fn tollgate_check_names_the_client_certificate_files_at_fault() {
    let pki = Pki::new();
    let file = pki.dir.path().join("tollgate.toml");
    let text = format!(
        r#"[[listen]]
bind = "127.0.0.1:0"
tls = {{ cert = "{}", key = "{}", client_ca = "/nonexistent/ca.pem", client_auth = "request", client_user = "san-email", client_cert_status = 401 }}

[upstreams.app]
servers = ["https://127.0.0.1:9"]
tls_client_cert = "/nonexistent/gateway.pem"
tls_client_key = "/nonexistent/gateway.key"

[[routes]]
path = "/"
upstream = "app"
"#,
        s(&pki.server.0),
        s(&pki.server.1)
    );
    std::fs::write(&file, text).unwrap();
    let (ok, out) = run_to_end(&["check", s(&file)]).await;
    assert!(!ok, "{out}");
    assert!(out.contains("listen[0].tls"), "{out}");
    assert!(
        out.contains("cannot read the TLS client CA file /nonexistent/ca.pem"),
        "{out}"
    );
    assert!(out.contains("upstreams.app.tls_client_cert"), "{out}");
    assert!(out.contains("/nonexistent/gateway.pem"), "{out}");

    let bad = pki.dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        format!(
            "[[listen]]\nbind = \"127.0.0.1:0\"\ntls = {{ cert = \"{}\", key = \"{}\", client_ca = \"{}\", client_cert_status = 500 }}\n",
            s(&pki.server.0),
            s(&pki.server.1),
            s(&pki.ca.path)
        ),
    )
    .unwrap();
    let (ok, out) = run_to_end(&["check", s(&bad)]).await;
    assert!(!ok, "{out}");
    assert!(out.contains("use 401 or 403"), "{out}");
}

/// The file form serves too: `san-email` names the user.
#[tokio::test]
async fn a_file_listener_names_users_by_their_email_san() {
    let pki = Pki::new();
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::default();
    params.subject_alt_names = vec![rcgen::SanType::Rfc822Name(
        "carol@example.com".try_into().unwrap(),
    )];
    let cert = params.signed_by(&key, &pki.ca.issuer).unwrap();
    let carol = (
        pki.dir.path().join("carol.pem"),
        pki.dir.path().join("carol.key"),
    );
    std::fs::write(&carol.0, cert.pem()).unwrap();
    std::fs::write(&carol.1, key.serialize_pem()).unwrap();
    let toml = format!(
        r#"[[listen]]
bind = "127.0.0.1:0"
tls = {{ cert = "{}", key = "{}", client_ca = "{}", client_user = "san-email" }}

[[routes]]
path = "/"
echo = true
"#,
        s(&pki.server.0),
        s(&pki.server.1),
        s(&pki.ca.path)
    );
    let gw = Gateway::run_file(pki.dir.path(), &toml, &["--log-format", "json"]).await;
    let res = curl_as(
        &pki,
        &gw,
        "/carol",
        Some(&carol),
        &["-H", "X-Forwarded-User: root"],
    )
    .await;
    assert_eq!(res.status, 200, "{res:?}");
    let headers = res.json()["headers"].to_string();
    assert!(!headers.contains("root"), "{headers}");
    gw.wait_for_log("/carol", 1).await;
    assert_eq!(logged_user(&gw.log(), "/carol"), "carol@example.com");
}
