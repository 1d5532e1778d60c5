//! Basic auth over real TCP: files made by Apache's `htpasswd`, requests made by `curl` and a
//! hyper client.

#[path = "../support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use http::{HeaderName, Method, Request, Response};
use support::{eventually, htpasswd, temp_dir, Fetched, Launch, TestServer, TEST_TIMEOUT};
use tollgate::auth::htpasswd::{CredentialStore, Htpasswd, HtpasswdOptions};
use tollgate::auth::password::{hash_password_with, Params};
use tollgate::auth::BasicAuthLayer;
use tollgate::ext::AuthenticatedUser;
use tollgate::Body;
use tower::Layer;

const CHALLENGE: &str = "Basic realm=\"tollgate tests\", charset=\"UTF-8\"";
const CHEAP: Params = Params {
    memory_kib: 256,
    iterations: 1,
    parallelism: 1,
};

/// What the protected service saw: the user from extensions and a few headers, as JSON.
async fn echo(req: Request<Body>) -> Result<Response<Body>, Infallible> {
    let user = req
        .extensions()
        .get::<AuthenticatedUser>()
        .map(|u| u.name().to_owned());
    let header = |name: &str| {
        req.headers()
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    };
    let body = serde_json::json!({
        "user": user,
        "authorization": header("authorization"),
        "x_forwarded_user": header("x-forwarded-user"),
    });
    Ok(Response::new(Body::from(body.to_string())))
}

/// Serves `layer` around [`echo`] on 127.0.0.1:0 until dropped.
async fn start(layer: BasicAuthLayer) -> TestServer {
    support::start(layer.layer(tower::service_fn(echo))).await
}

/// `GET path` with header values as bytes (some cases are not UTF-8).
async fn get(addr: SocketAddr, path: &str, headers: &[(&str, &[u8])]) -> Fetched {
    support::send("GET", &format!("http://{addr}{path}"), headers).await
}

/// `curl -u USER:PASS` (no `-u` for `None`) on `path`.
async fn curl(addr: SocketAddr, path: &str, user_pass: Option<&str>) -> Fetched {
    let url = format!("http://{addr}{path}");
    match user_pass {
        Some(user_pass) => support::curl(&["-u", user_pass, &url]).await,
        None => support::curl(&[&url]).await,
    }
}

fn basic(plain: &[u8]) -> Vec<u8> {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(plain)
    )
    .into_bytes()
}

fn layer(store: impl CredentialStore) -> BasicAuthLayer {
    BasicAuthLayer::new("tollgate tests", store)
}

fn fast_reload() -> HtpasswdOptions {
    HtpasswdOptions {
        reload_interval: std::time::Duration::from_secs(1),
        ..Default::default()
    }
}

#[tokio::test]
async fn htpasswd_bcrypt_entries_verify_with_curl() {
    let dir = temp_dir();
    let file = dir.path().join("users");
    let f = file.to_str().unwrap();
    htpasswd(&["-cbB", "-C", "4", f, "cost4", "pw-four"]);
    htpasswd(&["-bB", f, "default", "pw-default"]);
    htpasswd(&["-bB", "-C", "7", f, "cost7", "pw:seven"]);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains("$2y$04$") && text.contains("$2y$05$") && text.contains("$2y$07$"),
        "{text}"
    );

    let server = start(layer(Htpasswd::watch(&file).unwrap())).await;
    let addr = server.addr;
    for (user, pw) in [
        ("cost4", "pw-four"),
        ("default", "pw-default"),
        ("cost7", "pw:seven"),
    ] {
        let res = curl(addr, "/x", Some(&format!("{user}:{pw}"))).await;
        assert_eq!(res.status, 200, "{user}: {}", res.text());
        let json = res.json();
        assert_eq!(json["user"], user);
        assert_eq!(
            json["authorization"],
            serde_json::Value::Null,
            "stripped by default"
        );
        let res = curl(addr, "/x", Some(&format!("{user}:{pw}x"))).await;
        assert_eq!(res.status, 401, "{user} wrong password");
    }
}

#[tokio::test]
async fn legacy_htpasswd_entries_refused_unless_allowed() {
    let dir = temp_dir();
    for (flag, user) in [("-m", "md5"), ("-s", "sha")] {
        let file = dir.path().join(user);
        let f = file.to_str().unwrap();
        htpasswd(&["-cb", flag, f, user, "legacy-pw"]);
        let err = Htpasswd::open(&file, &HtpasswdOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("htpasswd line 1: weak legacy hash scheme")
                && err.contains("tollgate hash USER")
                && err.contains("allow_legacy_hashes = true"),
            "{flag}: {err}"
        );
        let options = HtpasswdOptions {
            allow_legacy_hashes: true,
            ..Default::default()
        };
        let store = Htpasswd::open(&file, &options).unwrap();
        let server = start(layer(store).allow_legacy_hashes(true)).await;
        let addr = server.addr;
        let res = curl(addr, "/", Some(&format!("{user}:legacy-pw"))).await;
        assert_eq!(res.status, 200, "{flag}: {}", res.text());
        let res = curl(addr, "/", Some(&format!("{user}:wrong"))).await;
        assert_eq!(res.status, 401, "{flag}");
    }
}

#[tokio::test]
async fn legacy_hash_from_a_custom_store_is_refused_by_default() {
    let users = HashMap::from([(
        "ada".to_string(),
        "{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=".to_string(),
    )]);
    let server = start(layer(users)).await;
    let addr = server.addr;
    let res = get(addr, "/", &[("authorization", &basic(b"ada:password"))]).await;
    assert_eq!(res.status, 401);
}

#[tokio::test]
async fn hostile_requests_are_401_or_400_with_the_challenge() {
    let users = HashMap::from([(
        "ada".to_string(),
        hash_password_with("secret", &CHEAP).unwrap(),
    )]);
    let server = start(layer(users)).await;
    let addr = server.addr;

    let ok = get(addr, "/", &[("authorization", &basic(b"ada:secret"))]).await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.json()["user"], "ada");

    let long = [b"Basic ".as_slice(), &vec![b'A'; 100 * 1024]].concat();
    type Headers = Vec<(&'static str, Vec<u8>)>;
    let cases: Vec<(&str, Headers)> = vec![
        (
            "wrong password",
            vec![("authorization", basic(b"ada:Secret"))],
        ),
        (
            "unknown user",
            vec![("authorization", basic(b"bob:secret"))],
        ),
        ("empty password", vec![("authorization", basic(b"ada:"))]),
        ("no header", vec![]),
        (
            "invalid base64",
            vec![("authorization", b"Basic !!!###".to_vec())],
        ),
        (
            "only the scheme",
            vec![("authorization", b"Basic".to_vec())],
        ),
        ("no colon", vec![("authorization", basic(b"adasecret"))]),
        ("100 KB header", vec![("authorization", long)]),
        (
            "non-UTF-8 user",
            vec![("authorization", basic(b"\xe9\xff:secret"))],
        ),
        (
            "control character",
            vec![("authorization", basic(b"ada:sec\x00ret"))],
        ),
        (
            "other scheme",
            vec![("authorization", b"Bearer abc.def".to_vec())],
        ),
        (
            "raw non-ASCII value",
            vec![("authorization", b"Basic \xe9t\xe9".to_vec())],
        ),
        (
            "two headers",
            vec![
                ("authorization", basic(b"ada:secret")),
                ("authorization", basic(b"ada:secret")),
            ],
        ),
    ];
    for (name, headers) in cases {
        let headers: Vec<(&str, &[u8])> = headers.iter().map(|(n, v)| (*n, v.as_slice())).collect();
        let res = get(addr, "/", &headers).await;
        assert_eq!(res.status, 401, "{name}: {}", res.text());
        assert_eq!(res.header("www-authenticate"), Some(CHALLENGE), "{name}");
        assert!(
            res.text().contains("Unauthorized Access"),
            "{name}: {}",
            res.text()
        );
    }
}

#[tokio::test]
async fn other_schemes_can_be_a_400() {
    let users = HashMap::from([(
        "ada".to_string(),
        hash_password_with("secret", &CHEAP).unwrap(),
    )]);
    let server = start(layer(users).other_schemes_bad_request(true)).await;
    let addr = server.addr;
    let res = get(addr, "/", &[("authorization", b"Bearer abc")]).await;
    assert_eq!(res.status, 400);
    assert!(res.text().contains("Bearer"), "{}", res.text());
    let res = get(addr, "/", &[("authorization", b"Basic !!")]).await;
    assert_eq!(res.status, 401, "malformed Basic stays a 401");
}

#[tokio::test]
async fn rejection_body_is_negotiated() {
    let server = start(layer(HashMap::<String, String>::new())).await;
    let addr = server.addr;
    let res = get(addr, "/", &[("accept", b"application/json")]).await;
    assert_eq!(res.status, 401);
    assert_eq!(res.headers["content-type"], "application/json");
    assert_eq!(res.json()["error"], "Unauthorized Access");
}

#[tokio::test]
async fn non_ascii_user_and_password_with_curl() {
    let dir = temp_dir();
    let file = dir.path().join("users");
    htpasswd(&[
        "-cbB",
        "-C",
        "4",
        file.to_str().unwrap(),
        "Jürgen",
        "pässwörd€:ü",
    ]);
    let store = Htpasswd::watch(&file).unwrap();
    let layer = layer(store).forward_user_header(HeaderName::from_static("x-forwarded-user"));
    let server = start(layer).await;
    let addr = server.addr;
    let res = curl(addr, "/", Some("Jürgen:pässwörd€:ü")).await;
    assert_eq!(res.status, 200, "{}", res.text());
    let json = res.json();
    assert_eq!(json["user"], "Jürgen");
    assert_eq!(json["x_forwarded_user"], "Jürgen");
    let res = curl(addr, "/", Some("Jürgen:passwörd€:ü")).await;
    assert_eq!(res.status, 401);
}

#[tokio::test]
async fn user_header_cannot_be_forged_and_authorization_can_be_kept() {
    let users = HashMap::from([(
        "ada".to_string(),
        hash_password_with("secret", &CHEAP).unwrap(),
    )]);
    let layer = layer(users)
        .forward_user_header(HeaderName::from_static("x-forwarded-user"))
        .strip_authorization(false)
        .exempt_path("/healthz");
    let server = start(layer).await;
    let addr = server.addr;
    let res = get(addr, "/healthz", &[("x-forwarded-user", b"root")]).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.json()["x_forwarded_user"], serde_json::Value::Null);
    let res = get(
        addr,
        "/",
        &[
            ("x-forwarded-user", b"root"),
            ("authorization", &basic(b"ada:secret")),
        ],
    )
    .await;
    assert_eq!(res.json()["x_forwarded_user"], "ada");
    assert!(res.json()["authorization"]
        .as_str()
        .unwrap()
        .starts_with("Basic "));
}

#[tokio::test]
async fn exemptions_by_path_and_method() {
    let layer = layer(HashMap::<String, String>::new())
        .exempt_path("/healthz")
        .exempt_path("/public/*")
        .exempt_method(Method::OPTIONS);
    let server = start(layer).await;
    let addr = server.addr;
    for (path, status) in [
        ("/healthz", 200),
        ("/healthz/", 401),
        ("/healthzx", 401),
        ("/public/a/b", 200),
        ("/public", 401),
        ("/public/../secret", 401),
        ("/public/%2e%2e/secret", 401),
        ("/secret", 401),
    ] {
        assert_eq!(get(addr, path, &[]).await.status, status, "{path}");
    }
    let res = support::curl(&["-X", "OPTIONS", &server.url("/secret")]).await;
    assert_eq!(res.status, 200);
}

#[tokio::test]
async fn adding_a_user_to_the_file_takes_effect_without_restart() {
    let dir = temp_dir();
    let file = dir.path().join("users");
    let f = file.to_str().unwrap().to_owned();
    htpasswd(&["-cbB", "-C", "4", &f, "ada", "first"]);
    let store = Htpasswd::watch_with(&file, &fast_reload()).unwrap();
    let server = start(layer(store)).await;
    let addr = server.addr;
    assert_eq!(curl(addr, "/", Some("bob:second")).await.status, 401);

    htpasswd(&["-bB", "-C", "4", &f, "bob", "second"]);
    assert!(
        eventually(async || curl(addr, "/", Some("bob:second")).await.status == 200).await,
        "new user not picked up"
    );
    assert_eq!(curl(addr, "/", Some("ada:first")).await.status, 200);

    // A changed password invalidates the cached verification.
    htpasswd(&["-bB", "-C", "4", &f, "ada", "changed"]);
    assert!(eventually(async || curl(addr, "/", Some("ada:first")).await.status == 401).await);
    assert_eq!(curl(addr, "/", Some("ada:changed")).await.status, 200);

    // A broken file is refused and the previous users stay.
    std::fs::write(&file, "this is not an htpasswd file\n").unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(curl(addr, "/", Some("bob:second")).await.status, 200);
}

#[tokio::test]
async fn corrupt_and_non_ascii_hash_lines_never_panic() {
    // RUSTSEC-2026-0199: bcrypt 0.19.0-0.19.1 panicked on non-ASCII hash strings.
    let corrupt = [
        "$2y$05$ÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿ",
        "$2y$05$uTfWMJiUNPsIRCnP9QkYye1Ge.D3ulcAUNEwl.FUpa6e4FX4XNé",
        "$2b$99$uTfWMJiUNPsIRCnP9QkYye1Ge.D3ulcAUNEwl.FUpa6e4FX4XNk.W",
        "$2y$",
        "$argon2id$v=19$m=19456,t=2,p=1$ñ$ñ",
        "$argon2id$v=19$m=4294967295,t=4294967295,p=1$c2FsdHNhbHQ$aGFzaA",
        "$apr1$é$é",
        "{SHA}é",
        "$",
        "日本語",
    ];
    for hash in corrupt {
        let result = Htpasswd::parse(&format!("ada:{hash}\n"), &HtpasswdOptions::default());
        if let Err(err) = result {
            assert!(err.to_string().starts_with("htpasswd line 1:"), "{err}");
        }
    }
    // Through the layer, from a store that does not validate: 401, and the server lives on.
    let users: HashMap<String, String> = corrupt
        .iter()
        .enumerate()
        .map(|(i, h)| (format!("u{i}"), h.to_string()))
        .collect();
    let server = start(layer(users).allow_legacy_hashes(true)).await;
    let addr = server.addr;
    for i in 0..corrupt.len() {
        let res = get(
            addr,
            "/",
            &[("authorization", &basic(format!("u{i}:pw").as_bytes()))],
        )
        .await;
        assert_eq!(res.status, 401, "u{i}");
    }
}

#[tokio::test]
async fn flood_of_wrong_passwords_does_not_stall_a_cached_user() {
    let dir = temp_dir();
    let file = dir.path().join("users");
    let f = file.to_str().unwrap();
    // Cost 9: each wrong guess keeps the single verification thread busy for a while.
    htpasswd(&["-cbB", "-C", "9", f, "ada", "right"]);
    htpasswd(&["-bB", "-C", "9", f, "mallory", "unknown-to-her"]);
    let layer = layer(Htpasswd::watch(&file).unwrap())
        .max_concurrent_verifications(1)
        .max_queued_verifications(8);
    let server = start(layer).await;
    let addr = server.addr;
    let good = basic(b"ada:right");
    assert_eq!(
        get(addr, "/", &[("authorization", &good)]).await.status,
        200,
        "warm the cache"
    );

    let flood: Vec<_> = (0..200)
        .map(|i| {
            tokio::spawn(async move {
                let bad = basic(format!("mallory:guess{i}").as_bytes());
                get(addr, "/", &[("authorization", &bad)]).await
            })
        })
        .collect();
    let good_user = tokio::spawn(async move {
        let mut statuses = Vec::new();
        for _ in 0..20 {
            let res = get(addr, "/", &[("authorization", &basic(b"ada:right"))]).await;
            statuses.push(res.status);
        }
        statuses
    });
    let statuses = tokio::time::timeout(2 * TEST_TIMEOUT, good_user)
        .await
        .expect("cached user stalled behind the flood")
        .unwrap();
    assert!(statuses.iter().all(|&s| s == 200), "{statuses:?}");
    let unfinished = flood.iter().filter(|h| !h.is_finished()).count();

    let mut rejected = 0;
    let mut busy = 0;
    for handle in flood {
        let res = tokio::time::timeout(4 * TEST_TIMEOUT, handle)
            .await
            .expect("flood request hung")
            .unwrap();
        match res.status.as_u16() {
            401 => rejected += 1,
            503 => {
                assert_eq!(res.headers["retry-after"], "1");
                busy += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(rejected + busy, 200);
    assert!(busy > 0, "the bounded queue answered 503 to some");
    println!("cached user done while {unfinished} flood requests were still open; {rejected} x 401, {busy} x 503");
}

#[tokio::test]
async fn per_peer_failure_limit_answers_429() {
    let users = HashMap::from([(
        "ada".to_string(),
        hash_password_with("secret", &CHEAP).unwrap(),
    )]);
    let server = start(layer(users).max_failures_per_peer(3, Duration::from_secs(60))).await;
    let addr = server.addr;
    for _ in 0..3 {
        let res = get(addr, "/", &[("authorization", &basic(b"ada:nope"))]).await;
        assert_eq!(res.status, 401);
    }
    let res = get(addr, "/", &[("authorization", &basic(b"ada:secret"))]).await;
    assert_eq!(res.status, 429);
    let wait: u64 = res.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait));
}

#[tokio::test]
async fn missing_header_is_not_counted_as_a_failure() {
    let users = HashMap::from([(
        "ada".to_string(),
        hash_password_with("secret", &CHEAP).unwrap(),
    )]);
    let server = start(layer(users).max_failures_per_peer(1, Duration::from_secs(60))).await;
    let addr = server.addr;
    for _ in 0..3 {
        assert_eq!(get(addr, "/", &[]).await.status, 401);
    }
    let res = get(addr, "/", &[("authorization", &basic(b"ada:secret"))]).await;
    assert_eq!(res.status, 200);
}

#[tokio::test]
async fn config_builds_a_layer_from_toml() {
    let dir = temp_dir();
    let file = dir.path().join("users");
    htpasswd(&["-cbB", "-C", "4", file.to_str().unwrap(), "ada", "secret"]);
    let text = format!(
        "realm = \"from toml\"\nhtpasswd = {:?}\nforward_user_header = \"X-User\"\nexempt_methods = [\"OPTIONS\"]\n",
        file.to_str().unwrap()
    );
    let config: tollgate::auth::BasicAuthConfig = toml::from_str(&text).unwrap();
    let server = start(BasicAuthLayer::from_config(&config).unwrap()).await;
    let addr = server.addr;
    let res = get(addr, "/", &[]).await;
    assert_eq!(
        res.header("www-authenticate"),
        Some("Basic realm=\"from toml\", charset=\"UTF-8\"")
    );
    assert_eq!(curl(addr, "/", Some("ada:secret")).await.status, 200);

    let bad: Result<tollgate::auth::BasicAuthConfig, _> =
        toml::from_str("realm = \"x\"\ntypo = 1\n");
    assert!(bad.is_err(), "unknown fields are refused");
    let no_file = tollgate::auth::BasicAuthConfig::default();
    let err = BasicAuthLayer::from_config(&no_file)
        .unwrap_err()
        .to_string();
    assert!(err.contains("htpasswd"), "{err}");
}

#[test]
fn shared_store_type_checks() {
    fn takes(_: impl CredentialStore) {}
    takes(Arc::new(HashMap::<String, String>::new()));
}

/// The built `examples/basic_auth` binary next to this test's, when `cargo test` built it.
fn example_binary() -> Option<std::path::PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let profile_dir = exe.parent()?.parent()?;
    let path = profile_dir.join("examples").join("basic_auth");
    path.exists().then_some(path)
}

#[tokio::test]
async fn flask_httpauth_example_answers_hello_david() {
    let Some(binary) = example_binary() else {
        eprintln!("skipped: examples/basic_auth not built (run the whole `cargo test`)");
        return;
    };
    let example = Launch::program(binary, ["--bind", "127.0.0.1:0"])
        .serve()
        .await;
    let addr = example.socket_addr();

    let res = curl(addr, "/secure", Some("David:4bYaDZCFsTY4")).await;
    assert_eq!(
        (res.status.as_u16(), res.text().as_ref()),
        (200, "Hello, David!")
    );
    for creds in [Some("David:wrong"), None] {
        let res = match creds {
            Some(c) => get(addr, "/secure", &[("authorization", &basic(c.as_bytes()))]).await,
            None => get(addr, "/secure", &[]).await,
        };
        assert_eq!(res.status, 401, "{creds:?}");
        assert!(res.text().contains("Unauthorized Access"));
        assert_eq!(
            res.header("www-authenticate"),
            Some("Basic realm=\"Authentication Required\", charset=\"UTF-8\"")
        );
    }
    example.stop().await;
}

/// `tollgate ARGS` with `stdin`, run to its end.
async fn tollgate(args: &[&str], stdin: &[u8]) -> std::process::Output {
    Launch::tollgate(args).stdin(stdin).output().await
}

#[tokio::test]
async fn tollgate_hash_makes_a_line_the_layer_accepts() {
    let out = tollgate(
        &["hash", "--params", "m=1024,t=1,p=1", "Zoë"],
        "pässwörd\n".as_bytes(),
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8(out.stdout).unwrap();
    assert!(
        line.starts_with("Zoë:$argon2id$v=19$m=1024,t=1,p=1$"),
        "{line}"
    );

    let dir = temp_dir();
    let file = dir.path().join("users");
    std::fs::write(&file, &line).unwrap();
    let server = start(layer(Htpasswd::watch(&file).unwrap())).await;
    let addr = server.addr;
    assert_eq!(curl(addr, "/", Some("Zoë:pässwörd")).await.status, 200);

    let shown = tollgate(&["hash", "--params"], b"").await;
    assert!(String::from_utf8_lossy(&shown.stdout).contains("m=19456,t=2,p=1"));
    for (args, stdin) in [
        (&["hash", "ada"][..], &b"\n"[..]),
        (&["hash", "a:b"][..], &b"pw\n"[..]),
    ] {
        let out = tollgate(args, stdin).await;
        assert_eq!(out.status.code(), Some(1), "{args:?}");
    }
}

#[tokio::test]
async fn check_htpasswd_reports_schemes_and_survives_corrupt_lines() {
    let dir = temp_dir();
    let file = dir.path().join("users");
    let f = file.to_str().unwrap();
    htpasswd(&["-cbB", "-C", "4", f, "ada", "pw"]);
    htpasswd(&["-bm", f, "bob", "pw"]);
    let good = tollgate(&["check-htpasswd", f], b"").await;
    assert_eq!(good.status.code(), Some(1), "apr1 is refused by default");
    let text = String::from_utf8_lossy(&good.stdout);
    assert!(text.contains("line 1: ada: bcrypt"), "{text}");
    assert!(
        text.contains("htpasswd line 2: weak legacy hash scheme `apr1`"),
        "{text}"
    );
    let allowed = tollgate(&["check-htpasswd", "--allow-legacy-hashes", f], b"").await;
    assert!(
        allowed.status.success(),
        "{}",
        String::from_utf8_lossy(&allowed.stdout)
    );

    // RUSTSEC-2026-0199-style lines: non-ASCII and corrupt hashes, a non-UTF-8 line.
    let mut bytes = std::fs::read(&file).unwrap();
    bytes.extend_from_slice(
        "eve:$2y$05$ÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿ\n".as_bytes(),
    );
    bytes.extend_from_slice("mal:$argon2id$v=19$m=ñ\n".as_bytes());
    bytes.extend_from_slice(b"raw:\xff\xfe\x80\n");
    std::fs::write(&file, bytes).unwrap();
    let bad = tollgate(&["check-htpasswd", f], b"").await;
    assert_eq!(bad.status.code(), Some(1), "an error exit, not a panic");
    let text = String::from_utf8_lossy(&bad.stdout);
    for expected in [
        "line 3: malformed bcrypt",
        "line 4: malformed argon2id",
        "line 5: not UTF-8",
    ] {
        assert!(text.contains(expected), "{expected}: {text}");
    }
    let missing = tollgate(&["check-htpasswd", "/nonexistent/users"], b"").await;
    assert_eq!(missing.status.code(), Some(1));
}

/// A store whose dummy hash (computed on the blocking pool) records how many run at once.
struct SlowStore {
    now: std::sync::atomic::AtomicUsize,
    max: std::sync::atomic::AtomicUsize,
}

impl CredentialStore for SlowStore {
    fn lookup(&self, _user: &str) -> Option<Arc<str>> {
        None
    }
    fn dummy_hash(&self) -> Arc<str> {
        use std::sync::atomic::Ordering::SeqCst;
        let now = self.now.fetch_add(1, SeqCst) + 1;
        self.max.fetch_max(now, SeqCst);
        std::thread::sleep(Duration::from_millis(100));
        self.now.fetch_sub(1, SeqCst);
        Arc::from("plain")
    }
}

#[tokio::test]
async fn abandoned_requests_do_not_exceed_the_verification_pool() {
    use tower::{Layer, ServiceExt};
    let store = Arc::new(SlowStore {
        now: 0.into(),
        max: 0.into(),
    });
    let svc = layer(store.clone())
        .max_concurrent_verifications(2)
        .max_queued_verifications(100)
        .layer(tower::service_fn(echo));
    for i in 0..12 {
        let req = http::Request::get("/")
            .header("authorization", basic(format!("u{i}:pw").as_bytes()))
            .body(tollgate::Body::empty())
            .unwrap();
        // The client gives up almost at once; the hash it started goes on.
        let _ = tokio::time::timeout(Duration::from_millis(5), svc.clone().oneshot(req)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let max = store.max.load(std::sync::atomic::Ordering::SeqCst);
    assert!((1..=2).contains(&max), "{max} verifications ran at once");
}

/// The admitted user travels on the answer too, so the access log names who was let in
/// whatever service answered (echo and static files do not copy request extensions).
#[tokio::test]
async fn admitted_user_is_on_the_answer_verified_or_cached() {
    use tollgate::ext::AuthenticatedUser;
    use tower::{Layer, ServiceExt};
    let users = HashMap::from([(
        "ada".to_string(),
        hash_password_with("secret", &CHEAP).unwrap(),
    )]);
    let svc = layer(users).layer(tollgate::echo::EchoService::new());
    for round in ["verified", "cached"] {
        let req = tollgate::Request::get("/")
            .basic_auth("ada", "secret")
            .build()
            .unwrap();
        let res = svc.clone().oneshot(req).await.unwrap();
        assert_eq!(res.status(), 200, "{round}");
        let user = res.extensions().get::<AuthenticatedUser>();
        assert_eq!(user.map(AuthenticatedUser::name), Some("ada"), "{round}");
    }
    let req = tollgate::Request::get("/").build().unwrap();
    let res = svc.clone().oneshot(req).await.unwrap();
    assert!(res.extensions().get::<AuthenticatedUser>().is_none());
}
