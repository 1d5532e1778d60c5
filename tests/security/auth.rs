//! Credentials files, failure limits and exempt paths (issue items 6-8, 11-13): the real
//! `tollgate` binary (`tollgate run FILE` or `tollgate proxy`) in front of a recording
//! upstream, driven over raw TCP on 127.0.0.1.

use std::path::{Path, PathBuf};

use base64::Engine as _;

use crate::support::*;

/// `tollgate run FILE` with a configuration written for the test, in a directory that lives
/// as long as it does.
struct RunGateway {
    gw: Gateway,
    _dir: tempfile::TempDir,
}

impl std::ops::Deref for RunGateway {
    type Target = Gateway;

    fn deref(&self) -> &Gateway {
        &self.gw
    }
}

impl RunGateway {
    /// Serves `extra` (TOML; top-level keys first) + `[[listen]] 127.0.0.1:0` until dropped.
    async fn start(extra: &str) -> RunGateway {
        let dir = tempfile::tempdir().unwrap();
        Self::start_in(dir, extra).await
    }

    async fn start_in(dir: tempfile::TempDir, extra: &str) -> RunGateway {
        let toml = format!("{extra}\n\n[[listen]]\nbind = \"127.0.0.1:0\"\n");
        let gw = Gateway::run_file(dir.path(), &toml, &[]).await;
        RunGateway { gw, _dir: dir }
    }

    /// Sends `SIGHUP` and waits (bounded) for the reload to be logged.
    async fn reload(&self) {
        let before = self.log().matches("configuration reloaded").count();
        self.signal("HUP");
        self.wait_for_log("configuration reloaded", before + 1)
            .await;
    }
}

/// `Basic base64(user:password)`.
fn basic(user: &str, password: &str) -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {token}")
}

/// The status of `GET target` sent as raw bytes (the target exactly as given) on a fresh
/// connection, with `headers` added.
async fn get(addr: &str, target: &str, headers: &[(&str, &str)]) -> u16 {
    let mut head = format!("GET {target} HTTP/1.1\r\nHost: {addr}");
    for (name, value) in headers {
        head.push_str(&format!("\r\n{name}: {value}"));
    }
    raw_request(addr.parse().unwrap(), &head)
        .await
        .status
        .as_u16()
}

/// An htpasswd file at `dir/name` with these lines.
fn users_file(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

/// One `user:hash` line made by Apache's `htpasswd -B` (bcrypt cost 5, cheap for tests).
fn bcrypt_line(user: &str, password: &str) -> String {
    let line = htpasswd(&["-nbB", "-C", "5", user, password]);
    String::from_utf8(line).unwrap().trim().to_owned()
}

/// The `[auth]`, upstream and route tables of a gateway in front of `upstream`.
fn auth_config(upstream: &Upstream, users: &Path, auth_extra: &str, extra: &str) -> String {
    format!(
        "{extra}\n\n[auth]\nhtpasswd = \"{}\"\n{auth_extra}\n\n[upstreams.app]\nservers = [\"{}\"]\n\n\
         [[routes]]\nupstream = \"app\"\n",
        users.display(),
        upstream.url()
    )
}

// Item 6: exempt prefixes.

/// Paths that look under `/public/` to the gateway but that Tomcat, Jetty, Spring or a
/// decoding server resolve elsewhere.
const ESCAPES: &[&str] = &[
    "/public/..;/admin",
    "/public/%2e%2e;/admin",
    "/public/%2E%2E;/admin",
    "/public/;x/../admin",
    "/public/..%2fadmin",
    "/public/..%2Fadmin",
    "/public/..%5cadmin",
    "/public/a;jsessionid=1/../../admin",
    "/public/..;jsessionid=1/admin",
];

async fn exempt_escapes_need_credentials(normalize: bool) {
    let dir = tempfile::tempdir().unwrap();
    let users = users_file(dir.path(), "users", &[bcrypt_line("ada", "pw")]);
    let up = recording_upstream().await;
    let extra = if normalize { "[normalize]\n" } else { "" };
    let gw = RunGateway::start(&auth_config(
        &up,
        &users,
        "exempt_paths = [\"/public/*\", \"/healthz\"]",
        extra,
    ))
    .await;

    // The exemptions work for plain paths.
    assert_eq!(get(&gw.addr, "/public/app.css", &[]).await, 200);
    assert_eq!(get(&gw.addr, "/healthz", &[]).await, 200);
    assert_eq!(up.seen().len(), 2);

    for path in ESCAPES
        .iter()
        .chain(&["/healthz;x", "/healthz/..;/admin", "/admin"])
    {
        let before = up.seen().len();
        let status = get(&gw.addr, path, &[]).await;
        let reached: Vec<String> = up.seen()[before..]
            .iter()
            .map(|s| s.uri.to_string())
            .collect();
        if normalize && status == 200 {
            // The normalize layer resolved the path before auth ran (`/public/;x/../admin`
            // is `/public/admin`): the decision and the forwarded path are that same plain
            // path under the prefix, never the one a server behind would resolve elsewhere.
            assert_eq!(reached.len(), 1, "{path}");
            let seen = &reached[0];
            assert!(
                seen.starts_with("/public/")
                    && !seen.contains([';', '%', '\\'])
                    && !seen.split('/').any(|s| s == ".." || s == "."),
                "{path} reached the upstream without credentials as {seen}"
            );
            continue;
        }
        assert!(
            status == 401 || status == 400,
            "normalize={normalize} {path}: {status}"
        );
        assert_eq!(
            reached,
            Vec::<String>::new(),
            "normalize={normalize} {path}"
        );
    }
    if !normalize {
        // Nothing but the two plain requests reached the upstream.
        let seen: Vec<String> = up.seen().iter().map(|s| s.uri.to_string()).collect();
        assert_eq!(seen, ["/public/app.css", "/healthz"]);
    }

    // With credentials, the same path is the upstream's business (or a 400 from the
    // normalize layer, which may refuse `..;` segments outright).
    let ada = basic("ada", "pw");
    let status = get(&gw.addr, "/public/..;/admin", &[("Authorization", &ada)]).await;
    assert!(
        status == 200 || (normalize && status == 400),
        "normalize={normalize}: {status}"
    );
}

#[tokio::test]
async fn exempt_prefix_escapes_need_credentials() {
    exempt_escapes_need_credentials(false).await;
}

#[tokio::test]
async fn exempt_prefix_escapes_need_credentials_with_normalize() {
    exempt_escapes_need_credentials(true).await;
}

// Items 7 and 8: the per-peer failure limit.

/// The statuses of `n` wrong-password requests, each on a fresh connection (so they spread
/// over the workers), with `headers` added.
async fn wrong_passwords(addr: &str, n: usize, headers: &[(&str, &str)]) -> Vec<u16> {
    let wrong = basic("ada", "wrong");
    let mut all = headers.to_vec();
    all.push(("Authorization", &wrong));
    let mut statuses = Vec::with_capacity(n);
    for _ in 0..n {
        statuses.push(get(addr, "/", &all).await);
    }
    statuses
}

async fn limit_holds_with_workers(workers: usize) {
    let dir = tempfile::tempdir().unwrap();
    let users = users_file(dir.path(), "users", &[bcrypt_line("ada", "pw")]);
    let up = recording_upstream().await;
    let gw = RunGateway::start(&auth_config(
        &up,
        &users,
        "max_failures_per_peer = 3\nfailure_window = \"10m\"",
        &format!("workers = {workers}"),
    ))
    .await;
    // Enough fresh connections that every worker gets several.
    let statuses = wrong_passwords(&gw.addr, 3 + 4 * workers, &[]).await;
    let mut expected = vec![401; 3];
    expected.resize(3 + 4 * workers, 429);
    assert_eq!(statuses, expected, "{workers} workers");
    assert!(
        gw.log().contains(&format!("{workers} worker threads")),
        "{}",
        gw.log()
    );
    assert!(up.seen().is_empty());
}

#[tokio::test]
async fn failure_limit_holds_exactly_with_2_workers() {
    limit_holds_with_workers(2).await;
}

#[tokio::test]
async fn failure_limit_holds_exactly_with_4_workers() {
    limit_holds_with_workers(4).await;
}

/// The statuses of one request per credentials, sent at once, each on its own connection (in
/// the order given).
async fn logins_at_once(addr: &str, credentials: &[(String, String)]) -> Vec<u16> {
    let tasks: Vec<_> = credentials
        .iter()
        .map(|(user, password)| {
            let (addr, auth) = (addr.to_owned(), basic(user, password));
            tokio::spawn(async move { get(&addr, "/", &[("Authorization", &auth)]).await })
        })
        .collect();
    let mut statuses = Vec::with_capacity(credentials.len());
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    statuses
}

#[tokio::test]
async fn the_verification_queue_and_cache_are_shared_by_every_worker() {
    let dir = tempfile::tempdir().unwrap();
    // Costly hashes (a second or more in a debug build), so that a verification is still
    // running when the other requests arrive. Eight users: requests with the same credentials
    // share one verification, so only different users compete for the queue.
    let users: Vec<(String, String)> = (0..8)
        .map(|i| (format!("ada{i}"), format!("pw{i}")))
        .collect();
    let lines: Vec<String> = users
        .iter()
        .map(|(user, password)| {
            let line = htpasswd(&["-nbB", "-C", "12", user, password]);
            String::from_utf8(line).unwrap().trim().to_owned()
        })
        .collect();
    let file = users_file(dir.path(), "users", &lines);
    let up = recording_upstream().await;
    let gw = RunGateway::start(&auth_config(
        &up,
        &file,
        "max_concurrent_verifications = 1\nmax_queued_verifications = 0",
        "workers = 4",
    ))
    .await;
    // One verification for the whole process: one login gets through, the others are told
    // to come back (with a queue per worker, up to one per worker got through).
    let first = logins_at_once(&gw.addr, &users).await;
    assert_eq!(first.iter().filter(|&&s| s == 200).count(), 1, "{first:?}");
    assert!(first.iter().all(|&s| s == 200 || s == 503), "{first:?}");
    let verified = users[first.iter().position(|&s| s == 200).unwrap()].clone();
    let other = users.iter().find(|u| **u != verified).unwrap().clone();
    // Another user's verification takes the one place; meanwhile the verified user asks 8
    // times at once. Cached for every worker, none of them needs a place (with a cache per
    // worker, the workers that did not verify would try to verify again and get 503).
    let holder = {
        let (addr, auth) = (gw.addr.clone(), basic(&other.0, &other.1));
        tokio::spawn(async move { get(&addr, "/", &[("Authorization", &auth)]).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let then = logins_at_once(&gw.addr, &vec![verified; 8]).await;
    assert_eq!(then, vec![200; 8]);
    assert_eq!(holder.await.unwrap(), 200);
    assert_eq!(up.seen().len(), 10);
}

#[tokio::test]
async fn failure_counts_survive_a_reload_that_keeps_the_auth_settings() {
    let dir = tempfile::tempdir().unwrap();
    let users = users_file(dir.path(), "users", &[bcrypt_line("ada", "pw")]);
    let up = recording_upstream().await;
    let gw = RunGateway::start(&auth_config(
        &up,
        &users,
        "max_failures_per_peer = 3\nfailure_window = \"10m\"",
        "workers = 2",
    ))
    .await;
    assert_eq!(wrong_passwords(&gw.addr, 2, &[]).await, [401, 401]);
    gw.reload().await;
    assert_eq!(wrong_passwords(&gw.addr, 3, &[]).await, [401, 429, 429]);
}

#[tokio::test]
async fn a_limited_peer_is_refused_even_with_the_right_password() {
    let dir = tempfile::tempdir().unwrap();
    let users = users_file(dir.path(), "users", &[bcrypt_line("ada", "pw")]);
    let up = recording_upstream().await;
    let gw = RunGateway::start(&auth_config(
        &up,
        &users,
        "max_failures_per_peer = 2\nfailure_window = \"10m\"",
        "workers = 1",
    ))
    .await;
    let ada = basic("ada", "pw");
    assert_eq!(get(&gw.addr, "/", &[("Authorization", &ada)]).await, 200);
    assert_eq!(wrong_passwords(&gw.addr, 2, &[]).await, [401, 401]);
    // The documented choice (docs/auth.md): everything from the peer gets 429 until the
    // window ends, so that a limited peer cannot go on testing passwords.
    assert_eq!(get(&gw.addr, "/", &[("Authorization", &ada)]).await, 429);
    assert_eq!(up.seen().len(), 1);
}

#[tokio::test]
async fn rotating_x_forwarded_for_does_not_reset_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let users = users_file(dir.path(), "users", &[bcrypt_line("ada", "pw")]);
    let up = recording_upstream().await;
    for forwarded in ["", "[forwarded]\ntrust = { proxies = [\"10.0.0.0/8\"] }"] {
        let gw = RunGateway::start(&auth_config(
            &up,
            &users,
            "max_failures_per_peer = 3\nfailure_window = \"10m\"",
            forwarded,
        ))
        .await;
        let mut statuses = Vec::new();
        for i in 0..6 {
            let xff = format!("198.51.100.{i}");
            let real = format!("203.0.113.{i}");
            statuses.extend(
                wrong_passwords(
                    &gw.addr,
                    1,
                    &[("X-Forwarded-For", &xff), ("X-Real-IP", &real)],
                )
                .await,
            );
        }
        assert_eq!(statuses, [401, 401, 401, 429, 429, 429], "{forwarded}");
    }
}

#[tokio::test]
async fn ipv6_clients_are_limited_per_64() {
    let dir = tempfile::tempdir().unwrap();
    let users = users_file(dir.path(), "users", &[bcrypt_line("ada", "pw")]);
    let up = recording_upstream().await;
    // The gateway believes the test as a trusted proxy reporting IPv6 clients.
    let trusted = "[forwarded]\ntrust = { proxies = [\"127.0.0.1/32\"] }";
    // The old key, `failure_window_secs`, is still accepted (one release).
    let limit = "max_failures_per_peer = 3\nfailure_window_secs = 600";
    let gw = RunGateway::start(&auth_config(&up, &users, limit, trusted)).await;
    let mut statuses = Vec::new();
    for host in [
        "2001:db8:1:2::1",
        "2001:db8:1:2::2",
        "2001:db8:1:2:ab::3",
        "2001:db8:1:2::4",
    ] {
        statuses.extend(wrong_passwords(&gw.addr, 1, &[("X-Forwarded-For", host)]).await);
    }
    assert_eq!(statuses, [401, 401, 401, 429], "one /64, four addresses");
    let next = wrong_passwords(&gw.addr, 1, &[("X-Forwarded-For", "2001:db8:1:3::1")]).await;
    assert_eq!(next, [401], "the next /64 is another client");
    drop(gw);

    // `failure_ipv6_prefix = 128` counts each address.
    let per_address = format!("{limit}\nfailure_ipv6_prefix = 128");
    let gw = RunGateway::start(&auth_config(&up, &users, &per_address, trusted)).await;
    let mut statuses = Vec::new();
    for host in [
        "2001:db8:1:2::1",
        "2001:db8:1:2::2",
        "2001:db8:1:2::3",
        "2001:db8:1:2::4",
    ] {
        statuses.extend(wrong_passwords(&gw.addr, 1, &[("X-Forwarded-For", host)]).await);
    }
    assert_eq!(statuses, [401, 401, 401, 401]);
}

// Item 12: locked and empty entries, plain text.

#[tokio::test]
async fn locked_and_empty_entries_never_log_in() {
    let dir = tempfile::tempdir().unwrap();
    let ada = bcrypt_line("ada", "pw");
    let (_, ada_hash) = ada.split_once(':').unwrap();
    let users = users_file(
        dir.path(),
        "users",
        &[
            ada.clone(),
            "empty:".into(),
            "star:*".into(),
            "bang:!".into(),
            format!("locked:!{ada_hash}"),
            "plain:{PLAIN}pw".into(),
        ],
    );
    let up = recording_upstream().await;
    let gw = RunGateway::start(&auth_config(
        &up,
        &users,
        "allow_legacy_hashes = true\nforward_user_header = \"X-Forwarded-User\"",
        "",
    ))
    .await;
    let refused = [
        ("empty", ""),
        ("empty", "x"),
        ("star", "*"),
        ("star", ""),
        ("bang", "!"),
        ("bang", ""),
        ("locked", "pw"),
        ("locked", &format!("!{ada_hash}")),
        ("locked", ada_hash),
        ("plain", "{PLAIN}pw"),
        ("nobody", ""),
    ];
    for (user, password) in refused {
        let status = get(&gw.addr, "/", &[("Authorization", &basic(user, password))]).await;
        assert_eq!(status, 401, "{user}:{password}");
    }
    for user in ["ada", "plain"] {
        let status = get(&gw.addr, "/", &[("Authorization", &basic(user, "pw"))]).await;
        assert_eq!(status, 200, "{user}");
    }
    let seen: Vec<_> = up
        .seen()
        .iter()
        .map(|s| s.headers["x-forwarded-user"].to_str().unwrap().to_owned())
        .collect();
    assert_eq!(seen, ["ada", "plain"]);
    assert!(gw.log().contains("locked account"), "{}", gw.log());
}

#[tokio::test]
async fn locked_lines_load_without_legacy_and_check_htpasswd_names_them() {
    let dir = tempfile::tempdir().unwrap();
    let users = users_file(
        dir.path(),
        "users",
        &[
            bcrypt_line("ada", "pw"),
            "empty:".into(),
            "star:*".into(),
            "bang:!x".into(),
        ],
    );
    let up = recording_upstream().await;
    let url = up.url();
    let users_arg = users.to_str().unwrap();
    let gw = Gateway::start(&["proxy", "--users", users_arg, "--upstream", &url]).await;
    let status = curl(&["-u", "ada:pw", &gw.url("/")]).await.status;
    assert_eq!(status, 200);
    let status = curl(&["-u", "empty:", &gw.url("/")]).await.status;
    assert_eq!(status, 401);
    gw.stop().await;

    let out = Launch::tollgate(["check-htpasswd", users_arg])
        .output()
        .await;
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{report}");
    for (line, user) in [(2, "empty"), (3, "star"), (4, "bang")] {
        assert!(
            report.contains(&format!("line {line}: {user}: locked (account locked")),
            "{report}"
        );
    }
}

#[tokio::test]
async fn unmarked_plain_text_is_refused_even_with_legacy_hashes() {
    let dir = tempfile::tempdir().unwrap();
    let users = users_file(dir.path(), "users", &["ada:hunter2isMyPassword".into()]);
    let up = recording_upstream().await;
    let config = auth_config(&up, &users, "allow_legacy_hashes = true", "");
    let file = dir.path().join("tollgate.toml");
    std::fs::write(
        &file,
        format!("{config}\n[[listen]]\nbind = \"127.0.0.1:0\"\n"),
    )
    .unwrap();
    let stderr = start_failure(&["run", file.to_str().unwrap()]).await;
    assert!(stderr.contains("htpasswd line 1: not a hash"), "{stderr}");
    assert!(stderr.contains("{PLAIN}"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

// Item 13: nothing secret or forged in messages and logs.

#[tokio::test]
async fn credentials_file_errors_never_quote_the_hash_field() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = [
        "$ecretPassw0rd",
        "$ecret$Passw0rd",
        "{ecretPassw0rd}",
        "$2y$05$ecretPassw0rd",
        "$2y$05$ecretPassw0rd/ecretPassw0rd/ecretPassw0rd/ecretPa",
        "$argon2id$v=19$m=64,t=1,p=1$ecret!Passw0rd$ecret!Passw0rd",
        "$apr1$ecret$Passw0rd",
        "{SHA}ecretPassw0rd",
        "ecretPassw0rd",
    ];
    for (i, secret) in secrets.iter().enumerate() {
        let users = users_file(dir.path(), &format!("users{i}"), &[format!("ada:{secret}")]);
        let users = users.to_str().unwrap();
        let stderr = start_failure(&["proxy", "--users", users, "--bind", "127.0.0.1:0"]).await;
        assert!(
            stderr.contains("--users: ") && stderr.contains("line 1"),
            "{secret}: {stderr}"
        );
        let out = Launch::tollgate(["check-htpasswd", "--allow-legacy-hashes", users])
            .output()
            .await;
        let report = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{secret}: {report}");
        for text in [&stderr, &report.into_owned()] {
            for part in ["ecret", "Passw0rd"] {
                assert!(!text.contains(part), "{secret}: {text}");
            }
        }
    }
}

#[tokio::test]
async fn failed_login_log_lines_bound_and_escape_the_user_name() {
    let dir = tempfile::tempdir().unwrap();
    let users = htpasswd_file(dir.path(), "ada", "pw");
    let up = recording_upstream().await;
    let url = up.url();
    let gw = Gateway::start(&[
        "proxy",
        "--users",
        users.to_str().unwrap(),
        "--upstream",
        &url,
    ])
    .await;
    // Right-to-left override, a line separator, quotes and a long tail.
    let user = format!("\u{202e}nimda\u{2028}level=error \"x\"{}", "A".repeat(5000));
    let addr = gw.addr.clone();
    let status = get(&addr, "/", &[("Authorization", &basic(&user, "nope"))]).await;
    assert_eq!(status, 401);
    let log = gw.stop().await;
    let line = log
        .lines()
        .find(|l| l.contains("failed attempt"))
        .unwrap_or_else(|| panic!("no failed attempt logged: {log}"));
    assert!(line.len() < 1_000, "{} bytes: {line}", line.len());
    assert!(!line.contains(['\u{202e}', '\u{2028}']), "{line}");
    assert!(line.contains("nimda") && line.contains('…'), "{line}");
    assert!(!line.contains(&"A".repeat(100)), "{line}");
    assert!(up.seen().is_empty());
}
