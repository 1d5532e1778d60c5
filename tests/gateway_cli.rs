//! `tollgate proxy` as a user runs it: the binary as a child process, real upstreams, `curl`.

mod support;

use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use support::*;
use tollgate::Body;

const HUNDRED_MB: u64 = 100 * 1024 * 1024;
const CHUNK: usize = 64 * 1024;

fn chunks(
    total: u64,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send + Sync {
    let chunk = Bytes::from(vec![b'x'; CHUNK]);
    let n = total / CHUNK as u64;
    futures_util::stream::iter((0..n).map(move |_| Ok(chunk.clone())))
}

/// An upstream that counts the bytes of an upload, or sends 100 MB for `GET /big`.
async fn bulk_upstream() -> Upstream {
    upstream(|req: Request<hyper::body::Incoming>| async move {
        if req.uri().path() == "/big" {
            let frames = futures_util::StreamExt::map(chunks(HUNDRED_MB), |c| {
                c.map(http_body::Frame::data).map_err(BoxError::from)
            });
            return Response::new(BodyExt::boxed(StreamBody::new(frames)));
        }
        let mut body = req.into_body();
        let mut total = 0u64;
        while let Some(frame) = body.frame().await {
            match frame {
                Ok(f) => total += f.data_ref().map_or(0, |d| d.len() as u64),
                Err(_) => break,
            }
        }
        Response::new(full(total.to_string()))
    })
    .await
}

use tollgate::body::BoxError;

#[tokio::test]
async fn hundred_megabytes_stream_both_ways_in_little_memory() {
    let up = bulk_upstream().await;
    let gw = Gateway::start(&["proxy", "--upstream", &up.url(), "--workers", "1"]).await;
    let before = gw.peak_rss_kib();

    let req = Request::post(gw.url("/upload"))
        .body(Body::from_stream(chunks(HUNDRED_MB)))
        .unwrap();
    let res = tokio::time::timeout(4 * TEST_TIMEOUT, client().request(req))
        .await
        .expect("the upload finishes")
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, HUNDRED_MB.to_string());

    let res = client()
        .request(Request::get(gw.url("/big")).body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let mut body = res.into_body();
    let mut total = 0u64;
    tokio::time::timeout(4 * TEST_TIMEOUT, async {
        while let Some(frame) = body.frame().await {
            total += frame.unwrap().data_ref().map_or(0, |d| d.len() as u64);
        }
    })
    .await
    .expect("the download finishes");
    assert_eq!(total, HUNDRED_MB);

    let peak = gw.peak_rss_kib();
    eprintln!("gateway peak RSS (VmHWM): {before} KiB at start, {peak} KiB after 100 MB up and 100 MB down");
    // Far below the 100 MB each way: bodies stream. (About 16 MiB with the system allocator,
    // 40 MiB with mimalloc, which keeps per-thread segments.)
    assert!(
        peak < 64 * 1024,
        "the gateway held the bodies: peak RSS {peak} KiB"
    );
    gw.stop().await;
}

#[tokio::test]
async fn without_an_upstream_the_echo_service_answers() {
    let gw = Gateway::start(&["proxy"]).await;
    let res = get(&gw.url("/hello?x=1")).await;
    assert_eq!(res.status, StatusCode::OK);
    let echo = res.json();
    assert_eq!(echo["path"], "/hello");
    let log = gw.stop().await;
    assert!(log.contains("anyone can use this gateway"), "{log}");
}

#[tokio::test]
async fn startup_errors_name_the_flag_at_fault() {
    let err = start_failure(&["proxy", "--users", "/nonexistent/users.htpasswd"]).await;
    assert!(err.contains("--users: credentials file refused"), "{err}");
    assert!(err.contains("/nonexistent/users.htpasswd"), "{err}");
    let err = start_failure(&["proxy", "--serve-dir", "/s=/nonexistent/dir"]).await;
    assert!(
        err.contains("--serve-dir: /nonexistent/dir is not a directory"),
        "{err}"
    );
}

#[tokio::test]
async fn a_bad_upstream_url_is_a_startup_error() {
    let err = start_failure(&["proxy", "--upstream", "127.0.0.1:9000"]).await;
    assert!(err.contains("must start with http:// or https://"), "{err}");
}

#[tokio::test]
async fn access_log_lines_name_the_upstream_in_json() {
    let up = recording_upstream().await;
    let gw = Gateway::start(&[
        "--log-format",
        "json",
        "proxy",
        "--upstream",
        &up.url(),
        "--set-header",
        "X-Gateway=tollgate",
    ])
    .await;
    let res = client()
        .request(
            Request::get(gw.url("/logged?q=1"))
                .header("authorization", "Basic c2VjcmV0OnNlY3JldA==")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let _ = res.into_body().collect().await;
    // The access line is written when the answer's body is done; give it a moment.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = gw.stop().await;
    let line = log
        .lines()
        .find(|l| l.contains("/logged?q=1"))
        .unwrap_or_else(|| panic!("no access line in {log}"));
    let json: serde_json::Value = serde_json::from_str(line).expect("a JSON log line");
    let fields = &json["fields"];
    assert_eq!(fields["method"], "GET");
    assert_eq!(fields["status"], 200);
    assert_eq!(fields["upstream"], up.url());
    assert!(
        !log.contains("c2VjcmV0"),
        "an Authorization value was logged: {log}"
    );
}

#[tokio::test]
async fn header_rules_and_static_dirs_through_the_gateway() {
    let up = recording_upstream().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hello.txt"), "static hello").unwrap();
    let mount = format!("/static={}", dir.path().display());
    let gw = Gateway::start(&[
        "proxy",
        "--upstream",
        &up.url(),
        "--set-header",
        "X-Gateway=tollgate",
        "--serve-dir",
        &mount,
        "--normalize",
        "--workers",
        "2",
    ])
    .await;
    let out = curl(&[&gw.url("/static/hello.txt")]).await;
    assert_eq!(
        (out.status.as_u16(), out.text().as_ref()),
        (200, "static hello")
    );
    let out = curl(&["--path-as-is", &gw.url("/a/./b//c")]).await;
    assert_eq!(out.status, 200, "{out:?}");
    let seen = up.seen();
    assert_eq!(seen.len(), 1, "the static file was not proxied");
    assert_eq!(seen[0].headers["x-gateway"], "tollgate");
    assert_eq!(seen[0].uri, "/a/b/c", "normalized before proxying");
    gw.stop().await;
}

#[tokio::test]
async fn sigterm_stops_every_worker_cleanly() {
    let gw = Gateway::start(&["proxy", "--workers", "2"]).await;
    let (exit, log) = gw.terminate().await;
    assert!(exit.success(), "{exit}: {log}");
}

#[tokio::test]
async fn basic_auth_through_curl_with_the_echo_upstream() {
    let dir = tempfile::tempdir().unwrap();
    let users = htpasswd_file(dir.path(), "alice", "wonderland");
    let gw = Gateway::start(&[
        "proxy",
        "--users",
        users.to_str().unwrap(),
        "--realm",
        "land",
    ])
    .await;

    // `-i`: the head is in the output too.
    let out = curl(&["-i", &gw.url("/private")]).await;
    assert_eq!(out.status, 401);
    assert!(
        out.text()
            .to_ascii_lowercase()
            .contains("www-authenticate: basic realm=\"land\""),
        "{}",
        out.text()
    );

    let out = curl(&["-u", "alice:wrong", &gw.url("/private")]).await;
    assert_eq!(out.status, 401);

    let out = curl(&["-u", "alice:wonderland", &gw.url("/private")]).await;
    assert_eq!(out.status, 200, "{out:?}");
    let echo = out.json();
    let headers = echo["headers"].as_array().unwrap();
    // The echo is a real upstream: it learns the user as any upstream does.
    assert!(
        headers
            .iter()
            .any(|h| h[0] == "x-forwarded-user" && h[1] == "alice"),
        "{headers:?}"
    );
    assert!(
        headers.iter().all(|h| h[0] != "authorization"),
        "the echo upstream saw the credentials: {headers:?}"
    );
    let log = gw.stop().await;
    assert!(!log.contains("wonderland"), "a password was logged: {log}");
}

#[tokio::test]
async fn basic_auth_in_front_of_a_real_upstream() {
    let dir = tempfile::tempdir().unwrap();
    let users = htpasswd_file(dir.path(), "alice", "wonderland");
    let up = recording_upstream().await;
    let gw = Gateway::start(&[
        "proxy",
        "--upstream",
        &up.url(),
        "--users",
        users.to_str().unwrap(),
    ])
    .await;
    let out = curl(&[&gw.url("/x")]).await;
    assert_eq!(out.status, 401);
    assert!(
        up.seen().is_empty(),
        "an unauthenticated request reached the upstream"
    );
    let out = curl(&[
        "-u",
        "alice:wonderland",
        "-H",
        "X-Forwarded-User: root",
        &gw.url("/x"),
    ])
    .await;
    assert_eq!(out.status, 200, "{out:?}");
    let seen = up.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].headers["x-forwarded-user"], "alice");
    assert!(!seen[0].headers.contains_key("authorization"));
    let log = strip_ansi(&gw.stop().await);
    let access = log
        .lines()
        .find(|l| l.contains("tollgate::access") && l.contains("/x") && l.contains("200"))
        .unwrap_or_else(|| panic!("no access line: {log}"));
    assert!(access.contains("user=alice"), "{access}");
    assert!(
        access.contains(&format!("upstream={}", up.url())),
        "{access}"
    );
}

#[tokio::test]
async fn basic_auth_on_plain_http_off_loopback_warns() {
    let dir = tempfile::tempdir().unwrap();
    let users = htpasswd_file(dir.path(), "alice", "wonderland");
    let gw = Gateway::start(&[
        "proxy",
        "--users",
        users.to_str().unwrap(),
        "--bind",
        "0.0.0.0:0",
    ])
    .await;
    let log = gw.stop().await;
    assert!(log.contains("clear text"), "{log}");
}

/// The log without terminal colour codes.
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether process `pid` catches signal `number` (its bit in `SigCgt` of `/proc/PID/status`).
fn catches(pid: u32, number: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            let mask = status.lines().find_map(|l| l.strip_prefix("SigCgt:"))?;
            u64::from_str_radix(mask.trim(), 16).ok()
        })
        .is_some_and(|mask| mask & (1 << (number - 1)) != 0)
}

/// The serving commands, each listening on `127.0.0.1:0`; `dir` holds their files.
fn serving_commands(dir: &std::path::Path) -> Vec<Vec<String>> {
    let config = dir.join("gateway.toml");
    std::fs::write(
        &config,
        "[[listen]]\nbind = \"127.0.0.1:0\"\n\n[[routes]]\necho = true\n",
    )
    .unwrap();
    let path = |p: &std::path::Path| p.to_str().unwrap().to_owned();
    let any = "127.0.0.1:0".to_owned();
    vec![
        vec![
            "proxy".into(),
            "--workers".into(),
            "2".into(),
            "--bind".into(),
            any.clone(),
        ],
        vec!["run".into(), path(&config)],
        vec!["echo".into(), "--bind".into(), any.clone()],
        vec![
            "serve".into(),
            path(dir),
            "--workers".into(),
            "2".into(),
            "--bind".into(),
            any,
        ],
    ]
}

/// Waits (bounded) until `pid` catches `SIGTERM`; false when it never did. Polled every
/// millisecond, not at [`eventually`]'s pace: the signal must land in the startup window.
async fn wait_for_sigterm_handler(pid: u32) -> bool {
    let deadline = tokio::time::Instant::now() + TEST_TIMEOUT;
    while tokio::time::Instant::now() < deadline {
        if catches(pid, 15) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    false
}

/// Issue 13: a SIGTERM sent while the gateway starts (as systemd or a container runtime may)
/// is a graceful stop, never a death by signal. Sent as soon as the handler exists, which is
/// before anything listens, so most rounds hit the startup window the CI flake fell into.
#[tokio::test]
async fn sigterm_during_startup_is_a_clean_stop() {
    let dir = tempfile::tempdir().unwrap();
    for args in serving_commands(dir.path()) {
        for round in 0..3 {
            let child = Launch::tollgate(&args).child();
            let pid = child.id().expect("the child runs");
            assert!(
                wait_for_sigterm_handler(pid).await,
                "tollgate {args:?} never installed a SIGTERM handler"
            );
            signal(pid, "TERM");
            let out = tokio::time::timeout(TEST_TIMEOUT, child.wait_with_output())
                .await
                .expect("tollgate exits after SIGTERM")
                .unwrap();
            assert!(
                out.status.success(),
                "tollgate {args:?}, round {round}: {} (stderr: {})",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// The handlers for SIGTERM and Ctrl-C are in place before the `Serving on` line, i.e. before
/// any client can connect (the window in which a SIGTERM used to kill the process).
#[tokio::test]
async fn signal_handlers_are_installed_before_serving_on() {
    let dir = tempfile::tempdir().unwrap();
    for args in serving_commands(dir.path()) {
        // Ready: it printed its `Serving on` line.
        let gw = Launch::tollgate(&args).serve().await;
        let pid = gw.pid();
        assert!(
            catches(pid, 15),
            "tollgate {args:?} serves before catching SIGTERM"
        );
        assert!(
            catches(pid, 2),
            "tollgate {args:?} serves before catching SIGINT"
        );
        gw.stop().await;
    }
}
