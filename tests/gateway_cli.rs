//! `tollgate proxy` as a user runs it: the binary as a child process, real upstreams, `curl`.

mod proxy_support;

use std::process::Stdio;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use proxy_support::*;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tollgate::Body;

/// A running `tollgate` child and the address it serves on.
struct Gateway {
    child: Child,
    addr: String,
    stderr: Option<tokio::task::JoinHandle<String>>,
}

impl Gateway {
    /// Starts `tollgate ARGS` (with `--bind 127.0.0.1:0` unless given) and waits for its
    /// `Serving on` line.
    async fn start(args: &[&str]) -> Gateway {
        let mut all: Vec<&str> = args.to_vec();
        if !args.contains(&"--bind") {
            all.extend(["--bind", "127.0.0.1:0"]);
        }
        let mut child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
            .args(&all)
            .env_remove("RUST_LOG")
            .env_remove("TOLLGATE_BIND")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the tollgate binary runs");
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        let stderr = tokio::spawn(async move {
            let mut text = String::new();
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                text.push_str(&line);
                text.push('\n');
            }
            text
        });
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(TEST_TIMEOUT, lines.next_line())
            .await
            .expect("the startup line within the test timeout")
            .expect("stdout is readable")
            .unwrap_or_default();
        let addr = first
            .strip_prefix("Serving on http://")
            .or_else(|| first.strip_prefix("Serving on https://"))
            .unwrap_or_else(|| panic!("unexpected startup line {first:?}"))
            .to_owned();
        Gateway {
            child,
            addr,
            stderr: Some(stderr),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The peak resident memory of the gateway process (VmHWM), in KiB.
    fn peak_rss_kib(&self) -> u64 {
        let pid = self.child.id().expect("the gateway runs");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM in /proc/PID/status")
    }

    /// Stops the gateway and returns what it logged.
    async fn stop(mut self) -> String {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
        match self.stderr.take() {
            Some(task) => tokio::time::timeout(TEST_TIMEOUT, task)
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default(),
            None => String::new(),
        }
    }
}

/// Runs the gateway to the end and returns its stderr when it fails to start.
async fn start_failure(args: &[&str]) -> String {
    let out = tokio::time::timeout(
        TEST_TIMEOUT,
        Command::new(env!("CARGO_BIN_EXE_tollgate"))
            .args(args)
            .env_remove("RUST_LOG")
            .output(),
    )
    .await
    .expect("tollgate exits")
    .unwrap();
    assert!(!out.status.success(), "tollgate should have refused to start");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

const HUNDRED_MB: u64 = 100 * 1024 * 1024;
const CHUNK: usize = 64 * 1024;

fn chunks(total: u64) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send + Sync {
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
    let gw = Gateway::start(&["proxy", "--upstream", &up.url()]).await;
    let before = gw.peak_rss_kib();

    let req = Request::post(gw.url("/upload"))
        .body(Body::from_stream(chunks(HUNDRED_MB)))
        .unwrap();
    let res = tokio::time::timeout(Duration::from_secs(120), client().request(req))
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
    tokio::time::timeout(Duration::from_secs(120), async {
        while let Some(frame) = body.frame().await {
            total += frame.unwrap().data_ref().map_or(0, |d| d.len() as u64);
        }
    })
    .await
    .expect("the download finishes");
    assert_eq!(total, HUNDRED_MB);

    let peak = gw.peak_rss_kib();
    eprintln!("gateway peak RSS (VmHWM): {before} KiB at start, {peak} KiB after 100 MB up and 100 MB down");
    assert!(
        peak < 40 * 1024,
        "the gateway held the bodies: peak RSS {peak} KiB"
    );
    gw.stop().await;
}

#[tokio::test]
async fn without_an_upstream_the_echo_service_answers() {
    let gw = Gateway::start(&["proxy"]).await;
    let res = client()
        .request(Request::get(gw.url("/hello?x=1")).body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.into_body().collect().await.unwrap().to_bytes();
    let echo: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(echo["path"], "/hello");
    let log = gw.stop().await;
    assert!(log.contains("no --users"), "{log}");
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
    assert!(!log.contains("c2VjcmV0"), "an Authorization value was logged: {log}");
}
