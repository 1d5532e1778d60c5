//! The `tollgate` binary as a user runs it: a real process, real sockets, `curl`.

mod support;

use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Starts `tollgate ARGS` and waits for its `Serving on http://ADDR` line; returns the address.
async fn spawn(args: &[&str]) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("TOLLGATE_BIND")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the tollgate binary runs");
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut lines = BufReader::new(stdout).lines();
    let first = tokio::time::timeout(support::TEST_TIMEOUT, lines.next_line())
        .await
        .expect("the startup line within the test timeout")
        .expect("stdout is readable")
        .expect("a startup line");
    let addr = first
        .strip_prefix("Serving on http://")
        .unwrap_or_else(|| panic!("unexpected startup line {first:?}"))
        .to_owned();
    (child, addr)
}

/// Sends SIGTERM and expects a clean exit.
async fn terminate(mut child: Child) {
    let pid = child.id().expect("the child is running").to_string();
    let status = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(status.success());
    let exit = tokio::time::timeout(support::TEST_TIMEOUT, child.wait())
        .await
        .expect("tollgate exits after SIGTERM")
        .unwrap();
    assert!(exit.success(), "{exit}");
}

#[tokio::test]
async fn echo_answers_curl_with_json() {
    let (child, addr) = spawn(&["echo", "--bind", "127.0.0.1:0"]).await;
    let url = format!("http://{addr}/a%20b?x=1&x=2");
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
    terminate(child).await;
}

#[tokio::test]
async fn echo_raw_answers_with_the_bytes_a_proxy_would_forward() {
    let (child, addr) = spawn(&["echo", "--raw", "--bind", "127.0.0.1:0"]).await;
    let url = format!("http://{addr}/a%20b?x=1");
    let res = support::curl(&["-s", &url, "-H", "X-Test: 1", "-d", "k=v"]).await;
    assert_eq!(res.status, 200);
    let text = String::from_utf8_lossy(&res.body).into_owned();
    assert!(text.starts_with("POST /a%20b?x=1 HTTP/1.1\r\n"), "{text}");
    assert!(text.contains("\r\nx-test: 1\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\nk=v"), "{text}");
    // What it shows is a message `wire` reads back.
    let (parsed, _) = tollgate::wire::parse_request(text.as_bytes()).unwrap();
    assert_eq!(parsed.body().as_ref(), b"k=v");
    terminate(child).await;
}

#[tokio::test]
async fn echo_bind_comes_from_the_environment_too() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .arg("echo")
        .env("TOLLGATE_BIND", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let line = tokio::time::timeout(
        support::TEST_TIMEOUT,
        BufReader::new(stdout).lines().next_line(),
    )
    .await
    .unwrap()
    .unwrap()
    .unwrap();
    assert!(line.starts_with("Serving on http://127.0.0.1:"), "{line}");
    assert!(!line.ends_with(":8000"), "{line}");
    terminate(child).await;
}

#[tokio::test]
async fn busy_port_is_a_clear_error_and_exit_code_1() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = tokio::time::timeout(
        support::TEST_TIMEOUT,
        Command::new(env!("CARGO_BIN_EXE_tollgate"))
            .args(["echo", "--bind", &addr])
            .output(),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("tollgate: cannot listen on {addr}")),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}
