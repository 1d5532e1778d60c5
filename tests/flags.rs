//! The flags that cover the common cases, through the binary: `--bind` spellings, `tollgate
//! serve 8080`, several `--upstream`, `--listing`, `--legacy-hashes`, and `--print-config`
//! whose file `tollgate run` serves.

mod support;

use support::{
    dead_port, full, htpasswd, run_to_end, send, temp_dir, upstream, Gateway, Launch, Upstream,
};

async fn named(name: &'static str) -> Upstream {
    upstream(move |_req| async move { http::Response::new(full(name)) }).await
}

#[tokio::test]
async fn bind_takes_a_port_a_colon_port_and_a_host_name() {
    let port = dead_port().port().to_string();
    let gw = Gateway::spawn(&["proxy", "--bind", &port]).await;
    assert_eq!(gw.addr, format!("127.0.0.1:{port}"));
    drop(gw.terminate().await);

    let port = dead_port().port().to_string();
    let gw = Gateway::spawn(&["proxy", "--bind", &format!(":{port}")]).await;
    assert_eq!(gw.addr, format!("0.0.0.0:{port}"), "every interface");
    drop(gw.terminate().await);

    let port = dead_port().port().to_string();
    let gw = Gateway::spawn(&["echo", "--bind", &format!("localhost:{port}")]).await;
    assert!(gw.addr.ends_with(&format!(":{port}")), "{}", gw.addr);
    drop(gw.terminate().await);

    let (ok, out) = run_to_end(&["proxy", "--bind", "http://x"]).await;
    assert!(!ok, "{out}");
    assert!(
        out.contains("expected HOST:PORT, :PORT (every interface) or PORT"),
        "{out}"
    );
}

#[tokio::test]
async fn serve_with_a_port_for_a_directory_says_how_to_write_it() {
    let (ok, out) = run_to_end(&["serve", "8080"]).await;
    assert!(!ok, "{out}");
    assert!(out.contains("tollgate serve --bind 8080"), "{out}");
}

#[tokio::test]
async fn several_upstreams_are_balanced() {
    let (one, two) = (named("one").await, named("two").await);
    let gw = Gateway::start(&["proxy", "--upstream", &one.url(), "--upstream", &two.url()]).await;
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..4 {
        seen.insert(
            send("GET", &gw.url("/"), &[] as &[(&str, &str)])
                .await
                .text()
                .into_owned(),
        );
    }
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), ["one", "two"]);
}

#[tokio::test]
async fn listing_lists_served_directories() {
    let tmp = temp_dir();
    std::fs::write(tmp.path().join("hello.txt"), "hi").unwrap();
    let dir = format!("/static={}", tmp.path().display());
    let gw = Gateway::start(&["proxy", "--serve-dir", &dir, "--listing"]).await;
    let res = send("GET", &gw.url("/static/"), &[] as &[(&str, &str)]).await;
    assert_eq!(res.status, 200);
    assert!(res.text().contains("hello.txt"), "{}", res.text());
    let gw = Gateway::start(&["proxy", "--serve-dir", &dir]).await;
    assert_eq!(
        send("GET", &gw.url("/static/"), &[] as &[(&str, &str)])
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn legacy_hashes_are_accepted_only_when_asked() {
    let tmp = temp_dir();
    let users = tmp.path().join("users");
    std::fs::write(&users, htpasswd(&["-nbs", "ada", "secret"])).unwrap();
    let users = users.to_str().unwrap();
    let out = support::start_failure(&["proxy", "--users", users, "--bind", "127.0.0.1:0"]).await;
    assert!(
        out.contains("--legacy-hashes"),
        "the refusal names the flag: {out}"
    );
    let gw = Gateway::start(&["proxy", "--users", users, "--legacy-hashes"]).await;
    let auth = [("authorization", "Basic YWRhOnNlY3JldA==")];
    assert_eq!(send("GET", &gw.url("/"), &auth).await.status, 200);
}

#[tokio::test]
async fn print_config_prints_a_file_tollgate_run_serves() {
    let one = named("one").await;
    let listen = dead_port();
    let out = Launch::tollgate([
        "proxy",
        "--upstream",
        &one.url(),
        "--bind",
        &listen.to_string(),
        "--set-header",
        "X-Gateway=tollgate",
        "--print-config",
    ])
    .output()
    .await;
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("[upstreams.upstream]"), "{text}");
    let tmp = temp_dir();
    let gw = Gateway::run_file(tmp.path(), &text, &[]).await;
    assert_eq!(gw.addr, listen.to_string());
    assert_eq!(
        send("GET", &gw.url("/"), &[] as &[(&str, &str)])
            .await
            .text(),
        "one"
    );
}

#[tokio::test]
async fn the_echo_shows_what_an_upstream_receives_and_max_body_applies_to_it() {
    let gw = Gateway::start(&["proxy", "--max-body", "10"]).await;
    let res = send("GET", &gw.url("/hello?x=1"), &[("host", "public.example")]).await;
    assert_eq!(res.status, 200, "{}", res.text());
    let echo = res.json();
    let headers = echo["headers"].to_string();
    assert!(
        headers.contains(r#"["x-forwarded-for","127.0.0.1"]"#),
        "{headers}"
    );
    assert!(
        headers.contains(r#"["x-forwarded-host","public.example"]"#),
        "{headers}"
    );
    assert!(headers.contains(r#"["via","1.1 tollgate"]"#), "{headers}");
    assert!(
        !headers.contains(r#"["host","public.example"]"#),
        "the upstream sees its own Host: {headers}"
    );
    let big = send("POST", &gw.url("/"), &[("content-length", "100")]).await;
    assert_eq!(big.status, 413, "{}", big.text());
}
