//! Cross-origin resource sharing at the gateway: tower-http's `CorsLayer` with origins
//! exact or by pattern ([`OriginPattern`]), a policy checked before it is used
//! ([`CorsConfig::check`]), and preflights answered only for the origins it allows.
//!
//! A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) from an allowed
//! origin is answered by the layer itself, `200` with the `Access-Control-Allow-*` headers:
//! put it before auth, since browsers send preflights without credentials. A preflight from
//! any other origin goes on like any request (to auth, which will likely refuse it). Other
//! requests from an allowed origin get `Access-Control-Allow-Origin` (and
//! `-Credentials`, `-Expose-Headers`) on their answer; every answer gets `Vary: Origin`.
//!
//! A policy that allows any origin with credentials is refused: it would let any site's
//! script read answers made with its visitors' cookies.
//!
//! # Example
//!
//! ```
//! use tollgate::cors::{CorsConfig, CorsLayer};
//! use tollgate::{handler, testing::TestClient, Request, Response};
//! use tower::Layer;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let mut policy = CorsConfig::allowing(["https://app.example"]);
//! policy.credentials = true;
//! let app = handler::from_fn(|_req: Request| async { Ok::<_, tollgate::HttpError>(Response::text("hi")) });
//! let client = TestClient::new(CorsLayer::new(&policy).unwrap().layer(app));
//!
//! let res = client
//!     .request(http::Method::OPTIONS, "/")
//!     .header("origin", "https://app.example")
//!     .header("access-control-request-method", "POST")
//!     .send()
//!     .await;
//! assert_eq!(res.status(), 200);
//! assert_eq!(res.header("access-control-allow-origin"), Some("https://app.example"));
//! assert_eq!(res.header("access-control-allow-credentials"), Some("true"));
//!
//! let res = client.get("/").header("origin", "https://evil.example").send().await;
//! assert_eq!(res.header("access-control-allow-origin"), None);
//! # }
//! ```

mod config;
mod origin;
mod service;

pub use self::config::{CorsConfig, CorsConfigError};
pub use self::origin::{OriginPattern, OriginPatternError};
pub use self::service::{Cors, CorsLayer, ResponseFuture};
