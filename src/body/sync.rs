//! [`SyncBody`]: a body that is `Send` but not `Sync` (tower-http's boxed bodies) made fit for
//! [`Body`](super::Body), which is both.

use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};

use http_body::{Frame, SizeHint};

/// Holds a `Send` body behind a [`Mutex`], which makes it `Sync`. The lock is never taken:
/// polling needs `&mut`, and [`Mutex::get_mut`] reaches the body without locking.
pub(crate) struct SyncBody<B> {
    inner: Mutex<Pin<Box<B>>>,
    end: bool,
    hint: SizeHint,
}

impl<B: http_body::Body> SyncBody<B> {
    pub(crate) fn new(body: B) -> Self {
        SyncBody {
            end: body.is_end_stream(),
            hint: body.size_hint(),
            inner: Mutex::new(Box::pin(body)),
        }
    }
}

impl<B: http_body::Body> http_body::Body for SyncBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        // Never locked, so never poisoned; `into_inner` keeps the body either way.
        let body = this.inner.get_mut().unwrap_or_else(|e| e.into_inner());
        let frame = body.as_mut().poll_frame(cx);
        this.end = body.is_end_stream();
        this.hint = body.size_hint();
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.end
    }

    fn size_hint(&self) -> SizeHint {
        self.hint
    }
}
