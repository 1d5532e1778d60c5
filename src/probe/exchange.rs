//! One case on one connection: write its bytes, read and count the answers, then send a
//! follow-up `GET` to learn whether the connection is still in step. Every wait is bounded.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// Most bytes kept from one phase's answers (what is past it is not parsed).
const MAX_ANSWER_BYTES: usize = 1 << 20;
/// Most answers parsed in one phase.
const MAX_ANSWERS: usize = 16;

/// What the server sent back in one phase.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Phase {
    /// Every status, interim (1xx) ones included, in order.
    pub(crate) statuses: Vec<u16>,
    /// The server closed the connection (or reset it).
    pub(crate) closed: bool,
    /// The phase ended because nothing more came within the timeout while answers were missing.
    pub(crate) timed_out: bool,
    /// A `101 Switching Protocols`: what follows is not HTTP/1.1.
    pub(crate) switched: bool,
    /// Bytes that are not an HTTP/1.x answer.
    pub(crate) garbled: bool,
}

impl Phase {
    /// How many final (non-1xx) answers.
    pub(crate) fn finals(&self) -> usize {
        self.statuses.iter().filter(|&&s| s >= 200).count()
    }
}

/// How long to wait.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Waits {
    /// Connecting, writing, and each read while answers are missing.
    pub(crate) timeout: Duration,
    /// How long to wait for more answers once the expected ones came.
    pub(crate) quiet: Duration,
}

/// What one case's exchange saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Exchange {
    pub(crate) case: Phase,
    /// `None` when no follow-up was sent (the connection was closed or switched).
    pub(crate) follow_up: Option<Phase>,
}

/// Connects to `addr`, sends `bytes` (meaning `meant` requests), reads the answers, then
/// sends `follow_up` on the same connection unless it is gone.
pub(crate) async fn exchange(
    addr: SocketAddr,
    bytes: &[u8],
    meant: usize,
    follow_up: &[u8],
    waits: Waits,
) -> Result<Exchange, String> {
    let mut stream = match timeout(waits.timeout, TcpStream::connect(addr)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => return Err(format!("cannot connect to {addr}: {e}")),
        Err(_) => {
            return Err(format!(
                "no connection to {addr} within {:?}",
                waits.timeout
            ))
        }
    };
    // A server may close before reading everything (a 400 on the head): its answer still counts.
    let _ = timeout(waits.timeout, stream.write_all(bytes)).await;
    let mut reader = Reader::default();
    let case = reader.phase(&mut stream, meant, waits).await;
    if case.closed || case.switched || case.garbled {
        return Ok(Exchange {
            case,
            follow_up: None,
        });
    }
    let _ = timeout(waits.timeout, stream.write_all(follow_up)).await;
    let after = reader.phase(&mut stream, 1, waits).await;
    Ok(Exchange {
        case,
        follow_up: Some(after),
    })
}

/// Answer bytes read and not yet parsed.
#[derive(Default)]
struct Reader {
    buf: Vec<u8>,
}

impl Reader {
    /// Reads answers until `want` final ones came and the connection stayed quiet, or the
    /// timeout passed, or the connection closed.
    async fn phase(&mut self, stream: &mut TcpStream, want: usize, waits: Waits) -> Phase {
        let mut phase = Phase::default();
        let mut chunk = [0u8; 8192];
        loop {
            while let Some(step) = next_answer(&self.buf) {
                match step {
                    Parsed::Answer { status, used } => {
                        self.buf.drain(..used);
                        phase.statuses.push(status);
                        if status == 101 {
                            phase.switched = true;
                            return phase;
                        }
                    }
                    Parsed::Garbled => {
                        phase.garbled = true;
                        return phase;
                    }
                }
                if phase.statuses.len() >= MAX_ANSWERS {
                    return phase;
                }
            }
            let wait = if phase.finals() >= want {
                waits.quiet
            } else {
                waits.timeout
            };
            match timeout(wait, stream.read(&mut chunk)).await {
                Ok(Ok(0)) | Ok(Err(_)) => {
                    phase.closed = true;
                    // A close-delimited answer ends here.
                    if let Some(status) = close_delimited(&self.buf) {
                        self.buf.clear();
                        phase.statuses.push(status);
                    }
                    return phase;
                }
                Ok(Ok(n)) if self.buf.len() + n <= MAX_ANSWER_BYTES => {
                    self.buf.extend_from_slice(&chunk[..n]);
                }
                Ok(Ok(_)) => return phase,
                Err(_) => {
                    phase.timed_out = phase.finals() < want;
                    return phase;
                }
            }
        }
    }
}

enum Parsed {
    Answer { status: u16, used: usize },
    Garbled,
}

/// The head of the answer at the start of `buf`: its status, the head's length and the
/// framing of its body. `None` while incomplete.
fn head(buf: &[u8]) -> Option<Result<(u16, usize, Framing), ()>> {
    let mut fields = [httparse::EMPTY_HEADER; 64];
    let mut res = httparse::Response::new(&mut fields);
    let used = match res.parse(buf) {
        Ok(httparse::Status::Complete(used)) => used,
        Ok(httparse::Status::Partial) => return None,
        Err(_) => return Some(Err(())),
    };
    let status = res.code.unwrap_or(0);
    let mut framing = Framing::Close;
    if (100..200).contains(&status) || status == 204 || status == 304 {
        framing = Framing::Length(0);
    } else {
        for field in res.headers.iter() {
            let value = String::from_utf8_lossy(field.value);
            if field.name.eq_ignore_ascii_case("transfer-encoding")
                && value.to_ascii_lowercase().contains("chunked")
            {
                framing = Framing::Chunked;
                break;
            }
            if field.name.eq_ignore_ascii_case("content-length") {
                match value.trim().parse() {
                    Ok(n) => framing = Framing::Length(n),
                    Err(_) => return Some(Err(())),
                }
            }
        }
    }
    Some(Ok((status, used, framing)))
}

enum Framing {
    Length(usize),
    Chunked,
    Close,
}

/// The next complete answer in `buf`, `None` while it is incomplete or close-delimited.
fn next_answer(buf: &[u8]) -> Option<Parsed> {
    if buf.is_empty() {
        return None;
    }
    let (status, used, framing) = match head(buf)? {
        Ok(head) => head,
        Err(()) => return Some(Parsed::Garbled),
    };
    let body = match framing {
        Framing::Length(n) => (buf.len() - used >= n).then_some(n)?,
        Framing::Chunked => chunked_len(&buf[used..])?,
        Framing::Close => return None,
    };
    Some(Parsed::Answer {
        status,
        used: used + body,
    })
}

/// The status of a close-delimited answer left in `buf` when the connection closed.
fn close_delimited(buf: &[u8]) -> Option<u16> {
    match head(buf)? {
        Ok((status, _, Framing::Close)) => Some(status),
        _ => None,
    }
}

/// The length of a complete chunked body at the start of `buf` (trailers included).
fn chunked_len(buf: &[u8]) -> Option<usize> {
    let mut at = 0;
    loop {
        let (line_end, size) = match httparse::parse_chunk_size(&buf[at..]) {
            Ok(httparse::Status::Complete((used, size))) => (at + used, size),
            // A body we cannot read ends the phase the same as garbage: count what came.
            _ => return None,
        };
        if size == 0 {
            at = line_end;
            // Trailer lines, then an empty line.
            loop {
                let end = buf[at..].windows(2).position(|w| w == b"\r\n")?;
                at += end + 2;
                if end == 0 {
                    return Some(at);
                }
            }
        }
        let size = usize::try_from(size).ok()?;
        at = line_end.checked_add(size)?.checked_add(2)?;
        if at > buf.len() {
            return None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_split_by_their_framing() {
        let two = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokHTTP/1.1 400 Bad\r\ntransfer-encoding: chunked\r\n\r\n2\r\nno\r\n0\r\n\r\n";
        let Some(Parsed::Answer { status, used }) = next_answer(two) else {
            panic!("one answer")
        };
        assert_eq!((status, used), (200, 40));
        let Some(Parsed::Answer { status, used }) = next_answer(&two[40..]) else {
            panic!("a chunked answer")
        };
        assert_eq!((status, 40 + used), (400, two.len()));
        assert!(next_answer(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nok").is_none());
        assert!(matches!(
            next_answer(b"garbage\r\n\r\n"),
            Some(Parsed::Garbled)
        ));
        assert_eq!(close_delimited(b"HTTP/1.0 501 No\r\n\r\nbody"), Some(501));
    }
}
