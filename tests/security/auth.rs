//! Credentials files, failure limits and exempt paths (issue items 6-8, 11-13): the real
//! `tollgate` binary (`tollgate run FILE` or `tollgate proxy`) in front of a recording
//! upstream, driven over raw TCP on 127.0.0.1.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::proxy_support::*;

/// `tollgate run FILE` with a configuration written for the test, and its log.
struct RunGateway {
    child: Child,
    addr: String,
    log: Arc<Mutex<String>>,
    _dir: tempfile::TempDir,
}

impl RunGateway {
    /// Serves `[[listen]] 127.0.0.1:0` + `extra` (TOML) until dropped.
    async fn start(extra: &str) -> RunGateway {
        let dir = tempfile::tempdir().unwrap();
        Self::start_in(dir, extra).await
    }

    async fn start_in(dir: tempfile::TempDir, extra: &str) -> RunGateway {
        let file = dir.path().join("tollgate.toml");
        std::fs::write(&file, format!("[[listen]]\nbind = \"127.0.0.1:0\"\n\n{extra}")).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
            .arg("run")
            .arg(&file)
            .env_remove("RUST_LOG")
            .env_remove("TOLLGATE_WORKERS")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the tollgate binary runs");
        let log = Arc::new(Mutex::new(String::new()));
        let sink = log.clone();
        let stderr = child.stderr.take().expect("stderr is piped");
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let mut lines = BufReader::new(child.stdout.take().expect("stdout is piped")).lines();
        let first = tokio::time::timeout(TEST_TIMEOUT, lines.next_line())
            .await
            .expect("the startup line within the test timeout")
            .expect("stdout is readable")
            .unwrap_or_default();
        let Some(addr) = first.strip_prefix("Serving on http://") else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            panic!("unexpected startup line {first:?}: {}", log.lock().unwrap());
        };
        RunGateway {
            addr: addr.to_owned(),
            child,
            log,
            _dir: dir,
        }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Sends `SIGHUP` and waits (bounded) for the reload to be logged.
    async fn reload(&self) {
        let pid = self.child.id().expect("the gateway runs").to_string();
        let before = self.log().matches("configuration reloaded").count();
        let status = std::process::Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + TEST_TIMEOUT;
        while self.log().matches("configuration reloaded").count() == before {
            assert!(Instant::now() < deadline, "no reload logged:\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// `Basic base64(user:password)`.
fn basic(user: &str, password: &str) -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {token}")
}

/// The status of `GET target` sent as raw bytes (the target exactly as given) on a fresh
/// connection, with `headers` added.
async fn get(addr: &str, target: &str, headers: &[(&str, &str)]) -> u16 {
    let mut raw = format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        raw.push_str(&format!("{name}: {value}\r\n"));
    }
    raw.push_str("\r\n");
    let addr = addr.parse().unwrap();
    let answer = tokio::time::timeout(
        TEST_TIMEOUT,
        raw_exchange(addr, raw.as_bytes(), Duration::from_secs(10)),
    )
    .await
    .expect("answered within the test timeout");
    answer
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer:?}"))
}

/// An htpasswd file at `dir/name` with these lines.
fn users_file(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

/// One `user:hash` line made by Apache's `htpasswd -B` (bcrypt cost 5, cheap for tests).
fn bcrypt_line(user: &str, password: &str) -> String {
    let out = std::process::Command::new("htpasswd")
        .args(["-nbB", "-C", "5", user, password])
        .output()
        .expect("htpasswd (apache2-utils) is installed");
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// The `[auth]`, upstream and route tables of a gateway in front of `upstream`.
fn auth_config(upstream: &Upstream, users: &Path, auth_extra: &str, extra: &str) -> String {
    format!(
        "{extra}\n\n[auth]\nhtpasswd = \"{}\"\n{auth_extra}\n\n[upstreams.app]\nservers = [\"{}\"]\n\n\
         [[routes]]\nupstream = \"app\"\n",
        users.display(),
        upstream.url()
    )
}

// Item 6: exempt prefixes.

/// Paths that look under `/public/` to the gateway but that Tomcat, Jetty, Spring or a
/// decoding server resolve elsewhere.
const ESCAPES: &[&str] = &[
    "/public/..;/admin",
    "/public/%2e%2e;/admin",
    "/public/%2E%2E;/admin",
    "/public/;x/../admin",
    "/public/..%2fadmin",
    "/public/..%2Fadmin",
    "/public/..%5cadmin",
    "/public/a;jsessionid=1/../../admin",
    "/public/..;jsessionid=1/admin",
];

async fn exempt_escapes_need_credentials(normalize: bool) {
    let dir = tempfile::tempdir().unwrap();
    let users = users_file(dir.path(), "users", &[bcrypt_line("ada", "pw")]);
    let up = recording_upstream().await;
    let extra = if normalize { "[normalize]\n" } else { "" };
    let gw = RunGateway::start(&auth_config(
        &up,
        &users,
        "exempt_paths = [\"/public/*\", \"/healthz\"]",
        extra,
    ))
    .await;

    // The exemptions work for plain paths.
    assert_eq!(get(&gw.addr, "/public/app.css", &[]).await, 200);
    assert_eq!(get(&gw.addr, "/healthz", &[]).await, 200);
    assert_eq!(up.seen().len(), 2);

    for path in ESCAPES.iter().chain(&["/healthz;x", "/healthz/..;/admin", "/admin"]) {
        let before = up.seen().len();
        let status = get(&gw.addr, path, &[]).await;
        let reached: Vec<String> = up.seen()[before..]
            .iter()
            .map(|s| s.uri.to_string())
            .collect();
        if normalize && status == 200 {
            // The normalize layer resolved the path before auth ran (`/public/;x/../admin`
            // is `/public/admin`): the decision and the forwarded path are that same plain
            // path under the prefix, never the one a server behind would resolve elsewhere.
            assert_eq!(reached.len(), 1, "{path}");
            let seen = &reached[0];
            assert!(
                seen.starts_with("/public/")
                    && !seen.contains([';', '%', '\\'])
                    && !seen.split('/').any(|s| s == ".." || s == "."),
                "{path} reached the upstream without credentials as {seen}"
            );
            continue;
        }
        assert!(
            status == 401 || status == 400,
            "normalize={normalize} {path}: {status}"
        );
        assert_eq!(reached, Vec::<String>::new(), "normalize={normalize} {path}");
    }
    if !normalize {
        // Nothing but the two plain requests reached the upstream.
        let seen: Vec<String> = up.seen().iter().map(|s| s.uri.to_string()).collect();
        assert_eq!(seen, ["/public/app.css", "/healthz"]);
    }

    // With credentials, the same path is the upstream's business (or a 400 from the
    // normalize layer, which may refuse `..;` segments outright).
    let ada = basic("ada", "pw");
    let status = get(&gw.addr, "/public/..;/admin", &[("Authorization", &ada)]).await;
    assert!(
        status == 200 || (normalize && status == 400),
        "normalize={normalize}: {status}"
    );
}

#[tokio::test]
async fn exempt_prefix_escapes_need_credentials() {
    exempt_escapes_need_credentials(false).await;
}

#[tokio::test]
async fn exempt_prefix_escapes_need_credentials_with_normalize() {
    exempt_escapes_need_credentials(true).await;
}
