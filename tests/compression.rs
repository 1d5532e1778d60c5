//! `[compression]` at the gateway, over TCP, in front of an upstream that counts its requests:
//! the negotiation table, the answers never compressed, the headers that keep caches right,
//! request bodies decoded with a limit, and the `--compress` flags of the binary.

mod support;

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Response};
use http_body_util::BodyExt;
use support::*;
use tollgate::config::{self, Config};
use tollgate::metrics::Metrics;
use tollgate::Body;

/// 2 000 bytes of JSON: worth compressing.
fn json() -> String {
    let item = r#"{"id":1,"name":"tollgate"},"#;
    let mut text = "[".to_owned();
    while text.len() < 1990 {
        text.push_str(item);
    }
    text.pop();
    text.push(']');
    text
}

/// An upstream with one answer per path, counting every request it gets; `/echo-length`
/// answers with the length of the body it received and its `Content-Encoding`.
async fn counting_upstream() -> (Upstream, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let counter = count.clone();
    let up = upstream(move |req: Request<hyper::body::Incoming>| {
        counter.fetch_add(1, Ordering::SeqCst);
        async move { answer(req).await }
    })
    .await;
    (up, count)
}

async fn answer(req: Request<hyper::body::Incoming>) -> Response<UpBody> {
    let path = req.uri().path().to_owned();
    let range = req.headers().contains_key("range");
    let encoding = req
        .headers()
        .get("content-encoding")
        .map(|v| v.to_str().unwrap().to_owned());
    let accept = req
        .headers()
        .get("accept-encoding")
        .map(|v| v.to_str().unwrap().to_owned());
    let body_len = match req.into_body().collect().await {
        Ok(body) => body.to_bytes().len(),
        Err(_) => usize::MAX,
    };
    let res = Response::builder().header("etag", "\"v1\"");
    let (res, body) = match path.as_str() {
        "/json" if range => (
            res.status(206)
                .header("content-type", "application/json")
                .header("content-range", "bytes 0-9/2000"),
            Bytes::from(json()[..10].to_owned()),
        ),
        "/json" => (
            res.header("content-type", "application/json"),
            json().into(),
        ),
        "/small" => (res.header("content-type", "text/plain"), "tiny".into()),
        "/png" => (res.header("content-type", "image/png"), json().into()),
        "/no-transform" => (
            res.header("content-type", "application/json")
                .header("cache-control", "public, no-transform"),
            json().into(),
        ),
        "/accept" => (
            res.header("content-type", "text/plain"),
            format!("{accept:?}{}", " ".repeat(500)).into(),
        ),
        "/echo-length" => (
            res.header("content-type", "text/plain"),
            format!("{body_len} {encoding:?}").into(),
        ),
        _ => (res.status(404), Bytes::new()),
    };
    res.body(full(body)).unwrap()
}

/// The real gateway (`tollgate::serve` on a socket) with `[compression]` as `table` says.
async fn gateway_with(up: &Upstream, table: &str) -> TestServer {
    let text = format!(
        "[[listen]]\nbind = \"127.0.0.1:0\"\n\n[upstreams.app]\nservers = [\"{}\"]\n\n\
         [[routes]]\nupstream = \"app\"\n\n[compression]\n{table}\n",
        up.url()
    );
    let config: Config = config::load(&text).unwrap();
    start(
        tollgate::gateway::build(&config, &Metrics::new())
            .await
            .unwrap(),
    )
    .await
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(bytes), &mut out).unwrap();
    out
}

#[tokio::test]
async fn negotiation_table() {
    let (up, count) = counting_upstream().await;
    let gw = gateway_with(&up, "").await;
    // (name, Accept-Encoding, expected Content-Encoding or 406)
    type Case<'a> = (&'a str, Option<&'a str>, Result<Option<&'a str>, u16>);
    let cases: &[Case] = &[
        ("no header", None, Ok(None)),
        ("gzip", Some("gzip"), Ok(Some("gzip"))),
        ("tie goes to br", Some("gzip, br, zstd"), Ok(Some("br"))),
        (
            "q-values",
            Some("br;q=0.2, gzip;q=0.9, zstd;q=0.5"),
            Ok(Some("gzip")),
        ),
        ("br refused", Some("br;q=0, gzip"), Ok(Some("gzip"))),
        ("star", Some("*"), Ok(Some("br"))),
        ("star without br", Some("br;q=0, *"), Ok(Some("zstd"))),
        ("unknown coding", Some("compress"), Ok(None)),
        (
            "identity refused, gzip ok",
            Some("gzip, identity;q=0"),
            Ok(Some("gzip")),
        ),
        ("identity refused alone", Some("identity;q=0"), Err(406)),
        ("everything refused", Some("*;q=0"), Err(406)),
        (
            "star refused, identity kept",
            Some("*;q=0, identity"),
            Ok(None),
        ),
    ];
    for (name, accept, expected) in cases {
        let before = count.load(Ordering::SeqCst);
        let headers: Vec<(&str, &str)> = accept.iter().map(|a| ("accept-encoding", *a)).collect();
        let res = gw.get("/json", &headers).await;
        match expected {
            Err(status) => {
                assert_eq!(res.status, *status, "{name}");
                assert_eq!(
                    count.load(Ordering::SeqCst),
                    before,
                    "{name}: upstream not asked"
                );
                assert!(res.text().contains("identity"), "{name}: {}", res.text());
            }
            Ok(coding) => {
                assert_eq!(res.status, 200, "{name}");
                assert_eq!(res.header("content-encoding"), *coding, "{name}");
                assert_eq!(res.header("vary"), Some("accept-encoding"), "{name}");
                assert_eq!(count.load(Ordering::SeqCst), before + 1, "{name}");
                if *coding == Some("gzip") {
                    assert_eq!(gunzip(&res.body), json().as_bytes(), "{name}");
                }
                if coding.is_none() {
                    assert_eq!(res.body, json().as_bytes(), "{name}");
                }
            }
        }
    }
}

#[tokio::test]
async fn curl_decodes_every_coding_to_the_same_bytes() {
    let (up, _) = counting_upstream().await;
    let gw = gateway_with(&up, "").await;
    for coding in ["gzip", "br", "zstd"] {
        let res = curl(&[
            "--compressed",
            "-H",
            &format!("accept-encoding: {coding}"),
            &gw.url("/json"),
        ])
        .await;
        assert_eq!(res.header("content-encoding"), Some(coding));
        assert_eq!(res.header("content-length"), None, "{coding}: streamed");
        assert_eq!(res.body, json().as_bytes(), "{coding}");
    }
}

#[tokio::test]
async fn answers_that_are_never_compressed() {
    let (up, count) = counting_upstream().await;
    let gw = gateway_with(&up, "").await;
    let gzip = [("accept-encoding", "gzip, br")];
    let range = [("accept-encoding", "gzip, br"), ("range", "bytes=0-9")];
    type Case<'a> = (&'a str, &'a str, &'a str, &'a [(&'a str, &'a str)], u16);
    let cases: &[Case] = &[
        ("a range", "GET", "/json", &range, 206),
        ("no-transform", "GET", "/no-transform", &gzip, 200),
        ("an image", "GET", "/png", &gzip, 200),
        ("below min_size", "GET", "/small", &gzip, 200),
        ("HEAD", "HEAD", "/json", &gzip, 200),
    ];
    for (name, method, path, headers, status) in cases {
        let res = gw.send(*method, path, headers).await;
        assert_eq!(res.status, *status, "{name}");
        assert_eq!(res.header("content-encoding"), None, "{name}");
        assert_eq!(
            res.header("etag"),
            Some("\"v1\""),
            "{name}: the tag stays strong"
        );
    }
    assert_eq!(count.load(Ordering::SeqCst), cases.len());
}

#[tokio::test]
async fn compressed_answers_carry_a_weak_tag_and_the_client_header_reaches_the_upstream() {
    let (up, _) = counting_upstream().await;
    let gw = gateway_with(&up, "min_size = 10").await;
    let res = gw.get("/json", &[("accept-encoding", "gzip")]).await;
    assert_eq!(res.header("etag"), Some("W/\"v1\""));
    assert_eq!(res.header("content-length"), None);
    let res = gw.get("/accept", &[("accept-encoding", "br;q=0, *")]).await;
    assert_eq!(res.header("content-encoding"), Some("zstd"));
    let res = curl(&[
        "--compressed",
        "-H",
        "accept-encoding: br;q=0, *",
        &gw.url("/accept"),
    ])
    .await;
    assert!(
        res.text().starts_with("Some(\"br;q=0, *\")"),
        "{}",
        res.text()
    );
}

#[tokio::test]
async fn levels_are_per_algorithm() {
    let (up, _) = counting_upstream().await;
    let fast = gateway_with(&up, "[compression.levels]\ngzip = 1").await;
    let best = gateway_with(&up, "[compression.levels]\ngzip = 9").await;
    let gzip = [("accept-encoding", "gzip")];
    let fast = fast.get("/json", &gzip).await.body;
    let best = best.get("/json", &gzip).await.body;
    assert_eq!(gunzip(&fast), gunzip(&best));
    // gzip's header records the level: XFL 4 is "fastest", 2 "maximum compression".
    assert_eq!((fast[8], best[8]), (4, 2));
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

async fn post(gw: &TestServer, encoding: &str, body: Vec<u8>) -> Fetched {
    let req = Request::builder()
        .method(Method::POST)
        .uri(gw.url("/echo-length"))
        .header("content-encoding", encoding)
        .body(Body::from(body))
        .unwrap();
    fetch(req).await
}

#[tokio::test]
async fn request_bodies_are_decoded_up_to_the_limit() {
    let (up, count) = counting_upstream().await;
    let gw = gateway_with(
        &up,
        "decompress_requests = true\nmax_decompressed_body = \"1M\"",
    )
    .await;
    // Exactly the limit passes, decoded, without its coding.
    let res = post(&gw, "gzip", gzip(&vec![0; 1 << 20])).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.text(), format!("{} None", 1 << 20));

    // 10 MB of zeros, about 10 KB of gzip: refused at the limit, not held in memory.
    let bomb = gzip(&vec![0; 10 << 20]);
    assert!(bomb.len() < 20_000, "{}", bomb.len());
    let res = post(&gw, "gzip", bomb).await;
    assert_eq!(res.status, 413, "{}", res.text());
    assert!(res.text().contains("1048576 bytes"), "{}", res.text());

    // A coding the gateway cannot decode never reaches the upstream.
    let before = count.load(Ordering::SeqCst);
    let res = post(&gw, "compress", b"abc".to_vec()).await;
    assert_eq!(res.status, 415);
    assert!(res.header("accept-encoding").unwrap().contains("gzip"));
    assert_eq!(count.load(Ordering::SeqCst), before);
}

#[tokio::test]
async fn request_bodies_pass_encoded_unless_asked() {
    let (up, _) = counting_upstream().await;
    let gw = gateway_with(&up, "").await;
    let body = gzip(b"hello");
    let len = body.len();
    let res = post(&gw, "gzip", body).await;
    assert_eq!(res.text(), format!("{len} Some(\"gzip\")"));
}

#[tokio::test]
async fn tollgate_proxy_and_serve_take_compress() {
    let (up, _) = counting_upstream().await;
    let proxy = Gateway::start(&["proxy", "--compress", "--upstream", &up.url()]).await;
    let res = curl(&[
        "--compressed",
        "-H",
        "accept-encoding: gzip",
        &proxy.url("/json"),
    ])
    .await;
    assert_eq!(res.header("content-encoding"), Some("gzip"));
    assert_eq!(res.body, json().as_bytes());

    let dir = temp_dir();
    std::fs::write(dir.path().join("a.json"), json()).unwrap();
    let dir_arg = dir.path().display().to_string();
    let serve = Gateway::start(&["serve", &dir_arg, "--compress"]).await;
    let res = curl(&[
        "--compressed",
        "-H",
        "accept-encoding: zstd",
        &serve.url("/a.json"),
    ])
    .await;
    assert_eq!(res.header("content-encoding"), Some("zstd"));
    assert_eq!(res.body, json().as_bytes());
    // Ranges of files stay byte ranges of the file.
    let res = curl(&[
        "-H",
        "accept-encoding: gzip",
        "-r",
        "0-9",
        &serve.url("/a.json"),
    ])
    .await;
    assert_eq!(
        (res.status.as_u16(), res.header("content-encoding")),
        (206, None)
    );
}

#[test]
fn bad_levels_and_types_are_named_at_their_keys() {
    let errors = config::load(
        "[[listen]]\nbind = \"127.0.0.1:0\"\n[[routes]]\necho = true\n\
         [compression]\ntypes = [\"text\"]\n[compression.levels]\nbr = 12\n",
    )
    .unwrap_err();
    let errors: Vec<String> = errors
        .iter()
        .map(|e| format!("{}: {}", e.path(), e.message()))
        .collect();
    assert_eq!(
        errors,
        [
            "compression.types[0]: \"text\" is not a media type pattern: write `text/html`, \
             `text/*` or `*/*+json`",
            "compression.levels.br: br level 12 is out of range: use 0 to 11",
        ]
    );
}
