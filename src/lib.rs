//! tollgate: HTTP middleware without a framework.
//!
//! Ergonomic [`Request`]/[`Response`] wrappers over [`http`] messages (what WebOb and Werkzeug
//! are to WSGI), composable [`tower`] layers for Basic auth, header rewriting, normalization,
//! forwarded headers and dispatch, and the services that sit behind them: a reverse proxy, a
//! static file server, plain handlers.
//!
//! # The smallest program
//!
//! ```no_run
//! use tollgate::{handler, serve, HttpError, Request, Response};
//!
//! async fn hello(req: Request) -> Result<Response, HttpError> {
//!     let name = req.args()?.get("name").unwrap_or("world");
//!     Ok(Response::text(format!("Hello, {name}!")))
//! }
//!
//! #[tokio::main]
//! async fn main() -> std::io::Result<()> {
//!     serve::bind("127.0.0.1:8000", handler::from_fn(hello)).await
//! }
//! ```
//!
//! # The same, tested in-process
//!
//! ```
//! use tollgate::{handler, testing::TestClient, Request, Response};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let client = TestClient::new(handler::from_fn(|req: Request| async move {
//!     let name = req.args()?.get("name").unwrap_or("world").to_string();
//!     Ok::<_, tollgate::HttpError>(Response::text(format!("Hello, {name}!")))
//! }));
//! let res = client.get("/?name=Ada").send().await;
//! assert_eq!(res.text().await, "Hello, Ada!");
//! # }
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]

#[macro_use]
mod macros;
mod answer;
pub mod body;
pub mod cookies;
pub mod credentials;
pub mod echo;
pub mod error;
pub mod ext;
pub mod form;
pub mod handler;
pub mod health;
mod idle;
#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub mod metrics;
pub mod multimap;
pub mod negotiate;
pub mod origin;
mod panic;
#[cfg(feature = "tls")]
mod pem;
pub mod redirect;
pub mod request;
pub mod response;
#[cfg(sendfile)]
mod sendfile;
pub mod serve;
#[cfg(any(feature = "ratelimit", feature = "auth"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "ratelimit", feature = "auth"))))]
pub mod store;
pub mod syntax;
pub mod testing;
#[cfg(any(feature = "auth", feature = "acl"))]
mod watch;
pub mod wire;

#[cfg(feature = "acl")]
#[cfg_attr(docsrs, doc(cfg(feature = "acl")))]
pub mod acl;
#[cfg(feature = "acme")]
#[cfg_attr(docsrs, doc(cfg(feature = "acme")))]
pub mod acme;
#[cfg(feature = "auth")]
#[cfg_attr(docsrs, doc(cfg(feature = "auth")))]
pub mod auth;
#[cfg(feature = "cache")]
#[cfg_attr(docsrs, doc(cfg(feature = "cache")))]
pub mod cache;
#[cfg(feature = "compress")]
#[cfg_attr(docsrs, doc(cfg(feature = "compress")))]
pub mod compress;
#[cfg(feature = "config")]
#[cfg_attr(docsrs, doc(cfg(feature = "config")))]
pub mod config;
#[cfg(feature = "cors")]
#[cfg_attr(docsrs, doc(cfg(feature = "cors")))]
pub mod cors;
#[cfg(feature = "dispatch")]
#[cfg_attr(docsrs, doc(cfg(feature = "dispatch")))]
pub mod dispatch;
#[cfg(feature = "files")]
#[cfg_attr(docsrs, doc(cfg(feature = "files")))]
pub mod files;
#[cfg(feature = "filter")]
#[cfg_attr(docsrs, doc(cfg(feature = "filter")))]
pub mod filter;
#[cfg(feature = "forward_auth")]
#[cfg_attr(docsrs, doc(cfg(feature = "forward_auth")))]
pub mod forward_auth;
#[cfg(feature = "forwarded")]
#[cfg_attr(docsrs, doc(cfg(feature = "forwarded")))]
pub mod forwarded;
#[cfg(feature = "fuzz")]
#[cfg_attr(docsrs, doc(cfg(feature = "fuzz")))]
pub mod fuzz;
#[cfg(feature = "config")]
#[cfg_attr(docsrs, doc(cfg(feature = "config")))]
pub mod gateway;
#[cfg(feature = "inbound")]
#[cfg_attr(docsrs, doc(cfg(feature = "inbound")))]
pub mod inbound;
#[cfg(feature = "normalize")]
#[cfg_attr(docsrs, doc(cfg(feature = "normalize")))]
pub mod normalize;
#[cfg(feature = "probe")]
#[cfg_attr(docsrs, doc(cfg(feature = "probe")))]
pub mod probe;
#[cfg(feature = "proxy")]
#[cfg_attr(docsrs, doc(cfg(feature = "proxy")))]
pub mod proxy;
#[cfg(feature = "ratelimit")]
#[cfg_attr(docsrs, doc(cfg(feature = "ratelimit")))]
pub mod ratelimit;
#[cfg(feature = "rewrite")]
#[cfg_attr(docsrs, doc(cfg(feature = "rewrite")))]
pub mod rewrite;

pub use body::Body;
pub use error::HttpError;
pub use multimap::MultiMap;
pub use request::Request;
pub use response::{IntoResponse, Response};
