//! Filters written as functions: `async fn(Request, Next) -> Result<Response, HttpError>` as a
//! [`tower::Layer`] for any stack (tollgate's, axum's, a bare hyper server), plus the small
//! ones: [`map_request`], [`map_response`], [`predicate`], and [`CatchPanicLayer`].
//!
//! A filter sees the wrappers, not raw parts: the [`Request`] (its [`origin`], [`user`],
//! cookies, arguments, body) and the inner service's [`Response`]. It may change the request,
//! answer itself without calling the inner service, or call it through [`Next::run`] and change
//! the answer. An [`HttpError`] it returns is rendered as the request's `Accept` prefers, like
//! every error of the crate. WebOb's `wsgify.middleware` and axum's `middleware::from_fn` are
//! the models.
//!
//! [`origin`]: Request::origin
//! [`user`]: Request::user
//!
//! # Example
//!
//! ```
//! use tollgate::filter::{self, Next};
//! use tollgate::{handler, testing::TestClient, HttpError, Request, Response};
//! use tower::Layer;
//!
//! async fn stamp(req: Request, next: Next) -> Result<Response, HttpError> {
//!     if req.path() == "/forbidden" {
//!         return Err(HttpError::forbidden("not here"));
//!     }
//!     let res = next.run(req).await?;
//!     Ok(res.header("x-filtered", "yes"))
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let app = handler::from_fn(|_req: Request| async { Response::text("hello") });
//! let client = TestClient::new(filter::from_fn(stamp).layer(app));
//! let res = client.get("/").send().await;
//! assert_eq!(res.header("x-filtered"), Some("yes"));
//! assert_eq!(client.get("/forbidden").send().await.status(), 403);
//! # }
//! ```
//!
//! # With state
//!
//! ```
//! use std::sync::Arc;
//! use tollgate::filter::{self, Next};
//! use tollgate::{HttpError, Request, Response};
//!
//! #[derive(Clone)]
//! struct Blocked(Arc<Vec<String>>);
//!
//! async fn block(state: Blocked, req: Request, next: Next) -> Result<Response, HttpError> {
//!     if state.0.iter().any(|p| req.path().starts_with(p.as_str())) {
//!         return Err(HttpError::forbidden("blocked path"));
//!     }
//!     next.run(req).await
//! }
//!
//! let layer = filter::from_fn_with_state(Blocked(Arc::new(vec!["/admin".into()])), block);
//! ```
//!
//! # Cost
//!
//! A function filter allocates once per request: the box behind [`Next`] that holds the inner
//! service and then its future. The function's own future is not boxed (it is a field of the
//! [`Filter`]'s future, which is why [`FilterLayer`] is generic over the function);
//! `map_request`, `map_response` and `predicate` box nothing. `benches/filter.rs` (time) and
//! `benches/wrappers_callgrind.sh` (instructions) measure a no-op filter against none on a
//! hello-world request.

pub mod body;
mod error_pages;
mod from_fn;
mod future;
mod map;
mod panic;

pub use error_pages::{ErrorPage, ErrorPages};
pub use from_fn::{from_fn, from_fn_with_state, Filter, FilterFn, FilterFuture, FilterLayer};
pub use from_fn::{Next, NextFuture, WithState};
pub use future::ResponseFuture;
pub use map::{map_request, map_response, predicate, MapRequest, MapRequestLayer};
pub use map::{MapResponse, MapResponseLayer};
pub use panic::{CatchPanic, CatchPanicFuture, CatchPanicLayer};

pub use crate::request::Request;
pub use crate::response::Response;
pub use crate::HttpError;
