//! `tollgate run FILE` as a child process: reload on SIGHUP without dropping a connection, a bad
//! reload logged and refused, metrics scraped after known traffic, health, the example file.

mod support;

use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::Request;
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use support::{full, upstream, Upstream, TEST_TIMEOUT};
use tollgate::Body;

/// A running `tollgate run`, killed when dropped; its standard error is collected.
struct Gateway {
    child: Child,
    stderr: Arc<Mutex<String>>,
    file: PathBuf,
}

impl Gateway {
    fn start(file: &Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
            .args(["--log", "info", "run"])
            .arg(file)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("tollgate starts");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().expect("piped");
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Gateway {
            child,
            stderr,
            file: file.to_owned(),
        }
    }

    fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits (bounded) until the log contains `text` `times` times.
    async fn wait_for_log(&self, text: &str, times: usize) {
        let deadline = Instant::now() + TEST_TIMEOUT;
        while self.log().matches(text).count() < times {
            assert!(
                Instant::now() < deadline,
                "no {text:?} in the log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn hangup(&self) {
        // The shell's own `kill`: no procps needed.
        let status = Command::new("sh")
            .args(["-c", &format!("kill -HUP {}", self.child.id())])
            .status()
            .expect("sh runs");
        assert!(status.success());
    }

    fn rewrite(&self, text: &str) {
        std::fs::write(&self.file, text).unwrap();
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tollgate-run-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn free_addr() -> SocketAddr {
    support::dead_port()
}

/// Waits (bounded) until something accepts connections on `addr`.
async fn wait_listening(addr: SocketAddr, gateway: &Gateway) {
    let deadline = Instant::now() + TEST_TIMEOUT;
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        assert!(
            Instant::now() < deadline,
            "nothing listens on {addr}:\n{}",
            gateway.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn named(name: &'static str) -> Upstream {
    upstream(move |_req| async move { http::Response::new(full(name)) }).await
}

/// `(status, body)` of a GET on a fresh connection, with optional Basic credentials.
async fn get(addr: SocketAddr, path: &str, auth: Option<&str>) -> (u16, String) {
    let mut req = Request::get(format!("http://{addr}{path}"));
    if let Some(auth) = auth {
        req = req.header("authorization", auth);
    }
    let res = tokio::time::timeout(
        TEST_TIMEOUT,
        support::client().request(req.body(Body::empty()).unwrap()),
    )
    .await
    .expect("answered in time")
    .expect("answered");
    let status = res.status().as_u16();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn config(listen: SocketAddr, server: &str, extra: &str) -> String {
    format!(
        r#"
[[listen]]
bind = "{listen}"

[upstreams.app]
servers = ["{server}"]

[[routes]]
upstream = "app"
{extra}
"#
    )
}

#[tokio::test]
async fn sighup_reloads_without_dropping_a_connection() {
    let (one, two) = (named("one").await, named("two").await);
    let listen = free_addr();
    let dir = temp_dir("reload");
    let file = dir.join("tollgate.toml");
    std::fs::write(&file, config(listen, &one.url(), "")).unwrap();
    let gateway = Gateway::start(&file);
    wait_listening(listen, &gateway).await;

    // One keep-alive connection, used before and after each reload.
    let stream = tokio::net::TcpStream::connect(listen).await.unwrap();
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    let conn = tokio::spawn(conn);
    let mut ask = async || {
        let req = Request::get("/")
            .header("host", listen.to_string())
            .body(Body::empty())
            .unwrap();
        let res = tokio::time::timeout(TEST_TIMEOUT, send.send_request(req))
            .await
            .expect("answered in time")
            .expect("the connection is still open");
        let body = res.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8_lossy(&body).into_owned()
    };
    assert_eq!(ask().await, "one");

    // A good config: the same connection now reaches the new upstream.
    gateway.rewrite(&config(listen, &two.url(), ""));
    gateway.hangup();
    gateway.wait_for_log("configuration reloaded", 1).await;
    assert_eq!(ask().await, "two");

    // A bad one: logged, refused, the running one stays.
    gateway.rewrite(&config(listen, &one.url(), "upstreem = \"typo\""));
    gateway.hangup();
    gateway.wait_for_log("reload refused", 1).await;
    let log = gateway.log();
    assert!(log.contains("unknown field `upstreem`"), "{log}");
    assert_eq!(ask().await, "two");
    assert_eq!(get(listen, "/", None).await, (200, "two".to_owned()));

    // A semantic error is refused the same way.
    gateway.rewrite(
        &config(listen, &one.url(), "").replace("upstream = \"app\"", "upstream = \"nope\""),
    );
    gateway.hangup();
    gateway.wait_for_log("reload refused", 2).await;
    assert!(gateway.log().contains("no upstream group named `nope`"));
    assert_eq!(ask().await, "two");
    assert!(!conn.is_finished(), "the keep-alive connection was dropped");
}

#[tokio::test]
async fn an_in_flight_request_finishes_on_the_configuration_it_started_with() {
    // The old upstream holds its answer until the reload is done.
    let release = Arc::new(tokio::sync::Notify::new());
    let hold = release.clone();
    let slow = upstream(move |_req| {
        let hold = hold.clone();
        async move {
            hold.notified().await;
            http::Response::new(full("old"))
        }
    })
    .await;
    let new = named("new").await;
    let listen = free_addr();
    let dir = temp_dir("in-flight");
    let file = dir.join("tollgate.toml");
    std::fs::write(&file, config(listen, &slow.url(), "")).unwrap();
    let gateway = Gateway::start(&file);
    wait_listening(listen, &gateway).await;

    let in_flight = tokio::spawn(get(listen, "/", None));
    // Wait (bounded) until the request reached the old upstream.
    let deadline = Instant::now() + TEST_TIMEOUT;
    while slow.connections() == 0 {
        assert!(
            Instant::now() < deadline,
            "the request never reached the upstream"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    gateway.rewrite(&config(listen, &new.url(), ""));
    gateway.hangup();
    gateway.wait_for_log("configuration reloaded", 1).await;
    assert_eq!(get(listen, "/", None).await, (200, "new".to_owned()));
    release.notify_one();
    assert_eq!(in_flight.await.unwrap(), (200, "old".to_owned()));
}

/// `tollgate reload FILE` with its arguments; `(success, stdout + stderr)`.
fn reload(file: &Path, extra: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .arg("reload")
        .arg(file)
        .args(extra)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("tollgate runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[tokio::test]
async fn tollgate_reload_checks_the_file_then_signals_the_gateway() {
    let (one, two) = (named("one").await, named("two").await);
    let listen = free_addr();
    let dir = temp_dir("reload-command");
    let file = dir.join("tollgate.toml");
    let pid_file = dir.join("tollgate.pid");
    let with_pid = |server: &str, extra: &str| {
        format!(
            "pid_file = {:?}\n{}",
            pid_file.display().to_string(),
            config(listen, server, extra)
        )
    };
    std::fs::write(&file, with_pid(&one.url(), "")).unwrap();
    let gateway = Gateway::start(&file);
    wait_listening(listen, &gateway).await;
    let deadline = Instant::now() + TEST_TIMEOUT;
    while !pid_file.exists() {
        assert!(Instant::now() < deadline, "no pid file:\n{}", gateway.log());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    assert_eq!(pid.trim(), gateway.child.id().to_string());
    assert_eq!(get(listen, "/", None).await, (200, "one".to_owned()));

    // A file with an error is reported by `tollgate reload`, with its line; the gateway is
    // not signalled at all.
    gateway.rewrite(&with_pid(&two.url(), "upstreem = \"typo\""));
    let (ok, out) = reload(&file, &[]);
    assert!(!ok, "{out}");
    assert!(out.contains("unknown field `upstreem`"), "{out}");
    assert!(out.contains("tollgate.toml:"), "located: {out}");
    assert!(!gateway.log().contains("SIGHUP"), "{}", gateway.log());
    assert_eq!(get(listen, "/", None).await, (200, "one".to_owned()));

    // A good one: checked, signalled, in force.
    gateway.rewrite(&with_pid(&two.url(), ""));
    let (ok, out) = reload(&file, &[]);
    assert!(ok, "{out}");
    assert!(out.contains("sent SIGHUP"), "{out}");
    gateway.wait_for_log("configuration reloaded", 1).await;
    assert_eq!(get(listen, "/", None).await, (200, "two".to_owned()));

    // Without a pid file, the command says what to add.
    let plain = dir.join("plain.toml");
    std::fs::write(&plain, config(listen, &two.url(), "")).unwrap();
    let (ok, out) = reload(&plain, &[]);
    assert!(!ok && out.contains("has no `pid_file`"), "{out}");

    // A graceful stop removes the pid file.
    let mut gateway = gateway;
    let status = Command::new("sh")
        .args(["-c", &format!("kill -TERM {}", gateway.child.id())])
        .status()
        .expect("sh runs");
    assert!(status.success());
    let deadline = Instant::now() + TEST_TIMEOUT;
    while gateway.child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "no exit after SIGTERM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!pid_file.exists(), "the pid file outlived the gateway");
}

#[tokio::test]
async fn a_changed_listener_is_restarted_on_the_same_socket() {
    let one = named("one").await;
    let listen = free_addr();
    let dir = temp_dir("restart");
    let file = dir.join("tollgate.toml");
    std::fs::write(&file, config(listen, &one.url(), "")).unwrap();
    let gateway = Gateway::start(&file);
    wait_listening(listen, &gateway).await;
    let extra_listen = free_addr();
    let changed = config(listen, &one.url(), "").replacen(
        &format!("bind = \"{listen}\""),
        &format!("bind = \"{listen}\"\nmax_headers = 50\n\n[[listen]]\nbind = \"{extra_listen}\""),
        1,
    );
    gateway.rewrite(&changed);
    gateway.hangup();
    gateway.wait_for_log("configuration reloaded", 1).await;
    assert_eq!(get(listen, "/", None).await, (200, "one".to_owned()));
    wait_listening(extra_listen, &gateway).await;
    assert_eq!(get(extra_listen, "/", None).await, (200, "one".to_owned()));
}

#[tokio::test]
async fn metrics_count_known_traffic() {
    let app = named("app").await;
    let dead = free_addr();
    let (listen, admin) = (free_addr(), free_addr());
    let dir = temp_dir("metrics");
    // ada:secret with cheap argon2 parameters.
    let hash = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["hash", "--params", "m=64,t=1,p=1", "ada"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(b"secret\n")?;
            child.wait_with_output()
        })
        .unwrap();
    let users = dir.join("users");
    std::fs::write(&users, &hash.stdout).unwrap();
    let file = dir.join("tollgate.toml");
    std::fs::write(
        &file,
        format!(
            r#"
[[listen]]
bind = "{listen}"

[admin]
bind = "{admin}"

[health]
path = "/healthz"

[auth]
realm = "test"
htpasswd = "{}"

[upstreams.app]
servers = ["{}"]

[upstreams.down]
servers = ["http://{dead}"]

[[routes]]
name = "down"
path = "/down"
upstream = "down"

[[routes]]
name = "app"
path = "/app"
upstream = "app"
"#,
            users.display(),
            app.url()
        ),
    )
    .unwrap();
    let gateway = Gateway::start(&file);
    wait_listening(listen, &gateway).await;
    wait_listening(admin, &gateway).await;

    let ada = "Basic YWRhOnNlY3JldA=="; // ada:secret
    for _ in 0..3 {
        assert_eq!(get(listen, "/app/x", Some(ada)).await.0, 200);
    }
    for _ in 0..2 {
        assert_eq!(get(listen, "/app/x", None).await.0, 401);
    }
    assert_eq!(
        get(listen, "/app/x", Some("Basic YWRhOndyb25n")).await.0,
        401
    ); // ada:wrong
    assert_eq!(get(listen, "/down", Some(ada)).await.0, 502);
    assert_eq!(get(listen, "/nowhere", Some(ada)).await.0, 404);
    // Health is answered before auth and is not counted.
    assert_eq!(
        get(listen, "/healthz", None).await,
        (200, "ok\n".to_owned())
    );
    // Metrics are on the admin listener only.
    assert_eq!(get(listen, "/metrics", Some(ada)).await.0, 404);
    assert_eq!(get(admin, "/healthz", None).await.0, 200);

    let (status, text) = get(admin, "/metrics", None).await;
    assert_eq!(status, 200);
    for line in [
        "tollgate_requests_total{route=\"app\",status=\"200\"} 3".to_owned(),
        "tollgate_requests_total{route=\"app\",status=\"401\"} 3".to_owned(),
        "tollgate_requests_total{route=\"down\",status=\"502\"} 1".to_owned(),
        "tollgate_requests_total{route=\"unmatched\",status=\"404\"} 2".to_owned(),
        format!("tollgate_upstream_errors_total{{upstream=\"http://{dead}\"}} 1"),
        "tollgate_auth_failures_total 3".to_owned(),
        "tollgate_in_flight_requests 0".to_owned(),
        "tollgate_request_duration_seconds_count 9".to_owned(),
        "tollgate_request_duration_seconds_bucket{le=\"+Inf\"} 9".to_owned(),
    ] {
        assert!(
            text.contains(&format!("{line}\n")),
            "{line} missing from:\n{text}"
        );
    }
}

#[tokio::test]
async fn the_example_file_runs() {
    let (one, two, three) = (free_addr(), free_addr(), free_addr());
    let _ = (one, two, three);
    let example = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/tollgate.toml");
    let text = std::fs::read_to_string(&example).unwrap();
    // The example's ports may be taken on this machine: run it on free ones.
    let (public, tls, admin) = (free_addr(), free_addr(), free_addr());
    let text = text
        .replace("127.0.0.1:8080", &public.to_string())
        .replace("127.0.0.1:8443", &tls.to_string())
        .replace("127.0.0.1:9090", &admin.to_string());
    let dir = temp_dir("example");
    let file = dir.join("tollgate.toml");
    std::fs::write(&file, text).unwrap();
    let gateway = Gateway::start(&file);
    wait_listening(public, &gateway).await;
    wait_listening(admin, &gateway).await;
    wait_listening(tls, &gateway).await;
    assert_eq!(get(public, "/healthz", None).await.0, 200);
    assert_eq!(get(public, "/echo", None).await.0, 401);
    let (status, body) = get(public, "/echo", Some("Basic YWRhOnNlY3JldA==")).await;
    assert_eq!(status, 200, "{body}");
    let echo: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(echo["user"], "ada");
    let headers = echo["headers"].to_string();
    assert!(headers.contains("x-debug"), "{headers}");
    let (status, _) = get(public, "/old/x", None).await;
    assert_eq!(status, 308);
    let (status, _) = get(admin, "/metrics", None).await;
    assert_eq!(status, 200);
}

/// The certificate a TLS listener presents: the DER of the leaf.
async fn served_certificate(addr: SocketAddr, roots: &[&str]) -> Vec<u8> {
    use std::sync::Arc;
    let mut store = rustls::RootCertStore::empty();
    for pem in roots {
        for cert in rustls_pemfile::certs(&mut pem.as_bytes()) {
            store.add(cert.unwrap()).unwrap();
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(store)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tls = tokio::time::timeout(TEST_TIMEOUT, connector.connect(name, tcp))
        .await
        .expect("handshake in time")
        .expect("handshake");
    tls.get_ref().1.peer_certificates().unwrap()[0].to_vec()
}

#[tokio::test]
async fn a_reload_serves_new_certificates_and_refuses_a_mismatched_key() {
    let dir = temp_dir("tls-reload");
    let make = || {
        let c = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        (
            c.cert.pem(),
            c.signing_key.serialize_pem(),
            c.cert.der().to_vec(),
        )
    };
    let (cert_a, key_a, der_a) = make();
    let (cert_b, key_b, der_b) = make();
    std::fs::write(dir.join("cert.pem"), &cert_a).unwrap();
    std::fs::write(dir.join("key.pem"), &key_a).unwrap();
    let listen = free_addr();
    let file = dir.join("tollgate.toml");
    std::fs::write(
        &file,
        format!(
            "[[listen]]\nbind = \"{listen}\"\ntls = {{ cert = \"{}\", key = \"{}\" }}\n\n[[routes]]\necho = true\n",
            dir.join("cert.pem").display(),
            dir.join("key.pem").display()
        ),
    )
    .unwrap();
    let gateway = Gateway::start(&file);
    wait_listening(listen, &gateway).await;
    assert_eq!(served_certificate(listen, &[&cert_a, &cert_b]).await, der_a);

    // A certificate without its key: refused, the old pair stays.
    std::fs::write(dir.join("cert.pem"), &cert_b).unwrap();
    gateway.hangup();
    gateway.wait_for_log("reload refused", 1).await;
    assert!(
        gateway.log().contains("do not fit together"),
        "{}",
        gateway.log()
    );
    assert_eq!(served_certificate(listen, &[&cert_a, &cert_b]).await, der_a);

    // Both files: the listener serves the new certificate on the same socket.
    std::fs::write(dir.join("key.pem"), &key_b).unwrap();
    gateway.hangup();
    gateway.wait_for_log("configuration reloaded", 1).await;
    assert_eq!(served_certificate(listen, &[&cert_a, &cert_b]).await, der_b);
}
