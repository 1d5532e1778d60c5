//! Panics caught at the edge of a request: the one place that turns a panic in a handler, a
//! filter or a layer into a `500` (rendered by `Accept` like every [`HttpError`], naming the
//! request id when there is one) and logs the panic's message and location.
//!
//! `serve`, `TestClient` and `filter::CatchPanicLayer` all call it. The location comes from a
//! panic hook installed on first use: while a request is being polled inside [`catch`], the hook
//! records where the panic happened instead of printing it (the `500`'s log line says it);
//! elsewhere it hands the panic to the hook that was there before, so other panics print as they
//! always did. A program that sets its own hook later keeps the `500`s; their log lines then say
//! `location="unknown"`.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Once;
use std::task::{Context, Poll};

use http::header::{HeaderValue, ACCEPT};
use http::StatusCode;
use pin_project_lite::pin_project;

use crate::body::Body;
use crate::error::{ErrorFormat, HttpError};
use crate::ext::{is_valid_request_id, RequestId};

thread_local! {
    /// How many [`catch`] calls are running on this thread.
    static CATCHING: Cell<usize> = const { Cell::new(0) };
    /// Where the last panic caught on this thread happened.
    static LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// A panic [`catch`] stopped: its message and where it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Caught {
    pub(crate) message: String,
    pub(crate) location: Option<String>,
}

/// Runs `f`, turning a panic in it into [`Caught`].
pub(crate) fn catch<T>(f: impl FnOnce() -> T) -> Result<T, Caught> {
    install_hook();
    CATCHING.with(|n| n.set(n.get() + 1));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    CATCHING.with(|n| n.set(n.get() - 1));
    result.map_err(|payload| Caught {
        message: message(payload.as_ref()),
        location: LOCATION.with(|l| l.borrow_mut().take()),
    })
}

fn install_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let caught = CATCHING.try_with(|n| n.get() > 0).unwrap_or(false);
            if !caught {
                return previous(info);
            }
            let location = info
                .location()
                .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()));
            let _ = LOCATION.try_with(|l| *l.borrow_mut() = location);
        }));
    });
}

/// The text of a panic's payload: what `panic!` was given when it is a string.
fn message(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&'static str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic without a message".to_owned()
    }
}

/// Named once: a lookup by `&str` parses the name on every request.
const X_REQUEST_ID: http::header::HeaderName =
    http::header::HeaderName::from_static("x-request-id");

/// What a panic's answer needs from its request, kept before the request is handed on: the
/// `Accept` value and the request id (the rewrite layer's [`RequestId`], else a valid
/// `X-Request-Id` header).
#[derive(Debug, Default)]
pub(crate) struct AnswerFor {
    accept: Option<HeaderValue>,
    request_id: Option<HeaderValue>,
}

impl AnswerFor {
    pub(crate) fn of<B>(req: &http::Request<B>) -> Self {
        match req.extensions().get::<RequestId>() {
            Some(id) => AnswerFor {
                accept: req.headers().get(ACCEPT).cloned(),
                request_id: HeaderValue::from_str(&id.0).ok(),
            },
            None => Self::from_headers(req.headers()),
        }
    }

    /// From the headers alone: what `serve` has, before any layer could set a [`RequestId`].
    pub(crate) fn from_headers(headers: &http::HeaderMap) -> Self {
        AnswerFor {
            accept: headers.get(ACCEPT).cloned(),
            request_id: headers
                .get(X_REQUEST_ID)
                .filter(|v| is_valid_request_id(v.as_bytes()))
                .cloned(),
        }
    }

    /// Logs the panic and renders its `500`.
    pub(crate) fn answer(self, caught: Caught) -> http::Response<Body> {
        let id = self.request_id.as_ref().and_then(|v| v.to_str().ok());
        tracing::error!(
            panic = %caught.message,
            location = caught.location.as_deref().unwrap_or("unknown"),
            request_id = id.unwrap_or("-"),
            "a handler panicked; answering 500"
        );
        let message = match id {
            Some(id) => format!("internal server error (request id {id})"),
            None => "internal server error".to_owned(),
        };
        let mut err = HttpError::new(StatusCode::INTERNAL_SERVER_ERROR, message);
        if let Some(value) = self.request_id {
            err = err.with_header(X_REQUEST_ID, value);
        }
        err.into_response_as(ErrorFormat::for_accept(self.accept.as_ref()))
    }
}

pin_project! {
    /// A future whose panics become `Err(Caught)`; it must not be polled after that.
    pub(crate) struct CatchUnwind<F> {
        #[pin]
        future: F,
    }
}

impl<F> CatchUnwind<F> {
    pub(crate) fn new(future: F) -> Self {
        CatchUnwind { future }
    }
}

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Caught>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let future = self.project().future;
        match catch(|| future.poll(cx)) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Err(caught) => Poll::Ready(Err(caught)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catch_keeps_message_and_location() {
        let caught = catch(|| panic!("boom {}", 7)).unwrap_err();
        assert_eq!(caught.message, "boom 7");
        let location = caught.location.unwrap();
        assert!(location.starts_with("src/panic.rs:"), "{location}");
    }

    #[test]
    fn catch_passes_values_through() {
        assert_eq!(catch(|| 5), Ok(5));
    }

    #[tokio::test]
    async fn a_panic_is_a_negotiated_500_with_the_request_id() {
        let req = http::Request::get("/")
            .header(ACCEPT, "application/json")
            .header("x-request-id", "abc-1")
            .body(())
            .unwrap();
        let answer = AnswerFor::of(&req);
        let caught = CatchUnwind::new(async { panic!("in a future") })
            .await
            .unwrap_err();
        assert_eq!(caught.message, "in a future");
        let res = answer.answer(caught);
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(res.headers()["content-type"], "application/json");
        assert_eq!(res.headers()["x-request-id"], "abc-1");
        let body = crate::body::to_bytes(res.into_body(), 1024).await.unwrap();
        assert!(String::from_utf8_lossy(&body).contains("request id abc-1"));
    }

    #[test]
    fn an_invalid_incoming_id_is_not_echoed() {
        let req = http::Request::get("/")
            .header("x-request-id", "a b")
            .body(())
            .unwrap();
        assert!(AnswerFor::of(&req).request_id.is_none());
    }
}
