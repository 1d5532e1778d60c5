//! Raw bytes on a socket, so hostile requests reach the server byte for byte: write, read
//! (until the server closes, or until it goes quiet), and parse the answer into a
//! [`Fetched`]. Every read is bounded by [`TEST_TIMEOUT`].

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{Fetched, TEST_TIMEOUT};

/// Connects to `addr` (bounded by [`TEST_TIMEOUT`]).
pub async fn connect(addr: SocketAddr) -> TcpStream {
    tokio::time::timeout(TEST_TIMEOUT, TcpStream::connect(addr))
        .await
        .expect("connected within the test timeout")
        .unwrap_or_else(|e| panic!("connect to {addr}: {e}"))
}

/// Writes `bytes` on a fresh connection to `addr`, then reads until the server closes it
/// (bounded by [`TEST_TIMEOUT`]) and returns everything read, lossily as text.
pub async fn raw(addr: SocketAddr, bytes: &[u8]) -> String {
    let mut stream = connect(addr).await;
    stream.write_all(bytes).await.expect("write the request");
    read_to_close(&mut stream).await
}

/// Reads from `stream` until the server closes it, bounded by [`TEST_TIMEOUT`].
///
/// # Panics
///
/// When the server has not closed the connection by then; the message shows what was read.
pub async fn read_to_close(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let read = tokio::time::timeout(TEST_TIMEOUT, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "the server did not close the connection; read so far: {:?}",
        String::from_utf8_lossy(&out)
    );
    String::from_utf8_lossy(&out).into_owned()
}

/// Sends `raw` on a fresh connection and reads until the server closes it or goes quiet for
/// `quiet` (at most [`TEST_TIMEOUT`] per read): for answers on connections kept open.
pub async fn raw_exchange(addr: SocketAddr, raw: &[u8], quiet: Duration) -> String {
    let mut stream = connect(addr).await;
    stream.write_all(raw).await.expect("write the request");
    read_until_quiet(&mut stream, quiet).await
}

/// Reads what arrives until the peer closes or nothing comes for `quiet` (at most
/// [`TEST_TIMEOUT`]).
pub async fn read_until_quiet(stream: &mut TcpStream, quiet: Duration) -> String {
    let quiet = quiet.min(TEST_TIMEOUT);
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match tokio::time::timeout(quiet, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `GET target HTTP/1.1` with `Host: localhost`, `headers` and `Connection: close`, the
/// target exactly as given (it may hold bytes no client would send).
pub fn get_request(target: &[u8], headers: &[(&str, &str)]) -> Vec<u8> {
    let mut req = b"GET ".to_vec();
    req.extend_from_slice(target);
    req.extend_from_slice(b" HTTP/1.1\r\nHost: localhost\r\n");
    for (name, value) in headers {
        req.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    req.extend_from_slice(b"Connection: close\r\n\r\n");
    req
}

/// Sends [`get_request`]`(target, headers)` and parses the answer.
pub async fn raw_get(
    addr: SocketAddr,
    target: impl AsRef<[u8]>,
    headers: &[(&str, &str)],
) -> Fetched {
    let answer = raw(addr, &get_request(target.as_ref(), headers)).await;
    parse(answer.as_bytes())
}

/// Sends `head` (request line and headers, `\r\n`-separated, without the final blank line)
/// with `Connection: close` and parses the answer.
pub async fn raw_request(addr: SocketAddr, head: &str) -> Fetched {
    let request = format!("{head}\r\nConnection: close\r\n\r\n");
    parse(raw(addr, request.as_bytes()).await.as_bytes())
}

/// How [`raw_stream`] frames its body.
#[derive(Clone, Copy, Debug)]
pub enum Framing {
    /// `Content-Length: N`, then the chunks as they come.
    Length(u64),
    /// `Transfer-Encoding: chunked`, one HTTP chunk per stream item.
    Chunked,
}

/// Sends `head` (request line and headers without the framing header or the blank line) and
/// then `body`, written lazily chunk by chunk while the answer is read, and returns the
/// answer as soon as it is complete (or when the server closes). Write errors end the body
/// quietly: the server may answer and close before reading everything.
pub async fn raw_stream<S>(addr: SocketAddr, head: &str, framing: Framing, body: S) -> Fetched
where
    S: Stream<Item = Bytes> + Send + 'static,
{
    let (mut rd, mut wr) = connect(addr).await.into_split();
    let framing_header = match framing {
        Framing::Length(n) => format!("Content-Length: {n}"),
        Framing::Chunked => "Transfer-Encoding: chunked".to_owned(),
    };
    let head = format!("{head}\r\n{framing_header}\r\n\r\n");
    let writer = tokio::spawn(async move {
        wr.write_all(head.as_bytes()).await?;
        let mut body = std::pin::pin!(body);
        while let Some(chunk) = body.next().await {
            if let Framing::Chunked = framing {
                if chunk.is_empty() {
                    continue;
                }
                wr.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                    .await?;
                wr.write_all(&chunk).await?;
                wr.write_all(b"\r\n").await?;
            } else {
                wr.write_all(&chunk).await?;
            }
        }
        if let Framing::Chunked = framing {
            wr.write_all(b"0\r\n\r\n").await?;
        }
        Ok::<_, std::io::Error>(wr)
    });
    let read = async {
        let mut buf = Vec::new();
        while complete(&buf).is_none() {
            match rd.read_buf(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        buf
    };
    let answer = tokio::time::timeout(TEST_TIMEOUT, read)
        .await
        .expect("the server answers (a hang guard, not a timing target)");
    writer.abort();
    parse(&answer)
}

/// Reads the next answer off a kept-alive connection — its head, then its body as
/// `Content-Length` or chunked framing says (none after a `HEAD`: `head_only`) — and parses it
/// ([`parse`]). Answers pipelined behind it stay in the socket. Bounded by [`TEST_TIMEOUT`].
pub async fn read_answer(stream: &mut TcpStream, head_only: bool) -> Fetched {
    async fn line(stream: &mut TcpStream, into: &mut Vec<u8>) -> std::io::Result<usize> {
        let start = into.len();
        while !into[start..].ends_with(b"\r\n") {
            into.push(stream.read_u8().await?);
        }
        Ok(into.len() - start)
    }
    let read = async {
        let mut bytes = Vec::new();
        while line(stream, &mut bytes).await? > 2 {}
        let head = parse(&bytes);
        let chunked = head.header("transfer-encoding") == Some("chunked");
        let length: usize = head.header("content-length").map_or(0, |v| {
            v.parse().unwrap_or_else(|_| panic!("Content-Length {v:?}"))
        });
        match (head_only, chunked) {
            (true, _) => {}
            (false, true) => loop {
                let start = bytes.len();
                line(stream, &mut bytes).await?;
                let size = std::str::from_utf8(&bytes[start..bytes.len() - 2])
                    .ok()
                    .and_then(|s| usize::from_str_radix(s.trim(), 16).ok())
                    .unwrap_or_else(|| panic!("a chunk size: {:?}", &bytes[start..]));
                let at = bytes.len();
                bytes.resize(at + size + 2, 0);
                stream.read_exact(&mut bytes[at..]).await?;
                if size == 0 {
                    break;
                }
            },
            (false, false) => {
                let at = bytes.len();
                bytes.resize(at + length, 0);
                stream.read_exact(&mut bytes[at..]).await?;
            }
        }
        Ok::<_, std::io::Error>(bytes)
    };
    let bytes = tokio::time::timeout(TEST_TIMEOUT, read)
        .await
        .expect("an answer within the test timeout")
        .expect("read an answer");
    parse(&bytes)
}

/// The length of the first answer in `buf` when its head and its `Content-Length` body have
/// all arrived.
fn complete(buf: &[u8]) -> Option<usize> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut res = httparse::Response::new(&mut headers);
    let httparse::Status::Complete(head_len) = res.parse(buf).ok()? else {
        return None;
    };
    let length: usize = res
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
        .and_then(|h| std::str::from_utf8(h.value).ok()?.parse().ok())?;
    (buf.len() >= head_len + length).then_some(head_len + length)
}

/// The first HTTP/1 answer in `bytes`: status, headers, and the body (de-chunked when
/// chunked, `Content-Length` bytes when given, else everything after the head).
///
/// # Panics
///
/// When `bytes` does not start with a status line; the message shows them.
pub fn parse(bytes: &[u8]) -> Fetched {
    let text = String::from_utf8_lossy(bytes);
    let split = bytes.windows(4).position(|w| w == b"\r\n\r\n");
    let (head, body) = match split {
        Some(i) => (&bytes[..i], &bytes[i + 4..]),
        None => (bytes, &b""[..]),
    };
    let head = String::from_utf8_lossy(head);
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse::<u16>().ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let mut headers = HeaderMap::new();
    for (name, value) in lines.filter_map(|l| l.split_once(':')) {
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .unwrap_or_else(|e| panic!("header name {name:?} ({e}) in {text:?}"));
        let value = HeaderValue::from_str(value.trim())
            .unwrap_or_else(|e| panic!("header value {value:?} ({e}) in {text:?}"));
        headers.append(name, value);
    }
    let chunked = headers
        .get_all(http::header::TRANSFER_ENCODING)
        .iter()
        .any(|v| v.to_str().is_ok_and(|v| v.contains("chunked")));
    let length = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    let body = match (chunked, length) {
        (true, _) => dechunk(body),
        (false, Some(n)) => body[..n.min(body.len())].to_vec(),
        (false, None) => body.to_vec(),
    };
    Fetched {
        status,
        headers,
        body: Bytes::from(body),
    }
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(i) = body.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&body[..i])
            .ok()
            .and_then(|s| usize::from_str_radix(s.trim(), 16).ok())
            .unwrap_or(0);
        let rest = &body[i + 2..];
        if size == 0 || rest.len() < size {
            break;
        }
        out.extend_from_slice(&rest[..size]);
        body = rest[size..].strip_prefix(b"\r\n").unwrap_or(&rest[size..]);
    }
    out
}

/// How many HTTP/1 responses (status lines) `text` holds.
pub fn count_responses(text: &str) -> usize {
    text.matches("HTTP/1.1 ").count() + text.matches("HTTP/1.0 ").count()
}
