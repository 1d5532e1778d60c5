//! What the proxy passes and shows: `Location`/`Set-Cookie` hosts, error pages, HTTP/1.0
//! upstreams (items 14, 15, 17).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use http::Response;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support::*;

// ---------------------------------------------------------------------------------------------
// Helpers of this module.

/// `text` without the ANSI colour sequences of the plain log format.
fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // `ESC [ ... m`: bounded by the text.
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// An upstream that redirects to its own address and sets a cookie for its own host, as an
/// application that does not know it sits behind a gateway does.
async fn self_naming_upstream() -> Upstream {
    // Its own address is the Host the gateway sends (the default `host = "rewrite"`).
    upstream(move |req| async move {
        let own = req
            .headers()
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("127.0.0.1")
            .to_owned();
        Response::builder()
            .status(302)
            .header("location", format!("http://{own}/next"))
            .header("set-cookie", "s=1; Domain=127.0.0.1; Path=/")
            .body(full("moved"))
            .unwrap()
    })
    .await
}

/// The value of header `name` in a raw HTTP/1.1 answer, if any.
fn header<'a>(answer: &'a str, name: &str) -> Option<&'a str> {
    let head = answer.split("\r\n\r\n").next()?;
    head.lines().skip(1).find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// A `tollgate run` file proxying everything to `servers`, with `extra` TOML appended.
fn run_file(servers: &[String], extra: &str) -> String {
    let list: Vec<String> = servers.iter().map(|s| format!("\"{s}\"")).collect();
    format!(
        "[[listen]]\nbind = \"127.0.0.1:0\"\n\n[upstreams.app]\nservers = [{}]\n\n\
         [[routes]]\nupstream = \"app\"\n\n{extra}\n",
        list.join(", ")
    )
}

/// `GET /` with `Accept` and an optional request id, on a fresh connection that closes.
async fn get_raw(addr: SocketAddr, accept: &str, request_id: Option<&str>) -> String {
    let id = request_id
        .map(|id| format!("X-Request-Id: {id}\r\n"))
        .unwrap_or_default();
    let raw = format!(
        "GET / HTTP/1.1\r\nHost: gw.example\r\nAccept: {accept}\r\n{id}Connection: close\r\n\r\n"
    );
    raw_exchange(addr, raw.as_bytes(), TEST_TIMEOUT).await
}

/// Asserts that an error page shows neither the upstream's address nor its port.
fn names_nothing_internal(page: &str, upstream: &SocketAddr) {
    let body = page.split("\r\n\r\n").nth(1).unwrap_or_default();
    assert!(!body.contains("127.0.0.1"), "{page}");
    assert!(!body.contains(&upstream.port().to_string()), "{page}");
    assert!(!body.contains("upstream http"), "{page}");
}

/// A raw TCP upstream answering with `answer` on every connection, after reading the request
/// head; `None` never answers (holding the connection open).
async fn raw_upstream(answer: Option<&'static [u8]>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let _ = read_head(&mut stream).await;
                match answer {
                    Some(bytes) => {
                        let _ = stream.write_all(bytes).await;
                        let _ = stream.shutdown().await;
                    }
                    None => {
                        // Bounded: the gateway's timeout closes the connection long before.
                        let mut sink = [0u8; 1024];
                        let _ = tokio::time::timeout(TEST_TIMEOUT, stream.read(&mut sink)).await;
                    }
                }
            });
        }
    });
    addr
}

/// Reads a request head (up to 64 KiB) and returns it without the blank line; `None` when the
/// peer closed or sent more than that without one.
async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while head.len() < 64 * 1024 {
        match stream.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => return None,
        }
        if head.ends_with(b"\r\n\r\n") {
            head.truncate(head.len() - 4);
            return Some(String::from_utf8_lossy(&head).into_owned());
        }
    }
    None
}

/// One request an [`http10_upstream`] received.
#[derive(Debug, Clone)]
struct Http10Seen {
    connection: usize,
    request_line: String,
    head: String,
    body_len: usize,
}

/// A server that speaks HTTP/1.0 as old application servers do (Python's `http.server`): it
/// reads a body only by `Content-Length` (it knows nothing of chunked), answers `HTTP/1.0 200`
/// with `Connection: keep-alive` and a `Content-Length`, and records what it got. A connection
/// whose next bytes are not a request line (the leftovers of a chunked body) is closed.
async fn http10_upstream() -> (SocketAddr, Arc<Mutex<Vec<Http10Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        let mut connection = 0;
        while let Ok((mut stream, _)) = listener.accept().await {
            connection += 1;
            let log = log.clone();
            tokio::spawn(async move {
                for _ in 0..64 {
                    let Some(head) = read_head(&mut stream).await else {
                        return;
                    };
                    let request_line = head.lines().next().unwrap_or_default().to_owned();
                    let is_request =
                        request_line.ends_with("HTTP/1.1") || request_line.ends_with("HTTP/1.0");
                    if !is_request {
                        return;
                    }
                    let length: usize = head
                        .lines()
                        .find_map(|l| {
                            let (n, v) = l.split_once(':')?;
                            n.trim()
                                .eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse().ok())?
                        })
                        .unwrap_or(0);
                    let mut body = vec![0u8; length];
                    if stream.read_exact(&mut body).await.is_err() {
                        return;
                    }
                    log.lock().unwrap().push(Http10Seen {
                        connection,
                        request_line,
                        head,
                        body_len: length,
                    });
                    let answer = format!("got {length}");
                    let raw = format!(
                        "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: {}\r\n\r\n{answer}",
                        answer.len()
                    );
                    if stream.write_all(raw.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, seen)
}

/// Sends `POST /upload` with a chunked body of `len` bytes (in 16 KiB chunks) and returns the
/// answer; the body is written beside the read, so an early answer is seen whatever happens to
/// the rest of the upload.
async fn post_chunked(addr: SocketAddr, len: usize) -> String {
    let stream = connect(addr).await;
    let (mut read, mut write) = stream.into_split();
    let writer = tokio::spawn(async move {
        let head = "POST /upload HTTP/1.1\r\nHost: gw.example\r\nAccept: text/plain\r\n\
                    Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
        write.write_all(head.as_bytes()).await?;
        let mut left = len;
        while left > 0 {
            let n = left.min(16 * 1024);
            write.write_all(format!("{n:x}\r\n").as_bytes()).await?;
            write.write_all(&vec![b'x'; n]).await?;
            write.write_all(b"\r\n").await?;
            left -= n;
        }
        write.write_all(b"0\r\n\r\n").await?;
        Ok::<_, std::io::Error>(write)
    });
    let mut out = Vec::new();
    let _ = tokio::time::timeout(TEST_TIMEOUT, read.read_to_end(&mut out))
        .await
        .expect("the gateway answers and closes within the test timeout");
    // Kept until the answer is in, so a half-close does not end the exchange early.
    drop(writer.await);
    String::from_utf8_lossy(&out).into_owned()
}

// ---------------------------------------------------------------------------------------------
// Item 14: the host written into rewritten `Location` and `Set-Cookie` `Domain`.

#[tokio::test]
async fn a_host_with_separators_never_reaches_location_or_cookie_domain() {
    let up = self_naming_upstream().await;
    let gw = Gateway::start(&["proxy", "--upstream", &up.url()]).await;
    // `;` and `=` are legal in an RFC 3986 reg-name, so the listener lets this Host through;
    // it is no host name, and must not become a cookie attribute or a redirect target.
    let res = raw_exchange(
        gw.socket_addr(),
        b"GET / HTTP/1.1\r\nHost: evil.example;Domain=attacker.example\r\nConnection: close\r\n\r\n",
        TEST_TIMEOUT,
    )
    .await;
    assert!(res.starts_with("HTTP/1.1 302"), "{res}");
    assert_eq!(header(&res, "location"), Some("/next"), "{res}");
    let cookie = header(&res, "set-cookie").expect("the cookie is passed");
    assert_eq!(cookie, "s=1; Path=/", "{res}");
    assert!(!res.to_ascii_lowercase().contains("attacker"), "{res}");
    gw.stop().await;
}

#[tokio::test]
async fn a_valid_host_is_written_into_location_and_cookie_domain() {
    let up = self_naming_upstream().await;
    let gw = Gateway::start(&["proxy", "--upstream", &up.url()]).await;
    let res = raw_exchange(
        gw.socket_addr(),
        b"GET / HTTP/1.1\r\nHost: public.example:8080\r\nConnection: close\r\n\r\n",
        TEST_TIMEOUT,
    )
    .await;
    assert!(res.starts_with("HTTP/1.1 302"), "{res}");
    assert_eq!(
        header(&res, "location"),
        Some("http://public.example:8080/next"),
        "{res}"
    );
    assert_eq!(
        header(&res, "set-cookie"),
        Some("s=1; Domain=public.example; Path=/"),
        "{res}"
    );
    gw.stop().await;
}

#[tokio::test]
async fn an_absolute_form_authority_is_validated_and_wins_over_host() {
    let up = self_naming_upstream().await;
    let gw = Gateway::start(&["proxy", "--upstream", &up.url()]).await;
    // RFC 9112 §3.2.2: the target's authority replaces Host, so it is what gets written back.
    let res = raw_exchange(
        gw.socket_addr(),
        b"GET http://public.example/ HTTP/1.1\r\nHost: other.example\r\nConnection: close\r\n\r\n",
        TEST_TIMEOUT,
    )
    .await;
    assert_eq!(
        header(&res, "location"),
        Some("http://public.example/next"),
        "{res}"
    );
    // An authority the Host check would refuse is refused here too, before any upstream.
    let res = raw_exchange(
        gw.socket_addr(),
        b"GET http://user@evil.example/ HTTP/1.1\r\nHost: good.example\r\nConnection: close\r\n\r\n",
        TEST_TIMEOUT,
    )
    .await;
    assert!(res.starts_with("HTTP/1.1 400"), "{res}");
    // One with separators is passed, but never written back.
    let res = raw_exchange(
        gw.socket_addr(),
        b"GET http://evil.example;Domain=attacker.example/ HTTP/1.1\r\nHost: good.example\r\n\
          Connection: close\r\n\r\n",
        TEST_TIMEOUT,
    )
    .await;
    if res.starts_with("HTTP/1.1 302") {
        assert_eq!(header(&res, "location"), Some("/next"), "{res}");
        assert_eq!(header(&res, "set-cookie"), Some("s=1; Path=/"), "{res}");
    } else {
        assert!(res.starts_with("HTTP/1.1 400"), "{res}");
    }
    assert!(!res.to_ascii_lowercase().contains("attacker"), "{res}");
    gw.stop().await;
}

#[tokio::test]
async fn an_http2_authority_with_separators_never_reaches_the_answer() {
    use http_body_util::BodyExt;
    let up = self_naming_upstream().await;
    let gw = Gateway::start(&["proxy", "--upstream", &up.url()]).await;
    let stream = connect(gw.socket_addr()).await;
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .expect("the gateway speaks h2c");
    tokio::spawn(conn);
    let mut statuses = Vec::new();
    for (authority, expected_location) in [
        (
            "public.example:8443",
            Some("http://public.example:8443/next"),
        ),
        ("evil.example;Domain=attacker.example", Some("/next")),
    ] {
        let req = http::Request::get(format!("http://{authority}/"))
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .unwrap();
        let res = tokio::time::timeout(TEST_TIMEOUT, sender.send_request(req))
            .await
            .expect("an answer within the test timeout")
            .expect("an h2 answer");
        let status = res.status();
        statuses.push(status);
        let headers = res.headers().clone();
        let _ = res.into_body().collect().await;
        if status == 302 {
            assert_eq!(
                headers.get("location").and_then(|v| v.to_str().ok()),
                expected_location,
                "{authority}"
            );
            let cookie = headers["set-cookie"].to_str().unwrap();
            assert!(!cookie.contains("attacker"), "{cookie}");
        } else {
            assert_eq!(status, 400, "{authority}");
        }
    }
    assert_eq!(statuses[0], 302);
    gw.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Item 15: what clients and the log are told when the upstream fails.

#[tokio::test]
async fn a_refused_connection_page_names_no_upstream_but_the_log_does() {
    let dead = dead_port();
    let url = format!("http://{dead}");
    let gw = Gateway::start(&["proxy", "--upstream", &url]).await;
    for accept in ["text/html", "application/json", "text/plain"] {
        let res = get_raw(gw.socket_addr(), accept, None).await;
        assert!(res.starts_with("HTTP/1.1 502"), "{res}");
        assert!(res.contains("refused the connection"), "{res}");
        names_nothing_internal(&res, &dead);
    }
    let log = plain(&gw.stop().await);
    let warn = log
        .lines()
        .find(|l| l.contains("upstream request failed"))
        .unwrap_or_else(|| panic!("no failure line: {log}"));
    assert!(warn.contains(&url), "{warn}");
    assert!(warn.contains("refused"), "{warn}");
    let access = log
        .lines()
        .find(|l| l.contains("tollgate::access"))
        .unwrap_or_else(|| panic!("no access line: {log}"));
    assert!(access.contains(&format!("upstream={url}")), "{access}");
    assert!(access.contains(" 502"), "{access}");
}

#[tokio::test]
async fn an_error_page_shows_the_request_id_the_log_has() {
    let dead = dead_port();
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::run_file(
        dir.path(),
        &run_file(&[format!("http://{dead}")], "[rewrite]\nrequest_id = {}\n"),
        &["--log", "info"],
    )
    .await;
    let res = get_raw(gw.socket_addr(), "application/json", Some("req-fifteen")).await;
    assert!(res.starts_with("HTTP/1.1 502"), "{res}");
    assert!(res.contains("request id req-fifteen"), "{res}");
    assert_eq!(header(&res, "x-request-id"), Some("req-fifteen"), "{res}");
    names_nothing_internal(&res, &dead);
    // A made-up id when the client sent none: the page and the header agree.
    let res = get_raw(gw.socket_addr(), "text/plain", None).await;
    let id = header(&res, "x-request-id")
        .expect("an id is made")
        .to_owned();
    assert!(res.contains(&format!("request id {id}")), "{res}");
    let log = plain(&gw.stop().await);
    let warn = log
        .lines()
        .find(|l| l.contains("upstream request failed") && l.contains("req-fifteen"))
        .unwrap_or_else(|| panic!("no failure line with the id: {log}"));
    assert!(warn.contains(&format!("http://{dead}")), "{warn}");
}

#[tokio::test]
async fn expose_errors_shows_the_upstream_for_development() {
    let dead = dead_port();
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::run_file(
        dir.path(),
        &run_file(
            &[format!("http://{dead}")],
            "[proxy]\nexpose_errors = true\n",
        ),
        &["--log", "info"],
    )
    .await;
    let res = get_raw(gw.socket_addr(), "text/plain", None).await;
    assert!(res.starts_with("HTTP/1.1 502"), "{res}");
    assert!(
        res.contains(&format!("upstream http://{dead} refused the connection")),
        "{res}"
    );
    gw.stop().await;
}

#[tokio::test]
async fn a_timeout_page_names_no_upstream() {
    let silent = raw_upstream(None).await;
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::run_file(
        dir.path(),
        &run_file(
            &[format!("http://{silent}")],
            "[proxy]\nfirst_byte_timeout = \"1s\"\n",
        ),
        &["--log", "info"],
    )
    .await;
    let res = get_raw(gw.socket_addr(), "text/html", None).await;
    assert!(res.starts_with("HTTP/1.1 504"), "{res}");
    assert!(res.contains("did not answer in time"), "{res}");
    names_nothing_internal(&res, &silent);
    let log = plain(&gw.stop().await);
    assert!(
        log.contains(&format!(
            "upstream http://{silent} did not answer within 1 s"
        )),
        "{log}"
    );
}

#[tokio::test]
async fn an_invalid_answer_page_names_no_upstream() {
    let garbage = raw_upstream(Some(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")).await;
    let gw = Gateway::start(&["proxy", "--upstream", &format!("http://{garbage}")]).await;
    let res = get_raw(gw.socket_addr(), "text/plain", None).await;
    assert!(res.starts_with("HTTP/1.1 502"), "{res}");
    names_nothing_internal(&res, &garbage);
    let log = plain(&gw.stop().await);
    assert!(
        log.contains(&format!("upstream http://{garbage} sent an invalid answer")),
        "{log}"
    );
}

#[tokio::test]
async fn a_tls_failure_page_names_no_upstream() {
    // An `https://` upstream that answers in plain HTTP: the handshake fails.
    let http_only = recording_upstream().await;
    let url = format!("https://{}", http_only.addr);
    let gw = Gateway::start(&["proxy", "--upstream", &url]).await;
    let res = get_raw(gw.socket_addr(), "text/plain", None).await;
    assert!(res.starts_with("HTTP/1.1 502"), "{res}");
    names_nothing_internal(&res, &http_only.addr);
    let log = plain(&gw.stop().await);
    assert!(
        log.contains(&format!("could not connect to upstream {url}")),
        "{log}"
    );
}

#[tokio::test]
async fn a_balanced_group_without_a_healthy_server_names_none() {
    let (a, b) = (dead_port(), dead_port());
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::run_file(
        dir.path(),
        &run_file(
            &[format!("http://{a}"), format!("http://{b}")],
            "[upstreams.app.balance]\nretries = 1\nmax_fails = 1\n",
        ),
        &["--log", "info"],
    )
    .await;
    for _ in 0..3 {
        let res = get_raw(gw.socket_addr(), "text/plain", None).await;
        assert!(res.starts_with("HTTP/1.1 502"), "{res}");
        names_nothing_internal(&res, &a);
        names_nothing_internal(&res, &b);
    }
    let log = plain(&gw.stop().await);
    assert!(log.contains(&format!("http://{a}")), "{log}");
    assert!(log.contains(&format!("http://{b}")), "{log}");
}

// ---------------------------------------------------------------------------------------------
// Item 17: an upstream that speaks HTTP/1.0 and a body without a length.

#[tokio::test]
async fn a_chunked_upload_on_a_pooled_http10_connection_arrives_whole() {
    let (up, seen) = http10_upstream().await;
    // One worker: one pool, so the POST takes the connection the GET left.
    let gw = Gateway::start(&[
        "proxy",
        "--upstream",
        &format!("http://{up}"),
        "--workers",
        "1",
    ])
    .await;
    let res = raw_exchange(
        gw.socket_addr(),
        b"GET / HTTP/1.1\r\nHost: gw.example\r\nConnection: close\r\n\r\n",
        TEST_TIMEOUT,
    )
    .await;
    assert!(res.starts_with("HTTP/1.1 200"), "{res}");
    let res = post_chunked(gw.socket_addr(), 5000).await;
    assert!(res.starts_with("HTTP/1.1 200"), "{res}");
    assert!(res.ends_with("got 5000"), "{res}");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[1].connection, seen[0].connection, "pooled: {seen:?}");
    assert!(seen[1].request_line.starts_with("POST /upload"), "{seen:?}");
    assert_eq!(seen[1].body_len, 5000, "{seen:?}");
    assert!(
        seen[1]
            .head
            .to_ascii_lowercase()
            .contains("content-length: 5000"),
        "{seen:?}"
    );
    gw.stop().await;
}

#[tokio::test]
async fn a_chunked_upload_as_the_first_request_is_never_a_silent_200() {
    let (up, seen) = http10_upstream().await;
    let gw = Gateway::start(&[
        "proxy",
        "--upstream",
        &format!("http://{up}"),
        "--workers",
        "1",
    ])
    .await;
    // The gateway cannot know the upstream's version before its first answer: the body goes
    // chunked, the upstream reads none of it, and the client is told so.
    let res = post_chunked(gw.socket_addr(), 3000).await;
    assert!(res.starts_with("HTTP/1.1 502"), "{res}");
    assert!(res.contains("HTTP/1.0"), "{res}");
    assert!(res.contains("Content-Length"), "{res}");
    assert!(!res.contains("got 0"), "{res}");
    // Now it knows: the same upload again arrives whole, with a Content-Length.
    let res = post_chunked(gw.socket_addr(), 3000).await;
    assert!(res.starts_with("HTTP/1.1 200"), "{res}");
    assert!(res.ends_with("got 3000"), "{res}");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.last().map(|s| s.body_len), Some(3000), "{seen:?}");
    let log = plain(&gw.stop().await);
    assert!(log.contains("answered HTTP/1.0"), "{log}");
}

#[tokio::test]
async fn a_chunked_upload_too_large_to_buffer_for_http10_is_a_411() {
    let (up, seen) = http10_upstream().await;
    let gw = Gateway::start(&[
        "proxy",
        "--upstream",
        &format!("http://{up}"),
        "--workers",
        "1",
    ])
    .await;
    let res = raw_exchange(
        gw.socket_addr(),
        b"GET / HTTP/1.1\r\nHost: gw.example\r\nConnection: close\r\n\r\n",
        TEST_TIMEOUT,
    )
    .await;
    assert!(res.starts_with("HTTP/1.1 200"), "{res}");
    let res = post_chunked(gw.socket_addr(), tollgate::proxy::HTTP10_BODY_BUFFER + 1).await;
    assert!(res.starts_with("HTTP/1.1 411"), "{res}");
    assert!(res.contains("Content-Length"), "{res}");
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.iter().all(|s| !s.request_line.starts_with("POST")),
        "the upload never reached the upstream: {seen:?}"
    );
    // A Content-Length upload of the same size goes through.
    let len = tollgate::proxy::HTTP10_BODY_BUFFER + 1;
    let mut raw = format!(
        "POST /upload HTTP/1.1\r\nHost: gw.example\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    raw.extend(std::iter::repeat_n(b'y', len));
    let res = raw_exchange(gw.socket_addr(), &raw, TEST_TIMEOUT).await;
    assert!(res.ends_with(&format!("got {len}")), "{res}");
    gw.stop().await;
}
