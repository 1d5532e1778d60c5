//! `tollgate run FILE` as a child process: reload on SIGHUP without dropping a connection, a bad
//! reload logged and refused, metrics scraped after known traffic, health, the example file.

mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use http::Request;
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use support::{
    dead_port, eventually, full, send, temp_dir, upstream, Gateway, Launch, Upstream, TEST_TIMEOUT,
};
use tollgate::Body;

/// `tollgate --log info run FILE`, ready once its first listener serves.
async fn start(file: &Path) -> Gateway {
    Launch::tollgate(["--log", "info", "run"])
        .arg(file)
        .serve()
        .await
}

async fn named(name: &'static str) -> Upstream {
    upstream(move |_req| async move { http::Response::new(full(name)) }).await
}

/// `(status, body)` of a GET on a fresh connection, with optional Basic credentials.
async fn get(addr: SocketAddr, path: &str, auth: Option<&str>) -> (u16, String) {
    let headers: Vec<(&str, &str)> = auth.map(|a| ("authorization", a)).into_iter().collect();
    let res = send("GET", &format!("http://{addr}{path}"), &headers).await;
    (res.status.as_u16(), res.text().into_owned())
}

fn config(listen: SocketAddr, server: &str, extra: &str) -> String {
    format!(
        r#"
[[listen]]
bind = "{listen}"

[upstreams.app]
servers = ["{server}"]

[[routes]]
upstream = "app"
{extra}
"#
    )
}

#[tokio::test]
async fn sighup_reloads_without_dropping_a_connection() {
    let (one, two) = (named("one").await, named("two").await);
    let listen = dead_port();
    let tmp = temp_dir();
    let dir = tmp.path();
    let file = dir.join("tollgate.toml");
    std::fs::write(&file, config(listen, &one.url(), "")).unwrap();
    let gateway = start(&file).await;
    gateway.wait_serving(listen).await;

    // One keep-alive connection, used before and after each reload.
    let stream = support::connect(listen).await;
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    let conn = tokio::spawn(conn);
    let mut ask = async || {
        let req = Request::get("/")
            .header("host", listen.to_string())
            .body(Body::empty())
            .unwrap();
        let res = tokio::time::timeout(TEST_TIMEOUT, send.send_request(req))
            .await
            .expect("answered in time")
            .expect("the connection is still open");
        let body = res.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8_lossy(&body).into_owned()
    };
    assert_eq!(ask().await, "one");

    // A good config: the same connection now reaches the new upstream.
    std::fs::write(&file, config(listen, &two.url(), "")).unwrap();
    gateway.signal("HUP");
    gateway.wait_for_log("configuration reloaded", 1).await;
    assert_eq!(ask().await, "two");

    // A bad one: logged, refused, the running one stays.
    std::fs::write(&file, config(listen, &one.url(), "upstreem = \"typo\"")).unwrap();
    gateway.signal("HUP");
    gateway.wait_for_log("reload refused", 1).await;
    let log = gateway.log();
    assert!(log.contains("unknown field `upstreem`"), "{log}");
    assert_eq!(ask().await, "two");
    assert_eq!(get(listen, "/", None).await, (200, "two".to_owned()));

    // A semantic error is refused the same way.
    std::fs::write(
        &file,
        config(listen, &one.url(), "").replace("upstream = \"app\"", "upstream = \"nope\""),
    )
    .unwrap();
    gateway.signal("HUP");
    gateway.wait_for_log("reload refused", 2).await;
    assert!(gateway.log().contains("no upstream group named `nope`"));
    assert_eq!(ask().await, "two");
    assert!(!conn.is_finished(), "the keep-alive connection was dropped");
}

#[tokio::test]
async fn an_in_flight_request_finishes_on_the_configuration_it_started_with() {
    // The old upstream holds its answer until the reload is done.
    let release = Arc::new(tokio::sync::Notify::new());
    let hold = release.clone();
    let slow = upstream(move |_req| {
        let hold = hold.clone();
        async move {
            hold.notified().await;
            http::Response::new(full("old"))
        }
    })
    .await;
    let new = named("new").await;
    let listen = dead_port();
    let tmp = temp_dir();
    let dir = tmp.path();
    let file = dir.join("tollgate.toml");
    std::fs::write(&file, config(listen, &slow.url(), "")).unwrap();
    let gateway = start(&file).await;
    gateway.wait_serving(listen).await;

    let in_flight = tokio::spawn(get(listen, "/", None));
    // Wait (bounded) until the request reached the old upstream.
    assert!(
        eventually(async || slow.connections() > 0).await,
        "the request never reached the upstream"
    );
    std::fs::write(&file, config(listen, &new.url(), "")).unwrap();
    gateway.signal("HUP");
    gateway.wait_for_log("configuration reloaded", 1).await;
    assert_eq!(get(listen, "/", None).await, (200, "new".to_owned()));
    release.notify_one();
    assert_eq!(in_flight.await.unwrap(), (200, "old".to_owned()));
}

#[tokio::test]
async fn a_changed_listener_is_restarted_on_the_same_socket() {
    let one = named("one").await;
    let listen = dead_port();
    let tmp = temp_dir();
    let dir = tmp.path();
    let file = dir.join("tollgate.toml");
    std::fs::write(&file, config(listen, &one.url(), "")).unwrap();
    let gateway = start(&file).await;
    gateway.wait_serving(listen).await;
    let extra_listen = dead_port();
    let changed = config(listen, &one.url(), "").replacen(
        &format!("bind = \"{listen}\""),
        &format!("bind = \"{listen}\"\nmax_headers = 50\n\n[[listen]]\nbind = \"{extra_listen}\""),
        1,
    );
    std::fs::write(&file, changed).unwrap();
    gateway.signal("HUP");
    gateway.wait_for_log("configuration reloaded", 1).await;
    assert_eq!(get(listen, "/", None).await, (200, "one".to_owned()));
    gateway.wait_serving(extra_listen).await;
    assert_eq!(get(extra_listen, "/", None).await, (200, "one".to_owned()));
}

#[tokio::test]
async fn metrics_count_known_traffic() {
    let app = named("app").await;
    let dead = dead_port();
    let (listen, admin) = (dead_port(), dead_port());
    let tmp = temp_dir();
    let dir = tmp.path();
    // ada:secret with cheap argon2 parameters.
    let hash = Launch::tollgate(["hash", "--params", "m=64,t=1,p=1", "ada"])
        .stdin("secret\n")
        .output()
        .await;
    let users = dir.join("users");
    std::fs::write(&users, &hash.stdout).unwrap();
    let file = dir.join("tollgate.toml");
    std::fs::write(
        &file,
        format!(
            r#"
[[listen]]
bind = "{listen}"

[admin]
bind = "{admin}"

[health]
path = "/healthz"

[auth]
realm = "test"
htpasswd = "{}"

[upstreams.app]
servers = ["{}"]

[upstreams.down]
servers = ["http://{dead}"]

[[routes]]
name = "down"
path = "/down"
upstream = "down"

[[routes]]
name = "app"
path = "/app"
upstream = "app"
"#,
            users.display(),
            app.url()
        ),
    )
    .unwrap();
    let gateway = start(&file).await;
    gateway.wait_serving(listen).await;
    gateway.wait_serving(admin).await;

    let ada = "Basic YWRhOnNlY3JldA=="; // ada:secret
    for _ in 0..3 {
        assert_eq!(get(listen, "/app/x", Some(ada)).await.0, 200);
    }
    for _ in 0..2 {
        assert_eq!(get(listen, "/app/x", None).await.0, 401);
    }
    assert_eq!(
        get(listen, "/app/x", Some("Basic YWRhOndyb25n")).await.0,
        401
    ); // ada:wrong
    assert_eq!(get(listen, "/down", Some(ada)).await.0, 502);
    assert_eq!(get(listen, "/nowhere", Some(ada)).await.0, 404);
    // Health is answered before auth and is not counted.
    assert_eq!(
        get(listen, "/healthz", None).await,
        (200, "ok\n".to_owned())
    );
    // Metrics are on the admin listener only.
    assert_eq!(get(listen, "/metrics", Some(ada)).await.0, 404);
    assert_eq!(get(admin, "/healthz", None).await.0, 200);

    let (status, text) = get(admin, "/metrics", None).await;
    assert_eq!(status, 200);
    for line in [
        "tollgate_requests_total{route=\"app\",status=\"200\"} 3".to_owned(),
        "tollgate_requests_total{route=\"app\",status=\"401\"} 3".to_owned(),
        "tollgate_requests_total{route=\"down\",status=\"502\"} 1".to_owned(),
        "tollgate_requests_total{route=\"unmatched\",status=\"404\"} 2".to_owned(),
        format!("tollgate_upstream_errors_total{{upstream=\"http://{dead}\"}} 1"),
        "tollgate_auth_failures_total 3".to_owned(),
        "tollgate_in_flight_requests 0".to_owned(),
        "tollgate_request_duration_seconds_count 9".to_owned(),
        "tollgate_request_duration_seconds_bucket{le=\"+Inf\"} 9".to_owned(),
    ] {
        assert!(
            text.contains(&format!("{line}\n")),
            "{line} missing from:\n{text}"
        );
    }
}

#[tokio::test]
async fn the_example_file_runs() {
    let (one, two, three) = (dead_port(), dead_port(), dead_port());
    let _ = (one, two, three);
    let example = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/tollgate.toml");
    let text = std::fs::read_to_string(&example).unwrap();
    // The example's ports may be taken on this machine: run it on free ones.
    let (public, tls, admin) = (dead_port(), dead_port(), dead_port());
    let text = text
        .replace("127.0.0.1:8080", &public.to_string())
        .replace("127.0.0.1:8443", &tls.to_string())
        .replace("127.0.0.1:9090", &admin.to_string());
    let tmp = temp_dir();
    let dir = tmp.path();
    let file = dir.join("tollgate.toml");
    std::fs::write(&file, text).unwrap();
    let gateway = start(&file).await;
    gateway.wait_serving(public).await;
    gateway.wait_serving(admin).await;
    gateway.wait_serving(tls).await;
    assert_eq!(get(public, "/healthz", None).await.0, 200);
    assert_eq!(get(public, "/echo", None).await.0, 401);
    let (status, body) = get(public, "/echo", Some("Basic YWRhOnNlY3JldA==")).await;
    assert_eq!(status, 200, "{body}");
    let echo: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(echo["user"], "ada");
    let headers = echo["headers"].to_string();
    assert!(headers.contains("x-debug"), "{headers}");
    let (status, _) = get(public, "/old/x", None).await;
    assert_eq!(status, 308);
    let (status, _) = get(admin, "/metrics", None).await;
    assert_eq!(status, 200);
}

/// The certificate a TLS listener presents: the DER of the leaf.
async fn served_certificate(addr: SocketAddr, roots: &[&str]) -> Vec<u8> {
    let connector = support::tls_connector(roots.concat().as_bytes());
    let tcp = support::connect(addr).await;
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tls = tokio::time::timeout(TEST_TIMEOUT, connector.connect(name, tcp))
        .await
        .expect("handshake in time")
        .expect("handshake");
    tls.get_ref().1.peer_certificates().unwrap()[0].to_vec()
}

#[tokio::test]
async fn a_reload_serves_new_certificates_and_refuses_a_mismatched_key() {
    let tmp = temp_dir();
    let dir = tmp.path();
    let make = || {
        let c = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        (
            c.cert.pem(),
            c.signing_key.serialize_pem(),
            c.cert.der().to_vec(),
        )
    };
    let (cert_a, key_a, der_a) = make();
    let (cert_b, key_b, der_b) = make();
    std::fs::write(dir.join("cert.pem"), &cert_a).unwrap();
    std::fs::write(dir.join("key.pem"), &key_a).unwrap();
    let listen = dead_port();
    let file = dir.join("tollgate.toml");
    std::fs::write(
        &file,
        format!(
            "[[listen]]\nbind = \"{listen}\"\ntls = {{ cert = \"{}\", key = \"{}\" }}\n\n[[routes]]\necho = true\n",
            dir.join("cert.pem").display(),
            dir.join("key.pem").display()
        ),
    )
    .unwrap();
    let gateway = start(&file).await;
    gateway.wait_serving(listen).await;
    assert_eq!(served_certificate(listen, &[&cert_a, &cert_b]).await, der_a);

    // A certificate without its key: refused, the old pair stays.
    std::fs::write(dir.join("cert.pem"), &cert_b).unwrap();
    gateway.signal("HUP");
    gateway.wait_for_log("reload refused", 1).await;
    assert!(
        gateway.log().contains("do not fit together"),
        "{}",
        gateway.log()
    );
    assert_eq!(served_certificate(listen, &[&cert_a, &cert_b]).await, der_a);

    // Both files: the listener serves the new certificate on the same socket.
    std::fs::write(dir.join("key.pem"), &key_b).unwrap();
    gateway.signal("HUP");
    gateway.wait_for_log("configuration reloaded", 1).await;
    assert_eq!(served_certificate(listen, &[&cert_a, &cert_b]).await, der_b);
}
