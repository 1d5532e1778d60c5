//! The `tollgate` binary as a user runs it: a real process, real sockets, `curl`.

mod support;

use support::{Gateway, Launch};

/// Sends SIGTERM and expects a clean exit.
async fn terminate(gateway: Gateway) {
    let (exit, log) = gateway.terminate().await;
    assert!(exit.success(), "{exit}: {log}");
}

#[tokio::test]
async fn echo_answers_curl_with_json() {
    let gateway = Gateway::spawn(&["echo", "--bind", "127.0.0.1:0"]).await;
    let url = gateway.url("/a%20b?x=1&x=2");
    let res = support::curl(&["-s", &url, "-H", "Cookie: a=1; b=2", "-d", "k=v"]).await;
    assert_eq!(res.status, 200);
    let echo = res.json();
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["target"], "/a%20b?x=1&x=2");
    assert_eq!(echo["path"], "/a b");
    assert_eq!(echo["query"], serde_json::json!([["x", "1"], ["x", "2"]]));
    assert_eq!(echo["cookies"], serde_json::json!([["a", "1"], ["b", "2"]]));
    assert_eq!(echo["form"], serde_json::json!([["k", "v"]]));
    assert_eq!(echo["body_bytes"], 3);
    assert!(echo["peer_addr"]
        .as_str()
        .unwrap()
        .starts_with("127.0.0.1:"));
    terminate(gateway).await;
}

#[tokio::test]
async fn echo_raw_answers_with_the_bytes_a_proxy_would_forward() {
    let gateway = Gateway::spawn(&["echo", "--raw", "--bind", "127.0.0.1:0"]).await;
    let url = gateway.url("/a%20b?x=1");
    let res = support::curl(&["-s", &url, "-H", "X-Test: 1", "-d", "k=v"]).await;
    assert_eq!(res.status, 200);
    let text = String::from_utf8_lossy(&res.body).into_owned();
    assert!(text.starts_with("POST /a%20b?x=1 HTTP/1.1\r\n"), "{text}");
    assert!(text.contains("\r\nx-test: 1\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\nk=v"), "{text}");
    // What it shows is a message `wire` reads back.
    let (parsed, _) = tollgate::wire::parse_request(text.as_bytes()).unwrap();
    assert_eq!(parsed.body().as_ref(), b"k=v");
    terminate(gateway).await;
}

#[tokio::test]
async fn echo_bind_comes_from_the_environment_too() {
    let gateway = Launch::tollgate(["echo"])
        .env("TOLLGATE_BIND", "127.0.0.1:0")
        .serve()
        .await;
    let serving = gateway.serving();
    let line = &serving[0];
    assert!(line.starts_with("Serving on http://127.0.0.1:"), "{line}");
    assert!(!line.ends_with(":8000"), "{line}");
    terminate(gateway).await;
}

#[tokio::test]
async fn busy_port_is_a_clear_error_and_exit_code_1() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = Launch::tollgate(["echo", "--bind", &addr]).output().await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("tollgate: cannot listen on {addr}")),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}
