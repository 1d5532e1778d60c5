//! Brute-force lockout through the real `tollgate` binary: failures counted per (user,
//! client) and per client, `429` with `Retry-After`, and the real user still admitted from
//! a client that is not locked (Caddy#1318, Traefik#9072).

mod support;

use support::*;

/// `curl -u CREDS` as the client `from`, as the trusted loopback proxy reports it.
async fn login(gw: &Gateway, creds: &str, from: &str) -> Fetched {
    let header = format!("X-Forwarded-For: {from}");
    curl(&["-i", "-u", creds, "-H", &header, &gw.url("/")]).await
}

#[tokio::test]
async fn a_locked_pair_does_not_lock_out_the_real_user() {
    let dir = temp_dir();
    let users = htpasswd_file(dir.path(), "alice", "wonderland");
    let mut more = std::fs::read(&users).unwrap();
    more.extend(htpasswd(&["-nbB", "-C", "5", "bob", "builder"]));
    std::fs::write(&users, more).unwrap();
    let gw = Gateway::start(&[
        "proxy",
        "--users",
        users.to_str().unwrap(),
        "--trusted-proxy",
        "127.0.0.1",
        "--lockout",
        "3/60s",
    ])
    .await;

    for _ in 0..3 {
        assert_eq!(login(&gw, "alice:guess", "192.0.2.66").await.status, 401);
    }
    // alice is locked out from the attacker's address, right password included...
    let res = login(&gw, "alice:wonderland", "192.0.2.66").await;
    assert_eq!(res.status, 429, "{res:?}");
    let wait: u64 = res.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    // ...but not from her own, and bob is not locked out from the attacker's address.
    assert_eq!(
        login(&gw, "alice:wonderland", "198.51.100.7").await.status,
        200
    );
    assert_eq!(login(&gw, "bob:builder", "192.0.2.66").await.status, 200);

    // A client trying many users is locked out as a whole after 4 × 3 failures.
    for i in 0..12 {
        let creds = format!("user{i}:guess");
        assert_eq!(login(&gw, &creds, "203.0.113.9").await.status, 401, "{i}");
    }
    assert_eq!(login(&gw, "bob:builder", "203.0.113.9").await.status, 429);
    assert_eq!(login(&gw, "bob:builder", "203.0.113.10").await.status, 200);
    let log = gw.stop().await;
    assert!(log.contains("user locked out from this client"), "{log}");
}
