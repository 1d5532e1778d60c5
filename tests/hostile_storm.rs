//! A storm of wrong passwords (issue 20) through the real binary: verifications have their
//! own small budget (`max_concurrent_verifications` hashing threads, a bounded queue, then a
//! quick `503`), a user whose verification is cached is answered all along, a wrong guess
//! already refused is refused again without a hash, and no password reaches the log.
//! The throughput figure (a cached user keeps ≥ 90 % during 1 000 attempts/s) is
//! `benches/lockout_storm.sh`'s, not a test's.

mod support;

use support::*;

/// 16 addresses at once, this many wrong guesses each (`TOLLGATE_HOSTILE_LONG`: 64).
fn per_address() -> usize {
    hostile_size(8, 64)
}

fn basic(user: &str, password: &str) -> String {
    let token = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("{user}:{password}"),
    );
    format!("Basic {token}")
}

/// `GET /` as `user:password` from the client `from` (the trusted loopback proxy says so).
async fn login(gw_url: &str, user: &str, password: &str, from: &str) -> Fetched {
    let headers = [
        ("authorization", basic(user, password)),
        ("x-forwarded-for", from.to_owned()),
    ];
    send("GET", gw_url, &headers).await
}

#[tokio::test]
async fn a_storm_gets_quick_refusals_while_a_cached_user_is_served() {
    let dir = temp_dir();
    // Cost 8: each verification keeps the one hashing thread busy for a while.
    let users = dir.path().join("users");
    std::fs::write(
        &users,
        htpasswd(&["-nbB", "-C", "8", "alice", "right-pw-0c1d"]),
    )
    .unwrap();
    let toml = format!(
        "workers = 1\n\n[[listen]]\nbind = \"127.0.0.1:0\"\n\n\
         [forwarded]\ntrust = {{ proxies = [\"127.0.0.1\"] }}\n\n\
         [auth]\nhtpasswd = \"{}\"\nmax_concurrent_verifications = 1\n\
         max_queued_verifications = 4\n\n[[routes]]\necho = true\n",
        users.display()
    );
    let gw = Gateway::run_file(dir.path(), &toml, &["--log", "debug"]).await;
    let url = gw.url("/");
    let alice = login(&url, "alice", "right-pw-0c1d", "198.51.100.1").await;
    assert_eq!(alice.status, 200, "warm the cache: {alice:?}");

    let storm: Vec<_> = (0..16 * per_address())
        .map(|i| {
            let url = url.clone();
            tokio::spawn(async move {
                let from = format!("192.0.2.{}", i % 16 + 1);
                login(&url, "alice", &format!("storm-pw-{i}"), &from).await
            })
        })
        .collect();
    for n in 0..20 {
        let res = login(&url, "alice", "right-pw-0c1d", "198.51.100.1").await;
        assert_eq!(res.status, 200, "cached request {n} during the storm");
    }
    let (mut refused, mut busy) = (0, 0);
    for handle in storm {
        let res = tokio::time::timeout(TEST_TIMEOUT, handle)
            .await
            .expect("a storm request hung")
            .unwrap();
        match res.status.as_u16() {
            401 => refused += 1,
            503 => {
                assert_eq!(res.header("retry-after"), Some("1"), "{res:?}");
                busy += 1;
            }
            other => panic!("storm request answered {other}: {res:?}"),
        }
    }
    println!("storm: {refused} × 401 after a hash, {busy} × 503 at once");
    assert!(busy > 0, "past the budget, the queue answered 503 at once");
    assert!(refused >= 1, "the budget verified some");

    // The same wrong guess (known user or not) again: refused from memory, no second hash.
    for (user, password) in [("alice", "again-pw-5b7e"), ("nobody", "again-pw-8c2f")] {
        for _ in 0..3 {
            let res = login(&url, user, password, "203.0.113.5").await;
            assert_eq!(res.status, 401, "{user}: {res:?}");
        }
    }
    gw.wait_for_log("repeated refused password", 4).await;
    let log = gw.stop().await;
    assert!(log.contains("basic auth: failed attempt"), "{log}");
    for needle in ["right-pw-0c1d", "storm-pw-", "again-pw-"] {
        assert!(!log.contains(needle), "{needle} in the log");
    }
}

/// A cached user's entry expiring while many connections use it (and many connections logging
/// in at once) costs one hash, not one per connection: the others wait for its outcome
/// instead of queueing behind it. With one hashing thread and a queue of two, 24 concurrent
/// requests with the same credentials would otherwise get `503` past the third (and each
/// queued one would wait for all the hashes before it: the soak's stalls).
#[tokio::test]
async fn many_requests_with_the_same_credentials_share_one_verification() {
    let dir = temp_dir();
    // Cost 12: a hash takes long enough that the requests below overlap it.
    let users = dir.path().join("users");
    std::fs::write(
        &users,
        htpasswd(&["-nbB", "-C", "12", "alice", "right-pw-77aa"]),
    )
    .unwrap();
    let toml = format!(
        "workers = 2\n\n[[listen]]\nbind = \"127.0.0.1:0\"\n\n\
         [forwarded]\ntrust = {{ proxies = [\"127.0.0.1\"] }}\n\n\
         [auth]\nhtpasswd = \"{}\"\nmax_concurrent_verifications = 1\n\
         max_queued_verifications = 2\ncache_ttl = \"2s\"\n\n[[routes]]\necho = true\n",
        users.display()
    );
    let gw = Gateway::run_file(dir.path(), &toml, &["--log", "debug"]).await;
    let url = gw.url("/");
    let burst = |password: &'static str| {
        let handles: Vec<_> = (0..24)
            .map(|i| {
                let url = url.clone();
                // From several addresses: the followers need not share a client.
                let from = format!("198.51.100.{}", i % 4 + 1);
                tokio::spawn(async move { login(&url, "alice", password, &from).await })
            })
            .collect();
        async move {
            let mut statuses = Vec::new();
            for handle in handles {
                let res = tokio::time::timeout(TEST_TIMEOUT, handle)
                    .await
                    .expect("a request hung")
                    .unwrap();
                statuses.push(res.status.as_u16());
            }
            statuses
        }
    };
    // Nothing cached yet: 24 logins at once.
    assert_eq!(burst("right-pw-77aa").await, vec![200; 24], "first logins");
    // The entry expires; 24 requests at once again.
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    assert_eq!(burst("right-pw-77aa").await, vec![200; 24], "after expiry");
    // The same wrong guess 24 times at once: refused, not queued (no 503), each counted.
    assert_eq!(
        burst("wrong-pw-77aa").await,
        vec![401; 24],
        "one wrong guess"
    );
    let log = gw.stop().await;
    assert!(!log.contains("verification queue full"), "{log}");
    assert!(!log.contains("right-pw-77aa") && !log.contains("wrong-pw-77aa"));
}
