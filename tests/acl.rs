//! Who may go where, through the real `tollgate` binary over TCP: allow lists of users and
//! groups (a groups file re-read on change), client networks as the trusted proxies report
//! them, the 403 and the access log line that names the rule.

mod support;

use std::path::{Path, PathBuf};

use support::*;

/// `dir/users` with bcrypt users made by Apache's `htpasswd`, every password `pw-USER`.
fn users(dir: &Path, names: &[&str]) -> PathBuf {
    let mut text = Vec::new();
    for name in names {
        text.extend(htpasswd(&["-nbB", "-C", "5", name, &format!("pw-{name}")]));
    }
    let path = dir.join("users");
    std::fs::write(&path, text).unwrap();
    path
}

/// The access log's `access` and `user` fields for the request to `target` (JSON lines).
fn logged(log: &str, target: &str) -> (String, String) {
    let line = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|j| j["target"] == "tollgate::access" && j["fields"]["target"] == target)
        .unwrap_or_else(|| panic!("no access line for {target}:\n{log}"));
    let field = |name: &str| line["fields"][name].as_str().unwrap_or_default().to_owned();
    (field("access"), field("user"))
}

async fn as_user(gw: &Gateway, path: &str, user: &str) -> Fetched {
    let auth = format!("{user}:pw-{user}");
    curl(&["-u", &auth, &gw.url(path)]).await
}

#[tokio::test]
async fn users_and_groups_from_flags() {
    let dir = temp_dir();
    let users = users(dir.path(), &["alice", "bob", "carol"]);
    let groups = dir.path().join("groups");
    std::fs::write(&groups, "# ops on call\nops: bob\n").unwrap();
    let gw = Gateway::start(&[
        "--log-format",
        "json",
        "proxy",
        "--users",
        users.to_str().unwrap(),
        "--allow",
        "alice",
        "--allow",
        "group:ops",
        "--groups",
        groups.to_str().unwrap(),
    ])
    .await;

    assert_eq!(as_user(&gw, "/a", "alice").await.status, 200);
    let bob = as_user(&gw, "/by-group", "bob").await;
    // The echo behind `tollgate proxy` is a real upstream: the user arrives as its header.
    assert_eq!(bob.status, 200, "{bob:?}");
    let headers = bob.json()["headers"].to_string();
    assert!(
        headers.contains(r#"["x-forwarded-user","bob"]"#),
        "{headers}"
    );
    // Authenticated but not allowed: 403, not a new password prompt.
    let carol = as_user(&gw, "/refused", "carol").await;
    assert_eq!(carol.status, 403, "{carol:?}");
    assert!(carol.header("www-authenticate").is_none());
    // Not authenticated at all: auth's 401 comes first.
    assert_eq!(get(&gw.url("/anon")).await.status, 401);

    gw.wait_for_log("/anon", 1).await;
    let log = gw.log();
    let refused = ("deny allow: not listed".to_owned(), "carol".to_owned());
    assert_eq!(logged(&log, "/refused"), refused);
    let by_group = ("allow group:ops".to_owned(), "bob".to_owned());
    assert_eq!(logged(&log, "/by-group"), by_group);
    // No rule ran for a request auth refused.
    assert_eq!(logged(&log, "/anon").0, "-");
}

#[tokio::test]
async fn a_changed_groups_file_is_read_again() {
    let dir = temp_dir();
    let users = users(dir.path(), &["carol"]);
    let groups = dir.path().join("groups");
    std::fs::write(&groups, "ops: bob\n").unwrap();
    let toml = format!(
        r#"
        [[listen]]
        bind = "127.0.0.1:0"
        [auth]
        htpasswd = "{}"
        [acl]
        groups = "{}"
        reload_interval = "100ms"
        [[routes]]
        path = "/ops"
        allow = ["group:ops"]
        echo = true
        [[routes]]
        echo = true
        "#,
        users.display(),
        groups.display()
    );
    let gw = Gateway::run_file(dir.path(), &toml, &[]).await;
    assert_eq!(as_user(&gw, "/ops/x", "carol").await.status, 403);
    // Other routes have no rule.
    assert_eq!(as_user(&gw, "/elsewhere", "carol").await.status, 200);

    std::fs::write(&groups, "ops: bob\nops: carol\n").unwrap();
    let admitted = eventually(async || as_user(&gw, "/ops/x", "carol").await.status == 200).await;
    assert!(admitted, "carol not admitted after the groups file changed");

    // A broken file is refused and the groups stay.
    std::fs::write(&groups, "ops carol\n").unwrap();
    gw.wait_for_log("groups: new file refused", 1).await;
    assert_eq!(as_user(&gw, "/ops/x", "carol").await.status, 200);
}

/// A gateway trusting the loopback proxy's `X-Forwarded-For`, with network rules on `/net`.
async fn network_gateway(dir: &Path, trust: bool) -> Gateway {
    let forwarded = if trust {
        "[forwarded]\ntrust = { proxies = [\"127.0.0.1\"] }\n"
    } else {
        ""
    };
    let toml = format!(
        r#"
        [[listen]]
        bind = "127.0.0.1:0"
        {forwarded}
        [[routes]]
        path = "/net"
        allow_ip = ["10.0.0.0/8", "2001:db8::/32"]
        deny_ip = ["10.66.0.0/16"]
        echo = true
        [[routes]]
        echo = true
        "#
    );
    Gateway::run_file(dir, &toml, &["--log-format", "json"]).await
}

async fn from(gw: &Gateway, client: &str) -> u16 {
    let header = format!("X-Forwarded-For: {client}");
    curl(&["-H", &header, &gw.url("/net")])
        .await
        .status
        .as_u16()
}

#[tokio::test]
async fn client_networks_as_the_trusted_proxy_reports_them() {
    let dir = temp_dir();
    let gw = network_gateway(dir.path(), true).await;
    let cases = [
        ("allowed v4", "10.1.2.3", 200),
        ("denied inside allowed", "10.66.0.9", 403),
        ("outside", "192.0.2.1", 403),
        ("allowed v6", "2001:db8::7", 200),
        ("outside v6", "2001:db9::7", 403),
    ];
    for (name, client, status) in cases {
        assert_eq!(from(&gw, client).await, status, "{name}");
    }
    // The loopback peer itself is in no allowed network.
    assert_eq!(curl(&[&gw.url("/net")]).await.status, 403);
    gw.wait_for_log("\"access\":\"deny deny_ip 10.66.0.0/16\"", 1)
        .await;
    gw.wait_for_log("\"access\":\"allow allow_ip 2001:db8::/32\"", 1)
        .await;
}

#[tokio::test]
async fn an_untrusted_client_cannot_claim_an_allowed_address() {
    let dir = temp_dir();
    let gw = network_gateway(dir.path(), false).await;
    assert_eq!(from(&gw, "10.1.2.3").await, 403);
}

#[tokio::test]
async fn rules_that_cannot_work_are_startup_errors() {
    let err = start_failure(&["proxy", "--allow", "alice"]).await;
    assert!(
        err.contains("--allow: `allow` lists users, but without [auth]"),
        "{err}"
    );

    let dir = temp_dir();
    let users = users(dir.path(), &["alice"]);
    let users = users.to_str().unwrap();
    let err = start_failure(&["proxy", "--users", users, "--allow", "group:ops"]).await;
    assert!(
        err.contains("--allow: `group:ops` needs a groups file"),
        "{err}"
    );
    let err = start_failure(&["proxy", "--users", users, "--allow", "a b"]).await;
    assert!(
        err.contains("is neither a user name nor `group:NAME`"),
        "{err}"
    );
    let missing = dir.path().join("nope");
    let err = start_failure(&[
        "proxy",
        "--users",
        users,
        "--allow",
        "group:ops",
        "--groups",
        missing.to_str().unwrap(),
    ])
    .await;
    assert!(err.contains("--groups: groups file refused"), "{err}");
    let err = start_failure(&["proxy", "--allow-ip", "10.0.0.0/33"]).await;
    assert!(err.contains("is not a network"), "{err}");
}
