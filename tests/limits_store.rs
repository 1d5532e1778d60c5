//! Limits and lockout shared by two real `tollgate` processes through a real `redis-server`:
//! a lockout of 5 failures holds across both (5, not 10), a rate limit too; Redis stopped
//! mid-test follows `on_store_error` (local, deny, allow); Redis back, the shared limits
//! resume; no user name or address is ever written to Redis. The same lockout holds through
//! a real 3-master Redis Cluster and through a master found by a real Sentinel.

mod support;

use std::path::{Path, PathBuf};

use support::*;

/// A secret file every replica shares.
fn secret(dir: &Path) -> PathBuf {
    let path = dir.join("store.secret");
    std::fs::write(&path, [0x5a_u8; 32]).unwrap();
    path
}

/// `curl -u CREDS` as the client `from`, as the trusted loopback proxy reports it.
async fn login(gw: &Gateway, creds: &str, from: &str) -> u16 {
    let header = format!("X-Forwarded-For: {from}");
    curl(&["-i", "-u", creds, "-H", &header, &gw.url("/")])
        .await
        .status
        .as_u16()
}

/// A plain `GET /` as the client `from`.
async fn hit(gw: &Gateway, from: &str) -> u16 {
    let header = format!("X-Forwarded-For: {from}");
    curl(&["-i", "-H", &header, &gw.url("/")])
        .await
        .status
        .as_u16()
}

/// `tollgate proxy` with a lockout of 5 failures per (user, client) in the store at `url`.
async fn proxy(url: &str, users: &Path, secret: &Path) -> Gateway {
    Gateway::start(&[
        "proxy",
        "--users",
        users.to_str().unwrap(),
        "--trusted-proxy",
        "127.0.0.1",
        "--lockout",
        "5/60s",
        "--limits-store",
        url,
        "--limits-store-secret",
        secret.to_str().unwrap(),
    ])
    .await
}

/// Two `tollgate proxy` processes sharing the store at `url`: five wrong passwords for
/// alice from one address, alternating between them, lock her out from there on both (the
/// right password included); she still logs in from her own address through both.
async fn two_gateways_hold_one_lockout(url: &str) -> (Gateway, Gateway, tempfile::TempDir) {
    let dir = temp_dir();
    let users = htpasswd_file(dir.path(), "alice", "wonderland");
    let secret = secret(dir.path());
    let a = proxy(url, &users, &secret).await;
    let b = proxy(url, &users, &secret).await;
    for i in 0..5 {
        let gw = if i % 2 == 0 { &a } else { &b };
        assert_eq!(
            login(gw, "alice:guess", "192.0.2.66").await,
            401,
            "failure {i}"
        );
    }
    // The sixth attempt is refused on either replica, the right password included.
    assert_eq!(login(&a, "alice:guess", "192.0.2.66").await, 429);
    assert_eq!(login(&b, "alice:wonderland", "192.0.2.66").await, 429);
    // alice still logs in from her own address, through both.
    assert_eq!(login(&a, "alice:wonderland", "198.51.100.7").await, 200);
    assert_eq!(login(&b, "alice:wonderland", "198.51.100.7").await, 200);
    (a, b, dir)
}

/// The keys hold hashes: no user name, no address (Traefik keys by the plain source).
fn assert_hashed(keys: &[String]) {
    assert!(!keys.is_empty());
    for key in keys {
        assert!(key.starts_with("tollgate:{"), "{key}");
        for plain in ["alice", "192.0.2.66", "198.51.100.7", "guess"] {
            assert!(!key.contains(plain), "{key} holds {plain}");
        }
    }
}

#[tokio::test]
async fn two_gateways_hold_one_lockout_of_5_failures_not_10() {
    let redis = Redis::start().await;
    let (a, b, _dir) = two_gateways_hold_one_lockout(&redis.url()).await;
    // Her password is cached now: without a per-user rate limit, Redis is not asked again.
    let calls = redis.calls().await;
    assert!(calls > 0, "the verifications asked Redis");
    for gw in [&a, &b, &a, &b] {
        assert_eq!(login(gw, "alice:wonderland", "198.51.100.7").await, 200);
    }
    assert_eq!(redis.calls().await, calls, "the cached path asked Redis");
    assert_hashed(&redis.keys().await);
}

#[tokio::test]
async fn a_redis_cluster_holds_one_lockout_across_two_gateways() {
    let cluster = RedisCluster::start().await;
    let (_a, _b, _dir) = two_gateways_hold_one_lockout(&cluster.url()).await;
    let keys = cluster.keys().await;
    assert_hashed(&keys);
    // One client's keys share a hash slot (the scripts touch them together): one tag.
    let tags: std::collections::BTreeSet<&str> = keys
        .iter()
        .filter_map(|k| k.split('{').nth(1)?.split('}').next())
        .collect();
    assert_eq!(tags.len(), 1, "{keys:?}");
}

#[tokio::test]
async fn a_sentinel_master_holds_one_lockout_across_two_gateways() {
    let sentinel = RedisSentinel::start().await;
    let (_a, _b, _dir) = two_gateways_hold_one_lockout(&sentinel.url()).await;
    assert_hashed(&sentinel.master.keys().await);
}

/// `tollgate run` with a per-client limit of 3 a minute in the store at `url`, `/net` refused to
/// `192.0.2.0/24`, and an admin listener (its `/metrics` URL is the second value).
async fn limited(dir: &Path, url: &str, on_store_error: &str) -> (Gateway, String) {
    let (listen, admin) = (dead_port(), dead_port());
    let toml = format!(
        r#"
        [[listen]]
        bind = "{listen}"
        [admin]
        bind = "{admin}"
        [forwarded]
        trust = {{ proxies = ["127.0.0.1"] }}
        [rate_limit]
        per_client = "3/m"
        store = "{}"
        store_secret_file = "{}"
        on_store_error = "{on_store_error}"
        [[routes]]
        path = "/net"
        deny_ip = ["192.0.2.0/24"]
        echo = true
        [[routes]]
        echo = true
        "#,
        url,
        secret(dir).display(),
    );
    let dir = dir.join(format!("{on_store_error}-{}", admin.port()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut gw = Gateway::run_file(&dir, &toml, &[]).await;
    gw.wait_serving(listen).await;
    gw.wait_serving(admin).await;
    gw.addr = listen.to_string();
    (gw, format!("http://{admin}/metrics"))
}

/// Waits until `gw` counts in `redis` again (after a restart): requests from fresh clients
/// (`198.51.100.N`, `N` from `client`) until one adds a key.
async fn until_shared(gw: &Gateway, redis: &Redis, client: &mut u8) {
    let mut n = *client;
    let back = eventually(async || {
        let before = redis.keys().await.len();
        n += 1;
        hit(gw, &format!("198.51.100.{n}")).await;
        redis.keys().await.len() > before
    })
    .await;
    *client = n;
    assert!(back, "the gateway never counted in the restarted Redis");
}

/// Statuses of `n` requests from `from`, alternating between `a` and `b`.
async fn alternate(a: &Gateway, b: &Gateway, from: &str, n: usize) -> Vec<u16> {
    let mut statuses = Vec::with_capacity(n);
    for i in 0..n {
        statuses.push(hit(if i % 2 == 0 { a } else { b }, from).await);
    }
    statuses
}

/// Four requests from `from`, alternating between `a` and `b`: the limit of 3 a minute holds
/// across both (`[200, 200, 200, 429]`).
async fn assert_shared_limit(a: &Gateway, b: &Gateway, from: &str, why: &str) {
    let statuses = alternate(a, b, from, 4).await;
    assert_eq!(statuses, [200, 200, 200, 429], "{why}");
}

/// Two [`limited`] gateways (`on_store_error = "local"`) sharing the store at `url`, the
/// limit checked to hold across both; and the first one's `/metrics` URL.
async fn two_sharing(dir: &Path, url: &str, why: &str) -> (Gateway, Gateway, String) {
    let (a, metrics) = limited(dir, url, "local").await;
    let (b, _) = limited(dir, url, "local").await;
    assert_shared_limit(&a, &b, "192.0.2.1", why).await;
    (a, b, metrics)
}

/// Once both count in `redis` again, the limit holds across them.
async fn assert_shared_again(a: &Gateway, b: &Gateway, redis: &Redis) {
    let mut client = 0;
    until_shared(a, redis, &mut client).await;
    until_shared(b, redis, &mut client).await;
    assert_shared_limit(a, b, "192.0.2.3", "shared again").await;
}

#[tokio::test]
async fn redis_down_counts_locally_then_shared_again_when_back() {
    let mut redis = Redis::start().await;
    let dir = temp_dir();
    let (a, b, metrics) = two_sharing(dir.path(), &redis.url(), "across both replicas").await;

    redis.stop();
    // Each process counts on its own meanwhile: 3 each.
    let statuses = [hit(&a, "192.0.2.2").await, hit(&a, "192.0.2.2").await];
    assert_eq!(statuses, [200, 200]);
    assert_eq!(hit(&a, "192.0.2.2").await, 200);
    assert_eq!(hit(&a, "192.0.2.2").await, 429);
    assert_eq!(hit(&b, "192.0.2.2").await, 200, "b counts on its own");
    a.wait_for_log("limits store unreachable", 1).await;
    let header = "X-Forwarded-For: 192.0.2.5";
    assert_eq!(
        curl(&["-i", "-H", header, &a.url("/net/x")]).await.status,
        403
    );
    let text = curl(&[&metrics]).await.text().into_owned();
    for line in [
        "tollgate_rate_limited_total{scope=\"client\"} 1",
        "tollgate_access_denied_total{rule=\"deny_ip 192.0.2.0/24\"} 1",
    ] {
        assert!(text.contains(line), "{line} in {text}");
    }
    let errors = text
        .lines()
        .find_map(|l| l.strip_prefix("tollgate_limits_store_errors_total "))
        .expect("the store's errors are counted");
    assert!(errors.parse::<u64>().unwrap() >= 3, "{text}");

    redis.restart().await;
    // Picked up without a restart: the next requests count in Redis again.
    assert_shared_again(&a, &b, &redis).await;
    let log = a.stop().await;
    assert_eq!(
        log.matches("limits store unreachable").count(),
        1,
        "logged once per outage: {log}"
    );
    assert!(log.contains("limits store reachable again"), "{log}");
}

#[tokio::test]
async fn a_sentinel_failover_is_followed_without_a_restart() {
    let mut redis = RedisSentinel::start().await;
    let dir = temp_dir();
    let (a, b, _) = two_sharing(dir.path(), &redis.url(), "through the first master").await;
    redis.fail_over().await;
    // The Sentinel is asked again after the error: both count in the promoted replica.
    assert_shared_again(&a, &b, &redis.replica).await;
}

#[tokio::test]
async fn redis_down_denies_with_deny_and_admits_with_allow() {
    let mut redis = Redis::start().await;
    let dir = temp_dir();
    let (deny, _) = limited(dir.path(), &redis.url(), "deny").await;
    let (allow, _) = limited(dir.path(), &redis.url(), "allow").await;
    assert_eq!(hit(&deny, "192.0.2.1").await, 200);

    redis.stop();
    let res = curl(&["-i", "-H", "X-Forwarded-For: 192.0.2.9", &deny.url("/")]).await;
    assert_eq!(res.status, 503, "{res:?}");
    assert_eq!(res.header("retry-after"), Some("1"));
    for i in 0..6 {
        assert_eq!(
            hit(&allow, "192.0.2.9").await,
            200,
            "allow, over the limit: {i}"
        );
    }

    redis.restart().await;
    let mut client = 0;
    until_shared(&deny, &redis, &mut client).await;
    until_shared(&allow, &redis, &mut client).await;
    assert_eq!(
        alternate(&deny, &allow, "192.0.2.4", 4).await,
        [200, 200, 200, 429],
        "shared again, across both"
    );
}

/// Runs `script ARGS` (under the crate) with this `tollgate`, `vars` set to free ports (and
/// `more` as given); returns its standard output once it succeeded, after checking that
/// nothing listens on those ports any more (every process it started is gone).
async fn run_script(script: &str, args: &[&str], vars: &[&str], more: &[(&str, &str)]) -> String {
    let ports: Vec<String> = vars
        .iter()
        .map(|_| dead_port().port().to_string())
        .collect();
    let mut command = tokio::process::Command::new("bash");
    command
        .arg(format!("{}/{script}", env!("CARGO_MANIFEST_DIR")))
        .args(args)
        .env("TOLLGATE", env!("CARGO_BIN_EXE_tollgate"))
        .envs(vars.iter().copied().zip(&ports))
        .envs(more.iter().copied())
        .kill_on_drop(true);
    let out = tokio::time::timeout(TEST_TIMEOUT * 2, command.output())
        .await
        .expect("the script ends")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{script}: {stdout}{stderr}");
    for port in &ports {
        let addr = format!("127.0.0.1:{port}");
        assert!(
            tokio::net::TcpStream::connect(&addr).await.is_err(),
            "{addr}"
        );
    }
    stdout
}

#[tokio::test]
async fn the_replicas_example_holds_one_lockout_behind_nginx() {
    let ports = ["PORT", "PORT_A", "PORT_B", "REDIS_PORT"];
    let stdout = run_script("examples/replicas.sh", &["--check"], &ports, &[]).await;
    assert!(stdout.contains("401 401 401 401 401 429"), "{stdout}");
}

#[tokio::test]
async fn the_store_benchmark_runs() {
    let tiny = [("ROUNDS", "1"), ("DURATION", "1"), ("CONNECTIONS", "2")];
    let ports = ["MEM", "RED", "REDIS"];
    let stdout = run_script("benches/limits_store.sh", &[], &ports, &tiny).await;
    assert!(stdout.contains("redis adds: p50"), "{stdout}");
}
