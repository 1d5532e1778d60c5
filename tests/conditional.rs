//! `Response::conditional` behind a handler, over TCP with curl and a Rust client.

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use support::{curl, start, TestServer};
use tollgate::response::{CacheControl, ETag};
use tollgate::{handler, Request, Response};

/// 1 000 bytes of `abc…zab…`.
fn document() -> String {
    (0..1000u32)
        .map(|i| (b'a' + (i % 26) as u8) as char)
        .collect()
}

fn modified() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

async fn serve_document() -> TestServer {
    start(handler::from_fn(|req: Request| async move {
        let version = req.args().ok().and_then(|a| a.get("v").map(str::to_owned));
        let tag = version.unwrap_or_else(|| "v1".to_owned());
        Response::text(document())
            .with_etag(ETag::strong(tag).expect("plain tag"))
            .with_last_modified(modified())
            .cache_control(
                CacheControl::new()
                    .private()
                    .max_age(Duration::from_secs(60)),
            )
            .vary(http::header::ACCEPT_LANGUAGE)
            .conditional(&req)
    }))
    .await
}

#[tokio::test]
async fn plain_get_advertises_ranges() {
    let server = serve_document().await;
    let res = server.get("/", &[]).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.header("etag"), Some("\"v1\""));
    assert_eq!(
        res.header("last-modified"),
        Some("Tue, 14 Nov 2023 22:13:20 GMT")
    );
    assert_eq!(res.header("cache-control"), Some("private, max-age=60"));
    assert_eq!(res.header("vary"), Some("accept-language"));
    assert_eq!(res.header("accept-ranges"), Some("bytes"));
    assert_eq!(res.text(), document());
}

#[tokio::test]
async fn curl_ranges() {
    let server = serve_document().await;
    let url = server.url("/");
    let res = curl(&["-r", "0-99", &url]).await;
    assert_eq!(res.status, 206);
    assert_eq!(res.header("content-range"), Some("bytes 0-99/1000"));
    assert_eq!(res.text(), &document()[..100]);

    let res = curl(&["-r", "0-9,20-29", &url]).await;
    assert_eq!(res.status, 206);
    let ct = res.header("content-type").expect("content-type");
    let boundary = ct
        .strip_prefix("multipart/byteranges; boundary=")
        .expect("multipart");
    let doc = document();
    assert_eq!(
        res.text(),
        format!(
            "--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 0-9/1000\r\n\r\n{}\
             \r\n--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 20-29/1000\r\n\r\n{}\
             \r\n--{boundary}--\r\n",
            &doc[..10],
            &doc[20..30]
        )
    );

    let res = curl(&["-r", "5000-", &url]).await;
    assert_eq!(res.status, 416);
    assert_eq!(res.header("content-range"), Some("bytes */1000"));
}

#[tokio::test]
async fn curl_if_modified_since() {
    let server = serve_document().await;
    let url = server.url("/");
    let res = curl(&["-z", "Tue, 14 Nov 2023 22:13:20 GMT", &url]).await;
    assert_eq!(res.status, 304, "{res:?}");
    // RFC 9110 §15.4.5: the validators and caching headers stay, the content headers go.
    assert_eq!(res.header("etag"), Some("\"v1\""));
    assert_eq!(res.header("cache-control"), Some("private, max-age=60"));
    assert_eq!(res.header("vary"), Some("accept-language"));
    assert_eq!(res.header("content-type"), None);
    assert_eq!(res.text(), "");
    let res = curl(&["-z", "Tue, 14 Nov 2023 22:13:19 GMT", &url]).await;
    assert_eq!(res.status, 200);
}

#[tokio::test]
async fn if_none_match_round_trip() {
    let server = serve_document().await;
    let first = server.get("/", &[]).await;
    let etag = first.header("etag").unwrap().to_owned();
    let second = server.get("/", &[("if-none-match", &etag)]).await;
    assert_eq!(second.status, 304);
    assert!(second.body.is_empty());
    // Weak comparison for GET.
    let weak = server
        .get("/", &[("if-none-match", "W/\"v0\", W/\"v1\"")])
        .await;
    assert_eq!(weak.status, 304);
    // The representation changed: a full answer with the new tag.
    let changed = server.get("/?v=v2", &[("if-none-match", &etag)]).await;
    assert_eq!(changed.status, 200);
    assert_eq!(changed.header("etag"), Some("\"v2\""));
    // With curl, too.
    let res = curl(&["-H", &format!("If-None-Match: {etag}"), &server.url("/")]).await;
    assert_eq!(res.status, 304);
}

#[tokio::test]
async fn if_match_and_if_range() {
    let server = serve_document().await;
    let res = server.send("PUT", "/", &[("if-match", "\"v0\"")]).await;
    assert_eq!(res.status, 412);
    let res = server.send("PUT", "/", &[("if-match", "\"v1\"")]).await;
    assert_eq!(res.status, 200);
    let res = server.send("PUT", "/", &[("if-none-match", "*")]).await;
    assert_eq!(res.status, 412);
    let res = server
        .get("/", &[("range", "bytes=0-1"), ("if-range", "\"v1\"")])
        .await;
    assert_eq!((res.status.as_u16(), res.text().as_ref()), (206, "ab"));
    let res = server
        .get("/", &[("range", "bytes=0-1"), ("if-range", "\"old\"")])
        .await;
    assert_eq!(res.status, 200);
    let res = server
        .get(
            "/",
            &[
                ("range", "bytes=0-1"),
                ("if-range", "Tue, 14 Nov 2023 22:13:20 GMT"),
            ],
        )
        .await;
    assert_eq!(res.status, 206);
}

#[tokio::test]
async fn head_and_many_ranges() {
    let server = serve_document().await;
    let res = server.send("HEAD", "/", &[]).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.header("content-length"), Some("1000"));
    assert_eq!(res.header("etag"), Some("\"v1\""));
    assert!(res.body.is_empty());
    let header = format!(
        "bytes={}",
        (0..10_000)
            .map(|i| format!("{}-{}", i % 1000, i % 1000))
            .collect::<Vec<_>>()
            .join(",")
    );
    let res = server.get("/", &[("range", &header)]).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.body.len(), 1000);
}
