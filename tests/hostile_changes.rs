//! Changes under load (issue 20): reloads while clients keep asking, a graceful stop with
//! requests in flight (and a second `SIGTERM` that does not wait), upstreams that close their
//! pooled connections (as a restart does).
//!
//! `TOLLGATE_HOSTILE_LONG=1` runs more clients and rounds.

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::*;

/// A `tollgate run` file: one listener on `bind`, every request to `server`, with `extra`.
fn config(bind: &str, server: &str, extra: &str) -> String {
    format!(
        "workers = 1\n{extra}\n[[listen]]\nbind = \"{bind}\"\nshutdown_timeout = \"25s\"\n\n\
         [upstreams.app]\nservers = [\"{server}\"]\n\n[[routes]]\nupstream = \"app\"\n"
    )
}

#[tokio::test]
async fn twenty_reloads_under_load_fail_no_request() {
    let old = lying_upstream(|_| honest("old")).await;
    let new = lying_upstream(|_| honest("new")).await;
    let dir = temp_dir();
    // A fixed address from the start: a reload keeps a listener whose `bind` is unchanged.
    let bind = dead_port().to_string();
    let gw = Gateway::run_file(
        dir.path(),
        &config(&bind, &old.url(), ""),
        &["--log", "info"],
    )
    .await;
    let file = dir.path().join("gateway.toml");
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..hostile_size(4, 16))
        .map(|_| {
            let (stop, answered, url) = (stop.clone(), answered.clone(), gw.url("/"));
            tokio::spawn(async move {
                let client = client();
                // Bounded: at most 100 000 requests a client, whatever the reloads take.
                for _ in 0..100_000 {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let req = http::Request::get(&url)
                        .body(tollgate::Body::empty())
                        .unwrap();
                    let res = fetch_with(&client, req).await;
                    assert_eq!(res.status, 200, "{}", res.text());
                    let body = res.text();
                    assert!(body == "old" || body == "new", "{body}");
                    answered.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let reloads = hostile_size(20, 100);
    for i in 0..reloads {
        let server = if i % 2 == 0 { new.url() } else { old.url() };
        std::fs::write(&file, config(&bind, &server, "")).unwrap();
        gw.signal("HUP");
        gw.wait_for_log("configuration reloaded", i + 1).await;
    }
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.await.expect("no client saw a failed request");
    }
    eprintln!(
        "{} requests answered across {reloads} reloads",
        answered.load(Ordering::Relaxed)
    );
    assert!(answered.load(Ordering::Relaxed) > 0);
}

#[tokio::test]
async fn a_graceful_stop_finishes_in_flight_requests_and_refuses_new_ones() {
    let slow = upstream(|_| async {
        tokio::time::sleep(Duration::from_secs(2)).await;
        http::Response::new(full("finished"))
    })
    .await;
    let dir = temp_dir();
    let mut gw = Gateway::run_file(
        dir.path(),
        &config("127.0.0.1:0", &slow.url(), ""),
        &["--log", "info"],
    )
    .await;
    let addr = gw.socket_addr();
    let in_flight: Vec<_> = (0..8)
        .map(|i| {
            let url = gw.url(&format!("/{i}"));
            tokio::spawn(async move { get(&url).await })
        })
        .collect();
    assert!(eventually(async || slow.connections() == 8).await);
    gw.signal("TERM");
    gw.wait_for_log("shutting down", 1).await;
    // The listener is closed: a new client is refused, not queued.
    let refused = tokio::net::TcpStream::connect(addr).await;
    assert!(
        refused.is_err(),
        "a new connection was accepted after SIGTERM"
    );
    for f in in_flight {
        let res = f.await.unwrap();
        assert_eq!(res.status, 200);
        assert_eq!(res.text(), "finished");
    }
    let status = gw.wait().await;
    assert!(status.success(), "{status}");
}

#[tokio::test]
async fn a_second_sigterm_exits_at_once() {
    let silent = lying_upstream(|_| vec![Step::Read, Step::Sleep(Duration::from_secs(28))]).await;
    let dir = temp_dir();
    let mut gw = Gateway::run_file(
        dir.path(),
        &config(
            "127.0.0.1:0",
            &silent.url(),
            "[proxy]\nfirst_byte_timeout = \"28s\"\n",
        ),
        &["--log", "info"],
    )
    .await;
    let url = gw.url("/held");
    let held = tokio::spawn(async move {
        let res = tokio::time::timeout(TEST_TIMEOUT, client().get(url.parse().unwrap())).await;
        matches!(res, Ok(Err(_)))
    });
    assert!(eventually(async || silent.heard().len() == 1).await);
    gw.signal("TERM");
    gw.wait_for_log("shutting down", 1).await;
    gw.signal("TERM");
    // 130: the second signal's exit, not the end of the 25 s shutdown_timeout (which exits 0).
    let status = gw.wait().await;
    assert_eq!(status.code(), Some(130), "{status}");
    assert!(held.await.unwrap(), "the held request was cut");
}

#[tokio::test]
async fn upstream_connections_closed_while_pooled_are_never_a_failed_request() {
    // Every upstream connection answers once and closes, as an upstream that restarts between
    // requests: each next request finds a dead pooled connection.
    let restarting =
        lying_upstream(|n| vec![Step::Read, honest_answer(&format!("conn {n}")), Step::Close])
            .await;
    let gw = Gateway::start(&["proxy", "--workers", "1", "--upstream", &restarting.url()]).await;
    let client = client();
    let rounds = hostile_size(50, 1_000);
    for i in 0..rounds {
        let req = http::Request::get(gw.url(&format!("/{i}")))
            .body(tollgate::Body::empty())
            .unwrap();
        let res = fetch_with(&client, req).await;
        assert_eq!(res.status, 200, "request {i}: {}", res.text());
        if i % 2 == 0 {
            // Half the time the close has landed before the next request; half it races it.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    // Each request reached the upstream once: none sent twice.
    assert_eq!(restarting.heard().len(), rounds);
}

#[tokio::test]
async fn a_credentials_file_replaced_or_rewritten_in_place_never_refuses_a_valid_user() {
    let dir = temp_dir();
    let users = htpasswd_file(dir.path(), "alice", "alice-pw");
    let full = std::fs::read(&users).unwrap();
    let toml = format!(
        "workers = 1\n\n[[listen]]\nbind = \"127.0.0.1:0\"\n\n[auth]\nhtpasswd = \"{}\"\n\
         reload_interval = \"50ms\"\ncache_ttl = \"0s\"\n\n[[routes]]\necho = true\n",
        users.display()
    );
    let gw = Gateway::run_file(dir.path(), &toml, &["--log", "info"]).await;
    let stop = Arc::new(AtomicBool::new(false));
    let (flag, url) = (stop.clone(), gw.url("/"));
    let asker = tokio::spawn(async move {
        let client = client();
        let mut answered = 0;
        while !flag.load(Ordering::Relaxed) && answered < 100_000 {
            let req = http::Request::get(&url)
                .header("authorization", "Basic YWxpY2U6YWxpY2UtcHc=") // alice:alice-pw
                .body(tollgate::Body::empty())
                .unwrap();
            let res = fetch_with(&client, req).await;
            assert_eq!(res.status, 200, "alice refused: {}", res.text());
            answered += 1;
        }
        answered
    });
    for round in 0..hostile_size(10, 50) {
        // Atomically: a new file renamed over the old one (a fresh salt, the same password).
        let fresh = htpasswd(&["-nbB", "-C", "5", "alice", "alice-pw"]);
        let tmp = dir.path().join("users.tmp");
        std::fs::write(&tmp, &fresh).unwrap();
        std::fs::rename(&tmp, &users).unwrap();
        tokio::time::sleep(Duration::from_millis(120)).await;
        // In place: truncated, half a line for a few watcher rounds, then whole.
        let half = &full[..full.len() / 2];
        std::fs::write(&users, half).unwrap();
        tokio::time::sleep(Duration::from_millis(120)).await;
        std::fs::write(&users, &full).unwrap();
        tokio::time::sleep(Duration::from_millis(120)).await;
        eprintln!("round {round} done");
    }
    stop.store(true, Ordering::Relaxed);
    let answered = asker.await.expect("alice was never refused");
    eprintln!("{answered} requests by alice, none refused");
    assert!(answered > 0);
}

/// A 1 MiB tmpfs mounted for the test (root only), unmounted when dropped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    /// `None` when mounting is not allowed (not root, or no tmpfs in this container).
    fn mount() -> Option<SmallDisk> {
        let dir = temp_dir();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(SmallDisk { dir })
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.dir.path())
            .status();
    }
}

#[tokio::test]
async fn a_full_disk_while_spooling_an_upload_is_a_507_and_leaves_no_file() {
    use tollgate::form::{FormLimits, MultipartError};
    let Some(disk) = SmallDisk::mount() else {
        eprintln!("skipped: mounting a tmpfs needs root (CI runs as root)");
        return;
    };
    let spool = disk.dir.path().to_owned();
    let limits = FormLimits::new()
        .spool_threshold(0)
        .max_file_size(16 * 1024 * 1024)
        .max_body_size(16 * 1024 * 1024)
        .spool_dir(&spool);
    let server = start(tollgate::handler::from_fn(
        move |mut req: tollgate::Request| {
            let limits = limits.clone();
            async move {
                let form = req.form_data(&limits).await?;
                Ok::<_, MultipartError>(tollgate::Response::text(format!(
                    "{} file(s)",
                    form.files.len()
                )))
            }
        },
    ))
    .await;
    let upload = |size: usize| {
        let mut body =
            b"--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x.bin\"\r\n\r\n"
                .to_vec();
        body.extend(std::iter::repeat_n(b'x', size));
        body.extend_from_slice(b"\r\n--b--\r\n");
        body
    };
    let send_upload = |body: Vec<u8>| {
        raw_stream(
            server.addr,
            "POST /up HTTP/1.1\r\nHost: localhost\r\nContent-Type: multipart/form-data; boundary=b",
            Framing::Length(body.len() as u64),
            futures_util::stream::iter([bytes::Bytes::from(body)]),
        )
    };
    let full = send_upload(upload(4 * 1024 * 1024)).await;
    assert_eq!(full.status, 507, "{}", full.text());
    assert!(full.text().contains("no room"), "{}", full.text());
    assert!(
        eventually(async || std::fs::read_dir(&spool).unwrap().next().is_none()).await,
        "temporary files left behind"
    );
    // Still serving: a small upload fits.
    let small = send_upload(upload(1024)).await;
    assert_eq!(small.status, 200, "{}", small.text());
}
