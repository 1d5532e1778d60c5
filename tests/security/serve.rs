//! Listener limits: tunnels against the connection cap, body deadlines, admin listener, pid file (items 9, 10, 18).

#[allow(unused_imports)]
use crate::proxy_support::*;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};

/// A `tollgate run FILE` child: its address and what it logged.
struct Run {
    child: Child,
    addr: String,
    stderr: tokio::task::JoinHandle<String>,
}

impl Run {
    /// Writes `toml` to `dir/gateway.toml`, starts `tollgate run` on it and waits for its
    /// `Serving on` line.
    async fn start(dir: &Path, toml: &str) -> Run {
        let file = dir.join("gateway.toml");
        std::fs::write(&file, toml).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
            .arg("run")
            .arg(&file)
            .env_remove("RUST_LOG")
            .env_remove("TOLLGATE_BIND")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the tollgate binary runs");
        let stderr = child.stderr.take().expect("stderr is piped");
        let stderr = tokio::spawn(async move {
            let mut text = String::new();
            let _ = BufReader::new(stderr).read_to_string(&mut text).await;
            text
        });
        let stdout = child.stdout.take().expect("stdout is piped");
        let line = tokio::time::timeout(TEST_TIMEOUT, BufReader::new(stdout).lines().next_line())
            .await
            .expect("the startup line within the test timeout")
            .expect("stdout is readable")
            .unwrap_or_default();
        let Some(addr) = line
            .strip_prefix("Serving on http://")
            .or_else(|| line.strip_prefix("Serving on https://"))
        else {
            let _ = child.start_kill();
            let log = tokio::time::timeout(TEST_TIMEOUT, stderr).await;
            panic!("unexpected startup line {line:?}; stderr: {log:?}");
        };
        Run {
            addr: addr.to_owned(),
            child,
            stderr,
        }
    }

    fn addr(&self) -> std::net::SocketAddr {
        self.addr.parse().expect("a socket address")
    }

    /// Stops the gateway (SIGKILL) and returns its log.
    async fn stop(mut self) -> String {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
        tokio::time::timeout(TEST_TIMEOUT, self.stderr)
            .await
            .expect("stderr closes")
            .unwrap_or_default()
    }
}

/// `tollgate ARGS` to the end: (success, stdout + stderr).
async fn tollgate(args: &[&str]) -> (bool, String) {
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
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 temporary path")
}

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

// ---- item 18: the admin listener, secret files, the pid file ----

/// Issue 13, item 18: metrics on an address other machines reach are refused unless
/// `allow_public = true` says so, and the error says what to add.
#[tokio::test]
async fn admin_listener_on_a_public_address_needs_allow_public() {
    let dir = tempfile::tempdir().unwrap();
    let base = "[[listen]]\nbind = \"127.0.0.1:0\"\n\n[[routes]]\necho = true\n";
    let file = dir.path().join("gateway.toml");

    std::fs::write(&file, format!("{base}\n[admin]\nbind = \"0.0.0.0:9090\"\n")).unwrap();
    let (ok, out) = tollgate(&["check", path_str(&file)]).await;
    assert!(!ok, "a public admin listener passed the check: {out}");
    assert!(out.contains("admin"), "{out}");
    assert!(out.contains("allow_public = true"), "{out}");
    let (ok, out) = tollgate(&["run", path_str(&file)]).await;
    assert!(!ok, "a public admin listener started: {out}");
    assert!(out.contains("allow_public = true"), "{out}");

    std::fs::write(
        &file,
        format!("{base}\n[admin]\nbind = \"0.0.0.0:9090\"\nallow_public = true\n"),
    )
    .unwrap();
    let (ok, out) = tollgate(&["check", path_str(&file)]).await;
    assert!(ok, "allow_public = true was refused: {out}");

    // Loopback needs nothing.
    std::fs::write(&file, format!("{base}\n[admin]\nbind = \"127.0.0.1:0\"\n")).unwrap();
    let (ok, out) = tollgate(&["check", path_str(&file)]).await;
    assert!(ok, "a loopback admin listener was refused: {out}");
}

fn tls_files(dir: &Path) -> (PathBuf, PathBuf) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    (cert, key)
}

/// Issue 13, item 18: a TLS key or a credentials file every local user can read is a warning
/// at startup that names the file and the fix; `chmod 600` silences it.
#[tokio::test]
async fn secret_files_readable_by_others_are_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let users = htpasswd_file(dir.path(), "ada", "lovelace");
    let (cert, key) = tls_files(dir.path());
    chmod(&users, 0o644);
    chmod(&key, 0o644);
    let toml = format!(
        "[[listen]]\nbind = \"127.0.0.1:0\"\ntls = {{ cert = {cert:?}, key = {key:?} }}\n\n\
         [auth]\nhtpasswd = {users:?}\n\n[[routes]]\necho = true\n",
        cert = path_str(&cert),
        key = path_str(&key),
        users = path_str(&users),
    );
    let log = Run::start(dir.path(), &toml).await.stop().await;
    for file in [&users, &key] {
        let fix = format!("chmod 600 {}", file.display());
        assert!(log.contains(&fix), "no `{fix}` in the log: {log}");
    }

    chmod(&users, 0o600);
    chmod(&key, 0o600);
    let log = Run::start(dir.path(), &toml).await.stop().await;
    assert!(!log.contains("chmod"), "{log}");
}

/// Issue 13, item 18: the pid file is never written through a symbolic link (a gateway
/// started as root would truncate whatever the link points at).
#[tokio::test]
async fn pid_file_is_not_written_through_a_symlink() {
    let dir = tempfile::tempdir().unwrap();
    let precious = dir.path().join("precious");
    std::fs::write(&precious, "keep me\n").unwrap();
    let link = dir.path().join("tollgate.pid");
    std::os::unix::fs::symlink(&precious, &link).unwrap();
    let dangling = dir.path().join("dangling.pid");
    let nowhere = dir.path().join("created-through-the-link");
    std::os::unix::fs::symlink(&nowhere, &dangling).unwrap();
    let file = dir.path().join("gateway.toml");

    for pid_file in [&link, &dangling] {
        std::fs::write(
            &file,
            format!(
                "pid_file = {:?}\n\n[[listen]]\nbind = \"127.0.0.1:0\"\n\n[[routes]]\necho = true\n",
                path_str(pid_file)
            ),
        )
        .unwrap();
        let (ok, out) = tollgate(&["run", path_str(&file)]).await;
        assert!(!ok, "tollgate ran with a symlinked pid file: {out}");
        assert!(out.contains("pid file"), "{out}");
        assert!(out.contains("symbolic link"), "{out}");
    }
    assert_eq!(std::fs::read_to_string(&precious).unwrap(), "keep me\n");
    assert!(
        !nowhere.exists(),
        "the pid file was created through a dangling link"
    );

    // A plain path still works, and the file holds the pid.
    let plain = dir.path().join("plain.pid");
    let run = Run::start(
        dir.path(),
        &format!(
            "pid_file = {:?}\n\n[[listen]]\nbind = \"127.0.0.1:0\"\n\n[[routes]]\necho = true\n",
            path_str(&plain)
        ),
    )
    .await;
    let pid = run.child.id().expect("the gateway runs");
    // Written once the listeners serve, a moment after the `Serving on` line.
    let mut written = String::new();
    for _ in 0..3000 {
        written = std::fs::read_to_string(&plain).unwrap_or_default();
        if written.ends_with('\n') {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(written.trim(), pid.to_string());
    run.stop().await;
}

/// Issue 13 (CI flake): a SIGTERM that arrives once the listeners serve but before the
/// gateway finished starting is a graceful stop. A FIFO as the pid file holds `tollgate run`
/// in exactly that window (it writes the pid after its listeners started) until we read it.
#[tokio::test]
async fn sigterm_between_listening_and_the_pid_file_is_a_clean_stop() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("tollgate.pid");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let run = Run::start(
        dir.path(),
        &format!(
            "pid_file = {:?}\n\n[[listen]]\nbind = \"127.0.0.1:0\"\n\n[[routes]]\necho = true\n",
            path_str(&fifo)
        ),
    )
    .await;
    let Run {
        mut child, stderr, ..
    } = run;
    let pid = child.id().expect("the gateway runs");
    let killed = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .await
        .unwrap();
    assert!(killed.success());
    // Unblock the gateway's write of its pid (the read end must be open for it to go on).
    let mut reader = tokio::net::unix::pipe::OpenOptions::new()
        .read_write(true)
        .open_receiver(&fifo)
        .unwrap();
    let mut written = Vec::new();
    let mut buf = [0u8; 64];
    while !written.ends_with(b"\n") {
        match tokio::time::timeout(TEST_TIMEOUT, reader.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => written.extend_from_slice(&buf[..n]),
            other => panic!("no pid from the gateway: {other:?}"),
        }
    }
    assert_eq!(String::from_utf8_lossy(&written).trim(), pid.to_string());
    let exit = tokio::time::timeout(TEST_TIMEOUT, child.wait())
        .await
        .expect("tollgate exits after SIGTERM")
        .unwrap();
    let log = tokio::time::timeout(TEST_TIMEOUT, stderr)
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(exit.success(), "{exit}: {log}");
}

// ---- item 16: CONNECT ----

/// Issue 13, item 16: `CONNECT` is not forwarded (no route lists it): the client gets a 501
/// and the upstream sees nothing, not even a connection.
#[tokio::test]
async fn connect_is_refused_and_never_reaches_the_upstream() {
    let up = recording_upstream().await;
    let gw = Gateway::start(&["proxy", "--upstream", &up.url()]).await;
    let addr: std::net::SocketAddr = gw.addr.parse().unwrap();
    let target = up.addr.to_string();
    for raw in [
        format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n"),
        format!(
            "CONNECT {target} HTTP/1.1\r\nHost: {target}\r\nProxy-Connection: keep-alive\r\n\r\n"
        ),
    ] {
        let answer = raw_exchange(addr, raw.as_bytes(), Duration::from_secs(2)).await;
        assert!(
            answer.starts_with("HTTP/1.1 501") || answer.starts_with("HTTP/1.1 405"),
            "{answer}"
        );
    }
    assert_eq!(up.connections(), 0, "the upstream was connected to");
    // An ordinary request still goes through, so the upstream is reachable.
    let out = curl(&[&gw.url("/after")]).await;
    assert_eq!(out.status, 200, "{}", out.stderr);
    let seen = up.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].uri.path(), "/after");
    assert!(seen.iter().all(|s| s.method != http::Method::CONNECT));
    gw.stop().await;
}
