//! Listener limits: tunnels against the connection cap, body deadlines, the admin listener,
//! the pid file (items 9, 10, 18), and signals during startup.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support::*;

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
    let (ok, out) = run_to_end(&["check", path_str(&file)]).await;
    assert!(!ok, "a public admin listener passed the check: {out}");
    assert!(out.contains("admin"), "{out}");
    assert!(out.contains("allow_public = true"), "{out}");
    let (ok, out) = run_to_end(&["run", path_str(&file)]).await;
    assert!(!ok, "a public admin listener started: {out}");
    assert!(out.contains("allow_public = true"), "{out}");

    std::fs::write(
        &file,
        format!("{base}\n[admin]\nbind = \"0.0.0.0:9090\"\nallow_public = true\n"),
    )
    .unwrap();
    let (ok, out) = run_to_end(&["check", path_str(&file)]).await;
    assert!(ok, "allow_public = true was refused: {out}");

    // Loopback needs nothing.
    std::fs::write(&file, format!("{base}\n[admin]\nbind = \"127.0.0.1:0\"\n")).unwrap();
    let (ok, out) = run_to_end(&["check", path_str(&file)]).await;
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
    let log = Gateway::run_file(dir.path(), &toml, &[]).await.stop().await;
    for file in [&users, &key] {
        let fix = format!("chmod 600 {}", file.display());
        assert!(log.contains(&fix), "no `{fix}` in the log: {log}");
    }

    chmod(&users, 0o600);
    chmod(&key, 0o600);
    let log = Gateway::run_file(dir.path(), &toml, &[]).await.stop().await;
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
        let (ok, out) = run_to_end(&["run", path_str(&file)]).await;
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
    let run = Gateway::run_file(
        dir.path(),
        &format!(
            "pid_file = {:?}\n\n[[listen]]\nbind = \"127.0.0.1:0\"\n\n[[routes]]\necho = true\n",
            path_str(&plain)
        ),
        &[],
    )
    .await;
    let pid = run.pid();
    // Written once the listeners serve, a moment after the `Serving on` line.
    let read = || std::fs::read_to_string(&plain).unwrap_or_default();
    eventually(async || read().ends_with('\n')).await;
    assert_eq!(read().trim(), pid.to_string());
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
    let run = Gateway::run_file(
        dir.path(),
        &format!(
            "pid_file = {:?}\n\n[[listen]]\nbind = \"127.0.0.1:0\"\n\n[[routes]]\necho = true\n",
            path_str(&fifo)
        ),
        &[],
    )
    .await;
    let mut run = run;
    let pid = run.pid();
    run.signal("TERM");
    // Unblock the gateway's write of its pid (the read end must be open for it to go on).
    let mut reader = tokio::net::unix::pipe::OpenOptions::new()
        .read_write(true)
        .open_receiver(&fifo)
        .unwrap();
    let mut written = Vec::new();
    let mut buf = [0u8; 64];
    while !written.ends_with(b"\n") {
        tokio::select! {
            read = tokio::time::timeout(TEST_TIMEOUT, reader.read(&mut buf)) => match read {
                Ok(Ok(n)) if n > 0 => written.extend_from_slice(&buf[..n]),
                other => panic!("no pid from the gateway: {other:?}"),
            },
            // Killed by the SIGTERM (the old startup window) rather than stopping gracefully.
            exit = run.child.wait() => panic!("tollgate ended before writing its pid: {exit:?}"),
        }
    }
    assert_eq!(String::from_utf8_lossy(&written).trim(), pid.to_string());
    let exit = run.wait().await;
    let log = run.stop().await;
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
    assert_eq!(out.status, 200, "{out:?}");
    let seen = up.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].uri.path(), "/after");
    assert!(seen.iter().all(|s| s.method != http::Method::CONNECT));
    gw.stop().await;
}

// ---- item 9: upgraded tunnels ----

/// An upstream that answers `Upgrade: websocket` with `101 Switching Protocols`, then echoes
/// what it receives (`closed` counts tunnels whose gateway side ended); anything else gets a
/// `200`.
struct TunnelUpstream {
    addr: std::net::SocketAddr,
    closed: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl TunnelUpstream {
    async fn start() -> TunnelUpstream {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let closed = std::sync::Arc::new(AtomicUsize::new(0));
        let closes = closed.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let closes = closes.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    if !String::from_utf8_lossy(&head)
                        .to_ascii_lowercase()
                        .contains("upgrade: websocket")
                    {
                        let ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
                        let _ = stream.write_all(ok.as_bytes()).await;
                        return;
                    }
                    let answer = "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\n\
                                  Upgrade: websocket\r\n\r\n";
                    if stream.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                    loop {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => {
                                if stream.write_all(&buf[..n]).await.is_err() {
                                    break;
                                }
                            }
                        }
                    }
                    closes.fetch_add(1, Ordering::SeqCst);
                });
            }
        });
        TunnelUpstream { addr, closed }
    }

    fn closed(&self) -> usize {
        self.closed.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// A gateway file: one worker, one listener with `listen_extra` keys, every route to `up`.
fn tunnel_gateway(up: std::net::SocketAddr, listen_extra: &str) -> String {
    format!(
        "workers = 1\n\n[[listen]]\nbind = \"127.0.0.1:0\"\n{listen_extra}\n\n\
         [upstreams.ws]\nservers = [\"http://{up}\"]\n\n[[routes]]\nupstream = \"ws\"\n"
    )
}

/// Opens a WebSocket-style tunnel through the gateway and checks that bytes go both ways.
async fn open_tunnel(gateway: std::net::SocketAddr) -> TcpStream {
    let mut stream = connect(gateway).await;
    stream
        .write_all(
            b"GET /ws HTTP/1.1\r\nHost: app.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
        )
        .await
        .unwrap();
    let mut head = Vec::new();
    let mut buf = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(TEST_TIMEOUT, stream.read(&mut buf))
            .await
            .expect("the 101 within the test timeout")
            .unwrap();
        assert!(
            n > 0,
            "closed before the 101: {}",
            String::from_utf8_lossy(&head)
        );
        head.push(buf[0]);
    }
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    stream.write_all(b"ping").await.unwrap();
    let mut echo = [0u8; 4];
    tokio::time::timeout(TEST_TIMEOUT, stream.read_exact(&mut echo))
        .await
        .expect("the echo within the test timeout")
        .unwrap();
    assert_eq!(&echo, b"ping");
    stream
}

/// Sends an ordinary request on a fresh connection; the answer's status line, or `None` when
/// nothing came within `wait`.
async fn plain_request(
    gateway: std::net::SocketAddr,
    wait: Duration,
) -> (TcpStream, Option<String>) {
    let mut stream = connect(gateway).await;
    stream
        .write_all(b"GET /plain HTTP/1.1\r\nHost: app.test\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let line = match tokio::time::timeout(wait, stream.read(&mut buf)).await {
        Ok(Ok(n)) if n > 0 => Some(String::from_utf8_lossy(&buf[..n]).into_owned()),
        _ => None,
    };
    (stream, line)
}

/// Reads until the peer closes (bounded by the test timeout); true when it did.
async fn closed_by_peer(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 256];
    let deadline = tokio::time::Instant::now() + TEST_TIMEOUT;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

/// Issue 13, item 9: with `max_connections = 2`, two open tunnels fill the cap: a third
/// client waits until one of them closes, then is served.
#[tokio::test]
async fn tunnels_count_against_the_connection_cap() {
    let up = TunnelUpstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let toml = tunnel_gateway(
        up.addr,
        "max_connections = 2\nheader_read_timeout = \"1s\"\ntunnel_idle_timeout = \"1h\"",
    );
    let run = Gateway::run_file(dir.path(), &toml, &[]).await;
    let first = open_tunnel(run.socket_addr()).await;
    let _second = open_tunnel(run.socket_addr()).await;
    // Both tunnels stay open (idle past the header timeout), so the third client is not
    // served. Nothing can make it served early: the wait only bounds how long we look.
    let (mut third, answer) = plain_request(run.socket_addr(), Duration::from_millis(1500)).await;
    assert_eq!(answer, None, "served past the connection cap");
    // A tunnel closes: its slot goes to the waiting client.
    drop(first);
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(TEST_TIMEOUT, third.read(&mut buf))
        .await
        .expect("the waiting client is served once a tunnel closed")
        .unwrap();
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    run.stop().await;
}

/// Issue 13, item 9: an idle tunnel is closed on both sides after `tunnel_idle_timeout`, and
/// its slot under the cap is free again.
#[tokio::test]
async fn idle_tunnels_are_closed_on_both_sides() {
    let up = TunnelUpstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let toml = tunnel_gateway(up.addr, "max_connections = 1\ntunnel_idle_timeout = \"1s\"");
    let run = Gateway::run_file(dir.path(), &toml, &[]).await;
    let started = tokio::time::Instant::now();
    let mut tunnel = open_tunnel(run.socket_addr()).await;
    assert!(
        closed_by_peer(&mut tunnel).await,
        "the idle tunnel stayed open"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "closed before the idle timeout"
    );
    assert!(
        eventually(async || up.closed() == 1).await,
        "the upstream side of the tunnel stayed open"
    );
    // The slot is free: the next client (the cap is 1) is served.
    let (_stream, answer) = plain_request(run.socket_addr(), TEST_TIMEOUT).await;
    let answer = answer.expect("served after the tunnel closed");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    run.stop().await;
}

// ---- item 10: the request body's deadline ----

/// Issue 13, item 10: a client that sends one byte at a time, each well inside
/// `body_read_timeout`, is cut off at `body_total_timeout`; the upstream never gets a
/// complete body, and another client is served meanwhile.
#[tokio::test]
async fn a_trickled_body_meets_the_total_deadline() {
    let up = recording_upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "workers = 1\n\n[[listen]]\nbind = \"127.0.0.1:0\"\nbody_read_timeout = \"30s\"\n\
         body_total_timeout = \"1s\"\n\n[upstreams.app]\nservers = [\"{}\"]\n\n\
         [[routes]]\nupstream = \"app\"\n",
        up.url()
    );
    let run = Gateway::run_file(dir.path(), &toml, &[]).await;
    let stream = connect(run.socket_addr()).await;
    let (mut reader, mut writer) = stream.into_split();
    writer
        .write_all(b"POST /upload HTTP/1.1\r\nHost: app.test\r\nContent-Length: 1000\r\n\r\n")
        .await
        .unwrap();
    // One byte every 100 ms: 100 s for the whole body, far past every bound below.
    let trickle = tokio::spawn(async move {
        let mut sent = 0usize;
        for _ in 0..1000 {
            if writer.write_all(b"x").await.is_err() {
                break;
            }
            sent += 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        sent
    });
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    let ended = tokio::time::timeout(TEST_TIMEOUT, async {
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(
        ended.is_ok(),
        "the trickled request was still open after {TEST_TIMEOUT:?}"
    );
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    trickle.abort();

    let out = curl(&["-d", "whole", &format!("http://{}/other", run.addr)]).await;
    assert_eq!(out.status, 200, "{out:?}");
    let seen = up.seen();
    assert!(
        seen.iter()
            .all(|s| s.uri.path() != "/upload" || s.body_len != 1000),
        "the upstream got the trickled body whole: {seen:?}"
    );
    assert!(seen
        .iter()
        .any(|s| s.uri.path() == "/other" && s.body_len == 5));
    run.stop().await;
}
