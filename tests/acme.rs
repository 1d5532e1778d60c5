//! Automatic HTTPS against a real ACME server: Debian's `pebble` on loopback, challenges
//! always valid (`PEBBLE_VA_ALWAYS_VALID=1`: a test cannot own port 80 for a name). `tollgate
//! proxy --domain` obtains a certificate, serves it (curl trusts pebble's root: 200 with Basic
//! auth), keeps it in the state directory owner-only, reuses it after a restart with the CA
//! down (no new order), and its plain listener redirects to https with a 308.
#![cfg(feature = "acme")]

mod support;

use std::path::Path;

use support::*;

const NAME: &str = "app.tollgate.test";

fn args<'a>(pebble: &'a Pebble, state: &'a Path, users: &'a Path) -> Vec<&'a str> {
    vec![
        "proxy",
        "--users",
        users.to_str().unwrap(),
        "--domain",
        NAME,
        "--acme-directory",
        &pebble.directory,
        "--acme-ca",
        pebble.tls_ca.to_str().unwrap(),
        "--state-dir",
        state.to_str().unwrap(),
        "--http-bind",
        "127.0.0.1:0",
    ]
}

/// The `https://` address the gateway announced (the plain listener announces first).
async fn https_addr(gw: &Gateway) -> String {
    let mut found = None;
    eventually(async || {
        found = gw
            .serving()
            .iter()
            .find_map(|l| l.strip_prefix("Serving on https://").map(str::to_owned));
        found.is_some()
    })
    .await;
    found.unwrap_or_else(|| panic!("no https listener: {:?}\n{}", gw.serving(), gw.log()))
}

async fn get_as_alice(root: &Path, addr: &str) -> Fetched {
    let port = addr.rsplit_once(':').unwrap().1;
    curl(&[
        "--cacert",
        root.to_str().unwrap(),
        "--resolve",
        &format!("{NAME}:{port}:127.0.0.1"),
        "-u",
        "alice:pw-alice",
        &format!("https://{NAME}:{port}/hello?x=1"),
    ])
    .await
}

#[tokio::test]
async fn obtains_serves_and_reuses_a_certificate_without_a_new_order() {
    let dir = temp_dir();
    let pebble = Pebble::start(dir.path()).await;
    let users = htpasswd_file(dir.path(), "alice", "pw-alice");
    let state = dir.path().join("state");
    let gw = Gateway::start(&args(&pebble, &state, &users)).await;
    let addr = https_addr(&gw).await;
    let root = pebble.root(&dir.path().join("pebble-root.pem")).await;
    let res = get_as_alice(&root, &addr).await;
    assert_eq!(res.status, 200, "{res:?}");
    assert!(gw.log().contains("obtained a new ACME certificate"), "{}", gw.log());

    // The plain listener: a 308 to the same path and query on https.
    let plain = curl(&["-H", &format!("Host: {NAME}"), &gw.url("/a/b?c=d")]).await;
    assert_eq!(plain.status, 308);
    assert_eq!(plain.header("location"), Some(format!("https://{NAME}/a/b?c=d").as_str()));

    // Owner-only state.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&state), 0o700);
        assert_eq!(mode(&state.join(NAME).join("key.pem")), 0o600);
    }
    gw.stop().await;

    // The CA is down: a restart serves the stored certificate, placing no order.
    pebble.stop().await;
    let restart = args_with_dead_ca(&state, &users);
    let gw = Gateway::start(&restart.iter().map(String::as_str).collect::<Vec<_>>()).await;
    let addr = https_addr(&gw).await;
    assert_eq!(get_as_alice(&root, &addr).await.status, 200);
    let log = gw.stop().await;
    assert!(log.contains("reusing the stored ACME certificate"), "{log}");
    assert!(!log.contains("obtained a new ACME certificate"), "{log}");
}

/// The same settings with pebble gone (its directory URL no longer answers).
fn args_with_dead_ca(state: &Path, users: &Path) -> Vec<String> {
    vec![
        "proxy".into(),
        "--users".into(),
        users.to_str().unwrap().into(),
        "--domain".into(),
        NAME.into(),
        "--acme-directory".into(),
        format!("https://{}/dir", dead_port()),
        "--state-dir".into(),
        state.to_str().unwrap().into(),
        "--http-bind".into(),
        "127.0.0.1:0".into(),
    ]
}

#[tokio::test]
async fn ip_addresses_and_bad_emails_are_refused_with_what_to_do() {
    let out = start_failure(&[
        "proxy",
        "--bind",
        "127.0.0.1:0",
        "--domain",
        "10.0.0.1",
        "--acme-email",
        "nobody",
        "--state-dir",
        "/tmp/never-created-by-tollgate",
        "--http-bind",
        "127.0.0.1:0",
    ])
    .await;
    assert!(out.contains("is an IP address"), "{out}");
    assert!(out.contains("not an address like"), "{out}");
}
