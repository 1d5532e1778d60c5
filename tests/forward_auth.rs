//! Forward auth through the real `tollgate` binary over TCP: a real auth service (hyper on
//! 127.0.0.1:0) decides, a recording upstream shows what got through.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{HeaderMap, Response};
use support::*;

/// The auth service: what it saw, and where it listens.
struct AuthService {
    server: Upstream,
    asked: Arc<Mutex<Vec<HeaderMap>>>,
}

impl AuthService {
    fn url(&self) -> String {
        format!("{}/auth", self.server.url())
    }

    fn asked(&self) -> Vec<HeaderMap> {
        self.asked.lock().unwrap().clone()
    }
}

/// Decides by the request's cookie: `session=alice` / `session=bob` admit with
/// `Remote-User` and `Remote-Groups`; `session=anon` admits naming nobody; `session=login`
/// redirects; `session=broken` fails (500); `session=slow` never answers in time; anything
/// else is a 401 with a challenge and a body.
async fn auth_service() -> AuthService {
    let asked = Arc::new(Mutex::new(Vec::new()));
    let log = asked.clone();
    let server = upstream(move |req| {
        log.lock().unwrap().push(req.headers().clone());
        let cookie = req
            .headers()
            .get("cookie")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        async move {
            let answer = Response::builder();
            let answer = match cookie.as_str() {
                "session=alice" | "session=bob" => answer
                    .status(200)
                    .header("remote-user", &cookie["session=".len()..])
                    .header("remote-groups", "ops,dev")
                    .header("x-auth-internal", "not copied"),
                "session=anon" => answer.status(204),
                "session=login" => answer
                    .status(302)
                    .header("location", "https://login.example/?rd=back")
                    .header("set-cookie", "rd=1; HttpOnly"),
                "session=broken" => answer.status(500),
                "session=slow" => {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    answer.status(200)
                }
                _ => answer
                    .status(401)
                    .header("www-authenticate", "Bearer realm=\"sso\"")
                    .header("content-type", "text/plain"),
            };
            answer.body(full("log in first\n")).unwrap()
        }
    })
    .await;
    AuthService { server, asked }
}

fn cookie(session: &str) -> String {
    format!("Cookie: session={session}")
}

#[tokio::test]
async fn an_admitted_request_carries_the_auth_services_user() {
    let auth = auth_service().await;
    let up = recording_upstream().await;
    let gw = Gateway::start(&[
        "--log-format",
        "json",
        "proxy",
        "--upstream",
        &up.url(),
        "--forward-auth",
        &auth.url(),
    ])
    .await;

    let res = curl(&[
        "-H",
        &cookie("alice"),
        "-H",
        "Authorization: Basic Zm9vOmJhcg==",
        "-X",
        "POST",
        &gw.url("/app/x?y=1"),
    ])
    .await;
    assert_eq!(res.status, 200, "{res:?}");

    // What the auth service was asked.
    let asked = &auth.asked()[0];
    let host = gw.addr.as_str();
    for (name, value) in [
        ("x-forwarded-method", "POST"),
        ("x-forwarded-uri", "/app/x?y=1"),
        ("x-forwarded-host", host),
        ("x-forwarded-proto", "http"),
        ("x-forwarded-for", "127.0.0.1"),
        ("cookie", "session=alice"),
        ("authorization", "Basic Zm9vOmJhcg=="),
    ] {
        assert_eq!(
            asked.get(name).map(|v| v.to_str().unwrap()),
            Some(value),
            "{name}"
        );
    }

    // What the upstream saw: the copied headers, not the others.
    let seen = &up.seen()[0];
    assert_eq!(seen.uri, "/app/x?y=1");
    assert_eq!(seen.headers["remote-user"], "alice");
    assert_eq!(seen.headers["remote-groups"], "ops,dev");
    assert!(seen.headers.get("x-auth-internal").is_none());

    // The user is the access log's.
    gw.wait_for_log("/app/x", 1).await;
    let log = gw.log();
    let line = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|j| j["target"] == "tollgate::access")
        .unwrap_or_else(|| panic!("no access line:\n{log}"));
    assert_eq!(line["fields"]["user"], "alice", "{line}");
}

/// Caddy's GHSA-7r4p-vjf4-gxv4: the auth service admits without naming a user, and the
/// client's own `Remote-User` must not reach the upstream, in any spelling.
#[tokio::test]
async fn a_client_cannot_forge_the_copied_headers() {
    let auth = auth_service().await;
    let up = recording_upstream().await;
    let gw = Gateway::start(&[
        "proxy",
        "--upstream",
        &up.url(),
        "--forward-auth",
        &auth.url(),
        // Let `Remote_User` reach the gateway's layers: the forward auth layer removes it.
        "--allow-underscore-headers",
    ])
    .await;

    for forged in [
        "Remote-User: admin",
        "REMOTE-USER: admin",
        "Remote_User: admin",
    ] {
        let res = curl(&[
            "-H",
            &cookie("anon"),
            "-H",
            forged,
            "-H",
            "remote-groups: admins",
            &gw.url("/"),
        ])
        .await;
        assert_eq!(res.status, 200, "{forged}: {res:?}");
    }
    let seen = up.seen();
    assert_eq!(seen.len(), 3);
    for request in &seen {
        for (name, value) in &request.headers {
            let name = name.as_str().replace('_', "-");
            assert!(
                name != "remote-user" && name != "remote-groups",
                "the upstream saw {name}: {value:?}"
            );
        }
    }

    // Admitted as alice while also claiming to be admin: alice it is, once.
    let res = curl(&[
        "-H",
        &cookie("alice"),
        "-H",
        "Remote-User: admin",
        &gw.url("/"),
    ])
    .await;
    assert_eq!(res.status, 200);
    let last = up.seen().pop().unwrap();
    let users: Vec<_> = last.headers.get_all("remote-user").iter().collect();
    assert_eq!(users, ["alice"]);
}

#[tokio::test]
async fn refusals_go_back_as_they_are_and_failures_never_admit() {
    let auth = auth_service().await;
    let up = recording_upstream().await;
    let gw = Gateway::start(&[
        "proxy",
        "--upstream",
        &up.url(),
        "--forward-auth",
        &auth.url(),
    ])
    .await;

    let denied = curl(&[&gw.url("/private")]).await;
    assert_eq!(denied.status, 401);
    assert_eq!(
        denied.header("www-authenticate"),
        Some("Bearer realm=\"sso\"")
    );
    assert_eq!(denied.text(), "log in first\n");

    let login = curl(&["-H", &cookie("login"), &gw.url("/private")]).await;
    assert_eq!(login.status, 302);
    assert_eq!(
        login.header("location"),
        Some("https://login.example/?rd=back")
    );
    assert_eq!(login.header("set-cookie"), Some("rd=1; HttpOnly"));

    let broken = curl(&["-H", &cookie("broken"), &gw.url("/private")]).await;
    assert_eq!(broken.status, 502);

    assert!(up.seen().is_empty(), "the upstream was reached");
}

#[tokio::test]
async fn an_unreachable_auth_service_is_503_a_slow_one_504() {
    let up = recording_upstream().await;
    // A port nothing listens on: bound, then closed.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nowhere = format!("http://{}/auth", closed.local_addr().unwrap());
    drop(closed);
    let gw = Gateway::start(&["proxy", "--upstream", &up.url(), "--forward-auth", &nowhere]).await;
    let res = curl(&["-H", &cookie("alice"), &gw.url("/")]).await;
    assert_eq!(res.status, 503, "{res:?}");

    let auth = auth_service().await;
    let dir = temp_dir();
    let toml = format!(
        r#"
        [[listen]]
        bind = "127.0.0.1:0"
        [forward_auth]
        url = "{}"
        timeout = "300ms"
        [upstreams.app]
        servers = ["{}"]
        [[routes]]
        upstream = "app"
        "#,
        auth.url(),
        up.url()
    );
    let gw = Gateway::run_file(dir.path(), &toml, &[]).await;
    let res = curl(&["-H", &cookie("slow"), &gw.url("/")]).await;
    assert_eq!(res.status, 504, "{res:?}");
    assert!(up.seen().is_empty(), "the upstream was reached");
}

/// A route with `forward_auth = false` is not asked about; the auth service's user is the
/// user of a route's `allow`.
#[tokio::test]
async fn routes_opt_out_and_allow_lists_see_the_user() {
    let auth = auth_service().await;
    let up = recording_upstream().await;
    let dir = temp_dir();
    let toml = format!(
        r#"
        [[listen]]
        bind = "127.0.0.1:0"
        [forward_auth]
        url = "{}"
        copy_headers = ["Remote-User"]
        user_header = "Remote-User"
        [upstreams.app]
        servers = ["{}"]
        [[routes]]
        path = "/public"
        forward_auth = false
        upstream = "app"
        [[routes]]
        path = "/admin"
        allow = ["alice"]
        upstream = "app"
        [[routes]]
        upstream = "app"
        "#,
        auth.url(),
        up.url()
    );
    let gw = Gateway::run_file(dir.path(), &toml, &[]).await;

    let public = curl(&["-H", "Remote-User: admin", &gw.url("/public/x")]).await;
    assert_eq!(public.status, 200);
    assert!(auth.asked().is_empty(), "the auth service was asked");
    assert!(up.seen()[0].headers.get("remote-user").is_none());

    let alice = curl(&["-H", &cookie("alice"), &gw.url("/admin")]).await;
    assert_eq!(alice.status, 200);
    let bob = curl(&["-H", &cookie("bob"), &gw.url("/admin")]).await;
    assert_eq!(bob.status, 403);
    let anon = curl(&["-H", &cookie("anon"), &gw.url("/admin")]).await;
    assert_eq!(anon.status, 403);
    assert_eq!(curl(&[&gw.url("/other")]).await.status, 401);
    assert_eq!(auth.asked().len(), 4);
}

#[tokio::test]
async fn configuration_errors_name_their_keys() {
    let dir = temp_dir();
    let bad = |body: &str| {
        format!("[[listen]]\nbind = \"127.0.0.1:0\"\n{body}\n[[routes]]\necho = true\n")
    };
    for (body, expected) in [
        ("[forward_auth]\nurl = \"https://auth\"", "forward_auth.url"),
        ("[forward_auth]\nurl = \"/auth\"", "forward_auth.url"),
        (
            "[forward_auth]\nurl = \"http://a\"\ncopy_headers = [\"bad header\"]",
            "forward_auth.copy_headers",
        ),
        (
            "[forward_auth]\nurl = \"http://a\"\ntimeout = 0",
            "forward_auth.timeout",
        ),
    ] {
        let file = dir.path().join("gateway.toml");
        std::fs::write(&file, bad(body)).unwrap();
        let out = Launch::tollgate(["check"]).arg(&file).output().await;
        let text = String::from_utf8_lossy(&out.stderr).into_owned()
            + &String::from_utf8_lossy(&out.stdout);
        assert!(!out.status.success(), "{body}: {text}");
        assert!(text.contains(expected), "{body}: no {expected} in {text}");
    }
}

/// With `cache`, the very same request is not asked about again; any difference in what the
/// auth service would see (credentials, path) is.
#[tokio::test]
async fn admissions_are_cached_per_whole_question() {
    let auth = auth_service().await;
    let up = recording_upstream().await;
    let dir = temp_dir();
    let toml = format!(
        r#"
        [[listen]]
        bind = "127.0.0.1:0"
        [forward_auth]
        url = "{}"
        cache = "1h"
        copy_headers = ["Remote-User"]
        user_header = "Remote-User"
        [upstreams.app]
        servers = ["{}"]
        [[routes]]
        upstream = "app"
        "#,
        auth.url(),
        up.url()
    );
    let gw = Gateway::run_file(dir.path(), &toml, &[]).await;
    for _ in 0..3 {
        let res = curl(&["-H", &cookie("alice"), &gw.url("/a")]).await;
        assert_eq!(res.status, 200);
    }
    assert_eq!(auth.asked().len(), 1);
    assert!(up
        .seen()
        .iter()
        .all(|s| s.headers["remote-user"] == "alice"));

    assert_eq!(
        curl(&["-H", &cookie("bob"), &gw.url("/a")]).await.status,
        200
    );
    assert_eq!(up.seen().last().unwrap().headers["remote-user"], "bob");
    assert_eq!(
        curl(&["-H", &cookie("alice"), &gw.url("/b")]).await.status,
        200
    );
    assert_eq!(auth.asked().len(), 3);

    // Refusals are not kept: each is asked.
    for _ in 0..2 {
        assert_eq!(curl(&[&gw.url("/a")]).await.status, 401);
    }
    assert_eq!(auth.asked().len(), 5);
}
