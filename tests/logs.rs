//! The log as an operator reads it, from the binary: colour only on a terminal, every line JSON
//! with `--log-format json` and startup lines once, access lines in `common`, `combined` or
//! `json`, a wrong `--log` filter refused, and the startup summary.

mod support;

use support::{run_to_end, send, temp_dir, Gateway, Launch};

/// One request with a `Referer` and a `User-Agent`.
async fn request(gw: &Gateway) {
    let headers = [
        ("referer", "http://example.com/from"),
        ("user-agent", "tester/1.0"),
    ];
    let res = send("GET", &gw.url("/logged?q=1"), &headers).await;
    assert_eq!(res.status, 200);
}

#[tokio::test]
async fn no_colour_when_standard_error_is_not_a_terminal() {
    let gw = Gateway::start(&["proxy"]).await;
    request(&gw).await;
    gw.wait_for_log("/logged?q=1", 1).await;
    let (_, log) = gw.terminate().await;
    assert!(log.contains("INFO"), "{log}");
    assert!(!log.contains('\u{1b}'), "colour codes in a pipe:\n{log}");
}

#[tokio::test]
async fn json_lines_every_one_and_startup_lines_once() {
    let gw = Gateway::start(&[
        "--log-format",
        "json",
        "--access-log",
        "json",
        "proxy",
        "--workers",
        "3",
    ])
    .await;
    request(&gw).await;
    gw.wait_for_log("/logged?q=1", 1).await;
    // Standard output too: the `Serving on` line is a JSON object.
    let stdout = gw.stdout_lines();
    assert_eq!(stdout.len(), 1, "{stdout:?}");
    let serving: serde_json::Value = serde_json::from_str(&stdout[0])
        .unwrap_or_else(|e| panic!("standard output not JSON ({e}): {stdout:?}"));
    assert!(
        serving["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Serving on http://127.0.0.1:")),
        "{serving}"
    );
    let (_, log) = gw.terminate().await;
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let count = |text: &str| log.matches(text).count();
    assert_eq!(count("Serving on"), 1, "{log}");
    assert_eq!(count("server stopped"), 1, "{log}");
    assert_eq!(count("gateway from command-line flags"), 1, "{log}");
    // The access line: a flat object, every field a value, `-` as null.
    let access = lines
        .iter()
        .find(|l| l["target"] == "/logged?q=1")
        .unwrap_or_else(|| panic!("no access line in {log}"));
    assert_eq!(access["status"], 200);
    assert_eq!(access["method"], "GET");
    assert_eq!(access["user_agent"], "tester/1.0");
    assert_eq!(access["user"], serde_json::Value::Null);
    assert!(access["bytes"].is_u64(), "{access}");
    assert!(!log.contains("Some("), "debug text in the log:\n{log}");
}

#[tokio::test]
async fn common_and_combined_access_lines() {
    for (format, tail) in [
        ("common", "\" 200 "),
        ("combined", "\"http://example.com/from\" \"tester/1.0\""),
    ] {
        let gw = Gateway::start(&["--access-log", format, "proxy"]).await;
        request(&gw).await;
        gw.wait_for_log("/logged?q=1", 1).await;
        let (_, log) = gw.terminate().await;
        let line = log
            .lines()
            .find(|l| l.contains("/logged?q=1"))
            .unwrap_or_else(|| panic!("no access line in {log}"));
        assert!(
            line.starts_with("127.0.0.1 - - ["),
            "{format}: host, ident, user: {line}"
        );
        assert!(
            line.contains("] \"GET /logged?q=1 HTTP/1.1\" 200 "),
            "{format}: {line}"
        );
        assert!(line.contains(tail), "{format}: {line}");
        if format == "common" {
            assert!(!line.contains("tester"), "{line}");
        }
    }
}

#[tokio::test]
async fn an_invalid_log_filter_is_refused_with_the_choices() {
    let (ok, out) = run_to_end(&["--log", "verbose", "proxy"]).await;
    assert!(!ok, "{out}");
    assert!(out.contains("invalid --log filter \"verbose\""), "{out}");
    assert!(
        out.contains("off, error, warn, info, debug, trace"),
        "{out}"
    );
    let (ok, out) = run_to_end(&["--access-log", "fancy", "proxy"]).await;
    assert!(!ok && out.contains("log, common, combined, json"), "{out}");
}

#[tokio::test]
async fn the_startup_summary_names_file_listeners_auth_and_routes() {
    let tmp = temp_dir();
    let dir = tmp.path();
    let users = dir.join("users");
    std::fs::write(
        &users,
        "ada:$2y$05$uTfWMJiUNPsIRCnP9QkYye1Ge.D3ulcAUNEwl.FUpa6e4FX4XNk.W\n",
    )
    .unwrap();
    let file = dir.join("gateway.toml");
    let toml = format!(
        "[[listen]]\nbind = \"127.0.0.1:0\"\n\n[auth]\nhtpasswd = {:?}\n\n[[routes]]\nname = \"api\"\n\
         path = \"/api\"\nmethods = [\"GET\"]\necho = true\n\n[[routes]]\nredirect = {{ to = \"/api\" }}\n",
        users.display().to_string()
    );
    std::fs::write(&file, toml).unwrap();
    let gw = Launch::tollgate(["run"]).arg(&file).serve().await;
    let (_, log) = gw.terminate().await;
    let summary = log
        .lines()
        .find(|l| l.contains("gateway from"))
        .unwrap_or_else(|| panic!("no summary in {log}"));
    assert!(summary.contains(&file.display().to_string()), "{summary}");
    assert!(
        summary.contains("listening on http://127.0.0.1:"),
        "{summary}"
    );
    assert!(
        summary.contains(&format!("auth on (users from {}", users.display())),
        "{summary}"
    );
    assert!(summary.contains("2 routes"), "{summary}");
    assert!(log.contains("route api: /api GET -> echo"), "{log}");
    assert!(log.contains("route /: / any -> redirect /api"), "{log}");
}
