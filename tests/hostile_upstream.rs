//! Upstreams that lie (issue 20): framing the gateway must not pass on, answers cut mid-body,
//! headers that must not reach the client, silent upstreams. Each case runs the real gateway in
//! front of a raw-socket upstream ([`lying_upstream`]) whose first connection lies and then,
//! if the gateway were to reuse it, would answer the next request with `WRONG`; every later
//! connection answers honestly. Each test asserts the client's answer (a `502`, or a cut
//! connection once the head was sent), that a next request on another connection gets the
//! honest answer from a fresh upstream connection, and that the lying connection never saw a
//! second request.

mod support;

use std::time::Duration;

use support::*;

/// What the lying connection would answer to a request the gateway should never send it.
const WRONG: &str = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nWRONG";

/// A complete answer hidden in a lie's body: if a client or a next request ever sees
/// `smuggled`, the gateway read the upstream's bytes out of step.
const SMUGGLED: &str = "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled";

/// The gateway (`tollgate proxy`, one worker so one pool) in front of an upstream whose first
/// connection reads a request, plays `first`, then `then`; later connections answer `good`.
async fn gateway_in_front_of(first: Vec<Step>, then: Vec<Step>) -> (Gateway, LyingUpstream) {
    let up = lying_upstream(move |n| {
        if n == 0 {
            [vec![Step::Read], first.clone(), then.clone()].concat()
        } else {
            honest("good")
        }
    })
    .await;
    let url = up.url();
    let args = [
        "--log",
        "info",
        "proxy",
        "--workers",
        "1",
        "--upstream",
        &url,
    ];
    (Gateway::start(&args).await, up)
}

/// In front of a first connection that plays `lie` and would then answer `WRONG`: a
/// connection the gateway must never reuse.
async fn liar(lie: Vec<Step>) -> (Gateway, LyingUpstream) {
    gateway_in_front_of(lie, vec![Step::Read, write(WRONG)]).await
}

/// In front of a first connection that plays `answer`, odd but well-framed, and then answers
/// honestly: reusing it is fine.
async fn odd_but_framed(answer: Vec<Step>) -> (Gateway, LyingUpstream) {
    gateway_in_front_of(answer, honest("good")).await
}

/// `METHOD /lie` on a fresh connection (`Connection: close`): everything the gateway sent
/// before closing.
async fn ask(gw: &Gateway, method: &str) -> String {
    let head = format!("{method} /lie HTTP/1.1\r\nHost: gw.example\r\nConnection: close\r\n\r\n");
    raw(gw.socket_addr(), head.as_bytes()).await
}

/// The promises after any lie: the next request, on another client connection, reaches a
/// fresh upstream connection and gets the honest answer; the lying connection saw only the
/// first request; nothing smuggled reached anyone.
async fn next_request_is_served_fresh(gw: &Gateway, up: &LyingUpstream, first: &str) {
    assert!(!first.contains("smuggled"), "{first}");
    assert!(!first.contains("WRONG"), "{first}");
    let next = get(&gw.url("/next")).await;
    assert_eq!(next.status, 200, "{}", next.text());
    assert_eq!(next.text(), "good");
    let heard = up.heard();
    let on_the_liar: Vec<_> = heard.iter().filter(|h| h.connection == 0).collect();
    assert_eq!(on_the_liar.len(), 1, "{heard:?}");
    assert!(on_the_liar[0].head.starts_with("/lie") || on_the_liar[0].head.contains(" /lie "));
    assert!(up.connections() >= 2, "{heard:?}");
}

/// The status of a raw answer, 0 when there is none.
fn status(answer: &str) -> u16 {
    answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Whether a raw answer is a 502 whose page names no upstream detail.
fn is_bad_gateway(answer: &str) -> bool {
    status(answer) == 502 && answer.contains("invalid answer")
}

/// The lie `bytes`, answered `502` before any head reached the client.
async fn refused_with_502(bytes: &str) {
    let (gw, up) = liar(vec![write(bytes)]).await;
    let first = ask(&gw, "GET").await;
    assert!(is_bad_gateway(&first), "{first}");
    next_request_is_served_fresh(&gw, &up, &first).await;
    let log = gw.stop().await;
    assert!(log.contains("upstream request failed"), "{log}");
}

// ---------------------------------------------------------------------------------------------
// Framing: a 502, never a desynchronized pooled connection.

#[tokio::test]
async fn content_length_with_transfer_encoding_is_a_502() {
    refused_with_502(&format!(
        "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n\
         {:x}\r\n{SMUGGLED}\r\n0\r\n\r\n",
        SMUGGLED.len()
    ))
    .await;
}

#[tokio::test]
async fn two_different_lengths_are_a_502() {
    refused_with_502("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!")
        .await;
}

#[tokio::test]
async fn a_folded_header_is_a_502() {
    refused_with_502("HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 2\r\n\r\nok").await;
}

#[tokio::test]
async fn bare_lf_line_endings_are_a_502() {
    // RFC 9112 §2.2 lets a recipient take a bare LF as a line end, and hyper (httparse) would;
    // a gateway that passed the answer on would vouch for bytes another reader splits otherwise.
    for lie in [
        "HTTP/1.1 200 OK\nContent-Length: 2\nX-After: 1\n\nok",
        "HTTP/1.1 200 OK\r\nX-After: 1\nContent-Length: 2\r\n\r\nok",
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\nok",
        "HTTP/1.1 100 Continue\n\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    ] {
        refused_with_502(lie).await;
    }
}

#[tokio::test]
async fn a_bare_lf_in_an_answer_on_a_reused_connection_is_a_502_too() {
    // The first answer is honest and its body has a bare LF (bodies are bytes); the connection
    // goes back to the pool, and the second answer on it lies.
    let good = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\na\nb";
    let lie = "HTTP/1.1 200 OK\nContent-Length: 5\n\nWRONG";
    let (gw, up) = gateway_in_front_of(
        vec![write(good)],
        vec![Step::Read, write(lie), Step::Read, write(WRONG)],
    )
    .await;
    let first = ask(&gw, "GET").await;
    assert!(status(&first) == 200 && first.ends_with("a\nb"), "{first}");
    let second = ask(&gw, "GET").await;
    assert!(is_bad_gateway(&second), "{second}");
    let next = get(&gw.url("/next")).await;
    assert_eq!(next.text(), "good");
    let on_the_liar = up.heard().iter().filter(|h| h.connection == 0).count();
    assert_eq!(on_the_liar, 2, "the lying connection was not used again");
    let log = gw.stop().await;
    assert!(log.contains("bare LF"), "{log}");
}

#[tokio::test]
async fn a_101_nobody_asked_for_is_a_502() {
    refused_with_502(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
    )
    .await;
}

#[tokio::test]
async fn too_many_header_fields_are_a_502() {
    let fields: String = (0..500).map(|i| format!("X-F{i}: v\r\n")).collect();
    refused_with_502(&format!(
        "HTTP/1.1 200 OK\r\n{fields}Content-Length: 2\r\n\r\nok"
    ))
    .await;
}

#[tokio::test]
async fn a_header_section_over_the_buffer_is_a_502() {
    let huge = "a".repeat(1024 * 1024);
    refused_with_502(&format!(
        "HTTP/1.1 200 OK\r\nX-Huge: {huge}\r\nContent-Length: 2\r\n\r\nok"
    ))
    .await;
}

#[tokio::test]
async fn a_flood_of_100_continue_is_a_502() {
    let flood = "HTTP/1.1 100 Continue\r\n\r\n".repeat(5_000);
    let (gw, _up) = odd_but_framed(vec![write(flood), honest_answer("late")]).await;
    let first = ask(&gw, "GET").await;
    assert!(is_bad_gateway(&first), "{}", &first[..first.len().min(300)]);
    assert!(!first.contains("100 Continue"), "a 1xx reached the client");
    assert_eq!(get(&gw.url("/next")).await.text(), "good");
    let log = gw.stop().await;
    assert!(log.contains("more than 32 informational"), "{log}");
}

#[tokio::test]
async fn a_few_informational_answers_before_the_final_one_pass() {
    let hints = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n";
    let (gw, _up) = odd_but_framed(vec![write(hints), honest_answer("late")]).await;
    let first = ask(&gw, "GET").await;
    assert!(status(&first) == 200 && first.ends_with("late"), "{first}");
    assert_eq!(get(&gw.url("/next")).await.text(), "good");
}

#[tokio::test]
async fn a_length_shorter_than_the_body_never_smuggles_the_rest() {
    let lie = format!("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nlie{SMUGGLED}");
    let (gw, up) = liar(vec![write(lie)]).await;
    let first = ask(&gw, "GET").await;
    // The length is the message (RFC 9112 §6.3): the client gets its 3 bytes; the rest is
    // garbage that must not be read as the next answer.
    assert!(
        status(&first) == 200 && first.ends_with("\r\n\r\nlie"),
        "{first}"
    );
    next_request_is_served_fresh(&gw, &up, &first).await;
}

#[tokio::test]
async fn a_body_on_a_204_or_304_is_not_read_as_the_next_answer() {
    for (code, line) in [(204, "204 No Content"), (304, "304 Not Modified")] {
        let (gw, up) = liar(vec![write(format!("HTTP/1.1 {line}\r\n\r\n{SMUGGLED}"))]).await;
        let first = ask(&gw, "GET").await;
        assert_eq!(status(&first), code, "{first}");
        next_request_is_served_fresh(&gw, &up, &first).await;
    }
}

#[tokio::test]
async fn a_body_on_a_head_answer_is_not_read_as_the_next_answer() {
    let lie = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{SMUGGLED}",
        SMUGGLED.len()
    );
    let (gw, up) = liar(vec![write(lie)]).await;
    let first = ask(&gw, "HEAD").await;
    assert_eq!(status(&first), 200, "{first}");
    assert!(
        first.ends_with("\r\n\r\n"),
        "a HEAD answer has no body: {first}"
    );
    next_request_is_served_fresh(&gw, &up, &first).await;
}

// ---------------------------------------------------------------------------------------------
// Bodies cut: the head went out, so the client's connection is cut; never a complete answer.

/// Whether a raw answer is complete: a chunked one with its last chunk, or one with all of its
/// `Content-Length` bytes.
fn complete(answer: &str) -> bool {
    let Some((head, body)) = answer.split_once("\r\n\r\n") else {
        return false;
    };
    let head = head.to_ascii_lowercase();
    if head.contains("transfer-encoding: chunked") {
        return body.ends_with("0\r\n\r\n");
    }
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok());
    length.is_some_and(|n| body.len() == n)
}

#[tokio::test]
async fn an_invalid_chunk_size_cuts_the_answer() {
    let lie = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\nworld\r\n0\r\n\r\n";
    let (gw, up) = liar(vec![write(lie)]).await;
    let first = ask(&gw, "GET").await;
    assert!(is_bad_gateway(&first) || !complete(&first), "{first}");
    next_request_is_served_fresh(&gw, &up, &first).await;
}

#[tokio::test]
async fn an_upstream_closing_mid_body_gives_an_incomplete_answer_and_a_log_line() {
    for (lie, what) in [
        (
            "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part",
            "short length",
        ),
        (
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\npart\r\n",
            "no last chunk",
        ),
    ] {
        let (gw, up) = liar(vec![write(lie), Step::Close]).await;
        let first = ask(&gw, "GET").await;
        assert_eq!(status(&first), 200, "{what}: {first}");
        assert!(!complete(&first), "{what}: a complete answer: {first}");
        assert!(first.contains("part"), "{what}: {first}");
        let next = get(&gw.url("/next")).await;
        assert_eq!(next.text(), "good", "{what}");
        assert_eq!(up.heard().len(), 2, "{what}");
        gw.wait_for_log("GET /lie 200", 1).await;
        let log = gw.stop().await;
        let access = log
            .lines()
            .find(|l| l.contains("GET /lie 200"))
            .expect("an access line");
        assert!(access.contains("complete=false"), "{what}: {access}");
    }
}

#[tokio::test]
async fn a_stalled_body_is_cut_at_idle_timeout() {
    let lie = vec![
        write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nfirst part"),
        Step::Sleep(Duration::from_secs(20)),
    ];
    let up = lying_upstream(move |n| {
        if n == 0 {
            [vec![Step::Read], lie.clone()].concat()
        } else {
            honest("good")
        }
    })
    .await;
    let dir = temp_dir();
    let toml = format!(
        "workers = 1\n\n[[listen]]\nbind = \"127.0.0.1:0\"\n\n[upstreams.app]\nservers = [\"{}\"]\n\n\
         [[routes]]\nupstream = \"app\"\n\n[proxy]\nidle_timeout = \"1s\"\n",
        up.url()
    );
    let gw = Gateway::run_file(dir.path(), &toml, &["--log", "info"]).await;
    let first = ask(&gw, "GET").await;
    assert!(first.contains("first part") && !complete(&first), "{first}");
    assert_eq!(get(&gw.url("/next")).await.text(), "good");
    gw.wait_for_log("answer cut", 1).await;
}

// ---------------------------------------------------------------------------------------------
// Headers that must not pass.

#[tokio::test]
async fn hop_by_hop_headers_and_foreign_cookie_domains_never_reach_the_client() {
    let answer = "HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Secret\r\nX-Secret: internal\r\n\
               Keep-Alive: timeout=5\r\nProxy-Authenticate: Basic\r\n\
               Upgrade: h2c\r\nSet-Cookie: a=1; Domain=attacker.example; Path=/\r\n\
               Set-Cookie: b=2; Path=/\r\nContent-Length: 2\r\n\r\nok";
    let (gw, _up) = odd_but_framed(vec![write(answer)]).await;
    let first = ask(&gw, "GET").await.to_ascii_lowercase();
    let head = first.split("\r\n\r\n").next().unwrap_or_default();
    for name in [
        "x-secret:",
        "keep-alive:",
        "proxy-authenticate:",
        "upgrade:",
    ] {
        assert!(!head.contains(name), "{name} passed: {head}");
    }
    assert!(head.contains("set-cookie: b=2"), "{head}");
    // A cookie for another site is not ours to pass with its domain: dropped or made host-only.
    assert!(!head.contains("attacker.example"), "{head}");
    assert_eq!(get(&gw.url("/next")).await.text(), "good");
}

#[tokio::test]
async fn an_http10_client_never_gets_transfer_encoding() {
    let chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    let (gw, up) = odd_but_framed(vec![write(chunked)]).await;
    let first = raw(
        gw.socket_addr(),
        b"GET /lie HTTP/1.0\r\nHost: gw.example\r\n\r\n",
    )
    .await;
    let head = first.split("\r\n\r\n").next().unwrap_or_default();
    assert!(
        !head.to_ascii_lowercase().contains("transfer-encoding"),
        "{first}"
    );
    assert!(first.ends_with("\r\n\r\nhello"), "{first}");
    assert_eq!(get(&gw.url("/next")).await.text(), "good");
    assert_eq!(up.heard().len(), 2);
}

// ---------------------------------------------------------------------------------------------
// Slow and silent upstreams: per request, and per group.

#[tokio::test]
async fn a_silent_upstream_group_does_not_slow_another() {
    let silent = lying_upstream(|_| vec![Step::Read, Step::Sleep(Duration::from_secs(25))]).await;
    let fast = lying_upstream(|_| honest("fast")).await;
    let dir = temp_dir();
    let toml = format!(
        "workers = 1\n\n[[listen]]\nbind = \"127.0.0.1:0\"\n\n\
         [upstreams.slow]\nservers = [\"{}\"]\n\n[upstreams.fast]\nservers = [\"{}\"]\n\n\
         [[routes]]\npath = \"/slow\"\nupstream = \"slow\"\n\n\
         [[routes]]\nupstream = \"fast\"\n\n[proxy]\nfirst_byte_timeout = \"3s\"\n",
        silent.url(),
        fast.url()
    );
    let gw = Gateway::run_file(dir.path(), &toml, &["--log", "info"]).await;
    // 32 requests held by the silent group, then the fast group answers all the same.
    let held: Vec<_> = (0..32)
        .map(|i| {
            let url = gw.url(&format!("/slow/{i}"));
            tokio::spawn(async move { get(&url).await.status })
        })
        .collect();
    assert!(eventually(async || silent.heard().len() == 32).await);
    for _ in 0..20 {
        assert_eq!(get(&gw.url("/other")).await.text(), "fast");
    }
    assert_eq!(fast.heard().len(), 20);
    // Each held request gets its own first-byte timeout.
    for h in held {
        assert_eq!(h.await.unwrap(), 504);
    }
}
