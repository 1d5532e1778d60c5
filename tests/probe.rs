//! `tollgate probe` against real servers: tollgate's echo service and gateway (their reports
//! are checked in under `tests/data/probe/`), Python's `http.server` and nginx (the probe
//! completes, reports every case, and its exit status says whether one desynchronized), and
//! its refusals (public addresses, https).
//!
//! `TOLLGATE_PROBE_BLESS=1 cargo test --all-features --test probe` rewrites the checked-in
//! reports from the live ones; review the diff before committing it (docs/probe.md).

mod support;

use std::path::PathBuf;
use std::process::Output;

use serde_json::Value;
use support::*;

/// Short enough that a silent server does not make the test long; the probe's bound, not an
/// assertion on speed.
const TIMEOUT: &str = "1";

/// `tollgate probe URL --json --timeout 1 EXTRA...` to its end.
async fn probe(url: &str, extra: &[&str]) -> Output {
    Launch::tollgate(["probe", url, "--json", "--timeout", TIMEOUT])
        .env("TOLLGATE_LOG", "warn")
        .args(extra)
        .output()
        .await
}

trait Args {
    fn args(self, extra: &[&str]) -> Self;
}

impl Args for Launch {
    fn args(self, extra: &[&str]) -> Launch {
        extra.iter().fold(self, |launch, a| launch.arg(a))
    }
}

/// The JSON report a probe printed.
fn report(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "the probe prints JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// The ids of the cases whose verdict is `desync`.
fn desync(report: &Value) -> Vec<String> {
    report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["verdict"] == "desync")
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Every case of the corpus is in the report, in order, and the exit status says whether one
/// desynchronized (2) or none did (0).
fn assert_complete(out: &Output, report: &Value) {
    let ids: Vec<&str> = report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    let corpus: Vec<&str> = tollgate::probe::corpus().iter().map(|c| c.id).collect();
    assert_eq!(ids, corpus);
    let desync = desync(report);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if desync.is_empty() {
        assert_eq!(out.status.code(), Some(0), "{stderr}");
    } else {
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        for id in &desync {
            assert!(stderr.contains(id.as_str()), "{id} named in: {stderr}");
        }
    }
    assert!(report["requests_sent"].as_u64().unwrap() <= 3 * ids.len() as u64);
}

/// The live report (without its target, which has a port) equals the checked-in one, or
/// rewrites it with `TOLLGATE_PROBE_BLESS=1`.
fn assert_as_checked_in(report: &Value, name: &str) {
    let mut live = report.clone();
    live.as_object_mut().unwrap().remove("target");
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "data", "probe", name]
        .iter()
        .collect();
    if std::env::var("TOLLGATE_PROBE_BLESS").as_deref() == Ok("1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, serde_json::to_string_pretty(&live).unwrap() + "\n").unwrap();
        return;
    }
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (TOLLGATE_PROBE_BLESS=1 writes it)", path.display()));
    let expected: Value = serde_json::from_str(&text).unwrap();
    for (want, got) in expected["cases"]
        .as_array()
        .unwrap()
        .iter()
        .zip(live["cases"].as_array().unwrap())
    {
        assert_eq!(
            got,
            want,
            "case {} differs from {}",
            want["id"],
            path.display()
        );
    }
    assert_eq!(
        live,
        expected,
        "{} (TOLLGATE_PROBE_BLESS=1 rewrites it)",
        path.display()
    );
}

/// Probes tollgate at `url`: complete, no desync, and as `tests/data/probe/NAME` says.
async fn assert_tollgate(url: &str, name: &str) {
    let out = probe(url, &[]).await;
    let report = report(&out);
    assert_complete(&out, &report);
    assert!(
        desync(&report).is_empty(),
        "tollgate desynchronized: {report:#}"
    );
    assert_as_checked_in(&report, name);
}

#[tokio::test]
async fn tollgate_echo_reads_every_case_as_the_checked_in_report_says() {
    let echo = Gateway::start(&["echo"]).await;
    assert_tollgate(&echo.url("/"), "tollgate-echo.json").await;
}

#[tokio::test]
async fn tollgate_gateway_reads_every_case_as_the_checked_in_report_says() {
    let up = recording_upstream().await;
    let gateway = Gateway::start(&["proxy", "--upstream", &up.url()]).await;
    assert_tollgate(&gateway.url("/"), "tollgate-gateway.json").await;
}

#[tokio::test]
async fn python_http_server_is_probed_and_its_desyncs_reported() {
    let python = Peer::python_http().await;
    let out = probe(&python.url(), &[]).await;
    let report = report(&out);
    assert_complete(&out, &report);
    // http.server answers HTTP/1.0 and closes: no follow-up ever reaches it.
    let pipelined = &report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "pipelined");
    assert!(pipelined.is_some());
}

#[tokio::test]
async fn nginx_is_probed_and_its_desyncs_reported() {
    let nginx = Peer::nginx().await;
    let out = probe(&nginx.url(), &[]).await;
    let report = report(&out);
    assert_complete(&out, &report);
    let case = |id: &str| {
        report["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .cloned()
            .unwrap()
    };
    // Plain requests keep nginx's connection in step.
    assert_eq!(case("pipelined")["statuses"], serde_json::json!([200, 200]));
    assert_eq!(case("chunk-ext")["kept_open"], true);
}

#[tokio::test]
async fn compare_lists_the_cases_two_servers_read_differently() {
    let echo = Gateway::start(&["echo"]).await;
    let nginx = Peer::nginx().await;
    let cases = [
        "--case",
        "cl-te",
        "--case",
        "bare-lf",
        "--case",
        "host-empty",
    ];
    let second = nginx.url();
    let mut extra = vec!["--compare", second.as_str()];
    extra.extend(cases);
    let out = probe(&echo.url("/"), &extra).await;
    let all = report(&out);
    assert_eq!(all["first"]["cases"].as_array().unwrap().len(), 3);
    assert_eq!(all["second"]["cases"].as_array().unwrap().len(), 3);
    let first_cases = all["first"]["cases"].as_array().unwrap();
    let second_cases = all["second"]["cases"].as_array().unwrap();
    let differing: Vec<&Value> = first_cases
        .iter()
        .zip(second_cases)
        .filter(|(a, b)| a["verdict"] != b["verdict"] || a["kept_open"] != b["kept_open"])
        .map(|(a, _)| &a["id"])
        .collect();
    let listed: Vec<&Value> = all["differences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| &d["id"])
        .collect();
    assert_eq!(listed, differing);
    // The table names both servers.
    let table = Launch::tollgate(["probe", &echo.url("/"), "--timeout", TIMEOUT])
        .args(&extra)
        .output()
        .await;
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains(&nginx.url()) && text.contains("cases differ"),
        "{text}"
    );
}

#[tokio::test]
async fn a_public_address_or_https_is_refused_before_anything_is_sent() {
    let (ok, out) = run_to_end(&["probe", "http://192.0.2.1/"]).await;
    assert!(!ok);
    assert!(out.contains("--i-own-the-target"), "{out}");
    let (ok, out) = run_to_end(&["probe", "https://127.0.0.1/"]).await;
    assert!(!ok);
    assert!(out.contains("https is not supported"), "{out}");
    let (ok, out) = run_to_end(&["probe", "http://127.0.0.1:1/", "--case", "nope"]).await;
    assert!(!ok);
    assert!(
        out.contains("no case \"nope\"") && out.contains("cl-te"),
        "{out}"
    );
}

#[tokio::test]
async fn a_silent_server_costs_the_timeout_per_case_not_a_hang() {
    // Accepts and never answers: each case ends at its timeout with no answer.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let out = probe(&url, &["--case", "cl-te", "--case", "pipelined"]).await;
    drop(listener);
    let report = report(&out);
    assert_eq!(out.status.code(), Some(0));
    for case in report["cases"].as_array().unwrap() {
        assert_eq!(case["verdict"], "no-answer", "{case}");
    }
}

#[tokio::test]
async fn a_server_answering_twice_is_a_desync_and_the_exit_status_is_2() {
    // What a server that read part of the body as a second request looks like from outside.
    let liar =
        lying_upstream(|_| vec![Step::Read, honest_answer("one"), honest_answer("two")]).await;
    let out = probe(&format!("{}/", liar.url()), &["--case", "cl-te"]).await;
    let report = report(&out);
    assert_eq!(out.status.code(), Some(2), "{report:#}");
    assert_eq!(desync(&report), ["cl-te"]);
    assert_eq!(report["cases"][0]["answers"], 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("desynchronization in 1 case(s): cl-te"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_server_that_waits_for_the_follow_up_is_a_desync() {
    // Answers only after a second read: the follow-up GET was taken as the case's body.
    let liar = lying_upstream(|_| vec![Step::Read, Step::Read, honest_answer("late")]).await;
    let out = probe(&format!("{}/", liar.url()), &["--case", "cl-leading-zeros"]).await;
    let report = report(&out);
    assert_eq!(out.status.code(), Some(2), "{report:#}");
    assert_eq!(report["cases"][0]["answers"], 0);
    assert_eq!(report["cases"][0]["follow_up"], serde_json::json!([200]));
}
