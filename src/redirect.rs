//! [`Redirect`]: a service that answers every request with a redirect, optionally keeping the
//! rest of the path and the query (nginx's `return 308 https://example.com$request_uri`).
//!
//! # Example
//!
//! ```
//! use tollgate::dispatch::Dispatch;
//! use tollgate::redirect::Redirect;
//! use tollgate::testing::TestClient;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let app = Dispatch::new()
//!     .prefix("/old", Redirect::permanent("/new").keep_path_after("/old"))
//!     .fallback(Redirect::permanent("https://example.com"))
//!     .build()
//!     .unwrap();
//! let client = TestClient::new(app);
//! let res = client.get("/old/a?b=1").send().await;
//! assert_eq!(res.status(), 308);
//! assert_eq!(res.header("location"), Some("/new/a?b=1"));
//! assert_eq!(client.get("/x").send().await.header("location"), Some("https://example.com"));
//! # }
//! ```

use std::convert::Infallible;
use std::fmt;
use std::future::{ready, Ready};
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::HeaderValue;
use http::{Request, Response, StatusCode, Uri};

use crate::answer;
use crate::body::Body;

/// Answers every request with a redirect to one place; see the [module docs](self).
///
/// The answer has no body and `Content-Length: 0`. A [`keep_path`](Self::keep_path) location
/// that a header cannot hold is a `400` (it came from the request).
#[derive(Clone, Debug)]
#[must_use]
pub struct Redirect {
    status: StatusCode,
    to: Arc<str>,
    /// `Some(prefix)`: append the path after `prefix`, and the query.
    keep_path: Option<Arc<str>>,
}

/// Why a redirect was refused: a status that is not a redirect, or a target that is neither a
/// URL nor a path.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RedirectError {
    /// Not one of 301, 302, 303, 307, 308.
    NotARedirectStatus {
        /// The status given.
        status: u16,
    },
    /// The target does not parse as a URI or holds characters a header cannot.
    InvalidLocation {
        /// The target given.
        to: String,
    },
}

impl fmt::Display for RedirectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RedirectError::NotARedirectStatus { status } => write!(
                f,
                "{status} is not a redirect status: use 301, 302, 303, 307 or 308"
            ),
            RedirectError::InvalidLocation { to } => write!(
                f,
                "`{}` is not a URL or a path",
                crate::syntax::excerpt(to, 200)
            ),
        }
    }
}

impl std::error::Error for RedirectError {}

impl Redirect {
    /// A `308 Permanent Redirect` to `to` (the method and body are kept on the way).
    ///
    /// # Panics
    ///
    /// When `to` is not a URL or a path: use [`Redirect::new`] for input.
    ///
    /// ```should_panic
    /// tollgate::redirect::Redirect::permanent("/a\nb");
    /// ```
    pub fn permanent(to: &str) -> Self {
        Self::new(StatusCode::PERMANENT_REDIRECT, to).expect("a redirect target literal")
    }

    /// A `307 Temporary Redirect` to `to`.
    ///
    /// # Panics
    ///
    /// When `to` is not a URL or a path: use [`Redirect::new`] for input.
    pub fn temporary(to: &str) -> Self {
        Self::new(StatusCode::TEMPORARY_REDIRECT, to).expect("a redirect target literal")
    }

    /// A redirect with `status` to `to` (an absolute URL or a path).
    ///
    /// # Errors
    ///
    /// A status other than 301, 302, 303, 307 or 308; a `to` that is not a URI or holds
    /// characters a header cannot.
    pub fn new(status: StatusCode, to: &str) -> Result<Self, RedirectError> {
        if !matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308) {
            return Err(RedirectError::NotARedirectStatus {
                status: status.as_u16(),
            });
        }
        if to.parse::<Uri>().is_err() || HeaderValue::from_str(to).is_err() {
            return Err(RedirectError::InvalidLocation { to: to.to_owned() });
        }
        Ok(Redirect {
            status,
            to: Arc::from(to),
            keep_path: None,
        })
    }

    /// Appends the request's whole path and its query to the target (its trailing `/`
    /// dropped): `/x?y` → `{to}/x?y`. Under a mount, the path is what follows the mount.
    /// Default is off: the target as it is.
    pub fn keep_path(self) -> Self {
        self.keep_path_after("")
    }

    /// Appends what follows `prefix` in the request's path, and the query, to the target (its
    /// trailing `/` dropped), for a redirect routed by prefix: with `prefix` `/old`, `/old/x?y`
    /// → `{to}/x?y` and `/old` → `{to}`. A path not under `prefix` is appended whole.
    pub fn keep_path_after(mut self, prefix: &str) -> Self {
        self.keep_path = Some(Arc::from(prefix.trim_end_matches('/')));
        self
    }

    /// Where a request for `uri` is sent.
    fn location(&self, uri: &Uri) -> String {
        let Some(prefix) = &self.keep_path else {
            return self.to.to_string();
        };
        let path = uri.path();
        let rest = path.strip_prefix(&**prefix).unwrap_or(path);
        let mut location = format!("{}{rest}", self.to.trim_end_matches('/'));
        if location.is_empty() {
            location.push('/');
        }
        if let Some(query) = uri.query() {
            location.push('?');
            location.push_str(query);
        }
        location
    }
}

impl<B> tower_service::Service<Request<B>> for Redirect {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Ready<Result<Response<Body>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let res = answer::redirect_to(self.status, &self.location(req.uri()))
            .unwrap_or_else(|e| e.into_response_for(req.headers()));
        ready(Ok(res))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn location(redirect: &Redirect, target: &'static str) -> String {
        redirect.location(&Uri::from_static(target))
    }

    #[test]
    fn keeps_what_follows_the_prefix_and_the_query() {
        let r = Redirect::permanent("/app/").keep_path_after("/old/");
        assert_eq!(location(&r, "/old/x?y=1"), "/app/x?y=1");
        assert_eq!(location(&r, "/old"), "/app");
        assert_eq!(location(&r, "/old/"), "/app/");
        assert_eq!(location(&r, "/other"), "/app/other");
        let root = Redirect::permanent("/").keep_path();
        assert_eq!(location(&root, "/x"), "/x");
        assert_eq!(location(&root, "/"), "/");
    }

    #[test]
    fn without_keep_path_the_target_is_as_given() {
        let r = Redirect::new(StatusCode::MOVED_PERMANENTLY, "https://example.com/").unwrap();
        assert_eq!(location(&r, "/x?y"), "https://example.com/");
    }

    #[test]
    fn refuses_what_is_not_a_redirect() {
        assert_eq!(
            Redirect::new(StatusCode::OK, "/").unwrap_err(),
            RedirectError::NotARedirectStatus { status: 200 }
        );
        let err = Redirect::new(StatusCode::FOUND, "a b").unwrap_err();
        assert_eq!(err.to_string(), "`a b` is not a URL or a path");
    }
}
