//! TLS on the proxy's upstream side: `https://` upstreams with a certificate the test makes.
#![cfg(feature = "tls")]

mod support;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper_util::rt::{TokioExecutor, TokioIo};
use support::*;
use tokio::net::TcpListener;
use tollgate::proxy::{Proxy, ProxyConfig, Upstream};
use tollgate::Body;
use tower::ServiceExt;

/// A self-signed certificate for `localhost` and `127.0.0.1`, written to a temp dir.
struct TestCert {
    dir: tempfile::TempDir,
    cert_pem: String,
    key_pem: String,
}

impl TestCert {
    fn new() -> Self {
        let certified =
            rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
                .unwrap();
        let cert_pem = certified.cert.pem();
        let key_pem = certified.signing_key.serialize_pem();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("cert.pem"), &cert_pem).unwrap();
        std::fs::write(dir.path().join("key.pem"), &key_pem).unwrap();
        TestCert {
            dir,
            cert_pem,
            key_pem,
        }
    }

    fn cert_path(&self) -> std::path::PathBuf {
        self.dir.path().join("cert.pem")
    }
}

/// An HTTPS upstream (HTTP/1.1 and h2 by ALPN) answering with the protocol it spoke.
async fn https_upstream(cert: &TestCert) -> SocketAddr {
    let certs = CertificateDer::pem_slice_iter(cert.cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(cert.key_pem.as_bytes()).unwrap();
    let provider = Arc::new(tls_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let svc =
                    hyper::service::service_fn(|req: Request<hyper::body::Incoming>| async move {
                        let text = format!(
                            "{:?} host={}",
                            req.version(),
                            req.headers().get("host").map_or_else(
                                || req.uri().authority().unwrap().to_string(),
                                |h| { h.to_str().unwrap().to_owned() }
                            )
                        );
                        Ok::<_, Infallible>(Response::new(full(text)))
                    });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), svc)
                    .await;
            });
        }
    });
    addr
}

async fn get(proxy: Proxy) -> (StatusCode, String) {
    let req = Request::get("/")
        .header("accept", "text/plain")
        .body(Body::empty())
        .unwrap();
    let res = tokio::time::timeout(TEST_TIMEOUT, proxy.oneshot(req))
        .await
        .unwrap()
        .unwrap();
    let status = res.status();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn https_upstream_with_an_extra_ca_file() {
    let cert = TestCert::new();
    let addr = https_upstream(&cert).await;
    let upstream: Upstream = format!("https://localhost:{}", addr.port())
        .parse()
        .unwrap();

    let mut config = ProxyConfig::default();
    config.ca_file = Some(cert.cert_path());
    let (status, body) = get(Proxy::with_config(upstream.clone(), config.clone()).unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, format!("HTTP/1.1 host=localhost:{}", addr.port()));

    config.http2 = true;
    let (status, body) = get(Proxy::with_config(upstream.clone(), config).unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.starts_with("HTTP/2.0"), "{body}");

    // Without the CA the certificate is not trusted: a 502 that names the upstream only when
    // errors are exposed (for development).
    let (status, body) = get(Proxy::new(upstream.clone())).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert!(!body.contains("localhost"), "{body}");
    let mut exposed = ProxyConfig::default();
    exposed.expose_errors = true;
    let (status, body) = get(Proxy::with_config(upstream, exposed).unwrap()).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert!(
        body.contains(&format!("https://localhost:{}", addr.port())),
        "{body}"
    );
}

#[tokio::test]
async fn https_upstream_by_ip_address() {
    let cert = TestCert::new();
    let addr = https_upstream(&cert).await;
    let mut config = ProxyConfig::default();
    config.ca_file = Some(cert.cert_path());
    let proxy = Proxy::with_config(format!("https://{addr}").parse().unwrap(), config).unwrap();
    let (status, body) = get(proxy).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[test]
fn a_missing_or_empty_ca_file_is_an_error_naming_it() {
    let up: Upstream = "https://localhost:1".parse().unwrap();
    let mut config = ProxyConfig::default();
    config.ca_file = Some("/nonexistent/ca.pem".into());
    let err = Proxy::with_config(up.clone(), config.clone()).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate").unwrap();
    config.ca_file = Some(empty.clone());
    let err = Proxy::with_config(up, config).unwrap_err();
    assert!(
        err.to_string().contains("holds no PEM certificate"),
        "{err}"
    );
}

#[tokio::test]
async fn the_gateway_terminates_tls_for_http1_and_http2() {
    let cert = TestCert::new();
    let key = cert.dir.path().join("key.pem");
    let cert_path = cert.cert_path();
    let up = recording_upstream().await;
    let gw = Gateway::start(&[
        "proxy",
        "--upstream",
        &up.url(),
        "--tls-cert",
        cert_path.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ])
    .await;
    let url = format!("https://{}/tls", gw.addr);
    let cacert = cert_path.to_str().unwrap();
    for (flag, version) in [("--http1.1", "1.1"), ("--http2", "2")] {
        let out = curl(&[
            "--cacert",
            cacert,
            flag,
            "-o",
            "/dev/null",
            "-w",
            // The output is the version alone.
            "%{http_version}",
            &url,
        ])
        .await;
        assert_eq!(out.status, 200, "{flag}: {out:?}");
        assert_eq!(out.text().trim(), version, "{flag}");
    }
    let seen = up.seen();
    assert_eq!(seen.len(), 2);
    for s in &seen {
        assert_eq!(s.headers["x-forwarded-proto"], "https");
        assert_eq!(s.uri, "/tls");
    }
    gw.stop().await;
}

#[tokio::test]
async fn a_missing_certificate_is_a_startup_error_naming_it() {
    let cert = TestCert::new();
    let key = cert.dir.path().join("key.pem");
    let err = start_failure(&[
        "proxy",
        "--bind",
        "127.0.0.1:0",
        "--tls-cert",
        "/nonexistent/cert.pem",
        "--tls-key",
        key.to_str().unwrap(),
    ])
    .await;
    assert!(err.contains("/nonexistent/cert.pem"), "{err}");
}

#[tokio::test]
async fn basic_auth_through_tls() {
    let cert = TestCert::new();
    let key = cert.dir.path().join("key.pem");
    let cert_path = cert.cert_path();
    let users = htpasswd_file(cert.dir.path(), "alice", "wonderland");
    let gw = Gateway::start(&[
        "proxy",
        "--users",
        users.to_str().unwrap(),
        "--tls-cert",
        cert_path.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ])
    .await;
    let url = format!(
        "https://localhost:{}/secret",
        gw.addr.rsplit_once(':').unwrap().1
    );
    let resolve = format!(
        "localhost:{}:127.0.0.1",
        gw.addr.rsplit_once(':').unwrap().1
    );
    let cacert = cert_path.to_str().unwrap();
    let out = curl(&["--cacert", cacert, "--resolve", &resolve, &url]).await;
    assert_eq!(out.status, 401, "{out:?}");
    for flag in ["--http1.1", "--http2"] {
        let out = curl(&[
            "--cacert",
            cacert,
            "--resolve",
            &resolve,
            flag,
            "-u",
            "alice:wonderland",
            &url,
        ])
        .await;
        assert_eq!(out.status, 200, "{flag}: {out:?}");
        // The echo stand-in is a real upstream: it learns the user from X-Forwarded-User.
        let headers = out.json()["headers"].to_string();
        assert!(
            headers.contains(r#"["x-forwarded-user","alice"]"#),
            "{headers}"
        );
    }
    let log = gw.stop().await;
    assert!(
        !log.contains("clear text"),
        "TLS is on: no warning expected: {log}"
    );
}

/// The usual self-signed upstream certificate is a CA certificate used as the server's own,
/// which webpki refuses even when trusted: the 502's detail says so and what to do; an
/// untrusted one says to trust its CA.
#[tokio::test]
async fn certificate_failures_say_what_to_do() {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let cert_pem = params.self_signed(&key).unwrap().pem();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cert.pem"), &cert_pem).unwrap();
    let cert = TestCert {
        dir,
        cert_pem,
        key_pem: key.serialize_pem(),
    };
    let addr = https_upstream(&cert).await;
    let upstream: Upstream = format!("https://localhost:{}", addr.port())
        .parse()
        .unwrap();
    let mut config = ProxyConfig::default();
    config.expose_errors = true;
    config.ca_file = Some(cert.cert_path());
    let (status, body) = get(Proxy::with_config(upstream, config.clone()).unwrap()).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert!(
        body.contains("a CA certificate used as the server's own"),
        "{body}"
    );

    let leaf = TestCert::new();
    let addr = https_upstream(&leaf).await;
    let upstream: Upstream = format!("https://localhost:{}", addr.port())
        .parse()
        .unwrap();
    config.ca_file = None;
    let (status, body) = get(Proxy::with_config(upstream, config).unwrap()).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert!(body.contains("not signed by a trusted CA"), "{body}");
    assert!(body.contains("--upstream-ca FILE"), "{body}");
}
