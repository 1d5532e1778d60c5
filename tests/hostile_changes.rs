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

/// `short`, or `long` with `TOLLGATE_HOSTILE_LONG=1`.
fn size(short: usize, long: usize) -> usize {
    match std::env::var("TOLLGATE_HOSTILE_LONG").as_deref() {
        Ok("1") => long,
        _ => short,
    }
}

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
    let clients: Vec<_> = (0..size(4, 16))
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
    let reloads = size(20, 100);
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
    let rounds = size(50, 1_000);
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
