use super::*;
use crate::ext::{ClientInfo, ConnectionTls, MountPrefix, PeerAddr};
use http::StatusCode;

fn req(builder: RequestBuilder) -> Request {
    Request::from_http(builder.build().unwrap())
}

#[test]
fn path_is_decoded_and_raw_path_is_not() {
    let r = req(Request::get("/a%20b/%C3%A9?x=1"));
    assert_eq!(r.path(), "/a b/é");
    assert_eq!(r.raw_path(), "/a%20b/%C3%A9");
    assert_eq!(r.query_string(), Some("x=1"));
}

#[test]
fn invalid_utf8_in_path_is_replaced_or_refused() {
    let r = req(Request::get("/%FF"));
    assert_eq!(r.path(), "/\u{FFFD}");
    assert_eq!(r.try_path().unwrap_err().status(), StatusCode::BAD_REQUEST);
}

#[test]
fn invalid_percent_encoding_is_kept_as_written() {
    let r = req(Request::get("/100%zz?a=%"));
    assert_eq!(r.path(), "/100%zz");
    assert_eq!(r.args().unwrap().get("a"), Some("%"));
}

#[test]
fn args_are_parsed_once_and_bounded() {
    // 30 000 pairs in 60 KB: near the longest target `http::Uri` holds (64 KiB).
    let query = "a&".repeat(30_000);
    let r = req(Request::get(&format!("/?{query}")));
    let err: HttpError = r.args().unwrap_err().into();
    assert_eq!(err.status(), StatusCode::BAD_REQUEST);
    assert!(err.message().contains("1000"), "{}", err.message());
}

#[test]
fn a_query_string_near_the_uri_limit_is_read() {
    // A 1 MB target cannot even be an `http::Uri` (hyper answers 414 before any service runs;
    // tests/serve.rs checks that over TCP); `MultiMap` itself reads 1 MB (its own tests).
    let r = req(Request::get(&format!("/?big={}", "x".repeat(60_000))));
    assert_eq!(r.args().unwrap().get("big").map(str::len), Some(60_000));
}

#[test]
fn invalid_utf8_query_is_a_400() {
    let r = req(Request::get("/?a=%C3%28"));
    let err: HttpError = r.args().unwrap_err().into();
    assert_eq!(err.status(), StatusCode::BAD_REQUEST);
}

#[test]
fn headers_and_cookies() {
    let r = req(Request::get("/")
        .header("x-a", "1")
        .header("x-a", "2")
        .header("cookie", "a=1; broken; b=2")
        .header("cookie", "c=3"));
    assert_eq!(r.header("x-a"), Some("1"));
    assert_eq!(r.header_all("x-a").collect::<Vec<_>>(), ["1", "2"]);
    assert_eq!(r.cookie("b"), Some("2"));
    assert_eq!(r.cookie("c"), Some("3"));
    assert_eq!(r.cookies().len(), 3);
}

#[test]
fn non_ascii_header_values_are_none_not_a_panic() {
    let value = http::HeaderValue::from_bytes(b"caf\xe9").unwrap();
    let r = req(Request::get("/").header("x-name", value));
    assert_eq!(r.header("x-name"), None);
}

#[test]
fn content_type_and_length() {
    let r = req(Request::post("/")
        .header("content-type", "text/plain; charset=ISO-8859-1")
        .header("content-length", "12"));
    assert_eq!(r.content_type().unwrap().essence_str(), "text/plain");
    assert_eq!(r.charset().as_deref(), Some("iso-8859-1"));
    assert_eq!(r.content_length(), Some(12));
    let r = req(Request::post("/").header("content-length", "+12"));
    assert_eq!(r.content_length(), None);
}

#[test]
fn host_scheme_and_url() {
    let r = req(Request::get("/p?q=1").header("host", "Example.com:8080"));
    assert_eq!(r.host(), Some("Example.com"));
    assert_eq!(r.port(), Some(8080));
    assert_eq!(r.scheme(), "http");
    assert_eq!(r.url(), "http://Example.com:8080/p?q=1");

    let r = req(Request::get("/p")
        .header("host", "[::1]:9")
        .extension(ConnectionTls(true)));
    assert_eq!(r.host(), Some("[::1]"));
    assert!(r.is_secure());
    assert_eq!(r.url(), "https://[::1]:9/p");

    let r = req(Request::get("https://h2.example/x"));
    assert_eq!(r.host(), Some("h2.example"));
    assert_eq!(r.scheme(), "https");
}

#[test]
fn forwarded_info_and_mounts_shape_the_url() {
    let info = ClientInfo {
        addr: Some("203.0.113.9".parse().unwrap()),
        scheme: Some("https".into()),
        host: Some("public.example".into()),
        prefix: Some("/app".into()),
        ..ClientInfo::default()
    };
    let r = req(Request::get("/users/7")
        .header("host", "internal:9000")
        .extension(info)
        .extension(MountPrefix("/api".into()))
        .extension(PeerAddr("10.0.0.2:5555".parse().unwrap())));
    assert_eq!(r.url(), "https://public.example/app/api/users/7");
    assert_eq!(r.script_name(), "/app/api");
    assert_eq!(r.peer_addr(), Some("10.0.0.2:5555".parse().unwrap()));
    assert_eq!(r.client_addr(), Some("203.0.113.9".parse().unwrap()));
}

#[test]
fn malformed_host_is_none() {
    for bad in ["a b", "x:port", "[::1", "", "h:99999"] {
        let r = req(Request::get("/").header("host", bad));
        assert_eq!(r.host(), None, "{bad:?}");
    }
}

#[tokio::test]
async fn body_is_read_once_and_cached() {
    let mut r = Request::from_http(Request::post("/").body("hello").unwrap());
    assert_eq!(r.bytes(10).await.unwrap(), "hello");
    assert_eq!(r.text(10).await.unwrap(), "hello");
    assert_eq!(
        r.bytes(3).await.unwrap_err().status(),
        StatusCode::PAYLOAD_TOO_LARGE
    );
}

#[tokio::test]
async fn body_over_the_limit_is_a_413() {
    let mut r = Request::from_http(Request::post("/").body(vec![b'x'; 2048]).unwrap());
    let err = r.bytes(1024).await.unwrap_err();
    assert_eq!(err.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(err.message().contains("1024"));
}

#[tokio::test]
async fn text_decodes_charsets() {
    let mut r = Request::from_http(
        Request::post("/")
            .header("content-type", "text/plain; charset=iso-8859-1")
            .body(&b"caf\xe9"[..])
            .unwrap(),
    );
    assert_eq!(r.text(100).await.unwrap(), "café");
    let mut r = Request::from_http(Request::post("/").body(&b"\xff\xfe"[..]).unwrap());
    assert_eq!(
        r.text(100).await.unwrap_err().status(),
        StatusCode::BAD_REQUEST
    );
    let mut r = Request::from_http(
        Request::post("/")
            .header("content-type", "text/plain; charset=koi8-r")
            .body("x")
            .unwrap(),
    );
    assert_eq!(
        r.text(100).await.unwrap_err().status(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
}

#[tokio::test]
async fn json_checks_type_and_reports_position() {
    #[derive(serde::Deserialize, Debug)]
    struct T {
        #[allow(dead_code)]
        a: u8,
    }
    let mut r = Request::from_http(Request::post("/").body("{}").unwrap());
    assert_eq!(
        r.json::<T>(100).await.unwrap_err().status(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );

    let mut r = Request::from_http(
        Request::post("/")
            .header("content-type", "application/json")
            .body("{\n \"a\": oops}")
            .unwrap(),
    );
    let err = r.json::<T>(100).await.unwrap_err();
    assert_eq!(err.status(), StatusCode::BAD_REQUEST);
    assert!(err.message().contains("line 2"), "{}", err.message());

    let mut r = Request::from_http(
        Request::post("/")
            .json(&serde_json::json!({"a": 7}))
            .build()
            .unwrap(),
    );
    assert_eq!(r.json::<T>(100).await.unwrap().a, 7);
    let mut r = Request::from_http(
        Request::post("/")
            .header("content-type", "application/problem+json")
            .body(r#"{"a":1}"#)
            .unwrap(),
    );
    assert!(r.json::<T>(100).await.is_ok());
}

#[tokio::test]
async fn form_needs_urlencoded() {
    let mut r = Request::from_http(
        Request::post("/")
            .form(&[("k", "v"), ("k", "w")])
            .build()
            .unwrap(),
    );
    let form = r.form(100).await.unwrap();
    assert_eq!(form.get_all("k").collect::<Vec<_>>(), ["v", "w"]);

    let mut r = Request::from_http(
        Request::post("/")
            .header("content-type", "text/plain")
            .body("k=v")
            .unwrap(),
    );
    assert_eq!(
        r.form(100).await.unwrap_err().status(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    let mut r = Request::from_http(
        Request::post("/")
            .header("content-type", "multipart/form-data; boundary=x")
            .body("")
            .unwrap(),
    );
    let err = r.form(100).await.unwrap_err();
    assert_eq!(err.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(err.message().contains("form_data"));

    let body = "a=1&".repeat(5000);
    let mut r = Request::from_http(Request::post("/").form(&()).body(body).unwrap());
    // form(&()) sets the content type; the body replaced after it is the hostile one.
    assert_eq!(
        r.form(1 << 20).await.unwrap_err().status(),
        StatusCode::BAD_REQUEST
    );
}

#[test]
fn builder_reports_errors_at_build() {
    assert!(Request::get("/").header("bad name", "x").build().is_err());
    assert!(Request::get("/").header("x", "a\nb").build().is_err());
    assert!(Request::get("not a uri").build().is_err());
}

#[test]
fn debug_hides_headers() {
    let r = req(Request::get("/").basic_auth("ada", "secret"));
    let shown = format!("{r:?}");
    assert!(
        !shown.contains("secret") && !shown.contains("Basic"),
        "{shown}"
    );
}

#[test]
fn basic_auth_reads_the_header_and_refuses_garbage() {
    let r = req(Request::get("/"));
    assert!(r.basic_auth().is_none());
    let r = req(Request::get("/").basic_auth("Jürgen", "pä:ss"));
    let c = r.basic_auth().unwrap().unwrap();
    assert_eq!(
        (c.username.as_str(), c.password.as_str()),
        ("Jürgen", "pä:ss")
    );
    for bad in [
        "Basic",
        "Basic !!!",
        "Basic dXNlcg==",
        "Bearer abc",
        "Basic AP8=",
    ] {
        let r = req(Request::get("/").header("authorization", bad));
        let err: HttpError = r.basic_auth().unwrap().unwrap_err().into();
        assert_eq!(err.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    let huge = format!("Basic {}", "A".repeat(100_000));
    let r = req(Request::get("/").header("authorization", huge));
    assert!(r.basic_auth().unwrap().is_err());
}
