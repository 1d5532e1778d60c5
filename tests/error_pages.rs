//! Error pages replaced by the application: `[errors]` in the gateway's file, through the
//! real binary, still negotiated by `Accept`.

mod support;

use support::*;

#[tokio::test]
async fn the_gateway_serves_its_own_error_pages() {
    let dir = temp_dir();
    let page = dir.path().join("404.html");
    std::fs::write(&page, "<h1>{status} {reason}</h1><p>{message}</p>\n").unwrap();
    let toml = format!(
        "[[listen]]\nbind = \"127.0.0.1:0\"\n\n[errors]\n404 = \"{}\"\n\n[[routes]]\npath = \"/echo\"\necho = true\n",
        page.display()
    );
    let gw = Gateway::run_file(dir.path(), &toml, &[]).await;
    let html = get(&gw.url("/nowhere")).await;
    assert_eq!(html.status, 404);
    assert!(
        html.text().starts_with("<h1>404 Not Found</h1><p>"),
        "{}",
        html.text()
    );
    assert_eq!(
        html.header("content-length"),
        Some(html.body.len().to_string().as_str())
    );
    let json = send(
        "GET",
        &gw.url("/nowhere"),
        &[("accept", "application/json")],
    )
    .await;
    assert_eq!(json.status, 404);
    assert_eq!(json.header("content-type"), Some("application/json"));
    assert_eq!(get(&gw.url("/echo")).await.status, 200);
}

#[tokio::test]
async fn a_status_that_is_not_an_error_is_refused_at_its_key() {
    let dir = temp_dir();
    let toml = "[[listen]]\nbind = \"127.0.0.1:0\"\n\n[errors]\n200 = \"ok.html\"\n\n[[routes]]\necho = true\n";
    let file = dir.path().join("gateway.toml");
    std::fs::write(&file, toml).unwrap();
    let (ok, out) = run_to_end(&["check", file.to_str().unwrap()]).await;
    assert!(!ok);
    assert!(out.contains("errors.200"), "{out}");
    assert!(out.contains("use 400 to 599"), "{out}");
}
