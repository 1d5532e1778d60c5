//! A real `redis-server` (Debian's package) on a free loopback port, without persistence,
//! killed on drop; stopped and started again on the same port to test outages.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{eventually, TEST_TIMEOUT};

/// A `redis-server` this test started.
pub struct Redis {
    pub port: u16,
    child: Option<Child>,
}

impl Redis {
    /// Starts one on a free port and waits until it answers `PING`.
    pub async fn start() -> Redis {
        let port = super::free_port();
        let mut redis = Redis { port, child: None };
        redis.restart().await;
        redis
    }

    /// `redis://127.0.0.1:PORT/0`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Kills it (its data goes with it: no persistence).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port (empty) and waits until it answers.
    pub async fn restart(&mut self) {
        self.stop();
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server runs (Debian package redis-server)");
        self.child = Some(child);
        let up = eventually(async || self.command(&["PING"]).await.is_some()).await;
        assert!(up, "redis-server did not answer on port {}", self.port);
    }

    /// Sends one command and returns the raw RESP answer, `None` if it cannot connect.
    pub async fn command(&self, args: &[&str]) -> Option<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).await.ok()?;
        let mut request = format!("*{}\r\n", args.len());
        for arg in args {
            request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
        }
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut answer = Vec::new();
        let mut chunk = [0u8; 4096];
        // The first bytes within the test timeout, then whatever follows within 100 ms.
        let mut wait = TEST_TIMEOUT;
        while let Ok(Ok(n)) = tokio::time::timeout(wait, stream.read(&mut chunk)).await {
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&chunk[..n]);
            wait = Duration::from_millis(100);
        }
        (!answer.is_empty()).then(|| String::from_utf8_lossy(&answer).into_owned())
    }

    /// How many commands it ran for clients other than this helper (`INFO`, `KEYS`, `PING`
    /// left out).
    pub async fn calls(&self) -> u64 {
        let stats = self
            .command(&["INFO", "commandstats"])
            .await
            .unwrap_or_default();
        stats
            .lines()
            .filter(|l| l.starts_with("cmdstat_"))
            .filter(|l| {
                !["cmdstat_info:", "cmdstat_keys:", "cmdstat_ping:"]
                    .iter()
                    .any(|c| l.starts_with(c))
            })
            .filter_map(|l| {
                l.split("calls=")
                    .nth(1)?
                    .split(',')
                    .next()?
                    .parse::<u64>()
                    .ok()
            })
            .sum()
    }

    /// Every key it holds.
    pub async fn keys(&self) -> Vec<String> {
        let answer = self.command(&["KEYS", "*"]).await.unwrap_or_default();
        answer
            .split("\r\n")
            .skip(1)
            .filter(|line| !line.starts_with('$') && !line.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}
