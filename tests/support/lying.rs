//! An upstream that lies: a raw socket that plays a script of bytes per connection (framing
//! the gateway must refuse, answers cut mid-body, silence), counting connections and keeping
//! every request head it read, so a test can tell which connection each request went to.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::TEST_TIMEOUT;

/// One step of a connection's script.
#[derive(Debug, Clone)]
pub enum Step {
    /// Read one request (its head, and a `Content-Length` body) and record it; the script
    /// ends when the peer closed instead.
    Read,
    /// Write these bytes as they are.
    Write(Vec<u8>),
    /// Wait this long (bounded by [`TEST_TIMEOUT`]).
    Sleep(Duration),
    /// Close the connection (the script ends).
    Close,
}

/// `Step::Write` of a text (answers are mostly ASCII).
pub fn write(text: impl AsRef<[u8]>) -> Step {
    Step::Write(text.as_ref().to_vec())
}

/// A well-formed `200` whose body is `body`, kept alive.
pub fn honest_answer(body: &str) -> Step {
    write(format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ))
}

/// A script answering `body` to each of up to 64 requests.
pub fn honest(body: &str) -> Vec<Step> {
    (0..64)
        .flat_map(|_| [Step::Read, honest_answer(body)])
        .collect()
}

/// One request a [`LyingUpstream`] read.
#[derive(Debug, Clone)]
pub struct Heard {
    /// The connection it came on, counting from 0.
    pub connection: usize,
    /// Its head, without the blank line.
    pub head: String,
    /// The length of its body (by `Content-Length`).
    pub body_len: usize,
}

/// A raw-socket upstream running a script per connection; it lives as long as the test's
/// runtime.
pub struct LyingUpstream {
    pub addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    heard: Arc<Mutex<Vec<Heard>>>,
}

impl LyingUpstream {
    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// The requests read so far, in order.
    pub fn heard(&self) -> Vec<Heard> {
        self.heard.lock().unwrap().clone()
    }
}

/// Starts an upstream that plays `script(n)` on its `n`th connection (from 0); after the
/// script the connection is held open until the peer closes it (at most [`TEST_TIMEOUT`]).
pub async fn lying_upstream<F>(script: F) -> LyingUpstream
where
    F: Fn(usize) -> Vec<Step> + Send + Sync + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let heard = Arc::new(Mutex::new(Vec::new()));
    let (count, log) = (connections.clone(), heard.clone());
    let script = Arc::new(script);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let n = count.fetch_add(1, Ordering::SeqCst);
            let steps = script(n);
            tokio::spawn(play(stream, n, steps, log.clone()));
        }
    });
    LyingUpstream {
        addr,
        connections,
        heard,
    }
}

async fn play(mut stream: TcpStream, n: usize, steps: Vec<Step>, log: Arc<Mutex<Vec<Heard>>>) {
    for step in steps {
        match step {
            Step::Read => match read_request(&mut stream).await {
                Some((head, body_len)) => log.lock().unwrap().push(Heard {
                    connection: n,
                    head,
                    body_len,
                }),
                None => return,
            },
            Step::Write(bytes) => {
                if stream.write_all(&bytes).await.is_err() {
                    return;
                }
            }
            Step::Sleep(d) => tokio::time::sleep(d.min(TEST_TIMEOUT)).await,
            Step::Close => return,
        }
    }
    let mut sink = [0u8; 1024];
    let hold = async { while matches!(stream.read(&mut sink).await, Ok(1..)) {} };
    let _ = tokio::time::timeout(TEST_TIMEOUT, hold).await;
}

/// Reads a request head (up to 64 KiB) and its `Content-Length` body; `None` when the peer
/// closed first.
async fn read_request(stream: &mut TcpStream) -> Option<(String, usize)> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let read = tokio::time::timeout(TEST_TIMEOUT, stream.read(&mut byte)).await;
        if head.len() > 64 * 1024 || !matches!(read, Ok(Ok(1))) {
            return None;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head[..head.len() - 4]).into_owned();
    let length = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| n.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await.ok()?;
    Some((head, length))
}
