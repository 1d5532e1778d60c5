//! `sendfile(2)` under hyper: a file's bytes go from the page cache to the socket without
//! being copied through the process, as nginx's `sendfile on` sends them.
//!
//! hyper writes a body from memory, and the kernel copies every byte of it into the socket's
//! buffers: for a 1 MiB file answered from [`ServeDir`]'s memory cache that copy was 43 % of
//! the process's time (`BENCHMARKS.md`). hyper has no way to hand it a file descriptor instead
//! (hyperium/hyper#140, #3026), so the exchange happens below it, at the socket:
//!
//! 1. On a plain connection (no TLS: TLS must encrypt every byte in the process), `serve`
//!    runs the connection's task inside [`scope`] with one [`FileRegion`] slot, which the
//!    socket (`serve::io::ConnIo`) shares.
//! 2. [`ServeDir`] with `FileIo::InPlace` (the runtime may wait on the disk: `sendfile` reads
//!    the file on it), answering an HTTP/1 request with a file larger than
//!    [`SMALL_FILE`](crate::files::SMALL_FILE) from memory, finds the slot ([`current`]) and
//!    [`offers`](FileRegion::offer) it the bytes it answers with and the file they were read
//!    from, opened again and checked to be the same version.
//! 3. When hyper asks the socket to write a slice that lies inside those bytes, the socket
//!    sends the same span of the file with `sendfile` (the head before it with `MSG_MORE`, so
//!    both leave in one packet) and tells hyper it wrote that many bytes.
//!
//! Why the client cannot get other bytes than hyper meant: the region keeps its [`Bytes`]
//! alive, so no other buffer can occupy those addresses while it is offered, and a slice
//! inside them *is* part of those bytes, which are the file's content at the version checked.
//! Anything else — a slice elsewhere, a layer that compressed or replaced the body, HTTP/2's
//! frames, a file that shrank (`sendfile` sends nothing), any error of `sendfile` — is written
//! from memory as without this. What remains is the race nginx has too: a file rewritten in
//! place while it is being sent is sent as it is on disk at that moment.
//!
//! [`ServeDir`]: crate::files::ServeDir

use std::fs::File;
use std::io::{self, IoSlice};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use rustix::net::{SendAncillaryBuffer, SendFlags};
use tokio::io::Interest;
use tokio::net::TcpStream;

tokio::task_local! {
    /// The slot of the connection whose task this is.
    static CONNECTION: Arc<FileRegion>;
}

/// Runs `connection` (a plain connection's task) with `slot` as its [`current`] one.
pub(crate) async fn scope<F: std::future::Future>(
    slot: Arc<FileRegion>,
    connection: F,
) -> F::Output {
    CONNECTION.scope(slot, connection).await
}

/// The slot of the connection this task serves, if it is a plain one `serve` runs.
pub(crate) fn current() -> Option<Arc<FileRegion>> {
    CONNECTION.try_with(Arc::clone).ok()
}

/// One connection's offered region: at most one at a time, the last offered (an answer
/// offered while an earlier one is still being written only makes the earlier one's rest go
/// out from memory).
#[derive(Debug, Default)]
pub(crate) struct FileRegion {
    /// Whether a region is offered: what every other write of the connection looks at.
    offered: AtomicBool,
    region: Mutex<Option<Region>>,
}

#[derive(Debug)]
struct Region {
    /// The bytes hyper was given, kept alive so that their addresses stay theirs.
    bytes: Bytes,
    /// The same bytes on disk, from offset 0.
    file: File,
    /// Whether a write went through it: a later write outside it means its answer is over.
    touched: bool,
}

impl Region {
    /// Where `slice` starts in the file and how many of its bytes are the file's, when it
    /// lies inside the region's bytes.
    fn locate(&self, slice: &[u8]) -> Option<(u64, usize)> {
        let start = self.bytes.as_ptr() as usize;
        let at = (slice.as_ptr() as usize).checked_sub(start)?;
        // An empty slice's pointer can be anything.
        if slice.is_empty() || at >= self.bytes.len() {
            return None;
        }
        Some((at as u64, slice.len().min(self.bytes.len() - at)))
    }
}

impl FileRegion {
    /// Offers `bytes`, the content of `file` from its start, to be sent from the file when
    /// hyper writes them.
    pub(crate) fn offer(&self, bytes: Bytes, file: File) {
        let mut region = self.lock();
        *region = Some(Region {
            bytes,
            file,
            touched: false,
        });
        self.offered.store(true, Ordering::Release);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Region>> {
        self.region.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn withdraw(&self, region: &mut Option<Region>) {
        *region = None;
        self.offered.store(false, Ordering::Release);
    }

    /// Writes `bufs` to `socket` when one of them lies in the offered region: the slices
    /// before it with `MSG_MORE`, then its span of the file with `sendfile`. `Ready(None)`
    /// when nothing is offered, none of them is in it, or `sendfile` cannot send it: write
    /// them as usual.
    pub(crate) fn poll_write(
        &self,
        socket: &TcpStream,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<Option<io::Result<usize>>> {
        if !self.offered.load(Ordering::Acquire) {
            return Poll::Ready(None);
        }
        let mut guard = self.lock();
        let Some(region) = guard.as_mut() else {
            return Poll::Ready(None);
        };
        let Some((index, (offset, count))) = bufs
            .iter()
            .enumerate()
            .find_map(|(i, buf)| region.locate(buf).map(|span| (i, span)))
        else {
            if region.touched {
                self.withdraw(&mut guard);
            }
            return Poll::Ready(None);
        };
        let head = &bufs[..index];
        let head_len: usize = head.iter().map(|b| b.len()).sum();
        let mut written = 0;
        if head_len > 0 {
            written = match ready!(poll_io(socket, cx, || send_more(socket, head))) {
                Ok(n) => n,
                Err(e) => return Poll::Ready(Some(Err(e))),
            };
            if written < head_len {
                return Poll::Ready(Some(Ok(written)));
            }
        }
        let sent = if written == 0 {
            ready!(poll_io(socket, cx, || send_file(
                socket,
                &region.file,
                offset,
                count
            )))
        } else {
            // The head went out: report it now rather than wait for room for the file.
            match socket.try_io(Interest::WRITABLE, || {
                send_file(socket, &region.file, offset, count)
            }) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Poll::Ready(Some(Ok(written)))
                }
                other => other,
            }
        };
        if let Ok(n @ 1..) = sent {
            region.touched = true;
            if offset as usize + n == region.bytes.len() {
                self.withdraw(&mut guard);
            }
            return Poll::Ready(Some(Ok(written + n)));
        }
        let touched = region.touched;
        self.withdraw(&mut guard);
        Poll::Ready(match sent {
            // Nothing of the file went out yet: it is shorter than its bytes (it shrank), or
            // `sendfile` cannot read it. The bytes come from memory, as without `sendfile`.
            _ if !touched => (written > 0).then_some(Ok(written)),
            // Part of it went out: the client already has bytes of what is on disk now, and
            // the rest from memory could be of another version. End the answer short, as
            // nginx does ("file was truncated"); its length says so.
            Ok(_) => Some(Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file was truncated while it was sent",
            ))),
            Err(e) => Some(Err(e)),
        })
    }
}

/// `op` once the socket is writable, again after each `WouldBlock` (tokio's own
/// `poll_write`, for another system call).
fn poll_io(
    socket: &TcpStream,
    cx: &mut Context<'_>,
    mut op: impl FnMut() -> io::Result<usize>,
) -> Poll<io::Result<usize>> {
    loop {
        ready!(socket.poll_write_ready(cx))?;
        match socket.try_io(Interest::WRITABLE, &mut op) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            result => return Poll::Ready(result),
        }
    }
}

/// The slices before the file's span, held back by the kernel for the span that follows.
fn send_more(socket: &TcpStream, head: &[IoSlice<'_>]) -> io::Result<usize> {
    let flags = SendFlags::MORE | SendFlags::NOSIGNAL;
    Ok(rustix::net::sendmsg(
        socket,
        head,
        &mut SendAncillaryBuffer::default(),
        flags,
    )?)
}

fn send_file(socket: &TcpStream, file: &File, offset: u64, count: usize) -> io::Result<usize> {
    let mut offset = offset;
    Ok(rustix::fs::sendfile(
        socket,
        file,
        Some(&mut offset),
        count,
    )?)
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use tokio::io::AsyncReadExt;

    use super::*;

    /// A connected pair on loopback: the socket the server writes to, the client's end.
    async fn pair() -> (TcpStream, TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap());
        let (client, (server, _)) =
            tokio::join!(client, async { listener.accept().await.unwrap() });
        (server, client.unwrap())
    }

    fn file_with(content: &[u8]) -> File {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(content).unwrap();
        file
    }

    async fn write(slot: &FileRegion, socket: &TcpStream, bufs: &[IoSlice<'_>]) -> Option<usize> {
        std::future::poll_fn(|cx| slot.poll_write(socket, cx, bufs))
            .await
            .map(|r| r.unwrap())
    }

    async fn read(client: &mut TcpStream, len: usize) -> Vec<u8> {
        let mut got = vec![0; len];
        client.read_exact(&mut got).await.unwrap();
        got
    }

    /// A slice inside the offered bytes is sent from the file: the file here differs from
    /// the bytes on purpose, to see which one went out.
    #[tokio::test]
    async fn a_slice_of_the_offered_bytes_is_sent_from_the_file() {
        let (server, mut client) = pair().await;
        let slot = FileRegion::default();
        let bytes = Bytes::from(vec![b'm'; 1000]);
        let on_disk: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
        slot.offer(bytes.clone(), file_with(&on_disk));

        let head = b"HTTP/1.1 200 OK\r\n\r\n";
        let bufs = [IoSlice::new(head), IoSlice::new(&bytes[100..400])];
        let n = write(&slot, &server, &bufs).await.expect("in the region");
        assert_eq!(n, head.len() + 300);
        assert_eq!(read(&mut client, head.len()).await, head);
        assert_eq!(read(&mut client, 300).await, on_disk[100..400]);
        assert!(slot.offered.load(Ordering::Acquire), "not at its end yet");

        // The last span withdraws the region.
        let n = write(&slot, &server, &[IoSlice::new(&bytes[400..])]).await;
        assert_eq!(n, Some(600));
        assert_eq!(read(&mut client, 600).await, on_disk[400..]);
        assert!(!slot.offered.load(Ordering::Acquire));
        assert_eq!(
            write(&slot, &server, &[IoSlice::new(&bytes[..10])]).await,
            None
        );
    }

    /// Bytes elsewhere are the caller's to write; once the region was used, a write outside
    /// it (the next answer) withdraws it.
    #[tokio::test]
    async fn slices_outside_the_region_are_left_to_the_caller() {
        let (server, mut client) = pair().await;
        let slot = FileRegion::default();
        let bytes = Bytes::from(vec![b'm'; 100]);
        slot.offer(bytes.clone(), file_with(&[b'f'; 100]));
        let other = vec![b'o'; 100];
        assert_eq!(write(&slot, &server, &[IoSlice::new(&other)]).await, None);
        assert!(
            slot.offered.load(Ordering::Acquire),
            "not used yet: still offered"
        );

        assert_eq!(
            write(&slot, &server, &[IoSlice::new(&bytes[..50])]).await,
            Some(50)
        );
        assert_eq!(read(&mut client, 50).await, [b'f'; 50]);
        assert_eq!(write(&slot, &server, &[IoSlice::new(&other)]).await, None);
        assert!(!slot.offered.load(Ordering::Acquire));
    }

    /// A file shorter than its bytes (truncated since it was read) sends nothing: the caller
    /// writes from memory, and the region is withdrawn.
    #[tokio::test]
    async fn a_file_that_shrank_is_left_to_memory() {
        let (server, _client) = pair().await;
        let slot = FileRegion::default();
        let bytes = Bytes::from(vec![b'm'; 100]);
        slot.offer(bytes.clone(), file_with(&[b'f'; 10]));
        assert_eq!(
            write(&slot, &server, &[IoSlice::new(&bytes[20..])]).await,
            None
        );
        assert!(!slot.offered.load(Ordering::Acquire));
    }

    /// A file that shrinks after part of it went out ends the answer with an error: the rest
    /// from memory could be of another version than what the client already has.
    #[tokio::test]
    async fn a_file_that_shrank_midway_ends_the_answer() {
        let (server, mut client) = pair().await;
        let slot = FileRegion::default();
        let bytes = Bytes::from(vec![b'f'; 100]);
        let file = file_with(&[b'f'; 100]);
        slot.offer(bytes.clone(), file.try_clone().unwrap());
        assert_eq!(
            write(&slot, &server, &[IoSlice::new(&bytes[..40])]).await,
            Some(40)
        );
        assert_eq!(read(&mut client, 40).await, [b'f'; 40]);
        file.set_len(40).unwrap();
        let rest = [IoSlice::new(&bytes[40..])];
        let result = std::future::poll_fn(|cx| slot.poll_write(&server, cx, &rest)).await;
        let error = result.expect("not left to the caller").unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
        assert!(!slot.offered.load(Ordering::Acquire));
    }
}
