//! Forged identity headers: underscores, `Connection`, trailers, untrusted forwarding headers
//! (items 1-5). Each test runs the `tollgate` binary in front of a recording upstream and
//! asserts what the upstream received.

use std::path::PathBuf;
use std::time::Duration;

use http::HeaderMap;
use tokio::io::AsyncWriteExt;

use crate::support::*;

/// A `tollgate run` gateway from `body` (the listener is added) and the directory holding
/// its file and the credentials file `users` (alice:wonderland, ada:lovelace).
async fn run_file(body: &str) -> (Gateway, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let users = users_file(&dir);
    let text = format!(
        "[[listen]]\nbind = \"127.0.0.1:0\"\n\n{}",
        body.replace("USERS", users.to_str().unwrap())
    );
    let gw = Gateway::run_file(dir.path(), &text, &[]).await;
    (gw, dir)
}

fn users_file(dir: &tempfile::TempDir) -> PathBuf {
    let path = dir.path().join("users.htpasswd");
    for (flags, user, password) in [("-cbB", "alice", "wonderland"), ("-bB", "ada", "lovelace")] {
        htpasswd(&[flags, "-C", "5", path.to_str().unwrap(), user, password]);
    }
    path
}

/// Every value of `name` the upstream saw, as text.
fn values(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect()
}

fn underscored(headers: &HeaderMap) -> Vec<String> {
    headers
        .keys()
        .filter(|n| n.as_str().contains('_'))
        .map(|n| n.as_str().to_owned())
        .collect()
}

fn config_with_upstream(up: &Upstream, extra: &str) -> String {
    format!(
        "[upstreams.app]\nservers = [\"{}\"]\n\n[auth]\nhtpasswd = \"USERS\"\nforward_user_header = \"X-Forwarded-User\"\nexempt_paths = [\"/public/*\"]\n\n[rewrite]\nrequest = [{{ set = \"X-Gateway-Secret\", value = \"s3cret\" }}]\n\n{extra}\n[[routes]]\nupstream = \"app\"\n",
        up.url()
    )
}

#[tokio::test]
async fn underscore_spellings_never_reach_the_upstream() {
    let up = recording_upstream().await;
    let (gw, _dir) = run_file(&config_with_upstream(&up, "")).await;
    // On an exempt path, without credentials, and logged in: the same answer.
    for (path, auth) in [("/public/page", None), ("/private", Some("ada:lovelace"))] {
        let mut args = vec![
            "-H",
            "X_Forwarded_User: admin",
            "-H",
            "Remote_User: admin",
            "-H",
            "X_Forwarded_For: 6.6.6.6",
            "-H",
            "X_Gateway_Secret: guess",
            "-H",
            "X-Forwarded_User: admin",
        ];
        if let Some(auth) = auth {
            args.extend(["-u", auth]);
        }
        let url = gw.url(path);
        args.push(&url);
        let out = curl(&args).await;
        assert_eq!(out.status, 200, "{out:?}");
    }
    let seen = up.seen();
    assert_eq!(seen.len(), 2);
    for (i, s) in seen.iter().enumerate() {
        assert_eq!(underscored(&s.headers), Vec::<String>::new(), "request {i}");
        assert_eq!(values(&s.headers, "x-gateway-secret"), ["s3cret"]);
        assert_eq!(values(&s.headers, "x-forwarded-for"), ["127.0.0.1"]);
    }
    assert!(values(&seen[0].headers, "x-forwarded-user").is_empty());
    assert_eq!(values(&seen[1].headers, "x-forwarded-user"), ["ada"]);
    gw.stop().await;
}

#[tokio::test]
async fn allowed_underscores_still_never_spell_a_managed_header() {
    let up = recording_upstream().await;
    let (gw, _dir) = run_file(&config_with_upstream(
        &up,
        "[inbound]\nallow_underscores = true\n",
    ))
    .await;
    let url = gw.url("/private");
    let out = curl(&[
        "-u",
        "ada:lovelace",
        "-H",
        "X_Forwarded_User: admin",
        "-H",
        "x_forwarded_for: 6.6.6.6",
        "-H",
        "X_GATEWAY_SECRET: guess",
        "-H",
        "Remote_User: someone",
        &url,
    ])
    .await;
    assert_eq!(out.status, 200, "{out:?}");
    let seen = &up.seen()[0];
    assert_eq!(underscored(&seen.headers), ["remote_user"]);
    assert_eq!(values(&seen.headers, "x-forwarded-user"), ["ada"]);
    assert_eq!(values(&seen.headers, "x-gateway-secret"), ["s3cret"]);
    gw.stop().await;
}

#[tokio::test]
async fn connection_cannot_remove_what_the_gateway_adds() {
    let up = recording_upstream().await;
    let (gw, _dir) = run_file(&config_with_upstream(&up, "")).await;
    let url = gw.url("/private");
    let out = curl(&[
        "-u",
        "ada:lovelace",
        "-H",
        "Connection: X-Forwarded-User, X-Gateway-Secret, X-Client-Note",
        "-H",
        "X_Forwarded_User: admin",
        "-H",
        "X-Client-Note: hop-by-hop, so it goes",
        "-H",
        "X-Other: stays",
        &url,
    ])
    .await;
    assert_eq!(out.status, 200, "{out:?}");
    let seen = &up.seen()[0];
    assert_eq!(values(&seen.headers, "x-forwarded-user"), ["ada"]);
    assert_eq!(values(&seen.headers, "x-gateway-secret"), ["s3cret"]);
    assert!(!seen.headers.contains_key("x-client-note"));
    assert_eq!(values(&seen.headers, "x-other"), ["stays"]);
    gw.stop().await;
}

#[tokio::test]
async fn managed_headers_in_trailers_are_removed() {
    let up = recording_upstream().await;
    let (gw, _dir) = run_file(&config_with_upstream(&up, "")).await;
    let addr: std::net::SocketAddr = gw.addr.parse().unwrap();
    // alice:wonderland
    let request = "POST /private HTTP/1.1\r\nHost: gw\r\nAuthorization: Basic YWxpY2U6d29uZGVybGFuZA==\r\n\
        Transfer-Encoding: chunked\r\nTrailer: X-Forwarded-User, X_Forwarded_User, X-Real-IP, X-Checksum\r\n\
        Connection: close\r\n\r\n\
        5\r\nhello\r\n0\r\nX-Forwarded-User: admin\r\nX_Forwarded_User: admin\r\nX-Real-IP: 6.6.6.6\r\n\
        X-Checksum: abc\r\n\r\n";
    let mut stream = connect(addr).await;
    stream.write_all(request.as_bytes()).await.unwrap();
    let answer = read_until_quiet(&mut stream, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let seen = &up.seen()[0];
    assert_eq!(seen.body_len, 5);
    assert_eq!(values(&seen.headers, "x-forwarded-user"), ["alice"]);
    let trailers = seen.trailers.as_ref().expect("trailers are passed on");
    assert!(!trailers.contains_key("x-forwarded-user"), "{trailers:?}");
    assert!(underscored(trailers).is_empty(), "{trailers:?}");
    assert!(!trailers.contains_key("x-real-ip"), "{trailers:?}");
    assert_eq!(
        values(trailers, "x-checksum"),
        ["abc"],
        "other trailers pass"
    );
    gw.stop().await;
}

/// The forwarding family and the path overrides a direct client sends.
const FORGED: [(&str, &str); 13] = [
    ("X-Real-IP", "6.6.6.6"),
    ("X-Forwarded-Port", "1"),
    ("X-Forwarded-Ssl", "on"),
    ("X-Forwarded-Server", "evil"),
    ("X-Forwarded-Proto", "https"),
    ("X-Forwarded-Host", "evil.example"),
    ("X-Client-IP", "6.6.6.6"),
    ("True-Client-IP", "6.6.6.6"),
    ("CF-Connecting-IP", "6.6.6.6"),
    ("Forwarded", "for=6.6.6.6;proto=https"),
    ("X-Original-URL", "/admin"),
    ("X-Rewrite-URL", "/admin"),
    ("X-HTTP-Method-Override", "DELETE"),
];

async fn send_forged(gw: &Gateway) {
    let url = gw.url("/public/x");
    let mut args: Vec<String> = Vec::new();
    for (name, value) in FORGED {
        args.push("-H".into());
        args.push(format!("{name}: {value}"));
    }
    args.push(url);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = curl(&args).await;
    assert_eq!(out.status, 200, "{out:?}");
}

#[tokio::test]
async fn untrusted_clients_cannot_send_forwarding_headers() {
    let up = recording_upstream().await;
    let (gw, _dir) = run_file(&config_with_upstream(&up, "")).await;
    send_forged(&gw).await;
    let seen = &up.seen()[0];
    for (name, _) in FORGED {
        let lower = name.to_ascii_lowercase();
        match lower.as_str() {
            // Written by the gateway itself.
            "x-forwarded-proto" => assert_eq!(values(&seen.headers, &lower), ["http"]),
            "x-forwarded-host" => assert_eq!(
                values(&seen.headers, &lower),
                std::slice::from_ref(&gw.addr)
            ),
            _ => assert!(
                !seen.headers.contains_key(&lower),
                "{name} reached the upstream: {:?}",
                seen.headers
            ),
        }
    }
    assert_eq!(values(&seen.headers, "x-forwarded-for"), ["127.0.0.1"]);
    gw.stop().await;
}

#[tokio::test]
async fn trusted_proxies_may_send_them_but_never_path_overrides() {
    let up = recording_upstream().await;
    let (gw, _dir) = run_file(&config_with_upstream(
        &up,
        "[forwarded]\ntrust = { proxies = [\"127.0.0.0/8\"] }\nx_host = true\n",
    ))
    .await;
    send_forged(&gw).await;
    let seen = &up.seen()[0];
    assert_eq!(values(&seen.headers, "x-real-ip"), ["6.6.6.6"]);
    assert_eq!(values(&seen.headers, "true-client-ip"), ["6.6.6.6"]);
    assert_eq!(values(&seen.headers, "x-forwarded-proto"), ["https"]);
    assert!(!seen.headers.contains_key("x-original-url"));
    assert!(!seen.headers.contains_key("x-rewrite-url"));
    assert!(!seen.headers.contains_key("x-http-method-override"));
    gw.stop().await;
}

#[tokio::test]
async fn a_forwarded_table_that_trusts_nobody_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tollgate.toml");
    std::fs::write(
        &file,
        "[[listen]]\nbind = \"127.0.0.1:0\"\n\n[forwarded]\n\n[[routes]]\necho = true\n",
    )
    .unwrap();
    let (ok, text) = run_to_end(&["check", file.to_str().unwrap()]).await;
    assert!(!ok, "{text}");
    assert!(text.contains("trusts no proxy"), "{text}");
    assert!(text.contains("trust = { proxies"), "{text}");

    // And the direct client's own scheme and address are not believed by `tollgate proxy`
    // without --trusted-proxy.
    let up = recording_upstream().await;
    let gw = Gateway::start(&["proxy", "--upstream", &up.url()]).await;
    let url = gw.url("/x");
    let out = curl(&[
        "-H",
        "X-Forwarded-Proto: https",
        "-H",
        "X-Forwarded-For: 10.9.9.9",
        &url,
    ])
    .await;
    assert_eq!(out.status, 200, "{out:?}");
    let seen = &up.seen()[0];
    assert_eq!(values(&seen.headers, "x-forwarded-proto"), ["http"]);
    assert_eq!(values(&seen.headers, "x-forwarded-for"), ["127.0.0.1"]);
    gw.stop().await;
}

#[tokio::test]
async fn normalize_refuses_dot_segments_with_parameters() {
    let up = recording_upstream().await;
    let gw = Gateway::start(&["proxy", "--upstream", &up.url(), "--normalize"]).await;
    for path in [
        "/public/..;/admin",
        "/public/%2e%2e;/admin",
        "/public/.;x/admin",
    ] {
        let url = gw.url(path);
        let out = curl(&["--path-as-is", &url]).await;
        assert_eq!(out.status, 400, "{path}: {}", out.text());
        assert!(
            out.text().contains("dot-segment with a parameter"),
            "{}",
            out.text()
        );
    }
    assert!(up.seen().is_empty(), "{:?}", up.seen());
    gw.stop().await;
}

#[tokio::test]
async fn screening_keeps_a_sized_body_sized() {
    let up = recording_upstream().await;
    let gw = Gateway::start(&["proxy", "--upstream", &up.url()]).await;
    let url = gw.url("/upload");
    let out = curl(&["--data-binary", "hello world", "-H", "X_Note: x", &url]).await;
    assert_eq!(out.status, 200, "{out:?}");
    let seen = &up.seen()[0];
    assert_eq!(seen.body_len, 11);
    assert_eq!(values(&seen.headers, "content-length"), ["11"]);
    assert!(!seen.headers.contains_key("transfer-encoding"));
    gw.stop().await;
}
