//! A plain-HTTP request sent to a TLS listener gets a `400` that says to use `https://`, as
//! nginx's 497 does, rather than a TLS alert the client shows as a garbled error.

use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// The answer: a short text and `Connection: close`.
const ANSWER: &str = "This address speaks HTTPS: the request was sent in plain HTTP. Use \
                      https:// instead of http:// in the URL.\n";

/// Whether the connection starts like an HTTP/1 request (an ASCII upper-case letter, the
/// first of a method) rather than a TLS handshake (`0x16`). Waits at most `within` for a
/// first byte; `false` when none came.
pub(super) async fn starts_with_plain_http(stream: &TcpStream, within: Duration) -> bool {
    let mut first = [0u8; 1];
    matches!(
        tokio::time::timeout(within, stream.peek(&mut first)).await,
        Ok(Ok(1)) if first[0].is_ascii_uppercase()
    )
}

/// Answers `400` on `stream` and closes it. What the client sent is read first (at most
/// 64 KiB, for at most `within`), so closing does not reset the connection before the
/// client has read the answer.
pub(super) async fn answer(mut stream: TcpStream, peer: std::net::SocketAddr, within: Duration) {
    tracing::debug!(%peer, "plain HTTP on a TLS listener: 400");
    let head = format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{ANSWER}",
        ANSWER.len()
    );
    let exchange = async {
        let mut buf = [0u8; 4096];
        // The request head is already here (it was peeked): take what has arrived.
        while let Ok(n) = stream.try_read(&mut buf) {
            if n == 0 {
                break;
            }
        }
        stream.write_all(head.as_bytes()).await?;
        stream.shutdown().await?;
        let mut drained = 0usize;
        while drained < 64 * 1024 {
            match stream.read(&mut buf).await? {
                0 => break,
                n => drained += n,
            }
        }
        std::io::Result::Ok(())
    };
    let _ = tokio::time::timeout(within, exchange).await;
}
