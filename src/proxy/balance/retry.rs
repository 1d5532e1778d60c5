//! Retries: an idempotent request whose upstream could not be connected to goes to another
//! one, with the very same body as long as nothing of it was read.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Method, Request, Response};
use http_body::Frame;

use super::{attempt, ConnectFailed, Group};
use crate::body::{Body, BoxError};

/// How many other members a request with `method` may be tried on.
pub(super) fn retries_for(group: &Group, method: &Method) -> usize {
    if is_idempotent(method) {
        group
            .config
            .retries
            .min(group.members.len().saturating_sub(1))
    } else {
        0
    }
}

fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}

/// Sends `req` to member `first`, then, while connecting failed and nothing of the body was
/// read, to up to `retries` other members.
pub(super) async fn with_retries<B>(
    group: Arc<Group>,
    first: usize,
    req: Request<B>,
    retries: usize,
) -> Response<Body>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let mut head = Request::new(());
    *head.method_mut() = req.method().clone();
    *head.uri_mut() = req.uri().clone();
    *head.version_mut() = req.version();
    *head.headers_mut() = req.headers().clone();
    *head.extensions_mut() = req.extensions().clone();
    // A body is kept where a failed attempt leaves it untouched, so the retry sends it.
    let (parts, body) = req.into_parts();
    let replay = if body.is_end_stream() {
        Replay::Empty
    } else {
        Replay::Kept(Arc::new(Kept {
            body: std::sync::Mutex::new(Some(Box::pin(body))),
            started: AtomicBool::new(false),
        }))
    };
    let first_body = replay.clone();
    let mut res = attempt(&group, first, Request::from_parts(parts, first_body)).await;
    let mut tried = vec![first];
    while tried.len() <= retries
        && res.extensions().get::<ConnectFailed>().is_some()
        && !replay.started()
    {
        let Some(next) = group.pick(&head, &tried) else {
            break;
        };
        tracing::info!(
            from = %group.members[first].name,
            to = %group.members[next].name,
            "connecting failed; retrying on another upstream"
        );
        tried.push(next);
        res = attempt(&group, next, head.clone().map(|()| replay.clone())).await;
    }
    res
}

/// A request body a retry can send again: either none, or one kept behind a lock that records
/// whether anything of it was read. Only a body never read is sent again.
enum Replay<B> {
    Empty,
    Kept(Arc<Kept<B>>),
}

struct Kept<B> {
    body: std::sync::Mutex<Option<Pin<Box<B>>>>,
    started: AtomicBool,
}

impl<B> Clone for Replay<B> {
    fn clone(&self) -> Self {
        match self {
            Replay::Empty => Replay::Empty,
            Replay::Kept(kept) => Replay::Kept(kept.clone()),
        }
    }
}

impl<B> Replay<B> {
    fn started(&self) -> bool {
        match self {
            Replay::Empty => false,
            Replay::Kept(kept) => kept.started.load(Ordering::Acquire),
        }
    }
}

impl<B: http_body::Body<Data = Bytes>> http_body::Body for Replay<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let Replay::Kept(kept) = &*self else {
            return Poll::Ready(None);
        };
        kept.started.store(true, Ordering::Release);
        let mut body = kept.body.lock().unwrap_or_else(|e| e.into_inner());
        match body.as_mut() {
            Some(body) => body.as_mut().poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Replay::Empty => true,
            Replay::Kept(kept) => kept
                .body
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .as_ref()
                .is_none_or(|b| b.is_end_stream()),
        }
    }

    fn size_hint(&self) -> http_body::SizeHint {
        match self {
            Replay::Empty => http_body::SizeHint::with_exact(0),
            Replay::Kept(kept) => kept
                .body
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .as_ref()
                .map_or_else(|| http_body::SizeHint::with_exact(0), |b| b.size_hint()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_read_body_is_never_replayed() {
        use http_body_util::BodyExt;
        let replay = Replay::Kept(Arc::new(Kept {
            body: std::sync::Mutex::new(Some(Box::pin(Body::from("abc")))),
            started: AtomicBool::new(false),
        }));
        assert!(!replay.started());
        assert_eq!(http_body::Body::size_hint(&replay).exact(), Some(3));
        let read = replay.clone().collect().await.unwrap().to_bytes();
        assert_eq!(read, "abc");
        assert!(replay.started());
        assert!(!Replay::<Body>::Empty.started());
    }
}
