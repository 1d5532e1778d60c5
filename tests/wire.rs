//! Raw HTTP/1.1: every historic smuggling or parsing advisory of the Rust HTTP stack as a
//! regression test with its input inline, the classic desync shapes, and round-trip
//! properties of `parse_request` / `write_request`.

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use proptest::prelude::*;
use tollgate::wire::{self, Trailers, WireError};
use tollgate::HttpError;

fn req(raw: &[u8]) -> Result<(http::Request<Bytes>, usize), WireError> {
    wire::parse_request(raw)
}

// ---------------------------------------------------------------------------------------
// Advisories
// ---------------------------------------------------------------------------------------

/// hyper RUSTSEC-2021-0020 (CVE-2021-21299): several `Transfer-Encoding` fields, where hyper
/// looked at one of them and took the body as chunked.
#[test]
fn rustsec_2021_0020_several_transfer_encoding_fields() {
    let inputs: [&[u8]; 3] = [
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: cow\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: cow\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    ];
    for raw in inputs {
        assert_eq!(req(raw).unwrap_err(), WireError::MultipleTransferEncoding);
    }
    // In one field, `chunked` must be the last coding, and only once.
    let not_last =
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, cow\r\n\r\n0\r\n\r\n";
    assert!(matches!(
        req(not_last),
        Err(WireError::TransferEncodingNotChunked { .. })
    ));
}

/// hyper RUSTSEC-2021-0078 (CVE-2021-32715): `Content-Length: +5` was read as 5 while other
/// parsers refuse it or read another length.
#[test]
fn rustsec_2021_0078_lenient_content_length() {
    for value in ["+5", "-5", "0x5", "5 5", "5,", "5;", "\u{b3}"] {
        let raw = format!("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: {value}\r\n\r\nhello");
        let err = req(raw.as_bytes()).unwrap_err();
        assert!(
            matches!(err, WireError::InvalidContentLength { .. }),
            "{value:?}: {err:?}"
        );
        assert_eq!(HttpError::from(err).status(), StatusCode::BAD_REQUEST);
    }
}

/// hyper RUSTSEC-2021-0079 (CVE-2021-32714): a chunk size beyond 64 bits overflowed and
/// wrapped to a small size (hyper's `post_with_chunked_overflow`).
#[test]
fn rustsec_2021_0079_chunk_size_overflow() {
    let raw = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n\
                f0000000000000003\r\nabc\r\n0\r\n\r\n";
    assert!(matches!(req(raw), Err(WireError::ChunkSizeOverflow { .. })));
    let max = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n\
                ffffffffffffffff\r\nabc\r\n0\r\n\r\n";
    assert!(matches!(req(max), Err(WireError::BodyTooLarge { .. })));
}

/// hyper RUSTSEC-2020-0008 (CVE-2020-35863): hyper's client sent a GET body without
/// `Content-Length`, so the server read the body as a second request.
///
/// Decision: a request without `Content-Length` or `Transfer-Encoding` has no body, whatever
/// its method, so unframed bytes are the next request — seen and filtered as one, never
/// hidden; a GET *with* `Content-Length` has that body (RFC 9110 §9.3.1 allows it, without
/// meaning); and `write_request` always frames a body, so it can never turn into a request.
#[test]
fn rustsec_2020_0008_get_with_a_body() {
    let smuggled = b"GET /admin HTTP/1.1\r\nHost: a\r\n\r\n";

    let mut unframed = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n".to_vec();
    unframed.extend_from_slice(smuggled);
    let (first, used) = req(&unframed).unwrap();
    assert!(first.body().is_empty());
    let (second, _) = req(&unframed[used..]).unwrap();
    assert_eq!(second.uri(), "/admin");

    let get = http::Request::get("/")
        .header("host", "a")
        .body(Bytes::from_static(smuggled))
        .unwrap();
    let bytes = wire::write_request(&get).unwrap();
    let (back, used) = req(&bytes).unwrap();
    assert_eq!(used, bytes.len());
    assert_eq!(back.body(), &smuggled[..]);
    assert_eq!(back.headers()["content-length"], smuggled.len().to_string());
}

/// pingora RUSTSEC-2025-0037 (CVE-2025-4366): on a cache hit the request body was not read,
/// and left in the connection to be read as the next request. The parser always takes the
/// whole framed body, whatever the method.
#[test]
fn rustsec_2025_0037_body_is_always_consumed() {
    let raw = b"GET /cached HTTP/1.1\r\nHost: a\r\nContent-Length: 32\r\n\r\n\
                GET /admin HTTP/1.1\r\nHost: a\r\n\r\n";
    let (r, used) = req(raw).unwrap();
    assert_eq!(used, raw.len());
    assert_eq!(r.body(), &b"GET /admin HTTP/1.1\r\nHost: a\r\n\r\n"[..]);
}

/// pingora RUSTSEC-2026-0033 (CVE-2026-2833): bytes after a request with `Upgrade` were
/// forwarded as tunnel data before the upstream answered 101. The parser ends an `Upgrade`
/// request at its framing like any other: what follows is the next request, in the open.
#[test]
fn rustsec_2026_0033_premature_upgrade() {
    let raw = b"GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\
                GET /admin HTTP/1.1\r\nHost: a\r\n\r\n";
    let (upgrade, used) = req(raw).unwrap();
    assert_eq!(upgrade.headers()["upgrade"], "websocket");
    assert!(upgrade.body().is_empty());
    let (next, rest) = req(&raw[used..]).unwrap();
    assert_eq!(next.uri(), "/admin");
    assert_eq!(used + rest, raw.len());
}

/// pingora RUSTSEC-2026-0034 (CVE-2026-2835): HTTP/1.0 request bodies were read to the end
/// of the connection, and `Transfer-Encoding` in HTTP/1.0 and lists of codings were misread.
#[test]
fn rustsec_2026_0034_http10_and_transfer_encoding() {
    let te_10 = b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    assert_eq!(req(te_10).unwrap_err(), WireError::Http10TransferEncoding);
    let with_host = b"POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    assert_eq!(
        req(with_host).unwrap_err(),
        WireError::Http10TransferEncoding
    );

    // No close-delimited request bodies: an unframed HTTP/1.0 body is the next request.
    let close = b"POST / HTTP/1.0\r\n\r\nGET /admin HTTP/1.0\r\n\r\n";
    let (post, used) = req(close).unwrap();
    assert!(post.body().is_empty());
    assert_eq!(req(&close[used..]).unwrap().0.uri(), "/admin");

    for value in [
        "identity",
        "chunked, identity",
        "gzip",
        "chunked,",
        ", chunked",
    ] {
        let raw =
            format!("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: {value}\r\n\r\n0\r\n\r\n");
        assert!(
            matches!(
                req(raw.as_bytes()),
                Err(WireError::TransferEncodingNotChunked { .. })
            ),
            "{value:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// The classic desync shapes (RFC 9112 §6.3, §11.2)
// ---------------------------------------------------------------------------------------

#[test]
fn content_length_with_transfer_encoding() {
    let cl_te = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nX";
    let te_cl = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 6\r\n\r\n0\r\n\r\nX";
    for raw in [&cl_te[..], &te_cl[..]] {
        assert_eq!(
            req(raw).unwrap_err(),
            WireError::ContentLengthWithTransferEncoding
        );
    }
}

#[test]
fn differing_content_lengths() {
    let two = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!";
    assert!(matches!(
        req(two),
        Err(WireError::ConflictingContentLength { .. })
    ));
    // A list in one field is refused, equal or not (as hyper's server does).
    for list in [&b"5, 6"[..], b"5, 5"] {
        let raw = [
            &b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: "[..],
            list,
            b"\r\n\r\nhello!",
        ]
        .concat();
        assert!(matches!(
            req(&raw),
            Err(WireError::InvalidContentLength { .. })
        ));
    }
    let same = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello";
    assert_eq!(req(same).unwrap().0.body(), "hello");
}

#[test]
fn obfuscated_transfer_encoding() {
    type Expect = fn(&WireError) -> bool;
    let cases: [(&[u8], Expect); 5] = [
        (b"Transfer-Encoding : chunked", |e| {
            matches!(e, WireError::WhitespaceBeforeColon { .. })
        }),
        (b"Transfer-Encoding:\r\n chunked", |e| {
            matches!(e, WireError::ObsFold { .. })
        }),
        (b"Transfer-Encoding: xchunked", |e| {
            matches!(e, WireError::TransferEncodingNotChunked { .. })
        }),
        (b"Transfer-Encoding: chunked\x00", |e| {
            matches!(e, WireError::Nul { .. })
        }),
        (b"Transfer-Encoding: \x0bchunked", |e| {
            matches!(e, WireError::InvalidHeaderValue { .. })
        }),
    ];
    for (field, expected) in cases {
        let mut raw = b"POST / HTTP/1.1\r\nHost: a\r\n".to_vec();
        raw.extend_from_slice(field);
        raw.extend_from_slice(b"\r\n\r\n0\r\n\r\n");
        let err = req(&raw).unwrap_err();
        assert!(
            expected(&err),
            "{:?}: {err:?}",
            String::from_utf8_lossy(field)
        );
    }
    // HTAB is optional whitespace: this one is fine.
    let tab = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\tchunked\r\n\r\n0\r\n\r\n";
    assert!(req(tab).is_ok());
}

#[test]
fn bare_line_endings() {
    let lf_head = b"GET / HTTP/1.1\nHost: a\n\n";
    assert!(matches!(req(lf_head), Err(WireError::BareLf { .. })));
    let cr_head = b"GET / HTTP/1.1\rHost: a\r\n\r\n";
    assert!(matches!(req(cr_head), Err(WireError::BareCr { .. })));
    let lf_chunk =
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n";
    assert!(matches!(req(lf_chunk), Err(WireError::BareLf { .. })));
    let bad_data_end =
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\n0\r\n\r\n";
    assert!(matches!(
        req(bad_data_end),
        Err(WireError::InvalidChunkData { .. })
    ));
}

#[test]
fn chunk_extensions() {
    let ok = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n\
               3 ; name=value;q=\"a b\"\r\nabc\r\n0;last\r\n\r\n";
    assert_eq!(req(ok).unwrap().0.body(), "abc");
    for ext in [
        "3;\r\n",
        "3;=v\r\n",
        "3;a=\r\n",
        "3;a=\"open\r\n",
        "3 \r\n",
        "3;a b\r\n",
    ] {
        let mut raw = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        raw.extend_from_slice(ext.as_bytes());
        raw.extend_from_slice(b"abc\r\n0\r\n\r\n");
        assert!(req(&raw).is_err(), "{ext:?}");
    }
}

#[test]
fn size_limits_map_to_414_431_413() {
    let long_line = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(9000));
    let err = req(long_line.as_bytes()).unwrap_err();
    assert_eq!(HttpError::from(err).status(), StatusCode::URI_TOO_LONG);

    let many = format!(
        "GET / HTTP/1.1\r\nHost: a\r\n{}\r\n",
        "X: y\r\n".repeat(101)
    );
    let err = req(many.as_bytes()).unwrap_err();
    assert_eq!(err, WireError::TooManyHeaders { limit: 100 });
    assert_eq!(
        HttpError::from(err).status(),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
    );

    let big = format!(
        "GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n",
        "y".repeat(70_000)
    );
    let err = req(big.as_bytes()).unwrap_err();
    assert_eq!(
        HttpError::from(err).status(),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
    );

    let body = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999\r\n\r\n";
    let err = req(body).unwrap_err();
    assert_eq!(HttpError::from(err).status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[test]
fn host_is_required_once() {
    assert_eq!(
        req(b"GET / HTTP/1.1\r\n\r\n").unwrap_err(),
        WireError::MissingHost
    );
    let two = b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n";
    assert_eq!(req(two).unwrap_err(), WireError::MultipleHost);
    let userinfo = b"GET / HTTP/1.1\r\nHost: evil@a\r\n\r\n";
    assert!(matches!(req(userinfo), Err(WireError::InvalidHost { .. })));
}

#[test]
fn a_real_browser_request() {
    let raw = b"GET /search?q=tollgate&lang=en HTTP/1.1\r\n\
        Host: example.com\r\n\
        User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n\
        Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n\
        Accept-Language: en-US,en;q=0.5\r\n\
        Accept-Encoding: gzip, deflate, br, zstd\r\n\
        Connection: keep-alive\r\n\
        Cookie: session=abc; theme=dark\r\n\
        Upgrade-Insecure-Requests: 1\r\n\
        Sec-Fetch-Dest: document\r\n\r\n";
    let (r, used) = req(raw).unwrap();
    assert_eq!(used, raw.len());
    assert_eq!(r.headers().len(), 9);
    assert_eq!(r.uri().query(), Some("q=tollgate&lang=en"));
}

#[test]
fn a_curl_multipart_upload() {
    let body = "--------------------------d74496d66958873e\r\n\
        Content-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\
        Content-Type: text/plain\r\n\r\nhello\n\r\n\
        --------------------------d74496d66958873e--\r\n";
    let raw = format!(
        "POST /upload HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\
         Content-Length: {}\r\nContent-Type: multipart/form-data; boundary=------------------------d74496d66958873e\r\n\r\n{body}",
        body.len()
    );
    let (r, used) = req(raw.as_bytes()).unwrap();
    assert_eq!(used, raw.len());
    assert_eq!(r.body(), body.as_bytes());
}

#[test]
fn request_wrapper_round_trip() {
    let raw = b"PATCH /items/7 HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}";
    let mut r = tollgate::Request::from_bytes(raw).unwrap();
    assert_eq!(r.path(), "/items/7");
    let bytes = futures_executor(r.to_bytes(1024)).unwrap();
    assert_eq!(
        bytes,
        b"PATCH /items/7 HTTP/1.1\r\nhost: a\r\ncontent-length: 2\r\n\r\n{}"
    );
    let extra = b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
    assert!(matches!(
        tollgate::Request::from_bytes(extra),
        Err(WireError::TrailingBytes { .. })
    ));
}

fn futures_executor<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

// ---------------------------------------------------------------------------------------
// Crashes found by fuzzing (fuzz/artifacts), each with its input
// ---------------------------------------------------------------------------------------

/// wire_response crash-8d2e7955: a close-delimited response with exactly `max_headers`
/// fields gains a `Content-Length` when written, one field over the default limit. Writing
/// is right to frame it; reading it back needs one more field of room (documented on
/// `write_request`), and the fuzz target reads back with that room.
#[test]
fn fuzz_written_response_at_the_field_limit() {
    let raw = format!(
        "HTTP/1.1 200 OK\r\n{}\r\nto the end",
        "ETag: ed\r\n".repeat(100)
    );
    let (res, _) = wire::parse_response(raw.as_bytes()).unwrap();
    let bytes = wire::write_response(&res).unwrap();
    assert_eq!(
        wire::parse_response(&bytes).unwrap_err(),
        WireError::TooManyHeaders { limit: 100 }
    );
    let mut roomy = wire::Limits::default();
    roomy.max_headers += 1;
    let (back, _) = wire::parse_response_with(&bytes, &roomy, false).unwrap();
    assert_eq!(back.body(), "to the end");
}

// ---------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------

fn same_request(a: &http::Request<Bytes>, b: &http::Request<Bytes>) -> bool {
    a.method() == b.method()
        && a.uri() == b.uri()
        && a.version() == b.version()
        && a.headers() == b.headers()
        && a.body() == b.body()
        && a.extensions().get::<Trailers>() == b.extensions().get::<Trailers>()
}

fn field_value() -> impl Strategy<Value = String> {
    "[!-~\u{e9}]([ \t!-~]{0,12}[!-~])?"
}

fn fields() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec(("x-[a-z0-9!#$%&'*+.^_`|~-]{1,8}", field_value()), 0..6)
}

#[derive(Debug, Clone)]
enum Framing {
    None,
    Length,
    Chunked(Vec<(String, String)>),
}

fn arb_request() -> impl Strategy<Value = http::Request<Bytes>> {
    let method = prop_oneof![
        Just("GET".to_string()),
        Just("POST".to_string()),
        Just("PUT".to_string()),
        Just("OPTIONS".to_string()),
        "[A-Z]{1,8}".prop_filter("CONNECT takes host:port", |m| m != "CONNECT"),
    ];
    let target = "(/[a-zA-Z0-9._~%!$&'()*+,;=:@-]{0,8}){1,4}(\\?[a-zA-Z0-9=&%/?-]{0,12})?";
    let framing = prop_oneof![
        Just(Framing::None),
        Just(Framing::Length),
        fields().prop_map(Framing::Chunked),
    ];
    (
        method,
        target,
        any::<bool>(),
        fields(),
        prop::collection::vec(any::<u8>(), 0..64),
        framing,
    )
        .prop_map(|(method, target, http10, fields, body, framing)| {
            let mut b = http::Request::builder().method(method.as_str()).uri(target);
            let framing = match framing {
                Framing::Chunked(_) if http10 => Framing::Length,
                f => f,
            };
            b = b.version(if http10 {
                http::Version::HTTP_10
            } else {
                http::Version::HTTP_11
            });
            if !http10 {
                b = b.header("host", "example.com:8080");
            }
            for (k, v) in &fields {
                b = b.header(k.as_str(), v.as_bytes());
            }
            match &framing {
                Framing::None => {}
                Framing::Length => b = b.header("content-length", body.len()),
                Framing::Chunked(_) => b = b.header("transfer-encoding", "gzip, chunked"),
            }
            let mut r = b.body(Bytes::from(body)).unwrap();
            if let Framing::Chunked(trailers) = framing {
                let mut map = HeaderMap::new();
                for (k, v) in trailers {
                    map.append(
                        http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                        http::HeaderValue::from_bytes(v.as_bytes()).unwrap(),
                    );
                }
                if !map.is_empty() {
                    r.extensions_mut().insert(Trailers(map));
                }
            }
            r
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// `parse(write(m)) == m`, up to the `Content-Length` the writer adds to an unframed
    /// body; and writing is stable from then on.
    #[test]
    fn request_round_trip(m in arb_request()) {
        let bytes = wire::write_request(&m).unwrap();
        let (back, used) = wire::parse_request(&bytes).unwrap();
        prop_assert_eq!(used, bytes.len());
        let added_length = !m.headers().contains_key("content-length")
            && !m.headers().contains_key("transfer-encoding")
            && !m.body().is_empty();
        if added_length {
            let mut without = back.headers().clone();
            without.remove("content-length");
            prop_assert_eq!(&without, m.headers());
        } else {
            prop_assert!(same_request(&m, &back), "{:?} != {:?}", m, back);
        }
        prop_assert_eq!(back.body(), m.body());
        prop_assert_eq!(wire::write_request(&back).unwrap(), bytes);
    }

    /// Every proper prefix of a request is incomplete, never another message.
    #[test]
    fn prefixes_are_incomplete(m in arb_request(), cut in any::<prop::sample::Index>()) {
        let bytes = wire::write_request(&m).unwrap();
        let cut = cut.index(bytes.len());
        prop_assert_eq!(wire::parse_request(&bytes[..cut]).unwrap_err(), WireError::Incomplete);
    }

    /// Responses round-trip the same way.
    #[test]
    fn response_round_trip(
        status in 200u16..600,
        fields in fields(),
        body in prop::collection::vec(any::<u8>(), 0..64),
        chunked in any::<bool>(),
    ) {
        let mut b = http::Response::builder().status(status);
        for (k, v) in &fields {
            b = b.header(k.as_str(), v.as_bytes());
        }
        let no_body = status == 204 || status == 304;
        let body = if no_body { Vec::new() } else { body };
        if chunked && status != 204 {
            b = b.header("transfer-encoding", "chunked");
        }
        let m = b.body(Bytes::from(body)).unwrap();
        let bytes = wire::write_response(&m).unwrap();
        let (back, used) = wire::parse_response(&bytes).unwrap();
        prop_assert_eq!(used, bytes.len());
        prop_assert_eq!(back.status(), m.status());
        prop_assert_eq!(back.body(), m.body());
        prop_assert_eq!(wire::write_response(&back).unwrap(), bytes);
    }

    /// Arbitrary bytes never panic, and an error converts to a 4xx.
    #[test]
    fn garbage_is_an_error_not_a_panic(raw in prop::collection::vec(any::<u8>(), 0..256)) {
        if let Err(e) = wire::parse_request(&raw) {
            prop_assert!(HttpError::from(e).status().is_client_error());
        }
        let _ = wire::parse_response(&raw);
    }
}
