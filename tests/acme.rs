//! Automatic HTTPS against a real ACME server: Debian's `pebble` on loopback. `tollgate proxy
//! --domain` (challenges always valid, `PEBBLE_VA_ALWAYS_VALID=1`) obtains a certificate,
//! serves it (curl trusts pebble's root: 200 with Basic auth), keeps it in the state directory
//! owner-only, reuses it after a restart with the CA down (no new order), renews it live, and
//! its plain listener redirects to https with a 308. `tollgate run` with `tls = { acme }` is
//! validated for real (HTTP-01 through `pebble-challtestsrv`'s DNS), beside a file certificate
//! chosen by SNI, with its metrics; `tollgate check` says what is wrong with ACME settings.
#![cfg(feature = "acme")]

mod support;

use std::net::SocketAddr;
use std::path::Path;

use support::*;

const NAME: &str = "app.tollgate.test";
/// The name of a certificate file served beside the ACME one.
const FILES_NAME: &str = "files.tollgate.test";

fn args<'a>(pebble: &'a Pebble, state: &'a Path, users: &'a Path) -> Vec<&'a str> {
    vec![
        "proxy",
        "--users",
        users.to_str().unwrap(),
        "--domain",
        NAME,
        "--acme-directory",
        &pebble.directory,
        "--acme-ca",
        pebble.tls_ca.to_str().unwrap(),
        "--state-dir",
        state.to_str().unwrap(),
        "--http-bind",
        "127.0.0.1:0",
    ]
}

/// The `https://` address the gateway announced (the plain listener announces first).
async fn https_addr(gw: &Gateway) -> String {
    let mut found = None;
    eventually(async || {
        found = gw
            .serving()
            .iter()
            .find_map(|l| l.strip_prefix("Serving on https://").map(str::to_owned));
        found.is_some()
    })
    .await;
    found.unwrap_or_else(|| panic!("no https listener: {:?}\n{}", gw.serving(), gw.log()))
}

async fn get_as_alice(root: &Path, addr: &str) -> Fetched {
    let port = addr.rsplit_once(':').unwrap().1;
    curl(&[
        "--cacert",
        root.to_str().unwrap(),
        "--resolve",
        &format!("{NAME}:{port}:127.0.0.1"),
        "-u",
        "alice:pw-alice",
        &format!("https://{NAME}:{port}/hello?x=1"),
    ])
    .await
}

#[tokio::test]
async fn obtains_serves_and_reuses_a_certificate_without_a_new_order() {
    let dir = temp_dir();
    let pebble = Pebble::start(dir.path()).await;
    let users = htpasswd_file(dir.path(), "alice", "pw-alice");
    let state = dir.path().join("state");
    let gw = Gateway::start(&args(&pebble, &state, &users)).await;
    let addr = https_addr(&gw).await;
    let root = pebble.root(&dir.path().join("pebble-root.pem")).await;
    let res = get_as_alice(&root, &addr).await;
    assert_eq!(res.status, 200, "{res:?}");
    assert!(
        gw.log().contains("obtained a new ACME certificate"),
        "{}",
        gw.log()
    );

    // The plain listener: a 308 to the same path and query on https.
    let plain = curl(&["-H", &format!("Host: {NAME}"), &gw.url("/a/b?c=d")]).await;
    assert_eq!(plain.status, 308);
    assert_eq!(
        plain.header("location"),
        Some(format!("https://{NAME}/a/b?c=d").as_str())
    );

    // Owner-only state.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&state), 0o700);
        assert_eq!(mode(&state.join(NAME).join("key.pem")), 0o600);
    }
    gw.stop().await;

    // The CA is down: a restart serves the stored certificate, placing no order.
    pebble.stop().await;
    let restart = args_with_dead_ca(&state, &users);
    let gw = Gateway::start(&restart.iter().map(String::as_str).collect::<Vec<_>>()).await;
    let addr = https_addr(&gw).await;
    assert_eq!(get_as_alice(&root, &addr).await.status, 200);
    let log = gw.stop().await;
    assert!(log.contains("reusing the stored ACME certificate"), "{log}");
    assert!(!log.contains("obtained a new ACME certificate"), "{log}");
}

/// The same settings with pebble gone (its directory URL no longer answers).
fn args_with_dead_ca(state: &Path, users: &Path) -> Vec<String> {
    vec![
        "proxy".into(),
        "--users".into(),
        users.to_str().unwrap().into(),
        "--domain".into(),
        NAME.into(),
        "--acme-directory".into(),
        format!("https://{}/dir", dead_port()),
        "--state-dir".into(),
        state.to_str().unwrap().into(),
        "--http-bind".into(),
        "127.0.0.1:0".into(),
    ]
}

#[tokio::test]
async fn ip_addresses_and_bad_emails_are_refused_with_what_to_do() {
    let out = start_failure(&[
        "proxy",
        "--bind",
        "127.0.0.1:0",
        "--domain",
        "10.0.0.1",
        "--acme-email",
        "nobody",
        "--state-dir",
        "/tmp/never-created-by-tollgate",
        "--http-bind",
        "127.0.0.1:0",
    ])
    .await;
    assert!(out.contains("is an IP address"), "{out}");
    assert!(out.contains("not an address like"), "{out}");
}

async fn ask(
    sender: &mut hyper::client::conn::http1::SendRequest<http_body_util::Empty<bytes::Bytes>>,
) -> http::StatusCode {
    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD.encode("alice:pw-alice");
    let req = http::Request::get("/kept")
        .header("host", NAME)
        .header("authorization", format!("Basic {basic}"))
        .body(http_body_util::Empty::new())
        .unwrap();
    sender.send_request(req).await.unwrap().status()
}

/// pebble issues 30-second certificates: the renewal (at two thirds, ~20 s) is swapped in for
/// new connections while a kept-alive one goes on; with pebble down at the next renewal, the
/// failure is logged and the current certificate still served.
#[tokio::test]
async fn renews_live_and_keeps_serving_when_the_ca_is_down() {
    let dir = temp_dir();
    let pebble = Pebble::start_with_validity(dir.path(), Some(30)).await;
    let users = htpasswd_file(dir.path(), "alice", "pw-alice");
    let state = dir.path().join("state");
    let gw = Gateway::start(&args(&pebble, &state, &users)).await;
    let addr = https_addr(&gw).await;
    let root = pebble.root(&dir.path().join("pebble-root.pem")).await;
    let (first, mut kept) = tls_connect(&root, &addr, NAME).await;
    assert_eq!(ask(&mut kept).await, 200);

    gw.wait_for_log("ACME certificate renewed", 1).await;
    // Each worker's listener swaps within a file check: new connections get the new one.
    let mut renewed = None;
    let swapped = eventually(async || {
        let (shown, sender) = tls_connect(&root, &addr, NAME).await;
        let new = shown != first;
        renewed = Some((shown, sender));
        new
    })
    .await;
    assert!(swapped, "no new certificate served:\n{}", gw.log());
    let (second, mut fresh) = renewed.unwrap();
    assert_eq!(ask(&mut fresh).await, 200);
    assert_eq!(
        ask(&mut kept).await,
        200,
        "the kept-alive connection goes on"
    );

    pebble.stop().await;
    gw.wait_for_log("ACME renewal failed", 1).await;
    let (third, mut after) = tls_connect(&root, &addr, NAME).await;
    assert_eq!(third, second, "the current certificate is still served");
    assert_eq!(ask(&mut after).await, 200);
    let log = gw.stop().await;
    assert!(
        log.contains("cannot be reached"),
        "the log says what failed: {log}"
    );
}

/// A `tollgate run` file with `tls = { acme = { ... } }` beside `certs` (a file pair for
/// `FILES_NAME`, `(cert, key)`), its own plain listener and an admin listener on `admin`.
fn acme_file(
    pebble: &Pebble,
    (state, users): (&Path, &Path),
    (cert, key): &(String, String),
    (http, admin): (SocketAddr, SocketAddr),
) -> String {
    format!(
        r#"[admin]
bind = "{admin}"

[[listen]]
bind = "127.0.0.1:0"
tls = {{ certs = [{{ cert = "{cert}", key = "{key}" }}], acme = {} }}

[auth]
htpasswd = "{}"

[[routes]]
echo = true
"#,
        acme_table(pebble, state, &http.to_string()),
        users.display()
    )
}

/// `{ domains = [NAME], ... }` for `pebble`, keeping state in `state`.
fn acme_table(pebble: &Pebble, state: &Path, http_bind: &str) -> String {
    format!(
        r#"{{ domains = ["{NAME}"], directory = "{}", ca = "{}", state_dir = "{}", http_bind = "{http_bind}" }}"#,
        pebble.directory,
        pebble.tls_ca.display(),
        state.display(),
    )
}

#[tokio::test]
async fn a_run_file_serves_an_acme_certificate_beside_a_file_one() {
    let dir = temp_dir();
    // Real validation: pebble asks the plain listener for the HTTP-01 answer.
    let (http, admin) = (dead_port(), dead_port());
    let pebble = Pebble::start_validating(dir.path(), http.port(), dead_port().port()).await;
    let users = htpasswd_file(dir.path(), "alice", "pw-alice");
    let state = dir.path().join("state");
    let files = self_signed_pair(dir.path(), FILES_NAME);
    let toml = acme_file(&pebble, (&state, &users), &files, (http, admin));
    let (ok, out) = check(dir.path(), "check.toml", &toml).await;
    assert!(ok, "tollgate check accepts the ACME listener: {out}");
    let gw = Gateway::run_file(dir.path(), &toml, &[]).await;
    let addr = https_addr(&gw).await;
    let root = pebble.root(&dir.path().join("pebble-root.pem")).await;
    let res = get_as_alice(&root, &addr).await;
    assert_eq!(res.status, 200, "{res:?}\n{}", gw.log());
    let plain = curl(&["-H", &format!("Host: {NAME}"), &gw.url("/a?b")]).await;
    assert_eq!(plain.status, 308, "the plain listener announced first");
    // The file certificate beside, for its own name (SNI).
    let port = addr.rsplit_once(':').unwrap().1;
    let beside = curl(&[
        "--cacert",
        &files.0,
        "--resolve",
        &format!("{FILES_NAME}:{port}:127.0.0.1"),
        "-u",
        "alice:pw-alice",
        &format!("https://{FILES_NAME}:{port}/"),
    ])
    .await;
    assert_eq!(beside.status, 200, "{beside:?}");
    gw.wait_serving(admin).await;
    let metrics = curl(&[&format!("http://{admin}/metrics")]).await;
    let text = metrics.text();
    let line = format!("tollgate_certificate_expiry_seconds{{name=\"{NAME}\"}} ");
    let seconds: i64 = text
        .lines()
        .find_map(|l| l.strip_prefix(&line))
        .unwrap_or_else(|| panic!("no {line}in\n{text}"))
        .parse()
        .unwrap();
    assert!(
        seconds > 86_400,
        "pebble's certificates last days: {seconds}"
    );
    assert!(
        text.contains("tollgate_acme_renewal_failures_total 0\n"),
        "{text}"
    );
    let log = gw.stop().await;
    assert!(log.contains("obtained a new ACME certificate"), "{log}");
}

#[tokio::test]
async fn check_says_what_is_wrong_with_acme_settings() {
    let dir = temp_dir();
    std::fs::write(dir.path().join("a-file"), "").unwrap();
    let toml = format!(
        r#"[[listen]]
bind = "127.0.0.1:0"
tls = {{ acme = {{ domains = ["10.0.0.1"], state_dir = "{}", store = "memcached://10.0.0.1" }} }}

[[listen]]
bind = "127.0.0.1:0"
tls = {{ key = "key.pem", acme = {{ domains = ["{NAME}"], email = "ops@example.com", state_dir = "{}" }} }}

[[listen]]
bind = "127.0.0.1:0"
tls = {{ client_ca = "ca.pem" }}

[[routes]]
echo = true
"#,
        dir.path().join("a-file/acme").display(),
        dir.path().join("state").display(),
    );
    let (ok, out) = check(dir.path(), "bad.toml", &toml).await;
    assert!(!ok, "{out}");
    for expected in [
        "is an IP address",
        "Let's Encrypt needs a contact address",
        "is not a directory; set `state_dir`",
        "`cert` is missing: `cert` and `key` go together",
        "a `tls` table needs a certificate",
        "ACME store `memcached://10.0.0.1` is neither `memory` nor a Redis URL",
    ] {
        assert!(out.contains(expected), "{expected:?} missing from:\n{out}");
    }
    assert!(!dir.path().join("state").exists(), "check creates nothing");
}

/// `tollgate check` on `text` written to `dir/name`.
async fn check(dir: &Path, name: &str, text: &str) -> (bool, String) {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    run_to_end(&["check", path.to_str().unwrap()]).await
}

/// No plain listener (`http_bind = ""`): TLS-ALPN-01 on the TLS listener's port, validated for
/// real by pebble: by a responder on that port at start, then (30-second certificates, renewed
/// at about 20 s) by the serving listener itself.
#[tokio::test]
async fn tls_alpn_01_on_the_tls_port_validated_for_real() {
    let dir = temp_dir();
    let bind = dead_port();
    let ports = (dead_port().port(), bind.port());
    let pebble = Pebble::start_validating_with_validity(dir.path(), ports, 30).await;
    let state = dir.path().join("state");
    let toml = format!(
        r#"[[listen]]
bind = "{bind}"
tls = {{ acme = {} }}

[[routes]]
echo = true
"#,
        acme_table(&pebble, &state, ""),
    );
    let gw = Gateway::run_file(dir.path(), &toml, &[]).await;
    let root = pebble.root(&dir.path().join("pebble-root.pem")).await;
    let res = curl(&[
        "--cacert",
        root.to_str().unwrap(),
        "--resolve",
        &format!("{NAME}:{}:127.0.0.1", bind.port()),
        &format!("https://{NAME}:{}/", bind.port()),
    ])
    .await;
    assert_eq!(res.status, 200, "{res:?}\n{}", gw.log());
    // The renewal's challenge is answered by the listener that serves.
    gw.wait_for_log("ACME certificate renewed", 1).await;
    let log = gw.stop().await;
    assert_eq!(
        log.matches("obtained a new ACME certificate").count(),
        2,
        "{log}"
    );
    assert!(!log.contains("ACME renewal failed"), "{log}");
}

/// `tollgate proxy --domain NAME --http-bind ''`: no plain listener, TLS-ALPN-01 on --bind,
/// validated for real by pebble; the certificate is served to NAME only (another name gets a
/// TLS alert); `--print-config` gives the same settings as a file `tollgate check` accepts.
#[tokio::test]
async fn proxy_domain_without_port_80_proves_the_name_on_the_tls_port() {
    let dir = temp_dir();
    let bind = dead_port();
    let pebble =
        Pebble::start_validating_with_validity(dir.path(), (dead_port().port(), bind.port()), YEAR)
            .await;
    let (state, users) = (
        dir.path().join("state"),
        htpasswd_file(dir.path(), "alice", "pw-alice"),
    );
    let bind = bind.to_string();
    let mut flags = args(&pebble, &state, &users);
    let at = flags.iter().position(|a| *a == "--http-bind").unwrap() + 1;
    flags[at] = "";
    flags.extend(["--bind", &bind]);

    let printed = Launch::tollgate(flags.iter().copied().chain(["--print-config"]))
        .output()
        .await;
    let printed = String::from_utf8(printed.stdout).unwrap();
    assert!(printed.contains(r#"http_bind = """#), "{printed}");
    let (ok, out) = check(dir.path(), "printed.toml", &printed).await;
    assert!(ok, "{out}\n{printed}");

    let gw = Gateway::start(&flags).await;
    let root = pebble.root(&dir.path().join("pebble-root.pem")).await;
    let res = get_as_alice(&root, &https_addr(&gw).await).await;
    assert_eq!(res.status, 200, "{res:?}\n{}", gw.log());
    let port = bind.rsplit_once(':').unwrap().1;
    let (resolve, url) = (
        format!("other.tollgate.test:{port}:127.0.0.1"),
        format!("https://other.tollgate.test:{port}/"),
    );
    let refused = curl_error(&["-k", "--resolve", &resolve, &url]).await;
    assert!(
        refused.contains("alert") || refused.contains("handshake"),
        "a TLS alert for a name that is not a --domain: {refused}"
    );
    let log = gw.stop().await;
    assert_eq!(
        log.matches("obtained a new ACME certificate").count(),
        1,
        "{log}"
    );
    assert!(
        !log.contains("Serving on http://"),
        "no plain listener: {log}"
    );
}

/// A Redis, and pebble validating HTTP-01 for real through the port `http` (the plain
/// listener of one replica).
struct Replicas {
    dir: tempfile::TempDir,
    redis: Redis,
    http: SocketAddr,
    pebble: Pebble,
    users: std::path::PathBuf,
}

impl Replicas {
    /// Pebble issuing certificates valid for `seconds`.
    async fn start(seconds: u64) -> Replicas {
        let dir = temp_dir();
        let redis = Redis::start().await;
        let http = dead_port();
        let ports = (http.port(), dead_port().port());
        let pebble = Pebble::start_validating_with_validity(dir.path(), ports, seconds).await;
        let users = htpasswd_file(dir.path(), "alice", "pw-alice");
        Replicas {
            dir,
            redis,
            http,
            pebble,
            users,
        }
    }

    /// The arguments of `tollgate proxy --domain name` keeping its state in `state`, sharing
    /// the Redis, its plain listener on the port pebble validates through when `reached`.
    fn args(&self, state: &str, reached: bool, name: &str) -> Vec<String> {
        let state = self.dir.path().join(state);
        let mut args: Vec<String> = args(&self.pebble, &state, &self.users)
            .into_iter()
            .map(str::to_owned)
            .collect();
        let at = |flag: &str| args.iter().position(|a| a == flag).unwrap() + 1;
        let (http, domain) = (at("--http-bind"), at("--domain"));
        if reached {
            args[http] = self.http.to_string();
        }
        args[domain] = name.to_owned();
        args.extend(["--acme-store".to_owned(), self.redis.url()]);
        args
    }

    async fn root(&self) -> std::path::PathBuf {
        let path = self.dir.path().join("pebble-root.pem");
        self.pebble.root(&path).await
    }
}

/// A validity long enough that no renewal comes during a test.
const YEAR: u64 = 365 * 86_400;

async fn start_replica(args: &[String]) -> Gateway {
    Gateway::start(&args.iter().map(String::as_str).collect::<Vec<_>>()).await
}

/// Two replicas sharing a Redis, started together, pebble validating HTTP-01 for real on the
/// plain listener of the second only: one order (one "obtained" across both logs, the other
/// reuses it), both serve the very same certificate, and the lock and answers are gone from
/// Redis afterwards.
#[tokio::test]
async fn two_replicas_sharing_redis_place_one_order_and_serve_one_certificate() {
    let mut set = Replicas::start(YEAR).await;
    let (a, b) = (set.args("a", false, NAME), set.args("b", true, NAME));
    let (a, b) = tokio::join!(start_replica(&a), start_replica(&b));
    let (addr_a, addr_b) = (https_addr(&a).await, https_addr(&b).await);
    let root = set.root().await;
    for addr in [&addr_a, &addr_b] {
        let res = get_as_alice(&root, addr).await;
        assert_eq!(res.status, 200, "{res:?}\n{}\n{}", a.log(), b.log());
    }
    let (shown_a, _) = tls_connect(&root, &addr_a, NAME).await;
    let (shown_b, _) = tls_connect(&root, &addr_b, NAME).await;
    assert_eq!(shown_a, shown_b, "both replicas serve the same certificate");
    let keys = set.redis.keys().await;
    assert!(
        keys.iter()
            .any(|k| k.ends_with(&format!("}}:{NAME}/cert.pem"))),
        "{keys:?}"
    );
    assert!(
        !keys
            .iter()
            .any(|k| k.ends_with("/lock") || k.contains(":challenge:")),
        "the lock is released and the answers withdrawn: {keys:?}"
    );
    let (log_a, log_b) = (a.stop().await, b.stop().await);
    let orders = |log: &str| log.matches("obtained a new ACME certificate").count();
    assert_eq!(
        orders(&log_a) + orders(&log_b),
        1,
        "one order:\n{log_a}\n{log_b}"
    );
    let reused = |log: &str| log.contains("reusing the stored ACME certificate");
    assert!(reused(&log_a) || reused(&log_b), "{log_a}\n{log_b}");

    // Redis down: a replica with a current certificate in its state directory serves it; one
    // without refuses to start, saying what is wrong.
    set.redis.stop();
    let a = start_replica(&set.args("a", false, NAME)).await;
    assert_eq!(get_as_alice(&root, &https_addr(&a).await).await.status, 200);
    let log = a.stop().await;
    assert!(log.contains("state directory meanwhile"), "{log}");
    let c = set.args("c", false, NAME);
    let out = start_failure(&c.iter().map(String::as_str).collect::<Vec<_>>()).await;
    assert!(out.contains("cannot be used"), "{out}");
}

/// The replica the CA reaches answers the HTTP-01 challenge of an order another replica
/// placed: B (its plain listener is the one pebble validates through) runs first, for
/// another name; then A, whose plain listener pebble never reaches, orders NAME and is
/// validated through B, which finds A's answer in Redis.
#[tokio::test]
async fn the_replica_the_ca_reaches_answers_for_the_one_that_ordered() {
    let set = Replicas::start(YEAR).await;
    let b = start_replica(&set.args("b", true, FILES_NAME)).await;
    https_addr(&b).await;
    let a = start_replica(&set.args("a", false, NAME)).await;
    let addr = https_addr(&a).await;
    let res = get_as_alice(&set.root().await, &addr).await;
    assert_eq!(res.status, 200, "{res:?}\n{}\n{}", a.log(), b.log());
    let log = a.stop().await;
    assert!(log.contains("obtained a new ACME certificate"), "{log}");
}

/// 30-second certificates: both replicas come to the renewal time together (the jitter is
/// fixed per certificate), one orders, the other waits for it and swaps the new certificate
/// in: two orders in all (the first and one renewal), the same new certificate served by both.
#[tokio::test]
async fn one_replica_renews_and_the_other_swaps_its_certificate_in() {
    let set = Replicas::start(30).await;
    // B first: pebble validates through its plain listener.
    let b = start_replica(&set.args("b", true, NAME)).await;
    let addr_b = https_addr(&b).await;
    let a = start_replica(&set.args("a", false, NAME)).await;
    let addr_a = https_addr(&a).await;
    let root = set.root().await;
    let (first, _) = tls_connect(&root, &addr_a, NAME).await;
    a.wait_for_log("ACME certificate renewed", 1).await;
    b.wait_for_log("ACME certificate renewed", 1).await;
    let mut shown = (Vec::new(), Vec::new());
    let swapped = eventually(async || {
        shown = (
            tls_connect(&root, &addr_a, NAME).await.0,
            tls_connect(&root, &addr_b, NAME).await.0,
        );
        shown.0 != first && shown.0 == shown.1
    })
    .await;
    let (log_a, log_b) = (a.stop().await, b.stop().await);
    assert!(swapped, "not the same new certificate:\n{log_a}\n{log_b}");
    let orders = |log: &str| log.matches("obtained a new ACME certificate").count();
    assert_eq!(
        orders(&log_a) + orders(&log_b),
        2,
        "the first order and one renewal:\n{log_a}\n{log_b}"
    );
}

/// A peer holds the order lock (set by the test, as `SET NX PX` would, for 4 s, never
/// released): the replica waits, saying so, then takes the expired lock and orders.
#[tokio::test]
async fn a_replica_waits_while_a_peer_holds_the_order_lock() {
    use sha2::Digest as _;
    let set = Replicas::start(YEAR).await;
    let digest = sha2::Sha256::digest(set.pebble.directory.as_bytes());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    let lock = format!("tollgate:acme:{{{hex}}}:{NAME}/lock");
    let held = set
        .redis
        .command(&["SET", &lock, "a-peer", "NX", "PX", "4000"])
        .await;
    assert_eq!(held.as_deref(), Some("+OK\r\n"));
    let b = start_replica(&set.args("b", true, NAME)).await;
    b.wait_for_log(
        "another replica is ordering the certificate; waiting for it",
        1,
    )
    .await;
    let addr = https_addr(&b).await;
    let res = get_as_alice(&set.root().await, &addr).await;
    assert_eq!(res.status, 200, "{res:?}\n{}", b.log());
    let log = b.stop().await;
    assert!(log.contains("obtained a new ACME certificate"), "{log}");
}
