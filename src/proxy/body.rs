//! The bodies the proxy streams: the request on its way up (size limit, `100-continue` gate,
//! progress for the timeouts) and the answer on its way down (idle timeout).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::Frame;
use tokio::sync::oneshot;
use tokio::time::Sleep;

use super::pool::Return;
use crate::body::{BoxError, Expired, Watch, Watched};

/// What the forwarding future learns from the request body as it streams.
#[derive(Debug)]
pub(crate) struct Progress {
    start: Instant,
    /// Milliseconds after `start` of the last frame taken from the client (or of the end).
    last_ms: AtomicU64,
    done: AtomicBool,
    too_large: AtomicBool,
    client_failed: AtomicBool,
}

impl Progress {
    pub(crate) fn new(done: bool) -> Arc<Self> {
        Arc::new(Progress {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
            done: AtomicBool::new(done),
            too_large: AtomicBool::new(false),
            client_failed: AtomicBool::new(false),
        })
    }

    fn touch(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    /// When the upstream has run out of time: `first_byte` after the body was sent, or `idle`
    /// after the body last moved while it is still being sent.
    pub(crate) fn deadline(&self, first_byte: Duration, idle: Duration) -> Instant {
        let last = self.start + Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        if self.done.load(Ordering::Relaxed) {
            last + first_byte
        } else {
            last + idle.max(first_byte)
        }
    }

    pub(crate) fn too_large(&self) -> bool {
        self.too_large.load(Ordering::Relaxed)
    }

    pub(crate) fn client_failed(&self) -> bool {
        self.client_failed.load(Ordering::Relaxed)
    }
}

/// Holds a request body back until the upstream said `100 Continue` (or a short wait passed):
/// the client announced `Expect: 100-continue`, and its body should only move when the upstream
/// wants it. If the upstream answers with a final status first, the body is abandoned, which
/// also keeps that upstream connection out of the pool.
pub(crate) struct ContinueGate {
    rx: oneshot::Receiver<()>,
    fallback: Pin<Box<Sleep>>,
}

/// The other end of a [`ContinueGate`]: opened by the `100 Continue` callback, closed by a
/// final answer.
#[derive(Clone)]
pub(crate) struct GateHandle(Arc<Mutex<Option<oneshot::Sender<()>>>>);

impl GateHandle {
    pub(crate) fn open(&self) {
        if let Some(tx) = self.take() {
            let _ = tx.send(());
        }
    }

    pub(crate) fn abandon(&self) {
        drop(self.take());
    }

    fn take(&self) -> Option<oneshot::Sender<()>> {
        // A poisoned lock only means another holder panicked; the Option is still valid.
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

pub(crate) fn continue_gate(wait: Duration) -> (ContinueGate, GateHandle) {
    let (tx, rx) = oneshot::channel();
    let gate = ContinueGate {
        rx,
        fallback: Box::pin(tokio::time::sleep(wait)),
    };
    (gate, GateHandle(Arc::new(Mutex::new(Some(tx)))))
}

impl ContinueGate {
    /// Ready(Ok) once the body may move, Ready(Err) when the upstream does not want it.
    fn poll_open(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        match Pin::new(&mut self.rx).poll(cx) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(())),
            Poll::Ready(Err(_)) => Poll::Ready(Err(
                "the upstream answered before taking the request body".into(),
            )),
            Poll::Pending => self.fallback.as_mut().poll(cx).map(Ok),
        }
    }
}

/// Watches the client's body on its way to the upstream: held behind its `100-continue`
/// gate, cut past the size limit, its progress told to the forwarding future.
pub(crate) struct Upload {
    limit: u64,
    seen: u64,
    progress: Arc<Progress>,
    gate: Option<ContinueGate>,
}

/// The client's body, watched on its way to the upstream.
pub(crate) fn upload<B>(
    inner: B,
    limit: Option<u64>,
    progress: Arc<Progress>,
    gate: Option<ContinueGate>,
) -> Watched<B, Upload> {
    let upload = Upload {
        limit: limit.unwrap_or(u64::MAX),
        seen: 0,
        progress,
        gate,
    };
    Watched::new(inner, upload)
}

/// The error a body over the limit ends with; the forwarding future turns it into a 413.
#[derive(Debug)]
pub(crate) struct TooLarge;

impl std::fmt::Display for TooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("request body over the limit")
    }
}

impl std::error::Error for TooLarge {}

impl Watch for Upload {
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        if let Some(gate) = &mut self.gate {
            ready!(gate.poll_open(cx))?;
            self.gate = None;
        }
        Poll::Ready(Ok(()))
    }

    fn frame(&mut self, frame: Frame<Bytes>, _end: bool) -> Result<Frame<Bytes>, BoxError> {
        if let Some(data) = frame.data_ref() {
            self.seen = self.seen.saturating_add(data.len() as u64);
            if self.seen > self.limit {
                self.progress.too_large.store(true, Ordering::Relaxed);
                return Err(Box::new(TooLarge));
            }
        }
        self.progress.touch();
        Ok(frame)
    }

    fn end(&mut self) {
        self.progress.touch();
        self.progress.done.store(true, Ordering::Relaxed);
    }

    fn error(&mut self, error: BoxError) -> BoxError {
        self.progress.client_failed.store(true, Ordering::Relaxed);
        error
    }
}

/// Watches the upstream's answer body on its way to the client: cut when it stalls, its pooled
/// connection given back to the pool when it ends.
pub(crate) struct Download {
    idle: Duration,
    upstream: Arc<str>,
    // Given back on the last frame; dropped (the connection closed) if the body is not read to
    // its end.
    pooled: Option<Return>,
}

/// The upstream's answer body, watched on its way to the client.
pub(crate) fn download<B>(
    inner: B,
    idle: Duration,
    upstream: Arc<str>,
    pooled: Option<Return>,
) -> Watched<B, Download> {
    let download = Download {
        idle,
        upstream,
        pooled,
    };
    Watched::new(inner, download)
}

impl Download {
    fn give_back(&mut self) {
        if let Some(pooled) = self.pooled.take() {
            pooled.done();
        }
    }
}

impl Watch for Download {
    fn frame(&mut self, frame: Frame<Bytes>, end: bool) -> Result<Frame<Bytes>, BoxError> {
        if frame.is_trailers() || end {
            self.give_back();
        }
        Ok(frame)
    }

    fn end(&mut self) {
        self.give_back();
    }

    fn error(&mut self, error: BoxError) -> BoxError {
        self.pooled.take();
        error
    }

    fn idle_timeout(&self) -> Option<Duration> {
        Some(self.idle)
    }

    fn timed_out(&mut self, _: Expired) -> BoxError {
        format!(
            "upstream {} sent nothing for {:?}; answer cut",
            self.upstream, self.idle
        )
        .into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::stream;
    use http_body_util::{BodyExt, StreamBody};

    fn chunks(n: usize) -> impl http_body::Body<Data = Bytes, Error = std::io::Error> {
        StreamBody::new(stream::iter((0..n).map(|_| {
            Ok::<_, std::io::Error>(Frame::data(Bytes::from_static(b"0123456789")))
        })))
    }

    #[tokio::test]
    async fn counts_and_cuts_past_the_limit() {
        let progress = Progress::new(false);
        let body = upload(chunks(5), Some(35), progress.clone(), None);
        let err = body.collect().await.unwrap_err();
        assert!(err.is::<TooLarge>());
        assert!(progress.too_large());
        let progress = Progress::new(false);
        let body = upload(chunks(5), Some(50), progress.clone(), None);
        assert_eq!(body.collect().await.unwrap().to_bytes().len(), 50);
        assert!(progress.done.load(Ordering::Relaxed));
    }

    #[tokio::test(start_paused = true)]
    async fn gate_opens_on_signal_or_after_the_wait() {
        let (gate, handle) = continue_gate(Duration::from_secs(1));
        let body = upload(chunks(1), None, Progress::new(false), Some(gate));
        handle.open();
        assert_eq!(body.collect().await.unwrap().to_bytes().len(), 10);

        let (gate, _handle) = continue_gate(Duration::from_secs(1));
        let body = upload(chunks(1), None, Progress::new(false), Some(gate));
        assert_eq!(body.collect().await.unwrap().to_bytes().len(), 10);

        let (gate, handle) = continue_gate(Duration::from_secs(1));
        let body = upload(chunks(1), None, Progress::new(false), Some(gate));
        handle.abandon();
        assert!(body.collect().await.is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn response_body_is_cut_when_idle() {
        let stalled = StreamBody::new(stream::pending::<Result<Frame<Bytes>, std::io::Error>>());
        let body = download(stalled, Duration::from_secs(5), Arc::from("up"), None);
        let err = body.collect().await.unwrap_err();
        assert!(err.to_string().contains("sent nothing"), "{err}");
    }
}
