//! A real `redis-server` (Debian's package) on a free loopback port, without persistence,
//! killed on drop; stopped and started again on the same port to test outages. Also a
//! 3-master Redis Cluster ([`RedisCluster`], formed by `redis-cli --cluster create`) and a
//! master watched by a Sentinel ([`RedisSentinel`], `redis-server CONF --sentinel`).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{eventually, free_port, TEST_TIMEOUT};

/// A `redis-server` this test started.
pub struct Redis {
    pub port: u16,
    /// The arguments it runs with.
    args: Vec<String>,
    child: Option<Child>,
}

impl Redis {
    /// Starts one on a free port and waits until it answers `PING`.
    pub async fn start() -> Redis {
        Self::start_with(&[]).await
    }

    /// Starts one on a free port with `more` arguments (e.g. cluster mode), and waits until
    /// it answers `PING`.
    pub async fn start_with(more: &[&str]) -> Redis {
        let port = free_port();
        let args: Vec<String> = ["--port", &port.to_string(), "--bind", "127.0.0.1"]
            .into_iter()
            .chain(["--save", "", "--appendonly", "no"])
            .chain(more.iter().copied())
            .map(str::to_owned)
            .collect();
        Self::launch(port, args).await
    }

    async fn launch(port: u16, args: Vec<String>) -> Redis {
        let mut redis = Redis {
            port,
            args,
            child: None,
        };
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
            .args(&self.args)
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

/// A Redis Cluster of three masters (no replicas) on free loopback ports, each killed on drop.
pub struct RedisCluster {
    pub nodes: Vec<Redis>,
    _dir: tempfile::TempDir,
}

impl RedisCluster {
    /// Starts three nodes, joins them with `redis-cli --cluster create` and waits until every
    /// node reports `cluster_state:ok`.
    pub async fn start() -> RedisCluster {
        let dir = super::temp_dir();
        let mut nodes = Vec::new();
        for i in 0..3 {
            let conf = dir.path().join(format!("nodes-{i}.conf"));
            let conf = conf.to_str().unwrap();
            let args = ["--cluster-enabled", "yes", "--cluster-config-file", conf];
            nodes.push(Redis::start_with(&args).await);
        }
        let addrs: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let created = tokio::time::timeout(
            TEST_TIMEOUT,
            tokio::process::Command::new("redis-cli")
                .args(["--cluster", "create"])
                .args(&addrs)
                .args(["--cluster-replicas", "0", "--cluster-yes"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status(),
        )
        .await;
        assert!(
            matches!(created, Ok(Ok(status)) if status.success()),
            "redis-cli --cluster create (Debian package redis-tools): {created:?}"
        );
        for node in &nodes {
            let ok = eventually(async || {
                let info = node.command(&["CLUSTER", "INFO"]).await.unwrap_or_default();
                info.contains("cluster_state:ok")
            })
            .await;
            assert!(
                ok,
                "cluster node {} never reported cluster_state:ok",
                node.port
            );
        }
        RedisCluster { nodes, _dir: dir }
    }

    /// `redis+cluster://127.0.0.1:P1,127.0.0.1:P2` (two seeds; the third is found).
    pub fn url(&self) -> String {
        let seeds: Vec<String> = (self.nodes[..2].iter())
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        format!("redis+cluster://{}", seeds.join(","))
    }

    /// Every key of every node.
    pub async fn keys(&self) -> Vec<String> {
        let mut keys = Vec::new();
        for node in &self.nodes {
            keys.extend(node.keys().await);
        }
        keys
    }
}

/// A master, a replica of it and one Sentinel watching them as `mymaster` (quorum 1: it
/// fails over by itself), on free loopback ports, killed on drop.
pub struct RedisSentinel {
    pub master: Redis,
    pub replica: Redis,
    pub sentinel: Redis,
    _dir: tempfile::TempDir,
}

impl RedisSentinel {
    /// Starts the master and its replica, then the Sentinel (`redis-server CONF
    /// --sentinel`), and waits until the Sentinel names the master and knows the replica.
    pub async fn start() -> RedisSentinel {
        let master = Redis::start().await;
        let port = master.port.to_string();
        let replica = Redis::start_with(&["--replicaof", "127.0.0.1", &port]).await;
        let linked = eventually(async || {
            let info = master.command(&["INFO", "replication"]).await;
            info.unwrap_or_default().contains("connected_slaves:1")
        })
        .await;
        assert!(linked, "the replica never linked to the master");
        let dir = super::temp_dir();
        let port = free_port();
        let conf = dir.path().join("sentinel.conf");
        write_sentinel_conf(&conf, port, master.port);
        let args = [conf.to_str().unwrap(), "--sentinel"].map(str::to_owned);
        let sentinel = Redis::launch(port, args.to_vec()).await;
        let ready = eventually(async || {
            let replicas = (sentinel
                .command(&["SENTINEL", "replicas", "mymaster"])
                .await)
                .unwrap_or_default();
            sentinel.master_port().await == Some(master.port)
                && replicas.contains(&replica.port.to_string())
        })
        .await;
        assert!(
            ready,
            "the sentinel on {port} never named the master and its replica"
        );
        RedisSentinel {
            master,
            replica,
            sentinel,
            _dir: dir,
        }
    }

    /// `redis+sentinel://127.0.0.1:PORT/mymaster/0`.
    pub fn url(&self) -> String {
        format!(
            "redis+sentinel://127.0.0.1:{}/mymaster/0",
            self.sentinel.port
        )
    }

    /// Stops the master and waits until the Sentinel has promoted the replica.
    pub async fn fail_over(&mut self) {
        self.master.stop();
        let replica = self.replica.port;
        let promoted =
            eventually(async || self.sentinel.master_port().await == Some(replica)).await;
        assert!(
            promoted,
            "the sentinel never promoted the replica on {replica}"
        );
    }
}

impl Redis {
    /// As a Sentinel: the port of the master it names for `mymaster`.
    async fn master_port(&self) -> Option<u16> {
        let answer = (self.command(&["SENTINEL", "get-master-addr-by-name", "mymaster"])).await?;
        // *2 $9 127.0.0.1 $N PORT
        answer.split("\r\n").nth(4)?.parse().ok()
    }
}

/// A Sentinel's configuration (it rewrites the file, so each gets its own).
fn write_sentinel_conf(path: &Path, port: u16, master: u16) {
    let conf = format!(
        "port {port}\nbind 127.0.0.1\nsentinel monitor mymaster 127.0.0.1 {master} 1\n\
         sentinel down-after-milliseconds mymaster 1000\n\
         sentinel failover-timeout mymaster 10000\n"
    );
    std::fs::write(path, conf).expect("a sentinel config file");
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}
