//! TLS listeners as an operator meets them: plain HTTP sent to one gets a 400 saying to use
//! `https://`; `--tls self-signed` serves a certificate made at start and prints its
//! fingerprint; an encrypted private key is named as such, with how to decrypt it.
#![cfg(feature = "tls")]

mod support;

use support::{curl, curl_error, fixture, raw, self_signed_pair, start_failure, temp_dir, Gateway};

#[tokio::test]
async fn plain_http_to_a_tls_port_is_a_400_saying_use_https() {
    let (cert, key) = (fixture("tls/cert.pem"), fixture("tls/key.pem"));
    let gw = Gateway::start(&[
        "proxy",
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ])
    .await;
    let text = raw(
        gw.socket_addr(),
        b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
    )
    .await;
    assert!(text.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{text}");
    assert!(text.contains("Use https:// instead of http://"), "{text}");
    // TLS still works on the same port.
    let res = curl(&["-k", &format!("https://{}/", gw.addr)]).await;
    assert_eq!(res.status, 200);
}

#[tokio::test]
async fn tls_self_signed_prints_its_fingerprint_and_serves() {
    let gw = Gateway::start(&["proxy", "--tls", "self-signed"]).await;
    assert!(
        gw.serving()[0].starts_with("Serving on https://"),
        "{:?}",
        gw.serving()
    );
    let res = curl(&["-k", &format!("https://{}/x", gw.addr)]).await;
    assert_eq!(res.status, 200);
    let (_, log) = gw.terminate().await;
    let fingerprint = log
        .lines()
        .find_map(|l| l.split("SHA-256 fingerprint ").nth(1))
        .unwrap_or_else(|| panic!("no fingerprint in {log}"));
    let hex = fingerprint.split_whitespace().next().unwrap();
    assert_eq!(hex.len(), 32 * 3 - 1, "{hex}");
}

#[tokio::test]
async fn an_encrypted_key_says_it_is_encrypted_and_how_to_decrypt_it() {
    let tmp = temp_dir();
    let key = tmp.path().join("key.pem");
    std::fs::write(
        &key,
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHDBOBgkqhkiG9w0BBQ0wQTApBgkqhkiG9w0BBQwwHAQI\n-----END ENCRYPTED PRIVATE KEY-----\n",
    )
    .unwrap();
    let cert = fixture("tls/cert.pem");
    let out = start_failure(&[
        "proxy",
        "--bind",
        "127.0.0.1:0",
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ])
    .await;
    assert!(out.contains("encrypted with a passphrase"), "{out}");
    assert!(out.contains("openssl pkey -in"), "{out}");
}

/// `certs = [...]`: each name gets its own certificate by SNI; a name none holds gets a TLS
/// alert, never another name's certificate.
#[tokio::test]
async fn certificates_are_chosen_by_sni_and_an_unknown_name_gets_an_alert() {
    let dir = temp_dir();
    let (a_cert, a_key) = self_signed_pair(dir.path(), "a.tollgate.test");
    let (b_cert, b_key) = self_signed_pair(dir.path(), "b.tollgate.test");
    let toml = format!(
        r#"[[listen]]
bind = "127.0.0.1:0"
tls = {{ certs = [{{ cert = "{a_cert}", key = "{a_key}" }}, {{ cert = "{b_cert}", key = "{b_key}" }}] }}

[[routes]]
echo = true
"#
    );
    let gw = Gateway::run_file(dir.path(), &toml, &[]).await;
    let port = gw.socket_addr().port();
    let fetch = |name: &str, ca: &str| {
        let resolve = format!("{name}:{port}:127.0.0.1");
        let url = format!("https://{name}:{port}/");
        let ca = ca.to_owned();
        async move { curl(&["--cacert", &ca, "--resolve", &resolve, &url]).await }
    };
    // Each name is verified against its own certificate: curl checks the name too.
    assert_eq!(fetch("a.tollgate.test", &a_cert).await.status, 200);
    assert_eq!(fetch("b.tollgate.test", &b_cert).await.status, 200);
    let resolve = format!("c.tollgate.test:{port}:127.0.0.1");
    let url = format!("https://c.tollgate.test:{port}/");
    let refused = curl_error(&["-k", "--resolve", &resolve, &url]).await;
    assert!(
        refused.contains("alert") || refused.contains("handshake"),
        "a TLS alert for a name without a certificate: {refused}"
    );
    gw.stop().await;
}

/// One `openssl s_client` connection that sends a request (so the client reads the TLS 1.3
/// session ticket that follows the handshake), saving its session to `out` or resuming the one
/// in `resume`: whether the handshake was a resumption.
async fn openssl_session(
    addr: &str,
    out: Option<&std::path::Path>,
    resume: Option<&std::path::Path>,
) -> bool {
    let mut cmd = tokio::process::Command::new("openssl");
    cmd.args([
        "s_client",
        "-connect",
        addr,
        "-servername",
        "tollgate.test",
        "-ign_eof",
    ]);
    if let Some(out) = out {
        cmd.arg("-sess_out").arg(out);
    }
    if let Some(resume) = resume {
        cmd.arg("-sess_in").arg(resume);
    }
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().expect("openssl (apt-get install openssl)");
    let mut stdin = child.stdin.take().unwrap();
    tokio::io::AsyncWriteExt::write_all(
        &mut stdin,
        b"GET / HTTP/1.1\r\nHost: tollgate.test\r\nConnection: close\r\n\r\n",
    )
    .await
    .unwrap();
    drop(stdin);
    let output = tokio::time::timeout(std::time::Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("openssl s_client finished")
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("HTTP/1.1 200"), "{text}");
    text.lines().any(|l| l.starts_with("Reused,"))
}

/// Every worker of a listener resumes the sessions any of them issued: with two workers, a
/// client's next connections reach either, and each one is a resumption (each worker had its
/// own ticket keys, and about half were full handshakes).
#[tokio::test]
async fn a_session_ticket_resumes_on_every_worker() {
    let dir = temp_dir();
    let (cert, key) = self_signed_pair(dir.path(), "tollgate.test");
    let gw = Gateway::start(&[
        "proxy",
        "--workers",
        "2",
        "--tls-cert",
        &cert,
        "--tls-key",
        &key,
    ])
    .await;
    let session = dir.path().join("session.pem");
    assert!(
        !openssl_session(&gw.addr, Some(&session), None).await,
        "the first is full"
    );
    let mut resumed = 0;
    for _ in 0..12 {
        resumed += usize::from(openssl_session(&gw.addr, None, Some(&session)).await);
    }
    assert_eq!(resumed, 12, "every later connection resumes");
}
