//! Request rate limits through the real `tollgate` binary: the limit holds across
//! connections and worker threads (tower's `RateLimit` is per service clone, axum#2634), per
//! client (IPv6 per /64, as the trusted proxy reports it), per user and per route, answered
//! `429` with `Retry-After` and the `RateLimit` headers.

mod support;

use std::path::Path;

use support::*;

/// `GET url` on a fresh connection (a new client each time), with `headers`.
async fn fresh(url: &str, headers: &[(&str, &str)]) -> Fetched {
    send("GET", url, headers).await
}

#[tokio::test]
async fn the_limit_holds_across_connections_and_workers() {
    let gw = Gateway::start(&["proxy", "--workers", "2", "--rate-limit", "5/m"]).await;
    // Concurrent requests, each on its own connection, spread over both workers.
    let url = gw.url("/");
    let answers = futures_util::future::join_all((0..20).map(|_| fresh(&url, NO_HEADERS))).await;
    let ok = answers.iter().filter(|a| a.status == 200).count();
    let limited: Vec<&Fetched> = answers.iter().filter(|a| a.status == 429).collect();
    assert_eq!(
        (ok, limited.len()),
        (5, 15),
        "5 per minute, whatever the connection"
    );
    let res = limited[0];
    let wait: u64 = res.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert_eq!(res.header("ratelimit-policy"), Some("\"client\";q=5;w=60"));
    assert_eq!(
        res.header("ratelimit"),
        Some(format!("\"client\";r=0;t={wait}").as_str())
    );
    // Still limited on yet another connection.
    assert_eq!(fresh(&url, NO_HEADERS).await.status, 429);
}

async fn run(dir: &Path, toml: &str) -> Gateway {
    let text = format!("workers = 2\n[[listen]]\nbind = \"127.0.0.1:0\"\n{toml}");
    Gateway::run_file(dir, &text, &[]).await
}

#[tokio::test]
async fn clients_as_the_trusted_proxy_reports_them_ipv6_per_64() {
    let dir = temp_dir();
    let gw = run(
        dir.path(),
        "[forwarded]\ntrust = { proxies = [\"127.0.0.1\"] }\n\
         [rate_limit]\nper_client = \"1/m\"\n[[routes]]\necho = true\n",
    )
    .await;
    let url = gw.url("/");
    let from = |client: &'static str| [("x-forwarded-for", client)];
    assert_eq!(fresh(&url, &from("192.0.2.1")).await.status, 200);
    assert_eq!(fresh(&url, &from("192.0.2.1")).await.status, 429);
    assert_eq!(fresh(&url, &from("192.0.2.2")).await.status, 200);
    assert_eq!(fresh(&url, &from("2001:db8:1:2::1")).await.status, 200);
    // The same /64: the same client.
    assert_eq!(fresh(&url, &from("2001:db8:1:2::ffff")).await.status, 429);
    assert_eq!(fresh(&url, &from("2001:db8:1:3::1")).await.status, 200);
}

#[tokio::test]
async fn per_user_and_per_route() {
    let dir = temp_dir();
    let users = htpasswd_file(dir.path(), "alice", "wonderland");
    let mut more = std::fs::read(&users).unwrap();
    more.extend(htpasswd(&["-nbB", "-C", "5", "bob", "builder"]));
    std::fs::write(&users, more).unwrap();
    let toml = format!(
        "[auth]\nhtpasswd = \"{}\"\n[rate_limit]\nper_user = \"2/m\"\n\
         [[routes]]\npath = \"/slow\"\nrate_limit = \"1/m\"\necho = true\n\
         [[routes]]\necho = true\n",
        users.display()
    );
    let gw = run(dir.path(), &toml).await;
    let as_user = |creds: &'static str, path: &str| {
        let url = gw.url(path);
        async move { curl(&["-u", creds, &url]).await.status.as_u16() }
    };
    // The route's own limit, whoever asks.
    assert_eq!(as_user("alice:wonderland", "/slow").await, 200);
    assert_eq!(as_user("bob:builder", "/slow").await, 429);
    // alice has used 1 of her 2 (the route's 429 for bob counted for bob).
    assert_eq!(as_user("alice:wonderland", "/a").await, 200);
    assert_eq!(as_user("alice:wonderland", "/b").await, 429);
    assert_eq!(as_user("bob:builder", "/c").await, 200);
    // A request without credentials is auth's 401, never counted for a user.
    assert_eq!(get(&gw.url("/d")).await.status, 401);
}

#[tokio::test]
async fn a_bad_rate_is_an_error_at_its_key() {
    let err = start_failure(&["proxy", "--rate-limit", "0/s"]).await;
    assert!(err.contains("a rate of 0 requests"), "{err}");
    let dir = temp_dir();
    let file = dir.path().join("gateway.toml");
    std::fs::write(
        &file,
        "[[listen]]\nbind = \"127.0.0.1:0\"\n[[routes]]\nrate_limit = \"fast\"\necho = true\n",
    )
    .unwrap();
    let (ok, out) = run_to_end(&["check", file.to_str().unwrap()]).await;
    assert!(!ok && out.contains("invalid rate \"fast\""), "{out}");
}
