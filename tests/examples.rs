//! Each example's service on `127.0.0.1:0`, checked with a real client over TCP.
//!
//! The examples are included as modules, so the test serves exactly the code the example runs.

mod support;

use std::time::Duration;

use http::StatusCode;
use http_body_util::BodyExt;
use support::{curl, get, start};
use tollgate::{handler, Body, Request};

#[allow(dead_code)]
#[path = "../examples/timeapp_raw.rs"]
mod timeapp_raw;

#[allow(dead_code)]
#[path = "../examples/timeapp.rs"]
mod timeapp;

#[allow(dead_code)]
#[path = "../examples/echo_env.rs"]
mod echo_env;

#[allow(dead_code)]
#[path = "../examples/greeting.rs"]
mod greeting;

#[allow(dead_code)]
#[path = "../examples/json_form.rs"]
mod json_form;

#[allow(dead_code)]
#[path = "../examples/redirect_abort.rs"]
mod redirect_abort;

fn assert_time(text: &str) {
    let date = text
        .strip_prefix("The current time is ")
        .and_then(|rest| rest.strip_suffix('\n'))
        .unwrap_or_else(|| panic!("{text:?}"));
    httpdate::parse_http_date(date).expect("an HTTP date");
}

#[tokio::test]
async fn timeapp_raw_tells_the_time() {
    let server = start(timeapp_raw::TimeApp).await;
    let res = get(&server.url("/")).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(
        res.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_time(&res.text());
    let post = curl(&["-X", "POST", &server.url("/")]).await;
    assert_eq!(post.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(post.header("allow"), Some("GET, HEAD"));
}

#[tokio::test]
async fn timeapp_tells_the_time() {
    let server = start(handler::from_fn(timeapp::timeapp)).await;
    let res = get(&server.url("/")).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res
        .header("content-type")
        .unwrap()
        .starts_with("text/plain"));
    assert_time(&res.text());
    let post = curl(&["-X", "POST", &server.url("/")]).await;
    assert_eq!(post.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(post.header("allow").unwrap().contains("GET"));
}

#[tokio::test]
async fn echo_env_dumps_the_request() {
    let server = start(handler::from_fn(echo_env::echo_env)).await;
    let res = curl(&[
        &server.url("/some/p%C3%A4th?a=1&a=2&b"),
        "-H",
        "X-Custom: yes",
        "-A",
        "test-agent",
    ])
    .await;
    assert_eq!(res.status, StatusCode::OK);
    let text = res.text();
    for expected in [
        "REQUEST_METHOD = GET\n",
        "REQUEST_URI = /some/p%C3%A4th?a=1&a=2&b\n",
        "PATH_INFO = /some/päth\n",
        "QUERY_STRING = a=1&a=2&b\n",
        "SERVER_PROTOCOL = HTTP/1.1\n",
        "REMOTE_ADDR = 127.0.0.1\n",
        "REMOTE_PORT = ",
        "HTTP_X_CUSTOM = yes\n",
        "HTTP_USER_AGENT = test-agent\n",
        &format!("HTTP_HOST = {}\n", server.addr),
        "\nquery pairs:\na = 1\na = 2\nb = \n",
    ] {
        assert!(text.contains(expected), "{expected:?} missing from\n{text}");
    }
}

#[tokio::test]
async fn greeting_greets_in_french() {
    let server = start(handler::from_fn(greeting::greeting)).await;
    let res = curl(&[&server.url("/greeting?lang=fr"), "-H", "X-Student: Ada"]).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.text(), "<p>Bonjour Ada!</p>");
    assert_eq!(res.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(res.header("x-greeting-lang"), Some("fr"));
}

#[tokio::test]
async fn greeting_escapes_the_student() {
    let server = start(handler::from_fn(greeting::greeting)).await;
    let res = curl(&[&server.url("/greeting"), "-H", "X-Student: <b>Bob</b>"]).await;
    assert_eq!(res.text(), "<p>Hello &lt;b&gt;Bob&lt;/b&gt;!</p>");
}

#[tokio::test]
async fn greeting_refuses_an_unknown_language_clearly() {
    let server = start(handler::from_fn(greeting::greeting)).await;
    let res = curl(&[
        &server.url("/greeting?lang=xx"),
        "-H",
        "Accept: application/json",
    ])
    .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    let error = res.json();
    assert_eq!(error["status"], 400);
    let message = error["error"].as_str().unwrap();
    assert!(
        message.contains("unknown lang `xx`") && message.contains("fr"),
        "{message}"
    );
}

#[tokio::test]
async fn json_form_answers_query_pairs() {
    let server = start(handler::from_fn(json_form::json_form)).await;
    let res = get(&server.url("/?name=Ada&tag=a&tag=b")).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.header("content-type"), Some("application/json"));
    assert_eq!(
        res.json(),
        serde_json::json!({"name": "Ada", "tag": ["a", "b"], "server": json_form::SERVER})
    );
}

#[tokio::test]
async fn json_form_answers_form_pairs() {
    let server = start(handler::from_fn(json_form::json_form)).await;
    let url = server.url("/");
    for method in ["POST", "PUT"] {
        let res = curl(&["-X", method, &url, "-d", "name=Ada", "-d", "server=spoofed"]).await;
        assert_eq!(res.status, StatusCode::OK, "{method}");
        assert_eq!(
            res.json(),
            serde_json::json!({"name": "Ada", "server": json_form::SERVER})
        );
    }
    let json = curl(&[&url, "-H", "Content-Type: application/json", "-d", "{}"]).await;
    assert_eq!(json.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let delete = curl(&["-X", "DELETE", &url]).await;
    assert_eq!(delete.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn redirect_abort_redirects_and_404s() {
    let server = start(handler::from_fn(redirect_abort::redirect_abort)).await;
    let old = curl(&[&server.url("/old")]).await;
    assert_eq!(old.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(old.header("location"), Some("/new"));
    let followed = curl(&["-L", &server.url("/old")]).await;
    assert_eq!(followed.status, StatusCode::OK);
    assert_eq!(followed.text(), "This is the new page.\n");
    let missing = curl(&[&server.url("/missing")]).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
}

#[tokio::test]
async fn redirect_abort_streams_all_ten_lines() {
    let service =
        handler::from_fn(|req: Request| redirect_abort::app(req, Duration::from_millis(1)));
    let server = start(service).await;
    let res = curl(&[&server.url("/stream")]).await;
    assert_eq!(res.header("transfer-encoding"), Some("chunked"));
    let expected: String = (1..=10).map(|n| format!("line {n} of 10\n")).collect();
    assert_eq!(res.text(), expected);
}

#[tokio::test]
async fn redirect_abort_sends_the_first_line_before_the_last_is_made() {
    // An hour between lines: the first line can only arrive within the test timeout if it is
    // sent as soon as it is produced, long before the last one exists.
    let service =
        handler::from_fn(|req: Request| redirect_abort::app(req, Duration::from_secs(3600)));
    let server = start(service).await;
    let req = http::Request::get(server.url("/stream"))
        .body(Body::empty())
        .unwrap();
    let client = support::client();
    let res = tokio::time::timeout(support::TEST_TIMEOUT, client.request(req))
        .await
        .expect("the head arrives")
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let mut body = res.into_body();
    let frame = tokio::time::timeout(support::TEST_TIMEOUT, body.frame())
        .await
        .expect("the first line arrives long before the last is produced")
        .expect("a frame")
        .unwrap();
    assert_eq!(frame.into_data().unwrap(), "line 1 of 10\n");
}
