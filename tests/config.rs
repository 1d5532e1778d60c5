//! `tollgate check FILE` and the configuration file: every kind of error, located, and the
//! example file.

mod support;

use std::process::Output;

use support::{temp_dir, Launch};
use tollgate::config::{self, Config};
use tollgate::metrics::Metrics;
use tollgate::testing::TestClient;

/// `tests/fixtures/tls/NAME`, as text for a configuration file.
fn fixture(name: &str) -> String {
    support::fixture(&format!("tls/{name}"))
        .display()
        .to_string()
}

/// Runs `tollgate check` on `text` written to a file; returns the output.
async fn check(text: &str) -> Output {
    let dir = temp_dir();
    let file = dir.path().join("tollgate.toml");
    std::fs::write(&file, text).unwrap();
    Launch::tollgate(["check"]).arg(&file).output().await
}

/// The error lines `check` printed, as `(line, message)`.
fn errors(out: &Output) -> Vec<(usize, String)> {
    let stderr = String::from_utf8_lossy(&out.stderr);
    stderr
        .lines()
        .filter(|l| l.contains(": error: "))
        .map(|l| {
            let (place, message) = l.split_once(": error: ").unwrap();
            let line = place
                .split(':')
                .rev()
                .nth(1)
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            (line, message.to_owned())
        })
        .collect()
}

/// Asserts `check` failed with exactly these `(line, words in the message)`.
fn assert_errors(out: &Output, expected: &[(usize, &str)]) {
    assert!(!out.status.success(), "check passed: {out:?}");
    let found = errors(out);
    assert_eq!(
        found.len(),
        expected.len(),
        "{found:#?}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for ((line, message), (want_line, words)) in found.iter().zip(expected) {
        assert_eq!(line, want_line, "{message}");
        assert!(message.contains(words), "{message:?} lacks {words:?}");
    }
}

const GOOD: &str = r#"
[[listen]]
bind = "127.0.0.1:0"

[upstreams.app]
servers = ["http://127.0.0.1:9001", "http://127.0.0.1:9002"]

[[routes]]
upstream = "app"
"#;

#[tokio::test]
async fn a_good_file_is_ok() {
    let out = check(GOOD).await;
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).ends_with(": ok\n"));
}

#[tokio::test]
async fn the_example_file_is_ok() {
    let out = Launch::tollgate(["check", "examples/tollgate.toml"])
        .output()
        .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn a_syntax_error_is_located() {
    let out = check("[[listen]]\nbind = \"127.0.0.1:0\n").await;
    assert_errors(&out, &[(2, "")]);
}

#[tokio::test]
async fn unknown_keys_everywhere_are_errors() {
    let text = r#"
[[listen]]
bind = "127.0.0.1:0"
max_conections = 5

[normalize]
pathh = {}

[upstreams.app]
servers = ["http://127.0.0.1:9001"]
[upstreams.app.balance]
max_fail = 2

[[routes]]
upstream = "app"
stripprefix = true
"#;
    let out = check(text).await;
    assert_errors(
        &out,
        &[
            (4, "unknown field `max_conections`"),
            (7, "unknown field `pathh`"),
            (12, "unknown field `max_fail`"),
            (16, "unknown field `stripprefix`"),
        ],
    );
}

#[tokio::test]
async fn a_route_to_a_missing_group_names_its_place() {
    let text = r#"
[[listen]]
bind = "127.0.0.1:0"

[upstreams.app]
servers = ["http://127.0.0.1:9001"]

[[routes]]
path = "/api"
upstream = "api"

[[routes]]
upstream = "app"
"#;
    let out = check(text).await;
    assert_errors(
        &out,
        &[(10, "no upstream group named `api`; the groups are: app")],
    );
}

#[tokio::test]
async fn routes_need_exactly_one_target() {
    let text = r#"
[[listen]]
bind = "127.0.0.1:0"

[[routes]]
path = "/a"

[[routes]]
path = "/b"
echo = true
redirect = { to = "/c" }
"#;
    let out = check(text).await;
    assert_errors(
        &out,
        &[(5, "the route does nothing"), (8, "more than one target")],
    );
}

#[tokio::test]
async fn values_of_the_wrong_type_and_bad_urls() {
    let text = r#"
[[listen]]
bind = "127.0.0.1:0"
header_read_timeout = "soon"

[upstreams.app]
servers = ["ftp://127.0.0.1:9001"]

[[routes]]
upstream = "app"
methods = ["GET", "G T"]
redirect = { to = "/x", status = 200 }
"#;
    let out = check(text).await;
    let found = errors(&out);
    assert!(!out.status.success());
    // Type errors come first; the semantic ones wait until the types are right.
    assert_eq!(found[0].0, 4, "{found:?}");
    assert!(found[0].1.contains("invalid duration"), "{found:?}");
    assert_eq!(found[1].0, 7, "{found:?}");
    assert!(found[1].1.contains("http:// or https://"), "{found:?}");
}

#[tokio::test]
async fn semantic_errors_each_with_their_line() {
    let text = r#"
[[listen]]
bind = "127.0.0.1:0"

[upstreams.empty]
servers = []

[[routes]]
upstream = "empty"
methods = ["GET", "G T"]

[[routes]]
host = "http://example.com"
redirect = { to = "/x", status = 200 }
"#;
    let out = check(text).await;
    assert_errors(
        &out,
        &[
            (5, "group `empty` has no servers"),
            (10, "`G T` is not an HTTP method"),
            (13, "not a host pattern"),
            (14, "200 is not a redirect status"),
        ],
    );
}

#[tokio::test]
async fn a_typo_in_an_auth_key_is_refused() {
    let text = r#"
[[listen]]
bind = "127.0.0.1:0"

[auth]
realm = "staff"
htpasswd = "users"
exempt_path = ["/healthz"]

[[routes]]
echo = true
"#;
    let out = check(text).await;
    assert_errors(&out, &[(8, "unknown field `exempt_path`")]);
}

#[tokio::test]
async fn a_credentials_file_that_cannot_be_read() {
    let text = r#"
[[listen]]
bind = "127.0.0.1:0"

[auth]
realm = "staff"
htpasswd = "/nonexistent/users"

[[routes]]
echo = true
"#;
    let out = check(text).await;
    assert_errors(&out, &[(7, "/nonexistent/users")]);
}

#[tokio::test]
async fn a_credentials_file_with_a_bad_line() {
    let tmp = temp_dir();
    let dir = tmp.path();
    let users = dir.join("users");
    std::fs::write(
        &users,
        "ada:$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo\nbob\n",
    )
    .unwrap();
    let text = format!(
        "[[listen]]\nbind = \"127.0.0.1:0\"\n[auth]\nhtpasswd = \"{}\"\n[[routes]]\necho = true\n",
        users.display()
    );
    let out = check(&text).await;
    assert_errors(&out, &[(4, "line 2")]);
}

#[tokio::test]
async fn a_bad_header_rule_names_the_rule() {
    let text = r#"
[[listen]]
bind = "127.0.0.1:0"

[rewrite]
[[rewrite.request]]
set = "X-Ok"
value = "1"

[[rewrite.request]]
set = "Bad Header"
value = "x"

[[routes]]
echo = true
"#;
    let out = check(text).await;
    assert_errors(&out, &[(10, "Bad Header")]);
}

#[tokio::test]
async fn no_listener_and_no_route() {
    let out = check("[proxy]\nvia = \"x\"\n").await;
    let found = errors(&out);
    assert!(!out.status.success());
    assert!(
        found.iter().any(|(_, m)| m.contains("no listener")),
        "{found:?}"
    );
    assert!(
        found.iter().any(|(_, m)| m.contains("no route")),
        "{found:?}"
    );
}

#[tokio::test]
async fn the_admin_listener_is_never_a_public_one() {
    let text = r#"
[[listen]]
bind = "127.0.0.1:8080"

[admin]
bind = "127.0.0.1:8080"

[[routes]]
echo = true
"#;
    let out = check(text).await;
    assert_errors(&out, &[(6, "must not share the public address")]);
}

#[tokio::test]
async fn a_certificate_that_does_not_match_its_key() {
    let text = format!(
        r#"
[[listen]]
bind = "127.0.0.1:0"
tls = {{ cert = "{}", key = "{}" }}

[[routes]]
echo = true
"#,
        fixture("cert.pem"),
        fixture("other-key.pem")
    );
    let out = check(&text).await;
    assert_errors(&out, &[(4, "do not fit together")]);
}

#[tokio::test]
async fn a_certificate_that_cannot_be_read() {
    let text = format!(
        r#"
[[listen]]
bind = "127.0.0.1:0"

[[listen]]
bind = "127.0.0.1:0"
[listen.tls]
cert = "/nonexistent/cert.pem"
key = "{}"

[[routes]]
echo = true
"#,
        fixture("key.pem")
    );
    let out = check(&text).await;
    assert_errors(
        &out,
        &[(
            7,
            "cannot read the TLS certificate file /nonexistent/cert.pem",
        )],
    );
}

#[tokio::test]
async fn a_ca_file_that_cannot_be_read() {
    let text = r#"
[[listen]]
bind = "127.0.0.1:0"

[upstreams.app]
servers = ["https://127.0.0.1:9001"]
[upstreams.app.proxy]
ca_file = "/nonexistent/ca.pem"

[[routes]]
upstream = "app"
"#;
    let out = check(text).await;
    assert_errors(
        &out,
        &[(
            8,
            "cannot read the CA file /nonexistent/ca.pem: No such file",
        )],
    );
}

#[tokio::test]
async fn a_static_directory_that_is_missing() {
    let text = r#"
[[listen]]
bind = "127.0.0.1:0"

[[routes]]
path = "/static"
files = { dir = "/nonexistent/public" }
"#;
    let out = check(text).await;
    assert_errors(&out, &[(7, "/nonexistent/public is not a directory")]);
}

#[tokio::test]
async fn an_unreadable_file_is_one_error() {
    let out = Launch::tollgate(["check", "/nonexistent/tollgate.toml"])
        .output()
        .await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot read the configuration file"),
        "{stderr}"
    );
}

async fn gateway(text: &str) -> TestClient<tollgate::config::Gateway> {
    let config: Config = config::load(text).unwrap();
    TestClient::new(config::build(&config, &Metrics::new()).await.unwrap())
}

#[tokio::test]
async fn routes_match_host_then_longest_prefix_then_method() {
    let client = gateway(
        r#"
[[listen]]
bind = "127.0.0.1:0"

[[routes]]
host = "*.example.com"
redirect = { to = "https://example.com", status = 301 }

[[routes]]
path = "/api"
methods = ["POST"]
strip_prefix = true
echo = true

[[routes]]
path = "/old"
redirect = { to = "/new", keep_path = false }

[[routes]]
path = "/"
methods = ["GET"]
echo = true
"#,
    )
    .await;
    let res = client
        .get("/x?y")
        .header("host", "a.example.com")
        .send()
        .await;
    assert_eq!(res.status(), 301);
    assert_eq!(res.header("location"), Some("https://example.com/x?y"));

    let res = client
        .post("/api/users")
        .header("host", "example.com")
        .send()
        .await;
    let echo = res.json::<serde_json::Value>().await;
    assert_eq!(echo["path"], "/users");
    assert_eq!(echo["script_name"], "/api");

    let res = client.get("/old/anything").send().await;
    assert_eq!(res.status(), 308);
    assert_eq!(res.header("location"), Some("/new"));

    // /api is the longest prefix and takes POST only: DELETE is a 405 listing its methods
    // (the route order rule: the catch-all's GET no longer counts, and GET /api/x, which
    // used to fall through to it, is a 405 too).
    let res = client.delete("/api/x").send().await;
    assert_eq!(res.status(), 405);
    assert_eq!(res.header("allow"), Some("POST, OPTIONS"));
    assert_eq!(client.get("/api/x").send().await.status(), 405);

    let res = client.get("/apix").send().await;
    assert_eq!(res.json::<serde_json::Value>().await["path"], "/apix");
}

#[tokio::test]
async fn health_is_answered_before_anything_else() {
    let client = gateway(
        r#"
[[listen]]
bind = "127.0.0.1:0"

[health]
path = "/_health"

[[routes]]
path = "/app"
echo = true
"#,
    )
    .await;
    let res = client.get("/_health").send().await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await, "ok\n");
    assert_eq!(client.post("/_health").send().await.status(), 405);
    assert_eq!(client.get("/elsewhere").send().await.status(), 404);
}

#[tokio::test]
async fn static_directories() {
    let tmp = temp_dir();
    let dir = tmp.path();
    std::fs::write(dir.join("a.txt"), "hello").unwrap();
    let client = gateway(&format!(
        r#"
[[listen]]
bind = "127.0.0.1:0"

[[routes]]
path = "/static"
files = {{ dir = "{}" }}
"#,
        dir.display()
    ))
    .await;
    let res = client.get("/static/a.txt").send().await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await, "hello");
}

#[tokio::test]
async fn a_stripped_prefix_reaches_the_upstream_and_its_redirects_come_back_under_it() {
    let up = support::upstream(|req| async move {
        let prefix = req
            .headers()
            .get("x-forwarded-prefix")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-")
            .to_owned();
        http::Response::builder()
            .status(302)
            .header("location", format!("/login?from={}", req.uri().path()))
            .header("x-prefix", prefix)
            .body(support::full(""))
            .unwrap()
    })
    .await;
    let text = format!(
        r#"
[[listen]]
bind = "127.0.0.1:0"

[upstreams.app]
servers = ["{}"]

[[routes]]
path = "/api"
strip_prefix = true
upstream = "app"
"#,
        up.url()
    );
    let config = config::load(&text).unwrap();
    let gw = support::gateway(config::build(&config, &Metrics::new()).await.unwrap()).await;
    let req = http::Request::get(format!("http://{gw}/api/users"))
        .body(tollgate::Body::empty())
        .unwrap();
    let res = support::fetch(req).await;
    assert_eq!(res.status, 302);
    assert_eq!(res.headers["location"], "/api/login?from=/users");
    assert_eq!(res.headers["x-prefix"], "/api");
}

/// The warnings `check` printed, as `(line, message)`.
fn warnings(out: &Output) -> Vec<(usize, String)> {
    let stderr = String::from_utf8_lossy(&out.stderr);
    stderr
        .lines()
        .filter_map(|l| l.split_once(": warning: "))
        .map(|(place, message)| {
            let line = place.split(':').rev().nth(1).and_then(|n| n.parse().ok());
            (line.unwrap_or(0), message.to_owned())
        })
        .collect()
}

#[tokio::test]
async fn check_names_each_route_the_order_rule_changes() {
    let text = r#"
[[listen]]
bind = "127.0.0.1:0"

[[routes]]
name = "rest"
echo = true

[[routes]]
path = "/api"
methods = ["POST"]
echo = true

[[routes]]
path = "/old"
redirect = { to = "/new" }

[[routes]]
path = "/old/"
redirect = { to = "/newer" }
"#;
    let out = check(text).await;
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).ends_with(": ok\n"));
    let found = warnings(&out);
    let at = |line: usize| {
        let found = found.iter().find(|(l, _)| *l == line);
        found.map_or("", |(_, message)| message.as_str())
    };
    // The catch-all listed first took everything; now the longest prefix decides: /api
    // takes its POSTs (and its GETs are a 405), /old takes its requests.
    let rest = at(5);
    assert!(
        rest.contains("[routes[0]] route order: this route no longer takes `GET /api`"),
        "{found:#?}"
    );
    assert!(rest.contains("405"), "{found:#?}");
    assert!(
        at(9).contains("[routes[1]] route order: this route now takes `POST /api`"),
        "{found:#?}"
    );
    assert!(
        at(14).contains("[routes[2]] route order: this route now takes `GET /old`"),
        "{found:#?}"
    );
    assert!(
        at(18).contains("[routes[3]] route order: this route never answers"),
        "{found:#?}"
    );
    assert_eq!(found.len(), 4, "{found:#?}");
}

#[tokio::test]
async fn check_is_quiet_about_a_file_already_in_order() {
    let text = r#"
[[listen]]
bind = "127.0.0.1:0"

[[routes]]
host = "*.example.com"
echo = true

[[routes]]
path = "/api"
methods = ["GET"]
echo = true

[[routes]]
path = "/api"
echo = true

[[routes]]
echo = true
"#;
    let out = check(text).await;
    assert!(out.status.success(), "{out:?}");
    assert_eq!(warnings(&out), [], "{out:?}");
}
