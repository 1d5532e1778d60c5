//! Slow and many clients (issue 20): slowloris heads, slow bodies, a client that never reads
//! a large answer, clients that connect and send nothing, descriptor exhaustion. Each case
//! runs the real binary with short limits, asserts that the hostile connections are closed at
//! their limit, and that a keep-alive neighbour is answered all along.
//!
//! `TOLLGATE_HOSTILE_LONG=1` runs the sizes (500 slowloris connections, 1 000
//! connection attempts against `ulimit -n 256`); the default sizes are small for CI.

mod support;

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use support::*;

/// A gateway (`tollgate run`, one worker, its echo route and a 10 MB file under `/files/`)
/// with `listen` appended to its `[[listen]]` table.
async fn gateway(listen: &str, before: &[&str]) -> (Gateway, tempfile::TempDir) {
    let dir = temp_dir();
    let site = dir.path().join("site");
    std::fs::create_dir(&site).unwrap();
    std::fs::write(site.join("big.bin"), vec![b'x'; 10 * 1024 * 1024]).unwrap();
    let toml = format!(
        "workers = 1\n\n[[listen]]\nbind = \"127.0.0.1:0\"\n{listen}\n\n\
         [[routes]]\npath = \"/files\"\nfiles = {{ dir = \"{}\" }}\n\n[[routes]]\necho = true\n",
        site.display()
    );
    let gw = Gateway::run_file(dir.path(), &toml, before).await;
    (gw, dir)
}

/// A keep-alive neighbour: `n` requests on one pooled HTTP/1.1 client, each a `200`.
async fn neighbour(gw: &Gateway, n: usize) {
    let client = client();
    for i in 0..n {
        let req = http::Request::get(gw.url(&format!("/n/{i}")))
            .body(tollgate::Body::empty())
            .unwrap();
        assert_eq!(fetch_with(&client, req).await.status, 200);
    }
}

/// Whether a `GET /` on a fresh connection is answered `200` within 2 s (false when the
/// connection or the answer does not come).
async fn served(addr: std::net::SocketAddr) -> bool {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.ok()?;
        let req = b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
        stream.write_all(req).await.ok()?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.ok()?;
        Some(answer.starts_with(b"HTTP/1.1 200"))
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(2), exchange).await,
        Ok(Some(true))
    )
}

/// Whether the server closed `stream` (EOF or reset), reading and dropping what it sent
/// (a `408` page, say), within [`TEST_TIMEOUT`].
async fn closed_by_server(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 4096];
    let closed = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(TEST_TIMEOUT, closed).await.is_ok()
}

#[tokio::test]
async fn slowloris_heads_are_closed_and_the_neighbour_is_served() {
    let (gw, _dir) = gateway("header_read_timeout = \"2s\"", &[]).await;
    let addr = gw.socket_addr();
    let n = hostile_size(100, 500);
    let head = b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let lorises: Vec<_> = (0..n)
        .map(|_| {
            tokio::spawn(async move {
                let mut stream = connect(addr).await;
                // A byte every 500 ms: never a whole head, never silent for long.
                for byte in head {
                    if stream.write_all(&[*byte]).await.is_err() {
                        return true;
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                closed_by_server(&mut stream).await
            })
        })
        .collect();
    neighbour(&gw, 50).await;
    for loris in lorises {
        assert!(
            loris.await.unwrap(),
            "a slow head outlived header_read_timeout"
        );
    }
    neighbour(&gw, 10).await;
}

/// Whether the server has closed `stream` already (EOF or reset within 200 ms; a socket the
/// server closed before answering someone else has its FIN waiting).
async fn already_closed(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 4096];
    let read = tokio::time::timeout(Duration::from_millis(200), stream.read(&mut buf)).await;
    matches!(read, Ok(Ok(0) | Err(_)))
}

#[tokio::test]
async fn at_the_cap_the_connection_idle_longest_makes_room_for_a_new_client() {
    let cap = 8;
    // header_read_timeout far beyond TEST_TIMEOUT: only eviction can free a slot in time.
    let (gw, _dir) = gateway(
        &format!("header_read_timeout = \"300s\"\nmax_connections = {cap}"),
        &[],
    )
    .await;
    let addr = gw.socket_addr();
    // Half the slots: clients that connect and say nothing (the oldest); half: kept alive
    // after one request.
    let mut held = Vec::new();
    for _ in 0..cap / 2 {
        held.push(connect(addr).await);
    }
    for _ in 0..cap / 2 {
        let mut stream = connect(addr).await;
        stream
            .write_all(b"GET /kept HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 4096];
        let n = stream.read(&mut buf).await.unwrap();
        assert!(
            buf[..n].starts_with(b"HTTP/1.1 200"),
            "kept-alive request answered"
        );
        held.push(stream);
    }
    // Idle connections younger than a second may have a request on the way: not taken.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let started = std::time::Instant::now();
    neighbour(&gw, 5).await;
    eprintln!("new client served after {:?} at the cap", started.elapsed());
    let mut closed = Vec::new();
    for (i, stream) in held.iter_mut().enumerate() {
        if already_closed(stream).await {
            closed.push(i);
        }
    }
    assert_eq!(
        closed,
        [0],
        "the oldest idle connection, and only it, made room"
    );
}

#[tokio::test]
async fn a_client_that_never_reads_a_large_answer_is_closed_at_write_timeout() {
    let (gw, _dir) = gateway("write_timeout = \"2s\"", &[]).await;
    let addr = gw.socket_addr();
    let mut stalled = Vec::new();
    for _ in 0..hostile_size(8, 64) {
        let mut stream = connect(addr).await;
        stream
            .write_all(b"GET /files/big.bin HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .unwrap();
        stalled.push(stream);
    }
    neighbour(&gw, 20).await;
    // Never read until now: the server gave up on each write and closed.
    tokio::time::sleep(Duration::from_secs(4)).await;
    for mut stream in stalled {
        let mut got = 0usize;
        let mut buf = vec![0u8; 64 * 1024];
        let drained = tokio::time::timeout(TEST_TIMEOUT, async {
            loop {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => got += n,
                }
            }
        })
        .await;
        assert!(drained.is_ok(), "still open");
        assert!(
            got < 10 * 1024 * 1024,
            "the whole answer arrived: {got} bytes"
        );
    }
    neighbour(&gw, 5).await;
}

#[tokio::test]
async fn a_slow_body_is_cut_at_its_total_timeout() {
    let (gw, _dir) = gateway(
        "body_read_timeout = \"2s\"\nbody_total_timeout = \"3s\"",
        &[],
    )
    .await;
    let mut stream = connect(gw.socket_addr()).await;
    stream
        .write_all(b"POST /up HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n")
        .await
        .unwrap();
    let writer = tokio::spawn(async move {
        // A byte a second: within body_read_timeout each time, never done in body_total_timeout.
        for _ in 0..20 {
            if stream.write_all(b"x").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        stream
    });
    neighbour(&gw, 20).await;
    let mut stream = writer.await.unwrap();
    let answer = read_to_close(&mut stream).await;
    assert!(
        answer.is_empty()
            || answer.starts_with("HTTP/1.1 400")
            || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
}

#[tokio::test]
async fn descriptor_exhaustion_is_logged_once_per_interval_and_recovers() {
    let dir = temp_dir();
    let toml =
        "workers = 1\n\n[[listen]]\nbind = \"127.0.0.1:0\"\nheader_read_timeout = \"3s\"\n\n\
                [[routes]]\necho = true\n";
    let file = dir.path().join("gateway.toml");
    std::fs::write(&file, toml).unwrap();
    let tollgate = env!("CARGO_BIN_EXE_tollgate");
    let script = format!(
        "ulimit -n 256; exec {tollgate} --log info run {}",
        file.display()
    );
    let gw = Launch::program("sh", ["-c", &script]).serve().await;
    let addr = gw.socket_addr();
    let attempts = hostile_size(400, 1_000);
    let mut held = Vec::new();
    for _ in 0..attempts {
        // The kernel completes the handshake into the backlog even when the gateway cannot
        // accept: connecting succeeds or fails fast, never hangs.
        if let Ok(Ok(s)) =
            tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(addr)).await
        {
            held.push(s);
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let log = gw.log();
    let lines = log.matches("accept failed").count();
    eprintln!(
        "{} connections held, {lines} accept-error lines",
        held.len()
    );
    drop(held);
    // Once they go (closed by us or by header_read_timeout), it serves again.
    assert!(eventually(async || served(addr).await).await);
    let log = gw.stop().await;
    let lines = log.matches("accept failed").count();
    assert!(lines <= 5, "{lines} accept-error lines:\n{log}");
}

#[tokio::test]
async fn no_password_token_or_authorization_value_reaches_a_trace_log() {
    let dir = temp_dir();
    let users = htpasswd_file(dir.path(), "alice", "right-pw-6f1c");
    let users = users.to_str().unwrap().to_owned();
    let gw = Gateway::start(&[
        "--log",
        "trace",
        "proxy",
        "--workers",
        "1",
        "--users",
        &users,
    ])
    .await;
    let secrets = [
        ("alice", "right-pw-6f1c"),
        ("alice", "wrong-pw-93ab"),
        ("nobody", "unknown-pw-7d2e"),
    ];
    let mut encoded = Vec::new();
    for (user, password) in secrets {
        let token = base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("{user}:{password}"),
        );
        let value = format!("Basic {token}");
        let res = send("GET", &gw.url("/"), &[("authorization", value.as_str())]).await;
        assert!(res.status == 200 || res.status == 401, "{}", res.status);
        encoded.push(token);
    }
    let bearer = "Bearer tok-5e8a9c";
    send("GET", &gw.url("/"), &[("authorization", bearer)]).await;
    let log = gw.stop().await;
    assert!(log.contains("alice"), "the trace log was captured: {log}");
    let mut needles: Vec<String> = secrets.iter().map(|(_, p)| (*p).to_owned()).collect();
    needles.extend(encoded);
    needles.push("tok-5e8a9c".to_owned());
    for needle in needles {
        assert!(!log.contains(&needle), "{needle} in the log");
    }
}
